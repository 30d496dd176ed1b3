//! Transcript tests for the common (JSON) Socket.IO parser: wire text in, packets out, and
//! packets in, exact wire text out — every Socket.IO example of PROTOCOL.md.

use bytes::Bytes;
use socketio_protocol::Value;
use socketio_protocol::json;
use socketio_protocol::socket::parser::common::{DecodeError, Decoder, encode};
use socketio_protocol::socket::{Limits, Packet, PacketKind, Payload, ProtocolVersion};

fn decoder() -> Decoder {
    Decoder::new(ProtocolVersion::V5, Limits::DEFAULT)
}

fn decode_one(text: &'static str) -> Result<Packet, DecodeError> {
    decoder()
        .decode_text(text.into())
        .map(|p| p.expect("a complete packet"))
}

fn value(text: &str) -> Value {
    json::parse(text.as_bytes(), 128).unwrap()
}

fn data_value(packet: &Packet) -> Value {
    packet.data.as_ref().unwrap().to_value().unwrap()
}

fn round_trip(text: &'static str) {
    let packet = decode_one(text).unwrap_or_else(|e| panic!("{text}: {e}"));
    let encoded = encode(&packet, ProtocolVersion::V5);
    assert_eq!(&*encoded.text, text);
    assert!(encoded.attachments.is_empty());
}

#[test]
fn every_packet_type_round_trips() {
    for text in [
        "0",
        "0{\"token\":\"123\"}",
        "0/admin,{\"token\":\"123\"}",
        "0/admin,",
        "40{\"sid\":\"abc\"}",
        "1",
        "1/admin,",
        "2[\"hello\",1]",
        "2/admin,[\"hello\",{\"a\":[true,null]}]",
        "212[\"hello\"]",
        "2/admin,456[\"project:delete\",123]",
        "3/admin,456[]",
        "312[\"ok\",{\"n\":1.5}]",
        "4{\"message\":\"Not authorized\"}",
        "4/random,{\"message\":\"Invalid namespace\"}",
        "4{\"message\":\"m\",\"data\":{\"reason\":\"x\"}}",
        "2[1,2,3]",
        "2[\"€ unicode 😀\",\"\\u2028\\\"\"]",
    ] {
        round_trip(text);
    }
}

#[test]
fn wire_examples_in_engine_messages() {
    // `42[...]` on the wire is engine type 4 + socket text `2[...]`.
    let packet = decode_one("2[\"chat\",{\"user\":\"alice\",\"text\":\"hello\"}]").unwrap();
    assert_eq!(packet.kind, PacketKind::Event);
    assert_eq!(packet.nsp, "/");
    assert_eq!(packet.id, None);
    assert_eq!(
        data_value(&packet),
        value("[\"chat\",{\"user\":\"alice\",\"text\":\"hello\"}]")
    );
}

#[test]
fn namespace_runs_to_first_comma_or_end() {
    let packet = decode_one("0/custom").unwrap();
    assert_eq!(packet.kind, PacketKind::Connect);
    assert_eq!(packet.nsp, "/custom");
    assert_eq!(packet.data, None);
    assert_eq!(&*encode(&packet, ProtocolVersion::V5).text, "0/custom,");

    let packet = decode_one("1/custom").unwrap();
    assert_eq!(packet.kind, PacketKind::Disconnect);
    assert_eq!(packet.nsp, "/custom");
}

#[test]
fn ack_ids_are_parsed_after_the_namespace() {
    let packet = decode_one("2/chat,7[\"x\"]").unwrap();
    assert_eq!((packet.nsp.as_ref(), packet.id), ("/chat", Some(7)));
    let packet = decode_one("318446744073709551615[]").unwrap();
    assert_eq!(packet.id, Some(u64::MAX));
    assert_eq!(
        decode_one("318446744073709551616[]"),
        Err(DecodeError::AckIdOverflow)
    );
}

#[test]
fn binary_event_is_reassembled_from_attachments() {
    let mut decoder = decoder();
    let header = decoder.decode_text("51-[\"baz\",{\"_placeholder\":true,\"num\":0}]".into());
    assert_eq!(header, Ok(None));
    assert!(decoder.is_reconstructing());
    let packet = decoder
        .decode_binary(Bytes::from_static(&[1, 2, 3, 4]))
        .unwrap()
        .unwrap();
    assert_eq!(packet.kind, PacketKind::Event);
    assert_eq!(
        data_value(&packet),
        Value::Array(vec![
            "baz".into(),
            Value::Binary(Bytes::from_static(&[1, 2, 3, 4]))
        ])
    );

    let encoded = encode(&packet, ProtocolVersion::V5);
    assert_eq!(
        &*encoded.text,
        "51-[\"baz\",{\"_placeholder\":true,\"num\":0}]"
    );
    assert_eq!(encoded.attachments, vec![Bytes::from_static(&[1, 2, 3, 4])]);
}

