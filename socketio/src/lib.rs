//! Async Socket.IO server API over the sans-IO core in `socketio-protocol`.
#![forbid(unsafe_code)]

mod config;
mod runtime;
mod server;

pub use config::{AllowRequest, Cors, CorsOrigin, Parser, RecoveryConfig, ServerBuilder, TransportKind};
pub use runtime::{BoxTask, Runtime};
pub use server::{Server, WebSocketTicket};
pub use socketio_protocol as protocol;
