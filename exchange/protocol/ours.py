"""The project's own routes' bodies: accounts, keys, transfers, listings and halts."""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Protocol

from exchange.engine.numbers import DEFAULT_BLOCKCHAINS, Asset, InvalidInput
from exchange.protocol.codes import ApiError, Code, bad_request
from exchange.protocol.decoding import Json, Scalar, only_fields, parse_decimal, parse_uint, required
from exchange.protocol.replies import _book_state, dec

#
# Accounts, keys, transfers, listings and halts (exchange/api/own.py) are ours, not Backpack's,
# but their bodies follow the same conventions: camelCase names, decimal strings, ids
# as strings in requests. The parsers check form only and return small typed values;
# the routes do the lookups (assets, markets) and the authorisation.


class Scope(StrEnum):
    """What an API key may do: read, trade, or administer the exchange."""

    READ = "read"
    TRADE = "trade"
    ADMIN = "admin"


@dataclass(frozen=True, slots=True, kw_only=True)
class AccountRequest:
    """`accountCreate`: the new key, the scopes asked for (None: the default) and a note."""

    public_key: str
    scopes: frozenset[Scope] | None = None
    label: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class KeyRequest:
    """`keyCreate`: the key to add and the scopes asked for (None: the signer's own, admin excepted)."""

    public_key: str
    scopes: frozenset[Scope] | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class TransferRequest:
    """`deposit` / `withdraw`: the asset, the amount, the caller's idempotency key, the target account;
    an on-ramp deposit by reference names the account's deposit `address` and its chain transaction instead."""

    symbol: str
    quantity: Decimal
    transfer_id: str | None = None
    account_id: int | None = None
    address: str | None = None
    transaction_hash: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class MarketRequest:
    """`marketCreate`: a market's terms, its assets by symbol (the route looks them up)."""

    symbol: str
    base_symbol: str
    quote_symbol: str
    tick_size: Decimal
    step_size: Decimal
    min_quantity: Decimal
    maker_fee_bps: int = 0
    taker_fee_bps: int = 0


MAX_ACCOUNT_ID = 2**63 - 1
MAX_FEE_BPS = 9_999
MAX_DECIMALS = 36
MAX_ID_LENGTH = 64
"""The longest `transferId` (and `publicKey`)."""
MAX_LABEL_LENGTH = 200
ASSET_SYMBOL = re.compile(r"[A-Za-z0-9]{1,16}")
MARKET_SYMBOL = re.compile(r"[A-Za-z0-9_]{1,32}")
"""What a new listing may be called: ASCII letters and digits (and `_` in a market's), so every
symbol is safe in a URL, a stream name (`depth.SOL_USDC`) and a log line."""


CHAIN_TEXT = re.compile(r"[\x21-\x7e]{1,128}")
"""An address or a transaction hash: 1 to 128 printable ASCII characters, no spaces."""


def chain_text(params: Mapping[str, Scalar], name: str) -> str:
    """An address or a transaction hash (`CHAIN_TEXT`)."""
    value = required(params, name)
    if not isinstance(value, str) or not CHAIN_TEXT.fullmatch(value):
        raise bad_request(f"{name} must be 1 to 128 printable ASCII characters without spaces")
    return value


def _text(params: Mapping[str, Scalar], name: str, *, max_length: int = MAX_ID_LENGTH) -> str:
    value = required(params, name)
    if type(value) is not str or not 0 < len(value) <= max_length:
        raise bad_request(f"{name} must be a string of 1 to {max_length} characters")
    return value


def _asset_symbol(params: Mapping[str, Scalar], name: str) -> str:
    value = required(params, name)
    if not isinstance(value, str):
        raise ApiError(400, Code.INVALID_ASSET, f"Invalid asset symbol {value}")
    return value


def parse_scopes(value: object) -> frozenset[Scope]:
    """Scopes from their comma-separated wire form, e.g. "read,trade"."""
    if not isinstance(value, str):
        raise bad_request("scopes must be a comma-separated string like read,trade")
    try:
        return frozenset(Scope(s.strip()) for s in value.split(",") if s.strip())
    except ValueError:
        raise bad_request("scopes must be among read, trade, admin") from None


def parse_account(params: Mapping[str, Scalar]) -> AccountRequest:
    """The `accountCreate` body."""
    public_key = parse_public_key(params)
    scopes = params.get("scopes")
    label = params.get("label")
    if label is not None and (not isinstance(label, str) or len(label) > MAX_LABEL_LENGTH):
        raise bad_request(f"label must be a string of at most {MAX_LABEL_LENGTH} characters")
    return AccountRequest(public_key=public_key, scopes=None if scopes is None else parse_scopes(scopes), label=label)


def account_fields(account_id: int, public_key: str, scopes: Iterable[Scope]) -> Json:
    """The reply to `accountCreate`."""
    return {"accountId": account_id, "publicKey": public_key, "scopes": sorted(s.value for s in scopes)}


def parse_public_key(params: Mapping[str, Scalar]) -> str:
    """`publicKey` of a new account or key: the canonical base64 of 32 bytes (one text per key, so no duplicates)."""
    text = _text(params, "publicKey")
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != 32 or base64.b64encode(raw).decode() != text:
        raise bad_request("publicKey must be the base64 of a 32-byte ED25519 public key")
    return text


def parse_key(params: Mapping[str, Scalar]) -> KeyRequest:
    """The `keyCreate` body: `publicKey` and optional comma-separated `scopes` (at least one)."""
    public_key = parse_public_key(params)
    scopes = params.get("scopes")
    if scopes is None:
        return KeyRequest(public_key=public_key)
    wanted = parse_scopes(scopes)
    if not wanted:
        raise bad_request("scopes must name at least one scope, like read or read,trade")
    return KeyRequest(public_key=public_key, scopes=wanted)


