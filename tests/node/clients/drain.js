"use strict";
// Many official clients behind a load balancer while a node drains (tests/tests/drain_nginx.rs).
// Usage: node drain.js '{"url":"http://127.0.0.1:<nginx>","clients":200}'
//
// Each client connects with the default transports (polling, then the WebSocket upgrade) and
// a reconnection delay of 100 ms (at most 1 s, the default jitter), records the node that
// says `hello` to it, every `tick` seq it receives and whether each reconnection was
// `recovered` (and when). Prints {"ready":<n>,"nodes":{...}} once every client is connected, then, once
// every client got `ticks-done` (or after 30 s), one {"client":{id, seqs, reconnects,
// recovered, reconnected_at, node, disconnects, done}} line per client, {"finished":<n done>}
// and exits.

const { io } = require("socket.io-client");
const c = require("./common");

const opts = JSON.parse(process.argv[2]);
const total = opts.clients;
// DRAIN_DEBUG=<file>: every connect and disconnect, with its time, appended there.
const debug = (line) =>
  process.env.DRAIN_DEBUG && require("fs").appendFileSync(process.env.DRAIN_DEBUG, JSON.stringify(line) + "\n");

c.main(async () => {
  const clients = [];
  for (let i = 0; i < total; i++) {
    const socket = io(opts.url, {
      forceNew: true,
      reconnectionDelay: 100,
      reconnectionDelayMax: 1000,
    });
    const state = { socket, seqs: [], reconnects: 0, recovered: [], reconnectedAt: [], node: null, disconnects: [], done: false };
    socket.on("hello", (node) => {
      state.node = node;
    });
    socket.on("tick", (seq) => state.seqs.push(seq));
    socket.on("disconnect", (reason) => {
      state.disconnects.push(reason);
      debug({ event: "disconnect", i, reason, t: Date.now() });
    });
    socket.io.on("reconnect", () => {
      state.reconnects += 1;
    });
    socket.on("connect", () => {
      debug({ event: "connect", i, recovered: socket.recovered, t: Date.now() });
      if (state.disconnects.length > 0) {
        state.recovered.push(socket.recovered);
        state.reconnectedAt.push(Date.now());
      }
    });
    state.finished = new Promise((resolve) =>
      socket.on("ticks-done", () => {
        state.done = true;
        resolve();
      }),
    );
    clients.push(state);
  }
  await c.within(
    30000,
    "every client's hello",
    Promise.all(
      clients.map(
        (s) =>
          new Promise((resolve) => {
            const check = () => (s.node ? resolve() : setTimeout(check, 10));
            check();
          }),
      ),
    ),
  );
  const nodes = {};
  for (const s of clients) nodes[s.node] = (nodes[s.node] || 0) + 1;
  c.out({ ready: total, nodes });
  await Promise.race([
    Promise.all(clients.map((s) => s.finished)),
    new Promise((resolve) => setTimeout(resolve, 30000)),
  ]);
  // One line per client (a single line of them all would be hundreds of kilobytes).
  for (const s of clients) {
    c.out({
      client: {
        id: s.socket.id,
        seqs: s.seqs,
        reconnects: s.reconnects,
        recovered: s.recovered,
        reconnected_at: s.reconnectedAt,
        node: s.node,
        disconnects: s.disconnects,
        done: s.done,
      },
    });
  }
  c.out({ finished: clients.filter((s) => s.done).length });
  // A pipe takes the lines asynchronously once full: let them all go before exiting.
  await new Promise((resolve) => process.stdout.write("", resolve));
  for (const s of clients) s.socket.disconnect();
});
