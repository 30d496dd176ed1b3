"use strict";
// Ordering of joins, leaves, broadcasts and direct emits, as a user sees it, with the official
// socket.io-client 4.8 (driven by tests/tests/ordering.rs).
//
// Usage: node ordering.js <mode> <url|ref> <polling|websocket> [clients] [ticks]
//   mode lobby  — the connect handler joins "lobby" and broadcasts `welcome-lobby` id to it:
//                 clients connect one after another (on `/`, then on `/async-lobby`); each one's
//                 first event after `connect` is its own `welcome-lobby`, and each earlier
//                 member gets every later one's, in order, and nothing else.
//   mode join   — `join-and-broadcast` {room, n}: the handler joins and at once broadcasts
//                 `in-room` n to the room; the joiner has it before the handler's ack (fresh
//                 rooms; a shared room joined by every client at once, after which a broadcast
//                 reaches them all); and a join acked in one handler, then a broadcast from
//                 another socket's handler (`to-room`): the member has `room-msg` before the
//                 namespace-wide `sentinel` that follows it, the non-member only the sentinel.
//   mode leave  — `leave-and-broadcast` {room, n}: the handler leaves and at once broadcasts:
//                 the leaver has no `in-room` n at the handler's ack, the member still in the
//                 room gets it; a leave acked in one handler, then a broadcast from another
//                 socket's handler: the leaver gets the sentinel without `room-msg`.
//   mode ticks  — `clients` (default 50) clients join one room; `start-ticks` {room, n}: the
//                 server interleaves broadcasts to the room with direct emits to each socket,
//                 numbered from one counter, `ticks` (default 2000) in all: each client sees
//                 0, 1, …, n-1, in order, no gap, no duplicate (and client 0 all of them before
//                 the handler's ack).
//
// With `ref` instead of a URL, the script first starts the official socket.io 4.8 server with
// the same app in this process (`refApp` below, the same contract as the Rust app in
// tests/tests/ordering.rs): the scenarios' expectations are those of the reference.
//
// Every wait is bounded by LIVENESS_MS (default 30 s; a liveness guard, not a timing
// assertion). Per-socket order is what makes the checks precise without timing: an ack, a
// sentinel or a later event is queued after the packets it is checked against.

process.env.SCRIPT_TIMEOUT_MS = process.env.SCRIPT_TIMEOUT_MS || "120000";

const { io } = require("socket.io-client");
const c = require("./common");

const [mode, target, transport = "websocket", clientsArg, ticksArg] = process.argv.slice(2);
if (!mode || !target) throw new Error("usage: ordering.js <mode> <url|ref> <transport> [clients] [ticks]");
const LIVENESS_MS = Number(process.env.LIVENESS_MS || 30000);

/** Every event one client socket got, in arrival order (`connect` included), with waiters. */
class Recorder {
  constructor(name, socket) {
    this.name = name;
    this.socket = socket;
    this.log = [];
    this.waiters = [];
    socket.on("connect", () => this.push(["connect"]));
    socket.onAny((event, ...args) => this.push([event, ...args]));
  }

  push(entry) {
    this.log.push(entry);
    this.waiters = this.waiters.filter((w) => !w());
  }

  /** Index of the first entry [event, arg] (with `arg` compared as JSON), or -1. */
  index(event, arg) {
    const a = JSON.stringify(arg);
    return this.log.findIndex((e) => e[0] === event && JSON.stringify(e[1]) === a);
  }

  has(event, arg) {
    return this.index(event, arg) !== -1;
  }

  /** The first arguments of every `event`, in order. */
  all(event) {
    return this.log.filter((e) => e[0] === event).map((e) => e[1]);
  }

  /** Resolves when `cond()` holds (checked now and after every event). */
  until(what, cond) {
    return c.within(
      LIVENESS_MS,
      `${this.name}: ${what}`,
      new Promise((resolve) => {
        const check = () => {
          if (!cond()) return false;
          resolve();
          return true;
        };
        if (!check()) this.waiters.push(check);
      }),
    );
  }

  waitFor(event, arg) {
    return this.until(`${event} ${JSON.stringify(arg)}`, () => this.has(event, arg));
  }

  /** The log, shortened for messages. */
  tail() {
    return JSON.stringify(this.log.slice(-30));
  }
}

function connect(url, nsp, name) {
  const socket = io(url + nsp, {
    forceNew: true,
    reconnection: false,
    timeout: LIVENESS_MS,
    ...c.transportOptions(transport),
  });
  return new Recorder(name, socket);
}

