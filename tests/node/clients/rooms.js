"use strict";
// Rooms and broadcasts to many clients. Usage: node rooms.js <url> <clients> <mode> [room-prefix]
// Client i joins "all", and "even" or "odd". Then: to("even"), except("odd"), socket.broadcast
// and volatile. After each broadcast the server sends "sentinel" to everyone, so a client that
// sees the sentinel without the message really was not a recipient (per-socket order is kept).

const { io } = require("socket.io-client");
const c = require("./common");

const [url, countArg = "10", mode = "websocket", prefix = ""] = process.argv.slice(2);
const count = Number(countArg);
// Room names get `prefix`, so several runs can share one server.
const R = (name) => prefix + name;

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
      c.same(await s.timeout(5000).emitWithAck("join", R("all")), R("all"), "join ack");
      await s.timeout(5000).emitWithAck("join", R(i % 2 ? "odd" : "even"));
    }),
  );
  c.out({ step: "joined", count });
  const all = sockets.map((_, i) => i);
  const even = all.filter((i) => i % 2 === 0);
  const odd = all.filter((i) => i % 2 === 1);

  await round(sockets, () => sockets[1].emit("to-room", { room: R("even"), msg: R("r1") }), "room-msg", R("r1"), even);
  await round(sockets, () => sockets[0].emit("to-room", { room: R("all"), msg: R("r2") }), "room-msg", R("r2"), all);
  await round(sockets, () => sockets[0].emit("except-room", { room: R("odd"), msg: R("e1") }), "except-msg", R("e1"), even);
  await round(sockets, () => sockets[2].emit("broadcast", R("b1")), "broadcast-msg", R("b1"), all.filter((i) => i !== 2));
  await round(sockets, () => sockets[3].emit("volatile", R("v1")), "volatile-msg", R("v1"), all);

  // Broadcast with acks: the server asks a room, every member answers with its index (client 1
  // never answers, so asking "odd" times out with the others' answers).
  sockets.forEach((s, i) => s.on("poll", (cb) => i !== 1 && cb(i)));
  const sorted = (a) => [...a].sort((x, y) => x - y);
  const evenPoll = await sockets[0].timeout(5000).emitWithAck("poll-room", { room: R("even"), ms: 2000 });
  c.same([evenPoll.complete, sorted(evenPoll.answers)], [true, even], "broadcast acks from the even room");
  const oddPoll = await sockets[0].timeout(5000).emitWithAck("poll-room", { room: R("odd"), ms: 300 });
  c.same([oddPoll.complete, sorted(oddPoll.answers)], [false, odd.filter((i) => i !== 1)], "broadcast acks with a timeout");
  c.out({ step: "broadcast-acks", even: evenPoll, odd: oddPoll });

  // Leave a room and check it is gone.
  await sockets[0].timeout(5000).emitWithAck("leave", R("even"));
  await round(sockets, () => sockets[1].emit("to-room", { room: R("even"), msg: R("r3") }), "room-msg", R("r3"), even.filter((i) => i !== 0));

  sockets.forEach((s) => s.close());
});
