//! [`Value`] -> `T: Deserialize`, and `Deserialize` for [`Value`].
//!
//! `Value` (owned) and `&Value` (borrowing: `&str` and `&[u8]` fields borrow from it) are both
//! serde `Deserializer`s. The mapping mirrors `serde_json::from_value`, with these additions:
//!
//! - [`Value::Binary`] is visited as bytes (`visit_byte_buf`), so `serde_bytes::ByteBuf`,
//!   `bytes::Bytes` and `Value` itself get binary back; `deserialize_bytes` also accepts an
//!   array of integers `0..=255`, Node's `{"type":"Buffer","data":[..]}` and a string;
//! - integer types also accept floats with an integral value in range (`1e3` for a `u32`), since
//!   every JavaScript number is a double;
//! - enums come from a string (`"Unit"`) or an object with exactly one key (`{"Variant":..}`);
//! - map keys are strings; integer, float and boolean keys are parsed back from them.

use alloc::borrow::{Cow, ToOwned};
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;

use bytes::Bytes;
use serde::de::{
    self, Deserialize, DeserializeSeed, Deserializer, EnumAccess, Expected, IntoDeserializer,
    MapAccess, SeqAccess, Unexpected, VariantAccess, Visitor,
};

use super::{Number, Value};

/// JSON text straight to `T: Deserialize` (used by [`crate::json::from_slice`]).
#[path = "text_de.rs"]
mod text;

/// Why a value could not be converted into the requested type; carries a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FromValueError(pub String);

impl fmt::Display for FromValueError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(feature = "std")]
impl std::error::Error for FromValueError {}

impl de::Error for FromValueError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        FromValueError(msg.to_string())
    }
}

/// Converts a [`Value`] into any `DeserializeOwned` type.
pub fn from_value<T: de::DeserializeOwned>(value: Value) -> Result<T, FromValueError> {
    T::deserialize(value)
}

impl Value {
    /// Deserializes a `T` from this value without consuming it (`&str`/`&[u8]` may borrow).
    pub fn deserialize_ref<'de, T: Deserialize<'de>>(&'de self) -> Result<T, FromValueError> {
        T::deserialize(self)
    }
}

// ---------------------------------------------------------------------------------------------
// Deserialize for Value
// ---------------------------------------------------------------------------------------------

/// Caps a size hint from a deserializer before using it as a capacity.
fn capacity(hint: Option<usize>) -> usize {
    hint.unwrap_or(0).min(1024)
}

/// Builds a [`Value`] from whatever a self-describing deserializer reports.
struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value or bytes")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(Number::from(v)))
    }

    fn visit_i128<E>(self, v: i128) -> Result<Value, E> {
        Ok(Value::Number(if let Ok(n) = i64::try_from(v) {
            Number::from(n)
        } else if let Ok(n) = u64::try_from(v) {
            Number::PosInt(n)
        } else {
            Number::Float(v as f64)
        }))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(Number::PosInt(v)))
    }

    fn visit_u128<E>(self, v: u128) -> Result<Value, E> {
        Ok(Value::Number(match u64::try_from(v) {
            Ok(n) => Number::PosInt(n),
            Err(_) => Number::Float(v as f64),
        }))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Value::Number(Number::Float(v)))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_bytes<E>(self, v: &[u8]) -> Result<Value, E> {
        Ok(Value::Binary(Bytes::copy_from_slice(v)))
    }

    fn visit_byte_buf<E>(self, v: Vec<u8>) -> Result<Value, E> {
        Ok(Value::Binary(Bytes::from(v)))
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        Value::deserialize(deserializer)
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_newtype_struct<D: Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> Result<Value, D::Error> {
        Value::deserialize(deserializer)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::with_capacity(capacity(seq.size_hint()));
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut entries = Vec::with_capacity(capacity(map.size_hint()));
        while let Some((key, value)) = map.next_entry::<String, Value>()? {
            entries.push((key, value));
        }
        Ok(Value::Object(crate::json::dedup_keys(entries)))
    }
}

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(ValueVisitor)
    }
}

