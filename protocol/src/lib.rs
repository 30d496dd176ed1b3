//! # socketio-protocol
//!
//! The sans-IO core of a Socket.IO implementation: pure codecs (and, later, state machines) for
//! Engine.IO v4/v3 and Socket.IO v5/v4, with the JSON ("common") and msgpack parsers.
//!
//! Nothing here does IO, reads a clock, spawns or awaits. Every decoder takes bytes and
//! [`Limits`](socket::Limits)-style bounds and returns a typed error instead of panicking; every
//! encoder produces owned [`bytes::Bytes`] so one encoded frame can be shared by many recipients.
//!
//! The crate is `no_std` + `alloc` with default features off; `std` and `msgpack` are features.
//!
//! ```
//! use socketio_protocol::engine::{Packet, ProtocolVersion};
//!
//! let packet = Packet::decode_text(ProtocolVersion::V4, "4hello".into()).unwrap();
//! assert_eq!(packet, Packet::Message("hello".into()));
//! ```
#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

pub mod backoff;
pub mod connection;
pub mod engine;
pub mod flow;
pub mod json;
pub mod recovery;
pub mod rooms;
pub mod socket;
pub mod str;
pub mod time;
pub mod value;
mod vecmap;

pub use str::Str;
pub use time::Instant;
pub use value::{Number, Value};

/// Pops the front of an output queue; once it is drained, its buffer is released, so that an
/// idle connection keeps no output buffers (thousands of idle connections would otherwise
/// each hold a few hundred bytes per queue, sized by their busiest moment).
pub(crate) fn pop_or_release<T>(queue: &mut alloc::collections::VecDeque<T>) -> Option<T> {
    let item = queue.pop_front();
    if item.is_none() && queue.capacity() > 0 {
        *queue = alloc::collections::VecDeque::new();
    }
    item
}
