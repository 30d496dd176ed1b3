//! JSON text -> `T: Deserialize` in one pass, with no [`Value`] tree in between.
//!
//! The result is exactly that of `from_value::<T>(json::parse(text, max_depth)?)`. The reader
//! mirrors the owned [`Value`] deserializer (same visits for the same JSON, numbers read by the
//! same lexer, integer hints accepting integral floats), and leaves the rare cases to that slow
//! path instead of re-implementing them: enums written as objects and bytes are read by
//! parsing that one sub-value into a [`Value`]; and any error (bad JSON, a type mismatch, items
//! left unread), an object with a repeated key (which `parse` merges) or a key with escapes
//! makes the whole read start over on the slow path, which then gives the exact result or
//! error.

use alloc::borrow::Cow;
use alloc::string::String;
use alloc::vec::Vec;

use serde::de::{
    self, DeserializeOwned, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor,
};

use super::{FromValueError, KeyDeserializer, OwnedEnum, from_value, visit_integer, visit_number};
use crate::json::{self, FromJsonError, Lexer};
use crate::socket::Payload;
use crate::value::Value;

/// The reader's state, shared by every nested deserializer.
struct State<'de> {
    lex: Lexer<'de>,
    depth: usize,
    max_depth: usize,
    /// Byte ranges (quotes included) of the keys of the open objects, innermost last.
    keys: Vec<(usize, usize)>,
    /// Set when the result may differ from the slow path's: start over there.
    retry: bool,
}

impl<'de> State<'de> {
    fn new(text: &'de [u8], max_depth: usize) -> Self {
        State {
            // One UTF-8 check up front makes every string slice free.
            lex: Lexer::checked(text),
            depth: 0,
            max_depth,
            keys: Vec::new(),
            retry: false,
        }
    }

    /// Gives up on the fast path.
    #[cold]
    fn fail(&mut self) -> FromValueError {
        self.retry = true;
        FromValueError(String::new())
    }

    fn open(&mut self) -> Result<(), FromValueError> {
        if self.depth >= self.max_depth {
            return Err(self.fail());
        }
        self.depth += 1;
        self.lex.pos += 1;
        Ok(())
    }

    /// Consumes `close` (after whitespace), or gives up.
    fn close(&mut self, close: u8) -> Result<(), FromValueError> {
        if self.lex.peek_token() != Some(close) {
            return Err(self.fail());
        }
        self.lex.pos += 1;
        self.depth -= 1;
        Ok(())
    }

    /// Skips the next value, checking it.
    fn skip(&mut self) -> Result<(), FromValueError> {
        let room = self.max_depth - self.depth;
        self.lex.skip_value(room).map_err(|_| self.fail())
    }

    /// Parses the next value into a [`Value`] (the slow path for one sub-value).
    fn subtree(&mut self) -> Result<Value, FromValueError> {
        self.lex.peek_token();
        let start = self.lex.pos;
        self.skip()?;
        let text = self.lex.slice(start, self.lex.pos);
        let room = self.max_depth - self.depth;
        json::parse(text, room).map_err(|_| self.fail())
    }
}

/// Reads one value.
struct Text<'s, 'de> {
    state: &'s mut State<'de>,
}

impl<'de> Deserializer<'de> for Text<'_, 'de> {
    type Error = FromValueError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, FromValueError> {
        let state = self.state;
        match state.lex.peek_token() {
            Some(b'n') => {
                state.lex.literal(b"null").map_err(|_| state.fail())?;
                visitor.visit_unit()
            }
            Some(b't') => {
                state.lex.literal(b"true").map_err(|_| state.fail())?;
                visitor.visit_bool(true)
            }
            Some(b'f') => {
                state.lex.literal(b"false").map_err(|_| state.fail())?;
                visitor.visit_bool(false)
            }
            Some(b'-' | b'0'..=b'9') => {
                let n = state.lex.number().map_err(|_| state.fail())?;
                visit_number(n, visitor)
            }
            Some(b'"') => match state.lex.string().map_err(|_| state.fail())? {
                Cow::Borrowed(s) => visitor.visit_str(s),
                Cow::Owned(s) => visitor.visit_string(s),
            },
            Some(b'[') => {
                state.open()?;
                let out = visitor.visit_seq(Items {
                    state: &mut *state,
                    first: true,
                })?;
                state.close(b']')?;
                Ok(out)
            }
            Some(b'{') => {
                state.open()?;
                let mark = state.keys.len();
                let out = visitor.visit_map(Entries {
                    state: &mut *state,
                    mark,
                    seen: 0,
                });
                state.keys.truncate(mark);
                let out = out?;
                state.close(b'}')?;
                Ok(out)
            }
            _ => Err(state.fail()),
        }
    }

