//! What the server's code paths report to its metrics: a [`Probe`], one per server, cloned
//! into the places that count (the driver, each WebSocket's task). With the `metrics` feature
//! it holds the server's counters (or nothing when the server has no
//! [`Metrics`](crate::metrics::Metrics)); without it, it is zero-sized and every report is an
//! empty inline function, so a build without metrics pays nothing.
//!
//! Each report is at most a few relaxed atomic adds on counters resolved ahead of time; the
//! packet type of a frame is read from its first bytes ([`kind_of_text`], [`kind_of_binary`]).

#[cfg(not(feature = "metrics"))]
use std::time::Duration;

#[cfg(not(feature = "metrics"))]
use socketio_protocol::socket::DisconnectReason;

/// Which way a packet went.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Dir {
    /// From the peer.
    In = 0,
    /// To the peer.
    Out = 1,
}

/// The transport a packet used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Transport {
    /// HTTP long-polling.
    Polling = 0,
    /// WebSocket.
    WebSocket = 1,
}

impl Transport {
    /// The label value.
    #[cfg_attr(not(feature = "metrics"), allow(dead_code))]
    pub(crate) const fn as_str(self) -> &'static str {
        match self {
            Transport::Polling => "polling",
            Transport::WebSocket => "websocket",
        }
    }
}

/// A packet's type, as far as its first bytes tell: the Engine.IO type, or for a message the
/// Socket.IO type it carries; a binary frame of the default parser is an attachment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(not(feature = "metrics"), allow(dead_code))]
pub(crate) enum Kind {
    Open,
    Close,
    Ping,
    Pong,
    Upgrade,
    Noop,
    Connect,
    Disconnect,
    Event,
    Ack,
    ConnectError,
    BinaryEvent,
    BinaryAck,
    Attachment,
    /// An Engine.IO v3 polling payload, counted whole.
    Payload,
    Other,
}

#[cfg_attr(not(feature = "metrics"), allow(dead_code))]
impl Kind {
    /// How many kinds there are.
    pub(crate) const COUNT: usize = 16;

    /// The label value.
    pub(crate) const fn as_str(self) -> &'static str {
        match self {
            Kind::Open => "open",
            Kind::Close => "close",
            Kind::Ping => "ping",
            Kind::Pong => "pong",
            Kind::Upgrade => "upgrade",
            Kind::Noop => "noop",
            Kind::Connect => "connect",
            Kind::Disconnect => "disconnect",
            Kind::Event => "event",
            Kind::Ack => "ack",
            Kind::ConnectError => "connect_error",
            Kind::BinaryEvent => "binary_event",
            Kind::BinaryAck => "binary_ack",
            Kind::Attachment => "attachment",
            Kind::Payload => "payload",
            Kind::Other => "other",
        }
    }

    /// The Socket.IO packet type numbered `digit`.
    const fn socket(digit: u8) -> Kind {
        match digit {
            0 => Kind::Connect,
            1 => Kind::Disconnect,
            2 => Kind::Event,
            3 => Kind::Ack,
            4 => Kind::ConnectError,
            5 => Kind::BinaryEvent,
            6 => Kind::BinaryAck,
            _ => Kind::Other,
        }
    }
}

/// The type of a text Engine.IO packet (`4` followed by a Socket.IO packet for a message).
#[cfg_attr(not(feature = "metrics"), allow(dead_code))]
pub(crate) fn kind_of_text(packet: &[u8]) -> Kind {
    match packet.first() {
        Some(b'0') => Kind::Open,
        Some(b'1') => Kind::Close,
        Some(b'2') => Kind::Ping,
        Some(b'3') => Kind::Pong,
        Some(b'4') => match packet.get(1) {
            Some(digit @ b'0'..=b'9') => Kind::socket(digit - b'0'),
            _ => Kind::Other,
        },
        Some(b'5') => Kind::Upgrade,
        Some(b'6') => Kind::Noop,
        _ => Kind::Other,
    }
}

/// The type of a binary frame: with the msgpack parser, the packet's `type` (found among its
/// first bytes, where both the official parser and ours put it); otherwise an attachment.
#[cfg_attr(not(feature = "metrics"), allow(dead_code))]
pub(crate) fn kind_of_binary(frame: &[u8], msgpack: bool) -> Kind {
    if !msgpack {
        return Kind::Attachment;
    }
    let window = &frame[..frame.len().min(48)];
    window
        .windows(6)
        .find(|w| &w[..5] == b"\xa4type")
        .map_or(Kind::Other, |w| Kind::socket(w[5]))
}

/// What a namespace CONNECT came to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(not(feature = "metrics"), allow(dead_code))]
pub(crate) enum ConnectResult {
    Accepted,
    Refused,
    UnknownNamespace,
}

