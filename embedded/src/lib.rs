//! A `no_std` + `alloc` Socket.IO client for microcontrollers, over any
//! [`embedded_io_async`] stream.
//!
//! The protocol is the sans-IO core of `socketio-protocol` ([`ClientManager`]: Socket.IO v5 on
//! Engine.IO v4, namespaces, acks, binary attachments, reconnection with backoff); this crate
//! adds what a device lacks: the WebSocket transport ([`handshake`], [`ws`]) and a small driver
//! ([`Client`]) that feeds the core from a [`Connection`] and a [`Timer`].
//!
//! # Run loop
//!
//! ```no_run
//! # async fn run<C: socketio_embedded::Connection, T: socketio_embedded::Timer>(conn: C, timer: T)
//! # -> Result<(), socketio_embedded::Error<C::Error>> {
//! use core::time::Duration;
//! use socketio_embedded::{Buffers, Client, Config, Event, Value};
//!
//! let (mut rx, mut tx) = ([0u8; 2048], [0u8; 512]);
//! let mut config = Config::new("example.com:3000");
//! config.auth = Some(Value::Object(vec![("token".into(), "abc".into())]));
//! config.seed = 42; // from the hardware RNG
//! let mut client = Client::new(config, conn, timer, Buffers { rx: &mut rx, tx: &mut tx })?;
//! client.emit("hello", vec![Value::from(1u64)]).await?; // buffered until connected
//! loop {
//!     match client.next_event().await? {
//!         Event::Connect { .. } => {
//!             client.emit_with_ack("ping", vec![], Duration::from_secs(5)).await?;
//!         }
//!         Event::Event { data, ack, .. } => {
//!             // `data` is `[name, ...args]`; answer the server's ack request if any.
//!             if let Some(id) = ack {
//!                 client.ack(id, vec![Value::from("ok")]).await?;
//!             }
//!         }
//!         Event::Ack { data, .. } => { /* the reply */ }
//!         _ => {}
//!     }
//! }
//! # }
//! ```
//!
//! [`Client::next_event`] does all the work: it opens the connection when needed (and again
//! after a drop, after the core's backoff delay), writes what the core queued (buffered emits,
//! heartbeat pongs, acks), reads frames until the core has an event, and wakes at the core's
//! deadlines (heartbeat timeout, ack timeouts, reconnection). Emits only queue and write;
//! their replies come back through `next_event`.
//!
//! # Transport: WebSocket only
//!
//! The client opens the Engine.IO session directly over WebSocket
//! (`/socket.io/?EIO=4&transport=websocket`), as the official client does with
//! `transports: ["websocket"]`. Long-polling would need a second HTTP connection in flight
//! (a pending GET while a POST writes), chunked and `Content-Length` bodies of up to
//! `maxPayload` bytes, and base64 for binary: twice the sockets and buffers for no gain on a
//! device that can reach the server at all. Every official server accepts a direct WebSocket.
//!
//! # WebSocket framing: our own, bounded
//!
//! [`ws::FrameReader`] decodes server frames in place in the caller's receive buffer
//! (fragments reassembled there, control frames answered from a 125-byte stack copy) and
//! outgoing frames are masked chunk by chunk through the transmit buffer; the handshake
//! ([`handshake`]) parses the response with `httparse` into a fixed header array and checks
//! `Sec-WebSocket-Accept` with `sha1`. We wrote this (about 300 lines, fuzzed:
//! `fuzz/fuzz_targets/embedded_client.rs`) rather than take `embedded-websocket` because a
//! client needs only the unmasked-read / masked-write half, the reassembly must be bounded by
//! the one buffer the caller gave (a message over it is refused, never reallocated), and the
//! read side must survive a read being cancelled by a timer at any byte; owning it keeps those
//! three properties in one small, tested module and adds no `rand_core` dependency (keys and
//! masks come from the seeded generator in [`Config::seed`]).
//!
//! # TLS
//!
//! TLS is the stream's job: implement [`Connection`] for a type that, in `connect`, opens the
//! TCP socket and runs the TLS handshake, and forwards `read`/`write`/`flush` to the TLS
//! session. With `embedded-tls` (0.19): keep the TCP socket and two record buffers (16 KiB
//! each for full-size TLS records; they dominate the memory of a TLS client) in your type; in
//! `connect`, connect the socket, wrap it with
//! `TlsConnection::new(socket, &mut read_record, &mut write_record)` and call
//! `tls.open(TlsContext::new(&TlsConfig::new().with_server_name("example.com"), provider))`,
//! where `provider` is a `CryptoProvider` that verifies the server's certificate
//! (`UnsecureProvider::new::<Aes128GcmSha256>(rng)` skips the verification: tests only); keep
//! the open connection and forward `read`, `write` and `flush` to it (its `read` must be
//! cancel-safe, see [`Connection`]); `disconnect` calls its `close`. Set [`Config::host`] to
//! the server's name, as for plain TCP. `embedded-tls` must speak the same
//! `embedded-io-async` version as this crate (0.7), or sit behind a small adapter.
//!
//! # Memory
//!
//! Fixed: the two caller buffers. Heap: the core's state and queues, bounded by
//! [`Config::max_buffered_packets`] and [`Config::max_pending_acks`], and each message once
//! (its text or bytes, then its decoded value), bounded by the receive buffer; a message larger
//! than the receive buffer closes the connection (`payload too large`) instead of growing
//! anything. The measured high-water mark of a session is in the crate's README.
//!
//! Nothing in the crate panics on server input; `cargo fuzz run embedded_client` feeds the
//! client arbitrary byte streams and `tests/garbage.rs` does the same in the normal test suite.
//!
//! [`ClientManager`]: socketio_protocol::socket::client::ClientManager

#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

mod client;
pub mod handshake;
#[cfg(feature = "std")]
pub mod host;
pub mod scripted;
pub mod ws;

pub use client::{Buffers, Client, Config, Connection, Error, MIN_BUFFER, Timer};
pub use socketio_protocol::socket::Payload;
pub use socketio_protocol::socket::client::{AckId, Event};
pub use socketio_protocol::{Instant, Value};
