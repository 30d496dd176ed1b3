//! [`Connection`]: one client connection of a Socket.IO server as one machine: its Engine.IO
//! [`Session`] and its Socket.IO [`ServerConnection`], composed under the handle/poll contract
//! of the other machines, with the rules that sit between the two:
//!
//! - engine messages go to the Socket.IO side, whose packets go back into the session, in
//!   order;
//! - **CONNECT ordering**: a namespace accepted with [`Connection::accept_connect_held`]
//!   keeps every packet of the connection (its CONNECT reply first) until
//!   [`Connection::release`]: a driver runs the application's connect handler in between, so
//!   that what it does (joining rooms, first emits) happens before the client sees the
//!   CONNECT, as in the reference, where the handler runs in the same tick;
//! - **slow consumers over polling**: a message the polling buffer cannot take (past its
//!   bounds in messages or bytes) closes the connection's sockets with `transport error` and
//!   closes the session (the reference has no bound: it grows without end);
//! - a protocol violation of the Socket.IO side closes the session;
//! - the engine session's close reaches every socket (`transport close`, `ping timeout`, …);
//! - one set of timers: [`poll_timeout`](Connection::poll_timeout) is the earlier of both.
//!
//! Inputs are the session's (requests, WebSocket frames and their end, timeouts: each
//! `handle_*` here forwards and then runs the composition), commands are the Socket.IO
//! side's, reached with [`Connection::socket_mut`] (or the few here that need the session
//! too); after each, drain [`poll_transmit`](Connection::poll_transmit) (what to write, as
//! the session gives it), then [`poll_event`](Connection::poll_event), then read
//! [`poll_timeout`](Connection::poll_timeout).
//!
//! ```
//! use socketio_protocol::connection::{Connection, Event};
//! use socketio_protocol::engine::server::{
//!     Config, ConnectionId, RequestHead, Method, Router, Transmit, UpgradeRoute,
//! };
//! use socketio_protocol::engine::Frame;
//! use socketio_protocol::socket::server::{Config as SocketConfig, Event as SocketEvent};
//! use socketio_protocol::{Instant, Str};
//!
//! let mut router = Router::new(Config::default(), || [1; 15]);
//! let head = RequestHead::new(Method::Get, "/engine.io/", "EIO=4&transport=websocket");
//! let UpgradeRoute::Opened(session) = router.route_websocket(Instant::ZERO, ConnectionId(1), head, |_| None)
//! else { unreachable!() };
//! let (mut conn, _handshake) =
//!     Connection::open(Instant::ZERO, *session, &SocketConfig::default(), || [2; 15]).unwrap();
//! while conn.poll_transmit().is_some() {} // the 101 and the open packet
//! conn.handle_frame(Instant::ZERO, ConnectionId(1), Frame::Text(Str::from("40"))).unwrap();
//! let Some(Event::Socket(SocketEvent::ConnectRequest { nsp, .. })) = conn.poll_event() else {
//!     unreachable!()
//! };
//! conn.accept_connect_held(&nsp).unwrap();
//! assert!(conn.poll_transmit().is_none(), "held until the connect handler ran");
//! conn.release();
//! assert!(matches!(conn.poll_transmit(), Some(Transmit::Frame { .. }))); // 40{"sid":…}
//! ```

use alloc::collections::VecDeque;

use bytes::Bytes;

use crate::engine::server::{
    ConnectionId, Error as EngineError, Event as EngineEvent, Handshake, Header, Method,
    PreparedMessage, RequestId, Session, Transmit,
};
use crate::engine::{CloseReason, Data, Frame};
use crate::socket::server::{Config, Error as SocketError, Event as SocketEvent, ServerConnection};
use crate::{Instant, Str};

/// What the application learns from a [`Connection`].
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Event {
    /// A Socket.IO event (a connect request, a socket's arrival or departure, an event, an
    /// ack, the closing of the connection).
    Socket(SocketEvent),
    /// The session moved to WebSocket `connection`.
    Upgraded {
        /// The WebSocket it carries on.
        connection: ConnectionId,
    },
    /// The engine session closed (its sockets' departures come as `Socket` events first).
    Closed {
        /// Why.
        reason: CloseReason,
    },
}

/// One client connection of a Socket.IO server: see the module docs.
#[derive(Debug)]
pub struct Connection {
    session: Session,
    socket: ServerConnection,
    /// Holds taken by [`accept_connect_held`](Self::accept_connect_held) and not released.
    held: u32,
    /// The latest `now` seen (for work done while draining).
    now: Instant,
    events: VecDeque<Event>,
}

