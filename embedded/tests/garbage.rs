//! No panic and bounded work on any server input, in the normal test suite (the fuzz target
//! `fuzz/fuzz_targets/embedded_client.rs` runs the same harness for longer).
//!
//! The client talks to a [`ScriptedConnection`] that upgrades correctly and then plays
//! arbitrary bytes: frames built from a dictionary of plausible Engine.IO / Socket.IO packets
//! (handshakes, CONNECTs, events, acks, binary attachments, pings, closes), raw garbage, and
//! frames cut anywhere, over several connections (so reconnection runs too), on a virtual
//! clock. Whatever happens, `next_event` must return (an event or an error) and the client
//! must keep every bound.

use futures_executor::block_on;
use proptest::prelude::*;
use socketio_embedded::handshake;
use socketio_embedded::scripted::{ScriptedConnection, VirtualTimer, server_frame};
use socketio_embedded::ws::{FrameReader, Received};
use socketio_embedded::{Buffers, Client, Config, Error, Value};
use socketio_protocol::engine::Frame;

const OPEN: &str =
    r#"0{"sid":"e1","upgrades":[],"pingInterval":100,"pingTimeout":50,"maxPayload":1000}"#;

const PACKETS: &[&str] = &[
    OPEN,
    r#"0{"sid":1}"#,
    "0",
    r#"40{"sid":"s1"}"#,
    r#"40{"sid":"s1","pid":"p"}"#,
    "40",
    r#"44{"message":"no","data":[1]}"#,
    "44",
    r#"42["ev",1,"x",{"a":[null,true]}]"#,
    r#"42["ev"]"#,
    r#"421["ask",2]"#,
    r#"42[]"#,
    r#"42{}"#,
    r#"430[1]"#,
    r#"431["late"]"#,
    r#"43"#,
    r#"451-["bin",{"_placeholder":true,"num":0}]"#,
    r#"452-["bin",{"_placeholder":true,"num":1}]"#,
    r#"4610-[{"_placeholder":true,"num":0}]"#,
    "41",
    "2",
    "3",
    "1",
    "6",
    "4",
    r#"42/custom,["x"]"#,
    r#"42["ev",[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]"#,
];

#[derive(Debug, Clone)]
enum Piece {
    Packet(usize, Vec<u8>),
    Binary(Vec<u8>),
    Control(u8, Vec<u8>),
    Raw(Vec<u8>),
    Fragmented(usize, usize),
}

fn piece() -> impl Strategy<Value = Piece> {
    prop_oneof![
        4 => (0..PACKETS.len(), proptest::collection::vec(any::<u8>(), 0..4)).prop_map(|(i, s)| Piece::Packet(i, s)),
        2 => proptest::collection::vec(any::<u8>(), 0..64).prop_map(Piece::Binary),
        1 => (prop_oneof![Just(0x8u8), Just(0x9), Just(0xA), Just(0x3), Just(0x0)], proptest::collection::vec(any::<u8>(), 0..130)).prop_map(|(op, p)| Piece::Control(op, p)),
        1 => proptest::collection::vec(any::<u8>(), 0..40).prop_map(Piece::Raw),
        1 => (0..PACKETS.len(), 0..8usize).prop_map(|(i, cut)| Piece::Fragmented(i, cut)),
    ]
}

fn encode(pieces: &[Piece]) -> Vec<u8> {
    let mut out = server_frame(0x1, OPEN.as_bytes());
    for piece in pieces {
        match piece {
            Piece::Packet(i, suffix) => {
                let mut payload = PACKETS[*i].as_bytes().to_vec();
                payload.extend(suffix);
                // Not UTF-8 any more? Then it goes as binary, which is garbage too.
                let op = if std::str::from_utf8(&payload).is_ok() {
                    0x1
                } else {
                    0x2
                };
                out.extend(server_frame(op, &payload));
            }
            Piece::Binary(bytes) => out.extend(server_frame(0x2, bytes)),
            Piece::Control(op, payload) => {
                let mut frame = server_frame(*op, payload);
                if payload.len() > 125 {
                    frame[0] &= 0x7F; // also not final: a violation
                }
                out.extend(frame);
            }
            Piece::Raw(bytes) => out.extend(bytes),
            Piece::Fragmented(i, cut) => {
                let payload = PACKETS[*i].as_bytes();
                let cut = (*cut).min(payload.len());
                let mut first = server_frame(0x1, &payload[..cut]);
                first[0] &= 0x7F;
                out.extend(first);
                out.extend(server_frame(0x0, &payload[cut..]));
            }
        }
    }
    out
}

