"""The `exchange` command: serve, demo, database, accounts, keys, and the benchmarks (`exchange.bench.commands`).

Every command fails the same way: one line on stderr, `error: <what to fix>`, and an
exit status that says which kind of failure it was: 2 for bad usage (typer's), 1 for
bad configuration or a refused call, 3 when the database cannot be opened (the server
cannot start; `serve` and `demo` exit 3 through uvicorn for the same reasons).

The commands that call a running exchange go to `--url`, else `EXCHANGE_URL`, else
this machine's `http://127.0.0.1:$PORT` (PORT defaulting to 8000), so with PORT set
for the server the CLI finds it; a `.env` file can set both, as for the server.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import typer

from exchange.bench.commands import bench

if TYPE_CHECKING:
    from exchange.api.auth import KeyPair
    from exchange.config import Settings
    from exchange.protocol.endpoints import Endpoint
    from exchange.protocol.fields import Message

M = TypeVar("M", bound="Message")

app = typer.Typer(no_args_is_help=True, help="A spot crypto exchange, wire-compatible with Backpack Exchange.")


def _group(name: str, help: str) -> typer.Typer:
    """The command group `exchange <name> ...` (a group even while it holds a single command)."""
    commands = typer.Typer(no_args_is_help=True, help=help, callback=lambda: None)
    app.add_typer(commands, name=name)
    return commands


app.add_typer(bench, name="bench")


@app.callback()
def _exchange() -> None:
    """A spot crypto exchange, wire-compatible with Backpack Exchange."""


db = _group("db", "The database: schema migrations.")


@db.command("upgrade")
def db_upgrade(
    database_url: str | None = typer.Option(
        None, "--database-url", help="Database to migrate; default DATABASE_URL, else the embedded server."
    ),
) -> None:
    """Bring the schema to the newest migration (a no-op when it is there already)."""
    import asyncio

    from exchange.observability import configure_logging
    from exchange.persistence.database import DatabaseUnavailableError, migrate

    settings = _settings(database_url=database_url)
    configure_logging(settings.log_level, settings.log_format)
    try:
        asyncio.run(migrate(settings))
    except DatabaseUnavailableError as error:
        _fail(str(error), status=UNAVAILABLE)


# -- running it: serve, demo, bots ------------------------------------------------------


def _settings(**overrides: Any) -> Settings:
    """Settings from the environment and the command line; bad ones end the command with the variable named."""
    from exchange.config import ConfigError, load_settings

    try:
        return load_settings(**{k: v for k, v in overrides.items() if v is not None})
    except ConfigError as error:
        _fail(str(error))


FAILED, UNAVAILABLE = 1, 3
"""Exit statuses: bad configuration or a refused call; the database cannot be opened."""


def _fail(message: str, *, status: int = FAILED) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(status)


HOST = typer.Option(None, "--host", help="Interface to listen on [env HOST, default 127.0.0.1].")
PORT = typer.Option(None, "--port", help="Port to listen on [env PORT, default 8000].", min=1, max=65_535)


STANDBY = typer.Option(
    None,
    "--standby/--no-standby",
    help="Wait for the engine claim and take over when the active engine dies [env EXCHANGE_STANDBY].",
)


ROLE = typer.Option(
    None,
    "--role",
    help="all: one process (default); engine: the engine, writer and bots; gateway: REST, websockets and the page. "
    "engine and gateway talk through REDIS_URL [env EXCHANGE_ROLE].",
)


@app.command()
def serve(
    host: str | None = HOST, port: int | None = PORT, standby: bool | None = STANDBY, role: str | None = ROLE
) -> None:
    """Run the exchange: API, websockets, engine, writer, and the bots if EXCHANGE_BOTS is on (or one role of it)."""
    from exchange.serve import serve as run

    raise typer.Exit(run(_settings(host=host, port=port, standby=standby, role=role)))


@app.command()
def demo(host: str | None = HOST, port: int | None = PORT) -> None:
    """Run the exchange in demo mode: demo markets, market maker and taker, open sign-up and faucet."""
    from exchange.serve import serve as run

    settings = _settings(host=host, port=port, demo=True, open_signup=True)
    where = "an embedded PostgreSQL in " + str(settings.data_dir) if settings.database_url is None else "DATABASE_URL"

    def announce() -> None:
        url = settings.local_url
        typer.echo(f"exchange demo: {url}  (API {url}/api/v1/markets, docs {url}/docs; data in {where})")

    raise typer.Exit(run(settings, announce))


def _key(secret: str | None) -> KeyPair | None:
    """The key of `--key` (or EXCHANGE_API_SECRET), if given."""
    from exchange.api.auth import KeyPair

    if secret is None:
        return None
    try:
        return KeyPair.from_secret(secret)
    except ValueError as error:
        _fail(f"--key: {error}")


def _signer(secret: str | None) -> KeyPair:
    """The key of `--key`, which the command needs."""
    key = _key(secret)
    if key is None:
        _fail("an API secret is needed: pass --key or set EXCHANGE_API_SECRET")
    return key


URL = typer.Option(
    None,
    "--url",
    help="The exchange to talk to [default: EXCHANGE_URL, else http://127.0.0.1:$PORT, PORT defaulting to 8000].",
    show_default=False,
)


def _url(url: str | None) -> str:
    """`--url`, else EXCHANGE_URL, else this machine's server at PORT (see the module docstring)."""
    return url or _settings().client_url


