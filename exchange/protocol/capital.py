"""Transfers on chains: Backpack's withdrawal request and deposit address, and the operator's settlement.

Backpack's user asks for a withdrawal to an `address` on a `blockchain` and for a deposit
address per `blockchain`; this exchange's money enters and leaves through the operator,
so a withdrawal waits (pending) until the operator settles it, and a deposit address is
the account's stable reference that the operator's on-ramp credits by. The bodies follow
Backpack's (`symbol`, `quantity` as a decimal string, `address`, `blockchain`, `clientId`);
`clientId` is the idempotency key of the withdrawal, as `transferId` is of the project's
own withdraw route. The parsers check form only; the routes check the asset, its networks
and the funds.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from exchange.engine.numbers import BLOCKCHAIN
from exchange.protocol.codes import Code, bad_request
from exchange.protocol.decoding import Json, Scalar, only_fields, parse_decimal, parse_uint, required
from exchange.protocol.messages import CHAIN_STRING, INTEGER, NUMBER_INPUT, STRING, obj, query
from exchange.protocol.ours import chain_text

MAX_CLIENT_ID_LENGTH = 64


@dataclass(frozen=True, slots=True, kw_only=True)
class WithdrawalRequest:
    """`withdraw` on Backpack's route: what, how much, where to, and the caller's idempotency key."""

    symbol: str
    quantity: Decimal
    address: str
    blockchain: str
    client_id: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Settlement:
    """The operator's `withdrawalConfirm` / `withdrawalFail`: the withdrawal's number and, if sent, its transaction."""

    id: int
    transaction_hash: str | None = None


def parse_blockchain(params: Mapping[str, Scalar]) -> str:
    """`blockchain`: a network's name, e.g. Solana (the route checks it is listed)."""
    value = required(params, "blockchain")
    if not isinstance(value, str) or not BLOCKCHAIN.fullmatch(value):
        raise bad_request("blockchain must be a network's name of 1 to 32 ASCII letters and digits, e.g. Solana")
    return value


def parse_withdrawal(params: Mapping[str, Scalar]) -> WithdrawalRequest:
    """The body of `POST /wapi/v1/capital/withdrawals`."""
    only_fields(params, WITHDRAWAL_REQUEST["properties"], "withdrawal")
    symbol = required(params, "symbol")
    if not isinstance(symbol, str):
        raise bad_request("symbol must be a string")
    client_id = params.get("clientId")
    if client_id is not None and (not isinstance(client_id, str) or not 0 < len(client_id) <= MAX_CLIENT_ID_LENGTH):
        raise bad_request(f"clientId must be a string of 1 to {MAX_CLIENT_ID_LENGTH} characters")
    return WithdrawalRequest(
        symbol=symbol,
        quantity=parse_decimal(required(params, "quantity"), code=Code.INVALID_QUANTITY, name="quantity"),
        address=chain_text(params, "address"),
        blockchain=parse_blockchain(params),
        client_id=client_id,
    )


def parse_settlement(params: Mapping[str, Scalar]) -> Settlement:
    """The body of `withdrawalConfirm` / `withdrawalFail`."""
    only_fields(params, SETTLEMENT["properties"], "settlement")
    tx = params.get("transactionHash")
    return Settlement(
        id=parse_uint(required(params, "id"), name="id", maximum=2**63 - 1),
        transaction_hash=None if tx is None else chain_text(params, "transactionHash"),
    )


def deposit_address_fields(address: str) -> Json:
    """Backpack's `DepositAddress`."""
    return {"address": address}


BLOCKCHAIN_NAME = {"type": "string", "pattern": BLOCKCHAIN.pattern.join("^$")}
WITHDRAWAL_REQUEST = obj(
    {
        "symbol": STRING,
        "quantity": NUMBER_INPUT,
        "address": CHAIN_STRING,
        "blockchain": BLOCKCHAIN_NAME,
        "clientId": {"type": "string", "minLength": 1, "maxLength": MAX_CLIENT_ID_LENGTH},
    },
    optional=("clientId",),
)
SETTLEMENT = obj({"id": INTEGER, "transactionHash": CHAIN_STRING}, optional=("transactionHash",))
BLOCKCHAIN_QUERY = query("blockchain", BLOCKCHAIN_NAME, required=True)
DEPOSIT_ADDRESS = obj({"address": STRING})
