//! The serde bridge: `to_value` / `from_value` / `Value::deserialize_ref`, and serde for `Value`.

use std::collections::{BTreeMap, HashMap};

use bytes::Bytes;
use proptest::prelude::*;
use serde::{Deserialize, Serialize};
use socketio_protocol::json;
use socketio_protocol::value::{from_value, to_value};
use socketio_protocol::{Number, Value};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
enum Shape {
    Empty,
    Circle(f64),
    Pair(u8, String),
    Rect { w: u32, h: u32 },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Inner {
    name: String,
    tags: Vec<String>,
    score: Option<i32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Message {
    id: u64,
    delta: i64,
    ratio: f64,
    ok: bool,
    inner: Inner,
    maybe: Option<Box<Inner>>,
    shapes: Vec<Shape>,
    by_name: HashMap<String, u16>,
    by_id: BTreeMap<u32, String>,
    #[serde(with = "serde_bytes")]
    raw: Vec<u8>,
    buf: serde_bytes::ByteBuf,
    unit: (),
    tuple: (u8, char, String),
    nested: Vec<Option<Vec<i8>>>,
}

fn sample() -> Message {
    Message {
        id: u64::MAX,
        delta: -42,
        ratio: 0.25,
        ok: true,
        inner: Inner {
            name: "in".into(),
            tags: vec!["a".into(), "b".into()],
            score: None,
        },
        maybe: Some(Box::new(Inner {
            name: "x\"y".into(),
            tags: vec![],
            score: Some(-3),
        })),
        shapes: vec![
            Shape::Empty,
            Shape::Circle(1.5),
            Shape::Pair(7, "p".into()),
            Shape::Rect { w: 2, h: 3 },
        ],
        by_name: HashMap::from([("one".to_string(), 1), ("two".to_string(), 2)]),
        by_id: BTreeMap::from([(1, "a".to_string()), (20, "b".to_string())]),
        raw: vec![0, 1, 255],
        buf: serde_bytes::ByteBuf::from(vec![9, 8]),
        unit: (),
        tuple: (5, 'é', "t".into()),
        nested: vec![None, Some(vec![]), Some(vec![-1, 2])],
    }
}

#[test]
fn struct_roundtrip_owned_and_borrowed() {
    let message = sample();
    let value = to_value(&message).unwrap();
    assert_eq!(
        value.get("raw"),
        Some(&Value::Binary(Bytes::from_static(&[0, 1, 255])))
    );
    assert_eq!(
        value.get("buf"),
        Some(&Value::Binary(Bytes::from_static(&[9, 8])))
    );
    assert_eq!(value.get("unit"), Some(&Value::Null));
    assert_eq!(
        value.get("id"),
        Some(&Value::Number(Number::PosInt(u64::MAX)))
    );
    assert_eq!(
        value.get("delta"),
        Some(&Value::Number(Number::NegInt(-42)))
    );
    let Value::Object(entries) = &value else {
        panic!()
    };
    let keys: Vec<&str> = entries.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(keys[..4], ["id", "delta", "ratio", "ok"]);
    assert_eq!(
        value.get("by_id"),
        Some(&Value::Object(vec![
            ("1".into(), "a".into()),
            ("20".into(), "b".into())
        ]))
    );
    assert_eq!(from_value::<Message>(value.clone()).unwrap(), message);
    assert_eq!(value.deserialize_ref::<Message>().unwrap(), message);
}

#[test]
fn enums_are_externally_tagged_like_serde_json() {
    for shape in sample().shapes {
        let ours = to_value(&shape).unwrap();
        assert_eq!(json::to_vec(&ours), serde_json::to_vec(&shape).unwrap());
        assert_eq!(from_value::<Shape>(ours.clone()).unwrap(), shape);
        assert_eq!(ours.deserialize_ref::<Shape>().unwrap(), shape);
    }
    assert_eq!(
        from_value::<Shape>(Value::from("Empty")).unwrap(),
        Shape::Empty
    );
    assert!(from_value::<Shape>(Value::from("Nope")).is_err());
    assert!(from_value::<Shape>(Value::Object(vec![])).is_err());
    assert!(from_value::<Shape>(Value::from("Circle")).is_err());
}

#[test]
fn json_output_matches_serde_json_without_floats_or_bytes() {
    #[derive(Serialize)]
    struct Plain<'a> {
        text: &'a str,
        list: Vec<Option<i64>>,
        map: BTreeMap<i32, bool>,
        shape: Shape,
        nothing: Option<u8>,
    }
    let plain = Plain {
        text: "ctl\u{1}\u{7f}\u{2028}/é",
        list: vec![Some(-1), None, Some(i64::MAX)],
        map: BTreeMap::from([(-1, true), (3, false)]),
        shape: Shape::Rect { w: 1, h: 2 },
        nothing: None,
    };
    let ours = json::to_vec(&to_value(&plain).unwrap());
    assert_eq!(
        String::from_utf8(ours).unwrap(),
        serde_json::to_string(&plain).unwrap()
    );
}

#[test]
fn numbers_and_special_types() {
    assert_eq!(
        to_value(&0.1f32).unwrap(),
        Value::Number(Number::Float(0.1))
    );
    assert_eq!(
        to_value(&1.5f64).unwrap(),
        Value::Number(Number::Float(1.5))
    );
    assert_eq!(to_value(&-7i8).unwrap(), Value::Number(Number::NegInt(-7)));
    assert_eq!(to_value(&7i8).unwrap(), Value::Number(Number::PosInt(7)));
    assert_eq!(
        to_value(&u128::from(u64::MAX)).unwrap(),
        Value::from(u64::MAX)
    );
    assert_eq!(
        to_value(&-5i128).unwrap(),
        Value::Number(Number::NegInt(-5))
    );
    assert!(to_value(&(u128::from(u64::MAX) + 1)).is_err());
    assert!(to_value(&i128::MIN).is_err());
    assert_eq!(to_value(&'c').unwrap(), Value::from("c"));
    assert_eq!(to_value(&Option::<u8>::None).unwrap(), Value::Null);
    assert_eq!(to_value(&()).unwrap(), Value::Null);
    // Integer types accept integral floats (every JavaScript number is a double).
    assert_eq!(from_value::<u32>(Value::from(1000.0)).unwrap(), 1000);
    assert_eq!(from_value::<i64>(Value::from(-3.0)).unwrap(), -3);
    assert_eq!(
        from_value::<u8>(Value::Number(Number::Float(-0.0))).unwrap(),
        0
    );
    assert!(from_value::<u32>(Value::from(1.5)).is_err());
    assert!(from_value::<u8>(Value::from(256u64)).is_err());
    assert!(from_value::<u64>(Value::from(1.8446744073709552e19)).is_err());
    assert_eq!(from_value::<f64>(Value::from(3u64)).unwrap(), 3.0);
    assert_eq!(from_value::<u128>(Value::from(3u64)).unwrap(), 3);
    assert_eq!(from_value::<Option<u8>>(Value::Null).unwrap(), None);
    assert_eq!(
        from_value::<Option<u8>>(Value::from(1u64)).unwrap(),
        Some(1)
    );
    assert_eq!(from_value::<()>(Value::Null).unwrap(), ());
    assert!(from_value::<String>(Value::from(1u64)).is_err());
    assert!(from_value::<(u8, u8)>(Value::Array(vec![1u64.into()])).is_err());
    assert!(from_value::<(u8,)>(Value::Array(vec![1u64.into(), 2u64.into()])).is_err());
    // Map keys: integers, bools and floats are parsed back from strings.
    let keys = Value::Object(vec![("-1".into(), Value::Null), ("2".into(), Value::Null)]);
    let map: BTreeMap<i8, ()> = from_value(keys).unwrap();
    assert_eq!(map.into_keys().collect::<Vec<_>>(), [-1, 2]);
    let bools = to_value(&BTreeMap::from([(true, 1u8)])).unwrap();
    assert_eq!(
        from_value::<BTreeMap<bool, u8>>(bools).unwrap(),
        BTreeMap::from([(true, 1)])
    );
    let floats = to_value(
        &vec![(1.5f64, 1u8), (f64::NAN, 2)]
            .into_iter()
            .collect::<Vec<_>>(),
    )
    .unwrap();
    assert_eq!(json::to_vec(&floats), b"[[1.5,1],[null,2]]");
    assert!(to_value(&BTreeMap::from([(vec![1u8], 1u8)])).is_err());
    let error = from_value::<u8>(Value::from("x")).unwrap_err();
    assert!(error.to_string().contains("invalid type"), "{error}");
}

#[test]
fn bytes_from_binary_arrays_node_buffers_and_strings() {
    let expected = serde_bytes::ByteBuf::from(vec![1, 2, 3]);
    let inputs = [
        Value::Binary(Bytes::from_static(&[1, 2, 3])),
        Value::Array(vec![1u64.into(), 2u64.into(), 3u64.into()]),
        json::parse(br#"{"type":"Buffer","data":[1,2,3]}"#, 8).unwrap(),
        json::parse(br#"{"data":[1,2,3],"type":"Buffer"}"#, 8).unwrap(),
        Value::from("\u{1}\u{2}\u{3}"),
    ];
    for input in inputs {
        assert_eq!(
            from_value::<serde_bytes::ByteBuf>(input.clone()).unwrap(),
            expected
        );
        assert_eq!(
            input.deserialize_ref::<serde_bytes::ByteBuf>().unwrap(),
            expected
        );
    }
    // Binary written to JSON and read back as bytes (Node's Buffer.toJSON shape).
    let text = json::to_vec(&Value::Binary(Bytes::from_static(&[1, 2, 3])));
    let back = json::parse(&text, 8).unwrap();
    assert_eq!(from_value::<serde_bytes::ByteBuf>(back).unwrap(), expected);
    for bad in [
        Value::Array(vec![256u64.into()]),
        Value::Array(vec![Value::Null]),
        Value::Bool(true),
        json::parse(br#"{"type":"Blob","data":[1]}"#, 8).unwrap(),
    ] {
        assert!(from_value::<serde_bytes::ByteBuf>(bad.clone()).is_err());
        assert!(bad.deserialize_ref::<serde_bytes::ByteBuf>().is_err());
    }
    // Borrowing: &[u8] and &str straight out of the value.
    let value = Value::Array(vec![
        Value::Binary(Bytes::from_static(b"ab")),
        Value::from("cd"),
    ]);
    let (raw, text): (&[u8], &str) = value.deserialize_ref().unwrap();
    assert_eq!((raw, text), (&b"ab"[..], "cd"));
}

#[test]
fn value_through_serde_json() {
    let text = br#"{"b":[1,-2,0.5,"s",null,true],"a":{"z":1,"y":2},"b2":{}}"#;
    let parsed = json::parse(text, 16).unwrap();
    let via_serde: Value = serde_json::from_slice(text).unwrap();
    assert_eq!(parsed, via_serde);
    assert_eq!(serde_json::to_vec(&parsed).unwrap(), text.to_vec());
    // Duplicate keys: the same rule as json::parse.
    let dup = br#"{"a":1,"b":2,"a":3}"#;
    assert_eq!(
        serde_json::from_slice::<Value>(dup).unwrap(),
        json::parse(dup, 4).unwrap()
    );
}

fn arb_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<u64>().prop_map(Value::from),
        (i64::MIN..0).prop_map(Value::from),
        any::<f64>()
            .prop_filter("not NaN", |f| !f.is_nan())
            .prop_map(Value::from),
        any::<String>().prop_map(Value::String),
        prop::collection::vec(any::<u8>(), 0..8).prop_map(|b| Value::Binary(Bytes::from(b))),
    ];
    leaf.prop_recursive(5, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map("[a-z]{0,3}", inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().rev().collect())),
        ]
    })
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Record {
    name: String,
    count: Option<u32>,
    values: Vec<i64>,
    table: BTreeMap<String, Vec<bool>>,
    #[serde(with = "serde_bytes")]
    blob: Vec<u8>,
    shape: Option<Shape>,
}

