//! The driver both servers share ([`Server`](crate::Server) and
//! [`EngineServer`](crate::engine::EngineServer)): the Engine.IO [`Router`] behind a small
//! lock of its own, and each session behind its own lock, with what sits on top of it (the
//! [`Layer`]: a Socket.IO connection, or the engine-only socket).
//!
//! No lock is server-wide on the path of a frame, an emit or a broadcast: a frame takes its
//! connection's lock only; a broadcast takes each recipient's in turn. Locks are taken in one
//! order only — the router's (`front`), then one connection's, then the leaf locks (the
//! timers', a layer's maps) — and a connection's lock is never held while another's, or the
//! router's, is taken: what a connection's step needs of the rest of the server is deferred
//! to [`Effects`], run after its lock is released (with every user call: adapters, handlers).
//!
//! Run loop of one connection (`Driver::drive`):
//!
//! ```text
//! lock the connection; feed its machine an input (a request, a frame, a command, a timeout)
//! loop {
//!     machine.poll_transmit() → Plumbing::on_transmit (answers, WebSocket frames, closes)
//!     machine.poll_event()    → Layer::on_event (Socket.IO events, the upgrade, the close;
//!                               handlers and adapter calls queued as Effects)
//! } until nothing moves
//! re-file the connection's deadline in the timers; unlock
//! run the Effects: a closed session leaves the router's map; calls; spawned tasks
//! ```
//!
//! The machine is `socketio_protocol::connection::Connection` for the Socket.IO server (the
//! session and its Socket.IO side, composed in `protocol/`) and the bare `Session` for the
//! engine-only server ([`Machine`]).
//!
//! Requests and upgrades first go to the router (`route_request`, `route_websocket`): an
//! error or a parked handshake stays there; a new session gets its own connection; anything
//! else goes to the connection of the session it names. One timer task sleeps until the
//! earliest deadline of every connection (and the layer's own, such as broadcasts with acks).

mod entry;
mod machine;

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use bytes::Bytes;
use futures_channel::mpsc;
use futures_util::StreamExt;
use http_body_util::Full;
use socketio_protocol::engine::CloseReason;
use socketio_protocol::engine::server::{
    Config as CoreConfig, ConnectionId, Event, Handshake, Router, Session, Transmit, TransportId,
    TransportKind,
};
use socketio_protocol::{Instant, Str};

use crate::fasthash::IdMap;
use crate::flow::{Backpressure, Gate};
use crate::httputil::plain;
use crate::ids::id_generator;
use crate::namespace::lock;
use crate::plumbing::Plumbing;
use crate::probe::Transport;
use crate::{AllowRequest, BoxTask, Runtime};

pub(crate) use entry::{RequestCtx, Ticket};
pub(crate) use machine::Machine;

/// What a driver carries on top of each Engine.IO session.
pub(crate) trait Layer: Send + Sync + Sized + 'static {
    /// The machine behind each connection's lock (the bare session, or the session with
    /// its Socket.IO side).
    type Machine: Machine;
    /// The per-connection state beside the machine.
    type Conn: Send + 'static;

    /// The machine over a session the router just opened, and the handshake it opened with.
    fn machine(&self, now: Instant, session: Session) -> Option<(Self::Machine, Handshake)>;

    /// A session opened (`handshake`, by the request in `ctx`): its state. `cell` is the
    /// connection being made (for handles on it).
    fn open(
        &self,
        cx: &mut Cx<'_, Self>,
        cell: &Weak<Conn<Self>>,
        handshake: Handshake,
        ctx: RequestCtx<'_>,
    ) -> Self::Conn;

    /// An event of the machine (a message, the upgrade, the close, …), under its lock.
    fn on_event(
        &self,
        st: &mut ConnState<Self>,
        cx: &mut Cx<'_, Self>,
        event: <Self::Machine as Machine>::Event,
    );

    /// The session's incoming side (backpressure).
    fn gate(conn: &Self::Conn) -> &Arc<Gate>;

    /// What the server reports to its metrics (nothing by default).
    fn probe(&self) -> &crate::probe::Probe {
        &crate::probe::NO_PROBE
    }

    /// The server's traffic counters (none counting by default).
    fn traffic(&self) -> &crate::hooks::TrafficCounters {
        &crate::hooks::NO_TRAFFIC
    }

    /// The layer's own deadlines, due at `now` (server-wide, such as broadcasts with acks);
    /// called by the timer task without any lock.
    fn on_timer(driver: &Driver<Self>, now: Instant) {
        let _ = (driver, now);
    }
}

