//! Property tests for the Socket.IO server connection: arbitrary engine message sequences mixed
//! with application commands and timer runs never panic, and the machine keeps its invariants.

use bytes::Bytes;
use proptest::prelude::*;
use socketio_protocol::engine::{CloseReason, Data, ProtocolVersion as EngineVersion};
#[cfg(feature = "msgpack")]
use socketio_protocol::socket::server::Parser;
use socketio_protocol::socket::server::{Config, Event, NamespacePolicy, ServerConnection};
use socketio_protocol::{Instant, Str, Value};

/// Plausible and broken packet texts (without the engine `4`).
const FRAGMENTS: &[&str] = &[
    "0",
    "0/a,",
    "0/b,{\"token\":1}",
    "0{\"pid\":\"p\",\"offset\":\"o\"}",
    "0/a?x=1&y=%41,",
    "1",
    "1/a,",
    "2[\"ev\",1]",
    "2/a,[\"ev\"]",
    "27[\"ev\"]",
    "2/a,3[\"ev\",{\"k\":[1,2]}]",
    "3[]",
    "30[\"r\"]",
    "3/a,1[1]",
    "4{\"message\":\"x\"}",
    "51-[\"bin\",{\"_placeholder\":true,\"num\":0}]",
    "52-/a,4[\"bin\",{\"_placeholder\":true,\"num\":1},{\"_placeholder\":true,\"num\":0}]",
    "61-0[{\"_placeholder\":true,\"num\":0}]",
    "2{}",
    "2[]",
    "2[\"connect\"]",
    "",
    "9",
    "5-[]",
    "0\"x\"",
];

#[derive(Debug, Clone)]
enum Step {
    Text(String),
    Binary(Vec<u8>),
    Fragment(usize),
    Accept(usize),
    Refuse(usize),
    Emit(usize, bool, u64),
    Ack(usize, u64),
    Disconnect(usize),
    Advance(u64),
    EngineClosed,
    Close,
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        2 => ".{0,24}".prop_map(Step::Text),
        2 => proptest::collection::vec(any::<u8>(), 0..24).prop_map(Step::Binary),
        6 => (0..FRAGMENTS.len()).prop_map(Step::Fragment),
        3 => (0..3usize).prop_map(Step::Accept),
        2 => (0..3usize).prop_map(Step::Refuse),
        2 => (0..3usize, any::<bool>(), 0..20_000u64).prop_map(|(n, a, d)| Step::Emit(n, a, d)),
        2 => (0..3usize, 0..10u64).prop_map(|(n, id)| Step::Ack(n, id)),
        2 => (0..3usize).prop_map(Step::Disconnect),
        2 => (0..30_000u64).prop_map(Step::Advance),
        1 => Just(Step::EngineClosed),
        1 => Just(Step::Close),
    ]
}

const NSPS: [&str; 3] = ["/", "/a", "/b"];

