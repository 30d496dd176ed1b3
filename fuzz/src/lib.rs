//! Helpers shared by the fuzz targets.

use socketio_protocol::value::{Number, Value};

/// Equality of two [`Number`]s as JavaScript numbers.
///
/// Integers compare exactly with integers and floats with floats. An integer and a float are
/// equal when the integer converts to that very `f64`: JSON `1.0` is written `1`, and a large
/// float such as `-922339567890123520.0` is written `-922339567890123500` (its shortest form),
/// which reparses as that exact integer. JavaScript reads both texts as the same double.
pub fn number_eq(a: Number, b: Number) -> bool {
    match (a, b) {
        (Number::Float(x), Number::Float(y)) => x == y || (x.is_nan() && y.is_nan()),
        (Number::Float(f), int) | (int, Number::Float(f)) => f == int.as_f64(),
        (Number::PosInt(x), Number::PosInt(y)) => x == y,
        (Number::NegInt(x), Number::NegInt(y)) => x == y,
        // Decoders never produce NegInt(0); compare by value all the same.
        (x, y) => x.as_i64().is_some() && x.as_i64() == y.as_i64(),
    }
}

/// Structural equality of two values, with [`number_eq`] for numbers.
pub fn value_eq(a: &Value, b: &Value) -> bool {
    value_eq_by(a, b, &number_eq)
}

/// Structural equality of two values, numbers compared with `numbers`.
pub fn value_eq_by(a: &Value, b: &Value, numbers: &dyn Fn(Number, Number) -> bool) -> bool {
    let value_eq = |a: &Value, b: &Value| value_eq_by(a, b, numbers);
    match (a, b) {
        (Value::Null, Value::Null) => true,
        (Value::Bool(x), Value::Bool(y)) => x == y,
        (Value::Number(x), Value::Number(y)) => numbers(*x, *y),
        (Value::String(x), Value::String(y)) => x == y,
        (Value::Binary(x), Value::Binary(y)) => x == y,
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| value_eq(x, y))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .zip(y)
                    .all(|((kx, vx), (ky, vy))| kx == ky && value_eq(vx, vy))
        }
        _ => false,
    }
}

/// Splits `data` into records separated by `0xFF` (a byte that never occurs in UTF-8).
pub fn records(data: &[u8]) -> impl Iterator<Item = &[u8]> {
    data.split(|&b| b == 0xFF)
}

/// What the msgpack encoder writes for an integral float outside `[-2^63, 2^64)`, read back:
/// like notepack.io (`hi = (v / 2^32) >> 0; lo = v >>> 0`), the value modulo 2^64 as a
/// uint 64 (positive) or int 64 (negative). `None` for every other number (kept as is).
pub fn msgpack_wrapped(number: Number) -> Option<Number> {
    const TWO_POW_64: f64 = 18_446_744_073_709_551_616.0;
    let Number::Float(f) = number else {
        return None;
    };
    if !f.is_finite() || f % 1.0 != 0.0 || (-9_223_372_036_854_775_808.0..TWO_POW_64).contains(&f) {
        return None;
    }
    let mut rem = f % TWO_POW_64;
    if rem < 0.0 {
        rem += TWO_POW_64;
    }
    let bits = rem as u64;
    Some(if f >= 0.0 {
        Number::PosInt(bits)
    } else {
        Number::from(bits as i64)
    })
}

/// [`number_eq`], except that a float the msgpack encoder wraps (see [`msgpack_wrapped`])
/// must come back as its wrapped value.
pub fn msgpack_number_eq(before: Number, after: Number) -> bool {
    match msgpack_wrapped(before) {
        Some(wrapped) => number_eq(wrapped, after),
        None => number_eq(before, after),
    }
}

/// True if `value` holds a number that the msgpack encoder wraps (see [`msgpack_wrapped`]).
pub fn has_msgpack_wrapped(value: &Value) -> bool {
    match value {
        Value::Number(number) => msgpack_wrapped(*number).is_some(),
        Value::Array(items) => items.iter().any(has_msgpack_wrapped),
        Value::Object(entries) => entries.iter().any(|(_, v)| has_msgpack_wrapped(v)),
        _ => false,
    }
}

/// An operation stream: single bytes (opcodes, ids) and short byte strings taken from the
/// front of a fuzz input.
pub struct Input<'a>(pub &'a [u8]);

impl<'a> Input<'a> {
    /// The next byte.
    pub fn byte(&mut self) -> Option<u8> {
        let (&first, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(first)
    }

    /// A length byte (taken modulo `max`), then that many bytes (fewer at the end).
    pub fn bytes(&mut self, max: u8) -> Option<&'a [u8]> {
        let len = usize::from(self.byte()? % max).min(self.0.len());
        let (data, rest) = self.0.split_at(len);
        self.0 = rest;
        Some(data)
    }
}
