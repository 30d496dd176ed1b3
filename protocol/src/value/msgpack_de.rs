//! msgpack -> `T: Deserialize` in one pass, with no [`Value`] tree in between.
//!
//! The result is exactly that of `from_value::<T>(decode_value(data)?)`. The reader mirrors the
//! owned [`Value`] deserializer (same visits for the same item, integer hints accepting
//! integral floats) and leaves what JavaScript semantics change to that slow path instead of
//! re-implementing it: an extension (notepack's `undefined`, binary or `[type, data]`), a
//! non-finite float (read as `null`), a map key that is not a valid UTF-8 string (coerced), a
//! repeated key (merged) or an `undefined` map value (left out), items left unread, or any
//! error makes the whole read start over on the slow path, which then gives the exact result or
//! error. Enums written as maps, and bytes from anything but `bin` or a string, are read by
//! decoding that one sub-item into a [`Value`].

use alloc::borrow::Cow;
use alloc::string::String;
use alloc::vec::Vec;

use serde::de::{
    self, DeserializeOwned, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor,
};

use super::{FromValueError, KeyDeserializer, OwnedEnum, from_value, visit_integer, visit_number};
use crate::json::FromJsonError;
use crate::socket::parser::msgpack;
use crate::value::{Number, Value};

/// The reader's state, shared by every nested deserializer.
struct State<'de> {
    buf: &'de [u8],
    pos: usize,
    depth: usize,
    max_depth: usize,
    /// Byte ranges of the keys of the open maps, innermost last.
    keys: Vec<(usize, usize)>,
    /// Set when the result may differ from the slow path's: start over there.
    retry: bool,
}

