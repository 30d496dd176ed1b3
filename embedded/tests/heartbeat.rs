//! Heartbeats over ten minutes of virtual time, with the server's default intervals
//! (`pingInterval` 25 s, `pingTimeout` 20 s): the client answers each of 24 pings at once, and
//! when the server falls silent it closes with `ping timeout` exactly `pingInterval +
//! pingTimeout` after the last ping, then reconnects after the core's backoff.
//!
//! The server is a timed script sharing a virtual clock with the timer: its frames become
//! readable at their instants, and a sleep never jumps past the next one.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;
use std::time::Duration;

use futures_executor::block_on;
use socketio_embedded::scripted::server_frame;
use socketio_embedded::{Buffers, Client, Config, Connection, Event, Instant, Timer, handshake};
use socketio_protocol::socket::DisconnectReason;

const INTERVAL: u64 = 25_000;
const TIMEOUT: u64 = 20_000;
const PINGS: u64 = 24;

#[derive(Default)]
struct World {
    now: Instant,
    connected: bool,
    sessions: u32,
    /// Frames of the current connection, each readable from its instant.
    schedule: VecDeque<(Instant, Vec<u8>)>,
    readable: VecDeque<u8>,
    request: Vec<u8>,
    upgraded: bool,
    /// Raw client bytes after the upgrade.
    written: Vec<u8>,
    /// When each client text message was written, with its payload.
    messages: Vec<(Instant, String)>,
}

impl World {
    /// Moves the frames that are due to the readable bytes.
    fn release(&mut self) {
        while self.schedule.front().is_some_and(|(at, _)| *at <= self.now) {
            let (_, frame) = self.schedule.pop_front().unwrap();
            self.readable.extend(frame);
        }
    }

    /// Decodes the client's (masked, small) frames written so far.
    fn decode_written(&mut self) {
        loop {
            let w = &self.written;
            if w.len() < 2 {
                return;
            }
            let len = usize::from(w[1] & 0x7F);
            assert!(len < 126, "the test's messages are small");
            if w.len() < 6 + len {
                return;
            }
            let key = [w[2], w[3], w[4], w[5]];
            let payload: Vec<u8> = w[6..6 + len]
                .iter()
                .enumerate()
                .map(|(i, b)| b ^ key[i % 4])
                .collect();
            if w[0] & 0x0F == 0x1 {
                let text = String::from_utf8(payload).unwrap();
                self.messages.push((self.now, text));
            }
            self.written.drain(..6 + len);
        }
    }
}

#[derive(Clone, Default)]
struct Shared(Rc<RefCell<World>>);

struct TimedConnection(Shared);

impl embedded_io_async::ErrorType for TimedConnection {
    type Error = std::io::Error;
}

impl embedded_io_async::Read for TimedConnection {
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, std::io::Error> {
        std::future::poll_fn(|_| {
            let mut world = self.0.0.borrow_mut();
            world.release();
            if world.readable.is_empty() {
                // Nothing due: the timer (polled next) moves the clock on.
                return std::task::Poll::Pending;
            }
            let n = buf.len().min(world.readable.len());
            for (slot, byte) in buf.iter_mut().zip(world.readable.drain(..n)) {
                *slot = byte;
            }
            std::task::Poll::Ready(Ok(n))
        })
        .await
    }
}

