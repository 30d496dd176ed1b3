//! msgpack data kept as it arrived: a skim checks an item the way [`read_item`] would and finds
//! its end without building anything, so a packet's `data` can stay bytes until a handler reads
//! it ([`MsgpackData`]).
//!
//! [`read_item`]: super::value::read_item

use alloc::vec::Vec;
use core::fmt;

use bytes::{Buf, Bytes};
use serde::Serialize;

use super::MsgpackError;
use super::value::{self, Reader};
use crate::socket::Payload;
use crate::value::{ToValueError, Value};

/// One msgpack value known to be well formed: checked by the skim (every marker valid, lengths
/// within the input, map keys scalars, nesting within the limit), or written by this crate.
///
/// It is what the msgpack decoder puts in [`Payload::Msgpack`](crate::socket::Payload::Msgpack):
/// the packet's `data` as received, sharing the frame's buffer. The msgpack encoder writes it
/// back as it is.
#[derive(Clone, PartialEq, Eq)]
pub struct MsgpackData(Bytes);

impl MsgpackData {
    /// Checks that `bytes` hold exactly one msgpack value, nested at most `max_depth` deep, with
    /// what the packet decoder refuses refused (the marker `0xc1`, a non-scalar map key,
    /// notepack's legacy Date extension).
    pub fn from_bytes(bytes: Bytes, max_depth: usize) -> Result<MsgpackData, MsgpackError> {
        let mut r = Reader::new(&bytes);
        skip_item(&mut r, max_depth)?;
        match bytes.len() - r.position() {
            0 => Ok(MsgpackData(bytes)),
            left => Err(MsgpackError::TrailingBytes(left)),
        }
    }

    /// `value` as msgpack, as [`encode_value`](super::encode_value) writes it.
    pub fn from_value(value: &Value) -> MsgpackData {
        let mut out = Vec::new();
        value::encode_value(value, &mut out);
        MsgpackData(Bytes::from(out))
    }

    /// Serializes `value` straight to msgpack, with no [`Value`] tree: the same bytes as
    /// `from_value(&to_value(value)?)` (binary as `bin` in place). Errors are those of
    /// [`to_value`](crate::value::to_value).
    pub fn from_serialize<T: Serialize + ?Sized>(value: &T) -> Result<MsgpackData, ToValueError> {
        let mut out = Vec::new();
        match crate::value::msgpack_ser::write(value, &mut out) {
            Ok(()) => Ok(MsgpackData(Bytes::from(out))),
            Err(_) => Ok(MsgpackData::from_value(&crate::value::to_value(value)?)),
        }
    }

    /// Wraps bytes the skim checked, or this crate wrote, as one msgpack value.
    pub(crate) fn checked(bytes: Bytes) -> MsgpackData {
        MsgpackData(bytes)
    }

    /// The msgpack bytes.
    pub fn as_bytes(&self) -> &Bytes {
        &self.0
    }

    /// The value, decoded as [`decode_value_bytes`](super::decode_value_bytes) decodes it
    /// (binaries share the buffer).
    pub fn to_value(&self) -> Value {
        // Checked when it was made, so this cannot fail; `null` keeps it panic-free anyway.
        super::decode_value_bytes(&self.0, usize::MAX).map_or(Value::Null, |(value, _)| value)
    }

    /// For event data: `Some(true)` if it is an array led by a [reserved
    /// name](crate::socket::RESERVED_EVENTS), `Some(false)` if led by another name or a number,
    /// `None` if it is not an event array.
    pub(crate) fn event_reserved(&self) -> Option<bool> {
        match shape(&self.0) {
            Shape::Array(Some(First::Name(name))) => Some(is_reserved(name)),
            Shape::Array(Some(First::Number)) => Some(false),
            _ => None,
        }
    }

    /// True if the value is an array.
    pub(crate) fn is_array(&self) -> bool {
        matches!(shape(&self.0), Shape::Array(_))
    }

