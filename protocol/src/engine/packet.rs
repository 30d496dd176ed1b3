//! One Engine.IO packet and its WebSocket frame form.

use alloc::string::String;
use alloc::vec::Vec;
use base64::Engine as _;
use base64::alphabet;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};
use bytes::Bytes;

use super::{Data, DecodeError, ProtocolVersion};
use crate::Str;

/// Decodes standard-alphabet base64, padded or not (encoding always pads).
const BASE64_DECODER: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// The type of an Engine.IO packet, with its wire digit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum PacketType {
    /// `0`: the handshake.
    Open = 0,
    /// `1`: close the session.
    Close = 1,
    /// `2`: heartbeat ping (or `2probe` during an upgrade).
    Ping = 2,
    /// `3`: heartbeat pong (or `3probe`).
    Pong = 3,
    /// `4`: application data.
    Message = 4,
    /// `5`: finish a transport upgrade.
    Upgrade = 5,
    /// `6`: no operation (flushes a pending poll during an upgrade).
    Noop = 6,
}

impl PacketType {
    /// The type for a wire value `0`–`6` (the number, not the ASCII digit).
    pub const fn from_u8(value: u8) -> Option<Self> {
        Some(match value {
            0 => PacketType::Open,
            1 => PacketType::Close,
            2 => PacketType::Ping,
            3 => PacketType::Pong,
            4 => PacketType::Message,
            5 => PacketType::Upgrade,
            6 => PacketType::Noop,
            _ => return None,
        })
    }

    /// The type for an ASCII digit `'0'`–`'6'`.
    pub const fn from_digit(digit: u8) -> Option<Self> {
        match digit.checked_sub(b'0') {
            Some(value) => PacketType::from_u8(value),
            None => None,
        }
    }

    /// The ASCII digit of this type, as written in text form.
    pub const fn digit(self) -> u8 {
        b'0' + self as u8
    }
}

/// One Engine.IO packet.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Packet {
    /// `0`: the handshake; holds the raw JSON (see [`OpenPacket`](super::OpenPacket)).
    Open(Str),
    /// `1`: close the session.
    Close,
    /// `2`: a ping; the data is empty or `probe`.
    Ping(Str),
    /// `3`: a pong; the data is empty or `probe`.
    Pong(Str),
    /// `4`: a text or binary message.
    Message(Data),
    /// `5`: the upgrade is complete.
    Upgrade,
    /// `6`: no operation.
    Noop,
}

/// One WebSocket frame's content.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Frame {
    /// A text frame.
    Text(Str),
    /// A binary frame.
    Binary(Bytes),
}

impl Frame {
    /// The frame's payload size in bytes.
    pub fn len(&self) -> usize {
        match self {
            Frame::Text(text) => text.len(),
            Frame::Binary(bytes) => bytes.len(),
        }
    }

    /// Whether the payload is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Packet {
    /// The packet's type.
    pub fn packet_type(&self) -> PacketType {
        match self {
            Packet::Open(_) => PacketType::Open,
            Packet::Close => PacketType::Close,
            Packet::Ping(_) => PacketType::Ping,
            Packet::Pong(_) => PacketType::Pong,
            Packet::Message(_) => PacketType::Message,
            Packet::Upgrade => PacketType::Upgrade,
            Packet::Noop => PacketType::Noop,
        }
    }

    /// Decodes a packet in text form: a WebSocket text frame, or one record of a polling payload.
    ///
    /// The text is a type digit followed by the data (`4hello`, `2probe`, `6`). A binary message
    /// in text form is `b` + base64 in v4 and `b4` + base64 in v3. Data after the digit of a
    /// packet type that carries none (close, upgrade, noop) is ignored, as the reference does.
    pub fn decode_text(version: ProtocolVersion, text: Str) -> Result<Packet, DecodeError> {
        let first = *text.as_bytes().first().ok_or(DecodeError::EmptyPacket)?;
        if first == b'b' {
            return decode_base64_message(version, &text.as_bytes()[1..]);
        }
        let kind = PacketType::from_digit(first).ok_or(DecodeError::UnknownPacketType(first))?;
        // The first byte is ASCII, so byte 1 is a char boundary.
        let data = || text.slice(1..text.len()).ok_or(DecodeError::InvalidUtf8);
        Ok(match kind {
            PacketType::Open => Packet::Open(data()?),
            PacketType::Close => Packet::Close,
            PacketType::Ping => Packet::Ping(data()?),
            PacketType::Pong => Packet::Pong(data()?),
            PacketType::Message => Packet::Message(Data::Text(data()?)),
            PacketType::Upgrade => Packet::Upgrade,
            PacketType::Noop => Packet::Noop,
        })
    }

