#!/usr/bin/env node
"use strict";
// Regenerates tests/data/corpus/*.json from the official JavaScript codecs (pinned in
// package-lock.json). Deterministic: no randomness beyond a fixed-seed PRNG.
//
//   node tests/node/gen-corpus.js            (after `npm ci --prefix tests/node`)
//   npm --prefix tests/node run corpus
//   node tests/node/gen-corpus.js --out <dir>   (write elsewhere; used to check freshness)
//
// Every valid vector is produced by the JS encoder and checked to decode back to its
// description with the JS decoder; every invalid vector is checked to be rejected.

const assert = require("assert");
const fs = require("fs");
const path = require("path");
const lib = require("./lib.js");
const { toDesc, fromDesc, key, assertNoEscapeCollision } = lib;

// `--out <dir>` writes elsewhere (the Rust test that checks the committed corpus is current).
const OUT_FLAG = process.argv.indexOf("--out");
const OUT_DIR =
  OUT_FLAG >= 0 && process.argv[OUT_FLAG + 1]
    ? path.resolve(process.argv[OUT_FLAG + 1])
    : path.resolve(__dirname, "..", "data", "corpus");

// ---------------------------------------------------------------------------------------------
// Deterministic test data
// ---------------------------------------------------------------------------------------------

// xorshift32 with a fixed seed.
let seed = 0x9e3779b9;
function rand() {
  seed ^= seed << 13;
  seed >>>= 0;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  seed >>>= 0;
  return seed;
}
function bytes(n) {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = rand() & 0xff;
  return b;
}
function seq(n) {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = i & 0xff;
  return b;
}

const STRINGS = [
  ["ascii", "hello"],
  ["empty", ""],
  ["space", " "],
  ["latin1-e-acute", "é"],
  ["euro-3-bytes", "€"],
  ["cjk", "日本語"],
  ["emoji-surrogate-pair", "😀"],
  ["emoji-mixed", "a😀b€c"],
  ["zwj-family", "👨‍👩‍👧"],
  ["max-scalar", "\u{10FFFF}"],
  ["noncharacter-ffff", "\uFFFF"],
  ["bom", "\uFEFFbom"],
  ["nul", "\u0000"],
  ["control-chars", "\u0001\u0002\u001f"],
  ["del", "\u007f"],
  ["quotes", 'say "hi"'],
  ["backslash", "back\\slash"],
  ["short-escapes", "\b\f\n\r\t"],
  ["line-separators", "\u2028\u2029"],
  ["html", "</script><!--"],
  ["slash", "a/b"],
  ["record-separator", "a\u001eb"],
  ["colon-digits", "12:34"],
  ["long-1000", "x".repeat(1000)],
  ["long-mixed", "é😀€a".repeat(100)],
  ["json-looking", '["not","json"]'],
  ["placeholder-text", '{"_placeholder":true,"num":0}'],
];

const NUMBERS = [
  ["zero", 0],
  ["one", 1],
  ["minus-one", -1],
  ["int-42", 42],
  ["int-2e31", 2147483648],
  ["int-2e32", 4294967296],
  ["max-safe", 9007199254740991],
  ["min-safe", -9007199254740991],
  ["two-pow-53", 9007199254740992],
  ["two-pow-63", 9223372036854775808],
  ["minus-two-pow-63", -9223372036854775808],
  ["two-pow-64", 18446744073709551616],
  ["tenth", 0.1],
  ["point-three", 0.1 + 0.2],
  ["minus-half", -0.5],
  ["one-and-half", 1.5],
  ["pi", Math.PI],
  ["1e20", 1e20],
  ["1e21", 1e21],
  ["1e100", 1e100],
  ["1e-6", 1e-6],
  ["1e-7", 1e-7],
  ["123e-20", 123e-20],
  ["min-subnormal", 5e-324],
  ["max-double", Number.MAX_VALUE],
  ["negative-zero", -0],
  ["1.5e300", -1.5e300],
];

// Nested `depth` arrays: [[[...[1]...]]]
function nestedArrays(depth) {
  let v = 1;
  for (let i = 0; i < depth; i++) v = [v];
  return v;
}
function nestedObjects(depth) {
  let v = "leaf";
  for (let i = 0; i < depth; i++) v = { k: v };
  return v;
}

const NESTED = [
  ["empty-array", []],
  ["empty-object", {}],
  ["null", null],
  ["true", true],
  ["false", false],
  ["array-of-empties", [[], {}, "", 0, null]],
  ["key-order-kept", { b: 1, a: 2, c: { z: 1, y: 2 } }],
  ["numeric-keys-sorted-by-js", { 2: "b", 1: "a", x: "x" }],
  ["unicode-keys", { "é": 1, "日本": 2, "😀": 3 }],
  ["escaped-keys", { 'q"uote': 1, "back\\slash": 2, "nl\n": 3, "": 4 }],
  ["mixed", { user: { id: 1, name: "Zoë", tags: ["a", "b"], active: true, score: 9.5, extra: null } }],
  ["nested-arrays-10", nestedArrays(10)],
  ["nested-arrays-100", nestedArrays(100)],
  ["nested-objects-50", nestedObjects(50)],
  ["array-1000-ints", Array.from({ length: 1000 }, (_, i) => i)],
  ["array-1000-strings", Array.from({ length: 1000 }, (_, i) => `s${i}`)],
  ["array-of-objects", Array.from({ length: 20 }, (_, i) => ({ i, even: i % 2 === 0 }))],
  ["dollar-keys", { $bin: 1, other: 2 }],
  ["placeholder-lookalike-false", { _placeholder: false, num: 0 }],
];

