//! The JSON text codec: exact `JSON.stringify` output, `JSON.parse` semantics, validation that
//! agrees with parsing, and no panics on any input.

use std::borrow::Cow;

use proptest::prelude::*;
use socketio_protocol::json::{self, EventHead, JsonError};
use socketio_protocol::{Number, Value};

const DEPTH: usize = 128;

fn parse(text: &str) -> Result<Value, JsonError> {
    json::parse(text.as_bytes(), DEPTH)
}

fn write(value: &Value) -> String {
    String::from_utf8(json::to_vec(value)).unwrap()
}

fn float(f: f64) -> Value {
    Value::Number(Number::Float(f))
}

fn obj(entries: &[(&str, Value)]) -> Value {
    Value::Object(
        entries
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect(),
    )
}

/// `parse` and `validate` agree on every input, error kind included.
fn check_agree(text: &[u8], depth: usize) {
    let parsed = json::parse(text, depth);
    let validated = json::validate(text, depth);
    assert_eq!(
        parsed.clone().map(drop),
        validated,
        "{:?}",
        String::from_utf8_lossy(text)
    );
    let event = json::validate_event(text, depth);
    match (&parsed, &event) {
        (Ok(Value::Array(items)), Ok(head)) => {
            let expected = match items.first() {
                None => EventHead::Empty,
                Some(Value::String(s)) => EventHead::Name(Cow::Owned(s.clone())),
                Some(Value::Number(n)) => EventHead::Number(*n),
                Some(_) => EventHead::Other,
            };
            assert_eq!(head, &expected);
        }
        (Ok(Value::Array(_)), Err(e)) => panic!("validate_event refused an array: {e:?}"),
        (Ok(_), Err(JsonError::NotAnArray)) => {}
        (Ok(_), other) => panic!("validate_event on a non-array: {other:?}"),
        (Err(_), Ok(_)) => panic!("validate_event accepted what parse refused"),
        (Err(_), Err(_)) => {}
    }
}

#[test]
fn writes_numbers_like_javascript() {
    let cases: &[(f64, &str)] = &[
        (1.0, "1"),
        (1.5, "1.5"),
        (-0.0, "0"),
        (0.0, "0"),
        (0.1, "0.1"),
        (1e21, "1e+21"),
        (1e-7, "1e-7"),
        (1.2345678901234568e20, "123456789012345680000"),
        (5e-324, "5e-324"),
        (-1.5e-10, "-1.5e-10"),
        (123e300, "1.23e+302"),
        (f64::NAN, "null"),
        (f64::INFINITY, "null"),
        (f64::NEG_INFINITY, "null"),
        (f64::MAX, "1.7976931348623157e+308"),
    ];
    for &(f, text) in cases {
        assert_eq!(write(&float(f)), text, "{f:?}");
    }
    assert_eq!(write(&Value::from(u64::MAX)), "18446744073709551615");
    assert_eq!(write(&Value::from(i64::MIN)), "-9223372036854775808");
    assert_eq!(write(&Value::from(0u64)), "0");
}

