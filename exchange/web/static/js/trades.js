// Recent trades of the open market, newest first, coloured by the taker's side.
// Loaded from /api/v1/trades (timestamp in ms), then live from `trade.<symbol>` (T in µs).
// `isBuyerMaker` / `m` true means the taker sold: the trade is shown as a sell.

import { get } from "./client.js";
import { fixed, grouped, places } from "./decimal.js";
import * as api from "./endpoints.js";
import { clock, h } from "./ui.js";

const KEEP = 60;

export function mountTrades(element, { stream, market }) {
  const priceDigits = places(market.filters.price.tickSize);
  const qtyDigits = places(market.filters.quantity.stepSize);
  const list = h("div", { class: "trade-list", "data-testid": "trade-list" });
  const head = h("div", { class: "trade-row muted" }, h("span", {}, "Price"), h("span", {}, "Size"), h("span", {}, "Time"));
  element.replaceChildren(head, list);
  let lastId = -1;

  function row(id, price, quantity, sell, ms, flash) {
    return h(
      "div",
      { class: flash ? "trade-row flash" : "trade-row", "data-id": id },
      h("span", { class: sell ? "sell" : "buy" }, grouped(fixed(price, priceDigits))),
      h("span", {}, fixed(quantity, qtyDigits)),
      h("span", {}, clock(ms)),
    );
  }

  function showEmpty() {
    if (!list.children.length) list.append(h("div", { class: "empty" }, "No trades yet"));
  }

  async function refresh() {
    const trades = await get(api.TRADES, { symbol: market.symbol, limit: KEEP });
    list.replaceChildren(...trades.map((t) => row(t.id, t.price, t.quantity, t.isBuyerMaker, t.timestamp, false)));
    lastId = trades.length ? Math.max(...trades.map((t) => Number(t.id))) : lastId;
    showEmpty();
  }

  stream.subscribe(`trade.${market.symbol}`, (t) => {
    if (Number(t.t) <= lastId) return;
    lastId = Number(t.t);
    list.querySelector(".empty")?.remove();
    list.prepend(row(t.t, t.p, t.q, t.m, Number(t.T) / 1000, true));
    while (list.children.length > KEEP) list.lastChild.remove();
  });
  return { refresh };
}
