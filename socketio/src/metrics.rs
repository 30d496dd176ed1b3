//! Prometheus metrics (feature `metrics`): a [`Metrics`] handle given to
//! [`ServerBuilder::metrics`](crate::ServerBuilder::metrics), whose text the user serves where
//! they like (a path on the Socket.IO server's own listener with the runtime crates'
//! `HttpServer::metrics`, a route of their own HTTP stack with [`Metrics::http_response`], or
//! another port), and a [`ClientMetrics`] for the client's reconnections.
//!
//! Built on [`prometheus_client`] (the Prometheus project's own Rust client): a typed registry
//! with no global state (several servers in one process keep their numbers apart, tests too),
//! counters that are one relaxed atomic add, and the Prometheus text encoder. The `metrics`
//! facade would put every count behind a global recorder and a name lookup unless each handle
//! is resolved ahead of time, and its exporter brings its own HTTP server; here the handles
//! are resolved once and the text goes wherever the user mounts it.
//!
//! Cost: on the path of a frame, an emit or a broadcast, a report is a relaxed atomic add on a
//! counter resolved ahead of time (a packet: two, its count and its bytes). The gauges
//! (clients, sockets, rooms, queued bytes) cost nothing until scraped: they are read at scrape
//! time, which visits every connection under its own lock, briefly, as an emit does. Ack and
//! adapter request latencies go to lock-free histograms (an atomic add per bucket, count and
//! sum). A build without the feature has none of it (the reports are empty inline functions).
//!
//! Labels only take values the server defines: packet types, transports, reasons, result
//! names, static namespaces' names. A dynamic namespace's name is chosen by the peer (within
//! what its matcher accepts), so every dynamic namespace is counted under one label value,
//! `(dynamic)`; event names are labels only for the events named in
//! [`MetricsBuilder::events`] (others count as `(other)`).
//!
//! The list of metrics and their meaning is in `docs/operations.md`.
//!
//! ```
//! use socketio::metrics::Metrics;
//!
//! let metrics = Metrics::builder().events(["chat", "typing"]).build();
//! let builder = socketio::Server::builder().metrics(&metrics);
//! // `builder.build(runtime)`, then serve `metrics.encode()` (or `metrics.http_response()`).
//! let text = metrics.encode();
//! assert!(text.contains("socketio_connected_clients"));
//! # let _ = builder;
//! ```

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric, MetricEncoder, NoLabelSet};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::{MetricType, TypedMetric};
use prometheus_client::registry::Registry;
use socketio_protocol::socket::DisconnectReason;

use crate::namespace::lock;
use crate::probe::{
    AckKind, AdapterRequest, ConnectResult, Dir, Kind, Transport, kind_of_binary, kind_of_text,
};
use crate::server::Inner;

/// The `Content-Type` of [`Metrics::encode`]'s text (the Prometheus text format 0.0.4).
pub const CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

/// The label value every dynamic namespace is counted under.
pub const DYNAMIC_NAMESPACE: &str = "(dynamic)";

/// The label value of events not in [`MetricsBuilder::events`].
pub const OTHER_EVENT: &str = "(other)";

/// Upper bounds (seconds) of the latency histograms' buckets: 0.5 ms to 10 s.
const LATENCY_BOUNDS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

