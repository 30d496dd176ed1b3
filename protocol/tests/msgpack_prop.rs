//! Property tests for the msgpack parser: round trips (compared by JavaScript semantics), no
//! panics on arbitrary input, and the depth limit.
#![cfg(feature = "msgpack")]

/// Named `msgpack` so that `cargo test -p socketio-protocol msgpack` selects these tests.
mod msgpack {

    use bytes::Bytes;
    use proptest::prelude::*;
    use socketio_protocol::socket::parser::msgpack::{
        MsgpackError, decode, decode_slice, decode_value, encode, encode_value,
    };
    use socketio_protocol::socket::{Limits, Packet, PacketKind, Payload, RESERVED_EVENTS};
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
    }
}
