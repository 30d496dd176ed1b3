//! Transcript tests of the Socket.IO client manager: the test plays the server over one
//! WebSocket (wire strings in, wire strings out) under virtual time.

mod socket_client_support;

use std::time::Duration;

use socket_client_support::*;
use socketio_protocol::Instant;
use socketio_protocol::socket::client::{AckId, EmitError, EmitOptions, Event, SocketId};
use socketio_protocol::socket::{DisconnectReason, Payload};
use socketio_protocol::value::Value;

fn json(payload: &Payload) -> String {
    match payload {
        Payload::Json(text) => text.to_string(),
        other => socketio_protocol::json::to_string(&other.to_value().unwrap()),
    }
}

/// Events as short strings, for readable assertions.
fn show(events: Vec<Event>) -> Vec<String> {
    events
        .into_iter()
        .map(|e| match e {
            Event::Connect {
                nsp,
                sid,
                recovered,
                ..
            } => format!("connect {nsp} {sid} recovered={recovered}"),
            Event::ConnectError {
                nsp, message, data, ..
            } => format!("connect_error {nsp} {message} {data:?}"),
            Event::Event { nsp, data, ack, .. } => format!("event {nsp} {} {ack:?}", json(&data)),
            Event::Ack { id, data, .. } => format!("ack {} {}", id.0, json(&data)),
            Event::AckTimeout { id, .. } => format!("ack_timeout {}", id.0),
            Event::AckDisconnected { id, .. } => format!("ack_disconnected {}", id.0),
            Event::Disconnect { nsp, reason, .. } => format!("disconnect {nsp} {reason}"),
            Event::ReconnectAttempt(n) => format!("reconnect_attempt {n}"),
            Event::Reconnect(n) => format!("reconnect {n}"),
            Event::ReconnectError => "reconnect_error".to_string(),
            Event::ReconnectFailed => "reconnect_failed".to_string(),
            other => format!("{other:?}"),
        })
        .collect()
}

fn emit(h: &mut Harness, socket: SocketId, name: &str, options: EmitOptions) -> Option<AckId> {
    let data = event(name, vec![]);
    h.manager.emit(h.now, socket, data.into(), options).unwrap()
}

