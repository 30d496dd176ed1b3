//! WebSocket framing (RFC 6455, client side) over one caller-provided buffer.
//!
//! [`FrameReader`] decodes the server's frames in place: bytes read from the stream go into
//! [`FrameReader::space`], [`FrameReader::advance`] records them, and [`FrameReader::decode`]
//! returns each complete message, ping, pong or close. Fragmented messages are reassembled at
//! the start of the buffer, so the largest message the client accepts is the buffer's size less
//! the frame header; a larger one is [`WsError::TooLarge`], never a reallocation. Nothing here
//! panics on any input: lengths are checked before every slice.
//!
//! [`encode_header`] and [`mask`] write the client's (masked) frames.
//!
//! ```
//! use socketio_embedded::ws::{FrameReader, Received};
//! use socketio_protocol::engine::Frame;
//!
//! let mut buffer = [0u8; 256];
//! let mut reader = FrameReader::new(&mut buffer);
//! let wire = [0x81, 0x02, b'4', b'x']; // a text frame "4x", unmasked as a server sends it
//! reader.space()[..4].copy_from_slice(&wire);
//! reader.advance(4);
//! assert_eq!(reader.decode(), Ok(Some(Received::Message(Frame::Text("4x".into())))));
//! assert_eq!(reader.decode(), Ok(None)); // nothing more buffered
//! ```

use alloc::string::String;
use bytes::Bytes;
use core::fmt;
use socketio_protocol::engine::Frame;

/// The opcode of a text frame.
pub const OP_TEXT: u8 = 0x1;
/// The opcode of a binary frame.
pub const OP_BINARY: u8 = 0x2;
/// The opcode of a close frame.
pub const OP_CLOSE: u8 = 0x8;
/// The opcode of a ping frame.
pub const OP_PING: u8 = 0x9;
/// The opcode of a pong frame.
pub const OP_PONG: u8 = 0xA;

/// The longest frame header: 2 bytes, 8 bytes of extended length, 4 bytes of mask.
pub const MAX_HEADER: usize = 14;

/// The payload of a control frame (at most 125 bytes), kept inline.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Control {
    len: u8,
    bytes: [u8; 125],
}

impl Control {
    fn new(data: &[u8]) -> Control {
        let mut bytes = [0u8; 125];
        let len = data.len().min(125);
        bytes[..len].copy_from_slice(&data[..len]);
        Control {
            len: len as u8,
            bytes,
        }
    }

    /// The payload.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }
}

impl fmt::Debug for Control {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Control").field(&self.as_bytes()).finish()
    }
}

/// What [`FrameReader::decode`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Received {
    /// A whole (possibly reassembled) text or binary message.
    Message(Frame),
    /// A ping: answer with a pong carrying the same payload.
    Ping(Control),
    /// A pong.
    Pong,
    /// A close frame, with its status code if it had one.
    Close(Option<u16>),
}

/// A framing violation, or a message larger than the buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum WsError {
    /// The message does not fit the buffer: `limit` is the largest message it holds.
    TooLarge {
        /// The largest message the buffer holds, in bytes.
        limit: usize,
    },
    /// Reserved bits set, an unknown opcode, a masked server frame, a fragmented or oversized
    /// control frame, or a continuation out of place.
    Protocol,
    /// A text message that is not UTF-8.
    InvalidUtf8,
}

impl fmt::Display for WsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WsError::TooLarge { limit } => {
                write!(f, "websocket message larger than the {limit}-byte buffer")
            }
            WsError::Protocol => f.write_str("websocket framing violation"),
            WsError::InvalidUtf8 => f.write_str("websocket text message is not UTF-8"),
        }
    }
}

impl core::error::Error for WsError {}

/// Decodes server frames in a caller-provided buffer; see the [module docs](self).
#[derive(Debug)]
pub struct FrameReader<'b> {
    buf: &'b mut [u8],
    /// Bytes of the message being reassembled, at `buf[..msg_len]`.
    msg_len: usize,
    /// Bytes in the buffer: the message, then raw frame bytes up to `filled`.
    filled: usize,
    /// The opcode of the fragmented message in progress.
    msg_kind: Option<u8>,
}

impl<'b> FrameReader<'b> {
    /// A reader over `buf`; its length bounds every message.
    pub fn new(buf: &'b mut [u8]) -> Self {
        FrameReader {
            buf,
            msg_len: 0,
            filled: 0,
            msg_kind: None,
        }
    }

    /// Forgets everything buffered (a new connection).
    pub fn reset(&mut self) {
        self.msg_len = 0;
        self.filled = 0;
        self.msg_kind = None;
    }

    /// The largest message this reader accepts (the buffer less the longest server header).
    pub fn limit(&self) -> usize {
        self.buf.len().saturating_sub(10)
    }

