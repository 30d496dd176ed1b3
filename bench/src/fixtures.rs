//! The benchmark inputs, built deterministically so that every implementation (ours,
//! socketioxide's, Node's) is fed byte-identical wire data and the same structured arguments.
//!
//! | case | what |
//! | --- | --- |
//! | `a` | `["chat",{"user":"alice","text":"hello"}]`: the issue's `42[...]` frame (engine `4` + socket `2`) |
//! | `b` | `["upload",{"name":"photo.jpg","parts":2},<1 KiB>,<1 KiB>]`: two binary attachments |
//! | `c` | `["update",[...]]`: one argument of ~10 KB of JSON (53 records, escapes, non-ASCII) |
//! | `d` | an Engine.IO v4 polling payload of 10 packets (8 messages, 1 pong, 1 base64 binary) |

use bytes::Bytes;
use serde::{Deserialize, Serialize};

/// Case (a): the chat message argument.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Chat {
    /// Who wrote it.
    pub user: String,
    /// What they wrote.
    pub text: String,
}

/// Case (a): the event name.
pub const CHAT_EVENT: &str = "chat";

/// Case (a): the argument.
pub fn chat() -> Chat {
    Chat {
        user: "alice".into(),
        text: "hello".into(),
    }
}

/// Case (a): the Socket.IO packet text (what follows the Engine.IO `4` of `42[...]`).
pub const CHAT_WIRE: &str = r#"2["chat",{"user":"alice","text":"hello"}]"#;

/// Case (b): the metadata argument sent before the two binary arguments.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UploadMeta {
    /// File name.
    pub name: String,
    /// Number of binary parts that follow.
    pub parts: u32,
}

/// Case (b): the event name.
pub const UPLOAD_EVENT: &str = "upload";

/// Case (b): the metadata argument.
pub fn upload_meta() -> UploadMeta {
    UploadMeta {
        name: "photo.jpg".into(),
        parts: 2,
    }
}

/// Size of each binary attachment of case (b).
pub const ATTACHMENT_LEN: usize = 1024;

/// Case (b): the two 1 KiB attachments (deterministic pseudo-random bytes).
pub fn attachments() -> [Bytes; 2] {
    let make = |seed: u32| {
        let mut state = seed;
        (0..ATTACHMENT_LEN)
            .map(|_| {
                state = state.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                (state >> 16) as u8
            })
            .collect::<Vec<u8>>()
    };
    [Bytes::from(make(1)), Bytes::from(make(2))]
}

/// Case (b): the text part of the BINARY_EVENT; the attachments follow as two binary frames.
pub const UPLOAD_WIRE: &str = r#"52-["upload",{"name":"photo.jpg","parts":2},{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#;

/// Case (c): one record of the 10 KB event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Item {
    /// Record id.
    pub id: u64,
    /// Display name.
    pub name: String,
    /// Address.
    pub email: String,
    /// Flag.
    pub active: bool,
    /// A non-integer number, exact in binary (so serde_json, `JSON.stringify` and ours print
    /// it the same way; serde_json would print a whole float as `3.0`, JavaScript as `3`).
    pub score: f64,
    /// Short strings.
    pub tags: Vec<String>,
    /// Text with a quote, a newline and non-ASCII characters (escaping and UTF-8 paths).
    pub bio: String,
}

/// Case (c): the event name.
pub const ITEMS_EVENT: &str = "update";

/// Number of records in case (c).
pub const ITEM_COUNT: u64 = 53;

/// Case (c): the records (~10 KB as JSON).
pub fn items() -> Vec<Item> {
    (0..ITEM_COUNT)
        .map(|id| Item {
            id,
            name: format!("user-{id:04}"),
            email: format!("user{id}@example.com"),
            active: id % 3 != 0,
            score: id as f64 * 1.5 + 0.375,
            tags: vec![
                "alpha".into(),
                format!("group-{}", id % 7),
                "β-tester".into(),
            ],
            bio: format!("Line one of bio #{id}, \"quoted\".\nLine two: café ☕ ok"),
        })
        .collect()
}

/// Case (c): the packet text.
pub fn items_wire() -> String {
    let args = serde_json::to_string(&items()).expect("items serialize");
    format!(r#"2["{ITEMS_EVENT}",{args}]"#)
}

/// Case (d): one Engine.IO packet of the polling payload.
#[derive(Debug, Clone, PartialEq)]
pub enum EnginePacket {
    /// `4...`: a text message (here, Socket.IO packets).
    Message(String),
    /// `3`: a pong.
    Pong,
    /// `b...`: binary data, base64 in a v4 polling payload.
    Binary(Bytes),
}

/// Case (d): the 10 packets.
pub fn engine_packets() -> Vec<EnginePacket> {
    let mut packets: Vec<EnginePacket> = (0..8)
        .map(|i| {
            EnginePacket::Message(format!(
                r#"2["chat",{{"user":"alice","text":"hello #{i}"}}]"#
            ))
        })
        .collect();
    packets.insert(4, EnginePacket::Pong);
    packets.push(EnginePacket::Binary(Bytes::from(
        (0u8..64).collect::<Vec<u8>>(),
    )));
    packets
}

/// Case (d): the v4 polling payload (packets joined by the record separator `\x1e`).
pub fn engine_payload_wire() -> String {
    use base64::Engine as _;
    let parts: Vec<String> = engine_packets()
        .iter()
        .map(|packet| match packet {
            EnginePacket::Message(text) => format!("4{text}"),
            EnginePacket::Pong => "3".into(),
            EnginePacket::Binary(data) => {
                format!(
                    "b{}",
                    base64::engine::general_purpose::STANDARD.encode(data)
                )
            }
        })
        .collect();
    parts.join("\u{1e}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        let c = items_wire();
        assert!(
            (9_500..=11_000).contains(&c.len()),
            "case (c) is {} bytes",
            c.len()
        );
        assert_eq!(engine_packets().len(), 10);
        assert_eq!(engine_payload_wire().matches('\u{1e}').count(), 9);
        assert_eq!(
            serde_json::to_string(&(CHAT_EVENT, chat())).unwrap(),
            &CHAT_WIRE[1..],
            "case (a) text matches its fixture"
        );
    }
}
