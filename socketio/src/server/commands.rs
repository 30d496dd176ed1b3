//! The API commands: what `Socket`, `BroadcastOperator` and the adapter's `LocalNamespace`
//! call on the server. A command on one socket takes that socket's connection lock only
//! (`Driver::drive`); a broadcast takes each recipient's in turn; the adapter is called
//! without any lock.
//!
//! ```text
//! socket.emit         → emit_to_socket → its connection: send_to (with recovery: the adapter)
//! io.to(room).emit    → adapter(nsp).broadcast → LocalNamespace::deliver → deliver
//!                       → Inner::send_event: one encoding, each recipient's lock in turn
//! socket.emit_with_ack / operator emit_with_ack
//!                     → emit_with_ack_to_socket / deliver_with_ack: an ack id per
//!                       namespace, the waiter in the connection (and in `broadcasts`)
//! ack, disconnect_socket, release_held, close_transport: one connection's machines
//! ```
//!
//! Shutdown is here too (`Inner::shutdown`, behind [`Server::shutdown`](crate::Server::shutdown)).

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use futures_channel::oneshot;
use socketio_protocol::recovery::offset_order;
use socketio_protocol::rooms::BroadcastOptions;
use socketio_protocol::socket::ack::BroadcastAck;
use socketio_protocol::socket::{Packet, Payload};
use socketio_protocol::{Str, Value};

use super::state::{AckReply, AckTarget, BroadcastWait, Encoded, Inner, SioCell, read, send_to};
use crate::adapter::{Adapter, BroadcastAcks, BroadcastMessage, LocalNamespace};
use crate::driver::Effects;
use crate::namespace::lock;
use crate::{EmitError, Socket};

impl Inner {
    /// `socket.emit`. With connection state recovery on, the event goes through the adapter
    /// to the socket's own room as in the reference, so it is stored with its offset and
    /// replayed if the client comes back: an emit made while it is briefly away is not lost
    /// (and, as in the reference, it is `Ok` whether or not the session comes back).
    pub(crate) fn emit_to_socket(&self, socket: &Socket, value: Value) -> Result<(), EmitError> {
        let sid = &socket.0.id;
        if self.config.recovery.is_some() && socket.0.pid.is_some() {
            let opts = BroadcastOptions::new().to(sid.clone());
            self.adapter(&socket.0.nsp)
                .broadcast(BroadcastMessage::new(value, opts));
            return Ok(());
        }
        if !socket.connected() {
            return Err(EmitError::Disconnected);
        }
        // Encoded before the lock.
        let encoded = Encoded::new(&self.config, &socket.0.nsp, value, false, None);
        self.drive(&socket.0.conn, |st, _| {
            if !st.layer.has(socket) {
                return Err(EmitError::Disconnected);
            }
            send_to(st, &socket.0.nsp, sid, &encoded, false, None);
            Ok(())
        })
    }

    pub(crate) fn emit_with_ack_to_socket(
        &self,
        socket: &Socket,
        value: Value,
        timeout: Option<Duration>,
    ) -> Result<oneshot::Receiver<AckReply>, EmitError> {
        if !socket.connected() {
            return Err(EmitError::Disconnected);
        }
        let id = self.next_ack_id(&socket.0.nsp);
        let sid = socket.0.id.clone();
        self.drive(&socket.0.conn, |st, cx| {
            if !st.layer.has(socket) {
                return Err(EmitError::Disconnected);
            }
            let deadline = timeout.map(|t| cx.now + t);
            st.session
                .socket_mut()
                .emit_with_ack_id(&sid, id, Payload::Value(value), deadline)
                .map_err(|_| EmitError::Disconnected)?;
            let (tx, rx) = oneshot::channel();
            st.layer.acks.insert((sid, id), AckTarget::Single(tx));
            Ok(rx)
        })
    }

    pub(crate) fn ack(&self, socket: &Socket, id: u64, args: Value) -> Result<(), EmitError> {
        self.drive(&socket.0.conn, |st, _| {
            st.session
                .socket_mut()
                .ack(&socket.0.id, id, Payload::Value(args))
                .map_err(|_| EmitError::Disconnected)
        })
    }

