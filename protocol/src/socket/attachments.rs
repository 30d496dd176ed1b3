//! Binary attachments of the common parser.
//!
//! JSON cannot carry bytes, so before a packet is written every [`Value::Binary`] is replaced
//! by a placeholder object `{"_placeholder":true,"num":i}` (numbered depth-first, in array and
//! key order) and the bytes travel as separate engine binary messages after the text header.
//! On receipt the placeholders are swapped back for the buffers.
//!
//! ```
//! use bytes::Bytes;
//! use socketio_protocol::{Value, socket::attachments};
//!
//! let value = Value::Array(vec!["baz".into(), Value::Binary(Bytes::from_static(&[1, 2, 3, 4]))]);
//! let (header, buffers) = attachments::split(value.clone());
//! assert_eq!(buffers, vec![Bytes::from_static(&[1, 2, 3, 4])]);
//! assert_eq!(attachments::join(header, &buffers).unwrap(), value);
//! ```

use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;
use bytes::Bytes;
use core::fmt;

use crate::value::{Number, Value};

/// Key marking a placeholder object.
pub const PLACEHOLDER_KEY: &str = "_placeholder";
/// Key holding the attachment index inside a placeholder object.
pub const NUM_KEY: &str = "num";

/// A placeholder refers to an attachment that does not exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IllegalAttachment;

impl fmt::Display for IllegalAttachment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("illegal attachments: a placeholder has no matching buffer")
    }
}

#[cfg(feature = "std")]
impl std::error::Error for IllegalAttachment {}

/// The placeholder object for attachment `num`.
pub fn placeholder(num: usize) -> Value {
    Value::Object(vec![
        (String::from(PLACEHOLDER_KEY), Value::Bool(true)),
        (
            String::from(NUM_KEY),
            Value::Number(Number::PosInt(num as u64)),
        ),
    ])
}

/// Replaces every binary value by a placeholder, returning the header value and the buffers in
/// placeholder order.
pub fn split(mut value: Value) -> (Value, Vec<Bytes>) {
    let mut buffers = Vec::new();
    split_in_place(&mut value, &mut buffers);
    (value, buffers)
}

fn split_in_place(value: &mut Value, buffers: &mut Vec<Bytes>) {
    match value {
        Value::Binary(bytes) => {
            let bytes = core::mem::take(bytes);
            buffers.push(bytes);
            *value = placeholder(buffers.len() - 1);
        }
        Value::Array(items) => items
            .iter_mut()
            .for_each(|item| split_in_place(item, buffers)),
        Value::Object(entries) => entries
            .iter_mut()
            .for_each(|(_, item)| split_in_place(item, buffers)),
        _ => {}
    }
}

/// Swaps placeholders back for `buffers`.
///
/// As the reference decoder does, any object whose `_placeholder` is `true` is a placeholder;
/// its `num` must be an integer index into `buffers`, else the packet is illegal.
pub fn join(mut value: Value, buffers: &[Bytes]) -> Result<Value, IllegalAttachment> {
    join_in_place(&mut value, buffers)?;
    Ok(value)
}

fn join_in_place(value: &mut Value, buffers: &[Bytes]) -> Result<(), IllegalAttachment> {
    match value {
        Value::Object(entries) => {
            let field = |key: &str| entries.iter().find(|(k, _)| k == key).map(|(_, v)| v);
            if field(PLACEHOLDER_KEY) == Some(&Value::Bool(true)) {
                let index = match field(NUM_KEY) {
                    Some(Value::Number(num)) => placeholder_index(*num),
                    _ => None,
                };
                let buffer = index
                    .and_then(|i| buffers.get(i))
                    .ok_or(IllegalAttachment)?;
                *value = Value::Binary(buffer.clone());
                return Ok(());
            }
            entries
                .iter_mut()
                .try_for_each(|(_, item)| join_in_place(item, buffers))
        }
        Value::Array(items) => items
            .iter_mut()
            .try_for_each(|item| join_in_place(item, buffers)),
        _ => Ok(()),
    }
}

fn placeholder_index(num: Number) -> Option<usize> {
    match num {
        Number::PosInt(n) => usize::try_from(n).ok(),
        // JSON.parse gives `1.0` as the number 1, which the reference accepts as an index.
        Number::Float(f) if f >= 0.0 && f < usize::MAX as f64 && (f as usize) as f64 == f => {
            Some(f as usize)
        }
        _ => None,
    }
}
