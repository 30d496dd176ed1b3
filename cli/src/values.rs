//! JSON text ⇄ Socket.IO values, with the `{"$bin":"<base64>"}` convention for binary data.
//!
//! Arguments on the command line are JSON. A JSON object with exactly one key, `$bin`, whose
//! value is a string of standard, padded base64 stands for a binary value (a `Buffer` on the
//! JavaScript side, msgpack `bin` with the msgpack parser), at any depth. Received binary values
//! are printed the same way, so what `sio listen` prints can be passed back to `sio emit`.
//!
//! Output is compact JSON written the way JavaScript's `JSON.stringify` writes it (object keys
//! in the order they arrived, numbers like JavaScript).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use socketio_protocol::Value;
use socketio_protocol::json;

/// The key of the binary convention: `{"$bin":"<base64>"}`.
pub const BIN_KEY: &str = "$bin";

/// How deeply a command-line argument may nest.
const MAX_DEPTH: usize = 128;

/// Parses one JSON argument (`ARG_JSON`), turning `{"$bin":"<base64>"}` into binary values.
pub fn parse_json_arg(text: &str) -> Result<Value, String> {
    let value = json::parse(text.as_bytes(), MAX_DEPTH).map_err(|e| {
        format!(
            "not valid JSON ({e:?}): {text:?} (a string argument needs quotes, e.g. '\"hello\"')"
        )
    })?;
    decode_bin(value)
}

/// Parses the `--auth` value: a JSON object.
pub fn parse_auth(text: &str) -> Result<Value, String> {
    match parse_json_arg(text)? {
        value @ Value::Object(_) => Ok(value),
        _ => Err(format!("--auth must be a JSON object, got {text:?}")),
    }
}

fn decode_bin(value: Value) -> Result<Value, String> {
    Ok(match value {
        Value::Object(entries) => {
            if let [(key, inner)] = entries.as_slice()
                && key == BIN_KEY
            {
                let Value::String(b64) = inner else {
                    return Err(format!(
                        "{{\"{BIN_KEY}\":…}} needs a base64 string, got {}",
                        json::to_string(inner)
                    ));
                };
                let bytes = STANDARD
                    .decode(b64.as_bytes())
                    .map_err(|e| format!("{{\"{BIN_KEY}\":{b64:?}}} is not valid base64: {e}"))?;
                return Ok(Value::Binary(Bytes::from(bytes)));
            }
            Value::Object(
                entries
                    .into_iter()
                    .map(|(k, v)| Ok((k, decode_bin(v)?)))
                    .collect::<Result<_, String>>()?,
            )
        }
        Value::Array(items) => Value::Array(
            items
                .into_iter()
                .map(decode_bin)
                .collect::<Result<_, String>>()?,
        ),
        other => other,
    })
}

/// `value` with every binary value replaced by `{"$bin":"<base64>"}`.
pub fn encode_bin(value: &Value) -> Value {
    match value {
        Value::Binary(bytes) => Value::Object(vec![(
            BIN_KEY.to_owned(),
            Value::String(STANDARD.encode(bytes)),
        )]),
        Value::Array(items) => Value::Array(items.iter().map(encode_bin).collect()),
        Value::Object(entries) => Value::Object(
            entries
                .iter()
                .map(|(k, v)| (k.clone(), encode_bin(v)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// Compact JSON of `value`, binary as `{"$bin":…}`.
pub fn to_json(value: &Value) -> String {
    json::to_string(&encode_bin(value))
}

/// The arguments of an ack as one compact JSON array: `[1,"x",{"y":[1]}]`.
pub fn ack_line(args: &[Value]) -> String {
    to_json(&Value::Array(args.to_vec()))
}

/// One received event as a JSON line: `{"nsp":"/","event":"auth","args":[{"t":1}]}`, with
/// `"ack":true` when the server asked for an ack.
pub fn event_line(nsp: &str, event: &str, args: &[Value], asked: bool) -> String {
    let mut fields = vec![
        ("nsp".to_owned(), Value::from(nsp)),
        ("event".to_owned(), Value::from(event)),
        ("args".to_owned(), Value::Array(args.to_vec())),
    ];
    if asked {
        fields.push(("ack".to_owned(), Value::Bool(true)));
    }
    to_json(&Value::Object(fields))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_json_round_trips_compact_and_ordered() {
        let v = parse_json_arg(r#" {"z": 1, "a": [true, null, 1.5, "x"]} "#).unwrap();
        assert_eq!(to_json(&v), r#"{"z":1,"a":[true,null,1.5,"x"]}"#);
    }

    #[test]
    fn bin_convention_both_ways() {
        let v = parse_json_arg(r#"[{"$bin":"AQID"},{"k":{"$bin":""}}]"#).unwrap();
        assert_eq!(
            v,
            Value::Array(vec![
                Value::Binary(Bytes::from_static(&[1, 2, 3])),
                Value::Object(vec![("k".into(), Value::Binary(Bytes::new()))]),
            ])
        );
        assert_eq!(to_json(&v), r#"[{"$bin":"AQID"},{"k":{"$bin":""}}]"#);
    }

    #[test]
    fn bin_key_with_other_keys_is_a_plain_object() {
        let v = parse_json_arg(r#"{"$bin":"AQID","other":1}"#).unwrap();
        assert!(!v.has_binary());
    }

    #[test]
    fn bad_input_is_reported() {
        assert!(parse_json_arg("hello").unwrap_err().contains("quotes"));
        assert!(
            parse_json_arg(r#"{"$bin":"***"}"#)
                .unwrap_err()
                .contains("base64")
        );
        assert!(
            parse_json_arg(r#"{"$bin":1}"#)
                .unwrap_err()
                .contains("base64 string")
        );
        assert!(parse_auth("[1]").unwrap_err().contains("object"));
        assert!(parse_auth(r#"{"token":"x"}"#).is_ok());
    }

    #[test]
    fn lines() {
        let args = [Value::Object(vec![("t".into(), Value::from(1u64))])];
        assert_eq!(
            event_line("/", "auth", &args, false),
            r#"{"nsp":"/","event":"auth","args":[{"t":1}]}"#
        );
        assert_eq!(
            event_line("/", "q", &[], true),
            r#"{"nsp":"/","event":"q","args":[],"ack":true}"#
        );
        let ack = [
            Value::from(1u64),
            Value::from("x"),
            Value::Object(vec![("y".into(), Value::Array(vec![Value::from(1u64)]))]),
            Value::Binary(Bytes::from_static(b"hi")),
        ];
        assert_eq!(ack_line(&ack), r#"[1,"x",{"y":[1]},{"$bin":"aGk="}]"#);
        assert_eq!(ack_line(&[]), "[]");
    }
}