impl Connection {
    /// The connection over a session the router just opened: its Socket.IO side is made from
    /// `config` (`ids`: 15 random bytes per socket id), and the handshake the session opened
    /// with is returned (`None` if `session` is not a fresh one).
    pub fn open(
        now: Instant,
        mut session: Session,
        config: &Config,
        ids: impl FnMut() -> [u8; 15] + Send + 'static,
    ) -> Option<(Connection, Handshake)> {
        let handshake = match session.poll_event()? {
            EngineEvent::Opened(handshake) => handshake,
            _ => return None,
        };
        let socket =
            ServerConnection::new(now, config, handshake.sid.clone(), handshake.protocol, ids);
        let mut conn = Connection {
            session,
            socket,
            held: 0,
            now,
            events: VecDeque::new(),
        };
        conn.pump();
        Some((conn, handshake))
    }

    /// The Engine.IO session (read only: its inputs go through this machine).
    pub fn session(&self) -> &Session {
        &self.session
    }

    /// The Socket.IO side (read only).
    pub fn socket(&self) -> &ServerConnection {
        &self.socket
    }

    /// The Socket.IO side, for its commands (`accept_connect`, `emit_with_ack_id`, `ack`,
    /// `disconnect`, …). What they queue goes into the session when the outputs are drained.
    pub fn socket_mut(&mut self) -> &mut ServerConnection {
        &mut self.socket
    }

    /// The engine session id.
    pub fn sid(&self) -> &Str {
        self.session.sid()
    }

    /// Whether the engine session closed (the connection takes no more input).
    pub fn is_closed(&self) -> bool {
        self.session.is_closed()
    }

    // --- inputs: the session's -------------------------------------------------------------

    /// See [`Session::handle_request`].
    pub fn handle_request(
        &mut self,
        now: Instant,
        request: RequestId,
        method: Method,
        binary: bool,
        headers: alloc::vec::Vec<Header>,
    ) {
        self.session
            .handle_request(now, request, method, binary, headers);
        self.step(now);
    }

    /// See [`Session::handle_request_body`].
    pub fn handle_request_body(
        &mut self,
        now: Instant,
        request: RequestId,
        body: Bytes,
    ) -> Result<(), EngineError> {
        let result = self.session.handle_request_body(now, request, body);
        self.step(now);
        result
    }

    /// See [`Session::handle_request_aborted`].
    pub fn handle_request_aborted(
        &mut self,
        now: Instant,
        request: RequestId,
    ) -> Result<(), EngineError> {
        let result = self.session.handle_request_aborted(now, request);
        self.step(now);
        result
    }

    /// See [`Session::handle_upgrade`].
    pub fn handle_upgrade(
        &mut self,
        now: Instant,
        connection: ConnectionId,
        headers: alloc::vec::Vec<Header>,
    ) {
        self.session.handle_upgrade(now, connection, headers);
        self.step(now);
    }

    /// See [`Session::handle_frame`].
    pub fn handle_frame(
        &mut self,
        now: Instant,
        connection: ConnectionId,
        frame: Frame,
    ) -> Result<(), EngineError> {
        let result = self.session.handle_frame(now, connection, frame);
        self.step(now);
        result
    }

    /// See [`Session::handle_heartbeat_written`].
    pub fn handle_heartbeat_written(
        &mut self,
        now: Instant,
        connection: ConnectionId,
    ) -> Result<(), EngineError> {
        let result = self.session.handle_heartbeat_written(now, connection);
        self.step(now);
        result
    }

    /// See [`Session::handle_websocket_gone`].
    pub fn handle_websocket_gone(
        &mut self,
        now: Instant,
        connection: ConnectionId,
        reason: CloseReason,
    ) -> Result<(), EngineError> {
        let result = self.session.handle_websocket_gone(now, connection, reason);
        self.step(now);
        result
    }

