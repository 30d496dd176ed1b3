//! `T: Serialize` -> [`Value`], and `Serialize` for [`Value`].
//!
//! The mapping follows `serde_json::to_value`, plus a binary variant: `serialize_bytes`
//! (`serde_bytes`, `bytes::Bytes`, `#[serde(with = "serde_bytes")]`) becomes
//! [`Value::Binary`]. Structs become objects in field order, enums are externally tagged
//! (`"Unit"`, `{"Newtype":v}`, `{"Tuple":[..]}`, `{"Struct":{..}}`), unit and `None` become
//! `null`. Map keys must be strings, or integers, booleans, chars or floats, which are written
//! as strings the way JavaScript turns property keys into strings.

use alloc::borrow::ToOwned;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;

use bytes::Bytes;
use serde::ser::{self, Serialize};

use super::{Number, Value};

/// `T: Serialize` straight to JSON text (used by [`crate::json::to_payload`]).
#[path = "text_ser.rs"]
pub(crate) mod text;

/// `T: Serialize` straight to msgpack (used by [`crate::socket::MsgpackData::from_serialize`]).
#[cfg(feature = "msgpack")]
#[path = "msgpack_ser.rs"]
pub(crate) mod msgpack;

/// Why a value could not be converted into a [`Value`]; carries a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToValueError(pub String);

impl fmt::Display for ToValueError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(feature = "std")]
impl std::error::Error for ToValueError {}

impl ser::Error for ToValueError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        ToValueError(msg.to_string())
    }
}

/// Converts any `Serialize` value into a [`Value`]; bytes (`serde_bytes`, `bytes::Bytes`)
/// become [`Value::Binary`].
pub fn to_value<T: Serialize + ?Sized>(value: &T) -> Result<Value, ToValueError> {
    value.serialize(ValueSerializer)
}

impl Serialize for Value {
    fn serialize<S: ser::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use ser::{SerializeMap, SerializeSeq};
        match self {
            Value::Null => serializer.serialize_unit(),
            Value::Bool(b) => serializer.serialize_bool(*b),
            Value::Number(n) => n.serialize(serializer),
            Value::String(s) => serializer.serialize_str(s),
            Value::Binary(bytes) => serializer.serialize_bytes(bytes),
            Value::Array(items) => {
                let mut seq = serializer.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            Value::Object(entries) => {
                let mut map = serializer.serialize_map(Some(entries.len()))?;
                for (key, item) in entries {
                    map.serialize_entry(key, item)?;
                }
                map.end()
            }
        }
    }
}

impl Serialize for Number {
    fn serialize<S: ser::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match *self {
            Number::PosInt(n) => serializer.serialize_u64(n),
            Number::NegInt(n) => serializer.serialize_i64(n),
            Number::Float(f) => serializer.serialize_f64(f),
        }
    }
}

/// Caps a length hint from a `Serialize` impl before using it as a capacity.
fn capacity(len: Option<usize>) -> usize {
    len.unwrap_or(0).min(1024)
}

/// An `f32` as the `f64` JavaScript would get from its shortest decimal form (`0.1f32` → `0.1`).
pub(crate) fn f32_to_f64(f: f32) -> f64 {
    if !f.is_finite() {
        return f64::from(f);
    }
    ryu_js::Buffer::new()
        .format_finite(f)
        .parse()
        .unwrap_or(f64::from(f))
}

/// The [`serde::Serializer`] that builds a [`Value`].
#[derive(Debug, Clone, Copy, Default)]
pub struct ValueSerializer;

impl ser::Serializer for ValueSerializer {
    type Ok = Value;
    type Error = ToValueError;
    type SerializeSeq = SerializeArray;
    type SerializeTuple = SerializeArray;
    type SerializeTupleStruct = SerializeArray;
    type SerializeTupleVariant = SerializeTupleVariant;
    type SerializeMap = SerializeObject;
    type SerializeStruct = SerializeObject;
    type SerializeStructVariant = SerializeStructVariant;

    fn serialize_bool(self, v: bool) -> Result<Value, ToValueError> {
        Ok(Value::Bool(v))
    }

    fn serialize_i8(self, v: i8) -> Result<Value, ToValueError> {
        self.serialize_i64(i64::from(v))
    }

