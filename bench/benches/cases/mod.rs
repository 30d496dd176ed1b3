//! Every benchmarked operation, each with one contender per Rust implementation, shared by
//! the `codec` (divan) and `compare` (interleaved, JSON + Markdown) benches.
//!
//! Operations (the row names of `BENCHMARKS.md`):
//! - `encode`: a packet already in memory -> wire bytes. Common parser: ours holds what
//!   `Payload::event` built (JSON text; a `Value` tree when there is binary); msgpack: a
//!   `Payload::Value` tree from `value::to_value`. socketioxide holds the `Value` its
//!   `encode_value` made from the same serde type, which is *already serialized* JSON/msgpack,
//!   so its encode is mostly a copy.
//! - `encode_typed`: serde type -> wire bytes, end to end (ours: `Payload::event` + encode for
//!   the common parser, `value::to_value` + encode for msgpack; socketioxide:
//!   `Parse::encode_value` + `Parse::encode`).
//! - `decode`: wire bytes -> packet, each library's own decode. Ours validates the JSON (the
//!   protocol closes the connection on bad JSON); socketioxide's common parser keeps the raw
//!   text and defers all JSON work to the handler, and its msgpack parser only skims the data.
//! - `decode_read`: decode, then read the event name and the arguments into typed structs
//!   (ours: `Payload::deserialize`, one pass over the validated text, or the borrowing `Value`
//!   deserializer for binary and msgpack packets; socketioxide: `Parse::read_event` +
//!   `Parse::decode_value`), which is what an event handler needs.
//! - `ours_value` / `ours_serde_json` contenders are informational (the tree paths our rows
//!   used before, and serde_json off our validated text); `BENCHMARKS.md` lists them apart.

use std::pin::pin;
use std::task::{Context, Poll, Waker};

use base64::Engine as _;
use bytes::Bytes;
use futures_util::Stream;
use serde_json::json;

use socketio_bench::fixtures::{self, Chat, EnginePacket, Item, UploadMeta};
use socketio_bench::harness::Contender;

use socketio_protocol::engine as our_engine;
use socketio_protocol::socket::parser::common as our_common;
use socketio_protocol::socket::parser::msgpack as our_msgpack;
use socketio_protocol::socket::{
    Limits, Packet as OurPacket, Payload, ProtocolVersion as OurVersion,
};
use socketio_protocol::{Str as OurStr, Value as OurValue, json as our_json, value as our_value};

use engineioxide_core::{Packet as EioPacket, PacketBuf, ProtocolVersion as EioVersion};
use socketioxide_core::Value as SxValue;
use socketioxide_core::packet::{Packet as SxPacket, PacketData};
use socketioxide_core::parser::{Parse, ParseConfig, ParseError, ParserState};
use socketioxide_parser_common::CommonParser;
use socketioxide_parser_msgpack::MsgPackParser;

/// One operation with its contenders.
pub struct Op {
    pub case: &'static str,
    pub codec: &'static str,
    pub op: &'static str,
    pub contenders: Vec<Contender<'static>>,
}

impl Op {
    pub fn id(&self, contender: &Contender<'_>) -> String {
        format!(
            "{}/{}/{}/{}",
            self.case, self.codec, self.op, contender.name
        )
    }
}

// ------------------------------------------------------------------------------------------
// The three JSON-ish cases, described once and instantiated for both parsers.
// ------------------------------------------------------------------------------------------

