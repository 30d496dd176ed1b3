//! Why an Engine.IO session ended.

use core::fmt;

/// Why an engine session closed, with the reference implementation's reason strings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CloseReason {
    /// No pong (v4 server) / no ping (v3 server) / no ping (client) in time: `ping timeout`.
    PingTimeout,
    /// The transport failed (e.g. an aborted pending GET): `transport error`.
    TransportError,
    /// The transport closed, or the peer sent a close packet: `transport close`.
    TransportClose,
    /// The peer sent something undecodable or forbidden: `parse error`.
    ParseError,
    /// This side closed the session on purpose: `forced close`.
    ForcedClose,
    /// A response body or message from the peer was larger than this side reads
    /// (`limit` bytes): `payload too large`. Not a reference reason: the reference client has
    /// no such cap and would keep reading.
    ///
    /// ```
    /// use socketio_protocol::engine::CloseReason;
    /// let reason = CloseReason::PayloadTooLarge { limit: 1_000_000 };
    /// assert_eq!(reason.as_str(), "payload too large");
    /// assert_eq!(reason.to_string(), "payload too large (limit: 1000000 bytes)");
    /// ```
    PayloadTooLarge {
        /// The cap that was passed, in bytes.
        limit: u64,
    },
}

impl CloseReason {
    /// The reference reason string (`"ping timeout"`, `"transport close"`, ...).
    pub const fn as_str(self) -> &'static str {
        match self {
            CloseReason::PingTimeout => "ping timeout",
            CloseReason::TransportError => "transport error",
            CloseReason::TransportClose => "transport close",
            CloseReason::ParseError => "parse error",
            CloseReason::ForcedClose => "forced close",
            CloseReason::PayloadTooLarge { .. } => "payload too large",
        }
    }
}

impl fmt::Display for CloseReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CloseReason::PayloadTooLarge { limit } => {
                write!(f, "{} (limit: {limit} bytes)", self.as_str())
            }
            _ => f.write_str(self.as_str()),
        }
    }
}