KEY = typer.Option(
    None, "--key", envvar="EXCHANGE_API_SECRET", help="Base64 ED25519 secret of the signing key.", show_default=False
)


MARKET = typer.Option(None, "--market", help="A market to trade (repeatable; default all).")


@app.command()
def bots(
    url: str | None = URL,
    key: str | None = typer.Option(
        None, "--key", envvar="EXCHANGE_API_SECRET", help="Market maker's secret (default: a new key, signed up)."
    ),
    taker_key: str | None = typer.Option(None, "--taker-key", help="Taker's secret (default: a new key, signed up)."),
    markets: list[str] | None = MARKET,
    levels: int = typer.Option(5, min=1, max=100, help="Quotes per side per market."),
    interval: float = typer.Option(2.0, min=0.05, help="Seconds between re-quotes."),
    taker_interval: float = typer.Option(3.0, min=0.05, help="Seconds between taker orders."),
    taker: bool = typer.Option(True, "--taker/--no-taker", help="Also run the taker."),
    faucet: bool = typer.Option(True, "--faucet/--no-faucet", help="Top up through the deposit route (demo)."),
    seed: int | None = typer.Option(None, help="Random seed (default: random)."),
) -> None:
    """Run the market maker and taker against a running exchange over signed REST, until Ctrl-C."""
    import asyncio
    import signal

    from exchange.bots.remote import RemoteBots, run_remote
    from exchange.observability import configure_logging

    configure_logging("INFO", "auto")
    spec = RemoteBots(
        url=_url(url),
        maker_key=_key(key),
        taker_key=_key(taker_key),
        markets=tuple(markets or ()),
        levels=levels,
        interval=interval,
        taker_interval=taker_interval,
        taker=taker,
        faucet=faucet,
        seed=seed,
    )

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        await run_remote(spec, stop)

    try:
        asyncio.run(run())
    except Exception as error:
        _fail(f"bots stopped: {error}")


# -- operating it: keys, accounts, deposits, listings ----------------------------------


def _reply(
    url: str | None,
    key: KeyPair,
    endpoint: Endpoint,
    params: dict[str, Any],
    *,
    new_key: KeyPair | None = None,
) -> Any:
    from exchange.remote import RemoteError, call

    try:
        return call(_url(url), key, endpoint, params, new_key=new_key)
    except RemoteError as error:
        _fail(str(error))


def _call(url: str | None, key: KeyPair, endpoint: Endpoint, params: dict[str, Any]) -> None:
    typer.echo(json.dumps(_reply(url, key, endpoint, params), indent=2))


def _read(message: type[M], **wire: str | None) -> M:
    """`message` of the arguments' text, read as the server will read it (BadParameter with its reason otherwise)."""
    from exchange.protocol.codes import ApiError

    try:
        return message.read(wire)
    except ApiError as error:
        raise typer.BadParameter(error.message) from None


@app.command()
def keygen() -> None:
    """Print a new ED25519 key pair (e.g. for EXCHANGE_ADMIN_PUBLIC_KEY and EXCHANGE_API_SECRET)."""
    from exchange.api.auth import KeyPair

    pair = KeyPair.generate()
    typer.echo(json.dumps({"publicKey": pair.public_key, "secret": pair.secret}, indent=2))