type Label = (&'static str, &'static str);
type EventLabel = [(&'static str, String); 1];

/// A server's (or several servers') Prometheus metrics: the counters its code paths add to,
/// the gauges read when scraped, and a registry holding them. Cheap to clone; give it to
/// [`ServerBuilder::metrics`](crate::ServerBuilder::metrics) and serve [`encode`](Self::encode).
///
/// Several servers given the same `Metrics` add to the same counters and their gauges are
/// summed.
///
/// ```
/// let metrics = socketio::metrics::Metrics::new();
/// assert!(metrics.encode().contains("# TYPE socketio_transport_upgrades_total counter"));
/// ```
#[derive(Clone)]
pub struct Metrics(Arc<Shared>);

struct Shared {
    counters: Arc<Counters>,
    collector: Arc<ServerCollector>,
    registry: Registry,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

/// Options of a [`Metrics`]: which event names may be labels.
///
/// ```
/// let metrics = socketio::metrics::Metrics::builder().events(["chat"]).build();
/// # let _ = metrics;
/// ```
#[derive(Debug, Clone, Default)]
#[must_use]
pub struct MetricsBuilder {
    events: Vec<String>,
}

impl MetricsBuilder {
    /// Counts received events by name for these names (`socketio_events_received_total`);
    /// every other event counts as `(other)`. Event names are chosen by peers, so only an
    /// allow-list becomes label values. Without it (the default), events are not counted by
    /// name (`socketio_packets_total{type="event"}` still counts them). Counting by name
    /// compares the event's name with the list's, once per event.
    ///
    /// ```
    /// let b = socketio::metrics::Metrics::builder().events(["chat", "typing"]);
    /// # let _ = b;
    /// ```
    pub fn events<I, S>(mut self, names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.events = names.into_iter().map(Into::into).collect();
        self
    }

    /// The metrics, registered in a registry of their own.
    ///
    /// ```
    /// let metrics = socketio::metrics::Metrics::builder().build();
    /// # let _ = metrics;
    /// ```
    pub fn build(self) -> Metrics {
        let counters = Arc::new(Counters::new(self.events));
        let collector = Arc::new(ServerCollector::default());
        let mut registry = Registry::default();
        counters.register(&mut registry);
        registry.register_collector(Box::new(collector.clone()));
        Metrics(Arc::new(Shared {
            counters,
            collector,
            registry,
        }))
    }
}

impl Metrics {
    /// Metrics with the default options (no event names as labels).
    ///
    /// ```
    /// let metrics = socketio::metrics::Metrics::new();
    /// # let _ = metrics;
    /// ```
    pub fn new() -> Metrics {
        MetricsBuilder::default().build()
    }

    /// Options (see [`MetricsBuilder`]).
    ///
    /// ```
    /// let metrics = socketio::metrics::Metrics::builder().events(["chat"]).build();
    /// # let _ = metrics;
    /// ```
    pub fn builder() -> MetricsBuilder {
        MetricsBuilder::default()
    }

    /// Registers these metrics in `registry` too (the application's own), so that one
    /// endpoint serves both; the same counters, read by either.
    ///
    /// ```
    /// let mut registry = prometheus_client::registry::Registry::default();
    /// let metrics = socketio::metrics::Metrics::new();
    /// metrics.register(&mut registry);
    /// let mut text = String::new();
    /// prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
    /// assert!(text.contains("socketio_broadcasts_total"));
    /// ```
    pub fn register(&self, registry: &mut Registry) {
        self.0.counters.register(registry);
        registry.register_collector(Box::new(self.0.collector.clone()));
    }

    /// The metrics as Prometheus text (format 0.0.4, [`CONTENT_TYPE`]); the gauges are read
    /// now (each connection's lock taken in turn, briefly).
    ///
    /// ```
    /// let text = socketio::metrics::Metrics::new().encode();
    /// assert!(text.contains("socketio_connected_clients"));
    /// ```
    pub fn encode(&self) -> String {
        let mut text = String::new();
        // Writing to a String cannot fail; an encoder error leaves what was written.
        let _ = prometheus_client::encoding::prometheus_text::encode(&mut text, &self.0.registry);
        text
    }

    /// [`encode`](Self::encode) as an HTTP `200` with its content type, to answer a scrape
    /// from any HTTP stack (an axum handler, a hyper service).
    ///
    /// ```
    /// let response = socketio::metrics::Metrics::new().http_response();
    /// assert_eq!(response.status(), 200);
    /// ```
    pub fn http_response(&self) -> http::Response<Full<Bytes>> {
        let mut response = http::Response::new(Full::new(Bytes::from(self.encode())));
        response.headers_mut().insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static(CONTENT_TYPE),
        );
        response.headers_mut().insert(
            http::header::CACHE_CONTROL,
            http::HeaderValue::from_static("no-store"),
        );
        response
    }

    /// The answer to a scrape by `method` on the metrics' path, for HTTP glue: `GET` gets
    /// [`http_response`](Self::http_response), `HEAD` its headers, anything else `405`.
    ///
    /// ```
    /// let metrics = socketio::metrics::Metrics::new();
    /// assert_eq!(metrics.respond(&http::Method::GET).status(), 200);
    /// assert_eq!(metrics.respond(&http::Method::POST).status(), 405);
    /// ```
    pub fn respond(&self, method: &http::Method) -> http::Response<Full<Bytes>> {
        match *method {
            http::Method::GET => self.http_response(),
            http::Method::HEAD => {
                let (parts, _) = self.http_response().into_parts();
                http::Response::from_parts(parts, Full::new(Bytes::new()))
            }
            _ => {
                let mut response =
                    http::Response::new(Full::new(Bytes::from_static(b"Method Not Allowed")));
                *response.status_mut() = http::StatusCode::METHOD_NOT_ALLOWED;
                response.headers_mut().insert(
                    http::header::ALLOW,
                    http::HeaderValue::from_static("GET, HEAD"),
                );
                response
            }
        }
    }

    /// The answer to `request` if it is a scrape of `path` (the HTTP glue of the runtime
    /// crates serves the endpoint through this), else `None`.
    ///
    /// ```
    /// let metrics = socketio::metrics::Metrics::new();
    /// let scrape = http::Request::get("/metrics").body(()).unwrap();
    /// assert_eq!(metrics.answer("/metrics", &scrape).map(|r| r.status()), Some(http::StatusCode::OK));
    /// let other = http::Request::get("/socket.io/").body(()).unwrap();
    /// assert!(metrics.answer("/metrics", &other).is_none());
    /// ```
    pub fn answer<B>(
        &self,
        path: &str,
        request: &http::Request<B>,
    ) -> Option<http::Response<Full<Bytes>>> {
        (request.uri().path() == path).then(|| self.respond(request.method()))
    }

    /// The probe of an Engine.IO-only server (not read by the gauges).
    pub(crate) fn engine_probe(&self) -> Probe {
        Probe {
            counters: Some(self.0.counters.clone()),
            msgpack: false,
        }
    }

    /// The probe of a server (its parser: `msgpack`) reporting here; the server is read by
    /// the gauges while it lives.
    pub(crate) fn attach(&self, server: Weak<Inner>, msgpack: bool) -> Probe {
        lock(&self.0.collector.servers).push(server);
        Probe {
            counters: Some(self.0.counters.clone()),
            msgpack,
        }
    }
}

/// What the server's code paths report to: see `crate::probe`.
#[derive(Clone, Default, Debug)]
pub(crate) struct Probe {
    counters: Option<Arc<Counters>>,
    msgpack: bool,
}

impl Probe {
    /// Counts nothing.
    pub(crate) const NONE: Probe = Probe {
        counters: None,
        msgpack: false,
    };

    /// Whether anything is counted.
    #[inline]
    pub(crate) fn enabled(&self) -> bool {
        self.counters.is_some()
    }

    /// One Engine.IO packet (a WebSocket frame), `binary` or text.
    #[inline]
    pub(crate) fn frame(&self, dir: Dir, transport: Transport, frame: &[u8], binary: bool) {
        if let Some(c) = &self.counters {
            let kind = if binary {
                kind_of_binary(frame, self.msgpack)
            } else {
                kind_of_text(frame)
            };
            c.packet(dir, transport, kind, frame.len());
        }
    }

    /// `n` copies of one Engine.IO packet (a broadcast's WebSocket frame, counted once for
    /// all its recipients: one atomic add per counter instead of one per recipient).
    #[inline]
    pub(crate) fn frames(
        &self,
        dir: Dir,
        transport: Transport,
        frame: &[u8],
        binary: bool,
        n: u64,
    ) {
        if let Some(c) = &self.counters {
            let kind = if binary {
                kind_of_binary(frame, self.msgpack)
            } else {
                kind_of_text(frame)
            };
            c.packets(dir, transport, kind, frame.len(), n);
        }
    }

    /// A polling body: its packets (`\x1e`-separated), or, for Engine.IO v3, the whole body.
    pub(crate) fn polling_body(&self, dir: Dir, body: &[u8], v3: bool) {
        let Some(c) = &self.counters else {
            return;
        };
        if body.is_empty() {
            return;
        }
        if v3 {
            c.packet(dir, Transport::Polling, Kind::Payload, body.len());
            return;
        }
        for packet in body.split(|byte| *byte == 0x1e) {
            let kind = match packet.first() {
                Some(b'b') if self.msgpack => Kind::Other,
                Some(b'b') => Kind::Attachment,
                _ => kind_of_text(packet),
            };
            c.packet(dir, Transport::Polling, kind, packet.len());
        }
    }

    /// An Engine.IO session opened.
    pub(crate) fn handshake_accepted(&self, transport: Transport) {
        if let Some(c) = &self.counters {
            c.handshakes_accepted[transport as usize].inc();
        }
    }

    /// A request refused by the router (`status`, its JSON `body` with the Engine.IO code),
    /// or while shutting down (`503`).
    pub(crate) fn refused(&self, status: u16, body: &[u8]) {
        if let Some(c) = &self.counters {
            let reason = refusal_reason(status, body);
            c.handshakes_refused
                .get_or_create(&[("reason", reason)])
                .inc();
        }
    }

    /// A session moved from polling to WebSocket.
    pub(crate) fn upgrade(&self) {
        if let Some(c) = &self.counters {
            c.upgrades.inc();
        }
    }

    /// A namespace CONNECT's outcome.
    pub(crate) fn namespace_connect(&self, result: ConnectResult) {
        if let Some(c) = &self.counters {
            let result = match result {
                ConnectResult::Accepted => "accepted",
                ConnectResult::Refused => "refused",
                ConnectResult::UnknownNamespace => "unknown_namespace",
            };
            c.namespace_connects
                .get_or_create(&[("result", result)])
                .inc();
        }
    }

    /// A socket left a namespace.
    pub(crate) fn disconnect(&self, reason: DisconnectReason) {
        if let Some(c) = &self.counters {
            c.disconnects
                .get_or_create(&[("reason", reason.as_str())])
                .inc();
        }
    }

    /// A broadcast by the API (`io.emit`, `io.to(..).emit`, …, with or without acks).
    pub(crate) fn broadcast(&self) {
        if let Some(c) = &self.counters {
            c.broadcasts.inc();
        }
    }

    /// A broadcast's packet was queued for `count` of this node's sockets.
    pub(crate) fn deliveries(&self, count: usize) {
        if let Some(c) = &self.counters {
            c.deliveries.inc_by(count as u64);
        }
    }

    /// An ack came `latency` after its emit (for a broadcast: the last answer).
    pub(crate) fn ack_latency(&self, kind: AckKind, latency: Duration) {
        if let Some(c) = &self.counters {
            c.ack_latency[kind as usize].observe(latency);
        }
    }

    /// An ack did not come in time (for a broadcast: not every answer).
    pub(crate) fn ack_timeout(&self, kind: AckKind) {
        if let Some(c) = &self.counters {
            c.ack_timeouts[kind as usize].inc();
        }
    }

    /// A connection was dropped as a slow consumer.
    pub(crate) fn slow_consumer(&self, transport: Transport) {
        if let Some(c) = &self.counters {
            c.slow_consumers[transport as usize].inc();
        }
    }

    /// A volatile packet was not sent (its recipient's queue was not empty).
    pub(crate) fn volatile_drop(&self) {
        if let Some(c) = &self.counters {
            c.volatile_drops.inc();
        }
    }

    /// A connection state recovery was asked for: `recovered` or not.
    pub(crate) fn recovery(&self, recovered: bool) {
        if let Some(c) = &self.counters {
            c.recoveries[usize::from(!recovered)].inc();
        }
    }

    /// An adapter's cluster request took `took`; `ok` or failed.
    pub(crate) fn adapter_request(&self, request: AdapterRequest, took: Duration, ok: bool) {
        if let Some(c) = &self.counters {
            let at = request as usize;
            c.adapter_requests[at].inc();
            c.adapter_durations[at].observe(took);
            if !ok {
                c.adapter_errors[at].inc();
            }
        }
    }

    /// An adapter's connection (`link`, named by the adapter) was re-established.
    pub(crate) fn adapter_reconnect(&self, link: &'static str) {
        if let Some(c) = &self.counters {
            c.adapter_reconnects.get_or_create(&[("link", link)]).inc();
        }
    }

    /// An event named `event` was received (counted by name if allow-listed).
    #[inline]
    pub(crate) fn event_in(&self, event: &str) {
        if let Some(c) = &self.counters
            && let Some(other) = &c.events_other
        {
            c.events
                .iter()
                .find(|(name, _)| name == event)
                .map_or(other, |(_, counter)| counter)
                .inc();
        }
    }
}

/// The label of a refusal: the Engine.IO error code in its JSON body, or the status.
fn refusal_reason(status: u16, body: &[u8]) -> &'static str {
    if status == 503 {
        return "shutting_down";
    }
    match body
        .strip_prefix(b"{\"code\":")
        .and_then(|rest| rest.first())
    {
        Some(b'0') => "unknown_transport",
        Some(b'1') => "unknown_sid",
        Some(b'2') => "bad_handshake_method",
        Some(b'3') => "bad_request",
        Some(b'4') => "forbidden",
        Some(b'5') => "unsupported_protocol_version",
        _ if status == 403 => "forbidden",
        _ => "other",
    }
}

/// The counters, each label set resolved ahead of time (or once, on first use).
#[derive(Debug)]
struct Counters {
    packets: Family<[Label; 3], Counter>,
    bytes: Family<[Label; 3], Counter>,
    /// `packets` and `bytes` per direction, transport and kind, resolved on first use (so
    /// that only the combinations seen appear).
    slots: Vec<OnceLock<(Counter, Counter)>>,
    handshakes_accepted_family: Family<[Label; 1], Counter>,
    handshakes_accepted: [Counter; 2],
    handshakes_refused: Family<[Label; 1], Counter>,
    upgrades: Counter,
    namespace_connects: Family<[Label; 1], Counter>,
    disconnects: Family<[Label; 1], Counter>,
    broadcasts: Counter,
    deliveries: Counter,
    ack_latency_family: Family<[Label; 1], AtomicHistogram>,
    ack_latency: [AtomicHistogram; 2],
    ack_timeouts_family: Family<[Label; 1], Counter>,
    ack_timeouts: [Counter; 2],
    slow_consumers_family: Family<[Label; 1], Counter>,
    slow_consumers: [Counter; 2],
    volatile_drops: Counter,
    recoveries_family: Family<[Label; 1], Counter>,
    /// Recovered, not recovered.
    recoveries: [Counter; 2],
    adapter_requests_family: Family<[Label; 1], Counter>,
    adapter_requests: [Counter; 3],
    adapter_errors_family: Family<[Label; 1], Counter>,
    adapter_errors: [Counter; 3],
    adapter_durations_family: Family<[Label; 1], AtomicHistogram>,
    adapter_durations: [AtomicHistogram; 3],
    adapter_reconnects: Family<[Label; 1], Counter>,
    events_family: Family<EventLabel, Counter>,
    events: Vec<(String, Counter)>,
    /// `Some` when events are counted by name.
    events_other: Option<Counter>,
}

const TRANSPORTS: [Transport; 2] = [Transport::Polling, Transport::WebSocket];
const REQUESTS: [AdapterRequest; 3] = [
    AdapterRequest::FetchSockets,
    AdapterRequest::ServerSideEmit,
    AdapterRequest::ServerCount,
];

impl Counters {
    fn new(events: Vec<String>) -> Counters {
        let by = |family: &Family<[Label; 1], Counter>, key: &'static str, value: &'static str| {
            family.get_or_create(&[(key, value)]).clone()
        };
        let handshakes_accepted_family = Family::default();
        let handshakes_accepted =
            TRANSPORTS.map(|t| by(&handshakes_accepted_family, "transport", t.as_str()));
        let ack_latency_family: Family<[Label; 1], AtomicHistogram> = Family::default();
        let ack_latency = ["emit", "broadcast"]
            .map(|kind| ack_latency_family.get_or_create(&[("kind", kind)]).clone());
        let ack_timeouts_family = Family::default();
        let ack_timeouts = ["emit", "broadcast"].map(|kind| by(&ack_timeouts_family, "kind", kind));
        let slow_consumers_family = Family::default();
        let slow_consumers =
            TRANSPORTS.map(|t| by(&slow_consumers_family, "transport", t.as_str()));
        let recoveries_family = Family::default();
        let recoveries =
            ["recovered", "not_recovered"].map(|result| by(&recoveries_family, "result", result));
        let adapter_requests_family = Family::default();
        let adapter_errors_family = Family::default();
        let adapter_durations_family: Family<[Label; 1], AtomicHistogram> = Family::default();
        let adapter_requests =
            REQUESTS.map(|r| by(&adapter_requests_family, "request", r.as_str()));
        let adapter_errors = REQUESTS.map(|r| by(&adapter_errors_family, "request", r.as_str()));
        let adapter_durations = REQUESTS.map(|r| {
            adapter_durations_family
                .get_or_create(&[("request", r.as_str())])
                .clone()
        });
        let events_family: Family<EventLabel, Counter> = Family::default();
        let counted = !events.is_empty();
        let events: Vec<(String, Counter)> = events
            .into_iter()
            .map(|name| {
                let counter = events_family
                    .get_or_create(&[("event", name.clone())])
                    .clone();
                (name, counter)
            })
            .collect();
        let events_other = counted.then(|| {
            events_family
                .get_or_create(&[("event", OTHER_EVENT.to_owned())])
                .clone()
        });
        Counters {
            packets: Family::default(),
            bytes: Family::default(),
            slots: (0..2 * 2 * Kind::COUNT).map(|_| OnceLock::new()).collect(),
            handshakes_accepted_family,
            handshakes_accepted,
            handshakes_refused: Family::default(),
            upgrades: Counter::default(),
            namespace_connects: Family::default(),
            disconnects: Family::default(),
            broadcasts: Counter::default(),
            deliveries: Counter::default(),
            ack_latency_family,
            ack_latency,
            ack_timeouts_family,
            ack_timeouts,
            slow_consumers_family,
            slow_consumers,
            volatile_drops: Counter::default(),
            recoveries_family,
            recoveries,
            adapter_requests_family,
            adapter_requests,
            adapter_errors_family,
            adapter_errors,
            adapter_durations_family,
            adapter_durations,
            adapter_reconnects: Family::default(),
            events_family,
            events,
            events_other,
        }
    }

    /// One packet of `kind` and `len` bytes: two relaxed atomic adds (after the first).
    #[inline]
    fn packet(&self, dir: Dir, transport: Transport, kind: Kind, len: usize) {
        self.packets(dir, transport, kind, len, 1);
    }

    /// `n` packets of `len` bytes each.
    fn packets(&self, dir: Dir, transport: Transport, kind: Kind, len: usize, n: u64) {
        let at = (dir as usize * 2 + transport as usize) * Kind::COUNT + kind as usize;
        let Some(slot) = self.slots.get(at) else {
            return;
        };
        let (packets, bytes) = slot.get_or_init(|| {
            let labels = [
                (
                    "direction",
                    match dir {
                        Dir::In => "in",
                        Dir::Out => "out",
                    },
                ),
                ("transport", transport.as_str()),
                ("type", kind.as_str()),
            ];
            (
                self.packets.get_or_create(&labels).clone(),
                self.bytes.get_or_create(&labels).clone(),
            )
        });
        packets.inc_by(n);
        bytes.inc_by(len as u64 * n);
    }

    fn register(&self, registry: &mut Registry) {
        registry.register(
            "socketio_packets",
            "Engine.IO packets by direction, transport and type (a message by the Socket.IO packet type it carries; a binary frame of the default parser is an attachment)",
            self.packets.clone(),
        );
        registry.register(
            "socketio_bytes",
            "Bytes of those packets (WebSocket frame payloads, polling packets without separators)",
            self.bytes.clone(),
        );
        registry.register(
            "socketio_handshakes_accepted",
            "Engine.IO sessions opened, by the transport of their handshake",
            self.handshakes_accepted_family.clone(),
        );
        registry.register(
            "socketio_handshakes_refused",
            "Requests refused before reaching a session, by reason (the Engine.IO error code: a bad handshake, or a request for an unknown session; shutting_down)",
            self.handshakes_refused.clone(),
        );
        registry.register(
            "socketio_transport_upgrades",
            "Sessions upgraded from polling to WebSocket",
            self.upgrades.clone(),
        );
        registry.register(
            "socketio_namespace_connects",
            "Namespace CONNECT requests by result (accepted, refused by a middleware, unknown_namespace)",
            self.namespace_connects.clone(),
        );
        registry.register(
            "socketio_disconnects",
            "Sockets that left a namespace, by reason (the reference's disconnect reasons)",
            self.disconnects.clone(),
        );
        registry.register(
            "socketio_broadcasts",
            "Broadcasts made through the API (io.emit, io.to(..).emit, with or without acks)",
            self.broadcasts.clone(),
        );
        registry.register(
            "socketio_broadcast_deliveries",
            "Packets queued for this node's sockets by broadcasts (from this node or from the cluster)",
            self.deliveries.clone(),
        );
        registry.register(
            "socketio_ack_latency_seconds",
            "Time from an emit with ack to its ack (kind=emit), or from a broadcast with acks to its last ack (kind=broadcast)",
            self.ack_latency_family.clone(),
        );
        registry.register(
            "socketio_ack_timeouts",
            "Emits with ack whose ack did not come in time (kind=emit); broadcasts with acks that timed out before every ack (kind=broadcast)",
            self.ack_timeouts_family.clone(),
        );
        registry.register(
            "socketio_slow_consumer_disconnects",
            "Connections aborted as slow consumers (outgoing queue past its limit, or above its high water mark too long)",
            self.slow_consumers_family.clone(),
        );
        registry.register(
            "socketio_volatile_drops",
            "Volatile packets not sent because the recipient's queue was not empty",
            self.volatile_drops.clone(),
        );
        registry.register(
            "socketio_recoveries",
            "Connection state recoveries asked for by clients, by result",
            self.recoveries_family.clone(),
        );
        registry.register(
            "socketio_adapter_requests",
            "Cluster requests made through the namespaces' adapters, by request",
            self.adapter_requests_family.clone(),
        );
        registry.register(
            "socketio_adapter_request_errors",
            "Cluster requests that failed (timeout, adapter error), by request",
            self.adapter_errors_family.clone(),
        );
        registry.register(
            "socketio_adapter_request_duration_seconds",
            "Time cluster requests took, by request",
            self.adapter_durations_family.clone(),
        );
        registry.register(
            "socketio_adapter_reconnects",
            "Adapter connections re-established after a failure (the Redis adapter's publisher and subscribers), by link",
            self.adapter_reconnects.clone(),
        );
        registry.register(
            "socketio_events_received",
            "Events received, by name for the allow-listed names, (other) for the rest (only with an allow-list)",
            self.events_family.clone(),
        );
    }
}

/// A histogram of durations without a lock: an atomic add on its bucket and on its sum.
#[derive(Clone, Debug)]
struct AtomicHistogram(Arc<HistogramCells>);

#[derive(Debug)]
struct HistogramCells {
    /// One per bound of [`LATENCY_BOUNDS`], then `+Inf`.
    buckets: [AtomicU64; LATENCY_BOUNDS.len() + 1],
    /// The sum, in nanoseconds.
    sum_nanos: AtomicU64,
}

impl Default for AtomicHistogram {
    fn default() -> Self {
        AtomicHistogram(Arc::new(HistogramCells {
            buckets: std::array::from_fn(|_| AtomicU64::new(0)),
            sum_nanos: AtomicU64::new(0),
        }))
    }
}

impl AtomicHistogram {
    fn observe(&self, took: Duration) {
        let seconds = took.as_secs_f64();
        let at = LATENCY_BOUNDS
            .iter()
            .position(|bound| seconds <= *bound)
            .unwrap_or(LATENCY_BOUNDS.len());
        if let Some(bucket) = self.0.buckets.get(at) {
            bucket.fetch_add(1, Ordering::Relaxed);
        }
        let nanos = u64::try_from(took.as_nanos()).unwrap_or(u64::MAX);
        self.0.sum_nanos.fetch_add(nanos, Ordering::Relaxed);
    }
}

impl TypedMetric for AtomicHistogram {
    const TYPE: MetricType = MetricType::Histogram;
}

impl EncodeMetric for AtomicHistogram {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        // The encoder writes the `+Inf` bucket from the count, which is the buckets' sum (the
        // last one is past every bound), so a scrape during an observation stays consistent.
        let counts: Vec<u64> = self
            .0
            .buckets
            .iter()
            .map(|b| b.load(Ordering::Relaxed))
            .collect();
        let count = counts.iter().sum();
        let buckets: Vec<(f64, u64)> = LATENCY_BOUNDS.iter().copied().zip(counts).collect();
        let sum = self.0.sum_nanos.load(Ordering::Relaxed) as f64 / 1e9;
        encoder.encode_histogram::<NoLabelSet>(sum, count, &buckets, None)
    }

    fn metric_type(&self) -> MetricType {
        Self::TYPE
    }
}

