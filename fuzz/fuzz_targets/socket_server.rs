//! The Socket.IO server connection (`socket::server::ServerConnection`) fed arbitrary engine
//! messages mixed with application commands and timer runs.
//!
//! Input: byte 0 picks the setup (bit 0: Engine.IO v3/v4, bit 1: msgpack parser, bit 2: static
//! namespaces, bit 3: recovery); the rest is split on `0xFF` into records whose first byte is a
//! tag: 0 text message, 1 binary message, 2 accept, 3 refuse, 4 emit, 5 emit with ack, 6 ack,
//! 7 disconnect, 8 advance the clock, 9 engine closed, 10 close; the next byte picks the
//! namespace / id / delay. Checks: no panic, nothing comes out of a closed connection, a due
//! timer fires when asked.

#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use socketio_fuzz::records;
use socketio_protocol::engine::{CloseReason, Data, ProtocolVersion as EngineVersion};
use socketio_protocol::socket::server::{Config, NamespacePolicy, Parser, ServerConnection};
use socketio_protocol::{Instant, Str, Value};

const NSPS: [&str; 4] = ["/", "/a", "/b", "/c"];

fuzz_target!(|data: &[u8]| {
    let Some((&setup, rest)) = data.split_first() else {
        return;
    };
    let engine = if setup & 1 == 0 {
        EngineVersion::V4
    } else {
        EngineVersion::V3
    };
    let mut config = Config::default();
    if setup & 2 != 0 {
        config.parser = Parser::Msgpack;
    }
    if setup & 4 != 0 {
        config.namespaces = NamespacePolicy::only(["/a", "/b"]);
    }
    config.recovery = setup & 8 != 0;
    let mut n = 0u8;
    let mut conn =
        ServerConnection::new(Instant::ZERO, &config, Str::from("E"), engine, move || {
            n = n.wrapping_add(1);
            [n; 15]
        });
    let mut now = Instant::ZERO;
    for record in records(rest) {
        let Some((&tag, body)) = record.split_first() else {
            continue;
        };
        let arg = body.first().copied().unwrap_or(0);
        let nsp = NSPS[usize::from(arg) % NSPS.len()];
        let sid = conn.socket_of(nsp).cloned();
        let was_closed = conn.is_closed();
        match tag % 11 {
            0 => {
                let text = Str::from(String::from_utf8_lossy(body).into_owned());
                conn.handle_message(now, Data::Text(text));
            }
            1 => conn.handle_message(now, Data::Binary(Bytes::copy_from_slice(body))),
            2 => {
                let _ = conn.accept_connect(nsp);
            }
            3 => {
                let _ = conn.refuse_connect(nsp, "no", Some(Value::from(u64::from(arg))));
            }
            4 | 5 => {
                if let Some(sid) = sid {
                    let data = Value::Array(vec![
                        "x".into(),
                        Value::Binary(Bytes::copy_from_slice(body)),
                    ]);
                    let result = if tag % 11 == 4 {
                        conn.emit(&sid, data).map(|_| 0)
                    } else {
                        let deadline =
                            now + core::time::Duration::from_millis(u64::from(arg) * 100);
                        conn.emit_with_ack(&sid, data, Some(deadline))
                    };
                    assert!(result.is_ok());
                }
            }
            6 => {
                if let Some(sid) = sid {
                    let _ = conn.ack(&sid, u64::from(arg % 16), Value::Array(vec![]));
                }
            }
            7 => {
                if let Some(sid) = sid {
                    assert!(conn.disconnect(&sid).is_ok());
                }
            }
            8 => {
                now = now + core::time::Duration::from_millis(u64::from(arg) * 500);
                if conn.poll_timeout().is_some_and(|at| at <= now) {
                    conn.handle_timeout(now);
                    assert!(conn.poll_timeout().is_none_or(|at| at > now));
                }
            }
            9 => conn.handle_engine_closed(now, CloseReason::TransportError),
            _ => {
                let _ = conn.close();
            }
        }
        let mut outputs = 0;
        while conn.poll_transmit().is_some() {
            outputs += 1;
        }
        while conn.poll_event().is_some() {
            outputs += 1;
        }
        if was_closed {
            assert_eq!(outputs, 0, "output from a closed connection");
        }
        if conn.is_closed() {
            assert_eq!(conn.poll_timeout(), None);
        }
    }
});
