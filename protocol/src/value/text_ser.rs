//! `T: Serialize` straight to compact JSON text, with no [`Value`](crate::value::Value) in between.
//!
//! The text is byte for byte what `json::write(&to_value(x)?)` writes: the same mapping as
//! [`crate::value::to_value`] (structs as objects, externally tagged enums, `None`/unit as `null`, map keys
//! as JavaScript property names), the same string escaping and number formatting (the writer
//! functions of [`crate::json`] are shared). Two things have no direct form and make the
//! writer give up, so that the caller falls back to [`crate::value::to_value`]:
//!
//! - bytes (`serialize_bytes`): binary must become attachments (common parser) or msgpack
//!   `bin`, which needs the [`Value`](crate::value::Value) tree;
//! - a map with a repeated key: `to_value` keeps the last value at the first key's place.
//!
//! Any error also gives up, and the fallback reports it exactly as `to_value` does.

use alloc::string::String;
use alloc::vec::Vec;

use serde::ser::{self, Serialize};

use super::{KeySerializer, ToValueError, f32_to_f64, to_value};
use crate::json::{write_number_into, write_str_into};
use crate::socket::Payload;
use crate::str::Str;
use crate::value::{Number, Value};

/// Why the direct writer stopped; the caller falls back to `to_value`.
fn give_up() -> ToValueError {
    ToValueError(String::new())
}

/// Appends `value` as JSON text to `out`. On `Err`, `out` holds partial text and the caller
/// must fall back to `to_value` (which reports the real error, if any).
pub(crate) fn write<T: Serialize + ?Sized>(
    value: &T,
    out: &mut String,
) -> Result<(), ToValueError> {
    value.serialize(TextSerializer { out })
}

impl Payload {
    /// Serializes `value` into a payload, as JSON text where possible.
    ///
    /// Without binary, this is [`Payload::Json`] holding exactly the bytes
    /// `json::write(&to_value(value)?)` would write, made in one pass with no [`Value`] tree
    /// (so the common encoder only copies it). With binary (`serialize_bytes`, which must
    /// become attachments) it is `Payload::Value(to_value(value)?)`. (A map with a repeated
    /// key also goes through `to_value`, which merges the keys, and is then written as text.) Errors are those of
    /// [`to_value`].
    ///
    /// This is the fast path for the **common parser**. The msgpack encoder parses
    /// `Payload::Json` back into a [`Value`] (where an integral float such as `3.0` comes back
    /// as the integer `3`), so for msgpack use [`to_value`].
    pub fn from_serialize<T: Serialize + ?Sized>(value: &T) -> Result<Payload, ToValueError> {
        let mut out = String::new();
        match write(value, &mut out) {
            Ok(()) => Ok(Payload::Json(Str::from(out))),
            Err(_) => to_value(value).map(Payload::from_tree),
        }
    }

    /// A payload for a tree built by `to_value`: text unless it holds binary.
    fn from_tree(value: Value) -> Payload {
        if value.has_binary() {
            Payload::Value(value)
        } else {
            Payload::Json(Str::from(crate::json::to_string(&value)))
        }
    }

    /// Serializes an event, `[name, ...args]`, into a payload (see [`Payload::from_serialize`]
    /// for when it is JSON text and when a [`Value`]).
    ///
    /// `args` is the argument list: a value that serializes as a sequence (a tuple, an array,
    /// a `Vec`) gives its items as the arguments; `()` (or anything that serializes as `null`)
    /// gives none; any other value is the one argument. To send a sequence or a `null` as a
    /// single argument, wrap it in a 1-tuple: `&(list,)`.
    ///
    /// ```
    /// use socketio_protocol::socket::Payload;
    ///
    /// let payload = Payload::event("chat", &("hi", 1)).unwrap();
    /// assert_eq!(payload, Payload::Json(r#"["chat","hi",1]"#.into()));
    /// ```
    pub fn event<T: Serialize + ?Sized>(name: &str, args: &T) -> Result<Payload, ToValueError> {
        let mut out = String::with_capacity(name.len() + 64);
        out.push('[');
        write_str_into(name, &mut out);
        let at = out.len();
        if write(args, &mut out).is_ok() {
            match out.as_bytes().get(at..) {
                Some(b"[]" | b"null") => out.truncate(at),
                // `[a,b]` -> `,a,b]`: the arguments' `]` closes the event array.
                Some([b'[', ..]) => {
                    out.replace_range(at..=at, ",");
                    return Ok(Payload::Json(Str::from(out)));
                }
                _ => out.insert(at, ','),
            }
            out.push(']');
            return Ok(Payload::Json(Str::from(out)));
        }
        let items = match to_value(args)? {
            Value::Array(args) => {
                let mut items = Vec::with_capacity(args.len() + 1);
                items.push(Value::String(name.into()));
                items.extend(args);
                items
            }
            Value::Null => alloc::vec![Value::String(name.into())],
            other => alloc::vec![Value::String(name.into()), other],
        };
        Ok(Payload::from_tree(Value::Array(items)))
    }
}

