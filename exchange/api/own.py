"""The project's own routes, beside Backpack's: accounts, keys, deposits, withdrawals, listings, halts.

They are signed exactly like Backpack's private routes (same headers, same payload
rule) with instructions of their own, and live under their own prefixes so nobody
mistakes them for Backpack's:

- `/exchange/v1/...` for what users do: open an account with a public key, manage
  its keys, deposit (the faucet, in demo mode) and withdraw.
- `/exchange/v1/pnl`: the account's realized and unrealized PnL per market
  (`exchange.pnl`: Backpack's own PnL history lists futures settlements, not spot).
- `/admin/v1/...` for the operator (a key with the `admin` scope): list assets and
  markets, deposit to any account (the on-ramp), halt and resume a market.

Opening an account proves possession of its key: the request is signed by the new key
itself (open sign-up, demo mode) or by an admin key (the new key is in the body).
Deposits and withdrawals are idempotent by a caller-chosen `transferId`: the engine
applies a transfer id once, and a repeat answers with the same body and
`"duplicate": true`. Ids of the faucet and of withdrawals are scoped to the account,
so one account can never collide with (or pre-empt) another's.

An account may hold several keys (`/exchange/v1/keys`: add, list, revoke), each with
its scopes, and a key only ever hands on what it holds itself: a new key's scopes
must be a subset of the signer's, and `admin` is never granted here (only the operator
opens admin accounts). Revoking needs every scope of the key revoked, so a leaked
read key cannot lock the owner out by revoking the trade key; a key may revoke
itself. The key routes speak only of the signer's own account: another account's key
is as unknown (404) as a key nobody registered. Revoking is idempotent (a revoked
key answers the same body again) and takes effect for the very next request, REST or
websocket subscription, on every gateway, because both authenticate through
`Api.lookup_key`, whose cache `Api.revoke_key` invalidates through the revocation
mark (a subscription made before the revocation keeps its streams until its socket
closes). Revoking a revoked key does it again, mark included, so a revoke answered 503
(the mark could not be changed after the commit) is made whole by its retry. A key
registered once, revoked or not, is never registered again, so adding a key needs proof
of possession of its secret: besides the account key's signature, the request carries
the new key's own signature of the same payload (`X-Key-Signature`), and nobody can
claim a public key they merely saw. An account holds at most `MAX_ACTIVE_KEYS` unrevoked keys.
"""

from __future__ import annotations

import dataclasses
import uuid

from starlette.responses import Response

from exchange import pnl
from exchange.api.auth import Principal
from exchange.api.capital import account_of, apply_transfer, check_network
from exchange.api.routes import Call, Handler, authenticate
from exchange.api.service import Api, JsonResponse, now_us
from exchange.engine.commands import AddAsset, AddMarket, Chain, Deposit, SetMarketHalted, Withdraw
from exchange.engine.numbers import InvalidInput, Market
from exchange.engine.queries import GetDigest, GetListings, Listings
from exchange.persistence import queries
from exchange.protocol import decoding, endpoints, replies, requests
from exchange.protocol.codes import ApiError, Code
from exchange.protocol.endpoints import Endpoint
from exchange.protocol.requests import Scope
from exchange.seat import EngineSeat, Role

SIGNUP_SCOPES = frozenset((Scope.READ, Scope.TRADE))


async def create_account(call: Call) -> Response:
    """POST /exchange/v1/accounts (accountCreate): open an account with an ED25519 public key."""
    api, params, request = call.api, call.params, call.request
    account = requests.AccountRequest.read(params)
    asked = requests.scope_set(account.scopes)
    scopes = SIGNUP_SCOPES if asked is None else asked
    if request.headers.get("x-api-key") == account.public_key and api.open_signup:
        api.verifier.check_signature(request.headers, endpoints.ACCOUNT_CREATE.instruction, [params])
        if not scopes <= SIGNUP_SCOPES:
            raise ApiError(403, Code.FORBIDDEN, "open sign-up grants read and trade only")
    else:
        await authenticate(api, request, endpoints.ACCOUNT_CREATE, [params])
    account_id = await api.create_account(account.public_key, scopes, account.label)
    return JsonResponse(replies.ACCOUNT.encode((account_id, account.public_key, scopes)))


def _account_signed(call: Call) -> tuple[Api, Principal, decoding.Params]:
    """A key route's params, signed by a key of an account (the operator's key from settings has none)."""
    account_of(call)
    return call.api, call.signer, call.params


