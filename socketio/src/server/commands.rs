//! The API commands: what `Socket`, `BroadcastOperator` and the adapter's `LocalNamespace`
//! call on `Inner`. Each takes the lock (`with_state`), only queues work on a core, pumps and
//! unlocks; the adapter is called without the lock.
//!
//! ```text
//! socket.emit         → emit_to_socket → State::send_event (with recovery: the adapter)
//! io.to(room).emit    → adapter(nsp).broadcast → LocalNamespace::deliver → deliver
//!                       → State::send_event, one encoding for every recipient
//! socket.emit_with_ack / operator emit_with_ack
//!                     → emit_with_ack_to_socket / deliver_with_ack: an ack id per
//!                       namespace, the waiter in State::acks (and State::broadcasts)
//! ack, disconnect_socket, release_held, close_transport: one connection's core
//! ```
//!
//! Shutdown is here too (`Inner::shutdown`, behind [`Server::shutdown`]).

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use futures_channel::oneshot;
use socketio_protocol::rooms::BroadcastOptions;
use socketio_protocol::socket::Payload;
use socketio_protocol::socket::ack::BroadcastAck;
use socketio_protocol::{Str, Value};

use super::state::{AckReply, AckTarget, BroadcastWait};
use super::{Inner, NO_CTX};
use crate::adapter::{Adapter, BroadcastAcks, BroadcastMessage, LocalNamespace};
use crate::namespace::lock;
use crate::{EmitError, Socket};

impl Inner {
    /// `socket.emit`. With connection state recovery on, the event goes through the adapter
    /// to the socket's own room as in the reference, so it is stored with its offset and
    /// replayed if the client comes back: an emit made while it is briefly away is not lost
    /// (and, as in the reference, it is `Ok` whether or not the session comes back).
    pub(crate) fn emit_to_socket(
        &self,
        nsp: &str,
        sid: &Str,
        pid: Option<&Str>,
        value: Value,
    ) -> Result<(), EmitError> {
        let opts = BroadcastOptions::new().to(sid.clone());
        if self.config.recovery.is_some() && pid.is_some() {
            self.adapter(nsp)
                .broadcast(BroadcastMessage::new(value, opts));
            return Ok(());
        }
        self.with_state(NO_CTX, |st, now, inner| {
            let Some(ns) = st.nsps.get(nsp) else {
                return Err(EmitError::Disconnected);
            };
            let connected = ns.sockets.contains_key(sid);
            if !connected {
                return Err(EmitError::Disconnected);
            }
            st.send_event(
                inner,
                now,
                nsp,
                std::slice::from_ref(sid),
                value,
                false,
                None,
            );
            st.pump(inner, now, NO_CTX);
            Ok(())
        })
    }

    pub(crate) fn emit_with_ack_to_socket(
        &self,
        nsp: &str,
        sid: &Str,
        value: Value,
        timeout: Option<Duration>,
    ) -> Result<oneshot::Receiver<AckReply>, EmitError> {
        self.with_state(NO_CTX, |st, now, inner| {
            let Some(ns) = st.nsps.get_mut(nsp) else {
                return Err(EmitError::Disconnected);
            };
            let Some(engine_sid) = ns.sockets.get(sid).map(|e| e.engine_sid.clone()) else {
                return Err(EmitError::Disconnected);
            };
            let id = ns.next_ack;
            ns.next_ack += 1;
            let deadline = timeout.map(|t| now + t);
            let Some(conn) = st.conns.get_mut(&engine_sid) else {
                return Err(EmitError::Disconnected);
            };
            conn.core
                .emit_with_ack_id(sid, id, Payload::Value(value), deadline)
                .map_err(|_| EmitError::Disconnected)?;
            st.dirty.push(engine_sid);
            let (tx, rx) = oneshot::channel();
            st.acks.insert((sid.clone(), id), AckTarget::Single(tx));
            st.pump(inner, now, NO_CTX);
            Ok(rx)
        })
    }

    pub(crate) fn ack(
        &self,
        engine_sid: &Str,
        sid: &str,
        id: u64,
        args: Value,
    ) -> Result<(), EmitError> {
        self.with_state(NO_CTX, |st, now, inner| {
            let conn = st
                .conns
                .get_mut(engine_sid)
                .ok_or(EmitError::Disconnected)?;
            conn.core
                .ack(sid, id, Payload::Value(args))
                .map_err(|_| EmitError::Disconnected)?;
            st.dirty.push(engine_sid.clone());
            st.pump(inner, now, NO_CTX);
            Ok(())
        })
    }

    /// The adapter of namespace `nsp`, made on first use (the factory runs outside every
    /// lock; a concurrent first use keeps the first one made).
    pub(crate) fn adapter(&self, nsp: &str) -> Arc<dyn Adapter> {
        if let Some(adapter) = lock(&self.adapters).get(nsp) {
            return adapter.clone();
        }
        let local = LocalNamespace::new(self.self_ref.clone(), Arc::from(nsp));
        let made = (self.config.adapter)(local);
        lock(&self.adapters)
            .entry(nsp.to_owned())
            .or_insert(made)
            .clone()
    }

