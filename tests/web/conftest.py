"""Headless Chromium (Debian's `chromium` package) driven by Playwright, against `exchange demo`.

The browser is the system one at /usr/bin/chromium (`.ci/run` installs it); Playwright's own
browser downloads are never used. A missing browser or Playwright is a failure, not a skip.
Each test gets a fresh browser context (so a fresh localStorage: a new demo account) and a
page whose console errors and uncaught exceptions are collected and asserted empty after
the test. Screenshots go to `artifacts/web/` (git-ignored).

The exchange is the real demo command (`tests.support.demo`): its market maker and
taker keep every demo market moving while a test watches, the taker faster than by
default, and the rate limits are raised for a browser that reloads pages all day.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, sync_playwright

from tests.support.browser import CHROMIUM, CHROMIUM_ARGS
from tests.support.demo import running_demo

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "web"
DEMO_SETTINGS = {
    "EXCHANGE_TAKER_INTERVAL": "0.5",
    "EXCHANGE_BOT_SEED": "7",
    "EXCHANGE_IP_RATE_LIMIT": "1000",
    "EXCHANGE_IP_RATE_BURST": "2000",
    "EXCHANGE_KEY_RATE_LIMIT": "1000",
    "EXCHANGE_KEY_RATE_BURST": "2000",
}


@dataclass
class Console:
    """What the page logged as an error, and exceptions it did not catch."""

    errors: list[str] = field(default_factory=list)
    expected: list[re.Pattern[str]] = field(default_factory=list)

    def expect(self, pattern: str) -> None:
        """Tolerate errors matching `pattern` in this test (an API refusal the test provokes on purpose)."""
        self.expected.append(re.compile(pattern))

    def watch(self, page: Page) -> None:
        """Collect from `page` from now on."""

        def on_console(message: ConsoleMessage) -> None:
            if message.type != "error":
                return
            if any(p.search(f"{message.text} {message.location.get('url')}") for p in self.expected):
                return
            self.errors.append(f"console: {message.text} at {message.location}")

        page.on("console", on_console)
        page.on("pageerror", lambda error: self.errors.append(f"uncaught: {error}"))


@pytest.fixture(scope="session")
def demo_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The base URL of a running `exchange demo` whose markets are all live."""
    with running_demo(tmp_path_factory.mktemp("web") / "demo.log", **DEMO_SETTINGS) as url:
        yield url


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """Headless Chromium; fails loudly when the system browser is missing."""
    assert Path(CHROMIUM).exists(), f"{CHROMIUM} is missing: install Debian's chromium package (see .ci/run)"
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield launched
        launched.close()


@pytest.fixture
def console() -> Console:
    """The current test's page errors."""
    return Console()


def open_page(browser: Browser, console: Console, width: int, height: int) -> Iterator[Page]:
    """A page in a fresh context at the given viewport; asserts no console errors on teardown."""
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    page.set_default_timeout(15_000)
    console.watch(page)
    try:
        yield page
    finally:
        context.close()
    assert console.errors == []


@pytest.fixture
def desktop(browser: Browser, console: Console) -> Iterator[Page]:
    """A 1280x800 page."""
    yield from open_page(browser, console, 1280, 800)


@pytest.fixture
def phone(browser: Browser, console: Console) -> Iterator[Page]:
    """A 375x812 page (a phone in portrait)."""
    yield from open_page(browser, console, 375, 812)


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """Where screenshots are saved."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS
