//! Decodes Socket.IO (and Engine.IO) wire text given on the command line and prints what the
//! protocol core makes of it, then re-encodes it.
//!
//! ```sh
//! cargo run -p socketio-protocol --example wire -- '42["chat",{"text":"hi"}]' '2/admin,7["ping"]'
//! ```
//! Arguments are Socket.IO packet text (`2[...]`), or engine messages (`42[...]`, tried when the
//! first form fails). Binary attachments are not given on the command line, so a binary packet
//! is reported as waiting for them.

use socketio_protocol::engine::{Data, Packet as EnginePacket, ProtocolVersion as EngineVersion};
use socketio_protocol::socket::parser::common::{Decoder, encode};
use socketio_protocol::socket::{Limits, ProtocolVersion};

fn main() {
    let inputs: Vec<String> = std::env::args().skip(1).collect();
    let inputs = if inputs.is_empty() {
        vec![r#"42["chat",{"user":"alice","text":"hello"}]"#.to_string()]
    } else {
        inputs
    };
    for input in inputs {
        println!("input:    {input}");
        let socket_text = match EnginePacket::decode_text(EngineVersion::V4, input.clone().into()) {
            Ok(EnginePacket::Message(Data::Text(text))) => {
                println!("engine:   message (type 4)");
                text
            }
            Ok(other) => {
                println!("engine:   {other:?} (not a message: no Socket.IO packet inside)\n");
                continue;
            }
            Err(e) => {
                println!("engine:   not an engine packet ({e}); reading as socket text");
                input.clone().into()
            }
        };
        let mut decoder = Decoder::new(ProtocolVersion::V5, Limits::DEFAULT);
        match decoder.decode_text(socket_text) {
            Ok(Some(packet)) => {
                println!(
                    "socket:   {:?} nsp={} id={:?}",
                    packet.kind, packet.nsp, packet.id
                );
                if let Some(data) = &packet.data {
                    match data.to_value() {
                        Ok(value) => println!("data:     {value:?}"),
                        Err(e) => println!("data:     unreadable ({e})"),
                    }
                }
                println!("encoded:  {}", encode(&packet, ProtocolVersion::V5).text);
            }
            Ok(None) => println!("socket:   binary packet header, waiting for its attachments"),
            Err(e) => println!("socket:   rejected: {e} (the connection would close: parse error)"),
        }
        println!();
    }
}
