//! The Engine.IO server state machine driven by arbitrary input sequences.
//!
//! Input: a stream of operations, each an opcode byte followed by its arguments (ids and
//! lengths are single bytes, data is taken from the stream). Requests, bodies, aborts,
//! WebSocket upgrades, frames, closes, sends, verdicts and time jumps are all fed to one
//! server with small timeouts and a small `max_payload`. Nothing may panic, every live session
//! must have a timer, running due timers must move the next deadline forward, and the output
//! queues must stay bounded by what the inputs can produce.

#![no_main]

use core::time::Duration;
use libfuzzer_sys::fuzz_target;
use socketio_fuzz::Input;
use socketio_protocol::Instant;
use socketio_protocol::engine::Frame;
use socketio_protocol::engine::server::{
    Config, ConnectionId, Method, RequestHead, RequestId, Server, TransportId,
};

const QUERIES: &[&str] = &[
    "EIO=4&transport=polling",
    "EIO=3&transport=polling",
    "EIO=3&transport=polling&b64=1",
    "EIO=4&transport=websocket",
    "EIO=3&transport=websocket",
    "transport=polling",
    "EIO=4",
    "",
];

/// The session ids the generator hands out: `[1..=4; 15]` in base64url.
const SIDS: &[&str] = &[
    "AQEBAQEBAQEBAQEBAQEB",
    "AgICAgICAgICAgICAgIC",
    "AwMDAwMDAwMDAwMDAwMD",
    "BAQEBAQEBAQEBAQEBAQE",
];

fn query(selector: u8) -> String {
    if selector & 0x80 != 0 {
        let transport = if selector & 0x40 != 0 {
            "websocket"
        } else {
            "polling"
        };
        let eio = if selector & 0x20 != 0 { 3 } else { 4 };
        let sid = SIDS[usize::from(selector) % SIDS.len()];
        format!("EIO={eio}&transport={transport}&sid={sid}")
    } else {
        String::from(QUERIES[usize::from(selector) % QUERIES.len()])
    }
}

fn run(data: &[u8]) -> Option<()> {
    let mut input = Input(data);
    let flags = input.byte()?;
    let mut next = 0u8;
    let mut server = Server::new(
        Config {
            ping_interval: Duration::from_millis(300),
            ping_timeout: Duration::from_millis(200),
            upgrade_timeout: Duration::from_millis(500),
            polling_close_timeout: Duration::from_millis(700),
            max_payload: 64,
            max_buffered_packets: 8,
            allow_eio3: flags & 1 != 0,
            verify_handshakes: flags & 2 != 0,
            ..Config::default()
        },
        move || {
            next = next % 4 + 1;
            [next; 15]
        },
    );
    let mut now = 0u64;
    for _ in 0..256 {
        let at = Instant::from_millis(now);
        let op = input.byte()?;
        let id = u64::from(input.byte()? % 8);
        match op % 12 {
            0 => {
                let method = [Method::Get, Method::Post, Method::Options, Method::Other]
                    [usize::from(op >> 4) % 4];
                let selector = input.byte()?;
                let mut head = RequestHead::new(method, "/engine.io/", query(selector));
                if op & 0x40 != 0 {
                    head = head.with_content_type("application/octet-stream");
                }
                if op & 0x80 != 0 {
                    head = head.with_origin("http://a\u{7f}");
                }
                let _ = server.handle_request(at, RequestId(id), head);
            }
            1 => {
                let body = input.bytes(32)?.to_vec();
                let _ = server.handle_request_body(at, RequestId(id), body.into());
            }
            2 => {
                let _ = server.handle_request_aborted(at, RequestId(id));
            }
            3 => {
                let head =
                    RequestHead::new(Method::Get, "/engine.io/", query(input.byte()? | 0x40));
                let _ = server.handle_websocket(at, ConnectionId(id), head);
            }
            4 | 5 => {
                let data = input.bytes(32)?;
                let frame = if op % 12 == 5 {
                    Frame::Binary(data.to_vec().into())
                } else {
                    Frame::Text(String::from_utf8_lossy(data).into_owned().into())
                };
                let _ = server.handle_frame(at, ConnectionId(id), frame);
            }
            6 => {
                let _ = server.handle_websocket_closed(at, ConnectionId(id));
            }
            7 => {
                let _ = server.handle_websocket_error(at, ConnectionId(id));
            }
            8 => {
                let data = input.bytes(32)?.to_vec();
                let _ = server.send(SIDS[id as usize % SIDS.len()], data.into());
            }
            9 => {
                let _ = server.close(at, SIDS[id as usize % SIDS.len()]);
            }
            10 => {
                let transport = if op & 0x10 != 0 {
                    TransportId::WebSocket(ConnectionId(id))
                } else {
                    TransportId::Polling(RequestId(id))
                };
                let _ = if op & 0x20 != 0 {
                    server.accept_handshake(at, transport)
                } else {
                    server.refuse_handshake(at, transport, Some("no"))
                };
            }
            _ => {
                now += u64::from(input.byte()?) * 8;
                server.handle_timeout(Instant::from_millis(now));
            }
        }
        let mut outputs = 0usize;
        while server.poll_transmit().is_some() {
            outputs += 1;
        }
        while server.poll_event().is_some() {
            outputs += 1;
        }
        // One input touches a handful of transports: its outputs are few.
        assert!(outputs <= 64, "{outputs} outputs from one input");
        assert_eq!(server.poll_timeout().is_some(), server.session_count() > 0);
        assert!(server.session_count() <= SIDS.len());
        if let Some(due) = server
            .poll_timeout()
            .filter(|due| due.since_epoch().as_millis() <= u128::from(now))
        {
            server.handle_timeout(due);
            if let Some(next) = server.poll_timeout() {
                assert!(next > due, "timers did not progress");
            }
        }
    }
    Some(())
}

fuzz_target!(|data: &[u8]| {
    let _ = run(data);
});
