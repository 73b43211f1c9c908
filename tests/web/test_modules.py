"""The page's logic modules, run in the browser on their own: exact decimals, book sync, signing text."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import Page


def run(page: Page, url: str, module: str, script: str) -> Any:
    """Evaluate `script` (an async function body with `m`, the imported module) on a bare same-origin page."""
    page.goto(f"{url}/api/v1/ping")
    return page.evaluate(f"async () => {{ const m = await import('/static/js/{module}'); {script} }}")


def test_decimals_are_exact(desktop: Page, demo_url: str) -> None:
    results = run(
        desktop,
        demo_url,
        "decimal.js",
        """return [
            m.isMultiple("150.10", "0.01"), m.isMultiple("150.105", "0.01"), m.isMultiple("0.3", "0.1"),
            m.multiply("0.1", "0.2"), m.multiply("149.99", "1.25"), m.subtract("150.01", "149.9"),
            m.compare("150", "150.00"), m.places("0.0100"), m.fixed("86700.0", 2), m.fixed("1.239", 2),
            m.trimmed("210.0000", 2), m.grouped("1234567.5"), m.parse("1e5"), m.parse("-1"),
        ];""",
    )
    assert results == [
        True, False, True, "0.02", "187.4875", "0.11", 0, 2, "86700.00", "1.23", "210.00", "1,234,567.5", None, None,
    ]  # fmt: skip


def test_signing_text_is_backpacks(desktop: Page, demo_url: str) -> None:
    text = run(
        desktop,
        demo_url,
        "client.js",
        """return m.signingText("orderExecute",
            {symbol: "SOL_USDC", side: "Bid", price: "150.00", quantity: "1", postOnly: true, clientId: null,
             label: "a b/c!"}, "1700000000000");""",
    )
    assert text == (
        "instruction=orderExecute&label=a%20b%2Fc%21&postOnly=true&price=150.00&quantity=1&side=Bid"
        "&symbol=SOL_USDC&timestamp=1700000000000&window=5000"
    )


def test_local_book_applies_diffs_and_resyncs_on_a_gap(desktop: Page, demo_url: str) -> None:
    result = run(
        desktop,
        demo_url,
        "orderbook.js",
        """
        let changes = 0;
        const book = new m.LocalBook("SOL_USDC", 2, () => { changes += 1; });
        await book.resync();
        const start = book.last;
        const stale = book.apply({U: start - 3, u: start, b: [["1.00", "9"]], a: []});
        const next = book.apply({U: start + 1, u: start + 2, b: [["1.00", "5.00"]], a: [["99999.0", "1"]]});
        const applied = [book.bids.get("1.00"), book.asks.get("99999.00"), book.last === start + 2];
        book.apply({U: start + 3, u: start + 3, b: [["1.00", "0"]], a: []});
        const removed = !book.bids.has("1.00");
        const gap = book.apply({U: book.last + 5, u: book.last + 6, b: [["2.00", "1"]], a: []});
        const resyncing = book.syncing !== null;
        await book.syncing;
        return {stale, next, applied, removed, gap, resyncing, hasGapLevel: book.bids.has("2.00"),
                caughtUp: book.last >= start, changes: changes > 0};
        """,
    )
    assert result == {
        "stale": True,
        "next": True,
        "applied": ["5.00", "1", True],
        "removed": True,
        "gap": False,
        "resyncing": True,
        "hasGapLevel": False,
        "caughtUp": True,
        "changes": True,
    }
