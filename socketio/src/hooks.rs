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
//!   [`Socket::on_any_outgoing`](crate::Socket::on_any_outgoing);
//! - [`Server::traffic`](crate::Server::traffic): the Engine.IO packets and bytes in and out
//!   ([`Traffic`]), counted once asked for.
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

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use crate::probe::Dir;
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
    pub(crate) traffic: TrafficCounters,
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

/// The Engine.IO packets and bytes this server read and wrote since it started counting
/// them (see [`Server::traffic`](crate::Server::traffic)), counted as the reference
/// Admin UI counts them (its `packetsIn`, `packetsOut`, `bytesIn`, `bytesOut`): a packet
/// carrying data (a message, the handshake, a `probe` ping or pong, not an empty ping, pong,
/// close, upgrade or noop), and its data's bytes (UTF-8 text without the packet type, or the
/// binary bytes; a base64 polling packet by its decoded size). Every packet of a polling
/// payload counts; an Engine.IO v3 polling payload counts as one packet of its size.
///
/// ```
/// let traffic = socketio::hooks::Traffic::default();
/// assert_eq!(traffic.packets_in + traffic.packets_out, 0);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Traffic {
    /// Packets read from the clients.
    pub packets_in: u64,
    /// Packets written to the clients (a broadcast's packet once per recipient).
    pub packets_out: u64,
    /// The bytes of the packets read.
    pub bytes_in: u64,
    /// The bytes of the packets written.
    pub bytes_out: u64,
}

/// The server's traffic counters: off (one relaxed load per frame or body on the paths that
/// count) until [`enable`](Self::enable)d, then a few relaxed atomic adds.
#[derive(Default)]
pub(crate) struct TrafficCounters {
    on: AtomicBool,
    packets: [AtomicU64; 2],
    bytes: [AtomicU64; 2],
}

/// Counters never enabled (a layer that does not count).
pub(crate) static NO_TRAFFIC: TrafficCounters = TrafficCounters {
    on: AtomicBool::new(false),
    packets: [AtomicU64::new(0), AtomicU64::new(0)],
    bytes: [AtomicU64::new(0), AtomicU64::new(0)],
};

impl TrafficCounters {
    /// Whether they count.
    #[inline(always)]
    pub(crate) fn on(&self) -> bool {
        self.on.load(Ordering::Relaxed)
    }

    /// Starts counting (from then on).
    pub(crate) fn enable(&self) {
        self.on.store(true, Ordering::Relaxed);
    }

    /// The totals so far.
    pub(crate) fn totals(&self) -> Traffic {
        let get = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        Traffic {
            packets_in: get(&self.packets[Dir::In as usize]),
            packets_out: get(&self.packets[Dir::Out as usize]),
            bytes_in: get(&self.bytes[Dir::In as usize]),
            bytes_out: get(&self.bytes[Dir::Out as usize]),
        }
    }

    /// A WebSocket frame read or written.
    #[inline(always)]
    pub(crate) fn frame(&self, dir: Dir, frame: &[u8], binary: bool) {
        if self.on() {
            self.add_frames(dir, frame, binary, 1);
        }
    }

    /// The same WebSocket frame written `n` times (a broadcast's recipients).
    #[inline(always)]
    pub(crate) fn frames(&self, dir: Dir, frame: &[u8], binary: bool, n: u64) {
        if self.on() {
            self.add_frames(dir, frame, binary, n);
        }
    }

    #[cold]
    fn add_frames(&self, dir: Dir, frame: &[u8], binary: bool, n: u64) {
        let size = if binary {
            frame.len()
        } else {
            frame.len().saturating_sub(1)
        };
        if binary || size > 0 {
            self.add(dir, n, size as u64 * n);
        }
    }

    /// A polling body read or written (`v3`: an Engine.IO v3 payload).
    #[inline(always)]
    pub(crate) fn polling_body(&self, dir: Dir, body: &[u8], v3: bool) {
        if self.on() && !body.is_empty() {
            self.add_body(dir, body, v3);
        }
    }

    #[cold]
    fn add_body(&self, dir: Dir, body: &[u8], v3: bool) {
        if v3 {
            self.add(dir, 1, body.len() as u64);
            return;
        }
        let (mut packets, mut bytes) = (0, 0);
        for packet in body.split(|byte| *byte == 0x1e) {
            let size = match packet {
                [b'b', base64 @ ..] => {
                    let padding = base64.iter().rev().take_while(|b| **b == b'=').count();
                    (base64.len() / 4 * 3).saturating_sub(padding)
                }
                [_, data @ ..] if !data.is_empty() => data.len(),
                _ => continue,
            };
            packets += 1;
            bytes += size as u64;
        }
        if packets > 0 {
            self.add(dir, packets, bytes);
        }
    }

    fn add(&self, dir: Dir, packets: u64, bytes: u64) {
        self.packets[dir as usize].fetch_add(packets, Ordering::Relaxed);
        self.bytes[dir as usize].fetch_add(bytes, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traffic_counts_packets_with_data_as_the_reference() {
        let counters = TrafficCounters::default();
        counters.frame(Dir::In, b"42[\"a\"]", false);
        assert_eq!(counters.totals(), Traffic::default(), "off until enabled");
        counters.enable();
        counters.frame(Dir::In, b"42[\"a\"]", false);
        counters.frame(Dir::In, b"2", false);
        counters.frame(Dir::In, b"\x01\x02", true);
        counters.frames(Dir::Out, b"42[\"\xc3\xa9\"]", false, 3);
        counters.polling_body(Dir::In, b"3\x1e42[1]\x1ebAQID\x1e6", false);
        counters.polling_body(Dir::Out, b"15:42[\"a\"]", true);
        assert_eq!(
            counters.totals(),
            Traffic {
                packets_in: 2 + 2,
                bytes_in: 6 + 2 + 4 + 3,
                packets_out: 3 + 1,
                bytes_out: 3 * 7 + 10,
            }
        );
    }
}
