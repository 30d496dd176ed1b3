//! The IO bookkeeping around an Engine.IO core, shared by [`Server`](crate::Server) and
//! [`EngineServer`](crate::engine::EngineServer): HTTP requests waiting for their answer and
//! their bodies, WebSocket writers, and the verdicts on upgrades; and what the core's
//! transmits do to them.

use std::collections::HashMap;

use bytes::Bytes;
use futures_channel::oneshot;
use socketio_protocol::engine::server::{
    ConnectionId, RequestHead, RequestId, Response, Server as Core, Transmit, TransportId,
};
use socketio_protocol::{Instant, Str};

use std::sync::Arc;

use crate::fasthash::IdMap;
use crate::flow::{Backpressure, Gate};
use crate::httputil::static_lower;
use crate::wsio::Writer;

/// The core's answer to a WebSocket upgrade: extra `101` headers, or the refusal.
pub(crate) type Verdict = Result<Vec<(&'static str, Str)>, Response>;

/// What the driver keeps for the requests and WebSockets it handed to the core.
#[derive(Default)]
pub(crate) struct Plumbing {
    requests: HashMap<RequestId, oneshot::Sender<Response>>,
    /// POSTs whose body the core asked for, with its limit: read by the request's caller,
    /// outside the lock ([`take_body_wanted`](Self::take_body_wanted)).
    bodies_wanted: HashMap<RequestId, usize>,
    writers: IdMap<ConnectionId, Writer>,
    verdicts: HashMap<ConnectionId, Verdict>,
}

impl Plumbing {
    /// Hands an HTTP request to the core, classified from its head alone; its answer comes on
    /// `tx`. A POST the core wants the body of is listed for
    /// [`take_body_wanted`](Self::take_body_wanted): nothing is read for a request refused
    /// from its head.
    pub(crate) fn start_request(
        &mut self,
        core: &mut Core,
        now: Instant,
        id: RequestId,
        head: RequestHead,
        tx: oneshot::Sender<Response>,
    ) {
        self.requests.insert(id, tx);
        if let Err(error) = core.handle_request(now, id, head) {
            tracing::warn!(%error, "engine refused a request");
            self.requests.remove(&id);
        }
    }

    /// The body limit of request `id` if the core asked for its body.
    pub(crate) fn take_body_wanted(&mut self, id: RequestId) -> Option<usize> {
        self.bodies_wanted.remove(&id)
    }

    /// The body of POST `id` arrived; dropped if the core answered it meanwhile (`408`, or its
    /// session closed).
    pub(crate) fn body_arrived(
        &mut self,
        core: &mut Core,
        now: Instant,
        id: RequestId,
        body: Bytes,
    ) {
        if self.requests.contains_key(&id) {
            let _ = core.handle_request_body(now, id, body);
        }
    }

    /// The request's caller went away before its answer; tells the core if it still waited.
    pub(crate) fn abort_request(&mut self, core: &mut Core, now: Instant, id: RequestId) {
        self.bodies_wanted.remove(&id);
        if self.requests.remove(&id).is_some() {
            let _ = core.handle_request_aborted(now, id);
        }
    }

    /// Hands a WebSocket upgrade to the core, with the writer its frames will go to; the
    /// verdict is read with [`take_verdict`](Self::take_verdict) once the core is pumped.
    pub(crate) fn start_websocket(
        &mut self,
        core: &mut Core,
        now: Instant,
        connection: ConnectionId,
        head: RequestHead,
        writer: Writer,
    ) {
        self.writers.insert(connection, writer);
        if let Err(error) = core.handle_websocket(now, connection, head) {
            tracing::warn!(%error, "engine refused a websocket");
        }
    }

    /// The core's verdict on upgrade `connection`; anything but an acceptance drops its
    /// writer.
    pub(crate) fn take_verdict(&mut self, connection: ConnectionId) -> Option<Verdict> {
        let verdict = self.verdicts.remove(&connection);
        if !matches!(verdict, Some(Ok(_))) {
            self.writers.remove(&connection);
        }
        verdict
    }

    /// WebSocket `connection` ended (`clean`: closed rather than failed), or its ticket was
    /// dropped unused (not clean).
    pub(crate) fn websocket_ended(
        &mut self,
        core: &mut Core,
        now: Instant,
        connection: ConnectionId,
        clean: bool,
    ) {
        self.writers.remove(&connection);
        let _ = if clean {
            core.handle_websocket_closed(now, connection)
        } else {
            core.handle_websocket_error(now, connection)
        };
    }

    /// The writer of WebSocket `connection`.
    pub(crate) fn writer(&self, connection: ConnectionId) -> Option<&Writer> {
        self.writers.get(&connection)
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
        for (_, writer) in self.writers.drain() {
            writer.close();
        }
    }

    /// Carries out one transmit of the core: answers, body reads, aborts, upgrade verdicts,
    /// frames (a WebSocket that is a slow consumer by `limits` is aborted and its session
    /// failed) and closes.
    pub(crate) fn on_transmit(
        &mut self,
        core: &mut Core,
        now: Instant,
        transmit: Transmit,
        limits: &Backpressure,
    ) {
        // A heartbeat is written like a frame, then reported (`handle_heartbeat_written`).
        let heartbeat = matches!(transmit, Transmit::Heartbeat { .. });
        match transmit {
            Transmit::Response { request, response } => {
                self.bodies_wanted.remove(&request);
                if let Some(tx) = self.requests.remove(&request) {
                    let _ = tx.send(response);
                }
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
                let Some(writer) = self.writers.get_mut(&connection) else {
                    return;
                };
                if writer.push_frame(frame, heartbeat, limits, now).is_err() {
                    tracing::warn!(
                        connection = connection.0,
                        queued = writer.queued_bytes(),
                        "slow consumer: the websocket's outgoing queue passed its limit or stayed above its high water mark too long; closing it"
                    );
                    self.writers.remove(&connection);
                    let _ = core.handle_websocket_error(now, connection);
                }
            }
            Transmit::CloseWebSocket { connection } => {
                if let Some(writer) = self.writers.remove(&connection) {
                    writer.close();
                }
            }
            _ => {}
        }
    }
}

/// A server's driver as the shared transport code sees it: both [`Server`](crate::Server)
/// and [`EngineServer`](crate::engine::EngineServer) keep an engine core and its `Plumbing`
/// behind their lock.
pub(crate) trait EngineDriver {
    /// Under the lock: `input` on the core and the plumbing, then the driver's pump, then
    /// `output` on the plumbing (what the pump changed is visible there).
    fn drive<R>(
        &self,
        input: impl FnOnce(&mut Core, &mut Plumbing, Instant),
        output: impl FnOnce(&mut Plumbing) -> R,
    ) -> R;
}

/// Serves accepted WebSocket `connection` of `driver` until it ends (`wsio::serve`): frames
/// and heartbeat reports into the core, reading paused on the session's gate; then the end
/// (`transport close` when clean, `transport error` otherwise). Whether it ended cleanly.
pub(crate) async fn serve_websocket<D, S>(
    driver: &D,
    connection: ConnectionId,
    end: crate::wsio::WriterEnd,
    limits: Backpressure,
    socket: S,
) -> bool
where
    D: EngineDriver,
    S: futures_core::Stream<Item = Result<tungstenite::Message, tungstenite::Error>>
        + futures_sink::Sink<tungstenite::Message, Error = tungstenite::Error>
        + Unpin,
{
    let clean = crate::wsio::serve(
        socket,
        end,
        limits,
        |frame| {
            driver.drive(
                |core, _, now| {
                    let _ = core.handle_frame(now, connection, frame);
                },
                |io| io.gate(connection),
            )
        },
        || {
            driver.drive(
                |core, _, now| {
                    let _ = core.handle_heartbeat_written(now, connection);
                },
                |_| (),
            )
        },
    )
    .await;
    driver.drive(
        |core, io, now| io.websocket_ended(core, now, connection, clean),
        |_| (),
    );
    clean
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

/// Hands the `allow_request` verdicts to the core.
pub(crate) fn apply_verdicts(
    core: &mut Core,
    now: Instant,
    verdicts: Vec<(TransportId, Result<(), String>)>,
) {
    for (transport, verdict) in verdicts {
        let _ = match verdict {
            Ok(()) => core.accept_handshake(now, transport),
            Err(message) => core.refuse_handshake(now, transport, Some(&message)),
        };
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use socketio_protocol::engine::server::{Config, Event, Method};

    fn drain(io: &mut Plumbing, core: &mut Core, now: Instant) {
        loop {
            let mut moved = false;
            while let Some(transmit) = core.poll_transmit() {
                moved = true;
                io.on_transmit(core, now, transmit, &Backpressure::default());
            }
            while let Some(event) = core.poll_event() {
                moved = true;
                if let Event::HandshakeRequest { transport, .. } = event {
                    core.accept_handshake(now, transport).unwrap();
                }
            }
            if !moved {
                return;
            }
        }
    }

    #[test]
    fn an_aborted_poll_leaves_nothing_behind() {
        let mut core = Core::new(Config::default(), || [7; 15]);
        let mut io = Plumbing::default();
        let now = Instant::ZERO;
        let path = format!("{}/", Config::default().path);
        let (tx, mut rx) = oneshot::channel();
        let head = RequestHead::new(Method::Get, path.clone(), "EIO=4&transport=polling");
        io.start_request(&mut core, now, RequestId(1), head, tx);
        drain(&mut io, &mut core, now);
        let open = rx.try_recv().unwrap().expect("handshake answered");
        let body = String::from_utf8(open.body.to_vec()).unwrap();
        let sid = body
            .split("\"sid\":\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap();
        // A poll with nothing to send is held; its caller goes away.
        let (tx, mut rx) = oneshot::channel();
        let query = format!("EIO=4&transport=polling&sid={sid}");
        let head = RequestHead::new(Method::Get, path, query);
        io.start_request(&mut core, now, RequestId(2), head, tx);
        drain(&mut io, &mut core, now);
        assert_eq!(rx.try_recv().unwrap(), None, "held");
        io.abort_request(&mut core, now, RequestId(2));
        drain(&mut io, &mut core, now);
        assert!(io.requests.is_empty());
        assert!(io.bodies_wanted.is_empty());
    }
}