accounts = _group("accounts", "Accounts of a running exchange.")


@accounts.command("create")
def accounts_create(
    public_key: str | None = typer.Option(
        None, "--public-key", help="The account's key (default: --key's own, else a new one)."
    ),
    scopes: str = typer.Option("read,trade", help="Comma-separated scopes: read, trade, admin."),
    label: str | None = typer.Option(None, help="A note for the operator."),
    url: str | None = URL,
    key: str | None = KEY,
) -> None:
    """Open an account and print it (with the secret when the key was generated here).

    The account's key is --public-key (signed by the admin --key), else --key's own key
    (open sign-up, or the admin opening one for its own key), else a new key made here.
    """
    from exchange.api.auth import KeyPair
    from exchange.protocol import endpoints, requests

    given = _key(key)
    generated = KeyPair.generate() if given is None and public_key is None else None
    signer = given or generated
    if signer is None:
        _fail("--public-key needs the admin --key (open sign-up must be signed by the new key itself)")
    account = _read(requests.AccountRequest, publicKey=public_key or signer.public_key, scopes=scopes, label=label)
    reply = _reply(url, signer, endpoints.ACCOUNT_CREATE, account.params())
    secret = {"secret": generated.secret} if generated is not None else {}
    typer.echo(json.dumps({**reply, **secret}, indent=2))


keys = _group("keys", "API keys of one's own account on a running exchange.")


@keys.command("add")
def keys_add(
    scopes: str | None = typer.Option(
        None, help="Comma-separated scopes among the signing key's own, e.g. read (default: all of them but admin)."
    ),
    url: str | None = URL,
    key: str | None = KEY,
) -> None:
    """Generate a key pair, register it to the account of --key, and print it (the secret is shown only here)."""
    from exchange.api.auth import KeyPair
    from exchange.protocol import endpoints, requests

    pair = KeyPair.generate()
    params = _read(requests.KeyRequest, publicKey=pair.public_key, scopes=scopes).params()
    reply = _reply(url, _signer(key), endpoints.KEY_CREATE, params, new_key=pair)
    typer.echo(json.dumps({**reply, "secret": pair.secret}, indent=2))


@keys.command("list")
def keys_list(url: str | None = URL, key: str | None = KEY) -> None:
    """List the keys of the account of --key, revoked ones too, oldest first."""
    from exchange.protocol import endpoints

    _call(url, _signer(key), endpoints.KEY_QUERY_ALL, {})


@keys.command("revoke")
def keys_revoke(
    public_key: str = typer.Option(..., "--public-key", help="The key to revoke (of the same account as --key)."),
    url: str | None = URL,
    key: str | None = KEY,
) -> None:
    """Revoke a key of the account of --key (it may be --key itself); its next request is refused."""
    from exchange.protocol import endpoints, requests

    signer = _signer(key)
    _call(url, signer, endpoints.KEY_REVOKE, requests.KeyRef(public_key=public_key).params())


@app.command()
def deposit(
    symbol: str = typer.Argument(..., help="Asset, e.g. USDC."),
    quantity: str = typer.Argument(..., help="Amount, a decimal."),
    account_id: int | None = typer.Option(None, "--account-id", min=1, help="Credit this account (admin key only)."),
    transfer_id: str | None = typer.Option(None, "--transfer-id", help="Idempotency key (default: a new one)."),
    address: str | None = typer.Option(
        None, "--address", help="Credit the account whose deposit address this is (admin key only; needs --tx)."
    ),
    tx: str | None = typer.Option(None, "--tx", help="The chain transaction of a deposit by --address (its id)."),
    url: str | None = URL,
    key: str | None = KEY,
) -> None:
    """Credit an account: the operator's on-ramp (admin key), or the faucet for one's own account (demo).

    With --address and --tx the on-ramp credits by the account's deposit address, once per transaction.
    """
    from exchange.protocol import endpoints, requests

    transfer = _read(
        requests.DepositRequest,
        symbol=symbol,
        quantity=quantity,
        transferId=transfer_id,
        accountId=None if account_id is None else str(account_id),
        address=address,
        transactionHash=tx,
    )
    _call(url, _signer(key), endpoints.DEPOSIT, transfer.params())


