//! Transcript tests of the Engine.IO server over WebSocket: WebSocket-only sessions, the
//! upgrade from polling, its timeout and refusals, and closes from either side.

mod engine_server_support;

use bytes::Bytes;
use engine_server_support::*;
use socketio_protocol::engine::server::{
    Config, ConnectionId, Error, Event, Method, RequestId, Transmit, TransportId, TransportKind,
};
use socketio_protocol::engine::{CloseReason, Data, Frame};

const OPEN_WS: &str = "0{\"sid\":\"AQEBAQEBAQEBAQEBAQEB\",\"upgrades\":[],\
                       \"pingInterval\":25000,\"pingTimeout\":20000,\"maxPayload\":1000000}";

fn closed(sid: &'static str, reason: CloseReason) -> Event {
    Event::Closed {
        sid: sid.into(),
        reason,
    }
}

fn accept(connection: u64) -> Transmit {
    Transmit::AcceptWebSocket {
        connection: ConnectionId(connection),
        headers: vec![],
    }
}

fn close_ws(connection: u64) -> Transmit {
    Transmit::CloseWebSocket {
        connection: ConnectionId(connection),
    }
}

fn ping(connection: u64) -> Transmit {
    Transmit::Heartbeat {
        connection: ConnectionId(connection),
        frame: Frame::Text("2".into()),
    }
}

fn written(server: &mut socketio_protocol::engine::server::Server, at: u64, connection: u64) {
    server
        .handle_heartbeat_written(t(at), ConnectionId(connection))
        .unwrap();
}

fn text(connection: u64, text: &str) -> Transmit {
    Transmit::Frame {
        connection: ConnectionId(connection),
        frame: Frame::Text(String::from(text).into()),
    }
}

/// Opens a WebSocket-only session on connection 1.
fn open_websocket(server: &mut socketio_protocol::engine::server::Server) {
    websocket(server, t(0), 1, "EIO=4&transport=websocket");
    assert_eq!(transmits(server), vec![accept(1), text(1, OPEN_WS)]);
    let events = events(server);
    assert!(
        matches!(&events[..], [Event::Opened(h)] if h.transport == TransportId::WebSocket(ConnectionId(1)))
    );
}

#[test]
fn websocket_handshake_and_messages() {
    let mut server = server(Config::default());
    open_websocket(&mut server);
    assert_eq!(server.transport_of(SID1), Some(TransportKind::WebSocket));
    frame(&mut server, t(1), 1, "4hello");
    server
        .handle_frame(
            t(2),
            ConnectionId(1),
            Frame::Binary(Bytes::from_static(&[1, 2, 3])),
        )
        .unwrap();
    assert_eq!(
        events(&mut server),
        vec![
            Event::Message {
                sid: SID1.into(),
                data: "hello".into()
            },
            Event::Message {
                sid: SID1.into(),
                data: Data::Binary(Bytes::from_static(&[1, 2, 3]))
            },
        ]
    );
    server.send(SID1, "back".into()).unwrap();
    server
        .send(SID1, Data::Binary(Bytes::from_static(&[9])))
        .unwrap();
    assert_eq!(
        transmits(&mut server),
        vec![
            text(1, "4back"),
            Transmit::Frame {
                connection: ConnectionId(1),
                frame: Frame::Binary(Bytes::from_static(&[9]))
            },
        ]
    );
}

#[test]
fn websocket_heartbeat_and_ping_timeout() {
    let mut server = server(Config::default());
    open_websocket(&mut server);
    server.handle_timeout(t(25_000));
    assert_eq!(transmits(&mut server), vec![ping(1)]);
    written(&mut server, 25_001, 1);
    frame(&mut server, t(25_010), 1, "3");
    assert_eq!(server.poll_timeout(), Some(t(50_010)));
    server.handle_timeout(t(50_010));
    assert_eq!(transmits(&mut server), vec![ping(1)]);
    written(&mut server, 50_010, 1);
    server.handle_timeout(t(70_009));
    assert!(events(&mut server).is_empty());
    server.handle_timeout(t(70_010));
    assert_eq!(transmits(&mut server), vec![close_ws(1)]);
    assert_eq!(
        events(&mut server),
        vec![closed(SID1, CloseReason::PingTimeout)]
    );
    assert_eq!(
        server.handle_frame(t(70_011), ConnectionId(1), Frame::Text("3".into())),
        Err(Error::UnknownConnection)
    );
}

