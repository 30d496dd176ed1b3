//! The server-wide observers (`socketio::hooks`): new sockets on every namespace (dynamic ones
//! included) before their connect handler, room changes (joins, leaves, `sockets_join`, the
//! leave-all of a disconnect), transport events, and a socket's incoming and outgoing events;
//! the listeners call the API back (they run outside every lock).
mod common;

use std::sync::{Arc, Mutex};

use common::*;
use socketio::hooks::{RoomChange, TransportEvent};
use socketio::{AckSender, Server, Socket, TransportKind};

type Log = Arc<Mutex<Vec<String>>>;

fn note(log: &Log, line: String) {
    log.lock().unwrap().push(line);
}

async fn until(log: &Log, line: &str) {
    for _ in 0..500 {
        if log.lock().unwrap().iter().any(|l| l == line) {
            return;
        }
        sleep(5).await;
    }
    panic!("no {line:?} in {:?}", log.lock().unwrap());
}

#[test]
fn observers_see_sockets_rooms_transports_and_events() {
    let (io, rt) = build(Server::builder());
    let log: Log = Arc::default();
    io.ns("/", |socket: Socket| async move {
        // The observer ran before this handler.
        socket.emit("seen-first", &socket.data::<bool>()).ok();
        socket.on(
            "join",
            |socket: Socket, room: String, _: Option<AckSender>| async move {
                socket.join(room);
            },
        );
        socket.on(
            "leave",
            |socket: Socket, room: String, _: Option<AckSender>| async move {
                socket.leave(&room);
            },
        );
        socket.on(
            "echo",
            |socket: Socket, text: String, _: Option<AckSender>| async move {
                socket.emit("echo", &text).ok();
            },
        );
    });
    io.dynamic_ns(
        |name: &str| name.starts_with("/dyn-"),
        |_socket: Socket| async {},
    );

    let l = log.clone();
    io.on_socket_connected(move |socket| {
        note(
            &l,
            format!(
                "connected {} rooms {:?} {:?}",
                socket.ns(),
                socket.rooms().len(),
                socket.transport()
            ),
        );
        // Calls the API back: no lock is held.
        socket.set_data(&true).unwrap();
        let l2 = l.clone();
        socket.on_any_incoming(move |socket, event, args| {
            note(&l2, format!("in {} {event} {}", socket.ns(), args.len()));
        });
        let l3 = l.clone();
        socket.on_any_outgoing(move |socket, event, args| {
            note(&l3, format!("out {} {event} {args:?}", socket.ns()));
            let _ = socket.rooms();
        });
        assert_eq!(socket.client_id().len(), 20);
    });
    let l = log.clone();
    let weak = io.downgrade();
    io.on_room_change(move |change: &RoomChange| {
        let own = change.room == change.sid;
        let room = if own { "<own>" } else { change.room.as_str() };
        note(
            &l,
            format!(
                "{} {} {room}",
                if change.joined { "joined" } else { "left" },
                change.nsp
            ),
        );
        if let Some(io) = weak.upgrade() {
            io.of(change.nsp.clone()).emit("room-change", &()).ok();
        }
    });
    let l = log.clone();
    io.on_transport_event(move |event: &TransportEvent| {
        let line = match event {
            TransportEvent::Opened { transport, .. } => format!("opened {transport:?}"),
            TransportEvent::Upgraded { .. } => "upgraded".to_owned(),
            TransportEvent::Closed { reason, .. } => format!("closed {reason}"),
            _ => "other".to_owned(),
        };
        note(&l, line);
    });

    block_on(async {
        let (mut c, reply) = connect(&io, &rt, "/", "").await;
        assert!(reply.starts_with("40{"), "{reply}");
        until(&log, "opened WebSocket").await;
        until(&log, "joined / <own>").await;
        until(
            &log,
            &format!("connected / rooms 1 {:?}", TransportKind::WebSocket),
        )
        .await;
        c.expect_prefix(r#"42["seen-first",true]"#).await;
        until(&log, "out / seen-first [Bool(true)]").await;

        c.send(r#"42["echo","hi"]"#);
        until(&log, "in / echo 1").await;
        until(&log, r#"out / echo [String("hi")]"#).await;
        c.send(r#"42["join","red"]"#);
        until(&log, "joined / red").await;
        // Joining again is no change.
        c.send(r#"42["join","red"]"#);
        c.send(r#"42["leave","red"]"#);
        until(&log, "left / red").await;
        io.sockets_join("all");
        until(&log, "joined / all").await;
        assert_eq!(io.clients_count(), 1);
        assert_eq!(io.polling_clients_count(), 0);
        assert_eq!(io.namespaces(), vec![("/".to_owned(), 1)]);

        c.send("40/dyn-1,");
        c.expect_prefix("40/dyn-1,").await;
        until(&log, "connected /dyn-1 rooms 1 WebSocket").await;
        let sockets: Vec<String> = io
            .client_sockets(&socket_client_id(&io).await)
            .iter()
            .map(|s| s.ns().to_owned())
            .collect();
        assert_eq!(sockets.len(), 2, "{sockets:?}");

        c.send("41");
        until(&log, "left / all").await;
        until(&log, "left / <own>").await;
        drop(c);
        until(&log, "closed transport close").await;
        let lines = log.lock().unwrap().clone();
        assert_eq!(
            lines.iter().filter(|l| *l == "joined / red").count(),
            1,
            "{lines:?}"
        );
    });
}

/// The client id of the only client.
async fn socket_client_id(io: &Server) -> String {
    let sockets = io.fetch_sockets().await.unwrap();
    sockets[0].as_local().unwrap().client_id().to_owned()
}