/// Who waited for an ack.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(not(feature = "metrics"), allow(dead_code))]
pub(crate) enum AckKind {
    /// `socket.emit_with_ack`.
    Emit = 0,
    /// A broadcast with acks (`io.emit_with_ack`).
    Broadcast = 1,
}

/// The cluster requests of an adapter that are timed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(not(feature = "metrics"), allow(dead_code))]
pub(crate) enum AdapterRequest {
    FetchSockets = 0,
    ServerSideEmit = 1,
    ServerCount = 2,
}

impl AdapterRequest {
    /// The label value.
    #[cfg_attr(not(feature = "metrics"), allow(dead_code))]
    pub(crate) const fn as_str(self) -> &'static str {
        match self {
            AdapterRequest::FetchSockets => "fetch_sockets",
            AdapterRequest::ServerSideEmit => "server_side_emit",
            AdapterRequest::ServerCount => "server_count",
        }
    }
}

#[cfg(feature = "metrics")]
pub(crate) use crate::metrics::Probe;

/// The probe of a server without metrics.
pub(crate) static NO_PROBE: Probe = Probe::NONE;

/// Without the `metrics` feature: nothing is counted.
#[cfg(not(feature = "metrics"))]
#[derive(Clone, Default, Debug)]
pub(crate) struct Probe;

#[cfg(not(feature = "metrics"))]
#[allow(dead_code)]
impl Probe {
    pub(crate) const NONE: Probe = Probe;
    #[inline(always)]
    pub(crate) fn enabled(&self) -> bool {
        false
    }
    #[inline(always)]
    pub(crate) fn frame(&self, _dir: Dir, _transport: Transport, _frame: &[u8], _binary: bool) {}
    #[inline(always)]
    pub(crate) fn frames(
        &self,
        _dir: Dir,
        _transport: Transport,
        _frame: &[u8],
        _binary: bool,
        _n: u64,
    ) {
    }
    #[inline(always)]
    pub(crate) fn polling_body(&self, _dir: Dir, _body: &[u8], _v3: bool) {}
    #[inline(always)]
    pub(crate) fn handshake_accepted(&self, _transport: Transport) {}
    #[inline(always)]
    pub(crate) fn refused(&self, _status: u16, _body: &[u8]) {}
    #[inline(always)]
    pub(crate) fn upgrade(&self) {}
    #[inline(always)]
    pub(crate) fn namespace_connect(&self, _result: ConnectResult) {}
    #[inline(always)]
    pub(crate) fn disconnect(&self, _reason: DisconnectReason) {}
    #[inline(always)]
    pub(crate) fn broadcast(&self) {}
    #[inline(always)]
    pub(crate) fn deliveries(&self, _count: usize) {}
    #[inline(always)]
    pub(crate) fn ack_latency(&self, _kind: AckKind, _latency: Duration) {}
    #[inline(always)]
    pub(crate) fn ack_timeout(&self, _kind: AckKind) {}
    #[inline(always)]
    pub(crate) fn slow_consumer(&self, _transport: Transport) {}
    #[inline(always)]
    pub(crate) fn volatile_drop(&self) {}
    #[inline(always)]
    pub(crate) fn recovery(&self, _recovered: bool) {}
    #[inline(always)]
    pub(crate) fn adapter_request(&self, _request: AdapterRequest, _took: Duration, _ok: bool) {}
    #[inline(always)]
    pub(crate) fn adapter_reconnect(&self, _link: &'static str) {}
    #[inline(always)]
    pub(crate) fn event_in(&self, _event: &str) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_come_from_the_first_bytes() {
        assert_eq!(kind_of_text(b"42[\"a\"]"), Kind::Event);
        assert_eq!(kind_of_text(b"430[1]"), Kind::Ack);
        assert_eq!(kind_of_text(b"40"), Kind::Connect);
        assert_eq!(kind_of_text(b"44{}"), Kind::ConnectError);
        assert_eq!(kind_of_text(b"451-[\"a\",{}]"), Kind::BinaryEvent);
        assert_eq!(kind_of_text(b"2"), Kind::Ping);
        assert_eq!(kind_of_text(b"3probe"), Kind::Pong);
        assert_eq!(kind_of_text(b"0{}"), Kind::Open);
        assert_eq!(kind_of_text(b"4"), Kind::Other);
        assert_eq!(kind_of_text(b""), Kind::Other);
        assert_eq!(kind_of_binary(b"\x01\x02", false), Kind::Attachment);
        // {"type": 2, "data": [...], "nsp": "/"} as the official msgpack parser writes it.
        assert_eq!(
            kind_of_binary(b"\x83\xa4type\x02\xa4data\x91\xa1a", true),
            Kind::Event
        );
        assert_eq!(
            kind_of_binary(b"\x83\xa3nsp\xa1/\xa4type\x03", true),
            Kind::Ack
        );
        assert_eq!(kind_of_binary(b"\x80", true), Kind::Other);
    }
}
