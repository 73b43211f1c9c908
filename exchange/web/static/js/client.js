// The one module that talks to the server: REST (public and ED25519-signed) and the websocket.
//
// Signing follows Backpack exactly: the signed text is
//   instruction=<instruction>&<params sorted by key, query-encoded>&timestamp=<ms>&window=<ms>
// where the params are the GET query or the JSON body (null values left out, booleans as
// true/false, strings percent-encoded like Python's urllib.parse.quote with safe='').
// The key pair is made in the browser and kept in localStorage as a JWK; the API key is the
// base64 of the raw 32-byte public key. WebCrypto's Ed25519 makes it and signs wherever the
// browser offers it; outside a secure context (plain HTTP from a LAN address or a
// container's IP) there is no `crypto.subtle`, and ed25519.js does the same in plain
// JavaScript with the same JWK, so sign-up works there too.
//
// Every REST call names an endpoint of `endpoints.js`, which the server generates from its
// endpoint table (method, path, instruction), so no path or instruction is written here.
//
// The websocket reconnects with exponential backoff (0.5 s doubling to 15 s) and, once open
// again, re-sends every subscription it holds (private ones are signed afresh). Listeners
// receive `data` of each {"stream", "data"} envelope for the stream they subscribed to.

import * as ed25519 from "./ed25519.js";

const KEY_STORAGE = "exchange.key.v1";
const WINDOW_MS = "5000";

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

function b64(bytes) {
  let text = "";
  for (const byte of new Uint8Array(bytes)) text += String.fromCharCode(byte);
  return btoa(text);
}