async function connectAll(url, count, prefix) {
  const clients = [];
  for (let i = 0; i < count; i++) clients.push(connect(url, "/", `${prefix}${i}`));
  await Promise.all(clients.map((r) => c.connected(r.socket, LIVENESS_MS)));
  return clients;
}

function ask(r, event, data) {
  return c.within(LIVENESS_MS, `${r.name}: ack of ${event} ${JSON.stringify(data)}`, r.socket.timeout(LIVENESS_MS + 1000).emitWithAck(event, data));
}

/** The client's own `welcome-lobby` (from the connect handler) came before its first ack. */
function checkOwnWelcome(r) {
  c.assert(r.has("welcome-lobby", r.socket.id), `${r.name} (${r.socket.id}) has no welcome-lobby for itself before its first ack: ${r.tail()}`);
}

/** `r` got `room-msg` msg before `sentinel` msg (member), or only the sentinel (not a member). */
async function checkRoomMsg(r, msg, member, context) {
  await r.waitFor("sentinel", msg);
  const got = r.index("room-msg", msg);
  const sentinel = r.index("sentinel", msg);
  if (member) {
    c.assert(got !== -1 && got < sentinel, `${context}: member ${r.name} did not get room-msg ${msg} before the sentinel that follows it: ${r.tail()}`);
  } else {
    c.assert(got === -1, `${context}: ${r.name}, not in the room, got room-msg ${msg}: ${r.tail()}`);
  }
}

// ---- mode lobby ----------------------------------------------------------------------------

async function lobby(url) {
  const K = 4;
  for (const nsp of ["/", "/async-lobby"]) {
    const clients = [];
    for (let k = 0; k < K; k++) {
      const r = connect(url, nsp, `${nsp}#${k}`);
      await c.connected(r.socket, LIVENESS_MS);
      const id = r.socket.id;
      await r.waitFor("welcome-lobby", id);
      c.same(r.log.slice(0, 2), [["connect"], ["welcome-lobby", id]], `${r.name}: connect, then its own welcome-lobby first`);
      clients.push(r);
    }
    const ids = clients.map((r) => r.socket.id);
    for (let k = 0; k < K; k++) {
      const r = clients[k];
      await r.until(`${K - k} welcome-lobby`, () => r.all("welcome-lobby").length >= K - k);
      // A round trip: anything else already queued for it arrives before the ack.
      await ask(r, "sync", null);
      c.same(r.all("welcome-lobby"), ids.slice(k), `${r.name}: the welcome-lobby of itself and of every later member, in order`);
    }
    c.out({ step: "lobby", nsp, ids });
    clients.forEach((r) => r.socket.close());
  }
}

// ---- mode join -----------------------------------------------------------------------------

async function join(url) {
  const C = 8;
  const R = 25;
  const clients = await connectAll(url, C, "join#");

  // The same handler joins and broadcasts, each client in fresh rooms of its own (concurrently).
  await Promise.all(
    clients.map(async (r, k) => {
      for (let i = 0; i < R; i++) {
        const n = k * 1000 + i;
        const ack = await ask(r, "join-and-broadcast", { room: `fresh-${k}-${i}`, n });
        if (i === 0) checkOwnWelcome(r);
        c.assert(r.has("in-room", n), `${r.name}: in-room ${n} (fresh room fresh-${k}-${i}, joined in the same handler) not delivered before the handler's ack ${JSON.stringify(ack)}: ${r.tail()}`);
        c.same(r.all("in-room").filter((m) => m === n).length, 1, `${r.name}: in-room ${n} exactly once`);
      }
    }),
  );
  c.out({ step: "join-fresh", clients: C, rounds: R });

  // Every client joins the same room at once, each broadcasting on its join; then a broadcast
  // to the room reaches every one of them.
  for (let i = 0; i < R; i++) {
    const room = `shared-${i}`;
    await Promise.all(
      clients.map(async (r, k) => {
        const n = 100000 + i * 100 + k;
        const ack = await ask(r, "join-and-broadcast", { room, n });
        c.assert(r.has("in-room", n), `${r.name}: in-room ${n} (room ${room}, joined concurrently by ${C} clients) not delivered before the handler's ack ${JSON.stringify(ack)}: ${r.tail()}`);
      }),
    );
    const msg = `all-${i}`;
    await ask(clients[i % C], "to-room", { room, msg });
    for (const r of clients) await checkRoomMsg(r, msg, true, `after ${C} concurrent joins of ${room}`);
  }
  c.out({ step: "join-shared", clients: C, rounds: R });

  // Join acked in one handler, then a broadcast from another socket's handler (pairs at once).
  await Promise.all(
    Array.from({ length: C / 2 }, async (_, j) => {
      const a = clients[2 * j];
      const b = clients[2 * j + 1];
      for (let i = 0; i < R; i++) {
        const room = `cross-${j}-${i}`;
        const msg = `cross-${j}-${i}`;
        c.same(await ask(a, "join", room), room, "join ack");
        await ask(b, "to-room", { room, msg });
        await checkRoomMsg(a, msg, true, `${a.name} joined ${room}, then ${b.name} broadcast`);
        await checkRoomMsg(b, msg, false, `${a.name} joined ${room}, then ${b.name} broadcast`);
      }
    }),
  );
  c.out({ step: "join-cross", pairs: C / 2, rounds: R });
  clients.forEach((r) => r.socket.close());
}

