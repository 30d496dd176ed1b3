//! How typed values map onto the argument list of an event or an ack.
//!
//! Sending: a tuple is spread into several arguments, `()` sends none, anything else is one
//! argument. Receiving: with no argument `T` is read from `null` (or `[]`); with one argument
//! `T` is read from it, else from the one-element list; with several, from the list (a tuple or
//! a `Vec`).

use serde::Serialize;
use serde::de::DeserializeOwned;
use socketio_protocol::Value;
use socketio_protocol::value::{from_value, to_value};

use crate::EmitError;

/// The arguments of `data`: tuples are spread, `()` is none.
pub(crate) fn to_args<T: Serialize + ?Sized>(data: &T) -> Result<Vec<Value>, EmitError> {
    let name = std::any::type_name::<T>();
    if name == "()" {
        return Ok(Vec::new());
    }
    let value = to_value(data).map_err(|e| EmitError::Serialize(e.0))?;
    if name.starts_with('(')
        && let Value::Array(items) = value
    {
        return Ok(items);
    }
    Ok(vec![value])
}

/// Reads `T` from an argument list (see the module docs).
pub(crate) fn from_args<T: DeserializeOwned>(args: Vec<Value>) -> Result<T, String> {
    match args.len() {
        0 => from_value(Value::Null)
            .or_else(|_| from_value(Value::Array(Vec::new())))
            .map_err(|e| e.0),
        1 => match args[0].deserialize_ref::<T>() {
            Ok(value) => Ok(value),
            Err(first) => from_value(Value::Array(args)).map_err(|_| first.0),
        },
        _ => from_value(Value::Array(args)).map_err(|e| e.0),
    }
}

/// `[name, ...args]`.
pub(crate) fn event_value(event: &str, args: Vec<Value>) -> Result<Value, EmitError> {
    if socketio_protocol::socket::RESERVED_EVENTS.contains(&event) {
        return Err(EmitError::ReservedName(event.to_owned()));
    }
    let mut items = Vec::with_capacity(args.len() + 1);
    items.push(Value::String(event.to_owned()));
    items.extend(args);
    Ok(Value::Array(items))
}
