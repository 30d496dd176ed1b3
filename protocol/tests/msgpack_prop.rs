//! Property tests for the msgpack parser: round trips (compared by JavaScript semantics), no
//! panics on arbitrary input, and the depth limit.
#![cfg(feature = "msgpack")]

/// Named `msgpack` so that `cargo test -p socketio-protocol msgpack` selects these tests.
mod msgpack {

    use bytes::Bytes;
    use proptest::prelude::*;
    use socketio_protocol::socket::parser::msgpack::{
        MsgpackData, MsgpackError, decode, decode_slice, decode_value, encode, encode_value,
    };
    use socketio_protocol::socket::{Limits, Packet, PacketKind, Payload, RESERVED_EVENTS};
    use socketio_protocol::value::{from_value, to_value};
    use socketio_protocol::{Number, Value};

    /// A number as JavaScript sees it after a msgpack round trip: integral doubles are ints.
    fn js_number(n: Number) -> Number {
        match n {
            Number::NegInt(i) if i >= 0 => Number::PosInt(i as u64),
            Number::Float(f) if f % 1.0 == 0.0 && f >= 0.0 => Number::PosInt(f as u64),
            Number::Float(f) if f % 1.0 == 0.0 => Number::NegInt(f as i64),
            n => n,
        }
    }

    fn js(value: &Value) -> Value {
        match value {
            Value::Number(n) => Value::Number(js_number(*n)),
            Value::Array(items) => Value::Array(items.iter().map(js).collect()),
            Value::Object(entries) => {
                Value::Object(entries.iter().map(|(k, v)| (k.clone(), js(v))).collect())
            }
            other => other.clone(),
        }
    }

    fn js_packet(packet: &Packet) -> Packet {
        let mut packet = packet.clone();
        if let Some(Payload::Value(value)) = &packet.data {
            packet.data = Some(Payload::Value(js(value)));
        }
        packet
    }

    fn number() -> impl Strategy<Value = Number> {
        prop_oneof![
            any::<u64>().prop_map(Number::PosInt),
            (i64::MIN..0).prop_map(Number::NegInt),
            (0u64..300).prop_map(Number::PosInt),
            (-300i64..0).prop_map(Number::NegInt),
            // Finite doubles inside the 64-bit range (notepack wraps integral ones beyond it).
            any::<f64>()
                .prop_filter("finite, in range", |f| f.is_finite() && f.abs() < 9.2e18)
                .prop_map(Number::Float),
            (-70_000i64..70_000).prop_map(|i| Number::Float(i as f64)),
            (-1000i32..1000).prop_map(|i| Number::Float(f64::from(i) / 8.0)),
        ]
    }