class KeyRecord(Protocol):
    """What `key_fields` reads of a registered key (`created_at` in µs)."""

    @property
    def public_key(self) -> str: ...
    @property
    def scopes(self) -> frozenset[Scope]: ...
    @property
    def created_at(self) -> int: ...
    @property
    def revoked(self) -> bool: ...


def key_fields(key: KeyRecord) -> Json:
    """One key in the replies of `keyCreate`, `keyQueryAll` and `keyRevoke` (`createdAt` ms)."""
    return {
        "publicKey": key.public_key,
        "scopes": sorted(s.value for s in key.scopes),
        "createdAt": key.created_at // 1000,
        "revoked": key.revoked,
    }


_WITHDRAW_FIELDS = ("symbol", "quantity", "transferId")
_DEPOSIT_FIELDS = (*_WITHDRAW_FIELDS, "accountId", "address", "transactionHash")


def parse_transfer(params: Mapping[str, Scalar], *, to_account: bool) -> TransferRequest:
    """The `deposit` (with `to_account`, which reads `accountId`, or `address` and `transactionHash`) or
    `withdraw` body."""
    only_fields(params, _DEPOSIT_FIELDS if to_account else _WITHDRAW_FIELDS, "transfer")
    symbol = _asset_symbol(params, "symbol")
    quantity = parse_decimal(required(params, "quantity"), code=Code.INVALID_QUANTITY, name="quantity")
    transfer_id = None if params.get("transferId") is None else _text(params, "transferId")
    target = params.get("accountId")
    by_reference = params.get("address") is not None or params.get("transactionHash") is not None
    if by_reference and (transfer_id is not None or target is not None):
        raise bad_request("a deposit by address is identified by its transactionHash: no transferId or accountId")
    return TransferRequest(
        symbol=symbol,
        quantity=quantity,
        transfer_id=transfer_id,
        account_id=None if target is None else parse_uint(target, name="accountId", maximum=MAX_ACCOUNT_ID),
        address=chain_text(params, "address") if by_reference else None,
        transaction_hash=chain_text(params, "transactionHash") if by_reference else None,
    )


def transfer_fields(asset: Asset, *, transfer_id: str, account_id: int, amount: int, duplicate: bool) -> Json:
    """The reply to `deposit` / `withdraw`: `duplicate` when the transfer id had been applied before."""
    return {
        "transferId": transfer_id,
        "accountId": account_id,
        "symbol": asset.symbol,
        "quantity": dec(asset.amount(amount)),
        "status": "Confirmed",
        "duplicate": duplicate,
    }


def parse_asset(params: Mapping[str, Scalar]) -> Asset:
    """The `assetCreate` body: `blockchains`, its networks comma-separated, default `DEFAULT_BLOCKCHAINS`."""
    decimals = parse_uint(required(params, "decimals"), name="decimals", maximum=MAX_DECIMALS)
    symbol = required(params, "symbol")
    if not isinstance(symbol, str) or not ASSET_SYMBOL.fullmatch(symbol):
        raise bad_request("symbol must be 1 to 16 ASCII letters and digits")
    names = params.get("blockchains")
    if names is not None and not isinstance(names, str):
        raise bad_request("blockchains must be comma-separated names, e.g. Solana,Ethereum")
    blockchains = DEFAULT_BLOCKCHAINS if names is None else tuple(n.strip() for n in names.split(","))
    try:
        return Asset(symbol=symbol, decimals=decimals, blockchains=blockchains)
    except InvalidInput as error:
        raise bad_request(error.message) from None


def _positive(params: Mapping[str, Scalar], name: str) -> Decimal:
    value = parse_decimal(required(params, name), code=Code.INVALID_CLIENT_REQUEST, name=name)
    if value <= 0:
        raise bad_request(f"{name} must be positive")
    return value


def _fee(params: Mapping[str, Scalar], name: str) -> int:
    value = params.get(name)
    return 0 if value is None else parse_uint(value, name=name, maximum=MAX_FEE_BPS)


def market_symbol(base: str, quote: str) -> str:
    """The symbol a market gets when none is given: BASE_QUOTE."""
    return f"{base}_{quote}"


def parse_market(params: Mapping[str, Scalar]) -> MarketRequest:
    """The `marketCreate` body; `symbol` defaults to BASE_QUOTE."""
    base = _asset_symbol(params, "baseSymbol")
    quote = _asset_symbol(params, "quoteSymbol")
    symbol = params.get("symbol") or market_symbol(base, quote)
    if not isinstance(symbol, str) or not MARKET_SYMBOL.fullmatch(symbol):
        raise bad_request("symbol must be 1 to 32 ASCII letters, digits and underscores")
    return MarketRequest(
        symbol=symbol,
        base_symbol=base,
        quote_symbol=quote,
        tick_size=_positive(params, "tickSize"),
        step_size=_positive(params, "stepSize"),
        min_quantity=_positive(params, "minQuantity"),
        maker_fee_bps=_fee(params, "makerFeeBps"),
        taker_fee_bps=_fee(params, "takerFeeBps"),
    )


def market_ref(params: Mapping[str, Scalar]) -> Scalar:
    """The `symbol` of a request naming one market (order queries and cancels, `marketHalt`, `marketResume`)."""
    return params.get("symbol")


def market_state_fields(symbol: str, *, halted: bool) -> Json:
    """The reply to `marketHalt` / `marketResume`: the market's `orderBookState`."""
    return {"symbol": symbol, "orderBookState": _book_state(halted)}
