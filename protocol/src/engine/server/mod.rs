//! The sans-IO Engine.IO server: HTTP request classification, sessions, and the session table.
//!
//! Two layers, usable apart: a [`Router`] classifies requests and upgrades from their heads
//! (path, CORS, query, the reference's `verify`), answers errors and preflights, runs
//! handshakes and opens sessions; one [`Session`] machine per session owns its transports,
//! buffer, heartbeat, upgrade and close, with its own outputs and timers. A driver that keeps
//! each session behind its own lock routes with the router (`RequestRoute::Session`,
//! `UpgradeRoute::Session`) and feeds the session directly. [`Server`] composes the two with
//! a session table and one set of timers:
//!
//! One [`Server`] drives every session and every transport. The caller names transports:
//! a [`RequestId`] per HTTP request (polling GET or POST, handshake) and a [`ConnectionId`] per
//! WebSocket, from its upgrade request on. It feeds inputs, issues commands, and after each of
//! them drains the outputs:
//!
//! - inputs: [`Server::handle_request`] (+ [`Server::handle_request_body`] when asked with
//!   [`Transmit::ReadBody`], [`Server::handle_request_aborted`]), [`Server::handle_websocket`],
//!   [`Server::handle_frame`], [`Server::handle_websocket_closed`] /
//!   [`Server::handle_websocket_error`], [`Server::handle_timeout`];
//! - commands: [`Server::send`], [`Server::close`], [`Server::accept_handshake`],
//!   [`Server::refuse_handshake`] (the `allowRequest` hook, when
//!   [`Config::verify_handshakes`] is on);
//! - outputs: [`Server::poll_transmit`] (responses, frames, WebSocket accepts and closes, in
//!   the order they must be written), [`Server::poll_event`] (opened, message, upgraded,
//!   closed), [`Server::poll_timeout`] (when to call `handle_timeout` next).
//!
//! A held polling GET is answered later through `poll_transmit`, with its `RequestId`. Peers
//! never cause a panic: a violation closes the session with a [`CloseReason`]; API misuse
//! returns an [`Error`]. Responses carry no `Content-Length`: the runtime sets it from the body.
//!
//! Memory: a polling session buffers at most [`Config::max_buffered_packets`] messages
//! ([`Server::send`] then fails with [`Error::QueueFull`]); POST bodies are capped at
//! `max_payload` (`413` beyond); WebSocket frames leave at once, so the transmit queue only
//! grows until the caller drains it.
//!
//! ```
//! use socketio_protocol::Instant;
//! use socketio_protocol::engine::server::{
//!     Config, Event, Method, RequestHead, RequestId, Server, Transmit,
//! };
//!
//! let mut server = Server::new(Config::default(), || [7; 15]);
//! let now = Instant::ZERO;
//! // A polling handshake arrives.
//! let head = RequestHead::new(Method::Get, "/engine.io/", "EIO=4&transport=polling");
//! server.handle_request(now, RequestId(1), head).unwrap();
//!
//! // Drain the outputs after every input or command.
//! while let Some(transmit) = server.poll_transmit() {
//!     match transmit {
//!         Transmit::Response { request, response } => {
//!             // write `response` (status, headers, body) to HTTP request `request`
//!             assert_eq!((request, response.status), (RequestId(1), 200));
//!             assert!(response.body_text().starts_with("0{\"sid\":\"BwcHBwcHBwcHBwcHBwcH\""));
//!         }
//!         Transmit::Frame { connection, frame } => { /* write `frame` to the WebSocket */ }
//!         _ => { /* ReadBody, Abort, AcceptWebSocket, RefuseWebSocket, CloseWebSocket */ }
//!     }
//! }
//! while let Some(event) = server.poll_event() {
//!     if let Event::Opened(handshake) = event {
//!         server.send(&handshake.sid, "welcome".into()).unwrap();
//!     }
//! }
//! // Sleep until the next timer (here the first ping, 25 s later), then run it.
//! let wake_at = server.poll_timeout().unwrap();
//! assert_eq!(wake_at, Instant::from_millis(25_000));
//! server.handle_timeout(wake_at);
//! ```

mod config;
mod cors;
mod http;
mod machine;
mod router;
mod session;
mod session_machine;

pub use config::{Config, SameSite, SessionCookie, TransportKind};
pub use cors::{Cors, CorsOrigin};
pub use http::{
    ConnectionId, ErrorCode, Header, Method, RequestHead, RequestId, Response, TransportId,
};
pub use machine::{Error, Event, Handshake, PreparedMessage, Server, Transmit};
pub use router::{RequestRoute, Router, UpgradeRoute};
pub use session_machine::Session;

#[cfg(doc)]
use crate::engine::CloseReason;