    /// Where the next bytes read from the stream go; empty when the buffer is full (then
    /// [`decode`](Self::decode) has already reported [`WsError::TooLarge`]).
    pub fn space(&mut self) -> &mut [u8] {
        let filled = self.filled.min(self.buf.len());
        &mut self.buf[filled..]
    }

    /// Records `n` bytes written into [`space`](Self::space) (clamped to its length).
    pub fn advance(&mut self, n: usize) {
        self.filled = self.filled.saturating_add(n).min(self.buf.len());
    }

    /// Bytes buffered and not yet returned (the raw bytes after the handshake response, for
    /// example, are put here with [`space`](Self::space) / [`advance`](Self::advance)).
    pub fn buffered(&self) -> usize {
        self.filled
    }

    /// The bytes buffered, while no message is being reassembled (the upgrade response).
    pub fn pending(&self) -> &[u8] {
        &self.buf[self.msg_len..self.filled]
    }

    /// Drops the first `n` bytes of [`pending`](Self::pending) (the upgrade response head).
    pub fn consume(&mut self, n: usize) {
        let start = self.msg_len;
        let n = n.min(self.filled - start);
        self.buf.copy_within(start + n..self.filled, start);
        self.filled -= n;
    }

    /// The next complete item, `None` if more bytes are needed.
    pub fn decode(&mut self) -> Result<Option<Received>, WsError> {
        loop {
            let start = self.msg_len;
            let raw = &self.buf[start..self.filled];
            if raw.len() < 2 {
                return self.need_more(2);
            }
            let b0 = raw[0];
            let b1 = raw[1];
            let fin = b0 & 0x80 != 0;
            if b0 & 0x70 != 0 || b1 & 0x80 != 0 {
                return Err(WsError::Protocol);
            }
            let opcode = b0 & 0x0F;
            let (header, len) = match b1 & 0x7F {
                126 => {
                    if raw.len() < 4 {
                        return self.need_more(4);
                    }
                    (4, u64::from(u16::from_be_bytes([raw[2], raw[3]])))
                }
                127 => {
                    if raw.len() < 10 {
                        return self.need_more(10);
                    }
                    let mut be = [0u8; 8];
                    be.copy_from_slice(&raw[2..10]);
                    (10, u64::from_be_bytes(be))
                }
                n => (2, u64::from(n)),
            };
            let control = opcode >= 0x8;
            if control && (!fin || len > 125) {
                return Err(WsError::Protocol);
            }
            let limit = self.limit();
            let room = self.buf.len() - start - header;
            if len > room as u64 {
                return Err(WsError::TooLarge { limit });
            }
            let len = len as usize;
            let end = start + header + len;
            if self.filled < end {
                return Ok(None);
            }
            match opcode {
                OP_PING | OP_PONG | OP_CLOSE => {
                    let payload = &self.buf[start + header..end];
                    let received = match opcode {
                        OP_PING => Received::Ping(Control::new(payload)),
                        OP_PONG => Received::Pong,
                        _ => Received::Close(
                            (payload.len() >= 2)
                                .then(|| u16::from_be_bytes([payload[0], payload[1]])),
                        ),
                    };
                    self.buf.copy_within(end..self.filled, start);
                    self.filled -= header + len;
                    return Ok(Some(received));
                }
                0x0 | OP_TEXT | OP_BINARY => {
                    match (opcode, self.msg_kind) {
                        (0x0, None) => return Err(WsError::Protocol),
                        (0x0, Some(_)) => {}
                        (_, Some(_)) => return Err(WsError::Protocol),
                        (kind, None) => self.msg_kind = Some(kind),
                    }
                    // Drop the header: the payload joins the message, the rest follows it.
                    self.buf.copy_within(start + header..self.filled, start);
                    self.filled -= header;
                    self.msg_len += len;
                    if fin {
                        return self.take_message().map(Some);
                    }
                }
                _ => return Err(WsError::Protocol),
            }
        }
    }

    /// `Ok(None)` if `header` more bytes fit after the message, else the message is too large.
    fn need_more(&self, header: usize) -> Result<Option<Received>, WsError> {
        if self.msg_len + header > self.buf.len() {
            return Err(WsError::TooLarge {
                limit: self.limit(),
            });
        }
        Ok(None)
    }

    /// Copies the reassembled message out and removes it from the buffer.
    fn take_message(&mut self) -> Result<Received, WsError> {
        let kind = self.msg_kind.take();
        let len = self.msg_len;
        let message = &self.buf[..len];
        let frame = if kind == Some(OP_TEXT) {
            let text = core::str::from_utf8(message).map_err(|_| WsError::InvalidUtf8)?;
            Frame::Text(String::from(text).into())
        } else {
            Frame::Binary(Bytes::copy_from_slice(message))
        };
        self.buf.copy_within(len..self.filled, 0);
        self.filled -= len;
        self.msg_len = 0;
        Ok(Received::Message(frame))
    }
}

