"use strict";
// The OFFICIAL socket.io 4.8 server with the OFFICIAL @socket.io/redis-adapter 8.3
// (createAdapter, or createShardedAdapter with "adapter":"sharded", on node-redis 4) running
// the cluster conformance app, the same handler table
// as the Rust side (tests/src/cluster.rs, `conformance --level cluster`), on namespace `/`:
//
// - on connection: socket.data = {node: <nodeId>}; emit `hello` (nodeId, socket.id);
// - `join`/`leave` (room, ack) → ack "ok"; `to-room` (room, ...args) → room-event;
//   `broadcast` (...args) → broadcast-event; `except-room` (room, ...args) → except-event;
//   `local-broadcast` (...args) → local-event (this node only);
// - `fetch-sockets` (room|null, ack) → [{id, rooms (sorted), data}] sorted by id, or "error: …";
// - `sockets-join` (room, newRoom, ack), `sockets-leave` (room, oldRoom, ack) → "ok";
// - `disconnect-room` (room, ack) → ack "ok", then disconnectSockets(true);
// - `server-side-emit` (ack) → serverSideEmit("who") replies sorted (2 s at most), or "error: …";
// - `ask-room` (room, ack) → io.to(room).timeout(2000).emitWithAck("question") sorted;
// - `server-count` (ack) → the adapter's serverCount().
// Every node answers the server-side event `who` with its node id.
//
// Usage: node servers/cluster-redis.js '{"port":0,"redisUrl":"redis://127.0.0.1:6379",
//   "key":"socket.io","nodeId":"node-1","requestsTimeout":5000,
//   "adapter":"classic"|"sharded"|"streams","subscriptionMode":"dynamic"|"static"|"dynamic-private",
//   "streamCount":1,"useShardedPubSub":false,"namespaces":["/chat"]}'
// (with "sharded", `key` is the channelPrefix; with "streams" (@socket.io/redis-streams-adapter
// 0.3), the streamName and channelPrefix, sessionKeyPrefix is `<key>:session:`, streamCount and
// useShardedPubSub are passed on as given (official defaults 1 and false) and connection
// state recovery is on: maxDisconnectionDuration 60 s, skipMiddlewares). `namespaces`: more
// namespaces serving the same table (each operation on its own namespace).
// Prints {"listening":<port>} once the adapter's subscriptions are made, then
// {"serverSideEvent":name,"args":[…]} for each server-side event other than `who`.
// Exits when stdin closes (the harness holds it open).

const http = require("http");
const { Server } = require("socket.io");
const { createClient } = require("redis");
const { createAdapter, createShardedAdapter } = require("@socket.io/redis-adapter");
const streams = require("@socket.io/redis-streams-adapter");

const opts = JSON.parse(process.argv[2] || "{}");
const nodeId = opts.nodeId || "node";

function out(obj) {
  process.stdout.write(JSON.stringify(obj) + "\n");
}

const byText = (a, b) => {
  const x = typeof a === "string" ? a : JSON.stringify(a);
  const y = typeof b === "string" ? b : JSON.stringify(b);
  return x < y ? -1 : x > y ? 1 : 0;
};