/// A socket event case: event name + typed arguments, and its wire forms.
pub trait EventCase: 'static {
    /// The typed arguments after the event name, as socketioxide's `encode_value` takes them
    /// (a tuple is spread into several arguments, anything else is one argument).
    type SxArgs: serde::Serialize + serde::de::DeserializeOwned + 'static;
    /// The whole event array (name first), as our `value::to_value` / `from_value` take it.
    type OurArray: serde::Serialize + serde::de::DeserializeOwned + 'static;
    /// The arguments as our `Payload::event(name, &args)` takes them (a tuple or sequence is
    /// the argument list, any other value is one argument).
    type OurArgs: serde::Serialize + 'static;
    const CASE: &'static str;
    const EVENT: &'static str;
    fn sx_args() -> Self::SxArgs;
    fn our_array() -> Self::OurArray;
    fn our_args() -> Self::OurArgs;
    /// The common parser's text message.
    fn wire_text() -> String;
    /// The common parser's binary messages.
    fn wire_attachments() -> Vec<Bytes>;
    /// A size derived from decoded typed args (keeps the work observable).
    fn sx_weight(args: &Self::SxArgs) -> usize;
    fn our_weight(array: &Self::OurArray) -> usize;
}

pub struct CaseA;
impl EventCase for CaseA {
    type SxArgs = Chat;
    type OurArray = (String, Chat);
    type OurArgs = Chat;
    const CASE: &'static str = "a";
    const EVENT: &'static str = fixtures::CHAT_EVENT;
    fn sx_args() -> Chat {
        fixtures::chat()
    }
    fn our_array() -> (String, Chat) {
        (Self::EVENT.into(), fixtures::chat())
    }
    fn our_args() -> Chat {
        fixtures::chat()
    }
    fn wire_text() -> String {
        fixtures::CHAT_WIRE.into()
    }
    fn wire_attachments() -> Vec<Bytes> {
        Vec::new()
    }
    fn sx_weight(args: &Chat) -> usize {
        args.text.len()
    }
    fn our_weight(array: &(String, Chat)) -> usize {
        array.0.len() + array.1.text.len()
    }
}

pub struct CaseB;
impl EventCase for CaseB {
    type SxArgs = (UploadMeta, Bytes, Bytes);
    type OurArray = (String, UploadMeta, Bytes, Bytes);
    type OurArgs = (UploadMeta, Bytes, Bytes);
    const CASE: &'static str = "b";
    const EVENT: &'static str = fixtures::UPLOAD_EVENT;
    fn sx_args() -> Self::SxArgs {
        let [a, b] = fixtures::attachments();
        (fixtures::upload_meta(), a, b)
    }
    fn our_array() -> Self::OurArray {
        let [a, b] = fixtures::attachments();
        (Self::EVENT.into(), fixtures::upload_meta(), a, b)
    }
    fn our_args() -> Self::OurArgs {
        Self::sx_args()
    }
    fn wire_text() -> String {
        fixtures::UPLOAD_WIRE.into()
    }
    fn wire_attachments() -> Vec<Bytes> {
        fixtures::attachments().to_vec()
    }
    fn sx_weight(args: &Self::SxArgs) -> usize {
        args.0.name.len() + args.1.len() + args.2.len()
    }
    fn our_weight(array: &Self::OurArray) -> usize {
        array.0.len() + array.1.name.len() + array.2.len() + array.3.len()
    }
}

pub struct CaseC;
impl EventCase for CaseC {
    type SxArgs = Vec<Item>;
    type OurArray = (String, Vec<Item>);
    type OurArgs = (Vec<Item>,);
    const CASE: &'static str = "c";
    const EVENT: &'static str = fixtures::ITEMS_EVENT;
    fn sx_args() -> Vec<Item> {
        fixtures::items()
    }
    fn our_array() -> (String, Vec<Item>) {
        (Self::EVENT.into(), fixtures::items())
    }
    fn our_args() -> (Vec<Item>,) {
        (fixtures::items(),)
    }
    fn wire_text() -> String {
        fixtures::items_wire()
    }
    fn wire_attachments() -> Vec<Bytes> {
        Vec::new()
    }
    fn sx_weight(args: &Vec<Item>) -> usize {
        args.len() + args.last().map_or(0, |i| i.bio.len())
    }
    fn our_weight(array: &(String, Vec<Item>)) -> usize {
        array.0.len() + array.1.len() + array.1.last().map_or(0, |i| i.bio.len())
    }
}