// ---------------------------------------------------------------------------------------------
// Vector bookkeeping
// ---------------------------------------------------------------------------------------------

function makeList(file) {
  const list = [];
  const names = new Set();
  list.add = (v) => {
    assert(!names.has(v.name), `${file}: duplicate vector name ${v.name}`);
    names.add(v.name);
    list.push(v);
  };
  return list;
}

function writeCorpus(file, header, sections) {
  // One vector per line: reviewable diffs, still plain JSON.
  let out = "{\n";
  const headerKeys = Object.keys(header);
  headerKeys.forEach((k) => {
    out += `  ${JSON.stringify(k)}: ${JSON.stringify(header[k])},\n`;
  });
  const sectionKeys = Object.keys(sections);
  sectionKeys.forEach((k, i) => {
    const vs = sections[k];
    out += `  ${JSON.stringify(k)}: [\n`;
    out += vs.map((v) => "    " + JSON.stringify(v)).join(",\n");
    out += `\n  ]${i + 1 < sectionKeys.length ? "," : ""}\n`;
  });
  out += "}\n";
  JSON.parse(out);
  fs.writeFileSync(path.join(OUT_DIR, file), out);
  const counts = sectionKeys.map((k) => `${k}=${sections[k].length}`).join(" ");
  console.log(`${file}: ${counts}`);
  return sectionKeys.reduce((n, k) => n + sections[k].length, 0);
}

const HEADER_NOTE =
  "Generated by tests/node/gen-corpus.js from the official JS codecs; do not edit. " +
  "Format: tests/data/corpus/README.md";

// ---------------------------------------------------------------------------------------------
// Engine.IO
// ---------------------------------------------------------------------------------------------

const OPEN_V4 =
  '{"sid":"lv_VI97HAXpY6yYWAAAC","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}';
const OPEN_V4_WS =
  '{"sid":"Y2QwZDk0NDQtNzE5NCw","upgrades":[],"pingInterval":300,"pingTimeout":200,"maxPayload":1000000}';
const OPEN_V3 = '{"sid":"AAAAAAAAAAAAAAAAAAAA","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":5000}';

function engineTextPackets(version) {
  const ps = [
    ["open", { type: "open", data: version === 4 ? OPEN_V4 : OPEN_V3 }],
    ["close", { type: "close" }],
    ["ping", { type: "ping" }],
    ["pong", { type: "pong" }],
    ["ping-probe", { type: "ping", data: "probe" }],
    ["pong-probe", { type: "pong", data: "probe" }],
    ["upgrade", { type: "upgrade" }],
    ["noop", { type: "noop" }],
  ];
  if (version === 4) ps.push(["open-websocket", { type: "open", data: OPEN_V4_WS }]);
  for (const [n, s] of STRINGS) ps.push([`message-${n}`, { type: "message", data: s }]);
  ps.push(["message-socketio-event", { type: "message", data: '2["hello","world"]' }]);
  ps.push(["message-digits", { type: "message", data: "42" }]);
  ps.push(["message-b-prefix", { type: "message", data: "bAQID" }]);
  return ps;
}

const BINARIES = [
  ["empty", Buffer.alloc(0)],
  ["one-zero-byte", Buffer.from([0])],
  ["four-bytes", Buffer.from([1, 2, 3, 4])],
  ["all-bytes", seq(256)],
  ["ff", Buffer.from([0xff])],
  ["text-like", Buffer.from("4hello")],
  ["random-1000", bytes(1000)],
  ["one-byte-b64-pad2", Buffer.from([0xfb])],
  ["two-bytes-b64-pad1", Buffer.from([0xfb, 0xff])],
];