/// The gauges, read from the servers when scraped.
#[derive(Debug, Default)]
struct ServerCollector {
    servers: Mutex<Vec<Weak<Inner>>>,
}

/// What one scrape read.
#[derive(Default)]
struct Reading {
    clients: [i64; 2],
    queued: [i64; 2],
    sockets: BTreeMap<String, i64>,
    rooms: BTreeMap<String, i64>,
}

impl ServerCollector {
    fn read(&self) -> Reading {
        let servers: Vec<Arc<Inner>> = {
            let mut servers = lock(&self.servers);
            servers.retain(|server| server.strong_count() > 0);
            servers.iter().filter_map(Weak::upgrade).collect()
        };
        let mut reading = Reading::default();
        for server in servers {
            read_server(&server, &mut reading);
        }
        reading
    }
}

/// Adds one server's gauges to `reading`: each connection under its own lock in turn, the
/// namespaces' maps under their leaf locks, then the adapters (after every lock).
fn read_server(server: &Inner, reading: &mut Reading) {
    for conn in server.conns() {
        conn.with_state(|st| {
            if st.session.is_closed() {
                return;
            }
            let session = st.session.session();
            let at = match session.transport() {
                socketio_protocol::engine::server::TransportKind::WebSocket => 1,
                _ => 0,
            };
            reading.clients[at] += 1;
            let queued = st.io.queued_bytes() + session.buffered_bytes();
            reading.queued[at] += i64::try_from(queued).unwrap_or(i64::MAX);
        });
    }
    let counts: Vec<(String, usize)> = server
        .nsps
        .read()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .iter()
        .map(|(name, ns)| (name.clone(), ns.socket_count()))
        .collect();
    let label = |name: &str| -> String {
        if lock(&server.registry).get_static(name).is_some() {
            name.to_owned()
        } else {
            DYNAMIC_NAMESPACE.to_owned()
        }
    };
    let mut sockets_of = std::collections::HashMap::new();
    for (name, count) in counts {
        sockets_of.insert(name.clone(), count);
        *reading.sockets.entry(label(&name)).or_default() += count as i64;
    }
    let adapters: Vec<(String, Arc<dyn crate::adapter::Adapter>)> = lock(&server.adapters)
        .iter()
        .map(|(name, adapter)| (name.clone(), adapter.clone()))
        .collect();
    for (name, adapter) in adapters {
        if let Some(rooms) = adapter.local_room_count() {
            // Each socket's own room is not counted.
            let own = sockets_of.get(&name).copied().unwrap_or(0);
            *reading.rooms.entry(label(&name)).or_default() += rooms.saturating_sub(own) as i64;
        }
    }
}

