"use strict";
// Shared by gen-corpus.js and check-rust.js: the vector description format and one adapter per
// codec that drives the official JavaScript encoder/decoder.
//
// Description format (see tests/data/corpus/README.md):
// - Binary values are written `{"$bin": "<standard base64, padded>"}`. No test data uses an
//   object whose only key is `$bin`; `assertNoEscapeCollision` enforces it.
// - `{"$undefined": true}` stands for JavaScript `undefined` (only in msgpack data, where the
//   reference server really sends it: the CONNECT reply's `pid` when recovery is off).
// - Everything else is plain JSON, object key order significant.

const assert = require("assert");

const eio4 = require("engine.io-parser");
const eio3 = require("engine.io-parser-v3");
const sio5 = require("socket.io-parser");
const sio4 = require("socket.io-parser-v3");
const msgpackParser = require("socket.io-msgpack-parser");

const BIN = "$bin";
const UNDEF = "$undefined";

function isBinary(v) {
  return Buffer.isBuffer(v) || v instanceof ArrayBuffer || ArrayBuffer.isView(v);
}

function toBuffer(v) {
  if (Buffer.isBuffer(v)) return v;
  if (v instanceof ArrayBuffer) return Buffer.from(v);
  return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
}

/** JS value -> JSON-able description ($bin for binary, $undefined for undefined). */
function toDesc(v) {
  if (v === undefined) return { [UNDEF]: true };
  if (v === null || typeof v !== "object") return v;
  if (isBinary(v)) return { [BIN]: toBuffer(v).toString("base64") };
  if (Array.isArray(v)) return v.map(toDesc);
  const out = {};
  for (const k of Object.keys(v)) out[k] = toDesc(v[k]);
  return out;
}

function isEscape(v, key) {
  return (
    v !== null &&
    typeof v === "object" &&
    !Array.isArray(v) &&
    Object.keys(v).length === 1 &&
    Object.prototype.hasOwnProperty.call(v, key)
  );
}

/** Description -> JS value (Buffer for $bin, undefined for $undefined). */
function fromDesc(d) {
  if (d === null || typeof d !== "object") return d;
  if (Array.isArray(d)) return d.map(fromDesc);
  if (isEscape(d, BIN)) return Buffer.from(d[BIN], "base64");
  if (isEscape(d, UNDEF)) return undefined;
  const out = {};
  for (const k of Object.keys(d)) out[k] = fromDesc(d[k]);
  return out;
}

/** Throws if a plain (non-binary) test value looks like one of the escapes. */
function assertNoEscapeCollision(v, where) {
  if (v === null || typeof v !== "object" || isBinary(v)) return;
  if (Array.isArray(v)) return v.forEach((x) => assertNoEscapeCollision(x, where));
  const keys = Object.keys(v);
  assert(
    !(keys.length === 1 && (keys[0] === BIN || keys[0] === UNDEF)),
    `${where}: test data collides with the $bin/$undefined escape`,
  );
  keys.forEach((k) => assertNoEscapeCollision(v[k], where));
}

/** Canonical comparison key: order-sensitive JSON of the description. */
function key(desc) {
  return JSON.stringify(desc);
}

// An encoded wire unit: a string stays a string, bytes become {"$bin": ...}.
function wireToDesc(w) {
  return typeof w === "string" ? w : { [BIN]: toBuffer(w).toString("base64") };
}
function wireFromDesc(d) {
  if (typeof d === "string") return d;
  assert(isEscape(d, BIN), "encoded unit must be a string or {\"$bin\": ...}");
  return Buffer.from(d[BIN], "base64");
}

// ---------------------------------------------------------------------------------------------
// Engine.IO
// ---------------------------------------------------------------------------------------------

function syncCall(fn) {
  let out;
  let called = false;
  fn((v) => {
    out = v;
    called = true;
  });
  assert(called, "callback-style encoder did not answer synchronously");
  return out;
}

function enginePacketDesc(p) {
  const d = { type: p.type };
  if (p.data !== undefined) d.data = toDesc(p.data);
  return d;
}

const engine = {
  4: {
    encodePacket(desc, supportsBinary) {
      const p = fromDesc(desc);
      return syncCall((cb) => eio4.encodePacket(p, supportsBinary, cb));
    },
    /** -> {ok: true, packet} | {ok: false, error} */
    decodePacket(wire) {
      const p = eio4.decodePacket(wire, "nodebuffer");
      if (p.type === "error") return { ok: false, error: "parser error" };
      return { ok: true, packet: enginePacketDesc(p) };
    },
    encodePayload(descs) {
      const ps = descs.map(fromDesc);
      return syncCall((cb) => eio4.encodePayload(ps, cb));
    },
    /** -> {ok, packets, error?}; packets = those decoded before the first error */
    decodePayload(wire) {
      if (typeof wire !== "string") return { ok: false, packets: [], error: "not text" };
      const ps = eio4.decodePayload(wire, "nodebuffer");
      const out = [];
      for (const p of ps) {
        if (p.type === "error") return { ok: false, packets: out, error: "parser error" };
        out.push(enginePacketDesc(p));
      }
      return { ok: true, packets: out };
    },
  },
  3: {
    encodePacket(desc, supportsBinary) {
      const p = fromDesc(desc);
      return syncCall((cb) => eio3.encodePacket(p, supportsBinary, false, cb));
    },
    decodePacket(wire) {
      const p = eio3.decodePacket(wire, undefined, false);
      if (p.type === "error" || p.type === undefined) return { ok: false, error: "parser error" };
      return { ok: true, packet: enginePacketDesc(p) };
    },
    /** Text form (`<len>:<packet>`, binary as `b<type><base64>`), as sent to b64 clients. */
    encodePayload(descs) {
      const ps = descs.map(fromDesc);
      return syncCall((cb) => eio3.encodePayload(ps, false, cb));
    },
    /** XHR2 binary body form (what socket.io 2.x sends to clients without b64). */
    encodePayloadAsBinary(descs) {
      const ps = descs.map(fromDesc);
      return syncCall((cb) => eio3.encodePayloadAsBinary(ps, cb));
    },
    decodePayload(wire) {
      const out = [];
      let error = null;
      const onPacket = (p) => {
        if (error) return false;
        if (p.type === "error" || p.type === undefined) {
          error = "parser error";
          return false;
        }
        out.push(enginePacketDesc(p));
        return true;
      };
      if (typeof wire === "string") eio3.decodePayload(wire, onPacket);
      else eio3.decodePayloadAsBinary(wire, onPacket);
      return error ? { ok: false, packets: out, error } : { ok: true, packets: out };
    },
  },
};

