"use strict";
// Shared helpers for the interop client scripts (run by tests/src/interop.rs).
//
// Every script prints one JSON object per line on stdout: what it observed, in order, then
// `{"done":true}` and exits 0; on any failure it prints `{"error":"…"}` and exits 1. Every
// await is time-bound, and the whole script kills itself after SCRIPT_TIMEOUT_MS (default 20 s).

const SCRIPT_TIMEOUT_MS = Number(process.env.SCRIPT_TIMEOUT_MS || 20000);

/** Prints one observation as a JSON line (binary values as {"$bin": base64}). */
function out(obj) {
  process.stdout.write(JSON.stringify(toDesc(obj)) + "\n");
}

function isBinary(v) {
  return (
    (typeof Buffer !== "undefined" && Buffer.isBuffer(v)) ||
    v instanceof ArrayBuffer ||
    ArrayBuffer.isView(v)
  );
}

function toBuffer(v) {
  if (Buffer.isBuffer(v)) return v;
  if (v instanceof ArrayBuffer) return Buffer.from(v);
  return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
}

/** JS value -> JSON-able description ({"$bin": base64} for binary, {"$undefined": true}). */
function toDesc(v) {
  if (v === undefined) return { $undefined: true };
  if (v instanceof Error) return { $error: v.message, data: toDesc(v.data) };
  if (v === null || typeof v !== "object") return v;
  if (isBinary(v)) return { $bin: toBuffer(v).toString("base64") };
  if (Array.isArray(v)) return v.map(toDesc);
  const o = {};
  for (const k of Object.keys(v)) o[k] = toDesc(v[k]);
  return o;
}

/** Resolves with `promise`'s value, or rejects after `ms` with a message naming `what`. */
function within(ms, what, promise) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Waits for one `event` on `emitter` (any event emitter with `once`), resolving with its args. */
function once(emitter, event, ms = 5000) {
  return within(
    ms,
    `event "${event}"`,
    new Promise((resolve) => emitter.once(event, (...args) => resolve(args))),
  );
}

/** Waits for a socket.io socket to connect, or rejects with the connect_error. */
function connected(socket, ms = 5000) {
  return within(
    ms,
    `connect to ${socket.nsp}`,
    new Promise((resolve, reject) => {
      if (socket.connected) return resolve();
      socket.once("connect", () => resolve());
      socket.once("connect_error", (err) =>
        reject(new Error(`connect_error on ${socket.nsp}: ${err.message}`)),
      );
    }),
  );
}

/** Collects every emission of `event` into an array (for later inspection). */
function collect(socket, event) {
  const seen = [];
  socket.on(event, (...args) => seen.push(args));
  return seen;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function assert(cond, message) {
  if (!cond) throw new Error(`assertion failed: ${message}`);
}

function same(actual, expected, message) {
  const a = JSON.stringify(toDesc(actual));
  const e = JSON.stringify(toDesc(expected));
  if (a !== e) throw new Error(`${message}: expected ${e}, got ${a}`);
}

/** Runs the scenario `fn`, prints done/error, exits. Kills the process after the time limit. */
function main(fn) {
  const killer = setTimeout(() => {
    out({ error: `script timed out after ${SCRIPT_TIMEOUT_MS} ms` });
    process.exit(1);
  }, SCRIPT_TIMEOUT_MS);
  Promise.resolve()
    .then(fn)
    .then(
      () => {
        clearTimeout(killer);
        out({ done: true });
        process.exit(0);
      },
      (err) => {
        clearTimeout(killer);
        out({ error: String((err && err.stack) || err) });
        process.exit(1);
      },
    );
}

/** The socket.io-client options for a transport mode: polling | websocket | upgrade. */
function transportOptions(mode) {
  switch (mode) {
    case "polling":
      return { transports: ["polling"], upgrade: false };
    case "websocket":
      return { transports: ["websocket"] };
    case "upgrade":
      return { transports: ["polling", "websocket"], upgrade: true };
    default:
      throw new Error(`unknown transport mode ${mode}`);
  }
}

module.exports = {
  out,
  toDesc,
  toBuffer,
  within,
  once,
  connected,
  collect,
  sleep,
  assert,
  same,
  main,
  transportOptions,
};
