//! Polling payloads: several packets in one HTTP body.
//!
//! - **v4**: packets in text form joined by the record separator `0x1E`; a binary message is
//!   `b` + base64. An empty body is not a valid payload (the reference reports a parse error).
//! - **v3 text**: each packet as `<length>:<packet>`, the length in UTF-16 code units
//!   (`6:4hello2:4€`); a binary message is `b4` + base64 with its own length. No packets
//!   encode as `0:`, and empty records are skipped.
//! - **v3 binary** (XHR2 clients without `b64=1`; the reference uses it only when a binary
//!   packet is present): per packet `0x00` (text) or `0x01` (binary), the length as one byte per
//!   decimal digit, `0xFF`, then the packet. Text packets are their UTF-8 bytes and the length
//!   counts those bytes; binary packets are the type byte `4` + the data.
//!
//! Decoding stops at the first invalid packet. The `iter_*` functions yield the packets before
//! it and then the error (the reference delivers those packets, then closes with
//! `parse error`); the `decode_*` functions return the error alone, and bound the number of
//! packets. Decoded packets share the body's bytes; only base64 is copied out.

use alloc::string::String;
use alloc::vec::Vec;
use bytes::Bytes;

use super::{Data, DecodeError, Packet, ProtocolVersion};
use crate::Str;

/// The record separator between packets of a v4 payload.
pub const RECORD_SEPARATOR: u8 = 0x1E;

/// Collects at most `max_packets` packets, failing on the first error.
fn collect_bounded(
    packets: impl Iterator<Item = Result<Packet, DecodeError>>,
    max_packets: usize,
) -> Result<Vec<Packet>, DecodeError> {
    let mut out = Vec::new();
    for packet in packets {
        if out.len() >= max_packets {
            return Err(DecodeError::TooManyPackets);
        }
        out.push(packet?);
    }
    Ok(out)
}

/// An iterator over the packets of a v4 payload; see [`iter_v4`].
#[derive(Debug, Clone)]
pub struct V4Packets {
    body: Str,
    /// Byte offset of the next record; `None` once finished (or after an error).
    pos: Option<usize>,
}

/// Iterates over the packets of a v4 polling body, stopping after the first error.
pub fn iter_v4(body: Str) -> V4Packets {
    V4Packets { body, pos: Some(0) }
}

impl Iterator for V4Packets {
    type Item = Result<Packet, DecodeError>;

    fn next(&mut self) -> Option<Self::Item> {
        let start = self.pos?;
        let rest = self.body.as_bytes().get(start..)?;
        let end = match rest.iter().position(|&byte| byte == RECORD_SEPARATOR) {
            Some(offset) => {
                let end = start + offset;
                self.pos = Some(end + 1);
                end
            }
            None => {
                self.pos = None;
                self.body.len()
            }
        };
        // 0x1E is ASCII, so both ends are char boundaries.
        let result = self
            .body
            .slice(start..end)
            .ok_or(DecodeError::InvalidUtf8)
            .and_then(|record| Packet::decode_text(ProtocolVersion::V4, record));
        if result.is_err() {
            self.pos = None;
        }
        Some(result)
    }
}

impl core::iter::FusedIterator for V4Packets {}

/// Decodes a v4 polling body into at most `max_packets` packets.
pub fn decode_v4(body: Str, max_packets: usize) -> Result<Vec<Packet>, DecodeError> {
    collect_bounded(iter_v4(body), max_packets)
}

/// Encodes packets as a v4 polling body.
///
/// As in the reference, a text packet containing `0x1E` cannot be told apart from two records;
/// the caller must not put that byte in messages sent over polling.
pub fn encode_v4(packets: &[Packet]) -> Str {
    let capacity = packets
        .iter()
        .map(|packet| packet.text_len_hint().saturating_add(1))
        .fold(0usize, usize::saturating_add);
    let mut out = String::with_capacity(capacity);
    for (index, packet) in packets.iter().enumerate() {
        if index > 0 {
            out.push(char::from(RECORD_SEPARATOR));
        }
        packet.encode_text_into(ProtocolVersion::V4, &mut out);
    }
    Str::from(out)
}

