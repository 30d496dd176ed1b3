"use strict";
// socket.io-client 2.5 (Engine.IO v3, Socket.IO v4 protocol) against allowEIO3.
// Usage: node v2.js <url> <polling|websocket|upgrade>

const io = require("socket.io-client-v2");
const c = require("./common");

const [url, mode = "upgrade"] = process.argv.slice(2);

c.main(async () => {
  const opts = { forceNew: true, reconnection: false, ...c.transportOptions(mode) };
  const socket = io(url, opts);
  const welcome = c.once(socket, "welcome");
  await c.connected(socket);
  const [w] = await welcome;
  c.same([w.nsp, w.id], ["/", socket.id], "welcome on / (v2 socket id is the engine id)");
  c.out({ step: "connect", id: socket.id });
  if (mode === "upgrade" && socket.io.engine.transport.name !== "websocket") {
    await c.once(socket.io.engine, "upgrade", 5000);
  }
  c.out({ step: "transport", name: socket.io.engine.transport.name });

  const args = [{ a: 1, s: "é€" }, [1, 2], Buffer.from([1, 2, 3])];
  const back = c.once(socket, "echo-back");
  socket.emit("echo", ...args);
  c.same(await back, args, "v2 echo with binary");
  c.out({ step: "echo" });

  const ack = await c.within(5000, "v2 ack", new Promise((r) => socket.emit("echo-ack", "x", Buffer.from([4]), (...a) => r(a))));
  c.same(ack, ["x", Buffer.from([4])], "v2 ack");
  c.out({ step: "ack" });

  socket.on("question", (n, cb) => cb({ double: n * 2 }));
  const answer = c.once(socket, "answer");
  socket.emit("ask", 4);
  c.same(await answer, [{ double: 8 }], "server->client ack over v2");
  c.out({ step: "server-ack" });

  // Another namespace, auth in the query string (v2 has no CONNECT payload).
  const custom = socket.io.socket("/custom", { query: { token: "q" } });
  const cw = c.once(custom, "welcome");
  await c.connected(custom);
  const [wc] = await cw;
  c.same([wc.nsp, wc.id], ["/custom", custom.id], "welcome on /custom");
  c.assert(custom.id === `/custom#${socket.id}`, `v2 namespace socket id ${custom.id}`);
  c.out({ step: "connect", nsp: "/custom", id: custom.id });

  // Middleware refusal: v2 gets an "error" event with the error's data (or message).
  const bad = io(url + "/custom", { ...opts, forceNew: true, query: { token: "bad" } });
  const [err] = await c.once(bad, "error");
  c.out({ step: "refused", error: err });
  c.same(err, { reason: "bad token" }, "v2 refusal carries err.data");
  bad.close();

  const kicked = c.once(socket, "disconnect");
  socket.emit("kick-me");
  c.same((await kicked)[0], "io server disconnect", "v2 kicked");
  c.out({ step: "kicked" });
  custom.close();
  socket.close();
});