#[test]
fn binary_ack_with_namespace_id_and_nested_buffers() {
    let mut decoder = decoder();
    let text = "62-/admin,9[{\"a\":{\"_placeholder\":true,\"num\":0}},[{\"_placeholder\":true,\"num\":1}]]";
    assert_eq!(decoder.decode_text(text.into()), Ok(None));
    assert_eq!(decoder.decode_binary(Bytes::from_static(b"x")), Ok(None));
    let packet = decoder
        .decode_binary(Bytes::from_static(b"yz"))
        .unwrap()
        .unwrap();
    assert_eq!(
        (packet.kind, packet.nsp.as_ref(), packet.id),
        (PacketKind::Ack, "/admin", Some(9))
    );
    let encoded = encode(&packet, ProtocolVersion::V5);
    assert_eq!(&*encoded.text, text);
    assert_eq!(
        encoded.attachments,
        vec![Bytes::from_static(b"x"), Bytes::from_static(b"yz")]
    );
}

#[test]
fn placeholders_are_numbered_depth_first() {
    let data = Value::Array(vec![
        "e".into(),
        Value::Object(vec![
            (
                "k".into(),
                Value::Array(vec![Value::Binary(Bytes::from_static(b"0"))]),
            ),
            ("l".into(), Value::Binary(Bytes::from_static(b"1"))),
        ]),
        Value::Binary(Bytes::from_static(b"2")),
    ]);
    let encoded = encode(&Packet::event("/", data), ProtocolVersion::V5);
    assert_eq!(
        &*encoded.text,
        "53-[\"e\",{\"k\":[{\"_placeholder\":true,\"num\":0}],\"l\":{\"_placeholder\":true,\"num\":1}},{\"_placeholder\":true,\"num\":2}]"
    );
    let names: Vec<&[u8]> = encoded.attachments.iter().map(|b| b.as_ref()).collect();
    assert_eq!(names, [b"0", b"1", b"2"]);
}

