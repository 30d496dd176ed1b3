//! A dynamic value with a binary variant: what event arguments are between the parsers and
//! the API.
//!
//! JSON has no binary type; the common parser turns [`Value::Binary`] into placeholders plus
//! attachments (see [`crate::socket::attachments`]), while msgpack carries it in place.
//! Objects keep their key order, as `JSON.stringify` does.

use alloc::string::String;
use alloc::vec::Vec;
use bytes::Bytes;

mod de;
mod ser;

pub use de::{FromValueError, from_value};
#[cfg(feature = "msgpack")]
pub(crate) use ser::msgpack as msgpack_ser;
pub(crate) use ser::text as text_ser;
pub use ser::{ToValueError, to_value};

/// A dynamically typed Socket.IO value: JSON plus binary.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Value {
    /// `null` (JavaScript `null`; `undefined` inside arrays is also sent as `null`).
    #[default]
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// A number; JavaScript numbers are doubles, integers are kept exact where they fit.
    Number(Number),
    /// A UTF-8 string.
    String(String),
    /// Raw bytes (a `Buffer`, `ArrayBuffer` or typed array on the JavaScript side).
    Binary(Bytes),
    /// An ordered list.
    Array(Vec<Value>),
    /// An object; keys keep the order in which they were inserted or received.
    Object(Vec<(String, Value)>),
}

/// A number as JSON and msgpack carry it.
///
/// Integers that fit `i64`/`u64` stay exact; everything else is an `f64`, written the way
/// JavaScript's `Number.prototype.toString` writes it (`1e+21`, `0.1`, `1` for `1.0`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Number {
    /// A non-negative integer.
    PosInt(u64),
    /// A negative integer.
    NegInt(i64),
    /// A floating-point number (always finite when produced by a decoder).
    Float(f64),
}

impl Number {
    /// The value as `f64` (what JavaScript would see).
    pub fn as_f64(self) -> f64 {
        match self {
            Number::PosInt(n) => n as f64,
            Number::NegInt(n) => n as f64,
            Number::Float(f) => f,
        }
    }

    /// The value as `u64`, if it is a non-negative integer.
    pub fn as_u64(self) -> Option<u64> {
        match self {
            Number::PosInt(n) => Some(n),
            _ => None,
        }
    }

    /// The value as `i64`, if it is an integer in range.
    pub fn as_i64(self) -> Option<i64> {
        match self {
            Number::PosInt(n) => i64::try_from(n).ok(),
            Number::NegInt(n) => Some(n),
            Number::Float(_) => None,
        }
    }
}

impl From<u64> for Number {
    fn from(n: u64) -> Self {
        Number::PosInt(n)
    }
}

impl From<i64> for Number {
    fn from(n: i64) -> Self {
        if n < 0 {
            Number::NegInt(n)
        } else {
            Number::PosInt(n as u64)
        }
    }
}

impl From<f64> for Number {
    fn from(f: f64) -> Self {
        Number::Float(f)
    }
}

impl Value {
    /// True if this value or anything inside it is [`Value::Binary`].
    pub fn has_binary(&self) -> bool {
        match self {
            Value::Binary(_) => true,
            Value::Array(items) => items.iter().any(Value::has_binary),
            Value::Object(entries) => entries.iter().any(|(_, v)| v.has_binary()),
            _ => false,
        }
    }

    /// The string, if this is a [`Value::String`].
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// The items, if this is a [`Value::Array`].
    pub fn as_array(&self) -> Option<&[Value]> {
        match self {
            Value::Array(items) => Some(items),
            _ => None,
        }
    }

    /// The value under `key`, if this is an object that has it (first match).
    pub fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Object(entries) => entries.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::String(s.into())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::String(s)
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}

impl From<i64> for Value {
    fn from(n: i64) -> Self {
        Value::Number(n.into())
    }
}

impl From<u64> for Value {
    fn from(n: u64) -> Self {
        Value::Number(n.into())
    }
}

impl From<f64> for Value {
    fn from(f: f64) -> Self {
        Value::Number(f.into())
    }
}

impl From<Bytes> for Value {
    fn from(b: Bytes) -> Self {
        Value::Binary(b)
    }
}

impl From<Vec<Value>> for Value {
    fn from(items: Vec<Value>) -> Self {
        Value::Array(items)
    }
}
