//! Instrumentation for the official [Socket.IO Admin UI](https://socket.io/docs/v4/admin-ui/)
//! (`@socket.io/admin-ui` 0.5): [`instrument`] serves its protocol on a namespace of a
//! `socketio` server (`/admin` by default), so the UI (hosted at
//! <https://admin.socket.io>, or the package's `ui/dist` served by your own server) shows
//! this server's namespaces, sockets, rooms, clients and events, and can make sockets emit,
//! join, leave and disconnect.
//!
//! ```no_run
//! # fn io() -> socketio::Server { unimplemented!() }
//! use socketio_admin::{AdminOptions, Mode};
//!
//! let io = io();
//! // No authentication, every detail (development mode): for a local setup only.
//! let admin = socketio_admin::instrument(&io, AdminOptions::default()).unwrap();
//! # drop(admin);
//! // Basic authentication with a bcrypt hash (as the reference, e.g. from `bcrypt::hash`),
//! // aggregated statistics only, no commands.
//! let hash = bcrypt::hash("changeit", 10).unwrap();
//! let options = AdminOptions::default()
//!     .basic_auth("admin", hash)
//!     .mode(Mode::Production)
//!     .readonly(true)
//!     .server_id("node-1");
//! let admin = socketio_admin::instrument(&io, options).unwrap();
//! # drop(admin);
//! ```
//!
//! # The protocol (the reference's `typed-events`)
//!
//! - to the UI: `config` `{supportedFeatures}` on connect; `server_stats` every 2 s (`serverId`,
//!   `hostname`, `pid`, `uptime`, `clientsCount`, `pollingClientsCount`, `aggregatedEvents`,
//!   `namespaces` with their `socketsCount`); with basic auth, `session` (an id the UI
//!   presents instead of the password when it reconnects). In development mode also
//!   `all_sockets` on connect, `socket_connected`, `socket_updated` (an upgrade),
//!   `socket_disconnected`, `room_joined`, `room_left`, `event_received`, `event_sent`.
//!   Production mode sends what the reference sends there: `config` and `server_stats`.
//! - from the UI (unless `readonly`): `emit (nsp, filter, event, ...args)`,
//!   `join (nsp, room, filter?)`, `leave (nsp, room, filter?)`, `_disconnect (nsp, close,
//!   filter?)`, where `filter` is a room (a socket id is a room) or absent for every socket of
//!   the namespace. They come from the network: a malformed one, or one naming a namespace
//!   this server does not have, is ignored.
//!
//! `aggregatedEvents` counts `rawConnection` and `rawDisconnection` (by reason) per second,
//! and `packetsIn`, `packetsOut`, `bytesIn`, `bytesOut` as the reference counts them (the
//! Engine.IO packets carrying data, and their data's bytes), from
//! [`Server::traffic`](socketio::Server::traffic), which `instrument` turns on: read every
//! 2 s, the traffic of the last 2 s is reported at the second of the stats.
//!
//! # A cluster
//!
//! As the reference, it relies on the adapter: each node emits its own `server_stats` and
//! events to the admin namespace, which a cluster adapter (such as `socketio-redis`) carries
//! to the UI wherever it is connected; `all_sockets` is made of every namespace's
//! `fetch_sockets` (every node's sockets), and the commands are broadcasts and
//! `sockets_join`/`sockets_leave`/`disconnect_sockets`, which reach every node. Instrument
//! every node (with distinct `server_id`s). The transport and client id of another node's
//! socket are not part of what `fetch_sockets` carries: the node where the UI connected asks
//! the others (a server-side emit on the admin namespace) to send them as `socket_updated`.
//!
//! # Hooks used
//!
//! Only public API of `socketio`: [`Server::on_socket_connected`],
//! [`Server::on_room_change`], [`Server::on_transport_event`],
//! [`Socket::on_any_incoming`], [`Socket::on_any_outgoing`] (see `socketio::hooks`), and
//! [`Server::traffic`]. Their listeners are set only in development mode (production sets
//! the transport listener only), so a production server pays nothing per event; the traffic
//! counting costs a few relaxed atomic adds per frame or polling body (a broadcast's frame
//! written straight to its WebSockets once for all of them).
//!
//! Bounds: at most [`MAX_SESSIONS`] auth sessions (24 h each), at most
//! [`MAX_CONCURRENT_VERIFICATIONS`] bcrypt checks at a time (a connection beyond is refused),
//! at most [`MAX_AGGREGATED`] aggregated entries between two stats.

