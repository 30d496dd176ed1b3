//! Engine.IO v4 polling payloads (records separated by 0x1E, binary as `b` + base64).
//!
//! Input: the body (lossily made UTF-8, as every body reaching the decoder is a `Str`).
//! Checks: `decode_v4` agrees with `iter_v4`, the packet bound is honoured, and a decoded
//! payload survives `encode_v4` -> `decode_v4` unchanged (and re-encodes to the same text).

#![no_main]

use libfuzzer_sys::fuzz_target;
use socketio_protocol::Str;
use socketio_protocol::engine::DecodeError;
use socketio_protocol::engine::payload::{decode_v4, encode_v4, iter_v4};

fuzz_target!(|data: &[u8]| {
    let body = Str::from(String::from_utf8_lossy(data).into_owned());

    // The iterator yields packets, then at most one error, then nothing.
    let items: Vec<_> = iter_v4(body.clone()).collect();
    let errors = items.iter().filter(|item| item.is_err()).count();
    assert!(errors <= 1, "more than one error: {items:?}");
    if errors == 1 {
        assert!(
            items.last().unwrap().is_err(),
            "packets after the error: {items:?}"
        );
    }

    let decoded = decode_v4(body.clone(), usize::MAX);
    match &decoded {
        Ok(packets) => {
            assert_eq!(errors, 0);
            assert_eq!(packets.len(), items.len());
            // The bound: exactly len packets fit, one fewer does not.
            assert_eq!(decode_v4(body.clone(), packets.len()).as_ref(), Ok(packets));
            if !packets.is_empty() {
                assert_eq!(
                    decode_v4(body.clone(), packets.len() - 1),
                    Err(DecodeError::TooManyPackets)
                );
            }
            let encoded = encode_v4(packets);
            let again = decode_v4(encoded.clone(), usize::MAX);
            assert_eq!(
                again.as_ref(),
                Ok(packets),
                "round trip changed, encoded {encoded:?}"
            );
            assert_eq!(encode_v4(&again.unwrap()), encoded);
        }
        Err(error) => {
            assert_eq!(items.last(), Some(&Err(*error)));
        }
    }
});
