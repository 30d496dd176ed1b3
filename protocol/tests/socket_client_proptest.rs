//! The client manager against a randomly misbehaving scripted server: every reconnection delay
//! follows the backoff and its jitter bounds, and nothing reconnects after
//! `io server disconnect`.

mod socket_client_support;

use std::time::Duration;

use proptest::prelude::*;
use socket_client_support::*;
use socketio_protocol::Instant;
use socketio_protocol::socket::client::Event;

#[derive(Debug, Clone)]
enum Op {
    Accept,
    FailDial,
    DropTransport,
    ServerDisconnect,
    Advance(u64),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => Just(Op::Accept),
        3 => Just(Op::FailDial),
        3 => Just(Op::DropTransport),
        1 => Just(Op::ServerDisconnect),
        6 => (0u64..8000).prop_map(Op::Advance),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn reconnect_delays_follow_the_backoff(
        seed in any::<u64>(),
        jitter in prop_oneof![Just(0.0), Just(0.5), 0.0f64..=1.0],
        ops in proptest::collection::vec(op(), 0..60),
    ) {
        let mut config = config();
        config.seed = seed;
        config.randomization_factor = jitter;
        let mut h = Harness::new(config);
        h.open("/", None);
        let mut dialing = matches!(h.out().as_slice(), [Out::Dial]);
        let mut connected = false;
        let mut failed_at: Option<Instant> = None;
        let mut stopped = false;
        for op in ops {
            match op {
                Op::Accept if dialing => {
                    let id = h.ws.unwrap();
                    h.manager.handle_ws_opened(h.now, id);
                    h.feed(OPEN);
                    let _ = h.out();
                    h.feed(r#"40{"sid":"s"}"#);
                    dialing = false;
                    connected = true;
                }
                Op::FailDial if dialing => {
                    h.manager.handle_ws_closed(h.now, h.ws.take().unwrap());
                    dialing = false;
                }
                Op::DropTransport if connected => {
                    h.drop_transport();
                    connected = false;
                }
                Op::ServerDisconnect if connected => {
                    h.feed("41");
                    connected = false;
                    stopped = true;
                }
                Op::Advance(millis) => {
                    let until = h.now + Duration::from_millis(millis);
                    while let Some(at) = h.manager.poll_timeout() {
                        if at > until {
                            break;
                        }
                        h.now = h.now.max(at);
                        h.manager.handle_timeout(h.now);
                        for event in h.events() {
                            if let Event::ReconnectAttempt(n) = event {
                                prop_assert!(!stopped, "reconnected after io server disconnect");
                                let since = h.now - failed_at.expect("a failure came first");
                                let base = 1000.0 * 2f64.powi(n as i32 - 1);
                                let j = if jitter > 0.0 && jitter <= 1.0 { jitter } else { 0.0 };
                                let low = (base * (1.0 - j)).min(5000.0).floor() - 1.0;
                                let high = (base * (1.0 + j)).min(5000.0);
                                let ms = since.as_millis() as f64;
                                prop_assert!(ms >= low && ms <= high,
                                    "attempt {} after {} ms, bounds [{}, {}]", n, ms, low, high);
                            } else {
                                track(&event, &mut failed_at, h.now);
                            }
                        }
                        let out = h.out();
                        if out.contains(&Out::Dial) {
                            dialing = true;
                        }
                        if out.contains(&Out::Close) {
                            dialing = false;
                            connected = false;
                        }
                    }
                    h.now = until;
                }
                _ => {}
            }
            for event in h.events() {
                prop_assert!(!matches!(event, Event::ReconnectAttempt(_)));
                track(&event, &mut failed_at, h.now);
            }
            let out = h.out();
            if out.contains(&Out::Dial) {
                dialing = true;
            }
            if stopped {
                prop_assert_eq!(h.manager.poll_timeout(), None);
                prop_assert!(!out.contains(&Out::Dial));
            }
        }
    }
}

/// Records when the connection last failed (the reconnection delay starts there).
fn track(event: &Event, failed_at: &mut Option<Instant>, now: Instant) {
    if matches!(
        event,
        Event::Disconnect { .. } | Event::ConnectError { .. } | Event::ReconnectError
    ) {
        *failed_at = Some(now);
    }
}
