"""The page's logic modules, run in the browser on their own: exact decimals, book sync, signing text."""

from __future__ import annotations

import hashlib
import re
from typing import Any

from nacl.signing import SigningKey
from playwright.sync_api import Page

from exchange.protocol import endpoints
from exchange.web import STATIC


def run(page: Page, url: str, module: str, script: str) -> Any:
    """Evaluate `script` (an async function body with `m`, the imported module) on a bare same-origin page."""
    page.goto(f"{url}/api/v1/ping")
    return page.evaluate(f"async () => {{ const m = await import('/static/js/{module}'); {script} }}")


def test_the_page_calls_the_endpoints_of_the_table(desktop: Page, demo_url: str) -> None:
    served = run(desktop, demo_url, "endpoints.js", "return Object.values(m);")
    table = [{"method": e.method, "path": e.path, "instruction": e.instruction} for e in endpoints.ENDPOINTS]
    assert sorted(served, key=str) == sorted(table, key=str)


def test_the_page_writes_no_path_of_its_own() -> None:
    quoted = re.compile(r"""["'`](/(?:api|wapi|exchange|admin)/[^"'`]*)""")
    written = {(js.name, path) for js in STATIC.glob("js/*.js") for path in quoted.findall(js.read_text())}
    assert written == set()


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


def test_the_pages_own_ed25519_and_sha512_match_libsodium_and_hashlib(desktop: Page, demo_url: str) -> None:
    lengths = [0, 3, 111, 112, 127, 128, 129, 300]
    seeds = [bytes((i * 37 + j) % 256 for j in range(32)) for i in range(4)]
    messages = [b"", b"instruction=balanceQuery&timestamp=1700000000000&window=5000", bytes(range(256)) * 3]
    result = run(
        desktop,
        demo_url,
        "ed25519.js",
        f"""const hex = (b) => [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
        const bytes = (h) => Uint8Array.from(h.match(/../g) ?? [], (x) => parseInt(x, 16));
        const digests = {lengths}.map((n) => hex(m.sha512(new Uint8Array(n).fill(7))));
        const keys = {[s.hex() for s in seeds]}.map((seed) => m.keyFromSeed(bytes(seed)));
        const signatures = keys.map((k) => {[x.hex() for x in messages]}.map((msg) => hex(k.sign(bytes(msg)))));
        // A key made here is a WebCrypto key too: same JWK, same (deterministic) signature.
        const jwk = m.generateJwk();
        const subtle = await crypto.subtle.importKey("jwk", jwk, {{name: "Ed25519"}}, false, ["sign"]);
        const text = new TextEncoder().encode("same signature");
        const theirs = hex(new Uint8Array(await crypto.subtle.sign({{name: "Ed25519"}}, subtle, text)));
        const ours = hex(m.keyFromJwk(jwk).sign(text));
        return [digests, keys.map((k) => hex(k.publicKey)), signatures, theirs === ours];""",
    )
    assert result[0] == [hashlib.sha512(bytes([7]) * n).hexdigest() for n in lengths]
    assert result[1] == [bytes(SigningKey(seed).verify_key).hex() for seed in seeds]
    assert result[2] == [[SigningKey(seed).sign(msg).signature.hex() for msg in messages] for seed in seeds]
    assert result[3] is True
