//! `T: Serialize` -> [`Value`]. STUB: being implemented (helper B).

use super::Value;

/// Why a value could not be converted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToValueError(pub alloc::string::String);

/// Converts any `Serialize` value into a [`Value`]; bytes (`serde_bytes`, `bytes::Bytes`)
/// become [`Value::Binary`].
pub fn to_value<T: serde::Serialize + ?Sized>(value: &T) -> Result<Value, ToValueError> {
    let _ = value;
    todo!("helper B")
}
