//! Helpers shared by the Engine.IO server tests: a server with predictable ids, request
//! shortcuts, and output draining.
#![allow(dead_code)]

use bytes::Bytes;
use socketio_protocol::Instant;
use socketio_protocol::engine::Frame;
use socketio_protocol::engine::server::{
    Config, ConnectionId, Event, Method, RequestHead, RequestId, Response, Server, Transmit,
};

/// The first session id (`[1; 15]` in base64url).
pub const SID1: &str = "AQEBAQEBAQEBAQEBAQEB";
/// The second session id (`[2; 15]`).
pub const SID2: &str = "AgICAgICAgICAgICAgIC";

/// The open packet of session `SID1` over polling with the default options.
pub const OPEN1: &str = "0{\"sid\":\"AQEBAQEBAQEBAQEBAQEB\",\"upgrades\":[\"websocket\"],\
                         \"pingInterval\":25000,\"pingTimeout\":20000,\"maxPayload\":1000000}";

/// Milliseconds as an instant.
pub fn t(ms: u64) -> Instant {
    Instant::from_millis(ms)
}

/// A server whose id generator yields `[1; 15]`, `[2; 15]`, ...
pub fn server(config: Config) -> Server {
    let mut next = 0u8;
    Server::new(config, move || {
        next = next.wrapping_add(1);
        [next; 15]
    })
}

/// A request head on the default path.
pub fn head(method: Method, query: &str) -> RequestHead {
    RequestHead::new(method, "/engine.io/", String::from(query))
}

/// Everything `poll_transmit` has.
pub fn transmits(server: &mut Server) -> Vec<Transmit> {
    std::iter::from_fn(|| server.poll_transmit()).collect()
}

/// Everything `poll_event` has.
pub fn events(server: &mut Server) -> Vec<Event> {
    std::iter::from_fn(|| server.poll_event()).collect()
}

/// The single transmit queued, which must answer `request`.
pub fn response_to(server: &mut Server, request: u64) -> Response {
    let out = transmits(server);
    assert_eq!(out.len(), 1, "expected one transmit, got {out:?}");
    expect_response(&out[0], request)
}

/// `transmit` must answer `request`; its response.
pub fn expect_response(transmit: &Transmit, request: u64) -> Response {
    match transmit {
        Transmit::Response {
            request: id,
            response,
        } if *id == RequestId(request) => response.clone(),
        other => panic!("expected a response to request {request}, got {other:?}"),
    }
}

/// `transmit` must be a text frame on `connection`; its text.
pub fn expect_text_frame(transmit: &Transmit, connection: u64) -> String {
    match transmit {
        Transmit::Frame {
            connection: id,
            frame: Frame::Text(text),
        } if *id == ConnectionId(connection) => text.to_string(),
        other => panic!("expected a text frame on {connection}, got {other:?}"),
    }
}

/// Polling handshake with request id `request`; returns the open response and drains events.
pub fn open_polling(server: &mut Server, now: Instant, request: u64, query: &str) -> Response {
    server
        .handle_request(now, RequestId(request), head(Method::Get, query))
        .unwrap();
    let response = response_to(server, request);
    let _ = events(server);
    response
}

/// A GET for `sid` (v4 polling).
pub fn get(server: &mut Server, now: Instant, request: u64, sid: &str) {
    let query = format!("EIO=4&transport=polling&sid={sid}");
    server
        .handle_request(now, RequestId(request), head(Method::Get, &query))
        .unwrap();
}

/// A POST for `sid` (v4 polling) with `body`; returns what followed the body.
pub fn post(
    server: &mut Server,
    now: Instant,
    request: u64,
    sid: &str,
    body: &[u8],
) -> Vec<Transmit> {
    post_with(
        server,
        now,
        request,
        &format!("EIO=4&transport=polling&sid={sid}"),
        None,
        body,
    )
}

/// A POST with a query, an optional content type and a body; returns what followed the body.
pub fn post_with(
    server: &mut Server,
    now: Instant,
    request: u64,
    query: &str,
    content_type: Option<&str>,
    body: &[u8],
) -> Vec<Transmit> {
    let mut head = head(Method::Post, query);
    if let Some(content_type) = content_type {
        head = head.with_content_type(String::from(content_type));
    }
    server
        .handle_request(now, RequestId(request), head)
        .unwrap();
    let out = transmits(server);
    assert_eq!(
        out,
        vec![Transmit::ReadBody {
            request: RequestId(request),
            limit: server.config().max_payload
        }]
    );
    server
        .handle_request_body(now, RequestId(request), Bytes::copy_from_slice(body))
        .unwrap();
    transmits(server)
}

/// A WebSocket upgrade request on `connection`.
pub fn websocket(server: &mut Server, now: Instant, connection: u64, query: &str) {
    server
        .handle_websocket(now, ConnectionId(connection), head(Method::Get, query))
        .unwrap();
}

/// A text frame from the client on `connection`.
pub fn frame(server: &mut Server, now: Instant, connection: u64, text: &str) {
    server
        .handle_frame(
            now,
            ConnectionId(connection),
            Frame::Text(String::from(text).into()),
        )
        .unwrap();
}