// ---------------------------------------------------------------------------------------------
// Socket.IO common parser
// ---------------------------------------------------------------------------------------------

function socketPacketDesc(p) {
  // Binary types decode to their logical kind (v5 does this itself, v4 keeps 5/6).
  let type = p.type;
  if (type === 5) type = 2;
  if (type === 6) type = 3;
  const d = { type, nsp: p.nsp };
  if (p.id !== undefined && p.id !== null) d.id = p.id;
  if (p.data !== undefined) d.data = toDesc(p.data);
  return d;
}

function hasBinary(v) {
  if (v === null || typeof v !== "object") return false;
  if (isBinary(v)) return true;
  if (Array.isArray(v)) return v.some(hasBinary);
  return Object.keys(v).some((k) => hasBinary(v[k]));
}

function socketInput(desc) {
  const p = { type: desc.type, nsp: desc.nsp };
  if (desc.data !== undefined) p.data = fromDesc(desc.data);
  if (desc.id !== undefined) p.id = desc.id;
  return p;
}

function decodeParts(decoder, parts, isParserError) {
  const decoded = [];
  decoder.on("decoded", (p) => decoded.push(p));
  try {
    for (const part of parts) decoder.add(wireFromDesc(part));
  } catch (e) {
    return { ok: false, error: e.message };
  }
  if (decoded.length !== 1) {
    return { ok: false, error: `decoded ${decoded.length} packets from ${parts.length} parts` };
  }
  if (isParserError && isParserError(decoded[0], parts)) return { ok: false, error: "parser error" };
  return { ok: true, packet: socketPacketDesc(decoded[0]) };
}

const socket = {
  5: {
    encode(desc) {
      return new sio5.Encoder().encode(socketInput(desc)).map(wireToDesc);
    },
    decode(parts) {
      return decodeParts(new sio5.Decoder(), parts);
    },
  },
  4: {
    encode(desc) {
      const p = socketInput(desc);
      // socket.io 2.x picks the binary type itself (has-binary2) before calling the parser.
      if ((p.type === 2 || p.type === 3) && hasBinary(p.data)) p.type += 3;
      return syncCall((cb) => new sio4.Encoder().encode(p, cb)).map(wireToDesc);
    },
    decode(parts) {
      // socket.io-parser 3.x reports an unknown type as an ERROR packet "parser error".
      const isParserError = (p, ps) =>
        p.type === 4 &&
        typeof p.data === "string" &&
        p.data.startsWith("parser error") &&
        !String(ps[0]).startsWith("4");
      return decodeParts(new sio4.Decoder(), parts, isParserError);
    },
  },
};

// ---------------------------------------------------------------------------------------------
// msgpack parser
// ---------------------------------------------------------------------------------------------

/** The map the reference encodes: keys in the order {type, data, nsp, id}. */
function msgpackInput(desc) {
  const p = { type: desc.type };
  if (desc.data !== undefined) p.data = fromDesc(desc.data);
  p.nsp = desc.nsp;
  if (desc.id !== undefined) p.id = desc.id;
  return p;
}

const msgpack = {
  encode(desc) {
    const out = new msgpackParser.Encoder().encode(msgpackInput(desc));
    assert(out.length === 1);
    return wireToDesc(out[0]);
  },
  /** Encodes an arbitrary JS object as the reference would (for non-canonical inputs). */
  encodeRaw(obj) {
    return wireToDesc(new msgpackParser.Encoder().encode(obj)[0]);
  },
  decode(wire) {
    const decoder = new msgpackParser.Decoder();
    const decoded = [];
    decoder.on("decoded", (p) => decoded.push(p));
    try {
      decoder.add(wireFromDesc(wire));
    } catch (e) {
      return { ok: false, error: e.message };
    }
    const p = decoded[0];
    const d = { type: p.type, nsp: p.nsp };
    if (p.id !== undefined) d.id = p.id;
    if (p.data !== undefined) d.data = toDesc(p.data);
    return { ok: true, packet: d };
  },
};

function versions() {
  const fs = require("fs");
  const path = require("path");
  const v = (name) =>
    JSON.parse(fs.readFileSync(path.join(__dirname, "node_modules", name, "package.json"), "utf8")).version;
  return {
    "engine.io-parser": v("engine.io-parser"),
    "engine.io-parser-v3": v("engine.io-parser-v3"),
    "socket.io-parser": v("socket.io-parser"),
    "socket.io-parser-v3": v("socket.io-parser-v3"),
    "socket.io-msgpack-parser": v("socket.io-msgpack-parser"),
  };
}

module.exports = {
  BIN,
  toDesc,
  fromDesc,
  key,
  wireToDesc,
  wireFromDesc,
  assertNoEscapeCollision,
  engine,
  socket,
  msgpack,
  versions,
};
