"use strict";
// Bad Socket.IO (and Engine.IO message-level) input over a raw WebSocket, one connection per case,
// all cases concurrently. Run against the official server (ref-server.js) and the Rust server,
// both with pingInterval 1000 ms and pingTimeout 500 ms (pings are answered and not recorded);
// the Rust test compares the observations. Usage: node badinput.js <url> [case-name-filter]
//
// Per case, prints {"case", "received": [frames after the open packet, the socket id replaced by
// <sid>], "closed": whether the SERVER closed the WebSocket, "code": its close code or null,
// "sid": the socket id on "/" or null}.
// After the bad frames it sends the probe 421["echo-ack","alive"]: a live connection answers
// 431["alive"]. Observation ends at close, 300 ms after the probe's answer, or after 3 s (5 s for
// the connect-timeout and ping-timeout cases); a
// connection the server kept is then closed normally by us (abruptly in the "abrupt-" cases).

const WebSocket = require("ws");
const c = require("./common");

const [url, filter] = process.argv.slice(2);
const PROBE = '421["echo-ack","alive"]';
const bin = (bytes) => ({ bin: Buffer.from(bytes) });

/** name -> frames to send after the open packet (strings are text frames). */
const CASES = {
  "ok-control": ["40"],
  "event-not-array": ["40", "42{}"],
  "event-bad-json": ["40", '42abc["x"]'],
  "event-truncated-json": ["40", '42["x"'],
  "event-reserved-connect": ["40", '42["connect"]'],
  "event-reserved-disconnecting": ["40", '42["disconnecting"]'],
  "event-reserved-connect-error": ["40", '42["connect_error"]'],
  "event-empty-array": ["40", "42[]"],
  "event-name-object": ["40", "42[{}]"],
  "event-name-number": ["40", '42[1,"x"]'],
  "namespace-not-joined": ["40", '42/custom,["x"]'],
  "duplicate-connect": ["40", "40"],
  "client-connect-error": ["40", '44{"message":"x"}'],
  "unknown-packet-type": ["40", "47"],
  "connect-string-payload": ['40"x"'],
  "connect-array-payload": ["40[1]"],
  "disconnect-with-payload": ["40", '41"x"'],
  "ack-not-array": ["40", "431{}"],
  "unknown-ack-id": ["40", '4399["x"]'],
  "binary-missing-count": ["40", '45-["a",{"_placeholder":true,"num":0}]'],
  "binary-too-many-attachments": ["40", '4511-["a"]'],
  "text-while-attachments-pending": ["40", '451-["a",{"_placeholder":true,"num":0}]', '42["b"]'],
  "unexpected-binary": ["40", bin([1, 2, 3])],
  "placeholder-out-of-range": ["40", '451-["a",{"_placeholder":true,"num":5}]', bin([1])],
  "invalid-namespace": ["40", "40/random,"],
  "invalid-namespace-no-comma": ["40", "40/random"],
  "engine-unknown-type": ["40", "9"],
  "engine-client-ping": ["40", "2"],
  "engine-empty-frame": ["40", ""],
  "no-connect-timeout": [],
  "abrupt-client-tcp-close": ["40"],
  "silent-client-ping-timeout": ["40"],
};

function runCase(name, frames) {
  return new Promise((resolve) => {
    const ws = new WebSocket(`${url.replace(/^http/, "ws")}/socket.io/?EIO=4&transport=websocket`);
    const obs = { case: name, received: [], closed: false, code: null, sid: null };
    let opened = false;
    let finished = false;
    // We end a connection the server kept with a normal close handshake (so the server-side
    // reason is about that, "transport close"), except in the "abrupt-" cases: TCP dropped
    // without a close frame.
    const finish = () => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      if (name.startsWith("abrupt-") || ws.readyState !== WebSocket.OPEN) {
        ws.terminate();
        return resolve(obs);
      }
      ws.close(1000);
      const hard = setTimeout(() => {
        ws.terminate();
        resolve(obs);
      }, 500);
      ws.once("close", () => {
        clearTimeout(hard);
        resolve(obs);
      });
    };
    const slow = name === "no-connect-timeout" || name.startsWith("silent-");
    const timer = setTimeout(finish, slow ? 5000 : 3000);
    // Frames go out one by one; after a CONNECT we wait for the reply (or 2 s), since the
    // server joins the namespace asynchronously.
    const queue = frames.length ? [...frames, PROBE] : [];
    let waiting = null;
    const sendNext = () => {
      while (queue.length && !finished) {
        const f = queue.shift();
        ws.send(typeof f === "string" ? f : f.bin);
        if (typeof f === "string" && f.startsWith("40")) {
          waiting = setTimeout(() => {
            waiting = null;
            sendNext();
          }, 2000);
          return;
        }
      }
    };
    ws.on("message", (data, isBinary) => {
      if (!opened) {
        opened = true;
        sendNext();
        return;
      }
      if (waiting) {
        clearTimeout(waiting);
        waiting = null;
        setImmediate(sendNext);
      }
      let text = isBinary ? { $bin: Buffer.from(data).toString("base64") } : data.toString();
      // Heartbeat: answer pings (servers run with a short pingInterval) and keep them out of the
      // observations, except in the "silent-" cases, which never answer.
      if (text === "2") {
        if (!name.startsWith("silent-")) ws.send("3");
        return;
      }
      if (typeof text === "string") {
        const m = /^40\{"sid":"([^"]+)"/.exec(text);
        if (m && !obs.sid) obs.sid = m[1];
        if (obs.sid) text = text.split(obs.sid).join("<sid>");
        if (text === '431["alive"]' && !name.startsWith("silent-")) setTimeout(finish, 300);
      }
      obs.received.push(text);
    });
    ws.on("close", (code) => {
      if (finished) return; // we ended it
      obs.closed = true;
      clearTimeout(waiting);
      obs.code = code;
      finish();
    });
    ws.on("error", (err) => {
      obs.error = err.message;
    });
  });
}

c.main(async () => {
  const names = Object.keys(CASES).filter((n) => !filter || n.includes(filter));
  const results = await Promise.all(names.map((n) => runCase(n, CASES[n])));
  for (const r of results) c.out(r);
});
