//! A scripted WebSocket peer for the client manager's transcript tests: the test plays the
//! server by feeding text frames, and reads what the client wrote as strings.

#![allow(dead_code)]

use std::time::Duration;

use socketio_protocol::Instant;
use socketio_protocol::engine::Frame;
use socketio_protocol::engine::client::{RequestId, Transmit, TransportKind};
use socketio_protocol::socket::client::{ClientManager, Event, ManagerConfig, SocketId};
use socketio_protocol::value::Value;

/// The engine open packet the tests' server sends.
pub const OPEN: &str = "0{\"sid\":\"engine\",\"upgrades\":[],\"pingInterval\":25000,\
                        \"pingTimeout\":20000,\"maxPayload\":1000000}";

/// A manager config over WebSocket only, no jitter.
pub fn config() -> ManagerConfig {
    let mut config = ManagerConfig::default();
    config.engine.transports = vec![TransportKind::WebSocket];
    config.randomization_factor = 0.0;
    config
}

/// What the client put on the wire, as readable strings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Out {
    /// A WebSocket was requested.
    Dial,
    /// A text frame.
    Text(String),
    /// A binary frame.
    Binary(Vec<u8>),
    /// The WebSocket was closed by the client.
    Close,
}

/// The manager, the virtual clock and the current WebSocket.
pub struct Harness {
    pub manager: ClientManager,
    pub now: Instant,
    pub ws: Option<RequestId>,
    /// Transmits read but not yet returned by `out`.
    pending: Vec<Out>,
}

impl Harness {
    pub fn new(config: ManagerConfig) -> Harness {
        Harness {
            manager: ClientManager::new(config).unwrap(),
            now: Instant::ZERO,
            ws: None,
            pending: Vec::new(),
        }
    }

    /// Reads every transmit, tracking the WebSocket id.
    pub fn out(&mut self) -> Vec<Out> {
        let mut out = std::mem::take(&mut self.pending);
        while let Some(transmit) = self.manager.poll_transmit() {
            match transmit {
                Transmit::OpenWebSocket { id, .. } => {
                    self.ws = Some(id);
                    out.push(Out::Dial);
                }
                Transmit::WsFrame { frame, .. } => out.push(match frame {
                    Frame::Text(text) => Out::Text(text.to_string()),
                    Frame::Binary(bytes) => Out::Binary(bytes.to_vec()),
                }),
                Transmit::CloseWebSocket { .. } => out.push(Out::Close),
                other => panic!("unexpected transmit {other:?}"),
            }
        }
        out
    }

    /// The text frames written since the last read (panics on anything else).
    pub fn texts(&mut self) -> Vec<String> {
        self.out()
            .into_iter()
            .map(|o| match o {
                Out::Text(text) => text,
                other => panic!("expected a text frame, got {other:?}"),
            })
            .collect()
    }

    pub fn events(&mut self) -> Vec<Event> {
        std::iter::from_fn(|| self.manager.poll_event()).collect()
    }

    /// Expects a dial, accepts it and sends the engine open packet.
    pub fn accept_engine(&mut self) {
        let out = self.out();
        assert_eq!(
            out.first(),
            Some(&Out::Dial),
            "expected a dial, got {out:?}"
        );
        self.pending = out[1..].to_vec();
        let id = self.ws.unwrap();
        self.manager.handle_ws_opened(self.now, id);
        self.manager
            .handle_ws_frame(self.now, id, Frame::Text(OPEN.into()));
    }

    /// The server writes a text frame.
    pub fn feed(&mut self, text: &str) {
        let id = self.ws.unwrap();
        self.manager
            .handle_ws_frame(self.now, id, Frame::Text(text.to_string().into()));
    }

    /// The WebSocket drops.
    pub fn drop_transport(&mut self) {
        let id = self.ws.take().unwrap();
        self.manager.handle_ws_closed(self.now, id);
    }

    /// Fires every timer due up to `to`, then sets the clock to `to`.
    pub fn advance_to(&mut self, to: Instant) {
        while let Some(at) = self.manager.poll_timeout() {
            if at > to {
                break;
            }
            self.now = self.now.max(at);
            self.manager.handle_timeout(self.now);
        }
        self.now = to;
    }

    pub fn advance(&mut self, by: Duration) {
        self.advance_to(self.now + by);
    }

    /// Opens `nsp` (with `auth`) and returns its socket.
    pub fn open(&mut self, nsp: &str, auth: Option<Value>) -> SocketId {
        self.manager.open_socket(self.now, nsp, auth).unwrap()
    }
}

/// `["name", ...args]` as a value.
pub fn event(name: &str, args: Vec<Value>) -> Value {
    let mut items = vec![Value::from(name)];
    items.extend(args);
    Value::Array(items)
}

/// An object value from pairs.
pub fn object(entries: &[(&str, Value)]) -> Value {
    Value::Object(
        entries
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect(),
    )
}
