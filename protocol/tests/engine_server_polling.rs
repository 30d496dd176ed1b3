//! Transcript tests of the Engine.IO server over HTTP long-polling: handshake, errors, the
//! polling rules, heartbeat (v4 and v3), close, CORS, cookie, and the allowRequest hook.

mod engine_server_support;

use bytes::Bytes;
use engine_server_support::*;
use socketio_protocol::engine::server::{
    Config, Cors, CorsOrigin, Error, Event, Method, RequestHead, RequestId, SessionCookie,
    Transmit, TransportId,
};
use socketio_protocol::engine::{CloseReason, Data, ProtocolVersion};

fn closed(sid: &'static str, reason: CloseReason) -> Event {
    Event::Closed {
        sid: sid.into(),
        reason,
    }
}

fn error_body(code: u8, message: &str) -> String {
    format!("{{\"code\":{code},\"message\":\"{message}\"}}")
}

#[test]
fn polling_handshake_sends_the_exact_open_packet() {
    let mut server = server(Config::default());
    server
        .handle_request(
            t(0),
            RequestId(1),
            head(Method::Get, "EIO=4&transport=polling&t=abc"),
        )
        .unwrap();
    let response = response_to(&mut server, 1);
    assert_eq!(response.status, 200);
    assert_eq!(response.body_text(), OPEN1);
    assert_eq!(
        response.headers,
        vec![
            ("Content-Type", "text/plain; charset=UTF-8".into()),
            ("Cache-Control", "no-store".into()),
        ]
    );
    let events = events(&mut server);
    assert_eq!(events.len(), 1);
    match &events[0] {
        Event::Opened(handshake) => {
            assert_eq!(handshake.sid, SID1);
            assert_eq!(handshake.sid.len(), 20);
            assert_eq!(handshake.protocol, ProtocolVersion::V4);
            assert_eq!(handshake.transport, TransportId::Polling(RequestId(1)));
            assert_eq!(handshake.head.query, "EIO=4&transport=polling&t=abc");
        }
        other => panic!("{other:?}"),
    }
    assert!(server.contains(SID1));
    assert_eq!(server.poll_timeout(), Some(t(25_000)));
}

#[test]
fn ids_are_url_safe_base64_of_fifteen_bytes() {
    let mut server =
        socketio_protocol::engine::server::Server::new(Config::default(), || [0xFB; 15]);
    let response = {
        server
            .handle_request(
                t(0),
                RequestId(1),
                head(Method::Get, "EIO=4&transport=polling"),
            )
            .unwrap();
        response_to(&mut server, 1)
    };
    assert!(
        response
            .body_text()
            .starts_with("0{\"sid\":\"-_v7-_v7-_v7-_v7-_v7\"")
    );
}

#[test]
fn initial_packet_follows_the_open_packet() {
    let config = Config {
        initial_packet: Some(Data::Text("hi".into())),
        ..Config::default()
    };
    let mut server = server(config);
    let response = open_polling(&mut server, t(0), 1, "EIO=4&transport=polling");
    assert_eq!(response.body_text(), format!("{OPEN1}\u{1e}4hi"));
}

/// Method, query, origin, status, code, message.
type ErrorCase = (
    Method,
    &'static str,
    Option<&'static str>,
    u16,
    u8,
    &'static str,
);

#[test]
fn every_error_code_has_the_reference_body() {
    let mut server = server(Config::default());
    open_polling(&mut server, t(0), 1, "EIO=4&transport=polling");
    let cases: &[ErrorCase] = &[
        (Method::Get, "EIO=4", None, 400, 0, "Transport unknown"),
        (
            Method::Get,
            "EIO=4&transport=flash",
            None,
            400,
            0,
            "Transport unknown",
        ),
        (
            Method::Get,
            "EIO=4&transport=webtransport",
            None,
            400,
            0,
            "Transport unknown",
        ),
        (
            Method::Get,
            "EIO=4&transport=polling&sid=nope",
            None,
            400,
            1,
            "Session ID unknown",
        ),
        (
            Method::Get,
            "EIO=4&transport=polling&sid=AgICAgICAgICAgICAgIC",
            None,
            400,
            1,
            "Session ID unknown",
        ),
        (
            Method::Post,
            "EIO=4&transport=polling",
            None,
            400,
            2,
            "Bad handshake method",
        ),
        (
            Method::Other,
            "EIO=4&transport=polling",
            None,
            400,
            2,
            "Bad handshake method",
        ),
        (
            Method::Get,
            "EIO=4&transport=websocket",
            None,
            400,
            3,
            "Bad request",
        ),
        (
            Method::Get,
            "EIO=4&transport=websocket&sid=AQEBAQEBAQEBAQEBAQEB",
            None,
            400,
            3,
            "Bad request",
        ),
        (
            Method::Get,
            "EIO=4&transport=polling",
            Some("http://a\nb"),
            400,
            3,
            "Bad request",
        ),
        (
            Method::Get,
            "transport=polling",
            None,
            400,
            5,
            "Unsupported protocol version",
        ),
        (
            Method::Get,
            "EIO=3&transport=polling",
            None,
            400,
            5,
            "Unsupported protocol version",
        ),
        (
            Method::Get,
            "EIO=abc&transport=polling",
            None,
            400,
            5,
            "Unsupported protocol version",
        ),
    ];
    for (index, &(method, query, origin, status, code, message)) in cases.iter().enumerate() {
        let id = 100 + index as u64;
        let mut request = head(method, query);
        if let Some(origin) = origin {
            request = request.with_origin(String::from(origin));
        }
        server.handle_request(t(1), RequestId(id), request).unwrap();
        let response = response_to(&mut server, id);
        assert_eq!(response.status, status, "{query}");
        assert_eq!(
            response.header("content-type"),
            Some("application/json"),
            "{query}"
        );
        assert_eq!(response.body_text(), error_body(code, message), "{query}");
    }
    // None of these touched the session.
    assert!(server.contains(SID1));
    assert_eq!(server.session_count(), 1);
    assert!(events(&mut server).is_empty());
}

