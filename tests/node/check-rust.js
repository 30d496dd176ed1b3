#!/usr/bin/env node
"use strict";
// Decodes what the Rust encoders produced with the official JS decoders.
//
//   node tests/node/check-rust.js <file.json> [<file.json> ...]
//
// Each file has the corpus layout (tests/data/corpus/README.md) with a `format` of engine-v4,
// engine-v3, socket-v5, socket-v4 or msgpack; `encoded` (and `encoded_b64` / `encoded_binary`)
// hold the Rust output. Every valid vector must decode to exactly its `packet`/`packets`
// description; every `valid: false` vector must be rejected. Prints each mismatch and exits 1
// if there is any (2 on a usage or file error).

const fs = require("fs");
const lib = require("./lib.js");
const { key } = lib;

function checkFile(file) {
  const doc = JSON.parse(fs.readFileSync(file, "utf8"));
  const failures = [];
  let checked = 0;
  const fail = (name, what, expected, actual) => failures.push({ name, what, expected, actual });

  const expectPacket = (name, what, dec, expected) => {
    checked++;
    if (!dec.ok) return fail(name, what, key(expected), `JS decoder error: ${dec.error}`);
    if (key(dec.packet) !== key(expected)) fail(name, what, key(expected), key(dec.packet));
  };
  const expectRejected = (name, what, dec) => {
    checked++;
    if (dec.ok) fail(name, what, "rejected", `accepted as ${key(dec.packet || dec.packets)}`);
  };

  switch (doc.format) {
    case "engine-v4":
    case "engine-v3": {
      const E = lib.engine[doc.format === "engine-v4" ? 4 : 3];
      for (const v of doc.packets || []) {
        for (const field of ["encoded", "encoded_b64"]) {
          if (v[field] === undefined) continue;
          const dec = E.decodePacket(lib.wireFromDesc(v[field]));
          if (v.valid === false) expectRejected(v.name, field, dec);
          else expectPacket(v.name, field, dec, v.packet);
        }
      }
      for (const v of doc.payloads || []) {
        for (const field of ["encoded", "encoded_binary"]) {
          if (v[field] === undefined) continue;
          const dec = E.decodePayload(lib.wireFromDesc(v[field]));
          checked++;
          if (v.valid === false) {
            if (dec.ok) fail(v.name, field, "rejected", `accepted as ${key(dec.packets)}`);
          } else if (!dec.ok) {
            fail(v.name, field, key(v.packets), `JS decoder error: ${dec.error} after ${key(dec.packets)}`);
          } else if (key(dec.packets) !== key(v.packets)) {
            fail(v.name, field, key(v.packets), key(dec.packets));
          }
        }
      }
      break;
    }
    case "socket-v5":
    case "socket-v4": {
      const C = lib.socket[doc.format === "socket-v5" ? 5 : 4];
      for (const v of doc.vectors || []) {
        const dec = C.decode(v.encoded);
        if (v.valid === false) expectRejected(v.name, "encoded", dec);
        else expectPacket(v.name, "encoded", dec, v.packet);
      }
      break;
    }
    case "msgpack": {
      for (const v of doc.vectors || []) {
        const dec = lib.msgpack.decode(v.encoded);
        if (v.valid === false) expectRejected(v.name, "encoded", dec);
        else expectPacket(v.name, "encoded", dec, v.packet);
      }
      break;
    }
    default:
      throw new Error(`${file}: unknown format ${JSON.stringify(doc.format)}`);
  }
  return { format: doc.format, checked, failures };
}

function main() {
  const files = process.argv.slice(2);
  if (files.length === 0) {
    console.error("usage: node check-rust.js <file.json> [...]");
    process.exit(2);
  }
  let bad = 0;
  for (const file of files) {
    let result;
    try {
      result = checkFile(file);
    } catch (e) {
      console.error(`${file}: ${e.stack || e}`);
      process.exit(2);
    }
    for (const f of result.failures) {
      console.log(`MISMATCH ${result.format} ${f.name} [${f.what}]`);
      console.log(`  expected: ${truncate(f.expected)}`);
      console.log(`  JS got:   ${truncate(f.actual)}`);
    }
    console.log(`${result.format}: ${result.checked} checked, ${result.failures.length} mismatches (${file})`);
    bad += result.failures.length;
  }
  process.exit(bad === 0 ? 0 : 1);
}

function truncate(s) {
  s = String(s);
  return s.length > 400 ? s.slice(0, 400) + `... (${s.length} chars)` : s;
}

main();
