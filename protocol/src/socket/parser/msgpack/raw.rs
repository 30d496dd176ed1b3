//! msgpack data kept as it arrived: a skim checks an item the way [`read_item`] would and finds
//! its end without building anything, so a packet's `data` can stay bytes until a handler reads
//! it ([`MsgpackData`]).
//!
//! [`read_item`]: super::value::read_item

use alloc::vec::Vec;
use core::fmt;

use bytes::Bytes;
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
        let mut encoded = Vec::new();
        if crate::value::msgpack_ser::write(args, &mut encoded).is_err() {
            encoded.clear();
            value::encode_value(&crate::value::to_value(args)?, &mut encoded);
        }
        // The arguments' own array header gives way to one that counts the name too.
        let mut r = Reader::new(&encoded);
        let (count, rest) = match value::read_array_header(&mut r) {
            Some(count) => (count, encoded.get(r.position()..).unwrap_or_default()),
            None if encoded == [0xc0] => (0, &[][..]),
            None => (1, &encoded[..]),
        };
        let mut out = Vec::with_capacity(10 + name.len() + rest.len());
        value::write_container_len(count.saturating_add(1), 0x90, 0xdc, 0xdd, &mut out);
        value::write_str(name, &mut out);
        out.extend_from_slice(rest);
        Ok(Payload::Msgpack(MsgpackData(Bytes::from(out))))
    }
}

impl fmt::Debug for MsgpackData {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("MsgpackData").field(&self.0).finish()
    }
}

/// What the skim learnt from one marker.
enum Head {
    /// A scalar that may be a map key.
    Key,
    /// A scalar that may not be a map key (binary, an extension other than `undefined`).
    NotKey,
    Array(usize),
    Map(usize),
}

/// Skips an extension's type and data, as `value::ext` reads it.
fn skip_ext(r: &mut Reader<'_>, len: usize, fixed: bool) -> Result<Head, MsgpackError> {
    let ext_type = r.u8()? as i8;
    match (ext_type, fixed, len) {
        (0, true, 8) => Err(MsgpackError::UnsupportedExtension { ext_type }),
        (0, true, 1) => r.take(1).map(|_| Head::Key),
        _ => r.take(len).map(|_| Head::NotKey),
    }
}

fn skip_bytes(r: &mut Reader<'_>, len: usize, head: Head) -> Result<Head, MsgpackError> {
    r.take(len).map(|_| head)
}

fn skip_head(r: &mut Reader<'_>) -> Result<Head, MsgpackError> {
    let marker = r.u8()?;
    match marker {
        0x00..=0x7f | 0xc0 | 0xc2 | 0xc3 | 0xe0..=0xff => Ok(Head::Key),
        0x80..=0x8f => Ok(Head::Map(usize::from(marker & 0x0f))),
        0x90..=0x9f => Ok(Head::Array(usize::from(marker & 0x0f))),
        0xa0..=0xbf => skip_bytes(r, usize::from(marker & 0x1f), Head::Key),
        0xc1 => Err(MsgpackError::InvalidMarker(marker)),
        0xc4 => {
            let n = usize::from(r.u8()?);
            skip_bytes(r, n, Head::NotKey)
        }
        0xc5 => {
            let n = r.u16()?;
            skip_bytes(r, n, Head::NotKey)
        }
        0xc6 => {
            let n = r.u32()?;
            skip_bytes(r, n, Head::NotKey)
        }
        0xc7 => {
            let n = usize::from(r.u8()?);
            skip_ext(r, n, false)
        }
        0xc8 => {
            let n = r.u16()?;
            skip_ext(r, n, false)
        }
        0xc9 => {
            let n = r.u32()?;
            skip_ext(r, n, false)
        }
        0xcc | 0xd0 => skip_bytes(r, 1, Head::Key),
        0xcd | 0xd1 => skip_bytes(r, 2, Head::Key),
        0xca | 0xce | 0xd2 => skip_bytes(r, 4, Head::Key),
        0xcb | 0xcf | 0xd3 => skip_bytes(r, 8, Head::Key),
        0xd4 => skip_ext(r, 1, true),
        0xd5 => skip_ext(r, 2, true),
        0xd6 => skip_ext(r, 4, true),
        0xd7 => skip_ext(r, 8, true),
        0xd8 => skip_ext(r, 16, true),
        0xd9 => {
            let n = usize::from(r.u8()?);
            skip_bytes(r, n, Head::Key)
        }
        0xda => {
            let n = r.u16()?;
            skip_bytes(r, n, Head::Key)
        }
        0xdb => {
            let n = r.u32()?;
            skip_bytes(r, n, Head::Key)
        }
        0xdc => Ok(Head::Array(r.u16()?)),
        0xdd => Ok(Head::Array(r.u32()?)),
        0xde => Ok(Head::Map(r.u16()?)),
        0xdf => Ok(Head::Map(r.u32()?)),
    }
}

/// The open containers of a skim: items left in each (a map counts keys and values), and
/// whether it is a map. The first few levels live inline, so a shallow item allocates nothing.
struct Open {
    inline: [(usize, bool); 8],
    len: usize,
    spill: Vec<(usize, bool)>,
}

impl Open {
    fn last_mut(&mut self) -> Option<&mut (usize, bool)> {
        match self.len {
            0 => None,
            n if n <= 8 => self.inline.get_mut(n - 1),
            _ => self.spill.last_mut(),
        }
    }

    fn push(&mut self, entry: (usize, bool)) {
        match self.inline.get_mut(self.len) {
            Some(slot) => *slot = entry,
            None => self.spill.push(entry),
        }
        self.len += 1;
    }

    fn pop(&mut self) {
        if self.len > 8 {
            self.spill.pop();
        }
        self.len -= 1;
    }
}

/// Skips one item, checking it as `read_item` does (markers, lengths, map keys, extensions,
/// arrays/maps nested at most `max_depth` deep), without building it.
pub(crate) fn skip_item(r: &mut Reader<'_>, max_depth: usize) -> Result<(), MsgpackError> {
    let mut open = Open {
        inline: [(0, false); 8],
        len: 0,
        spill: Vec::new(),
    };
    loop {
        // In a map, an even count of items left means a key comes next.
        let key = matches!(open.last_mut(), Some(&mut (left, true)) if left % 2 == 0);
        match skip_head(r)? {
            Head::Key => {}
            Head::NotKey | Head::Array(_) | Head::Map(_) if key => {
                return Err(MsgpackError::InvalidMapKey);
            }
            Head::NotKey => {}
            Head::Array(_) | Head::Map(_) if open.len >= max_depth => {
                return Err(MsgpackError::TooDeep { max_depth });
            }
            Head::Array(len) => {
                if len > 0 {
                    open.push((len, false));
                    continue;
                }
            }
            Head::Map(len) => {
                if len > 0 {
                    // Cannot overflow: a u32 length at most.
                    open.push((len * 2, true));
                    continue;
                }
            }
        }
        // The item is done: count it, closing every container it completes.
        loop {
            match open.last_mut() {
                None => return Ok(()),
                Some((left, _)) => {
                    *left -= 1;
                    if *left > 0 {
                        break;
                    }
                }
            }
            open.pop();
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