    fn deserialize_i8<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, FromValueError> {
        self.integer(visitor)
    }
    fn deserialize_i16<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, FromValueError> {
        self.integer(visitor)
    }
    fn deserialize_i32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, FromValueError> {
        self.integer(visitor)
    }
    fn deserialize_i64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, FromValueError> {
        self.integer(visitor)
    }
    fn deserialize_i128<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, FromValueError> {
        self.integer(visitor)
    }
    fn deserialize_u8<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, FromValueError> {
        self.integer(visitor)
    }
    fn deserialize_u16<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, FromValueError> {
        self.integer(visitor)
    }
    fn deserialize_u32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, FromValueError> {
        self.integer(visitor)
    }
    fn deserialize_u64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, FromValueError> {
        self.integer(visitor)
    }
    fn deserialize_u128<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, FromValueError> {
        self.integer(visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, FromValueError> {
        if self.state.lex.peek_token() == Some(b'n') {
            let state = self.state;
            state.lex.literal(b"null").map_err(|_| state.fail())?;
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
        if state.lex.peek_token() == Some(b'"') {
            let variant = state.lex.string().map_err(|_| state.fail())?;
            return visitor.visit_enum(OwnedEnum {
                variant,
                value: None,
            });
        }
        state.subtree()?.deserialize_enum(name, variants, visitor)
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, FromValueError> {
        self.state.subtree()?.deserialize_byte_buf(visitor)
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, FromValueError> {
        self.state.subtree()?.deserialize_byte_buf(visitor)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(
        self,
        visitor: V,
    ) -> Result<V::Value, FromValueError> {
        self.state.skip()?;
        visitor.visit_unit()
    }

    serde::forward_to_deserialize_any! {
        bool f32 f64 char str string unit unit_struct seq tuple tuple_struct map struct
        identifier
    }
}

impl<'de> Text<'_, 'de> {
    /// Integer hints: an integral float in range is visited as an integer, as `from_value`
    /// does.
    fn integer<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, FromValueError> {
        if let Some(b'-' | b'0'..=b'9') = self.state.lex.peek_token() {
            let state = self.state;
            let n = state.lex.number().map_err(|_| state.fail())?;
            visit_integer(n, visitor)
        } else {
            self.deserialize_any(visitor)
        }
    }
}

/// The items of an array (the `[` is consumed; the `]` is left to the caller).
struct Items<'s, 'de> {
    state: &'s mut State<'de>,
    first: bool,
}

impl<'de> SeqAccess<'de> for Items<'_, 'de> {
    type Error = FromValueError;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, FromValueError> {
        match self.state.lex.peek_token() {
            Some(b']') => return Ok(None),
            Some(b',') if !self.first => self.state.lex.pos += 1,
            _ if self.first => {}
            _ => return Err(self.state.fail()),
        }
        self.first = false;
        seed.deserialize(Text {
            state: &mut *self.state,
        })
        .map(Some)
    }
}

/// The entries of an object (the `{` is consumed; the `}` is left to the caller).
struct Entries<'s, 'de> {
    state: &'s mut State<'de>,
    /// Where this object's keys start in `state.keys`.
    mark: usize,
    /// A one-word filter of the keys seen so far.
    seen: u64,
}

impl<'de> MapAccess<'de> for Entries<'_, 'de> {
    type Error = FromValueError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, FromValueError> {
        let state = &mut *self.state;
        let first = state.keys.len() == self.mark;
        match state.lex.peek_token() {
            Some(b'}') => return Ok(None),
            Some(b',') if !first => {
                state.lex.pos += 1;
                if state.lex.peek_token() != Some(b'"') {
                    return Err(state.fail());
                }
            }
            Some(b'"') if first => {}
            _ => return Err(state.fail()),
        }
        let start = state.lex.pos;
        let key = match state.lex.string() {
            Ok(Cow::Borrowed(key)) => key,
            // A key with escapes might repeat another one written differently.
            _ => return Err(state.fail()),
        };
        let end = state.lex.pos;
        let raw = state.lex.slice(start, end);
        // A cheap filter first: only a key whose (length, last byte) bit is already set can
        // repeat an earlier one.
        let last = raw.get(raw.len().saturating_sub(2)).copied().unwrap_or(0);
        let bit = 1u64 << ((raw.len() + usize::from(last) * 7) % 64);
        if self.seen & bit != 0
            && state.keys[self.mark..]
                .iter()
                .any(|&(s, e)| state.lex.slice(s, e) == raw)
        {
            // `parse` merges repeated keys.
            return Err(state.fail());
        }
        self.seen |= bit;
        state.keys.push((start, end));
        state.lex.expect(b':').map_err(|_| state.fail())?;
        seed.deserialize(KeyDeserializer {
            key: Cow::Borrowed(key),
        })
        .map(Some)
    }

    fn next_value_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<T::Value, FromValueError> {
        seed.deserialize(Text {
            state: &mut *self.state,
        })
    }
}

/// An event's arguments: the items after the first of the top-level array.
struct Args<'s, 'de> {
    state: &'s mut State<'de>,
}

impl<'de> Args<'_, 'de> {
    fn visit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, FromValueError> {
        let state = self.state;
        if state.lex.peek_token() != Some(b'[') {
            return Err(state.fail());
        }
        state.open()?;
        // The name (or whatever the first item is).
        if state.lex.peek_token() == Some(b']') {
            return Err(state.fail());
        }
        state.skip()?;
        let out = visitor.visit_seq(Items {
            state: &mut *state,
            first: false,
        })?;
        state.close(b']')?;
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

    fn deserialize_ignored_any<V: Visitor<'de>>(
        self,
        visitor: V,
    ) -> Result<V::Value, FromValueError> {
        self.visit(de::IgnoredAny)?;
        visitor.visit_unit()
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string unit unit_struct
        seq tuple tuple_struct map struct identifier
    }
}

/// An event's arguments in a [`Value`] array: borrowed, read as `Value::Array(args)` would be.
struct RefArgs<'de>(&'de [Value]);

impl RefArgs<'_> {
    /// The owned array, for the hints that are rare on an argument list.
    fn owned(&self) -> Value {
        Value::Array(self.0.to_vec())
    }
}

impl<'de> Deserializer<'de> for RefArgs<'de> {
    type Error = FromValueError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, FromValueError> {
        super::visit_array_ref(self.0, visitor)
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

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, FromValueError> {
        self.owned().deserialize_enum(name, variants, visitor)
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, FromValueError> {
        self.owned().deserialize_byte_buf(visitor)
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, FromValueError> {
        self.owned().deserialize_byte_buf(visitor)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(
        self,
        visitor: V,
    ) -> Result<V::Value, FromValueError> {
        visitor.visit_unit()
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string unit unit_struct
        seq tuple tuple_struct map struct identifier
    }
}

/// `T` from JSON text: the fast path, then the slow one if needed.
fn read<T: DeserializeOwned>(
    text: &[u8],
    max_depth: usize,
    args: bool,
) -> Result<T, FromJsonError> {
    let mut state = State::new(text, max_depth);
    let fast = if args {
        T::deserialize(Args { state: &mut state })
    } else {
        T::deserialize(Text { state: &mut state })
    };
    if let Ok(value) = fast
        && !state.retry
        && state.lex.end().is_ok()
    {
        return Ok(value);
    }
    let value = json::parse(text, max_depth).map_err(FromJsonError::Json)?;
    if args {
        from_args(value)
    } else {
        from_value(value).map_err(FromJsonError::Data)
    }
}

/// `T` from the arguments of an event array `[name, ...args]`.
pub(super) fn from_args<T: DeserializeOwned>(value: Value) -> Result<T, FromJsonError> {
    match value {
        Value::Array(mut items) if !items.is_empty() => {
            items.remove(0);
            from_value(Value::Array(items)).map_err(FromJsonError::Data)
        }
        _ => Err(FromJsonError::Data(de::Error::custom(
            "expected an event array [name, ...args]",
        ))),
    }
}

impl Payload {
    /// `T` from JSON text; the implementation of [`json::from_slice`].
    pub(crate) fn read_json<T: DeserializeOwned>(
        text: &[u8],
        max_depth: usize,
        args: bool,
    ) -> Result<T, FromJsonError> {
        read(text, max_depth, args)
    }

    /// Deserializes the whole payload into `T`.
    ///
    /// For [`Payload::Json`] and [`Payload::Msgpack`] this reads the text or bytes in one pass,
    /// with no [`Value`] tree, and gives exactly what `from_value::<T>(self.to_value()?)` gives. For [`Payload::Value`] it is
    /// the borrowing [`Value::deserialize_ref`] (same result as `from_value`, without a copy).
    pub fn deserialize<T: DeserializeOwned>(&self) -> Result<T, FromJsonError> {
        let max_depth = crate::socket::Limits::DEFAULT.max_depth;
        match self {
            Payload::Json(text) => read(text.as_bytes(), max_depth, false),
            #[cfg(feature = "msgpack")]
            Payload::Msgpack(data) => super::msgpack::read(data.as_bytes(), max_depth, false),
            Payload::Value(value) => value.deserialize_ref().map_err(FromJsonError::Data),
        }
    }

    /// Deserializes an event's arguments into `T`: the items after the name of the event
    /// array `[name, ...args]`, as a sequence (so `T` is usually a tuple: `(A,)`, `(A, B)`).
    ///
    /// Exactly `from_value::<T>(Value::Array(args))` where `args` are the array's items after
    /// the first; for [`Payload::Json`] read in one pass from the text, with no tree.
    ///
    /// ```
    /// use socketio_protocol::socket::Payload;
    ///
    /// let payload = Payload::Json(r#"["chat","hi",2]"#.into());
    /// let (text, n): (String, u32) = payload.event_args().unwrap();
    /// assert_eq!((text.as_str(), n), ("hi", 2));
    /// ```
    pub fn event_args<T: DeserializeOwned>(&self) -> Result<T, FromJsonError> {
        let max_depth = crate::socket::Limits::DEFAULT.max_depth;
        match self {
            Payload::Json(text) => read(text.as_bytes(), max_depth, true),
            #[cfg(feature = "msgpack")]
            Payload::Msgpack(data) => super::msgpack::read(data.as_bytes(), max_depth, true),
            Payload::Value(Value::Array(items)) if !items.is_empty() => {
                T::deserialize(RefArgs(&items[1..])).map_err(FromJsonError::Data)
            }
            Payload::Value(value) => from_args(value.clone()),
        }
    }
}
