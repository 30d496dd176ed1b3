"use strict";
// The server shuts down while clients are connected (io.close() / Server::shutdown): the clients
// see their connection end (reference: "transport close"). Usage: node shutdown.js <url> <mode> <n>

const { io } = require("socket.io-client");
const c = require("./common");

const [url, mode = "websocket", countArg = "3"] = process.argv.slice(2);

c.main(async () => {
  const sockets = [];
  for (let i = 0; i < Number(countArg); i++) {
    sockets.push(io(url, { forceNew: true, reconnection: false, ...c.transportOptions(mode) }));
  }
  await Promise.all(sockets.map((s) => c.connected(s)));
  c.out({ step: "connected", ids: sockets.map((s) => s.id) });
  // Diagnostics: why a transport failed (HTTP status of a poll, WebSocket error…).
  sockets.forEach((s, i) =>
    s.io.engine.on("close", (reason, details) =>
      c.out({ step: "engine-close", i, reason, description: details && String(details.description), context: details && details.context && { status: details.context.status, responseText: details.context.responseText } }),
    ),
  );
  const reasons = Promise.all(sockets.map((s) => c.once(s, "disconnect", 10000)));
  sockets[0].emit("shutdown-server");
  const got = (await reasons).map(([r]) => r);
  c.out({ step: "disconnected", reasons: got });
  sockets.forEach((s) => s.close());
});