fn run(config: Config, engine: EngineVersion, steps: Vec<Step>) -> Result<(), TestCaseError> {
    let mut n = 0u8;
    let mut conn =
        ServerConnection::new(Instant::ZERO, &config, Str::from("E"), engine, move || {
            n = n.wrapping_add(1);
            [n; 15]
        });
    let mut now = Instant::ZERO;
    let mut closed_seen = false;
    for step in steps {
        let was_closed = conn.is_closed();
        match step {
            Step::Text(text) => conn.handle_message(now, Data::Text(Str::from(text))),
            Step::Binary(bytes) => conn.handle_message(now, Data::Binary(Bytes::from(bytes))),
            Step::Fragment(i) => {
                let text = FRAGMENTS[i];
                if text.starts_with('5') || text.starts_with('6') {
                    conn.handle_message(now, Data::Text(Str::from(text)));
                    conn.handle_message(now, Data::Binary(Bytes::from_static(&[1, 2])));
                    conn.handle_message(now, Data::Binary(Bytes::from_static(&[3])));
                } else {
                    conn.handle_message(now, Data::Text(Str::from(text)));
                }
            }
            Step::Accept(i) => {
                let _ = conn.accept_connect(NSPS[i]);
            }
            Step::Refuse(i) => {
                let _ = conn.refuse_connect(NSPS[i], "no", Some(Value::from(1u64)));
            }
            Step::Emit(i, with_ack, delay) => {
                if let Some(sid) = conn.socket_of(NSPS[i]).cloned() {
                    let data =
                        Value::Array(vec!["x".into(), Value::Binary(Bytes::from_static(&[7]))]);
                    if with_ack {
                        prop_assert!(
                            conn.emit_with_ack(&sid, data, Some(now + ms(delay)))
                                .is_ok()
                        );
                    } else {
                        prop_assert!(conn.emit(&sid, data).is_ok());
                    }
                }
            }
            Step::Ack(i, id) => {
                if let Some(sid) = conn.socket_of(NSPS[i]).cloned() {
                    let _ = conn.ack(&sid, id, Value::Array(vec![]));
                }
            }
            Step::Disconnect(i) => {
                if let Some(sid) = conn.socket_of(NSPS[i]).cloned() {
                    prop_assert!(conn.disconnect(&sid).is_ok());
                }
            }
            Step::Advance(by) => {
                now = now + ms(by);
                if let Some(at) = conn.poll_timeout() {
                    prop_assert!(at >= Instant::ZERO);
                    if at <= now {
                        conn.handle_timeout(now);
                    }
                }
            }
            Step::EngineClosed => conn.handle_engine_closed(now, CloseReason::TransportClose),
            Step::Close => {
                let _ = conn.close();
            }
        }
        let mut transmits = 0;
        while conn.poll_transmit().is_some() {
            transmits += 1;
        }
        let mut events = Vec::new();
        while let Some(event) = conn.poll_event() {
            events.push(event);
        }
        if was_closed {
            prop_assert_eq!(transmits, 0, "output after close");
            prop_assert!(events.is_empty(), "events after close: {:?}", events);
        }
        for (i, event) in events.iter().enumerate() {
            if let Event::CloseConnection { .. } = event {
                prop_assert!(!closed_seen, "closed twice");
                prop_assert_eq!(i, events.len() - 1, "close is the last event");
                closed_seen = true;
            }
        }
        if conn.is_closed() {
            prop_assert_eq!(conn.poll_timeout(), None);
            prop_assert_eq!(conn.sockets().count(), 0);
        }
        if let Some(at) = conn.poll_timeout() {
            // Timers never lag behind: a due timer fires when asked.
            if at <= now {
                conn.handle_timeout(now);
                prop_assert!(conn.poll_timeout().is_none_or(|next| next > now));
                while conn.poll_event().is_some() {}
                while conn.poll_transmit().is_some() {}
            }
        }
    }
    Ok(())
}

fn ms(millis: u64) -> core::time::Duration {
    core::time::Duration::from_millis(millis)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn v5_common_never_panics(steps in proptest::collection::vec(step(), 0..60)) {
        run(Config::default(), EngineVersion::V4, steps)?;
    }

    #[test]
    fn v5_static_namespaces_with_recovery(steps in proptest::collection::vec(step(), 0..60)) {
        let config = Config {
            namespaces: NamespacePolicy::only(["/a"]),
            recovery: true,
            ..Config::default()
        };
        run(config, EngineVersion::V4, steps)?;
    }

    #[test]
    fn v4_common_never_panics(steps in proptest::collection::vec(step(), 0..60)) {
        run(Config::default(), EngineVersion::V3, steps)?;
    }

    #[cfg(feature = "msgpack")]
    #[test]
    fn msgpack_never_panics(steps in proptest::collection::vec(step(), 0..60)) {
        let config = Config { parser: Parser::Msgpack, ..Config::default() };
        run(config, EngineVersion::V4, steps)?;
    }
}