#[test]
fn other_paths_are_not_ours() {
    let mut server = server(Config::default());
    let request = RequestHead::new(Method::Get, "/socket.io/", "EIO=4&transport=polling");
    server.handle_request(t(0), RequestId(1), request).unwrap();
    assert_eq!(response_to(&mut server, 1).status, 404);
    assert!(server.matches_path("/engine.io/"));
    assert!(!server.matches_path("/engine.io"));
}

#[test]
fn unknown_method_on_a_known_session_is_500() {
    let mut server = server(Config::default());
    open_polling(&mut server, t(0), 1, "EIO=4&transport=polling");
    for method in [Method::Other, Method::Options] {
        let query = format!("EIO=4&transport=polling&sid={SID1}");
        server
            .handle_request(t(1), RequestId(2), head(method, &query))
            .unwrap();
        let response = response_to(&mut server, 2);
        assert_eq!(response.status, 500);
        assert!(response.body.is_empty());
    }
    assert!(server.contains(SID1));
}

#[test]
fn get_is_held_until_data_then_answered_with_everything_queued() {
    let mut server = server(Config::default());
    open_polling(&mut server, t(0), 1, "EIO=4&transport=polling");
    get(&mut server, t(10), 2, SID1);
    assert!(transmits(&mut server).is_empty());
    server.send(SID1, "one".into()).unwrap();
    let response = response_to(&mut server, 2);
    assert_eq!(response.body_text(), "4one");
    assert_eq!(
        response.header("Content-Type"),
        Some("text/plain; charset=UTF-8")
    );
    assert_eq!(response.header("Cache-Control"), Some("no-store"));
    // No GET: messages queue, then go out together.
    server.send(SID1, "two".into()).unwrap();
    server
        .send(SID1, Data::Binary(Bytes::from_static(&[1, 2, 3, 4])))
        .unwrap();
    server.send(SID1, "€".into()).unwrap();
    assert!(transmits(&mut server).is_empty());
    get(&mut server, t(20), 3, SID1);
    assert_eq!(
        response_to(&mut server, 3).body_text(),
        "4two\u{1e}bAQIDBA==\u{1e}4€"
    );
}

#[test]
fn post_delivers_messages_in_order_and_answers_ok() {
    let mut server = server(Config::default());
    open_polling(&mut server, t(0), 1, "EIO=4&transport=polling");
    let out = post(
        &mut server,
        t(5),
        2,
        SID1,
        b"4hello\x1ebAQIDBA==\x1e4\xe2\x82\xac",
    );
    assert_eq!(out.len(), 1);
    let response = expect_response(&out[0], 2);
    assert_eq!(response.status, 200);
    assert_eq!(response.body_text(), "ok");
    assert_eq!(response.header("Content-Type"), Some("text/html"));
    assert_eq!(response.header("Cache-Control"), Some("no-store"));
    assert_eq!(
        events(&mut server),
        vec![
            Event::Message {
                sid: SID1.into(),
                data: "hello".into()
            },
            Event::Message {
                sid: SID1.into(),
                data: Data::Binary(Bytes::from_static(&[1, 2, 3, 4]))
            },
            Event::Message {
                sid: SID1.into(),
                data: "€".into()
            },
        ]
    );
}

#[test]
fn second_concurrent_get_is_400_and_the_first_is_answered_close() {
    let mut server = server(Config::default());
    open_polling(&mut server, t(0), 1, "EIO=4&transport=polling");
    get(&mut server, t(1), 2, SID1);
    get(&mut server, t(2), 3, SID1);
    let out = transmits(&mut server);
    assert_eq!(out.len(), 2);
    let second = expect_response(&out[0], 3);
    assert_eq!(second.status, 400);
    assert!(second.body.is_empty());
    let first = expect_response(&out[1], 2);
    assert_eq!((first.status, first.body_text()), (200, "1"));
    assert_eq!(
        events(&mut server),
        vec![closed(SID1, CloseReason::TransportError)]
    );
    assert!(!server.contains(SID1));
    assert_eq!(server.poll_timeout(), None);
}

