"use strict";
// Connection state recovery (server with connectionStateRecovery). Usage:
//   node recovery.js <url> <mode>
// Socket A joins "rec"; A's transport is closed from the client side (a recoverable
// "transport close"); while A is away, B makes the server emit three events to "rec"; A
// reconnects with its pid and last offset and must get the missed events before "connect"
// (three emitted straight to A by a server-side timer, then the room's three),
// with `recovered` true, the same id and the room kept.

const { io } = require("socket.io-client");
const c = require("./common");

const [url, mode = "websocket"] = process.argv.slice(2);

c.main(async () => {
  const opts = { forceNew: true, reconnectionDelay: 1000, reconnectionDelayMax: 1000, randomizationFactor: 0, ...c.transportOptions(mode) };
  const a = io(url, opts);
  const b = io(url, { ...opts, reconnection: false });
  await Promise.all([c.connected(a), c.connected(b)]);
  c.assert(a.recovered === false, "first connection is not recovered");
  await a.timeout(5000).emitWithAck("join", "rec");

  // One event while connected, so A has an offset.
  const first = c.once(a, "room-msg");
  await b.timeout(5000).emitWithAck("to-room", { room: "rec", msg: "m0" });
  const [m0, offset0] = await first;
  c.same(m0, "m0", "live room event");
  c.assert(typeof offset0 === "string", "the event carries an offset as its last argument");
  c.out({ step: "live", msg: m0 });

  // A server-side timer will emit d1..d3 straight to A's socket while A is away: with
  // recovery on they are stored and replayed too (the reference routes socket.emit through
  // the adapter to the socket's own room).
  await a.timeout(5000).emitWithAck("direct-later", { ms: 150, msgs: ["d1", "d2", "d3"] });

  const id = a.id;
  const order = [];
  a.on("room-msg", (m) => order.push(`msg:${m}`));
  a.on("connect", () => order.push("connect"));
  const disc = c.once(a, "disconnect");
  a.io.engine.close();
  const [reason] = await disc;
  c.out({ step: "disconnected", reason });
  await c.sleep(400); // let the server notice, and the timer fire

  for (const m of ["m1", "m2", "m3"]) {
    await b.timeout(5000).emitWithAck("to-room", { room: "rec", msg: m });
  }
  c.out({ step: "emitted-while-away" });

  await c.within(5000, "reconnection", new Promise((resolve) => {
    if (a.connected && order.includes("connect")) return resolve();
    a.once("connect", resolve);
  }));
  await c.sleep(100);
  c.out({ step: "reconnected", recovered: a.recovered, sameId: a.id === id, order });
  c.assert(a.recovered === true, "recovered is true");
  c.assert(a.id === id, "same socket id after recovery");
  c.same(order, ["msg:d1", "msg:d2", "msg:d3", "msg:m1", "msg:m2", "msg:m3", "connect"], "missed events before connect, in order");

  // Rooms kept: a new event to "rec" reaches A.
  const after = c.once(a, "room-msg");
  await b.timeout(5000).emitWithAck("to-room", { room: "rec", msg: "m4" });
  c.same((await after)[0], "m4", "room kept after recovery");
  c.out({ step: "room-kept" });
  a.close();
  b.close();
});