function genEngine(version) {
  const E = lib.engine[version];
  const packets = makeList(`engine-v${version}`);
  const payloads = makeList(`engine-v${version}`);

  const addPacket = (name, input) => {
    const encoded = E.encodePacket(input, true);
    const encodedB64 = E.encodePacket(input, false);
    const dec = E.decodePacket(encoded);
    assert(dec.ok, `${name}: JS cannot decode its own output`);
    const dec64 = E.decodePacket(encodedB64);
    assert(dec64.ok && key(dec64.packet) === key(dec.packet), `${name}: b64 form disagrees`);
    // The description is what the JS decoder returns; it must encode back to the same bytes.
    const again = E.encodePacket(dec.packet, true);
    assert.deepStrictEqual(lib.wireToDesc(again), lib.wireToDesc(encoded), `${name}: not canonical`);
    const v = { name, packet: dec.packet, encoded: lib.wireToDesc(encoded) };
    if (typeof encoded !== "string") v.encoded_b64 = encodedB64;
    packets.add(v);
  };

  for (const [n, p] of engineTextPackets(version)) addPacket(n, p);
  for (const [n, b] of BINARIES) addPacket(`binary-${n}`, { type: "message", data: toDesc(b) });
  // (engine.io-parser 2.x would also put binary data on a non-message packet, type byte first;
  // no client or server ever sends that, so it is left out.)

  const invalidPacket = (name, encoded) => {
    const wire = lib.wireFromDesc(encoded);
    assert(!E.decodePacket(wire).ok, `${name}: JS accepts it`);
    packets.add({ name, valid: false, encoded });
  };
  invalidPacket("invalid-empty", "");
  invalidPacket("invalid-type-7", "7");
  invalidPacket("invalid-type-9-data", "9hello");
  invalidPacket("invalid-type-letter", "xhello");
  invalidPacket("invalid-type-minus", "-1");
  if (version === 3) {
    invalidPacket("invalid-binary-type-7", { $bin: Buffer.from([7, 1, 2]).toString("base64") });
    invalidPacket("invalid-binary-type-255", { $bin: Buffer.from([255]).toString("base64") });
  }

  // Payloads.
  const msg = (data) => ({ type: "message", data });
  const bin = (b) => ({ type: "message", data: toDesc(b) });
  const payloadSets = [
    ["single-message", [msg("hello")]],
    ["two-messages", [msg("hello"), msg("world")]],
    ["open", [{ type: "open", data: version === 4 ? OPEN_V4 : OPEN_V3 }]],
    ["ping", [{ type: "ping" }]],
    ["pong", [{ type: "pong" }]],
    ["close", [{ type: "close" }]],
    ["noop", [{ type: "noop" }]],
    ["ping-pong-noop", [{ type: "ping" }, { type: "pong" }, { type: "noop" }]],
    ["empty-message-alone", [msg("")]],
    ["empty-message-between", [msg("a"), msg(""), msg("b")]],
    ["unicode-e-acute", [msg("é")]],
    ["unicode-euro", [msg("€")]],
    ["unicode-emoji", [msg("😀")]],
    ["unicode-mixed-lengths", [msg("a😀b€c"), msg("日本語"), msg("👨‍👩‍👧")]],
    ["unicode-max-scalar", [msg("\u{10FFFF}")]],
    ["contains-digits-colon", [msg("12:34"), msg("5:")]],
    ["contains-record-separator-free", [msg("a,b;c")]],
    ["socketio-packets", [msg('0{"sid":"abc"}'), msg('2["hello",1]'), msg('3["ack"]')]],
    ["long-message", [msg("y".repeat(5000))]],
    ["ten-messages", Array.from({ length: 10 }, (_, i) => msg(`m${i}`))],
    ["binary-only", [bin(Buffer.from([1, 2, 3, 4]))]],
    ["binary-empty", [bin(Buffer.alloc(0))]],
    ["binary-all-bytes", [bin(seq(256))]],
    ["binary-then-text", [bin(Buffer.from([1, 2, 3])), msg("hello")]],
    ["text-then-binary", [msg("hello"), bin(Buffer.from([0xff, 0xfe]))]],
    ["binary-pad-variants", [bin(Buffer.from([1])), bin(Buffer.from([1, 2])), bin(Buffer.from([1, 2, 3]))]],
    ["socketio-binary-event", [msg('51-["bin",{"_placeholder":true,"num":0}]'), bin(Buffer.from([1, 2, 3, 4]))]],
    ["mixed-long", [msg("é😀".repeat(300)), bin(bytes(500)), msg("end")]],
  ];
  if (version === 3) {
    payloadSets.push(["no-packets", []]);
    payloadSets.push(["ten-char-length", [msg("123456789")]]);
    payloadSets.push(["hundred-char-length", [msg("z".repeat(99))]]);
  }
  if (version === 4) {
    payloadSets.push(["record-separator-inside-text-is-impossible-so-split", [msg("a"), msg("b")]]);
  }

  for (const [name, descs] of payloadSets) {
    const encoded = E.encodePayload(descs);
    const dec = E.decodePayload(encoded);
    assert(dec.ok, `payload ${name}: JS cannot decode its own output`);
    const v = { name, packets: dec.packets, encoded: lib.wireToDesc(encoded) };
    assert.strictEqual(lib.wireToDesc(E.encodePayload(dec.packets)), v.encoded, `payload ${name}: not canonical`);
    if (version === 3) {
      const asBin = E.encodePayloadAsBinary(descs);
      const decBin = E.decodePayload(asBin);
      assert(decBin.ok && key(decBin.packets) === key(dec.packets), `payload ${name}: binary form disagrees`);
      v.encoded_binary = lib.wireToDesc(asBin);
    }
    payloads.add(v);
  }

  const invalidPayload = (name, encoded) => {
    const dec = E.decodePayload(lib.wireFromDesc(encoded));
    assert(!dec.ok, `payload ${name}: JS accepts it`);
    const field = typeof encoded === "string" ? "encoded" : "encoded_binary";
    payloads.add({ name, valid: false, [field]: encoded, packets_before_error: dec.packets });
  };
  if (version === 4) {
    invalidPayload("invalid-empty", "");
    invalidPayload("invalid-unknown-type", "7");
    invalidPayload("invalid-second-packet", "4hello\u001e9bad\u001e4never");
    invalidPayload("invalid-trailing-separator", "4hello\u001e");
    invalidPayload("invalid-leading-separator", "\u001e4hello");
  } else {
    invalidPayload("invalid-empty", "");
    invalidPayload("invalid-no-length", "4hello");
    invalidPayload("invalid-length-too-long", "9:4hello");
    invalidPayload("invalid-length-too-short-then-garbage", "3:4hello");
    invalidPayload("invalid-length-not-number", "a:4hello");
    invalidPayload("invalid-unknown-type", "2:7x");
    invalidPayload("invalid-second-packet", "6:4hello2:9x");
    invalidPayload("invalid-trailing-length", "6:4hello3");
    invalidPayload("invalid-utf8-length-used", "5:4€");
    invalidPayload("invalid-binary-unknown-text-type", { $bin: Buffer.from([0, 1, 255, 0x37]).toString("base64") });
  }

  const header = {
    format: `engine-v${version}`,
    note: HEADER_NOTE,
    codec: version === 4 ? "engine.io-parser (Engine.IO v4)" : "engine.io-parser-v3 (Engine.IO v3)",
    versions: lib.versions(),
  };
  return writeCorpus(`engine-v${version}.json`, header, { packets, payloads });
}

