// Ed25519 signatures (RFC 8032) and SHA-512 (FIPS 180-4) in plain JavaScript, for browsers
// that offer no WebCrypto Ed25519: outside a secure context (a page over plain HTTP from a
// LAN address or a container's IP) `crypto.subtle` does not exist at all. client.js uses
// WebCrypto wherever it can and this module only there.
//
// Numbers are BigInts. SHA-512's constants are derived here as the standard defines them
// (the fractional parts of the square and cube roots of the first primes), and the base
// point from its y = 4/5, so the module holds no tables. Points use extended coordinates
// (X:Y:Z:T) with the complete addition law of RFC 8032 section 5.1.4, which also doubles.
// Arithmetic on BigInts is not constant-time: fine for a demo key in a page that plain
// HTTP delivers anyway (anyone on the path could change the page itself).
//
// Keys are JWKs of type OKP/Ed25519 ({kty, crv, d: seed, x: public key}, base64url), the
// form WebCrypto exports, so a key made here signs there and the other way round.

const MASK64 = (1n << 64n) - 1n;

function iroot(n, k) {
  // floor(n ** (1/k)) by Newton's method from above.
  let x = 1n << BigInt(Math.ceil(n.toString(2).length / Number(k)));
  for (;;) {
    const y = ((k - 1n) * x + n / x ** (k - 1n)) / k;
    if (y >= x) return x;
    x = y;
  }
}

function primes(count) {
  const found = [];
  for (let n = 2; found.length < count; n += 1) if (found.every((p) => n % p !== 0)) found.push(n);
  return found.map(BigInt);
}

const FIRST_PRIMES = primes(80);
const K = FIRST_PRIMES.map((p) => iroot(p << 192n, 3n) & MASK64);
const H0 = FIRST_PRIMES.slice(0, 8).map((p) => iroot(p << 128n, 2n) & MASK64);

const rotr = (x, n) => ((x >> n) | (x << (64n - n))) & MASK64;

/** SHA-512 of `bytes` (a Uint8Array), as a Uint8Array of 64 bytes. */
export function sha512(bytes) {
  const length = bytes.length;
  const padded = new Uint8Array(Math.ceil((length + 17) / 128) * 128);
  padded.set(bytes);
  padded[length] = 0x80;
  const bits = BigInt(length) * 8n;
  for (let i = 0; i < 16; i += 1) padded[padded.length - 1 - i] = Number((bits >> BigInt(8 * i)) & 0xffn);
  const h = [...H0];
  const w = new Array(80);
  for (let block = 0; block < padded.length; block += 128) {
    for (let t = 0; t < 16; t += 1) {
      let word = 0n;
      for (let i = 0; i < 8; i += 1) word = (word << 8n) | BigInt(padded[block + 8 * t + i]);
      w[t] = word;
    }
    for (let t = 16; t < 80; t += 1) {
      const s0 = rotr(w[t - 15], 1n) ^ rotr(w[t - 15], 8n) ^ (w[t - 15] >> 7n);
      const s1 = rotr(w[t - 2], 19n) ^ rotr(w[t - 2], 61n) ^ (w[t - 2] >> 6n);
      w[t] = (w[t - 16] + s0 + w[t - 7] + s1) & MASK64;
    }
    let [a, b, c, d, e, f, g, hh] = h;
    for (let t = 0; t < 80; t += 1) {
      const t1 = (hh + (rotr(e, 14n) ^ rotr(e, 18n) ^ rotr(e, 41n)) + ((e & f) ^ ((e ^ MASK64) & g)) + K[t] + w[t]) & MASK64;
      const t2 = ((rotr(a, 28n) ^ rotr(a, 34n) ^ rotr(a, 39n)) + ((a & b) ^ (a & c) ^ (b & c))) & MASK64;
      [hh, g, f, e, d, c, b, a] = [g, f, e, (d + t1) & MASK64, c, b, a, (t1 + t2) & MASK64];
    }
    [a, b, c, d, e, f, g, hh].forEach((value, i) => {
      h[i] = (h[i] + value) & MASK64;
    });
  }
  const out = new Uint8Array(64);
  h.forEach((word, i) => {
    for (let j = 0; j < 8; j += 1) out[8 * i + j] = Number((word >> BigInt(56 - 8 * j)) & 0xffn);
  });
  return out;
}

