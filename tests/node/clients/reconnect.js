"use strict";
// Reconnection after the server drops the transport (`socket.conn.close()` on the server):
// the client sees "transport close", reconnects on its own with a fresh session, and works.
// Usage: node reconnect.js <url> <polling|websocket|upgrade>

const { io } = require("socket.io-client");
const c = require("./common");

const [url, mode = "websocket"] = process.argv.slice(2);

c.main(async () => {
  const socket = io(url, {
    forceNew: true,
    reconnectionDelay: 100,
    reconnectionDelayMax: 200,
    randomizationFactor: 0,
    ...c.transportOptions(mode),
  });
  await c.connected(socket);
  const firstId = socket.id;
  c.out({ step: "connect", id: firstId });
  const disc = c.once(socket, "disconnect");
  socket.emit("drop-me");
  const [reason] = await disc;
  c.out({ step: "dropped", reason, id: firstId });
  c.same(reason, "transport close", "client reason when the server drops the transport");
  const welcome = c.once(socket, "welcome", 5000);
  await c.connected(socket, 5000);
  await welcome;
  c.assert(socket.id !== firstId, "a fresh session after reconnection");
  c.out({ step: "reconnected", id: socket.id });
  const back = c.once(socket, "echo-back");
  socket.emit("echo", "after reconnect");
  c.same(await back, ["after reconnect"], "echo after reconnection");
  socket.close();
});
