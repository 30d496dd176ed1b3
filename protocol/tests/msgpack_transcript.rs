//! Transcripts for the msgpack parser: hand-checked bytes, each one equal to what
//! `socket.io-msgpack-parser` 3.0.2 / `notepack.io` 2.2.0 produce for the same packet object.
#![cfg(feature = "msgpack")]

/// Named `msgpack` so that `cargo test -p socketio-protocol msgpack` selects these tests.
mod msgpack {

    use bytes::Bytes;
    use socketio_protocol::socket::parser::msgpack::{
        self, KeyOrder, MsgpackError, decode, decode_slice, decode_value, encode, encode_value,
        encode_with_order,
    };
    use socketio_protocol::socket::{Limits, Packet, PacketKind, Payload};
    use socketio_protocol::{Number, Value};

    fn hex(s: &str) -> Vec<u8> {
        let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    fn obj(entries: &[(&str, Value)]) -> Value {
        Value::Object(
            entries
                .iter()
                .map(|(k, v)| ((*k).to_owned(), v.clone()))
                .collect(),
        )
    }

    fn arr(items: Vec<Value>) -> Value {
        Value::Array(items)
    }

    /// Encodes, compares with `expected` hex, and decodes back to the same packet.
    fn transcript(packet: &Packet, expected: &str) {
        let bytes = encode(packet);
        assert_eq!(bytes.to_vec(), hex(expected), "encoding {packet:?}");
        assert_eq!(&decode(&bytes, &Limits::DEFAULT).unwrap(), packet);
        assert_eq!(&decode_slice(&bytes, &Limits::DEFAULT).unwrap(), packet);
    }

    fn decode_hex(s: &str) -> Result<Packet, MsgpackError> {
        decode(&Bytes::from(hex(s)), &Limits::DEFAULT)
    }

    fn value_bytes(value: &Value) -> String {
        let mut out = Vec::new();
        encode_value(value, &mut out);
        out.iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn connect_to_root() {
        // {"type":0,"nsp":"/"}
        transcript(
            &Packet::new(PacketKind::Connect, "/"),
            "82 a4 74797065 00 a3 6e7370 a1 2f",
        );
    }

    #[test]
    fn connect_with_auth_to_admin() {
        // {"type":0,"data":{"token":"abc"},"nsp":"/admin"}
        let mut packet = Packet::new(PacketKind::Connect, "/admin");
        packet.data = Some(Payload::Value(obj(&[("token", "abc".into())])));
        transcript(
            &packet,
            "83 a4 74797065 00 a4 64617461 81 a5 746f6b656e a3 616263 a3 6e7370 a6 2f61646d696e",
        );
    }

    #[test]
    fn event_with_ack_id() {
        // {"type":2,"data":["hello",1,{"a":[true,null]}],"nsp":"/","id":7}
        let data = arr(vec![
            "hello".into(),
            Value::from(1u64),
            obj(&[("a", arr(vec![true.into(), Value::Null]))]),
        ]);
        transcript(
            &Packet::event("/", data).with_id(7),
            "84 a4 74797065 02 a4 64617461 93 a5 68656c6c6f 01 81 a1 61 92 c3 c0
         a3 6e7370 a1 2f a2 6964 07",
        );
    }

    #[test]
    fn event_with_binary_stays_in_place() {
        // {"type":2,"data":["bin",<Buffer 01 02 03>],"nsp":"/"}: type 2, never 5; bin 8 in place.
        let data = arr(vec![
            "bin".into(),
            Value::Binary(Bytes::from_static(&[1, 2, 3])),
        ]);
        let packet = Packet::event("/", data);
        transcript(
            &packet,
            "83 a4 74797065 02 a4 64617461 92 a3 62696e c4 03 010203 a3 6e7370 a1 2f",
        );
        // The decoded data, and the binaries in its tree, share the input buffer.
        let bytes = encode(&packet);
        let decoded = decode(&bytes, &Limits::DEFAULT).unwrap();
        let Some(Payload::Msgpack(data)) = decoded.data else {
            panic!()
        };
        let start = bytes.len() - 16;
        assert_eq!(data.as_bytes().as_ptr(), bytes[start..].as_ptr());
        let Value::Array(items) = data.to_value() else {
            panic!()
        };
        let Value::Binary(bin) = &items[1] else {
            panic!()
        };
        assert_eq!(bin.as_ptr(), bytes[bytes.len() - 9..].as_ptr());
    }

    #[test]
    fn connect_error_disconnect_and_ack() {
        // {"type":4,"data":{"message":"Not authorized"},"nsp":"/"}
        let mut packet = Packet::new(PacketKind::ConnectError, "/");
        packet.data = Some(obj(&[("message", "Not authorized".into())]).into());
        transcript(
            &packet,
            "83 a4 74797065 04 a4 64617461 81 a7 6d657373616765 ae 4e6f7420617574686f72697a6564
         a3 6e7370 a1 2f",
        );
        // {"type":1,"nsp":"/chat"}
        transcript(
            &Packet::new(PacketKind::Disconnect, "/chat"),
            "82 a4 74797065 01 a3 6e7370 a5 2f63686174",
        );
        // {"type":3,"data":[],"nsp":"/","id":300}
        transcript(
            &Packet::ack("/", 300, arr(vec![])),
            "84 a4 74797065 03 a4 64617461 90 a3 6e7370 a1 2f a2 6964 cd012c",
        );
    }

    #[test]
    fn server_socket_key_order() {
        // socket.emit("x", cb): {type, data, id, nsp}
        let event = Packet::event("/", arr(vec!["x".into()])).with_id(1);
        assert_eq!(
            encode_with_order(&event, KeyOrder::ServerSocket).to_vec(),
            hex("84 a4 74797065 02 a4 64617461 91 a1 78 a2 6964 01 a3 6e7370 a1 2f")
        );
        // ack reply: {id, type, data, nsp}
        let ack = Packet::ack("/", 1, arr(vec![]));
        assert_eq!(
            encode_with_order(&ack, KeyOrder::ServerSocket).to_vec(),
            hex("84 a2 6964 01 a4 74797065 03 a4 64617461 90 a3 6e7370 a1 2f")
        );
        assert_eq!(
            decode(
                &encode_with_order(&ack, KeyOrder::ServerSocket),
                &Limits::DEFAULT
            )
            .unwrap(),
            ack
        );
    }

    #[test]
    fn numbers_at_every_boundary() {
        let cases: &[(Number, &str)] = &[
            (Number::PosInt(0), "00"),
            (Number::PosInt(127), "7f"),
            (Number::PosInt(128), "cc80"),
            (Number::PosInt(255), "ccff"),
            (Number::PosInt(256), "cd0100"),
            (Number::PosInt(65535), "cdffff"),
            (Number::PosInt(65536), "ce00010000"),
            (Number::PosInt(u32::MAX.into()), "ceffffffff"),
            (Number::PosInt(1 << 32), "cf0000000100000000"),
            (Number::PosInt(1 << 53), "cf0020000000000000"),
            (Number::PosInt(u64::MAX), "cfffffffffffffffff"),
            (Number::NegInt(-1), "ff"),
            (Number::NegInt(-32), "e0"),
            (Number::NegInt(-33), "d0df"),
            (Number::NegInt(-128), "d080"),
            (Number::NegInt(-129), "d1ff7f"),
            (Number::NegInt(-32768), "d18000"),
            (Number::NegInt(-32769), "d2ffff7fff"),
            (Number::NegInt(-(1 << 31)), "d280000000"),
            (Number::NegInt(-(1 << 31) - 1), "d3ffffffff7fffffff"),
            (Number::NegInt(-(1 << 53)), "d3ffe0000000000000"),
            (Number::NegInt(i64::MIN), "d38000000000000000"),
            (Number::Float(1.5), "cb3ff8000000000000"),
            (Number::Float(-1.5), "cbbff8000000000000"),
            (Number::Float(0.1), "cb3fb999999999999a"),
            // Integral doubles are ints, as in JavaScript.
            (Number::Float(1.0), "01"),
            (Number::Float(-0.0), "00"),
            (Number::Float(128.0), "cc80"),
            (Number::Float(-33.0), "d0df"),
            (Number::Float(4294967296.0), "cf0000000100000000"),
            (Number::Float(-2147483649.0), "d3ffffffff7fffffff"),
            // notepack's hi/lo split wraps modulo 2^64 beyond the 64-bit range.
            (Number::Float(1e20), "cf6bc75e2d63100000"),
            (Number::Float(-1e20), "d39438a1d29cf00000"),
            (Number::Float(1e300), "cf0000000000000000"),
            (Number::Float(18446744073709551616.0), "cf0000000000000000"),
            (Number::Float(9223372036854775808.0), "cf8000000000000000"),
            (Number::Float(f64::NAN), "cb7ff8000000000000"),
            (Number::Float(f64::INFINITY), "cb7ff0000000000000"),
            (Number::Float(f64::NEG_INFINITY), "cbfff0000000000000"),
        ];
        for (n, expected) in cases {
            assert_eq!(value_bytes(&Value::Number(*n)), *expected, "{n:?}");
        }
    }

    #[test]
    fn string_binary_and_container_boundaries() {
        let prefix = |v: &Value, n: usize| value_bytes(v)[..n * 2].to_owned();
        assert_eq!(prefix(&"a".repeat(31).into(), 1), "bf");
        assert_eq!(prefix(&"a".repeat(32).into(), 2), "d920");
        assert_eq!(prefix(&"a".repeat(255).into(), 2), "d9ff");
        assert_eq!(prefix(&"a".repeat(256).into(), 3), "da0100");
        assert_eq!(prefix(&"a".repeat(65536).into(), 5), "db00010000");
        assert_eq!(value_bytes(&"é".into()), "a2c3a9");
        let bin = |n: usize| Value::Binary(vec![0; n].into());
        assert_eq!(prefix(&bin(0), 2), "c400");
        assert_eq!(prefix(&bin(255), 2), "c4ff");
        assert_eq!(prefix(&bin(256), 3), "c50100");
        assert_eq!(prefix(&bin(65536), 5), "c600010000");
        let zeros = |n: usize| arr(vec![Value::from(0u64); n]);
        assert_eq!(prefix(&zeros(15), 1), "9f");
        assert_eq!(prefix(&zeros(16), 3), "dc0010");
        assert_eq!(prefix(&zeros(65536), 5), "dd00010000");
        let map = |n: usize| Value::Object((0..n).map(|i| (i.to_string(), Value::Null)).collect());
        assert_eq!(prefix(&map(15), 1), "8f");
        assert_eq!(prefix(&map(16), 3), "de0010");
        assert_eq!(prefix(&map(65536), 5), "df00010000");
        for v in [
            zeros(65536),
            map(65536),
            bin(65536),
            "a".repeat(65536).into(),
        ] {
            let mut out = Vec::new();
            encode_value(&v, &mut out);
            assert_eq!(decode_value(&out, 2).unwrap(), (v, out.len()));
        }
    }

    #[test]
    fn decodes_every_number_format() {
        let cases: &[(&str, Value)] = &[
            ("cc05", Value::from(5u64)),
            ("cd0005", Value::from(5u64)),
            ("ce00000005", Value::from(5u64)),
            ("cf0000000000000005", Value::from(5u64)),
            ("d005", Value::from(5u64)),
            ("d0fb", Value::from(-5i64)),
            ("d1fffb", Value::from(-5i64)),
            ("d2fffffffb", Value::from(-5i64)),
            ("d3fffffffffffffffb", Value::from(-5i64)),
            ("ca3fc00000", Value::from(1.5f64)),
            ("cb3ff8000000000000", Value::from(1.5f64)),
            // Non-finite floats read as null (a decoded number is always finite).
            ("cb7ff8000000000000", Value::Null),
            ("ca7f800000", Value::Null),
        ];
        for (bytes, expected) in cases {
            assert_eq!(
                decode_value(&hex(bytes), 8).unwrap().0,
                *expected,
                "{bytes}"
            );
        }
    }

    #[test]
    fn extensions_as_notepack_2_2_reads_them() {
        // fixext 1 type 0 is `undefined`: null in an array, a left-out key in a map.
        assert_eq!(
            decode_value(&hex("92 d40000 01"), 8).unwrap().0,
            arr(vec![Value::Null, 1u64.into()])
        );
        assert_eq!(
            decode_value(&hex("82 a161 d40000 a162 c0"), 8).unwrap().0,
            obj(&[("b", Value::Null)])
        );
        // ext 8/16/32 of type 0 is notepack's ArrayBuffer encoding: binary.
        let bin = Value::Binary(Bytes::from_static(&[1, 2]));
        assert_eq!(decode_value(&hex("c7 02 00 0102"), 8).unwrap().0, bin);
        assert_eq!(decode_value(&hex("c8 0002 00 0102"), 8).unwrap().0, bin);
        assert_eq!(decode_value(&hex("c9 00000002 00 0102"), 8).unwrap().0, bin);
        // Any other extension reads as [type, <Buffer>].
        assert_eq!(
            decode_value(&hex("d6 ff 39457980"), 8).unwrap().0,
            arr(vec![
                Value::from(-1i64),
                Value::Binary(Bytes::from_static(&[0x39, 0x45, 0x79, 0x80]))
            ])
        );
        assert_eq!(
            decode_value(&hex("c7 01 05 aa"), 8).unwrap().0,
            arr(vec![
                Value::from(5u64),
                Value::Binary(Bytes::from_static(&[0xaa]))
            ])
        );
        // notepack's legacy Date (fixext 8, type 0) has no Value form.
        assert_eq!(
            decode_value(&hex("d7 00 000000dfb7629c00"), 8),
            Err(MsgpackError::UnsupportedExtension { ext_type: 0 })
        );
    }

    #[test]
    fn map_keys_follow_javascript_objects() {
        // A repeated key keeps its first position and its last value.
        assert_eq!(
            decode_value(&hex("83 a161 01 a162 02 a161 03"), 8)
                .unwrap()
                .0,
            obj(&[("a", 3u64.into()), ("b", 2u64.into())])
        );
        // Scalar keys are coerced to strings.
        assert_eq!(
            decode_value(&hex("84 01 c0 ff c0 cb3ff8000000000000 c0 c3 c0"), 8)
                .unwrap()
                .0,
            obj(&[
                ("1", Value::Null),
                ("-1", Value::Null),
                ("1.5", Value::Null),
                ("true", Value::Null)
            ])
        );
        // Checked against notepack 2.2.0: `{"0":null,"1e+21":null,"true":null,"null":null}`.
        assert_eq!(
            decode_value(
                &hex("84 cb8000000000000000 c0 cb444b1ae4d6e2ef50 c0 c3 c0 c0 c0"),
                8
            )
            .unwrap()
            .0,
            obj(&[
                ("0", Value::Null),
                ("1e+21", Value::Null),
                ("true", Value::Null),
                ("null", Value::Null)
            ])
        );
        // A repeated key set to `undefined` disappears (`{"b":2}`).
        assert_eq!(
            decode_value(&hex("83 a161 01 a162 02 a161 d40000"), 8)
                .unwrap()
                .0,
            obj(&[("b", 2u64.into())])
        );
        assert_eq!(
            decode_value(&hex("81 90 c0"), 8),
            Err(MsgpackError::InvalidMapKey)
        );
        assert_eq!(
            decode_value(&hex("81 c40100 c0"), 8),
            Err(MsgpackError::InvalidMapKey)
        );
        // Invalid UTF-8 is replaced, as Node's `buffer.toString()` does.
        assert_eq!(
            decode_value(&hex("a2 ff61"), 8).unwrap().0,
            Value::from("\u{fffd}a")
        );
    }

    #[test]
    fn decodes_what_javascript_peers_send() {
        // A JS client's CONNECT without auth: `data: undefined` is written as fixext 1.
        assert_eq!(
            decode_hex("83 a4 74797065 00 a4 64617461 d40000 a3 6e7370 a1 2f").unwrap(),
            Packet::new(PacketKind::Connect, "/")
        );
        // The server's CONNECT reply without recovery: `pid: undefined`.
        let reply = decode_hex(
            "83 a4 74797065 00 a4 64617461 82 a3 736964 a3 616263 a3 706964 d40000 a3 6e7370 a1 2f",
        )
        .unwrap();
        assert_eq!(
            reply.data,
            Some(Payload::Value(obj(&[("sid", "abc".into())])))
        );
        // A JS client's emit carries `options`, which is ignored; keys may come in any order.
        let event = decode_hex(
            "85 a4 74797065 02 a4 64617461 91 a1 78 a7 6f7074696f6e73 81 a8 636f6d7072657373 c3
         a2 6964 05 a3 6e7370 a1 2f",
        )
        .unwrap();
        assert_eq!(event, Packet::event("/", arr(vec!["x".into()])).with_id(5));
        // `type` and `id` may be integral doubles (`Number.isInteger`).
        let event =
            decode_hex("83 a4 74797065 cb4000000000000000 a4 64617461 91 01 a3 6e7370 a1 2f")
                .unwrap();
        assert_eq!(event.kind, PacketKind::Event);
        // `nsp` need not start with `/` for the parser.
        assert_eq!(
            decode_hex("82 a4 74797065 01 a3 6e7370 a0").unwrap().nsp,
            ""
        );
    }

    #[test]
    fn validation_errors() {
        use MsgpackError::*;
        let cases: &[(&str, MsgpackError)] = &[
            ("", UnexpectedEof),
            ("c1", InvalidMarker(0xc1)),
            ("92 01 02", NotAMap),
            ("a3 6e7370", NotAMap),
            ("82 a4 74797065 00 a3 6e7370", UnexpectedEof),
            ("82 a4 74797065 00 a3 6e7370 a1 2f 00", TrailingBytes(1)),
            // type: missing, out of range (5/6 are refused like any other), not an integer.
            ("81 a3 6e7370 a1 2f", InvalidType),
            (
                "83 a4 74797065 05 a4 64617461 90 a3 6e7370 a1 2f",
                InvalidType,
            ),
            (
                "83 a4 74797065 06 a4 64617461 90 a3 6e7370 a1 2f",
                InvalidType,
            ),
            ("82 a4 74797065 ff a3 6e7370 a1 2f", InvalidType),
            (
                "82 a4 74797065 cb3ff8000000000000 a3 6e7370 a1 2f",
                InvalidType,
            ),
            ("82 a4 74797065 a130 a3 6e7370 a1 2f", InvalidType),
            ("82 a4 74797065 d40000 a3 6e7370 a1 2f", InvalidType),
            // nsp
            ("81 a4 74797065 00", InvalidNamespace),
            ("82 a4 74797065 00 a3 6e7370 c0", InvalidNamespace),
            // data
            (
                "83 a4 74797065 00 a4 64617461 90 a3 6e7370 a1 2f",
                InvalidPayload(PacketKind::Connect),
            ),
            (
                "83 a4 74797065 00 a4 64617461 c0 a3 6e7370 a1 2f",
                InvalidPayload(PacketKind::Connect),
            ),
            (
                "83 a4 74797065 01 a4 64617461 80 a3 6e7370 a1 2f",
                InvalidPayload(PacketKind::Disconnect),
            ),
            (
                "83 a4 74797065 01 a4 64617461 c0 a3 6e7370 a1 2f",
                InvalidPayload(PacketKind::Disconnect),
            ),
            (
                "82 a4 74797065 04 a3 6e7370 a1 2f",
                InvalidPayload(PacketKind::ConnectError),
            ),
            (
                "83 a4 74797065 04 a4 64617461 90 a3 6e7370 a1 2f",
                InvalidPayload(PacketKind::ConnectError),
            ),
            (
                "82 a4 74797065 02 a3 6e7370 a1 2f",
                InvalidPayload(PacketKind::Event),
            ),
            (
                "83 a4 74797065 02 a4 64617461 90 a3 6e7370 a1 2f",
                InvalidPayload(PacketKind::Event),
            ),
            (
                "83 a4 74797065 02 a4 64617461 91 c0 a3 6e7370 a1 2f",
                InvalidPayload(PacketKind::Event),
            ),
            (
                "83 a4 74797065 02 a4 64617461 80 a3 6e7370 a1 2f",
                InvalidPayload(PacketKind::Event),
            ),
            (
                "83 a4 74797065 02 a4 64617461 91 a7 636f6e6e656374 a3 6e7370 a1 2f",
                ReservedEvent,
            ),
            (
                "83 a4 74797065 03 a4 64617461 80 a3 6e7370 a1 2f",
                InvalidPayload(PacketKind::Ack),
            ),
            // id
            (
                "84 a4 74797065 03 a4 64617461 90 a3 6e7370 a1 2f a2 6964 ff",
                InvalidId,
            ),
            (
                "84 a4 74797065 03 a4 64617461 90 a3 6e7370 a1 2f a2 6964 a131",
                InvalidId,
            ),
            (
                "84 a4 74797065 03 a4 64617461 90 a3 6e7370 a1 2f a2 6964 c0",
                InvalidId,
            ),
            (
                "84 a4 74797065 03 a4 64617461 90 a3 6e7370 a1 2f a2 6964 cb3ff8000000000000",
                InvalidId,
            ),
        ];
        for (bytes, expected) in cases {
            assert_eq!(decode_hex(bytes).as_ref(), Err(expected), "{bytes}");
        }
        // Valid edge cases: a numeric event name, a string CONNECT_ERROR, an integral double id.
        assert!(decode_hex("83 a4 74797065 02 a4 64617461 91 01 a3 6e7370 a1 2f").is_ok());
        assert!(decode_hex("83 a4 74797065 04 a4 64617461 a178 a3 6e7370 a1 2f").is_ok());
        let ack = decode_hex(
            "84 a4 74797065 03 a4 64617461 90 a3 6e7370 a1 2f a2 6964 cb4000000000000000",
        )
        .unwrap();
        assert_eq!(ack.id, Some(2));
    }

    #[test]
    fn depth_limit() {
        let limits = Limits {
            max_depth: 3,
            ..Limits::DEFAULT
        };
        let packet = |data: &str| {
            hex(&format!(
                "83 a4 74797065 03 a4 64617461 {data} a3 6e7370 a1 2f"
            ))
        };
        // The packet map does not count; the payload may nest 3 deep.
        assert!(decode_slice(&packet("91 91 90"), &limits).is_ok());
        assert_eq!(
            decode_slice(&packet("91 91 91 90"), &limits),
            Err(MsgpackError::TooDeep { max_depth: 3 })
        );
        assert_eq!(
            decode_value(&hex("91 91 80"), 2),
            Err(MsgpackError::TooDeep { max_depth: 2 })
        );
        // A million nested arrays: refused, no stack overflow.
        let mut deep = vec![0x91; 1_000_000];
        deep.push(0xc0);
        assert_eq!(
            decode_value(&deep, 128),
            Err(MsgpackError::TooDeep { max_depth: 128 })
        );
        let decoded = decode_value(&deep, usize::MAX).unwrap();
        assert_eq!(decoded.1, deep.len());
        std::mem::forget(decoded); // dropping a million-deep Value would recurse
    }

    #[test]
    fn lengths_beyond_the_input_do_not_allocate() {
        assert_eq!(
            decode_value(&hex("dd ffffffff"), 8),
            Err(MsgpackError::UnexpectedEof)
        );
        assert_eq!(
            decode_value(&hex("df ffffffff 01"), 8),
            Err(MsgpackError::UnexpectedEof)
        );
        assert_eq!(
            decode_value(&hex("db ffffffff 61"), 8),
            Err(MsgpackError::UnexpectedEof)
        );
        assert_eq!(
            decode_value(&hex("c6 ffffffff"), 8),
            Err(MsgpackError::UnexpectedEof)
        );
        assert_eq!(
            decode_value(&hex("c9 ffffffff 00"), 8),
            Err(MsgpackError::UnexpectedEof)
        );
    }

    #[test]
    fn json_payload_is_written_as_msgpack() {
        let packet = Packet::event(
            "/",
            Payload::Json(r#"["hello",1,{"a":[true,null]}]"#.into()),
        )
        .with_id(7);
        assert_eq!(
            encode(&packet).to_vec(),
            hex(
                "84 a4 74797065 02 a4 64617461 93 a5 68656c6c6f 01 81 a1 61 92 c3 c0 a3 6e7370 a1 2f a2 6964 07"
            )
        );
        // JSON numbers are written as JavaScript would hold them: `1.0` and `1e2` are ints.
        let packet = Packet::event("/", Payload::Json(r#"["x",1.0,1.5,1e2,-0]"#.into()));
        assert_eq!(
            encode(&packet).to_vec(),
            hex(
                "83 a4 74797065 02 a4 64617461 95 a1 78 01 cb3ff8000000000000 64 00 a3 6e7370 a1 2f"
            )
        );
    }

    #[test]
    fn error_display() {
        assert_eq!(MsgpackError::InvalidType.to_string(), "invalid packet type");
        assert_eq!(
            MsgpackError::TrailingBytes(2).to_string(),
            "2 trailing bytes after the msgpack packet"
        );
        let _: &dyn std::error::Error = &MsgpackError::InvalidId;
        let _ = msgpack::decode_value_bytes;
    }
}