    /// True if the value holds binary (a `bin`, or an extension, which reads as binary).
    pub fn has_binary(&self) -> bool {
        self.to_value().has_binary()
    }
}

impl Payload {
    /// Serializes an event, `[name, ...args]`, straight to msgpack ([`Payload::Msgpack`], no
    /// [`Value`] tree, binary in place): the same bytes as the msgpack encoding of what
    /// [`Payload::event`] describes, with the same rules for `args` (a sequence gives its items
    /// as the arguments, `()` none, any other value is the one argument). Use it for packets
    /// sent through the **msgpack** parser; errors are those of
    /// [`to_value`](crate::value::to_value).
    ///
    /// ```
    /// use socketio_protocol::socket::Payload;
    ///
    /// let payload = Payload::msgpack_event("chat", &("hi", 1)).unwrap();
    /// let Payload::Msgpack(data) = &payload else { unreachable!() };
    /// assert_eq!(&data.as_bytes()[..], b"\x93\xa4chat\xa2hi\x01");
    /// ```
    pub fn msgpack_event<T: Serialize + ?Sized>(
        name: &str,
        args: &T,
    ) -> Result<Payload, ToValueError> {
        // Room for the array header in front of the name: the header's size is only known
        // once the arguments are written.
        let mut out = Vec::with_capacity(64 + name.len());
        out.extend_from_slice(&[0; 5]);
        value::write_str(name, &mut out);
        let at = out.len();
        if crate::value::msgpack_ser::write(args, &mut out).is_err() {
            out.truncate(at);
            value::encode_value(&crate::value::to_value(args)?, &mut out);
        }
        // The arguments' own array header (or `nil` for none) gives way to one that counts the
        // name too: the name moves up against the first argument, the new header before it.
        let args = out.get(at..).unwrap_or_default();
        let mut r = Reader::new(args);
        let (count, skip) = match value::read_array_header(&mut r) {
            Some(count) => (count, r.position()),
            None if args == [0xc0] => (0, 1),
            None => (1, 0),
        };
        out.copy_within(5..at, 5 + skip);
        let mut header = Vec::with_capacity(5);
        value::write_container_len(count.saturating_add(1), 0x90, 0xdc, 0xdd, &mut header);
        let start = 5 + skip - header.len();
        out[start..5 + skip].copy_from_slice(&header);
        let mut bytes = Bytes::from(out);
        bytes.advance(start);
        Ok(Payload::Msgpack(MsgpackData(bytes)))
    }
}

impl fmt::Debug for MsgpackData {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("MsgpackData").field(&self.0).finish()
    }
}

/// The containers a skim is inside, outermost first: for each, the items it has left (a map
/// counts keys and values) and whether it is a map. The first levels live inline, so a shallow
/// item allocates nothing.
struct Open {
    inline: [(usize, bool); 8],
    len: usize,
    spill: Vec<(usize, bool)>,
}

impl Open {
    fn push(&mut self, entry: (usize, bool)) {
        match self.inline.get_mut(self.len) {
            Some(slot) => *slot = entry,
            None => self.spill.push(entry),
        }
        self.len += 1;
    }

    fn pop(&mut self) -> Option<(usize, bool)> {
        let entry = match self.len {
            0 => return None,
            n if n <= 8 => self.inline.get(n - 1).copied(),
            _ => self.spill.pop(),
        };
        self.len -= 1;
        entry
    }
}

/// Big-endian length of `n` bytes at `pos` (`None` past the end).
#[inline]
fn length(buf: &[u8], pos: usize, n: usize) -> Option<usize> {
    let bytes = buf.get(pos..pos.checked_add(n)?)?;
    Some(bytes.iter().fold(0, |len, &b| len << 8 | usize::from(b)))
}