    /// Decodes a WebSocket binary frame.
    ///
    /// v4: the whole frame is a binary message. v3: the first byte is the packet type (`4`),
    /// the rest is the message (`[4, 1, 2, 3, 4]`).
    pub fn decode_binary(version: ProtocolVersion, bytes: Bytes) -> Result<Packet, DecodeError> {
        match version {
            ProtocolVersion::V4 => Ok(Packet::Message(Data::Binary(bytes))),
            ProtocolVersion::V3 => {
                let first = *bytes.first().ok_or(DecodeError::EmptyPacket)?;
                match PacketType::from_u8(first) {
                    Some(PacketType::Message) => {
                        Ok(Packet::Message(Data::Binary(bytes.slice(1..))))
                    }
                    Some(_) => Err(DecodeError::UnexpectedBinary(first)),
                    None => Err(DecodeError::UnknownPacketType(first)),
                }
            }
        }
    }

    /// Decodes one WebSocket frame of either kind.
    pub fn decode_frame(version: ProtocolVersion, frame: Frame) -> Result<Packet, DecodeError> {
        match frame {
            Frame::Text(text) => Packet::decode_text(version, text),
            Frame::Binary(bytes) => Packet::decode_binary(version, bytes),
        }
    }

    /// Encodes the packet as one WebSocket frame.
    ///
    /// Binary messages become binary frames (v3 prefixes the type byte `4`); everything else is
    /// a text frame. A v4 binary frame shares the message's bytes without copying.
    pub fn encode_frame(&self, version: ProtocolVersion) -> Frame {
        match self {
            Packet::Message(Data::Binary(bytes)) => match version {
                ProtocolVersion::V4 => Frame::Binary(bytes.clone()),
                ProtocolVersion::V3 => {
                    let mut out = Vec::with_capacity(bytes.len().saturating_add(1));
                    out.push(PacketType::Message as u8);
                    out.extend_from_slice(bytes);
                    Frame::Binary(Bytes::from(out))
                }
            },
            Packet::Close => Frame::Text(Str::from_static("1")),
            Packet::Upgrade => Frame::Text(Str::from_static("5")),
            Packet::Noop => Frame::Text(Str::from_static("6")),
            Packet::Ping(data) if data.is_empty() => Frame::Text(Str::from_static("2")),
            Packet::Pong(data) if data.is_empty() => Frame::Text(Str::from_static("3")),
            Packet::Ping(data) if *data == "probe" => Frame::Text(Str::from_static("2probe")),
            Packet::Pong(data) if *data == "probe" => Frame::Text(Str::from_static("3probe")),
            _ => {
                let mut out = String::with_capacity(self.text_len_hint());
                self.encode_text_into(version, &mut out);
                Frame::Text(Str::from(out))
            }
        }
    }

    /// Appends the text form of the packet (as in a polling payload record) to `out`.
    pub(crate) fn encode_text_into(&self, version: ProtocolVersion, out: &mut String) {
        let (kind, data) = match self {
            Packet::Message(Data::Binary(bytes)) => {
                out.push('b');
                if version == ProtocolVersion::V3 {
                    out.push('4');
                }
                STANDARD.encode_string(bytes, out);
                return;
            }
            Packet::Open(data) | Packet::Ping(data) | Packet::Pong(data) => {
                (self.packet_type(), data.as_str())
            }
            Packet::Message(Data::Text(text)) => (PacketType::Message, text.as_str()),
            Packet::Close | Packet::Upgrade | Packet::Noop => (self.packet_type(), ""),
        };
        out.push(char::from(kind.digit()));
        out.push_str(data);
    }

    /// The byte length of the text form (a capacity hint; saturates instead of overflowing).
    pub(crate) fn text_len_hint(&self) -> usize {
        match self {
            Packet::Message(Data::Binary(bytes)) => {
                base64::encoded_len(bytes.len(), true).map_or(0, |len| len.saturating_add(2))
            }
            Packet::Open(data) | Packet::Ping(data) | Packet::Pong(data) => {
                data.len().saturating_add(1)
            }
            Packet::Message(Data::Text(text)) => text.len().saturating_add(1),
            Packet::Close | Packet::Upgrade | Packet::Noop => 1,
        }
    }

    /// The length of the text form in UTF-16 code units (the v3 text payload length prefix).
    pub(crate) fn text_len_utf16(&self, version: ProtocolVersion) -> Option<usize> {
        match self {
            Packet::Message(Data::Binary(bytes)) => {
                let prefix = if version == ProtocolVersion::V3 { 2 } else { 1 };
                base64::encoded_len(bytes.len(), true)?.checked_add(prefix)
            }
            Packet::Open(data) | Packet::Ping(data) | Packet::Pong(data) => {
                utf16_len(data).checked_add(1)
            }
            Packet::Message(Data::Text(text)) => utf16_len(text).checked_add(1),
            Packet::Close | Packet::Upgrade | Packet::Noop => Some(1),
        }
    }
}

