//! The `no_std` client (`socketio-embedded`) fed arbitrary server bytes after a correct
//! WebSocket upgrade, over up to four connections (so reconnection runs too), on a virtual
//! clock: no panic, and every `next_event` returns; only `Error::Closed` ends the client.
//!
//! Input: sessions separated by the bytes `FF FE FD`. A session whose first byte is even gets
//! a valid Engine.IO open packet in front of the rest (so the Socket.IO layer is reached
//! quickly); an odd one is played raw.

#![no_main]

use core::future::Future;
use core::pin::pin;
use core::task::{Context, Poll, Waker};
use core::time::Duration;

use libfuzzer_sys::fuzz_target;
use socketio_embedded::scripted::{ScriptedConnection, VirtualTimer, server_frame};
use socketio_embedded::{Buffers, Client, Config, Error, Event, Value};

const OPEN: &str = r#"0{"sid":"e1","upgrades":[],"pingInterval":100,"pingTimeout":50,"maxPayload":1000}"#;

/// The scripted connection and the virtual timer never wait: every future is ready at once.
fn now<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    match future.as_mut().poll(&mut cx) {
        Poll::Ready(out) => out,
        Poll::Pending => panic!("a scripted session never waits"),
    }
}

fn sessions(data: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut rest = data;
    while out.len() < 4 {
        let (session, next) = match rest.windows(3).position(|w| w == [0xFF, 0xFE, 0xFD]) {
            Some(i) => (&rest[..i], Some(&rest[i + 3..])),
            None => (rest, None),
        };
        let mut script = Vec::new();
        if session.first().is_some_and(|b| b % 2 == 0) {
            script.extend(server_frame(0x1, OPEN.as_bytes()));
            script.extend_from_slice(&session[1..]);
        } else {
            script.extend_from_slice(session);
        }
        out.push(script);
        match next {
            Some(next) => rest = next,
            None => break,
        }
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let mut rx = [0u8; 512];
    let mut tx = [0u8; 256];
    let mut config = Config::new("fuzz");
    config.reconnection_attempts = Some(3);
    config.max_buffered_packets = 4;
    let Ok(mut client) = Client::new(
        config,
        ScriptedConnection::new(sessions(data)),
        VirtualTimer::default(),
        Buffers { rx: &mut rx, tx: &mut tx },
    ) else {
        return;
    };
    let _ = now(client.emit_with_ack("q", vec![Value::from(1u64)], Duration::from_millis(500)));
    for _ in 0..10_000 {
        match now(client.next_event()) {
            Ok(Event::Event { ack: Some(id), .. }) => {
                let _ = now(client.ack(id, vec![Value::Null]));
            }
            Ok(_) => {}
            Err(Error::Closed) => return,
            Err(other) => panic!("only Closed ends the client: {other:?}"),
        }
    }
    panic!("10000 events from a finite input: the client loops");
});