// ---------------------------------------------------------------------------------------------
// Shared helpers
// ---------------------------------------------------------------------------------------------

/// What a value is, for error messages.
fn unexpected(value: &Value) -> Unexpected<'_> {
    match value {
        Value::Null => Unexpected::Unit,
        Value::Bool(b) => Unexpected::Bool(*b),
        Value::Number(Number::PosInt(n)) => Unexpected::Unsigned(*n),
        Value::Number(Number::NegInt(n)) => Unexpected::Signed(*n),
        Value::Number(Number::Float(f)) => Unexpected::Float(*f),
        Value::String(s) => Unexpected::Str(s),
        Value::Binary(b) => Unexpected::Bytes(b),
        Value::Array(_) => Unexpected::Seq,
        Value::Object(_) => Unexpected::Map,
    }
}

/// Visits a number as what it is.
fn visit_number<'de, V: Visitor<'de>>(n: Number, visitor: V) -> Result<V::Value, FromValueError> {
    match n {
        Number::PosInt(u) => visitor.visit_u64(u),
        Number::NegInt(i) => visitor.visit_i64(i),
        Number::Float(f) => visitor.visit_f64(f),
    }
}

/// Visits a number for an integer type: an integral float in range is visited as an integer.
fn visit_integer<'de, V: Visitor<'de>>(n: Number, visitor: V) -> Result<V::Value, FromValueError> {
    const TWO_POW_64: f64 = 18_446_744_073_709_551_616.0;
    const MINUS_TWO_POW_63: f64 = -9_223_372_036_854_775_808.0;
    match n {
        Number::Float(f) if (0.0..TWO_POW_64).contains(&f) && (f as u64) as f64 == f => {
            visitor.visit_u64(f as u64)
        }
        Number::Float(f) if (MINUS_TWO_POW_63..0.0).contains(&f) && (f as i64) as f64 == f => {
            visitor.visit_i64(f as i64)
        }
        other => visit_number(other, visitor),
    }
}

/// The bytes of an array of integers `0..=255`, if it is one.
fn byte_array(items: &[Value]) -> Option<Vec<u8>> {
    items
        .iter()
        .map(|item| match item {
            Value::Number(Number::PosInt(n)) => u8::try_from(*n).ok(),
            _ => None,
        })
        .collect()
}

/// The `data` array of Node's `{"type":"Buffer","data":[..]}`, if `entries` is that shape.
fn node_buffer(entries: &[(String, Value)]) -> Option<&[Value]> {
    match entries {
        [(k1, v1), (k2, v2)] => {
            let (kind, data) = match (k1.as_str(), k2.as_str()) {
                ("type", "data") => (v1, v2),
                ("data", "type") => (v2, v1),
                _ => return None,
            };
            match (kind, data) {
                (Value::String(kind), Value::Array(data)) if kind == "Buffer" => Some(data),
                _ => None,
            }
        }
        _ => None,
    }
}

/// The error for bytes wanted from a value that holds none.
fn not_bytes(value: &Value, expected: &dyn Expected) -> FromValueError {
    de::Error::invalid_type(unexpected(value), expected)
}

/// Integer hints of a deserializer, all sent to `$helper(self, visitor)`.
macro_rules! integer_hints {
    ($helper:path) => {
        integer_hints!($helper; deserialize_i8 deserialize_i16 deserialize_i32 deserialize_i64
            deserialize_i128 deserialize_u8 deserialize_u16 deserialize_u32 deserialize_u64
            deserialize_u128);
    };
    ($helper:path; $($method:ident)*) => {
        $(
            fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, FromValueError> {
                $helper(self, visitor)
            }
        )*
    };
}

/// msgpack straight to `T: Deserialize` (used by [`crate::socket::Payload::deserialize`]).
#[cfg(feature = "msgpack")]
#[path = "msgpack_de.rs"]
pub(crate) mod msgpack;

// ---------------------------------------------------------------------------------------------
// Owned: Value as a Deserializer
// ---------------------------------------------------------------------------------------------