#[test]
fn second_concurrent_post_is_400_and_closes() {
    let mut server = server(Config::default());
    open_polling(&mut server, t(0), 1, "EIO=4&transport=polling");
    let query = format!("EIO=4&transport=polling&sid={SID1}");
    server
        .handle_request(t(1), RequestId(2), head(Method::Post, &query))
        .unwrap();
    assert!(matches!(
        &transmits(&mut server)[..],
        [Transmit::ReadBody { .. }]
    ));
    server
        .handle_request(t(2), RequestId(3), head(Method::Post, &query))
        .unwrap();
    let out = transmits(&mut server);
    assert_eq!(out.len(), 2, "{out:?}");
    assert_eq!(expect_response(&out[0], 3).status, 400);
    assert_eq!(
        out[1],
        Transmit::Abort {
            request: RequestId(2)
        }
    );
    assert_eq!(
        events(&mut server),
        vec![closed(SID1, CloseReason::TransportError)]
    );
    assert_eq!(
        server.handle_request_body(t(3), RequestId(2), Bytes::from_static(b"4x")),
        Err(Error::UnknownRequest)
    );
}

#[test]
fn post_over_max_payload_is_413_and_keeps_the_session() {
    let config = Config {
        max_payload: 10,
        ..Config::default()
    };
    let mut server = server(config);
    let open = open_polling(&mut server, t(0), 1, "EIO=4&transport=polling");
    assert!(open.body_text().ends_with("\"maxPayload\":10}"));
    let out = post(&mut server, t(1), 2, SID1, b"4hello world");
    let response = expect_response(&out[0], 2);
    assert_eq!(response.status, 413);
    assert!(response.body.is_empty());
    assert!(events(&mut server).is_empty());
    assert!(server.contains(SID1));
    // Exactly max_payload bytes is fine.
    let out = post(&mut server, t(2), 3, SID1, b"4123456789");
    assert_eq!(expect_response(&out[0], 3).status, 200);
    assert_eq!(events(&mut server).len(), 1);
}

#[test]
fn octet_stream_post_is_400_and_closes_in_v4() {
    let mut server = server(Config::default());
    open_polling(&mut server, t(0), 1, "EIO=4&transport=polling");
    get(&mut server, t(1), 2, SID1);
    let query = format!("EIO=4&transport=polling&sid={SID1}");
    let request = head(Method::Post, &query).with_content_type("application/octet-stream");
    server.handle_request(t(2), RequestId(3), request).unwrap();
    let out = transmits(&mut server);
    assert_eq!(expect_response(&out[0], 3).status, 400);
    assert_eq!(expect_response(&out[1], 2).body_text(), "1");
    assert_eq!(
        events(&mut server),
        vec![closed(SID1, CloseReason::TransportError)]
    );
}

#[test]
fn aborted_get_closes_with_transport_error() {
    let mut server = server(Config::default());
    open_polling(&mut server, t(0), 1, "EIO=4&transport=polling");
    get(&mut server, t(1), 2, SID1);
    server.handle_request_aborted(t(2), RequestId(2)).unwrap();
    assert!(transmits(&mut server).is_empty());
    assert_eq!(
        events(&mut server),
        vec![closed(SID1, CloseReason::TransportError)]
    );
    assert_eq!(
        server.handle_request_aborted(t(3), RequestId(2)),
        Err(Error::UnknownRequest)
    );
}

#[test]
fn aborted_post_closes_with_transport_error() {
    let mut server = server(Config::default());
    open_polling(&mut server, t(0), 1, "EIO=4&transport=polling");
    let query = format!("EIO=4&transport=polling&sid={SID1}");
    server
        .handle_request(t(1), RequestId(2), head(Method::Post, &query))
        .unwrap();
    let _ = transmits(&mut server);
    server.handle_request_aborted(t(2), RequestId(2)).unwrap();
    assert_eq!(
        events(&mut server),
        vec![closed(SID1, CloseReason::TransportError)]
    );
}

#[test]
fn client_close_packet_closes_and_pending_get_gets_noop() {
    let mut server = server(Config::default());
    open_polling(&mut server, t(0), 1, "EIO=4&transport=polling");
    get(&mut server, t(1), 2, SID1);
    let out = post(&mut server, t(2), 3, SID1, b"4bye\x1e1\x1e4ignored");
    assert_eq!(out.len(), 2, "{out:?}");
    assert_eq!(expect_response(&out[0], 2).body_text(), "6");
    assert_eq!(expect_response(&out[1], 3).body_text(), "ok");
    assert_eq!(
        events(&mut server),
        vec![
            Event::Message {
                sid: SID1.into(),
                data: "bye".into()
            },
            closed(SID1, CloseReason::TransportClose),
        ]
    );
    // The session is gone: code 1.
    get(&mut server, t(3), 4, SID1);
    assert_eq!(
        response_to(&mut server, 4).body_text(),
        error_body(1, "Session ID unknown")
    );
}

