//! A scripted server and a virtual clock, to test code that uses the client without a
//! network or real time (and to feed the client arbitrary server bytes: the garbage test and
//! the fuzz target use them).
//!
//! [`ScriptedConnection`] plays one script per connection: it answers the client's upgrade
//! request with a correct `101` (computing `Sec-WebSocket-Accept` from the request), then
//! serves the script's bytes, then reports end of stream; a connection with no script left
//! is refused. [`VirtualTimer`] jumps to every instant it is asked to sleep until.
//!
//! ```
//! use socketio_embedded::scripted::{ScriptedConnection, VirtualTimer, server_frame};
//! use socketio_embedded::{Buffers, Client, Config, Event};
//!
//! let open = r#"0{"sid":"e1","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}"#;
//! let mut script = server_frame(0x1, open.as_bytes());
//! script.extend(server_frame(0x1, br#"40{"sid":"s1"}"#));
//! script.extend(server_frame(0x1, br#"42["hello",1]"#));
//! let conn = ScriptedConnection::new(vec![script]);
//! let (mut rx, mut tx) = ([0u8; 512], [0u8; 512]);
//! let mut client = Client::new(Config::new("test"), conn, VirtualTimer::default(),
//!     Buffers { rx: &mut rx, tx: &mut tx }).unwrap();
//! futures_executor::block_on(async {
//!     assert!(matches!(client.next_event().await, Ok(Event::Connect { .. })));
//!     assert!(matches!(client.next_event().await, Ok(Event::Event { .. })));
//! });
//! ```

use alloc::collections::VecDeque;
use alloc::vec::Vec;
use core::fmt;
use socketio_protocol::Instant;

use crate::client::{Connection, Timer};
use crate::handshake;

/// The most request bytes [`ScriptedConnection`] keeps while it waits for the head's end.
const MAX_REQUEST: usize = 8 * 1024;

/// Why a [`ScriptedConnection`] failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ScriptError {
    /// No script left for a new connection.
    Refused,
    /// Read or write without a connection.
    NotConnected,
}

impl fmt::Display for ScriptError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ScriptError::Refused => "no script left: connection refused",
            ScriptError::NotConnected => "not connected",
        })
    }
}

impl core::error::Error for ScriptError {}

impl embedded_io_async::Error for ScriptError {
    fn kind(&self) -> embedded_io_async::ErrorKind {
        match self {
            ScriptError::Refused => embedded_io_async::ErrorKind::ConnectionRefused,
            ScriptError::NotConnected => embedded_io_async::ErrorKind::NotConnected,
        }
    }
}

/// The connection being played.
#[derive(Debug)]
struct Playing {
    request: Vec<u8>,
    upgraded: bool,
    script: Vec<u8>,
    out: VecDeque<u8>,
}

/// A [`Connection`] that plays scripts; see the [module docs](self).
#[derive(Debug, Default)]
pub struct ScriptedConnection {
    scripts: VecDeque<Vec<u8>>,
    playing: Option<Playing>,
    /// How many bytes the client wrote after its upgrade requests.
    pub written: usize,
    /// How many connections were opened.
    pub connects: usize,
}

impl ScriptedConnection {
    /// A connection that plays `scripts`, one per connection, in order.
    pub fn new(scripts: Vec<Vec<u8>>) -> Self {
        ScriptedConnection {
            scripts: scripts.into(),
            ..ScriptedConnection::default()
        }
    }
}

impl embedded_io_async::ErrorType for ScriptedConnection {
    type Error = ScriptError;
}

impl embedded_io_async::Read for ScriptedConnection {
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, ScriptError> {
        let playing = self.playing.as_mut().ok_or(ScriptError::NotConnected)?;
        let mut n = 0;
        while n < buf.len() {
            let Some(byte) = playing.out.pop_front() else {
                break;
            };
            buf[n] = byte;
            n += 1;
        }
        Ok(n) // 0: end of stream
    }
}

impl embedded_io_async::Write for ScriptedConnection {
    async fn write(&mut self, buf: &[u8]) -> Result<usize, ScriptError> {
        let playing = self.playing.as_mut().ok_or(ScriptError::NotConnected)?;
        if playing.upgraded {
            self.written += buf.len();
            return Ok(buf.len());
        }
        let room = MAX_REQUEST.saturating_sub(playing.request.len());
        playing
            .request
            .extend_from_slice(&buf[..buf.len().min(room)]);
        if let Some(end) = find(&playing.request, b"\r\n\r\n") {
            playing.upgraded = true;
            let key = request_key(&playing.request[..end]).unwrap_or_default();
            let accept = handshake::accept_key(key);
            let head: [&[u8]; 3] = [
                b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ",
                &accept,
                b"\r\n\r\n",
            ];
            for part in head {
                playing.out.extend(part.iter().copied());
            }
            let script = core::mem::take(&mut playing.script);
            playing.out.extend(script);
        }
        Ok(buf.len())
    }

    async fn flush(&mut self) -> Result<(), ScriptError> {
        self.playing
            .as_ref()
            .map(|_| ())
            .ok_or(ScriptError::NotConnected)
    }
}

impl Connection for ScriptedConnection {
    async fn connect(&mut self) -> Result<(), ScriptError> {
        let script = self.scripts.pop_front().ok_or(ScriptError::Refused)?;
        self.connects += 1;
        self.playing = Some(Playing {
            request: Vec::new(),
            upgraded: false,
            script,
            out: VecDeque::new(),
        });
        Ok(())
    }

    async fn disconnect(&mut self) {
        self.playing = None;
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// The `Sec-WebSocket-Key` of a request head.
fn request_key(head: &[u8]) -> Option<&str> {
    let text = core::str::from_utf8(head).ok()?;
    text.split("\r\n").find_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.eq_ignore_ascii_case("sec-websocket-key")
            .then(|| value.trim())
    })
}

/// A clock that jumps to every instant it is asked to sleep until.
#[derive(Debug, Clone, Copy, Default)]
pub struct VirtualTimer {
    /// The current virtual instant.
    pub now: Instant,
}

impl Timer for VirtualTimer {
    fn now(&self) -> Instant {
        self.now
    }

    async fn sleep_until(&mut self, at: Instant) {
        self.now = self.now.max(at);
    }
}

/// One final, unmasked server frame with `opcode` and `payload`.
///
/// ```
/// assert_eq!(socketio_embedded::scripted::server_frame(0x1, b"3"), vec![0x81, 1, b'3']);
/// ```
pub fn server_frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + 10);
    out.push(0x80 | (opcode & 0x0F));
    if payload.len() < 126 {
        out.push(payload.len() as u8);
    } else if let Ok(short) = u16::try_from(payload.len()) {
        out.push(126);
        out.extend_from_slice(&short.to_be_bytes());
    } else {
        out.push(127);
        out.extend_from_slice(&(payload.len() as u64).to_be_bytes());
    }
    out.extend_from_slice(payload);
    out
}