#[test]
fn a_late_timer_and_a_late_writer_leave_the_client_its_full_ping_timeout() {
    // The timer fires 30 s late and the writer takes another 10 s: the client, answering
    // 19 s after the ping reached it, stays.
    let mut server = server(Config::default());
    open_websocket(&mut server);
    server.handle_timeout(t(55_000));
    assert_eq!(transmits(&mut server), vec![ping(1)]);
    written(&mut server, 65_000, 1);
    assert_eq!(server.poll_timeout(), Some(t(85_000)));
    server.handle_timeout(t(83_999));
    frame(&mut server, t(84_000), 1, "3");
    server.handle_timeout(t(85_000));
    assert!(events(&mut server).is_empty());
    // Without a pong it would have closed 20 s after the write.
    server.handle_timeout(t(109_000));
    assert_eq!(transmits(&mut server), vec![ping(1)]);
    written(&mut server, 109_000, 1);
    server.handle_timeout(t(128_999));
    assert!(events(&mut server).is_empty());
    server.handle_timeout(t(129_000));
    assert_eq!(
        events(&mut server),
        vec![closed(SID1, CloseReason::PingTimeout)]
    );
}

#[test]
fn a_ping_never_reported_written_ends_the_session_after_interval_plus_timeout() {
    let mut server = server(Config::default());
    open_websocket(&mut server);
    server.handle_timeout(t(25_000));
    assert_eq!(transmits(&mut server), vec![ping(1)]);
    server.handle_timeout(t(69_999));
    assert!(events(&mut server).is_empty());
    server.handle_timeout(t(70_000));
    assert_eq!(
        events(&mut server),
        vec![closed(SID1, CloseReason::PingTimeout)]
    );
}

#[test]
fn websocket_close_reasons() {
    // The peer closes the socket.
    let mut server = server(Config::default());
    open_websocket(&mut server);
    server
        .handle_websocket_closed(t(1), ConnectionId(1))
        .unwrap();
    assert!(transmits(&mut server).is_empty());
    assert_eq!(
        events(&mut server),
        vec![closed(SID1, CloseReason::TransportClose)]
    );

    // The socket fails.
    let mut server = engine_server_support::server(Config::default());
    open_websocket(&mut server);
    server
        .handle_websocket_error(t(1), ConnectionId(1))
        .unwrap();
    assert_eq!(
        events(&mut server),
        vec![closed(SID1, CloseReason::TransportError)]
    );

    // An undecodable frame.
    let mut server = engine_server_support::server(Config::default());
    open_websocket(&mut server);
    frame(&mut server, t(1), 1, "9");
    assert_eq!(transmits(&mut server), vec![close_ws(1)]);
    assert_eq!(
        events(&mut server),
        vec![closed(SID1, CloseReason::ParseError)]
    );

    // A close packet.
    let mut server = engine_server_support::server(Config::default());
    open_websocket(&mut server);
    frame(&mut server, t(1), 1, "1");
    assert_eq!(transmits(&mut server), vec![close_ws(1)]);
    assert_eq!(
        events(&mut server),
        vec![closed(SID1, CloseReason::TransportClose)]
    );

    // The server closes.
    let mut server = engine_server_support::server(Config::default());
    open_websocket(&mut server);
    server.close(t(1), SID1).unwrap();
    assert_eq!(transmits(&mut server), vec![close_ws(1)]);
    assert_eq!(
        events(&mut server),
        vec![closed(SID1, CloseReason::ForcedClose)]
    );

    // A frame over maxPayload.
    let mut server = engine_server_support::server(Config {
        max_payload: 4,
        ..Config::default()
    });
    websocket(&mut server, t(0), 1, "EIO=4&transport=websocket");
    let _ = transmits(&mut server);
    let _ = events(&mut server);
    frame(&mut server, t(1), 1, "4abcd");
    assert_eq!(transmits(&mut server), vec![close_ws(1)]);
    assert_eq!(
        events(&mut server),
        vec![closed(SID1, CloseReason::TransportError)]
    );
}