fn sx_encoded_len(value: SxValue) -> usize {
    match value {
        SxValue::Str(text, bins) => text.len() + bins.map_or(0, |b| b.len()),
        SxValue::Bytes(bytes) => bytes.len(),
    }
}

fn sx_data(packet: SxPacket) -> SxValue {
    match packet.inner {
        PacketData::Event(value, _) | PacketData::BinaryEvent(value, _) => value,
        other => panic!("expected an event, got {other:?}"),
    }
}

fn our_data(packet: OurPacket) -> OurValue {
    match packet.data {
        Some(Payload::Json(text)) => {
            our_json::parse(text.as_bytes(), Limits::DEFAULT.max_depth).expect("valid JSON")
        }
        Some(other) => other.to_value().expect("a value"),
        None => panic!("expected data"),
    }
}

/// Our common decoder run over one packet's messages (text, then attachments).
fn our_common_decode(
    decoder: &mut our_common::Decoder,
    text: &OurStr,
    bins: &[Bytes],
) -> OurPacket {
    let mut done = decoder.decode_text(text.clone()).expect("our decode_text");
    for bin in bins {
        done = decoder
            .decode_binary(bin.clone())
            .expect("our decode_binary");
    }
    done.expect("complete packet")
}

/// socketioxide's common decoder run over one packet's messages.
fn sx_common_decode(
    state: &ParserState,
    text: &engineioxide_core::Str,
    bins: &[Bytes],
) -> SxPacket {
    let config = ParseConfig::default();
    let mut result = CommonParser.decode_str(&config, state, text.clone());
    for bin in bins {
        assert!(matches!(result, Err(ParseError::NeedsMoreBinaryData)));
        result = CommonParser.decode_bin(&config, state, bin.clone());
    }
    result.expect("socketioxide decode")
}