impl Collector for ServerCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let reading = self.read();
        let by_transport = |encoder: &mut DescriptorEncoder,
                            name: &str,
                            help: &str,
                            values: [i64; 2]|
         -> Result<(), std::fmt::Error> {
            let mut family = encoder.encode_descriptor(name, help, None, MetricType::Gauge)?;
            for (transport, value) in TRANSPORTS.iter().zip(values) {
                let labels = [("transport", transport.as_str())];
                ConstGauge::new(value).encode(family.encode_family(&labels)?)?;
            }
            Ok(())
        };
        by_transport(
            &mut encoder,
            "socketio_connected_clients",
            "Engine.IO sessions open, by their current transport",
            reading.clients,
        )?;
        by_transport(
            &mut encoder,
            "socketio_outgoing_queue_bytes",
            "Bytes queued for clients and not yet written (WebSocket) or taken by a GET (polling)",
            reading.queued,
        )?;
        let by_namespace = |encoder: &mut DescriptorEncoder,
                            name: &str,
                            help: &str,
                            values: &BTreeMap<String, i64>|
         -> Result<(), std::fmt::Error> {
            let mut family = encoder.encode_descriptor(name, help, None, MetricType::Gauge)?;
            for (namespace, value) in values {
                let labels = [("namespace", namespace.as_str())];
                ConstGauge::new(*value).encode(family.encode_family(&labels)?)?;
            }
            Ok(())
        };
        by_namespace(
            &mut encoder,
            "socketio_sockets",
            "Sockets connected to this node, by namespace (dynamic namespaces together as (dynamic))",
            &reading.sockets,
        )?;
        by_namespace(
            &mut encoder,
            "socketio_rooms",
            "Rooms on this node besides each socket's own, by namespace (adapters that count them)",
            &reading.rooms,
        )
    }
}