// -- the curve ---------------------------------------------------------------------------

const P = 2n ** 255n - 19n;
const L = 2n ** 252n + 27742317777372353535851937790883648493n;

const mod = (a, m = P) => ((a % m) + m) % m;

function pow(base, exponent) {
  let result = 1n;
  let b = mod(base);
  for (let e = exponent; e > 0n; e >>= 1n) {
    if (e & 1n) result = (result * b) % P;
    b = (b * b) % P;
  }
  return result;
}

const inverse = (a) => pow(a, P - 2n);
const D = mod(-121665n * inverse(121666n));
const SQRT_M1 = pow(2n, (P - 1n) / 4n);

function baseX(y) {
  // The even x with -x^2 + y^2 = 1 + d x^2 y^2.
  const xx = mod((y * y - 1n) * inverse(D * y * y + 1n));
  let x = pow(xx, (P + 3n) / 8n);
  if (mod(x * x - xx) !== 0n) x = mod(x * SQRT_M1);
  return x & 1n ? P - x : x;
}

const BY = mod(4n * inverse(5n));
const BX = baseX(BY);
const BASE = [BX, BY, 1n, mod(BX * BY)];
const IDENTITY = [0n, 1n, 1n, 0n];

function add([x1, y1, z1, t1], [x2, y2, z2, t2]) {
  const a = mod((y1 - x1) * (y2 - x2));
  const b = mod((y1 + x1) * (y2 + x2));
  const c = mod(t1 * 2n * D * t2);
  const d = mod(z1 * 2n * z2);
  const [e, f, g, h] = [b - a, d - c, d + c, b + a];
  return [mod(e * f), mod(g * h), mod(f * g), mod(e * h)];
}

function multiply(scalar, point) {
  let result = IDENTITY;
  let addend = point;
  for (let s = scalar; s > 0n; s >>= 1n) {
    if (s & 1n) result = add(result, addend);
    addend = add(addend, addend);
  }
  return result;
}

function littleEndian(bytes) {
  let n = 0n;
  for (let i = bytes.length - 1; i >= 0; i -= 1) n = (n << 8n) | BigInt(bytes[i]);
  return n;
}

function bytes32(n) {
  const out = new Uint8Array(32);
  for (let i = 0; i < 32; i += 1) out[i] = Number((n >> BigInt(8 * i)) & 0xffn);
  return out;
}

function encode([x, y, z]) {
  const zi = inverse(z);
  const out = bytes32(mod(y * zi));
  out[31] |= Number(mod(x * zi) & 1n) << 7;
  return out;
}

function concat(...parts) {
  const out = new Uint8Array(parts.reduce((n, part) => n + part.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

// -- keys and signatures -----------------------------------------------------------------

function base64url(bytes) {
  return btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function fromBase64url(text) {
  const plain = atob(text.replace(/-/g, "+").replace(/_/g, "/"));
  return Uint8Array.from(plain, (c) => c.charCodeAt(0));
}

/** A signing key from its 32-byte seed: `publicKey` (32 bytes) and `sign(message) -> 64 bytes`. */
export function keyFromSeed(seed) {
  const digest = sha512(seed);
  const clamped = digest.slice(0, 32);
  clamped[0] &= 248;
  clamped[31] &= 127;
  clamped[31] |= 64;
  const secret = littleEndian(clamped);
  const prefix = digest.slice(32);
  const publicKey = encode(multiply(secret, BASE));
  return {
    publicKey,
    sign(message) {
      const r = mod(littleEndian(sha512(concat(prefix, message))), L);
      const big = encode(multiply(r, BASE));
      const k = mod(littleEndian(sha512(concat(big, publicKey, message))), L);
      return concat(big, bytes32(mod(r + k * secret, L)));
    },
  };
}

/** A new key as a WebCrypto-style private JWK. */
export function generateJwk() {
  const seed = crypto.getRandomValues(new Uint8Array(32));
  return { kty: "OKP", crv: "Ed25519", d: base64url(seed), x: base64url(keyFromSeed(seed).publicKey) };
}

/** The signing key of a private JWK. */
export function keyFromJwk(jwk) {
  return keyFromSeed(fromBase64url(jwk.d));
}