fn common_ops<C: EventCase>(ops: &mut Vec<Op>) {
    let case = C::CASE;
    let text = C::wire_text();
    let bins = C::wire_attachments();

    // encode (prebuilt packet)
    // (`Str`'s `len()` goes through `Deref<Target = str>`, which checks UTF-8 again: the
    // closures count `as_bytes()`, so that they measure the encode and not that check.)
    {
        // What `Payload::event` built: JSON text (a `Value` tree only for binary).
        let our_packet = OurPacket::event(
            "/",
            Payload::event(C::EVENT, &C::our_args()).expect("Payload::event"),
        );
        let our_tree_packet =
            OurPacket::event("/", our_value::to_value(&C::our_array()).expect("to_value"));
        let sx_packet = SxPacket::event(
            "/",
            CommonParser
                .encode_value(&C::sx_args(), Some(C::EVENT))
                .unwrap(),
        );
        ops.push(Op {
            case,
            codec: "common",
            op: "encode",
            contenders: vec![
                Contender::new("ours", move || {
                    let out = our_common::encode(&our_packet, OurVersion::V5);
                    out.text.as_bytes().len() + out.attachments.len()
                }),
                Contender::new("socketioxide", move || {
                    sx_encoded_len(CommonParser.encode(sx_packet.clone()))
                }),
                // Informational: a packet holding the `Value` tree (`value::to_value`).
                Contender::new("ours_value", move || {
                    let out = our_common::encode(&our_tree_packet, OurVersion::V5);
                    out.text.as_bytes().len() + out.attachments.len()
                }),
            ],
        });
    }
    // encode from typed args
    {
        let ours = C::our_args();
        let ours_tree = C::our_array();
        let theirs = C::sx_args();
        ops.push(Op {
            case,
            codec: "common",
            op: "encode_typed",
            contenders: vec![
                // `Payload::event`: JSON text in one pass (a `Value` only with binary).
                Contender::new("ours", move || {
                    let payload = Payload::event(C::EVENT, &ours).expect("Payload::event");
                    let out = our_common::encode(&OurPacket::event("/", payload), OurVersion::V5);
                    out.text.as_bytes().len() + out.attachments.len()
                }),
                Contender::new("socketioxide", move || {
                    let value = CommonParser.encode_value(&theirs, Some(C::EVENT)).unwrap();
                    sx_encoded_len(CommonParser.encode(SxPacket::event("/", value)))
                }),
                // Informational: the tree path (`value::to_value` + encode).
                Contender::new("ours_value", move || {
                    let value = our_value::to_value(&ours_tree).expect("to_value");
                    let out = our_common::encode(&OurPacket::event("/", value), OurVersion::V5);
                    out.text.as_bytes().len() + out.attachments.len()
                }),
            ],
        });
    }
    // decode
    {
        let our_text = OurStr::from(text.clone());
        let our_bins = bins.clone();
        let mut decoder = our_common::Decoder::new(OurVersion::V5, Limits::DEFAULT);
        let sx_text = engineioxide_core::Str::from(text.clone());
        let sx_bins = bins.clone();
        let state = ParserState::default();
        ops.push(Op {
            case,
            codec: "common",
            op: "decode",
            contenders: vec![
                Contender::new("ours", move || {
                    let packet = our_common_decode(&mut decoder, &our_text, &our_bins);
                    packet.nsp.len() + usize::from(packet.data.is_some())
                }),
                Contender::new("socketioxide", move || {
                    let packet = sx_common_decode(&state, &sx_text, &sx_bins);
                    packet.ns.len() + packet.inner.index()
                }),
            ],
        });
    }
    // decode + read args
    {
        let our_text = OurStr::from(text.clone());
        let our_bins = bins.clone();
        let mut decoder = our_common::Decoder::new(OurVersion::V5, Limits::DEFAULT);
        let sx_text = engineioxide_core::Str::from(text.clone());
        let sx_bins = bins.clone();
        let state = ParserState::default();
        let mut contenders = vec![
            // `Payload::deserialize`: one pass over the validated text (name + arguments), or
            // the borrowing `Value` deserializer for a binary packet.
            Contender::new("ours", move || {
                let packet = our_common_decode(&mut decoder, &our_text, &our_bins);
                let array: C::OurArray = packet
                    .data
                    .as_ref()
                    .expect("data")
                    .deserialize()
                    .expect("Payload::deserialize");
                C::our_weight(&array)
            }),
            Contender::new("socketioxide", move || {
                let mut value = sx_data(sx_common_decode(&state, &sx_text, &sx_bins));
                let event = CommonParser.read_event(&value).unwrap().len();
                let args: C::SxArgs = CommonParser.decode_value(&mut value, true).unwrap();
                event + C::sx_weight(&args)
            }),
        ];
        {
            // Informational: the tree path (`json::parse` + `value::from_value`).
            let our_text = OurStr::from(text.clone());
            let our_bins = bins.clone();
            let mut decoder = our_common::Decoder::new(OurVersion::V5, Limits::DEFAULT);
            contenders.push(Contender::new("ours_value", move || {
                let packet = our_common_decode(&mut decoder, &our_text, &our_bins);
                let array: C::OurArray =
                    our_value::from_value(our_data(packet)).expect("from_value");
                C::our_weight(&array)
            }));
        }
        if bins.is_empty() {
            // Informational: serde_json straight from the validated `Payload::Json` text.
            let our_text = OurStr::from(text);
            let mut decoder = our_common::Decoder::new(OurVersion::V5, Limits::DEFAULT);
            contenders.push(Contender::new("ours_serde_json", move || {
                let packet = our_common_decode(&mut decoder, &our_text, &[]);
                let Some(Payload::Json(json)) = packet.data else {
                    panic!("expected Payload::Json")
                };
                let array: C::OurArray =
                    serde_json::from_slice(json.as_bytes()).expect("serde_json");
                C::our_weight(&array)
            }));
        }
        ops.push(Op {
            case,
            codec: "common",
            op: "decode_read",
            contenders,
        });
    }
}