/// Shared by the integer hints of the owned deserializer.
fn deserialize_integer<'de, V: Visitor<'de>>(
    value: Value,
    visitor: V,
) -> Result<V::Value, FromValueError> {
    match value {
        Value::Number(n) => visit_integer(n, visitor),
        other => other.deserialize_any(visitor),
    }
}

impl<'de> Deserializer<'de> for Value {
    type Error = FromValueError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, FromValueError> {
        match self {
            Value::Null => visitor.visit_unit(),
            Value::Bool(b) => visitor.visit_bool(b),
            Value::Number(n) => visit_number(n, visitor),
            Value::String(s) => visitor.visit_string(s),
            Value::Binary(b) => visitor.visit_byte_buf(Vec::from(b)),
            Value::Array(items) => visit_array(items, visitor),
            Value::Object(entries) => visit_object(entries, visitor),
        }
    }

    integer_hints!(deserialize_integer);

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, FromValueError> {
        match self {
            Value::Null => visitor.visit_none(),
            other => visitor.visit_some(other),
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
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, FromValueError> {
        match self {
            Value::String(variant) => visitor.visit_enum(OwnedEnum {
                variant: Cow::Owned(variant),
                value: None,
            }),
            Value::Object(mut entries) if entries.len() == 1 => match entries.pop() {
                Some((variant, value)) => visitor.visit_enum(OwnedEnum {
                    variant: Cow::Owned(variant),
                    value: Some(value),
                }),
                None => Err(de::Error::custom("empty enum object")),
            },
            other => Err(de::Error::invalid_type(
                unexpected(&other),
                &"a string or a single-key object",
            )),
        }
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, FromValueError> {
        self.deserialize_byte_buf(visitor)
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, FromValueError> {
        match self {
            Value::Binary(b) => visitor.visit_byte_buf(Vec::from(b)),
            Value::String(s) => visitor.visit_string(s),
            Value::Array(items) => match byte_array(&items) {
                Some(bytes) => visitor.visit_byte_buf(bytes),
                None => Err(not_bytes(&Value::Array(items), &visitor)),
            },
            Value::Object(entries) => match node_buffer(&entries).and_then(byte_array) {
                Some(bytes) => visitor.visit_byte_buf(bytes),
                None => Err(not_bytes(&Value::Object(entries), &visitor)),
            },
            other => Err(not_bytes(&other, &visitor)),
        }
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(
        self,
        visitor: V,
    ) -> Result<V::Value, FromValueError> {
        drop(self);
        visitor.visit_unit()
    }

    serde::forward_to_deserialize_any! {
        bool f32 f64 char str string unit unit_struct seq tuple tuple_struct map struct
        identifier
    }
}

impl IntoDeserializer<'_, FromValueError> for Value {
    type Deserializer = Value;

    fn into_deserializer(self) -> Value {
        self
    }
}

/// Visits an owned array as a sequence, requiring every item to be consumed.
fn visit_array<'de, V: Visitor<'de>>(
    items: Vec<Value>,
    visitor: V,
) -> Result<V::Value, FromValueError> {
    let len = items.len();
    let mut seq = OwnedSeq {
        iter: items.into_iter(),
    };
    let out = visitor.visit_seq(&mut seq)?;
    if seq.iter.len() == 0 {
        Ok(out)
    } else {
        Err(de::Error::invalid_length(len, &"fewer elements in array"))
    }
}

/// Visits an owned object as a map, requiring every entry to be consumed.
fn visit_object<'de, V: Visitor<'de>>(
    entries: Vec<(String, Value)>,
    visitor: V,
) -> Result<V::Value, FromValueError> {
    let len = entries.len();
    let mut map = OwnedMap {
        iter: entries.into_iter(),
        value: None,
    };
    let out = visitor.visit_map(&mut map)?;
    if map.iter.len() == 0 {
        Ok(out)
    } else {
        Err(de::Error::invalid_length(len, &"fewer entries in object"))
    }
}

/// The items of an owned array.
struct OwnedSeq {
    iter: alloc::vec::IntoIter<Value>,
}

impl<'de> SeqAccess<'de> for OwnedSeq {
    type Error = FromValueError;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, FromValueError> {
        self.iter
            .next()
            .map(|item| seed.deserialize(item))
            .transpose()
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.iter.len())
    }
}

/// The entries of an owned object.
struct OwnedMap {
    iter: alloc::vec::IntoIter<(String, Value)>,
    value: Option<Value>,
}

impl<'de> MapAccess<'de> for OwnedMap {
    type Error = FromValueError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, FromValueError> {
        match self.iter.next() {
            Some((key, value)) => {
                self.value = Some(value);
                seed.deserialize(KeyDeserializer {
                    key: Cow::Owned(key),
                })
                .map(Some)
            }
            None => Ok(None),
        }
    }

    fn next_value_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<T::Value, FromValueError> {
        match self.value.take() {
            Some(value) => seed.deserialize(value),
            None => Err(de::Error::custom("object value requested before its key")),
        }
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.iter.len())
    }
}

/// An enum read from an owned string or single-key object.
struct OwnedEnum<'de> {
    variant: Cow<'de, str>,
    value: Option<Value>,
}

impl<'de> EnumAccess<'de> for OwnedEnum<'de> {
    type Error = FromValueError;
    type Variant = OwnedVariant;

