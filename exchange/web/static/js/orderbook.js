// The order book (bids and asks with cumulative size bars and the spread) and the depth chart.
//
// Keeping a local copy in sync (`LocalBook`), Binance's recipe with Backpack's fields:
//  1. while a REST snapshot (/api/v1/depth, `lastUpdateId`) is being fetched, `depth.<symbol>`
//     diffs are buffered;
//  2. then buffered diffs with u <= lastUpdateId are dropped and the rest are applied;
//  3. every diff must continue the sequence: U == previous u + 1 (the first may straddle the
//     snapshot: U <= lastUpdateId + 1 <= u). A gap means a diff was lost: fetch a new snapshot.
// Quantities are absolute; "0" removes a level. Prices are keyed by their canonical text
// (tick decimals), since the REST and stream spellings of one price may differ ("86700" vs "86700.0").

import { get } from "./client.js";
import { compare, fixed, grouped, places, subtract } from "./decimal.js";
import * as api from "./endpoints.js";
import { fitCanvas, h, palette } from "./ui.js";

const ROWS = 12;

export class LocalBook {
  constructor(symbol, priceDigits, onChange) {
    this.symbol = symbol;
    this.priceDigits = priceDigits;
    this.onChange = onChange;
    this.bids = new Map();
    this.asks = new Map();
    this.last = null;
    this.buffer = null;
    this.syncing = null;
  }

  /** A `depth` stream message. */
  handle(diff) {
    if (this.buffer !== null) this.buffer.push(diff);
    else if (this.last !== null) this.apply(diff);
  }

  apply(diff) {
    const first = Number(diff.U);
    const last = Number(diff.u);
    if (last <= this.last) return true;
    if (first > this.last + 1) {
      this.resync();
      return false;
    }
    this.set(this.bids, diff.b);
    this.set(this.asks, diff.a);
    this.last = last;
    this.onChange();
    return true;
  }

  set(side, levels) {
    for (const [price, quantity] of levels) {
      const key = fixed(price, this.priceDigits);
      if (compare(quantity, "0") === 0) side.delete(key);
      else side.set(key, quantity);
    }
  }

  /** Replace the book by a fresh snapshot and replay what streamed meanwhile (one at a time). */
  resync() {
    this.syncing ??= this.load().finally(() => {
      this.syncing = null;
    });
    return this.syncing;
  }

  async load() {
    this.buffer = [];
    try {
      const snapshot = await get(api.DEPTH, { symbol: this.symbol, limit: 1000 });
      this.bids = new Map();
      this.asks = new Map();
      this.set(this.bids, snapshot.bids);
      this.set(this.asks, snapshot.asks);
      this.last = Number(snapshot.lastUpdateId);
      const buffered = this.buffer;
      this.buffer = null;
      for (const diff of buffered) if (!this.apply(diff)) return;
      this.onChange();
    } catch (error) {
      this.buffer = null;
      throw error;
    }
  }

  /** [[price, quantity], ...] best first. */
  levels(side) {
    const sign = side === this.bids ? -1 : 1;
    return [...side.entries()].sort((a, b) => sign * compare(a[0], b[0]));
  }
}

