//! Server-wide observers: synchronous listeners for what happens on every namespace, for
//! monitoring tools (an admin dashboard, metrics, audit logs) that must not change the
//! application's own handlers.
//!
//! - [`Server::on_socket_connected`](crate::Server::on_socket_connected): every new socket of
//!   every namespace (dynamic ones included), before its namespace's connect handler;
//! - [`Server::on_room_change`](crate::Server::on_room_change): a socket joined or left a room
//!   (reported by the namespace's adapter, see [`LocalNamespace::room_joined`](crate::adapter::LocalNamespace::room_joined));
//! - [`Server::on_transport_event`](crate::Server::on_transport_event): an Engine.IO
//!   connection opened, upgraded to WebSocket, or closed;
//! - per socket, [`Socket::on_any_incoming`](crate::Socket::on_any_incoming) and
//!   [`Socket::on_any_outgoing`](crate::Socket::on_any_outgoing).
//!
//! Listeners run synchronously on the thread that caused the event, never under a lock of the
//! library: they may call any API (emit, join, …) but should return quickly. A listener cannot
//! be removed (hold a flag of your own to turn it off). With no listener of a kind set, the
//! cost on the path it watches is one branch.
//!
//! ```no_run
//! # fn io() -> socketio::Server { unimplemented!() }
//! use socketio::hooks::{RoomChange, TransportEvent};
//! let io = io();
//! io.on_socket_connected(|socket| println!("{} joined {}", socket.id(), socket.ns()));
//! io.on_room_change(|change: &RoomChange| println!("{change:?}"));
//! io.on_transport_event(|event: &TransportEvent| println!("{event:?}"));
//! ```

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};

use crate::{Socket, TransportKind};

/// A socket joined or left a room (its own room included).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RoomChange {
    /// The namespace.
    pub nsp: String,
    /// The room.
    pub room: String,
    /// The socket id.
    pub sid: String,
    /// `true` when it joined, `false` when it left.
    pub joined: bool,
}

/// Something that happened to an Engine.IO connection (a "client": what a socket's
/// [`client_id`](crate::Socket::client_id) names).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TransportEvent {
    /// A connection opened over `transport`.
    Opened {
        /// The Engine.IO session id.
        client_id: String,
        /// Its first transport.
        transport: TransportKind,
    },
    /// A connection upgraded (from polling to WebSocket).
    Upgraded {
        /// The Engine.IO session id.
        client_id: String,
        /// Its new transport.
        transport: TransportKind,
    },
    /// A connection closed.
    Closed {
        /// The Engine.IO session id.
        client_id: String,
        /// Why (`transport close`, `ping timeout`, `forced close`, …).
        reason: String,
    },
}

/// A socket's incoming or outgoing event listener: the socket, the event name, its arguments.
pub(crate) type EventListener = Arc<dyn Fn(&Socket, &str, &[crate::Value]) + Send + Sync>;

/// One kind of listener: a flag read on the hot path, the list read only when it is set.
pub(crate) struct Listeners<T: ?Sized> {
    set: AtomicBool,
    list: RwLock<Vec<Arc<T>>>,
}

impl<T: ?Sized> Default for Listeners<T> {
    fn default() -> Self {
        Listeners {
            set: AtomicBool::new(false),
            list: RwLock::new(Vec::new()),
        }
    }
}

impl<T: ?Sized> Listeners<T> {
    pub(crate) fn add(&self, listener: Arc<T>) {
        self.list
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(listener);
        self.set.store(true, Ordering::Release);
    }

    /// Whether any listener is set (one atomic load).
    pub(crate) fn is_set(&self) -> bool {
        self.set.load(Ordering::Acquire)
    }

    /// The listeners, copied out so none runs under the list's lock.
    pub(crate) fn get(&self) -> Vec<Arc<T>> {
        if !self.is_set() {
            return Vec::new();
        }
        self.list
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
}

/// The server's observers.
#[derive(Default)]
pub(crate) struct Hooks {
    pub(crate) sockets: Listeners<dyn Fn(&Socket) + Send + Sync>,
    pub(crate) rooms: Listeners<dyn Fn(&RoomChange) + Send + Sync>,
    pub(crate) transports: Listeners<dyn Fn(&TransportEvent) + Send + Sync>,
}

impl Hooks {
    pub(crate) fn socket_connected(&self, socket: &Socket) {
        for listener in self.sockets.get() {
            listener(socket);
        }
    }

    pub(crate) fn room_change(&self, change: &RoomChange) {
        for listener in self.rooms.get() {
            listener(change);
        }
    }

    pub(crate) fn transport(&self, event: &TransportEvent) {
        for listener in self.transports.get() {
            listener(event);
        }
    }
}
