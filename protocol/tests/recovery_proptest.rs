//! Connection state recovery under random fault schedules.
//!
//! A simulated namespace (room index + recovery store) broadcasts to random rooms while one
//! client is cut off at random times for random durations. On reconnect the client presents its
//! pid and the last offset it saw. Properties:
//! - within the window (and with its missed range still stored), it gets the same socket id,
//!   rooms and data, and over the whole session it has received every broadcast meant for it
//!   exactly once, in order;
//! - beyond the window, after a non-recoverable disconnect, or when the bound dropped part of
//!   its range, restore fails and it starts a fresh session;
//! - the store never holds more events than its bound.

use core::time::Duration;
use std::collections::BTreeSet;

use proptest::prelude::*;
use socketio_protocol::recovery::{NotRestored, RecoveryConfig, RecoveryStore, SessionRecord};
use socketio_protocol::rooms::{BroadcastOptions, RoomIndex};
use socketio_protocol::socket::{DisconnectReason, Packet, Payload};
use socketio_protocol::{Instant, Str, Value};

const WINDOW_MS: u64 = 1_000;
const ROOMS: [&str; 4] = ["r0", "r1", "r2", "r3"];
const OTHERS: [&str; 3] = ["o0", "o1", "o2"];

#[derive(Debug, Clone)]
enum Step {
    /// A broadcast. Room numbers 0..4 are shared rooms, 4 is the client's own id room.
    Broadcast {
        dt: u64,
        rooms: Vec<u8>,
        except: Vec<u8>,
        except_other: Option<u8>,
        volatile: bool,
    },
    /// The client's connection drops (if connected).
    Cut { dt: u64, recoverable: bool },
    /// The client reconnects (if cut off).
    Reconnect { dt: u64 },
    /// Time passes; the server runs its timers.
    Advance { dt: u64 },
}

fn dt() -> impl Strategy<Value = u64> {
    prop_oneof![4 => 0u64..200, 2 => 0u64..700, 1 => 0u64..2_500]
}

fn step() -> impl Strategy<Value = Step> {
    let set = || proptest::collection::vec(0u8..5, 0..3);
    prop_oneof![
        8 => (dt(), set(), set(), proptest::option::of(0u8..3), proptest::bool::weighted(0.1))
            .prop_map(|(dt, rooms, except, except_other, volatile)| Step::Broadcast {
                dt, rooms, except, except_other, volatile,
            }),
        2 => (dt(), proptest::bool::weighted(0.85))
            .prop_map(|(dt, recoverable)| Step::Cut { dt, recoverable }),
        2 => dt().prop_map(|dt| Step::Reconnect { dt }),
        1 => dt().prop_map(|dt| Step::Advance { dt }),
    ]
}

/// One broadcast as the model sees it.
#[derive(Debug, Clone)]
struct Sent {
    /// Target rooms (empty: all).
    rooms: BTreeSet<Str>,
    /// Excluded rooms.
    except: BTreeSet<Str>,
    /// Excluded socket.
    except_socket: Option<Str>,
    /// When it was sent.
    at: u64,
}

impl Sent {
    /// Written independently of `BroadcastOptions::includes`.
    fn reaches(&self, sid: &Str, rooms: &BTreeSet<Str>) -> bool {
        let included = self.rooms.is_empty() || !self.rooms.is_disjoint(rooms);
        let excluded = !self.except.is_disjoint(rooms) || self.except_socket.as_ref() == Some(sid);
        included && !excluded
    }
}

/// The client and its current session.
struct Client {
    sid: Str,
    pid: Str,
    rooms: BTreeSet<Str>,
    data: Value,
    connected: bool,
    /// Index (in `Sim::stored`) of the last event seen, with its offset.
    last_seen: Option<(usize, Str)>,
    /// Indices (in `Sim::stored`) of the events received this session, in arrival order.
    log: Vec<usize>,
    /// The first stored-event index that belongs to this session.
    session_start: usize,
    /// When the connection dropped and whether the session was saved.
    cut: Option<(u64, bool)>,
}

struct Sim {
    now: u64,
    store: RecoveryStore,
    index: RoomIndex,
    max_stored: usize,
    /// Every non-volatile broadcast, in order (its position is its stored index).
    stored: Vec<Sent>,
    sessions: u64,
    client: Client,
    recovered: usize,
    refused: usize,
}

fn at(ms: u64) -> Instant {
    Instant::from_millis(ms)
}

fn ids() -> impl FnMut() -> [u8; 15] + Send + 'static {
    let mut n = 0u64;
    move || {
        n += 1;
        let mut bytes = [0u8; 15];
        bytes[..8].copy_from_slice(&n.to_le_bytes());
        bytes
    }
}

