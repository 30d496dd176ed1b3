"use strict";
// socket.io-client 4.8 with socket.io-msgpack-parser. Usage: node msgpack.js <url> <mode>

const { io } = require("socket.io-client");
const parser = require("socket.io-msgpack-parser");
const c = require("./common");

const [url, mode = "websocket"] = process.argv.slice(2);

c.main(async () => {
  const socket = io(url, { forceNew: true, parser, auth: { token: "mp" }, reconnection: false, ...c.transportOptions(mode) });
  const welcome = c.once(socket, "welcome");
  await c.connected(socket);
  c.same((await welcome)[0], { nsp: "/", id: socket.id, auth: { token: "mp" } }, "welcome");
  c.out({ step: "connect", id: socket.id });

  const args = [{ a: 1, b: [1.5, "x", null, true], big: 1e15, neg: -7 }, Buffer.from([1, 2, 3]), "€"];
  const back = c.once(socket, "echo-back");
  socket.emit("echo", ...args);
  c.same(await back, args, "msgpack echo (binary in place)");
  c.out({ step: "echo" });

  const ack = await socket.timeout(5000).emitWithAck("echo-ack", { bin: Buffer.from([7]) });
  c.same(ack, { bin: Buffer.from([7]) }, "msgpack ack");
  c.out({ step: "ack" });

  socket.on("question", (n, cb) => cb({ double: n * 2 }, Buffer.from([n])));
  const answer = c.once(socket, "answer");
  socket.emit("ask", 5);
  c.same(await answer, [{ double: 10 }, Buffer.from([5])], "server->client ack");
  c.out({ step: "server-ack" });

  const custom = socket.io.socket("/custom");
  await c.connected(custom);
  c.same(await custom.timeout(5000).emitWithAck("echo-ack", "c"), "c", "namespace over msgpack");

  const bad = io(url, { forceNew: true, parser, auth: { token: "bad" }, reconnection: false, ...c.transportOptions(mode) });
  const [err] = await c.once(bad, "connect_error");
  c.same([err.message, err.data], ["unauthorized", { reason: "bad token" }], "refusal over msgpack");
  c.out({ step: "refused" });
  bad.close();

  const kicked = c.once(socket, "disconnect");
  socket.emit("kick-me");
  c.same((await kicked)[0], "io server disconnect", "kicked");
  c.out({ step: "kicked" });
  socket.close();
});