    fn serialize_i16(self, v: i16) -> Result<Value, ToValueError> {
        self.serialize_i64(i64::from(v))
    }

    fn serialize_i32(self, v: i32) -> Result<Value, ToValueError> {
        self.serialize_i64(i64::from(v))
    }

    fn serialize_i64(self, v: i64) -> Result<Value, ToValueError> {
        Ok(Value::Number(Number::from(v)))
    }

    fn serialize_i128(self, v: i128) -> Result<Value, ToValueError> {
        if let Ok(n) = i64::try_from(v) {
            Ok(Value::Number(Number::from(n)))
        } else if let Ok(n) = u64::try_from(v) {
            Ok(Value::Number(Number::PosInt(n)))
        } else {
            Err(ToValueError(
                "integer out of range (i128 beyond i64/u64)".to_owned(),
            ))
        }
    }

    fn serialize_u8(self, v: u8) -> Result<Value, ToValueError> {
        self.serialize_u64(u64::from(v))
    }

    fn serialize_u16(self, v: u16) -> Result<Value, ToValueError> {
        self.serialize_u64(u64::from(v))
    }

    fn serialize_u32(self, v: u32) -> Result<Value, ToValueError> {
        self.serialize_u64(u64::from(v))
    }

    fn serialize_u64(self, v: u64) -> Result<Value, ToValueError> {
        Ok(Value::Number(Number::PosInt(v)))
    }

    fn serialize_u128(self, v: u128) -> Result<Value, ToValueError> {
        u64::try_from(v)
            .map(|n| Value::Number(Number::PosInt(n)))
            .map_err(|_| ToValueError("integer out of range (u128 beyond u64)".to_owned()))
    }

    fn serialize_f32(self, v: f32) -> Result<Value, ToValueError> {
        Ok(Value::Number(Number::Float(f32_to_f64(v))))
    }

    fn serialize_f64(self, v: f64) -> Result<Value, ToValueError> {
        Ok(Value::Number(Number::Float(v)))
    }

    fn serialize_char(self, v: char) -> Result<Value, ToValueError> {
        Ok(Value::String(v.to_string()))
    }

    fn serialize_str(self, v: &str) -> Result<Value, ToValueError> {
        Ok(Value::String(v.to_owned()))
    }

    fn serialize_bytes(self, v: &[u8]) -> Result<Value, ToValueError> {
        Ok(Value::Binary(Bytes::copy_from_slice(v)))
    }

    fn serialize_none(self) -> Result<Value, ToValueError> {
        Ok(Value::Null)
    }

    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<Value, ToValueError> {
        value.serialize(self)
    }

    fn serialize_unit(self) -> Result<Value, ToValueError> {
        Ok(Value::Null)
    }

    fn serialize_unit_struct(self, _name: &'static str) -> Result<Value, ToValueError> {
        Ok(Value::Null)
    }

    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<Value, ToValueError> {
        Ok(Value::String(variant.to_owned()))
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result<Value, ToValueError> {
        value.serialize(self)
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<Value, ToValueError> {
        Ok(Value::Object(alloc::vec![(
            variant.to_owned(),
            value.serialize(self)?
        )]))
    }

    fn serialize_seq(self, len: Option<usize>) -> Result<SerializeArray, ToValueError> {
        Ok(SerializeArray {
            items: Vec::with_capacity(capacity(len)),
        })
    }

    fn serialize_tuple(self, len: usize) -> Result<SerializeArray, ToValueError> {
        self.serialize_seq(Some(len))
    }

    fn serialize_tuple_struct(
        self,
        _name: &'static str,
        len: usize,
    ) -> Result<SerializeArray, ToValueError> {
        self.serialize_seq(Some(len))
    }

    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<SerializeTupleVariant, ToValueError> {
        Ok(SerializeTupleVariant {
            variant,
            items: Vec::with_capacity(capacity(Some(len))),
        })
    }

    fn serialize_map(self, len: Option<usize>) -> Result<SerializeObject, ToValueError> {
        Ok(SerializeObject {
            entries: Vec::with_capacity(capacity(len)),
            next_key: None,
        })
    }

    fn serialize_struct(
        self,
        _name: &'static str,
        len: usize,
    ) -> Result<SerializeObject, ToValueError> {
        self.serialize_map(Some(len))
    }

    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<SerializeStructVariant, ToValueError> {
        Ok(SerializeStructVariant {
            variant,
            entries: Vec::with_capacity(capacity(Some(len))),
        })
    }
}

/// Builds a [`Value::Array`] (sequences, tuples, tuple structs).
#[derive(Debug)]
pub struct SerializeArray {
    items: Vec<Value>,
}

impl ser::SerializeSeq for SerializeArray {
    type Ok = Value;
    type Error = ToValueError;

    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), ToValueError> {
        self.items.push(value.serialize(ValueSerializer)?);
        Ok(())
    }

    fn end(self) -> Result<Value, ToValueError> {
        Ok(Value::Array(self.items))
    }
}

impl ser::SerializeTuple for SerializeArray {
    type Ok = Value;
    type Error = ToValueError;

    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), ToValueError> {
        ser::SerializeSeq::serialize_element(self, value)
    }

