//! [`Value`] -> `T: Deserialize`. STUB: being implemented (helper B).

use super::Value;

/// Why a value could not be converted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FromValueError(pub alloc::string::String);

/// Converts a [`Value`] into any `DeserializeOwned` type.
pub fn from_value<T: serde::de::DeserializeOwned>(value: Value) -> Result<T, FromValueError> {
    let _ = value;
    todo!("helper B")
}
