//! [`Value`] <-> msgpack, with the format choices of `notepack.io` 2.2 (the version
//! `socket.io-msgpack-parser` 3.0.2 pins).
//!
//! Encoding picks the same formats notepack picks for the equivalent JavaScript value, so the
//! output is byte-identical: integral numbers (including a [`Number::Float`] such as `1.0`) as
//! the smallest int format, other numbers as float 64, strings as fixstr/str 8/16/32, binary as
//! bin 8/16/32, arrays and objects as fix/16/32 containers in their order.
//!
//! Decoding accepts every msgpack format. It never recurses (nesting is kept on an explicit
//! stack, bounded by `max_depth`) and never reserves more memory than the remaining input could
//! fill.

use alloc::collections::BTreeMap;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use bytes::Bytes;

use super::MsgpackError;
use crate::value::{Number, Value};

/// 2^64 as a double, the bound of the uint 64 / int 64 range.
const TWO_POW_64: f64 = 18_446_744_073_709_551_616.0;

/// Maps with more entries than this get a key index for the duplicate-key check.
const LINEAR_KEY_SCAN: usize = 16;

/// Appends `value` as msgpack, byte-for-byte as `notepack.io` encodes the equivalent
/// JavaScript value.
///
/// Strings, binaries, arrays and objects longer than `u32::MAX` have no msgpack form; they are
/// written as `nil` (notepack throws for them).
pub fn encode_value(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Null => out.push(0xc0),
        Value::Bool(b) => out.push(if *b { 0xc3 } else { 0xc2 }),
        Value::Number(n) => write_number(*n, out),
        Value::String(s) => write_str(s, out),
        Value::Binary(b) => write_bin(b, out),
        Value::Array(items) => {
            if write_container_len(items.len(), 0x90, 0xdc, 0xdd, out) {
                for item in items {
                    encode_value(item, out);
                }
            }
        }
        Value::Object(entries) => {
            if write_container_len(entries.len(), 0x80, 0xde, 0xdf, out) {
                for (key, item) in entries {
                    write_str(key, out);
                    encode_value(item, out);
                }
            }
        }
    }
}

/// Writes a number the way notepack writes the JavaScript number of the same value.
pub(crate) fn write_number(n: Number, out: &mut Vec<u8>) {
    match n {
        Number::PosInt(u) => write_uint(u, out),
        Number::NegInt(i) if i >= 0 => write_uint(i as u64, out),
        Number::NegInt(i) => write_negative(i, out),
        Number::Float(f) => write_float(f, out),
    }
}

/// notepack: non-integral or non-finite numbers are float 64; integral ones take the int path.
fn write_float(f: f64, out: &mut Vec<u8>) {
    // Within ±2^63 a float is integral iff it survives the round trip through i64 (a cast, much
    // cheaper than `%`); beyond 2^53 every float is integral.
    let integral = if f.abs() < 9.0e18 {
        (f as i64) as f64 == f
    } else {
        f.is_finite()
    };
    if !integral {
        out.push(0xcb);
        // V8 only has the canonical NaN.
        let bits = if f.is_nan() {
            0x7ff8_0000_0000_0000
        } else {
            f.to_bits()
        };
        out.extend_from_slice(&bits.to_be_bytes());
    } else if f >= 0.0 {
        // Also -0, as in JavaScript (`-0 >= 0`).
        if f < TWO_POW_64 {
            write_uint(f as u64, out);
        } else {
            // notepack splits into `(v / 2^32) >> 0` and `v >>> 0`: the value modulo 2^64.
            out.push(0xcf);
            out.extend_from_slice(&((f % TWO_POW_64) as u64).to_be_bytes());
        }
    } else if f >= -9_223_372_036_854_775_808.0 {
        write_negative(f as i64, out);
    } else {
        // Same split as above: two's complement of the value modulo 2^64.
        let mut rem = f % TWO_POW_64;
        if rem < 0.0 {
            rem += TWO_POW_64;
        }
        out.push(0xd3);
        out.extend_from_slice(&(rem as u64).to_be_bytes());
    }
}

fn write_uint(u: u64, out: &mut Vec<u8>) {
    if u < 0x80 {
        out.push(u as u8);
    } else if u < 0x100 {
        out.extend_from_slice(&[0xcc, u as u8]);
    } else if u < 0x1_0000 {
        out.push(0xcd);
        out.extend_from_slice(&(u as u16).to_be_bytes());
    } else if u < 0x1_0000_0000 {
        out.push(0xce);
        out.extend_from_slice(&(u as u32).to_be_bytes());
    } else {
        out.push(0xcf);
        out.extend_from_slice(&u.to_be_bytes());
    }
}