#[test]
fn websocket_refusals_are_plain_400() {
    let mut server = server(Config::default());
    for (connection, query, message) in [
        (
            1,
            "EIO=4&transport=websocket&sid=unknown",
            "Session ID unknown",
        ),
        (2, "EIO=4&transport=foo", "Transport unknown"),
        (
            3,
            "EIO=5&transport=websocket",
            "Unsupported protocol version",
        ),
    ] {
        websocket(&mut server, t(0), connection, query);
        let out = transmits(&mut server);
        match &out[..] {
            [
                Transmit::RefuseWebSocket {
                    connection: id,
                    response,
                },
            ] => {
                assert_eq!(*id, ConnectionId(connection));
                assert_eq!(response.status, 400);
                assert_eq!(response.body_text(), message);
                assert_eq!(response.header("Content-Type"), Some("text/html"));
                assert_eq!(response.header("Connection"), Some("close"));
            }
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(server.session_count(), 0);
}

#[test]
fn websocket_allow_request_refusal_carries_the_message() {
    let mut server = server(Config {
        verify_handshakes: true,
        ..Config::default()
    });
    websocket(&mut server, t(0), 1, "EIO=4&transport=websocket");
    assert!(transmits(&mut server).is_empty());
    let transport = TransportId::WebSocket(ConnectionId(1));
    assert!(matches!(
        &events(&mut server)[..],
        [Event::HandshakeRequest { transport: asked, .. }] if *asked == transport
    ));
    assert_eq!(
        server.handle_frame(t(1), ConnectionId(1), Frame::Text("4x".into())),
        Err(Error::UnknownConnection)
    );
    server
        .refuse_handshake(t(1), transport, Some("not today"))
        .unwrap();
    match &transmits(&mut server)[..] {
        [Transmit::RefuseWebSocket { response, .. }] => {
            assert_eq!((response.status, response.body_text()), (400, "not today"));
        }
        other => panic!("{other:?}"),
    }
    // Accepted: the upgrade completes, then the open packet.
    websocket(&mut server, t(2), 2, "EIO=4&transport=websocket");
    let _ = events(&mut server);
    server
        .accept_handshake(t(3), TransportId::WebSocket(ConnectionId(2)))
        .unwrap();
    assert_eq!(transmits(&mut server), vec![accept(2), text(2, OPEN_WS)]);
}

/// Opens a polling session, holds a GET (request 2), and opens probe connection 7.
fn polling_with_probe(server: &mut socketio_protocol::engine::server::Server) {
    open_polling(server, t(0), 1, "EIO=4&transport=polling");
    get(server, t(10), 2, SID1);
    websocket(
        server,
        t(20),
        7,
        &format!("EIO=4&transport=websocket&sid={SID1}"),
    );
    assert_eq!(transmits(server), vec![accept(7)]);
}

#[test]
fn upgrade_sequence_probe_noop_upgrade_flush() {
    let mut server = server(Config::default());
    polling_with_probe(&mut server);
    // Messages still go over polling while probing.
    server.send(SID1, "during".into()).unwrap();
    assert_eq!(response_to(&mut server, 2).body_text(), "4during");
    get(&mut server, t(30), 3, SID1);
    frame(&mut server, t(40), 7, "2probe");
    assert_eq!(transmits(&mut server), vec![text(7, "3probe")]);
    // The pending GET is answered with a noop at the next 100 ms check.
    assert_eq!(server.poll_timeout(), Some(t(140)));
    server.handle_timeout(t(139));
    assert!(transmits(&mut server).is_empty());
    server.handle_timeout(t(140));
    assert_eq!(response_to(&mut server, 3).body_text(), "6");
    // Re-checked every 100 ms: a GET arriving later is answered at the next check.
    get(&mut server, t(150), 4, SID1);
    server.handle_timeout(t(240));
    assert_eq!(response_to(&mut server, 4).body_text(), "6");
    // Buffered while the client pauses polling, then flushed on the WebSocket.
    server.send(SID1, "a".into()).unwrap();
    server.send(SID1, "b".into()).unwrap();
    assert!(transmits(&mut server).is_empty());
    frame(&mut server, t(250), 7, "5");
    assert_eq!(transmits(&mut server), vec![text(7, "4a"), text(7, "4b")]);
    assert_eq!(
        events(&mut server),
        vec![Event::Upgraded {
            sid: SID1.into(),
            connection: ConnectionId(7)
        }]
    );
    assert_eq!(server.transport_of(SID1), Some(TransportKind::WebSocket));
    server.send(SID1, "c".into()).unwrap();
    assert_eq!(transmits(&mut server), vec![text(7, "4c")]);
    frame(&mut server, t(260), 7, "4up");
    assert_eq!(
        events(&mut server),
        vec![Event::Message {
            sid: SID1.into(),
            data: "up".into()
        }]
    );
    // The noop checks stopped; the next timer is the ping.
    assert_eq!(server.poll_timeout(), Some(t(25_000)));
    server.handle_timeout(t(25_000));
    assert_eq!(transmits(&mut server), vec![ping(7)]);
}

#[test]
fn get_and_post_after_upgrade_are_400_code_3() {
    let mut server = server(Config::default());
    polling_with_probe(&mut server);
    frame(&mut server, t(30), 7, "2probe");
    server.handle_timeout(t(130));
    let _ = transmits(&mut server);
    frame(&mut server, t(140), 7, "5");
    let _ = transmits(&mut server);
    let _ = events(&mut server);
    get(&mut server, t(150), 5, SID1);
    let response = response_to(&mut server, 5);
    assert_eq!(response.status, 400);
    assert_eq!(
        response.body_text(),
        "{\"code\":3,\"message\":\"Bad request\"}"
    );
    let query = format!("EIO=4&transport=polling&sid={SID1}");
    server
        .handle_request(t(151), RequestId(6), head(Method::Post, &query))
        .unwrap();
    assert_eq!(response_to(&mut server, 6).status, 400);
    assert!(server.contains(SID1));
    assert!(events(&mut server).is_empty());
}

#[test]
fn second_websocket_is_accepted_then_closed() {
    let mut server = server(Config::default());
    polling_with_probe(&mut server);
    // While probing.
    let query = format!("EIO=4&transport=websocket&sid={SID1}");
    websocket(&mut server, t(25), 8, &query);
    assert_eq!(transmits(&mut server), vec![accept(8), close_ws(8)]);
    // After the upgrade.
    frame(&mut server, t(30), 7, "2probe");
    frame(&mut server, t(31), 7, "5");
    let _ = transmits(&mut server);
    websocket(&mut server, t(40), 9, &query);
    assert_eq!(transmits(&mut server), vec![accept(9), close_ws(9)]);
    assert_eq!(
        server.handle_frame(t(41), ConnectionId(9), Frame::Text("4x".into())),
        Err(Error::UnknownConnection)
    );
    assert!(server.contains(SID1));
}

#[test]
fn upgrade_timeout_closes_the_probe_and_keeps_polling() {
    let mut server = server(Config::default());
    polling_with_probe(&mut server);
    frame(&mut server, t(30), 7, "2probe");
    let _ = transmits(&mut server);
    server.handle_timeout(t(130));
    assert_eq!(response_to(&mut server, 2).body_text(), "6");
    // Probe opened at 20 ms: closed at exactly 10 020 ms.
    for at in (230..10_020).step_by(100) {
        server.handle_timeout(t(at));
    }
    assert!(transmits(&mut server).is_empty());
    server.handle_timeout(t(10_020));
    assert_eq!(transmits(&mut server), vec![close_ws(7)]);
    assert!(events(&mut server).is_empty());
    assert_eq!(server.transport_of(SID1), Some(TransportKind::Polling));
    get(&mut server, t(10_030), 3, SID1);
    server.send(SID1, "still polling".into()).unwrap();
    assert_eq!(response_to(&mut server, 3).body_text(), "4still polling");
    // A new probe is allowed again.
    let query = format!("EIO=4&transport=websocket&sid={SID1}");
    websocket(&mut server, t(10_040), 8, &query);
    assert_eq!(transmits(&mut server), vec![accept(8)]);
}

#[test]
fn anything_else_on_the_probe_aborts_the_upgrade() {
    let mut server = server(Config::default());
    polling_with_probe(&mut server);
    frame(&mut server, t(30), 7, "4not a probe");
    assert_eq!(transmits(&mut server), vec![close_ws(7)]);
    assert!(events(&mut server).is_empty());
    assert_eq!(server.transport_of(SID1), Some(TransportKind::Polling));
    assert_eq!(server.poll_timeout(), Some(t(25_000)));
    // The probe closing by itself also just ends the attempt.
    let query = format!("EIO=4&transport=websocket&sid={SID1}");
    websocket(&mut server, t(40), 8, &query);
    let _ = transmits(&mut server);
    server
        .handle_websocket_closed(t(41), ConnectionId(8))
        .unwrap();
    assert!(transmits(&mut server).is_empty());
    assert!(events(&mut server).is_empty());
    assert!(server.contains(SID1));
}

#[test]
fn session_close_during_probe_closes_the_probe() {
    let mut server = server(Config::default());
    polling_with_probe(&mut server);
    server.close(t(30), SID1).unwrap();
    assert_eq!(
        transmits(&mut server),
        vec![
            close_ws(7),
            Transmit::Response {
                request: RequestId(2),
                response: {
                    let mut response = response_at(&mut server);
                    response.body = Bytes::from_static(b"1");
                    response
                }
            }
        ]
    );
    assert_eq!(
        events(&mut server),
        vec![closed(SID1, CloseReason::ForcedClose)]
    );
}

#[test]
fn session_close_during_probe_without_a_pending_get_waits_for_the_upgrade() {
    let mut server = server(Config::default());
    polling_with_probe(&mut server);
    frame(&mut server, t(30), 7, "2probe");
    let _ = transmits(&mut server);
    server.handle_timeout(t(130));
    assert_eq!(response_to(&mut server, 2).body_text(), "6");
    // No GET is held and the probe is still running: as the reference, the probe may finish
    // (the client may already be on it), and the session ends on the new transport.
    server.close(t(140), SID1).unwrap();
    assert!(transmits(&mut server).is_empty());
    assert!(events(&mut server).is_empty());
    frame(&mut server, t(150), 7, "5");
    assert_eq!(transmits(&mut server), vec![close_ws(7)]);
    let events = events(&mut server);
    assert_eq!(events.last(), Some(&closed(SID1, CloseReason::ForcedClose)));
    assert!(!server.contains(SID1));
}

/// A polling response with the standard headers and an empty body.
fn response_at(
    _server: &mut socketio_protocol::engine::server::Server,
) -> socketio_protocol::engine::server::Response {
    socketio_protocol::engine::server::Response {
        status: 200,
        headers: vec![
            ("Content-Type", "text/plain; charset=UTF-8".into()),
            ("Cache-Control", "no-store".into()),
        ],
        body: Bytes::new(),
    }
}

#[test]
fn v3_websocket_session_answers_pings() {
    let mut server = server(Config {
        allow_eio3: true,
        ..Config::default()
    });
    websocket(&mut server, t(0), 1, "EIO=3&transport=websocket");
    let _ = transmits(&mut server);
    let _ = events(&mut server);
    frame(&mut server, t(1_000), 1, "2");
    assert_eq!(transmits(&mut server), vec![text(1, "3")]);
    server
        .send(SID1, Data::Binary(Bytes::from_static(&[1, 2])))
        .unwrap();
    assert_eq!(
        transmits(&mut server),
        vec![Transmit::Frame {
            connection: ConnectionId(1),
            frame: Frame::Binary(Bytes::from_static(&[4, 1, 2]))
        }]
    );
    server.handle_timeout(t(45_999));
    assert!(events(&mut server).is_empty());
    server.handle_timeout(t(46_000));
    assert_eq!(
        events(&mut server),
        vec![closed(SID1, CloseReason::PingTimeout)]
    );
}

#[test]
fn websocket_only_server_refuses_polling() {
    let mut server = server(Config {
        transports: vec![TransportKind::WebSocket],
        ..Config::default()
    });
    server
        .handle_request(
            t(0),
            RequestId(1),
            head(Method::Get, "EIO=4&transport=polling"),
        )
        .unwrap();
    assert_eq!(
        response_to(&mut server, 1).body_text(),
        "{\"code\":0,\"message\":\"Transport unknown\"}"
    );
    open_websocket(&mut server);
}
