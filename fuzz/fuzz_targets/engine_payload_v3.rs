//! Engine.IO v3 polling payloads: the text form (`<utf-16 length>:<packet>`) and the XHR2
//! binary body (`0x00|0x01`, length digits, `0xFF`, packet).
//!
//! Input: fed whole to both decoders (lossily made UTF-8 for the text one). Checks: `decode_*`
//! agrees with `iter_*`, and what decodes survives a round trip through its own encoder and
//! through the other v3 encoder (text <-> binary carry the same packets).

#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use socketio_protocol::Str;
use socketio_protocol::engine::payload::{
    decode_v3_binary, decode_v3_text, encode_v3_binary, encode_v3_text, iter_v3_binary,
    iter_v3_text,
};
use socketio_protocol::engine::{DecodeError, Packet};

fn check_iter(items: &[Result<Packet, DecodeError>], decoded: &Result<Vec<Packet>, DecodeError>) {
    let errors = items.iter().filter(|item| item.is_err()).count();
    assert!(errors <= 1, "more than one error: {items:?}");
    if errors == 1 {
        assert!(
            items.last().unwrap().is_err(),
            "packets after the error: {items:?}"
        );
    }
    match decoded {
        Ok(packets) => {
            assert_eq!(errors, 0);
            assert_eq!(packets.len(), items.len());
        }
        Err(error) => assert_eq!(items.last(), Some(&Err(*error))),
    }
}

fn round_trip(packets: &[Packet]) {
    let text = encode_v3_text(packets);
    let again = decode_v3_text(text.clone(), usize::MAX);
    assert_eq!(
        again.as_deref(),
        Ok(packets),
        "text round trip changed, encoded {text:?}"
    );
    assert_eq!(encode_v3_text(&again.unwrap()), text);

    let binary = encode_v3_binary(packets);
    let again = decode_v3_binary(binary.clone(), usize::MAX);
    assert_eq!(
        again.as_deref(),
        Ok(packets),
        "binary round trip changed, encoded {binary:?}"
    );
    assert_eq!(encode_v3_binary(&again.unwrap()), binary);
}

fuzz_target!(|data: &[u8]| {
    let body = Str::from(String::from_utf8_lossy(data).into_owned());
    let items: Vec<_> = iter_v3_text(body.clone()).collect();
    let decoded = decode_v3_text(body.clone(), usize::MAX);
    check_iter(&items, &decoded);
    if let Ok(packets) = &decoded {
        if !packets.is_empty() {
            assert_eq!(
                decode_v3_text(body.clone(), packets.len() - 1),
                Err(DecodeError::TooManyPackets)
            );
        }
        round_trip(packets);
    }

    let body = Bytes::copy_from_slice(data);
    let items: Vec<_> = iter_v3_binary(body.clone()).collect();
    let decoded = decode_v3_binary(body.clone(), usize::MAX);
    check_iter(&items, &decoded);
    if let Ok(packets) = &decoded {
        if !packets.is_empty() {
            assert_eq!(
                decode_v3_binary(body.clone(), packets.len() - 1),
                Err(DecodeError::TooManyPackets)
            );
        }
        round_trip(packets);
    }
});