    fn end(self) -> Result<Value, ToValueError> {
        ser::SerializeSeq::end(self)
    }
}

impl ser::SerializeTupleStruct for SerializeArray {
    type Ok = Value;
    type Error = ToValueError;

    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), ToValueError> {
        ser::SerializeSeq::serialize_element(self, value)
    }

    fn end(self) -> Result<Value, ToValueError> {
        ser::SerializeSeq::end(self)
    }
}

/// Builds `{"Variant":[..]}` for a tuple variant.
#[derive(Debug)]
pub struct SerializeTupleVariant {
    variant: &'static str,
    items: Vec<Value>,
}

impl ser::SerializeTupleVariant for SerializeTupleVariant {
    type Ok = Value;
    type Error = ToValueError;

    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), ToValueError> {
        self.items.push(value.serialize(ValueSerializer)?);
        Ok(())
    }

    fn end(self) -> Result<Value, ToValueError> {
        Ok(Value::Object(alloc::vec![(
            self.variant.to_owned(),
            Value::Array(self.items)
        )]))
    }
}

/// Builds a [`Value::Object`] (maps and structs); duplicate keys keep the last value at the
/// first position, as a JavaScript object would.
#[derive(Debug)]
pub struct SerializeObject {
    entries: Vec<(String, Value)>,
    next_key: Option<String>,
}

impl ser::SerializeMap for SerializeObject {
    type Ok = Value;
    type Error = ToValueError;

    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), ToValueError> {
        self.next_key = Some(key.serialize(KeySerializer)?);
        Ok(())
    }

    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), ToValueError> {
        let key = self.next_key.take().ok_or_else(|| {
            ToValueError("serialize_value called before serialize_key".to_owned())
        })?;
        self.entries.push((key, value.serialize(ValueSerializer)?));
        Ok(())
    }

    fn end(self) -> Result<Value, ToValueError> {
        Ok(Value::Object(crate::json::dedup_keys(self.entries)))
    }
}

impl ser::SerializeStruct for SerializeObject {
    type Ok = Value;
    type Error = ToValueError;

    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), ToValueError> {
        self.entries
            .push((key.to_owned(), value.serialize(ValueSerializer)?));
        Ok(())
    }

    fn end(self) -> Result<Value, ToValueError> {
        Ok(Value::Object(self.entries))
    }
}

/// Builds `{"Variant":{..}}` for a struct variant.
#[derive(Debug)]
pub struct SerializeStructVariant {
    variant: &'static str,
    entries: Vec<(String, Value)>,
}

impl ser::SerializeStructVariant for SerializeStructVariant {
    type Ok = Value;
    type Error = ToValueError;

    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), ToValueError> {
        self.entries
            .push((key.to_owned(), value.serialize(ValueSerializer)?));
        Ok(())
    }

    fn end(self) -> Result<Value, ToValueError> {
        Ok(Value::Object(alloc::vec![(
            self.variant.to_owned(),
            Value::Object(self.entries)
        )]))
    }
}

/// Serializes a map key into the string JavaScript would use as the property name.
pub(crate) struct KeySerializer;

/// The error for a key that has no string form.
fn key_must_be_string() -> ToValueError {
    ToValueError("map key must be a string, number, boolean or char".to_owned())
}

/// Writes an integer key as its decimal string.
fn int_key(n: impl itoa::Integer) -> Result<String, ToValueError> {
    Ok(itoa::Buffer::new().format(n).to_owned())
}