    /// The adapter of namespace `nsp`, made on first use (the factory runs outside every
    /// lock; a concurrent first use keeps the first one made).
    pub(crate) fn adapter(&self, nsp: &str) -> Arc<dyn Adapter> {
        if let Some(adapter) = lock(&self.adapters).get(nsp) {
            return adapter.clone();
        }
        let local = LocalNamespace::new(self.self_ref.clone(), Arc::from(nsp), self.hooks.clone());
        let made = (self.config.adapter)(local);
        lock(&self.adapters)
            .entry(nsp.to_owned())
            .or_insert(made)
            .clone()
    }

    /// Awaits an adapter's cluster `request`, timed and counted in the metrics.
    pub(crate) async fn timed_request<T>(
        &self,
        kind: crate::probe::AdapterRequest,
        request: crate::adapter::BoxFuture<Result<T, crate::adapter::AdapterError>>,
    ) -> Result<T, crate::adapter::AdapterError> {
        if !self.probe.enabled() {
            return request.await;
        }
        let started = self.runtime.now();
        let result = request.await;
        let took = self.runtime.now().saturating_duration_since(started);
        self.probe.adapter_request(kind, took, result.is_ok());
        result
    }

    /// [`LocalNamespace::deliver`]: `message` to this node's sockets `sids`.
    pub(crate) fn deliver(&self, nsp: &str, message: &BroadcastMessage, sids: &[Str]) -> usize {
        self.send_event(nsp, sids, message.data.clone(), message.volatile, None)
            .len()
    }

    /// [`LocalNamespace::deliver_with_ack`].
    pub(crate) fn deliver_with_ack(
        &self,
        nsp: &str,
        message: &BroadcastMessage,
        sids: &[Str],
        timeout: Duration,
    ) -> (usize, crate::adapter::BoxFuture<BroadcastAcks>) {
        let (tx, rx) = oneshot::channel();
        let id = self.next_ack_id(nsp);
        let deadline = self.now() + timeout;
        let key = (nsp.to_owned(), id);
        // Filed before the packets go, so an answer that comes at once finds it; complete
        // only once the count of recipients is set below.
        lock(&self.broadcasts).waits.insert(
            key.clone(),
            BroadcastWait {
                ack: BroadcastAck::new(deadline),
                tx: Some(tx),
                members: Vec::new(),
            },
        );
        let reached = self.send_event(nsp, sids, message.data.clone(), message.volatile, Some(id));
        let count = reached.len();
        {
            let mut broadcasts = lock(&self.broadcasts);
            if let Some(waiting) = broadcasts.waits.get_mut(&key) {
                waiting.ack.set_server_count(1);
                waiting.ack.add_clients(count);
                waiting.members = reached;
            }
            broadcasts.deadlines.insert((deadline, key.0.clone(), id));
        }
        let mut fx = Effects::default();
        self.arm_layer_timer(deadline, &mut fx);
        self.run_effects(fx);
        let members = self.check_broadcast(self.now(), nsp, id);
        self.forget_broadcast_acks(members, id);
        let answers = Box::pin(async move {
            let (responses, complete) = rx.await.unwrap_or((Vec::new(), false));
            BroadcastAcks {
                responses,
                complete,
            }
        });
        (count, answers)
    }

    /// [`LocalNamespace::sockets`].
    pub(crate) fn local_sockets(&self, nsp: &str, sids: &[Str]) -> Vec<Socket> {
        let nsps = read(&self.nsps);
        let Some(ns) = nsps.get(nsp) else {
            return Vec::new();
        };
        sids.iter()
            .filter_map(|sid| ns.sockets.get(sid).map(|e| e.socket.clone()))
            .collect()
    }

    /// [`LocalNamespace::server_side_event`]: the namespace's server-side handlers, in tasks.
    pub(crate) fn server_side_event(&self, nsp: &str, data: Value) {
        let Value::Array(mut items) = data else {
            return;
        };
        if items.is_empty() {
            return;
        }
        let Value::String(event) = items.remove(0) else {
            return;
        };
        let handlers = lock(&self.server_side)
            .get(nsp)
            .cloned()
            .unwrap_or_default();
        for handler in handlers {
            self.spawn(handler(event.clone(), items.clone()));
        }
    }

    /// Socket `sid` joins `rooms` (if still connected).
    pub(crate) fn join(&self, socket: &Socket, rooms: Vec<Str>) {
        if socket.connected() {
            self.adapter(&socket.0.nsp).add_all(&socket.0.id, &rooms);
        }
    }

