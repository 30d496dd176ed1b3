//! Transcript tests for the Socket.IO server connection: engine messages in (written as they
//! appear on the wire, with the engine's `4` message type), engine messages out, under virtual
//! time.

use bytes::Bytes;
use socketio_protocol::engine::{CloseReason, Data, ProtocolVersion as EngineVersion};
use socketio_protocol::socket::ack::{BroadcastAck, BroadcastAckStatus};
use socketio_protocol::socket::server::{
    Config, Error, Event, NamespacePolicy, RecoveryRequest, RestoredSession, ServerConnection,
    Violation,
};
use socketio_protocol::socket::{DisconnectReason, PacketKind, Payload};
use socketio_protocol::{Instant, Str, Value};

/// Socket ids from the test generator: `[n; 15]` in base64url.
const ID1: &str = "AQEBAQEBAQEBAQEBAQEB";
const ID2: &str = "AgICAgICAgICAgICAgIC";

struct Peer {
    conn: ServerConnection,
    now: Instant,
}

fn ms(millis: u64) -> Instant {
    Instant::from_millis(millis)
}

fn counter() -> impl FnMut() -> [u8; 15] + Send + 'static {
    let mut n = 0u8;
    move || {
        n = n.wrapping_add(1);
        [n; 15]
    }
}

impl Peer {
    fn new(config: Config) -> Self {
        Peer::with_engine(config, EngineVersion::V4)
    }

    fn with_engine(config: Config, engine: EngineVersion) -> Self {
        Peer {
            conn: ServerConnection::new(ms(0), &config, Str::from("ENGINESID"), engine, counter()),
            now: ms(0),
        }
    }

    /// Feeds an engine text message as seen on the wire (`42[...]`).
    fn text(&mut self, wire: &str) {
        let packet = wire.strip_prefix('4').expect("engine message type 4");
        self.conn
            .handle_message(self.now, Data::Text(Str::from(packet.to_string())));
    }

    fn binary(&mut self, bytes: &[u8]) {
        self.conn
            .handle_message(self.now, Data::Binary(Bytes::copy_from_slice(bytes)));
    }

    /// Everything to send, as wire strings (`4` + text; binary as `<b:01 02>`).
    fn out(&mut self) -> Vec<String> {
        let mut out = Vec::new();
        while let Some(data) = self.conn.poll_transmit() {
            out.push(match data {
                Data::Text(text) => format!("4{}", &*text),
                Data::Binary(bytes) => format!("<b:{}>", hex(&bytes)),
            });
        }
        out
    }

    fn events(&mut self) -> Vec<Event> {
        let mut events = Vec::new();
        while let Some(event) = self.conn.poll_event() {
            events.push(event);
        }
        events
    }

    /// Sends CONNECT for `nsp` and accepts it; returns the socket id.
    fn join(&mut self, wire: &str, nsp: &str) -> Str {
        self.text(wire);
        let events = self.events();
        assert!(
            matches!(&events[..], [Event::ConnectRequest { nsp: n, .. }] if n == nsp),
            "{events:?}"
        );
        let sid = self.conn.accept_connect(nsp).unwrap();
        self.events();
        self.out();
        sid
    }