/// Skips one item, checking it as `read_item` does (markers, lengths, map keys, extensions,
/// arrays/maps nested at most `max_depth` deep), without building it.
///
/// Hot on every msgpack packet received, so it works on the slice directly: a string's or a
/// number's bytes are skipped by moving the position, and the end of the input is checked
/// when the next marker is read and once at the end.
pub(crate) fn skip_item(r: &mut Reader<'_>, max_depth: usize) -> Result<(), MsgpackError> {
    let buf = r.input();
    let mut pos = r.position();
    let mut open = Open {
        inline: [(0, false); 8],
        len: 0,
        spill: Vec::new(),
    };
    // The innermost container's state; the top level is one item.
    let (mut left, mut map) = (1usize, false);
    let eof = MsgpackError::UnexpectedEof;
    loop {
        // In a map, an even count of items left means a key comes next.
        let key = map && left % 2 == 0;
        let marker = *buf.get(pos).ok_or(eof.clone())?;
        pos += 1;
        // What follows the marker: bytes to skip, or a container of `items`.
        let (skip, container) = match marker {
            0x00..=0x7f | 0xc0 | 0xc2 | 0xc3 | 0xe0..=0xff => (0, None),
            0xa0..=0xbf => (usize::from(marker & 0x1f), None),
            0xcc | 0xd0 => (1, None),
            0xcd | 0xd1 => (2, None),
            0xca | 0xce | 0xd2 => (4, None),
            0xcb | 0xcf | 0xd3 => (8, None),
            0xd9..=0xdb => {
                let n = 1 << (marker - 0xd9);
                (n + length(buf, pos, n).ok_or(eof.clone())?, None)
            }
            0x80..=0x8f => (0, Some((usize::from(marker & 0x0f) * 2, true))),
            0x90..=0x9f => (0, Some((usize::from(marker & 0x0f), false))),
            0xdc | 0xdd => {
                let n = if marker == 0xdc { 2 } else { 4 };
                let items = length(buf, pos, n).ok_or(eof.clone())?;
                (n, Some((items, false)))
            }
            0xde | 0xdf => {
                let n = if marker == 0xde { 2 } else { 4 };
                // At most 2^33: no overflow.
                let items = length(buf, pos, n).ok_or(eof.clone())? * 2;
                (n, Some((items, true)))
            }
            0xc1 => return Err(MsgpackError::InvalidMarker(marker)),
            // bin 8/16/32: never a key.
            0xc4..=0xc6 => {
                let n = 1 << (marker - 0xc4);
                let len = length(buf, pos, n).ok_or(eof.clone())?;
                if key {
                    return Err(MsgpackError::InvalidMapKey);
                }
                (n + len, None)
            }
            // ext 8/16/32 and fixext 1..16: a type byte, then data.
            0xc7..=0xc9 | 0xd4..=0xd8 => {
                let (n, len) = match marker {
                    0xc7..=0xc9 => {
                        let n = 1 << (marker - 0xc7);
                        (n, length(buf, pos, n).ok_or(eof.clone())?)
                    }
                    _ => (0, 1 << (marker - 0xd4)),
                };
                let ext_type = *buf.get(pos + n).ok_or(eof.clone())? as i8;
                let fixed = n == 0;
                match (ext_type, fixed, len) {
                    // notepack's legacy Date has no `Value` form.
                    (0, true, 8) => return Err(MsgpackError::UnsupportedExtension { ext_type }),
                    // `undefined` is a valid key ("undefined"); any other reads as binary.
                    (0, true, 1) => {}
                    _ if key => return Err(MsgpackError::InvalidMapKey),
                    _ => {}
                }
                (n + 1 + len, None)
            }
        };
        pos = pos.saturating_add(skip);
        if let Some((items, is_map)) = container {
            if key {
                return Err(MsgpackError::InvalidMapKey);
            }
            if open.len >= max_depth {
                return Err(MsgpackError::TooDeep { max_depth });
            }
            if items > 0 {
                open.push((left, map));
                (left, map) = (items, is_map);
                continue;
            }
        }
        // The item is done: count it, closing every container it completes.
        loop {
            left -= 1;
            if left > 0 {
                break;
            }
            match open.pop() {
                Some(outer) => (left, map) = outer,
                None => {
                    if pos > buf.len() {
                        return Err(eof);
                    }
                    r.seek(pos);
                    return Ok(());
                }
            }
        }
    }
}