async def create_key(call: Call) -> Response:
    """POST /exchange/v1/keys (keyCreate): add a key to the signer's account, with at most the signer's scopes."""
    api, principal, params = _account_signed(call)
    key = requests.KeyRequest.read(params)
    api.verifier.check_possession(call.request.headers, key.public_key, endpoints.KEY_CREATE.instruction, [params])
    asked = requests.scope_set(key.scopes)
    scopes = principal.scopes - {Scope.ADMIN} if asked is None else asked
    if Scope.ADMIN in scopes:
        raise ApiError(403, Code.FORBIDDEN, "the admin scope is granted by the operator only")
    if not scopes <= principal.scopes:
        missing = ", ".join(sorted(s.value for s in scopes - principal.scopes))
        raise ApiError(403, Code.FORBIDDEN, f"a key cannot grant scopes it lacks: {missing}")
    added = await api.add_key(principal.account_id, key.public_key, scopes)
    return JsonResponse(replies.API_KEY.encode(added))


async def list_keys(call: Call) -> Response:
    """GET /exchange/v1/keys (keyQueryAll): the signer's account's keys, revoked ones too, oldest first."""
    api, principal, _ = _account_signed(call)
    return JsonResponse([replies.API_KEY.encode(key) for key in await api.account_keys(principal.account_id)])


async def revoke_key(call: Call) -> Response:
    """DELETE /exchange/v1/keys (keyRevoke): revoke a key of the signer's account (idempotent)."""
    api, principal, params = _account_signed(call)
    public_key = requests.KeyRef.read(params).public_key
    found = await api.account_keys(principal.account_id, public_key)
    if not found:
        raise ApiError(404, Code.RESOURCE_NOT_FOUND, "no such key in this account")
    key = found[0]
    if not key.scopes <= principal.scopes:
        missing = ", ".join(sorted(s.value for s in key.scopes - principal.scopes))
        raise ApiError(403, Code.FORBIDDEN, f"revoking this key needs the scopes it holds: {missing}")
    await api.revoke_key(public_key)
    return JsonResponse(replies.API_KEY.encode(dataclasses.replace(key, revoked=True)))


async def _transfer(api: Api, principal: Principal, transfer: requests.TransferRequest) -> Response:
    deposit = transfer if isinstance(transfer, requests.DepositRequest) else None
    asset = await api.asset(transfer.symbol)
    amount = asset.atoms(transfer.quantity)
    given = transfer.transfer_id
    account_id = principal.account_id
    chain = None
    if deposit is not None and deposit.address is not None and deposit.transaction_hash is not None:
        owner = await api.accounts.deposit_owner(deposit.address)
        if owner is None:
            raise ApiError(400, Code.INVALID_CLIENT_REQUEST, f"no account has the deposit address {deposit.address}")
        account_id, blockchain = owner
        check_network(asset, blockchain)
        chain = Chain(blockchain=blockchain, address=deposit.address, transaction_hash=deposit.transaction_hash)
        transfer_id = f"onramp:{blockchain}:{deposit.transaction_hash}"
    elif deposit is not None and Scope.ADMIN in principal.scopes:
        account_id = account_id if deposit.account_id is None else deposit.account_id
        transfer_id = f"onramp:{given or uuid.uuid4()}"
    else:
        transfer_id = f"{'withdraw' if deposit is None else 'deposit'}:{account_id}:{given or uuid.uuid4()}"
    command_type = Withdraw if deposit is None else Deposit
    command = command_type(
        account_id=account_id, asset=asset.symbol, amount=amount, transfer_id=transfer_id, chain=chain, ts=now_us()
    )
    duplicate = await apply_transfer(api, command)
    return JsonResponse(replies.TRANSFER.encode(replies.Credited(asset, transfer_id, account_id, amount, duplicate)))


async def deposit(call: Call) -> Response:
    """POST /exchange/v1/capital/deposit (deposit): the faucet (demo) or the operator's on-ramp."""
    api, params, principal = call.api, call.params, call.signer
    if Scope.ADMIN not in principal.scopes and not api.open_signup:
        raise ApiError(403, Code.FORBIDDEN, "deposits are made by the operator (the faucet is open in demo mode only)")
    transfer = requests.DepositRequest.read(params)
    if Scope.ADMIN not in principal.scopes and (transfer.account_id is not None or transfer.address is not None):
        raise ApiError(403, Code.FORBIDDEN, "only the operator deposits to another account or by address")
    return await _transfer(api, principal, transfer)


async def withdraw(call: Call) -> Response:
    """POST /exchange/v1/capital/withdraw (withdraw): debit the account's available balance."""
    api, params, principal = call.api, call.params, call.signer
    return await _transfer(api, principal, requests.TransferRequest.read(params))


async def create_asset(call: Call) -> Response:
    """POST /admin/v1/assets (assetCreate): list an asset."""
    api, params = call.api, call.params
    asset = requests.AssetRequest.read(params).asset()
    await api.execute(AddAsset(asset=asset, ts=now_us()))
    return JsonResponse(replies.ASSET.encode(asset))


