//! Namespace admission: from a client's CONNECT to a `Socket` whose runner is started.
//!
//! ```text
//! ConnectRequest → on_connect_request: the namespace, or the dynamic matchers (a task)
//!   → resolve_connect: unknown → refused; recovery asked → restore_session (a task)
//!   → admit: the middlewares (a task) → Inner::connect_verdict, or at once
//!   → accept: accept_connect / accept_recovered; the connection machine holds its packets
//!   → Connected → connected: the Socket, its runner spawned (it joins its rooms, runs the
//!     connect handler's synchronous part, then releases the hold: Inner::release_held)
//! ```
//!
//! Matchers, middlewares and `restore_session` are user or adapter code: they run in tasks,
//! outside every lock, and come back through the connection (`Driver::drive`).

use crate::probe::ConnectResult;
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use futures_channel::mpsc;
use socketio_protocol::recovery::Restored;
use socketio_protocol::socket::Payload;
use socketio_protocol::socket::server::RestoredSession;
use socketio_protocol::{Str, Value};

use super::state::{Inner, Recovered, SioCell, SioLayer, SocketEntry, write};
use crate::driver::{ConnState, Cx};
use crate::namespace::{NsDef, lock};
use crate::{Handshake, Socket};
use socketio_protocol::recovery::offset_order;

/// A connect request on its way through admission: the namespace's definition, the handshake
/// and, once restored, the session's rooms and data.
pub(super) struct Accepting {
    def: Arc<NsDef>,
    handshake: Handshake,
    /// Once restored: the session's rooms, data, and the offset its catch-up starts after.
    restored: Option<(BTreeSet<Str>, Value, Str)>,
}

type St = ConnState<SioLayer>;

