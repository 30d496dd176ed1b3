//! Transcript tests of `Connection`: a server connection's Engine.IO session and Socket.IO
//! side as one machine (wire strings in and out, virtual time).

use socketio_protocol::connection::{Connection, Event};
use socketio_protocol::engine::server::{
    Config, ConnectionId, Method, PreparedMessage, RequestHead, RequestId, RequestRoute, Response,
    Router, Transmit, UpgradeRoute,
};
use socketio_protocol::engine::{CloseReason, Data, Frame};
use socketio_protocol::socket::server::{Config as SocketConfig, Event as SocketEvent};
use socketio_protocol::socket::{DisconnectReason, Payload};
use socketio_protocol::{Instant, Str, Value};

const WS: ConnectionId = ConnectionId(1);

fn event(name: &str) -> Payload {
    Payload::Value(Value::Array(vec![Value::from(name)]))
}

fn at(ms: u64) -> Instant {
    Instant::from_millis(ms)
}

fn websocket(config: Config) -> Connection {
    let mut router = Router::new(config, || [1; 15]);
    let head = RequestHead::new(Method::Get, "/engine.io/", "EIO=4&transport=websocket");
    let UpgradeRoute::Opened(session) = router.route_websocket(at(0), WS, head, |_| None) else {
        panic!("a websocket handshake opens a session");
    };
    let (mut conn, handshake) =
        Connection::open(at(0), *session, &SocketConfig::default(), || [2; 15]).unwrap();
    assert_eq!(handshake.sid, *conn.sid());
    let opening = texts(&mut conn);
    assert!(opening[0].starts_with("0{\"sid\":"), "{opening:?}");
    conn
}

fn polling(config: Config) -> Connection {
    let mut router = Router::new(config, || [1; 15]);
    let head = RequestHead::new(Method::Get, "/engine.io/", "EIO=4&transport=polling");
    let RequestRoute::Opened(session) = router.route_request(at(0), RequestId(1), head, |_| None)
    else {
        panic!("a polling handshake opens a session");
    };
    let (mut conn, _) =
        Connection::open(at(0), *session, &SocketConfig::default(), || [2; 15]).unwrap();
    assert!(matches!(
        conn.poll_transmit(),
        Some(Transmit::Response {
            response: Response { status: 200, .. },
            ..
        })
    ));
    conn
}

/// The text frames written (heartbeats included), in order; other transmits are left out.
fn texts(conn: &mut Connection) -> Vec<String> {
    let mut out = Vec::new();
    while let Some(transmit) = conn.poll_transmit() {
        if let Transmit::Frame {
            frame: Frame::Text(text),
            ..
        }
        | Transmit::Heartbeat {
            frame: Frame::Text(text),
            ..
        } = transmit
        {
            out.push(text.to_string());
        }
    }
    out
}

fn events(conn: &mut Connection) -> Vec<Event> {
    std::iter::from_fn(|| conn.poll_event()).collect()
}

fn frame(conn: &mut Connection, ms: u64, text: &str) {
    conn.handle_frame(at(ms), WS, Frame::Text(Str::from(text.to_owned())))
        .unwrap();
}

/// Sends `40` and accepts it with a hold; the socket id.
fn connect_held(conn: &mut Connection) -> Str {
    frame(conn, 1, "40");
    let requests = events(conn);
    assert!(matches!(
        requests.as_slice(),
        [Event::Socket(SocketEvent::ConnectRequest { nsp, .. })] if nsp == "/"
    ));
    conn.accept_connect_held("/").unwrap()
}

#[test]
fn a_held_connect_keeps_every_packet_until_released_then_sends_them_in_order() {
    let mut conn = websocket(Config::default());
    let sid = connect_held(&mut conn);
    // The connect handler's first emit, made while held.
    conn.socket_mut().emit(&sid, event("welcome")).unwrap();
    assert!(texts(&mut conn).is_empty(), "nothing leaves while held");
    let message = PreparedMessage::new(Data::Text(Str::from("2[\"tick\"]")));
    assert!(
        conn.direct_frame(&message).is_none(),
        "no bypass while held"
    );
    conn.send_prepared(&message).unwrap();
    conn.release();
    let sent = texts(&mut conn);
    assert_eq!(sent.len(), 3, "{sent:?}");
    assert!(
        sent[0].starts_with("40{\"sid\":"),
        "the CONNECT first: {sent:?}"
    );
    assert_eq!(sent[1], "42[\"welcome\"]");
    assert_eq!(sent[2], "42[\"tick\"]");
    let connected = events(&mut conn);
    assert!(matches!(
        connected.as_slice(),
        [Event::Socket(SocketEvent::Connected { .. })]
    ));
    // Nothing waits now: a broadcast may bypass both machines.
    let (connection, frame) = conn.direct_frame(&message).expect("direct");
    assert_eq!(connection, WS);
    assert_eq!(frame, Frame::Text(Str::from("42[\"tick\"]")));
}

