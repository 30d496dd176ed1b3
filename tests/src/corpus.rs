//! The cross-implementation codec corpus (`tests/data/corpus`, format in its `README.md`).
//!
//! The corpus is read into [`J`], a JSON tree that keeps object key order (the order is part of
//! the wire format), then converted to protocol types. [`check_with_node`] hands what the Rust
//! encoders produced to `tests/node/check-rust.js`, which decodes it with the official codecs.

use std::fmt::Write as _;
use std::fs;
use std::path::PathBuf;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use socketio_protocol::engine::{self, Data, Frame};
use socketio_protocol::socket::{self, PacketKind, Payload};
use socketio_protocol::{Number, Str, Value};

use crate::node;

/// The key of the binary escape, `{"$bin": "<base64>"}`.
pub const BIN: &str = "$bin";
/// The key of the `undefined` escape, `{"$undefined": true}`.
pub const UNDEFINED: &str = "$undefined";

/// A JSON value that keeps object key order and integer exactness.
#[derive(Debug, Clone, PartialEq)]
pub enum J {
    /// `null`.
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// A non-negative integer.
    U(u64),
    /// A negative integer.
    I(i64),
    /// Any other number.
    F(f64),
    /// A string.
    Str(String),
    /// An array.
    Arr(Vec<J>),
    /// An object, keys in document order.
    Obj(Vec<(String, J)>),
}

impl J {
    /// The value under `key` of an object.
    pub fn get(&self, key: &str) -> Option<&J> {
        match self {
            J::Obj(entries) => entries.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// The string, if this is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            J::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The items, if this is an array.
    pub fn as_arr(&self) -> Option<&[J]> {
        match self {
            J::Arr(items) => Some(items),
            _ => None,
        }
    }

    /// The number as `u64`, if it is a non-negative integer.
    pub fn as_u64(&self) -> Option<u64> {
        match self {
            J::U(n) => Some(*n),
            _ => None,
        }
    }

    /// The base64 text of a `{"$bin": ...}` escape.
    pub fn as_bin_escape(&self) -> Option<&str> {
        self.single_key(BIN).and_then(J::as_str)
    }

    /// True for a `{"$undefined": true}` escape.
    pub fn is_undefined_escape(&self) -> bool {
        self.single_key(UNDEFINED).is_some()
    }

    fn single_key(&self, key: &str) -> Option<&J> {
        match self {
            J::Obj(entries) if entries.len() == 1 && entries[0].0 == key => Some(&entries[0].1),
            _ => None,
        }
    }

    /// The decoded bytes of a `{"$bin": ...}` escape.
    pub fn bin(&self) -> Result<Bytes, String> {
        let text = self
            .as_bin_escape()
            .ok_or_else(|| format!("not a $bin escape: {}", self.to_json()))?;
        STANDARD
            .decode(text)
            .map(Bytes::from)
            .map_err(|e| format!("bad base64 in corpus: {e}"))
    }

    /// The value of a field that the corpus format requires.
    pub fn field(&self, key: &str) -> &J {
        self.get(key)
            .unwrap_or_else(|| panic!("corpus entry lacks `{key}`: {}", short(&self.to_json())))
    }

    /// The vector's `name`.
    pub fn name(&self) -> &str {
        self.get("name").and_then(J::as_str).unwrap_or("<unnamed>")
    }

    /// False for vectors marked `"valid": false`.
    pub fn is_valid(&self) -> bool {
        self.get("valid") != Some(&J::Bool(false))
    }

    /// True for vectors marked `"decode_only": true`.
    pub fn is_decode_only(&self) -> bool {
        self.get("decode_only") == Some(&J::Bool(true))
    }

    /// A copy of this object with `key` set (replaced in place, or appended).
    pub fn with(&self, key: &str, value: J) -> J {
        let mut entries = match self {
            J::Obj(entries) => entries.clone(),
            _ => Vec::new(),
        };
        match entries.iter_mut().find(|(k, _)| k == key) {
            Some(entry) => entry.1 = value,
            None => entries.push((key.to_owned(), value)),
        }
        J::Obj(entries)
    }

    /// Compact JSON text.
    pub fn to_json(&self) -> String {
        let mut out = String::new();
        self.write_json(&mut out);
        out
    }

    fn write_json(&self, out: &mut String) {
        match self {
            J::Null => out.push_str("null"),
            J::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            J::U(n) => {
                let _ = write!(out, "{n}");
            }
            J::I(n) => {
                let _ = write!(out, "{n}");
            }
            J::F(f) => out.push_str(&serde_json::to_string(f).unwrap_or_else(|_| "null".into())),
            J::Str(s) => out.push_str(&serde_json::to_string(s).unwrap_or_default()),
            J::Arr(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    item.write_json(out);
                }
                out.push(']');
            }
            J::Obj(entries) => {
                out.push('{');
                for (i, (k, v)) in entries.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(&serde_json::to_string(k).unwrap_or_default());
                    out.push(':');
                    v.write_json(out);
                }
                out.push('}');
            }
        }
    }
}