// ---- mode leave ----------------------------------------------------------------------------

async function leave(url) {
  const C = 8;
  const R = 25;
  const clients = await connectAll(url, C, "leave#");

  // The same handler leaves and broadcasts: with a member left in the room, and alone.
  await Promise.all(
    Array.from({ length: C / 2 }, async (_, j) => {
      const l = clients[2 * j];
      const w = clients[2 * j + 1];
      for (let i = 0; i < R; i++) {
        const room = `leave-${j}-${i}`;
        const n = j * 1000 + i;
        c.same(await ask(l, "join", room), room, "join ack");
        if (i === 0) checkOwnWelcome(l);
        c.same(await ask(w, "join", room), room, "join ack");
        const ack = await ask(l, "leave-and-broadcast", { room, n });
        c.assert(!l.has("in-room", n), `${l.name}: got in-room ${n}, broadcast to ${room} by the handler that had just left it (ack ${JSON.stringify(ack)}): ${l.tail()}`);
        await w.waitFor("in-room", n);
        c.assert(!l.has("in-room", n), `${l.name}: got in-room ${n} after leaving ${room}: ${l.tail()}`);

        const solo = `solo-${j}-${i}`;
        const m = 50000 + n;
        c.same(await ask(l, "join", solo), solo, "join ack");
        const soloAck = await ask(l, "leave-and-broadcast", { room: solo, n: m });
        c.assert(!l.has("in-room", m), `${l.name}: got in-room ${m}, broadcast to ${solo} (it was the only member) by the handler that had just left it (ack ${JSON.stringify(soloAck)}): ${l.tail()}`);
      }
    }),
  );
  c.out({ step: "leave-same-handler", pairs: C / 2, rounds: R });

  // Leave acked in one handler, then a broadcast from another socket's handler.
  await Promise.all(
    Array.from({ length: C / 2 }, async (_, j) => {
      const l = clients[2 * j];
      const w = clients[2 * j + 1];
      for (let i = 0; i < R; i++) {
        const room = `left-${j}-${i}`;
        const msg = `left-${j}-${i}`;
        c.same(await ask(l, "join", room), room, "join ack");
        c.same(await ask(w, "join", room), room, "join ack");
        c.same(await ask(l, "leave", room), room, "leave ack");
        await ask(w, "to-room", { room, msg });
        await checkRoomMsg(w, msg, true, `${l.name} left ${room}, then ${w.name} broadcast`);
        await checkRoomMsg(l, msg, false, `${l.name} left ${room}, then ${w.name} broadcast`);
      }
    }),
  );
  c.out({ step: "leave-cross", pairs: C / 2, rounds: R });
  clients.forEach((r) => r.socket.close());
}

// ---- mode ticks ----------------------------------------------------------------------------

async function ticks(url) {
  const N = Number(clientsArg || 50);
  const T = Number(ticksArg || 2000);
  const room = "ticks";
  const clients = await connectAll(url, N, "ticks#");
  const state = clients.map(() => ({ next: 0, failure: null }));
  let fail;
  const failed = new Promise((_, reject) => (fail = reject));
  const done = clients.map(
    (r, k) =>
      new Promise((resolve) => {
        r.socket.on("tick", (v) => {
          const s = state[k];
          if (s.failure) return;
          if (v !== s.next) {
            const what = v < s.next ? "a duplicate or an earlier tick" : `a gap (${s.next}..${v - 1} missing so far)`;
            s.failure = `${r.name} (${r.socket.id}): expected tick ${s.next}, got ${JSON.stringify(v)}: ${what}`;
            fail(new Error(s.failure));
            return;
          }
          s.next += 1;
          if (s.next === T) resolve();
        });
      }),
  );
  failed.catch(() => {});
  await Promise.all(clients.map((r) => ask(r, "join", room)));
  clients.forEach(checkOwnWelcome);

  const started = Date.now();
  const ack = await ask(clients[0], "start-ticks", { room, n: T });
  c.out({ step: "server", ack });
  // Client 0's ticks were all queued before the handler's ack.
  c.assert(state[0].failure === null && state[0].next === T, `${clients[0].name}: ${state[0].failure || `only ${state[0].next} of ${T} ticks before the start-ticks ack`}`);
  const progress = () => state.map((s) => s.next).join(",");
  await c.within(LIVENESS_MS * 2, `all ${N} clients to get ${T} ticks (so far: ${progress()})`, Promise.race([Promise.all(done), failed]));
  // A round trip each: a duplicate queued after the last tick would arrive before the ack.
  await Promise.all(clients.map((r) => ask(r, "sync", null)));
  for (const s of state) c.assert(s.failure === null && s.next === T, s.failure || `a tick after the last one: next ${s.next}`);
  c.out({
    step: "ticks",
    clients: N,
    ticks: T,
    transport: clients[0].socket.io.engine.transport.name,
    ms: Date.now() - started,
  });
  clients.forEach((r) => r.socket.close());
}