withdrawals = _group("withdrawals", "Withdrawals waiting for the operator (admin key).")


@withdrawals.command("list")
def withdrawals_list(url: str | None = URL, key: str | None = KEY) -> None:
    """List the pending withdrawals, oldest first: what to send, where to."""
    from exchange.protocol import endpoints, requests

    _call(url, _signer(key), endpoints.WITHDRAWALS_PENDING, requests.PageQuery(limit=1000).params())


@withdrawals.command("confirm")
def withdrawals_confirm(
    number: int = typer.Argument(..., min=1, help="The withdrawal's id (as listed)."),
    tx: str | None = typer.Option(None, "--tx", help="The chain transaction that sent it."),
    url: str | None = URL,
    key: str | None = KEY,
) -> None:
    """Mark a pending withdrawal sent."""
    from exchange.protocol import endpoints, requests

    settlement = requests.Settlement(id=number, transaction_hash=tx)
    _call(url, _signer(key), endpoints.WITHDRAWAL_CONFIRM, settlement.params())


@withdrawals.command("fail")
def withdrawals_fail(
    number: int = typer.Argument(..., min=1, help="The withdrawal's id (as listed)."),
    url: str | None = URL,
    key: str | None = KEY,
) -> None:
    """Mark a pending withdrawal failed: its amount returns to the account's available balance."""
    from exchange.protocol import endpoints, requests

    _call(url, _signer(key), endpoints.WITHDRAWAL_FAIL, requests.Settlement(id=number).params())


assets = _group("assets", "Assets listed on a running exchange.")


@assets.command("add")
def assets_add(
    symbol: str = typer.Argument(..., help="Asset symbol, e.g. SOL."),
    decimals: int = typer.Option(..., min=0, max=36, help="Digits after the point of its smallest unit."),
    blockchains: str = typer.Option("Solana", help="Its networks, comma-separated, e.g. Solana,Ethereum."),
    url: str | None = URL,
    key: str | None = KEY,
) -> None:
    """List an asset (admin key)."""
    from exchange.protocol import endpoints, requests

    asset = _read(requests.AssetRequest, symbol=symbol, decimals=str(decimals), blockchains=blockchains)
    _call(url, _signer(key), endpoints.ASSET_CREATE, asset.params())


markets = _group("markets", "Markets listed on a running exchange.")


@markets.command("add")
def markets_add(
    base: str = typer.Argument(..., help="Base asset, e.g. SOL."),
    quote: str = typer.Argument(..., help="Quote asset, e.g. USDC."),
    tick_size: str = typer.Option(..., help="Price increment, e.g. 0.01."),
    step_size: str = typer.Option(..., help="Quantity increment, e.g. 0.01."),
    min_quantity: str | None = typer.Option(None, help="Smallest order quantity (default: the step size)."),
    maker_fee_bps: int = typer.Option(0, min=0, max=9_999, help="Maker fee in basis points."),
    taker_fee_bps: int = typer.Option(0, min=0, max=9_999, help="Taker fee in basis points."),
    symbol: str | None = typer.Option(None, help="Market symbol (default BASE_QUOTE)."),
    min_multiplier: str | None = typer.Option(
        None, help="Price band: the lowest limit price as a multiple of the last trade price, e.g. 0.8."
    ),
    max_multiplier: str | None = typer.Option(
        None, help="Price band: the highest limit price as a multiple of the last trade price, e.g. 1.25."
    ),
    url: str | None = URL,
    key: str | None = KEY,
) -> None:
    """List a spot market of two listed assets (admin key); a price band needs both multipliers."""
    from exchange.protocol import endpoints, requests

    listing = _read(
        requests.MarketRequest,
        symbol=symbol,
        baseSymbol=base,
        quoteSymbol=quote,
        tickSize=tick_size,
        stepSize=step_size,
        minQuantity=min_quantity or step_size,
        makerFeeBps=str(maker_fee_bps),
        takerFeeBps=str(taker_fee_bps),
        minMultiplier=min_multiplier,
        maxMultiplier=max_multiplier,
    )
    _call(url, _signer(key), endpoints.MARKET_CREATE, listing.params())


def main() -> None:
    """Entry point of the console script."""
    app()