#[test]
fn writes_strings_like_json_stringify() {
    let cases: &[(&str, &str)] = &[
        ("plain", r#""plain""#),
        ("q\"b\\s/", r#""q\"b\\s/""#),
        ("\u{8}\u{c}\n\r\t", r#""\b\f\n\r\t""#),
        ("\u{0}\u{1}\u{1f}\u{7f}", "\"\\u0000\\u0001\\u001f\u{7f}\""),
        ("\u{2028}\u{2029}", "\"\u{2028}\u{2029}\""),
        ("héllo 😀 中", "\"héllo 😀 中\""),
        ("\u{fffd}", "\"\u{fffd}\""),
    ];
    for &(s, text) in cases {
        assert_eq!(write(&Value::from(s)), text);
        assert_eq!(parse(text), Ok(Value::from(s)));
    }
}

#[test]
fn writes_containers_compactly_and_binary_like_node_buffer() {
    let value = Value::Array(vec![
        Value::Null,
        Value::Bool(true),
        obj(&[
            ("b", Value::from(1u64)),
            ("a", Value::Array(vec![])),
            ("", obj(&[])),
        ]),
        Value::Binary(bytes::Bytes::from_static(&[1, 2, 255])),
        Value::Binary(bytes::Bytes::new()),
    ]);
    assert_eq!(
        write(&value),
        r#"[null,true,{"b":1,"a":[],"":{}},{"type":"Buffer","data":[1,2,255]},{"type":"Buffer","data":[]}]"#
    );
}

#[test]
fn parses_numbers_exactly() {
    assert_eq!(parse("0"), Ok(Value::from(0u64)));
    assert_eq!(parse("-0"), Ok(float(-0.0)));
    assert_eq!(parse("18446744073709551615"), Ok(Value::from(u64::MAX)));
    assert_eq!(
        parse("18446744073709551616"),
        Ok(float(18446744073709551616.0))
    );
    assert_eq!(parse("-9223372036854775808"), Ok(Value::from(i64::MIN)));
    assert_eq!(
        parse("-9223372036854775809"),
        Ok(float(-9223372036854775809.0))
    );
    assert_eq!(parse("1.0"), Ok(float(1.0)));
    assert_eq!(parse("1e2"), Ok(float(100.0)));
    assert_eq!(parse("1E+2"), Ok(float(100.0)));
    assert_eq!(parse("-1.25e-2"), Ok(float(-0.0125)));
    assert_eq!(parse("5e-324"), Ok(float(5e-324)));
    assert_eq!(parse("1e-400"), Ok(float(0.0)));
    assert_eq!(parse("1.7976931348623157e308"), Ok(float(f64::MAX)));
    assert_eq!(parse("1e400"), Err(JsonError::NumberOutOfRange));
    assert_eq!(parse("-1e309"), Err(JsonError::NumberOutOfRange));
    assert_eq!(parse(&"9".repeat(400)), Err(JsonError::NumberOutOfRange));
    assert_eq!(parse(&"9".repeat(300)), Ok(float(1e300)));
    assert_eq!(
        parse("1e000000000000000000000000000000001"),
        Ok(float(10.0))
    );
    assert_eq!(parse("1e-99999999999999999999999999"), Ok(float(0.0)));
    for bad in [
        "01", "-", "1.", ".5", "1e", "1e+", "+1", "0x10", "1.e5", "--1", "-01", "NaN", "Infinity",
    ] {
        assert_eq!(parse(bad), Err(JsonError::Syntax), "{bad}");
        check_agree(bad.as_bytes(), DEPTH);
    }
    for text in [
        "1e400",
        "1e308",
        "1.8e308",
        &"9".repeat(309),
        &"9".repeat(308),
        "123.456e-5",
    ] {
        check_agree(text.as_bytes(), DEPTH);
    }
}

#[test]
fn parses_strings_and_surrogates() {
    assert_eq!(parse(r#""\ud83d\ude00""#), Ok(Value::from("😀")));
    assert_eq!(parse(r#""\u00e9\u4E2D\/""#), Ok(Value::from("é中/")));
    // Lone surrogates are accepted (as JSON.parse does) and become U+FFFD.
    assert_eq!(parse(r#""\ud800""#), Ok(Value::from("\u{fffd}")));
    assert_eq!(parse(r#""\udc00x""#), Ok(Value::from("\u{fffd}x")));
    assert_eq!(
        parse(r#""\ud800\ud800\udc00""#),
        Ok(Value::from("\u{fffd}\u{10000}"))
    );
    assert_eq!(parse(r#""\ud800\n""#), Ok(Value::from("\u{fffd}\n")));
    assert_eq!(parse(r#""a\ud800""#), Ok(Value::from("a\u{fffd}")));
    for bad in [
        "\"\\ud800\\u12\"",
        "\"\\x\"",
        "\"\\u12G4\"",
        "\"abc",
        "\"\\\"",
        "\"tab\there\"",
        "\"nl\nhere\"",
        "'single'",
    ] {
        assert_eq!(parse(bad), Err(JsonError::Syntax), "{bad}");
        check_agree(bad.as_bytes(), DEPTH);
    }
    // Bytes that are not UTF-8 are refused.
    assert_eq!(json::parse(b"\"\xff\"", DEPTH), Err(JsonError::Syntax));
    assert_eq!(
        json::validate(b"\"\xed\xa0\x80\"", DEPTH),
        Err(JsonError::Syntax)
    );
}

#[test]
fn duplicate_keys_last_value_wins_in_first_place() {
    assert_eq!(
        parse(r#"{"a":1,"b":2,"a":3}"#),
        Ok(obj(&[("a", Value::from(3u64)), ("b", Value::from(2u64))]))
    );
    // Also for large objects (the sorted path).
    let mut text = String::from("{");
    for i in 0..40 {
        text.push_str(&format!("\"k{i}\":{i},"));
    }
    text.push_str("\"k5\":\"last\",\"k0\":\"zero\",\"k5\":\"really\"}");
    let value = parse(&text).unwrap();
    let Value::Object(entries) = &value else {
        panic!()
    };
    assert_eq!(entries.len(), 40);
    assert_eq!(entries[0], ("k0".to_string(), Value::from("zero")));
    assert_eq!(entries[5], ("k5".to_string(), Value::from("really")));
    assert_eq!(entries[39], ("k39".to_string(), Value::from(39u64)));
}

#[test]
fn depth_limit_and_deep_nesting() {
    assert_eq!(json::parse(b"1", 0), Ok(Value::from(1u64)));
    assert_eq!(json::parse(b"[]", 0), Err(JsonError::TooDeep));
    assert_eq!(json::parse(b"[]", 1), Ok(Value::Array(vec![])));
    assert_eq!(json::parse(b"[[]]", 1), Err(JsonError::TooDeep));
    assert_eq!(json::parse(b"{\"a\":{}}", 1), Err(JsonError::TooDeep));
    assert_eq!(json::validate(b"[{\"a\":[]}]", 3), Ok(()));
    assert_eq!(json::validate(b"[{\"a\":[]}]", 2), Err(JsonError::TooDeep));
    for depth in [0, 1, 2, 3, 127, 128, 129, 300] {
        let nested = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
        check_agree(nested.as_bytes(), 128);
        let objects = format!("{}1{}", "{\"a\":".repeat(depth), "}".repeat(depth));
        check_agree(objects.as_bytes(), 128);
    }
    let open = "[".repeat(10_000);
    assert_eq!(json::parse(open.as_bytes(), DEPTH), Err(JsonError::TooDeep));
    assert_eq!(
        json::validate(open.as_bytes(), DEPTH),
        Err(JsonError::TooDeep)
    );
    assert_eq!(
        json::validate_event(open.as_bytes(), DEPTH),
        Err(JsonError::TooDeep)
    );
    // Neither reader recurses: a huge allowed depth is fine while reading.
    let deep = format!("{}1{}", "[{\"k\":".repeat(5_000), "}]".repeat(5_000));
    assert_eq!(json::validate(deep.as_bytes(), usize::MAX), Ok(()));
    let deep_open = "[{\"k\":".repeat(50_000);
    assert_eq!(
        json::validate(deep_open.as_bytes(), usize::MAX),
        Err(JsonError::Syntax)
    );
    assert_eq!(
        json::parse(deep_open.as_bytes(), 20_000),
        Err(JsonError::TooDeep)
    );
}

#[test]
fn structure_errors() {
    for bad in [
        "",
        " ",
        "[",
        "]",
        "[1,]",
        "[,1]",
        "{\"a\"}",
        "{\"a\":}",
        "{\"a\":1,}",
        "{,}",
        "{1:2}",
        "[1 2]",
        "[1]]",
        "[1] x",
        "{\"a\":1 \"b\":2}",
        "tru",
        "nulll",
        "[true false]",
        "\u{feff}1",
        "[1}",
        "{\"a\":1]",
        "{\"a\" 1}",
        "[\"a\":1]",
    ] {
        assert!(parse(bad).is_err(), "{bad:?}");
        check_agree(bad.as_bytes(), DEPTH);
    }
    for good in [
        " [ 1 , { \"a\" : [ ] } ] \n",
        "\t\"x\"\r\n",
        "true",
        "null",
        "{}",
    ] {
        assert!(parse(good).is_ok(), "{good:?}");
        check_agree(good.as_bytes(), DEPTH);
    }
}

#[test]
fn roundtrip_of_javascript_output_is_identity() {
    // Texts as JSON.stringify writes them.
    let texts = [
        r#"["message",{"a":1,"b":[true,false,null],"c":"x\"y\\z\n"},-5,0.5,1e+21,1.5e-7]"#,
        r#"{"z":1,"a":2,"m":{"y":[],"x":{}}}"#,
        r#"["\u0000\u001f\u007f","é😀","\u2028"]"#,
        r#"[123456789012345680000,-9007199254740991,9007199254740991,5e-324,1.7976931348623157e+308]"#,
        r#"[0.1,0.2,0.30000000000000004,100,1e+100,-1e-100,12.5]"#,
        r#""just a string""#,
        "42",
        "[]",
    ];
    for text in texts {
        let value = parse(text).unwrap();
        assert_eq!(
            write(&value),
            text.replace("\\u007f", "\u{7f}")
                .replace("\\u2028", "\u{2028}")
        );
        check_agree(text.as_bytes(), DEPTH);
    }
}

#[test]
fn validate_event_reports_the_head() {
    let head = |t: &'static str| json::validate_event(t.as_bytes(), DEPTH);
    assert_eq!(
        head(r#"["chat",1]"#),
        Ok(EventHead::Name(Cow::Borrowed("chat")))
    );
    assert!(matches!(
        head(r#"["chat",1]"#),
        Ok(EventHead::Name(Cow::Borrowed(_)))
    ));
    assert_eq!(
        head(r#"[ "a\nb" ]"#),
        Ok(EventHead::Name(Cow::Owned("a\nb".into())))
    );
    assert_eq!(head("[]"), Ok(EventHead::Empty));
    assert_eq!(head(" [ ] "), Ok(EventHead::Empty));
    assert_eq!(
        head("[12,\"x\"]"),
        Ok(EventHead::Number(Number::PosInt(12)))
    );
    assert_eq!(head("[-1.5]"), Ok(EventHead::Number(Number::Float(-1.5))));
    assert_eq!(head("[null]"), Ok(EventHead::Other));
    assert_eq!(head("[{\"a\":[1]},2]"), Ok(EventHead::Other));
    assert_eq!(head("[[1,2],\"a\"]"), Ok(EventHead::Other));
    assert_eq!(head("{}"), Err(JsonError::NotAnArray));
    assert_eq!(head("\"a\""), Err(JsonError::NotAnArray));
    assert_eq!(head(""), Err(JsonError::NotAnArray));
    assert_eq!(head("[\"a\",]"), Err(JsonError::Syntax));
    assert_eq!(head("[\"a\"] 1"), Err(JsonError::Syntax));
    assert_eq!(head("[\"a\",{\"b\":}]"), Err(JsonError::Syntax));
    assert_eq!(head("[1e999]"), Err(JsonError::NumberOutOfRange));
    assert_eq!(json::validate_event(b"[[1]]", 1), Err(JsonError::TooDeep));
    assert_eq!(json::validate_event(b"[1,[1]]", 1), Err(JsonError::TooDeep));
    assert_eq!(json::validate_event(b"[1]", 0), Err(JsonError::TooDeep));
}

/// Whether `parsed` is what `original` should read back as after writing: integers exact,
/// floats with the same value (JavaScript's `-0` → `0`, integral floats may come back as
/// integers), the rest structurally.
fn js_equal(original: &Value, parsed: &Value) -> bool {
    match (original, parsed) {
        (Value::Number(Number::Float(f)), Value::Number(n)) => {
            let back = n.as_f64();
            if *f == 0.0 {
                back == 0.0
            } else {
                back.to_bits() == f.to_bits()
            }
        }
        (Value::Array(a), Value::Array(b)) => {
            a.len() == b.len() && a.iter().zip(b).all(|(x, y)| js_equal(x, y))
        }
        (Value::Object(a), Value::Object(b)) => {
            a.len() == b.len()
                && a.iter()
                    .zip(b)
                    .all(|((ka, va), (kb, vb))| ka == kb && js_equal(va, vb))
        }
        (a, b) => a == b,
    }
}

fn arb_number() -> impl Strategy<Value = Number> {
    prop_oneof![
        any::<u64>().prop_map(Number::PosInt),
        (i64::MIN..0).prop_map(Number::NegInt),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Number::Float),
        (-1e6f64..1e6).prop_map(Number::Float),
        (-1000i64..1000).prop_map(|n| Number::Float(n as f64)),
    ]
}

/// Arbitrary JSON values (no binary, finite floats, unique keys).
fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        arb_number().prop_map(Value::Number),
        any::<String>().prop_map(Value::String),
        "[a-z\\\\\"\\u{0}-\\u{1f}\\u{2028}]{0,6}".prop_map(Value::String),
    ];
    leaf.prop_recursive(6, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
            prop::collection::vec((any::<String>(), inner), 0..8).prop_map(|entries| {
                let mut unique: Vec<(String, Value)> = Vec::new();
                for (k, v) in entries {
                    if !unique.iter().any(|(u, _)| *u == k) {
                        unique.push((k, v));
                    }
                }
                Value::Object(unique)
            }),
        ]
    })
}

/// Byte soup made of JSON tokens and near-tokens, so that inputs are often almost valid.
fn arb_token_soup() -> impl Strategy<Value = Vec<u8>> {
    let tokens: Vec<&'static [u8]> = vec![
        b"[",
        b"]",
        b"{",
        b"}",
        b",",
        b":",
        b"\"a\"",
        b"\"k\":",
        b"\"\\ud800\"",
        b"\"\\u12",
        b"\"",
        b"\\",
        b"1",
        b"-",
        b"0",
        b".",
        b"e",
        b"E+",
        b"1e400",
        b"true",
        b"nul",
        b"null",
        b" ",
        b"\n",
        b"12.5e-3",
        b"\"\\n\\\"\"",
        b"\xc3\xa9",
        b"\xff",
        b"\x01",
        b"99999999999999999999",
    ];
    prop::collection::vec(prop::sample::select(tokens), 0..40).prop_map(|parts| parts.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn value_write_parse_roundtrip(value in arb_json()) {
        let text = json::to_vec(&value);
        let parsed = json::parse(&text, DEPTH).unwrap();
        prop_assert!(js_equal(&value, &parsed), "{value:?} -> {} -> {parsed:?}", String::from_utf8_lossy(&text));
        // Writing what was parsed gives the same text again.
        prop_assert_eq!(json::to_vec(&parsed), text.clone());
        check_agree(&text, DEPTH);
        // serde_json reads our output (its float parsing is not exact without its
        // `float_roundtrip` feature, so only the shape is compared).
        let via_serde: Value = serde_json::from_slice(&text).unwrap();
        prop_assert_eq!(json::validate(&json::to_vec(&via_serde), DEPTH), Ok(()));
    }

    #[test]
    fn arbitrary_bytes_never_panic_and_readers_agree(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        check_agree(&bytes, DEPTH);
        check_agree(&bytes, 2);
    }

    #[test]
    fn token_soup_readers_agree(bytes in arb_token_soup(), depth in 0usize..6) {
        check_agree(&bytes, depth);
        check_agree(&bytes, DEPTH);
        // Anything serde_json accepts (lone surrogates aside) we accept with the same value.
        if let Ok(theirs) = serde_json::from_slice::<Value>(&bytes) {
            let ours = json::parse(&bytes, DEPTH).unwrap();
            prop_assert!(js_equal(&theirs, &ours) || js_equal(&ours, &theirs), "{theirs:?} vs {ours:?}");
        }
    }
}