#[test]
fn protocol_violations_are_rejected() {
    let cases: &[(&'static str, DecodeError)] = &[
        ("", DecodeError::Empty),
        ("7", DecodeError::UnknownType(b'7')),
        ("a", DecodeError::UnknownType(b'a')),
        ("2{}", DecodeError::InvalidPayload(PacketKind::Event)),
        (
            "2abc[\"x\"]",
            DecodeError::InvalidPayload(PacketKind::Event),
        ),
        ("50-[\"x\"]", DecodeError::BadAttachmentCount),
        ("2[]", DecodeError::InvalidPayload(PacketKind::Event)),
        ("2[{}]", DecodeError::InvalidPayload(PacketKind::Event)),
        ("2[null]", DecodeError::InvalidPayload(PacketKind::Event)),
        ("2\"hello\"", DecodeError::InvalidPayload(PacketKind::Event)),
        ("0[]", DecodeError::InvalidPayload(PacketKind::Connect)),
        ("0\"x\"", DecodeError::InvalidPayload(PacketKind::Connect)),
        ("1{}", DecodeError::InvalidPayload(PacketKind::Disconnect)),
        ("3{}", DecodeError::InvalidPayload(PacketKind::Ack)),
        ("3[]", DecodeError::MissingAckId),
        ("4[]", DecodeError::InvalidPayload(PacketKind::ConnectError)),
        ("5[\"x\"]", DecodeError::BadAttachmentCount),
        ("5-[\"x\"]", DecodeError::BadAttachmentCount),
        ("51[\"x\"]", DecodeError::BadAttachmentCount),
        ("511-[\"x\"]", DecodeError::TooManyAttachments(11)),
        (
            "599999999999999999999999-[\"x\"]",
            DecodeError::TooManyAttachments(usize::MAX),
        ),
    ];
    for (text, expected) in cases {
        assert_eq!(decode_one(text).as_ref(), Err(expected), "{text:?}");
    }
    for text in ["2[\"x\"", "2[\"x\"]]", "0{", "2[\"x\",]"] {
        assert!(
            matches!(decode_one(text), Err(DecodeError::Json(_))),
            "{text:?}"
        );
    }
}

#[test]
fn reserved_event_names_are_refused() {
    for name in [
        "connect",
        "connect_error",
        "disconnect",
        "disconnecting",
        "newListener",
        "removeListener",
    ] {
        let text: &'static str = format!("2[\"{name}\"]").leak();
        assert_eq!(
            decode_one(text),
            Err(DecodeError::InvalidPayload(PacketKind::Event))
        );
        let binary: &'static str =
            format!("51-[\"{name}\",{{\"_placeholder\":true,\"num\":0}}]").leak();
        assert_eq!(
            decoder().decode_text(binary.into()),
            Err(DecodeError::InvalidPayload(PacketKind::Event))
        );
    }
    assert!(decode_one("2[\"connected\"]").is_ok());
}

#[test]
fn attachment_sequencing_errors() {
    let mut decoder = decoder();
    assert_eq!(
        decoder.decode_binary(Bytes::from_static(b"x")),
        Err(DecodeError::UnexpectedBinary)
    );
    assert_eq!(
        decoder.decode_text("51-[\"a\",{\"_placeholder\":true,\"num\":0}]".into()),
        Ok(None)
    );
    assert_eq!(
        decoder.decode_text("2[\"b\"]".into()),
        Err(DecodeError::UnexpectedText)
    );

    let mut decoder = self::decoder();
    assert_eq!(
        decoder.decode_text("51-[\"a\",{\"_placeholder\":true,\"num\":1}]".into()),
        Ok(None)
    );
    assert_eq!(
        decoder.decode_binary(Bytes::from_static(b"x")),
        Err(DecodeError::IllegalAttachment)
    );
}

#[test]
fn attachment_limit_is_configurable() {
    let mut strict = Decoder::new(
        ProtocolVersion::V5,
        Limits {
            max_attachments: 1,
            max_depth: 8,
        },
    );
    assert_eq!(
        strict.decode_text("52-[\"a\",{\"_placeholder\":true,\"num\":0}]".into()),
        Err(DecodeError::TooManyAttachments(2))
    );
    let deep: &'static str = format!("2[\"a\",{}{}]", "[".repeat(20), "]".repeat(20)).leak();
    assert!(matches!(
        strict.decode_text(deep.into()),
        Err(DecodeError::Json(_))
    ));
}

#[test]
fn v4_connect_keeps_the_query_and_error_may_be_a_string() {
    let mut decoder = Decoder::new(ProtocolVersion::V4, Limits::DEFAULT);
    let packet = decoder
        .decode_text("0/admin?token=1,".into())
        .unwrap()
        .unwrap();
    assert_eq!(packet.nsp, "/admin?token=1");
    assert_eq!(
        &*encode(&packet, ProtocolVersion::V4).text,
        "0/admin?token=1,"
    );

    let packet = decoder
        .decode_text("4\"Not authorized\"".into())
        .unwrap()
        .unwrap();
    assert_eq!(packet.kind, PacketKind::ConnectError);
    assert_eq!(data_value(&packet), Value::from("Not authorized"));
    let packet = decoder
        .decode_text("4/admin,\"Invalid namespace\"".into())
        .unwrap()
        .unwrap();
    assert_eq!(
        &*encode(&packet, ProtocolVersion::V4).text,
        "4/admin,\"Invalid namespace\""
    );
}

#[test]
fn application_payloads_are_written_compactly_in_key_order() {
    let data = value("[\"msg\", {\"z\": 1, \"a\": [1.0, 0.5, 1e21, -0]}]");
    let packet = Packet::event("/chat", Payload::Value(data)).with_id(3);
    assert_eq!(
        &*encode(&packet, ProtocolVersion::V5).text,
        "2/chat,3[\"msg\",{\"z\":1,\"a\":[1,0.5,1e+21,0]}]"
    );
}

#[test]
fn json_payload_text_is_utf8_by_its_type() {
    // `Payload::Json` holds a `Str`, so bytes that are not UTF-8 cannot get there (the encoder
    // copies the text without checking it again).
    assert!(socketio_protocol::Str::from_utf8(Bytes::from_static(b"[\"a\xff\"]")).is_err());
    let text = socketio_protocol::Str::from_utf8(Bytes::from_static("[\"a\u{e9}\"]".as_bytes()));
    let packet = Packet::event("/", Payload::Json(text.unwrap()));
    assert_eq!(
        &*encode(&packet, ProtocolVersion::V5).text,
        "2[\"a\u{e9}\"]"
    );
}

#[test]
fn event_names_and_ack_arguments_are_read_one_way_for_server_and_client() {
    use socketio_protocol::Value;
    use socketio_protocol::socket::Payload;
    let name = |json: &'static str| Payload::Json(json.into()).event_parts().map(|(n, _)| n);
    // Numbers as JavaScript's String(n) writes them.
    assert_eq!(name("[1]").as_deref(), Some("1"));
    assert_eq!(name("[-2]").as_deref(), Some("-2"));
    assert_eq!(name("[1.5]").as_deref(), Some("1.5"));
    assert_eq!(name("[1e21]").as_deref(), Some("1e+21"));
    assert_eq!(name(r#"["ev",1]"#).as_deref(), Some("ev"));
    assert_eq!(name("[true]"), None);
    assert_eq!(name("[]"), None);
    assert_eq!(name("{}"), None);
    let args = Payload::Json(r#"["a",{"b":1}]"#.into()).ack_args().unwrap();
    assert_eq!(args.len(), 2);
    assert_eq!(
        Payload::Value(Value::from("lone")).ack_args().unwrap(),
        vec![Value::from("lone")]
    );
}
