"use strict";
// The main socket.io-client 4.8 scenario against the test app (see tests/src/interop.rs for the
// server contract). Usage: node basic.js <url> <polling|websocket|upgrade>
//
// Covers: connect with auth, custom and dynamic namespaces, unknown namespace, middleware refusal
// (connect_error message + data), JSON and binary events both ways, acks both ways (incl.
// emitWithAck with timeout), disconnect reasons on both sides. (Reconnection after the server
// drops the transport: reconnect.js.)

const { io } = require("socket.io-client");
const c = require("./common");

const [url, mode = "upgrade"] = process.argv.slice(2);
if (!url) throw new Error("usage: basic.js <url> <mode>");

const base = {
  forceNew: true,
  reconnectionDelay: 100,
  reconnectionDelayMax: 200,
  randomizationFactor: 0,
  timeout: 5000,
  ...c.transportOptions(mode),
};

async function transportReady(socket) {
  const engine = socket.io.engine;
  if (mode === "upgrade") {
    if (engine.transport.name !== "websocket") await c.once(engine, "upgrade", 5000);
  }
  const name = engine.transport.name;
  const expected = mode === "polling" ? "polling" : "websocket";
  c.assert(name === expected, `transport is ${name}, expected ${expected}`);
  c.out({ step: "transport", name });
}

async function mainNamespace() {
  const socket = io(url, { ...base, auth: { token: "secret", n: 1 } });
  const welcome = c.once(socket, "welcome");
  await c.connected(socket);
  const [w] = await welcome;
  c.same(w, { nsp: "/", id: socket.id, auth: { token: "secret", n: 1 } }, "welcome on /");
  c.out({ step: "connect", nsp: "/", id: socket.id });
  await transportReady(socket);

  // JSON event both ways.
  const json = [{ a: 1, b: [1, "x", null, true, 2.5] }, "two", 3];
  let back = c.once(socket, "echo-back");
  socket.emit("echo", ...json);
  c.same(await back, json, "JSON echo");
  c.out({ step: "json-echo" });

  // Unicode and a large-ish string.
  const text = ["héllo €𝄞 \u2028", "x".repeat(50000)];
  back = c.once(socket, "echo-back");
  socket.emit("echo", ...text);
  c.same(await back, text, "unicode echo");
  c.out({ step: "unicode-echo" });

  // Binary event both ways (top level and nested, several attachments).
  const bin = [
    Buffer.from([1, 2, 3]),
    { nested: Buffer.from([4, 5]), list: [Buffer.from([]), "s"] },
  ];
  back = c.once(socket, "echo-back");
  socket.emit("echo", ...bin);
  const got = await back;
  c.assert(Buffer.isBuffer(got[0]), "binary arrives as a Buffer");
  c.same(got, bin, "binary echo");
  c.out({ step: "binary-echo" });

  // Client -> server acks: several arguments via callback, one via emitWithAck, binary.
  const ackArgs = await c.within(
    5000,
    "ack of echo-ack",
    new Promise((resolve) => socket.emit("echo-ack", 1, "two", { three: 3 }, (...a) => resolve(a))),
  );
  c.same(ackArgs, [1, "two", { three: 3 }], "ack with several arguments");
  const one = await socket.timeout(5000).emitWithAck("echo-ack", { x: [1, 2] });
  c.same(one, { x: [1, 2] }, "emitWithAck");
  const binAck = await socket.timeout(5000).emitWithAck("echo-ack", Buffer.from([9, 8, 7]));
  c.same(binAck, Buffer.from([9, 8, 7]), "binary ack");
  c.out({ step: "client-acks" });

  // emitWithAck with a timeout that the server never answers.
  const t0 = Date.now();
  let timedOut = null;
  try {
    await socket.timeout(300).emitWithAck("no-ack", 1);
  } catch (err) {
    timedOut = err.message;
  }
  c.same(timedOut, "operation has timed out", "emitWithAck timeout");
  c.assert(Date.now() - t0 >= 250, "timeout fired too early");
  c.out({ step: "ack-timeout" });

  // Server -> client ack: the server emits "question" with an ack, we answer with JSON + binary,
  // the server sends the answer back as "answer".
  socket.on("question", (n, cb) => cb({ double: n * 2 }, Buffer.from([n])));
  const answer = c.once(socket, "answer");
  socket.emit("ask", 21);
  c.same(await answer, [{ double: 42 }, Buffer.from([21])], "server->client ack");
  c.out({ step: "server-ack" });

  // Server -> client ack with a timeout that the client never answers (no "silent" listener).
  const timeoutAnswer = c.once(socket, "answer-timeout");
  socket.emit("ask-silent", 7);
  c.same(await timeoutAnswer, [{ timedOut: true }], "server-side ack timeout");
  c.out({ step: "server-ack-timeout" });

  // The server disconnects the socket: "io server disconnect", no reconnection.
  const kickedId = socket.id;
  const kicked = c.once(socket, "disconnect");
  socket.emit("kick-me");
  const [kreason] = await kicked;
  c.same(kreason, "io server disconnect", "client reason when kicked");
  c.out({ step: "kicked", reason: kreason, id: kickedId });
  await c.sleep(300);
  c.assert(!socket.connected, "no reconnection after io server disconnect");
  socket.io.engine && socket.close();
}

