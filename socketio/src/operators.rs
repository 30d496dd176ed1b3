//! Broadcast operators: select sockets by room, then emit or act on them.

use crate::Rooms;
use crate::probe::{AckKind, AdapterRequest};
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;
use socketio_protocol::rooms::BroadcastOptions;
use socketio_protocol::{Str, Value};

use crate::adapter::{Adapter, AdapterError, BroadcastAcks, BroadcastMessage, RemoteSocket};
use crate::args::{event_value, from_args, to_args};
use crate::server::Inner;
use crate::{BroadcastAckError, EmitError};

/// Selects sockets of one namespace (`to`, `except`, flags), then emits to them or acts on
/// them. Built by `to`/`except`/`broadcast`/... on a [`Server`](crate::Server), a
/// [`Namespace`](crate::Namespace) or a [`Socket`](crate::Socket).
///
/// ```no_run
/// # async fn f(io: socketio::Server) {
/// use std::time::Duration;
/// io.to("room1").to("room2").except("banned").emit("news", "hello").unwrap();
/// let answers: Result<Vec<String>, _> = io
///     .timeout(Duration::from_secs(2))
///     .emit_with_ack("survey", &())
///     .await;
/// let sockets = io.of("/chat").to("lobby").fetch_sockets().await;
/// io.of("/chat").to("lobby").sockets_join("announcements");
/// io.except("vip").disconnect_sockets(false);
/// # }
/// ```
#[derive(Clone)]
#[must_use]
pub struct BroadcastOperator {
    server: Arc<Inner>,
    nsp: Arc<str>,
    opts: BroadcastOptions,
    volatile: bool,
    local: bool,
    timeout: Option<Duration>,
}