    /// Runs both machines' timers due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.session.handle_timeout(now);
        self.socket.handle_timeout(now);
        self.step(now);
    }

    // --- commands that need both sides ------------------------------------------------------

    /// Accepts namespace `nsp`'s pending CONNECT and holds every packet of the connection
    /// (the CONNECT reply first) until [`release`](Self::release): one hold per call.
    pub fn accept_connect_held(&mut self, nsp: &str) -> Result<Str, SocketError> {
        let sid = self.socket.accept_connect(nsp)?;
        self.held += 1;
        Ok(sid)
    }

    /// Holds the connection's packets once more (a recovered session's CONNECT, accepted
    /// with `socket_mut().accept_recovered(..)`, waits for its handler too).
    pub fn hold(&mut self) {
        self.held += 1;
    }

    /// Releases one hold; once none is left the held packets go, in order.
    pub fn release(&mut self) {
        self.held = self.held.saturating_sub(1);
    }

    /// Whether packets are held.
    pub fn is_held(&self) -> bool {
        self.held > 0
    }

    /// Closes the engine session (`forced close`: every socket leaves with it).
    pub fn close(&mut self, now: Instant) {
        self.session.close(now);
        self.step(now);
    }

    /// Closes the engine session at once (server shutdown).
    pub fn close_now(&mut self) {
        self.session.close_now();
        self.pump();
    }

    /// An event prepared for many connections (a broadcast): as the frame to write at once,
    /// bypassing both machines, when nothing waits before it (no packet held or queued on
    /// either side; see [`Session::direct_frame`]). `None`: use
    /// [`send_prepared`](Self::send_prepared).
    #[must_use]
    pub fn direct_frame(&self, message: &PreparedMessage) -> Option<(ConnectionId, Frame)> {
        if self.held > 0 || self.socket.has_transmits() || self.socket.is_closed() {
            return None;
        }
        self.session.direct_frame(message)
    }

    /// An event prepared for many connections: into the session when nothing waits before
    /// it, else behind the Socket.IO side's queued packets.
    pub fn send_prepared(&mut self, message: &PreparedMessage) -> Result<(), SocketError> {
        if self.socket.is_closed() {
            return Err(SocketError::Closed);
        }
        if self.held == 0 && !self.socket.has_transmits() {
            match self.session.send_prepared(message) {
                Ok(()) => {}
                Err(EngineError::QueueFull) => self.close_slow(),
                Err(_) => return Err(SocketError::Closed),
            }
            return Ok(());
        }
        self.socket
            .send_encoded(core::iter::once(message.data().clone()))
    }

    /// An encoded message straight into the session (a volatile packet, sent only if it can
    /// go now: nothing held or queued before it, the session writable).
    pub fn send_volatile(&mut self, messages: &[Data]) -> bool {
        if self.held > 0 || self.socket.has_transmits() || self.socket.is_closed() {
            return false;
        }
        for data in messages {
            if self.session.send(data.clone()).is_err() {
                return false;
            }
        }
        true
    }

    // --- outputs ----------------------------------------------------------------------------

    /// The next thing to write (the session's transmits).
    #[must_use]
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        if let Some(transmit) = self.session.poll_transmit() {
            return Some(transmit);
        }
        // Commands may have queued packets since the last input.
        self.pump();
        self.session.poll_transmit()
    }

    /// The next event.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<Event> {
        if self.events.is_empty() {
            self.pump();
        }
        crate::pop_or_release(&mut self.events)
    }

    /// The earliest instant at which [`handle_timeout`](Self::handle_timeout) is due.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.session.is_closed() {
            return None;
        }
        match (self.session.poll_timeout(), self.socket.poll_timeout()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    // --- the composition --------------------------------------------------------------------

    fn step(&mut self, now: Instant) {
        if now > self.now {
            self.now = now;
        }
        self.pump();
    }

    /// Moves work between the two sides until nothing moves: engine events into the
    /// Socket.IO side, its packets into the session (unless held), its events out.
    fn pump(&mut self) {
        let now = self.now;
        loop {
            let mut moved = false;
            while let Some(event) = self.session.poll_event() {
                moved = true;
                match event {
                    EngineEvent::Message { data, .. } => self.socket.handle_message(now, data),
                    EngineEvent::Upgraded { connection, .. } => {
                        self.events.push_back(Event::Upgraded { connection });
                    }
                    EngineEvent::Closed { reason, .. } => {
                        self.socket.handle_engine_closed(now, reason);
                        self.drain_socket_events();
                        self.events.push_back(Event::Closed { reason });
                    }
                    _ => {}
                }
            }
            while self.held == 0
                && let Some(data) = self.socket.poll_transmit()
            {
                moved = true;
                match self.session.send(data) {
                    Ok(()) => {}
                    Err(EngineError::QueueFull) => {
                        self.close_slow();
                        break;
                    }
                    Err(_) => {}
                }
            }
            if self.drain_socket_events() {
                moved = true;
            }
            if !moved {
                return;
            }
        }
    }

    /// Moves the Socket.IO side's events out; a violation's close closes the session.
    fn drain_socket_events(&mut self) -> bool {
        let mut moved = false;
        while let Some(event) = self.socket.poll_event() {
            moved = true;
            if let SocketEvent::CloseConnection { .. } = &event {
                // What the socket side wrote before goes first: it is in the session already
                // unless held, and a held connection has sent nothing the client waits for.
                self.session.close(self.now);
            }
            self.events.push_back(Event::Socket(event));
        }
        moved
    }

    /// A polling session whose buffer is past its bounds is a slow consumer: its sockets
    /// leave now (`transport error`), and the session closes (it ends at its next GET or
    /// after the polling close timeout).
    fn close_slow(&mut self) {
        self.socket
            .handle_engine_closed(self.now, CloseReason::TransportError);
        self.session.close(self.now);
    }
}
