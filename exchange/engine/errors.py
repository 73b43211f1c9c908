"""The root of the project's own exceptions.

Every exception the project defines derives from `ExchangeError`, so a caller can tell
the project's own failures from a library's or a bug's, and `exchange.api.errors` maps
each kind to an HTTP status and a wire code in one table (anything else is a 500
SERVER_ERROR, a bug). It lives in `engine/`, the innermost room, because every other
room may import from the engine and the engine imports from none.
"""

from __future__ import annotations


class ExchangeError(Exception):
    """The base of every exception the exchange defines."""