// ---------------------------------------------------------------------------------------------
// Socket.IO packets (common parser and msgpack share the packet list)
// ---------------------------------------------------------------------------------------------

const CONNECT = 0;
const DISCONNECT = 1;
const EVENT = 2;
const ACK = 3;
const CONNECT_ERROR = 4;

function P(type, nsp, data, id) {
  const p = { type, nsp };
  if (id !== undefined) p.id = id;
  if (data !== undefined) p.data = data;
  return p;
}
const B = (b) => b; // binary values stay Buffers until toDesc

const NAMESPACES = [
  ["root", "/"],
  ["custom", "/custom"],
  ["admin", "/admin"],
  ["nested-path", "/a/b/c"],
  ["punct", "/a-b_c.d~e"],
  ["unicode", "/ñandú"],
  ["cjk", "/日本"],
  ["emoji", "/😀"],
  ["digits", "/123"],
];

const ACK_IDS = [
  ["0", 0],
  ["1", 1],
  ["9", 9],
  ["10", 10],
  ["12345", 12345],
  ["2e31", 2147483648],
  ["2e32", 4294967296],
  ["max-safe", 9007199254740991],
];

/** Packets valid in Socket.IO v5 and in the msgpack parser (binary kept as Buffers). */
function socketPacketsV5(forMsgpack) {
  const ps = [];
  const add = (name, p) => ps.push([name, p]);

  // CONNECT
  add("connect-root", P(CONNECT, "/"));
  add("connect-root-auth", P(CONNECT, "/", { token: "abc" }));
  add("connect-root-empty-auth", P(CONNECT, "/", {}));
  add("connect-reply", P(CONNECT, "/", { sid: "oSO0OpakMV_3jnilAAAA" }));
  add("connect-reply-pid", P(CONNECT, "/", { sid: "oSO0OpakMV_3jnilAAAA", pid: "cQm9pTtbOe9nGiISAAAB" }));
  add("connect-recovery-auth", P(CONNECT, "/", { pid: "cQm9pTtbOe9nGiISAAAB", offset: "MzUPkW0", token: "t" }));
  add("connect-auth-unicode", P(CONNECT, "/", { user: "Zoë 😀", n: 1.5, list: [1, "two", null] }));
  for (const [n, nsp] of NAMESPACES.slice(1)) {
    add(`connect-nsp-${n}`, P(CONNECT, nsp));
    add(`connect-nsp-${n}-auth`, P(CONNECT, nsp, { token: "abc" }));
  }
  add("connect-reply-custom", P(CONNECT, "/custom", { sid: "kEDAGzxXrJ3LKdU2AAAC" }));

  // DISCONNECT
  for (const [n, nsp] of NAMESPACES) add(`disconnect-${n}`, P(DISCONNECT, nsp));

  // CONNECT_ERROR
  add("connect-error-invalid-namespace", P(CONNECT_ERROR, "/random", { message: "Invalid namespace" }));
  add("connect-error-root", P(CONNECT_ERROR, "/", { message: "Not authorized" }));
  add("connect-error-data", P(CONNECT_ERROR, "/", { message: "refused", data: { reason: "banned", until: 1700000000000 } }));
  add("connect-error-unicode", P(CONNECT_ERROR, "/日本", { message: "désolé 😀" }));
  add("connect-error-string", P(CONNECT_ERROR, "/", "plain string error"));

  // EVENT basics
  add("event-name-only", P(EVENT, "/", ["hello"]));
  add("event-one-arg", P(EVENT, "/", ["hello", "world"]));
  add("event-many-args", P(EVENT, "/", ["multi", 1, "two", { three: 3 }, [4], null, true, false]));
  add("event-numeric-name", P(EVENT, "/", [1, "a"]));
  add("event-empty-name", P(EVENT, "/", [""]));
  add("event-unicode-name", P(EVENT, "/", ["événement 😀", 1]));
  add("event-name-like-reserved-suffix", P(EVENT, "/", ["connected"]));
  for (const [n, nsp] of NAMESPACES.slice(1)) add(`event-nsp-${n}`, P(EVENT, nsp, ["hello", 1]));
  for (const [n, id] of ACK_IDS) add(`event-ack-id-${n}`, P(EVENT, "/", ["with-ack", "x"], id));
  add("event-nsp-and-id", P(EVENT, "/admin", ["hi"], 42));
  add("event-unicode-nsp-and-id", P(EVENT, "/😀", ["hi"], 7));
  for (const [n, s] of STRINGS) add(`event-string-${n}`, P(EVENT, "/", ["s", s]));
  for (const [n, x] of NUMBERS) {
    if (forMsgpack && Math.abs(x) >= 2 ** 63) continue; // notepack mangles integers >= 2^63
    add(`event-number-${n}`, P(EVENT, "/", ["n", x]));
  }
  for (const [n, v] of NESTED) add(`event-data-${n}`, P(EVENT, "/", ["d", v]));
  add("event-1000-args", P(EVENT, "/", ["many", ...Array.from({ length: 999 }, (_, i) => i % 7)]));

  // ACK
  add("ack-empty", P(ACK, "/", [], 0));
  add("ack-null", P(ACK, "/", [null], 1));
  add("ack-args", P(ACK, "/", ["ok", { done: true }], 2));
  add("ack-nsp", P(ACK, "/custom", ["ok"], 3));
  add("ack-unicode-nsp", P(ACK, "/ñandú", ["ü"], 4));
  for (const [n, id] of ACK_IDS) add(`ack-id-${n}`, P(ACK, "/", ["r"], id));
  add("ack-nested", P(ACK, "/", [nestedArrays(20), nestedObjects(20)], 5));
  add("ack-big-array", P(ACK, "/", [Array.from({ length: 1000 }, (_, i) => `v${i}`)], 6));

  // Binary
  const b4 = Buffer.from([1, 2, 3, 4]);
  add("binary-event-top-level", P(EVENT, "/", ["bin", B(b4)]));
  add("binary-event-empty-buffer", P(EVENT, "/", ["bin", B(Buffer.alloc(0))]));
  add("binary-event-all-bytes", P(EVENT, "/", ["bin", B(seq(256))]));
  add("binary-event-large", P(EVENT, "/", ["bin", B(bytes(5000))]));
  add("binary-event-in-object", P(EVENT, "/", ["bin", { a: 1, file: B(b4), b: "x" }]));
  add("binary-event-in-array", P(EVENT, "/", ["bin", [1, B(b4), 3]]));
  add("binary-event-deep", P(EVENT, "/", ["bin", { l1: { l2: [{ l3: [[B(b4)]] }] } }]));
  add("binary-event-several", P(EVENT, "/", ["bin", B(Buffer.from([1])), { x: B(Buffer.from([2, 2])) }, [B(Buffer.from([3, 3, 3]))]]));
  add("binary-event-order-depth-first", P(EVENT, "/", ["bin", { a: [B(Buffer.from([0])), { b: B(Buffer.from([1])) }], c: B(Buffer.from([2])) }, B(Buffer.from([3]))]));
  add("binary-event-ten-buffers", P(EVENT, "/", ["bin", ...Array.from({ length: 10 }, (_, i) => B(Buffer.from([i])))]));
  add("binary-event-same-content-twice", P(EVENT, "/", ["bin", B(b4), B(b4)]));
  add("binary-event-with-id", P(EVENT, "/", ["bin", B(b4)], 15));
  add("binary-event-nsp", P(EVENT, "/custom", ["bin", B(b4)]));
  add("binary-event-nsp-and-id", P(EVENT, "/custom", ["bin", B(b4)], 9007199254740991));
  add("binary-event-unicode", P(EVENT, "/ñandú", ["é😀", B(b4), "€"]));
  add("binary-event-with-placeholder-lookalike", P(EVENT, "/", ["bin", { _placeholder: false, num: 0 }, B(b4)]));
  add("binary-ack-top-level", P(ACK, "/", [B(b4)], 0));
  add("binary-ack-nested", P(ACK, "/", [{ data: [B(b4), B(Buffer.alloc(0))] }], 1));
  add("binary-ack-nsp", P(ACK, "/admin", ["ok", B(seq(10))], 77));
  return ps;
}

