// Small DOM helpers shared by the widgets: an element builder, toasts and a debouncer.

/** h("div", {class: "x", onclick: f}, "text", child) builds an element; text is never parsed as HTML. */
export function h(tag, attrs = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on")) element.addEventListener(name.slice(2), value);
    else if (name === "dataset") Object.assign(element.dataset, value);
    else element.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

/** A short message in the corner; errors stay longer. */
export function toast(message, { error = false } = {}) {
  const box = document.getElementById("toasts");
  const item = h("div", { class: error ? "toast error" : "toast", role: "status" }, message);
  box.append(item);
  setTimeout(() => item.remove(), error ? 6000 : 3000);
}

/** `fn` called at most once per `ms`, trailing. */
export function debounce(fn, ms) {
  let timer = null;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
}

/** "12:34:56" in local time from milliseconds. */
export function clock(ms) {
  return new Date(ms).toLocaleTimeString([], { hour12: false });
}

/** Signed percent of a fraction string ("-0.0312" -> "-3.12%"), for display only. */
export function percent(fraction) {
  const value = Number(fraction) * 100;
  if (!Number.isFinite(value)) return "—";
  const shown = value.toFixed(2);
  if (Number(shown) === 0) return "0.00%";
  return `${value > 0 ? "+" : ""}${shown}%`;
}

/** "buy", "sell" or "muted": the colour of a change as it is shown (to two decimals of a percent). */
export function tone(fraction) {
  const shown = Number((Number(fraction) * 100).toFixed(2));
  return shown > 0 ? "buy" : shown < 0 ? "sell" : "muted";
}

/** A canvas sized to its box at the device pixel ratio; returns its 2D context and CSS size. */
export function fitCanvas(canvas) {
  const ratio = window.devicePixelRatio || 1;
  const width = canvas.clientWidth;
  const height = canvas.clientHeight;
  if (canvas.width !== Math.round(width * ratio) || canvas.height !== Math.round(height * ratio)) {
    canvas.width = Math.round(width * ratio);
    canvas.height = Math.round(height * ratio);
  }
  const context = canvas.getContext("2d");
  context.setTransform(ratio, 0, 0, ratio, 0, 0);
  context.clearRect(0, 0, width, height);
  return { context, width, height };
}

/** Colours from the stylesheet, read once, so canvases match the page. */
export function palette() {
  const style = getComputedStyle(document.documentElement);
  const read = (name) => style.getPropertyValue(name).trim();
  return {
    buy: read("--buy"),
    sell: read("--sell"),
    line: read("--line"),
    muted: read("--muted"),
    text: read("--text"),
    mono: read("--mono"),
  };
}