/// The msgpack wire bytes every decoder is fed (socketioxide's encoding of the packet).
fn msgpack_wire<C: EventCase>() -> Bytes {
    let value = MsgPackParser
        .encode_value(&C::sx_args(), Some(C::EVENT))
        .unwrap();
    match MsgPackParser.encode(SxPacket::event("/", value)) {
        SxValue::Bytes(bytes) => bytes,
        SxValue::Str(..) => unreachable!("msgpack encodes to bytes"),
    }
}

fn msgpack_ops<C: EventCase>(ops: &mut Vec<Op>) {
    let case = C::CASE;
    let wire = msgpack_wire::<C>();
    {
        // What `Payload::msgpack_event` built: msgpack bytes, no tree.
        let our_packet = OurPacket::event(
            "/",
            Payload::msgpack_event(C::EVENT, &C::our_args()).expect("Payload::msgpack_event"),
        );
        let sx_packet = SxPacket::event(
            "/",
            MsgPackParser
                .encode_value(&C::sx_args(), Some(C::EVENT))
                .unwrap(),
        );
        ops.push(Op {
            case,
            codec: "msgpack",
            op: "encode",
            contenders: vec![
                Contender::new("ours", move || our_msgpack::encode(&our_packet).len()),
                Contender::new("socketioxide", move || {
                    sx_encoded_len(MsgPackParser.encode(sx_packet.clone()))
                }),
            ],
        });
    }
    {
        let ours = C::our_args();
        let theirs = C::sx_args();
        ops.push(Op {
            case,
            codec: "msgpack",
            op: "encode_typed",
            contenders: vec![
                // `Payload::msgpack_event`: msgpack in one pass, binary in place, no tree.
                Contender::new("ours", move || {
                    let payload =
                        Payload::msgpack_event(C::EVENT, &ours).expect("Payload::msgpack_event");
                    our_msgpack::encode(&OurPacket::event("/", payload)).len()
                }),
                Contender::new("socketioxide", move || {
                    let value = MsgPackParser.encode_value(&theirs, Some(C::EVENT)).unwrap();
                    sx_encoded_len(MsgPackParser.encode(SxPacket::event("/", value)))
                }),
            ],
        });
    }
    {
        let ours = wire.clone();
        let theirs = wire.clone();
        ops.push(Op {
            case,
            codec: "msgpack",
            op: "decode",
            contenders: vec![
                Contender::new("ours", move || {
                    let packet = our_msgpack::decode(&ours, &Limits::DEFAULT).expect("our decode");
                    packet.nsp.len() + usize::from(packet.data.is_some())
                }),
                Contender::new("socketioxide", move || {
                    let packet = MsgPackParser
                        .decode_bin(
                            &ParseConfig::default(),
                            &ParserState::default(),
                            theirs.clone(),
                        )
                        .unwrap();
                    packet.ns.len() + packet.inner.index()
                }),
            ],
        });
    }
    {
        let ours = wire.clone();
        let theirs = wire;
        ops.push(Op {
            case,
            codec: "msgpack",
            op: "decode_read",
            contenders: vec![
                Contender::new("ours", move || {
                    let packet = our_msgpack::decode(&ours, &Limits::DEFAULT).expect("our decode");
                    let array: C::OurArray = packet
                        .data
                        .as_ref()
                        .expect("data")
                        .deserialize()
                        .expect("Payload::deserialize");
                    C::our_weight(&array)
                }),
                Contender::new("socketioxide", move || {
                    let packet = MsgPackParser
                        .decode_bin(
                            &ParseConfig::default(),
                            &ParserState::default(),
                            theirs.clone(),
                        )
                        .unwrap();
                    let mut value = sx_data(packet);
                    let event = MsgPackParser.read_event(&value).unwrap().len();
                    let args: C::SxArgs = MsgPackParser.decode_value(&mut value, true).unwrap();
                    event + C::sx_weight(&args)
                }),
            ],
        });
    }
}