/// The step of one connection: the clock, the driver, and the effects to run after its lock.
pub(crate) struct Cx<'a, L: Layer> {
    pub(crate) now: Instant,
    pub(crate) driver: &'a Driver<L>,
    pub(crate) fx: &'a mut Effects,
}

/// What a locked step defers until its lock is released.
#[derive(Default)]
pub(crate) struct Effects {
    /// Calls to make, in order, before the tasks are spawned (adapter calls: an adapter may
    /// call back into the server).
    pub(crate) after: Vec<Box<dyn FnOnce() + Send>>,
    /// Tasks to spawn (handlers, middlewares, matchers).
    pub(crate) spawn: Vec<BoxTask>,
    /// Handshakes waiting for `allow_request` (user code), run by the request's caller.
    pub(crate) checks: Vec<TransportId>,
    /// Connections whose session closed: they leave the router's map.
    closed: Vec<Str>,
    /// The timer task must look again (a deadline came earlier).
    wake: bool,
}

/// One Engine.IO session with its layer, behind its own lock.
pub(crate) struct Conn<L: Layer> {
    /// The engine session id.
    pub(crate) sid: Str,
    state: Mutex<ConnState<L>>,
}

/// What a connection's lock holds.
pub(crate) struct ConnState<L: Layer> {
    /// The connection's machine (its session, with its Socket.IO side for that server).
    pub(crate) session: L::Machine,
    pub(crate) io: Plumbing,
    pub(crate) layer: L::Conn,
    /// The deadline filed in the timers.
    armed: Option<Instant>,
    /// The latest `now` fed to the machines: a clock read before waiting for the lock may be
    /// older, and the machines must never see time go back.
    last_now: Instant,
    /// Left the router's map (its session closed).
    gone: bool,
}

/// The router and the live sessions, behind the `front` lock.
struct Front<L: Layer> {
    router: Router,
    sessions: IdMap<Str, Arc<Conn<L>>>,
    io: Plumbing,
    last_now: Instant,
}

/// What the timer task wakes for.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord)]
enum TimerKey {
    /// The layer's own deadlines ([`Layer::on_timer`]).
    Layer,
    /// A connection's.
    Conn(Str),
}

#[derive(Default)]
struct Timers {
    due: BTreeSet<(Instant, TimerKey)>,
    /// What the timer task sleeps until.
    target: Option<Instant>,
}

/// The shared driver: see the module docs.
pub(crate) struct Driver<L: Layer> {
    pub(crate) layer: L,
    pub(crate) self_ref: Weak<Driver<L>>,
    pub(crate) runtime: Arc<dyn Runtime>,
    epoch: std::time::Instant,
    front: Mutex<Front<L>>,
    timers: Mutex<Timers>,
    wake: Mutex<Option<mpsc::Sender<()>>>,
    pub(crate) next_id: AtomicU64,
    /// Handler tasks still running.
    tasks: Arc<AtomicUsize>,
    /// WebSockets being served.
    websockets: AtomicUsize,
    timer_running: AtomicBool,
    pub(crate) shut_down: AtomicBool,
    /// Draining (`Server::drain`): new handshakes, and requests for sessions this node does
    /// not know, get `503` so a load balancer sends them to another node.
    pub(crate) draining: AtomicBool,
    /// The `Retry-After` (seconds) of the `503`s while draining or shutting down.
    pub(crate) retry_after_secs: AtomicU64,
    pub(crate) limits: Backpressure,
    allow_request: Option<AllowRequest>,
    prefix: String,
}

