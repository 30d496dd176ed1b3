//! A raw WebSocket client over tokio's `TcpStream` speaking just enough Engine.IO v4 /
//! Socket.IO v5 for the soak and the hostile cases: the upgrade, the open packet, `40`,
//! answering Engine.IO pings (`2` → `3`) and WebSocket pings, text messages in and out.
//!
//! Frames are parsed in place in a per-connection buffer (the load generator,
//! `socketio-bench-load`, has its own copy of the same code tuned for its modes).

use std::net::SocketAddr;
use std::time::Duration;

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;

/// Why a connection failed or ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WsError {
    /// The server closed the TCP stream (end of file).
    Eof,
    /// The server sent a WebSocket close frame with this code (if any).
    Closed(Option<u16>),
    /// An I/O error (`ECONNRESET` shows as `reset`).
    Io(String),
    /// Anything else (protocol surprises, timeouts).
    Other(String),
}

impl std::fmt::Display for WsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WsError::Eof => f.write_str("end of stream"),
            WsError::Closed(Some(c)) => write!(f, "close frame {c}"),
            WsError::Closed(None) => f.write_str("close frame"),
            WsError::Io(e) => f.write_str(e),
            WsError::Other(e) => f.write_str(e),
        }
    }
}

impl From<std::io::Error> for WsError {
    fn from(e: std::io::Error) -> Self {
        WsError::Io(io_kind(&e))
    }
}

/// `reset`, `broken pipe` or the error text.
pub fn io_kind(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::ConnectionReset => "reset".into(),
        std::io::ErrorKind::BrokenPipe => "broken pipe".into(),
        std::io::ErrorKind::ConnectionAborted => "aborted".into(),
        _ => e.to_string(),
    }
}

/// One client connection.
pub struct Conn {
    /// The TCP stream (public so a case can misbehave on it).
    pub stream: TcpStream,
    buf: BytesMut,
    returned: usize,
    /// Bytes to write; `out[..written]` are already written. Every write goes through here so
    /// a cancelled `recv` or `send` never leaves half a frame behind: the rest goes out first.
    out: Vec<u8>,
    written: usize,
    mask: u32,
}

const READ_CHUNK: usize = 4096;

