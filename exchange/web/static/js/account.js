// The signed-in part of the page: demo sign-up, and the open orders / order history / fills /
// balances tabs, kept live from the private streams.
//
// Sign-up: the browser makes an Ed25519 key pair (client.js `Identity`), opens an account with
// it through the project's own route POST /exchange/v1/accounts (instruction accountCreate,
// signed by the new key itself, which the server accepts in demo mode), then takes faucet funds
// through POST /exchange/v1/capital/deposit (instruction deposit). The faucet's transferIds are
// fixed per asset at sign-up, so a retried sign-up never pays twice.
//
// Live updates: `account.orderUpdate` and `account.balanceUpdate` messages say that something
// changed; the tabs then re-read their REST endpoints (debounced), so what is shown is always
// the server's committed state rather than a client-side reconstruction.

import { ApiError, Identity, get, signed } from "./client.js";
import { fixed, grouped, multiply, places } from "./decimal.js";
import * as api from "./endpoints.js";
import { clock, debounce, h, toast } from "./ui.js";

const QUOTE_GRANT = 10000; // FAUCET_GRANT of exchange/demo.py, which the market maker sizes its quotes by
const TABS = ["Open orders", "Order history", "Fills", "Balances"];
const ORDER_COLUMNS = [["Time"], ["Market"], ["Side"], ["Type"], ["Price", 1], ["Quantity", 1], ["Filled", 1], ["Status"]];

function side(value) {
  return h("span", { class: value === "Bid" ? "buy" : "sell" }, value === "Bid" ? "Buy" : "Sell");
}

function naiveUtc(text) {
  return Date.parse(text.endsWith("Z") ? text : `${text}Z`);
}

function table(columns, rows, emptyText) {
  if (!rows.length) return h("div", { class: "empty" }, emptyText);
  return h(
    "div",
    { class: "table-wrap" },
    h(
      "table",
      {},
      h("thead", {}, h("tr", {}, columns.map(([label, num]) => h("th", { class: num ? "num" : null }, label)))),
      h(
        "tbody",
        {},
        rows.map((cells) =>
          h("tr", {}, cells.map((cell, i) => h("td", { class: columns[i][1] ? "num" : null, "data-label": columns[i][0] }, cell))),
        ),
      ),
    ),
  );
}

