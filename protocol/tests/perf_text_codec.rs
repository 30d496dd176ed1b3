//! The one-pass typed JSON paths agree exactly with the `Value` paths:
//! `Payload::from_serialize` / `Payload::event` vs `json::write(&to_value(x))`, and
//! `json::from_slice` / `Payload::deserialize` / `Payload::event_args` vs
//! `from_value(json::parse(text))`.

use std::collections::{BTreeMap, HashMap};

use bytes::Bytes;
use proptest::prelude::*;
use serde::{Deserialize, Serialize};
use socketio_protocol::json;
use socketio_protocol::socket::Payload;
use socketio_protocol::value::{ToValueError, to_value};
use socketio_protocol::{Number, Value};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
enum Shape {
    Empty,
    Circle(f64),
    Pair(u8, String),
    Rect { w: u32, h: u32 },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Record {
    name: String,
    count: Option<u32>,
    small: f32,
    values: Vec<i64>,
    table: BTreeMap<String, Vec<bool>>,
    by_id: BTreeMap<i32, String>,
    shape: Option<Shape>,
    shapes: Vec<Shape>,
    letter: char,
    unit: (),
    wide: i128,
}

/// What the `Value` path writes, as a payload.
fn reference(x: &(impl Serialize + ?Sized)) -> Result<Payload, ToValueError> {
    let value = to_value(x)?;
    if value.has_binary() {
        return Ok(Payload::Value(value));
    }
    Ok(Payload::Json(json::to_string(&value).into()))
}

fn event_reference(name: &str, args: &(impl Serialize + ?Sized)) -> Result<Payload, ToValueError> {
    let mut items = vec![Value::String(name.into())];
    match to_value(args)? {
        Value::Array(args) => items.extend(args),
        Value::Null => {}
        other => items.push(other),
    }
    reference(&Value::Array(items))
}

fn arb_number() -> impl Strategy<Value = Number> {
    prop_oneof![
        any::<u64>().prop_map(Number::PosInt),
        (i64::MIN..0).prop_map(Number::NegInt),
        any::<f64>().prop_map(Number::Float),
        (-1e6f64..1e6).prop_map(Number::Float),
        (-1000i64..1000).prop_map(|n| Number::Float(n as f64)),
        Just(Number::Float(-0.0)),
    ]
}

fn arb_string() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[a-z\\\\\"\\u{0}-\\u{1f}\\u{7f}\\u{2028}é☕]{0,20}",
    ]
}

/// Values, binary included, and objects with repeated keys.
fn arb_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        arb_number().prop_map(Value::Number),
        arb_string().prop_map(Value::String),
        prop::collection::vec(any::<u8>(), 0..4).prop_map(|b| Value::Binary(Bytes::from(b))),
    ];
    leaf.prop_recursive(5, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec(("[ab]{0,2}", inner), 0..6).prop_map(Value::Object),
        ]
    })
}

fn arb_shape() -> impl Strategy<Value = Shape> {
    prop_oneof![
        Just(Shape::Empty),
        any::<f64>().prop_map(Shape::Circle),
        (any::<u8>(), arb_string()).prop_map(|(a, b)| Shape::Pair(a, b)),
        (any::<u32>(), any::<u32>()).prop_map(|(w, h)| Shape::Rect { w, h }),
    ]
}

fn arb_record() -> impl Strategy<Value = Record> {
    (
        (arb_string(), any::<Option<u32>>(), any::<f32>()),
        prop::collection::vec(any::<i64>(), 0..5),
        prop::collection::btree_map(
            arb_string(),
            prop::collection::vec(any::<bool>(), 0..3),
            0..4,
        ),
        prop::collection::btree_map(any::<i32>(), arb_string(), 0..3),
        prop::option::of(arb_shape()),
        prop::collection::vec(arb_shape(), 0..3),
        (any::<char>(), any::<i128>()),
    )
        .prop_map(
            |((name, count, small), values, table, by_id, shape, shapes, (letter, wide))| Record {
                name,
                count,
                small,
                values,
                table,
                by_id,
                shape,
                shapes,
                letter,
                unit: (),
                wide: if wide % 3 == 0 {
                    wide
                } else {
                    wide % (1 << 62)
                },
            },
        )
}

