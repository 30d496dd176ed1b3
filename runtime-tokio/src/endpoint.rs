//! [`Endpoint`] (defined in `socketio`, runtime-neutral): what [`HttpServer`](crate::HttpServer)
//! serves — the Socket.IO [`Server`](crate::Server), the Engine.IO-only
//! [`EngineServer`](crate::engine::EngineServer), or any other Engine.IO-shaped server with the
//! same entry points.

use hyper::upgrade::Upgraded;
use hyper_util::rt::TokioIo;
use tokio_tungstenite::WebSocketStream;

pub use socketio::Endpoint;

/// An accepted WebSocket, as [`HttpServer`](crate::HttpServer) passes it to
/// [`Endpoint::serve_websocket`].
pub type UpgradedWebSocket = WebSocketStream<TokioIo<Upgraded>>;