    fn variant_seed<V: DeserializeSeed<'de>>(
        self,
        seed: V,
    ) -> Result<(V::Value, OwnedVariant), FromValueError> {
        let variant = seed.deserialize(KeyDeserializer { key: self.variant })?;
        Ok((variant, OwnedVariant(self.value)))
    }
}

/// The content of an owned enum variant.
struct OwnedVariant(Option<Value>);

impl<'de> VariantAccess<'de> for OwnedVariant {
    type Error = FromValueError;

    fn unit_variant(self) -> Result<(), FromValueError> {
        match self.0 {
            None | Some(Value::Null) => Ok(()),
            Some(other) => Err(de::Error::invalid_type(unexpected(&other), &"unit variant")),
        }
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(
        self,
        seed: T,
    ) -> Result<T::Value, FromValueError> {
        match self.0 {
            Some(value) => seed.deserialize(value),
            None => Err(de::Error::invalid_type(
                Unexpected::UnitVariant,
                &"newtype variant",
            )),
        }
    }

    fn tuple_variant<V: Visitor<'de>>(
        self,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, FromValueError> {
        match self.0 {
            Some(Value::Array(items)) => visit_array(items, visitor),
            Some(other) => Err(de::Error::invalid_type(
                unexpected(&other),
                &"tuple variant",
            )),
            None => Err(de::Error::invalid_type(
                Unexpected::UnitVariant,
                &"tuple variant",
            )),
        }
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, FromValueError> {
        match self.0 {
            Some(Value::Object(entries)) => visit_object(entries, visitor),
            Some(Value::Array(items)) => visit_array(items, visitor),
            Some(other) => Err(de::Error::invalid_type(
                unexpected(&other),
                &"struct variant",
            )),
            None => Err(de::Error::invalid_type(
                Unexpected::UnitVariant,
                &"struct variant",
            )),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Borrowed: &Value as a Deserializer
// ---------------------------------------------------------------------------------------------

/// Shared by the integer hints of the borrowing deserializer.
fn deserialize_integer_ref<'de, V: Visitor<'de>>(
    value: &'de Value,
    visitor: V,
) -> Result<V::Value, FromValueError> {
    match value {
        Value::Number(n) => visit_integer(*n, visitor),
        other => other.deserialize_any(visitor),
    }
}

impl<'de> Deserializer<'de> for &'de Value {
    type Error = FromValueError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, FromValueError> {
        match self {
            Value::Null => visitor.visit_unit(),
            Value::Bool(b) => visitor.visit_bool(*b),
            Value::Number(n) => visit_number(*n, visitor),
            Value::String(s) => visitor.visit_borrowed_str(s),
            Value::Binary(b) => visitor.visit_borrowed_bytes(b),
            Value::Array(items) => visit_array_ref(items, visitor),
            Value::Object(entries) => visit_object_ref(entries, visitor),
        }
    }

    integer_hints!(deserialize_integer_ref);

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, FromValueError> {
        match self {
            Value::Null => visitor.visit_none(),
            other => visitor.visit_some(other),
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
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, FromValueError> {
        match self {
            Value::String(variant) => visitor.visit_enum(RefEnum {
                variant: variant.as_str(),
                value: None,
            }),
            Value::Object(entries) => match entries.as_slice() {
                [(variant, value)] => visitor.visit_enum(RefEnum {
                    variant: variant.as_str(),
                    value: Some(value),
                }),
                _ => Err(de::Error::invalid_type(
                    Unexpected::Map,
                    &"a single-key object",
                )),
            },
            other => Err(de::Error::invalid_type(
                unexpected(other),
                &"a string or a single-key object",
            )),
        }
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, FromValueError> {
        match self {
            Value::Binary(b) => visitor.visit_borrowed_bytes(b),
            Value::String(s) => visitor.visit_borrowed_str(s),
            Value::Array(items) => match byte_array(items) {
                Some(bytes) => visitor.visit_byte_buf(bytes),
                None => Err(not_bytes(self, &visitor)),
            },
            Value::Object(entries) => match node_buffer(entries).and_then(byte_array) {
                Some(bytes) => visitor.visit_byte_buf(bytes),
                None => Err(not_bytes(self, &visitor)),
            },
            other => Err(not_bytes(other, &visitor)),
        }
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, FromValueError> {
        self.deserialize_bytes(visitor)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(
        self,
        visitor: V,
    ) -> Result<V::Value, FromValueError> {
        visitor.visit_unit()
    }

    serde::forward_to_deserialize_any! {
        bool f32 f64 char str string unit unit_struct seq tuple tuple_struct map struct
        identifier
    }
}

/// Visits a borrowed array as a sequence, requiring every item to be consumed.
fn visit_array_ref<'de, V: Visitor<'de>>(
    items: &'de [Value],
    visitor: V,
) -> Result<V::Value, FromValueError> {
    let mut seq = RefSeq { iter: items.iter() };
    let out = visitor.visit_seq(&mut seq)?;
    if seq.iter.len() == 0 {
        Ok(out)
    } else {
        Err(de::Error::invalid_length(
            items.len(),
            &"fewer elements in array",
        ))
    }
}

/// Visits a borrowed object as a map, requiring every entry to be consumed.
fn visit_object_ref<'de, V: Visitor<'de>>(
    entries: &'de [(String, Value)],
    visitor: V,
) -> Result<V::Value, FromValueError> {
    let mut map = RefMap {
        iter: entries.iter(),
        value: None,
    };
    let out = visitor.visit_map(&mut map)?;
    if map.iter.len() == 0 {
        Ok(out)
    } else {
        Err(de::Error::invalid_length(
            entries.len(),
            &"fewer entries in object",
        ))
    }
}

/// The items of a borrowed array.
struct RefSeq<'de> {
    iter: core::slice::Iter<'de, Value>,
}

impl<'de> SeqAccess<'de> for RefSeq<'de> {
    type Error = FromValueError;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, FromValueError> {
        self.iter
            .next()
            .map(|item| seed.deserialize(item))
            .transpose()
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.iter.len())
    }
}

/// The entries of a borrowed object.
struct RefMap<'de> {
    iter: core::slice::Iter<'de, (String, Value)>,
    value: Option<&'de Value>,
}

impl<'de> MapAccess<'de> for RefMap<'de> {
    type Error = FromValueError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, FromValueError> {
        match self.iter.next() {
            Some((key, value)) => {
                self.value = Some(value);
                seed.deserialize(KeyDeserializer {
                    key: Cow::Borrowed(key.as_str()),
                })
                .map(Some)
            }
            None => Ok(None),
        }
    }

    fn next_value_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<T::Value, FromValueError> {
        match self.value.take() {
            Some(value) => seed.deserialize(value),
            None => Err(de::Error::custom("object value requested before its key")),
        }
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.iter.len())
    }
}

/// An enum read from a borrowed string or single-key object.
struct RefEnum<'de> {
    variant: &'de str,
    value: Option<&'de Value>,
}

impl<'de> EnumAccess<'de> for RefEnum<'de> {
    type Error = FromValueError;
    type Variant = RefVariant<'de>;

    fn variant_seed<V: DeserializeSeed<'de>>(
        self,
        seed: V,
    ) -> Result<(V::Value, RefVariant<'de>), FromValueError> {
        let variant = seed.deserialize(KeyDeserializer {
            key: Cow::Borrowed(self.variant),
        })?;
        Ok((variant, RefVariant(self.value)))
    }
}