    /// [`LocalNamespace::deliver`]: `message` to this node's sockets `sids`.
    pub(crate) fn deliver(&self, nsp: &str, message: &BroadcastMessage, sids: &[Str]) -> usize {
        self.with_state(NO_CTX, |st, now, inner| {
            let count = st.send_event(
                inner,
                now,
                nsp,
                sids,
                message.data.clone(),
                message.volatile,
                None,
            );
            st.pump(inner, now, NO_CTX);
            count
        })
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
        let count = self.with_state(NO_CTX, |st, now, inner| {
            let id = {
                let ns = st.ns_state(nsp);
                let id = ns.next_ack;
                ns.next_ack += 1;
                id
            };
            let count = st.send_event(
                inner,
                now,
                nsp,
                sids,
                message.data.clone(),
                message.volatile,
                Some(id),
            );
            let deadline = now + timeout;
            let reached: Vec<Str> = sids
                .iter()
                .filter(|sid| st.acks.contains_key(&((*sid).clone(), id)))
                .cloned()
                .collect();
            let ack = BroadcastAck::local(deadline, reached.len());
            st.broadcasts.insert(
                (nsp.to_owned(), id),
                BroadcastWait {
                    ack,
                    tx: Some(tx),
                    members: reached,
                },
            );
            st.broadcast_timers.insert((deadline, nsp.to_owned(), id));
            st.check_broadcast(now, nsp, id);
            st.pump(inner, now, NO_CTX);
            count
        });
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
        self.with_state(NO_CTX, |st, _, _| {
            let Some(ns) = st.nsps.get(nsp) else {
                return Vec::new();
            };
            sids.iter()
                .filter_map(|sid| ns.sockets.get(sid).map(|e| e.socket.clone()))
                .collect()
        })
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

    pub(crate) fn disconnect_socket(&self, engine_sid: &Str, sid: &str, close: bool) {
        self.with_state(NO_CTX, |st, now, inner| {
            if let Some(conn) = st.conns.get_mut(engine_sid) {
                let _ = if close {
                    conn.core.close()
                } else {
                    conn.core.disconnect(sid)
                };
                st.dirty.push(engine_sid.clone());
                st.pump(inner, now, NO_CTX);
            }
        });
    }

    /// A connection handler ran its synchronous part: the connection's packets (its CONNECT
    /// first) may go once no other handler is pending.
    pub(crate) fn release_held(&self, engine_sid: &Str) {
        self.with_state(NO_CTX, |st, now, inner| {
            if let Some(conn) = st.conns.get_mut(engine_sid) {
                conn.held = conn.held.saturating_sub(1);
                st.dirty.push(engine_sid.clone());
                st.pump(inner, now, NO_CTX);
            }
        });
    }

    /// Closes engine session `engine_sid` (`forced close` for every socket on it).
    pub(crate) fn close_transport(&self, engine_sid: &Str) {
        self.with_state(NO_CTX, |st, now, inner| {
            if st.engine.close(now, engine_sid).is_ok() {
                st.pump(inner, now, NO_CTX);
            }
        });
    }

    /// [`Server::shutdown`].
    pub(super) async fn shutdown(&self) {
        let inner = self;
        if inner.shut_down.swap(true, Ordering::AcqRel) {
            return;
        }
        tracing::info!("socket.io server shutting down");
        inner.with_state(NO_CTX, |st, now, inner| {
            let sids: Vec<Str> = st.conns.keys().cloned().collect();
            for sid in sids {
                if let Some(conn) = st.conns.get_mut(&sid) {
                    let _ = conn.core.shutdown();
                    st.dirty.push(sid);
                }
            }
            st.pump(inner, now, NO_CTX);
            // (Each core asked for its engine session's close; make sure none is left open.)
            let sids: Vec<Str> = st.conns.keys().cloned().collect();
            for sid in sids {
                let _ = st.engine.close(now, &sid);
            }
            st.pump(inner, now, NO_CTX);
            for (_, waiting) in st.broadcasts.drain() {
                if let Some(tx) = waiting.tx {
                    let _ = tx.send((Vec::new(), false));
                }
            }
            st.acks.clear();
        });
        let deadline = inner.runtime.now() + inner.config.shutdown_timeout;
        // The engine sessions close as their clients come back (polling) or at once.
        while inner.with_state(NO_CTX, |st, _, _| st.engine.session_count() > 0)
            && inner.runtime.now() < deadline
        {
            inner.runtime.sleep(Duration::from_millis(5)).await;
        }
        inner.with_state(NO_CTX, |st, now, inner| {
            st.engine.close_all(now);
            st.pump(inner, now, NO_CTX);
            st.io.close_all();
        });
        // Stop the timer task.
        lock(&inner.wake).take();
        while (inner.tasks.load(Ordering::Acquire) > 0
            || inner.websockets.load(Ordering::Acquire) > 0
            || inner.timer_running.load(Ordering::Acquire))
            && inner.runtime.now() < deadline
        {
            inner.runtime.sleep(Duration::from_millis(5)).await;
        }
        // Dropped after the lock: the closures' captures may run user code in their `Drop`.
        let registry = std::mem::take(&mut *lock(&inner.registry));
        drop(registry);
        tracing::info!("socket.io server shut down");
    }
}
