//! The JSON of the open packet (the handshake).

use alloc::string::String;
use alloc::vec::Vec;
use serde::Deserialize;

use super::{DecodeError, Packet};
use crate::Str;

/// The handshake data the server sends in the open packet.
///
/// Encodes exactly as the reference server's `JSON.stringify`:
/// `{"sid":"…","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct OpenPacket {
    /// The session id (20 characters from the reference server).
    pub sid: Str,
    /// The transports the client may upgrade to: `["websocket"]` over polling, `[]` otherwise.
    pub upgrades: Vec<Str>,
    /// Milliseconds between heartbeats.
    pub ping_interval: u64,
    /// Milliseconds to wait for the heartbeat answer.
    pub ping_timeout: u64,
    /// Largest accepted payload in bytes; `None` omits the key (older v3 servers do).
    pub max_payload: Option<u64>,
}

/// The open packet as it appears on the wire, before conversion.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawOpenPacket {
    sid: String,
    upgrades: Vec<String>,
    ping_interval: u64,
    ping_timeout: u64,
    #[serde(default)]
    max_payload: Option<u64>,
}

impl OpenPacket {
    /// Encodes the handshake JSON, keys in the reference order.
    pub fn encode(&self) -> String {
        let upgrades_len = self
            .upgrades
            .iter()
            .map(|upgrade| upgrade.len().saturating_add(3))
            .fold(0usize, usize::saturating_add);
        let mut out = String::with_capacity(
            self.sid
                .len()
                .saturating_add(upgrades_len)
                .saturating_add(100),
        );
        let mut digits = itoa::Buffer::new();
        out.push_str("{\"sid\":");
        push_json_string(&mut out, &self.sid);
        out.push_str(",\"upgrades\":[");
        for (index, upgrade) in self.upgrades.iter().enumerate() {
            if index > 0 {
                out.push(',');
            }
            push_json_string(&mut out, upgrade);
        }
        out.push_str("],\"pingInterval\":");
        out.push_str(digits.format(self.ping_interval));
        out.push_str(",\"pingTimeout\":");
        out.push_str(digits.format(self.ping_timeout));
        if let Some(max_payload) = self.max_payload {
            out.push_str(",\"maxPayload\":");
            out.push_str(digits.format(max_payload));
        }
        out.push('}');
        out
    }

    /// Decodes handshake JSON; `maxPayload` may be missing and unknown keys are ignored.
    pub fn decode(json: &str) -> Result<OpenPacket, DecodeError> {
        let raw: RawOpenPacket = serde_json::from_str(json).map_err(|error| {
            DecodeError::BadHandshake(match error.classify() {
                serde_json::error::Category::Data => "missing or mistyped field",
                _ => "not a JSON object",
            })
        })?;
        Ok(OpenPacket {
            sid: Str::from(raw.sid),
            upgrades: raw.upgrades.into_iter().map(Str::from).collect(),
            ping_interval: raw.ping_interval,
            ping_timeout: raw.ping_timeout,
            max_payload: raw.max_payload,
        })
    }

    /// The open packet carrying this handshake.
    pub fn to_packet(&self) -> Packet {
        Packet::Open(Str::from(self.encode()))
    }

    /// Decodes the handshake carried by an open packet.
    pub fn from_packet(packet: &Packet) -> Result<OpenPacket, DecodeError> {
        match packet {
            Packet::Open(json) => OpenPacket::decode(json),
            _ => Err(DecodeError::BadHandshake("not an open packet")),
        }
    }
}

/// Appends `text` as a JSON string literal, escaped as `JSON.stringify` does.
fn push_json_string(out: &mut String, text: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push('"');
    for ch in text.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{08}' => out.push_str("\\b"),
            '\u{0C}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            ch if u32::from(ch) < 0x20 => {
                let code = u32::from(ch) as usize;
                out.push_str("\\u00");
                out.push(char::from(HEX[code >> 4]));
                out.push(char::from(HEX[code & 0xF]));
            }
            ch => out.push(ch),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    #[test]
    fn escapes_like_json_stringify() {
        let mut out = String::new();
        push_json_string(&mut out, "a\"b\\c\n\u{1}\u{1f}é\u{7f}");
        assert_eq!(out, "\"a\\\"b\\\\c\\n\\u0001\\u001fé\u{7f}\"");
        let back: String = serde_json::from_str(&out).unwrap();
        assert_eq!(back, "a\"b\\c\n\u{1}\u{1f}é\u{7f}");
    }

    #[test]
    fn rejects_bad_handshakes() {
        for json in [
            "",
            "[]",
            "{",
            "{\"sid\":1,\"upgrades\":[],\"pingInterval\":1,\"pingTimeout\":1}",
            "{\"upgrades\":[],\"pingInterval\":1,\"pingTimeout\":1}",
            "{\"sid\":\"a\",\"upgrades\":[],\"pingInterval\":-1,\"pingTimeout\":1}",
            "{\"sid\":\"a\",\"upgrades\":[],\"pingInterval\":1,\"pingTimeout\":1,\"maxPayload\":\"x\"}",
        ] {
            assert!(
                matches!(OpenPacket::decode(json), Err(DecodeError::BadHandshake(_))),
                "{json}"
            );
        }
        assert!(OpenPacket::from_packet(&Packet::Close).is_err());
    }

    #[test]
    fn accepts_missing_max_payload_and_unknown_keys() {
        let open = OpenPacket::decode(
            "{\"sid\":\"abc\",\"upgrades\":[\"websocket\"],\"pingInterval\":25000,\
             \"pingTimeout\":60000,\"extra\":{\"deep\":[1,2]}}",
        )
        .unwrap();
        assert_eq!(
            open,
            OpenPacket {
                sid: "abc".into(),
                upgrades: vec!["websocket".into()],
                ping_interval: 25000,
                ping_timeout: 60000,
                max_payload: None,
            }
        );
    }
}