function quote(value) {
  return encodeURIComponent(value).replace(/[!'()*]/g, (c) => "%" + c.charCodeAt(0).toString(16).toUpperCase());
}

/** The query-string form of params that both the URL and the signature use. */
export function encodeParams(params) {
  return Object.keys(params)
    .filter((key) => params[key] !== null && params[key] !== undefined)
    .sort()
    .map((key) => {
      const value = params[key];
      return `${key}=${typeof value === "boolean" ? String(value) : quote(String(value))}`;
    })
    .join("&");
}

/** The exact text Backpack signs for one params object. */
export function signingText(instruction, params, timestamp, window = WINDOW_MS) {
  const encoded = encodeParams(params);
  return `instruction=${instruction}&${encoded ? encoded + "&" : ""}timestamp=${timestamp}&window=${window}`;
}

function fromBase64url(text) {
  return atob(text.replace(/-/g, "+").replace(/_/g, "/"));
}

/** WebCrypto's Ed25519, or null where the browser has none (no secure context, or an older browser). */
async function webCrypto(attempt) {
  if (!globalThis.crypto?.subtle) return null;
  try {
    return await attempt(crypto.subtle);
  } catch (error) {
    if (error.name === "NotSupportedError") return null;
    throw error;
  }
}

async function newJwk() {
  const made = await webCrypto(async (subtle) => {
    const pair = await subtle.generateKey({ name: "Ed25519" }, true, ["sign", "verify"]);
    return subtle.exportKey("jwk", pair.privateKey);
  });
  return made ?? ed25519.generateJwk();
}

/** A function signing bytes with the key of `jwk`. */
async function signerOf(jwk) {
  const key = await webCrypto((subtle) => subtle.importKey("jwk", jwk, { name: "Ed25519" }, false, ["sign"]));
  if (key) return async (bytes) => new Uint8Array(await crypto.subtle.sign({ name: "Ed25519" }, key, bytes));
  const fallback = ed25519.keyFromJwk(jwk);
  return async (bytes) => fallback.sign(bytes);
}

/** An ED25519 key pair held by this browser. */
export class Identity {
  constructor(jwk, signer, accountId) {
    this.jwk = jwk;
    this.signer = signer;
    this.publicKey = btoa(fromBase64url(jwk.x));
    this.accountId = accountId;
  }

  static async generate() {
    const jwk = await newJwk();
    return new Identity(jwk, await signerOf(jwk), null);
  }

  static async load() {
    const stored = localStorage.getItem(KEY_STORAGE);
    if (!stored) return null;
    try {
      const { jwk, accountId } = JSON.parse(stored);
      return new Identity(jwk, await signerOf(jwk), accountId);
    } catch {
      localStorage.removeItem(KEY_STORAGE);
      return null;
    }
  }

  async save() {
    localStorage.setItem(KEY_STORAGE, JSON.stringify({ jwk: this.jwk, publicKey: this.publicKey, accountId: this.accountId }));
  }

  static forget() {
    localStorage.removeItem(KEY_STORAGE);
  }

  /** Base64 signature of `text`. */
  async sign(text) {
    return b64(await this.signer(new TextEncoder().encode(text)));
  }

  /** The X-* headers for a request with `params` under `instruction`. */
  async headers(instruction, params) {
    const timestamp = String(Date.now());
    const signature = await this.sign(signingText(instruction, params, timestamp));
    return { "X-API-Key": this.publicKey, "X-Signature": signature, "X-Timestamp": timestamp, "X-Window": WINDOW_MS };
  }

  /** The `signature` array of a private websocket subscription. */
  async subscription() {
    const timestamp = String(Date.now());
    return [this.publicKey, await this.sign(signingText("subscribe", {}, timestamp)), timestamp, WINDOW_MS];
  }
}

async function send(method, path, params, headers) {
  const init = { method, headers: { ...headers } };
  let url = path;
  if (method === "GET") {
    const query = encodeParams(params);
    if (query) url += "?" + query;
  } else {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(params);
  }
  const response = await fetch(url, init);
  const text = await response.text();
  let body = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = text;
  }
  if (!response.ok) {
    const code = body && body.code ? body.code : `HTTP_${response.status}`;
    const message = body && body.message ? body.message : String(text || response.statusText);
    throw new ApiError(response.status, code, message);
  }
  return body;
}

/** An unsigned request to a public endpoint. */
export function get(endpoint, params = {}) {
  return send(endpoint.method, endpoint.path, params, {});
}

/** A signed request: `identity` signs `params` under the endpoint's instruction. */
export async function signed(identity, endpoint, params = {}) {
  return send(endpoint.method, endpoint.path, params, await identity.headers(endpoint.instruction, params));
}

/** The websocket, with reconnect, resubscribe and a state callback ("connecting", "open", "closed"). */
export class Stream {
  constructor(url, onState) {
    this.url = url;
    this.onState = onState;
    this.listeners = new Map();
    this.privateStreams = new Set();
    this.identity = null;
    this.socket = null;
    this.delay = 500;
    this.timer = null;
    this.connect();
  }

  connect() {
    this.onState("connecting");
    const socket = new WebSocket(this.url);
    this.socket = socket;
    socket.onopen = () => {
      this.delay = 500;
      this.onState("open");
      this.resubscribe();
    };
    socket.onmessage = (message) => this.dispatch(message.data);
    socket.onclose = () => {
      if (this.socket !== socket) return;
      this.onState("closed", this.delay);
      clearTimeout(this.timer);
      this.timer = setTimeout(() => this.connect(), this.delay);
      this.delay = Math.min(this.delay * 2, 15000);
    };
  }

  get open() {
    return this.socket !== null && this.socket.readyState === WebSocket.OPEN;
  }

  dispatch(raw) {
    let frame;
    try {
      frame = JSON.parse(raw);
    } catch {
      return;
    }
    if (!frame || !frame.stream) return;
    for (const listener of this.listeners.get(frame.stream) || []) listener(frame.data, frame.stream);
  }

  async sendSubscribe(method, streams, isPrivate) {
    if (!this.open || streams.length === 0) return;
    const frame = { method, params: streams };
    if (isPrivate) {
      if (!this.identity) return;
      frame.signature = await this.identity.subscription();
    }
    if (this.open) this.socket.send(JSON.stringify(frame));
  }

  resubscribe() {
    const publicStreams = [...this.listeners.keys()].filter((s) => !this.privateStreams.has(s));
    this.sendSubscribe("SUBSCRIBE", publicStreams, false);
    this.sendSubscribe("SUBSCRIBE", [...this.privateStreams], true);
  }

  /** Call `listener(data)` for every message of `stream`; returns an unsubscribe function. */
  subscribe(stream, listener, { isPrivate = false } = {}) {
    const existing = this.listeners.get(stream);
    if (existing) {
      existing.add(listener);
    } else {
      this.listeners.set(stream, new Set([listener]));
      if (isPrivate) this.privateStreams.add(stream);
      this.sendSubscribe("SUBSCRIBE", [stream], isPrivate);
    }
    return () => {
      const set = this.listeners.get(stream);
      if (!set) return;
      set.delete(listener);
      if (set.size === 0) {
        this.listeners.delete(stream);
        this.privateStreams.delete(stream);
        this.sendSubscribe("UNSUBSCRIBE", [stream], false);
      }
    };
  }

  /** Use `identity` for private subscriptions from now on. */
  setIdentity(identity) {
    this.identity = identity;
  }
}

/** The websocket URL of this server: Backpack's streams live at the root path. */
export function streamUrl() {
  const meta = document.querySelector('meta[name="exchange-ws"]');
  if (meta && meta.content) return meta.content;
  return `${location.protocol === "https:" ? "wss:" : "ws:"}//${location.host}/`;
}