impl<L: Layer> Driver<L> {
    /// A driver for `layer` (made with the driver's weak self), its timer task spawned.
    pub(crate) fn new(
        core: CoreConfig,
        limits: Backpressure,
        allow_request: Option<AllowRequest>,
        runtime: Arc<dyn Runtime>,
        layer: impl FnOnce(&Weak<Driver<L>>) -> L,
    ) -> Arc<Self> {
        let (wake_tx, wake_rx) = mpsc::channel(1);
        let prefix = core.path_prefix();
        let driver = Arc::new_cyclic(|self_ref| Driver {
            layer: layer(self_ref),
            self_ref: self_ref.clone(),
            epoch: runtime.now(),
            runtime,
            front: Mutex::new(Front {
                router: Router::new(core, id_generator()),
                sessions: IdMap::default(),
                io: Plumbing::default(),
                last_now: Instant::from_millis(0),
            }),
            timers: Mutex::new(Timers::default()),
            wake: Mutex::new(Some(wake_tx)),
            next_id: AtomicU64::new(1),
            tasks: Arc::new(AtomicUsize::new(0)),
            websockets: AtomicUsize::new(0),
            timer_running: AtomicBool::new(true),
            shut_down: AtomicBool::new(false),
            draining: AtomicBool::new(false),
            retry_after_secs: AtomicU64::new(1),
            limits,
            allow_request,
            prefix,
        });
        let timer = driver.clone();
        driver
            .runtime
            .spawn(Box::pin(async move { timer.timer_task(wake_rx).await }));
        driver
    }

    /// The driver as an `Arc` (it is only reached through one).
    pub(crate) fn arc(&self) -> Arc<Self> {
        self.self_ref
            .upgrade()
            .expect("a driver is only reached through an Arc")
    }

    /// Whether a request path belongs to this server (it starts with `path + "/"`).
    pub(crate) fn handles(&self, path: &str) -> bool {
        path.starts_with(&self.prefix)
    }

    /// The clock as the machines see it.
    pub(crate) fn now(&self) -> Instant {
        Instant::from_duration(self.runtime.now().saturating_duration_since(self.epoch))
    }

    /// Spawns a handler task, counted for shutdown.
    pub(crate) fn spawn(&self, task: BoxTask) {
        let tasks = self.tasks.clone();
        tasks.fetch_add(1, Ordering::AcqRel);
        self.runtime.spawn(Box::pin(async move {
            let _count = Decrement(&tasks);
            task.await;
        }));
    }

    /// The connection of live session `sid`.
    pub(crate) fn conn(&self, sid: &str) -> Option<Arc<Conn<L>>> {
        let sid = Str::from(sid.to_owned());
        lock(&self.front).sessions.get(&sid).cloned()
    }

    /// Every live connection.
    pub(crate) fn conns(&self) -> Vec<Arc<Conn<L>>> {
        lock(&self.front).sessions.values().cloned().collect()
    }

    /// The number of live sessions.
    pub(crate) fn session_count(&self) -> usize {
        lock(&self.front).sessions.len()
    }

    /// The `503` a request gets instead of being served while this node refuses work: a
    /// new handshake (or WebSocket without a session) once shutting down or draining, and
    /// while draining also a request naming a session this node does not have (it belongs
    /// to another node: a load balancer retrying on `503` sends it there, where a `400`
    /// would end the client's session).
    pub(crate) fn refusal(&self, sid: Option<&str>) -> Option<http::Response<Full<Bytes>>> {
        let refused = match sid {
            None => self.shut_down.load(Ordering::Acquire) || self.draining.load(Ordering::Acquire),
            Some(sid) => {
                self.draining.load(Ordering::Acquire)
                    && !lock(&self.front)
                        .sessions
                        .contains_key(&Str::from(sid.to_owned()))
            }
        };
        if !refused {
            return None;
        }
        let mut response = plain(503, "server draining or shutting down");
        response.headers_mut().insert(
            http::header::RETRY_AFTER,
            http::HeaderValue::from(self.retry_after_secs.load(Ordering::Relaxed)),
        );
        Some(response)
    }

