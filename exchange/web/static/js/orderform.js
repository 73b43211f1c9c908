// The order form: buy/sell, limit/market, price, quantity, post-only and IOC.
//
// Inputs are checked before sending, exactly (decimal.js, no floats), against the market's
// filters: the price a positive multiple of tickSize, the quantity a multiple of stepSize and
// at least minQuantity. The server checks again; its error codes become plain messages here.

import { ApiError } from "./client.js";
import { compare, grouped, isMultiple, multiply, parse, places, trimmed } from "./decimal.js";
import * as api from "./endpoints.js";
import { h, toast } from "./ui.js";

const MESSAGES = {
  INSUFFICIENT_FUNDS: "Not enough funds available for this order.",
  TOO_MANY_REQUESTS: "Too many requests: wait a moment and try again.",
  UNAUTHORIZED: "The exchange did not accept this browser's key. Sign up again.",
  INVALID_SIGNATURE: "The request signature was rejected (is this computer's clock right?).",
  SERVICE_UNAVAILABLE: "The exchange is busy or paused; try again shortly.",
  MAINTENANCE: "The exchange is under maintenance; try again shortly.",
  TRADING_PAUSED: "Trading in this market is paused.",
};

/** A human sentence for an API error, with the server's own message where it is the useful part. */
export function explain(error) {
  if (!(error instanceof ApiError)) return `Network error: ${error.message}`;
  const prefix = { INVALID_PRICE: "Price: ", INVALID_QUANTITY: "Quantity: " }[error.code];
  if (prefix) return prefix + error.message;
  return MESSAGES[error.code] ?? error.message;
}

export function mountOrderForm(element, { market, events }, account) {
  const { tickSize } = market.filters.price;
  const { stepSize, minQuantity } = market.filters.quantity;
  let side = "Bid";
  let type = "Limit";
  let balances = {};

  const sideButtons = ["Bid", "Ask"].map((value) =>
    h(
      "button",
      { type: "button", class: value === "Bid" ? "buy" : "sell", "data-side": value, onclick: () => setSide(value) },
      value === "Bid" ? "Buy" : "Sell",
    ),
  );
  const typeButtons = ["Limit", "Market"].map((value) =>
    h("button", { type: "button", "data-type": value, onclick: () => setType(value) }, value),
  );
  const price = h("input", { id: "order-price", name: "price", inputmode: "decimal", autocomplete: "off", placeholder: tickSize });
  const quantity = h("input", {
    id: "order-quantity",
    name: "quantity",
    inputmode: "decimal",
    autocomplete: "off",
    placeholder: minQuantity,
  });
  const postOnly = h("input", { type: "checkbox", name: "postOnly" });
  const ioc = h("input", { type: "checkbox", name: "ioc" });
  const available = h("span", { class: "num" }, "—");
  const total = h("span", { class: "num" }, "—");
  const submit = h("button", { type: "submit", class: "submit buy" }, "");
  const message = h("div", { class: "form-message", role: "status", "data-testid": "form-message" });
  const priceField = h("div", { class: "field" }, h("label", { for: "order-price" }, `Price`), price);
  const checks = h(
    "div",
    { class: "checks" },
    h("label", { title: "Cancel instead of taking liquidity" }, postOnly, "Post only"),
    h("label", { title: "Immediate or cancel: never rests on the book" }, ioc, "IOC"),
  );

  const form = h(
    "form",
    { novalidate: true, "aria-label": "Order form" },
    h("div", { class: "sides" }, sideButtons),
    h("div", { class: "segmented types" }, typeButtons),
    priceField,
    h("div", { class: "field" }, h("label", { for: "order-quantity" }, `Amount`), quantity),
    checks,
    h("div", { class: "summary" }, h("span", {}, "Available"), available),
    h("div", { class: "summary" }, h("span", {}, `Total (${market.quoteSymbol})`), total),
    submit,
    message,
  );
  element.replaceChildren(h("h2", {}, "Place order"), form);

  function say(text, tone) {
    message.textContent = text;
    message.className = `form-message ${tone ?? ""}`;
  }

  function update() {
    for (const b of sideButtons) b.setAttribute("aria-pressed", String(b.dataset.side === side));
    for (const b of typeButtons) b.setAttribute("aria-pressed", String(b.dataset.type === type));
    const limit = type === "Limit";
    priceField.hidden = !limit;
    checks.hidden = !limit;
    const verb = side === "Bid" ? "Buy" : "Sell";
    submit.textContent = account.identity() ? `${verb} ${market.baseSymbol}` : "Sign up to trade";
    submit.className = `submit ${side === "Bid" ? "buy" : "sell"}`;
    const asset = side === "Bid" ? market.quoteSymbol : market.baseSymbol;
    const balance = balances[asset];
    available.textContent = balance ? `${grouped(trimmed(balance.available, 2))} ${asset}` : `— ${asset}`;
    const p = price.value.trim();
    const q = quantity.value.trim();
    total.textContent =
      limit && parse(p) && parse(q) ? grouped(trimmed(multiply(p, q), Math.max(2, places(tickSize)))) : "—";
  }

  function setSide(value) {
    side = value;
    update();
  }

  function setType(value) {
    type = value;
    update();
  }

  function problem() {
    const q = quantity.value.trim();
    quantity.removeAttribute("aria-invalid");
    price.removeAttribute("aria-invalid");
    if (type === "Limit") {
      const p = price.value.trim();
      if (!parse(p) || compare(p, "0") <= 0) return [price, "Enter a price above zero."];
      if (!isMultiple(p, tickSize)) return [price, `The price must be a multiple of the tick size ${tickSize}.`];
    }
    if (!parse(q) || compare(q, "0") <= 0) return [quantity, "Enter an amount above zero."];
    if (!isMultiple(q, stepSize)) return [quantity, `The amount must be a multiple of the step size ${stepSize}.`];
    if (compare(q, minQuantity) < 0) return [quantity, `The minimum amount is ${minQuantity} ${market.baseSymbol}.`];
    return null;
  }

  form.addEventListener("input", (event) => {
    if (event.target === postOnly && postOnly.checked) ioc.checked = false;
    if (event.target === ioc && ioc.checked) postOnly.checked = false;
    say("");
    update();
  });

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!account.identity()) {
      document.querySelector('[data-testid="signup"]')?.click();
      return;
    }
    const found = problem();
    if (found) {
      found[0].setAttribute("aria-invalid", "true");
      say(found[1], "error");
      return;
    }
    const order = { symbol: market.symbol, side, orderType: type, quantity: quantity.value.trim() };
    if (type === "Limit") {
      order.price = price.value.trim();
      if (postOnly.checked) order.postOnly = true;
      if (ioc.checked) order.timeInForce = "IOC";
    }
    submit.disabled = true;
    try {
      const placed = await account.call(api.ORDER_EXECUTE, order);
      const filled = compare(placed.executedQuantity, "0") > 0 ? `, filled ${placed.executedQuantity}` : "";
      say(`Order ${placed.id}: ${placed.status}${filled}`, "ok");
      events.dispatchEvent(new CustomEvent("orders-changed", { detail: placed }));
    } catch (error) {
      say(explain(error), "error");
      toast(explain(error), { error: true });
    } finally {
      submit.disabled = false;
    }
  });

  events.addEventListener("pick-price", (event) => {
    setType("Limit");
    price.value = event.detail;
    update();
  });
  events.addEventListener("balances", (event) => {
    balances = event.detail;
    update();
  });
  events.addEventListener("identity", update);
  update();
}