/// The WebSocket upgrade request for path `/socket.io/`.
pub fn upgrade_request(server: SocketAddr) -> String {
    format!(
        "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: {server}\r\n\
         Upgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
}

impl Conn {
    /// TCP connect, upgrade, open packet, `40` and its answer, all within `limit`.
    pub async fn open(server: SocketAddr, seed: u32, limit: Duration) -> Result<Conn, WsError> {
        match timeout(limit, Self::open_inner(server, seed)).await {
            Ok(r) => r,
            Err(_) => Err(WsError::Other(format!(
                "opening a connection took more than {limit:?}"
            ))),
        }
    }

    async fn open_inner(server: SocketAddr, seed: u32) -> Result<Conn, WsError> {
        let stream = TcpStream::connect(server).await?;
        stream.set_nodelay(true)?;
        let mut conn = Conn {
            stream,
            buf: BytesMut::with_capacity(READ_CHUNK),
            returned: 0,
            out: Vec::with_capacity(256),
            written: 0,
            mask: seed | 1,
        };
        conn.stream
            .write_all(upgrade_request(server).as_bytes())
            .await?;
        let head_end = loop {
            if let Some(i) = find(&conn.buf, b"\r\n\r\n") {
                break i + 4;
            }
            if conn.buf.len() > 16 * 1024 {
                return Err(WsError::Other(
                    "the upgrade response head is too long".into(),
                ));
            }
            conn.fill().await?;
        };
        if !conn.buf.starts_with(b"HTTP/1.1 101") {
            let line = conn.buf[..head_end]
                .split(|&b| b == b'\r')
                .next()
                .unwrap_or(&[]);
            return Err(WsError::Other(format!(
                "upgrade refused: {}",
                String::from_utf8_lossy(line)
            )));
        }
        conn.buf.advance(head_end);
        let open = conn.recv().await?;
        if !open.starts_with(b"0{") {
            return Err(WsError::Other(format!(
                "expected the open packet, got {:?}",
                lossy(open)
            )));
        }
        conn.send(b"40").await?;
        let connected = conn.recv().await?;
        if !connected.starts_with(b"40") {
            return Err(WsError::Other(format!(
                "expected 40, got {:?}",
                lossy(connected)
            )));
        }
        Ok(conn)
    }

    /// Writes what is left of `out` (cancel-safe: progress is kept in `written`).
    pub async fn flush(&mut self) -> Result<(), WsError> {
        while self.written < self.out.len() {
            let n = self.stream.write(&self.out[self.written..]).await?;
            if n == 0 {
                return Err(WsError::Io("write returned 0".into()));
            }
            self.written += n;
        }
        self.out.clear();
        self.written = 0;
        Ok(())
    }

    async fn fill(&mut self) -> Result<(), WsError> {
        self.flush().await?;
        self.buf.reserve(READ_CHUNK);
        let n = self.stream.read_buf(&mut self.buf).await?;
        if n == 0 {
            return Err(WsError::Eof);
        }
        Ok(())
    }

    /// The next text or binary message that is not an Engine.IO ping (pings are answered, and
    /// so are WebSocket pings). Cancel-safe as long as the caller only cancels it to leave or
    /// between whole calls (a pong may be half-written otherwise).
    pub async fn recv(&mut self) -> Result<&[u8], WsError> {
        if self.returned > 0 {
            self.buf.advance(self.returned);
            self.returned = 0;
        }
        loop {
            let Some(frame) = parse_frame(&self.buf)? else {
                self.fill().await?;
                continue;
            };
            let (start, end) = (frame.header, frame.header + frame.len);
            match frame.opcode {
                0x1 | 0x2 => {
                    if &self.buf[start..end] == b"2" {
                        self.buf.advance(end);
                        self.queue_frame(0x1, b"3");
                        continue;
                    }
                    self.returned = end;
                    return Ok(&self.buf[start..end]);
                }
                0x8 => {
                    let code = (frame.len >= 2)
                        .then(|| u16::from_be_bytes([self.buf[start], self.buf[start + 1]]));
                    return Err(WsError::Closed(code));
                }
                0x9 => {
                    let payload = self.buf[start..end].to_vec();
                    self.buf.advance(end);
                    self.queue_frame(0xA, &payload);
                }
                0xA => self.buf.advance(end),
                op => {
                    return Err(WsError::Other(format!(
                        "unsupported frame with opcode {op:#x}"
                    )));
                }
            }
        }
    }

    /// Sends one text message.
    pub async fn send(&mut self, text: &[u8]) -> Result<(), WsError> {
        self.send_frame(0x1, text).await
    }

    /// Sends one masked frame.
    pub async fn send_frame(&mut self, opcode: u8, payload: &[u8]) -> Result<(), WsError> {
        self.flush().await?;
        self.queue_frame(opcode, payload);
        self.flush().await
    }

    /// Appends a frame to the bytes to write (written by the next `flush`, `send` or read).
    fn queue_frame(&mut self, opcode: u8, payload: &[u8]) {
        self.mask ^= self.mask << 13;
        self.mask ^= self.mask >> 17;
        self.mask ^= self.mask << 5;
        encode_frame(&mut self.out, opcode, payload, self.mask.to_le_bytes());
    }

    /// `41`, a close frame, then waits (bounded) for the server's close frame or end of stream.
    pub async fn leave(mut self, limit: Duration) {
        if self.send(b"41").await.is_err() || self.send_frame(0x8, &[0x03, 0xE8]).await.is_err() {
            return;
        }
        let _ = timeout(limit, async {
            loop {
                if self.returned > 0 {
                    self.buf.advance(self.returned);
                    self.returned = 0;
                }
                match parse_frame(&self.buf) {
                    Ok(Some(f)) if f.opcode == 0x8 => return,
                    Ok(Some(f)) => self.buf.advance(f.header + f.len),
                    Ok(None) => {
                        if self.fill().await.is_err() {
                            return;
                        }
                    }
                    Err(_) => return,
                }
            }
        })
        .await;
    }
}

/// Appends one masked client frame to `out`.
pub fn encode_frame(out: &mut Vec<u8>, opcode: u8, payload: &[u8], key: [u8; 4]) {
    out.push(0x80 | opcode);
    let len = payload.len();
    if len < 126 {
        out.push(0x80 | len as u8);
    } else if len <= u16::MAX as usize {
        out.push(0x80 | 126);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(0x80 | 127);
        out.extend_from_slice(&(len as u64).to_be_bytes());
    }
    out.extend_from_slice(&key);
    out.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
}

/// A frame header parsed from the front of a buffer that holds the whole frame.
pub struct Frame {
    /// The opcode.
    pub opcode: u8,
    /// Header length (payload starts there).
    pub header: usize,
    /// Payload length.
    pub len: usize,
}

/// The (unmasked, server-sent) frame at the front of `buf`, or `None` if incomplete.
pub fn parse_frame(buf: &[u8]) -> Result<Option<Frame>, WsError> {
    if buf.len() < 2 {
        return Ok(None);
    }
    if buf[0] & 0x80 == 0 {
        return Err(WsError::Other("fragmented message (not supported)".into()));
    }
    if buf[1] & 0x80 != 0 {
        return Err(WsError::Other("masked frame from the server".into()));
    }
    let opcode = buf[0] & 0x0F;
    let (header, len) = match buf[1] & 0x7F {
        126 if buf.len() >= 4 => (4, u16::from_be_bytes([buf[2], buf[3]]) as usize),
        127 if buf.len() >= 10 => {
            let mut b = [0u8; 8];
            b.copy_from_slice(&buf[2..10]);
            let len = u64::from_be_bytes(b);
            if len > 64 * 1024 * 1024 {
                return Err(WsError::Other(format!("a {len}-byte frame")));
            }
            (10, len as usize)
        }
        126 | 127 => return Ok(None),
        l => (2, l as usize),
    };
    if buf.len() < header + len {
        return Ok(None);
    }
    Ok(Some(Frame {
        opcode,
        header,
        len,
    }))
}

/// Position of `needle` in `hay`.
pub fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// At most 200 bytes of `b` as text.
pub fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(&b[..b.len().min(200)]).into_owned()
}

/// The decimal number right after `key` (e.g. `"seq":`) in `msg`.
pub fn number_after(msg: &[u8], key: &[u8]) -> Option<u64> {
    let at = find(msg, key)? + key.len();
    let digits = msg[at..].iter().take_while(|b| b.is_ascii_digit()).count();
    std::str::from_utf8(&msg[at..at + digits])
        .ok()?
        .parse()
        .ok()
}
