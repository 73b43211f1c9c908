// Exact decimal strings for money and quantities: parsed into a BigInt and a scale, never floats.
// Floats appear only where pixels are computed (charts), never in what is sent or validated.

const PATTERN = /^\s*(\d+)(?:\.(\d*))?\s*$|^\s*\.(\d+)\s*$/;

/** {units, scale} with value = units / 10^scale, or null when `text` is not a plain non-negative decimal. */
export function parse(text) {
  const match = PATTERN.exec(String(text));
  if (!match) return null;
  const whole = match[1] ?? "0";
  const fraction = match[2] ?? match[3] ?? "";
  return { units: BigInt(whole + fraction), scale: fraction.length };
}

function aligned(a, b) {
  const scale = Math.max(a.scale, b.scale);
  return [a.units * 10n ** BigInt(scale - a.scale), b.units * 10n ** BigInt(scale - b.scale), scale];
}

function render(units, scale) {
  const negative = units < 0n;
  let digits = (negative ? -units : units).toString().padStart(scale + 1, "0");
  if (scale > 0) digits = digits.slice(0, -scale) + "." + digits.slice(-scale);
  return (negative ? "-" : "") + digits;
}

/** Whether `value` is a whole multiple of `step` (both decimal strings). */
export function isMultiple(value, step) {
  const [v, s] = aligned(parse(value), parse(step));
  return s !== 0n && v % s === 0n;
}

/** -1, 0 or 1 as a < b, a == b, a > b. */
export function compare(a, b) {
  const [x, y] = aligned(parse(a), parse(b));
  return x < y ? -1 : x > y ? 1 : 0;
}

/** The exact product of two decimal strings. */
export function multiply(a, b) {
  const x = parse(a);
  const y = parse(b);
  return render(x.units * y.units, x.scale + y.scale);
}

/** The exact difference a - b of two decimal strings. */
export function subtract(a, b) {
  const [x, y, scale] = aligned(parse(a), parse(b));
  return render(x - y, scale);
}

/** Number of fraction digits a step like "0.010" needs (2). */
export function places(step) {
  const parsed = parse(step);
  let { units, scale } = parsed;
  while (scale > 0 && units % 10n === 0n) {
    units /= 10n;
    scale -= 1;
  }
  return scale;
}

/** `text` shown with exactly `digits` fraction digits (truncating, never rounding up). */
export function fixed(text, digits) {
  const value = String(text);
  const negative = value.startsWith("-");
  const parsed = parse(negative ? value.slice(1) : value);
  if (!parsed) return value;
  const { units, scale } = parsed;
  const shifted = digits >= scale ? units * 10n ** BigInt(digits - scale) : units / 10n ** BigInt(scale - digits);
  return (negative && shifted !== 0n ? "-" : "") + render(shifted, digits);
}

/** `text` without trailing fraction zeros beyond `digits` ("210.0000", 2 -> "210.00"). */
export function trimmed(text, digits) {
  const [whole, fraction = ""] = String(text).split(".");
  const kept = fraction.replace(/0+$/, "").padEnd(digits, "0");
  return kept ? `${whole}.${kept}` : whole;
}

/** Thousands separators for the integer part of a decimal string. */
export function grouped(text) {
  const [whole, fraction] = String(text).split(".");
  const withCommas = whole.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  return fraction === undefined ? withCommas : `${withCommas}.${fraction}`;
}
