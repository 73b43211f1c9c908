// The markets list: every market with its last price and 24h change; a row links to /trade/<SYMBOL>.
// Loaded from /api/v1/tickers and kept live from `ticker.<symbol>` of every listed market.

import { get } from "./client.js";
import { fixed, grouped, places } from "./decimal.js";
import * as api from "./endpoints.js";
import { h, percent, tone } from "./ui.js";

export function mountMarkets(element, { stream, markets, market: current }) {
  const rows = new Map();

  function row(market) {
    const price = h("span", { class: "price num" }, "—");
    const change = h("span", { class: "change num muted" }, "");
    const link = h(
      "a",
      {
        class: market.symbol === current.symbol ? "market-row active" : "market-row",
        href: `/trade/${encodeURIComponent(market.symbol)}`,
        "data-symbol": market.symbol,
      },
      h("span", { class: "name" }, `${market.baseSymbol}/${market.quoteSymbol}`),
      price,
      h("span", { class: "vol" }, market.orderBookState === "Open" ? "" : market.orderBookState),
      change,
    );
    const digits = places(market.filters.price.tickSize);
    rows.set(market.symbol, (first, last) => {
      const opened = Number(first);
      const fraction = opened > 0 ? (Number(last) - opened) / opened : 0;
      price.textContent = Number(last) > 0 ? grouped(fixed(last, digits)) : "—";
      change.textContent = percent(fraction);
      change.className = `change num ${tone(fraction)}`;
    });
    return link;
  }

  element.replaceChildren(...markets.map(row));

  async function refresh() {
    for (const t of await get(api.TICKERS)) rows.get(t.symbol)?.(t.firstPrice, t.lastPrice);
  }

  for (const market of markets) stream.subscribe(`ticker.${market.symbol}`, (d) => rows.get(d.s)?.(d.o, d.c));
  return { refresh };
}