/// The content of a borrowed enum variant.
struct RefVariant<'de>(Option<&'de Value>);

impl<'de> VariantAccess<'de> for RefVariant<'de> {
    type Error = FromValueError;

    fn unit_variant(self) -> Result<(), FromValueError> {
        match self.0 {
            None | Some(Value::Null) => Ok(()),
            Some(other) => Err(de::Error::invalid_type(unexpected(other), &"unit variant")),
        }
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(
        self,
        seed: T,
    ) -> Result<T::Value, FromValueError> {
        match self.0 {
            Some(value) => seed.deserialize(value),
            None => Err(de::Error::invalid_type(
                Unexpected::UnitVariant,
                &"newtype variant",
            )),
        }
    }

    fn tuple_variant<V: Visitor<'de>>(
        self,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, FromValueError> {
        match self.0 {
            Some(Value::Array(items)) => visit_array_ref(items, visitor),
            Some(other) => Err(de::Error::invalid_type(unexpected(other), &"tuple variant")),
            None => Err(de::Error::invalid_type(
                Unexpected::UnitVariant,
                &"tuple variant",
            )),
        }
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, FromValueError> {
        match self.0 {
            Some(Value::Object(entries)) => visit_object_ref(entries, visitor),
            Some(Value::Array(items)) => visit_array_ref(items, visitor),
            Some(other) => Err(de::Error::invalid_type(
                unexpected(other),
                &"struct variant",
            )),
            None => Err(de::Error::invalid_type(
                Unexpected::UnitVariant,
                &"struct variant",
            )),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Object keys
// ---------------------------------------------------------------------------------------------

/// An object key (or enum variant name): a string that number and boolean types parse.
struct KeyDeserializer<'de> {
    key: Cow<'de, str>,
}

impl<'de> KeyDeserializer<'de> {
    /// Visits the key as a string (borrowed if possible).
    fn visit_key<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, FromValueError> {
        match self.key {
            Cow::Borrowed(s) => visitor.visit_borrowed_str(s),
            Cow::Owned(s) => visitor.visit_string(s),
        }
    }

    /// Parses the key as an integer for an integer type, else visits it as a string.
    fn deserialize_integer<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, FromValueError> {
        if let Ok(n) = self.key.parse::<u64>() {
            visitor.visit_u64(n)
        } else if let Ok(n) = self.key.parse::<i64>() {
            visitor.visit_i64(n)
        } else {
            self.visit_key(visitor)
        }
    }
}

impl<'de> Deserializer<'de> for KeyDeserializer<'de> {
    type Error = FromValueError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, FromValueError> {
        self.visit_key(visitor)
    }

    integer_hints!(KeyDeserializer::deserialize_integer);

    fn deserialize_f32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, FromValueError> {
        self.deserialize_f64(visitor)
    }

    fn deserialize_f64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, FromValueError> {
        match self.key.parse::<f64>() {
            Ok(f) => visitor.visit_f64(f),
            Err(_) => self.visit_key(visitor),
        }
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, FromValueError> {
        match &*self.key {
            "true" => visitor.visit_bool(true),
            "false" => visitor.visit_bool(false),
            _ => self.visit_key(visitor),
        }
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
        visitor: V,
    ) -> Result<V::Value, FromValueError> {
        visitor.visit_enum(OwnedEnum {
            variant: self.key,
            value: None,
        })
    }

    serde::forward_to_deserialize_any! {
        char str string bytes byte_buf unit unit_struct seq tuple tuple_struct map struct
        identifier ignored_any
    }
}