/// Runs `step` on connection `me` later, from a task (after user or adapter code).
fn resume(
    server: &Inner,
    me: &std::sync::Weak<SioCell>,
    step: impl FnOnce(&mut St, &mut Cx<'_, SioLayer>) + Send + 'static,
) {
    if let Some(conn) = me.upgrade() {
        server.drive(&conn, step);
    }
}

/// A client asks to join namespace `nsp`: its definition is looked up (a static namespace,
/// or the dynamic matchers, in a task).
pub(super) fn on_connect_request(
    st: &mut St,
    cx: &mut Cx<'_, SioLayer>,
    nsp: String,
    auth: Option<Payload>,
    recovery: Option<socketio_protocol::socket::server::RecoveryRequest>,
) {
    let (def, dynamics) = {
        let registry = lock(&cx.driver.registry);
        match registry.known(&nsp) {
            Some(def) => (Some(def), Vec::new()),
            None => (None, registry.dynamics()),
        }
    };
    if def.is_none() && !dynamics.is_empty() {
        // The matchers are user code: they run in a task, outside every lock.
        let server = cx.driver.arc();
        let me = st.layer.me.clone();
        cx.fx.spawn.push(Box::pin(async move {
            let def = crate::namespace::match_dynamic(&dynamics, &nsp)
                .map(|def| lock(&server.registry).remember(&nsp, def));
            resume(&server, &me, move |st, cx| {
                resolve_connect(st, cx, nsp, def, auth, recovery)
            });
        }));
        return;
    }
    resolve_connect(st, cx, nsp, def, auth, recovery);
}

/// Goes on with a connect request once the namespace's definition is known (`None`: no such
/// namespace).
fn resolve_connect(
    st: &mut St,
    cx: &mut Cx<'_, SioLayer>,
    nsp: String,
    def: Option<Arc<NsDef>>,
    auth: Option<Payload>,
    recovery: Option<socketio_protocol::socket::server::RecoveryRequest>,
) {
    let Some(def) = def else {
        tracing::debug!(nsp, "connect to an unknown namespace");
        cx.driver
            .probe
            .namespace_connect(ConnectResult::UnknownNamespace);
        let _ = st.session.socket_mut().refuse_namespace(&nsp);
        return;
    };
    let auth = auth
        .and_then(|payload| payload.to_value().ok())
        .unwrap_or(Value::Object(Vec::new()));
    let handshake = Handshake {
        http: st.layer.http.clone(),
        namespace: Arc::from(nsp.as_str()),
        auth: Arc::new(auth),
    };
    let accepting = Accepting {
        def: def.clone(),
        handshake: handshake.clone(),
        restored: None,
    };
    if let (Some(request), true) = (recovery, cx.driver.config.recovery.is_some()) {
        // The session comes from the adapter (maybe from another node): asked in a task,
        // without any lock.
        let server = cx.driver.arc();
        let me = st.layer.me.clone();
        cx.fx.spawn.push(Box::pin(async move {
            let restored = server
                .adapter(&nsp)
                .restore_session(Str::from(request.pid), Str::from(request.offset.clone()))
                .await;
            server.probe.recovery(restored.is_some());
            if restored.is_none() {
                tracing::debug!(nsp, "session not restored");
            }
            let restored = restored.map(|restored| (restored, Str::from(request.offset)));
            resume(&server, &me, move |st, cx| {
                admit(st, cx, nsp, accepting, restored)
            });
        }));
        return;
    }
    admit(st, cx, nsp, accepting, None);
}

/// Admits a connect request (its session restored or not): through the middlewares, or at
/// once.
fn admit(
    st: &mut St,
    cx: &mut Cx<'_, SioLayer>,
    nsp: String,
    accepting: Accepting,
    restored: Option<(Restored, Str)>,
) {
    if st.session.socket().is_closed() {
        return;
    }
    let def = accepting.def.clone();
    let handshake = accepting.handshake.clone();
    let skip = restored.is_some()
        && cx
            .driver
            .config
            .recovery
            .as_ref()
            .is_some_and(|r| r.skip_middlewares);
    let middlewares = def.middlewares();
    if skip || middlewares.is_empty() {
        accept(st, &nsp, accepting, restored);
        return;
    }
    let server = cx.driver.arc();
    let me = st.layer.me.clone();
    cx.fx.spawn.push(Box::pin(async move {
        let mut verdict = Ok(());
        for middleware in middlewares {
            verdict = middleware(handshake.clone()).await;
            if verdict.is_err() {
                break;
            }
        }
        let probe = server.probe.clone();
        resume(&server, &me, move |st, _| match verdict {
            Ok(()) => accept(st, &nsp, accepting, restored),
            Err(error) => {
                probe.namespace_connect(ConnectResult::Refused);
                tracing::debug!(nsp, message = %error.message, "connection refused by a middleware");
                let _ = st.session.socket_mut().refuse_connect(&nsp, &error.message, error.data);
            }
        });
    }));
}

/// Accepts a pending namespace connection (fresh or restored: `restored` with the offset its
/// client gave).
fn accept(st: &mut St, nsp: &str, mut accepting: Accepting, restored: Option<(Restored, Str)>) {
    let socket = st.session.socket_mut();
    let result = match restored {
        Some((restored, seen)) => {
            // Its catch-up starts after the last event the restore gives it.
            let last_given = restored
                .missed
                .iter()
                .rev()
                .find_map(|packet| packet.data.as_ref().and_then(offset_of))
                .unwrap_or(seen);
            accepting.restored = Some((restored.rooms, restored.data, last_given));
            let missed = restored
                .missed
                .into_iter()
                .filter_map(|packet| packet.data)
                .collect();
            socket.accept_recovered(
                nsp,
                RestoredSession {
                    sid: restored.sid,
                    pid: restored.pid,
                    missed,
                },
            )
        }
        None => socket.accept_connect(nsp),
    };
    if result.is_ok() {
        // One hold per pending handler; a repeated accept replaces the pending one.
        // Its packets (the CONNECT first) wait for the connect handler's synchronous part.
        if st
            .layer
            .accepting
            .insert(nsp.to_owned(), accepting)
            .is_none()
        {
            st.session.hold();
        }
    }
}

/// A namespace connection was accepted (the core sent its CONNECT): its `Socket` is made and
/// its runner queued.
pub(super) fn connected(
    st: &mut St,
    cx: &mut Cx<'_, SioLayer>,
    nsp: String,
    sid: Str,
    pid: Option<Str>,
    recovered: bool,
) {
    let Some(accepting) = st.layer.accepting.remove(&nsp) else {
        return;
    };
    if st.layer.accepting.is_empty() {
        // An idle connection keeps no table.
        st.layer.accepting = HashMap::new();
    }
    let Some(me) = st.layer.me.upgrade() else {
        return;
    };
    tracing::debug!(%sid, nsp, recovered, "socket connected");
    cx.driver.probe.namespace_connect(ConnectResult::Accepted);
    // Its rooms join in the adapter when its runner starts (outside the lock), before the
    // connect handler and before the client sees its CONNECT.
    let mut rooms = vec![sid.clone()];
    let mut catch_up = None;
    let data = match accepting.restored {
        Some((restored, data, last_given)) => {
            rooms.extend(restored.into_iter().filter(|room| *room != sid));
            if let Some(given) = offset_order(&last_given) {
                // Live events wait from now until its catch-up is done (see `Recovered`).
                st.layer.recovered.retain(|r| r.sid != sid);
                st.layer.recovered.push(Recovered {
                    sid: sid.clone(),
                    given,
                    waiting: Some(Vec::new()),
                });
                catch_up = Some(last_given);
            }
            data
        }
        None => Value::Null,
    };
    let (queue_tx, queue) = mpsc::unbounded();
    let socket = Socket::new(
        sid.clone(),
        Arc::from(nsp.as_str()),
        accepting.handshake,
        recovered,
        pid.clone(),
        data,
        cx.driver.arc(),
        me,
        queue_tx,
        st.layer.gate.clone(),
    );
    st.layer.sockets.push(socket.clone());
    write(&cx.driver.nsps)
        .entry(nsp)
        .or_default()
        .sockets
        .insert(
            sid,
            SocketEntry {
                socket: socket.clone(),
                pid,
            },
        );
    cx.fx
        .spawn
        .push(socket.runner(accepting.def.handler.clone(), rooms, queue, catch_up));
}

/// The offset an event carries (its last argument, when a string), as the official client
/// reads it.
pub(super) fn offset_of(payload: &Payload) -> Option<Str> {
    match payload.to_value().ok()? {
        Value::Array(mut items) => match items.pop()? {
            Value::String(offset) => Some(Str::from(offset)),
            _ => None,
        },
        _ => None,
    }
}
