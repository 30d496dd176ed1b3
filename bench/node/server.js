"use strict";
// Contender `node` of bench/CONTENDERS.md: the official socket.io server (4.8.4, pinned in
// tests/node/package-lock.json, installed by `npm ci --prefix tests/node`) serving the
// benchmark application on loopback, with its defaults (transports, parser, no
// perMessageDeflate).
//
// Usage: node bench/node/server.js [--port P] [--workers 1] [--redis URL --redis-key KEY]
// With --redis: a cluster node on the official @socket.io/redis-adapter (createAdapter, key KEY,
// node-redis clients as in tests/node/servers/cluster-redis.js); LISTENING comes once both
// Redis clients are connected.
// JavaScript runs on one thread: `--workers 1` is accepted (the contract's option, see
// bench/CONTENDERS.md) and any other count is refused. Prints `LISTENING <port>` once it accepts connections (nothing else on stdout); exits when
// stdin reaches end of file (or on a signal).

const http = require("http");
const path = require("path");

let Server;
try {
  ({ Server } = require(path.join(__dirname, "..", "..", "tests", "node", "node_modules", "socket.io")));
} catch (error) {
  process.stderr.write(`bench/node/server.js: socket.io is not installed; run \`npm ci --prefix tests/node\` (${error.message})\n`);
  process.exit(1);
}

let port = 0;
let redisUrl = null;
let redisKey = null;
const args = process.argv.slice(2);
for (let i = 0; i < args.length; i++) {
  if (args[i] === "--port" && i + 1 < args.length && /^\d+$/.test(args[i + 1])) {
    port = Number(args[++i]);
  } else if (args[i] === "--redis" && i + 1 < args.length) {
    redisUrl = args[++i];
  } else if (args[i] === "--redis-key" && i + 1 < args.length) {
    redisKey = args[++i];
  } else if (args[i] === "--workers" && i + 1 < args.length && args[i + 1] === "1") {
    i++;
  } else if (args[i] === "--workers") {
    process.stderr.write(`bench/node/server.js: Node runs JavaScript on one thread: --workers must be 1, got ${JSON.stringify(args[i + 1])}\n`);
    process.exit(2);
  } else {
    process.stderr.write(`bench/node/server.js: unknown argument ${JSON.stringify(args[i])}\n`);
    process.exit(2);
  }
}

if ((redisUrl === null) !== (redisKey === null)) {
  process.stderr.write("bench/node/server.js: --redis and --redis-key go together\n");
  process.exit(2);
}

const httpServer = http.createServer();
const io = new Server(httpServer);

io.on("connection", (socket) => {
  socket.join("bench");
  socket.on("echo", (arg, ack) => {
    if (typeof ack === "function") ack(arg);
  });
  socket.on("broadcast", (arg) => {
    io.to("bench").emit("tick", arg);
  });
  // Used by the soak (bench/run-soak.sh): join or leave the named room, ack with its name.
  socket.on("join", (room, ack) => {
    if (typeof room === "string") socket.join(room);
    if (typeof ack === "function") ack(room);
  });
  socket.on("leave", (room, ack) => {
    if (typeof room === "string") socket.leave(room);
    if (typeof ack === "function") ack(room);
  });
});

httpServer.on("error", (error) => {
  process.stderr.write(`bench/node/server.js: ${error.message}\n`);
  process.exit(1);
});
// The Redis adapter of `/`, once its clients are connected. It subscribes without waiting:
// the harness waits until Redis counts every node (`PUBSUB NUMSUB <key>-request#/#`).
async function clusterAdapter() {
  const modules = path.join(__dirname, "..", "..", "tests", "node", "node_modules");
  const { createClient } = require(path.join(modules, "redis"));
  const { createAdapter } = require(path.join(modules, "@socket.io", "redis-adapter"));
  const pub = createClient({ url: redisUrl });
  const sub = pub.duplicate();
  pub.on("error", (e) => process.stderr.write(`redis pub: ${e}\n`));
  sub.on("error", (e) => process.stderr.write(`redis sub: ${e}\n`));
  await Promise.all([pub.connect(), sub.connect()]);
  io.adapter(createAdapter(pub, sub, { key: redisKey }));
}

(redisUrl === null ? Promise.resolve() : clusterAdapter()).then(
  () =>
    httpServer.listen(port, "127.0.0.1", () => {
      process.stdout.write(`LISTENING ${httpServer.address().port}\n`);
    }),
  (error) => {
    process.stderr.write(`bench/node/server.js: ${error.stack || error}\n`);
    process.exit(1);
  },
);

process.stdin.on("end", () => process.exit(0));
process.stdin.on("error", () => process.exit(0));
process.stdin.resume();