/// A client's Prometheus metrics, in a registry of their own: reconnection attempts,
/// successes and give-ups. Attach it to each [`Client`](crate::Client) to count
/// ([`attach`](Self::attach)); serve [`encode`](Self::encode) or register it in the
/// application's registry ([`register`](Self::register)).
///
/// ```no_run
/// # fn client() -> socketio::Client { unimplemented!() }
/// let metrics = socketio::metrics::ClientMetrics::new();
/// metrics.attach(&client());
/// println!("{}", metrics.encode());
/// ```
#[derive(Clone)]
pub struct ClientMetrics(Arc<ClientShared>);

struct ClientShared {
    attempts: Counter,
    reconnects: Counter,
    failures: Counter,
    registry: Registry,
}

impl std::fmt::Debug for ClientMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientMetrics").finish_non_exhaustive()
    }
}

impl Default for ClientMetrics {
    fn default() -> Self {
        ClientMetrics::new()
    }
}

impl ClientMetrics {
    /// New counters at zero.
    ///
    /// ```
    /// let metrics = socketio::metrics::ClientMetrics::new();
    /// assert!(metrics.encode().contains("socketio_client_reconnect_attempts_total 0"));
    /// ```
    pub fn new() -> ClientMetrics {
        let attempts = Counter::default();
        let reconnects = Counter::default();
        let failures = Counter::default();
        let mut registry = Registry::default();
        let shared = ClientShared {
            attempts,
            reconnects,
            failures,
            registry: Registry::default(),
        };
        Self::register_into(&shared, &mut registry);
        ClientMetrics(Arc::new(ClientShared { registry, ..shared }))
    }

