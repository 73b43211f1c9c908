"""Sign-up and trading over plain HTTP from an address that is not localhost, as on a LAN or a container's IP.

Chromium counts localhost and all of 127.0.0.0/8 as secure contexts, so the demo here
listens on 127.0.0.2 and the browser reaches it by a host name that resolves there
(`--host-resolver-rules`): the page's origin is then `http://exchange.test:PORT`, not a
secure context, and has no `crypto.subtle`, exactly like `http://192.168.1.20:8000`.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.support.browser import CHROMIUM, CHROMIUM_ARGS
from tests.support.demo import running_demo
from tests.web.conftest import DEMO_SETTINGS, Console, open_page
from tests.web.test_trade_page import best, open_trade, place, sign_up

HOST = "127.0.0.2"
NAME = "exchange.test"


@pytest.fixture(scope="module")
def lan_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A demo listening on 127.0.0.2, as the browser below names it."""
    with running_demo(tmp_path_factory.mktemp("lan") / "demo.log", host=HOST, **DEMO_SETTINGS) as url:
        yield url.replace(HOST, NAME)


@pytest.fixture(scope="module")
def lan_browser(browser: Browser) -> Iterator[Browser]:
    """A second Chromium of the session's Playwright, resolving `exchange.test` to 127.0.0.2."""
    rule = f"--host-resolver-rules=MAP {NAME} {HOST}"
    launched = browser.browser_type.launch(executable_path=CHROMIUM, args=[*CHROMIUM_ARGS, rule], headless=True)
    yield launched
    launched.close()


@pytest.fixture
def lan_page(lan_browser: Browser, console: Console) -> Iterator[Page]:
    """A 1280x800 page in that browser."""
    yield from open_page(lan_browser, console, 1280, 800)


def test_sign_up_and_trade_over_plain_http_on_a_lan_address(lan_page: Page, lan_url: str) -> None:
    open_trade(lan_page, lan_url)
    assert lan_page.evaluate("[window.isSecureContext, typeof crypto.subtle]") == [False, "undefined"]
    expect(lan_page.get_by_test_id("insecure-notice")).to_be_visible()
    sign_up(lan_page)
    lan_page.get_by_role("tab", name="Open orders").click()
    resting = best(lan_page, "bids") - 5
    place(lan_page, "Bid", str(resting), "1.00")
    expect(lan_page.get_by_test_id("form-message")).to_contain_text("New")
    expect(lan_page.locator(".account tbody tr", has_text=f"{resting}")).to_be_visible()
    lan_page.reload()
    lan_page.wait_for_selector("body[data-ready='true']")
    expect(lan_page.get_by_test_id("account-id")).to_be_visible()  # the stored key signs again after a reload
    lan_page.get_by_role("tab", name="Open orders").click()
    expect(lan_page.locator(".account tbody tr", has_text=f"{resting}")).to_be_visible()
