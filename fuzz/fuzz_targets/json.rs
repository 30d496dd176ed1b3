//! The JSON reader/writer (`socketio_protocol::json`).
//!
//! Input: byte 0 picks the depth limit (128, the socket default, unless its low two bits are
//! 0: then 0..=63), the rest is the JSON text. Checks:
//! - `validate` and `parse` agree exactly (error kind included), as the module promises;
//! - `validate_event` agrees with `parse` (array or `NotAnArray`, same head item, same error);
//! - `write` of a parsed value reparses to an equal value (numbers compared as JS numbers:
//!   `1.0` is written `1`), and writing is idempotent.

#![no_main]

use libfuzzer_sys::fuzz_target;
use socketio_fuzz::{number_eq, value_eq};
use socketio_protocol::Value;
use socketio_protocol::json::{self, EventHead, JsonError};

fuzz_target!(|data: &[u8]| {
    let Some((&selector, text)) = data.split_first() else {
        return;
    };
    let depth = if selector & 3 == 0 {
        usize::from(selector >> 2)
    } else {
        128
    };

    let parsed = json::parse(text, depth);
    let validated = json::validate(text, depth);
    assert_eq!(
        validated,
        parsed.as_ref().map(drop).map_err(Clone::clone),
        "validate and parse disagree"
    );

    let event = json::validate_event(text, depth);
    match (&parsed, &event) {
        (Ok(Value::Array(items)), Ok(head)) => match (items.first(), head) {
            (None, EventHead::Empty) => {}
            (Some(Value::String(name)), EventHead::Name(head)) => assert_eq!(name, head),
            (Some(Value::Number(number)), EventHead::Number(head)) => {
                assert!(
                    number_eq(*number, *head),
                    "head {head:?} vs item {number:?}"
                )
            }
            (
                Some(Value::Null | Value::Bool(_) | Value::Array(_) | Value::Object(_)),
                EventHead::Other,
            ) => {}
            (item, head) => panic!("validate_event head {head:?} but first item {item:?}"),
        },
        (Ok(Value::Array(_)), Err(error)) => panic!("array parsed but validate_event: {error:?}"),
        (Ok(_), Err(JsonError::NotAnArray)) => {}
        (Ok(value), Ok(head)) => panic!("validate_event gave {head:?} for non-array {value:?}"),
        (Err(_), Err(JsonError::NotAnArray)) => {
            let first = text
                .iter()
                .find(|b| !matches!(b, b' ' | b'\n' | b'\r' | b'\t'));
            // Invalid UTF-8 is refused before looking at tokens.
            if std::str::from_utf8(text).is_ok() {
                assert_ne!(first, Some(&b'['), "NotAnArray for text starting with '['");
            }
        }
        (Err(parse_error), Err(error)) => assert_eq!(parse_error, error, "different errors"),
        (Err(error), Ok(head)) => {
            panic!("parse failed with {error:?} but validate_event gave {head:?}")
        }
        (Ok(value), Err(error)) => {
            panic!("parse gave {value:?} but validate_event failed: {error:?}")
        }
    }

    let Ok(value) = parsed else { return };
    let written = json::to_vec(&value);
    let mut appended = b"prefix".to_vec();
    json::write(&value, &mut appended);
    assert_eq!(&appended[6..], &written[..], "write and to_vec differ");
    assert!(
        std::str::from_utf8(&written).is_ok(),
        "writer produced non-UTF-8"
    );

    let reparsed = match json::parse(&written, depth) {
        Ok(reparsed) => reparsed,
        Err(error) => panic!(
            "written JSON {:?} does not parse: {error:?}",
            String::from_utf8_lossy(&written)
        ),
    };
    assert!(
        value_eq(&value, &reparsed),
        "round trip changed the value: {value:?} -> {:?} -> {reparsed:?}",
        String::from_utf8_lossy(&written)
    );
    assert_eq!(
        json::to_vec(&reparsed),
        written,
        "writing is not idempotent"
    );
    assert_eq!(json::validate(&written, depth), Ok(()));
});