/// Writes one value into the text.
pub(crate) struct TextSerializer<'a> {
    out: &'a mut String,
}

impl TextSerializer<'_> {
    #[inline]
    fn number(self, n: Number) -> Result<(), ToValueError> {
        write_number_into(n, self.out);
        Ok(())
    }
}

impl<'a> ser::Serializer for TextSerializer<'a> {
    type Ok = ();
    type Error = ToValueError;
    type SerializeSeq = Compound<'a>;
    type SerializeTuple = Compound<'a>;
    type SerializeTupleStruct = Compound<'a>;
    type SerializeTupleVariant = Compound<'a>;
    type SerializeMap = MapCompound<'a>;
    type SerializeStruct = Compound<'a>;
    type SerializeStructVariant = Compound<'a>;

    fn serialize_bool(self, v: bool) -> Result<(), ToValueError> {
        self.out.push_str(if v { "true" } else { "false" });
        Ok(())
    }

    fn serialize_i8(self, v: i8) -> Result<(), ToValueError> {
        self.serialize_i64(i64::from(v))
    }

    fn serialize_i16(self, v: i16) -> Result<(), ToValueError> {
        self.serialize_i64(i64::from(v))
    }

    fn serialize_i32(self, v: i32) -> Result<(), ToValueError> {
        self.serialize_i64(i64::from(v))
    }

    fn serialize_i64(self, v: i64) -> Result<(), ToValueError> {
        self.number(Number::from(v))
    }

    fn serialize_i128(self, v: i128) -> Result<(), ToValueError> {
        if let Ok(n) = i64::try_from(v) {
            self.number(Number::from(n))
        } else if let Ok(n) = u64::try_from(v) {
            self.number(Number::PosInt(n))
        } else {
            Err(give_up())
        }
    }

    fn serialize_u8(self, v: u8) -> Result<(), ToValueError> {
        self.serialize_u64(u64::from(v))
    }

    fn serialize_u16(self, v: u16) -> Result<(), ToValueError> {
        self.serialize_u64(u64::from(v))
    }

    fn serialize_u32(self, v: u32) -> Result<(), ToValueError> {
        self.serialize_u64(u64::from(v))
    }

    fn serialize_u64(self, v: u64) -> Result<(), ToValueError> {
        self.number(Number::PosInt(v))
    }

    fn serialize_u128(self, v: u128) -> Result<(), ToValueError> {
        match u64::try_from(v) {
            Ok(n) => self.number(Number::PosInt(n)),
            Err(_) => Err(give_up()),
        }
    }

    fn serialize_f32(self, v: f32) -> Result<(), ToValueError> {
        self.number(Number::Float(f32_to_f64(v)))
    }

    fn serialize_f64(self, v: f64) -> Result<(), ToValueError> {
        self.number(Number::Float(v))
    }

    fn serialize_char(self, v: char) -> Result<(), ToValueError> {
        write_str_into(v.encode_utf8(&mut [0; 4]), self.out);
        Ok(())
    }

    fn serialize_str(self, v: &str) -> Result<(), ToValueError> {
        write_str_into(v, self.out);
        Ok(())
    }

    fn serialize_bytes(self, _v: &[u8]) -> Result<(), ToValueError> {
        Err(give_up())
    }

    fn serialize_none(self) -> Result<(), ToValueError> {
        self.out.push_str("null");
        Ok(())
    }

    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), ToValueError> {
        value.serialize(self)
    }

    fn serialize_unit(self) -> Result<(), ToValueError> {
        self.out.push_str("null");
        Ok(())
    }

    fn serialize_unit_struct(self, _name: &'static str) -> Result<(), ToValueError> {
        self.serialize_unit()
    }

    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<(), ToValueError> {
        write_str_into(variant, self.out);
        Ok(())
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result<(), ToValueError> {
        value.serialize(self)
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<(), ToValueError> {
        self.out.push('{');
        write_str_into(variant, self.out);
        self.out.push(':');
        value.serialize(TextSerializer {
            out: &mut *self.out,
        })?;
        self.out.push('}');
        Ok(())
    }

    fn serialize_seq(self, _len: Option<usize>) -> Result<Compound<'a>, ToValueError> {
        self.out.push('[');
        Ok(Compound {
            out: self.out,
            first: true,
            close: "]",
        })
    }

    fn serialize_tuple(self, len: usize) -> Result<Compound<'a>, ToValueError> {
        self.serialize_seq(Some(len))
    }

    fn serialize_tuple_struct(
        self,
        _name: &'static str,
        len: usize,
    ) -> Result<Compound<'a>, ToValueError> {
        self.serialize_seq(Some(len))
    }

    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<Compound<'a>, ToValueError> {
        self.out.push('{');
        write_str_into(variant, self.out);
        self.out.push_str(":[");
        Ok(Compound {
            out: self.out,
            first: true,
            close: "]}",
        })
    }

    fn serialize_map(self, _len: Option<usize>) -> Result<MapCompound<'a>, ToValueError> {
        self.out.push('{');
        Ok(MapCompound {
            keys: Vec::new(),
            pending: false,
            out: self.out,
        })
    }

    fn serialize_struct(
        self,
        _name: &'static str,
        _len: usize,
    ) -> Result<Compound<'a>, ToValueError> {
        self.out.push('{');
        Ok(Compound {
            out: self.out,
            first: true,
            close: "}",
        })
    }

    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<Compound<'a>, ToValueError> {
        self.out.push('{');
        write_str_into(variant, self.out);
        self.out.push_str(":{");
        Ok(Compound {
            out: self.out,
            first: true,
            close: "}}",
        })
    }
}

