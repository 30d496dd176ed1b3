//! The error every Engine.IO decoder returns.

use core::fmt;

/// Why an Engine.IO packet, payload or handshake could not be decoded.
///
/// Any of these on a live session means the reference server's `parse error` close.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DecodeError {
    /// A packet with no bytes at all (not even a type).
    EmptyPacket,
    /// The type byte (a digit in text form, a raw byte in binary form) is not one of `0`–`6`.
    UnknownPacketType(u8),
    /// Binary data on a packet type that only carries text (only messages may be binary).
    UnexpectedBinary(u8),
    /// A `b`-prefixed packet whose base64 text is not valid standard base64.
    InvalidBase64,
    /// Text that is not valid UTF-8 (a v3 binary payload record, or a v4 body).
    InvalidUtf8,
    /// A v3 length prefix that is missing, not a number, too large, or runs past the input.
    BadLength,
    /// A v3 binary payload record that starts with neither `0x00` (text) nor `0x01` (binary).
    BadRecordKind(u8),
    /// The payload holds more packets than the caller allowed.
    TooManyPackets,
    /// The open packet's JSON is not a valid handshake; the text says what is wrong.
    BadHandshake(&'static str),
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::EmptyPacket => f.write_str("empty engine.io packet"),
            DecodeError::UnknownPacketType(byte) => {
                write!(f, "unknown engine.io packet type (byte {byte:#04x})")
            }
            DecodeError::UnexpectedBinary(kind) => {
                write!(f, "binary data on engine.io packet type {kind}")
            }
            DecodeError::InvalidBase64 => f.write_str("invalid base64 in engine.io packet"),
            DecodeError::InvalidUtf8 => f.write_str("invalid UTF-8 in engine.io packet"),
            DecodeError::BadLength => f.write_str("bad length prefix in engine.io payload"),
            DecodeError::BadRecordKind(byte) => {
                write!(f, "bad record kind {byte:#04x} in engine.io binary payload")
            }
            DecodeError::TooManyPackets => f.write_str("too many packets in engine.io payload"),
            DecodeError::BadHandshake(why) => write!(f, "bad engine.io handshake: {why}"),
        }
    }
}

impl core::error::Error for DecodeError {}