impl Sim {
    fn new(max_stored: usize, client_rooms: &[u8]) -> Self {
        let config = RecoveryConfig {
            max_disconnection_duration: Duration::from_millis(WINDOW_MS),
            max_stored_packets: max_stored,
            ..RecoveryConfig::default()
        };
        let mut index = RoomIndex::new();
        for (i, other) in OTHERS.iter().enumerate() {
            index.connect(Str::from(*other));
            index.join(Str::from(*other), Str::from(ROOMS[i]));
        }
        let rooms: BTreeSet<Str> = client_rooms
            .iter()
            .map(|r| Str::from(ROOMS[*r as usize % ROOMS.len()]))
            .collect();
        let mut sim = Sim {
            now: 0,
            store: RecoveryStore::new(config, ids()),
            index,
            max_stored,
            stored: Vec::new(),
            sessions: 0,
            client: Client {
                sid: Str::default(),
                pid: Str::default(),
                rooms,
                data: Value::Null,
                connected: false,
                last_seen: None,
                log: Vec::new(),
                session_start: 0,
                cut: None,
            },
            recovered: 0,
            refused: 0,
        };
        sim.fresh_session();
        sim
    }

    /// The client connects without recovery: new id, new pid, its rooms rejoined.
    fn fresh_session(&mut self) {
        self.sessions += 1;
        let sid = Str::from(format!("c{}", self.sessions));
        let mut rooms: BTreeSet<Str> = self
            .client
            .rooms
            .iter()
            .filter(|r| ROOMS.contains(&r.as_str()))
            .cloned()
            .collect();
        rooms.insert(sid.clone());
        self.index.join_many(sid.clone(), rooms.iter().cloned());
        let pid = self.store.generate_pid().expect("pid");
        self.client = Client {
            sid,
            pid,
            rooms,
            data: Value::from(self.sessions),
            connected: true,
            last_seen: None,
            log: Vec::new(),
            session_start: self.stored.len(),
            cut: None,
        };
    }

    fn room(&self, n: u8) -> Str {
        match ROOMS.get(n as usize) {
            Some(room) => Str::from(*room),
            None => self.client.sid.clone(),
        }
    }

    fn advance(&mut self, dt: u64) {
        self.now += dt;
        if self
            .store
            .poll_timeout()
            .is_some_and(|deadline| deadline <= at(self.now))
        {
            self.store.handle_timeout(at(self.now));
        }
    }

    /// The events the client should have received this session, in order.
    fn expected_log(&self) -> Vec<usize> {
        (self.client.session_start..self.stored.len())
            .filter(|&i| self.stored[i].reaches(&self.client.sid, &self.client.rooms))
            .collect()
    }

    /// Receives one event: checks its trailing offset and files it.
    fn receive(&mut self, packet: &Packet) -> Result<(), TestCaseError> {
        let Some(Payload::Value(Value::Array(items))) = &packet.data else {
            return Err(TestCaseError::fail("event data is not an array"));
        };
        let Value::Number(number) = &items[0] else {
            return Err(TestCaseError::fail("event without index"));
        };
        let Some(index) = number.as_u64() else {
            return Err(TestCaseError::fail("event without index"));
        };
        let index = index as usize;
        prop_assert_eq!(items.len(), 2, "one argument: the offset");
        let offset = items[1].as_str().expect("offset string");
        self.client.log.push(index);
        self.client.last_seen = Some((index, Str::from(offset.to_string())));
        Ok(())
    }

    fn broadcast(
        &mut self,
        rooms: &[u8],
        except: &[u8],
        except_other: Option<u8>,
        volatile: bool,
    ) -> Result<(), TestCaseError> {
        let mut opts = BroadcastOptions::new();
        for r in rooms {
            opts.rooms.insert(self.room(*r));
        }
        for r in except {
            opts.except.insert(self.room(*r));
        }
        if let Some(o) = except_other {
            opts.except_sockets.insert(Str::from(OTHERS[o as usize]));
        }
        let name = if volatile {
            Value::from(u64::MAX)
        } else {
            Value::from(self.stored.len() as u64)
        };
        let mut packet = Packet::event("/", Value::Array(vec![name]));
        let offset = self
            .store
            .store_broadcast(at(self.now), &mut packet, volatile, &opts);
        prop_assert_eq!(offset.is_some(), !volatile);
        prop_assert!(self.store.stored_packet_count() <= self.max_stored);
        let targets: Vec<Str> = self.index.select(&opts).cloned().collect();
        let to_client = targets.contains(&self.client.sid);
        if !volatile {
            self.stored.push(Sent {
                rooms: opts.rooms.clone(),
                except: opts.except.clone(),
                except_socket: except_other.map(|o| Str::from(OTHERS[o as usize])),
                at: self.now,
            });
            let sent = &self.stored[self.stored.len() - 1];
            prop_assert_eq!(
                to_client,
                self.client.connected && sent.reaches(&self.client.sid, &self.client.rooms)
            );
            if to_client {
                self.receive(&packet)?;
            }
        }
        Ok(())
    }

    fn cut(&mut self, recoverable: bool) {
        if !self.client.connected {
            return;
        }
        let reason = if recoverable {
            DisconnectReason::TransportClose
        } else {
            DisconnectReason::ClientNamespaceDisconnect
        };
        let left = self.index.leave_all(&self.client.sid);
        let rooms: BTreeSet<Str> = left.rooms.into_iter().collect();
        assert_eq!(rooms, self.client.rooms);
        let saved = self.store.save_session(
            at(self.now),
            reason,
            SessionRecord {
                sid: self.client.sid.clone(),
                pid: self.client.pid.clone(),
                rooms,
                data: self.client.data.clone(),
            },
        );
        assert_eq!(saved, recoverable);
        self.client.connected = false;
        self.client.cut = Some((self.now, saved));
    }