function genSocketV5() {
  const C = lib.socket[5];
  const vectors = makeList("socket-v5");
  const addValid = (name, p) => {
    assertNoEscapeCollision(p.data, name);
    const desc = toDesc(p);
    const encoded = C.encode(desc);
    const dec = C.decode(encoded);
    assert(dec.ok, `${name}: JS cannot decode its own output: ${dec.error}`);
    assert.strictEqual(key(dec.packet), key(desc), `${name}: does not round-trip`);
    vectors.add({ name, packet: desc, encoded });
  };
  for (const [name, p] of socketPacketsV5(false)) addValid(name, p);

  // Decode-only: inputs other encoders produce; `canonical` is what the JS encoder writes.
  const addDecodeOnly = (name, encoded, note) => {
    const dec = C.decode(encoded);
    assert(dec.ok, `${name}: JS rejects it: ${dec.error}`);
    const canonical = C.encode(dec.packet);
    assert.notDeepStrictEqual(canonical, encoded, `${name}: already canonical`);
    vectors.add({ name, decode_only: true, packet: dec.packet, encoded, canonical, note });
  };
  addDecodeOnly("decode-connect-nsp-without-comma", ["0/custom"], "namespace runs to the end of input");
  addDecodeOnly("decode-disconnect-nsp-without-comma", ["1/custom"], "DISCONNECT, namespace to the end");
  addDecodeOnly("decode-json-unicode-escapes", ['2["\\u00e9\\u20ac\\ud83d\\ude00"]'], "python-socketio style \\u escapes");
  addDecodeOnly("decode-json-whitespace", ['2[ "a" , { "b" : 1 } ]'], "insignificant whitespace");
  addDecodeOnly("decode-json-escaped-slash", ['2["a\\/b"]'], "\\/ escape");
  addDecodeOnly("decode-json-number-forms", ['2["n",1.0,1E3,-0.0,1e+2,0.5e-1]'], "non-shortest number forms");
  addDecodeOnly("decode-json-uppercase-unicode-escape", ['2["\\u00C9"]'], "uppercase hex escape");
  addDecodeOnly("decode-ack-id-leading-zero", ['3007["x"]'], "ack id digits are read as a number");

  const invalid = (name, encoded) => {
    const dec = C.decode(encoded);
    assert(!dec.ok, `${name}: JS accepts it`);
    vectors.add({ name, valid: false, encoded, error: dec.error });
  };
  const ph = (n) => `{"_placeholder":true,"num":${n}}`;
  const bin1 = { $bin: "AQIDBA==" };
  invalid("invalid-event-object", ["2{}"]);
  invalid("invalid-event-garbage-before-json", ['2abc["x"]']);
  invalid("invalid-event-empty-array", ["2[]"]);
  invalid("invalid-event-string-payload", ['2"hello"']);
  invalid("invalid-event-name-object", ["2[{}]"]);
  invalid("invalid-event-name-null", ["2[null]"]);
  invalid("invalid-event-name-array", ['2[["x"]]']);
  invalid("invalid-event-name-bool", ["2[true]"]);
  for (const r of ["connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener"]) {
    invalid(`invalid-event-reserved-${r}`, [`2["${r}"]`]);
  }
  invalid("invalid-event-truncated-json", ['2["a",1']);
  invalid("invalid-event-trailing-garbage", ['2["a"]x']);
  invalid("invalid-event-trailing-comma", ['2["a",]']);
  invalid("invalid-event-nan", ['2["a",NaN]']);
  invalid("invalid-event-single-quotes", ["2['a']"]);
  invalid("invalid-event-nsp-then-garbage", ['2/custom,abc["x"]']);
  invalid("invalid-ack-object", ["3{}"]);
  invalid("invalid-ack-string", ['3"x"']);
  invalid("invalid-connect-array", ["0[]"]);
  invalid("invalid-connect-string", ['0"token"']);
  invalid("invalid-connect-null", ["0null"]);
  invalid("invalid-disconnect-with-data", ["1{}"]);
  invalid("invalid-disconnect-with-array", ['1["x"]']);
  invalid("invalid-connect-error-array", ['4["x"]']);
  invalid("invalid-connect-error-bool", ["4true"]);
  invalid("invalid-type-7", ["7"]);
  invalid("invalid-type-9", ['9["x"]']);
  invalid("invalid-type-letter", ['x["x"]']);
  invalid("invalid-binary-no-count", ['5-["a",' + ph(0) + "]", bin1]);
  invalid("invalid-binary-no-dash", ['51["a",' + ph(0) + "]"]);
  invalid("invalid-binary-zero-attachments", ['50-["a"]']);
  invalid("invalid-binary-count-not-number", ['5x-["a",' + ph(0) + "]"]);
  invalid("invalid-binary-too-many-attachments", ['511-["a"' + Array.from({ length: 11 }, (_, i) => "," + ph(i)).join("") + "]"]);
  invalid("invalid-binary-placeholder-out-of-range", ['51-["a",' + ph(1) + "]", bin1]);
  invalid("invalid-binary-placeholder-negative", ['51-["a",' + ph(-1) + "]", bin1]);
  invalid("invalid-binary-placeholder-num-string", ['51-["a",{"_placeholder":true,"num":"0"}]', bin1]);
  invalid("invalid-binary-text-while-reconstructing", ['51-["a",' + ph(0) + "]", '2["b"]']);
  invalid("invalid-binary-unexpected-buffer", [bin1]);
  invalid("invalid-binary-event-object-payload", ["51-{}", bin1]);
  invalid("invalid-binary-ack-object-payload", ["61-0{}", bin1]);

  const header = { format: "socket-v5", note: HEADER_NOTE, codec: "socket.io-parser (Socket.IO v5)", versions: lib.versions() };
  return writeCorpus("socket-v5.json", header, { vectors });
}

