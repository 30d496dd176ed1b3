#!/usr/bin/env node
"use strict";
// Times Node's reference codecs on the exact inputs of the Rust `compare` bench.
//
//   node bench/node/codec-bench.js <fixtures.json> [--quick]
//
// <fixtures.json> is written by `cargo bench -p socketio-bench --bench compare -- fixtures <path>`
// (bash bench/run-codec.sh does both). Prints JSON: { node, packages, results: [{case, codec,
// op, impl: "node", ns}] } with the median ns/op over several timed batches, after a warm-up
// long enough for the JIT to settle.
//
// The packages are the pinned ones of tests/node (package-lock.json); run `npm ci` there first.

const assert = require("assert");
const fs = require("fs");
const path = require("path");
const { createRequire } = require("module");

const nodeDir = path.resolve(__dirname, "../../tests/node");
const load = createRequire(path.join(nodeDir, "package.json"));
const eio = load("engine.io-parser");
const sio = load("socket.io-parser");
const msgpackParser = load("socket.io-msgpack-parser");

const args = process.argv.slice(2);
const quick = args.includes("--quick");
const fixturesPath = args.find((a) => !a.startsWith("--"));
if (!fixturesPath) {
  console.error("usage: node bench/node/codec-bench.js <fixtures.json> [--quick]");
  process.exit(2);
}
const fixtures = JSON.parse(fs.readFileSync(fixturesPath, "utf8"));

const BATCH_NS = quick ? 2e6 : 20e6; // target batch length: 2 ms / 20 ms
const ROUNDS = quick ? 3 : 15;
const WARMUP_NS = quick ? 20e6 : 300e6;

let sink = 0; // every result feeds this so no work is optimized away

function timeBatch(fn, iters) {
  const start = process.hrtime.bigint();
  for (let i = 0; i < iters; i++) sink ^= fn();
  return Number(process.hrtime.bigint() - start);
}

function measure(fn) {
  // Warm up (JIT tiers) while finding how many iterations fill a batch.
  let iters = 1;
  let spent = 0;
  for (;;) {
    const elapsed = timeBatch(fn, iters);
    spent += elapsed;
    if (elapsed >= BATCH_NS / 4 && spent >= WARMUP_NS) {
      iters = Math.max(1, Math.round((iters * BATCH_NS) / elapsed));
      break;
    }
    if (elapsed < BATCH_NS / 4) iters *= 2;
  }
  const samples = [];
  for (let r = 0; r < ROUNDS; r++) samples.push(timeBatch(fn, iters) / iters);
  samples.sort((a, b) => a - b);
  const mid = samples.length >> 1;
  return samples.length % 2 ? samples[mid] : (samples[mid - 1] + samples[mid]) / 2;
}

const fromB64 = (s) => Buffer.from(s, "base64");

/** The event array: the JSON of the common wire text, placeholders swapped for attachments. */
function eventData(fixture) {
  const bins = fixture.attachments.map(fromB64);
  const data = JSON.parse(fixture.text.slice(fixture.text.indexOf("[")));
  return data.map((item) =>
    item && typeof item === "object" && item._placeholder === true ? bins[item.num] : item,
  );
}

const results = [];
function record(caseName, codec, op, ns) {
  results.push({ case: caseName, codec, op, impl: "node", ns });
  console.error(`${caseName}/${codec}/${op}`.padEnd(28) + ` node ${ns.toFixed(1)} ns`);
}

// --- Socket.IO common parser (socket.io-parser) and msgpack parser --------------------------

for (const caseName of ["a", "b", "c"]) {
  const fixture = fixtures[caseName];
  const data = eventData(fixture);
  const attachments = fixture.attachments.map(fromB64);

  // common: encode
  const encoder = new sio.Encoder();
  const encoded = encoder.encode({ type: sio.PacketType.EVENT, nsp: "/", data });
  assert.strictEqual(encoded[0], fixture.text, `(${caseName}) socket.io-parser output`);
  assert.deepStrictEqual(encoded.slice(1), attachments);
  record(
    caseName,
    "common",
    "encode",
    measure(() => encoder.encode({ type: sio.PacketType.EVENT, nsp: "/", data }).length),
  );

  // common: decode (one decoder per connection, as in socket.io; attachments follow the text)
  const decoder = new sio.Decoder();
  let decoded = null;
  decoder.on("decoded", (packet) => {
    decoded = packet;
  });
  const decodeOnce = () => {
    decoded = null;
    decoder.add(fixture.text);
    for (const bin of attachments) decoder.add(bin);
    return decoded.data.length;
  };
  decodeOnce();
  assert.deepStrictEqual(decoded.data, data, `(${caseName}) socket.io-parser decode`);
  record(caseName, "common", "decode", measure(decodeOnce));

  // msgpack: encode
  const mpEncoder = new msgpackParser.Encoder();
  const mpPacket = () => ({ type: 2, data, nsp: "/" });
  {
    const check = new msgpackParser.Decoder();
    let roundTrip = null;
    check.on("decoded", (packet) => {
      roundTrip = packet;
    });
    check.add(mpEncoder.encode(mpPacket())[0]);
    assert.deepStrictEqual(roundTrip.data, data, `(${caseName}) socket.io-msgpack-parser round trip`);
  }
  record(caseName, "msgpack", "encode", measure(() => mpEncoder.encode(mpPacket())[0].length));

  // msgpack: decode (the bytes every Rust decoder reads too)
  const mpDecoder = new msgpackParser.Decoder();
  let mpDecoded = null;
  mpDecoder.on("decoded", (packet) => {
    mpDecoded = packet;
  });
  const wire = fromB64(fixture.msgpack);
  const mpDecodeOnce = () => {
    mpDecoder.add(wire);
    return mpDecoded.data.length;
  };
  mpDecodeOnce();
  assert.deepStrictEqual(mpDecoded.data, data, `(${caseName}) socket.io-msgpack-parser decode`);
  record(caseName, "msgpack", "decode", measure(mpDecodeOnce));
}

// --- Engine.IO v4 polling payload (engine.io-parser) -----------------------------------------

{
  const fixture = fixtures.d;
  const packets = fixture.packets.map((p) =>
    p.binary !== undefined ? { type: p.type, data: fromB64(p.binary) } : { type: p.type, data: p.data },
  );
  let out = null;
  const encodeOnce = () => {
    eio.encodePayload(packets, (payload) => {
      out = payload;
    });
    return out.length;
  };
  encodeOnce();
  assert.strictEqual(out, fixture.payload, "(d) engine.io-parser encodePayload");
  record("d", "engine", "encode", measure(encodeOnce));

  const decodedPackets = eio.decodePayload(fixture.payload, "nodebuffer");
  assert.strictEqual(decodedPackets.length, 10);
  assert.deepStrictEqual(decodedPackets[9].data, packets[9].data);
  record("d", "engine", "decode", measure(() => eio.decodePayload(fixture.payload, "nodebuffer").length));
}

const version = (name) =>
  JSON.parse(fs.readFileSync(path.join(nodeDir, "node_modules", name, "package.json"), "utf8")).version;
process.stdout.write(
  JSON.stringify(
    {
      node: process.version,
      packages: ["socket.io-parser", "socket.io-msgpack-parser", "engine.io-parser"].map((n) => [
        n,
        version(n),
      ]),
      results,
      sink,
    },
    null,
    2,
  ) + "\n",
);
