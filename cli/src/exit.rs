//! Exit codes and the failures that lead to them.

use socketio_protocol::Value;

use crate::values::to_json;

/// Success.
pub const OK: u8 = 0;
/// Anything not covered below (an unexpected disconnect, an I/O error).
pub const OTHER: u8 = 1;
/// Bad arguments: unknown options, invalid JSON or base64, a bad URL.
pub const USAGE: u8 = 2;
/// The connection failed or the server refused it (`connect_error`), or reconnection gave up.
pub const CONNECT: u8 = 3;
/// A time limit passed (`--timeout`, `--wait`).
pub const TIMEOUT: u8 = 4;

/// Why `sio` stops with a non-zero code.
#[derive(Debug, Clone, PartialEq)]
pub enum Failure {
    /// Bad arguments (code 2).
    Usage(String),
    /// The server refused the connection with a CONNECT_ERROR (code 3).
    Refused {
        /// The namespace.
        nsp: String,
        /// The error message (`err.message` on the JavaScript side).
        message: String,
        /// The error data (`err.data`), if any.
        data: Option<Value>,
    },
    /// The connection could not be made or was lost for good (code 3).
    Connect(String),
    /// A time limit passed (code 4).
    Timeout(String),
    /// Anything else (code 1).
    Other(String),
}

impl Failure {
    /// The process exit code.
    pub fn code(&self) -> u8 {
        match self {
            Failure::Usage(_) => USAGE,
            Failure::Refused { .. } | Failure::Connect(_) => CONNECT,
            Failure::Timeout(_) => TIMEOUT,
            Failure::Other(_) => OTHER,
        }
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Usage(m) => write!(f, "error: {m}"),
            Failure::Refused { nsp, message, data } => {
                write!(f, "connection to namespace {nsp} refused: {message}")?;
                if let Some(data) = data {
                    write!(f, "\ndata: {}", to_json(data))?;
                }
                Ok(())
            }
            Failure::Connect(m) => write!(f, "connection failed: {m}"),
            Failure::Timeout(m) => write!(f, "timed out: {m}"),
            Failure::Other(m) => write!(f, "error: {m}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_messages() {
        let refused = Failure::Refused {
            nsp: "/".into(),
            message: "unauthorized".into(),
            data: Some(Value::Object(vec![(
                "reason".into(),
                Value::from("bad token"),
            )])),
        };
        assert_eq!(refused.code(), CONNECT);
        assert_eq!(
            refused.to_string(),
            "connection to namespace / refused: unauthorized\ndata: {\"reason\":\"bad token\"}"
        );
        assert_eq!(Failure::Usage("x".into()).code(), USAGE);
        assert_eq!(Failure::Connect("x".into()).code(), CONNECT);
        assert_eq!(Failure::Timeout("ack".into()).code(), TIMEOUT);
        assert_eq!(Failure::Timeout("ack".into()).to_string(), "timed out: ack");
        assert_eq!(Failure::Other("x".into()).code(), OTHER);
    }
}