#[test]
fn event_helper_shapes() {
    let p = |payload: Payload| match payload {
        Payload::Json(text) => text.to_string(),
        other => panic!("expected text, got {other:?}"),
    };
    assert_eq!(p(Payload::event("a", &()).unwrap()), r#"["a"]"#);
    assert_eq!(p(Payload::event("a", &(1,)).unwrap()), r#"["a",1]"#);
    assert_eq!(p(Payload::event("a", &(1, "x")).unwrap()), r#"["a",1,"x"]"#);
    assert_eq!(p(Payload::event("a", &vec![1, 2]).unwrap()), r#"["a",1,2]"#);
    assert_eq!(
        p(Payload::event("a", &(vec![1, 2],)).unwrap()),
        r#"["a",[1,2]]"#
    );
    assert_eq!(p(Payload::event("a", &"s").unwrap()), r#"["a","s"]"#);
    assert_eq!(
        p(Payload::event("a\n", &Shape::Empty).unwrap()),
        r#"["a\n","Empty"]"#
    );
    let bin = Payload::event("up", &(1, serde_bytes::Bytes::new(b"\x01"))).unwrap();
    assert_eq!(
        bin,
        Payload::Value(Value::Array(vec![
            "up".into(),
            Value::from(1u64),
            Value::Binary(Bytes::from_static(b"\x01"))
        ]))
    );
    // Repeated map keys fall back to the merged value; errors are `to_value`'s.
    let dup: Vec<(String, u8)> = vec![("k".into(), 1), ("k".into(), 2)];
    struct Dup(Vec<(String, u8)>);
    impl Serialize for Dup {
        fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            s.collect_map(self.0.iter().map(|(k, v)| (k, v)))
        }
    }
    assert_eq!(
        Payload::from_serialize(&Dup(dup.clone())),
        reference(&Dup(dup))
    );
    let bad: HashMap<(u8, u8), u8> = [((1, 2), 3)].into_iter().collect();
    assert_eq!(
        Payload::from_serialize(&bad),
        Err(to_value(&bad).unwrap_err())
    );
    assert_eq!(
        json::to_text(&(1.0f64, -0.0f64, f64::NAN))
            .unwrap()
            .unwrap(),
        "[1,0,null]"
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn from_serialize_matches_value_path(value in arb_value()) {
        prop_assert_eq!(Payload::from_serialize(&value), reference(&value));
        prop_assert_eq!(Payload::event("ev", &value), event_reference("ev", &value));
    }

    #[test]
    fn typed_from_serialize_matches_value_path(record in arb_record(), name in arb_string()) {
        prop_assert_eq!(Payload::from_serialize(&record), reference(&record));
        let args = (record.clone(), 7u8, record.shape.clone());
        prop_assert_eq!(Payload::event(&name, &args), event_reference(&name, &args));
        prop_assert_eq!(Payload::event(&name, &record), event_reference(&name, &record));
    }
}

// ------------------------------------------------------------------------------------------
// Decoding
// ------------------------------------------------------------------------------------------

type Args = (Record, u8, Option<Shape>);

fn slow<T: serde::de::DeserializeOwned>(text: &[u8]) -> Result<T, json::FromJsonError> {
    let value = json::parse(text, 32).map_err(json::FromJsonError::Json)?;
    socketio_protocol::value::from_value(value).map_err(json::FromJsonError::Data)
}

fn slow_args<T: serde::de::DeserializeOwned>(text: &[u8]) -> Result<T, json::FromJsonError> {
    match json::parse(text, 32).map_err(json::FromJsonError::Json)? {
        Value::Array(items) if !items.is_empty() => {
            socketio_protocol::value::from_value(Value::Array(items[1..].to_vec()))
                .map_err(json::FromJsonError::Data)
        }
        _ => Err(json::FromJsonError::Data(serde::de::Error::custom(
            "expected an event array [name, ...args]",
        ))),
    }
}

fn check_all(text: &[u8]) {
    macro_rules! same {
        ($t:ty) => {
            assert_eq!(
                json::from_slice::<$t>(text, 32),
                slow::<$t>(text),
                "{} from {:?}",
                stringify!($t),
                String::from_utf8_lossy(text)
            );
            assert_eq!(
                json::from_event_args::<$t>(text, 32),
                slow_args::<$t>(text),
                "args {} from {:?}",
                stringify!($t),
                String::from_utf8_lossy(text)
            );
        };
    }
    same!(Value);
    same!(Record);
    same!(Args);
    same!((String, Record));
    same!(Vec<Shape>);
    same!(Shape);
    same!(Option<Vec<u32>>);
    same!((String, u32, f64));
    same!(BTreeMap<String, i64>);
    same!(serde_bytes::ByteBuf);
    same!((String, serde_bytes::ByteBuf));
    same!(serde::de::IgnoredAny);
    assert_eq!(
        json::from_slice::<serde_json::Value>(text, 32),
        slow::<serde_json::Value>(text)
    );
}

#[test]
fn decoding_edge_cases_match_the_value_path() {
    for text in [
        r#"["ev",{"w":1,"h":2}]"#,
        r#"{"Rect":{"w":1e3,"h":2.0}}"#,
        r#"{"Rect":{"w":1,"h":2,"w":5}}"#,
        r#"{"Rect":{"w":1,"\u0068":2}}"#,
        r#""Empty""#,
        r#"{"Empty":null}"#,
        r#"{"Pair":[1,"x"]}"#,
        r#"{"Pair":[1,"x",3]}"#,
        r#"{"Circle":-0}"#,
        r#"[1,2,3]"#,
        r#"["ev",1,2,3]"#,
        r#"["ev",[1,2,255]]"#,
        r#"{"type":"Buffer","data":[1,2]}"#,
        r#"["ev",{"type":"Buffer","data":[1,2]}]"#,
        r#"["\ud800x","\udc00",1e400]"#,
        r#"["x", 1.5, 18446744073709551616, -9223372036854775809]"#,
        "  [ \"a\" , 1 , 2.5 ]  ",
        "[\"a\",1,2.5] x",
        "[\"a\",1,]",
        "[]",
        "{}",
        "null",
        "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]",
        r#"["a",{"k":1,"k":2}]"#,
        r#"{"1":"a","-2":"b"}"#,
        "[\"\u{e9}\",\"\\n\"]",
    ] {
        check_all(text.as_bytes());
    }
    check_all(b"[\"\xff\"]");
    let payload = Payload::Json(r#"["chat",{"user":"u","text":"t"}]"#.into());
    let (name, map): (String, BTreeMap<String, String>) = payload.deserialize().unwrap();
    assert_eq!((name.as_str(), map.len()), ("chat", 2));
    let (map,): (BTreeMap<String, String>,) = payload.event_args().unwrap();
    assert_eq!(map["user"], "u");
    // Binary packets (trees) borrow, with `from_value`'s result.
    let items = vec![
        Value::from("up"),
        Value::Binary(Bytes::from_static(b"\x01\x02")),
        Value::Array(vec![Value::from(7u64)]),
    ];
    let tree = Payload::Value(Value::Array(items.clone()));
    type Bin = (serde_bytes::ByteBuf, Vec<u8>);
    let expected: Bin =
        socketio_protocol::value::from_value(Value::Array(items[1..].to_vec())).unwrap();
    assert_eq!(tree.event_args::<Bin>().unwrap(), expected);
    assert_eq!(
        tree.event_args::<serde_bytes::ByteBuf>(),
        socketio_protocol::value::from_value(Value::Array(items[1..].to_vec()))
            .map_err(json::FromJsonError::Data)
    );
}

fn arb_text_of<S: Strategy>(s: S) -> impl Strategy<Value = Vec<u8>>
where
    S::Value: Serialize,
{
    s.prop_map(|x| to_value(&x).map(|v| json::to_vec(&v)).unwrap_or_default())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn from_slice_matches_value_path_on_values(text in arb_text_of(arb_value())) {
        check_all(&text);
    }

    #[test]
    fn from_slice_matches_value_path_on_records(
        args in (arb_string(), arb_record(), any::<u8>(), prop::option::of(arb_shape())),
        cut in any::<prop::sample::Index>(),
        flip in any::<u8>(),
    ) {
        let Ok(value) = to_value(&args) else {
            return Ok(());
        };
        let text = json::to_vec(&value);
        check_all(&text);
        // And near-misses: truncated or with one byte changed.
        let at = cut.index(text.len());
        check_all(&text[..at]);
        let mut changed = text.clone();
        changed[at] = flip;
        check_all(&changed);
        let payload = Payload::Json(String::from_utf8(text.clone()).unwrap().into());
        prop_assert_eq!(payload.event_args::<Args>(), slow_args::<Args>(&text));
        let tree = Payload::Value(json::parse(&text, 32).unwrap());
        prop_assert_eq!(tree.event_args::<Args>(), slow_args::<Args>(&text));
        prop_assert_eq!(payload.deserialize::<(String, Args)>(), slow::<(String, Args)>(&text));
        prop_assert_eq!(tree.deserialize::<(String, Args)>(), slow::<(String, Args)>(&text));
        prop_assert_eq!(tree.deserialize::<Value>(), slow::<Value>(&text));
        prop_assert_eq!(tree.event_args::<Vec<Value>>(), slow_args::<Vec<Value>>(&text));
        prop_assert_eq!(tree.event_args::<serde::de::IgnoredAny>(), slow_args(&text));
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// The common encoder writes placeholders while writing: same text and buffers as
    /// writing `attachments::split` of a copy.
    #[test]
    fn common_encode_with_binary_matches_split(value in arb_value(), id in any::<Option<u16>>()) {
        use socketio_protocol::socket::parser::common;
        use socketio_protocol::socket::{Packet, ProtocolVersion, attachments};
        let mut packet = Packet::event("/nsp", value.clone());
        packet.id = id.map(u64::from);
        let encoded = common::encode(&packet, ProtocolVersion::V5);
        let (header, buffers) = attachments::split(value);
        let mut expected = if buffers.is_empty() {
            String::from("2")
        } else {
            format!("5{}-", buffers.len())
        };
        expected.push_str("/nsp,");
        if let Some(id) = id {
            expected.push_str(&id.to_string());
        }
        expected.push_str(&json::to_string(&header));
        prop_assert_eq!(encoded.text.as_str(), expected.as_str());
        prop_assert_eq!(encoded.attachments, buffers);
    }
}

/// Byte soup made of JSON tokens, so that inputs are often almost valid (and often valid).
fn arb_token_soup() -> impl Strategy<Value = Vec<u8>> {
    let tokens: Vec<&'static [u8]> = vec![
        b"[",
        b"]",
        b"[\"ev\",",
        b"{",
        b"}",
        b",",
        b":",
        b"\"a\"",
        b"\"k\":",
        b"\"w\":",
        b"\"h\":",
        b"\"Rect\":",
        b"\"Pair\"",
        b"\"Empty\"",
        b"\"\\ud800\"",
        b"\"\\u0061\":",
        b"\"",
        b"1",
        b"-",
        b"0",
        b".",
        b"e",
        b"1e400",
        b"2.0",
        b"true",
        b"null",
        b" ",
        b"\"\\n\\\"\"",
        b"\xc3\xa9",
        b"\xff",
        b"255",
        b"99999999999999999999",
    ];
    prop::collection::vec(prop::sample::select(tokens), 0..40).prop_map(|parts| parts.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2048, ..ProptestConfig::default() })]

    #[test]
    fn from_slice_matches_value_path_on_token_soup(text in arb_token_soup()) {
        check_all(&text);
    }
}
