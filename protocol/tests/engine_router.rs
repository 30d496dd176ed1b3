//! The Engine.IO server split as a driver with a lock per session uses it: a `Router` that
//! classifies requests and opens sessions, and one `Session` machine per session with its own
//! outputs and timers. Wire strings in and out, virtual time.

mod engine_server_support;

use std::collections::BTreeMap;

use bytes::Bytes;
use engine_server_support::{OPEN1, SID1, head, t};
use socketio_protocol::engine::server::{
    Config, ConnectionId, Event, Method, RequestHead, RequestId, RequestRoute, Router, Session,
    Transmit, TransportKind, UpgradeRoute,
};
use socketio_protocol::engine::{CloseReason, Frame};

/// The sessions as a driver keeps them (here in a map; a server would lock each one).
#[derive(Default)]
struct Sessions(BTreeMap<String, Session>);

impl Sessions {
    fn lookup(&self) -> impl Fn(&str) -> Option<TransportKind> + '_ {
        |sid| self.0.get(sid).map(Session::transport)
    }

    fn get(&mut self, sid: &str) -> &mut Session {
        self.0.get_mut(sid).expect("a live session")
    }
}

fn router(config: Config) -> Router {
    let mut next = 0u8;
    Router::new(config, move || {
        next = next.wrapping_add(1);
        [next; 15]
    })
}

fn drain(session: &mut Session) -> (Vec<Transmit>, Vec<Event>) {
    (
        std::iter::from_fn(|| session.poll_transmit()).collect(),
        std::iter::from_fn(|| session.poll_event()).collect(),
    )
}

fn response_body(transmit: &Transmit) -> String {
    match transmit {
        Transmit::Response { response, .. } => response.body_text().to_owned(),
        other => panic!("expected a response, got {other:?}"),
    }
}

fn route(router: &mut Router, sessions: &Sessions, id: u64, head: RequestHead) -> RequestRoute {
    router.route_request(t(0), RequestId(id), head, sessions.lookup())
}

#[test]
fn a_session_lives_in_its_own_machine_behind_the_router() {
    let mut router = router(Config::default());
    let mut sessions = Sessions::default();
    // The handshake opens a session; its answer is in the session's outputs.
    let RequestRoute::Opened(session) = route(
        &mut router,
        &sessions,
        1,
        head(Method::Get, "EIO=4&transport=polling"),
    ) else {
        panic!("a handshake opens a session");
    };
    let mut session = *session;
    assert_eq!(session.sid().as_ref(), SID1);
    let (out, events) = drain(&mut session);
    assert_eq!(response_body(&out[0]), OPEN1);
    assert!(matches!(&events[..], [Event::Opened(_)]));
    sessions.0.insert(SID1.to_owned(), session);

    // A GET of that session is routed to it and held; a send answers it.
    let query = format!("EIO=4&transport=polling&sid={SID1}");
    let RequestRoute::Session {
        sid,
        method,
        binary,
        headers,
    } = route(&mut router, &sessions, 2, head(Method::Get, &query))
    else {
        panic!("routed to the session");
    };
    let session = sessions.get(&sid);
    session.handle_request(t(1), RequestId(2), method, binary, headers);
    assert!(drain(session).0.is_empty(), "held");
    session.send("hi".into()).unwrap();
    assert_eq!(response_body(&drain(session).0[0]), "4hi");

    // A POST is routed the same way; its body goes to the session.
    let RequestRoute::Session {
        sid,
        method,
        binary,
        headers,
    } = route(&mut router, &sessions, 3, head(Method::Post, &query))
    else {
        panic!("routed to the session");
    };
    let session = sessions.get(&sid);
    session.handle_request(t(2), RequestId(3), method, binary, headers);
    assert!(matches!(
        drain(session).0[..],
        [Transmit::ReadBody {
            request: RequestId(3),
            ..
        }]
    ));
    session
        .handle_request_body(t(3), RequestId(3), Bytes::from_static(b"4yo"))
        .unwrap();
    let (out, events) = drain(session);
    assert_eq!(response_body(&out[0]), "ok");
    assert_eq!(
        events,
        vec![Event::Message {
            sid: SID1.into(),
            data: "yo".into()
        }]
    );

    // Its timers are its own: the first ping is due 25 s after the handshake.
    assert_eq!(session.poll_timeout(), Some(t(25_000)));

    // An unknown session is answered by the router itself.
    let unknown = "EIO=4&transport=polling&sid=AAAAAAAAAAAAAAAAAAAA";
    assert!(matches!(
        route(&mut router, &sessions, 4, head(Method::Get, unknown)),
        RequestRoute::Router
    ));
    let answer = router.poll_transmit().unwrap();
    assert!(response_body(&answer).contains("Session ID unknown"));
}

#[test]
fn an_upgrade_is_routed_to_its_session_and_a_closed_poll_is_remembered_by_the_router() {
    let mut router = router(Config::default());
    let mut sessions = Sessions::default();
    let RequestRoute::Opened(session) = route(
        &mut router,
        &sessions,
        1,
        head(Method::Get, "EIO=4&transport=polling"),
    ) else {
        panic!("a handshake opens a session");
    };
    let mut session = *session;
    let _ = drain(&mut session);
    sessions.0.insert(SID1.to_owned(), session);

    let upgrade = format!("EIO=4&transport=websocket&sid={SID1}");
    let UpgradeRoute::Session { sid, headers } = router.route_websocket(
        t(10),
        ConnectionId(9),
        head(Method::Get, &upgrade),
        sessions.lookup(),
    ) else {
        panic!("routed to the session");
    };
    let session = sessions.get(&sid);
    session.handle_upgrade(t(10), ConnectionId(9), headers);
    assert!(matches!(
        drain(session).0[..],
        [Transmit::AcceptWebSocket {
            connection: ConnectionId(9),
            ..
        }]
    ));
    session
        .handle_frame(t(11), ConnectionId(9), Frame::Text("2probe".into()))
        .unwrap();
    session
        .handle_frame(t(12), ConnectionId(9), Frame::Text("5".into()))
        .unwrap();
    let (_, events) = drain(session);
    assert!(matches!(&events[..], [Event::Upgraded { .. }]));
    assert_eq!(session.transport(), TransportKind::WebSocket);

    // The peer goes: the session closes and is dropped by its driver.
    session
        .handle_websocket_gone(t(20), ConnectionId(9), CloseReason::TransportClose)
        .unwrap();
    assert!(session.is_closed());
    let session = sessions.0.remove(SID1).unwrap();
    router.session_closed(&session);
    let query = format!("EIO=4&transport=polling&sid={SID1}");
    assert!(matches!(
        route(&mut router, &sessions, 5, head(Method::Get, &query)),
        RequestRoute::Router
    ));
}