/// `i` must be negative.
fn write_negative(i: i64, out: &mut Vec<u8>) {
    if i >= -0x20 {
        out.push(i as u8);
    } else if i >= -0x80 {
        out.extend_from_slice(&[0xd0, i as u8]);
    } else if i >= -0x8000 {
        out.push(0xd1);
        out.extend_from_slice(&(i as i16).to_be_bytes());
    } else if i >= -0x8000_0000 {
        out.push(0xd2);
        out.extend_from_slice(&(i as i32).to_be_bytes());
    } else {
        out.push(0xd3);
        out.extend_from_slice(&i.to_be_bytes());
    }
}

/// Writes a string (fixstr / str 8 / str 16 / str 32).
pub(crate) fn write_str(s: &str, out: &mut Vec<u8>) {
    let len = s.len();
    // One capacity check for the header and the text.
    out.reserve(len + 5);
    if len < 0x20 {
        out.push(0xa0 | len as u8);
    } else if len < 0x100 {
        out.extend_from_slice(&[0xd9, len as u8]);
    } else if len < 0x1_0000 {
        out.push(0xda);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else if let Ok(len) = u32::try_from(len) {
        out.push(0xdb);
        out.extend_from_slice(&len.to_be_bytes());
    } else {
        out.push(0xc0);
        return;
    }
    out.extend_from_slice(s.as_bytes());
}

pub(crate) fn write_bin(b: &[u8], out: &mut Vec<u8>) {
    let len = b.len();
    out.reserve(len + 5);
    if len < 0x100 {
        out.extend_from_slice(&[0xc4, len as u8]);
    } else if len < 0x1_0000 {
        out.push(0xc5);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else if let Ok(len) = u32::try_from(len) {
        out.push(0xc6);
        out.extend_from_slice(&len.to_be_bytes());
    } else {
        out.push(0xc0);
        return;
    }
    out.extend_from_slice(b);
}

/// Writes an array or map header; false (and `nil` written) if the length has no msgpack form.
pub(crate) fn write_container_len(
    len: usize,
    fix: u8,
    marker16: u8,
    marker32: u8,
    out: &mut Vec<u8>,
) -> bool {
    if len < 0x10 {
        out.push(fix | len as u8);
    } else if len < 0x1_0000 {
        out.push(marker16);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else if let Ok(len) = u32::try_from(len) {
        out.push(marker32);
        out.extend_from_slice(&len.to_be_bytes());
    } else {
        out.push(0xc0);
        return false;
    }
    true
}

/// One decoded msgpack item: a value, or notepack's `undefined` (fixext 1 of type 0).
#[derive(Debug)]
pub(super) enum Item {
    /// A value.
    Value(Value),
    /// JavaScript `undefined`: an absent key in a map, `null` in an array.
    Undefined,
}

impl Item {
    fn into_value(self) -> Value {
        match self {
            Item::Value(value) => value,
            Item::Undefined => Value::Null,
        }
    }
}

/// A cursor over the input; binaries are sliced out of `owner` when there is one.
pub(super) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    owner: Option<&'a Bytes>,
}

impl<'a> Reader<'a> {
    /// A reader over `buf` (binaries are copied).
    pub(super) fn new(buf: &'a [u8]) -> Self {
        Reader {
            buf,
            pos: 0,
            owner: None,
        }
    }

    /// A reader over `bytes` (binaries share its buffer).
    pub(super) fn shared(bytes: &'a Bytes) -> Self {
        Reader {
            buf: bytes,
            pos: 0,
            owner: Some(bytes),
        }
    }

    /// Bytes consumed so far.
    pub(super) fn position(&self) -> usize {
        self.pos
    }

    fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// Moves to `pos` (at most the input's length).
    pub(super) fn seek(&mut self, pos: usize) {
        self.pos = pos.min(self.buf.len());
    }

    /// The next byte, not consumed.
    pub(super) fn peek(&self) -> Option<u8> {
        self.buf.get(self.pos).copied()
    }

    /// The whole input.
    pub(super) fn input(&self) -> &'a [u8] {
        self.buf
    }

    /// `range` of the input as `Bytes`: shared with the owner if there is one, else copied.
    pub(super) fn bytes(&self, range: core::ops::Range<usize>) -> Bytes {
        match self.owner {
            Some(owner) => owner.slice(range),
            None => Bytes::copy_from_slice(self.buf.get(range).unwrap_or_default()),
        }
    }

    pub(super) fn take(&mut self, n: usize) -> Result<&'a [u8], MsgpackError> {
        let end = self.pos.checked_add(n).filter(|&end| end <= self.buf.len());
        match end {
            Some(end) => {
                let slice = &self.buf[self.pos..end];
                self.pos = end;
                Ok(slice)
            }
            None => Err(MsgpackError::UnexpectedEof),
        }
    }

    pub(super) fn array<const N: usize>(&mut self) -> Result<[u8; N], MsgpackError> {
        let mut out = [0; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    pub(super) fn u8(&mut self) -> Result<u8, MsgpackError> {
        Ok(self.array::<1>()?[0])
    }

    pub(super) fn u16(&mut self) -> Result<usize, MsgpackError> {
        Ok(usize::from(u16::from_be_bytes(self.array()?)))
    }

    pub(super) fn u32(&mut self) -> Result<usize, MsgpackError> {
        // A length that does not fit usize cannot fit the input either.
        usize::try_from(u32::from_be_bytes(self.array()?)).map_err(|_| MsgpackError::UnexpectedEof)
    }

    fn binary(&mut self, n: usize) -> Result<Bytes, MsgpackError> {
        let start = self.pos;
        let slice = self.take(n)?;
        Ok(match self.owner {
            Some(owner) => owner.slice(start..start + n),
            None => Bytes::copy_from_slice(slice),
        })
    }

    fn string(&mut self, n: usize) -> Result<String, MsgpackError> {
        // Node's `buffer.toString('utf8')`: invalid sequences become U+FFFD.
        Ok(String::from_utf8_lossy(self.take(n)?).into_owned())
    }
}

/// What one marker (plus its length/payload bytes) introduces.
enum Head {
    Item(Item),
    Array(usize),
    Map(usize),
}

fn int(n: i64) -> Item {
    Item::Value(Value::Number(Number::from(n)))
}

fn uint(n: u64) -> Item {
    Item::Value(Value::Number(Number::PosInt(n)))
}

fn float(f: f64) -> Item {
    // A decoded number is always finite; NaN and infinities read as `null`, as JSON has it.
    Item::Value(if f.is_finite() {
        Value::Number(Number::Float(f))
    } else {
        Value::Null
    })
}

fn ext(r: &mut Reader<'_>, len: usize, fixed: bool) -> Result<Item, MsgpackError> {
    let ext_type = r.u8()? as i8;
    match (ext_type, fixed, len) {
        // notepack: `undefined`, whatever the data byte.
        (0, true, 1) => {
            r.take(1)?;
            Ok(Item::Undefined)
        }
        // notepack: a Date (milliseconds, int 64). No `Value` form.
        (0, true, 8) => Err(MsgpackError::UnsupportedExtension { ext_type }),
        // notepack (Node): an ArrayBuffer or typed array.
        (0, false, _) => Ok(Item::Value(Value::Binary(r.binary(len)?))),
        // notepack: any other extension reads as `[type, <Buffer>]`.
        _ => {
            let data = r.binary(len)?;
            Ok(Item::Value(Value::Array(alloc::vec![
                Value::Number(Number::from(i64::from(ext_type))),
                Value::Binary(data),
            ])))
        }
    }
}

fn read_head(r: &mut Reader<'_>) -> Result<Head, MsgpackError> {
    let marker = r.u8()?;
    let head = match marker {
        0x00..=0x7f => Head::Item(uint(u64::from(marker))),
        0x80..=0x8f => Head::Map(usize::from(marker & 0x0f)),
        0x90..=0x9f => Head::Array(usize::from(marker & 0x0f)),
        0xa0..=0xbf => Head::Item(Item::Value(Value::String(
            r.string(usize::from(marker & 0x1f))?,
        ))),
        0xc0 => Head::Item(Item::Value(Value::Null)),
        0xc1 => return Err(MsgpackError::InvalidMarker(marker)),
        0xc2 => Head::Item(Item::Value(Value::Bool(false))),
        0xc3 => Head::Item(Item::Value(Value::Bool(true))),
        0xc4 => {
            let n = usize::from(r.u8()?);
            Head::Item(Item::Value(Value::Binary(r.binary(n)?)))
        }
        0xc5 => {
            let n = r.u16()?;
            Head::Item(Item::Value(Value::Binary(r.binary(n)?)))
        }
        0xc6 => {
            let n = r.u32()?;
            Head::Item(Item::Value(Value::Binary(r.binary(n)?)))
        }
        0xc7 => {
            let n = usize::from(r.u8()?);
            Head::Item(ext(r, n, false)?)
        }
        0xc8 => {
            let n = r.u16()?;
            Head::Item(ext(r, n, false)?)
        }
        0xc9 => {
            let n = r.u32()?;
            Head::Item(ext(r, n, false)?)
        }
        0xca => Head::Item(float(f64::from(f32::from_be_bytes(r.array()?)))),
        0xcb => Head::Item(float(f64::from_be_bytes(r.array()?))),
        0xcc => Head::Item(uint(u64::from(r.u8()?))),
        0xcd => Head::Item(uint(u64::from(u16::from_be_bytes(r.array()?)))),
        0xce => Head::Item(uint(u64::from(u32::from_be_bytes(r.array()?)))),
        0xcf => Head::Item(uint(u64::from_be_bytes(r.array()?))),
        0xd0 => Head::Item(int(i64::from(i8::from_be_bytes(r.array()?)))),
        0xd1 => Head::Item(int(i64::from(i16::from_be_bytes(r.array()?)))),
        0xd2 => Head::Item(int(i64::from(i32::from_be_bytes(r.array()?)))),
        0xd3 => Head::Item(int(i64::from_be_bytes(r.array()?))),
        0xd4 => Head::Item(ext(r, 1, true)?),
        0xd5 => Head::Item(ext(r, 2, true)?),
        0xd6 => Head::Item(ext(r, 4, true)?),
        0xd7 => Head::Item(ext(r, 8, true)?),
        0xd8 => Head::Item(ext(r, 16, true)?),
        0xd9 => {
            let n = usize::from(r.u8()?);
            Head::Item(Item::Value(Value::String(r.string(n)?)))
        }
        0xda => {
            let n = r.u16()?;
            Head::Item(Item::Value(Value::String(r.string(n)?)))
        }
        0xdb => {
            let n = r.u32()?;
            Head::Item(Item::Value(Value::String(r.string(n)?)))
        }
        0xdc => Head::Array(r.u16()?),
        0xdd => Head::Array(r.u32()?),
        0xde => Head::Map(r.u16()?),
        0xdf => Head::Map(r.u32()?),
        0xe0..=0xff => Head::Item(int(i64::from(marker as i8))),
    };
    Ok(head)
}

/// A map key as JavaScript's `obj[key] = …` would coerce it.
fn key_string(item: Item) -> Result<String, MsgpackError> {
    match item {
        Item::Value(Value::String(s)) => Ok(s),
        Item::Value(Value::Number(Number::PosInt(n))) => Ok(n.to_string()),
        Item::Value(Value::Number(Number::NegInt(n))) => Ok(n.to_string()),
        Item::Value(Value::Number(Number::Float(f))) => {
            Ok(String::from(ryu_js::Buffer::new().format(f)))
        }
        Item::Value(Value::Bool(b)) => Ok(String::from(if b { "true" } else { "false" })),
        Item::Value(Value::Null) => Ok(String::from("null")),
        Item::Undefined => Ok(String::from("undefined")),
        Item::Value(_) => Err(MsgpackError::InvalidMapKey),
    }
}

/// Reads a map key: any scalar, coerced to a string as JavaScript does.
pub(super) fn read_key(r: &mut Reader<'_>) -> Result<String, MsgpackError> {
    match read_head(r)? {
        Head::Item(item) => key_string(item),
        Head::Array(_) | Head::Map(_) => Err(MsgpackError::InvalidMapKey),
    }
}

/// Reads a value header: the entry count if it is a map, `None` if it is anything else.
pub(super) fn read_map_header(r: &mut Reader<'_>) -> Result<Option<usize>, MsgpackError> {
    match read_head(r)? {
        Head::Map(len) => Ok(Some(len)),
        Head::Item(_) | Head::Array(_) => Ok(None),
    }
}

/// Reads an array header: the item count, or `None` (nothing consumed) for anything else.
pub(super) fn read_array_header(r: &mut Reader<'_>) -> Option<usize> {
    let start = r.pos;
    match read_head(r) {
        Ok(Head::Array(len)) => Some(len),
        _ => {
            r.pos = start;
            None
        }
    }
}

/// A container being filled.
enum Frame {
    Array {
        items: Vec<Value>,
        left: usize,
    },
    Map {
        entries: Vec<(String, Item)>,
        left: usize,
        key: Option<String>,
    },
}

/// Reads one item, with arrays/maps nested at most `max_depth` deep.
pub(super) fn read_item(r: &mut Reader<'_>, max_depth: usize) -> Result<Item, MsgpackError> {
    let mut stack: Vec<Frame> = Vec::new();
    loop {
        let wants_key = matches!(stack.last(), Some(Frame::Map { key: None, .. }));
        let mut item = if wants_key {
            Item::Value(Value::String(read_key(r)?))
        } else {
            match read_head(r)? {
                Head::Item(item) => item,
                Head::Array(len) => {
                    if stack.len() >= max_depth {
                        return Err(MsgpackError::TooDeep { max_depth });
                    }
                    if len == 0 {
                        Item::Value(Value::Array(Vec::new()))
                    } else {
                        // Every item takes at least one byte.
                        let items = Vec::with_capacity(len.min(r.remaining()));
                        stack.push(Frame::Array { items, left: len });
                        continue;
                    }
                }
                Head::Map(len) => {
                    if stack.len() >= max_depth {
                        return Err(MsgpackError::TooDeep { max_depth });
                    }
                    if len == 0 {
                        Item::Value(Value::Object(Vec::new()))
                    } else {
                        // Every entry takes at least two bytes.
                        let entries = Vec::with_capacity(len.min(r.remaining() / 2));
                        stack.push(Frame::Map {
                            entries,
                            left: len,
                            key: None,
                        });
                        continue;
                    }
                }
            }
        };
        // Hand the finished item to its container, closing every container it completes.
        loop {
            match stack.last_mut() {
                None => return Ok(item),
                Some(Frame::Array { items, left }) => {
                    items.push(item.into_value());
                    *left -= 1;
                    if *left > 0 {
                        break;
                    }
                }
                Some(Frame::Map { entries, left, key }) => match key.take() {
                    None => {
                        *key = Some(match item {
                            Item::Value(Value::String(s)) => s,
                            other => key_string(other)?,
                        });
                        break;
                    }
                    Some(k) => {
                        entries.push((k, item));
                        *left -= 1;
                        if *left > 0 {
                            break;
                        }
                    }
                },
            }
            // The top frame is complete: it becomes the item handed to its parent.
            item = match stack.pop() {
                Some(Frame::Array { items, .. }) => Item::Value(Value::Array(items)),
                Some(Frame::Map { entries, .. }) => Item::Value(Value::Object(finish_map(entries))),
                None => Item::Value(Value::Null),
            };
        }
    }
}

/// Applies JavaScript object semantics to decoded entries: a repeated key keeps its first
/// position and its last value, and a key whose value is `undefined` is left out (as
/// `JSON.stringify` and notepack 3 do).
pub(super) fn finish_map(entries: Vec<(String, Item)>) -> Vec<(String, Value)> {
    let mut out: Vec<(String, Item)> = Vec::with_capacity(entries.len());
    let mut index: Option<BTreeMap<String, usize>> = None;
    for (key, item) in entries {
        let found = match &index {
            Some(index) => index.get(&key).copied(),
            None => out.iter().position(|(k, _)| *k == key),
        };
        match found.and_then(|i| out.get_mut(i)) {
            Some(slot) => slot.1 = item,
            None => {
                if let Some(index) = &mut index {
                    index.insert(key.clone(), out.len());
                }
                out.push((key, item));
                if index.is_none() && out.len() > LINEAR_KEY_SCAN {
                    index = Some(
                        out.iter()
                            .enumerate()
                            .map(|(i, (k, _))| (k.clone(), i))
                            .collect(),
                    );
                }
            }
        }
    }
    out.into_iter()
        .filter_map(|(key, item)| match item {
            Item::Value(value) => Some((key, value)),
            Item::Undefined => None,
        })
        .collect()
}

/// Decodes one msgpack value from the start of `input`; returns it and the bytes it took.
///
/// Arrays and maps may nest at most `max_depth` deep (`[]` is depth 1). notepack's `undefined`
/// reads as `null` (and leaves its key out of a map); a non-finite float reads as `null`;
/// extension type 0 (notepack's ArrayBuffer) reads as binary, its legacy Date is refused, and any
/// other extension reads as `[type, <binary>]` as notepack returns it.
pub fn decode_value(input: &[u8], max_depth: usize) -> Result<(Value, usize), MsgpackError> {
    let mut r = Reader::new(input);
    let value = read_item(&mut r, max_depth)?.into_value();
    Ok((value, r.position()))
}

/// Like [`decode_value`], but binaries share `input`'s buffer instead of being copied.
pub fn decode_value_bytes(input: &Bytes, max_depth: usize) -> Result<(Value, usize), MsgpackError> {
    let mut r = Reader::shared(input);
    let value = read_item(&mut r, max_depth)?.into_value();
    Ok((value, r.position()))
}
