//! Engine.IO packet decoding from one WebSocket frame, both protocol versions.
//!
//! Input: byte 0 selects the version (bit 0: v3/v4) and how the rest is fed (bit 1: binary
//! frame; text frame otherwise, falling back to binary when the rest is not UTF-8). Whatever
//! decodes must survive `encode_frame` -> `decode_frame` unchanged.

#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use socketio_protocol::Str;
use socketio_protocol::engine::{Frame, Packet, ProtocolVersion};

fn check(version: ProtocolVersion, frame: Frame) {
    let decoded = match &frame {
        Frame::Text(text) => Packet::decode_text(version, text.clone()),
        Frame::Binary(bytes) => Packet::decode_binary(version, bytes.clone()),
    };
    // decode_frame must agree with the per-kind decoders.
    assert_eq!(Packet::decode_frame(version, frame), decoded);
    let Ok(packet) = decoded else { return };
    let encoded = packet.encode_frame(version);
    let again = Packet::decode_frame(version, encoded.clone());
    assert_eq!(
        again.as_ref(),
        Ok(&packet),
        "round trip changed the packet, frame {encoded:?}"
    );
    // Encoding is canonical: encoding the re-decoded packet gives the same frame.
    assert_eq!(again.unwrap().encode_frame(version), encoded);
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let version = if selector & 1 == 0 {
        ProtocolVersion::V4
    } else {
        ProtocolVersion::V3
    };
    let bytes = Bytes::copy_from_slice(rest);
    if selector & 2 == 0 {
        if let Ok(text) = std::str::from_utf8(rest) {
            check(version, Frame::Text(Str::from(text.to_owned())));
            // Also as a slice of a larger buffer (decoders hand out sub-slices).
            let mut framed = String::from("x");
            framed.push_str(text);
            let framed = Str::from(framed);
            if let Some(inner) = framed.slice(1..framed.len()) {
                check(version, Frame::Text(inner));
            }
            return;
        }
    }
    check(version, Frame::Binary(bytes));
});