mod serialize;

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use serde_json::{Value as Json, json};
use socketio::hooks::{RoomChange, Traffic, TransportEvent};
use socketio::{ConnectError, Handshake, Server, Socket, Value, WeakServer};

/// The `bcrypt` crate, to make the hash [`AdminOptions::basic_auth`] takes.
pub use bcrypt;
pub use serialize::iso_date;

/// At most this many auth sessions are kept (the oldest is dropped first).
pub const MAX_SESSIONS: usize = 1024;
/// How long an auth session is valid (the reference's Redis store keeps them 24 h).
pub const SESSION_DURATION: Duration = Duration::from_secs(24 * 3600);
/// At most this many bcrypt verifications run at once (each takes a thread for ~0.1 s at
/// cost 10); a connection beyond is refused with `invalid credentials`.
pub const MAX_CONCURRENT_VERIFICATIONS: usize = 4;
/// At most this many aggregated-event entries between two `server_stats`.
pub const MAX_AGGREGATED: usize = 1000;
/// Longest namespace, room, filter or event name a command may carry, in bytes.
pub const MAX_NAME: usize = 1024;

/// How the stats are sent: every event (development), or aggregated counts only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// Every socket, room and event is sent to the UI (the reference's default when
    /// `NODE_ENV` is not `production`).
    #[default]
    Development,
    /// Only `config` and `server_stats` (aggregated counts), for busy servers.
    Production,
}

/// The options of [`instrument`], with the reference's defaults.
#[derive(Clone)]
pub struct AdminOptions {
    namespace_name: String,
    auth: Option<(String, String)>,
    readonly: bool,
    server_id: Option<String>,
    mode: Mode,
}

impl std::fmt::Debug for AdminOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminOptions")
            .field("namespace_name", &self.namespace_name)
            .field("username", &self.auth.as_ref().map(|(user, _)| user))
            .field("readonly", &self.readonly)
            .field("server_id", &self.server_id)
            .field("mode", &self.mode)
            .finish()
    }
}

impl Default for AdminOptions {
    fn default() -> Self {
        AdminOptions {
            namespace_name: "/admin".to_owned(),
            auth: None,
            readonly: false,
            server_id: None,
            mode: Mode::Development,
        }
    }
}

impl AdminOptions {
    /// The admin namespace (default `/admin`).
    pub fn namespace_name(mut self, name: impl Into<String>) -> Self {
        let name = name.into();
        self.namespace_name = if name.starts_with('/') {
            name
        } else {
            format!("/{name}")
        };
        self
    }

    /// Basic authentication: the UI must present `username` and a password matching
    /// `password_hash`, a bcrypt hash (`$2a$`/`$2b$`/`$2y$`, as `bcrypt::hash` or the reference's
    /// `bcryptjs` make). Without it, anyone who reaches the server may use the admin namespace.
    pub fn basic_auth(
        mut self,
        username: impl Into<String>,
        password_hash: impl Into<String>,
    ) -> Self {
        self.auth = Some((username.into(), password_hash.into()));
        self
    }

    /// No commands from the UI (`emit`, `join`, `leave`, `_disconnect` are ignored and not
    /// announced in `supportedFeatures`). Default `false`.
    pub fn readonly(mut self, readonly: bool) -> Self {
        self.readonly = readonly;
        self
    }

    /// The id the UI shows for this node (default: the host name).
    pub fn server_id(mut self, id: impl Into<String>) -> Self {
        self.server_id = Some(id.into());
        self
    }

    /// [`Mode::Development`] (default) or [`Mode::Production`].
    pub fn mode(mut self, mode: Mode) -> Self {
        self.mode = mode;
        self
    }
}

/// Why [`instrument`] refused its options.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AdminError {
    /// The password of [`AdminOptions::basic_auth`] is not a valid bcrypt hash.
    InvalidPasswordHash,
}

impl std::fmt::Display for AdminError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AdminError::InvalidPasswordHash => {
                f.write_str("the `password` field must be a valid bcrypt hash")
            }
        }
    }
}

impl std::error::Error for AdminError {}

/// The instrumentation of one server; [`stop`](Self::stop) ends its stats timer (dropping it
/// does not: the instrumentation lives as long as the server).
#[derive(Clone)]
pub struct Admin {
    state: Arc<State>,
}

impl std::fmt::Debug for Admin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Admin")
            .field("server_id", &self.state.server_id)
            .field("options", &self.state.options)
            .finish()
    }
}