/// The official v3 suite's "forcefully closes the session", GET taken first: the held GET is
/// answered `1:6` when the POST `1:1` closes the session, and the next GET is refused.
#[test]
fn v3_client_close_with_the_get_held_first_answers_it_with_a_noop() {
    let config = Config {
        allow_eio3: true,
        cors: Some(Cors::new(CorsOrigin::Any)),
        ..Config::default()
    };
    let mut server = server(config);
    open_polling(&mut server, t(0), 1, "EIO=3&transport=polling");
    let v3 = format!("EIO=3&transport=polling&sid={SID1}");
    server
        .handle_request(t(1), RequestId(2), head(Method::Get, &v3))
        .unwrap();
    assert!(transmits(&mut server).is_empty(), "the GET is held");
    let out = post_with(&mut server, t(2), 3, &v3, None, b"1:1");
    assert_eq!(out.len(), 2, "{out:?}");
    let poll = expect_response(&out[0], 2);
    assert_eq!((poll.status, poll.body_text()), (200, "1:6"));
    assert_eq!(
        poll.header("Content-Type"),
        Some("text/plain; charset=UTF-8")
    );
    assert_eq!(poll.header("Access-Control-Allow-Origin"), Some("*"));
    assert_eq!(expect_response(&out[1], 3).body_text(), "ok");
    assert_eq!(
        events(&mut server),
        vec![closed(SID1, CloseReason::TransportClose)]
    );
    assert!(!server.contains(SID1));
    assert_eq!(server.poll_timeout(), None);
    // The held GET had the noop: the next one, however soon, is refused.
    server
        .handle_request(t(3), RequestId(4), head(Method::Get, &v3))
        .unwrap();
    let after = response_to(&mut server, 4);
    assert_eq!(after.status, 400);
    assert_eq!(after.body_text(), error_body(1, "Session ID unknown"));
}

/// The same exchange with the POST taken first (the two requests travel on two connections):
/// the GET that crossed the close gets the noop the held GET would have had, once; the next
/// GET is refused. The reference answers such a late GET `400`, the answer of the other
/// order; the official suite expects this one. v3 (`1:1` → `1:6`) and v4 (`1` → `6`).
#[test]
fn client_close_with_the_post_taken_first_answers_the_crossing_get_with_a_noop() {
    let config = Config {
        allow_eio3: true,
        cors: Some(Cors::new(CorsOrigin::Any)),
        ..Config::default()
    };
    for (eio, close, noop) in [("3", "1:1", "1:6"), ("4", "1", "6")] {
        let mut server = server(config.clone());
        open_polling(
            &mut server,
            t(0),
            1,
            &format!("EIO={eio}&transport=polling"),
        );
        let query = format!("EIO={eio}&transport=polling&sid={SID1}");
        let out = post_with(&mut server, t(10), 2, &query, None, close.as_bytes());
        assert_eq!(out.len(), 1, "{out:?}");
        assert_eq!(expect_response(&out[0], 2).body_text(), "ok");
        // The session is closed at once.
        assert_eq!(
            events(&mut server),
            vec![closed(SID1, CloseReason::TransportClose)]
        );
        assert!(!server.contains(SID1));
        assert_eq!(server.session_count(), 0);
        assert_eq!(server.poll_timeout(), None);
        assert_eq!(server.send(SID1, "x".into()), Err(Error::UnknownSession));
        // Neither a POST nor a plain GET asking for a WebSocket is that GET: refused, and the
        // noop is still owed.
        server
            .handle_request(t(11), RequestId(3), head(Method::Post, &query))
            .unwrap();
        assert_eq!(
            response_to(&mut server, 3).body_text(),
            error_body(1, "Session ID unknown")
        );
        let websocket_query = format!("EIO={eio}&transport=websocket&sid={SID1}");
        server
            .handle_request(t(11), RequestId(4), head(Method::Get, &websocket_query))
            .unwrap();
        assert_eq!(response_to(&mut server, 4).status, 400);
        // The crossing GET.
        server
            .handle_request(t(12), RequestId(5), head(Method::Get, &query))
            .unwrap();
        let poll = response_to(&mut server, 5);
        assert_eq!((poll.status, poll.body_text()), (200, noop), "EIO={eio}");
        assert_eq!(
            poll.headers,
            vec![
                ("Content-Type", "text/plain; charset=UTF-8".into()),
                ("Cache-Control", "no-store".into()),
                ("Access-Control-Allow-Origin", "*".into()),
            ]
        );
        // Only once.
        server
            .handle_request(t(13), RequestId(6), head(Method::Get, &query))
            .unwrap();
        let after = response_to(&mut server, 6);
        assert_eq!(after.status, 400, "EIO={eio}");
        assert_eq!(after.body_text(), error_body(1, "Session ID unknown"));
        assert!(events(&mut server).is_empty());
    }
}

