"""The endpoint table: every HTTP route of the API, declared once.

An `Endpoint` says what a client must know to call a route: its method and path, the
instruction it signs (Backpack's signing scheme names one per operation) and the scope
the signing key needs, or nothing for a public route. The server's routes, the
preamble that parses, authenticates and rate-limits each request, the OpenAPI document
and the bots' client are all derived from this table, so none of them can name a path
or an instruction the others do not.
"""

from __future__ import annotations

from enum import StrEnum


class Scope(StrEnum):
    """What an API key may do: read, trade, or administer the exchange."""

    READ = "read"
    TRADE = "trade"
    ADMIN = "admin"