// ------------------------------------------------------------------------------------------
// Case (d): the Engine.IO v4 polling payload.
// ------------------------------------------------------------------------------------------

fn our_engine_packets() -> Vec<our_engine::Packet> {
    fixtures::engine_packets()
        .into_iter()
        .map(|p| match p {
            EnginePacket::Message(text) => our_engine::Packet::Message(text.into()),
            EnginePacket::Pong => our_engine::Packet::Pong(OurStr::default()),
            EnginePacket::Binary(bytes) => our_engine::Packet::Message(bytes.into()),
        })
        .collect()
}

fn eio_packets() -> Vec<EioPacket> {
    fixtures::engine_packets()
        .into_iter()
        .map(|p| match p {
            EnginePacket::Message(text) => EioPacket::Message(text.into()),
            EnginePacket::Pong => EioPacket::Pong,
            EnginePacket::Binary(bytes) => EioPacket::Binary(bytes),
        })
        .collect()
}

/// Polls a future that never waits (every input is in memory) to completion.
fn ready<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
            return out;
        }
    }
}

/// engineioxide's async payload encoder, fed one `PacketBuf` per packet as a socket sends them.
/// Its encoder consumes the packets, so they are cloned (refcount bumps) on every call.
pub fn eio_encode(packets: &[EioPacket]) -> Bytes {
    let stream =
        futures_util::stream::iter(packets.iter().map(|p| PacketBuf::from_iter([p.clone()])));
    ready(engineioxide_core::payload::encoder(
        stream,
        EioVersion::V4,
        false,
        u64::MAX,
    ))
    .data
}

/// engineioxide's async payload decoder over an in-memory body.
pub fn eio_decode(body: Bytes) -> Vec<EioPacket> {
    let body = http_body_util::Full::new(body);
    let mut stream = pin!(engineioxide_core::payload::decoder(
        body,
        None,
        EioVersion::V4,
        u64::MAX
    ));
    let mut cx = Context::from_waker(Waker::noop());
    let mut out = Vec::with_capacity(10);
    loop {
        match stream.as_mut().poll_next(&mut cx) {
            Poll::Ready(Some(packet)) => out.push(packet.expect("engineioxide decode")),
            Poll::Ready(None) => return out,
            Poll::Pending => {}
        }
    }
}

fn engine_ops(ops: &mut Vec<Op>) {
    let ours = our_engine_packets();
    let theirs = eio_packets();
    ops.push(Op {
        case: "d",
        codec: "engine",
        op: "encode",
        contenders: vec![
            Contender::new("ours", move || our_engine::payload::encode_v4(&ours).len()),
            Contender::new("socketioxide", move || eio_encode(&theirs).len()),
        ],
    });
    let wire = fixtures::engine_payload_wire();
    let ours = OurStr::from(wire.clone());
    let theirs = Bytes::from(wire);
    ops.push(Op {
        case: "d",
        codec: "engine",
        op: "decode",
        contenders: vec![
            Contender::new("ours", move || {
                our_engine::payload::decode_v4(ours.clone(), 64)
                    .expect("our decode_v4")
                    .len()
            }),
            Contender::new("socketioxide", move || eio_decode(theirs.clone()).len()),
        ],
    });
}

/// Every operation, in report order.
pub fn all() -> Vec<Op> {
    let mut ops = Vec::new();
    common_ops::<CaseA>(&mut ops);
    msgpack_ops::<CaseA>(&mut ops);
    common_ops::<CaseB>(&mut ops);
    msgpack_ops::<CaseB>(&mut ops);
    common_ops::<CaseC>(&mut ops);
    msgpack_ops::<CaseC>(&mut ops);
    engine_ops(&mut ops);
    ops
}