async function main() {
  const pub = createClient({ url: opts.redisUrl || "redis://127.0.0.1:6379" });
  const sub = pub.duplicate();
  pub.on("error", (e) => process.stderr.write(`redis pub: ${e}\n`));
  sub.on("error", (e) => process.stderr.write(`redis sub: ${e}\n`));
  await Promise.all([pub.connect(), sub.connect()]);

  const httpServer = http.createServer();
  const io = new Server(httpServer, {
    pingInterval: 300,
    pingTimeout: 200,
    maxHttpBufferSize: 1e6,
    connectTimeout: 1000,
    cors: { origin: "*" },
    connectionStateRecovery:
      opts.adapter === "streams"
        ? { maxDisconnectionDuration: 60000, skipMiddlewares: true }
        : undefined,
    adapter:
      opts.adapter === "streams"
        ? streams.createAdapter(pub, {
            streamName: opts.key || "socket.io",
            channelPrefix: opts.key || "socket.io",
            sessionKeyPrefix: `${opts.key || "socket.io"}:session:`,
            streamCount: opts.streamCount || 1,
            useShardedPubSub: opts.useShardedPubSub || false,
          })
        : opts.adapter === "sharded"
        ? createShardedAdapter(pub, sub, {
            channelPrefix: opts.key || "socket.io",
            subscriptionMode: opts.subscriptionMode || "dynamic",
          })
        : createAdapter(pub, sub, {
            key: opts.key || "socket.io",
            requestsTimeout: opts.requestsTimeout || 5000,
          }),
  });

  // The table on `/` and on each of `namespaces`, every operation on its own namespace.
  for (const nspName of ["/", ...(opts.namespaces || [])]) {
    const nsp = io.of(nspName);
    nsp.on("who", (cb) => {
      if (typeof cb === "function") cb(nodeId);
    });
    for (const name of opts.serverSideEvents || ["ping"]) {
      nsp.on(name, (...args) => {
        out({ serverSideEvent: name, args: args.filter((a) => typeof a !== "function") });
      });
    }

    nsp.on("connection", (socket) => {
      socket.data = { node: nodeId };
      socket.emit("hello", nodeId, socket.id);
      socket.on("join", (room, ack) => {
        socket.join(room);
        ack("ok");
      });
      socket.on("leave", (room, ack) => {
        socket.leave(room);
        ack("ok");
      });
      socket.on("to-room", (room, ...args) => nsp.to(room).emit("room-event", ...args));
      socket.on("broadcast", (...args) => nsp.emit("broadcast-event", ...args));
      socket.on("except-room", (room, ...args) => nsp.except(room).emit("except-event", ...args));
      socket.on("local-broadcast", (...args) => nsp.local.emit("local-event", ...args));
      socket.on("fetch-sockets", async (room, ack) => {
        try {
          const target = typeof room === "string" ? nsp.in(room) : nsp;
          const sockets = await target.fetchSockets();
          const list = sockets.map((s) => ({ id: s.id, rooms: [...s.rooms].sort(), data: s.data }));
          list.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
          ack(list);
        } catch (e) {
          ack(`error: ${e.message}`);
        }
      });
      socket.on("sockets-join", (room, newRoom, ack) => {
        nsp.in(room).socketsJoin(newRoom);
        ack("ok");
      });
      socket.on("sockets-leave", (room, oldRoom, ack) => {
        nsp.in(room).socketsLeave(oldRoom);
        ack("ok");
      });
      socket.on("disconnect-room", (room, ack) => {
        ack("ok");
        nsp.in(room).disconnectSockets(true);
      });
      socket.on("server-side-emit", (ack) => {
        let done = false;
        const timer = setTimeout(() => {
          if (!done) {
            done = true;
            ack("error: timeout");
          }
        }, 2000);
        nsp.serverSideEmit("who", (err, replies) => {
          if (done) return;
          done = true;
          clearTimeout(timer);
          ack(err ? `error: ${err.message}` : [...replies].sort(byText));
        });
      });
      socket.on("ask-room", async (room, ack) => {
        try {
          const answers = await nsp.to(room).timeout(2000).emitWithAck("question");
          ack([...answers].sort(byText));
        } catch (e) {
          ack(`error: ${e.message}`);
        }
      });
      socket.on("server-count", async (ack) => {
        try {
          ack(await nsp.adapter.serverCount());
        } catch (e) {
          ack(`error: ${e.message}`);
        }
      });
    });
  }

  // The adapter subscribes without waiting for Redis to confirm: the harness waits until
  // every node counts the cluster's servers (`PUBSUB NUMSUB`) before it starts.
  httpServer.listen(opts.port || 0, "127.0.0.1", () => out({ listening: httpServer.address().port }));
}

main().catch((e) => {
  process.stderr.write(`cluster-redis: ${e.stack || e}\n`);
  process.exit(1);
});
process.stdin.resume();
process.stdin.on("end", () => process.exit(0));