    fn register_into(shared: &ClientShared, registry: &mut Registry) {
        registry.register(
            "socketio_client_reconnect_attempts",
            "Reconnection attempts made by the clients",
            shared.attempts.clone(),
        );
        registry.register(
            "socketio_client_reconnects",
            "Reconnections that succeeded",
            shared.reconnects.clone(),
        );
        registry.register(
            "socketio_client_reconnect_failures",
            "Times a client gave up reconnecting (reconnection_attempts reached)",
            shared.failures.clone(),
        );
    }

    /// Counts `client`'s reconnections (through its `on_reconnect_*` hooks).
    ///
    /// ```no_run
    /// # fn client() -> socketio::Client { unimplemented!() }
    /// socketio::metrics::ClientMetrics::new().attach(&client());
    /// ```
    pub fn attach(&self, client: &crate::Client) {
        let me = self.0.clone();
        client.on_reconnect_attempt(move |_| {
            me.attempts.inc();
            std::future::ready(())
        });
        let me = self.0.clone();
        client.on_reconnect(move |_| {
            me.reconnects.inc();
            std::future::ready(())
        });
        let me = self.0.clone();
        client.on_reconnect_failed(move || {
            me.failures.inc();
            std::future::ready(())
        });
    }

    /// Registers these counters in `registry` too.
    ///
    /// ```
    /// let mut registry = prometheus_client::registry::Registry::default();
    /// socketio::metrics::ClientMetrics::new().register(&mut registry);
    /// ```
    pub fn register(&self, registry: &mut Registry) {
        Self::register_into(&self.0, registry);
    }

