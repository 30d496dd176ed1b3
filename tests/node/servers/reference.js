"use strict";
// The OFFICIAL socket.io 4.8 server with the test app of the Rust client tests
// (tests/tests/client_node_*.rs, tests/tests/cli_*.rs). The same contract runs on the Rust
// server in tests/src/client_suite.rs:
//
// - namespaces `/` and `/custom`; every other namespace is unknown. A middleware refuses
//   `auth.token == "bad"` with message `unauthorized` and data `{"reason":"bad token"}`.
// - on connect: emit `auth` with the handshake auth (`{}` when none);
// - `echo` (args…) → emit `echo-back` (args…); `echo-ack` (args…, ack) → ack(args…);
// - `ask` (v) → emit `question` v with an ack (5 s), then emit `answer` with the acked
//   arguments (`["error"]` on timeout);
// - `store` (v, ack?) → remember v (per server process), ack(v); `stored` (ack) → ack(all v);
// - `ticks` (n) → the namespace emits `tick` 0..n-1 (through the adapter, so with connection
//   state recovery every tick has an offset);
// - `drop` → close the transport under the socket (`socket.conn.close()`): the client sees
//   `transport close` and reconnects; `drop-and-tick` ({n, delay}) → drop, then after `delay` ms
//   the namespace emits `tick` 0..n-1 (missed by the client, for recovery);
// - `kick` → server-side namespace disconnect (`io server disconnect`, no reconnection);
// - `join` (room, ack) → join, ack(room); `to-room` ({room, event, args}) → emit to the room.
//
// Usage: node servers/reference.js '<options JSON>' with options
//   {"port":0, "transports":["polling","websocket"], "msgpack":false, "recovery":false,
//    "tls":{"cert":"/path/cert.pem","key":"/path/key.pem"}, "pingInterval":25000,
//    "pingTimeout":20000}
// Prints {"listening":<port>} first, then {"connect":nsp,"id","recovered","auth","transport"} and
// {"disconnect":reason,"nsp","id"} lines. Exits when stdin closes (the harness holds it open).

const fs = require("fs");
const http = require("http");
const https = require("https");
const { Server } = require("socket.io");

const opts = JSON.parse(process.argv[2] || "{}");

function toDesc(v) {
  if (v === undefined) return null;
  if (v === null || typeof v !== "object") return v;
  if (Buffer.isBuffer(v) || v instanceof ArrayBuffer || ArrayBuffer.isView(v)) {
    const b = Buffer.isBuffer(v)
      ? v
      : v instanceof ArrayBuffer
        ? Buffer.from(v)
        : Buffer.from(v.buffer, v.byteOffset, v.byteLength);
    return { $bin: b.toString("base64") };
  }
  if (Array.isArray(v)) return v.map(toDesc);
  const o = {};
  for (const k of Object.keys(v)) o[k] = toDesc(v[k]);
  return o;
}

function out(obj) {
  process.stdout.write(JSON.stringify(toDesc(obj)) + "\n");
}

const httpServer = opts.tls
  ? https.createServer({ cert: fs.readFileSync(opts.tls.cert), key: fs.readFileSync(opts.tls.key) })
  : http.createServer();

const io = new Server(httpServer, {
  transports: opts.transports || ["polling", "websocket"],
  pingInterval: opts.pingInterval || 25000,
  pingTimeout: opts.pingTimeout || 20000,
  parser: opts.msgpack ? require("socket.io-msgpack-parser") : undefined,
  connectionStateRecovery: opts.recovery
    ? { maxDisconnectionDuration: 120000, skipMiddlewares: true }
    : undefined,
});

const stored = [];

function ticks(nsp, n) {
  for (let i = 0; i < n; i++) nsp.emit("tick", i);
}

function setup(nsp) {
  nsp.use((socket, next) => {
    const auth = socket.handshake.auth;
    if (auth && auth.token === "bad") {
      const err = new Error("unauthorized");
      err.data = { reason: "bad token" };
      return next(err);
    }
    next();
  });
  nsp.on("connection", (socket) => {
    out({
      connect: nsp.name,
      id: socket.id,
      recovered: socket.recovered,
      auth: socket.handshake.auth,
      transport: socket.conn.transport.name,
    });
    // A recovered socket already got its connect-time events.
    if (!socket.recovered) socket.emit("auth", socket.handshake.auth || {});
    socket.on("echo", (...args) => socket.emit("echo-back", ...args));
    socket.on("echo-ack", (...args) => {
      const ack = args.pop();
      if (typeof ack === "function") ack(...args);
    });
    socket.on("ask", (v) => {
      socket.timeout(5000).emit("question", v, (err, ...a) => {
        socket.emit("answer", ...(err ? ["error"] : a));
      });
    });
    socket.on("store", (v, ack) => {
      stored.push(v);
      if (typeof ack === "function") ack(v);
    });
    socket.on("stored", (ack) => ack(stored));
    socket.on("ticks", (n) => ticks(nsp, n));
    socket.on("drop", () => socket.conn.close());
    socket.on("drop-and-tick", ({ n, delay }) => {
      socket.conn.close();
      setTimeout(() => ticks(nsp, n), delay || 0);
    });
    socket.on("kick", () => socket.disconnect());
    socket.on("join", (room, ack) => {
      socket.join(room);
      if (typeof ack === "function") ack(room);
    });
    socket.on("to-room", ({ room, event, args }) => nsp.to(room).emit(event, ...(args || [])));
    socket.on("disconnect", (reason) => out({ disconnect: reason, nsp: nsp.name, id: socket.id }));
  });
}

setup(io.of("/"));
setup(io.of("/custom"));

httpServer.listen(opts.port || 0, "127.0.0.1", () =>
  out({ listening: httpServer.address().port }),
);
process.stdin.resume();
process.stdin.on("end", () => process.exit(0));