/// An iterator over the packets of a v3 text payload; see [`iter_v3_text`].
#[derive(Debug, Clone)]
pub struct V3TextPackets {
    body: Str,
    /// Byte offset of the next record; `None` once finished (or after an error).
    pos: Option<usize>,
}

/// Iterates over the packets of a v3 text polling body, stopping after the first error.
pub fn iter_v3_text(body: Str) -> V3TextPackets {
    V3TextPackets { body, pos: Some(0) }
}

impl V3TextPackets {
    /// Reads one record at `start`: `Ok(None)` for an empty record, else the packet text and
    /// the offset after it.
    fn record(&self, start: usize) -> Result<(Option<Str>, usize), DecodeError> {
        let bytes = self.body.as_bytes();
        let mut length: usize = 0;
        let mut pos = start;
        loop {
            match bytes.get(pos) {
                Some(b':') if pos > start => break,
                Some(&digit @ b'0'..=b'9') => {
                    length = length
                        .checked_mul(10)
                        .and_then(|length| length.checked_add(usize::from(digit - b'0')))
                        .ok_or(DecodeError::BadLength)?;
                }
                _ => return Err(DecodeError::BadLength),
            }
            pos += 1;
        }
        let data_start = pos + 1;
        if length == 0 {
            return Ok((None, data_start));
        }
        // Walk `length` UTF-16 code units; a length ending inside a surrogate pair is invalid.
        let text = self.body.get(data_start..).ok_or(DecodeError::BadLength)?;
        let mut units: usize = 0;
        let mut end = data_start;
        for ch in text.chars() {
            units += ch.len_utf16();
            end += ch.len_utf8();
            if units >= length {
                break;
            }
        }
        if units != length {
            return Err(DecodeError::BadLength);
        }
        let packet = self
            .body
            .slice(data_start..end)
            .ok_or(DecodeError::BadLength)?;
        Ok((Some(packet), end))
    }
}

impl Iterator for V3TextPackets {
    type Item = Result<Packet, DecodeError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let start = self.pos?;
            if start >= self.body.len() {
                self.pos = None;
                // The reference rejects an empty body outright.
                return (start == 0).then_some(Err(DecodeError::EmptyPacket));
            }
            let result = match self.record(start) {
                Ok((None, next)) => {
                    self.pos = Some(next);
                    continue;
                }
                Ok((Some(text), next)) => {
                    self.pos = Some(next);
                    Packet::decode_text(ProtocolVersion::V3, text)
                }
                Err(error) => Err(error),
            };
            if result.is_err() {
                self.pos = None;
            }
            return Some(result);
        }
    }
}

impl core::iter::FusedIterator for V3TextPackets {}

/// Decodes a v3 text polling body into at most `max_packets` packets.
pub fn decode_v3_text(body: Str, max_packets: usize) -> Result<Vec<Packet>, DecodeError> {
    collect_bounded(iter_v3_text(body), max_packets)
}

/// Encodes packets as a v3 text polling body (binary messages as `b4` + base64).
pub fn encode_v3_text(packets: &[Packet]) -> Str {
    if packets.is_empty() {
        return Str::from_static("0:");
    }
    let capacity = packets
        .iter()
        .map(|packet| packet.text_len_hint().saturating_add(8))
        .fold(0usize, usize::saturating_add);
    let mut out = String::with_capacity(capacity);
    let mut digits = itoa::Buffer::new();
    for packet in packets {
        // A length past usize is impossible for data held in memory; saturate rather than panic.
        let length = packet
            .text_len_utf16(ProtocolVersion::V3)
            .unwrap_or(usize::MAX);
        out.push_str(digits.format(length));
        out.push(':');
        packet.encode_text_into(ProtocolVersion::V3, &mut out);
    }
    Str::from(out)
}

/// The record kind byte of a text packet in a v3 binary payload.
const KIND_TEXT: u8 = 0x00;
/// The record kind byte of a binary packet in a v3 binary payload.
const KIND_BINARY: u8 = 0x01;
/// The byte ending the length digits in a v3 binary payload.
const LENGTH_END: u8 = 0xFF;

/// An iterator over the packets of a v3 binary payload; see [`iter_v3_binary`].
#[derive(Debug, Clone)]
pub struct V3BinaryPackets {
    body: Bytes,
    /// Byte offset of the next record; `None` once finished (or after an error).
    pos: Option<usize>,
}