/// The noop of a GET crossing the client's close is owed for two seconds only.
#[test]
fn the_noop_owed_after_a_client_close_expires_after_two_seconds() {
    let mut server = server(Config::default());
    open_polling(&mut server, t(0), 1, "EIO=4&transport=polling");
    open_polling(&mut server, t(0), 2, "EIO=4&transport=polling");
    let _ = post(&mut server, t(1_000), 3, SID1, b"1");
    let _ = post(&mut server, t(1_000), 4, SID2, b"1");
    assert_eq!(events(&mut server).len(), 2);
    get(&mut server, t(2_999), 5, SID1);
    assert_eq!(response_to(&mut server, 5).body_text(), "6");
    // At the deadline, through a timer run or on the next request alike.
    server.handle_timeout(t(3_000));
    get(&mut server, t(3_000), 6, SID2);
    assert_eq!(
        response_to(&mut server, 6).body_text(),
        error_body(1, "Session ID unknown")
    );
    // A client close over WebSocket owes nothing to polling.
    websocket(&mut server, t(4_000), 1, "EIO=4&transport=websocket");
    let _ = transmits(&mut server);
    let _ = events(&mut server);
    frame(&mut server, t(4_001), 1, "1");
    let _ = transmits(&mut server);
    assert!(matches!(
        &events(&mut server)[..],
        [Event::Closed {
            reason: CloseReason::TransportClose,
            ..
        }]
    ));
    let query = "EIO=4&transport=polling&sid=AwMDAwMDAwMDAwMDAwMD";
    server
        .handle_request(t(4_002), RequestId(7), head(Method::Get, query))
        .unwrap();
    assert_eq!(response_to(&mut server, 7).status, 400);
}

#[test]
fn invalid_payload_delivers_the_packets_before_it_then_parse_error() {
    let mut server = server(Config::default());
    open_polling(&mut server, t(0), 1, "EIO=4&transport=polling");
    let out = post(&mut server, t(1), 2, SID1, b"4first\x1e9bad\x1e4never");
    assert_eq!(expect_response(&out[0], 2).status, 200);
    assert_eq!(
        events(&mut server),
        vec![
            Event::Message {
                sid: SID1.into(),
                data: "first".into()
            },
            closed(SID1, CloseReason::ParseError),
        ]
    );
}

#[test]
fn client_ping_in_v4_is_a_transport_error() {
    let mut server = server(Config::default());
    open_polling(&mut server, t(0), 1, "EIO=4&transport=polling");
    let _ = post(&mut server, t(1), 2, SID1, b"2");
    assert_eq!(
        events(&mut server),
        vec![closed(SID1, CloseReason::TransportError)]
    );
}

#[test]
fn v4_ping_schedule_and_timeout_fire_at_the_configured_instants() {
    let mut server = server(Config::default());
    open_polling(&mut server, t(0), 1, "EIO=4&transport=polling");
    get(&mut server, t(100), 2, SID1);
    assert_eq!(server.poll_timeout(), Some(t(25_000)));
    server.handle_timeout(t(24_999));
    assert!(transmits(&mut server).is_empty());
    server.handle_timeout(t(25_000));
    assert_eq!(response_to(&mut server, 2).body_text(), "2");
    assert_eq!(server.poll_timeout(), Some(t(45_000)));
    // The pong at 30 s moves the next ping to 55 s.
    let _ = post(&mut server, t(30_000), 3, SID1, b"3");
    assert_eq!(server.poll_timeout(), Some(t(55_000)));
    // Over polling the ping waits for the next GET.
    server.handle_timeout(t(55_000));
    assert!(transmits(&mut server).is_empty());
    get(&mut server, t(56_000), 4, SID1);
    assert_eq!(response_to(&mut server, 4).body_text(), "2");
    // No pong: closed at exactly 56 s + 20 s (the client's time counts from the GET that
    // carried the ping, not from when it was due).
    assert_eq!(server.poll_timeout(), Some(t(76_000)));
    get(&mut server, t(56_001), 5, SID1);
    server.handle_timeout(t(75_999));
    assert!(events(&mut server).is_empty());
    server.handle_timeout(t(76_000));
    assert_eq!(response_to(&mut server, 5).body_text(), "1");
    assert_eq!(
        events(&mut server),
        vec![closed(SID1, CloseReason::PingTimeout)]
    );
    assert_eq!(server.poll_timeout(), None);
}

#[test]
fn a_late_timer_does_not_eat_into_the_pong_time() {
    let mut server = server(Config::default());
    open_polling(&mut server, t(0), 1, "EIO=4&transport=polling");
    get(&mut server, t(100), 2, SID1);
    // The ping was due at 25 s; the timer runs 3 s late and the held GET takes it then.
    server.handle_timeout(t(28_000));
    assert_eq!(response_to(&mut server, 2).body_text(), "2");
    assert_eq!(server.poll_timeout(), Some(t(48_000)));
    get(&mut server, t(28_001), 3, SID1);
    // Answered 19.9 s after the ping went out: alive.
    let _ = post(&mut server, t(47_900), 4, SID1, b"3");
    server.handle_timeout(t(48_000));
    assert!(events(&mut server).is_empty());
}

#[test]
fn a_ping_no_get_takes_ends_the_session_after_interval_plus_timeout() {
    let mut server = server(Config::default());
    open_polling(&mut server, t(0), 1, "EIO=4&transport=polling");
    // No GET is held when the ping is due: it waits, and the session ends only if no GET
    // comes for pingInterval + pingTimeout.
    server.handle_timeout(t(25_000));
    assert_eq!(server.poll_timeout(), Some(t(70_000)));
    server.handle_timeout(t(69_999));
    assert!(events(&mut server).is_empty());
    server.handle_timeout(t(70_000));
    assert_eq!(
        events(&mut server),
        vec![closed(SID1, CloseReason::PingTimeout)]
    );
}

