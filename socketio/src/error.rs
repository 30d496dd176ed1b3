//! Typed errors of the API.

use serde::Serialize;
use socketio_protocol::Value;

/// Why an emit could not be sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EmitError {
    /// The arguments could not be turned into a Socket.IO value.
    #[error("cannot serialize the event arguments: {0}")]
    Serialize(String),
    /// The event name is reserved (`connect`, `disconnect`, ...).
    #[error("reserved event name: {0}")]
    ReservedName(String),
    /// The socket is disconnected (or the server shut down).
    #[error("socket disconnected")]
    Disconnected,
    /// The client's send buffer is full (packets waiting for the connection, beyond
    /// `ClientBuilder::max_send_buffer`, or the engine's write buffer): the packet was not
    /// queued. Retry later, or raise the limit.
    #[error("send buffer full")]
    BufferFull,
}

/// Why an acknowledgement did not arrive or could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AckError {
    /// The emit itself failed.
    #[error(transparent)]
    Emit(#[from] EmitError),
    /// The client did not answer in time.
    #[error("acknowledgement timed out")]
    Timeout,
    /// The socket left before answering.
    #[error("socket disconnected before acknowledging")]
    Disconnected,
    /// The answer did not match the expected type.
    #[error("cannot deserialize the acknowledgement: {0}")]
    Decode(String),
}

/// Why a broadcast with acknowledgements did not gather every response.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum BroadcastAckError<T> {
    /// The emit itself failed.
    #[error(transparent)]
    Emit(#[from] EmitError),
    /// The timeout passed first: the responses gathered so far.
    #[error("broadcast acknowledgements timed out ({} received)", partial.len())]
    Timeout {
        /// The responses that arrived in time.
        partial: Vec<T>,
    },
}

/// A namespace connection refused by a middleware: the client gets `connect_error` with
/// `message` and `data`.
///
/// ```
/// use socketio::ConnectError;
/// let error = ConnectError::new("not authorized").with_data(&serde_json::json!({"retry": false}));
/// assert_eq!(error.message(), "not authorized");
/// ```
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("connection refused: {message}")]
pub struct ConnectError {
    pub(crate) message: String,
    pub(crate) data: Option<Value>,
}

impl ConnectError {
    /// A refusal with `message` (`err.message` on the client).
    ///
    /// ```
    /// let error = socketio::ConnectError::new("nope");
    /// # let _ = error;
    /// ```
    pub fn new(message: impl Into<String>) -> Self {
        ConnectError {
            message: message.into(),
            data: None,
        }
    }

    /// Adds `data` (`err.data` on the client); a value that cannot be serialized is left out.
    ///
    /// ```
    /// let error = socketio::ConnectError::new("nope").with_data(&42);
    /// # let _ = error;
    /// ```
    pub fn with_data<T: Serialize + ?Sized>(mut self, data: &T) -> Self {
        self.data = socketio_protocol::value::to_value(data).ok();
        self
    }

    /// The message.
    ///
    /// ```
    /// assert_eq!(socketio::ConnectError::new("nope").message(), "nope");
    /// ```
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The data, if any.
    ///
    /// ```
    /// assert!(socketio::ConnectError::new("nope").data().is_none());
    /// ```
    pub fn data(&self) -> Option<&Value> {
        self.data.as_ref()
    }
}
