"""Money in and out on chains: Backpack's withdrawal request and deposit address, and the operator's side.

A withdrawal asked for on Backpack's route (`POST /wapi/v1/capital/withdrawals`) follows
the rules of the project's own withdraw route: it is idempotent by the caller's
`clientId` (the transfer id `withdraw:ACCOUNT:CLIENTID`, the same namespace as the own
route's `transferId`, so one key names one withdrawal whichever route made it), and it
comes only from the available balance, which the engine debits at once. It then waits,
`pending`, for the operator, who sends the funds and marks it `confirmed` (with the
transaction, `/admin/v1/withdrawals/confirm`) or `failed` (`/admin/v1/withdrawals/fail`),
which returns the amount to the available balance. Settling is a command of the engine
(`SettleWithdrawal`), the single writer, so the refund is exact, durable before any reply,
and applied once however many operators race; marking a withdrawal with the status it
already has answers it again (idempotent), the other status is a 400. The reply, as the
history, is Backpack's `Withdrawal` as committed.

Each account has a stable deposit reference per blockchain
(`GET /wapi/v1/capital/deposit/address`), made on first request. The operator's on-ramp
credits by it (`deposit` with `address` and `transactionHash`, `exchange.api.own`), and a
deposit is identified by its chain transaction, so a repeat credits nothing. A blockchain
must be one an asset is listed on (`/api/v1/assets`), and a withdrawal's one of its asset's.
"""

from __future__ import annotations

import uuid

from starlette.responses import Response

from exchange.api.errors import RejectedError
from exchange.api.routes import Call, Handler
from exchange.api.service import Api, JsonResponse, now_us
from exchange.engine.commands import Chain, Deposit, SettleWithdrawal, Withdraw
from exchange.engine.errors import RejectReason
from exchange.engine.numbers import Asset
from exchange.persistence import queries, tables
from exchange.protocol import endpoints, replies, requests
from exchange.protocol.codes import ApiError, Code, bad_request
from exchange.protocol.endpoints import Endpoint


async def apply_transfer(api: Api, command: Deposit | Withdraw) -> bool:
    """Apply a deposit or withdrawal once; True if its transfer id had been applied before (nothing changed)."""
    if await api.queries.transfer_exists(command.transfer_id):  # the engine only remembers recent ids
        return True
    try:
        await api.execute(command)
    except RejectedError as error:
        if error.rejected.reason is not RejectReason.DUPLICATE_TRANSFER:
            raise
        return True
    return False


def check_network(asset: Asset, blockchain: str) -> None:
    """400 unless `asset` is listed on `blockchain`."""
    if blockchain not in asset.blockchains:
        listed = ", ".join(asset.blockchains)
        raise bad_request(f"{asset.symbol} is not on {blockchain}; its blockchains: {listed}")


def account_of(call: Call) -> int:
    """The signer's account (the operator's key from settings has none: 403)."""
    if call.signer.public_key == call.api.admin_public_key:
        raise ApiError(403, Code.FORBIDDEN, "the operator's key is not a key of an account")
    return call.signer.account_id


def _committed(found: queries.Transfer | None) -> queries.Transfer:
    assert found is not None, "a committed transfer is stored"
    return found


async def request_withdrawal(call: Call) -> Response:
    """POST /wapi/v1/capital/withdrawals (withdraw): debit available now; pending until the operator settles it."""
    api, account_id = call.api, account_of(call)
    wanted = requests.WithdrawalRequest.read(call.params)
    asset = await api.asset(wanted.symbol)
    check_network(asset, wanted.blockchain)
    transfer_id = f"withdraw:{account_id}:{wanted.client_id or uuid.uuid4()}"
    command = Withdraw(
        account_id=account_id,
        asset=asset.symbol,
        amount=asset.atoms(wanted.quantity),
        transfer_id=transfer_id,
        chain=Chain(blockchain=wanted.blockchain, address=wanted.address),
        ts=now_us(),
    )
    await apply_transfer(api, command)
    return JsonResponse(replies.WITHDRAWAL.encode(_committed(await api.queries.transfer(transfer_id=transfer_id))))


async def deposit_address(call: Call) -> Response:
    """GET /wapi/v1/capital/deposit/address (depositAddressQuery): the account's reference on a blockchain."""
    api, account_id = call.api, account_of(call)
    blockchain = requests.BlockchainQuery.read(call.params).blockchain
    assert blockchain is not None, "a required field"
    if not any(blockchain in asset.blockchains for asset in api.catalog.assets.values()):
        raise bad_request(f"no asset is listed on {blockchain}")
    return JsonResponse(replies.DEPOSIT_ADDRESS.encode(await api.accounts.deposit_address(account_id, blockchain)))


async def pending_withdrawals(call: Call) -> Response:
    """GET /admin/v1/withdrawals (withdrawalQueryPending): what the operator has to send, oldest first."""
    page = requests.PageQuery.read(call.params)
    pending = await call.api.queries.transfer_history(
        None, kind="withdrawal", status=tables.PENDING, limit=page.limit, offset=page.offset, ascending=True
    )
    return JsonResponse([replies.WITHDRAWAL.encode(t) for t in pending])


async def _settle(call: Call, confirmed: bool) -> Response:
    api = call.api
    settlement = requests.Settlement.read(call.params)
    found = await api.queries.transfer(number=settlement.id)
    if found is None or found.kind != "withdrawal":
        raise ApiError(404, Code.RESOURCE_NOT_FOUND, f"no withdrawal {settlement.id}")
    if found.status == tables.PENDING:
        command = SettleWithdrawal(
            transfer_id=found.transfer_id,
            confirmed=confirmed,
            transaction_hash=settlement.transaction_hash,
            ts=now_us(),
        )
        try:
            await api.execute(command)
        except RejectedError as error:
            if error.rejected.reason is not RejectReason.WITHDRAWAL_NOT_PENDING:
                raise  # else another settlement came first: answer with what it left
        found = _committed(await api.queries.transfer(number=settlement.id))
    wanted = tables.CONFIRMED if confirmed else tables.FAILED
    if found.status != wanted:
        raise bad_request(f"withdrawal {settlement.id} is {found.status}; it cannot become {wanted}")
    return JsonResponse(replies.WITHDRAWAL.encode(found))


async def confirm_withdrawal(call: Call) -> Response:
    """POST /admin/v1/withdrawals/confirm (withdrawalConfirm): the funds were sent."""
    return await _settle(call, True)


async def fail_withdrawal(call: Call) -> Response:
    """POST /admin/v1/withdrawals/fail (withdrawalFail): the funds were not sent; they return to available."""
    return await _settle(call, False)


HANDLERS: dict[Endpoint, Handler] = {
    endpoints.WITHDRAWAL_REQUEST: request_withdrawal,
    endpoints.DEPOSIT_ADDRESS: deposit_address,
    endpoints.WITHDRAWALS_PENDING: pending_withdrawals,
    endpoints.WITHDRAWAL_CONFIRM: confirm_withdrawal,
    endpoints.WITHDRAWAL_FAIL: fail_withdrawal,
}