impl embedded_io_async::Write for TimedConnection {
    async fn write(&mut self, buf: &[u8]) -> Result<usize, std::io::Error> {
        let mut world = self.0.0.borrow_mut();
        if world.upgraded {
            world.written.extend_from_slice(buf);
            world.decode_written();
            return Ok(buf.len());
        }
        world.request.extend_from_slice(buf);
        let head = String::from_utf8_lossy(&world.request).into_owned();
        if head.ends_with("\r\n\r\n") {
            world.upgraded = true;
            let key = head
                .split("\r\n")
                .find_map(|l| l.strip_prefix("Sec-WebSocket-Key: "))
                .unwrap()
                .to_string();
            let accept = handshake::accept_key(&key);
            let mut response = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ".to_vec();
            response.extend_from_slice(&accept);
            response.extend_from_slice(b"\r\n\r\n");
            let now = world.now;
            world.readable.extend(response);
            let open = format!(
                r#"0{{"sid":"e{}","upgrades":[],"pingInterval":{INTERVAL},"pingTimeout":{TIMEOUT},"maxPayload":1000000}}"#,
                world.sessions
            );
            world
                .schedule
                .push_back((now, server_frame(0x1, open.as_bytes())));
            world
                .schedule
                .push_back((now, server_frame(0x1, br#"40{"sid":"s1"}"#)));
            if world.sessions == 1 {
                for k in 1..=PINGS {
                    let at = now + Duration::from_millis(k * INTERVAL);
                    world.schedule.push_back((at, server_frame(0x1, b"2")));
                }
            }
        }
        Ok(buf.len())
    }

    async fn flush(&mut self) -> Result<(), std::io::Error> {
        Ok(())
    }
}

impl Connection for TimedConnection {
    async fn connect(&mut self) -> Result<(), std::io::Error> {
        let mut world = self.0.0.borrow_mut();
        world.sessions += 1;
        world.connected = true;
        world.schedule.clear();
        world.readable.clear();
        world.request.clear();
        world.written.clear();
        world.upgraded = false;
        Ok(())
    }

    async fn disconnect(&mut self) {
        let mut world = self.0.0.borrow_mut();
        world.connected = false;
        world.schedule.clear();
        world.readable.clear();
    }
}

struct SharedTimer(Shared);

impl Timer for SharedTimer {
    fn now(&self) -> Instant {
        self.0.0.borrow().now
    }

    async fn sleep_until(&mut self, at: Instant) {
        let mut world = self.0.0.borrow_mut();
        // Never past the server's next frame: it would be read late.
        let next = world.schedule.front().map(|(t, _)| *t);
        let target = match next {
            Some(next) if next > world.now => at.min(next),
            _ => at,
        };
        world.now = world.now.max(target);
    }
}

#[test]
fn ten_minutes_of_pings_are_answered_then_silence_is_a_ping_timeout() {
    let world = Shared::default();
    let mut rx = [0u8; 1024];
    let mut tx = [0u8; 256];
    let mut config = Config::new("test");
    config.reconnection_delay = Duration::from_millis(1000);
    config.reconnection_delay_max = Duration::from_millis(1000);
    let mut client = Client::new(
        config,
        TimedConnection(world.clone()),
        SharedTimer(world.clone()),
        Buffers {
            rx: &mut rx,
            tx: &mut tx,
        },
    )
    .unwrap();
    let (disconnected_at, reason) = block_on(async {
        assert!(matches!(
            client.next_event().await,
            Ok(Event::Connect { .. })
        ));
        match client.next_event().await {
            Ok(Event::Disconnect { reason, .. }) => (world.0.borrow().now, reason),
            other => panic!("expected the disconnect, got {other:?}"),
        }
    });
    let world_ref = world.0.borrow();
    let pongs: Vec<Instant> = world_ref
        .messages
        .iter()
        .filter(|(_, m)| m == "3")
        .map(|(at, _)| *at)
        .collect();
    assert_eq!(pongs.len() as u64, PINGS, "every ping answered");
    for (k, at) in pongs.iter().enumerate() {
        // Answered at the instant the ping was readable: well within pingTimeout.
        assert_eq!(
            *at,
            Instant::from_millis((k as u64 + 1) * INTERVAL),
            "pong {k}"
        );
    }
    assert_eq!(reason, DisconnectReason::PingTimeout);
    assert_eq!(
        disconnected_at,
        Instant::from_millis(PINGS * INTERVAL + INTERVAL + TIMEOUT),
        "closed exactly pingInterval + pingTimeout after the last ping"
    );
    drop(world_ref);
    // Then the core's backoff and a new connection.
    let reconnected = block_on(async {
        loop {
            match client.next_event().await {
                Ok(Event::Connect { .. }) => return world.0.borrow().now,
                Ok(_) => {}
                Err(e) => panic!("{e:?}"),
            }
        }
    });
    assert_eq!(world.0.borrow().sessions, 2);
    // 1 s ± the core's 50 % jitter, capped at the 1 s maximum.
    let delay = reconnected - disconnected_at;
    assert!(
        delay >= Duration::from_millis(500) && delay <= Duration::from_millis(1000),
        "{delay:?}"
    );
}