/// Plays the scripts; returns how many events came out.
fn play(scripts: Vec<Vec<u8>>) -> usize {
    let mut rx = [0u8; 512];
    let mut tx = [0u8; 256];
    let mut config = Config::new("test");
    config.reconnection_attempts = Some(3);
    config.max_buffered_packets = 4;
    config.auth = Some(Value::Object(vec![("k".into(), Value::from(1u64))]));
    let mut client = Client::new(
        config,
        ScriptedConnection::new(scripts),
        VirtualTimer::default(),
        Buffers {
            rx: &mut rx,
            tx: &mut tx,
        },
    )
    .expect("client");
    let mut events = 0;
    block_on(async {
        // Something for acks to answer.
        let _ = client
            .emit_with_ack(
                "q",
                vec![Value::from(1u64)],
                core::time::Duration::from_millis(500),
            )
            .await;
        for _ in 0..500 {
            match client.next_event().await {
                Ok(event) => {
                    events += 1;
                    if let socketio_embedded::Event::Event { ack: Some(id), .. } = event {
                        let _ = client.ack(id, vec![Value::Null]).await;
                    }
                }
                Err(Error::Closed) => return,
                Err(other) => panic!("only Closed ends the client: {other:?}"),
            }
        }
        panic!("500 events from a finite script: the client loops");
    });
    events
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn any_server_bytes_end_in_events_or_closed(
        sessions in proptest::collection::vec(proptest::collection::vec(piece(), 0..24), 1..4)
    ) {
        let scripts: Vec<Vec<u8>> = sessions.iter().map(|s| encode(s)).collect();
        play(scripts);
    }

    #[test]
    fn raw_bytes_after_the_upgrade(sessions in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..300), 1..3)) {
        play(sessions);
    }

    #[test]
    fn the_frame_reader_never_returns_more_than_its_buffer(
        chunks in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..80), 0..20)
    ) {
        let mut buf = [0u8; 128];
        let mut reader = FrameReader::new(&mut buf);
        let limit = reader.limit();
        'feed: for chunk in chunks {
            let space = reader.space();
            let n = chunk.len().min(space.len());
            space[..n].copy_from_slice(&chunk[..n]);
            reader.advance(n);
            loop {
                match reader.decode() {
                    Ok(Some(Received::Message(Frame::Text(t)))) => prop_assert!(t.len() <= limit),
                    Ok(Some(Received::Message(Frame::Binary(b)))) => prop_assert!(b.len() <= limit),
                    Ok(Some(_)) => {}
                    Ok(None) => break,
                    Err(_) => break 'feed,
                }
            }
        }
    }

    #[test]
    fn upgrade_responses_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        let _ = handshake::parse_response(&bytes, "dGhlIHNhbXBsZSBub25jZQ==");
    }
}

#[test]
fn a_server_that_only_talks_garbage_exhausts_the_attempts() {
    // Four connections of noise: the first attempt and three reconnections, then Closed.
    let events = play(vec![b"\xff\x00garbage".to_vec(); 4]);
    assert!(
        events >= 4,
        "reconnect attempts and errors are reported: {events}"
    );
}

#[test]
fn a_good_session_delivers_its_events() {
    let script = encode(&[
        Piece::Packet(3, vec![]),  // 40{"sid":"s1"}
        Piece::Packet(8, vec![]),  // an event
        Piece::Packet(16, vec![]), // a binary event header...
        Piece::Binary(vec![1, 2]), // ...and its attachment
        Piece::Packet(13, vec![]), // the ack of our emit (id 0)
    ]);
    let mut rx = [0u8; 512];
    let mut tx = [0u8; 256];
    let mut client = Client::new(
        Config::new("test"),
        ScriptedConnection::new(vec![script]),
        VirtualTimer::default(),
        Buffers {
            rx: &mut rx,
            tx: &mut tx,
        },
    )
    .unwrap();
    block_on(async {
        let id = client
            .emit_with_ack("q", vec![], core::time::Duration::from_secs(5))
            .await
            .unwrap();
        let mut kinds = Vec::new();
        for _ in 0..4 {
            match client.next_event().await.unwrap() {
                socketio_embedded::Event::Connect { .. } => kinds.push("connect"),
                socketio_embedded::Event::Event { data, .. } => {
                    let value = data.to_value().unwrap();
                    if value.as_array().unwrap()[0] == Value::from("bin") {
                        assert_eq!(
                            value.as_array().unwrap()[1],
                            Value::Binary(vec![1u8, 2].into())
                        );
                    }
                    kinds.push("event")
                }
                socketio_embedded::Event::Ack { id: got, data, .. } => {
                    assert_eq!(got, id);
                    assert_eq!(
                        data.to_value().unwrap(),
                        Value::Array(vec![Value::from(1u64)])
                    );
                    kinds.push("ack")
                }
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(kinds, ["connect", "event", "event", "ack"]);
    });
}