/// One item's head, as far as the fast path reads it.
enum Token<'de> {
    Nil,
    Bool(bool),
    Number(Number),
    Str(&'de [u8]),
    Bin(&'de [u8]),
    Array(usize),
    Map(usize),
}

impl<'de> State<'de> {
    /// Gives up on the fast path.
    #[cold]
    fn fail(&mut self) -> FromValueError {
        self.retry = true;
        FromValueError(String::new())
    }

    fn peek(&self) -> Option<u8> {
        self.buf.get(self.pos).copied()
    }

    fn take(&mut self, n: usize) -> Result<&'de [u8], FromValueError> {
        let buf = self.buf;
        match self
            .pos
            .checked_add(n)
            .and_then(|end| buf.get(self.pos..end))
        {
            Some(slice) => {
                self.pos += n;
                Ok(slice)
            }
            None => Err(self.fail()),
        }
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], FromValueError> {
        let mut out = [0; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    fn len8(&mut self) -> Result<usize, FromValueError> {
        Ok(usize::from(self.array::<1>()?[0]))
    }

    fn len16(&mut self) -> Result<usize, FromValueError> {
        Ok(usize::from(u16::from_be_bytes(self.array()?)))
    }

    fn len32(&mut self) -> Result<usize, FromValueError> {
        let n = u32::from_be_bytes(self.array()?);
        usize::try_from(n).map_err(|_| self.fail())
    }

    fn float(&mut self, f: f64) -> Result<Token<'de>, FromValueError> {
        if f.is_finite() {
            Ok(Token::Number(Number::Float(f)))
        } else {
            Err(self.fail())
        }
    }

    /// Reads the next item's head (a string's or binary's bytes too).
    fn token(&mut self) -> Result<Token<'de>, FromValueError> {
        let marker = self.array::<1>()?[0];
        let int = |i: i64| Ok(Token::Number(Number::from(i)));
        let uint = |u: u64| Ok(Token::Number(Number::PosInt(u)));
        match marker {
            0x00..=0x7f => uint(u64::from(marker)),
            0x80..=0x8f => Ok(Token::Map(usize::from(marker & 0x0f))),
            0x90..=0x9f => Ok(Token::Array(usize::from(marker & 0x0f))),
            0xa0..=0xbf => Ok(Token::Str(self.take(usize::from(marker & 0x1f))?)),
            0xc0 => Ok(Token::Nil),
            0xc2 => Ok(Token::Bool(false)),
            0xc3 => Ok(Token::Bool(true)),
            0xc4 => {
                let n = self.len8()?;
                Ok(Token::Bin(self.take(n)?))
            }
            0xc5 => {
                let n = self.len16()?;
                Ok(Token::Bin(self.take(n)?))
            }
            0xc6 => {
                let n = self.len32()?;
                Ok(Token::Bin(self.take(n)?))
            }
            0xca => {
                let f = f32::from_be_bytes(self.array()?);
                self.float(f64::from(f))
            }
            0xcb => {
                let f = f64::from_be_bytes(self.array()?);
                self.float(f)
            }
            0xcc => uint(u64::from(self.array::<1>()?[0])),
            0xcd => uint(u64::from(u16::from_be_bytes(self.array()?))),
            0xce => uint(u64::from(u32::from_be_bytes(self.array()?))),
            0xcf => uint(u64::from_be_bytes(self.array()?)),
            0xd0 => int(i64::from(i8::from_be_bytes(self.array()?))),
            0xd1 => int(i64::from(i16::from_be_bytes(self.array()?))),
            0xd2 => int(i64::from(i32::from_be_bytes(self.array()?))),
            0xd3 => int(i64::from_be_bytes(self.array()?)),
            0xd9 => {
                let n = self.len8()?;
                Ok(Token::Str(self.take(n)?))
            }
            0xda => {
                let n = self.len16()?;
                Ok(Token::Str(self.take(n)?))
            }
            0xdb => {
                let n = self.len32()?;
                Ok(Token::Str(self.take(n)?))
            }
            0xdc => Ok(Token::Array(self.len16()?)),
            0xdd => Ok(Token::Array(self.len32()?)),
            0xde => Ok(Token::Map(self.len16()?)),
            0xdf => Ok(Token::Map(self.len32()?)),
            0xe0..=0xff => int(i64::from(marker as i8)),
            // Extensions (and the invalid 0xc1).
            _ => Err(self.fail()),
        }
    }

    fn open(&mut self) -> Result<(), FromValueError> {
        if self.depth >= self.max_depth {
            return Err(self.fail());
        }
        self.depth += 1;
        Ok(())
    }

    /// Skips the next item, checking it.
    fn skip(&mut self) -> Result<(), FromValueError> {
        let rest = self.buf.get(self.pos..).unwrap_or_default();
        match msgpack::item_len(rest, self.max_depth - self.depth) {
            Ok(n) => {
                self.pos += n;
                Ok(())
            }
            Err(_) => Err(self.fail()),
        }
    }

    /// Decodes the next item into a [`Value`] (the slow path for one sub-item).
    fn subtree(&mut self) -> Result<Value, FromValueError> {
        let start = self.pos;
        self.skip()?;
        let item = self.buf.get(start..self.pos).unwrap_or_default();
        match msgpack::decode_value(item, self.max_depth - self.depth) {
            Ok((value, _)) => Ok(value),
            Err(_) => Err(self.fail()),
        }
    }

    /// Visits an item whose head was read.
    fn visit<V: Visitor<'de>>(
        &mut self,
        token: Token<'de>,
        visitor: V,
    ) -> Result<V::Value, FromValueError> {
        match token {
            Token::Nil => visitor.visit_unit(),
            Token::Bool(b) => visitor.visit_bool(b),
            Token::Number(n) => visit_number(n, visitor),
            // Node's `toString('utf8')`: invalid sequences become U+FFFD.
            Token::Str(bytes) => match core::str::from_utf8(bytes) {
                Ok(text) => visitor.visit_str(text),
                Err(_) => visitor.visit_string(String::from_utf8_lossy(bytes).into_owned()),
            },
            Token::Bin(bytes) => visitor.visit_byte_buf(Vec::from(bytes)),
            Token::Array(len) => {
                self.open()?;
                let mut items = Items {
                    state: self,
                    left: len,
                };
                let out = visitor.visit_seq(&mut items)?;
                if items.left != 0 {
                    return Err(self.fail());
                }
                self.depth -= 1;
                Ok(out)
            }
            Token::Map(len) => self.visit_map(len, true, visitor),
        }
    }

    /// Visits a map whose head was read. `repeats`: whether to watch for a repeated key (a
    /// struct need not: serde refuses a repeated field, and the slow path then merges it).
    fn visit_map<V: Visitor<'de>>(
        &mut self,
        len: usize,
        repeats: bool,
        visitor: V,
    ) -> Result<V::Value, FromValueError> {
        self.open()?;
        let mark = self.keys.len();
        let mut entries = Entries {
            state: self,
            left: len,
            mark,
            seen: 0,
            repeats,
        };
        let out = visitor.visit_map(&mut entries);
        let left = entries.left;
        self.keys.truncate(mark);
        let out = out?;
        if left != 0 {
            return Err(self.fail());
        }
        self.depth -= 1;
        Ok(out)
    }
}

