"""Signing exactly as Backpack and ccxt do, and the order of the checks."""

from __future__ import annotations

import asyncio
import base64
import time
from urllib.parse import quote, urlencode

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from nacl.signing import SigningKey

from exchange.api.auth import KeyPair, MemoryReplayCache, Principal, Verifier, signing_payload
from exchange.api.ratelimit import RateLimiter
from exchange.protocol.codes import ApiError, Code
from exchange.protocol.requests import Scope

NOW_MS = 1_753_624_283_415
KEY = KeyPair.generate()
OTHER = KeyPair.generate()


async def lookup(public_key: str) -> Principal | None:
    if public_key == KEY.public_key:
        return Principal(public_key, 7, frozenset((Scope.READ,)))
    return None


def verifier() -> Verifier:
    return Verifier(lookup, clock=lambda: NOW_MS / 1000)


def headers(
    pair: KeyPair = KEY,
    instruction: str = "orderCancel",
    params: dict[str, str | bool | None] | None = None,
    new_key: KeyPair | None = None,
) -> dict[str, str]:
    signed = pair.headers(
        instruction, [params or {"orderId": "28", "symbol": "BTC_USDT"}], timestamp=NOW_MS, new_key=new_key
    )
    return {k.lower(): v for k, v in signed.items()}


def code(call: object) -> tuple[int, str]:
    assert callable(call)
    with pytest.raises(ApiError) as info:
        result = call()
        if asyncio.iscoroutine(result):
            asyncio.run(result)
    return info.value.status, info.value.code


def test_payload_matches_the_docs_example() -> None:
    payload = signing_payload("orderCancel", [{"symbol": "BTC_USDT", "orderId": "28"}], "1614550000000", "5000")
    assert payload == b"instruction=orderCancel&orderId=28&symbol=BTC_USDT&timestamp=1614550000000&window=5000"


def test_payload_of_a_batch_and_of_no_params() -> None:
    batch: list[dict[str, str | bool | None]] = [
        {"side": "Bid", "price": "141"},
        {"side": "Bid", "price": "140", "postOnly": True},
    ]
    assert signing_payload("orderExecute", batch, "1", "5000") == (
        b"instruction=orderExecute&price=141&side=Bid&instruction=orderExecute&postOnly=true&price=140&side=Bid"
        b"&timestamp=1&window=5000"
    )
    assert signing_payload("balanceQuery", [{}], "1", "5000") == b"instruction=balanceQuery&timestamp=1&window=5000"


@settings(max_examples=300)
@given(st.dictionaries(st.text(max_size=8), st.none() | st.booleans() | st.text(max_size=12), max_size=5))
def test_params_are_encoded_as_urlencode_with_quote_does(params: dict[str, str | bool | None]) -> None:
    pairs = [(k, ("true" if v else "false") if isinstance(v, bool) else v) for k, v in sorted(params.items())]
    encoded = urlencode([(k, v) for k, v in pairs if v is not None], quote_via=quote)
    expected = "&".join(p for p in ("instruction=x", encoded, "timestamp=1&window=2") if p)
    assert signing_payload("x", [params], "1", "2") == expected.encode()


def test_payload_matches_ccxt_sign() -> None:
    import ccxt

    exchange = ccxt.backpack({"apiKey": KEY.public_key, "secret": KEY.secret})
    exchange.nonce = lambda: NOW_MS
    params: dict[str, str | bool | int] = {
        "symbol": "ETH_USDC",
        "orderType": "Limit",
        "postOnly": True,
        "price": "3000",
        "clientId": 123,
    }
    request = exchange.sign("api/v1/order", ["private"], "POST", params)
    received = {k.lower(): v for k, v in request["headers"].items()}
    body: dict[str, str | bool | None] = {k: v if isinstance(v, str | bool) else str(v) for k, v in params.items()}
    assert verifier().check_signature(received, "orderExecute", [body]) == KEY.public_key


def test_valid_signature_authenticates() -> None:
    principal = asyncio.run(
        verifier().authenticate(headers(), "orderCancel", [{"orderId": "28", "symbol": "BTC_USDT"}], Scope.READ)
    )
    assert principal.account_id == 7


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda h: h.update({"x-timestamp": str(NOW_MS - 6000)}), (401, "UNAUTHORIZED")),
        (lambda h: h.update({"x-timestamp": str(NOW_MS + 6000)}), (401, "UNAUTHORIZED")),
        (lambda h: h.update({"x-window": "60001"}), (401, "UNAUTHORIZED")),
        (lambda h: h.pop("x-signature"), (401, "UNAUTHORIZED")),
        (lambda h: h.update({"x-signature": "not base64!"}), (401, "INVALID_SIGNATURE")),
        (lambda h: h.update({"x-api-key": OTHER.public_key}), (401, "INVALID_SIGNATURE")),
        (lambda h: h.update({"x-api-key": "AAAA"}), (401, "UNAUTHORIZED")),
        (lambda h: h.update({"x-window": "6000"}), (401, "INVALID_SIGNATURE")),
    ],
)
def test_bad_headers(mutate: object, expected: tuple[int, str]) -> None:
    signed = headers()
    assert callable(mutate)
    mutate(signed)
    assert (
        code(lambda: verifier().check_signature(signed, "orderCancel", [{"orderId": "28", "symbol": "BTC_USDT"}]))
        == expected
    )