fn arb_shape() -> impl Strategy<Value = Shape> {
    prop_oneof![
        Just(Shape::Empty),
        (-1e9f64..1e9).prop_map(Shape::Circle),
        (any::<u8>(), any::<String>()).prop_map(|(a, b)| Shape::Pair(a, b)),
        (any::<u32>(), any::<u32>()).prop_map(|(w, h)| Shape::Rect { w, h }),
    ]
}

fn arb_record() -> impl Strategy<Value = Record> {
    (
        any::<String>(),
        any::<Option<u32>>(),
        prop::collection::vec(any::<i64>(), 0..5),
        prop::collection::btree_map(
            any::<String>(),
            prop::collection::vec(any::<bool>(), 0..3),
            0..4,
        ),
        prop::collection::vec(any::<u8>(), 0..16),
        prop::option::of(arb_shape()),
    )
        .prop_map(|(name, count, values, table, blob, shape)| Record {
            name,
            count,
            values,
            table,
            blob,
            shape,
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn value_serde_roundtrip(value in arb_value()) {
        prop_assert_eq!(to_value(&value).unwrap(), value.clone());
        prop_assert_eq!(value.deserialize_ref::<Value>().unwrap(), value.clone());
        prop_assert_eq!(from_value::<Value>(value.clone()).unwrap(), value);
    }

    #[test]
    fn record_roundtrip(record in arb_record()) {
        let value = to_value(&record).unwrap();
        prop_assert_eq!(value.deserialize_ref::<Record>().unwrap(), record.clone());
        prop_assert_eq!(from_value::<Record>(value.clone()).unwrap(), record.clone());
        // And through JSON text: binary comes back from Node's Buffer shape.
        let text = json::to_vec(&value);
        let parsed = json::parse(&text, 32).unwrap();
        prop_assert_eq!(from_value::<Record>(parsed).unwrap(), record);
    }
}
