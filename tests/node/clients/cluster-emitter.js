"use strict";
// Drives a cluster with the OFFICIAL @socket.io/redis-emitter 5.1 (on node-redis 4): runs the
// steps given, in order, then quits (which flushes every publish).
//
// Usage: node clients/cluster-emitter.js '{"redisUrl":"redis://127.0.0.1:6379","key":"socket.io",
//   "steps":[{"op":"emit","nsp":"/","to":["room"],"except":["other"],"volatile":false,
//             "event":"ev","args":[1,"two",{"$bin":"AQID"}]},
//            {"op":"socketsJoin","to":["room"],"rooms":["new"]},
//            {"op":"socketsLeave","to":["room"],"rooms":["old"]},
//            {"op":"disconnectSockets","to":["room"],"close":true},
//            {"op":"serverSideEmit","args":["ping","x"]}]}'
// Arguments written {"$bin": base64} are sent as Buffers. Prints {"steps":<count>,"done":true} at the end.

const { createClient } = require("redis");
const { Emitter } = require("@socket.io/redis-emitter");

const opts = JSON.parse(process.argv[2] || "{}");

function fromDesc(v) {
  if (v === null || typeof v !== "object") return v;
  if (Array.isArray(v)) return v.map(fromDesc);
  if (typeof v.$bin === "string") return Buffer.from(v.$bin, "base64");
  const o = {};
  for (const k of Object.keys(v)) o[k] = fromDesc(v[k]);
  return o;
}

async function main() {
  const client = createClient({ url: opts.redisUrl || "redis://127.0.0.1:6379" });
  await client.connect();
  const root = new Emitter(client, { key: opts.key || "socket.io" });
  let done = 0;
  for (const step of opts.steps || []) {
    let target = step.nsp && step.nsp !== "/" ? root.of(step.nsp) : root;
    let op = target;
    if (step.to && step.to.length) op = op.to(step.to);
    if (step.except && step.except.length) op = op.except(step.except);
    if (step.volatile) op = op.volatile;
    switch (step.op) {
      case "emit":
        op.emit(step.event, ...fromDesc(step.args || []));
        break;
      case "socketsJoin":
        op.socketsJoin(step.rooms);
        break;
      case "socketsLeave":
        op.socketsLeave(step.rooms);
        break;
      case "disconnectSockets":
        op.disconnectSockets(!!step.close);
        break;
      case "serverSideEmit":
        target.serverSideEmit(...fromDesc(step.args || []));
        break;
      default:
        throw new Error(`unknown op ${step.op}`);
    }
    done++;
  }
  await client.quit();
  process.stdout.write(JSON.stringify({ steps: done, done: true }) + "\n");
}

main().catch((e) => {
  process.stderr.write(`cluster-emitter: ${e.stack || e}\n`);
  process.exit(1);
});
