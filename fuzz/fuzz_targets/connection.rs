//! The server's per-connection machine (`Connection`: an Engine.IO session and its Socket.IO
//! side) driven by arbitrary sequences of peer input and application commands.
//!
//! Input: a stream of operations, each an opcode byte and its arguments. The peer's WebSocket
//! frames (text and binary, from the stream), the end of its WebSocket, time jumps and
//! timeouts, and the application's verdicts, holds and releases, emits, acks, broadcasts and
//! closes. Nothing may panic; once closed the machine has no deadline; with no hold, nothing
//! the Socket.IO side queued stays out of the session.

#![no_main]

use libfuzzer_sys::fuzz_target;
use socketio_fuzz::Input;
use socketio_protocol::connection::{Connection, Event};
use socketio_protocol::engine::server::{
    Config, ConnectionId, Method, PreparedMessage, RequestHead, Router, UpgradeRoute,
};
use socketio_protocol::engine::{CloseReason, Data, Frame};
use socketio_protocol::socket::Payload;
use socketio_protocol::socket::server::{Config as SocketConfig, Event as SocketEvent};
use socketio_protocol::{Instant, Str, Value};

const WS: ConnectionId = ConnectionId(1);

fn drain(conn: &mut Connection, pending: &mut Vec<String>, sockets: &mut Vec<Str>) {
    while conn.poll_transmit().is_some() {}
    while let Some(event) = conn.poll_event() {
        match event {
            Event::Socket(SocketEvent::ConnectRequest { nsp, .. }) => pending.push(nsp),
            Event::Socket(SocketEvent::Connected { sid, .. }) => sockets.push(sid),
            Event::Socket(SocketEvent::Disconnected { sid, .. }) => sockets.retain(|s| *s != sid),
            _ => {}
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let mut input = Input(data);
    let version = if input.byte().unwrap_or(0) & 1 == 0 { "4" } else { "3" };
    let mut router = Router::new(Config::default(), || [1; 15]);
    let head = RequestHead::new(
        Method::Get,
        "/engine.io/",
        format!("EIO={version}&transport=websocket"),
    );
    let UpgradeRoute::Opened(session) = router.route_websocket(Instant::ZERO, WS, head, |_| None)
    else {
        return;
    };
    let Some((mut conn, _)) =
        Connection::open(Instant::ZERO, *session, &SocketConfig::default(), || [2; 15])
    else {
        panic!("a fresh session opens a connection");
    };
    let mut now = 0u64;
    let mut holds = 0u32;
    let mut pending: Vec<String> = Vec::new();
    let mut sockets: Vec<Str> = Vec::new();
    drain(&mut conn, &mut pending, &mut sockets);
    while let Some(op) = input.byte() {
        let at = Instant::from_millis(now);
        match op % 12 {
            0 | 1 => {
                let Some(bytes) = input.bytes(48) else { break };
                let text = String::from_utf8_lossy(bytes).into_owned();
                let _ = conn.handle_frame(at, WS, Frame::Text(Str::from(text)));
            }
            2 => {
                let Some(bytes) = input.bytes(48) else { break };
                let frame = Frame::Binary(bytes::Bytes::copy_from_slice(bytes));
                let _ = conn.handle_frame(at, WS, frame);
            }
            3 => {
                now += u64::from(input.byte().unwrap_or(0)) * 500;
                let at = Instant::from_millis(now);
                if conn.poll_timeout().is_some_and(|due| due <= at) {
                    conn.handle_timeout(at);
                }
            }
            4 => {
                if let Some(nsp) = pending.pop() {
                    if input.byte().unwrap_or(0) & 1 == 0 {
                        if conn.accept_connect_held(&nsp).is_ok() {
                            holds += 1;
                        }
                    } else {
                        let _ = conn.socket_mut().refuse_connect(&nsp, "no", None);
                    }
                }
            }
            5 => {
                if holds > 0 {
                    holds -= 1;
                    conn.release();
                }
            }
            6 => {
                if let Some(sid) = sockets.first().cloned() {
                    let args = Payload::Value(Value::Array(vec![Value::from("e")]));
                    let _ = conn.socket_mut().emit(&sid, args);
                }
            }
            7 => {
                let message = PreparedMessage::new(Data::Text(Str::from("2[\"b\"]")));
                if conn.direct_frame(&message).is_none() {
                    let _ = conn.send_prepared(&message);
                }
            }
            8 => {
                if let Some(sid) = sockets.first().cloned() {
                    let id = u64::from(input.byte().unwrap_or(0));
                    let _ = conn.socket_mut().ack(&sid, id, Payload::Value(Value::Array(vec![])));
                }
            }
            9 => {
                let _ = conn.handle_heartbeat_written(at, WS);
            }
            10 => conn.close(at),
            _ => {
                let _ = conn.handle_websocket_gone(at, WS, CloseReason::TransportClose);
            }
        }
        drain(&mut conn, &mut pending, &mut sockets);
        if conn.is_closed() {
            assert_eq!(conn.poll_timeout(), None, "a closed connection has no deadline");
        }
        if holds == 0 {
            assert!(!conn.is_held());
            assert!(
                !conn.socket().has_transmits(),
                "nothing stays out of the session without a hold"
            );
        }
    }
});