#[test]
fn a_post_body_that_never_arrives_gets_408_and_closes_the_session() {
    let config = Config {
        request_timeout: std::time::Duration::from_millis(5_000),
        ..Config::default()
    };
    let mut server = server(config);
    open_polling(&mut server, t(0), 1, "EIO=4&transport=polling");
    let query = format!("EIO=4&transport=polling&sid={SID1}");
    server
        .handle_request(t(10), RequestId(2), head(Method::Post, &query))
        .unwrap();
    assert!(matches!(
        transmits(&mut server).as_slice(),
        [Transmit::ReadBody {
            request: RequestId(2),
            ..
        }]
    ));
    assert_eq!(server.poll_timeout(), Some(t(5_010)));
    server.handle_timeout(t(5_010));
    let response = response_to(&mut server, 2);
    assert_eq!(response.status, 408);
    assert!(
        response
            .headers
            .iter()
            .any(|(name, value)| *name == "connection" && value == "close")
    );
    assert_eq!(
        events(&mut server),
        vec![closed(SID1, CloseReason::TransportError)]
    );
    // The body arriving afterwards is for a request the core no longer knows.
    assert!(
        server
            .handle_request_body(t(5_011), RequestId(2), Bytes::from_static(b"4x"))
            .is_err()
    );
}

#[test]
fn v3_client_pings_server_pongs_and_times_out() {
    let config = Config {
        allow_eio3: true,
        ..Config::default()
    };
    let mut server = server(config);
    let open = open_polling(&mut server, t(0), 1, "EIO=3&transport=polling");
    let json = &OPEN1[1..];
    assert_eq!(open.body_text(), format!("{}:0{json}", json.len() + 1));
    assert_eq!(server.protocol_of(SID1), Some(ProtocolVersion::V3));
    // No server ping; the deadline is pingInterval + pingTimeout.
    assert_eq!(server.poll_timeout(), Some(t(45_000)));
    let v3 = format!("EIO=3&transport=polling&sid={SID1}");
    let out = post_with(
        &mut server,
        t(10_000),
        2,
        &v3,
        Some("text/plain;charset=UTF-8"),
        b"1:2",
    );
    assert_eq!(expect_response(&out[0], 2).body_text(), "ok");
    assert_eq!(server.poll_timeout(), Some(t(55_000)));
    server
        .handle_request(t(10_001), RequestId(3), head(Method::Get, &v3))
        .unwrap();
    assert_eq!(response_to(&mut server, 3).body_text(), "1:3");
    // A v3 message round trip, text payload with UTF-16 lengths.
    let _ = post_with(&mut server, t(10_002), 4, &v3, None, "2:4€".as_bytes());
    assert_eq!(
        events(&mut server),
        vec![Event::Message {
            sid: SID1.into(),
            data: "€".into()
        }]
    );
    server.handle_timeout(t(54_999));
    assert!(events(&mut server).is_empty());
    server.handle_timeout(t(55_000));
    assert_eq!(
        events(&mut server),
        vec![closed(SID1, CloseReason::PingTimeout)]
    );
}

#[test]
fn v3_pong_from_client_is_a_transport_error() {
    let config = Config {
        allow_eio3: true,
        ..Config::default()
    };
    let mut server = server(config);
    open_polling(&mut server, t(0), 1, "EIO=3&transport=polling");
    let v3 = format!("EIO=3&transport=polling&sid={SID1}");
    let _ = post_with(&mut server, t(1), 2, &v3, None, b"1:3");
    assert_eq!(
        events(&mut server),
        vec![closed(SID1, CloseReason::TransportError)]
    );
}

#[test]
fn v3_binary_bodies_unless_b64() {
    let config = Config {
        allow_eio3: true,
        ..Config::default()
    };
    let mut server = server(config);
    open_polling(&mut server, t(0), 1, "EIO=3&transport=polling");
    open_polling(&mut server, t(0), 2, "EIO=3&transport=polling&b64=1");
    for (request, sid) in [(3, SID1), (4, SID2)] {
        server.send(sid, "hello".into()).unwrap();
        server
            .send(sid, Data::Binary(Bytes::from_static(&[1, 2, 3, 4])))
            .unwrap();
        let query = format!("EIO=3&transport=polling&sid={sid}");
        server
            .handle_request(t(1), RequestId(request), head(Method::Get, &query))
            .unwrap();
    }
    let out = transmits(&mut server);
    let binary = expect_response(&out[0], 3);
    assert_eq!(
        binary.header("Content-Type"),
        Some("application/octet-stream")
    );
    assert_eq!(
        &binary.body[..],
        &[
            0, 6, 255, 52, 104, 101, 108, 108, 111, 1, 5, 255, 4, 1, 2, 3, 4
        ]
    );
    let text = expect_response(&out[1], 4);
    assert_eq!(
        text.header("Content-Type"),
        Some("text/plain; charset=UTF-8")
    );
    assert_eq!(text.body_text(), "6:4hello10:b4AQIDBA==");
    // A v3 XHR2 binary POST.
    let out = post_with(
        &mut server,
        t(3),
        6,
        &format!("EIO=3&transport=polling&sid={SID1}"),
        Some("application/octet-stream"),
        &[
            0, 6, 255, 52, 104, 101, 108, 108, 111, 1, 5, 255, 4, 1, 2, 3, 4,
        ],
    );
    assert_eq!(expect_response(&out[0], 6).body_text(), "ok");
    assert_eq!(
        events(&mut server),
        vec![
            Event::Message {
                sid: SID1.into(),
                data: "hello".into()
            },
            Event::Message {
                sid: SID1.into(),
                data: Data::Binary(Bytes::from_static(&[1, 2, 3, 4]))
            },
        ]
    );
}