    /// Which stored index is the oldest the store still holds, per the model.
    fn first_retained(&self) -> usize {
        let by_count = self.stored.len().saturating_sub(self.max_stored);
        let by_age = self
            .stored
            .iter()
            .position(|s| s.at + WINDOW_MS > self.now)
            .unwrap_or(self.stored.len());
        by_count.max(by_age)
    }

    fn reconnect(&mut self) -> Result<(), TestCaseError> {
        let Some((cut_at, saved)) = self.client.cut else {
            return Ok(());
        };
        let Some((seen, offset)) = self.client.last_seen.clone() else {
            // Nothing seen: the client has no offset and cannot ask for recovery.
            self.refused += 1;
            self.index.leave_all(&self.client.sid);
            self.fresh_session();
            return Ok(());
        };
        let within = self.now < cut_at + WINDOW_MS;
        let intact = seen + 1 >= self.first_retained();
        let result = self.store.restore(at(self.now), &self.client.pid, &offset);
        match (&result, saved && within, intact) {
            (Ok(restored), true, true) => {
                prop_assert_eq!(&restored.sid, &self.client.sid);
                prop_assert_eq!(&restored.pid, &self.client.pid);
                prop_assert_eq!(&restored.rooms, &self.client.rooms);
                prop_assert_eq!(&restored.data, &self.client.data);
                for packet in &restored.missed {
                    self.receive(packet)?;
                }
                self.index
                    .join_many(restored.sid.clone(), restored.rooms.iter().cloned());
                self.client.connected = true;
                self.client.cut = None;
                self.recovered += 1;
            }
            (Err(NotRestored::EventsDropped), true, false) => {
                self.refused += 1;
                self.fresh_session();
            }
            (Err(NotRestored::Expired | NotRestored::UnknownSession), false, _) => {
                self.refused += 1;
                self.fresh_session();
            }
            (result, ok_time, intact) => {
                return Err(TestCaseError::fail(format!(
                    "restore {result:?}, saved and within window {ok_time}, range intact {intact}"
                )));
            }
        }
        Ok(())
    }

    fn check(&self) -> Result<(), TestCaseError> {
        // Every event meant for the client this session, exactly once, in order (while cut
        // off, the events since the cut are still owed).
        let expected = self.expected_log();
        if self.client.connected {
            prop_assert_eq!(&self.client.log, &expected);
        } else {
            prop_assert!(expected.starts_with(&self.client.log));
        }
        prop_assert!(self.store.stored_packet_count() <= self.max_stored);
        Ok(())
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn recovery_under_random_fault_schedules(
        max_stored in prop_oneof![1 => 1usize..6, 3 => 6usize..200],
        client_rooms in proptest::collection::vec(0u8..4, 0..3),
        steps in proptest::collection::vec(step(), 1..80),
    ) {
        let mut sim = Sim::new(max_stored, &client_rooms);
        for step in steps {
            match step {
                Step::Broadcast { dt, rooms, except, except_other, volatile } => {
                    sim.advance(dt);
                    sim.broadcast(&rooms, &except, except_other, volatile)?;
                }
                Step::Cut { dt, recoverable } => {
                    sim.advance(dt);
                    sim.cut(recoverable);
                }
                Step::Reconnect { dt } => {
                    sim.advance(dt);
                    sim.reconnect()?;
                }
                Step::Advance { dt } => sim.advance(dt),
            }
            sim.check()?;
        }
        // Reconnect at the end, so every schedule ends with a verdict.
        sim.reconnect()?;
        sim.check()?;
    }
}

/// Some schedules must recover and some must not, or the property above proves little.
#[test]
fn the_simulation_exercises_both_outcomes() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;

    let mut runner = TestRunner::deterministic();
    let (mut recovered, mut refused) = (0, 0);
    for _ in 0..200 {
        let steps = proptest::collection::vec(step(), 1..80)
            .new_tree(&mut runner)
            .unwrap()
            .current();
        let mut sim = Sim::new(50, &[0, 1]);
        for step in steps {
            match step {
                Step::Broadcast {
                    dt,
                    rooms,
                    except,
                    except_other,
                    volatile,
                } => {
                    sim.advance(dt);
                    sim.broadcast(&rooms, &except, except_other, volatile)
                        .unwrap();
                }
                Step::Cut { dt, recoverable } => {
                    sim.advance(dt);
                    sim.cut(recoverable);
                }
                Step::Reconnect { dt } => {
                    sim.advance(dt);
                    sim.reconnect().unwrap();
                }
                Step::Advance { dt } => sim.advance(dt),
            }
        }
        recovered += sim.recovered;
        refused += sim.refused;
    }
    assert!(recovered > 50, "recovered {recovered}");
    assert!(refused > 20, "refused {refused}");
}