/// The length of the msgpack item at the start of `input` (checked as [`skip_item`] does).
pub(crate) fn item_len(input: &[u8], max_depth: usize) -> Result<usize, MsgpackError> {
    let mut r = Reader::new(input);
    skip_item(&mut r, max_depth)?;
    Ok(r.position())
}

/// What a packet's `data` is, as far as the payload rules need to know.
pub(super) enum Shape<'a> {
    /// notepack's `undefined`: the key counts as absent.
    Undefined,
    Map,
    Str,
    /// An array and its first item (`None` if it is empty).
    Array(Option<First<'a>>),
    Other,
}

/// The first item of an event array.
pub(super) enum First<'a> {
    /// A string (its raw bytes; invalid UTF-8 can never equal a reserved name).
    Name(&'a [u8]),
    /// A finite number (a non-finite float reads as `null`).
    Number,
    Other,
}

/// The kind of the item at the start of `r`, consuming only its head.
enum Kind<'a> {
    Undefined,
    Map,
    Array(usize),
    Str(&'a [u8]),
    Number,
    Other,
}

fn kind<'a>(r: &mut Reader<'a>) -> Result<Kind<'a>, MsgpackError> {
    let marker = r.u8()?;
    Ok(match marker {
        0x00..=0x7f | 0xcc..=0xd3 | 0xe0..=0xff => Kind::Number,
        0xca => Kind::from_float(f64::from(f32::from_be_bytes(r.array()?))),
        0xcb => Kind::from_float(f64::from_be_bytes(r.array()?)),
        0x80..=0x8f | 0xde | 0xdf => Kind::Map,
        0x90..=0x9f => Kind::Array(usize::from(marker & 0x0f)),
        0xdc => Kind::Array(r.u16()?),
        0xdd => Kind::Array(r.u32()?),
        0xa0..=0xbf => Kind::Str(r.take(usize::from(marker & 0x1f))?),
        0xd9 => {
            let n = usize::from(r.u8()?);
            Kind::Str(r.take(n)?)
        }
        0xda => {
            let n = r.u16()?;
            Kind::Str(r.take(n)?)
        }
        0xdb => {
            let n = r.u32()?;
            Kind::Str(r.take(n)?)
        }
        0xd4 if r.peek() == Some(0) => Kind::Undefined,
        _ => Kind::Other,
    })
}

impl Kind<'_> {
    fn from_float(f: f64) -> Self {
        if f.is_finite() {
            Kind::Number
        } else {
            Kind::Other
        }
    }
}

/// Whether an event name's raw bytes are a reserved name (invalid UTF-8, which reads as
/// U+FFFD, never is).
pub(super) fn is_reserved(name: &[u8]) -> bool {
    crate::socket::RESERVED_EVENTS
        .iter()
        .any(|reserved| reserved.as_bytes() == name)
}

/// The shape of a skimmed item.
pub(super) fn shape(data: &[u8]) -> Shape<'_> {
    let mut r = Reader::new(data);
    match kind(&mut r) {
        Ok(Kind::Undefined) => Shape::Undefined,
        Ok(Kind::Map) => Shape::Map,
        Ok(Kind::Str(_)) => Shape::Str,
        Ok(Kind::Array(0)) => Shape::Array(None),
        Ok(Kind::Array(_)) => Shape::Array(Some(match kind(&mut r) {
            Ok(Kind::Str(name)) => First::Name(name),
            Ok(Kind::Number) => First::Number,
            _ => First::Other,
        })),
        _ => Shape::Other,
    }
}
