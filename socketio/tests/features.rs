//! Connection state recovery, the msgpack parser and Engine.IO v3 clients at the API level.
#![allow(missing_docs)]

mod common;

use common::*;
use socketio::protocol::socket::parser::msgpack;
use socketio::protocol::socket::{Limits, Packet, PacketKind, Payload};
use socketio::{AckSender, RecoveryConfig, Server, Socket, Value};

fn field<'a>(text: &'a str, key: &str) -> &'a str {
    let start = text.find(&format!("\"{key}\":\"")).unwrap() + key.len() + 4;
    let end = start + text[start..].find('"').unwrap();
    &text[start..end]
}

#[test]
fn connection_state_recovery_restores_id_rooms_data_and_missed_events() {
    let (io, rt) = build(Server::builder().connection_state_recovery(RecoveryConfig::default()));
    io.ns("/", |socket: Socket| async move {
        if socket.recovered() {
            let name = socket.data::<String>().unwrap_or_default();
            socket.emit("back", &name).unwrap();
        } else {
            socket.join("news");
            socket.set_data(&"alice").unwrap();
            socket.emit("hello", &()).unwrap();
        }
    });
    block_on(async {
        let (mut c, reply) = connect(&io, &rt, "/", "").await;
        let (sid, pid) = (
            field(&reply, "sid").to_owned(),
            field(&reply, "pid").to_owned(),
        );
        let hello = c.text().await;
        assert!(hello.starts_with(r#"42["hello",""#), "{hello}");
        let offset = hello[12..hello.len() - 2].to_owned();
        // The transport closes abruptly; an event to "news" is missed meanwhile.
        drop(c);
        sleep(100).await;
        assert!(io.fetch_sockets().await.unwrap().is_empty());
        assert_eq!(io.to("news").emit("headline", &1).unwrap(), 0);
        let mut c = open_ws(&io, &rt, "", false);
        assert!(c.text().await.starts_with("0{"));
        c.send(&format!(r#"40{{"pid":"{pid}","offset":"{offset}"}}"#));
        let missed = c.text().await;
        assert!(missed.starts_with(r#"42["headline",1,""#), "{missed}");
        let reply = c.text().await;
        assert_eq!(field(&reply, "sid"), sid);
        assert!(c.text().await.starts_with(r#"42["back","alice","#));
        let socket = io.fetch_sockets().await.unwrap().pop().unwrap();
        let socket = socket.as_local().unwrap();
        assert!(socket.recovered());
        assert!(socket.rooms().contains(&"news".to_owned()));
    });
}

fn mp(packet: &Packet) -> tungstenite::Message {
    tungstenite::Message::binary(msgpack::encode(packet))
}

fn decode(message: Option<tungstenite::Message>) -> Packet {
    match message {
        Some(tungstenite::Message::Binary(b)) => msgpack::decode(&b, &Limits::DEFAULT).unwrap(),
        other => panic!("{other:?}"),
    }
}

#[test]
fn msgpack_parser() {
    let (io, rt) = build(Server::builder().msgpack());
    io.ns("/", |socket: Socket| async move {
        socket.on(
            "echo",
            |s: Socket, v: (String, bytes::Bytes), ack: Option<AckSender>| async move {
                s.emit("echo", &v).unwrap();
                ack.unwrap().send(&"ok").unwrap();
            },
        );
    });
    block_on(async {
        let mut c = open_ws(&io, &rt, "", false);
        assert!(c.text().await.starts_with("0{"));
        c.tx.unbounded_send(mp(&Packet::new(PacketKind::Connect, "/")))
            .unwrap();
        assert_eq!(decode(c.next().await).kind, PacketKind::Connect);
        let args = Value::Array(vec![
            "echo".into(),
            "hi".into(),
            Value::Binary(bytes::Bytes::from_static(&[1, 2])),
        ]);
        c.tx.unbounded_send(mp(
            &Packet::event("/", Payload::Value(args.clone())).with_id(3)
        ))
        .unwrap();
        let mut got = [decode(c.next().await), decode(c.next().await)];
        got.sort_by_key(|p| p.kind == PacketKind::Ack);
        assert_eq!(got[0].kind, PacketKind::Event);
        assert_eq!(got[0].data.as_ref().unwrap().to_value().unwrap(), args);
        assert_eq!(got[1].kind, PacketKind::Ack);
        assert_eq!(got[1].id, Some(3));
    });
}

#[test]
fn engine_io_v3_clients() {
    let (io, rt) = build(Server::builder().allow_eio3(true));
    io.ns("/", |socket: Socket| async move {
        socket.on(
            "echo",
            |s: Socket, v: String, _: Option<AckSender>| async move {
                s.emit("echo", &v).unwrap();
            },
        );
    });
    block_on(async {
        let mut c = open_ws(&io, &rt, "&EIO=3", false);
        let open = c.text().await;
        assert!(open.starts_with("0{"), "{open}");
        // Socket.IO v4: implicit connection to `/`.
        assert_eq!(c.text().await, "40");
        c.send(r#"42["echo","v2"]"#);
        assert_eq!(c.text().await, r#"42["echo","v2"]"#);
        c.send("2");
        assert_eq!(c.text().await, "3");
    });
}
