"""ED25519 request signing exactly as Backpack does it, API keys and their scopes.

A private request carries four headers: `X-API-Key` (base64 of the 32-byte ED25519
public key), `X-Signature` (base64 signature), `X-Timestamp` (ms) and `X-Window` (ms,
default 5000, at most 60000). The signed bytes are

    instruction=<instruction>&<params sorted by key, query-string encoded>&timestamp=<ts>&window=<window>

where the params are the query string of a GET or the JSON object of a body; a batch
(a JSON array) repeats `instruction=...&<params>` per element and appends timestamp
and window once. The server never trusts the client's string: it rebuilds the payload
from the params it actually parsed (`signing_payload`), with the instruction of the
route it is serving, so a signature made for another instruction, a tampered body or
query, another timestamp or window, or another key fails verification. Values are
encoded as ccxt and Backpack's clients encode them: booleans `true`/`false`, numbers
by their exact JSON text, strings percent-encoded with `urllib.parse.quote`; null
fields are left out (they mean "absent" everywhere in the API).

Checks happen in a fixed order, before anything executes: headers well-formed, window
within the maximum, timestamp within the window of the server clock (both stale and
future), signature valid, key known and not revoked, the route's scope, the key's rate
limit, then the replay check (below). One refinement: a key found in the cache of
principals (`exchange.api.service.Api.cached_key`) is confirmed not revoked in the same
round trip as its replay check, and the request goes on only once both answered
(`Verifier.authenticate`). The server holds public keys only; a key's account and
scopes come from the database (`api_keys`) or, for the operator, from
`Settings.admin_public_key`.

Replays (our addition to Backpack's scheme, which has no nonce). `authenticate`
accepts a signature at most once: its last step, after the key's rate limit, records
the signature in a `ReplayCache` until the request's window closes (timestamp +
window, plus `REPLAY_MARGIN`), and a second request carrying it is refused with 401
`REPLAYED_REQUEST`, whatever its route, REST or websocket subscription (where the
connection that had it accepted may reuse it, `exchange.streams.server`). ED25519 is
deterministic, so the only way to send the same request twice is to sign it again
with another timestamp: a client must not send two byte-identical signed requests
(same instruction, params, timestamp and window) within the same millisecond. The
cache is keyed by the signature's 64 decoded bytes, not its base64 text (the text
has spare bits, so one signature has several spellings). It holds only signatures
of registered keys that passed every other check, each for at most `MAX_WINDOW_MS`
plus the margin, and every one was charged to its key's rate limit first: its size is
bounded by the window times the keys' request rates. The window is checked once more
just before the signature is recorded, so a replay can never outlive the entry that
refuses it. The cache is this process's (`MemoryReplayCache`) or, when gateways share
Redis, Redis's (`exchange.api.shared`), so a signature accepted by one gateway is
refused by all.
"""

from __future__ import annotations

import base64
import binascii
import heapq
import re
import time
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Protocol
from urllib.parse import quote

from nacl.exceptions import BadSignatureError
from nacl.signing import SigningKey, VerifyKey

from exchange.api.ratelimit import RateLimiter
from exchange.protocol.codes import ApiError, Code
from exchange.protocol.requests import Scope

DEFAULT_WINDOW_MS = 5_000
MAX_WINDOW_MS = 60_000
REPLAY_MARGIN = 1.0  # float-ok: seconds a used signature is kept past its window
"""The 401 code of a signed request whose signature was already accepted once."""


@dataclass(frozen=True, slots=True)
class Principal:
    """Who signed a request: the key, its account and what it may do."""

    public_key: str
    account_id: int
    scopes: frozenset[Scope]


@dataclass(frozen=True, slots=True, kw_only=True)
class ApiKey:
    """One registered key of an account, as the key routes list it (`created_at` in µs)."""

    public_key: str
    scopes: frozenset[Scope]
    created_at: int
    revoked: bool


