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
            _ => DisconnectReason::ForcedClose,
        }
    }
}

impl fmt::Display for DisconnectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