    fn scalar() -> impl Strategy<Value = Value> {
        prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            number().prop_map(Value::Number),
            ".{0,40}".prop_map(Value::String),
            prop::collection::vec(any::<u8>(), 0..300).prop_map(|b| Value::Binary(b.into())),
        ]
    }

    /// Objects get unique keys (a decoder applies JavaScript's last-wins to repeated keys).
    fn value() -> impl Strategy<Value = Value> {
        scalar().prop_recursive(5, 64, 20, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..20).prop_map(Value::Array),
                prop::collection::vec((".{0,12}", inner), 0..20).prop_map(|mut entries| {
                    let mut seen = std::collections::HashSet::new();
                    entries.retain(|(k, _)| seen.insert(k.clone()));
                    Value::Object(entries)
                }),
            ]
        })
    }

    fn object() -> impl Strategy<Value = Value> {
        prop::collection::vec((".{0,12}", value()), 0..6).prop_map(|mut entries| {
            let mut seen = std::collections::HashSet::new();
            entries.retain(|(k, _)| seen.insert(k.clone()));
            Value::Object(entries)
        })
    }

    fn event_name() -> impl Strategy<Value = Value> {
        prop_oneof![
            ".{0,20}"
                .prop_filter("not reserved", |s| !RESERVED_EVENTS.contains(&s.as_str()))
                .prop_map(Value::String),
            number().prop_map(Value::Number),
        ]
    }

    fn packet() -> impl Strategy<Value = Packet> {
        let data = prop_oneof![
            (Just(PacketKind::Connect), prop::option::of(object())),
            (Just(PacketKind::Disconnect), Just(None)),
            (
                Just(PacketKind::ConnectError),
                prop_oneof![object(), ".{0,20}".prop_map(Value::String)].prop_map(Some)
            ),
            (
                Just(PacketKind::Event),
                (event_name(), prop::collection::vec(value(), 0..6)).prop_map(
                    |(name, mut args)| {
                        args.insert(0, name);
                        Some(Value::Array(args))
                    }
                )
            ),
            (
                Just(PacketKind::Ack),
                prop::collection::vec(value(), 0..6).prop_map(|a| Some(Value::Array(a)))
            ),
        ];
        (data, "/?.{0,20}", prop::option::of(any::<u64>())).prop_map(|((kind, data), nsp, id)| {
            let mut packet = Packet::new(kind, nsp);
            packet.data = data.map(Payload::Value);
            packet.id = id;
            packet
        })
    }

    /// `data` of hand-written msgpack, checked by the skim.
    fn raw(bytes: &[u8]) -> Payload {
        Payload::Msgpack(MsgpackData::from_bytes(Bytes::copy_from_slice(bytes), 16).unwrap())
    }

    /// The shapes JavaScript semantics change, read typed straight from the bytes: each must
    /// give what the tree gives.
    #[test]
    fn typed_decode_of_the_rare_shapes() {
        use std::collections::BTreeMap;
        type Map = (String, BTreeMap<String, Value>);
        let map = |entries: &[(&str, Value)]| {
            (
                "e".to_owned(),
                entries
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.clone()))
                    .collect(),
            )
        };
        // A repeated key: the last value wins.
        let repeated = raw(b"\x92\xa1e\x82\xa1a\x01\xa1a\x02");
        assert_eq!(
            repeated.deserialize::<Map>().unwrap(),
            map(&[("a", 2u64.into())])
        );
        // An `undefined` value leaves its key out.
        let undefined = raw(b"\x92\xa1e\x82\xa1a\xd4\x00\x00\xa1b\xc3");
        assert_eq!(
            undefined.deserialize::<Map>().unwrap(),
            map(&[("b", true.into())])
        );
        // A number key is coerced to its string.
        let number_key = raw(b"\x92\xa1e\x81\x01\x02");
        assert_eq!(
            number_key.deserialize::<Map>().unwrap(),
            map(&[("1", 2u64.into())])
        );
        // NaN reads as null; invalid UTF-8 as U+FFFD; an extension as `[type, <binary>]`.
        let nan = raw(b"\x92\xa1e\xcb\x7f\xf8\x00\x00\x00\x00\x00\x00");
        assert_eq!(nan.event_args::<(Option<f64>,)>().unwrap(), (None,));
        let lossy = raw(b"\x92\xa1e\xa2a\xff");
        assert_eq!(
            lossy.event_args::<(String,)>().unwrap(),
            ("a\u{fffd}".to_owned(),)
        );
        let ext = raw(b"\x92\xa1e\xd4\x05\x09");
        let (kind, data): (i8, serde_bytes::ByteBuf) =
            ext.event_args::<((i8, serde_bytes::ByteBuf),)>().unwrap().0;
        assert_eq!((kind, data.into_vec()), (5, vec![9]));
        // A struct with a repeated field: the slow path merges it as the tree does.
        #[derive(serde::Deserialize, Debug, PartialEq)]
        struct S {
            a: u8,
        }
        assert_eq!(repeated.event_args::<(S,)>().unwrap(), (S { a: 2 },));
        // Integral floats fit integer types, as with the tree.
        let float = raw(b"\x92\xa1e\xcb\x40\x08\x00\x00\x00\x00\x00\x00");
        assert_eq!(float.event_args::<(u8,)>().unwrap(), (3,));
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

        #[test]
        fn packet_round_trip(packet in packet()) {
            let bytes = encode(&packet);
            let decoded = decode(&bytes, &Limits::DEFAULT).unwrap();
            prop_assert_eq!(&decoded, &js_packet(&packet));
            // Re-encoding the decoded packet writes the same bytes.
            prop_assert_eq!(encode(&decoded), bytes);
        }

        #[test]
        fn value_round_trip(value in value()) {
            let mut out = Vec::new();
            encode_value(&value, &mut out);
            prop_assert_eq!(decode_value(&out, 16).unwrap(), (js(&value), out.len()));
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
            let _ = decode_slice(&bytes, &Limits::DEFAULT);
            let _ = decode_value(&bytes, 16);
        }

        #[test]
        fn mutated_packets_never_panic(
            packet in packet(),
            edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
            cut in any::<prop::sample::Index>(),
        ) {
            let mut bytes = encode(&packet).to_vec();
            for (at, byte) in edits {
                let i = at.index(bytes.len());
                bytes[i] = byte;
            }
            let _ = decode(&Bytes::from(bytes.clone()), &Limits::DEFAULT);
            bytes.truncate(cut.index(bytes.len() + 1));
            let _ = decode_slice(&bytes, &Limits::DEFAULT);
        }

        #[test]
        fn deep_nesting_is_a_depth_error(levels in prop::collection::vec(any::<bool>(), 129..5000)) {
            // Arrays and single-entry maps, nested `levels.len()` deep around a null.
            let mut bytes = Vec::new();
            for &map in &levels {
                if map {
                    bytes.extend_from_slice(&[0x81, 0xa1, b'k']);
                } else {
                    bytes.push(0x91);
                }
            }
            bytes.push(0xc0);
            prop_assert_eq!(decode_value(&bytes, 128), Err(MsgpackError::TooDeep { max_depth: 128 }));
            let mut packet = b"\x83\xa4type\x03\xa3nsp\xa1/\xa4data\x91".to_vec();
            packet.extend_from_slice(&bytes);
            prop_assert_eq!(
                decode_slice(&packet, &Limits::DEFAULT),
                Err(MsgpackError::TooDeep { max_depth: 128 })
            );
        }

        /// The skim behind `decode` accepts exactly what the tree decoder accepts, on valid
        /// encodings and on mutated or cut ones.
        #[test]
        fn skim_accepts_what_the_tree_decoder_accepts(
            value in value(),
            edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..4),
            cut in any::<prop::sample::Index>(),
        ) {
            let mut bytes = Vec::new();
            encode_value(&value, &mut bytes);
            for (at, byte) in edits {
                let i = at.index(bytes.len());
                bytes[i] = byte;
            }
            for input in [&bytes[..], &bytes[..cut.index(bytes.len() + 1)]] {
                let tree = decode_value(input, 16).map(|(v, n)| (v, n == input.len()));
                let raw = MsgpackData::from_bytes(Bytes::copy_from_slice(input), 16);
                match (&tree, &raw) {
                    (Ok((v, true)), Ok(data)) => prop_assert_eq!(&data.to_value(), v),
                    (Ok((_, false)), Err(MsgpackError::TrailingBytes(_))) | (Err(_), Err(_)) => {}
                    _ => prop_assert!(false, "tree {:?} but skim {:?}", tree, raw),
                }
            }
        }

        /// The typed msgpack writer writes the bytes of the tree path.
        #[test]
        fn typed_encode_matches_the_tree(value in value(), name in ".{0,20}") {
            let tree = to_value(&value).unwrap();
            let mut expected = Vec::new();
            encode_value(&tree, &mut expected);
            let data = MsgpackData::from_serialize(&value).unwrap();
            prop_assert_eq!(&data.as_bytes()[..], &expected[..]);
            // An event: the arguments spread after the name.
            let args = match &tree {
                Value::Array(items) => items.clone(),
                Value::Null => Vec::new(),
                other => vec![other.clone()],
            };
            let mut event = vec![Value::String(name.clone())];
            event.extend(args);
            let mut expected = Vec::new();
            encode_value(&Value::Array(event), &mut expected);
            let Payload::Msgpack(data) = Payload::msgpack_event(&name, &value).unwrap() else {
                panic!("msgpack_event makes msgpack")
            };
            prop_assert_eq!(&data.as_bytes()[..], &expected[..]);
        }

        /// Reading typed values straight from msgpack gives what `from_value` of the tree gives,
        /// on valid encodings and on mutated ones that still pass the skim (where repeated
        /// keys, `undefined`, extensions and non-finite floats turn up).
        #[test]
        fn typed_decode_matches_the_tree(
            value in value(),
            edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..3),
        ) {
            let mut bytes = Vec::new();
            encode_value(&Value::Array(vec!["e".into(), value]), &mut bytes);
            for (at, byte) in edits {
                let i = at.index(bytes.len());
                bytes[i] = byte;
            }
            let Ok(data) = MsgpackData::from_bytes(Bytes::from(bytes), 128) else {
                return Ok(());
            };
            let tree = data.to_value();
            let payload = Payload::Msgpack(data);
            fn check<T: serde::de::DeserializeOwned + PartialEq + std::fmt::Debug>(
                payload: &Payload,
                tree: &Value,
            ) -> Result<(), TestCaseError> {
                let slow = from_value::<T>(tree.clone()).map_err(|e| e.to_string());
                let fast = payload.deserialize::<T>().map_err(|e| e.to_string());
                prop_assert_eq!(fast, slow);
                let args = match tree {
                    Value::Array(items) if !items.is_empty() => {
                        from_value::<T>(Value::Array(items[1..].to_vec())).map_err(|e| e.to_string())
                    }
                    _ => Err(String::new()),
                };
                let fast = payload.event_args::<T>().map_err(|e| e.to_string());
                if args.is_ok() || fast.is_ok() {
                    prop_assert_eq!(fast, args);
                }
                Ok(())
            }
            check::<Value>(&payload, &tree)?;
            check::<serde_json::Value>(&payload, &tree)?;
            check::<(String, Option<Value>)>(&payload, &tree)?;
            check::<(String, Vec<Option<i64>>)>(&payload, &tree)?;
            check::<(String, std::collections::BTreeMap<String, Value>)>(&payload, &tree)?;
            check::<(String, serde_bytes::ByteBuf)>(&payload, &tree)?;
            check::<Vec<Value>>(&payload, &tree)?;
        }
    }
}