#[test]
fn server_close_with_a_pending_get_answers_close() {
    let mut server = server(Config::default());
    open_polling(&mut server, t(0), 1, "EIO=4&transport=polling");
    get(&mut server, t(1), 2, SID1);
    server.close(t(2), SID1).unwrap();
    assert_eq!(response_to(&mut server, 2).body_text(), "1");
    assert_eq!(
        events(&mut server),
        vec![closed(SID1, CloseReason::ForcedClose)]
    );
    assert_eq!(server.close(t(3), SID1), Err(Error::UnknownSession));
}

#[test]
fn server_close_without_a_get_waits_for_one() {
    let mut server = server(Config::default());
    open_polling(&mut server, t(0), 1, "EIO=4&transport=polling");
    server.send(SID1, "last".into()).unwrap();
    server.close(t(2), SID1).unwrap();
    assert_eq!(server.send(SID1, "more".into()), Err(Error::SessionClosing));
    assert!(events(&mut server).is_empty());
    // The heartbeat keeps running while the close waits for a GET.
    assert_eq!(server.poll_timeout(), Some(t(25_000)));
    get(&mut server, t(5), 2, SID1);
    assert_eq!(response_to(&mut server, 2).body_text(), "4last\u{1e}1");
    assert_eq!(
        events(&mut server),
        vec![closed(SID1, CloseReason::ForcedClose)]
    );
}

#[test]
fn server_close_safety_timer_fires_after_thirty_seconds() {
    let mut server = server(Config::default());
    open_polling(&mut server, t(0), 1, "EIO=4&transport=polling");
    server.close(t(1_000), SID1).unwrap();
    server.handle_timeout(t(30_999));
    assert!(events(&mut server).is_empty());
    server.handle_timeout(t(31_000));
    assert_eq!(
        events(&mut server),
        vec![closed(SID1, CloseReason::ForcedClose)]
    );
}

#[test]
fn send_errors() {
    let config = Config {
        max_buffered_packets: 2,
        ..Config::default()
    };
    let mut server = server(config);
    assert_eq!(server.send(SID1, "x".into()), Err(Error::UnknownSession));
    assert_eq!(server.send("short", "x".into()), Err(Error::UnknownSession));
    open_polling(&mut server, t(0), 1, "EIO=4&transport=polling");
    server.send(SID1, "a".into()).unwrap();
    server.send(SID1, "b".into()).unwrap();
    assert_eq!(server.send(SID1, "c".into()), Err(Error::QueueFull));
    get(&mut server, t(1), 2, SID1);
    assert_eq!(response_to(&mut server, 2).body_text(), "4a\u{1e}4b");
    server.send(SID1, "c".into()).unwrap();
}

#[test]
fn cors_preflight_is_204_with_headers() {
    let config = Config {
        cors: Some(Cors {
            credentials: true,
            ..Cors::new(CorsOrigin::List(vec!["https://app.example".into()]))
        }),
        ..Config::default()
    };
    let mut server = server(config);
    let request = head(Method::Options, "EIO=4&transport=polling")
        .with_origin("https://app.example")
        .with_access_control_request_headers("content-type");
    server.handle_request(t(0), RequestId(1), request).unwrap();
    let response = response_to(&mut server, 1);
    assert_eq!(response.status, 204);
    assert!(response.body.is_empty());
    assert_eq!(
        response.headers,
        vec![
            ("Access-Control-Allow-Origin", "https://app.example".into()),
            ("Access-Control-Allow-Credentials", "true".into()),
            (
                "Access-Control-Allow-Methods",
                "GET,HEAD,PUT,PATCH,POST,DELETE".into()
            ),
            ("Access-Control-Allow-Headers", "content-type".into()),
            ("Vary", "Origin, Access-Control-Request-Headers".into()),
        ]
    );
    // The handshake carries the simple headers; a foreign origin gets no Allow-Origin.
    let request = head(Method::Get, "EIO=4&transport=polling").with_origin("https://app.example");
    server.handle_request(t(1), RequestId(2), request).unwrap();
    let response = response_to(&mut server, 2);
    assert_eq!(
        response.header("Access-Control-Allow-Origin"),
        Some("https://app.example")
    );
    assert_eq!(
        response.header("Access-Control-Allow-Credentials"),
        Some("true")
    );
    assert_eq!(response.header("Vary"), Some("Origin"));
    let request = head(Method::Get, "EIO=4").with_origin("https://evil.example");
    server.handle_request(t(1), RequestId(3), request).unwrap();
    let response = response_to(&mut server, 3);
    assert_eq!(response.status, 400);
    assert_eq!(response.header("Access-Control-Allow-Origin"), None);
    assert_eq!(
        response.header("Access-Control-Allow-Credentials"),
        Some("true")
    );
}