/// `case/codec/op/impl` of every contender.
pub fn ids() -> Vec<String> {
    all()
        .iter()
        .flat_map(|op| op.contenders.iter().map(|c| op.id(c)).collect::<Vec<_>>())
        .collect()
}

/// The contender with this id.
pub fn take(id: &str) -> Contender<'static> {
    all()
        .into_iter()
        .flat_map(|op| {
            let ids: Vec<String> = op.contenders.iter().map(|c| op.id(c)).collect();
            ids.into_iter().zip(op.contenders)
        })
        .find_map(|(cid, c)| (cid == id).then_some(c))
        .unwrap_or_else(|| panic!("no benchmark {id}"))
}

// ------------------------------------------------------------------------------------------
// Cross-checks: every implementation must do the same work on the same bytes.
// ------------------------------------------------------------------------------------------

fn check_event_case<C: EventCase>(problems: &mut Vec<String>) {
    let case = C::CASE;
    let text = C::wire_text();
    let bins = C::wire_attachments();
    // Our encoder writes the reference text and attachments.
    let value = our_value::to_value(&C::our_array()).expect("to_value");
    let ours = our_common::encode(&OurPacket::event("/", value.clone()), OurVersion::V5);
    if ours.text.as_str() != text || ours.attachments != bins {
        problems.push(format!(
            "({case}) our common encode differs from the fixture: {}",
            first_diff(&ours.text, &text)
        ));
    }
    // So does the one-pass path (`Payload::event`), and it reads back the same arguments.
    let payload = Payload::event(C::EVENT, &C::our_args()).expect("Payload::event");
    let fast = our_common::encode(&OurPacket::event("/", payload.clone()), OurVersion::V5);
    if fast.text.as_str() != text || fast.attachments != bins {
        problems.push(format!(
            "({case}) our Payload::event encode differs from the fixture: {}",
            first_diff(&fast.text, &text)
        ));
    }
    match payload.deserialize::<C::OurArray>() {
        Ok(array) if our_value::to_value(&array).ok() == Some(value.clone()) => {}
        _ => problems.push(format!("({case}) our Payload::deserialize differs")),
    }
    // socketioxide's too.
    match CommonParser.encode(SxPacket::event(
        "/",
        CommonParser
            .encode_value(&C::sx_args(), Some(C::EVENT))
            .unwrap(),
    )) {
        SxValue::Str(t, b)
            if t.as_str() == text && b.iter().flatten().cloned().collect::<Vec<_>>() == bins => {}
        other => problems.push(format!(
            "({case}) socketioxide common encode differs: {other:?}"
        )),
    }
    // Both decoders agree with the typed value.
    let mut decoder = our_common::Decoder::new(OurVersion::V5, Limits::DEFAULT);
    let decoded = our_data(our_common_decode(
        &mut decoder,
        &OurStr::from(text.clone()),
        &bins,
    ));
    if decoded != value {
        problems.push(format!("({case}) our common decode differs from to_value"));
    }
    let state = ParserState::default();
    let mut sx = sx_data(sx_common_decode(
        &state,
        &engineioxide_core::Str::from(text),
        &bins,
    ));
    let args: C::SxArgs = CommonParser.decode_value(&mut sx, true).unwrap();
    if serde_json::to_value(&args).ok() != serde_json::to_value(C::sx_args()).ok() {
        problems.push(format!("({case}) socketioxide common decode_value differs"));
    }
    // msgpack: each decoder reads the other's encoding.
    let sx_wire = msgpack_wire::<C>();
    let our_wire = our_msgpack::encode(&OurPacket::event("/", value.clone()));
    let typed = Payload::msgpack_event(C::EVENT, &C::our_args()).expect("msgpack_event");
    if our_msgpack::encode(&OurPacket::event("/", typed)) != our_wire {
        problems.push(format!(
            "({case}) Payload::msgpack_event differs from the tree's encoding"
        ));
    }
    match our_msgpack::decode(&sx_wire, &Limits::DEFAULT) {
        Ok(packet) if our_data(packet.clone()) == value => {}
        other => problems.push(format!(
            "({case}) our msgpack decode of socketioxide's bytes: {other:?}"
        )),
    }
    match MsgPackParser.decode_bin(&ParseConfig::default(), &ParserState::default(), our_wire) {
        Ok(packet) => {
            let mut v = sx_data(packet);
            let args: Result<C::SxArgs, _> = MsgPackParser.decode_value(&mut v, true);
            if args.map(|a| serde_json::to_value(&a).ok()).ok().flatten()
                != serde_json::to_value(C::sx_args()).ok()
            {
                problems.push(format!(
                    "({case}) socketioxide msgpack reads our bytes differently"
                ));
            }
        }
        Err(e) => problems.push(format!(
            "({case}) socketioxide msgpack rejects our bytes: {e}"
        )),
    }
}