impl ser::Serializer for KeySerializer {
    type Ok = String;
    type Error = ToValueError;
    type SerializeSeq = ser::Impossible<String, ToValueError>;
    type SerializeTuple = ser::Impossible<String, ToValueError>;
    type SerializeTupleStruct = ser::Impossible<String, ToValueError>;
    type SerializeTupleVariant = ser::Impossible<String, ToValueError>;
    type SerializeMap = ser::Impossible<String, ToValueError>;
    type SerializeStruct = ser::Impossible<String, ToValueError>;
    type SerializeStructVariant = ser::Impossible<String, ToValueError>;

    fn serialize_bool(self, v: bool) -> Result<String, ToValueError> {
        Ok(if v { "true" } else { "false" }.to_owned())
    }

    fn serialize_i8(self, v: i8) -> Result<String, ToValueError> {
        int_key(v)
    }

    fn serialize_i16(self, v: i16) -> Result<String, ToValueError> {
        int_key(v)
    }

    fn serialize_i32(self, v: i32) -> Result<String, ToValueError> {
        int_key(v)
    }

    fn serialize_i64(self, v: i64) -> Result<String, ToValueError> {
        int_key(v)
    }

    fn serialize_i128(self, v: i128) -> Result<String, ToValueError> {
        int_key(v)
    }

    fn serialize_u8(self, v: u8) -> Result<String, ToValueError> {
        int_key(v)
    }

    fn serialize_u16(self, v: u16) -> Result<String, ToValueError> {
        int_key(v)
    }

    fn serialize_u32(self, v: u32) -> Result<String, ToValueError> {
        int_key(v)
    }

    fn serialize_u64(self, v: u64) -> Result<String, ToValueError> {
        int_key(v)
    }

    fn serialize_u128(self, v: u128) -> Result<String, ToValueError> {
        int_key(v)
    }

    fn serialize_f32(self, v: f32) -> Result<String, ToValueError> {
        self.serialize_f64(f32_to_f64(v))
    }

    fn serialize_f64(self, v: f64) -> Result<String, ToValueError> {
        // `String(x)` in JavaScript: `NaN`, `Infinity`, `-Infinity`, `0` for -0.
        if v == 0.0 {
            return Ok("0".to_owned());
        }
        Ok(ryu_js::Buffer::new().format(v).to_owned())
    }

    fn serialize_char(self, v: char) -> Result<String, ToValueError> {
        Ok(v.to_string())
    }

    fn serialize_str(self, v: &str) -> Result<String, ToValueError> {
        Ok(v.to_owned())
    }

    fn serialize_bytes(self, _v: &[u8]) -> Result<String, ToValueError> {
        Err(key_must_be_string())
    }

    fn serialize_none(self) -> Result<String, ToValueError> {
        Err(key_must_be_string())
    }

    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<String, ToValueError> {
        value.serialize(self)
    }

    fn serialize_unit(self) -> Result<String, ToValueError> {
        Err(key_must_be_string())
    }

    fn serialize_unit_struct(self, _name: &'static str) -> Result<String, ToValueError> {
        Err(key_must_be_string())
    }

    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<String, ToValueError> {
        Ok(variant.to_owned())
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result<String, ToValueError> {
        value.serialize(self)
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _value: &T,
    ) -> Result<String, ToValueError> {
        Err(key_must_be_string())
    }

    fn serialize_seq(self, _len: Option<usize>) -> Result<Self::SerializeSeq, ToValueError> {
        Err(key_must_be_string())
    }

    fn serialize_tuple(self, _len: usize) -> Result<Self::SerializeTuple, ToValueError> {
        Err(key_must_be_string())
    }

    fn serialize_tuple_struct(
        self,
        _name: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeTupleStruct, ToValueError> {
        Err(key_must_be_string())
    }

    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeTupleVariant, ToValueError> {
        Err(key_must_be_string())
    }

    fn serialize_map(self, _len: Option<usize>) -> Result<Self::SerializeMap, ToValueError> {
        Err(key_must_be_string())
    }

    fn serialize_struct(
        self,
        _name: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeStruct, ToValueError> {
        Err(key_must_be_string())
    }

    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeStructVariant, ToValueError> {
        Err(key_must_be_string())
    }
}
