//! Property tests for the common parser: every valid packet round-trips, and arbitrary input
//! never panics the decoder.

use bytes::Bytes;
use proptest::prelude::*;
use socketio_protocol::socket::parser::common::{Decoder, encode};
use socketio_protocol::socket::{Limits, Packet, PacketKind, Payload, ProtocolVersion};
use socketio_protocol::{Number, Value};

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<u64>().prop_map(|n| Value::Number(Number::PosInt(n))),
        (i64::MIN..0).prop_map(|n| Value::Number(Number::NegInt(n))),
        // Non-integral finite floats survive JSON unchanged.
        (-1e12f64..1e12)
            .prop_filter("non-integral", |f| f.fract() != 0.0)
            .prop_map(Value::from),
        ".{0,12}".prop_map(Value::String),
        prop::collection::vec(any::<u8>(), 0..16).prop_map(|b| Value::Binary(Bytes::from(b))),
    ]
}

fn value() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec(("[a-z_]{0,6}", inner), 0..6).prop_map(|mut entries| {
                // Duplicate keys collapse in JSON; keep the first of each.
                let mut seen = std::collections::HashSet::new();
                entries.retain(|(k, _)| seen.insert(k.clone()));
                // A `_placeholder` key would be read back as an attachment reference.
                entries.retain(|(k, _)| k != "_placeholder");
                Value::Object(entries)
            }),
        ]
    })
}

fn event_name() -> impl Strategy<Value = Value> {
    prop_oneof![
        "[a-z:]{1,10}"
            .prop_filter("not reserved", |n| {
                !socketio_protocol::socket::RESERVED_EVENTS.contains(&n.as_str())
            })
            .prop_map(Value::String),
        any::<u32>().prop_map(|n| Value::Number(Number::PosInt(n.into()))),
    ]
}

fn nsp() -> impl Strategy<Value = String> {
    prop_oneof![Just("/".to_string()), "/[a-zA-Z0-9_é-]{1,10}"]
}

fn packet() -> impl Strategy<Value = Packet> {
    let event = (
        nsp(),
        event_name(),
        prop::collection::vec(value(), 0..4),
        any::<Option<u64>>(),
    )
        .prop_map(|(nsp, name, args, id)| {
            let mut items = vec![name];
            items.extend(args);
            Packet {
                kind: PacketKind::Event,
                nsp: nsp.into(),
                id,
                data: Some(Value::Array(items).into()),
            }
        });
    let ack =
        (nsp(), prop::collection::vec(value(), 0..4), any::<u64>()).prop_map(|(nsp, args, id)| {
            Packet {
                kind: PacketKind::Ack,
                nsp: nsp.into(),
                id: Some(id),
                data: Some(Value::Array(args).into()),
            }
        });
    let object = || {
        prop::collection::vec(("[a-z]{1,6}", leaf()), 0..4).prop_map(|mut entries| {
            let mut seen = std::collections::HashSet::new();
            entries.retain(|(k, v)| seen.insert(k.clone()) && !matches!(v, Value::Binary(_)));
            Value::Object(entries)
        })
    };
    let connect = (nsp(), prop::option::of(object())).prop_map(|(nsp, auth)| Packet {
        kind: PacketKind::Connect,
        nsp: nsp.into(),
        id: None,
        data: auth.map(Payload::Value),
    });
    let disconnect = nsp().prop_map(|nsp| Packet::new(PacketKind::Disconnect, nsp));
    let connect_error = (nsp(), object()).prop_map(|(nsp, data)| Packet {
        kind: PacketKind::ConnectError,
        nsp: nsp.into(),
        id: None,
        data: Some(data.into()),
    });
    prop_oneof![3 => event, 2 => ack, 1 => connect, 1 => disconnect, 1 => connect_error]
}

fn same_packet(a: &Packet, b: &Packet) -> bool {
    let data = |p: &Packet| p.data.as_ref().map(|d| d.to_value().unwrap());
    a.kind == b.kind && a.nsp == b.nsp && a.id == b.id && data(a) == data(b)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn packets_round_trip(packet in packet()) {
        let encoded = encode(&packet, ProtocolVersion::V5);
        let mut decoder = Decoder::new(ProtocolVersion::V5, Limits::DEFAULT);
        let mut decoded = decoder.decode_text(encoded.text.clone()).unwrap();
        for attachment in &encoded.attachments {
            prop_assert!(decoded.is_none());
            decoded = decoder.decode_binary(attachment.clone()).unwrap();
        }
        let decoded = decoded.expect("complete after all attachments");
        prop_assert!(same_packet(&packet, &decoded), "{packet:?} != {decoded:?}");
        // Re-encoding what was decoded gives the same bytes.
        prop_assert_eq!(encode(&decoded, ProtocolVersion::V5), encoded);
    }

    #[test]
    fn arbitrary_text_never_panics(text in ".{0,64}", binaries in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..8), 0..4)) {
        for version in [ProtocolVersion::V4, ProtocolVersion::V5] {
            let mut decoder = Decoder::new(version, Limits::DEFAULT);
            let _ = decoder.decode_text(text.clone().into());
            for binary in &binaries {
                let _ = decoder.decode_binary(Bytes::from(binary.clone()));
            }
        }
    }

    #[test]
    fn header_like_text_never_panics(text in "[0-6][0-9-]{0,4}(/[a-z,é]{0,4})?[0-9]{0,25}[\\[\\]{}\"a-z0-9,:]{0,16}") {
        let mut decoder = Decoder::new(ProtocolVersion::V5, Limits::DEFAULT);
        let _ = decoder.decode_text(text.into());
    }
}
