//! Engine.IO codec tests: wire transcripts from the protocol facts sheet, and property tests
//! (every codec round-trips; no decoder panics on arbitrary input).

use bytes::Bytes;
use proptest::prelude::*;
use socketio_protocol::Str;
use socketio_protocol::engine::payload::{
    decode_v3_binary, decode_v3_text, decode_v4, encode_v3_binary, encode_v3_text, encode_v4,
    iter_v3_binary, iter_v3_text, iter_v4,
};
use socketio_protocol::engine::{
    Data, DecodeError, Frame, OpenPacket, Packet, PacketType, ProtocolVersion,
};

use ProtocolVersion::{V3, V4};

fn binary(bytes: &'static [u8]) -> Packet {
    Packet::Message(Data::Binary(Bytes::from_static(bytes)))
}

fn text_frame(wire: &'static str) -> Frame {
    Frame::Text(Str::from(wire))
}

// ---------------------------------------------------------------------------------------------
// Transcripts
// ---------------------------------------------------------------------------------------------

#[test]
fn protocol_version_from_eio_query() {
    assert_eq!(ProtocolVersion::from_query("4"), Some(V4));
    assert_eq!(ProtocolVersion::from_query("3"), Some(V3));
    for bad in ["", "2", "5", "04", "4 ", "v4"] {
        assert_eq!(ProtocolVersion::from_query(bad), None, "{bad:?}");
    }
    assert_eq!(V4.as_query(), "4");
    assert_eq!(V3.as_query(), "3");
}

#[test]
fn crate_doc_example() {
    assert_eq!(
        Packet::decode_text(ProtocolVersion::V4, "4hello".into()),
        Ok(Packet::Message("hello".into()))
    );
}

