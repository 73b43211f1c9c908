// The ticker bar: last price, 24h change, high, low and volume of the open market.
// Loaded from /api/v1/ticker, then live from `ticker.<symbol>` (o, c, h, l, v, V).

import { get } from "./client.js";
import { fixed, grouped, places } from "./decimal.js";
import * as api from "./endpoints.js";
import { h, percent, tone } from "./ui.js";

export function mountTicker(element, { stream, market }) {
  const priceDigits = places(market.filters.price.tickSize);
  const qtyDigits = places(market.filters.quantity.stepSize);

  function render(first, last, high, low, volume, quoteVolume) {
    const opened = Number(first);
    const change = opened > 0 ? (Number(last) - opened) / opened : 0;
    const colour = tone(change);
    const stat = (label, value, optional = false) =>
      h("div", { class: optional ? "stat optional" : "stat" }, h("span", {}, label), h("span", { class: "num" }, value));
    element.replaceChildren(
      h("span", { class: "symbol" }, `${market.baseSymbol}/${market.quoteSymbol}`),
      h("span", { class: `last num ${colour}`, "data-testid": "last-price" }, grouped(fixed(last, priceDigits))),
      stat("24h change", h("span", { class: colour }, percent(change))),
      stat("24h high", grouped(fixed(high, priceDigits)), true),
      stat("24h low", grouped(fixed(low, priceDigits)), true),
      stat(`24h vol (${market.baseSymbol})`, grouped(fixed(volume, qtyDigits)), true),
      stat(`24h vol (${market.quoteSymbol})`, grouped(fixed(quoteVolume, 2)), true),
    );
  }

  async function refresh() {
    const t = await get(api.TICKER, { symbol: market.symbol });
    render(t.firstPrice, t.lastPrice, t.high, t.low, t.volume, t.quoteVolume);
  }

  stream.subscribe(`ticker.${market.symbol}`, (d) => render(d.o, d.c, d.h, d.l, d.v, d.V));
  return { refresh };
}