impl Admin {
    /// Stops sending `server_stats` (the namespace and listeners stay).
    pub fn stop(&self) {
        self.state.stopped.store(true, Ordering::Release);
    }

    /// The server id shown in the UI.
    pub fn server_id(&self) -> &str {
        &self.state.server_id
    }
}

/// Serves the Admin UI's protocol on `io` (see the [crate docs](crate)).
///
/// ```no_run
/// # fn io() -> socketio::Server { unimplemented!() }
/// socketio_admin::instrument(&io(), socketio_admin::AdminOptions::default()).unwrap();
/// ```
pub fn instrument(io: &Server, options: AdminOptions) -> Result<Admin, AdminError> {
    match &options.auth {
        // A hash that cannot be parsed fails here, not at the first login.
        Some((_, hash)) if bcrypt::verify("", hash).is_err() => {
            return Err(AdminError::InvalidPasswordHash);
        }
        Some(_) => {}
        None => tracing::warn!(
            nsp = options.namespace_name,
            "admin UI instrumentation without authentication: anyone reaching the server may use it"
        ),
    }
    let state = Arc::new(State {
        io: io.downgrade(),
        server_id: options.server_id.clone().unwrap_or_else(hostname),
        hostname: hostname(),
        started: Instant::now(),
        options,
        sessions: Mutex::new(HashMap::new()),
        verifying: Arc::new(AtomicUsize::new(0)),
        events: Mutex::new(BTreeMap::new()),
        // Starts the server's traffic counting.
        traffic: Mutex::new(io.traffic()),
        stopped: AtomicBool::new(false),
    });
    let development = state.options.mode == Mode::Development;

    let on_connect = {
        let state = state.clone();
        move |socket: Socket| {
            let state = state.clone();
            async move { state.admin_connected(socket).await }
        }
    };
    let namespace = io.ns(state.options.namespace_name.clone(), on_connect);
    if state.options.auth.is_some() {
        let state = state.clone();
        namespace.with(move |handshake: Handshake| {
            let state = state.clone();
            async move { state.authenticate(handshake).await }
        });
    }

    let weak = Arc::downgrade(&state);
    io.on_transport_event(move |event| {
        if let Some(state) = weak.upgrade() {
            state.on_transport(event, development);
        }
    });
    if development {
        let weak = Arc::downgrade(&state);
        io.on_socket_connected(move |socket| {
            if let Some(state) = weak.upgrade() {
                state.on_socket(socket);
            }
        });
        let weak = Arc::downgrade(&state);
        io.on_room_change(move |change| {
            if let Some(state) = weak.upgrade() {
                state.on_room(change);
            }
        });
        // Another node's UI asks for this node's transports and client ids.
        let weak = Arc::downgrade(&state);
        io.of(state.options.namespace_name.clone())
            .on_server_side_emit(move |event: String, _args: Vec<Value>| {
                let state = weak.upgrade();
                async move {
                    if let (Some(state), true) = (state, event == REFRESH) {
                        state.announce_local_sockets().await;
                    }
                }
            });
    }
    spawn_stats(io, &state);
    Ok(Admin { state })
}

/// The server-side event asking every node for its sockets' transports.
const REFRESH: &str = "_admin_refresh";