    pub(crate) fn disconnect_socket(&self, socket: &Socket, close: bool) {
        self.drive(&socket.0.conn, |st, _| {
            let _ = if close {
                st.session.socket_mut().close()
            } else {
                st.session.socket_mut().disconnect(&socket.0.id)
            };
        });
    }

    /// The end of a restored socket's catch-up: the events `missed` while it was being
    /// restored (from the adapter), then the live ones that waited meanwhile, each once and
    /// in order; from then on live events go straight to it.
    pub(crate) fn finish_catch_up(&self, socket: &Socket, missed: Vec<Packet>) {
        self.drive(&socket.0.conn, |st, _| {
            let sid = &socket.0.id;
            let Some(at) = st.layer.recovered.iter().position(|r| r.sid == *sid) else {
                return;
            };
            let mut given = st.layer.recovered[at].given;
            let waiting = st.layer.recovered[at].waiting.take().unwrap_or_default();
            for packet in missed {
                let Some(data) = packet.data else { continue };
                match super::connect::offset_of(&data).and_then(|o| offset_order(&o)) {
                    Some(order) if order <= given => continue,
                    Some(order) => given = order,
                    None => {}
                }
                let _ = st.session.socket_mut().emit(sid, data);
            }
            for (order, frames) in waiting {
                if order > given {
                    given = order;
                    let _ = st.session.socket_mut().send_encoded(frames);
                }
            }
            st.layer.recovered[at].given = given;
        });
    }

    /// A connection handler ran its synchronous part: the connection's packets (its CONNECT
    /// first) may go once no other handler is pending.
    pub(crate) fn release_held(&self, conn: &Arc<SioCell>) {
        self.drive(conn, |st, _| {
            st.session.release();
        });
    }

    /// Closes the engine session of `conn` (`forced close` for every socket on it).
    pub(crate) fn close_transport(&self, conn: &Arc<SioCell>) {
        self.drive(conn, |st, cx| st.session.close(cx.now));
    }

    /// [`Server::drain`](crate::Server::drain).
    pub(super) async fn drain(&self, over: Duration) {
        tracing::info!(?over, "socket.io server draining");
        let this = self;
        self.drain_with(over, move |slice| async move {
            // As in a shutdown: the sockets leave with a recoverable reason, their sessions
            // handed to the adapter; once it has stored them, the engine sessions close, so
            // the clients see `transport close` and reconnect, elsewhere, where their
            // sessions can already be restored.
            for conn in &slice {
                this.drive(conn, |st, _| {
                    let _ = st.session.socket_mut().shutdown_keeping_transport();
                });
            }
            let adapters: Vec<Arc<dyn Adapter>> = lock(&this.adapters).values().cloned().collect();
            for adapter in adapters {
                adapter.flush().await;
            }
            for conn in &slice {
                this.drive(conn, |st, cx| st.session.close(cx.now));
            }
        })
        .await;
        tracing::info!("socket.io server drained");
    }

    /// [`Server::shutdown`](crate::Server::shutdown).
    pub(super) async fn shutdown(&self) {
        if self.shut_down.swap(true, Ordering::AcqRel) {
            return;
        }
        tracing::info!("socket.io server shutting down");
        for conn in self.conns() {
            self.drive(&conn, |st, _| {
                let _ = st.session.socket_mut().shutdown();
            });
            // (The core asked for its engine session's close once its packets went; make
            // sure it is closing.)
            self.drive(&conn, |st, cx| st.session.close(cx.now));
        }
        let waits: Vec<BroadcastWait> = lock(&self.broadcasts)
            .waits
            .drain()
            .map(|(_, waiting)| waiting)
            .collect();
        for waiting in waits {
            if let Some(tx) = waiting.tx {
                let _ = tx.send((Vec::new(), false));
            }
        }
        for conn in self.conns() {
            conn.with_state(|st| st.layer.acks.clear());
        }
        let deadline = self.runtime.now() + self.config.shutdown_timeout;
        // The engine sessions close as their clients come back (polling) or at once.
        self.finish_shutdown(deadline).await;
        // Dropped after every lock: the closures' captures may run user code in their `Drop`.
        let registry = std::mem::take(&mut *lock(&self.registry));
        drop(registry);
        tracing::info!("socket.io server shut down");
    }
}