KeyLookup = Callable[[str], Awaitable[Principal | None]]

CachedKey = Callable[[str], tuple[Principal, Callable[[], Coroutine[Any, Any, bool]]] | None]
"""A key's cached principal and how to confirm it: a call that starts reading whether the cache still holds
(no key was revoked since it was filled), the answer due when awaited; None if the key is not cached."""

SignedParams = Mapping[str, str | bool | None]


_UNRESERVED = re.compile(r"[A-Za-z0-9_.~-]*")


def _quote(text: str) -> str:
    """`quote(text, safe="")`, as `urlencode` applies it, without its work for text that needs no quoting."""
    return text if _UNRESERVED.fullmatch(text) else quote(text, safe="")


def _encode(params: SignedParams) -> str:
    """`urlencode(sorted non-null params, quote_via=quote)` with booleans as true/false."""
    return "&".join(
        f"{_quote(key)}={_quote(('true' if value else 'false') if isinstance(value, bool) else value)}"
        for key, value in sorted(params.items())
        if value is not None
    )


def signing_payload(instruction: str, params: Sequence[SignedParams], timestamp: str, window: str) -> bytes:
    """The exact bytes a client signs for `instruction` over one params object (or a batch of them)."""
    parts: list[str] = []
    for one in params or ({},):
        parts.append(f"instruction={instruction}")
        encoded = _encode(one)
        if encoded:
            parts.append(encoded)
    parts.append(f"timestamp={timestamp}&window={window}")
    return "&".join(parts).encode()


def unauthorized(message: str) -> ApiError:
    """401 UNAUTHORIZED (ccxt: AuthenticationError)."""
    return ApiError(401, Code.UNAUTHORIZED, message)


def decode_public_key(text: str) -> bytes:
    """The 32 raw bytes of a base64 ED25519 public key, or 401."""
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise unauthorized("X-API-Key is not base64") from None
    if len(raw) != 32:
        raise unauthorized("X-API-Key must be a 32-byte ED25519 public key")
    return raw


def _window(headers: Mapping[str, str]) -> str:
    """The request's X-Window as sent, or the default window."""
    return headers.get("x-window", str(DEFAULT_WINDOW_MS))


class ReplayCache(Protocol):
    """Signatures already accepted, each remembered until it expires (a shared store may implement it)."""

    def first_use(self, signature: bytes, expires_at: float) -> Coroutine[Any, Any, bool]:
        """Record `signature` until `expires_at` (epoch seconds); False if it is recorded already.

        A shared store queues the check when called, so that it travels with whatever
        else is queued then; the answer is due when awaited.
        """
        ...