/// An array, a struct or a variant being written.
pub(crate) struct Compound<'a> {
    out: &'a mut String,
    first: bool,
    close: &'static str,
}

impl Compound<'_> {
    #[inline]
    fn element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), ToValueError> {
        if !core::mem::replace(&mut self.first, false) {
            self.out.push(',');
        }
        value.serialize(TextSerializer {
            out: &mut *self.out,
        })
    }

    #[inline]
    fn field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), ToValueError> {
        if !core::mem::replace(&mut self.first, false) {
            self.out.push(',');
        }
        write_str_into(key, self.out);
        self.out.push(':');
        value.serialize(TextSerializer {
            out: &mut *self.out,
        })
    }

    #[inline]
    fn finish(self) -> Result<(), ToValueError> {
        self.out.push_str(self.close);
        Ok(())
    }
}

impl ser::SerializeSeq for Compound<'_> {
    type Ok = ();
    type Error = ToValueError;

    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), ToValueError> {
        self.element(value)
    }

    fn end(self) -> Result<(), ToValueError> {
        self.finish()
    }
}

impl ser::SerializeTuple for Compound<'_> {
    type Ok = ();
    type Error = ToValueError;

    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), ToValueError> {
        self.element(value)
    }

    fn end(self) -> Result<(), ToValueError> {
        self.finish()
    }
}

impl ser::SerializeTupleStruct for Compound<'_> {
    type Ok = ();
    type Error = ToValueError;

    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), ToValueError> {
        self.element(value)
    }

    fn end(self) -> Result<(), ToValueError> {
        self.finish()
    }
}

impl ser::SerializeTupleVariant for Compound<'_> {
    type Ok = ();
    type Error = ToValueError;

    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), ToValueError> {
        self.element(value)
    }

    fn end(self) -> Result<(), ToValueError> {
        self.finish()
    }
}

impl ser::SerializeStruct for Compound<'_> {
    type Ok = ();
    type Error = ToValueError;

    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), ToValueError> {
        self.field(key, value)
    }

    fn end(self) -> Result<(), ToValueError> {
        self.finish()
    }
}

impl ser::SerializeStructVariant for Compound<'_> {
    type Ok = ();
    type Error = ToValueError;

    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), ToValueError> {
        self.field(key, value)
    }

    fn end(self) -> Result<(), ToValueError> {
        self.finish()
    }
}

/// A map being written. The written keys are remembered (as byte ranges of the output) so
/// that a repeated key, which `to_value` would merge, makes the writer give up.
pub(crate) struct MapCompound<'a> {
    out: &'a mut String,
    keys: Vec<(usize, usize)>,
    /// A key was written and its value not yet.
    pending: bool,
}

impl ser::SerializeMap for MapCompound<'_> {
    type Ok = ();
    type Error = ToValueError;

    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), ToValueError> {
        let key = key.serialize(KeySerializer)?;
        if core::mem::replace(&mut self.pending, true) {
            return Err(give_up());
        }
        if !self.keys.is_empty() {
            self.out.push(',');
        }
        let start = self.out.len();
        write_str_into(&key, self.out);
        self.keys.push((start, self.out.len()));
        self.out.push(':');
        Ok(())
    }

    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), ToValueError> {
        if !core::mem::replace(&mut self.pending, false) {
            return Err(give_up());
        }
        value.serialize(TextSerializer {
            out: &mut *self.out,
        })
    }

    fn end(self) -> Result<(), ToValueError> {
        if self.pending {
            return Err(give_up());
        }
        // Escaping is one-to-one, so equal keys have equal escaped text.
        if repeats(self.out.as_bytes(), &self.keys) {
            return Err(give_up());
        }
        self.out.push('}');
        Ok(())
    }
}

/// Whether two of the `keys` (byte ranges of `out`) hold the same bytes.
pub(crate) fn repeats(out: &[u8], keys: &[(usize, usize)]) -> bool {
    let key = |&(start, end): &(usize, usize)| out.get(start..end);
    let n = keys.len();
    if n <= 16 {
        (1..n).any(|i| keys[..i].iter().any(|k| key(k) == key(&keys[i])))
    } else {
        let mut sorted: Vec<Option<&[u8]>> = keys.iter().map(key).collect();
        sorted.sort_unstable();
        sorted.windows(2).any(|pair| pair[0] == pair[1])
    }
}