/// An aggregated event: its second (since the epoch), its type and its subtype.
type EventKey = (u64, &'static str, Option<String>);

struct State {
    io: WeakServer,
    options: AdminOptions,
    server_id: String,
    hostname: String,
    started: Instant,
    /// Auth sessions: id → when made.
    sessions: Mutex<HashMap<String, Instant>>,
    verifying: Arc<AtomicUsize>,
    /// Aggregated events: (second, type, subType) → count.
    events: Mutex<BTreeMap<EventKey, u64>>,
    /// The server's traffic totals at the last stats.
    traffic: Mutex<Traffic>,
    stopped: AtomicBool,
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl State {
    fn server(&self) -> Option<Server> {
        self.io.upgrade()
    }

    /// Emits `[event, ...args]` to every admin socket (of the cluster).
    fn to_ui(&self, event: &str, args: Vec<Json>) {
        let Some(io) = self.server() else { return };
        let args: Vec<Value> = args
            .into_iter()
            .filter_map(|arg| socketio::to_value(&arg).ok())
            .collect();
        if let Err(error) = io
            .of(self.options.namespace_name.clone())
            .broadcast()
            .emit_args(event, args)
        {
            tracing::debug!(%error, event, "admin event not sent");
        }
    }

    fn is_admin(&self, nsp: &str) -> bool {
        nsp == self.options.namespace_name
    }

    // --- authentication ---------------------------------------------------------------

    fn has_session(&self, id: &str) -> bool {
        let mut sessions = lock(&self.sessions);
        match sessions.get(id) {
            Some(made) if made.elapsed() < SESSION_DURATION => true,
            Some(_) => {
                sessions.remove(id);
                false
            }
            None => false,
        }
    }

    fn new_session(&self) -> String {
        let mut bytes = [0u8; 8];
        if getrandom::fill(&mut bytes).is_err() {
            // No randomness: no session (the UI logs in with its password again).
            return String::new();
        }
        let id: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        let mut sessions = lock(&self.sessions);
        sessions.retain(|_, made| made.elapsed() < SESSION_DURATION);
        while sessions.len() >= MAX_SESSIONS {
            let oldest = sessions
                .iter()
                .min_by_key(|(_, made)| **made)
                .map(|(id, _)| id.clone());
            match oldest {
                Some(oldest) => sessions.remove(&oldest),
                None => break,
            };
        }
        sessions.insert(id.clone(), Instant::now());
        id
    }

    /// The middleware of the admin namespace with basic auth: a known session id, or the
    /// username and a password matching the hash.
    async fn authenticate(self: Arc<Self>, handshake: Handshake) -> Result<(), ConnectError> {
        let refused = || Err(ConnectError::new("invalid credentials"));
        let Some((username, hash)) = self.options.auth.clone() else {
            return Ok(());
        };
        if let Some(session) = handshake.auth_field::<String>("sessionId")
            && self.has_session(&session)
        {
            return Ok(());
        }
        let (Some(user), Some(password)) = (
            handshake.auth_field::<String>("username"),
            handshake.auth_field::<String>("password"),
        ) else {
            return refused();
        };
        if user != username || password.len() > 1024 {
            return refused();
        }
        // bcrypt is slow on purpose: it runs on a thread of its own, a few at a time.
        if self.verifying.fetch_add(1, Ordering::AcqRel) >= MAX_CONCURRENT_VERIFICATIONS {
            self.verifying.fetch_sub(1, Ordering::AcqRel);
            return refused();
        }
        let (tx, rx) = futures_channel::oneshot::channel();
        let verifying = self.verifying.clone();
        let spawned = std::thread::Builder::new()
            .name("admin-bcrypt".to_owned())
            .spawn(move || {
                let ok = bcrypt::verify(password.as_bytes(), &hash).unwrap_or(false);
                verifying.fetch_sub(1, Ordering::AcqRel);
                let _ = tx.send(ok);
            });
        if spawned.is_err() {
            self.verifying.fetch_sub(1, Ordering::AcqRel);
            return refused();
        }
        match rx.await {
            Ok(true) => Ok(()),
            _ => refused(),
        }
    }

    // --- an admin socket ------------------------------------------------------------------

    fn supported_features(&self) -> Vec<&'static str> {
        let mut features = Vec::new();
        if !self.options.readonly {
            features.extend([
                "EMIT",
                "JOIN",
                "LEAVE",
                "DISCONNECT",
                "MJOIN",
                "MLEAVE",
                "MDISCONNECT",
            ]);
        }
        features.push("AGGREGATED_EVENTS");
        if self.options.mode == Mode::Development {
            features.push("ALL_EVENTS");
        }
        features
    }

    async fn admin_connected(self: Arc<Self>, socket: Socket) {
        if !self.options.readonly {
            let state = Arc::downgrade(&self);
            socket.on_any(
                move |_socket: Socket, event: String, args: Vec<Value>, _ack| {
                    let state = state.upgrade();
                    async move {
                        if let Some(state) = state {
                            state.command(&event, args);
                        }
                    }
                },
            );
        }
        if self.options.auth.is_some() {
            let presented = socket.handshake().auth_field::<String>("sessionId");
            if !presented.is_some_and(|id| self.has_session(&id)) {
                let session = self.new_session();
                if !session.is_empty() {
                    socket.emit("session", &session).ok();
                }
            }
        }
        socket
            .emit(
                "config",
                &json!({ "supportedFeatures": self.supported_features() }),
            )
            .ok();
        if self.options.mode == Mode::Development {
            let Some(io) = self.server() else { return };
            let mut sockets = Vec::new();
            for (name, _) in io.namespaces() {
                match io.of(name.clone()).fetch_sockets().await {
                    Ok(found) => sockets.extend(found.iter().map(|s| serialize::remote(s, &name))),
                    Err(error) => {
                        tracing::debug!(%error, nsp = name, "admin: fetch_sockets failed")
                    }
                }
            }
            socket.emit("all_sockets", &sockets).ok();
            // The other nodes send their sockets' transports (not carried by fetch_sockets).
            let _ = io
                .of(self.options.namespace_name.clone())
                .server_side_emit(REFRESH, &())
                .await;
        }
    }

    /// A command from the UI; anything malformed is ignored.
    fn command(&self, event: &str, args: Vec<Value>) {
        let Some(io) = self.server() else { return };
        let mut args = args.into_iter();
        let Some(nsp) = name(args.next()) else {
            tracing::debug!(event, "admin command without a namespace");
            return;
        };
        if !io.namespaces().iter().any(|(known, _)| *known == nsp) {
            tracing::debug!(event, nsp, "admin command for an unknown namespace");
            return;
        }
        let namespace = io.of(nsp.clone());
        match event {
            "emit" => {
                let filter = name(args.next());
                let Some(ev) = name(args.next()) else { return };
                let rest: Vec<Value> = args.collect();
                let result = match filter {
                    Some(room) => namespace.to(room).emit_args(&ev, rest),
                    None => namespace.broadcast().emit_args(&ev, rest),
                };
                if let Err(error) = result {
                    tracing::debug!(%error, ev, "admin emit refused");
                }
            }
            "join" | "leave" => {
                let Some(room) = name(args.next()) else {
                    return;
                };
                let filter = name(args.next());
                let target = match filter {
                    Some(filter) => namespace.to(filter),
                    None => namespace.broadcast(),
                };
                if event == "join" {
                    target.sockets_join(room);
                } else {
                    target.sockets_leave(&room);
                }
            }
            "_disconnect" => {
                let Some(Value::Bool(close)) = args.next() else {
                    return;
                };
                match name(args.next()) {
                    Some(filter) => namespace.to(filter).disconnect_sockets(close),
                    None => namespace.disconnect_sockets(close),
                }
            }
            _ => tracing::debug!(event, "unknown admin command"),
        }
    }

    // --- observers ------------------------------------------------------------------------

    fn on_transport(&self, event: &TransportEvent, development: bool) {
        match event {
            TransportEvent::Opened { .. } => self.count("rawConnection", None),
            TransportEvent::Closed { reason, .. } => {
                self.count("rawDisconnection", Some(reason.clone()))
            }
            TransportEvent::Upgraded { client_id, .. } if development => {
                let Some(io) = self.server() else { return };
                for socket in io.client_sockets(client_id) {
                    self.to_ui(
                        "socket_updated",
                        vec![json!({"id": socket.id(), "nsp": socket.ns(), "transport": "websocket"})],
                    );
                }
            }
            _ => {}
        }
    }

    fn count(&self, kind: &'static str, sub: Option<String>) {
        self.count_n(kind, sub, 1);
    }

    fn count_n(&self, kind: &'static str, sub: Option<String>, n: u64) {
        let second = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let mut events = lock(&self.events);
        let key = (second, kind, sub);
        if let Some(count) = events.get_mut(&key) {
            *count += n;
        } else if events.len() < MAX_AGGREGATED {
            events.insert(key, n);
        }
    }

    /// Adds the server's traffic since the last stats (`packetsIn`, `packetsOut`, `bytesIn`,
    /// `bytesOut`, at the current second).
    fn count_traffic(&self, io: &Server) {
        let now = io.traffic();
        let before = std::mem::replace(&mut *lock(&self.traffic), now);
        for (kind, now, before) in [
            ("packetsIn", now.packets_in, before.packets_in),
            ("packetsOut", now.packets_out, before.packets_out),
            ("bytesIn", now.bytes_in, before.bytes_in),
            ("bytesOut", now.bytes_out, before.bytes_out),
        ] {
            let delta = now.saturating_sub(before);
            if delta > 0 {
                self.count_n(kind, None, delta);
            }
        }
    }

    fn on_socket(self: &Arc<Self>, socket: &Socket) {
        self.to_ui(
            "socket_connected",
            vec![serialize::local(socket), json!(iso_date(SystemTime::now()))],
        );
        if !self.is_admin(socket.ns()) {
            let weak = Arc::downgrade(self);
            socket.on_any_incoming(move |socket, event, args| {
                if let Some(state) = weak.upgrade() {
                    state.event("event_received", socket, event, args);
                }
            });
            let weak = Arc::downgrade(self);
            socket.on_any_outgoing(move |socket, event, args| {
                if let Some(state) = weak.upgrade() {
                    state.event("event_sent", socket, event, args);
                }
            });
        }
        let weak = Arc::downgrade(self);
        socket.on_disconnect(move |socket: Socket, reason| {
            let state = weak.upgrade();
            async move {
                if let Some(state) = state {
                    state.to_ui(
                        "socket_disconnected",
                        vec![
                            json!(socket.ns()),
                            json!(socket.id()),
                            json!(reason.to_string()),
                            json!(iso_date(SystemTime::now())),
                        ],
                    );
                }
            }
        });
    }

    fn event(&self, kind: &str, socket: &Socket, event: &str, args: &[Value]) {
        let mut all = Vec::with_capacity(args.len() + 1);
        all.push(json!(event));
        all.extend(args.iter().map(serialize::json));
        self.to_ui(
            kind,
            vec![
                json!(socket.ns()),
                json!(socket.id()),
                Json::Array(all),
                json!(iso_date(SystemTime::now())),
            ],
        );
    }

    fn on_room(&self, change: &RoomChange) {
        let kind = if change.joined {
            "room_joined"
        } else {
            "room_left"
        };
        self.to_ui(
            kind,
            vec![
                json!(change.nsp),
                json!(change.room),
                json!(change.sid),
                json!(iso_date(SystemTime::now())),
            ],
        );
    }

    /// Sends every local socket's transport and client id as `socket_updated` (asked by the
    /// node where a UI connected).
    async fn announce_local_sockets(&self) {
        let Some(io) = self.server() else { return };
        for (name, _) in io.namespaces() {
            let Ok(sockets) = io.of(name.clone()).local().fetch_sockets().await else {
                continue;
            };
            for socket in sockets.iter().filter_map(|s| s.as_local()) {
                self.to_ui(
                    "socket_updated",
                    vec![json!({
                        "id": socket.id(),
                        "nsp": name,
                        "clientId": serialize::client_id(socket),
                        "transport": serialize::transport(socket),
                    })],
                );
            }
        }
    }

    // --- stats ----------------------------------------------------------------------------

    fn stats(&self, io: &Server) -> Json {
        self.count_traffic(io);
        let aggregated: Vec<Json> = std::mem::take(&mut *lock(&self.events))
            .into_iter()
            .map(|((second, kind, sub), count)| {
                let mut event = json!({"timestamp": second * 1000, "type": kind, "count": count});
                if let Some(sub) = sub {
                    event["subType"] = json!(sub);
                }
                event
            })
            .collect();
        let namespaces: Vec<Json> = io
            .namespaces()
            .into_iter()
            .map(|(name, count)| json!({"name": name, "socketsCount": count}))
            .collect();
        json!({
            "serverId": self.server_id,
            "hostname": self.hostname,
            "pid": std::process::id(),
            "uptime": self.started.elapsed().as_secs_f64(),
            "clientsCount": io.clients_count(),
            "pollingClientsCount": io.polling_clients_count(),
            "aggregatedEvents": aggregated,
            "namespaces": namespaces,
        })
    }
}

/// Every 2 s, `server_stats` to the admin namespace, until the server is gone or shut down,
/// or [`Admin::stop`].
fn spawn_stats(io: &Server, state: &Arc<State>) {
    let runtime = io.runtime();
    let weak = Arc::downgrade(state);
    let sleeper = runtime.clone();
    runtime.spawn(Box::pin(async move {
        loop {
            {
                let Some(state) = weak.upgrade() else { return };
                let Some(io) = state.server() else { return };
                if io.is_shut_down() || state.stopped.load(Ordering::Acquire) {
                    return;
                }
                let stats = state.stats(&io);
                state.to_ui("server_stats", vec![stats]);
            }
            sleeper.sleep(Duration::from_secs(2)).await;
        }
    }));
}

/// A non-empty string argument of at most [`MAX_NAME`] bytes.
fn name(value: Option<Value>) -> Option<String> {
    match value {
        Some(Value::String(s)) if !s.is_empty() && s.len() <= MAX_NAME => Some(s),
        _ => None,
    }
}

/// The host name (Linux: the kernel's; else `$HOSTNAME`, else `localhost`).
fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|name| name.trim().to_owned())
        .filter(|name| !name.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "localhost".to_owned())
}