class MemoryReplayCache:
    """The in-process `ReplayCache`: a set of signatures and a heap of their expiries, pruned as time passes."""

    def __init__(self, *, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._seen: set[bytes] = set()
        self._expiries: list[tuple[float, bytes]] = []

    def __len__(self) -> int:
        return len(self._seen)

    async def first_use(self, signature: bytes, expires_at: float) -> bool:
        """Record `signature` until `expires_at`; False if it is recorded already."""
        now = self._clock()
        while self._expiries and self._expiries[0][0] < now:
            self._seen.discard(heapq.heappop(self._expiries)[1])
        if signature in self._seen:
            return False
        self._seen.add(signature)
        heapq.heappush(self._expiries, (expires_at, signature))
        return True


class Verifier:
    """Verifies signed requests against the keys `lookup` knows; caches parsed keys.

    `limiter` charges each authenticated request to its key (429 when its window is
    full); `replays` remembers accepted signatures (see the module docstring), in this
    process or in the store gateways share (`exchange.api.shared`).
    """

    def __init__(
        self,
        lookup: KeyLookup,
        *,
        cached: CachedKey | None = None,
        limiter: RateLimiter | None = None,
        replays: ReplayCache | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.lookup = lookup
        self._cached = cached
        self._limiter = limiter
        self._replays = replays or MemoryReplayCache(clock=clock)
        self._clock = clock
        self._verify_keys: dict[str, VerifyKey] = {}

    def check_signature(self, headers: Mapping[str, str], instruction: str, params: Sequence[SignedParams]) -> str:
        """Check headers, time window and signature; return the signing public key."""
        key_text = headers.get("x-api-key")
        signature_text = headers.get("x-signature")
        timestamp = headers.get("x-timestamp")
        window = _window(headers)
        if not key_text or not signature_text or not timestamp:
            raise unauthorized("X-API-Key, X-Signature and X-Timestamp headers are required")
        if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 16):
            raise unauthorized("X-Timestamp must be an integer number of milliseconds")
        if not (window.isascii() and window.isdigit() and len(window) <= 6):
            raise unauthorized("X-Window must be an integer number of milliseconds")
        if int(window) > MAX_WINDOW_MS:
            raise unauthorized(f"X-Window must be at most {MAX_WINDOW_MS}")
        now_ms = int(self._clock() * 1000)
        if abs(now_ms - int(timestamp)) > int(window):
            raise unauthorized("request timestamp is outside the receive window")
        self._verify(
            key_text, signature_text, signing_payload(instruction, params, timestamp, window), "Invalid signature"
        )
        return key_text

    def check_possession(
        self, headers: Mapping[str, str], public_key: str, instruction: str, params: Sequence[SignedParams]
    ) -> None:
        """Check X-Key-Signature: `public_key`'s own signature of the request's signing payload.

        A request that registers a key proves with it that its sender holds the key's
        secret. Call after `check_signature`, which validated the timestamp and window
        both signatures cover.
        """
        signature_text = headers.get("x-key-signature")
        if not signature_text:
            raise unauthorized("X-Key-Signature is required: the new key's signature of this request")
        payload = signing_payload(instruction, params, headers["x-timestamp"], _window(headers))
        self._verify(
            public_key, signature_text, payload, "X-Key-Signature is not the new key's signature of this request"
        )

    def _verify(self, key_text: str, signature_text: str, payload: bytes, refusal: str) -> None:
        verify_key = self._verify_keys.get(key_text)
        if verify_key is None:
            verify_key = VerifyKey(decode_public_key(key_text))
            if len(self._verify_keys) > 100_000:
                self._verify_keys.clear()
            self._verify_keys[key_text] = verify_key
        try:
            verify_key.verify(payload, base64.b64decode(signature_text, validate=True))
        except (binascii.Error, ValueError, BadSignatureError):
            raise ApiError(401, Code.INVALID_SIGNATURE, refusal) from None

    async def authenticate(
        self,
        headers: Mapping[str, str],
        instruction: str,
        params: Sequence[SignedParams],
        scope: Scope,
        *,
        once: bool = True,
    ) -> Principal:
        """Verify the request, charge its key's rate limit, accept its signature once; return its principal.

        The principal must hold `scope`. `once=False` skips the replay check, for the
        one caller that already holds the signature's first use (a websocket
        connection subscribing again with the frame signature it had accepted).

        A cached key is used before it is confirmed: the confirmation (no key was revoked
        since the cache was filled) starts together with the replay check, so a shared
        store answers both in one round trip, and the request is accepted only once
        both are in. If the cache no longer holds, the key is looked up again, and a
        revoked key is refused (its signature stays recorded).
        """
        key_text = self.check_signature(headers, instruction, params)
        cached = self._cached(key_text) if self._cached is not None else None
        if cached is None:
            principal, confirm = _permitted(await self.lookup(key_text), scope), None
        else:
            principal, confirm = _permitted(cached[0], scope), cached[1]
        if self._limiter is not None:
            await self._limiter.check(principal.public_key)
        accepting = self._accept_once(headers) if once else None
        confirming = confirm() if confirm is not None else None
        try:
            if accepting is not None:
                await accepting
        finally:  # awaited whatever happened: both answers travel in the same round trip
            if confirming is not None and not await confirming:
                principal = _permitted(await self.lookup(key_text), scope)
        return principal

    def _accept_once(self, headers: Mapping[str, str]) -> Coroutine[Any, Any, None]:
        """Record the (verified) signature until its window closes (queued now); 401 REPLAYED_REQUEST if it was seen."""
        expires_ms = int(headers["x-timestamp"]) + int(_window(headers))
        if int(self._clock() * 1000) > expires_ms:
            raise unauthorized("request timestamp is outside the receive window")
        signature = base64.b64decode(headers["x-signature"], validate=True)
        return _refuse_replay(self._replays.first_use(signature, expires_ms / 1000 + REPLAY_MARGIN))


def _permitted(principal: Principal | None, scope: Scope) -> Principal:
    """`principal` if it holds `scope`; 401 for an unknown or revoked key, 403 for a missing scope."""
    if principal is None:
        raise unauthorized("unknown or revoked API key")
    if scope not in principal.scopes:
        raise ApiError(403, Code.FORBIDDEN, f"this API key lacks the {scope.value} scope")
    return principal


async def _refuse_replay(first_use: Awaitable[bool]) -> None:
    """401 REPLAYED_REQUEST unless the signature's use is the first."""
    if not await first_use:
        raise ApiError(
            401,
            Code.REPLAYED_REQUEST,
            "this signed request was already accepted once; sign it again (a new X-Timestamp) to repeat it",
        )


# -- the client side (tests, benchmark, CLI) -----------------------------------------


@dataclass(frozen=True, slots=True)
class KeyPair:
    """An ED25519 key pair in Backpack's encoding: base64 32-byte seed and public key."""

    secret: str
    public_key: str

    @staticmethod
    def generate() -> KeyPair:
        """A fresh random key pair."""
        signing = SigningKey.generate()
        return KeyPair(
            secret=base64.b64encode(bytes(signing)).decode(),
            public_key=base64.b64encode(bytes(signing.verify_key)).decode(),
        )

    @staticmethod
    def from_secret(secret: str) -> KeyPair:
        """The key pair of a base64 secret (a 32-byte seed, or a 64-byte seed+public key); ValueError if bad."""
        try:
            raw = base64.b64decode(secret, validate=True)
        except (binascii.Error, ValueError):
            raise ValueError("the API secret must be base64") from None
        if len(raw) not in (32, 64):
            raise ValueError("the API secret must be a 32-byte ED25519 seed, base64")
        signing = SigningKey(raw[:32])
        return KeyPair(
            secret=base64.b64encode(raw[:32]).decode(),
            public_key=base64.b64encode(bytes(signing.verify_key)).decode(),
        )

    def headers(
        self,
        instruction: str,
        params: Sequence[SignedParams] = (),
        *,
        timestamp: int | None = None,
        window: int = DEFAULT_WINDOW_MS,
        new_key: KeyPair | None = None,
    ) -> dict[str, str]:
        """The X-* headers that sign `params` for `instruction`, as Backpack's clients send them.

        With `new_key` (registering it: keyCreate), also its proof of possession,
        X-Key-Signature: the new key's signature of the same payload.
        """
        ts = str(int(time.time() * 1000) if timestamp is None else timestamp)
        payload = signing_payload(instruction, params, ts, str(window))
        headers = {"X-API-Key": self.public_key, "X-Signature": self._sign(payload), "X-Timestamp": ts}
        headers["X-Window"] = str(window)
        if new_key is not None:
            headers["X-Key-Signature"] = new_key._sign(payload)
        return headers

    def _sign(self, payload: bytes) -> str:
        return base64.b64encode(_signing_key(self.secret).sign(payload).signature).decode()


@lru_cache(maxsize=1024)
def _signing_key(secret: str) -> SigningKey:
    """The signing key of a base64 secret, derived once (deriving costs as much as signing)."""
    return SigningKey(base64.b64decode(secret)[:32])
