//! The msgpack Socket.IO parser (`socket::parser::msgpack`).
//!
//! Input: one binary engine message. Checks: `decode` (shared buffer) and `decode_slice` agree;
//! a decoded packet survives `encode` -> `decode` (kind, namespace, id equal, data equal as
//! values, numbers as JS numbers), in both key orders, and re-encoding it gives the same bytes.
//!
//! The data stays raw (`Payload::Msgpack`) and is re-encoded byte for byte; the round trip
//! above then runs on its tree (`Payload::Value`). Reading the raw data typed, straight from the
//! bytes, must give what `from_value` of its tree gives (a whole-value read and event arguments).
//!
//! One deliberate loss is allowed for: like notepack.io, the encoder writes an integral float
//! outside `[-2^63, 2^64)` as a 64-bit integer modulo 2^64 (`msgpack_wrapped`), so such a
//! number must come back wrapped, and the re-encoding is then not byte-identical.

#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use socketio_fuzz::{has_msgpack_wrapped, msgpack_number_eq, number_eq, value_eq_by};
use socketio_protocol::value::from_value;
use socketio_protocol::{Number, Value};
use socketio_protocol::socket::parser::msgpack::{self, KeyOrder};
use socketio_protocol::socket::{Limits, Packet, Payload};

fn same_packet(before: &Packet, after: &Packet, numbers: &dyn Fn(Number, Number) -> bool) -> bool {
    before.kind == after.kind
        && before.nsp == after.nsp
        && before.id == after.id
        && match (&before.data, &after.data) {
            (None, None) => true,
            (Some(x), Some(y)) => match (x.to_value(), y.to_value()) {
                (Ok(x), Ok(y)) => value_eq_by(&x, &y, numbers),
                _ => false,
            },
            _ => false,
        }
}

fuzz_target!(|data: &[u8]| {
    let bytes = Bytes::copy_from_slice(data);
    let decoded = msgpack::decode(&bytes, &Limits::DEFAULT);
    let sliced = msgpack::decode_slice(data, &Limits::DEFAULT);
    match (&decoded, &sliced) {
        (Ok(x), Ok(y)) => assert!(
            same_packet(x, y, &number_eq),
            "decode {x:?} vs decode_slice {y:?}"
        ),
        (Err(x), Err(y)) => assert_eq!(x, y),
        _ => panic!("decode {decoded:?} vs decode_slice {sliced:?}"),
    }
    let Ok(packet) = decoded else { return };
    if let Some(data) = &packet.data {
        let tree = data.to_value().expect("decoded data is a value");
        let slow = from_value::<Value>(tree.clone()).map_err(|e| e.to_string());
        assert_eq!(data.deserialize::<Value>().map_err(|e| e.to_string()), slow);
        type Typed = (String, Vec<Option<i64>>);
        let slow = from_value::<Typed>(tree.clone()).map_err(|e| e.to_string());
        assert_eq!(data.deserialize::<Typed>().map_err(|e| e.to_string()), slow);
        if let Value::Array(items) = &tree
            && !items.is_empty()
        {
            let slow = from_value::<Vec<Value>>(Value::Array(items[1..].to_vec()));
            assert_eq!(data.event_args::<Vec<Value>>().ok(), slow.ok());
        }
    }

    // Raw data is written back byte for byte.
    let raw = msgpack::encode(&packet);
    match msgpack::decode(&raw, &Limits::DEFAULT) {
        Ok(again) => {
            assert!(same_packet(&packet, &again, &number_eq), "raw: {packet:?} -> {again:?}");
            assert_eq!(msgpack::encode(&again), raw, "raw data is not copied as it is");
        }
        Err(error) => panic!("re-decoding {raw:?} (raw data) failed: {error:?}"),
    }

    // The tree path: the same packet with its data as a `Value`.
    let mut packet = packet;
    packet.data = packet.data.map(|data| Payload::Value(data.to_value().expect("a value")));
    let encoded = msgpack::encode(&packet);
    let again = match msgpack::decode(&encoded, &Limits::DEFAULT) {
        Ok(again) => again,
        Err(error) => panic!("re-decoding {encoded:?} (from {packet:?}) failed: {error:?}"),
    };
    assert!(
        same_packet(&packet, &again, &msgpack_number_eq),
        "round trip: {packet:?} -> {encoded:?} -> {again:?}"
    );
    let wraps = match &packet.data {
        Some(data) => has_msgpack_wrapped(&data.to_value().expect("decoded data is a value")),
        None => false,
    };
    if !wraps {
        assert_eq!(
            msgpack::encode(&again),
            encoded,
            "encoding is not canonical"
        );
    }

    let reordered = msgpack::encode_with_order(&packet, KeyOrder::ServerSocket);
    match msgpack::decode(&reordered, &Limits::DEFAULT) {
        Ok(again) => assert!(
            same_packet(&packet, &again, &msgpack_number_eq),
            "server order: {packet:?} -> {again:?}"
        ),
        Err(error) => panic!("re-decoding {reordered:?} (server key order) failed: {error:?}"),
    }
});