impl std::fmt::Debug for BroadcastOperator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BroadcastOperator")
            .field("nsp", &self.nsp)
            .field("opts", &self.opts)
            .field("volatile", &self.volatile)
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl BroadcastOperator {
    pub(crate) fn new(server: Arc<Inner>, nsp: Arc<str>) -> Self {
        BroadcastOperator {
            server,
            nsp,
            opts: BroadcastOptions::new(),
            volatile: false,
            local: false,
            timeout: None,
        }
    }

    pub(crate) fn except_socket(mut self, sid: Str) -> Self {
        self.opts.except_sockets.insert(sid);
        self
    }

    /// Targets the sockets in `rooms` too (one room or several: see [`Rooms`]; the union of
    /// all `to` rooms; everyone when none).
    ///
    /// ```no_run
    /// # fn io() -> socketio::Server { unimplemented!() }
    /// io().to("a").to("b").emit("e", &1).ok();
    /// ```
    pub fn to(mut self, rooms: impl Rooms) -> Self {
        rooms.each_room(&mut |room| {
            self.opts.rooms.insert(room);
        });
        self
    }

    /// Same as [`to`](Self::to) (`in` in the reference).
    ///
    /// ```no_run
    /// # fn io() -> socketio::Server { unimplemented!() }
    /// io().to("a").within("b").emit("e", &1).ok();
    /// ```
    pub fn within(self, rooms: impl Rooms) -> Self {
        self.to(rooms)
    }

    /// Leaves out the sockets in `rooms` (one room or several: see [`Rooms`]).
    ///
    /// ```no_run
    /// # fn io() -> socketio::Server { unimplemented!() }
    /// io().except("muted").emit("e", &1).ok();
    /// ```
    pub fn except(mut self, rooms: impl Rooms) -> Self {
        rooms.each_room(&mut |room| {
            self.opts.except.insert(room);
        });
        self
    }

    /// Only this server's sockets: every broadcast is local here (there is no adapter yet).
    ///
    /// ```no_run
    /// # fn io() -> socketio::Server { unimplemented!() }
    /// io().local().emit("e", &1).ok();
    /// ```
    pub fn local(mut self) -> Self {
        self.local = true;
        self
    }

    /// A no-op kept for symmetry with the reference (`io.broadcast` = everyone).
    ///
    /// ```no_run
    /// # fn io() -> socketio::Server { unimplemented!() }
    /// io().to("a").broadcast().emit("e", &1).ok();
    /// ```
    pub fn broadcast(self) -> Self {
        self
    }

    /// The event may be dropped for a recipient that is not keeping up (its queue holds
    /// unwritten frames, or its polling buffer is full); it is never stored for recovery.
    ///
    /// ```no_run
    /// # fn io() -> socketio::Server { unimplemented!() }
    /// io().volatile().emit("tick", &1).ok();
    /// ```
    pub fn volatile(mut self) -> Self {
        self.volatile = true;
        self
    }

    /// The deadline of [`emit_with_ack`](Self::emit_with_ack).
    ///
    /// ```no_run
    /// # fn io() -> socketio::Server { unimplemented!() }
    /// let op = io().timeout(std::time::Duration::from_secs(1));
    /// ```
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Emits to every selected socket; the packet is encoded once. Returns how many sockets
    /// it was queued for.
    ///
    /// ```no_run
    /// # fn io() -> socketio::Server { unimplemented!() }
    /// let reached = io().to("lobby").emit("news", &("title", 3)).unwrap();
    /// ```
    pub fn emit<T: Serialize + ?Sized>(&self, event: &str, data: &T) -> Result<usize, EmitError> {
        let value = event_value(event, to_args(data)?)?;
        self.server.probe.broadcast();
        Ok(self.adapter().broadcast(self.message(value)))
    }

    fn adapter(&self) -> Arc<dyn Adapter> {
        self.server.adapter(&self.nsp)
    }

    fn message(&self, data: Value) -> BroadcastMessage {
        BroadcastMessage::new(data, self.opts.clone())
            .volatile(self.volatile)
            .local(self.local)
    }

    /// Emits with a dynamic argument list to every selected socket: each item of `args` is
    /// one argument (where [`emit`](Self::emit) would send a `Vec` as a single array
    /// argument). Returns how many sockets it was queued for.
    ///
    /// ```no_run
    /// # fn io() -> socketio::Server { unimplemented!() }
    /// use socketio::Value;
    /// let args = vec![Value::from("title"), Value::from(3i64)];
    /// let reached = io().to("lobby").emit_args("news", args).unwrap();
    /// ```
    pub fn emit_args(&self, event: &str, args: Vec<Value>) -> Result<usize, EmitError> {
        let value = event_value(event, args)?;
        self.server.probe.broadcast();
        Ok(self.adapter().broadcast(self.message(value)))
    }

    /// Emits to every selected socket with an ack request and gathers the answers: all of
    /// them, or [`BroadcastAckError::Timeout`] with those that came in time. Without
    /// [`timeout`](Self::timeout) the server's `ack_timeout` applies.
    ///
    /// ```no_run
    /// # async fn f(io: socketio::Server) {
    /// match io.timeout(std::time::Duration::from_secs(1)).emit_with_ack::<String, _>("q", &()).await {
    ///     Ok(all) => println!("{all:?}"),
    ///     Err(socketio::BroadcastAckError::Timeout { partial }) => println!("partial {partial:?}"),
    ///     Err(e) => println!("{e}"),
    /// }
    /// # }
    /// ```
    pub async fn emit_with_ack<R, T>(
        &self,
        event: &str,
        data: &T,
    ) -> Result<Vec<R>, BroadcastAckError<R>>
    where
        R: DeserializeOwned,
        T: Serialize + ?Sized,
    {
        let value = event_value(event, to_args(data)?)?;
        let timeout = self.timeout.unwrap_or(self.server.config.ack_timeout);
        let probe = &self.server.probe;
        probe.broadcast();
        let started = probe.enabled().then(|| self.server.runtime.now());
        let BroadcastAcks {
            responses,
            complete,
        } = self
            .adapter()
            .broadcast_with_ack(self.message(value), timeout)
            .await;
        match (complete, started) {
            (true, Some(started)) => probe.ack_latency(
                AckKind::Broadcast,
                self.server.runtime.now().saturating_duration_since(started),
            ),
            (false, _) => probe.ack_timeout(AckKind::Broadcast),
            _ => {}
        }
        let decoded: Vec<R> = responses
            .into_iter()
            .filter_map(|args| match from_args(args) {
                Ok(r) => Some(r),
                Err(error) => {
                    tracing::warn!(%error, "broadcast ack does not match the expected type");
                    None
                }
            })
            .collect();
        if complete {
            Ok(decoded)
        } else {
            Err(BroadcastAckError::Timeout { partial: decoded })
        }
    }

    /// The selected sockets of every server node (through the adapter: with a cluster
    /// adapter, remote ones too), with their ids, rooms and data; this node's sockets are
    /// reachable with [`RemoteSocket::as_local`].
    ///
    /// ```no_run
    /// # async fn f(io: socketio::Server) {
    /// for socket in io.to("lobby").fetch_sockets().await.unwrap() {
    ///     println!("{} in {:?}", socket.id(), socket.rooms());
    /// }
    /// # }
    /// ```
    pub async fn fetch_sockets(&self) -> Result<Vec<RemoteSocket>, AdapterError> {
        let request = self.adapter().fetch_sockets(self.opts.clone());
        self.server
            .timed_request(AdapterRequest::FetchSockets, request)
            .await
    }

    /// Makes every selected socket join `room`.
    ///
    /// ```no_run
    /// # fn io() -> socketio::Server { unimplemented!() }
    /// io().to("lobby").sockets_join("game-1");
    /// ```
    pub fn sockets_join(&self, room: impl Into<String>) {
        self.adapter()
            .add_sockets(self.opts.clone(), vec![Str::from(room.into())]);
    }

    /// Makes every selected socket leave `room`.
    ///
    /// ```no_run
    /// # fn io() -> socketio::Server { unimplemented!() }
    /// io().to("game-1").sockets_leave("game-1");
    /// ```
    pub fn sockets_leave(&self, room: &str) {
        self.adapter()
            .del_sockets(self.opts.clone(), vec![Str::from(room.to_owned())]);
    }

    /// Disconnects every selected socket (`server namespace disconnect`); with `close`, closes
    /// their whole connections.
    ///
    /// ```no_run
    /// # fn io() -> socketio::Server { unimplemented!() }
    /// io().to("banned").disconnect_sockets(true);
    /// ```
    pub fn disconnect_sockets(&self, close: bool) {
        self.adapter().disconnect_sockets(self.opts.clone(), close);
    }
}