    /// The counters as Prometheus text (format 0.0.4, [`CONTENT_TYPE`]).
    ///
    /// ```
    /// let text = socketio::metrics::ClientMetrics::new().encode();
    /// assert!(text.contains("socketio_client_reconnects_total"));
    /// ```
    pub fn encode(&self) -> String {
        let mut text = String::new();
        let _ = prometheus_client::encoding::prometheus_text::encode(&mut text, &self.0.registry);
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_histogram_counts_into_its_bucket_and_sums_in_seconds() {
        let family: Family<[Label; 1], AtomicHistogram> = Family::default();
        let histogram = family.get_or_create(&[("kind", "emit")]).clone();
        histogram.observe(Duration::from_micros(300));
        histogram.observe(Duration::from_millis(20));
        histogram.observe(Duration::from_secs(60));
        let mut registry = Registry::default();
        registry.register("h_seconds", "h", family);
        let mut text = String::new();
        prometheus_client::encoding::prometheus_text::encode(&mut text, &registry).unwrap();
        assert!(
            text.contains("h_seconds_bucket{kind=\"emit\",le=\"0.0005\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("h_seconds_bucket{kind=\"emit\",le=\"0.025\"} 2"),
            "{text}"
        );
        assert!(
            text.contains("h_seconds_bucket{kind=\"emit\",le=\"10\"} 2"),
            "{text}"
        );
        assert!(
            text.contains("h_seconds_bucket{kind=\"emit\",le=\"+Inf\"} 3"),
            "{text}"
        );
        assert!(!text.contains("e+308"), "{text}");
        assert!(text.contains("h_seconds_count{kind=\"emit\"} 3"), "{text}");
        assert!(
            text.contains("h_seconds_sum{kind=\"emit\"} 60.0203"),
            "{text}"
        );
    }

    #[test]
    fn refusals_are_named_by_their_engine_code() {
        assert_eq!(
            refusal_reason(400, b"{\"code\":1,\"message\":\"x\"}"),
            "unknown_sid"
        );
        assert_eq!(
            refusal_reason(403, b"{\"code\":4,\"message\":\"x\"}"),
            "forbidden"
        );
        assert_eq!(refusal_reason(503, b""), "shutting_down");
        assert_eq!(refusal_reason(400, b"nope"), "other");
    }
}
