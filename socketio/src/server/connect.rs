//! Namespace admission: from a client's CONNECT to a `Socket` whose runner is started.
//!
//! ```text
//! ConnectRequest → on_connect_request: the namespace, or the dynamic matchers (a task)
//!   → resolve_connect: unknown → refused; recovery asked → restore_session (a task)
//!   → admit: the middlewares (a task) → Inner::connect_verdict, or at once
//!   → accept: core.accept_connect / accept_recovered; the connection is held
//!   → Connected → connected: the Socket, its runner spawned (it joins its rooms, runs the
//!     connect handler's synchronous part, then releases the hold: Inner::release_held)
//! ```
//!
//! Matchers, middlewares and `restore_session` are user or adapter code: they run in tasks,
//! outside the lock, and come back with `with_state`.

use std::collections::BTreeSet;
use std::sync::Arc;

use futures_channel::mpsc;
use socketio_protocol::recovery::Restored;
use socketio_protocol::socket::Payload;
use socketio_protocol::socket::server::RestoredSession;
use socketio_protocol::{Str, Value};

use super::state::{SocketEntry, State};
use super::{Inner, NO_CTX};
use crate::namespace::{NsDef, lock};
use crate::{Handshake, Socket};

/// A connect request on its way through admission: the namespace's definition, the handshake
/// and, once restored, the session's rooms and data.
pub(super) struct Accepting {
    def: Arc<NsDef>,
    handshake: Handshake,
    restored: Option<(BTreeSet<Str>, Value)>,
}

impl State {
    /// A client asks to join namespace `nsp`: its definition is looked up (a static namespace,
    /// or the dynamic matchers, in a task).
    pub(super) fn on_connect_request(
        &mut self,
        inner: &Inner,
        engine_sid: &Str,
        nsp: String,
        auth: Option<Payload>,
        recovery: Option<socketio_protocol::socket::server::RecoveryRequest>,
    ) {
        let (def, dynamics) = {
            let registry = lock(&inner.registry);
            match registry.known(&nsp) {
                Some(def) => (Some(def), Vec::new()),
                None => (None, registry.dynamics()),
            }
        };
        if def.is_none() && !dynamics.is_empty() {
            // The matchers are user code: they run in a task, outside the lock.
            let server = inner.arc();
            let engine_sid = engine_sid.clone();
            self.spawn.push(Box::pin(async move {
                let def = crate::namespace::match_dynamic(&dynamics, &nsp)
                    .map(|def| lock(&server.registry).remember(&nsp, def));
                server.with_state(NO_CTX, |st, now, inner| {
                    st.resolve_connect(inner, &engine_sid, nsp, def, auth, recovery);
                    st.pump(inner, now, NO_CTX);
                });
            }));
            return;
        }
        self.resolve_connect(inner, engine_sid, nsp, def, auth, recovery);
    }

    /// Goes on with a connect request once the namespace's definition is known (`None`: no
    /// such namespace).
    #[allow(clippy::too_many_arguments)]
    fn resolve_connect(
        &mut self,
        inner: &Inner,
        engine_sid: &Str,
        nsp: String,
        def: Option<Arc<NsDef>>,
        auth: Option<Payload>,
        recovery: Option<socketio_protocol::socket::server::RecoveryRequest>,
    ) {
        let Some(conn) = self.conns.get_mut(engine_sid) else {
            return;
        };
        let Some(def) = def else {
            tracing::debug!(nsp, "connect to an unknown namespace");
            let _ = conn.core.refuse_namespace(&nsp);
            self.dirty.push(engine_sid.clone());
            return;
        };
        let auth = auth
            .and_then(|payload| payload.to_value().ok())
            .unwrap_or(Value::Object(Vec::new()));
        let handshake = Handshake {
            http: conn.http.clone(),
            namespace: Arc::from(nsp.as_str()),
            auth: Arc::new(auth),
        };
        let accepting = Accepting {
            def: def.clone(),
            handshake: handshake.clone(),
            restored: None,
        };
        if let (Some(request), true) = (recovery, inner.config.recovery.is_some()) {
            // The session comes from the adapter (maybe from another node): asked in a task,
            // without the lock.
            let server = inner.arc();
            let engine_sid = engine_sid.clone();
            self.spawn.push(Box::pin(async move {
                let restored = server
                    .adapter(&nsp)
                    .restore_session(Str::from(request.pid), Str::from(request.offset))
                    .await;
                if restored.is_none() {
                    tracing::debug!(nsp, "session not restored");
                }
                server.with_state(NO_CTX, |st, now, inner| {
                    st.admit(inner, &engine_sid, nsp, accepting, restored);
                    st.pump(inner, now, NO_CTX);
                });
            }));
            return;
        }
        self.admit(inner, engine_sid, nsp, accepting, None);
    }