async def create_market(call: Call) -> Response:
    """POST /admin/v1/markets (marketCreate): list a spot market of two listed assets."""
    api, params = call.api, call.params
    listing = requests.MarketRequest.read(params)
    base = await api.asset(listing.base_symbol)
    quote = await api.asset(listing.quote_symbol)
    try:
        market = Market(
            symbol=listing.name,
            base=base,
            quote=quote,
            tick_size=listing.tick_size,
            step_size=listing.step_size,
            min_quantity=listing.min_quantity,
            maker_fee_bps=listing.maker_fee_bps,
            taker_fee_bps=listing.taker_fee_bps,
            band_min=listing.band_min,
            band_max=listing.band_max,
        )
    except InvalidInput as error:
        raise ApiError(400, Code.INVALID_MARKET, error.message) from None  # terms that do not fit its assets
    ts = now_us()
    await api.execute(AddMarket(market=market, ts=ts))
    return JsonResponse(replies.MARKET.encode(replies.Listing(market, False, ts)))


async def engine(call: Call) -> Response:
    """GET /admin/v1/engine (engineQuery): this instance's engine role, epoch and the digest of its state."""
    api = call.api
    seat: EngineSeat | None = getattr(call.request.app.state, "seat", None)
    if seat is None:  # a gateway: it holds no seat; the engine's digest comes through the transport
        return JsonResponse({"role": "gateway", "epoch": None, "digest": await api.actor.query(GetDigest())})
    digest = await api.actor.query(GetDigest()) if seat.role is Role.ACTIVE else None
    return JsonResponse(replies.ENGINE.encode((seat.role.value, seat.epoch, digest)))


async def _set_halted(call: Call, halted: bool) -> Response:
    api, params = call.api, call.params
    market = await api.market(requests.SymbolRef.read(params).symbol)
    await api.execute(SetMarketHalted(symbol=market.symbol, halted=halted, ts=now_us()))
    return JsonResponse(replies.MARKET_STATE.encode((market.symbol, halted)))


async def halt_market(call: Call) -> Response:
    """POST /admin/v1/markets/halt (marketHalt): stop new orders in a market (cancels still work)."""
    return await _set_halted(call, True)


async def resume_market(call: Call) -> Response:
    """POST /admin/v1/markets/resume (marketResume): accept orders in a halted market again."""
    return await _set_halted(call, False)


async def profit_and_loss(call: Call) -> Response:
    """GET /exchange/v1/pnl (pnlQuery): realized and unrealized PnL per market the account traded, by `exchange.pnl`."""
    api, params, principal = call.api, call.params, call.signer
    symbol = requests.OrdersQuery.read(params).symbol
    if symbol is not None:
        symbol = (await api.market(symbol)).symbol
    listings: Listings = await api.actor.query(GetListings())
    fills = await api.queries.fill_history(principal.account_id, symbol=symbol, limit=None, ascending=True)
    by_market: dict[str, list[pnl.Fill]] = {}
    markets = {state.market.symbol: state.market for state in listings.markets}
    for fill in fills:
        by_market.setdefault(fill.symbol, []).append(_pnl_fill(fill, markets[fill.symbol]))
    reply = []
    for state in listings.markets:
        if state.market.symbol in by_market:
            result = pnl.fold(by_market[state.market.symbol], state.market, state.last_price)
            reply.append(replies.PNL.encode(replies.Position(state.market, result, state.last_price)))
    return JsonResponse(reply)


def _pnl_fill(fill: queries.Fill, market: Market) -> pnl.Fill:
    buy = fill.side == "Bid"
    fee_asset = market.base if buy else market.quote
    return pnl.Fill(
        buy=buy,
        base=market.base.atoms(fill.quantity),
        quote=market.quote.atoms(fill.quote_quantity),
        fee=fee_asset.atoms(fill.fee) if fill.fee else 0,
    )


HANDLERS: dict[Endpoint, Handler] = {
    endpoints.ACCOUNT_CREATE: create_account,
    endpoints.KEY_CREATE: create_key,
    endpoints.KEY_QUERY_ALL: list_keys,
    endpoints.KEY_REVOKE: revoke_key,
    endpoints.DEPOSIT: deposit,
    endpoints.WITHDRAW: withdraw,
    endpoints.ASSET_CREATE: create_asset,
    endpoints.MARKET_CREATE: create_market,
    endpoints.MARKET_HALT: halt_market,
    endpoints.MARKET_RESUME: resume_market,
    endpoints.ENGINE_QUERY: engine,
    endpoints.PNL: profit_and_loss,
}
