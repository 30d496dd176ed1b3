//! [`Machine`]: what the driver needs of the machine behind each connection's lock, the
//! Engine.IO session's inputs and outputs; implemented by the bare `Session` (the engine-only
//! server) and by `Connection` (the session with its Socket.IO side, `socketio_protocol`).

use bytes::Bytes;
use socketio_protocol::connection::{Connection, Event as ConnectionEvent};
use socketio_protocol::engine::server::{
    ConnectionId, Error, Event as SessionEvent, Header, Method, RequestId, Session, Transmit,
};
use socketio_protocol::engine::{CloseReason, Frame};
use socketio_protocol::{Instant, Str};

/// The machine of one connection, as the driver drives it (see `Session` for each input).
pub(crate) trait Machine: Send + 'static {
    /// What the machine tells its layer.
    type Event;

    fn sid(&self) -> &Str;
    fn session(&self) -> &Session;
    fn handle_request(
        &mut self,
        now: Instant,
        request: RequestId,
        method: Method,
        binary: bool,
        headers: Vec<Header>,
    );
    fn handle_request_body(
        &mut self,
        now: Instant,
        request: RequestId,
        body: Bytes,
    ) -> Result<(), Error>;
    fn handle_request_aborted(&mut self, now: Instant, request: RequestId) -> Result<(), Error>;
    fn handle_upgrade(&mut self, now: Instant, connection: ConnectionId, headers: Vec<Header>);
    fn handle_frame(
        &mut self,
        now: Instant,
        connection: ConnectionId,
        frame: Frame,
    ) -> Result<(), Error>;
    fn handle_heartbeat_written(
        &mut self,
        now: Instant,
        connection: ConnectionId,
    ) -> Result<(), Error>;
    fn handle_websocket_gone(
        &mut self,
        now: Instant,
        connection: ConnectionId,
        reason: CloseReason,
    ) -> Result<(), Error>;
    fn handle_timeout(&mut self, now: Instant);
    fn close_now(&mut self);
    fn poll_transmit(&mut self) -> Option<Transmit>;
    fn poll_event(&mut self) -> Option<Self::Event>;
    fn poll_timeout(&self) -> Option<Instant>;
    fn is_closed(&self) -> bool;
}

/// Forwards the driver's inputs and outputs to the type's own methods of the same names.
macro_rules! forward_machine {
    ($ty:ty, $event:ty, |$me:ident| $session:expr) => {
        impl Machine for $ty {
            type Event = $event;

            fn sid(&self) -> &Str {
                <$ty>::sid(self)
            }
            fn session(&self) -> &Session {
                let $me = self;
                $session
            }
            fn handle_request(
                &mut self,
                now: Instant,
                request: RequestId,
                method: Method,
                binary: bool,
                headers: Vec<Header>,
            ) {
                <$ty>::handle_request(self, now, request, method, binary, headers)
            }
            fn handle_request_body(
                &mut self,
                now: Instant,
                request: RequestId,
                body: Bytes,
            ) -> Result<(), Error> {
                <$ty>::handle_request_body(self, now, request, body)
            }
            fn handle_request_aborted(
                &mut self,
                now: Instant,
                request: RequestId,
            ) -> Result<(), Error> {
                <$ty>::handle_request_aborted(self, now, request)
            }
            fn handle_upgrade(
                &mut self,
                now: Instant,
                connection: ConnectionId,
                headers: Vec<Header>,
            ) {
                <$ty>::handle_upgrade(self, now, connection, headers)
            }
            fn handle_frame(
                &mut self,
                now: Instant,
                connection: ConnectionId,
                frame: Frame,
            ) -> Result<(), Error> {
                <$ty>::handle_frame(self, now, connection, frame)
            }
            fn handle_heartbeat_written(
                &mut self,
                now: Instant,
                connection: ConnectionId,
            ) -> Result<(), Error> {
                <$ty>::handle_heartbeat_written(self, now, connection)
            }
            fn handle_websocket_gone(
                &mut self,
                now: Instant,
                connection: ConnectionId,
                reason: CloseReason,
            ) -> Result<(), Error> {
                <$ty>::handle_websocket_gone(self, now, connection, reason)
            }
            fn handle_timeout(&mut self, now: Instant) {
                <$ty>::handle_timeout(self, now)
            }
            fn close_now(&mut self) {
                <$ty>::close_now(self)
            }
            fn poll_transmit(&mut self) -> Option<Transmit> {
                <$ty>::poll_transmit(self)
            }
            fn poll_event(&mut self) -> Option<$event> {
                <$ty>::poll_event(self)
            }
            fn poll_timeout(&self) -> Option<Instant> {
                <$ty>::poll_timeout(self)
            }
            fn is_closed(&self) -> bool {
                <$ty>::is_closed(self)
            }
        }
    };
}

forward_machine!(Session, SessionEvent, |me| me);
forward_machine!(Connection, ConnectionEvent, |me| me.session());
