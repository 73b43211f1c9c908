"""Headless Chromium as the browser tests and the README screenshot run it: Debian's, never Playwright's own.

`CHROMIUM` is /usr/bin/chromium (`.ci/run` installs it) or `EXCHANGE_TEST_CHROMIUM`;
`CHROMIUM_ARGS` keep it headless, sandbox-free (root in a container) and off the network
but for the pages it is sent to.
"""

from __future__ import annotations

import os

CHROMIUM = os.environ.get("EXCHANGE_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
