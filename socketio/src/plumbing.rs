//! The IO bookkeeping around an Engine.IO machine (the router, or one session), kept by the
//! shared driver (`crate::driver`): HTTP requests waiting for their answer and their bodies,
//! WebSocket writers, and the verdicts on upgrades; and what the machine's transmits do to
//! them.

use futures_channel::oneshot;
use socketio_protocol::engine::server::{ConnectionId, RequestId, Response, Transmit, TransportId};
use socketio_protocol::{Instant, Str};

use std::sync::Arc;

use crate::fasthash::IdMap;
use crate::flow::{Backpressure, Gate};
use crate::httputil::static_lower;
use crate::wsio::Writer;

/// The core's answer to a WebSocket upgrade: extra `101` headers, or the refusal.
pub(crate) type Verdict = Result<Vec<(&'static str, Str)>, Response>;

/// What a driver keeps for the requests and WebSockets it handed to one machine (the router,
/// or one session): answers waiting, bodies wanted, writers, upgrade verdicts. The driver
/// makes the machine calls; this only files what the machine's transmits say.
#[derive(Default)]
pub(crate) struct Plumbing {
    requests: IdMap<RequestId, oneshot::Sender<Response>>,
    /// POSTs whose body the core asked for, with its limit: read by the request's caller,
    /// outside the lock ([`take_body_wanted`](Self::take_body_wanted)).
    bodies_wanted: IdMap<RequestId, usize>,
    writers: Writers,
    verdicts: IdMap<ConnectionId, Verdict>,
}

impl Plumbing {
    /// Files request `id`'s answer channel (before the machine sees the request).
    pub(crate) fn add_request(&mut self, id: RequestId, tx: oneshot::Sender<Response>) {
        self.requests.insert(id, tx);
    }

    /// Takes request `id`'s answer channel (to move it to another machine's plumbing).
    pub(crate) fn take_request(&mut self, id: RequestId) -> Option<oneshot::Sender<Response>> {
        self.requests.remove(&id)
    }

    /// Whether request `id` still waits for its answer.
    pub(crate) fn has_request(&self, id: RequestId) -> bool {
        self.requests.contains_key(&id)
    }

    /// The body limit of request `id` if the core asked for its body.
    pub(crate) fn take_body_wanted(&mut self, id: RequestId) -> Option<usize> {
        self.bodies_wanted.remove(&id)
    }

    /// The request's caller went away before its answer: whether it still waited (then the
    /// machine is told).
    pub(crate) fn abort_request(&mut self, id: RequestId) -> bool {
        self.bodies_wanted.remove(&id);
        self.requests.remove(&id).is_some()
    }

    /// Files the writer WebSocket `connection`'s frames go to (before the machine sees it).
    pub(crate) fn add_writer(&mut self, connection: ConnectionId, writer: Writer) {
        self.writers.insert(connection, writer);
    }

    /// Takes WebSocket `connection`'s writer (to move it to another machine's plumbing).
    pub(crate) fn take_writer(&mut self, connection: ConnectionId) -> Option<Writer> {
        self.writers.remove(&connection)
    }

    /// The core's verdict on upgrade `connection`; anything but an acceptance drops its
    /// writer.
    pub(crate) fn take_verdict(&mut self, connection: ConnectionId) -> Option<Verdict> {
        let verdict = self.verdicts.remove(&connection);
        release_if_empty(&mut self.verdicts);
        if !matches!(verdict, Some(Ok(_))) {
            self.writers.remove(&connection);
        }
        verdict
    }

    /// WebSocket `connection` ended: its writer goes.
    pub(crate) fn websocket_ended(&mut self, connection: ConnectionId) {
        self.writers.remove(&connection);
    }

    /// The writer of WebSocket `connection`.
    pub(crate) fn writer(&self, connection: ConnectionId) -> Option<&Writer> {
        self.writers.get(&connection)
    }

    /// Bytes queued on this machine's WebSockets and not yet written (the metrics' gauge).
    #[cfg_attr(not(feature = "metrics"), allow(dead_code))]
    pub(crate) fn queued_bytes(&self) -> usize {
        let first = self
            .writers
            .first
            .as_ref()
            .map_or(0, |(_, w)| w.queued_bytes());
        first
            + self
                .writers
                .rest
                .values()
                .map(Writer::queued_bytes)
                .sum::<usize>()
    }

    /// WebSocket `connection` now carries the session whose incoming side is `gate`.
    pub(crate) fn attach_gate(&mut self, connection: ConnectionId, gate: Arc<Gate>) {
        if let Some(writer) = self.writers.get_mut(&connection) {
            writer.attach(gate);
        }
    }

    /// The gate of the session WebSocket `connection` carries, if any.
    pub(crate) fn gate(&self, connection: ConnectionId) -> Option<Arc<Gate>> {
        self.writers.get(&connection)?.gate().cloned()
    }

    /// Shutdown: forgets waiting requests and queues every WebSocket's close.
    pub(crate) fn close_all(&mut self) {
        self.requests.clear();
        self.bodies_wanted.clear();
        for writer in self.writers.drain() {
            writer.close();
        }
    }

    /// Carries out one transmit of the machine: answers, body reads, aborts, upgrade
    /// verdicts, frames and closes. Returns the WebSocket that turned out a slow consumer by
    /// `limits` (its writer aborted and gone): the driver fails it in the machine
    /// (`transport error`).
    #[must_use]
    pub(crate) fn on_transmit(
        &mut self,
        now: Instant,
        transmit: Transmit,
        limits: &Backpressure,
    ) -> Option<ConnectionId> {
        // A heartbeat is written like a frame, then reported (`handle_heartbeat_written`).
        let heartbeat = matches!(transmit, Transmit::Heartbeat { .. });
        match transmit {
            Transmit::Response { request, response } => {
                self.bodies_wanted.remove(&request);
                if let Some(tx) = self.requests.remove(&request) {
                    let _ = tx.send(response);
                }
                release_if_empty(&mut self.requests);
                release_if_empty(&mut self.bodies_wanted);
            }
            Transmit::ReadBody { request, limit } => {
                self.bodies_wanted.insert(request, limit);
            }
            Transmit::Abort { request } => {
                self.bodies_wanted.remove(&request);
                self.requests.remove(&request);
            }
            Transmit::AcceptWebSocket {
                connection,
                headers,
            } => {
                self.verdicts.insert(connection, Ok(headers));
            }
            Transmit::RefuseWebSocket {
                connection,
                response,
            } => {
                self.verdicts.insert(connection, Err(response));
            }
            Transmit::Frame { connection, frame } | Transmit::Heartbeat { connection, frame } => {
                return self.push(connection, |writer| {
                    writer.push_frame(frame, heartbeat, limits, now)
                });
            }
            Transmit::CloseWebSocket { connection } => {
                if let Some(writer) = self.writers.remove(&connection) {
                    writer.close();
                }
            }
            _ => {}
        }
        None
    }
}

impl Plumbing {
    /// Queues a broadcast's ready `message` (`len` bytes) on WebSocket `connection`, as a
    /// frame transmit would be; returns the WebSocket that turned out a slow consumer.
    #[must_use]
    pub(crate) fn write_message(
        &mut self,
        now: Instant,
        connection: ConnectionId,
        message: tungstenite::Message,
        len: usize,
        limits: &Backpressure,
    ) -> Option<ConnectionId> {
        self.push(connection, |writer| {
            writer.push_message(message, len, limits, now)
        })
    }

    /// Queues on `connection`'s writer with `push`; a slow consumer's writer goes.
    fn push(
        &mut self,
        connection: ConnectionId,
        push: impl FnOnce(&mut Writer) -> Result<(), crate::wsio::Overflow>,
    ) -> Option<ConnectionId> {
        let writer = self.writers.get_mut(&connection)?;
        if push(writer).is_err() {
            tracing::warn!(
                connection = connection.0,
                queued = writer.queued_bytes(),
                "slow consumer: the websocket's outgoing queue passed its limit or stayed above its high water mark too long; closing it"
            );
            self.writers.remove(&connection);
            return Some(connection);
        }
        None
    }
}

/// Runs the `allow_request` hook (user code: the caller holds no lock) on each handshake in
/// `checks`, all started by one request (`parts`, `remote`).
pub(crate) fn allow_request_verdicts(
    hook: Option<&crate::AllowRequest>,
    parts: Option<&http::request::Parts>,
    remote: Option<std::net::SocketAddr>,
    checks: Vec<TransportId>,
) -> Vec<(TransportId, Result<(), String>)> {
    checks
        .into_iter()
        .map(|transport| {
            let verdict = match (hook, parts) {
                (Some(check), Some(parts)) => check(parts, remote),
                _ => Ok(()),
            };
            (transport, verdict)
        })
        .collect()
}

/// An accepted upgrade's extra `101` headers as `http` types (a header the core names but
/// `http` cannot hold is left out).
pub(crate) fn upgrade_headers(
    headers: Vec<(&'static str, Str)>,
) -> Vec<(http::HeaderName, http::HeaderValue)> {
    headers
        .into_iter()
        .filter_map(|(name, value)| {
            Some((
                http::HeaderName::from_static(static_lower(name)?),
                http::HeaderValue::from_str(&value).ok()?,
            ))
        })
        .collect()
}

/// Drops an emptied map's table: a session keeps its plumbing for its whole life, and most
/// of it (an upgrade's verdict, the polling requests before an upgrade) is used once.
fn release_if_empty<K, V>(map: &mut IdMap<K, V>) {
    if map.is_empty() && map.capacity() > 0 {
        *map = IdMap::default();
    }
}

/// A machine's WebSocket writers: a session has one (two during an upgrade), kept inline so
/// that a frame for it reaches its writer without a table lookup (a broadcast to thousands
/// of connections pays a cache miss per lookup); the router's parked upgrades go in the table.
#[derive(Default)]
struct Writers {
    first: Option<(ConnectionId, Writer)>,
    rest: IdMap<ConnectionId, Writer>,
}

impl Writers {
    fn insert(&mut self, connection: ConnectionId, writer: Writer) {
        match &mut self.first {
            Some((id, slot)) if *id == connection => *slot = writer,
            Some(_) => {
                self.rest.insert(connection, writer);
            }
            None => self.first = Some((connection, writer)),
        }
    }

    fn remove(&mut self, connection: &ConnectionId) -> Option<Writer> {
        if matches!(&self.first, Some((id, _)) if id == connection) {
            return self.first.take().map(|(_, writer)| writer);
        }
        if self.rest.is_empty() {
            return None;
        }
        self.rest.remove(connection)
    }

    fn get(&self, connection: &ConnectionId) -> Option<&Writer> {
        match &self.first {
            Some((id, writer)) if id == connection => Some(writer),
            _ if self.rest.is_empty() => None,
            _ => self.rest.get(connection),
        }
    }

    fn get_mut(&mut self, connection: &ConnectionId) -> Option<&mut Writer> {
        match &mut self.first {
            Some((id, writer)) if id == connection => Some(writer),
            _ if self.rest.is_empty() => None,
            _ => self.rest.get_mut(connection),
        }
    }

    fn drain(&mut self) -> impl Iterator<Item = Writer> + '_ {
        self.first
            .take()
            .map(|(_, writer)| writer)
            .into_iter()
            .chain(self.rest.drain().map(|(_, writer)| writer))
    }
}
