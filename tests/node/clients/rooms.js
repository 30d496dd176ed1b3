"use strict";
// Rooms and broadcasts to many clients. Usage: node rooms.js <url> <clients> <mode>
// Client i joins "all", and "even" or "odd". Then: to("even"), except("odd"), socket.broadcast
// and volatile. After each broadcast the server sends "sentinel" to everyone, so a client that
// sees the sentinel without the message really was not a recipient (per-socket order is kept).

const { io } = require("socket.io-client");
const c = require("./common");

const [url, countArg = "10", mode = "websocket"] = process.argv.slice(2);
const count = Number(countArg);

async function round(sockets, trigger, event, msg, expected) {
  const seen = sockets.map((s) => c.collect(s, event));
  const sentinels = sockets.map((s) =>
    c.within(
      5000,
      `sentinel ${msg}`,
      new Promise((resolve) => {
        const h = (m) => {
          if (m === msg) {
            s.off("sentinel", h);
            resolve();
          }
        };
        s.on("sentinel", h);
      }),
    ),
  );
  trigger();
  await Promise.all(sentinels);
  const got = seen.map((list, i) => list.some(([m]) => m === msg) && i);
  const receivers = got.filter((x) => x !== false);
  c.same(receivers, expected, `receivers of ${event}`);
  c.out({ step: event, receivers });
  sockets.forEach((s) => s.off(event));
}

c.main(async () => {
  const sockets = [];
  for (let i = 0; i < count; i++) {
    sockets.push(io(url, { forceNew: true, reconnection: false, ...c.transportOptions(mode) }));
  }
  await Promise.all(sockets.map((s) => c.connected(s, 10000)));
  await Promise.all(
    sockets.map(async (s, i) => {
      c.same(await s.timeout(5000).emitWithAck("join", "all"), "all", "join ack");
      await s.timeout(5000).emitWithAck("join", i % 2 ? "odd" : "even");
    }),
  );
  c.out({ step: "joined", count });
  const all = sockets.map((_, i) => i);
  const even = all.filter((i) => i % 2 === 0);
  const odd = all.filter((i) => i % 2 === 1);

  await round(sockets, () => sockets[1].emit("to-room", { room: "even", msg: "r1" }), "room-msg", "r1", even);
  await round(sockets, () => sockets[0].emit("to-room", { room: "all", msg: "r2" }), "room-msg", "r2", all);
  await round(sockets, () => sockets[0].emit("except-room", { room: "odd", msg: "e1" }), "except-msg", "e1", even);
  await round(sockets, () => sockets[2].emit("broadcast", "b1"), "broadcast-msg", "b1", all.filter((i) => i !== 2));
  await round(sockets, () => sockets[3].emit("volatile", "v1"), "volatile-msg", "v1", all);

  // Leave a room and check it is gone.
  await sockets[0].timeout(5000).emitWithAck("leave", "even");
  await round(sockets, () => sockets[1].emit("to-room", { room: "even", msg: "r3" }), "room-msg", "r3", even.filter((i) => i !== 0));

  sockets.forEach((s) => s.close());
});
