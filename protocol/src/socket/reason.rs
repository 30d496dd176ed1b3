//! Why a Socket.IO socket disconnected, with the reference reason strings.

use core::fmt;

/// Why a socket left its namespace, as the reference server and client report it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DisconnectReason {
    /// The underlying connection failed: `transport error`.
    TransportError,
    /// The underlying connection was closed: `transport close`.
    TransportClose,
    /// The engine session was closed on purpose by this side: `forced close`.
    ForcedClose,
    /// The heartbeat failed: `ping timeout`.
    PingTimeout,
    /// The peer broke the protocol: `parse error`.
    ParseError,
    /// The server is shutting down: `server shutting down`.
    ServerShuttingDown,
    /// The server closed the whole connection on purpose: `forced server close`.
    ForcedServerClose,
    /// The client sent DISCONNECT for this namespace: `client namespace disconnect`.
    ClientNamespaceDisconnect,
    /// The server disconnected this socket from its namespace: `server namespace disconnect`.
    ServerNamespaceDisconnect,
    /// Client side: the server disconnected the socket: `io server disconnect`.
    IoServerDisconnect,
    /// Client side: the application disconnected the socket: `io client disconnect`.
    IoClientDisconnect,
    /// Client side: a response body or message from the server was larger than the client
    /// reads (`limit` bytes), so the connection was dropped: `payload too large`. Not a
    /// reference reason (the reference client has no such cap); the client reconnects.
    ///
    /// ```
    /// use socketio_protocol::socket::DisconnectReason;
    /// let reason = DisconnectReason::PayloadTooLarge { limit: 1_000_000 };
    /// assert_eq!(reason.as_str(), "payload too large");
    /// assert_eq!(reason.to_string(), "payload too large (limit: 1000000 bytes)");
    /// assert!(reason.allows_reconnect());
    /// ```
    PayloadTooLarge {
        /// The cap that was passed, in bytes.
        limit: u64,
    },
}

impl DisconnectReason {
    /// The reference reason string.
    pub const fn as_str(self) -> &'static str {
        match self {
            DisconnectReason::TransportError => "transport error",
            DisconnectReason::TransportClose => "transport close",
            DisconnectReason::ForcedClose => "forced close",
            DisconnectReason::PingTimeout => "ping timeout",
            DisconnectReason::ParseError => "parse error",
            DisconnectReason::ServerShuttingDown => "server shutting down",
            DisconnectReason::ForcedServerClose => "forced server close",
            DisconnectReason::ClientNamespaceDisconnect => "client namespace disconnect",
            DisconnectReason::ServerNamespaceDisconnect => "server namespace disconnect",
            DisconnectReason::IoServerDisconnect => "io server disconnect",
            DisconnectReason::IoClientDisconnect => "io client disconnect",
            DisconnectReason::PayloadTooLarge { .. } => "payload too large",
        }
    }

    /// True if connection state recovery keeps the session after this reason (server side).
    pub const fn is_recoverable(self) -> bool {
        matches!(
            self,
            DisconnectReason::TransportError
                | DisconnectReason::TransportClose
                | DisconnectReason::ForcedClose
                | DisconnectReason::PingTimeout
                | DisconnectReason::ServerShuttingDown
                | DisconnectReason::ForcedServerClose
        )
    }

    /// True if a client should try to reconnect after this reason.
    pub const fn allows_reconnect(self) -> bool {
        !matches!(
            self,
            DisconnectReason::IoServerDisconnect | DisconnectReason::IoClientDisconnect
        )
    }
}

impl From<crate::engine::CloseReason> for DisconnectReason {
    fn from(reason: crate::engine::CloseReason) -> Self {
        use crate::engine::CloseReason;
        match reason {
            CloseReason::PingTimeout => DisconnectReason::PingTimeout,
            CloseReason::TransportError => DisconnectReason::TransportError,
            CloseReason::TransportClose => DisconnectReason::TransportClose,
            CloseReason::ParseError => DisconnectReason::ParseError,
            CloseReason::PayloadTooLarge { limit } => DisconnectReason::PayloadTooLarge { limit },
            _ => DisconnectReason::ForcedClose,
        }
    }
}

impl fmt::Display for DisconnectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DisconnectReason::PayloadTooLarge { limit } => {
                write!(f, "{} (limit: {limit} bytes)", self.as_str())
            }
            _ => f.write_str(self.as_str()),
        }
    }
}