export function mountAccount(element, sessionBox, { stream, markets, events }) {
  const bySymbol = new Map(markets.map((m) => [m.symbol, m]));
  let identity = null;
  let tab = TABS[0];
  const data = { open: [], history: [], fills: [], balances: {} };
  const body = h("div", { class: "tab-body" });
  const tabBar = h("div", { class: "tabs", role: "tablist" });
  element.replaceChildren(tabBar, body);

  const digits = (symbol, kind) => {
    const m = bySymbol.get(symbol);
    return m ? places(kind === "price" ? m.filters.price.tickSize : m.filters.quantity.stepSize) : 8;
  };
  const price = (symbol, value) => (value === null ? "Market" : grouped(fixed(value, digits(symbol, "price"))));
  const qty = (symbol, value) => (value === null ? "—" : fixed(value, digits(symbol, "qty")));
  const pair = (symbol) => {
    const m = bySymbol.get(symbol);
    return m ? `${m.baseSymbol}/${m.quoteSymbol}` : symbol;
  };
  const orderCells = (o, createdAt) => [
    clock(createdAt),
    pair(o.symbol),
    side(o.side),
    o.orderType,
    price(o.symbol, o.price),
    qty(o.symbol, o.quantity),
    qty(o.symbol, o.executedQuantity),
    o.status,
  ];

  async function call(endpoint, params) {
    try {
      return await signed(identity, endpoint, params);
    } catch (error) {
      if (error instanceof ApiError && error.status === 401 && /unknown|revoked/i.test(error.message)) {
        Identity.forget();
        identity = null;
        renderSession();
        render();
      }
      throw error;
    }
  }

  async function grant(tag) {
    const tickers = new Map((await get(api.TICKERS)).map((t) => [t.symbol, t]));
    const assets = new Map((await get(api.ASSETS)).map((a) => [a.symbol, a]));
    const amounts = new Map();
    for (const m of markets) amounts.set(m.quoteSymbol, String(QUOTE_GRANT));
    for (const m of markets) {
      if (amounts.has(m.baseSymbol)) continue;
      const last = Number(tickers.get(m.symbol)?.lastPrice);
      const decimals = Math.min(assets.get(m.baseSymbol)?.tokens?.[0]?.nativeDecimals ?? 4, 6);
      amounts.set(m.baseSymbol, last > 0 ? ((QUOTE_GRANT / 2) / last).toFixed(decimals) : "10");
    }
    for (const [symbol, quantity] of amounts) {
      await call(api.DEPOSIT, { symbol, quantity, transferId: `${tag}-${symbol}` });
    }
  }

  async function signUp(button) {
    button.disabled = true;
    try {
      const fresh = await Identity.generate();
      const reply = await signed(fresh, api.ACCOUNT_CREATE, {
        label: "web demo",
        publicKey: fresh.publicKey,
      });
      fresh.accountId = reply.accountId;
      await fresh.save();
      identity = fresh;
      await grant("signup");
      toast("Demo account ready: funds deposited");
      start();
    } catch (error) {
      toast(`Sign-up failed: ${error.message}`, { error: true });
      button.disabled = false;
    }
  }

  async function topUp(button) {
    button.disabled = true;
    try {
      await grant(`faucet-${Date.now()}`);
      toast("Faucet: funds deposited");
      refresh();
    } catch (error) {
      toast(`Faucet failed: ${error.message}`, { error: true });
    } finally {
      button.disabled = false;
    }
  }

  function renderSession() {
    if (!identity) {
      const button = h("button", { class: "button primary", type: "button", "data-testid": "signup" }, "Try the demo");
      button.addEventListener("click", () => signUp(button));
      sessionBox.replaceChildren(button);
      return;
    }
    const faucet = h("button", { class: "button", type: "button", "data-testid": "faucet" }, "Get funds");
    faucet.addEventListener("click", () => topUp(faucet));
    const signOut = h("button", { class: "button", type: "button", title: "Forget this browser's key" }, "Sign out");
    signOut.addEventListener("click", () => {
      if (!confirm("Forget this browser's key? The demo account cannot be recovered without it.")) return;
      Identity.forget();
      location.reload();
    });
    sessionBox.replaceChildren(
      h("span", { class: "muted", "data-testid": "account-id", title: identity.publicKey }, `Account #${identity.accountId}`),
      faucet,
      signOut,
    );
  }

  function cancel(order) {
    call(api.ORDER_CANCEL, { orderId: order.id, symbol: order.symbol })
      .then(() => {
        toast("Order cancelled");
        changed();
      })
      .catch((error) => toast(`Cancel failed: ${error.message}`, { error: true }));
  }

  function cancelAll() {
    const symbols = [...new Set(data.open.map((o) => o.symbol))];
    Promise.all(symbols.map((symbol) => call(api.ORDERS_CANCEL, { symbol })))
      .then(() => {
        toast("All orders cancelled");
        changed();
      })
      .catch((error) => toast(`Cancel failed: ${error.message}`, { error: true }));
  }

  function renderTabs() {
    const buttons = TABS.map((name) =>
      h(
        "button",
        {
          type: "button",
          role: "tab",
          "aria-selected": String(name === tab),
          "data-tab": name,
          onclick: () => {
            tab = name;
            render();
          },
        },
        name === TABS[0] && identity ? `${name} (${data.open.length})` : name,
      ),
    );
    const extra =
      tab === TABS[0] && data.open.length
        ? h("button", { class: "button small", type: "button", "data-testid": "cancel-all", onclick: cancelAll }, "Cancel all")
        : null;
    tabBar.replaceChildren(...buttons, h("span", { class: "spacer" }), ...(extra ? [extra] : []));
  }

  function renderBody() {
    if (!identity) {
      const button = h("button", { class: "button primary", type: "button" }, "Try the demo");
      button.addEventListener("click", () => signUp(button));
      body.replaceChildren(
        h(
          "div",
          { class: "signup" },
          button,
          h("span", { class: "muted" }, "Creates a key in this browser, opens a demo account and funds it."),
          window.isSecureContext
            ? null
            : h(
                "span",
                { class: "muted notice", "data-testid": "insecure-notice" },
                "This page came over plain HTTP: the key never leaves this browser, but anyone on the network " +
                  "could alter the page. Fine for a demo; serve it over HTTPS for anything real.",
              ),
        ),
      );
      return;
    }
    if (tab === "Open orders") {
      body.replaceChildren(
        table(
          [...ORDER_COLUMNS, [""]],
          data.open.map((o) => [
            ...orderCells(o, o.createdAt),
            h("button", { class: "button small", type: "button", "data-order-id": o.id, onclick: () => cancel(o) }, "Cancel"),
          ]),
          "No open orders",
        ),
      );
    } else if (tab === "Order history") {
      body.replaceChildren(
        table(
          ORDER_COLUMNS,
          data.history.map((o) => orderCells(o, naiveUtc(o.createdAt))),
          "No orders yet",
        ),
      );
    } else if (tab === "Fills") {
      body.replaceChildren(
        table(
          [["Time"], ["Market"], ["Side"], ["Price", 1], ["Quantity", 1], ["Total", 1], ["Fee", 1], ["Role"]],
          data.fills.map((f) => [
            clock(naiveUtc(f.timestamp)),
            pair(f.symbol),
            side(f.side),
            price(f.symbol, f.price),
            qty(f.symbol, f.quantity),
            grouped(multiply(f.price, f.quantity)),
            `${f.fee} ${f.feeSymbol}`,
            f.isMaker ? "Maker" : "Taker",
          ]),
          "No fills yet",
        ),
      );
    } else {
      const rows = Object.entries(data.balances).sort(([a], [b]) => a.localeCompare(b));
      body.replaceChildren(
        table(
          [["Asset"], ["Available", 1], ["In orders", 1]],
          rows.map(([asset, b]) => [h("b", {}, asset), grouped(b.available), grouped(b.locked)]),
          "No balances",
        ),
      );
    }
  }

  function render() {
    renderTabs();
    renderBody();
  }

  async function refresh() {
    if (!identity) return;
    const [open, history, fills, balances] = await Promise.all([
      call(api.ORDERS_QUERY, {}),
      call(api.ORDER_HISTORY, { limit: 50 }),
      call(api.FILL_HISTORY, { limit: 50 }),
      call(api.BALANCES, {}),
    ]);
    Object.assign(data, { open: open.sort((a, b) => b.createdAt - a.createdAt), history, fills, balances });
    events.dispatchEvent(new CustomEvent("balances", { detail: balances }));
    events.dispatchEvent(new CustomEvent("open-orders", { detail: open }));
    render();
  }

  const refreshSoon = debounce(() => refresh().catch(() => {}), 150);
  const changed = () => events.dispatchEvent(new CustomEvent("orders-changed"));

  function start() {
    renderSession();
    stream.setIdentity(identity);
    stream.subscribe("account.orderUpdate", refreshSoon, { isPrivate: true });
    stream.subscribe("account.balanceUpdate", refreshSoon, { isPrivate: true });
    events.dispatchEvent(new CustomEvent("identity", { detail: identity }));
    refresh().catch((error) => toast(`Could not load the account: ${error.message}`, { error: true }));
  }

  async function init() {
    identity = await Identity.load();
    render();
    if (identity) start();
    else renderSession();
  }

  events.addEventListener("orders-changed", refreshSoon);
  return { init, refresh, call, identity: () => identity };
}