    /// Admits a connect request (its session restored or not): through the middlewares, or
    /// at once.
    fn admit(
        &mut self,
        inner: &Inner,
        engine_sid: &Str,
        nsp: String,
        accepting: Accepting,
        restored: Option<Restored>,
    ) {
        if !self.conns.contains_key(engine_sid) {
            return;
        }
        let def = accepting.def.clone();
        let handshake = accepting.handshake.clone();
        let skip = restored.is_some()
            && inner
                .config
                .recovery
                .as_ref()
                .is_some_and(|r| r.skip_middlewares);
        let middlewares = def.middlewares();
        if skip || middlewares.is_empty() {
            self.accept(engine_sid, &nsp, accepting, restored);
            return;
        }
        let server = inner.arc();
        let engine_sid = engine_sid.clone();
        self.spawn.push(Box::pin(async move {
            let mut verdict = Ok(());
            for middleware in middlewares {
                verdict = middleware(handshake.clone()).await;
                if verdict.is_err() {
                    break;
                }
            }
            server.connect_verdict(&engine_sid, &nsp, accepting, restored, verdict);
        }));
    }

    /// Accepts a pending namespace connection (fresh or restored).
    fn accept(
        &mut self,
        engine_sid: &Str,
        nsp: &str,
        mut accepting: Accepting,
        restored: Option<Restored>,
    ) {
        let Some(conn) = self.conns.get_mut(engine_sid) else {
            return;
        };
        let result = match restored {
            Some(restored) => {
                accepting.restored = Some((restored.rooms, restored.data));
                let missed = restored
                    .missed
                    .into_iter()
                    .filter_map(|packet| packet.data)
                    .collect();
                conn.core.accept_recovered(
                    nsp,
                    RestoredSession {
                        sid: restored.sid,
                        pid: restored.pid,
                        missed,
                    },
                )
            }
            None => conn.core.accept_connect(nsp),
        };
        if result.is_ok() {
            // One hold per pending handler; a repeated accept replaces the pending one.
            if conn.accepting.insert(nsp.to_owned(), accepting).is_none() {
                conn.held += 1;
            }
        }
        self.dirty.push(engine_sid.clone());
    }

    /// A namespace connection was accepted (the core sent its CONNECT): its `Socket` is made
    /// and its runner queued.
    pub(super) fn connected(
        &mut self,
        inner: &Inner,
        engine_sid: &Str,
        nsp: String,
        sid: Str,
        pid: Option<Str>,
        recovered: bool,
    ) {
        let Some(conn) = self.conns.get_mut(engine_sid) else {
            return;
        };
        let Some(accepting) = conn.accepting.remove(&nsp) else {
            return;
        };
        let gate = conn.gate.clone();
        tracing::debug!(%sid, nsp, recovered, "socket connected");
        let ns = self.ns_state(&nsp);
        // Its rooms join in the adapter when its runner starts (outside the lock),
        // before the connect handler and before the client sees its CONNECT.
        let mut rooms = vec![sid.clone()];
        let data = match accepting.restored {
            Some((restored, data)) => {
                rooms.extend(restored.into_iter().filter(|room| *room != sid));
                data
            }
            None => Value::Null,
        };
        let (queue_tx, queue) = mpsc::unbounded();
        let socket = Socket::new(
            sid.clone(),
            Arc::from(nsp.as_str()),
            engine_sid.clone(),
            accepting.handshake,
            recovered,
            pid.clone(),
            data,
            inner.arc(),
            queue_tx,
            gate,
        );
        ns.sockets.insert(
            sid,
            SocketEntry {
                engine_sid: engine_sid.clone(),
                socket: socket.clone(),
                pid,
            },
        );
        self.spawn
            .push(socket.runner(accepting.def.handler.clone(), rooms, queue));
    }
}

impl Inner {
    /// The verdict of the middlewares on a pending namespace connection.
    fn connect_verdict(
        &self,
        engine_sid: &Str,
        nsp: &str,
        accepting: Accepting,
        restored: Option<Restored>,
        verdict: Result<(), crate::ConnectError>,
    ) {
        self.with_state(NO_CTX, |st, now, inner| {
            let Some(conn) = st.conns.get_mut(engine_sid) else {
                return;
            };
            match verdict {
                Ok(()) => st.accept(engine_sid, nsp, accepting, restored),
                Err(error) => {
                    tracing::debug!(nsp, message = %error.message, "connection refused by a middleware");
                    let _ = conn.core.refuse_connect(nsp, &error.message, error.data);
                    st.dirty.push(engine_sid.clone());
                }
            }
            st.pump(inner, now, NO_CTX);
        });
    }
}