impl<'de> Deserialize<'de> for J {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<J, D::Error> {
        deserializer.deserialize_any(JVisitor)
    }
}

struct JVisitor;

impl<'de> Visitor<'de> for JVisitor {
    type Value = J;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_unit<E: de::Error>(self) -> Result<J, E> {
        Ok(J::Null)
    }
    fn visit_none<E: de::Error>(self) -> Result<J, E> {
        Ok(J::Null)
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<J, E> {
        Ok(J::Bool(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<J, E> {
        Ok(J::U(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<J, E> {
        Ok(if v >= 0 { J::U(v as u64) } else { J::I(v) })
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<J, E> {
        Ok(J::F(v))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<J, E> {
        Ok(J::Str(v.to_owned()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<J, E> {
        Ok(J::Str(v))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<J, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(J::Arr(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<J, A::Error> {
        let mut entries = Vec::new();
        while let Some((k, v)) = map.next_entry::<String, J>()? {
            entries.push((k, v));
        }
        Ok(J::Obj(entries))
    }
}

/// Shortens long text for failure messages.
pub fn short(text: &str) -> String {
    const MAX: usize = 300;
    if text.len() <= MAX {
        return text.to_owned();
    }
    let mut end = MAX;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}... ({} bytes)", &text[..end], text.len())
}

/// `tests/data/corpus/<file>`.
pub fn corpus_path(file: &str) -> PathBuf {
    node::tests_dir().join("data").join("corpus").join(file)
}

/// Reads one corpus file.
pub fn load(file: &str) -> J {
    let path = corpus_path(file);
    let text =
        fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
}

/// The vectors of a section (`vectors`, `packets`, `payloads`).
pub fn section<'a>(doc: &'a J, key: &str) -> &'a [J] {
    doc.get(key)
        .and_then(J::as_arr)
        .unwrap_or_else(|| panic!("corpus has no `{key}` list"))
}

// ---------------------------------------------------------------------------------------------
// Failure collection
// ---------------------------------------------------------------------------------------------

/// Collects failures per vector so one run reports all of them.
#[derive(Debug, Default)]
pub struct Failures {
    items: Vec<String>,
    checked: usize,
}

impl Failures {
    /// An empty collection.
    pub fn new() -> Self {
        Failures::default()
    }

    /// Records the outcome of one check on vector `name`.
    pub fn check(&mut self, name: &str, what: &str, result: Result<(), String>) {
        self.checked += 1;
        if let Err(e) = result {
            self.items.push(format!("{name} [{what}]: {e}"));
        }
    }

    /// Panics with every recorded failure, if any.
    pub fn assert_none(&self, context: &str) {
        assert!(
            self.items.is_empty(),
            "{context}: {} of {} checks failed:\n{}",
            self.items.len(),
            self.checked,
            self.items.join("\n")
        );
        eprintln!("{context}: {} checks passed", self.checked);
    }
}

// ---------------------------------------------------------------------------------------------
// Wire units
// ---------------------------------------------------------------------------------------------

/// One encoded unit: a text message/frame or a binary one.
#[derive(Debug, Clone, PartialEq)]
pub enum Wire {
    /// Text.
    Text(String),
    /// Bytes.
    Binary(Bytes),
}

impl Wire {
    /// Reads a corpus wire unit: a string, or `{"$bin": ...}`.
    pub fn from_j(j: &J) -> Result<Wire, String> {
        match j {
            J::Str(s) => Ok(Wire::Text(s.clone())),
            other => other.bin().map(Wire::Binary),
        }
    }

    /// The corpus form of this unit.
    pub fn to_j(&self) -> J {
        match self {
            Wire::Text(s) => J::Str(s.clone()),
            Wire::Binary(b) => J::Obj(vec![(BIN.to_owned(), J::Str(STANDARD.encode(b)))]),
        }
    }

    /// Short human-readable form for messages.
    pub fn show(&self) -> String {
        match self {
            Wire::Text(s) => short(&format!("{s:?}")),
            Wire::Binary(b) => short(&format!("bin{:02x?}", &b[..])),
        }
    }
}

impl From<Frame> for Wire {
    fn from(frame: Frame) -> Wire {
        match frame {
            Frame::Text(s) => Wire::Text(s.as_str().to_owned()),
            Frame::Binary(b) => Wire::Binary(b),
        }
    }
}

/// Compares two sequences of wire units byte for byte.
pub fn same_wire(expected: &[Wire], actual: &[Wire]) -> Result<(), String> {
    if expected == actual {
        return Ok(());
    }
    let show = |ws: &[Wire]| ws.iter().map(Wire::show).collect::<Vec<_>>().join(", ");
    Err(format!(
        "wire differs\n    expected: [{}]\n    rust:     [{}]",
        show(expected),
        show(actual)
    ))
}

/// Reads a list of wire units (`encoded` of a socket vector).
pub fn wires(j: &J) -> Result<Vec<Wire>, String> {
    match j {
        J::Arr(items) => items.iter().map(Wire::from_j).collect(),
        other => Ok(vec![Wire::from_j(other)?]),
    }
}

// ---------------------------------------------------------------------------------------------
// Values
// ---------------------------------------------------------------------------------------------

/// Converts a description to a [`Value`] (`$bin` → binary, `$undefined` → null).
pub fn to_value(j: &J) -> Value {
    match j {
        J::Null => Value::Null,
        J::Bool(b) => Value::Bool(*b),
        J::U(n) => Value::Number(Number::PosInt(*n)),
        J::I(n) => Value::Number(Number::NegInt(*n)),
        J::F(f) => Value::Number(Number::Float(*f)),
        J::Str(s) => Value::String(s.clone()),
        J::Arr(items) => Value::Array(items.iter().map(to_value).collect()),
        J::Obj(_) if j.as_bin_escape().is_some() => match j.bin() {
            Ok(b) => Value::Binary(b),
            Err(e) => panic!("{e}"),
        },
        J::Obj(_) if j.is_undefined_escape() => Value::Null,
        J::Obj(entries) => Value::Object(
            entries
                .iter()
                .map(|(k, v)| (k.clone(), to_value(v)))
                .collect(),
        ),
    }
}

/// A short rendering of a [`Value`] for messages.
pub fn show_value(v: &Value) -> String {
    short(&format!("{v:?}"))
}

fn number_matches(expected: &J, actual: Number) -> bool {
    match (expected, actual) {
        (J::U(e), Number::PosInt(a)) => *e == a,
        (J::I(e), Number::NegInt(a)) => *e == a,
        (J::U(e), a) => a.as_f64() == *e as f64,
        (J::I(e), a) => a.as_f64() == *e as f64,
        (J::F(e), a) => a.as_f64() == *e,
        _ => false,
    }
}

/// Checks that `actual` is the value the description `expected` stands for: same structure,
/// same object key order, numbers equal as JavaScript sees them. An expected `$undefined`
/// entry matches a missing key or `null`.
pub fn value_matches(expected: &J, actual: &Value) -> Result<(), String> {
    value_matches_at(expected, actual, "$")
}

fn value_matches_at(expected: &J, actual: &Value, path: &str) -> Result<(), String> {
    let mismatch = || {
        Err(format!(
            "at {path}: expected {}, rust decoded {}",
            short(&expected.to_json()),
            show_value(actual)
        ))
    };
    match (expected, actual) {
        (J::Null, Value::Null) => Ok(()),
        (J::Bool(e), Value::Bool(a)) if e == a => Ok(()),
        (J::U(_) | J::I(_) | J::F(_), Value::Number(a)) if number_matches(expected, *a) => Ok(()),
        (J::Str(e), Value::String(a)) if e == a => Ok(()),
        (J::Obj(_), Value::Binary(a)) if expected.as_bin_escape().is_some() => {
            match expected.bin() {
                Ok(e) if e == *a => Ok(()),
                _ => mismatch(),
            }
        }
        (J::Obj(_), Value::Null) if expected.is_undefined_escape() => Ok(()),
        (J::Arr(e), Value::Array(a)) => {
            if e.len() != a.len() {
                return Err(format!(
                    "at {path}: expected {} items, rust decoded {}",
                    e.len(),
                    a.len()
                ));
            }
            for (i, (e, a)) in e.iter().zip(a).enumerate() {
                value_matches_at(e, a, &format!("{path}[{i}]"))?;
            }
            Ok(())
        }
        (J::Obj(e), Value::Object(a))
            if expected.as_bin_escape().is_none() && !expected.is_undefined_escape() =>
        {
            // `$undefined` entries may be absent or null on the Rust side.
            let undefined: Vec<&str> = e
                .iter()
                .filter(|(_, v)| v.is_undefined_escape())
                .map(|(k, _)| k.as_str())
                .collect();
            let e: Vec<_> = e.iter().filter(|(_, v)| !v.is_undefined_escape()).collect();
            let a: Vec<_> = a
                .iter()
                .filter(|(k, v)| !(undefined.contains(&k.as_str()) && *v == Value::Null))
                .collect();
            let keys = |ks: Vec<&str>| ks.join(",");
            if e.len() != a.len() || e.iter().zip(&a).any(|((ek, _), (ak, _))| ek != ak) {
                return Err(format!(
                    "at {path}: expected keys [{}], rust decoded [{}]",
                    keys(e.iter().map(|(k, _)| k.as_str()).collect()),
                    keys(a.iter().map(|(k, _)| k.as_str()).collect()),
                ));
            }
            for ((k, ev), (_, av)) in e.iter().zip(&a) {
                value_matches_at(ev, av, &format!("{path}.{k}"))?;
            }
            Ok(())
        }
        _ => mismatch(),
    }
}

// ---------------------------------------------------------------------------------------------
// Socket.IO packets
// ---------------------------------------------------------------------------------------------

/// The packet kind for a description's `type` (0..=4; 5/6 never appear in descriptions).
pub fn socket_kind(ty: u64) -> Result<PacketKind, String> {
    Ok(match ty {
        0 => PacketKind::Connect,
        1 => PacketKind::Disconnect,
        2 => PacketKind::Event,
        3 => PacketKind::Ack,
        4 => PacketKind::ConnectError,
        other => return Err(format!("unexpected packet type {other} in description")),
    })
}

/// Builds the Socket.IO packet a description stands for, data as [`Payload::Value`].
pub fn socket_packet(desc: &J) -> Result<socket::Packet, String> {
    let ty = desc.field("type").as_u64().ok_or("type is not a number")?;
    let nsp = desc.field("nsp").as_str().ok_or("nsp is not a string")?;
    let mut packet = socket::Packet::new(socket_kind(ty)?, nsp.to_owned());
    packet.id = match desc.get("id") {
        None => None,
        Some(id) => Some(id.as_u64().ok_or("id is not a u64")?),
    };
    packet.data = desc.get("data").map(|d| Payload::Value(to_value(d)));
    Ok(packet)
}

/// Checks a decoded Socket.IO packet against its description.
pub fn socket_packet_matches(desc: &J, actual: &socket::Packet) -> Result<(), String> {
    let ty = desc.field("type").as_u64().ok_or("type is not a number")?;
    let kind = socket_kind(ty)?;
    if actual.kind != kind {
        return Err(format!(
            "kind: expected {kind:?}, rust decoded {:?}",
            actual.kind
        ));
    }
    let nsp = desc.field("nsp").as_str().ok_or("nsp is not a string")?;
    if actual.nsp != nsp {
        return Err(format!(
            "nsp: expected {nsp:?}, rust decoded {:?}",
            actual.nsp
        ));
    }
    let id = desc.get("id").and_then(J::as_u64);
    if actual.id != id {
        return Err(format!("id: expected {id:?}, rust decoded {:?}", actual.id));
    }
    match (desc.get("data"), &actual.data) {
        (None, None) => Ok(()),
        (Some(e), Some(payload)) => {
            let value = payload
                .to_value()
                .map_err(|err| format!("decoded payload does not parse: {err:?}"))?;
            value_matches(e, &value).map_err(|err| format!("data {err}"))
        }
        (e, a) => Err(format!(
            "data: expected {}, rust decoded {}",
            e.map_or("none".into(), |e| short(&e.to_json())),
            a.as_ref()
                .map_or("none".into(), |p| short(&format!("{p:?}")))
        )),
    }
}

/// A common-parser [`socket::parser::common::Encoded`] as wire units.
pub fn common_wires(encoded: socket::parser::common::Encoded) -> Vec<Wire> {
    let mut out = vec![Wire::Text(encoded.text.as_str().to_owned())];
    out.extend(encoded.attachments.into_iter().map(Wire::Binary));
    out
}

// ---------------------------------------------------------------------------------------------
// Engine.IO packets
// ---------------------------------------------------------------------------------------------

fn engine_text(data: Option<&J>) -> Result<Str, String> {
    match data {
        None => Ok(Str::from_static("")),
        Some(J::Str(s)) => Ok(Str::from(s.clone())),
        Some(other) => Err(format!("unexpected engine data {}", other.to_json())),
    }
}

/// Builds the Engine.IO packet a description stands for (absent data = empty text).
pub fn engine_packet(desc: &J) -> Result<engine::Packet, String> {
    let ty = desc.field("type").as_str().ok_or("type is not a string")?;
    let data = desc.get("data");
    Ok(match ty {
        "open" => engine::Packet::Open(engine_text(data)?),
        "close" => engine::Packet::Close,
        "ping" => engine::Packet::Ping(engine_text(data)?),
        "pong" => engine::Packet::Pong(engine_text(data)?),
        "message" => engine::Packet::Message(match data {
            Some(bin @ J::Obj(_)) => Data::Binary(bin.bin()?),
            other => Data::Text(engine_text(other)?),
        }),
        "upgrade" => engine::Packet::Upgrade,
        "noop" => engine::Packet::Noop,
        other => return Err(format!("unknown engine packet type {other:?}")),
    })
}

// ---------------------------------------------------------------------------------------------
// Node side
// ---------------------------------------------------------------------------------------------

/// Writes `{"format": format, <section>: [...]}` to a temporary file and runs
/// `node tests/node/check-rust.js` on it, panicking with its report unless every vector
/// decodes, with the official JS decoder, to its description.
pub fn check_with_node(format: &str, sections: &[(&str, Vec<J>)]) {
    let mut doc = vec![("format".to_owned(), J::Str(format.to_owned()))];
    let mut count = 0;
    for (key, vectors) in sections {
        count += vectors.len();
        doc.push(((*key).to_owned(), J::Arr(vectors.clone())));
    }
    assert!(count > 0, "{format}: nothing to check with node");
    // One directory per check, so parallel tests never remove each other's files.
    let dir = std::env::temp_dir().join(format!("socketio-corpus-{}-{format}", std::process::id()));
    fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
    let path = dir.join(format!("{format}.rust.json"));
    fs::write(&path, J::Obj(doc).to_json())
        .unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
    let output = node::run_script("check-rust.js", [&path]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the JS decoders disagree with what Rust encoded ({format}, {}):\n{stdout}\n{stderr}\n\
         (input kept at {})",
        output.status,
        path.display()
    );
    eprint!("{stdout}");
    let _ = fs::remove_file(&path);
    let _ = fs::remove_dir(&dir);
}