function genSocketV4() {
  const C = lib.socket[4];
  const vectors = makeList("socket-v4");
  const addValid = (name, p) => {
    assertNoEscapeCollision(p.data, name);
    const desc = toDesc(p);
    const encoded = C.encode(desc);
    const dec = C.decode(encoded);
    assert(dec.ok, `${name}: JS cannot decode its own output: ${dec.error}`);
    assert.strictEqual(key(dec.packet), key(desc), `${name}: does not round-trip`);
    vectors.add({ name, packet: desc, encoded });
  };
  // v4-specific CONNECT / ERROR forms.
  addValid("connect-implicit-root-reply", P(CONNECT, "/"));
  addValid("connect-nsp", P(CONNECT, "/admin"));
  addValid("connect-nsp-query", P(CONNECT, "/admin?token=1"));
  addValid("connect-nsp-query-several", P(CONNECT, "/admin?token=abc&user=z%C3%B6e"));
  addValid("connect-root-query", P(CONNECT, "/?token=1"));
  addValid("connect-unicode-nsp", P(CONNECT, "/ñandú"));
  addValid("error-string", P(CONNECT_ERROR, "/", "Invalid namespace"));
  addValid("error-string-nsp", P(CONNECT_ERROR, "/admin", "Not authorized"));
  addValid("error-string-unicode", P(CONNECT_ERROR, "/", "désolé 😀"));
  addValid("error-object", P(CONNECT_ERROR, "/", { message: "refused", data: { code: 42 } }));
  // Everything else from the v5 list except v5-only CONNECT payload forms.
  for (const [name, p] of socketPacketsV5(false)) {
    if (p.type === CONNECT) continue;
    if (name === "connect-error-string") continue; // covered above
    addValid(name, p);
  }

  const addDecodeOnly = (name, encoded, note) => {
    const dec = C.decode(encoded);
    assert(dec.ok, `${name}: JS rejects it: ${dec.error}`);
    const canonical = C.encode(dec.packet);
    assert.notDeepStrictEqual(canonical, encoded, `${name}: already canonical`);
    vectors.add({ name, decode_only: true, packet: dec.packet, encoded, canonical, note });
  };
  addDecodeOnly("decode-connect-nsp-without-comma", ["0/admin"], "namespace runs to the end of input");
  addDecodeOnly("decode-connect-query-without-comma", ["0/admin?token=1"], "namespace runs to the end of input");
  addDecodeOnly("decode-json-unicode-escapes", ['2["\\u00e9\\ud83d\\ude00"]'], "\\u escapes");

  const invalid = (name, encoded) => {
    const dec = C.decode(encoded);
    assert(!dec.ok, `${name}: JS accepts it`);
    vectors.add({ name, valid: false, encoded, error: dec.error });
  };
  const ph = (n) => `{"_placeholder":true,"num":${n}}`;
  const bin1 = { $bin: "AQIDBA==" };
  invalid("invalid-event-object", ["2{}"]);
  invalid("invalid-event-garbage-before-json", ['2abc["x"]']);
  invalid("invalid-event-empty-array", ["2[]"]);
  invalid("invalid-event-name-object", ["2[{}]"]);
  invalid("invalid-event-truncated-json", ['2["a",1']);
  invalid("invalid-ack-object", ["3{}"]);
  invalid("invalid-connect-string", ['0"x"']);
  invalid("invalid-disconnect-with-data", ["1{}"]);
  invalid("invalid-error-bool", ["4true"]);
  invalid("invalid-type-7", ["7"]);
  invalid("invalid-type-letter", ["x"]);
  invalid("invalid-binary-no-dash", ['51["a",' + ph(0) + "]"]);
  invalid("invalid-binary-placeholder-out-of-range", ['51-["a",' + ph(1) + "]", bin1]);
  invalid("invalid-binary-text-while-reconstructing", ['51-["a",' + ph(0) + "]", '2["b"]']);
  invalid("invalid-binary-unexpected-buffer", [bin1]);

  const header = {
    format: "socket-v4",
    note: HEADER_NOTE,
    codec: "socket.io-parser-v3 (Socket.IO v4, used by socket.io 2.x)",
    versions: lib.versions(),
  };
  return writeCorpus("socket-v4.json", header, { vectors });
}