/// Iterates over the packets of a v3 binary polling body, stopping after the first error.
pub fn iter_v3_binary(body: Bytes) -> V3BinaryPackets {
    V3BinaryPackets { body, pos: Some(0) }
}

impl V3BinaryPackets {
    /// Reads the record at `start`: the packet and the offset after it.
    fn record(&self, start: usize) -> Result<(Packet, usize), DecodeError> {
        let bytes = &self.body[..];
        let kind = *bytes.get(start).ok_or(DecodeError::BadLength)?;
        if kind != KIND_TEXT && kind != KIND_BINARY {
            return Err(DecodeError::BadRecordKind(kind));
        }
        let mut length: usize = 0;
        let mut pos = start + 1;
        loop {
            match bytes.get(pos) {
                Some(&LENGTH_END) if pos > start + 1 => break,
                Some(&digit @ 0..=9) => {
                    length = length
                        .checked_mul(10)
                        .and_then(|length| length.checked_add(usize::from(digit)))
                        .ok_or(DecodeError::BadLength)?;
                }
                _ => return Err(DecodeError::BadLength),
            }
            pos += 1;
        }
        let data_start = pos + 1;
        let end = data_start
            .checked_add(length)
            .filter(|&end| end <= bytes.len())
            .ok_or(DecodeError::BadLength)?;
        let data = self.body.slice(data_start..end);
        let packet = if kind == KIND_TEXT {
            let text = Str::from_utf8(data).map_err(|_| DecodeError::InvalidUtf8)?;
            Packet::decode_text(ProtocolVersion::V3, text)?
        } else {
            Packet::decode_binary(ProtocolVersion::V3, data)?
        };
        Ok((packet, end))
    }
}

impl Iterator for V3BinaryPackets {
    type Item = Result<Packet, DecodeError>;

    fn next(&mut self) -> Option<Self::Item> {
        let start = self.pos?;
        if start >= self.body.len() {
            self.pos = None;
            return None;
        }
        Some(match self.record(start) {
            Ok((packet, next)) => {
                self.pos = Some(next);
                Ok(packet)
            }
            Err(error) => {
                self.pos = None;
                Err(error)
            }
        })
    }
}

impl core::iter::FusedIterator for V3BinaryPackets {}

/// Decodes a v3 binary polling body into at most `max_packets` packets.
pub fn decode_v3_binary(body: Bytes, max_packets: usize) -> Result<Vec<Packet>, DecodeError> {
    collect_bounded(iter_v3_binary(body), max_packets)
}

