"use strict";
// The test app on the OFFICIAL socket.io 4.8 server: the reference the Rust server is compared
// against, and a way to check the client scripts themselves. It implements the same contract as
// the Rust test app in tests/src/interop.rs (see there). Usage:
//   node ref-server.js '{"recovery":false,"msgpack":false,"eio3":false,"connectTimeout":1000}'
// Prints {"listening":<port>} first, then {"disconnect":<reason>,"nsp":…,"id":…} and
// {"connect":…} lines as things happen. Exits when stdin closes.

const http = require("http");
const { Server } = require("socket.io");
const c = require("./common");

const opts = JSON.parse(process.argv[2] || "{}");
const httpServer = http.createServer();
const io = new Server(httpServer, {
  allowEIO3: !!opts.eio3,
  connectTimeout: opts.connectTimeout || 45000,
  pingInterval: opts.pingInterval || 25000,
  pingTimeout: opts.pingTimeout || 20000,
  parser: opts.msgpack ? require("socket.io-msgpack-parser") : undefined,
  connectionStateRecovery: opts.recovery
    ? { maxDisconnectionDuration: 120000, skipMiddlewares: true }
    : undefined,
});

function setup(nsp) {
  nsp.use((socket, next) => {
    if (socket.handshake.auth && socket.handshake.auth.token === "bad") {
      const err = new Error("unauthorized");
      err.data = { reason: "bad token" };
      return next(err);
    }
    next();
  });
  nsp.on("connection", (socket) => {
    const n = socket.nsp;
    c.out({ connect: n.name, id: socket.id, recovered: socket.recovered });
    socket.emit("welcome", { nsp: n.name, id: socket.id, auth: socket.handshake.auth });
    socket.on("echo", (...args) => socket.emit("echo-back", ...args));
    socket.on("echo-ack", (...args) => {
      const ack = args.pop();
      ack(...args);
    });
    socket.on("no-ack", () => {});
    socket.on("ask", async (v) => {
      const answer = await new Promise((resolve) =>
        socket.timeout(5000).emit("question", v, (err, ...a) => resolve(err ? ["error"] : a)),
      );
      socket.emit("answer", ...answer);
    });
    socket.on("ask-silent", (v) => {
      socket.timeout(300).emit("silent", v, (err) => {
        socket.emit("answer-timeout", { timedOut: !!err });
      });
    });
    socket.on("join", (room, ack) => {
      socket.join(room);
      ack && ack(room);
    });
    socket.on("leave", (room, ack) => {
      socket.leave(room);
      ack && ack(room);
    });
    socket.on("to-room", ({ room, msg }, ack) => {
      n.to(room).emit("room-msg", msg);
      n.emit("sentinel", msg);
      ack && ack();
    });
    socket.on("poll-room", ({ room, ms }, ack) => {
      n.to(room)
        .timeout(ms)
        .emit("poll", (err, answers) => ack({ complete: !err, answers }));
    });
    socket.on("except-room", ({ room, msg }) => {
      n.except(room).emit("except-msg", msg);
      n.emit("sentinel", msg);
    });
    socket.on("broadcast", (msg) => {
      socket.broadcast.emit("broadcast-msg", msg);
      n.emit("sentinel", msg);
    });
    socket.on("volatile", (msg) => {
      n.volatile.emit("volatile-msg", msg);
      n.emit("sentinel", msg);
    });
    socket.on("kick-me", () => socket.disconnect());
    socket.on("shutdown-server", () => io.close());
    socket.on("drop-me", () => socket.conn.close());
    socket.on("disconnect", (reason) => c.out({ disconnect: reason, nsp: n.name, id: socket.id }));
  });
}

setup(io.of("/"));
setup(io.of("/custom"));
setup(io.of(/^\/dyn-\d+$/));

httpServer.listen(0, "127.0.0.1", () => c.out({ listening: httpServer.address().port }));
process.stdin.resume();
process.stdin.on("end", () => process.exit(0));