    fn timeout(&mut self, at: Instant) {
        self.now = at;
        self.conn.handle_timeout(at);
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(" ")
}

fn json(text: &'static str) -> Payload {
    Payload::Json(text.into())
}

fn value(payload: &Payload) -> Value {
    payload.to_value().unwrap()
}

fn parse(text: &str) -> Value {
    socketio_protocol::json::parse(text.as_bytes(), 128).unwrap()
}

fn assert_parse_error(peer: &mut Peer) -> Violation {
    let events = peer.events();
    match events.last() {
        Some(Event::CloseConnection {
            reason: DisconnectReason::ParseError,
            violation: Some(violation),
        }) => {
            assert!(peer.conn.is_closed());
            assert_eq!(peer.conn.poll_timeout(), None);
            violation.clone()
        }
        _ => panic!("expected a parse-error close, got {events:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// Connecting (v5)
// ---------------------------------------------------------------------------------------------

#[test]
fn connect_to_root_and_custom_with_auth() {
    let mut peer = Peer::new(Config::default());
    peer.text("40");
    assert_eq!(
        peer.events(),
        vec![Event::ConnectRequest {
            nsp: "/".into(),
            auth: None,
            recovery: None
        }]
    );
    assert_eq!(peer.conn.accept_connect("/").unwrap(), Str::from(ID1));
    assert_eq!(peer.out(), vec![format!("40{{\"sid\":\"{ID1}\"}}")]);
    assert_eq!(
        peer.events(),
        vec![Event::Connected {
            nsp: "/".into(),
            sid: ID1.into(),
            pid: None,
            recovered: false
        }]
    );

    peer.text(r#"40/custom,{"token":"abc"}"#);
    assert_eq!(
        peer.events(),
        vec![Event::ConnectRequest {
            nsp: "/custom".into(),
            auth: Some(json(r#"{"token":"abc"}"#)),
            recovery: None
        }]
    );
    assert_eq!(peer.conn.accept_connect("/custom").unwrap(), Str::from(ID2));
    assert_eq!(peer.out(), vec![format!("40/custom,{{\"sid\":\"{ID2}\"}}")]);
    assert_eq!(peer.conn.socket_of("/custom"), Some(&Str::from(ID2)));
    assert_eq!(peer.conn.sockets().count(), 2);
}

#[test]
fn namespace_without_comma_is_valid() {
    let mut peer = Peer::new(Config::default());
    peer.text("40/custom");
    assert!(matches!(&peer.events()[..], [Event::ConnectRequest { nsp, .. }] if nsp == "/custom"));
}

#[test]
fn pid_is_added_when_recovery_is_on() {
    let config = Config {
        recovery: true,
        ..Config::default()
    };
    let mut peer = Peer::new(config);
    peer.text("40");
    peer.events();
    peer.conn.accept_connect("/").unwrap();
    assert_eq!(
        peer.out(),
        vec![format!("40{{\"sid\":\"{ID1}\",\"pid\":\"{ID2}\"}}")]
    );
    assert!(matches!(
        &peer.events()[..],
        [Event::Connected { pid: Some(pid), recovered: false, .. }] if pid.as_str() == ID2
    ));
}

#[test]
fn recovery_request_is_surfaced_and_missed_events_precede_the_reply() {
    let config = Config {
        recovery: true,
        ..Config::default()
    };
    let mut peer = Peer::new(config);
    peer.text(r#"40{"pid":"oldpid","offset":"off-1","token":"t"}"#);
    assert_eq!(
        peer.events(),
        vec![Event::ConnectRequest {
            nsp: "/".into(),
            auth: Some(json(r#"{"pid":"oldpid","offset":"off-1","token":"t"}"#)),
            recovery: Some(RecoveryRequest {
                pid: "oldpid".into(),
                offset: "off-1".into()
            })
        }]
    );
    let sid = peer
        .conn
        .accept_recovered(
            "/",
            RestoredSession {
                sid: "oldsid".into(),
                pid: "oldpid".into(),
                missed: vec![
                    json(r#"["chat","a","off-2"]"#),
                    json(r#"["chat","b","off-3"]"#),
                ],
            },
        )
        .unwrap();
    assert_eq!(sid, Str::from("oldsid"));
    assert_eq!(
        peer.out(),
        vec![
            r#"42["chat","a","off-2"]"#,
            r#"42["chat","b","off-3"]"#,
            r#"40{"sid":"oldsid","pid":"oldpid"}"#,
        ]
    );
    assert_eq!(
        peer.events(),
        vec![Event::Connected {
            nsp: "/".into(),
            sid: "oldsid".into(),
            pid: Some("oldpid".into()),
            recovered: true
        }]
    );
}

#[test]
fn recovery_fields_are_not_surfaced_when_recovery_is_off_or_not_strings() {
    let mut peer = Peer::new(Config::default());
    peer.text(r#"40{"pid":"p","offset":"o"}"#);
    assert!(matches!(
        &peer.events()[..],
        [Event::ConnectRequest { recovery: None, .. }]
    ));
    let config = Config {
        recovery: true,
        ..Config::default()
    };
    let mut peer = Peer::new(config);
    peer.text(r#"40{"pid":"p","offset":3}"#);
    assert!(matches!(
        &peer.events()[..],
        [Event::ConnectRequest { recovery: None, .. }]
    ));
}

#[test]
fn unknown_namespace_is_refused_and_the_connection_kept() {
    let config = Config {
        namespaces: NamespacePolicy::only(["/custom"]),
        ..Config::default()
    };
    let mut peer = Peer::new(config);
    peer.text("40/random,");
    assert_eq!(
        peer.out(),
        vec![r#"44/random,{"message":"Invalid namespace"}"#]
    );
    assert_eq!(peer.events(), vec![]);
    assert!(!peer.conn.is_closed());
    // The same namespace may be asked again, and known ones still work.
    peer.text("40/random,");
    assert_eq!(peer.out().len(), 1);
    peer.join("40", "/");
    peer.join("40/custom,", "/custom");
    assert!(!peer.conn.is_closed());
}

#[test]
fn dynamic_namespace_refused_by_the_application() {
    let mut peer = Peer::new(Config::default());
    peer.text("40/dyn-1,");
    assert!(matches!(&peer.events()[..], [Event::ConnectRequest { nsp, .. }] if nsp == "/dyn-1"));
    peer.conn.refuse_namespace("/dyn-1").unwrap();
    assert_eq!(
        peer.out(),
        vec![r#"44/dyn-1,{"message":"Invalid namespace"}"#]
    );
    assert_eq!(
        peer.conn.refuse_namespace("/dyn-1"),
        Err(Error::NoPendingConnect)
    );
    assert!(!peer.conn.is_closed());
}

#[test]
fn middleware_refusal_with_and_without_data() {
    let mut peer = Peer::new(Config::default());
    peer.text(r#"40{"token":"bad"}"#);
    peer.events();
    peer.conn
        .refuse_connect("/", "not authorized", Some(parse(r#"{"code":401}"#)))
        .unwrap();
    assert_eq!(
        peer.out(),
        vec![r#"44{"message":"not authorized","data":{"code":401}}"#]
    );
    peer.text("40/custom,");
    peer.events();
    peer.conn.refuse_connect("/custom", "nope", None).unwrap();
    assert_eq!(peer.out(), vec![r#"44/custom,{"message":"nope"}"#]);
    // Refused namespaces may be retried; the connection is kept.
    assert!(!peer.conn.is_closed());
    peer.join(r#"40{"token":"good"}"#, "/");
    assert_eq!(
        peer.conn.accept_connect("/"),
        Err(Error::NoPendingConnect),
        "a verdict is given once"
    );
}

// ---------------------------------------------------------------------------------------------
// Events and acks
// ---------------------------------------------------------------------------------------------

#[test]
fn events_in_and_out() {
    let mut peer = Peer::new(Config::default());
    let root = peer.join("40", "/");
    let custom = peer.join("40/custom,", "/custom");
    peer.text(r#"42["hello",1,{"a":[true,null]}]"#);
    peer.text(r#"42/custom,["chat","hi"]"#);
    assert_eq!(
        peer.events(),
        vec![
            Event::Message {
                sid: root.clone(),
                nsp: "/".into(),
                data: json(r#"["hello",1,{"a":[true,null]}]"#),
                ack: None
            },
            Event::Message {
                sid: custom.clone(),
                nsp: "/custom".into(),
                data: json(r#"["chat","hi"]"#),
                ack: None
            },
        ]
    );
    peer.conn
        .emit(&root, parse(r#"["hi","there",{"b":2,"a":1}]"#))
        .unwrap();
    peer.conn.emit(&custom, json(r#"["news",42]"#)).unwrap();
    assert_eq!(
        peer.out(),
        vec![
            r#"42["hi","there",{"b":2,"a":1}]"#,
            r#"42/custom,["news",42]"#
        ]
    );
}

#[test]
fn numeric_event_names_are_events() {
    let mut peer = Peer::new(Config::default());
    peer.join("40", "/");
    peer.text("42[1,2]");
    assert!(matches!(&peer.events()[..], [Event::Message { .. }]));
}

#[test]
fn emit_refuses_invalid_event_data() {
    let mut peer = Peer::new(Config::default());
    let sid = peer.join("40", "/");
    for bad in [
        r#"["connect"]"#,
        r#"["disconnect",1]"#,
        "[]",
        "{}",
        "[null]",
    ] {
        assert_eq!(
            peer.conn.emit(&sid, parse(bad)),
            Err(Error::InvalidEvent),
            "{bad}"
        );
    }
    assert_eq!(
        peer.conn.emit(&sid, json(r#"["newListener"]"#)),
        Err(Error::InvalidEvent)
    );
    assert_eq!(
        peer.conn.emit("nobody", parse(r#"["x"]"#)),
        Err(Error::UnknownSocket)
    );
    assert_eq!(peer.out(), Vec::<String>::new());
}

#[test]
fn binary_event_in_is_reassembled() {
    let mut peer = Peer::new(Config::default());
    let sid = peer.join("40", "/");
    peer.text(r#"451-["baz",{"_placeholder":true,"num":0}]"#);
    assert_eq!(peer.events(), vec![]);
    peer.binary(&[1, 2, 3, 4]);
    let events = peer.events();
    let [
        Event::Message {
            sid: from,
            data,
            ack: None,
            ..
        },
    ] = &events[..]
    else {
        panic!("{events:?}");
    };
    assert_eq!(from, &sid);
    assert_eq!(
        value(data),
        Value::Array(vec![
            "baz".into(),
            Value::Binary(Bytes::from_static(&[1, 2, 3, 4]))
        ])
    );
    // Two attachments, on a namespace, with an ack id.
    peer.join("40/custom,", "/custom");
    peer.text(
        r#"452-/custom,9["two",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#,
    );
    peer.binary(&[1]);
    assert_eq!(peer.events(), vec![]);
    peer.binary(&[2]);
    let events = peer.events();
    assert!(matches!(&events[..], [Event::Message { ack: Some(9), nsp, .. }] if nsp == "/custom"));
}

#[test]
fn binary_event_out_sends_header_then_attachments() {
    let mut peer = Peer::new(Config::default());
    let sid = peer.join("40/custom,", "/custom");
    let data = Value::Array(vec![
        "file".into(),
        Value::Binary(Bytes::from_static(&[0xde, 0xad])),
        Value::Object(vec![(
            "thumb".into(),
            Value::Binary(Bytes::from_static(&[1])),
        )]),
    ]);
    let id = peer.conn.emit_with_ack(&sid, data, None).unwrap();
    assert_eq!(id, 0);
    assert_eq!(
        peer.out(),
        vec![
            r#"452-/custom,0["file",{"_placeholder":true,"num":0},{"thumb":{"_placeholder":true,"num":1}}]"#,
            "<b:de ad>",
            "<b:01>",
        ]
    );
}

#[test]
fn client_ack_request_is_answered_once() {
    let mut peer = Peer::new(Config::default());
    let sid = peer.join("40", "/");
    peer.text(r#"427["ask",1]"#);
    assert_eq!(
        peer.events(),
        vec![Event::Message {
            sid: sid.clone(),
            nsp: "/".into(),
            data: json(r#"["ask",1]"#),
            ack: Some(7)
        }]
    );
    peer.conn.ack(&sid, 7, parse(r#"["ok",2]"#)).unwrap();
    assert_eq!(peer.out(), vec![r#"437["ok",2]"#]);
    assert_eq!(
        peer.conn.ack(&sid, 7, parse(r#"["again"]"#)),
        Err(Error::AckNotAwaited)
    );
    assert_eq!(
        peer.conn.ack(&sid, 8, parse("[]")),
        Err(Error::AckNotAwaited)
    );
    assert_eq!(peer.out(), Vec::<String>::new());
}

#[test]
fn binary_ack_out() {
    let mut peer = Peer::new(Config::default());
    let sid = peer.join("40/custom,", "/custom");
    peer.text(r#"42/custom,12["upload"]"#);
    peer.events();
    peer.conn
        .ack(
            &sid,
            12,
            Value::Array(vec![Value::Binary(Bytes::from_static(&[9, 8]))]),
        )
        .unwrap();
    assert_eq!(
        peer.out(),
        vec![
            r#"461-/custom,12[{"_placeholder":true,"num":0}]"#,
            "<b:09 08>"
        ]
    );
}

#[test]
fn server_acks_per_namespace_counter_and_answers() {
    let mut peer = Peer::new(Config::default());
    let root = peer.join("40", "/");
    let custom = peer.join("40/custom,", "/custom");
    assert_eq!(
        peer.conn.emit_with_ack(&root, parse(r#"["q"]"#), None),
        Ok(0)
    );
    assert_eq!(
        peer.conn.emit_with_ack(&root, parse(r#"["q"]"#), None),
        Ok(1)
    );
    assert_eq!(
        peer.conn.emit_with_ack(&custom, parse(r#"["q"]"#), None),
        Ok(0)
    );
    assert_eq!(
        peer.out(),
        vec![r#"420["q"]"#, r#"421["q"]"#, r#"42/custom,0["q"]"#]
    );
    peer.text(r#"431["one"]"#);
    peer.text(r#"43/custom,0["zero"]"#);
    peer.text(r#"4399[]"#); // unknown: ignored
    peer.text(r#"431["twice"]"#); // answered already: ignored
    assert_eq!(
        peer.events(),
        vec![
            Event::AckReceived {
                sid: root.clone(),
                id: 1,
                data: json(r#"["one"]"#)
            },
            Event::AckReceived {
                sid: custom.clone(),
                id: 0,
                data: json(r#"["zero"]"#)
            },
        ]
    );
    // A binary ack.
    peer.text(r#"461-0[{"_placeholder":true,"num":0}]"#);
    peer.binary(&[7]);
    let events = peer.events();
    let [Event::AckReceived { id: 0, data, .. }] = &events[..] else {
        panic!("{events:?}");
    };
    assert_eq!(
        value(data),
        Value::Array(vec![Value::Binary(Bytes::from_static(&[7]))])
    );
    assert!(!peer.conn.is_closed());
}

#[test]
fn ack_times_out_at_exactly_the_deadline() {
    let mut peer = Peer::new(Config::default());
    let sid = peer.join("40", "/");
    assert_eq!(peer.conn.poll_timeout(), None);
    let id = peer
        .conn
        .emit_with_ack(&sid, parse(r#"["slow"]"#), Some(ms(5_000)))
        .unwrap();
    let late = peer
        .conn
        .emit_with_ack(&sid, parse(r#"["slower"]"#), Some(ms(8_000)))
        .unwrap();
    assert_eq!(peer.conn.poll_timeout(), Some(ms(5_000)));
    peer.timeout(ms(4_999));
    assert_eq!(peer.events(), vec![]);
    peer.timeout(ms(5_000));
    assert_eq!(
        peer.events(),
        vec![Event::AckTimedOut {
            sid: sid.clone(),
            id
        }]
    );
    assert_eq!(peer.conn.poll_timeout(), Some(ms(8_000)));
    // The answer after the timeout is ignored; the other one still counts and clears its timer.
    peer.text(&format!("43{id}[\"late\"]"));
    peer.text(&format!("43{late}[\"ok\"]"));
    assert_eq!(
        peer.events(),
        vec![Event::AckReceived {
            sid,
            id: late,
            data: json(r#"["ok"]"#)
        }]
    );
    assert_eq!(peer.conn.poll_timeout(), None);
}

#[test]
fn caller_chosen_ack_ids() {
    let mut peer = Peer::new(Config::default());
    let sid = peer.join("40", "/");
    peer.conn
        .emit_with_ack_id(&sid, 5, parse(r#"["x"]"#), Some(ms(100)))
        .unwrap();
    assert_eq!(
        peer.conn.emit_with_ack_id(&sid, 5, parse(r#"["x"]"#), None),
        Err(Error::AckIdInUse)
    );
    assert_eq!(peer.out(), vec![r#"425["x"]"#]);
    // Pre-encoded frames (a broadcast encoded once) with their ack registered separately.
    peer.conn.expect_ack(&sid, 6, None).unwrap();
    peer.conn
        .send_encoded([Data::Text(Str::from("26[\"b\"]"))])
        .unwrap();
    assert_eq!(peer.out(), vec![r#"426["b"]"#]);
    peer.text("436[]");
    assert!(matches!(
        &peer.events()[..],
        [Event::AckReceived { id: 6, .. }]
    ));
}

#[test]
fn broadcast_with_ack_complete_and_partial() {
    // Two connections receive the same broadcast with ack id 3.
    let mut a = Peer::new(Config::default());
    let mut b = Peer::new(Config::default());
    let sid_a = a.join("40", "/");
    let sid_b = b.join("40", "/");
    for (peer, sid) in [(&mut a, &sid_a), (&mut b, &sid_b)] {
        peer.conn
            .emit_with_ack_id(sid, 3, parse(r#"["poll"]"#), None)
            .unwrap();
        assert_eq!(peer.out(), vec![r#"423["poll"]"#]);
    }
    let mut complete = BroadcastAck::local(ms(1_000), 2);
    let mut partial = BroadcastAck::local(ms(1_000), 2);
    a.text(r#"433["yes"]"#);
    for event in a.events() {
        if let Event::AckReceived { data, .. } = event {
            complete.record(data.clone());
            partial.record(data);
        }
    }
    assert_eq!(complete.poll(ms(500)), BroadcastAckStatus::Pending);
    b.text(r#"433["no"]"#);
    for event in b.events() {
        if let Event::AckReceived { data, .. } = event {
            complete.record(data);
        }
    }
    assert_eq!(
        complete.poll(ms(600)),
        BroadcastAckStatus::Complete(vec![json(r#"["yes"]"#), json(r#"["no"]"#)])
    );
    assert_eq!(complete.poll(ms(700)), BroadcastAckStatus::Finished);
    assert_eq!(partial.poll_timeout(), Some(ms(1_000)));
    assert_eq!(partial.poll(ms(999)), BroadcastAckStatus::Pending);
    assert_eq!(
        partial.poll(ms(1_000)),
        BroadcastAckStatus::TimedOut(vec![json(r#"["yes"]"#)])
    );
    assert_eq!(partial.poll_timeout(), None);
}

#[test]
fn broadcast_ack_waits_for_every_server() {
    let mut ack: BroadcastAck<u32> = BroadcastAck::new(ms(5_000));
    ack.add_clients(1);
    ack.record(1);
    assert_eq!(
        ack.poll(ms(1)),
        BroadcastAckStatus::Pending,
        "server count unknown"
    );
    ack.set_server_count(2);
    assert_eq!(ack.poll(ms(2)), BroadcastAckStatus::Pending);
    ack.add_clients(0);
    assert_eq!(ack.poll(ms(3)), BroadcastAckStatus::Complete(vec![1]));
    // Nobody to wait for: complete at once.
    let mut empty: BroadcastAck<u32> = BroadcastAck::local(ms(5_000), 0);
    assert_eq!(empty.poll(ms(0)), BroadcastAckStatus::Complete(vec![]));
}

// ---------------------------------------------------------------------------------------------
// Disconnecting
// ---------------------------------------------------------------------------------------------

#[test]
fn client_namespace_disconnect() {
    let mut peer = Peer::new(Config::default());
    peer.join("40", "/");
    let custom = peer.join("40/custom,", "/custom");
    let id = peer
        .conn
        .emit_with_ack(&custom, parse(r#"["q"]"#), Some(ms(1_000)))
        .unwrap();
    peer.out();
    peer.text("41/custom,");
    assert_eq!(
        peer.events(),
        vec![
            Event::Disconnected {
                sid: custom.clone(),
                nsp: "/custom".into(),
                reason: DisconnectReason::ClientNamespaceDisconnect
            },
            Event::AckCancelled {
                sid: custom.clone(),
                id
            },
        ]
    );
    assert_eq!(peer.conn.poll_timeout(), None);
    assert!(!peer.conn.is_closed());
    // It may join again.
    peer.join("40/custom,", "/custom");
}

#[test]
fn server_namespace_disconnect() {
    let mut peer = Peer::new(Config::default());
    let root = peer.join("40", "/");
    let custom = peer.join("40/custom,", "/custom");
    peer.conn.disconnect(&custom).unwrap();
    assert_eq!(peer.out(), vec!["41/custom,"]);
    assert_eq!(
        peer.events(),
        vec![Event::Disconnected {
            sid: custom.clone(),
            nsp: "/custom".into(),
            reason: DisconnectReason::ServerNamespaceDisconnect
        }]
    );
    assert_eq!(peer.conn.disconnect(&custom), Err(Error::UnknownSocket));
    peer.conn.disconnect(&root).unwrap();
    assert_eq!(peer.out(), vec!["41"]);
    assert!(!peer.conn.is_closed());
}

#[test]
fn close_disconnects_every_socket_then_closes() {
    let mut peer = Peer::new(Config::default());
    peer.join("40", "/");
    peer.join("40/custom,", "/custom");
    peer.conn.close().unwrap();
    assert_eq!(peer.out(), vec!["41", "41/custom,"]);
    let events = peer.events();
    assert_eq!(events.len(), 3);
    assert!(matches!(
        events[0],
        Event::Disconnected {
            reason: DisconnectReason::ServerNamespaceDisconnect,
            ..
        }
    ));
    assert_eq!(
        events[2],
        Event::CloseConnection {
            reason: DisconnectReason::ForcedServerClose,
            violation: None
        }
    );
    assert_eq!(peer.conn.close(), Err(Error::Closed));
    assert_eq!(peer.conn.emit(ID1, parse(r#"["x"]"#)), Err(Error::Closed));
}

#[test]
fn shutdown_is_a_recoverable_reason_without_disconnect_packets() {
    let mut peer = Peer::new(Config::default());
    let sid = peer.join("40", "/");
    peer.conn.shutdown().unwrap();
    assert_eq!(peer.out(), Vec::<String>::new());
    assert_eq!(
        peer.events(),
        vec![
            Event::Disconnected {
                sid,
                nsp: "/".into(),
                reason: DisconnectReason::ServerShuttingDown
            },
            Event::CloseConnection {
                reason: DisconnectReason::ServerShuttingDown,
                violation: None
            },
        ]
    );
}

#[test]
fn engine_close_disconnects_every_socket() {
    let mut peer = Peer::new(Config::default());
    let root = peer.join("40", "/");
    let custom = peer.join("40/custom,", "/custom");
    peer.conn
        .handle_engine_closed(ms(10), CloseReason::TransportClose);
    assert_eq!(
        peer.events(),
        vec![
            Event::Disconnected {
                sid: root,
                nsp: "/".into(),
                reason: DisconnectReason::TransportClose
            },
            Event::Disconnected {
                sid: custom,
                nsp: "/custom".into(),
                reason: DisconnectReason::TransportClose
            },
        ]
    );
    assert!(peer.conn.is_closed());
    peer.text(r#"42["after"]"#);
    assert_eq!(peer.events(), vec![]);
    assert_eq!(peer.out(), Vec::<String>::new());
}

// ---------------------------------------------------------------------------------------------
// connectTimeout
// ---------------------------------------------------------------------------------------------

#[test]
fn connect_timeout_closes_at_exactly_45_s() {
    let mut peer = Peer::new(Config::default());
    assert_eq!(peer.conn.poll_timeout(), Some(ms(45_000)));
    // A pending request does not count as joined.
    peer.text("40");
    peer.events();
    peer.timeout(ms(44_999));
    assert_eq!(peer.events(), vec![]);
    peer.timeout(ms(45_000));
    assert_eq!(
        peer.events(),
        vec![Event::CloseConnection {
            reason: DisconnectReason::ForcedServerClose,
            violation: None
        }]
    );
    assert!(peer.conn.is_closed());
    assert_eq!(peer.conn.accept_connect("/"), Err(Error::Closed));
}

#[test]
fn connect_timeout_is_cleared_by_the_first_join() {
    let mut peer = Peer::new(Config::default());
    peer.join("40", "/");
    assert_eq!(peer.conn.poll_timeout(), None);
    peer.text("41");
    peer.events();
    peer.timeout(ms(60_000));
    assert_eq!(peer.events(), vec![]);
    assert!(!peer.conn.is_closed());
}

// ---------------------------------------------------------------------------------------------
// Violations
// ---------------------------------------------------------------------------------------------

fn joined_peer() -> (Peer, Str) {
    let mut peer = Peer::new(Config::default());
    let sid = peer.join("40", "/");
    (peer, sid)
}

#[test]
fn every_decode_error_closes_with_parse_error() {
    let cases = [
        "4",                                           // empty packet
        "47",                                          // unknown type
        r#"42{}"#,                                     // event not an array
        r#"42abc["x"]"#,                               // bad JSON
        r#"42[]"#,                                     // empty event
        r#"42["connect"]"#,                            // reserved name
        r#"42[null]"#,                                 // name not a string/number
        r#"43[]"#,                                     // ack without id
        r#"431{}"#,                                    // ack not an array
        r#"41{}"#,                                     // disconnect with data
        r#"40"x""#,                                    // connect with a string... but `/` is joined
        r#"45-["x"]"#,                                 // bad attachment count
        r#"4511-["x",{"_placeholder":true,"num":0}]"#, // too many attachments
    ];
    for wire in cases {
        let (mut peer, sid) = joined_peer();
        peer.text(wire);
        let events = peer.events();
        assert!(
            matches!(
                events.last(),
                Some(Event::CloseConnection {
                    reason: DisconnectReason::ParseError,
                    violation: Some(_)
                })
            ),
            "{wire}: {events:?}"
        );
        assert_eq!(
            events[0],
            Event::Disconnected {
                sid,
                nsp: "/".into(),
                reason: DisconnectReason::ParseError
            },
            "{wire}"
        );
        // Nothing more is taken.
        peer.text(r#"42["x"]"#);
        assert_eq!(peer.events(), vec![], "{wire}");
    }
}

#[test]
fn connect_with_non_object_data_closes() {
    let mut peer = Peer::new(Config::default());
    peer.text(r#"40[1]"#);
    assert!(matches!(
        assert_parse_error(&mut peer),
        Violation::Decode(_)
    ));
}

#[test]
fn packet_for_a_namespace_not_joined_closes() {
    for wire in [r#"42/other,["x"]"#, "41/other,", r#"43/other,1[]"#] {
        let (mut peer, _) = joined_peer();
        peer.text(wire);
        assert!(
            matches!(assert_parse_error(&mut peer), Violation::NotJoined { nsp, .. } if nsp == "/other"),
            "{wire}"
        );
    }
    // Before any CONNECT at all.
    let mut peer = Peer::new(Config::default());
    peer.text(r#"42["x"]"#);
    assert_eq!(
        assert_parse_error(&mut peer),
        Violation::NotJoined {
            nsp: "/".into(),
            kind: PacketKind::Event
        }
    );
}

#[test]
fn packet_while_the_verdict_is_pending_closes() {
    let mut peer = Peer::new(Config::default());
    peer.text("40");
    peer.events();
    peer.text(r#"42["early"]"#);
    assert!(matches!(
        assert_parse_error(&mut peer),
        Violation::NotJoined { .. }
    ));
    assert_eq!(peer.conn.accept_connect("/"), Err(Error::Closed));
}

#[test]
fn duplicate_connect_closes() {
    let (mut peer, _) = joined_peer();
    peer.text("40");
    assert_eq!(
        assert_parse_error(&mut peer),
        Violation::DuplicateConnect { nsp: "/".into() }
    );
    // Also while the first one waits for its verdict.
    let mut peer = Peer::new(Config::default());
    peer.text("40/a,");
    peer.text("40/a,");
    let violation = assert_parse_error(&mut peer);
    assert_eq!(violation, Violation::DuplicateConnect { nsp: "/a".into() });
}

#[test]
fn client_connect_error_closes() {
    let (mut peer, _) = joined_peer();
    peer.text(r#"44{"message":"x"}"#);
    assert_eq!(
        assert_parse_error(&mut peer),
        Violation::ClientConnectError { nsp: "/".into() }
    );
}

#[test]
fn binary_framing_violations_close() {
    // A binary message with no binary packet waiting.
    let (mut peer, _) = joined_peer();
    peer.binary(&[1, 2]);
    assert!(matches!(
        assert_parse_error(&mut peer),
        Violation::Decode(_)
    ));
    // A text packet while attachments are pending.
    let (mut peer, _) = joined_peer();
    peer.text(r#"451-["a",{"_placeholder":true,"num":0}]"#);
    peer.text(r#"42["b"]"#);
    assert!(matches!(
        assert_parse_error(&mut peer),
        Violation::Decode(_)
    ));
    // A placeholder pointing past the attachments.
    let (mut peer, _) = joined_peer();
    peer.text(r#"451-["a",{"_placeholder":true,"num":1}]"#);
    peer.binary(&[1]);
    assert!(matches!(
        assert_parse_error(&mut peer),
        Violation::Decode(_)
    ));
}

#[test]
fn violation_cancels_pending_acks() {
    let (mut peer, sid) = joined_peer();
    let id = peer
        .conn
        .emit_with_ack(&sid, parse(r#"["q"]"#), Some(ms(9)))
        .unwrap();
    peer.text("47");
    let events = peer.events();
    assert_eq!(events[1], Event::AckCancelled { sid, id });
    assert_eq!(peer.conn.poll_timeout(), None);
}

// ---------------------------------------------------------------------------------------------
// Socket.IO v4 (Engine.IO v3 clients)
// ---------------------------------------------------------------------------------------------

#[test]
fn v4_implicit_root_and_query_auth() {
    let mut peer = Peer::with_engine(Config::default(), EngineVersion::V3);
    // `/` is requested as soon as the engine opens.
    assert_eq!(
        peer.events(),
        vec![Event::ConnectRequest {
            nsp: "/".into(),
            auth: Some(Payload::Value(Value::Object(vec![]))),
            recovery: None
        }]
    );
    assert_eq!(
        peer.conn.accept_connect("/").unwrap(),
        Str::from("ENGINESID")
    );
    assert_eq!(peer.out(), vec!["40"]);
    peer.events();

    peer.text("40/admin?token=1&name=a+b%21&x=1&x=2,");
    let events = peer.events();
    let [
        Event::ConnectRequest {
            nsp,
            auth: Some(auth),
            ..
        },
    ] = &events[..]
    else {
        panic!("{events:?}");
    };
    assert_eq!(nsp, "/admin");
    assert_eq!(
        value(auth),
        parse(r#"{"token":"1","name":"a b!","x":["1","2"]}"#)
    );
    assert_eq!(
        peer.conn.accept_connect("/admin").unwrap(),
        Str::from("/admin#ENGINESID")
    );
    assert_eq!(peer.out(), vec!["40/admin,"]);

    // Events on v4 work the same way.
    peer.text(r#"42/admin,["hi"]"#);
    assert!(matches!(
        &peer.events()[..],
        [_, Event::Message { sid, .. }] if sid.as_str() == "/admin#ENGINESID"
    ));
}

#[test]
fn v4_refusal_is_a_plain_string() {
    let mut peer = Peer::with_engine(Config::default(), EngineVersion::V3);
    peer.events();
    peer.conn
        .refuse_connect("/", "Not authorized", None)
        .unwrap();
    assert_eq!(peer.out(), vec![r#"44"Not authorized""#]);
    peer.text("40/admin,");
    peer.events();
    peer.conn
        .refuse_connect("/admin", "ignored", Some(Value::from("custom data")))
        .unwrap();
    assert_eq!(peer.out(), vec![r#"44/admin,"custom data""#]);
    assert!(!peer.conn.is_closed());
}

#[test]
fn v4_unknown_namespace_gets_the_reference_object() {
    let config = Config {
        namespaces: NamespacePolicy::only(["/admin"]),
        ..Config::default()
    };
    let mut peer = Peer::with_engine(config, EngineVersion::V3);
    peer.events();
    peer.conn.accept_connect("/").unwrap();
    peer.out();
    peer.text("40/nope?x=1,");
    assert_eq!(
        peer.out(),
        vec![r#"44/nope,{"message":"Invalid namespace"}"#]
    );
}

#[test]
fn v4_connect_timeout_applies_to_the_implicit_root() {
    let mut peer = Peer::with_engine(Config::default(), EngineVersion::V3);
    peer.events();
    peer.timeout(ms(45_000));
    assert!(matches!(
        &peer.events()[..],
        [Event::CloseConnection {
            reason: DisconnectReason::ForcedServerClose,
            ..
        }]
    ));
}

// ---------------------------------------------------------------------------------------------
// msgpack parser
// ---------------------------------------------------------------------------------------------

#[cfg(feature = "msgpack")]
mod msgpack_parser {
    use super::*;
    use socketio_protocol::socket::Packet;
    use socketio_protocol::socket::parser::msgpack::{self, KeyOrder};
    use socketio_protocol::socket::server::Parser;

    fn config() -> Config {
        Config {
            parser: Parser::Msgpack,
            ..Config::default()
        }
    }

    fn send(peer: &mut Peer, packet: &Packet) {
        let bytes = msgpack::encode(packet);
        peer.conn.handle_message(peer.now, Data::Binary(bytes));
    }

    fn sent(peer: &mut Peer) -> Vec<Packet> {
        let mut out = Vec::new();
        while let Some(data) = peer.conn.poll_transmit() {
            let Data::Binary(bytes) = data else {
                panic!("msgpack sends binary only");
            };
            out.push(msgpack::decode(&bytes, &Default::default()).unwrap());
        }
        out
    }

    #[test]
    fn connect_events_and_acks() {
        let mut peer = Peer::new(config());
        let mut connect = Packet::new(PacketKind::Connect, "/custom");
        connect.data = Some(Payload::Value(parse(r#"{"token":"x"}"#)));
        send(&mut peer, &connect);
        let events = peer.events();
        assert!(
            matches!(&events[..], [Event::ConnectRequest { nsp, auth: Some(_), .. }] if nsp == "/custom")
        );
        let sid = peer.conn.accept_connect("/custom").unwrap();
        // Exact bytes: {"type":0,"data":{"sid":…},"nsp":"/custom"}.
        let Some(Data::Binary(reply)) = peer.conn.poll_transmit() else {
            panic!()
        };
        let mut expected = Packet::new(PacketKind::Connect, "/custom");
        expected.data = Some(Payload::Value(Value::Object(vec![(
            "sid".into(),
            ID1.into(),
        )])));
        assert_eq!(
            reply,
            msgpack::encode_with_order(&expected, KeyOrder::ServerSocket)
        );
        peer.events();

        // An event with binary in place, asking for an ack.
        let blob = Value::Binary(Bytes::from_static(&[1, 2, 3]));
        let event =
            Packet::event("/custom", Value::Array(vec!["up".into(), blob.clone()])).with_id(4);
        send(&mut peer, &event);
        let events = peer.events();
        let [
            Event::Message {
                data, ack: Some(4), ..
            },
        ] = &events[..]
        else {
            panic!("{events:?}");
        };
        assert_eq!(value(data), Value::Array(vec!["up".into(), blob.clone()]));
        peer.conn
            .ack(&sid, 4, Value::Array(vec![blob.clone()]))
            .unwrap();
        let id = peer
            .conn
            .emit_with_ack(&sid, Value::Array(vec!["down".into(), blob.clone()]), None)
            .unwrap();
        let out = sent(&mut peer);
        assert_eq!(out.len(), 2, "one binary message per packet");
        assert_eq!(
            out[0],
            Packet::ack("/custom", 4, Value::Array(vec![blob.clone()]))
        );
        assert_eq!(
            out[1],
            Packet::event("/custom", Value::Array(vec!["down".into(), blob])).with_id(id)
        );
        send(&mut peer, &Packet::ack("/custom", id, Value::Array(vec![])));
        assert!(matches!(&peer.events()[..], [Event::AckReceived { .. }]));
    }

    #[test]
    fn refusals_and_violations() {
        let config = Config {
            namespaces: NamespacePolicy::only(["/a"]),
            ..config()
        };
        let mut peer = Peer::new(config);
        send(&mut peer, &Packet::new(PacketKind::Connect, "/zzz"));
        assert_eq!(
            sent(&mut peer),
            vec![{
                let mut p = Packet::new(PacketKind::ConnectError, "/zzz");
                p.data = Some(Payload::Value(parse(r#"{"message":"Invalid namespace"}"#)));
                p
            }]
        );
        // A text message is a violation under msgpack.
        peer.text(r#"42["x"]"#);
        assert_eq!(assert_parse_error(&mut peer), Violation::TextWithMsgpack);
        // As is garbage.
        let mut peer = Peer::new(config_msgpack());
        peer.binary(&[0xc1]);
        assert!(matches!(
            assert_parse_error(&mut peer),
            Violation::Msgpack(_)
        ));
    }

    fn config_msgpack() -> Config {
        config()
    }
}

#[test]
fn awaited_client_acks_are_capped_oldest_first() {
    let config = Config {
        max_awaited_acks: 2,
        ..Config::default()
    };
    let mut peer = Peer::new(config);
    let sid = peer.join("40", "/");
    peer.text(r#"421["a"]"#);
    peer.text(r#"422["b"]"#);
    peer.text(r#"423["c"]"#);
    assert_eq!(peer.events().len(), 3);
    assert_eq!(
        peer.conn.ack(&sid, 1, parse("[]")),
        Err(Error::AckNotAwaited)
    );
    peer.conn.ack(&sid, 3, parse("[]")).unwrap();
    peer.conn.ack(&sid, 2, parse("[]")).unwrap();
    assert_eq!(peer.out(), vec!["433[]", "432[]"]);
}

#[test]
fn v4_query_is_stripped_from_every_packet() {
    let mut peer = Peer::with_engine(Config::default(), EngineVersion::V3);
    peer.events();
    peer.conn.accept_connect("/").unwrap();
    peer.text("40/admin?token=1,");
    peer.events();
    let sid = peer.conn.accept_connect("/admin").unwrap();
    peer.out();
    peer.events();
    peer.text(r#"42/admin?token=1,["x"]"#);
    assert!(matches!(
        &peer.events()[..],
        [Event::Message { nsp, .. }] if nsp == "/admin"
    ));
    peer.conn.emit(&sid, parse(r#"["y"]"#)).unwrap();
    assert_eq!(peer.out(), vec![r#"42/admin,["y"]"#]);
    peer.text("41/admin?token=1,");
    assert!(matches!(
        &peer.events()[..],
        [Event::Disconnected {
            reason: DisconnectReason::ClientNamespaceDisconnect,
            ..
        }]
    ));
}

#[test]
fn duplicate_client_ack_ids_are_answered_once() {
    let (mut peer, sid) = joined_peer();
    peer.text(r#"425["a"]"#);
    peer.text(r#"425["b"]"#);
    assert_eq!(peer.events().len(), 2);
    peer.conn.ack(&sid, 5, parse("[]")).unwrap();
    assert_eq!(
        peer.conn.ack(&sid, 5, parse("[]")),
        Err(Error::AckNotAwaited)
    );
}

#[test]
fn an_ack_id_past_u64_is_ignored_and_the_connection_kept() {
    // The reference reads the id as a JS number, finds no ack under it, and goes on.
    let mut peer = Peer::new(Config::default());
    peer.join("40", "/");
    peer.text(r#"43184467440737095516160["late"]"#);
    peer.text(r#"4218446744073709551616["ev"]"#);
    assert!(peer.events().is_empty());
    assert!(peer.out().is_empty());
    peer.text(r#"42["after"]"#);
    assert!(matches!(&peer.events()[..], [Event::Message { .. }]));
}