#[test]
fn websocket_text_frames_both_versions() {
    let transcript: &[(&'static str, Packet)] = &[
        ("4hello", Packet::Message("hello".into())),
        ("4€", Packet::Message("€".into())),
        ("4", Packet::Message("".into())),
        ("2", Packet::Ping("".into())),
        ("3", Packet::Pong("".into())),
        ("2probe", Packet::Ping("probe".into())),
        ("3probe", Packet::Pong("probe".into())),
        ("1", Packet::Close),
        ("5", Packet::Upgrade),
        ("6", Packet::Noop),
    ];
    for version in [V3, V4] {
        for (wire, packet) in transcript {
            assert_eq!(
                Packet::decode_text(version, Str::from(*wire)).as_ref(),
                Ok(packet)
            );
            assert_eq!(
                packet.encode_frame(version),
                text_frame(wire),
                "{version:?} {wire}"
            );
        }
    }
}

#[test]
fn websocket_binary_frames() {
    // v4: the frame is the message, no type byte.
    let v4 = Packet::decode_binary(V4, Bytes::from_static(&[1, 2, 3, 4])).unwrap();
    assert_eq!(v4, binary(&[1, 2, 3, 4]));
    assert_eq!(
        v4.encode_frame(V4),
        Frame::Binary(Bytes::from_static(&[1, 2, 3, 4]))
    );
    // v3: a leading type byte.
    let v3 = Packet::decode_binary(V3, Bytes::from_static(&[4, 1, 2, 3, 4])).unwrap();
    assert_eq!(v3, binary(&[1, 2, 3, 4]));
    assert_eq!(
        v3.encode_frame(V3),
        Frame::Binary(Bytes::from_static(&[4, 1, 2, 3, 4]))
    );
    assert_eq!(
        Packet::decode_frame(V3, Frame::Binary(Bytes::from_static(&[4, 9]))),
        Ok(binary(&[9]))
    );
}

#[test]
fn v4_binary_frame_shares_the_message_bytes() {
    let bytes = Bytes::from(vec![7u8; 64]);
    let Frame::Binary(framed) = Packet::Message(Data::Binary(bytes.clone())).encode_frame(V4)
    else {
        panic!("a binary message must become a binary frame");
    };
    assert_eq!(framed.as_ptr(), bytes.as_ptr());
}

#[test]
fn v4_payload_transcript() {
    let body = "4hello\u{1e}4€\u{1e}bAQIDBA==\u{1e}2\u{1e}6";
    let packets = vec![
        Packet::Message("hello".into()),
        Packet::Message("€".into()),
        binary(&[1, 2, 3, 4]),
        Packet::Ping("".into()),
        Packet::Noop,
    ];
    assert_eq!(decode_v4(body.into(), 16), Ok(packets.clone()));
    assert_eq!(&*encode_v4(&packets), body);
    assert_eq!(&*encode_v4(&[Packet::Message("hello".into())]), "4hello");
    assert_eq!(&*encode_v4(&[Packet::Noop]), "6");
    assert_eq!(decode_v4("1".into(), 16), Ok(vec![Packet::Close]));
}

#[test]
fn v4_payload_parse_error_stops_decoding() {
    let mut packets = iter_v4("4a\u{1e}bAQ!\u{1e}4b".into());
    assert_eq!(packets.next(), Some(Ok(Packet::Message("a".into()))));
    assert_eq!(packets.next(), Some(Err(DecodeError::InvalidBase64)));
    assert_eq!(packets.next(), None);
    assert_eq!(
        decode_v4("4a\u{1e}x".into(), 16),
        Err(DecodeError::UnknownPacketType(b'x'))
    );
    assert_eq!(decode_v4("".into(), 16), Err(DecodeError::EmptyPacket));
    assert_eq!(
        decode_v4("3\u{1e}3".into(), 1),
        Err(DecodeError::TooManyPackets)
    );
}

#[test]
fn v3_text_payload_transcript() {
    // Lengths count UTF-16 code units: "4€" is 2.
    let packets = vec![Packet::Message("hello".into()), Packet::Message("€".into())];
    assert_eq!(
        decode_v3_text("6:4hello2:4€".into(), 16),
        Ok(packets.clone())
    );
    assert_eq!(&*encode_v3_text(&packets), "6:4hello2:4€");
    // Binary as b4 + base64, with its own length.
    let mixed = vec![Packet::Message("hello".into()), binary(&[1, 2, 3, 4])];
    assert_eq!(&*encode_v3_text(&mixed), "6:4hello10:b4AQIDBA==");
    assert_eq!(
        decode_v3_text("6:4hello10:b4AQIDBA==".into(), 16),
        Ok(mixed)
    );
    // Astral characters count 2 units.
    assert_eq!(&*encode_v3_text(&[Packet::Message("😀".into())]), "3:4😀");
    // Ping/pong and no packets.
    assert_eq!(
        &*encode_v3_text(&[Packet::Pong("probe".into())]),
        "6:3probe"
    );
    assert_eq!(&*encode_v3_text(&[]), "0:");
    assert_eq!(decode_v3_text("0:".into(), 16), Ok(vec![]));
    assert_eq!(
        decode_v3_text("1:2".into(), 16),
        Ok(vec![Packet::Ping("".into())])
    );
}

#[test]
fn v3_text_payload_rejects_bad_lengths() {
    for body in [
        "",
        "5:4hello",
        "7:4hello",
        "6:4hello2",
        "x:4",
        "-1:4",
        ":4",
        "2:4😀",
    ] {
        assert!(decode_v3_text(body.into(), 16).is_err(), "{body:?}");
    }
    let mut packets = iter_v3_text("1:22:3".into());
    assert_eq!(packets.next(), Some(Ok(Packet::Ping("".into()))));
    assert_eq!(packets.next(), Some(Err(DecodeError::BadLength)));
    assert_eq!(packets.next(), None);
}

#[test]
fn v3_binary_payload_transcript() {
    let body: &[u8] = &[
        0, 6, 255, 52, 104, 101, 108, 108, 111, 1, 5, 255, 4, 1, 2, 3, 4,
    ];
    let packets = vec![Packet::Message("hello".into()), binary(&[1, 2, 3, 4])];
    assert_eq!(
        decode_v3_binary(Bytes::from_static(body), 16),
        Ok(packets.clone())
    );
    assert_eq!(&encode_v3_binary(&packets)[..], body);
    // Text lengths in a binary body count UTF-8 bytes (as engine.io-parser 2.2 utf8-encodes).
    assert_eq!(
        &encode_v3_binary(&[Packet::Message("€".into())])[..],
        &[0, 4, 255, b'4', 0xE2, 0x82, 0xAC]
    );
    // Multi-digit lengths: one byte per decimal digit.
    let long = Packet::Message(Data::Binary(Bytes::from(vec![9u8; 12])));
    let encoded = encode_v3_binary(core::slice::from_ref(&long));
    assert_eq!(&encoded[..4], &[1, 1, 3, 255]);
    assert_eq!(encoded[4], 4);
    assert_eq!(decode_v3_binary(encoded, 16), Ok(vec![long]));
    assert!(encode_v3_binary(&[]).is_empty());
    assert_eq!(decode_v3_binary(Bytes::new(), 16), Ok(vec![]));
}

#[test]
fn v3_binary_payload_rejects_lengths_past_the_input() {
    let mut packets = iter_v3_binary(Bytes::from_static(&[0, 1, 255, 50, 0, 9, 9, 255, 52]));
    assert_eq!(packets.next(), Some(Ok(Packet::Ping("".into()))));
    assert_eq!(packets.next(), Some(Err(DecodeError::BadLength)));
    assert_eq!(packets.next(), None);
    let huge: Vec<u8> = [1].into_iter().chain([9; 400]).chain([255, 4]).collect();
    assert_eq!(
        decode_v3_binary(huge.into(), 16),
        Err(DecodeError::BadLength)
    );
}

#[test]
fn open_packet_exact_json() {
    let open = OpenPacket {
        sid: "lv_VI97HAXpY6yYWAAAC".into(),
        upgrades: vec!["websocket".into()],
        ping_interval: 25000,
        ping_timeout: 20000,
        max_payload: Some(1_000_000),
    };
    let json = "{\"sid\":\"lv_VI97HAXpY6yYWAAAC\",\"upgrades\":[\"websocket\"],\
                \"pingInterval\":25000,\"pingTimeout\":20000,\"maxPayload\":1000000}";
    assert_eq!(open.encode(), json);
    assert_eq!(OpenPacket::decode(json), Ok(open.clone()));
    // Exactly five keys.
    let value: serde_json::Value = serde_json::from_str(&open.encode()).unwrap();
    assert_eq!(value.as_object().map(|object| object.len()), Some(5));
    // As a frame: the open type digit then the JSON.
    let frame = open.to_packet().encode_frame(V4);
    assert_eq!(frame, Frame::Text(Str::from(format!("0{json}"))));
    let Frame::Text(wire) = frame else {
        unreachable!()
    };
    let decoded = Packet::decode_text(V4, wire).unwrap();
    assert_eq!(OpenPacket::from_packet(&decoded), Ok(open));
}

#[test]
fn open_packet_websocket_and_v3_forms() {
    let websocket = OpenPacket {
        sid: "abc".into(),
        upgrades: vec![],
        ping_interval: 25000,
        ping_timeout: 20000,
        max_payload: Some(1_000_000),
    };
    assert_eq!(
        websocket.encode(),
        "{\"sid\":\"abc\",\"upgrades\":[],\"pingInterval\":25000,\"pingTimeout\":20000,\"maxPayload\":1000000}"
    );
    let v3 = OpenPacket {
        max_payload: None,
        ..websocket
    };
    let json = "{\"sid\":\"abc\",\"upgrades\":[],\"pingInterval\":25000,\"pingTimeout\":20000}";
    assert_eq!(v3.encode(), json);
    assert_eq!(OpenPacket::decode(json), Ok(v3));
}

#[test]
fn packet_types_and_errors_display() {
    assert_eq!(Packet::Upgrade.packet_type(), PacketType::Upgrade);
    assert_eq!(PacketType::from_digit(b'4'), Some(PacketType::Message));
    assert_eq!(PacketType::from_digit(b'7'), None);
    assert_eq!(PacketType::Noop.digit(), b'6');
    assert_eq!(
        DecodeError::UnknownPacketType(b'x').to_string(),
        "unknown engine.io packet type (byte 0x78)"
    );
    let boxed: Box<dyn std::error::Error> = Box::new(DecodeError::BadLength);
    assert!(boxed.to_string().contains("length"));
}

// ---------------------------------------------------------------------------------------------
// Property tests
// ---------------------------------------------------------------------------------------------

/// Text without the v4 record separator (which cannot travel in a v4 payload).
fn text_without_separator() -> BoxedStrategy<String> {
    any::<String>()
        .prop_map(|text| text.replace('\u{1e}', ""))
        .boxed()
}

fn arb_packet_with(text: BoxedStrategy<String>) -> impl Strategy<Value = Packet> {
    prop_oneof![
        text.clone().prop_map(|t| Packet::Open(t.into())),
        Just(Packet::Close),
        prop_oneof![Just(String::new()), Just("probe".to_owned()), text.clone()]
            .prop_map(|t| Packet::Ping(t.into())),
        prop_oneof![Just(String::new()), Just("probe".to_owned()), text.clone()]
            .prop_map(|t| Packet::Pong(t.into())),
        text.prop_map(|t| Packet::Message(t.into())),
        proptest::collection::vec(any::<u8>(), 0..64)
            .prop_map(|b| Packet::Message(Data::Binary(b.into()))),
        Just(Packet::Upgrade),
        Just(Packet::Noop),
    ]
}

fn arb_packet() -> impl Strategy<Value = Packet> {
    arb_packet_with(any::<String>().boxed())
}

fn arb_version() -> impl Strategy<Value = ProtocolVersion> {
    prop_oneof![Just(V3), Just(V4)]
}

/// Strings built from the characters the decoders care about, to reach deep paths.
fn tricky_text() -> impl Strategy<Value = String> {
    let pieces = prop_oneof![
        Just("0"),
        Just("1"),
        Just("2"),
        Just("4"),
        Just("6"),
        Just("9"),
        Just(":"),
        Just("b"),
        Just("b4"),
        Just("\u{1e}"),
        Just("€"),
        Just("😀"),
        Just("AQID"),
        Just("="),
        Just("probe"),
    ];
    proptest::collection::vec(pieces, 0..24).prop_map(|pieces| pieces.concat())
}

/// Bytes built from the values the v3 binary decoder cares about.
fn tricky_bytes() -> impl Strategy<Value = Vec<u8>> {
    let byte = prop_oneof![0u8..=10, Just(255u8), Just(b'4'), Just(b'b'), any::<u8>()];
    proptest::collection::vec(byte, 0..48)
}

proptest! {
    #[test]
    fn frames_round_trip(version in arb_version(), packet in arb_packet()) {
        let frame = packet.encode_frame(version);
        prop_assert_eq!(Packet::decode_frame(version, frame), Ok(packet));
    }

    #[test]
    fn v4_payload_round_trips(
        packets in proptest::collection::vec(arb_packet_with(text_without_separator()), 1..8),
    ) {
        let body = encode_v4(&packets);
        prop_assert_eq!(decode_v4(body, packets.len()), Ok(packets));
    }

    #[test]
    fn v3_text_payload_round_trips(packets in proptest::collection::vec(arb_packet(), 0..8)) {
        let body = encode_v3_text(&packets);
        prop_assert_eq!(decode_v3_text(body, packets.len()), Ok(packets));
    }

    #[test]
    fn v3_binary_payload_round_trips(packets in proptest::collection::vec(arb_packet(), 0..8)) {
        let body = encode_v3_binary(&packets);
        prop_assert_eq!(decode_v3_binary(body, packets.len()), Ok(packets));
    }

    #[test]
    fn payload_limits_are_enforced(packets in proptest::collection::vec(arb_packet(), 1..8)) {
        let fewer = packets.len() - 1;
        prop_assert_eq!(
            decode_v3_binary(encode_v3_binary(&packets), fewer),
            Err(DecodeError::TooManyPackets)
        );
        prop_assert_eq!(
            decode_v3_text(encode_v3_text(&packets), fewer),
            Err(DecodeError::TooManyPackets)
        );
    }

    #[test]
    fn open_packet_round_trips(
        sid in any::<String>(),
        upgrades in proptest::collection::vec(any::<String>(), 0..3),
        ping_interval in any::<u64>(),
        ping_timeout in any::<u64>(),
        max_payload in any::<Option<u64>>(),
    ) {
        let open = OpenPacket {
            sid: sid.into(),
            upgrades: upgrades.into_iter().map(Str::from).collect(),
            ping_interval,
            ping_timeout,
            max_payload,
        };
        prop_assert_eq!(OpenPacket::decode(&open.encode()), Ok(open));
    }

    #[test]
    fn text_decoders_never_panic(
        version in arb_version(),
        text in prop_oneof![any::<String>(), tricky_text()],
    ) {
        let _ = Packet::decode_text(version, text.clone().into());
        let _ = decode_v4(text.clone().into(), 64);
        let _ = decode_v3_text(text.clone().into(), 64);
        let _ = OpenPacket::decode(&text);
        let _ = iter_v4(text.clone().into()).count();
        let _ = iter_v3_text(text.into()).count();
    }

    #[test]
    fn binary_decoders_never_panic(
        version in arb_version(),
        bytes in prop_oneof![proptest::collection::vec(any::<u8>(), 0..64), tricky_bytes()],
    ) {
        let _ = Packet::decode_binary(version, bytes.clone().into());
        let _ = decode_v3_binary(bytes.clone().into(), 64);
        let _ = iter_v3_binary(bytes.into()).count();
    }

    #[test]
    fn decoded_packets_re_encode_to_something_decodable(
        version in arb_version(),
        text in tricky_text(),
    ) {
        // Whatever decodes must survive its own round trip.
        if let Ok(packet) = Packet::decode_text(version, text.into()) {
            let frame = packet.encode_frame(version);
            prop_assert_eq!(Packet::decode_frame(version, frame), Ok(packet));
        }
    }
}