export function mountOrderBook(element, depthCanvas, stateLabel, { stream, market, events }) {
  const priceDigits = places(market.filters.price.tickSize);
  const qtyDigits = places(market.filters.quantity.stepSize);
  const colours = palette();
  let mine = new Set();
  let scheduled = false;

  const book = new LocalBook(market.symbol, priceDigits, () => {
    if (scheduled) return;
    scheduled = true;
    requestAnimationFrame(() => {
      scheduled = false;
      render();
    });
  });

  function rows(levels, kind) {
    let total = 0;
    const cumulative = levels.map(([, q]) => (total += Number(q)));
    return { cumulative, total, kind, levels };
  }

  function row(kind, [price, quantity], cumulative, maxTotal) {
    return h(
      "div",
      {
        class: `book-row ${kind}${mine.has(price) ? " mine" : ""}`,
        "data-price": price,
        title: "Click to use this price",
        onclick: () => events.dispatchEvent(new CustomEvent("pick-price", { detail: price })),
      },
      h("span", { class: kind === "ask" ? "sell" : "buy" }, grouped(price)),
      h("span", {}, fixed(quantity, qtyDigits)),
      h("span", { class: "muted" }, cumulative.toFixed(qtyDigits)),
      h("span", { class: "bar", style: `width:${((cumulative / maxTotal) * 100).toFixed(1)}%` }),
    );
  }

  function render() {
    const asks = rows(book.levels(book.asks).slice(0, ROWS), "ask");
    const bids = rows(book.levels(book.bids).slice(0, ROWS), "bid");
    const maxTotal = Math.max(asks.total, bids.total) || 1;
    element.dataset.sequence = String(book.last);
    const bestAsk = asks.levels[0]?.[0];
    const bestBid = bids.levels[0]?.[0];
    let spread = "—";
    if (bestAsk && bestBid) {
      const gap = subtract(bestAsk, bestBid);
      spread = `${fixed(gap, priceDigits)} (${((Number(gap) / Number(bestAsk)) * 100).toFixed(3)}%)`;
    }
    const askRows = asks.levels.map((level, i) => row("ask", level, asks.cumulative[i], maxTotal)).reverse();
    const bidRows = bids.levels.map((level, i) => row("bid", level, bids.cumulative[i], maxTotal));
    element.replaceChildren(
      h(
        "div",
        { class: "book-table" },
        h(
          "div",
          { class: "book-head" },
          h("span", { title: `Price in ${market.quoteSymbol}` }, "Price"),
          h("span", { title: `Size in ${market.baseSymbol}` }, "Size"),
          h("span", {}, "Total"),
        ),
        h("div", { "data-testid": "asks" }, askRows.length ? askRows : h("div", { class: "book-empty" }, "No asks")),
        h("div", { class: "book-spread muted" }, `Spread ${spread}`),
        h("div", { "data-testid": "bids" }, bidRows.length ? bidRows : h("div", { class: "book-empty" }, "No bids")),
      ),
    );
    drawDepth();
  }

  function drawDepth() {
    const { context: g, width, height } = fitCanvas(depthCanvas);
    const bids = book.levels(book.bids).slice(0, 50).map(([p, q]) => [Number(p), Number(q)]);
    const asks = book.levels(book.asks).slice(0, 50).map(([p, q]) => [Number(p), Number(q)]);
    if (!bids.length && !asks.length) return;
    const mid = bids.length && asks.length ? (bids[0][0] + asks[0][0]) / 2 : (bids[0] ?? asks[0])[0];
    const reach = Math.max(...[...bids, ...asks].map(([p]) => Math.abs(p - mid))) || mid * 0.01 || 1;
    const x = (price) => ((price - (mid - reach)) / (2 * reach)) * width;
    const sum = (side) => side.reduce((total, [, q]) => total + q, 0);
    const maxTotal = Math.max(sum(bids), sum(asks)) || 1;
    const y = (total) => height - 14 - (total / maxTotal) * (height - 20);

    function area(side, colour, edge) {
      if (!side.length) return;
      g.beginPath();
      g.moveTo(x(side[0][0]), y(0));
      let total = 0;
      for (const [price, quantity] of side) {
        g.lineTo(x(price), y(total));
        total += quantity;
        g.lineTo(x(price), y(total));
      }
      g.lineTo(edge, y(total));
      g.lineTo(edge, y(0));
      g.closePath();
      g.globalAlpha = 0.25;
      g.fillStyle = colour;
      g.fill();
      g.globalAlpha = 1;
      g.strokeStyle = colour;
      g.stroke();
    }

    area(bids, colours.buy, 0);
    area(asks, colours.sell, width);
    g.fillStyle = colours.muted;
    g.font = `10px ${colours.mono}`;
    g.textBaseline = "bottom";
    g.textAlign = "left";
    g.fillText((mid - reach).toFixed(priceDigits), 2, height);
    g.textAlign = "center";
    g.fillText(mid.toFixed(priceDigits), width / 2, height);
    g.textAlign = "right";
    g.fillText((mid + reach).toFixed(priceDigits), width - 2, height);
  }

  events.addEventListener("open-orders", (event) => {
    mine = new Set(event.detail.filter((o) => o.symbol === market.symbol).map((o) => fixed(o.price, priceDigits)));
    render();
  });
  new ResizeObserver(drawDepth).observe(depthCanvas);
  stream.subscribe(`depth.${market.symbol}`, (diff) => book.handle(diff));

  async function refresh() {
    stateLabel.textContent = "syncing…";
    await book.resync();
    stateLabel.textContent = "";
  }

  return { refresh, book };
}