#[test]
fn two_holds_need_two_releases() {
    let mut conn = websocket(Config::default());
    connect_held(&mut conn);
    conn.hold();
    conn.release();
    assert!(conn.is_held());
    assert!(texts(&mut conn).is_empty());
    conn.release();
    assert!(!conn.is_held());
    assert_eq!(texts(&mut conn).len(), 1);
}

#[test]
fn an_event_reaches_the_socket_side_as_its_event() {
    let mut conn = websocket(Config::default());
    connect_held(&mut conn);
    conn.release();
    texts(&mut conn);
    events(&mut conn);
    frame(&mut conn, 2, "42[\"chat\",\"hi\"]");
    let got = events(&mut conn);
    let [Event::Socket(SocketEvent::Message { nsp, data, ack, .. })] = got.as_slice() else {
        panic!("{got:?}");
    };
    assert_eq!(nsp, "/");
    assert_eq!(ack, &None);
    let (name, _) = data.event_parts().unwrap();
    assert_eq!(name, "chat");
}

#[test]
fn a_protocol_violation_closes_the_session() {
    let mut conn = websocket(Config::default());
    frame(&mut conn, 1, "4{not json");
    let mut closed_ws = false;
    while let Some(transmit) = conn.poll_transmit() {
        closed_ws |=
            matches!(transmit, Transmit::CloseWebSocket { connection } if connection == WS);
    }
    let got = events(&mut conn);
    assert!(
        got.iter().any(|e| matches!(
            e,
            Event::Socket(SocketEvent::CloseConnection {
                reason: DisconnectReason::ParseError,
                ..
            })
        )),
        "{got:?}"
    );
    assert!(closed_ws, "the websocket is closed");
    assert!(conn.is_closed());
    assert_eq!(conn.poll_timeout(), None);
}

#[test]
fn the_engine_close_reaches_every_socket_then_is_reported() {
    let mut conn = websocket(Config::default());
    connect_held(&mut conn);
    conn.release();
    texts(&mut conn);
    events(&mut conn);
    conn.handle_websocket_gone(at(5), WS, CloseReason::TransportClose)
        .unwrap();
    let got = events(&mut conn);
    assert!(
        matches!(
            got.as_slice(),
            [
                Event::Socket(SocketEvent::Disconnected {
                    reason: DisconnectReason::TransportClose,
                    ..
                }),
                Event::Closed {
                    reason: CloseReason::TransportClose
                }
            ]
        ),
        "{got:?}"
    );
}

#[test]
fn a_client_that_never_connects_a_namespace_is_closed_by_the_connect_timeout() {
    let mut conn = websocket(Config::default());
    let deadline = conn.poll_timeout().expect("a deadline");
    // The first ping (25 s) comes before the socket side's connect timeout (45 s): one
    // deadline, the earlier.
    assert_eq!(deadline, at(25_000));
    conn.handle_timeout(at(25_000));
    assert_eq!(texts(&mut conn), vec!["2".to_owned()]);
    conn.handle_heartbeat_written(at(25_000), WS).unwrap();
    frame(&mut conn, 25_001, "3");
    conn.handle_timeout(at(45_000));
    let got = events(&mut conn);
    assert!(conn.is_closed(), "{got:?}");
}

#[test]
fn a_polling_buffer_past_its_bound_is_a_slow_consumer() {
    let config = Config {
        max_buffered_packets: 3,
        ..Config::default()
    };
    let mut conn = polling(config);
    // `40` by POST.
    conn.handle_request(at(1), RequestId(2), Method::Post, false, Vec::new());
    while conn.poll_transmit().is_some() {}
    conn.handle_request_body(at(1), RequestId(2), bytes::Bytes::from_static(b"40"))
        .unwrap();
    while conn.poll_transmit().is_some() {}
    let requests = events(&mut conn);
    assert!(matches!(
        requests.as_slice(),
        [Event::Socket(SocketEvent::ConnectRequest { .. })]
    ));
    let sid = conn.accept_connect_held("/").unwrap();
    conn.release();
    // No GET comes: the buffer fills (the CONNECT, then events) and the next one is refused.
    for _ in 0..3 {
        conn.socket_mut().emit(&sid, event("x")).unwrap();
    }
    while conn.poll_transmit().is_some() {}
    let got = events(&mut conn);
    assert!(
        got.iter().any(|e| matches!(
            e,
            Event::Socket(SocketEvent::Disconnected {
                reason: DisconnectReason::TransportError,
                ..
            })
        )),
        "{got:?}"
    );
    assert!(conn.socket().is_closed());
}
