//! Typed errors.

use socketio::adapter::AdapterError;

/// A message from Redis that could not be read (it is dropped).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed message: {0}")]
pub struct DecodeError(pub String);

/// What can go wrong in the Redis adapter or the emitter.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RedisAdapterError {
    /// Redis answered with an error, or the connection failed.
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
    /// There is no connection to Redis at the moment (the adapter is reconnecting).
    #[error("redis unavailable (reconnecting)")]
    Unavailable,
    /// A cluster request got fewer answers than there are nodes before `requestsTimeout`.
    #[error("timeout reached while waiting for {operation} response: {received} of {expected}")]
    Timeout {
        /// `fetchSockets`, `serverSideEmit`, ...
        operation: &'static str,
        /// How many nodes answered.
        received: usize,
        /// How many were expected to.
        expected: usize,
    },
    /// Too many cluster requests are waiting for answers (`maxPendingRequests`).
    #[error("too many pending requests")]
    TooManyRequests,
    /// The publish queue is full (`publishQueue`): the message was dropped.
    #[error("publish queue full, message dropped")]
    QueueFull,
    /// The event could not be serialized.
    #[error("serialize: {0}")]
    Serialize(String),
    /// The adapter was dropped (its server is gone).
    #[error("adapter closed")]
    Closed,
}

impl From<RedisAdapterError> for AdapterError {
    fn from(error: RedisAdapterError) -> AdapterError {
        AdapterError(error.to_string())
    }
}