#[test]
fn cors_any_origin() {
    let config = Config {
        cors: Some(Cors::new(CorsOrigin::Any)),
        ..Config::default()
    };
    let mut server = server(config);
    let response = open_polling(&mut server, t(0), 1, "EIO=4&transport=polling");
    assert_eq!(response.header("Access-Control-Allow-Origin"), Some("*"));
    assert_eq!(response.header("Vary"), None);
    let _ = post(&mut server, t(1), 2, SID1, b"4x");
    get(&mut server, t(1), 3, SID1);
    server.send(SID1, "y".into()).unwrap();
    assert_eq!(
        response_to(&mut server, 3).header("Access-Control-Allow-Origin"),
        Some("*")
    );
}

#[test]
fn session_cookie_on_the_handshake_only() {
    let config = Config {
        cookie: Some(SessionCookie::default()),
        ..Config::default()
    };
    let mut server = server(config);
    let response = open_polling(&mut server, t(0), 1, "EIO=4&transport=polling");
    assert_eq!(
        response.header("Set-Cookie"),
        Some("io=AQEBAQEBAQEBAQEBAQEB; Path=/; HttpOnly; SameSite=Lax")
    );
    get(&mut server, t(1), 2, SID1);
    server.send(SID1, "x".into()).unwrap();
    assert_eq!(response_to(&mut server, 2).header("Set-Cookie"), None);
}

#[test]
fn allow_request_refusal_is_403_code_4() {
    let config = Config {
        verify_handshakes: true,
        ..Config::default()
    };
    let mut server = server(config);
    server
        .handle_request(
            t(0),
            RequestId(1),
            head(Method::Get, "EIO=4&transport=polling"),
        )
        .unwrap();
    assert!(transmits(&mut server).is_empty());
    let transport = TransportId::Polling(RequestId(1));
    assert!(matches!(
        &events(&mut server)[..],
        [Event::HandshakeRequest { transport: asked, .. }] if *asked == transport
    ));
    server
        .refuse_handshake(t(1), transport, Some("no \"thanks\""))
        .unwrap();
    let response = response_to(&mut server, 1);
    assert_eq!(response.status, 403);
    assert_eq!(response.header("Content-Type"), Some("application/json"));
    assert_eq!(
        response.body_text(),
        "{\"code\":4,\"message\":\"no \\\"thanks\\\"\"}"
    );
    assert_eq!(server.session_count(), 0);
    // Without a message: Forbidden.
    server
        .handle_request(
            t(2),
            RequestId(2),
            head(Method::Get, "EIO=4&transport=polling"),
        )
        .unwrap();
    let _ = events(&mut server);
    server
        .refuse_handshake(t(3), TransportId::Polling(RequestId(2)), None)
        .unwrap();
    assert_eq!(
        response_to(&mut server, 2).body_text(),
        error_body(4, "Forbidden")
    );
    assert_eq!(
        server.accept_handshake(t(3), TransportId::Polling(RequestId(2))),
        Err(Error::UnknownHandshake)
    );
}

#[test]
fn allow_request_acceptance_opens_the_session() {
    let config = Config {
        verify_handshakes: true,
        ..Config::default()
    };
    let mut server = server(config);
    server
        .handle_request(
            t(0),
            RequestId(1),
            head(Method::Get, "EIO=4&transport=polling"),
        )
        .unwrap();
    let _ = events(&mut server);
    server
        .accept_handshake(t(50), TransportId::Polling(RequestId(1)))
        .unwrap();
    assert_eq!(response_to(&mut server, 1).body_text(), OPEN1);
    assert!(matches!(&events(&mut server)[..], [Event::Opened(_)]));
    // The heartbeat starts at the verdict.
    assert_eq!(server.poll_timeout(), Some(t(25_050)));
    // An aborted pending handshake is forgotten.
    server
        .handle_request(
            t(60),
            RequestId(2),
            head(Method::Get, "EIO=4&transport=polling"),
        )
        .unwrap();
    let _ = events(&mut server);
    server.handle_request_aborted(t(61), RequestId(2)).unwrap();
    assert_eq!(
        server.accept_handshake(t(62), TransportId::Polling(RequestId(2))),
        Err(Error::UnknownHandshake)
    );
}

#[test]
fn polling_only_server_offers_no_upgrade() {
    let config = Config {
        transports: vec![socketio_protocol::engine::server::TransportKind::Polling],
        ..Config::default()
    };
    let mut server = server(config);
    let response = open_polling(&mut server, t(0), 1, "EIO=4&transport=polling");
    assert!(response.body_text().contains("\"upgrades\":[]"));
}