/// Where two texts first differ, with a little context.
fn first_diff(ours: &str, expected: &str) -> String {
    let at = ours
        .bytes()
        .zip(expected.bytes())
        .take_while(|(a, b)| a == b)
        .count();
    let from = at.saturating_sub(20);
    let clip = |s: &str| {
        s.get(from..(at + 20).min(s.len()))
            .unwrap_or("<non-char-boundary>")
            .to_owned()
    };
    format!(
        "at byte {at}: ours {:?} vs expected {:?}",
        clip(ours),
        clip(expected)
    )
}

/// Runs the cross-checks; returns what did not match.
pub fn check() -> Vec<String> {
    let mut problems = Vec::new();
    check_event_case::<CaseA>(&mut problems);
    check_event_case::<CaseB>(&mut problems);
    check_event_case::<CaseC>(&mut problems);
    let wire = fixtures::engine_payload_wire();
    let ours = our_engine::payload::encode_v4(&our_engine_packets());
    if ours.as_str() != wire {
        problems.push(format!("(d) our encode_v4 differs: {ours:?}"));
    }
    let theirs = eio_encode(&eio_packets());
    if theirs != wire.as_bytes() {
        problems.push(format!("(d) engineioxide encoder differs: {theirs:?}"));
    }
    match our_engine::payload::decode_v4(OurStr::from(wire.clone()), 64) {
        Ok(packets) if packets == our_engine_packets() => {}
        other => problems.push(format!("(d) our decode_v4: {other:?}")),
    }
    if eio_decode(Bytes::from(wire)) != eio_packets() {
        problems.push("(d) engineioxide decoder differs".into());
    }
    problems
}

// ------------------------------------------------------------------------------------------
// The inputs, as JSON for the Node script (binary as base64).
// ------------------------------------------------------------------------------------------

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn node_event_case<C: EventCase>() -> serde_json::Value {
    // The script rebuilds the event array from `text` (placeholders -> attachments), which keeps
    // the key order (serde_json::Value would sort it).
    json!({
        "text": C::wire_text(),
        "attachments": C::wire_attachments().iter().map(|b| b64(b)).collect::<Vec<_>>(),
        "msgpack": b64(&msgpack_wire::<C>()),
    })
}

/// The inputs of every case for `bench/node/codec-bench.js`.
pub fn node_fixtures() -> serde_json::Value {
    let packets: Vec<serde_json::Value> = fixtures::engine_packets()
        .iter()
        .map(|p| match p {
            EnginePacket::Message(text) => json!({ "type": "message", "data": text }),
            EnginePacket::Pong => json!({ "type": "pong" }),
            EnginePacket::Binary(bytes) => json!({ "type": "message", "binary": b64(bytes) }),
        })
        .collect();
    json!({
        "a": node_event_case::<CaseA>(),
        "b": node_event_case::<CaseB>(),
        "c": node_event_case::<CaseC>(),
        "d": { "packets": packets, "payload": fixtures::engine_payload_wire() },
    })
}