/// Reads one item.
struct Item<'s, 'de> {
    state: &'s mut State<'de>,
}

impl<'de> Item<'_, 'de> {
    /// Integer hints: an integral float in range is visited as an integer, as `from_value`
    /// does.
    fn integer<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, FromValueError> {
        match self.state.token()? {
            Token::Number(n) => visit_integer(n, visitor),
            token => self.state.visit(token, visitor),
        }
    }
}

impl<'de> Deserializer<'de> for Item<'_, 'de> {
    type Error = FromValueError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, FromValueError> {
        let token = self.state.token()?;
        self.state.visit(token, visitor)
    }

    integer_hints!(Item::integer);

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, FromValueError> {
        if self.state.peek() == Some(0xc0) {
            self.state.pos += 1;
            visitor.visit_none()
        } else {
            visitor.visit_some(self)
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, FromValueError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, FromValueError> {
        let state = self.state;
        if let Some(0xa0..=0xbf | 0xd9..=0xdb) = state.peek()
            && let Token::Str(bytes) = state.token()?
        {
            let variant = String::from_utf8_lossy(bytes);
            return visitor.visit_enum(OwnedEnum {
                variant: Cow::Owned(variant.into_owned()),
                value: None,
            });
        }
        state.subtree()?.deserialize_enum(name, variants, visitor)
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, FromValueError> {
        self.deserialize_byte_buf(visitor)
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, FromValueError> {
        let state = self.state;
        match state.peek() {
            Some(0xc4..=0xc6) => match state.token()? {
                Token::Bin(bytes) => visitor.visit_byte_buf(Vec::from(bytes)),
                _ => Err(state.fail()),
            },
            Some(0xa0..=0xbf | 0xd9..=0xdb) => match state.token()? {
                Token::Str(bytes) => visitor.visit_string(String::from_utf8_lossy(bytes).into()),
                _ => Err(state.fail()),
            },
            _ => state.subtree()?.deserialize_byte_buf(visitor),
        }
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(
        self,
        visitor: V,
    ) -> Result<V::Value, FromValueError> {
        self.state.skip()?;
        visitor.visit_unit()
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, FromValueError> {
        match self.state.token()? {
            Token::Map(len) => self.state.visit_map(len, false, visitor),
            token => self.state.visit(token, visitor),
        }
    }

    serde::forward_to_deserialize_any! {
        bool f32 f64 char str string unit unit_struct seq tuple tuple_struct map identifier
    }
}

/// The items of an array whose head was read.
struct Items<'s, 'de> {
    state: &'s mut State<'de>,
    left: usize,
}

impl<'de> SeqAccess<'de> for Items<'_, 'de> {
    type Error = FromValueError;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, FromValueError> {
        if self.left == 0 {
            return Ok(None);
        }
        self.left -= 1;
        seed.deserialize(Item {
            state: &mut *self.state,
        })
        .map(Some)
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.left)
    }
}

/// The entries of a map whose head was read.
struct Entries<'s, 'de> {
    state: &'s mut State<'de>,
    left: usize,
    /// Where this map's keys start in `state.keys`.
    mark: usize,
    /// A one-word filter of the keys seen so far.
    seen: u64,
    /// Whether to watch for a repeated key.
    repeats: bool,
}

impl<'de> MapAccess<'de> for Entries<'_, 'de> {
    type Error = FromValueError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, FromValueError> {
        if self.left == 0 {
            return Ok(None);
        }
        self.left -= 1;
        let state = &mut *self.state;
        let start = state.pos;
        // Only UTF-8 string keys: anything else is coerced by the slow path.
        let key = match state.token()? {
            Token::Str(bytes) => core::str::from_utf8(bytes).map_err(|_| state.fail())?,
            _ => return Err(state.fail()),
        };
        let end = state.pos;
        if !self.repeats {
            return seed
                .deserialize(KeyDeserializer {
                    key: Cow::Borrowed(key),
                })
                .map(Some);
        }
        // A cheap filter first: only a key whose (length, last byte) bit is already set can
        // repeat an earlier one.
        let last = key.as_bytes().last().copied().unwrap_or(0);
        let bit = 1u64 << ((key.len() + usize::from(last) * 7) % 64);
        let buf = state.buf;
        if self.seen & bit != 0
            && state.keys[self.mark..]
                .iter()
                .any(|&(s, e)| buf.get(s..e) == buf.get(start..end))
        {
            // The tree merges repeated keys.
            return Err(state.fail());
        }
        self.seen |= bit;
        state.keys.push((start, end));
        seed.deserialize(KeyDeserializer {
            key: Cow::Borrowed(key),
        })
        .map(Some)
    }

    fn next_value_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<T::Value, FromValueError> {
        // notepack's `undefined` leaves its key out of the tree.
        if self.state.buf.get(self.state.pos..self.state.pos + 2) == Some(&[0xd4, 0]) {
            return Err(self.state.fail());
        }
        seed.deserialize(Item {
            state: &mut *self.state,
        })
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.left)
    }
}

/// An event's arguments: the items after the first of the top-level array.
struct Args<'s, 'de> {
    state: &'s mut State<'de>,
}

impl<'de> Args<'_, 'de> {
    fn visit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, FromValueError> {
        let state = self.state;
        let len = match state.token()? {
            Token::Array(len) if len > 0 => len,
            _ => return Err(state.fail()),
        };
        state.open()?;
        // The name (or whatever the first item is).
        state.skip()?;
        let mut items = Items {
            state: &mut *state,
            left: len - 1,
        };
        let out = visitor.visit_seq(&mut items)?;
        if items.left != 0 {
            return Err(state.fail());
        }
        state.depth -= 1;
        Ok(out)
    }
}

impl<'de> Deserializer<'de> for Args<'_, 'de> {
    type Error = FromValueError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, FromValueError> {
        self.visit(visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, FromValueError> {
        visitor.visit_some(self)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, FromValueError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(
        self,
        visitor: V,
    ) -> Result<V::Value, FromValueError> {
        self.visit(de::IgnoredAny)?;
        visitor.visit_unit()
    }

    // Rare on an argument list: the slow path reads them.
    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        _visitor: V,
    ) -> Result<V::Value, FromValueError> {
        Err(self.state.fail())
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, _visitor: V) -> Result<V::Value, FromValueError> {
        Err(self.state.fail())
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(
        self,
        _visitor: V,
    ) -> Result<V::Value, FromValueError> {
        Err(self.state.fail())
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string unit unit_struct
        seq tuple tuple_struct map struct identifier
    }
}

/// `T` from one checked msgpack item (the whole of `data`), or from the arguments of the event
/// array it holds: the fast path, then the slow one if needed.
pub(crate) fn read<T: DeserializeOwned>(
    data: &[u8],
    max_depth: usize,
    args: bool,
) -> Result<T, FromJsonError> {
    let mut state = State {
        buf: data,
        pos: 0,
        depth: 0,
        max_depth,
        keys: Vec::new(),
        retry: false,
    };
    let fast = if args {
        T::deserialize(Args { state: &mut state })
    } else {
        T::deserialize(Item { state: &mut state })
    };
    if let Ok(value) = fast
        && !state.retry
        && state.pos == data.len()
    {
        return Ok(value);
    }
    let value = match msgpack::decode_value(data, usize::MAX) {
        Ok((value, _)) => value,
        Err(e) => return Err(FromJsonError::Data(de::Error::custom(e))),
    };
    if args {
        super::text::from_args(value)
    } else {
        from_value(value).map_err(FromJsonError::Data)
    }
}