async function namespaces() {
  // Custom namespace and a dynamic one multiplexed on one manager, plus "/" (Manager.socket
  // connects at once: calling connect() again would send a duplicate CONNECT).
  const root = io(url, { ...base, auth: { token: "r" } });
  await c.connected(root);
  const custom = root.io.socket("/custom", { auth: { token: "c" } });
  const wc = c.once(custom, "welcome");
  await c.connected(custom);
  c.same((await wc)[0], { nsp: "/custom", id: custom.id, auth: { token: "c" } }, "welcome on /custom");
  c.out({ step: "connect", nsp: "/custom", id: custom.id });

  const dyn = root.io.socket("/dyn-42");
  const wd = c.once(dyn, "welcome");
  await c.connected(dyn);
  c.same((await wd)[0], { nsp: "/dyn-42", id: dyn.id, auth: {} }, "welcome on /dyn-42");
  c.out({ step: "connect", nsp: "/dyn-42", id: dyn.id });

  // Events on the namespaces stay on their namespace.
  const onRoot = c.collect(root, "echo-back");
  const back = c.once(dyn, "echo-back");
  dyn.emit("echo", "dyn");
  c.same(await back, ["dyn"], "echo on /dyn-42");
  const ack = await custom.timeout(5000).emitWithAck("echo-ack", Buffer.from([1]));
  c.same(ack, Buffer.from([1]), "binary ack on /custom");
  c.same(onRoot, [], "nothing leaked to /");

  // Unknown namespace: connect_error "Invalid namespace", the connection stays up.
  const nope = root.io.socket("/nope");
  const err = c.once(nope, "connect_error");
  const [e] = await err;
  c.same(e.message, "Invalid namespace", "unknown namespace");
  c.out({ step: "connect_error", nsp: "/nope", message: e.message });
  const still = await root.timeout(5000).emitWithAck("echo-ack", "alive");
  c.same(still, "alive", "connection kept after an unknown namespace");

  // Client-side namespace disconnect: the server sees "client namespace disconnect".
  const cid = custom.id;
  custom.disconnect();
  c.out({ step: "client-disconnect", nsp: "/custom", id: cid });
  const alive = await dyn.timeout(5000).emitWithAck("echo-ack", "dyn alive");
  c.same(alive, "dyn alive", "other namespaces survive a namespace disconnect");

  // Closing the whole connection from the client: the server sees "transport close".
  const rid = root.id;
  const did = dyn.id;
  const gone = c.once(dyn, "disconnect");
  root.io.engine.close();
  const [r] = await gone;
  c.out({ step: "engine-closed", reason: r, ids: [rid, did] });
  root.io.reconnection(false);
  root.close();
  dyn.close();
}

async function refusal() {
  const socket = io(url, { ...base, auth: { token: "bad" } });
  const [err] = await c.once(socket, "connect_error");
  c.same(err.message, "unauthorized", "middleware refusal message");
  c.same(err.data, { reason: "bad token" }, "middleware refusal data");
  c.out({ step: "refused", message: err.message, data: err.data });
  socket.close();
}

c.main(async () => {
  await mainNamespace();
  await namespaces();
  await refusal();
});
