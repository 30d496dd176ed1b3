//! The common (JSON) Socket.IO parser: `socket::parser::common::Decoder` fed a sequence of
//! engine messages, with binary attachments.
//!
//! Input: byte 0 picks the protocol (bit 0: v4/v5); the rest is split on `0xFF` (never part
//! of UTF-8) into records whose first byte is a tag: even = text message (the rest, lossily
//! made UTF-8), odd = binary message (the rest). One decoder sees them all, errors included.
//!
//! Every complete packet is re-encoded with `encode` and fed to a fresh decoder: it must come
//! back equal (kind, namespace, id, and data compared as values, numbers as JS numbers), and
//! re-encoding that must give the same text and attachments. The fresh decoder allows any
//! number of attachments: a placeholder may be referenced twice, and the encoder then sends the
//! buffer twice, which can exceed the 10 attachments the original announced.

#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use socketio_fuzz::{records, value_eq};
use socketio_protocol::Str;
use socketio_protocol::socket::parser::common::{Decoder, encode};
use socketio_protocol::socket::{Limits, Packet, ProtocolVersion};

fn decode_encoded(version: ProtocolVersion, packet: &Packet) -> Packet {
    let encoded = encode(packet, version);
    let limits = Limits {
        max_attachments: usize::MAX,
        ..Limits::DEFAULT
    };
    let mut decoder = Decoder::new(version, limits);
    let mut result = decoder.decode_text(encoded.text.clone());
    for attachment in &encoded.attachments {
        assert_eq!(
            result,
            Ok(None),
            "packet complete before its attachments: {encoded:?}"
        );
        result = decoder.decode_binary(attachment.clone());
    }
    match result {
        Ok(Some(again)) => {
            assert!(!decoder.is_reconstructing());
            again
        }
        other => panic!("re-decoding {encoded:?} (from {packet:?}) gave {other:?}"),
    }
}

fn check_round_trip(version: ProtocolVersion, packet: &Packet) {
    let again = decode_encoded(version, packet);
    assert_eq!(again.kind, packet.kind, "{packet:?} -> {again:?}");
    assert_eq!(again.nsp, packet.nsp, "{packet:?} -> {again:?}");
    assert_eq!(again.id, packet.id, "{packet:?} -> {again:?}");
    match (&packet.data, &again.data) {
        (None, None) => {}
        (Some(before), Some(after)) => {
            let before = before
                .to_value()
                .expect("decoded payload does not convert to a value");
            let after = after
                .to_value()
                .expect("re-decoded payload does not convert to a value");
            assert!(
                value_eq(&before, &after),
                "data changed: {before:?} -> {after:?}"
            );
        }
        (before, after) => panic!("data presence changed: {before:?} -> {after:?}"),
    }
    assert_eq!(
        encode(&again, version),
        encode(packet, version),
        "encoding is not canonical"
    );
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let version = if selector & 1 == 0 {
        ProtocolVersion::V5
    } else {
        ProtocolVersion::V4
    };
    let mut decoder = Decoder::new(version, Limits::DEFAULT);
    for record in records(rest) {
        let Some((&tag, body)) = record.split_first() else {
            continue;
        };
        let result = if tag & 1 == 0 {
            let text = Str::from(String::from_utf8_lossy(body).into_owned());
            decoder.decode_text(text)
        } else {
            decoder.decode_binary(Bytes::copy_from_slice(body))
        };
        if let Ok(Some(packet)) = result {
            check_round_trip(version, &packet);
        }
    }
});