/// The number of UTF-16 code units of `text` (what JavaScript's `String.length` counts).
pub(crate) fn utf16_len(text: &str) -> usize {
    // Each char is 1 or 2 units and at least 1 byte, so the sum never exceeds 2 * len and
    // cannot overflow for any string that fits in memory.
    text.chars()
        .map(char::len_utf16)
        .fold(0usize, usize::saturating_add)
}

/// Decodes the part after `b` of a binary message in text form.
fn decode_base64_message(version: ProtocolVersion, rest: &[u8]) -> Result<Packet, DecodeError> {
    let encoded = match version {
        ProtocolVersion::V4 => rest,
        ProtocolVersion::V3 => {
            let (&kind, encoded) = rest.split_first().ok_or(DecodeError::EmptyPacket)?;
            match PacketType::from_digit(kind) {
                Some(PacketType::Message) => encoded,
                Some(_) => return Err(DecodeError::UnexpectedBinary(kind - b'0')),
                None => return Err(DecodeError::UnknownPacketType(kind)),
            }
        }
    };
    // Decoded base64 is never longer than its text, so this allocation is bounded by the input.
    let bytes = BASE64_DECODER
        .decode(encoded)
        .map_err(|_| DecodeError::InvalidBase64)?;
    Ok(Packet::Message(Data::Binary(Bytes::from(bytes))))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ProtocolVersion::{V3, V4};

    fn text(version: ProtocolVersion, wire: &'static str) -> Result<Packet, DecodeError> {
        Packet::decode_text(version, Str::from(wire))
    }

    #[test]
    fn decodes_every_type() {
        for version in [V3, V4] {
            assert_eq!(text(version, "0{}"), Ok(Packet::Open("{}".into())));
            assert_eq!(text(version, "1"), Ok(Packet::Close));
            assert_eq!(text(version, "2"), Ok(Packet::Ping("".into())));
            assert_eq!(text(version, "3probe"), Ok(Packet::Pong("probe".into())));
            assert_eq!(text(version, "4€"), Ok(Packet::Message("€".into())));
            assert_eq!(text(version, "5"), Ok(Packet::Upgrade));
            assert_eq!(text(version, "6"), Ok(Packet::Noop));
            assert_eq!(text(version, "6ignored"), Ok(Packet::Noop));
            assert_eq!(text(version, ""), Err(DecodeError::EmptyPacket));
            assert_eq!(
                text(version, "7"),
                Err(DecodeError::UnknownPacketType(b'7'))
            );
            assert_eq!(
                text(version, "€"),
                Err(DecodeError::UnknownPacketType(0xE2))
            );
        }
    }

    #[test]
    fn base64_in_text_form() {
        let binary = Ok(Packet::Message(Data::Binary(Bytes::from_static(&[
            1, 2, 3, 4,
        ]))));
        assert_eq!(text(V4, "bAQIDBA=="), binary);
        assert_eq!(text(V4, "bAQIDBA"), binary);
        assert_eq!(text(V3, "b4AQIDBA=="), binary);
        assert_eq!(text(V4, "b!!"), Err(DecodeError::InvalidBase64));
        assert_eq!(text(V3, "b"), Err(DecodeError::EmptyPacket));
        assert_eq!(text(V3, "b2AQ=="), Err(DecodeError::UnexpectedBinary(2)));
        assert_eq!(
            text(V3, "bxAQ=="),
            Err(DecodeError::UnknownPacketType(b'x'))
        );
    }

    #[test]
    fn binary_frames() {
        let bytes = Bytes::from_static(&[4, 1, 2, 3, 4]);
        assert_eq!(
            Packet::decode_binary(V3, bytes.clone()),
            Ok(Packet::Message(Data::Binary(Bytes::from_static(&[
                1, 2, 3, 4
            ]))))
        );
        assert_eq!(
            Packet::decode_binary(V4, bytes.clone()),
            Ok(Packet::Message(Data::Binary(bytes)))
        );
        assert_eq!(
            Packet::decode_binary(V3, Bytes::new()),
            Err(DecodeError::EmptyPacket)
        );
        assert_eq!(
            Packet::decode_binary(V3, Bytes::from_static(&[2])),
            Err(DecodeError::UnexpectedBinary(2))
        );
        assert_eq!(
            Packet::decode_binary(V3, Bytes::from_static(&[9])),
            Err(DecodeError::UnknownPacketType(9))
        );
    }

    #[test]
    fn utf16_lengths() {
        assert_eq!(utf16_len("hello"), 5);
        assert_eq!(utf16_len("€"), 1);
        assert_eq!(utf16_len("😀"), 2);
        let packet = Packet::Message(Data::Binary(Bytes::from_static(&[1, 2, 3, 4])));
        assert_eq!(packet.text_len_utf16(V3), Some(10));
        assert_eq!(packet.text_len_utf16(V4), Some(9));
    }
}