// ---- the reference app ---------------------------------------------------------------------

/** xorshift32: the tick pattern (the Rust app uses the same). */
function xorshift(x) {
  x ^= x << 13;
  x ^= x >>> 17;
  x ^= x << 5;
  return x >>> 0;
}

/** The test app on the official socket.io 4.8 server (127.0.0.1, ephemeral port). */
function refApp() {
  const http = require("http");
  const { Server } = require("socket.io");
  const httpServer = http.createServer();
  const ioServer = new Server(httpServer);
  const registry = new Map(); // room -> Set of sockets (for the direct emits of start-ticks)
  const reply = (socket, ack, n) => (ack ? ack({ n }) : socket.emit("done", n));

  ioServer.on("connection", (socket) => {
    socket.join("lobby");
    ioServer.to("lobby").emit("welcome-lobby", socket.id);

    socket.on("sync", (_, ack) => ack && ack());
    socket.on("join", (room, ack) => {
      socket.join(room);
      if (!registry.has(room)) registry.set(room, new Set());
      registry.get(room).add(socket);
      ack && ack(room);
    });
    socket.on("leave", (room, ack) => {
      socket.leave(room);
      registry.get(room)?.delete(socket);
      ack && ack(room);
    });
    socket.on("join-and-broadcast", ({ room, n }, ack) => {
      socket.join(room);
      ioServer.to(room).emit("in-room", n);
      reply(socket, ack, n);
    });
    socket.on("leave-and-broadcast", ({ room, n }, ack) => {
      socket.leave(room);
      ioServer.to(room).emit("in-room", n);
      reply(socket, ack, n);
    });
    socket.on("to-room", ({ room, msg }, ack) => {
      ioServer.to(room).emit("room-msg", msg);
      ioServer.emit("sentinel", msg);
      ack && ack();
    });
    socket.on("start-ticks", async ({ room, n }, ack) => {
      const members = [...(registry.get(room) || [])];
      let x = 0x9e3779b9;
      let i = 0;
      let broadcasts = 0;
      while (i < n) {
        x = xorshift(x);
        const broadcast = (x & 1) === 0;
        const forward = (x & 2) === 0;
        const run = 1 + ((x >>> 8) % 8);
        for (let k = 0; k < run && i < n; k++, i++) {
          if (broadcast) {
            ioServer.to(room).emit("tick", i);
            broadcasts += 1;
          } else {
            for (const s of forward ? members : [...members].reverse()) s.emit("tick", i);
          }
          if ((i + 1) % 250 === 0) await c.sleep(1);
        }
      }
      ack && ack({ ticks: n, members: members.length, broadcasts, failures: [] });
    });
    socket.on("disconnect", () => {
      for (const set of registry.values()) set.delete(socket);
    });
  });
  ioServer.of("/async-lobby").on("connection", async (socket) => {
    socket.on("sync", (_, ack) => ack && ack());
    await null;
    socket.join("lobby");
    ioServer.of("/async-lobby").to("lobby").emit("welcome-lobby", socket.id);
  });

  return new Promise((resolve) =>
    httpServer.listen(0, "127.0.0.1", () => {
      resolve({ url: `http://127.0.0.1:${httpServer.address().port}`, close: () => ioServer.close() });
    }),
  );
}

// ---- main ----------------------------------------------------------------------------------

const MODES = { lobby, join, leave, ticks };

c.main(async () => {
  const run = MODES[mode];
  if (!run) throw new Error(`unknown mode ${mode}`);
  const ref = target === "ref" ? await refApp() : null;
  const url = ref ? ref.url : target;
  c.out({ step: "start", mode, transport, server: ref ? "reference" : url });
  try {
    await run(url);
  } finally {
    if (ref) ref.close();
  }
});
