"""The trading page in a real browser against a live demo exchange: what a user sees and does."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from playwright.sync_api import Browser, Page, expect

from tests.support.demo import SYMBOLS
from tests.web.conftest import Console, open_page

READY = "body[data-ready='true']"


def open_trade(page: Page, url: str, symbol: str = "SOL_USDC") -> None:
    """Load /trade/<symbol> and wait until every widget has its first data."""
    page.goto(f"{url}/trade/{symbol}")
    page.wait_for_selector(READY)
    expect(page.locator("[data-testid=asks] .book-row").first).to_be_visible()
    expect(page.locator("[data-testid=bids] .book-row").first).to_be_visible()


def no_horizontal_scroll(page: Page) -> None:
    """The page is no wider than the viewport."""
    width, inner = page.evaluate("[document.scrollingElement.scrollWidth, window.innerWidth]")
    assert width <= inner, f"the page scrolls sideways: {width}px in a {inner}px viewport"


def best(page: Page, side: str) -> Decimal:
    """The best price shown on one side of the book."""
    row = page.locator(f"[data-testid={side}] .book-row")
    return Decimal((row.last if side == "asks" else row.first).get_attribute("data-price") or "")


def sign_up(page: Page) -> None:
    """Open a demo account from the top bar and wait for its funds."""
    page.get_by_test_id("signup").click()
    expect(page.get_by_test_id("account-id")).to_be_visible()
    page.get_by_role("tab", name="Balances").click()
    expect(page.locator(".account tbody tr", has_text="USDC")).to_contain_text("10,000")


def place(page: Page, side: str, price: str, quantity: str) -> None:
    """Fill the order form with a limit order and submit it."""
    page.locator(f".sides [data-side={side}]").click()
    page.locator(".types [data-type=Limit]").click()
    page.locator("#order-price").fill(price)
    page.locator("#order-quantity").fill(quantity)
    page.locator(".submit").click()


def test_markets_list_opens_a_market(desktop: Page, demo_url: str) -> None:
    desktop.goto(demo_url)
    desktop.wait_for_selector(READY)
    rows = desktop.locator(".market-row")
    expect(rows).to_have_count(len(SYMBOLS))
    expect(rows.filter(has_text="SOL/USDC").locator(".price")).not_to_have_text("—")
    expect(rows.filter(has_text="SOL/USDC").locator(".change")).to_contain_text("%")
    rows.filter(has_text="BTC/USDC").click()
    desktop.wait_for_url(f"{demo_url}/trade/BTC_USDC")
    desktop.wait_for_selector(READY)
    expect(desktop.locator(".ticker .symbol")).to_have_text("BTC/USDC")


def test_book_trades_and_chart_fill_in_live(desktop: Page, demo_url: str, artifacts: Path) -> None:
    open_trade(desktop, demo_url)
    book = desktop.locator("#orderbook")
    first_sequence = int(book.get_attribute("data-sequence") or 0)
    desktop.wait_for_function(
        f"Number(document.getElementById('orderbook').dataset.sequence) > {first_sequence}", timeout=20_000
    )
    first_trade = desktop.locator("[data-testid=trade-list] .trade-row").first.get_attribute("data-id")
    desktop.wait_for_function(
        "id => document.querySelector('[data-testid=trade-list] .trade-row')?.dataset.id !== id",
        arg=first_trade,
        timeout=20_000,
    )
    assert best(desktop, "bids") < best(desktop, "asks")
    expect(desktop.get_by_test_id("last-price")).not_to_have_text("0.00")
    for interval in ("1m", "5m", "15m", "1h", "1d"):
        desktop.locator(f"#intervals [data-interval='{interval}']").click()
        desktop.wait_for_function("Number(document.getElementById('candles').dataset.candles) >= 1")
    no_horizontal_scroll(desktop)
    desktop.screenshot(path=artifacts / "trade-1280-signed-out.png")


def test_sign_up_place_cancel_and_fill(desktop: Page, demo_url: str, artifacts: Path) -> None:
    open_trade(desktop, demo_url)
    sign_up(desktop)

    resting = best(desktop, "bids") - Decimal("5.00")
    desktop.get_by_role("tab", name="Open orders").click()
    place(desktop, "Bid", str(resting), "1.25")
    expect(desktop.get_by_test_id("form-message")).to_contain_text("New")
    order_row = desktop.locator(".account tbody tr", has_text=f"{resting}")
    expect(order_row).to_contain_text("1.25")
    mine = desktop.locator(f"[data-testid=bids] .book-row.mine[data-price='{resting}']")
    expect(mine).to_be_visible()
    desktop.screenshot(path=artifacts / "trade-1280-open-order.png")

    order_row.get_by_role("button", name="Cancel").click()
    expect(desktop.locator(".account .empty")).to_have_text("No open orders")
    expect(mine).to_have_count(0)

    crossing = best(desktop, "asks") + Decimal("2.00")
    place(desktop, "Bid", str(crossing), "0.40")
    expect(desktop.get_by_test_id("form-message")).to_contain_text("Filled")
    desktop.get_by_role("tab", name="Fills").click()
    expect(desktop.locator(".account tbody tr").first).to_contain_text("Buy")
    # The order may take several makers' levels: its fills (the account's only ones) add up to it.
    desktop.wait_for_function(
        """() => [...document.querySelectorAll('.account tbody tr td:nth-child(5)')]
            .reduce((hundredths, cell) => hundredths + parseInt(cell.textContent.replace('.', ''), 10), 0) === 40"""
    )
    desktop.get_by_role("tab", name="Balances").click()
    sol = desktop.locator(".account tbody tr", has_text="SOL")
    expect(sol).to_be_visible()
    available = Decimal((sol.locator("td").nth(1).text_content() or "").replace(",", ""))
    assert available > Decimal("0.39")
    desktop.get_by_role("tab", name="PnL").click()
    pnl = desktop.locator(".account tbody tr", has_text="SOL/USDC")
    expect(pnl).to_be_visible()
    cells = [text.strip() for text in pnl.locator("td").all_text_contents()]
    # Bought 0.40 less the 5 bps taker fee in SOL: 0.3998 held (shown to the step, 0.39), nothing sold yet.
    assert cells[1] == "0.39" and cells[3] == "0.00", cells
    assert Decimal(cells[2].replace(",", "")) > 0 and cells[4] != "—", cells
    desktop.get_by_role("tab", name="Order history").click()
    expect(desktop.locator(".account tbody tr", has_text="Cancelled")).to_have_count(1)
    expect(desktop.locator(".account tbody tr", has_text="Filled")).to_have_count(1)
    no_horizontal_scroll(desktop)
    desktop.screenshot(path=artifacts / "trade-1280-signed-in.png")
    desktop.screenshot(path=artifacts / "trade-1280-signed-in-full.png", full_page=True)


def test_form_validates_against_tick_and_step(desktop: Page, demo_url: str, console: Console) -> None:
    console.expect(r"status of 400 .*/api/v1/order$")
    open_trade(desktop, demo_url)
    sign_up(desktop)
    place(desktop, "Bid", "100.005", "1")
    expect(desktop.get_by_test_id("form-message")).to_contain_text("multiple of the tick size 0.01")
    place(desktop, "Bid", "100.00", "0.005")
    expect(desktop.get_by_test_id("form-message")).to_contain_text("multiple of the step size 0.01")
    place(desktop, "Ask", "100.00", "100000000")
    expect(desktop.get_by_test_id("form-message")).to_contain_text("Not enough funds")


def test_phone_width_has_no_horizontal_scroll(phone: Page, demo_url: str, artifacts: Path) -> None:
    open_trade(phone, demo_url)
    no_horizontal_scroll(phone)
    sign_up(phone)
    phone.get_by_role("tab", name="Open orders").click()
    place(phone, "Bid", str(best(phone, "bids") - Decimal("5.00")), "0.50")
    expect(phone.locator(".account tbody tr")).to_have_count(1)
    no_horizontal_scroll(phone)
    phone.screenshot(path=artifacts / "trade-375.png")
    phone.screenshot(path=artifacts / "trade-375-full.png", full_page=True)


def test_connection_state_is_shown(desktop: Page, demo_url: str) -> None:
    open_trade(desktop, demo_url)
    badge = desktop.locator("#connection")
    expect(badge).to_have_attribute("data-state", "open")
    expect(badge).to_have_text("live")


def test_market_mode_hides_the_price_and_time_in_force(desktop: Page, demo_url: str) -> None:
    open_trade(desktop, demo_url)
    sign_up(desktop)
    price, checks = desktop.locator("#order-price"), desktop.locator(".form .checks")
    expect(price).to_be_visible()
    expect(checks).to_be_visible()
    desktop.locator(".types [data-type=Market]").click()
    expect(price).to_be_hidden()
    expect(checks).to_be_hidden()
    expect(desktop.get_by_label("Post only")).to_be_hidden()
    desktop.locator(".sides [data-side=Bid]").click()
    desktop.locator("#order-quantity").fill("0.50")
    desktop.locator(".submit").click()
    expect(desktop.get_by_test_id("form-message")).to_contain_text("Filled")
    desktop.locator(".types [data-type=Limit]").click()
    expect(price).to_be_visible()
    expect(checks).to_be_visible()


def test_the_account_tables_fit_a_390px_phone(browser: Browser, console: Console, demo_url: str) -> None:
    for page in open_page(browser, console, 390, 844):
        open_trade(page, demo_url)
        sign_up(page)
        place(page, "Bid", str(best(page, "bids") - Decimal("5.00")), "0.50")
        expect(page.get_by_test_id("form-message")).to_contain_text("New")
        place(page, "Bid", str(best(page, "asks") + Decimal("2.00")), "0.20")
        expect(page.get_by_test_id("form-message")).to_contain_text("Filled")
        for tab in ("Open orders", "Order history", "Fills", "Balances", "PnL"):
            page.get_by_role("tab", name=tab).click()
            expect(page.locator(".account tbody tr").first).to_be_visible()
            overflow = page.evaluate(
                """() => {
                    const wrap = document.querySelector('.account .table-wrap');
                    const right = wrap.getBoundingClientRect().right;
                    const cells = [...wrap.querySelectorAll('td')].map((td) => td.getBoundingClientRect().right);
                    return {scroll: wrap.scrollWidth - wrap.clientWidth, past: Math.max(...cells) - right};
                }"""
            )
            assert overflow["scroll"] <= 0 and overflow["past"] <= 0, (tab, overflow)
        no_horizontal_scroll(page)