/// Encodes packets as a v3 binary polling body.
pub fn encode_v3_binary(packets: &[Packet]) -> Bytes {
    let capacity = packets
        .iter()
        .map(|packet| packet.text_len_hint().saturating_add(8))
        .fold(0usize, usize::saturating_add);
    let mut out = Vec::with_capacity(capacity);
    let mut text = String::new();
    for packet in packets {
        let (kind, body): (u8, &[u8]) = match packet {
            Packet::Message(Data::Binary(bytes)) => (KIND_BINARY, &bytes[..]),
            _ => {
                text.clear();
                packet.encode_text_into(ProtocolVersion::V3, &mut text);
                (KIND_TEXT, text.as_bytes())
            }
        };
        let length = if kind == KIND_BINARY {
            body.len().saturating_add(1)
        } else {
            body.len()
        };
        out.push(kind);
        let mut digits = itoa::Buffer::new();
        out.extend(digits.format(length).bytes().map(|digit| digit - b'0'));
        out.push(LENGTH_END);
        if kind == KIND_BINARY {
            out.push(super::PacketType::Message as u8);
        }
        out.extend_from_slice(body);
    }
    Bytes::from(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    fn binary(bytes: &'static [u8]) -> Packet {
        Packet::Message(Data::Binary(Bytes::from_static(bytes)))
    }

    #[test]
    fn v4_stops_at_first_error() {
        let mut packets = iter_v4(Str::from("4a\u{1e}9\u{1e}4b"));
        assert_eq!(packets.next(), Some(Ok(Packet::Message("a".into()))));
        assert_eq!(
            packets.next(),
            Some(Err(DecodeError::UnknownPacketType(b'9')))
        );
        assert_eq!(packets.next(), None);
        assert_eq!(decode_v4("".into(), 10), Err(DecodeError::EmptyPacket));
        assert_eq!(
            decode_v4("4a\u{1e}".into(), 10),
            Err(DecodeError::EmptyPacket)
        );
        assert_eq!(
            decode_v4("2\u{1e}2\u{1e}2".into(), 2),
            Err(DecodeError::TooManyPackets)
        );
        assert_eq!(decode_v4("2\u{1e}2".into(), 2).map(|p| p.len()), Ok(2));
    }

    #[test]
    fn v3_text_lengths() {
        assert_eq!(decode_v3_text("0:".into(), 10), Ok(vec![]));
        assert_eq!(decode_v3_text("".into(), 10), Err(DecodeError::EmptyPacket));
        assert_eq!(decode_v3_text("1:".into(), 10), Err(DecodeError::BadLength));
        assert_eq!(decode_v3_text(":4".into(), 10), Err(DecodeError::BadLength));
        assert_eq!(
            decode_v3_text("1x:4".into(), 10),
            Err(DecodeError::BadLength)
        );
        assert_eq!(
            decode_v3_text("2:4".into(), 10),
            Err(DecodeError::BadLength)
        );
        assert_eq!(
            decode_v3_text("1:41".into(), 10),
            Err(DecodeError::BadLength)
        );
        assert_eq!(
            decode_v3_text("99999999999999999999999999:4".into(), 10),
            Err(DecodeError::BadLength)
        );
        // "4😀" is 3 UTF-16 units; 2 would split the surrogate pair.
        assert_eq!(
            decode_v3_text("3:4😀".into(), 10),
            Ok(vec![Packet::Message("😀".into())])
        );
        assert_eq!(
            decode_v3_text("2:4😀".into(), 10),
            Err(DecodeError::BadLength)
        );
        assert_eq!(
            decode_v3_text("1:20:1:3".into(), 10),
            Ok(vec![Packet::Ping("".into()), Packet::Pong("".into())])
        );
        assert_eq!(
            decode_v3_text("1:21:2".into(), 1),
            Err(DecodeError::TooManyPackets)
        );
        assert_eq!(
            decode_v3_text("10:b4AQIDBA==".into(), 1),
            Ok(vec![binary(&[1, 2, 3, 4])])
        );
    }

    #[test]
    fn v3_binary_records() {
        assert_eq!(decode_v3_binary(Bytes::new(), 10), Ok(vec![]));
        let cases: &[(&'static [u8], DecodeError)] = &[
            (&[2, 1, 255, 52], DecodeError::BadRecordKind(2)),
            (&[0, 255, 52], DecodeError::BadLength),
            (&[0, 1], DecodeError::BadLength),
            (&[0, 10, 255, 52], DecodeError::BadLength),
            (&[0, 2, 255, 52], DecodeError::BadLength),
            (&[0, 2, 255, 52, 0xFF], DecodeError::InvalidUtf8),
            (&[0, 0, 255], DecodeError::EmptyPacket),
            (&[1, 1, 255, 2], DecodeError::UnexpectedBinary(2)),
        ];
        for (body, error) in cases {
            assert_eq!(
                decode_v3_binary(Bytes::from_static(body), 10),
                Err(*error),
                "{body:?}"
            );
        }
        let mut overflow = vec![0u8];
        overflow.extend(core::iter::repeat_n(9u8, 40));
        overflow.push(255);
        assert_eq!(
            decode_v3_binary(overflow.into(), 10),
            Err(DecodeError::BadLength)
        );
        assert_eq!(
            decode_v3_binary(Bytes::from_static(&[1, 1, 255, 4]), 10),
            Ok(vec![binary(&[])])
        );
    }

    #[test]
    fn v3_binary_counts_utf8_bytes() {
        let body = encode_v3_binary(&[Packet::Message("€".into())]);
        assert_eq!(&body[..], &[0, 4, 255, b'4', 0xE2, 0x82, 0xAC]);
        assert_eq!(
            decode_v3_binary(body, 10),
            Ok(vec![Packet::Message("€".into())])
        );
    }
}
