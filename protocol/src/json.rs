//! JSON text <-> [`Value`], written the way `JSON.stringify` writes it.
//!
//! STUB: being implemented (helper B).

use alloc::vec::Vec;

use crate::value::Value;

/// Why a JSON text was rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum JsonError {
    /// The text is not valid JSON (or not UTF-8).
    Syntax,
    /// Arrays/objects nest deeper than the allowed depth.
    TooDeep,
}

/// Parses JSON text into a [`Value`], refusing nesting deeper than `max_depth`.
pub fn parse(text: &[u8], max_depth: usize) -> Result<Value, JsonError> {
    let _ = (text, max_depth);
    todo!("helper B")
}

/// Appends `value` as compact JSON, exactly as `JSON.stringify` would write it.
/// [`Value::Binary`] has no JSON form and is written as `{}` like a `Buffer`-less object.
pub fn write(value: &Value, out: &mut Vec<u8>) {
    let _ = (value, out);
    todo!("helper B")
}