/// Writes the header of a final, masked client frame into `out`; returns its length.
///
/// ```
/// let mut header = [0u8; socketio_embedded::ws::MAX_HEADER];
/// let n = socketio_embedded::ws::encode_header(&mut header, socketio_embedded::ws::OP_TEXT, 2, [1, 2, 3, 4]);
/// assert_eq!(&header[..n], &[0x81, 0x82, 1, 2, 3, 4]);
/// ```
pub fn encode_header(
    out: &mut [u8; MAX_HEADER],
    opcode: u8,
    len: usize,
    mask_key: [u8; 4],
) -> usize {
    out[0] = 0x80 | (opcode & 0x0F);
    let mut n = 2;
    if len < 126 {
        out[1] = 0x80 | len as u8;
    } else if let Ok(short) = u16::try_from(len) {
        out[1] = 0x80 | 126;
        out[2..4].copy_from_slice(&short.to_be_bytes());
        n = 4;
    } else {
        out[1] = 0x80 | 127;
        out[2..10].copy_from_slice(&(len as u64).to_be_bytes());
        n = 10;
    }
    out[n..n + 4].copy_from_slice(&mask_key);
    n + 4
}

/// Masks (or unmasks) `data` in place with `key`, `offset` bytes into the payload.
///
/// ```
/// let mut data = *b"abc";
/// socketio_embedded::ws::mask(&mut data, [1, 2, 3, 4], 0);
/// socketio_embedded::ws::mask(&mut data, [1, 2, 3, 4], 0);
/// assert_eq!(&data, b"abc");
/// ```
pub fn mask(data: &mut [u8], key: [u8; 4], offset: usize) {
    for (i, byte) in data.iter_mut().enumerate() {
        *byte ^= key[(offset + i) % 4];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed<'a>(reader: &mut FrameReader<'a>, bytes: &[u8]) {
        let space = reader.space();
        space[..bytes.len()].copy_from_slice(bytes);
        reader.advance(bytes.len());
    }

    #[test]
    fn fragments_are_reassembled_around_a_ping() {
        let mut buf = [0u8; 64];
        let mut reader = FrameReader::new(&mut buf);
        feed(&mut reader, &[0x01, 0x02, b'4', b'a']); // text, not final
        feed(&mut reader, &[0x89, 0x01, b'p']); // ping in between
        feed(&mut reader, &[0x80, 0x01, b'b']); // final continuation
        match reader.decode() {
            Ok(Some(Received::Ping(c))) => assert_eq!(c.as_bytes(), b"p"),
            other => panic!("{other:?}"),
        }
        assert_eq!(
            reader.decode(),
            Ok(Some(Received::Message(Frame::Text("4ab".into()))))
        );
        assert_eq!(reader.buffered(), 0);
    }

    #[test]
    fn a_message_over_the_buffer_is_too_large() {
        let mut buf = [0u8; 16];
        let mut reader = FrameReader::new(&mut buf);
        feed(&mut reader, &[0x82, 126, 0x01, 0x00]);
        assert_eq!(reader.decode(), Err(WsError::TooLarge { limit: 6 }));
    }

    #[test]
    fn masked_server_frames_and_stray_continuations_are_refused() {
        let mut buf = [0u8; 16];
        let mut reader = FrameReader::new(&mut buf);
        feed(&mut reader, &[0x81, 0x81, 0, 0, 0, 0, b'x']);
        assert_eq!(reader.decode(), Err(WsError::Protocol));
        reader.reset();
        feed(&mut reader, &[0x80, 0x00]);
        assert_eq!(reader.decode(), Err(WsError::Protocol));
    }

    #[test]
    fn extended_lengths_and_split_reads() {
        let mut buf = [0u8; 400];
        let mut reader = FrameReader::new(&mut buf);
        let mut wire = alloc::vec![0x82, 126, 0x01, 0x2C];
        wire.extend(core::iter::repeat_n(7u8, 300));
        for chunk in wire.chunks(7) {
            feed(&mut reader, chunk);
            if reader.buffered() < wire.len() {
                assert_eq!(reader.decode(), Ok(None));
            }
        }
        match reader.decode() {
            Ok(Some(Received::Message(Frame::Binary(b)))) => assert_eq!(b.len(), 300),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn header_lengths() {
        let mut out = [0u8; MAX_HEADER];
        assert_eq!(encode_header(&mut out, OP_BINARY, 300, [0; 4]), 8);
        assert_eq!(&out[..4], &[0x82, 0xFE, 0x01, 0x2C]);
        assert_eq!(encode_header(&mut out, OP_BINARY, 70_000, [0; 4]), 14);
        assert_eq!(out[1], 0xFF);
    }
}
