// The page's composition root: picks the market from the URL (/trade/<SYMBOL>, or the first
// market at /), opens the websocket, and mounts one widget per panel.
//
// Every widget has `refresh()`, a full re-read over REST. It runs at start, whenever the
// websocket (re)opens (messages may have been missed while it was down), and every few seconds
// while the websocket is down, so the page keeps working, just less promptly, without it
// (then also right after the user's own orders change, so the book shows them at once).

import { Stream, get, streamUrl } from "./client.js";
import { mountAccount } from "./account.js";
import { mountChart } from "./chart.js";
import { mountConnection } from "./connection.js";
import * as api from "./endpoints.js";
import { mountMarkets } from "./markets.js";
import { mountOrderBook } from "./orderbook.js";
import { mountOrderForm } from "./orderform.js";
import { mountTicker } from "./ticker.js";
import { mountTrades } from "./trades.js";
import { h, toast } from "./ui.js";

const POLL_MS = 3000;
const $ = (id) => document.getElementById(id);

function symbolFromPath() {
  const match = /^\/trade\/([^/]+)\/?$/.exec(location.pathname);
  return match ? decodeURIComponent(match[1]).toUpperCase() : null;
}

async function start() {
  const widgets = [];
  const refreshAll = () =>
    Promise.all(widgets.map((w) => w.refresh().catch((error) => console.warn("refresh failed:", error.message))));
  const showState = mountConnection($("connection"));
  const stream = new Stream(streamUrl(), (state, retryMs) => {
    showState(state, retryMs);
    if (state === "open") refreshAll();
  });

  const markets = (await get(api.MARKETS)).filter((m) => m.visible !== false);
  if (!markets.length) {
    $("ticker").replaceChildren(h("span", { class: "muted" }, "No markets are listed yet."));
    return;
  }
  const wanted = symbolFromPath();
  const market = markets.find((m) => m.symbol === wanted) ?? markets[0];
  if (wanted && market.symbol !== wanted) toast(`Unknown market ${wanted}; showing ${market.symbol}`, { error: true });
  document.title = `${market.baseSymbol}/${market.quoteSymbol} · Exchange`;
  document.body.dataset.symbol = market.symbol;

  const ctx = { stream, markets, market, events: new EventTarget() };
  const account = mountAccount($("account"), $("session"), ctx);
  widgets.push(
    mountMarkets($("markets"), ctx),
    mountTicker($("ticker"), ctx),
    mountChart($("candles"), $("intervals"), ctx),
    mountOrderBook($("orderbook"), $("depth"), $("book-state"), ctx),
    mountTrades($("trades"), ctx),
    account,
  );
  mountOrderForm($("orderform"), ctx, account);
  ctx.events.addEventListener("orders-changed", () => {
    if (!stream.open) refreshAll();
  });
  await account.init();
  await refreshAll();
  document.body.dataset.ready = "true";
  setInterval(() => {
    if (!stream.open) refreshAll();
  }, POLL_MS);
}

start().catch((error) => {
  toast(`The exchange did not answer: ${error.message}`, { error: true });
  $("connection").dataset.state = "closed";
});