    /// Ends every session, spread evenly over `over` (a slice every 10 ms), each slice with
    /// `close` (run under no lock of the driver's), then waits until no session is left.
    /// New work is refused from the start (see [`Driver::refusal`]).
    pub(crate) async fn drain_with<F, Fut>(&self, over: Duration, close: F)
    where
        F: Fn(Vec<Arc<Conn<L>>>) -> Fut,
        Fut: std::future::Future<Output = ()>,
    {
        self.retry_after_secs
            .store(over.as_secs().max(1), Ordering::Relaxed);
        self.draining.store(true, Ordering::Release);
        let conns = self.conns();
        let total = conns.len();
        let start = self.runtime.now();
        let mut closed = 0;
        while closed < total && !self.shut_down.load(Ordering::Acquire) {
            let elapsed = self.runtime.now().saturating_duration_since(start);
            // The share of the sessions due by now (all of them once `over` has passed).
            let due = if elapsed >= over || over.is_zero() {
                total
            } else {
                ((total as u128 * elapsed.as_micros()) / over.as_micros().max(1)) as usize + 1
            }
            .min(total);
            if due > closed {
                close(conns[closed..due].to_vec()).await;
            }
            closed = due;
            if closed < total {
                self.runtime.sleep(Duration::from_millis(10)).await;
            }
        }
        while self.session_count() > 0 && !self.shut_down.load(Ordering::Acquire) {
            self.runtime.sleep(Duration::from_millis(5)).await;
        }
    }

