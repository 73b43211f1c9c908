"""Regenerate `docs/trading-page.png`, the README's picture of the trading page, from a live demo.

    python -m tools.screenshot              # from the repository root, after pip install -e '.[dev]'

It starts `exchange demo` on a free port with a throwaway embedded PostgreSQL (a
temporary EXCHANGE_DATA_DIR), waits until every market has a two-sided book and trades,
then opens /trade/SOL_USDC at 1440x900 in headless Chromium (Debian's, as the browser
tests use it), signs up for a demo account, places a resting bid and a market buy so
the account panel has something to show, watches the 1-minute chart fill in for a
couple of minutes, and writes the PNG. The demo stops when the picture is taken.
"""

from __future__ import annotations

import tempfile
import time
from decimal import Decimal
from pathlib import Path

from playwright.sync_api import Page, expect, sync_playwright

from tests.support.browser import CHROMIUM, CHROMIUM_ARGS
from tests.support.demo import live
from tests.support.processes import EXCHANGE, ROOT, Process, environment, free_port

OUTPUT = ROOT / "docs" / "trading-page.png"
SETTLE_SECONDS = 150
"""How long the page watches the market before the picture, so the 1-minute chart has a few candles."""


def main() -> None:
    """Start a demo, photograph its trading page, stop it."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory(prefix="exchange-screenshot-") as scratch:
        data = Path(scratch)
        data.chmod(0o755)  # run as root, the embedded server runs as a user of its own
        env = environment(EXCHANGE_DATA_DIR=str(data / "data"), EXCHANGE_TAKER_INTERVAL="0.4")
        server = Process([EXCHANGE, "demo", "--port", str(port)], env, data / "demo.log")
        try:
            server.wait_http(f"{url}/ready")
            deadline = time.monotonic() + 60
            while live(url) and time.monotonic() < deadline:
                time.sleep(0.5)
            photograph(url)
        finally:
            server.terminate()
    print(f"wrote {OUTPUT.relative_to(ROOT)}")


def photograph(url: str) -> None:
    """Sign up on the trading page, trade a little, and save the picture."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        page = browser.new_page(viewport={"width": 1440, "height": 900})
        page.goto(f"{url}/trade/SOL_USDC")
        page.wait_for_selector("body[data-ready='true']")
        page.get_by_test_id("signup").click()
        page.get_by_test_id("account-id").wait_for()
        best_bid = Decimal(page.locator("[data-testid=bids] .book-row").first.get_attribute("data-price") or "0")
        order(page, "Limit", "Bid", "12.50", price=str(best_bid - Decimal("0.50")))
        order(page, "Market", "Bid", "3.00")
        page.get_by_role("tab", name="Open orders").click()
        page.locator("#intervals [data-interval='1m']").click()
        page.wait_for_timeout(SETTLE_SECONDS * 1000)
        OUTPUT.parent.mkdir(exist_ok=True)
        page.screenshot(path=OUTPUT)
        browser.close()


def order(page: Page, kind: str, side: str, quantity: str, price: str | None = None) -> None:
    """Fill in the order form and send it; wait for the exchange's answer."""
    page.locator(f".sides [data-side={side}]").click()
    page.locator(f".types [data-type={kind}]").click()
    if price is not None:
        page.locator("#order-price").fill(price)
    page.locator("#order-quantity").fill(quantity)
    page.locator(".submit").click()
    expect(page.get_by_test_id("form-message")).to_contain_text("Order ")


if __name__ == "__main__":
    main()
