// The candlestick chart with volume, drawn on a canvas, and its interval switcher.
//
// Candles come from /api/v1/klines (startTime/endTime in seconds; `start` is "YYYY-MM-DD HH:MM:SS"
// UTC) and are updated live from `kline.<interval>.<symbol>` (`t` is the start, ISO without zone).
// Candles are placed by time, not by index: the rightmost slot is the current period, so a quiet
// market shows gaps rather than squeezing hours together. Prices become floats only here, for pixels.

import { get } from "./client.js";
import { fixed, places } from "./decimal.js";
import * as api from "./endpoints.js";
import { fitCanvas, h, palette } from "./ui.js";

const INTERVALS = { "1m": 60, "5m": 300, "15m": 900, "1h": 3600, "1d": 86400 };
const SLOT_PX = 9;
const AXIS_PX = 64;
const TIME_AXIS_PX = 18;
const LEGEND_PX = 22;
const HISTORY = 240;

function parseUtc(text) {
  return Date.parse(text.replace(" ", "T") + "Z");
}

function candle(start, open, high, low, close, volume) {
  return { t: start, o: Number(open), h: Number(high), l: Number(low), c: Number(close), v: Number(volume) };
}

export function mountChart(canvas, switcher, { stream, market }) {
  const digits = places(market.filters.price.tickSize);
  const colours = palette();
  let interval = localStorage.getItem("exchange.interval") || "5m";
  if (!(interval in INTERVALS)) interval = "5m";
  let candles = new Map();
  let unsubscribe = null;
  let hover = null;

  const buttons = Object.keys(INTERVALS).map((name) =>
    h("button", { type: "button", "data-interval": name, onclick: () => choose(name) }, name),
  );
  switcher.replaceChildren(...buttons);

  function label(value) {
    return fixed(value.toFixed(Math.min(digits, 8)), digits);
  }

  function timeLabel(ms) {
    const date = new Date(ms);
    if (INTERVALS[interval] >= 86400) return date.toLocaleDateString([], { month: "short", day: "numeric" });
    return date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", hour12: false });
  }

  function draw() {
    const { context: g, width, height } = fitCanvas(canvas);
    const step = INTERVALS[interval] * 1000;
    const plotW = Math.max(0, width - AXIS_PX);
    const plotH = height - TIME_AXIS_PX;
    const slots = Math.max(1, Math.floor(plotW / SLOT_PX));
    const lastSlot = Math.floor(Date.now() / step) * step;
    const firstSlot = lastSlot - (slots - 1) * step;
    const visible = [...candles.values()].filter((c) => c.t >= firstSlot && c.t <= lastSlot);
    const x = (t) => (slots - 1 - (lastSlot - t) / step) * SLOT_PX + SLOT_PX / 2;
    g.font = `11px ${colours.mono}`;
    g.textBaseline = "middle";

    if (visible.length === 0) {
      g.fillStyle = colours.muted;
      g.textAlign = "center";
      g.fillText("No trades in this period yet", plotW / 2, plotH / 2);
      return;
    }

    let low = Math.min(...visible.map((c) => c.l));
    let high = Math.max(...visible.map((c) => c.h));
    const pad = (high - low) * 0.08 || high * 0.01 || 1;
    low -= pad;
    high += pad;
    const top = LEGEND_PX;
    const priceH = plotH * 0.78 - top;
    const y = (price) => top + ((high - price) / (high - low)) * priceH;
    const maxVolume = Math.max(...visible.map((c) => c.v)) || 1;
    const volumeTop = top + priceH + 6;
    const volumeH = plotH - volumeTop;

    g.strokeStyle = colours.line;
    g.lineWidth = 1;
    g.fillStyle = colours.muted;
    g.textAlign = "left";
    for (let i = 0; i <= 4; i += 1) {
      const price = high - ((high - low) * i) / 4;
      const py = Math.round(y(price)) + 0.5;
      g.beginPath();
      g.moveTo(0, py);
      g.lineTo(plotW, py);
      g.stroke();
      g.fillText(label(price), plotW + 6, py);
    }
    g.textAlign = "center";
    const every = Math.max(1, Math.round(90 / SLOT_PX));
    for (let i = slots - 1; i >= 0; i -= every) {
      const t = firstSlot + i * step;
      g.fillText(timeLabel(t), x(t), plotH + TIME_AXIS_PX / 2);
    }

    const body = Math.max(1, SLOT_PX - 3);
    for (const c of visible) {
      const colour = c.c >= c.o ? colours.buy : colours.sell;
      const cx = Math.round(x(c.t)) + 0.5;
      g.strokeStyle = colour;
      g.fillStyle = colour;
      g.beginPath();
      g.moveTo(cx, y(c.h));
      g.lineTo(cx, y(c.l));
      g.stroke();
      const bodyTop = y(Math.max(c.o, c.c));
      g.fillRect(cx - body / 2, bodyTop, body, Math.max(1, y(Math.min(c.o, c.c)) - bodyTop));
      g.globalAlpha = 0.35;
      const vh = (c.v / maxVolume) * volumeH;
      g.fillRect(cx - body / 2, volumeTop + volumeH - vh, body, vh);
      g.globalAlpha = 1;
    }

    const latest = visible[visible.length - 1];
    const ly = Math.round(y(latest.c)) + 0.5;
    const tone = latest.c >= latest.o ? colours.buy : colours.sell;
    g.setLineDash([3, 3]);
    g.strokeStyle = tone;
    g.beginPath();
    g.moveTo(0, ly);
    g.lineTo(plotW, ly);
    g.stroke();
    g.setLineDash([]);
    g.fillStyle = tone;
    g.fillRect(plotW + 1, ly - 8, AXIS_PX - 1, 16);
    g.fillStyle = "#fff";
    g.textAlign = "left";
    g.fillText(label(latest.c), plotW + 6, ly);

    const shown = hover ?? latest;
    g.fillStyle = colours.muted;
    g.textAlign = "left";
    g.fillText(
      `${timeLabel(shown.t)}  O ${label(shown.o)}  H ${label(shown.h)}  L ${label(shown.l)}  C ${label(shown.c)}  V ${shown.v}`,
      4,
      10,
    );
  }

  canvas.addEventListener("mousemove", (event) => {
    const step = INTERVALS[interval] * 1000;
    const slots = Math.max(1, Math.floor((canvas.clientWidth - AXIS_PX) / SLOT_PX));
    const slot = Math.floor(event.offsetX / SLOT_PX);
    const t = Math.floor(Date.now() / step) * step - (slots - 1 - slot) * step;
    hover = candles.get(t) ?? null;
    draw();
  });
  canvas.addEventListener("mouseleave", () => {
    hover = null;
    draw();
  });
  new ResizeObserver(draw).observe(canvas);

  async function refresh() {
    const chosen = interval;
    const seconds = INTERVALS[chosen];
    const now = Math.floor(Date.now() / 1000);
    const rows = await get(api.KLINES, {
      symbol: market.symbol,
      interval: chosen,
      startTime: now - seconds * HISTORY,
      endTime: now + seconds,
    });
    if (chosen !== interval) return;
    candles = new Map();
    for (const k of rows.filter((row) => row.open !== null && row.open !== undefined)) {
      const start = parseUtc(k.start);
      candles.set(start, candle(start, k.open, k.high, k.low, k.close, k.volume));
    }
    canvas.dataset.candles = String(candles.size);
    draw();
  }

  function choose(name) {
    interval = name;
    localStorage.setItem("exchange.interval", name);
    for (const button of buttons) button.setAttribute("aria-pressed", String(button.dataset.interval === name));
    unsubscribe?.();
    unsubscribe = stream.subscribe(`kline.${name}.${market.symbol}`, (k) => {
      const start = parseUtc(k.t);
      candles.set(start, candle(start, k.o, k.h, k.l, k.c, k.v));
      canvas.dataset.candles = String(candles.size);
      draw();
    });
    candles = new Map();
    draw();
    refresh().catch(() => {});
  }

  choose(interval);
  setInterval(draw, 15000);
  return { refresh };
}