    /// Runs `input` on connection `conn` under its lock, then its pump; re-files its
    /// deadline, unlocks, and runs the effects.
    pub(crate) fn drive<R>(
        &self,
        conn: &Arc<Conn<L>>,
        input: impl FnOnce(&mut ConnState<L>, &mut Cx<'_, L>) -> R,
    ) -> R {
        self.drive_then(conn, input, |_, result| result)
    }

    /// [`drive`](Self::drive), then `output` on the state the pump left (still locked).
    pub(crate) fn drive_then<R, T>(
        &self,
        conn: &Arc<Conn<L>>,
        input: impl FnOnce(&mut ConnState<L>, &mut Cx<'_, L>) -> R,
        output: impl FnOnce(&mut ConnState<L>, R) -> T,
    ) -> T {
        let mut fx = Effects::default();
        let result = self.drive_with(conn, &mut fx, input, output);
        self.run_effects(fx);
        result
    }

    /// [`drive_then`](Self::drive_then), the effects left to the caller.
    pub(crate) fn drive_with<R, T>(
        &self,
        conn: &Arc<Conn<L>>,
        fx: &mut Effects,
        input: impl FnOnce(&mut ConnState<L>, &mut Cx<'_, L>) -> R,
        output: impl FnOnce(&mut ConnState<L>, R) -> T,
    ) -> T {
        // The clock is read before locking: a user's `Runtime::now` is user code.
        let clock = self.now();
        self.step(conn, fx, clock, |st, cx| (input(st, cx), true), output)
    }

    /// [`drive_with`](Self::drive_with) for a step that may leave the machines untouched:
    /// `input` returns its result and whether it fed them (then they are pumped and the
    /// deadline re-filed); a frame written straight to a WebSocket does not. `clock` is read
    /// by the caller (a broadcast reads it once for every recipient).
    pub(crate) fn drive_at<R>(
        &self,
        conn: &Arc<Conn<L>>,
        fx: &mut Effects,
        clock: Instant,
        input: impl FnOnce(&mut ConnState<L>, &mut Cx<'_, L>) -> (R, bool),
    ) -> R {
        self.step(conn, fx, clock, input, |_, result| result)
    }

    /// One locked step of a connection: `input` (and whether it fed the machines), then, if
    /// it did, the pump and the deadline; then `output` on what the pump left.
    fn step<R, T>(
        &self,
        conn: &Arc<Conn<L>>,
        fx: &mut Effects,
        clock: Instant,
        input: impl FnOnce(&mut ConnState<L>, &mut Cx<'_, L>) -> (R, bool),
        output: impl FnOnce(&mut ConnState<L>, R) -> T,
    ) -> T {
        let mut st = lock(&conn.state);
        // The machines never see time go back, whichever clock reading got here first.
        let now = clock.max(st.last_now);
        st.last_now = now;
        let mut cx = Cx {
            now,
            driver: self,
            fx,
        };
        let (result, fed) = input(&mut st, &mut cx);
        if fed {
            self.pump(&mut st, &mut cx);
            self.refile(conn, &mut st, cx.fx);
        }
        output(&mut st, result)
    }

    /// Drains a connection's machines until nothing moves.
    fn pump(&self, st: &mut ConnState<L>, cx: &mut Cx<'_, L>) {
        loop {
            let mut moved = false;
            while let Some(transmit) = st.session.poll_transmit() {
                moved = true;
                if let Some(failed) = st.io.on_transmit(cx.now, transmit, &self.limits) {
                    self.layer.probe().slow_consumer(Transport::WebSocket);
                    // A slow consumer: its session fails.
                    let _ = st.session.handle_websocket_gone(
                        cx.now,
                        failed,
                        CloseReason::TransportError,
                    );
                }
            }
            while let Some(event) = st.session.poll_event() {
                moved = true;
                self.layer.on_event(st, cx, event);
            }
            if !moved {
                break;
            }
        }
    }

    /// Files the connection's next deadline with the timer task (or forgets it and marks the
    /// connection for removal once its session closed).
    fn refile(&self, conn: &Arc<Conn<L>>, st: &mut ConnState<L>, fx: &mut Effects) {
        let closed = st.session.is_closed();
        let deadline = if closed {
            None
        } else {
            st.session.poll_timeout()
        };
        if deadline != st.armed {
            let mut timers = lock(&self.timers);
            if let Some(at) = st.armed {
                timers.due.remove(&(at, TimerKey::Conn(conn.sid.clone())));
            }
            if let Some(at) = deadline {
                timers.due.insert((at, TimerKey::Conn(conn.sid.clone())));
                if timers.target.is_none_or(|target| at < target) {
                    timers.target = Some(at);
                    fx.wake = true;
                }
            }
            st.armed = deadline;
        }
        if closed && !st.gone {
            st.gone = true;
            fx.closed.push(conn.sid.clone());
        }
    }

    /// The session moved to WebSocket `connection`: its reading pauses on the session's gate.
    pub(crate) fn upgraded(st: &mut ConnState<L>, connection: ConnectionId) {
        let gate = L::gate(&st.layer).clone();
        st.io.attach_gate(connection, gate.clone());
        // A POST paused on the polling buffer waits no more.
        gate.wake();
    }

    /// Files a layer deadline (`at`) with the timer task.
    pub(crate) fn arm_layer_timer(&self, at: Instant, fx: &mut Effects) {
        let mut timers = lock(&self.timers);
        timers.due.insert((at, TimerKey::Layer));
        if timers.target.is_none_or(|target| at < target) {
            timers.target = Some(at);
            fx.wake = true;
        }
    }

    /// Runs what locked steps deferred.
    pub(crate) fn run_effects(&self, fx: Effects) {
        let Effects {
            after,
            spawn,
            checks: _,
            closed,
            wake,
        } = fx;
        if !closed.is_empty() {
            let mut front = lock(&self.front);
            for sid in closed {
                if let Some(conn) = front.sessions.remove(&sid) {
                    // Front, then the connection: the one lock order.
                    let st = lock(&conn.state);
                    front.router.session_closed(st.session.session());
                }
            }
        }
        if wake && let Some(tx) = lock(&self.wake).as_mut() {
            let _ = tx.try_send(());
        }
        for call in after {
            call();
        }
        for task in spawn {
            self.spawn(task);
        }
    }

    /// Makes the connection of a session the router opened, files it under its id and takes
    /// its first outputs (`attach`: the plumbing it inherits, before the pump).
    fn open(
        &self,
        session: Session,
        ctx: RequestCtx<'_>,
        fx: &mut Effects,
        attach: impl FnOnce(&mut Plumbing),
    ) -> Option<Arc<Conn<L>>> {
        let now = self.now();
        let (machine, handshake) = self.layer.machine(now, session)?;
        let sid = machine.sid().clone();
        tracing::debug!(%sid, "engine.io session opened");
        let websocket = match handshake.transport {
            TransportId::WebSocket(connection) => Some(connection),
            _ => None,
        };
        self.layer.probe().handshake_accepted(match websocket {
            Some(_) => Transport::WebSocket,
            None => Transport::Polling,
        });
        let conn = Arc::new_cyclic(|weak| {
            let mut cx = Cx {
                now,
                driver: self,
                fx,
            };
            let layer = self.layer.open(&mut cx, weak, handshake, ctx);
            let mut io = Plumbing::default();
            attach(&mut io);
            if let Some(connection) = websocket {
                io.attach_gate(connection, L::gate(&layer).clone());
            }
            Conn {
                sid: sid.clone(),
                state: Mutex::new(ConnState {
                    session: machine,
                    io,
                    layer,
                    armed: None,
                    last_now: now,
                    gone: false,
                }),
            }
        });
        lock(&self.front).sessions.insert(sid, conn.clone());
        self.drive_with(&conn, fx, |_, _| (), |_, _| ());
        Some(conn)
    }

    /// Runs `f` on the router and its plumbing under the front lock, then drains the router's
    /// outputs (answers into the plumbing, handshakes to check into `fx.checks`).
    ///
    /// `settle`: the session a request names. If it has just closed and its connection's
    /// effects have not told the router yet, the router is told first: a GET that crossed
    /// the client's close must find the noop it is owed, whichever thread gets there first.
    fn with_front<R>(
        &self,
        fx: &mut Effects,
        settle: Option<&str>,
        f: impl FnOnce(&mut Router, &mut Plumbing, Instant, &dyn Fn(&str) -> Option<TransportKind>) -> R,
    ) -> R {
        let clock = self.now();
        let mut guard = lock(&self.front);
        let front = &mut *guard;
        let now = clock.max(front.last_now);
        front.last_now = now;
        // One look at the named session: closed, it is settled; live, the router sees that
        // look (not a later one: if it closes meanwhile, the request comes back here).
        let named = settle.and_then(|sid| {
            let key = Str::from(sid.to_owned());
            let conn = front.sessions.get(&key)?;
            let live = {
                let st = lock(&conn.state);
                (!st.session.is_closed()).then(|| st.session.session().transport())
            };
            if live.is_none()
                && let Some(conn) = front.sessions.remove(&key)
            {
                // Front, then the connection: the one lock order.
                let st = lock(&conn.state);
                front.router.session_closed(st.session.session());
            }
            Some((sid, live))
        });
        let sessions = &front.sessions;
        let lookup = |sid: &str| match named {
            Some((named, live)) if named == sid => live,
            _ => live_transport(sessions, sid),
        };
        let result = f(&mut front.router, &mut front.io, now, &lookup);
        while let Some(transmit) = front.router.poll_transmit() {
            if let Transmit::Response { response, .. } | Transmit::RefuseWebSocket { response, .. } =
                &transmit
                && response.status >= 400
            {
                self.layer.probe().refused(response.status, &response.body);
            }
            // No session's frames go through the router.
            let _ = front.io.on_transmit(now, transmit, &self.limits);
        }
        while let Some(event) = front.router.poll_event() {
            if let Event::HandshakeRequest { transport, .. } = event {
                fx.checks.push(transport);
            }
        }
        result
    }

    /// The timer task: sleeps until the earliest deadline, runs what is due.
    async fn timer_task(self: Arc<Self>, mut wake: mpsc::Receiver<()>) {
        loop {
            let now = self.now();
            let due: Vec<(Instant, TimerKey)> = {
                let mut timers = lock(&self.timers);
                let mut due = Vec::new();
                while let Some(first) = timers.due.first() {
                    if first.0 > now {
                        break;
                    }
                    if let Some(entry) = timers.due.pop_first() {
                        due.push(entry);
                    }
                }
                due
            };
            let mut layer_due = false;
            for (at, key) in due {
                match key {
                    TimerKey::Layer => layer_due = true,
                    TimerKey::Conn(sid) => {
                        let conn = lock(&self.front).sessions.get(&sid).cloned();
                        if let Some(conn) = conn {
                            self.drive(&conn, |st, cx| {
                                if st.armed == Some(at) {
                                    st.armed = None;
                                }
                                st.session.handle_timeout(cx.now);
                            });
                        }
                    }
                }
            }
            if layer_due {
                L::on_timer(&self, now);
            }
            let target = {
                let mut timers = lock(&self.timers);
                let next = timers.due.first().map(|(at, _)| *at);
                timers.target = next;
                next
            };
            if self.shut_down.load(Ordering::Acquire) && lock(&self.wake).is_none() {
                break;
            }
            let woken = match target {
                None => wake.next().await.is_some(),
                Some(at) => {
                    let wait = at.saturating_duration_since(self.now());
                    let sleep = self.runtime.sleep(wait);
                    match futures_util::future::select(sleep, wake.next()).await {
                        futures_util::future::Either::Left(_) => true,
                        futures_util::future::Either::Right((woken, _)) => woken.is_some(),
                    }
                }
            };
            if !woken {
                break;
            }
        }
        self.timer_running.store(false, Ordering::Release);
    }

    /// The end of a shutdown, once the layer asked every session to close: waits (until
    /// `deadline`) for the sessions to go, closes what is left at once, stops the timer task,
    /// and waits for the handler tasks and WebSocket loops.
    pub(crate) async fn finish_shutdown(&self, deadline: std::time::Instant) {
        while self.session_count() > 0 && self.runtime.now() < deadline {
            self.runtime.sleep(Duration::from_millis(5)).await;
        }
        for conn in self.conns() {
            self.drive(&conn, |st, _| st.session.close_now());
        }
        for conn in self.conns() {
            self.drive(&conn, |st, _| st.io.close_all());
        }
        lock(&self.front).io.close_all();
        lock(&self.wake).take();
        while (self.tasks.load(Ordering::Acquire) > 0
            || self.websockets.load(Ordering::Acquire) > 0
            || self.timer_running.load(Ordering::Acquire))
            && self.runtime.now() < deadline
        {
            self.runtime.sleep(Duration::from_millis(5)).await;
        }
    }
}

impl<L: Layer> std::ops::Deref for Driver<L> {
    type Target = L;

    fn deref(&self) -> &L {
        &self.layer
    }
}

impl<L: Layer> Conn<L> {
    /// Runs `f` on the connection's state under its lock, without feeding its machines
    /// (reads, and plumbing that needs no pump).
    pub(crate) fn with_state<R>(&self, f: impl FnOnce(&mut ConnState<L>) -> R) -> R {
        f(&mut lock(&self.state))
    }
}

/// The active transport of live session `sid` (the router's lookup): front, then the
/// connection.
fn live_transport<L: Layer>(
    sessions: &IdMap<Str, Arc<Conn<L>>>,
    sid: &str,
) -> Option<TransportKind> {
    let conn = sessions.get(&Str::from(sid.to_owned()))?;
    let st = lock(&conn.state);
    (!st.session.is_closed()).then(|| st.session.session().transport())
}

struct Decrement<'a>(&'a AtomicUsize);

impl Drop for Decrement<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}