// ---------------------------------------------------------------------------------------------
// msgpack
// ---------------------------------------------------------------------------------------------

function genMsgpack() {
  const M = lib.msgpack;
  const vectors = makeList("msgpack");
  const addValid = (name, p) => {
    assertNoEscapeCollision(p.data, name);
    const desc = toDesc(p);
    const encoded = M.encode(desc);
    const dec = M.decode(encoded);
    assert(dec.ok, `${name}: JS cannot decode its own output: ${dec.error}`);
    assert.strictEqual(key(dec.packet), key(desc), `${name}: does not round-trip`);
    vectors.add({ name, packet: desc, encoded });
  };
  for (const [name, p] of socketPacketsV5(true)) addValid(name, p);

  // Format boundaries (notepack picks the smallest encoding).
  const ints = [0, 1, 127, 128, 255, 256, 65535, 65536, 4294967295, 4294967296, 9007199254740991,
    -1, -32, -33, -128, -129, -32768, -32769, -2147483648, -2147483649, -9007199254740991];
  for (const n of ints) addValid(`int-${n}`, P(EVENT, "/", ["n", n]));
  for (const f of [1.5, -1.5, 0.1, 1e-7, 1.7976931348623157e-300, -2.5e-300, 4294967296.5, 123456.789]) addValid(`float-${f}`, P(EVENT, "/", ["f", f]));
  for (const len of [0, 1, 31, 32, 255, 256, 65536]) addValid(`str-len-${len}`, P(EVENT, "/", ["s", "a".repeat(len)]));
  addValid("str-31-bytes-multibyte", P(EVENT, "/", ["s", "é".repeat(15) + "a"]));
  addValid("str-32-bytes-multibyte", P(EVENT, "/", ["s", "é".repeat(16)]));
  addValid("str-33-chars-long-path", P(EVENT, "/", ["s", "😀".repeat(9)]));
  for (const len of [0, 1, 255, 256, 65536]) addValid(`bin-len-${len}`, P(EVENT, "/", ["b", seq(len)]));
  for (const len of [14, 15, 16, 17, 65536]) {
    addValid(`array-len-${len}`, P(EVENT, "/", ["a", Array.from({ length: len }, (_, i) => i % 3)]));
  }
  for (const len of [15, 16, 17]) {
    const o = {};
    for (let i = 0; i < len; i++) o[`k${i}`] = i;
    addValid(`map-len-${len}`, P(EVENT, "/", ["m", o]));
  }
  addValid("event-args-15", P(EVENT, "/", ["e", ...Array.from({ length: 14 }, (_, i) => i)]));
  addValid("event-args-16", P(EVENT, "/", ["e", ...Array.from({ length: 15 }, (_, i) => i)]));
  addValid("nsp-31-bytes", P(EVENT, "/" + "n".repeat(30), ["x"]));
  addValid("nsp-32-bytes", P(EVENT, "/" + "n".repeat(31), ["x"]));
  for (const id of [127, 128, 255, 256, 65535, 65536, 4294967295, 4294967296]) {
    addValid(`ack-id-boundary-${id}`, P(ACK, "/", [], id));
  }

  // Decode-only: what real peers send that is not the canonical {type, data, nsp, id} map.
  const addDecodeOnly = (name, encoded, note) => {
    const dec = M.decode(encoded);
    assert(dec.ok, `${name}: JS rejects it: ${dec.error}`);
    if (key(dec.packet).includes('"$undefined"')) {
      // Rust has no `undefined`: nothing canonical to re-encode, only decoding is checked.
      vectors.add({ name, decode_only: true, packet: dec.packet, encoded, note });
      return;
    }
    const canonical = M.encode(dec.packet);
    assert.notDeepStrictEqual(canonical, encoded, `${name}: already canonical`);
    vectors.add({ name, decode_only: true, packet: dec.packet, encoded, canonical, note });
  };
  const raw = (obj) => M.encodeRaw(obj);
  const hex = (h) => ({ $bin: Buffer.from(h.replace(/\s+/g, ""), "hex").toString("base64") });
  addDecodeOnly("decode-client-emit-with-options", raw({ type: 2, data: ["hello", 1], options: { compress: true }, nsp: "/" }),
    "socket.io-client 4.8 emit(): extra `options` key");
  addDecodeOnly("decode-client-emit-with-ack-options", raw({ type: 2, data: ["hello"], options: { compress: true }, id: 3, nsp: "/custom" }),
    "socket.io-client 4.8 emit() with ack: {type, data, options, id, nsp}");
  addDecodeOnly("decode-server-ack-order", raw({ id: 5, type: 3, data: ["ok"], nsp: "/" }), "socket.io 4.8 server ack: {id, type, data, nsp}");
  addDecodeOnly("decode-client-ack-order", raw({ type: 3, id: 5, data: ["ok"], nsp: "/" }), "socket.io-client 4.8 ack: {type, id, data, nsp}");
  addDecodeOnly("decode-server-emit-with-ack-order", raw({ type: 2, data: ["q"], id: 0, nsp: "/" }), "socket.io 4.8 socket.emit with ack: {type, data, id, nsp}");
  addDecodeOnly("decode-server-connect-reply-pid-undefined", raw({ type: 0, data: { sid: "oSO0OpakMV_3jnilAAAA", pid: undefined }, nsp: "/" }),
    "socket.io 4.8 server CONNECT reply without recovery: pid is undefined (fixext1 type 0)");
  addDecodeOnly("decode-arraybuffer-ext0", raw({ type: 2, data: ["bin", new Uint8Array([1, 2, 3]).buffer], nsp: "/" }),
    "browser ArrayBuffer: notepack writes ext type 0 instead of bin");
  addDecodeOnly("decode-nsp-first", raw({ nsp: "/", type: 2, data: ["x"] }), "key order is free");
  addDecodeOnly("decode-float32", hex("83 a4 74 79 70 65 02 a4 64 61 74 61 92 a1 66 ca 3f c0 00 00 a3 6e 73 70 a1 2f"),
    "other msgpack encoders may use float32 (1.5)");
  addDecodeOnly("decode-uint64-small", hex("83 a4 74 79 70 65 02 a4 64 61 74 61 92 a1 6e cf 00 00 00 00 00 00 00 07 a3 6e 73 70 a1 2f"),
    "non-minimal integer encoding (7 as uint64)");
  addDecodeOnly("decode-str8-short", hex("83 a4 74 79 70 65 02 a4 64 61 74 61 91 d9 02 68 69 a3 6e 73 70 a1 2f"),
    "non-minimal string encoding (str8 for 'hi')");
  addDecodeOnly("decode-id-null-absent", raw({ type: 2, data: ["x"], nsp: "/", id: undefined }),
    "id present but undefined means no ack");

  const invalid = (name, encoded) => {
    const dec = M.decode(encoded);
    assert(!dec.ok, `${name}: JS accepts it`);
    vectors.add({ name, valid: false, encoded, error: dec.error });
  };
  invalid("invalid-not-a-map", raw([2, ["x"], "/"]));
  invalid("invalid-type-5", raw({ type: 5, data: ["x"], nsp: "/" }));
  invalid("invalid-type-7", raw({ type: 7, data: ["x"], nsp: "/" }));
  invalid("invalid-type-negative", raw({ type: -1, data: ["x"], nsp: "/" }));
  invalid("invalid-type-float", raw({ type: 2.5, data: ["x"], nsp: "/" }));
  invalid("invalid-type-string", raw({ type: "2", data: ["x"], nsp: "/" }));
  invalid("invalid-type-missing", raw({ data: ["x"], nsp: "/" }));
  invalid("invalid-nsp-missing", raw({ type: 2, data: ["x"] }));
  invalid("invalid-nsp-number", raw({ type: 2, data: ["x"], nsp: 1 }));
  invalid("invalid-event-data-object", raw({ type: 2, data: { a: 1 }, nsp: "/" }));
  invalid("invalid-event-data-missing", raw({ type: 2, nsp: "/" }));
  invalid("invalid-ack-data-string", raw({ type: 3, data: "x", nsp: "/", id: 1 }));
  invalid("invalid-connect-data-array", raw({ type: 0, data: [], nsp: "/" }));
  invalid("invalid-disconnect-with-data", raw({ type: 1, data: {}, nsp: "/" }));
  invalid("invalid-connect-error-number", raw({ type: 4, data: 1, nsp: "/" }));
  invalid("invalid-id-float", raw({ type: 2, data: ["x"], nsp: "/", id: 1.5 }));
  invalid("invalid-id-string", raw({ type: 2, data: ["x"], nsp: "/", id: "1" }));
  invalid("invalid-trailing-bytes", hex("82 a4 74 79 70 65 01 a3 6e 73 70 a1 2f 00"));
  invalid("invalid-truncated", hex("83 a4 74 79 70 65 02 a4 64 61 74 61 92 a1 66"));
  invalid("invalid-reserved-byte-c1", hex("c1"));
  invalid("invalid-empty", hex(""));

  const header = { format: "msgpack", note: HEADER_NOTE, codec: "socket.io-msgpack-parser (notepack.io)", versions: lib.versions() };
  return writeCorpus("msgpack.json", header, { vectors });
}

function main() {
  fs.mkdirSync(OUT_DIR, { recursive: true });
  let total = 0;
  total += genEngine(4);
  total += genEngine(3);
  total += genSocketV5();
  total += genSocketV4();
  total += genMsgpack();
  console.log(`total: ${total} vectors in ${path.relative(process.cwd(), OUT_DIR) || "."}`);
}

main();