/// Opens `/`, accepts the engine and the namespace (sid `s1`).
fn connected() -> (Harness, SocketId) {
    let mut h = Harness::new(config());
    let root = h.open("/", None);
    h.accept_engine();
    assert_eq!(h.texts(), ["40"]);
    h.feed(r#"40{"sid":"s1"}"#);
    assert_eq!(show(h.events()), ["connect / s1 recovered=false"]);
    (h, root)
}

#[test]
fn two_namespaces_share_one_connection_with_auth() {
    let mut h = Harness::new(config());
    let root = h.open("/", None);
    let admin = h.open("/admin", Some(object(&[("token", "abc".into())])));
    h.accept_engine();
    assert_eq!(h.texts(), ["40", r#"40/admin,{"token":"abc"}"#]);
    h.feed(r#"40/admin,{"sid":"a1"}"#);
    h.feed(r#"40{"sid":"r1"}"#);
    assert_eq!(
        show(h.events()),
        [
            "connect /admin a1 recovered=false",
            "connect / r1 recovered=false"
        ]
    );
    assert_eq!(h.manager.sid(admin).unwrap(), "a1");
    emit(&mut h, admin, "hi", EmitOptions::default());
    emit(&mut h, root, "ho", EmitOptions::default());
    assert_eq!(h.texts(), [r#"42/admin,["hi"]"#, r#"42["ho"]"#]);
    h.feed(r#"42/admin,["x",1]"#);
    h.feed(r#"42/admin,7["y"]"#);
    h.feed(r#"42/other,["ignored"]"#);
    assert_eq!(
        show(h.events()),
        [
            r#"event /admin ["x",1] None"#,
            r#"event /admin ["y"] Some(7)"#
        ]
    );
    h.manager
        .ack(h.now, admin, 7, Value::Array(vec!["ok".into()]).into())
        .unwrap();
    assert_eq!(h.texts(), [r#"43/admin,7["ok"]"#]);
    // A socket opened once the connection is up connects at once.
    let chat = h.open("/chat", None);
    assert_eq!(h.texts(), ["40/chat,"]);
    assert!(!h.manager.is_connected(chat));
}

#[test]
fn connect_error_deactivates_the_socket_only() {
    let (mut h, root) = connected();
    let admin = h.open("/admin", Some(object(&[("token", "bad".into())])));
    assert_eq!(h.texts(), [r#"40/admin,{"token":"bad"}"#]);
    h.feed(r#"44/admin,{"message":"not authorized","data":{"code":7}}"#);
    assert_eq!(
        show(h.events()),
        [r#"connect_error /admin not authorized Some(Object([("code", Number(PosInt(7)))]))"#]
    );
    assert!(!h.manager.is_active(admin));
    assert!(h.manager.is_active(root));
    // After a transport close only `/` comes back.
    h.drop_transport();
    assert_eq!(show(h.events()), ["disconnect / transport close"]);
    h.advance(Duration::from_millis(1000));
    h.accept_engine();
    assert_eq!(h.texts(), ["40"]);
}

#[test]
fn refusal_of_the_only_socket_closes_the_connection() {
    let mut h = Harness::new(config());
    let root = h.open("/", None);
    h.accept_engine();
    assert_eq!(h.texts(), ["40"]);
    h.feed(r#"44{"message":"Invalid namespace"}"#);
    assert_eq!(show(h.events()), ["connect_error / Invalid namespace None"]);
    assert_eq!(h.out(), [Out::Close]);
    assert!(!h.manager.is_active(root));
    assert_eq!(h.manager.poll_timeout(), None);
}

#[test]
fn a_connect_reply_without_sid_is_a_connect_error() {
    let mut h = Harness::new(config());
    h.open("/", None);
    h.accept_engine();
    let _ = h.out();
    h.feed("40");
    let events = h.events();
    assert!(
        matches!(&events[..], [Event::ConnectError { message, .. }] if message.contains("v2.x"))
    );
}

#[test]
fn events_before_the_connect_reply_are_buffered() {
    let mut h = Harness::new(config());
    h.open("/", None);
    h.accept_engine();
    let _ = h.out();
    h.feed(r#"42["early",1]"#);
    h.feed(r#"42["early",2]"#);
    assert!(h.events().is_empty());
    h.feed(r#"40{"sid":"s1"}"#);
    assert_eq!(
        show(h.events()),
        [
            r#"event / ["early",1] None"#,
            r#"event / ["early",2] None"#,
            "connect / s1 recovered=false"
        ]
    );
}

#[test]
fn emits_before_connect_are_flushed_on_connect_and_bounded() {
    let mut config = config();
    config.max_send_buffer = 2;
    let mut h = Harness::new(config);
    let root = h.open("/", None);
    emit(&mut h, root, "a", EmitOptions::default());
    emit(&mut h, root, "b", EmitOptions::with_ack());
    let third = h.manager.emit(
        h.now,
        root,
        event("c", vec![]).into(),
        EmitOptions::default(),
    );
    assert_eq!(third, Err(EmitError::SendBufferFull));
    assert_eq!(h.manager.send_buffer_len(root), 2);
    h.accept_engine();
    assert_eq!(h.texts(), ["40"]);
    h.feed(r#"40{"sid":"s1"}"#);
    assert_eq!(h.texts(), [r#"42["a"]"#, r#"420["b"]"#]);
    assert_eq!(h.manager.send_buffer_len(root), 0);
}

#[test]
fn invalid_and_reserved_events_are_refused() {
    let (mut h, root) = connected();
    for (data, error) in [
        (Value::Array(vec![]), EmitError::InvalidEvent),
        (Value::from("x"), EmitError::InvalidEvent),
        (event("connect", vec![]), EmitError::ReservedEvent),
        (event("disconnect", vec![]), EmitError::ReservedEvent),
    ] {
        let result = h
            .manager
            .emit(h.now, root, data.into(), EmitOptions::default());
        assert_eq!(result, Err(error));
    }
    let json = Payload::Json(r#"["newListener"]"#.into());
    let result = h.manager.emit(h.now, root, json, EmitOptions::default());
    assert_eq!(result, Err(EmitError::ReservedEvent));
    let json = Payload::Json(r#"["fine",{"a":1}]"#.into());
    h.manager
        .emit(h.now, root, json, EmitOptions::default())
        .unwrap();
    assert_eq!(h.texts(), [r#"42["fine",{"a":1}]"#]);
}

#[test]
fn binary_emits_go_out_as_attachments() {
    let (mut h, root) = connected();
    let data = event("file", vec![Value::Binary(vec![1, 2, 3].into())]);
    h.manager
        .emit(h.now, root, data.into(), EmitOptions::default())
        .unwrap();
    assert_eq!(
        h.out(),
        [
            Out::Text(r#"451-["file",{"_placeholder":true,"num":0}]"#.into()),
            Out::Binary(vec![1, 2, 3]),
        ]
    );
}

#[test]
fn ack_arrives_and_ack_times_out_at_exactly_the_deadline() {
    let (mut h, root) = connected();
    h.advance_to(Instant::from_millis(100));
    let first = emit(
        &mut h,
        root,
        "a",
        EmitOptions::with_ack_timeout(Duration::from_millis(1000)),
    );
    let second = emit(&mut h, root, "b", EmitOptions::with_ack());
    assert_eq!(h.texts(), [r#"420["a"]"#, r#"421["b"]"#]);
    assert_eq!(h.manager.poll_timeout(), Some(Instant::from_millis(1100)));
    h.feed(r#"431["done"]"#);
    assert_eq!(
        show(h.events()),
        [format!(r#"ack {} ["done"]"#, second.unwrap().0)]
    );
    h.advance_to(Instant::from_millis(1099));
    assert!(h.events().is_empty());
    h.advance_to(Instant::from_millis(1100));
    assert_eq!(
        show(h.events()),
        [format!("ack_timeout {}", first.unwrap().0)]
    );
    // A late ack for the timed-out emit is ignored.
    h.feed(r#"430["late"]"#);
    assert!(h.events().is_empty());
}

#[test]
fn the_default_ack_timeout_applies_and_drops_the_buffered_packet() {
    let mut config = config();
    config.ack_timeout = Some(Duration::from_millis(500));
    let mut h = Harness::new(config);
    let root = h.open("/", None);
    let id = emit(&mut h, root, "a", EmitOptions::with_ack()).unwrap();
    assert_eq!(h.manager.send_buffer_len(root), 1);
    h.advance_to(Instant::from_millis(500));
    assert_eq!(show(h.events()), [format!("ack_timeout {}", id.0)]);
    assert_eq!(h.manager.send_buffer_len(root), 0);
}

#[test]
fn acks_of_sent_packets_fail_when_the_connection_drops() {
    let (mut h, root) = connected();
    let id = emit(&mut h, root, "a", EmitOptions::with_ack()).unwrap();
    let _ = h.texts();
    h.drop_transport();
    assert_eq!(
        show(h.events()),
        [
            "disconnect / transport close".to_string(),
            format!("ack_disconnected {}", id.0)
        ]
    );
}

#[test]
fn volatile_emits_are_dropped_while_disconnected() {
    let mut h = Harness::new(config());
    let root = h.open("/", None);
    emit(&mut h, root, "lost", EmitOptions::volatile());
    assert_eq!(h.manager.send_buffer_len(root), 0);
    h.accept_engine();
    assert_eq!(h.texts(), ["40"]);
    h.feed(r#"40{"sid":"s1"}"#);
    assert_eq!(h.texts(), Vec::<String>::new());
    emit(&mut h, root, "kept", EmitOptions::volatile());
    assert_eq!(h.texts(), [r#"42["kept"]"#]);
    h.drop_transport();
    emit(&mut h, root, "lost", EmitOptions::volatile());
    emit(&mut h, root, "buffered", EmitOptions::default());
    assert_eq!(h.manager.send_buffer_len(root), 1);
}

#[test]
fn reconnects_after_transport_close_with_backoff_delays() {
    let mut config = config();
    config.reconnection_attempts = Some(4);
    let (mut h, _root) = {
        let mut h = Harness::new(config);
        let root = h.open("/", None);
        h.accept_engine();
        let _ = h.texts();
        h.feed(r#"40{"sid":"s1"}"#);
        let _ = h.events();
        (h, root)
    };
    h.advance_to(Instant::from_millis(10_000));
    h.feed("2");
    assert_eq!(h.texts(), ["3"]);
    h.drop_transport();
    assert_eq!(show(h.events()), ["disconnect / transport close"]);
    // Every attempt fails: the delays are 1 s, 2 s, 4 s, then capped at 5 s.
    let mut at = h.now;
    for (attempt, delay) in [(1, 1000), (2, 2000), (3, 4000), (4, 5000)] {
        at = at + Duration::from_millis(delay);
        assert_eq!(h.manager.poll_timeout(), Some(at), "attempt {attempt}");
        h.advance_to(at);
        assert_eq!(show(h.events()), [format!("reconnect_attempt {attempt}")]);
        assert_eq!(h.out(), [Out::Dial]);
        h.manager.handle_ws_closed(h.now, h.ws.take().unwrap());
        let events = show(h.events());
        assert_eq!(events[0], "connect_error / transport close None");
        assert_eq!(events[1], "reconnect_error");
    }
    // The attempts are exhausted.
    assert_eq!(h.manager.poll_timeout(), None);
}

#[test]
fn a_successful_reconnect_resets_the_backoff() {
    let (mut h, _root) = connected();
    h.drop_transport();
    let _ = h.events();
    h.advance(Duration::from_millis(1000));
    assert_eq!(h.out(), [Out::Dial]);
    h.manager.handle_ws_closed(h.now, h.ws.take().unwrap());
    let _ = h.events();
    h.advance(Duration::from_millis(2000));
    let _ = h.events();
    h.accept_engine();
    assert_eq!(h.texts(), ["40"]);
    assert_eq!(show(h.events()), ["reconnect 2"]);
    h.feed(r#"40{"sid":"s2"}"#);
    assert_eq!(show(h.events()), ["connect / s2 recovered=false"]);
    // The next drop starts over at 1 s.
    let dropped_at = h.now;
    h.drop_transport();
    let _ = h.events();
    assert_eq!(
        h.manager.poll_timeout(),
        Some(dropped_at + Duration::from_millis(1000))
    );
}

#[test]
fn reconnect_failed_after_the_last_attempt() {
    let mut config = config();
    config.reconnection_attempts = Some(1);
    let mut h = Harness::new(config);
    h.open("/", None);
    // The first connection fails: one reconnection attempt, then give up.
    assert_eq!(h.out(), [Out::Dial]);
    h.manager.handle_ws_closed(h.now, h.ws.take().unwrap());
    assert_eq!(show(h.events()), ["connect_error / transport close None"]);
    h.advance(Duration::from_millis(1000));
    assert_eq!(show(h.events()), ["reconnect_attempt 1"]);
    assert_eq!(h.out(), [Out::Dial]);
    h.manager.handle_ws_closed(h.now, h.ws.take().unwrap());
    assert_eq!(
        show(h.events()),
        [
            "connect_error / transport close None",
            "reconnect_error",
            "reconnect_failed"
        ]
    );
    assert_eq!(h.manager.poll_timeout(), None);
}

#[test]
fn an_engine_that_does_not_open_in_time_fails_the_attempt() {
    let mut h = Harness::new(config());
    h.open("/", None);
    assert_eq!(h.out(), [Out::Dial]);
    assert_eq!(h.manager.poll_timeout(), Some(Instant::from_millis(20_000)));
    h.advance_to(Instant::from_millis(20_000));
    assert_eq!(show(h.events()), ["connect_error / timeout None"]);
    assert_eq!(h.out(), [Out::Close]);
    assert_eq!(h.manager.poll_timeout(), Some(Instant::from_millis(21_000)));
}

#[test]
fn no_reconnect_after_io_server_disconnect() {
    let (mut h, root) = connected();
    h.feed("41");
    assert_eq!(show(h.events()), ["disconnect / io server disconnect"]);
    assert_eq!(h.out(), [Out::Close]);
    assert!(!h.manager.is_active(root));
    assert_eq!(h.manager.poll_timeout(), None);
    h.advance(Duration::from_secs(60));
    assert!(h.out().is_empty());
    // The application may reconnect by hand.
    h.open("/", None);
    h.accept_engine();
    assert_eq!(h.texts(), ["40"]);
}

#[test]
fn io_server_disconnect_of_one_namespace_keeps_the_others() {
    let (mut h, root) = connected();
    let admin = h.open("/admin", None);
    h.feed(r#"40/admin,{"sid":"a1"}"#);
    let _ = (h.texts(), h.events());
    h.feed("41/admin,");
    assert_eq!(show(h.events()), ["disconnect /admin io server disconnect"]);
    assert!(h.out().is_empty());
    h.drop_transport();
    assert_eq!(show(h.events()), ["disconnect / transport close"]);
    h.advance(Duration::from_millis(1000));
    h.accept_engine();
    assert_eq!(h.texts(), ["40"]);
    assert!(h.manager.is_active(root) && !h.manager.is_active(admin));
}

#[test]
fn io_client_disconnect_sends_disconnect_and_closes() {
    let (mut h, root) = connected();
    h.manager.disconnect(h.now, root);
    assert_eq!(h.out(), [Out::Text("41".into()), Out::Close]);
    assert_eq!(show(h.events()), ["disconnect / io client disconnect"]);
    assert_eq!(h.manager.poll_timeout(), None);
}

#[test]
fn a_parse_error_reconnects() {
    let (mut h, _root) = connected();
    h.feed("42{}");
    assert_eq!(show(h.events()), ["disconnect / parse error"]);
    assert_eq!(h.out(), [Out::Close]);
    h.advance(Duration::from_millis(1000));
    assert_eq!(show(h.events()), ["reconnect_attempt 1"]);
    h.accept_engine();
    assert_eq!(h.texts(), ["40"]);
}

#[test]
fn stale_transport_results_are_ignored() {
    let (mut h, _root) = connected();
    let old = h.ws.unwrap();
    h.drop_transport();
    let _ = h.events();
    h.advance(Duration::from_millis(1000));
    let _ = h.events();
    h.accept_engine();
    let _ = h.texts();
    // Frames and closes of the old WebSocket do not reach the new engine.
    h.manager.handle_ws_frame(
        h.now,
        old,
        socketio_protocol::engine::Frame::Text("41".into()),
    );
    h.manager.handle_ws_closed(h.now, old);
    assert_eq!(show(h.events()), ["reconnect 1"]);
    assert!(h.manager.is_open());
}

#[test]
fn retries_send_one_packet_at_a_time_and_resend_on_timeout() {
    let mut config = config();
    config.retries = Some(2);
    config.ack_timeout = Some(Duration::from_millis(1000));
    let mut h = Harness::new(config);
    let root = h.open("/", None);
    h.accept_engine();
    let _ = h.texts();
    h.feed(r#"40{"sid":"s1"}"#);
    let _ = h.events();
    let a = emit(&mut h, root, "a", EmitOptions::with_ack()).unwrap();
    emit(&mut h, root, "b", EmitOptions::default());
    // Only the head is in flight, and it always carries an ack id.
    assert_eq!(h.texts(), [r#"420["a"]"#]);
    h.advance(Duration::from_millis(1000));
    assert_eq!(h.texts(), [r#"421["a"]"#]);
    assert!(h.events().is_empty());
    // The ack of the timed-out try is ignored; the second try's counts.
    h.feed(r#"430["late"]"#);
    assert!(h.events().is_empty());
    h.feed(r#"431["ok"]"#);
    assert_eq!(show(h.events()), [format!(r#"ack {} ["ok"]"#, a.0)]);
    assert_eq!(h.texts(), [r#"422["b"]"#]);
    // `b` is tried three times, then dropped silently (no ack was asked).
    h.advance(Duration::from_millis(1000));
    assert_eq!(h.texts(), [r#"423["b"]"#]);
    h.advance(Duration::from_millis(1000));
    assert_eq!(h.texts(), [r#"424["b"]"#]);
    h.advance(Duration::from_millis(1000));
    assert!(h.texts().is_empty());
    assert_eq!(h.manager.queue_len(root), 0);
    // Volatile emits bypass the queue.
    emit(&mut h, root, "v", EmitOptions::volatile());
    assert_eq!(h.texts(), [r#"42["v"]"#]);
    // A reported failure after the last try.
    let c = emit(&mut h, root, "c", EmitOptions::with_ack()).unwrap();
    for _ in 0..3 {
        assert_eq!(h.texts().len(), 1);
        h.advance(Duration::from_millis(1000));
    }
    assert_eq!(show(h.events()), [format!("ack_timeout {}", c.0)]);
}

#[test]
fn retries_resend_the_head_on_reconnect() {
    let mut config = config();
    config.retries = Some(5);
    let mut h = Harness::new(config);
    let root = h.open("/", None);
    // Queued while disconnected: nothing goes out before the CONNECT reply.
    emit(&mut h, root, "a", EmitOptions::default());
    emit(&mut h, root, "b", EmitOptions::default());
    h.accept_engine();
    assert_eq!(h.texts(), ["40"]);
    h.feed(r#"40{"sid":"s1"}"#);
    assert_eq!(h.texts(), [r#"420["a"]"#]);
    let _ = h.events();
    h.drop_transport();
    let _ = h.events();
    h.advance(Duration::from_millis(1000));
    h.accept_engine();
    assert_eq!(h.texts(), ["40"]);
    h.feed(r#"40{"sid":"s2"}"#);
    // Resent with a new id; one in flight.
    assert_eq!(h.texts(), [r#"421["a"]"#]);
    h.feed("431[]");
    assert_eq!(h.texts(), [r#"422["b"]"#]);
    h.feed("432[]");
    assert!(h.texts().is_empty());
    assert_eq!(h.manager.queue_len(root), 0);
}

#[test]
fn recovery_sends_pid_and_offset_and_reports_recovered() {
    let mut h = Harness::new(config());
    let root = h.open("/", Some(object(&[("token", "t".into())])));
    h.accept_engine();
    assert_eq!(h.texts(), [r#"40{"token":"t"}"#]);
    h.feed(r#"40{"sid":"s1","pid":"p1"}"#);
    assert_eq!(show(h.events()), ["connect / s1 recovered=false"]);
    h.feed(r#"42["m",1,"off-1"]"#);
    h.feed(r#"42["m",2,"off-2"]"#);
    // An event with an ack id carries no offset.
    h.feed(r#"425["m",3,"not-an-offset"]"#);
    let _ = h.events();
    assert_eq!(h.manager.recovery_state(root), Some(("p1", Some("off-2"))));
    h.drop_transport();
    let _ = h.events();
    h.advance(Duration::from_millis(1000));
    h.accept_engine();
    assert_eq!(
        h.texts(),
        [r#"40{"pid":"p1","offset":"off-2","token":"t"}"#]
    );
    // Missed events come before the CONNECT reply.
    h.feed(r#"42["m",4,"off-3"]"#);
    h.feed(r#"40{"sid":"s1","pid":"p1"}"#);
    assert_eq!(
        show(h.events()),
        [
            "reconnect_attempt 1",
            "reconnect 1",
            r#"event / ["m",4,"off-3"] None"#,
            "connect / s1 recovered=true"
        ]
    );
    assert_eq!(h.manager.recovery_state(root), Some(("p1", Some("off-3"))));
    // A new session: not recovered.
    h.drop_transport();
    let _ = h.events();
    h.advance(Duration::from_millis(1000));
    h.accept_engine();
    assert_eq!(
        h.texts(),
        [r#"40{"pid":"p1","offset":"off-3","token":"t"}"#]
    );
    h.feed(r#"40{"sid":"s9","pid":"p9"}"#);
    assert_eq!(
        show(h.events()),
        [
            "reconnect_attempt 1",
            "reconnect 1",
            "connect / s9 recovered=false"
        ]
    );
}

#[test]
fn the_first_connection_is_retried() {
    let mut h = Harness::new(config());
    h.open("/", None);
    assert_eq!(h.out(), [Out::Dial]);
    h.manager.handle_ws_closed(h.now, h.ws.take().unwrap());
    assert_eq!(show(h.events()), ["connect_error / transport close None"]);
    h.advance(Duration::from_millis(1000));
    assert_eq!(show(h.events()), ["reconnect_attempt 1"]);
    h.accept_engine();
    assert_eq!(h.texts(), ["40"]);
    assert_eq!(show(h.events()), ["reconnect 1"]);
}

#[test]
fn reconnection_off_means_no_retry() {
    let mut config = config();
    config.reconnection = false;
    let (mut h, _root) = {
        let mut h = Harness::new(config);
        let root = h.open("/", None);
        h.accept_engine();
        let _ = h.texts();
        h.feed(r#"40{"sid":"s1"}"#);
        let _ = h.events();
        (h, root)
    };
    h.drop_transport();
    assert_eq!(show(h.events()), ["disconnect / transport close"]);
    assert_eq!(h.manager.poll_timeout(), None);
}

#[test]
fn disconnect_reason_reconnect_rules() {
    assert!(!DisconnectReason::IoServerDisconnect.allows_reconnect());
    assert!(!DisconnectReason::IoClientDisconnect.allows_reconnect());
    assert!(DisconnectReason::TransportClose.allows_reconnect());
    assert!(DisconnectReason::PingTimeout.allows_reconnect());
}

#[test]
fn a_silent_server_is_a_ping_timeout_and_reconnects() {
    let (mut h, _root) = connected();
    h.advance_to(Instant::from_millis(45_000));
    assert_eq!(show(h.events()), ["disconnect / ping timeout"]);
    assert_eq!(h.out(), [Out::Close]);
    assert_eq!(h.manager.poll_timeout(), Some(Instant::from_millis(46_000)));
}

#[test]
fn a_connection_lost_before_the_connect_reply_is_a_connect_error_not_a_silent_retry() {
    let mut h = Harness::new(config());
    let root = h.open("/", None);
    h.accept_engine();
    assert_eq!(h.texts(), ["40"]);
    // The CONNECT_ERROR reply is larger than the client reads: the transport reports it.
    let ws = h.ws.unwrap();
    h.manager.handle_too_large(h.now, ws, 1_000_000);
    assert_eq!(
        show(h.events()),
        ["connect_error / payload too large (limit: 1000000 bytes) None"]
    );
    // A failed attempt, not a refusal: the socket stays active and the client retries.
    assert!(h.manager.is_active(root));
    assert!(h.manager.poll_timeout().is_some());
}

#[test]
fn an_oversized_message_on_an_open_socket_is_the_disconnect_reason() {
    let (mut h, _root) = connected();
    let ws = h.ws.unwrap();
    h.manager.handle_too_large(h.now, ws, 1_000_000);
    let events = h.events();
    assert!(events.iter().any(|e| matches!(
        e,
        Event::Disconnect {
            reason: DisconnectReason::PayloadTooLarge { limit: 1_000_000 },
            ..
        }
    )));
    assert_eq!(
        show(events),
        ["disconnect / payload too large (limit: 1000000 bytes)"]
    );
}