def test_another_instruction_or_tampered_params_fail() -> None:
    signed = headers()
    params = {"orderId": "28", "symbol": "BTC_USDT"}
    assert code(lambda: verifier().check_signature(signed, "orderExecute", [params])) == (401, "INVALID_SIGNATURE")
    tampered = {"orderId": "29", "symbol": "BTC_USDT"}
    assert code(lambda: verifier().check_signature(signed, "orderCancel", [tampered])) == (401, "INVALID_SIGNATURE")


def test_unknown_key_and_missing_scope() -> None:
    params = {"orderId": "28", "symbol": "BTC_USDT"}
    unknown = headers(OTHER)
    assert code(lambda: verifier().authenticate(unknown, "orderCancel", [params], Scope.READ)) == (401, "UNAUTHORIZED")
    assert code(lambda: verifier().authenticate(headers(), "orderCancel", [params], Scope.TRADE)) == (403, "FORBIDDEN")


def test_a_64_byte_secret_signs_like_its_seed() -> None:
    signing = SigningKey(base64.b64decode(KEY.secret))
    long_secret = base64.b64encode(bytes(signing) + bytes(signing.verify_key)).decode()
    pair = KeyPair(secret=long_secret, public_key=KEY.public_key)
    assert pair.headers("x", timestamp=1)["X-Signature"] == KEY.headers("x", timestamp=1)["X-Signature"]


def test_proof_of_possession_is_the_new_keys_signature_of_the_same_request() -> None:
    new = KeyPair.generate()
    params: dict[str, str | bool | None] = {"publicKey": new.public_key, "scopes": "read"}
    check = verifier()
    signed = headers(KEY, "keyCreate", params, new_key=new)
    check.check_signature(signed, "keyCreate", [params])
    check.check_possession(signed, new.public_key, "keyCreate", [params])

    missing = headers(KEY, "keyCreate", params)
    assert code(lambda: check.check_possession(missing, new.public_key, "keyCreate", [params])) == (
        401,
        "UNAUTHORIZED",
    )
    by_another = headers(KEY, "keyCreate", params, new_key=OTHER)
    assert code(lambda: check.check_possession(by_another, new.public_key, "keyCreate", [params])) == (
        401,
        "INVALID_SIGNATURE",
    )
    other_params: dict[str, str | bool | None] = {"publicKey": new.public_key, "scopes": "read,trade"}
    assert code(lambda: check.check_possession(signed, new.public_key, "keyCreate", [other_params])) == (
        401,
        "INVALID_SIGNATURE",
    )


def test_the_replay_cache_forgets_a_signature_once_it_expires_and_stays_that_small() -> None:
    now = [100.0]
    cache = MemoryReplayCache(clock=lambda: now[0])

    async def run() -> None:
        assert all([await cache.first_use(bytes([i % 256, i // 256]), now[0] + 5) for i in range(1000)])
        assert not await cache.first_use(bytes([7, 0]), now[0] + 5)
        now[0] += 5.5
        assert await cache.first_use(b"later", now[0] + 5)
        assert len(cache) == 1
        assert await cache.first_use(bytes([7, 0]), now[0] + 5)

    asyncio.run(run())


def test_a_copy_is_refused_but_a_request_refused_by_the_rate_limit_is_not_remembered() -> None:
    limited = Verifier(lookup, limiter=RateLimiter(1, 1), clock=lambda: NOW_MS / 1000)
    first, second = headers(), headers(params={"orderId": "29", "symbol": "BTC_USDT"})
    asyncio.run(limited.authenticate(first, "orderCancel", [{"orderId": "28", "symbol": "BTC_USDT"}], Scope.READ))
    params = [{"orderId": "29", "symbol": "BTC_USDT"}]
    assert code(lambda: limited.authenticate(second, "orderCancel", params, Scope.READ)) == (429, "TOO_MANY_REQUESTS")
    time.sleep(1.05)  # the limiter's window is on the wall clock
    asyncio.run(limited.authenticate(second, "orderCancel", params, Scope.READ))
    time.sleep(1.05)
    assert code(lambda: limited.authenticate(second, "orderCancel", params, Scope.READ)) == (401, Code.REPLAYED_REQUEST)
