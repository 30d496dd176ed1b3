//! Room index and broadcast selection: transcripts and a proptest against a naive model.

use std::collections::BTreeSet;

use proptest::prelude::*;
use socketio_protocol::rooms::{Broadcast, BroadcastOptions, Joined, Left, RoomIndex};
use socketio_protocol::socket::parser::common;
use socketio_protocol::socket::{Packet, ProtocolVersion};
use socketio_protocol::{Str, Value};

fn s(text: &'static str) -> Str {
    Str::from(text)
}

fn ids<'a>(iter: impl Iterator<Item = &'a Str>) -> Vec<&'a str> {
    iter.map(|id| id.as_str()).collect()
}

/// a, b, c, d connected; a,b in "red"; b,c in "blue"; d in nothing but its own room.
fn sample() -> RoomIndex {
    let mut index = RoomIndex::new();
    for id in ["a", "b", "c", "d"] {
        assert_eq!(
            index.connect(s(id)),
            Joined {
                joined: true,
                created_room: true
            }
        );
    }
    index.join(s("a"), s("red"));
    index.join(s("b"), s("red"));
    index.join(s("b"), s("blue"));
    index.join(s("c"), s("blue"));
    index
}

#[test]
fn join_reports_created_room_and_membership() {
    let mut index: RoomIndex = RoomIndex::new();
    assert_eq!(
        index.join(s("a"), s("r")),
        Joined {
            joined: true,
            created_room: true
        }
    );
    assert_eq!(
        index.join(s("b"), s("r")),
        Joined {
            joined: true,
            created_room: false
        }
    );
    assert_eq!(index.join(s("b"), s("r")), Joined::default());
    assert_eq!(index.len(), 2);
    assert_eq!(index.room_count(), 1);
    assert!(index.is_member(&s("a"), &s("r")));
    assert_eq!(ids(index.sockets_in(&s("r"))), ["a", "b"]);
}

#[test]
fn empty_rooms_are_removed() {
    let mut index = sample();
    assert_eq!(
        index.leave(&s("a"), &s("red")),
        Left {
            left: true,
            deleted_room: false
        }
    );
    assert_eq!(
        index.leave(&s("b"), &s("red")),
        Left {
            left: true,
            deleted_room: true
        }
    );
    assert_eq!(index.leave(&s("b"), &s("red")), Left::default());
    assert_eq!(index.leave(&s("zz"), &s("red")), Left::default());
    assert!(index.rooms().all(|room| room != "red"));
    assert_eq!(index.sockets_in(&s("red")).count(), 0);
    // The sockets stay registered after leaving rooms.
    assert!(index.contains_socket(&s("a")));
}

#[test]
fn leave_all_forgets_the_socket_and_deletes_its_empty_rooms() {
    let mut index = sample();
    let left = index.leave_all(&s("b"));
    assert_eq!(left.rooms, ["b", "blue", "red"]);
    assert_eq!(left.deleted_rooms, ["b"]);
    assert!(!index.contains_socket(&s("b")));
    assert_eq!(index.rooms_of(&s("b")).count(), 0);
    assert_eq!(ids(index.sockets_in(&s("red"))), ["a"]);
    assert_eq!(ids(index.sockets_in(&s("blue"))), ["c"]);
    assert_eq!(index.len(), 3);
    assert_eq!(index.room_count(), 5); // a, c, d, red, blue
    assert_eq!(index.leave_all(&s("b")).rooms, Vec::<Str>::new());
    let left = index.leave_all(&s("a"));
    assert_eq!(left.deleted_rooms, ["a", "red"]);
}

#[test]
fn rooms_of_a_socket() {
    let index = sample();
    assert_eq!(ids(index.rooms_of(&s("b"))), ["b", "blue", "red"]);
    assert_eq!(ids(index.rooms_of(&s("d"))), ["d"]);
    assert_eq!(index.rooms_of(&s("nobody")).count(), 0);
}

#[test]
fn select_all_and_add_socket_without_rooms() {
    let mut index = sample();
    assert!(index.add_socket(s("e")));
    assert!(!index.add_socket(s("e")));
    let all = BroadcastOptions::new();
    assert_eq!(ids(index.select(&all)), ["a", "b", "c", "d", "e"]);
}

#[test]
fn select_union_of_rooms_each_socket_once() {
    let index = sample();
    let opts = BroadcastOptions::new().to("red").to("blue");
    assert_eq!(ids(index.select(&opts)), ["a", "b", "c"]);
    let opts = BroadcastOptions::new().to("red").to("missing");
    assert_eq!(ids(index.select(&opts)), ["a", "b"]);
    let opts = BroadcastOptions::new().to("missing");
    assert_eq!(index.select(&opts).count(), 0);
    // A socket's own room reaches just that socket.
    let opts = BroadcastOptions::new().to("d").to("c").to("blue");
    assert_eq!(ids(index.select(&opts)), ["b", "c", "d"]);
}

#[test]
fn select_except_rooms() {
    let index = sample();
    let opts = BroadcastOptions::new().except("red");
    assert_eq!(ids(index.select(&opts)), ["c", "d"]);
    let opts = BroadcastOptions::new().to("blue").except("red");
    assert_eq!(ids(index.select(&opts)), ["c"]);
    let opts = BroadcastOptions::new().to("blue").except("red").except("c");
    assert_eq!(index.select(&opts).count(), 0);
}

#[test]
fn select_excluding_the_sender() {
    let index = sample();
    // socket.broadcast.emit from b: everyone but b.
    let opts = BroadcastOptions::new().except_socket("b");
    assert_eq!(ids(index.select(&opts)), ["a", "c", "d"]);
    // The reference expresses it as except(own room): same selection.
    let opts = BroadcastOptions::new().except("b");
    assert_eq!(ids(index.select(&opts)), ["a", "c", "d"]);
    let opts = BroadcastOptions::new().to("red").except_socket("b");
    assert_eq!(ids(index.select(&opts)), ["a"]);
}

#[test]
fn fetch_sockets_and_sockets_join_leave_use_the_same_filter() {
    let mut index = sample();
    let opts = BroadcastOptions::new().to("blue").except_socket("c");
    let fetched: Vec<(String, Vec<String>)> = index
        .fetch_sockets(&opts)
        .map(|(id, rooms)| {
            (
                id.to_string(),
                rooms.iter().map(|r| r.to_string()).collect(),
            )
        })
        .collect();
    assert_eq!(
        fetched,
        [(
            "b".to_string(),
            vec!["b".to_string(), "blue".to_string(), "red".to_string()]
        )]
    );
    let opts = BroadcastOptions::new().to("red");
    assert_eq!(index.sockets_join(&opts, s("green")), 2);
    assert_eq!(index.sockets_join(&opts, s("green")), 0);
    assert_eq!(ids(index.sockets_in(&s("green"))), ["a", "b"]);
    assert_eq!(index.sockets_leave(&opts, &s("green")), 2);
    assert!(index.rooms().all(|room| room != "green"));
}

#[test]
fn includes_matches_select() {
    let index = sample();
    let opts = BroadcastOptions::new()
        .to("red")
        .to("blue")
        .except("c")
        .except_socket("a");
    for id in index.sockets() {
        let rooms: Vec<&Str> = index.rooms_of(id).collect();
        let selected = index.select(&opts).any(|x| x == id);
        assert_eq!(opts.includes(id, rooms.iter().copied()), selected, "{id}");
    }
}

#[test]
fn a_broadcast_is_encoded_once_and_every_recipient_shares_the_bytes() {
    let index = sample();
    let opts = BroadcastOptions::new();
    let packet = Packet::event(
        "/chat",
        Value::Array(vec![
            "news".into(),
            Value::Binary(bytes::Bytes::from_static(&[1, 2, 3])),
        ]),
    );
    let broadcast = Broadcast::encode(&packet, ProtocolVersion::V5);
    assert_eq!(
        broadcast.frames(),
        &common::encode(&packet, ProtocolVersion::V5)
    );
    let text_ptr = broadcast.frames().text.as_bytes().as_ptr();
    let bin_ptr = broadcast.frames().attachments[0].as_ptr();
    let deliveries: Vec<_> = broadcast.deliveries(index.select(&opts)).collect();
    assert_eq!(deliveries.len(), 4);
    for (_, frames) in &deliveries {
        assert_eq!(
            frames.text,
            r#"51-/chat,["news",{"_placeholder":true,"num":0}]"#
        );
        assert_eq!(frames.text.as_bytes().as_ptr(), text_ptr);
        assert_eq!(frames.attachments[0].as_ptr(), bin_ptr);
    }
}

// ---- proptest: the index against a naive Vec-based model ----

#[derive(Debug, Clone)]
enum Op {
    Join(u8, u8),
    Leave(u8, u8),
    LeaveAll(u8),
    Add(u8),
    Select {
        rooms: Vec<u8>,
        except: Vec<u8>,
        except_sockets: Vec<u8>,
    },
}

fn op() -> impl Strategy<Value = Op> {
    let small = || proptest::collection::vec(0u8..12, 0..3);
    prop_oneof![
        4 => (0u8..12, 0u8..12).prop_map(|(s, r)| Op::Join(s, r)),
        2 => (0u8..12, 0u8..12).prop_map(|(s, r)| Op::Leave(s, r)),
        1 => (0u8..12).prop_map(Op::LeaveAll),
        1 => (0u8..12).prop_map(Op::Add),
        3 => (small(), small(), small()).prop_map(|(rooms, except, except_sockets)| Op::Select {
            rooms,
            except,
            except_sockets,
        }),
    ]
}

fn sock(n: u8) -> Str {
    Str::from(format!("s{n}"))
}

fn room(n: u8) -> Str {
    Str::from(format!("r{n}"))
}

/// The naive model: a list of registered sockets and a list of (socket, room) pairs.
#[derive(Default)]
struct Model {
    sockets: Vec<Str>,
    pairs: Vec<(Str, Str)>,
}

impl Model {
    fn select(&self, rooms: &[Str], except: &[Str], except_sockets: &[Str]) -> Vec<Str> {
        let mut out = Vec::new();
        for socket in &self.sockets {
            let in_room = |r: &Str| self.pairs.contains(&(socket.clone(), r.clone()));
            let included = rooms.is_empty() || rooms.iter().any(in_room);
            let excluded = except.iter().any(in_room) || except_sockets.contains(socket);
            if included && !excluded && !out.contains(socket) {
                out.push(socket.clone());
            }
        }
        out.sort();
        out
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn index_matches_naive_model(ops in proptest::collection::vec(op(), 0..150)) {
        let mut index: RoomIndex = RoomIndex::new();
        let mut model = Model::default();
        for op in ops {
            match op {
                Op::Join(s, r) => {
                    let joined = index.join(sock(s), room(r));
                    let pair = (sock(s), room(r));
                    prop_assert_eq!(joined.joined, !model.pairs.contains(&pair));
                    prop_assert_eq!(
                        joined.created_room,
                        !model.pairs.iter().any(|(_, x)| *x == room(r))
                    );
                    if !model.sockets.contains(&sock(s)) {
                        model.sockets.push(sock(s));
                    }
                    if joined.joined {
                        model.pairs.push(pair);
                    }
                }
                Op::Leave(s, r) => {
                    let left = index.leave(&sock(s), &room(r));
                    let pair = (sock(s), room(r));
                    prop_assert_eq!(left.left, model.pairs.contains(&pair));
                    model.pairs.retain(|p| *p != pair);
                    prop_assert_eq!(
                        left.deleted_room,
                        left.left && !model.pairs.iter().any(|(_, x)| *x == room(r))
                    );
                }
                Op::LeaveAll(s) => {
                    let left = index.leave_all(&sock(s));
                    let mut expected: Vec<Str> = model
                        .pairs
                        .iter()
                        .filter(|(x, _)| *x == sock(s))
                        .map(|(_, r)| r.clone())
                        .collect();
                    expected.sort();
                    prop_assert_eq!(&left.rooms, &expected);
                    model.pairs.retain(|(x, _)| *x != sock(s));
                    model.sockets.retain(|x| *x != sock(s));
                    for deleted in &left.deleted_rooms {
                        prop_assert!(!model.pairs.iter().any(|(_, r)| r == deleted));
                    }
                }
                Op::Add(s) => {
                    prop_assert_eq!(index.add_socket(sock(s)), !model.sockets.contains(&sock(s)));
                    if !model.sockets.contains(&sock(s)) {
                        model.sockets.push(sock(s));
                    }
                }
                Op::Select { rooms, except, except_sockets } => {
                    let rooms: Vec<Str> = rooms.into_iter().map(room).collect();
                    let except: Vec<Str> = except.into_iter().map(room).collect();
                    let except_sockets: Vec<Str> = except_sockets.into_iter().map(sock).collect();
                    let mut opts = BroadcastOptions::new();
                    opts.rooms.extend(rooms.iter().cloned());
                    opts.except.extend(except.iter().cloned());
                    opts.except_sockets.extend(except_sockets.iter().cloned());
                    let got: Vec<Str> = index.select(&opts).cloned().collect();
                    prop_assert_eq!(&got, &model.select(&rooms, &except, &except_sockets));
                    // The standalone filter and fetch_sockets agree with select.
                    let by_filter: Vec<Str> = index
                        .sockets()
                        .filter(|id| opts.includes(id, index.rooms_of(id)))
                        .cloned()
                        .collect();
                    prop_assert_eq!(&by_filter, &got);
                    let fetched: Vec<Str> =
                        index.fetch_sockets(&opts).map(|(id, _)| id.clone()).collect();
                    prop_assert_eq!(&fetched, &got);
                }
            }
            // Invariants: both directions agree, no empty room, counts match the model.
            prop_assert_eq!(index.len(), model.sockets.len());
            let model_rooms: BTreeSet<Str> = model.pairs.iter().map(|(_, r)| r.clone()).collect();
            prop_assert_eq!(index.rooms().cloned().collect::<BTreeSet<_>>(), model_rooms.clone());
            prop_assert_eq!(index.room_count(), model_rooms.len());
            for r in &model_rooms {
                let mut members: Vec<Str> = model
                    .pairs
                    .iter()
                    .filter(|(_, x)| x == r)
                    .map(|(s, _)| s.clone())
                    .collect();
                members.sort();
                prop_assert_eq!(index.sockets_in(r).cloned().collect::<Vec<_>>(), members);
            }
            for s in &model.sockets {
                for r in index.rooms_of(s) {
                    prop_assert!(index.is_member(s, r));
                }
            }
        }
    }
}

proptest! {
    /// A room set is a sorted vector up to `RoomSet::SMALL` entries and a B-tree beyond: both
    /// behave as a `BTreeSet`, across the switch.
    #[test]
    fn room_set_matches_btree_set(ops in proptest::collection::vec((any::<bool>(), 0u8..24), 0..200)) {
        let mut set = socketio_protocol::rooms::RoomSet::default();
        let mut model = std::collections::BTreeSet::new();
        for (insert, item) in ops {
            if insert {
                prop_assert_eq!(set.insert(item), model.insert(item));
            } else {
                prop_assert_eq!(set.remove(&item), model.remove(&item));
            }
            prop_assert_eq!(set.len(), model.len());
            prop_assert!(set.iter().eq(model.iter()));
            prop_assert_eq!(set.contains(&item), model.contains(&item));
        }
        let owned: Vec<u8> = set.into_iter().collect();
        prop_assert_eq!(owned, model.into_iter().collect::<Vec<_>>());
    }
}
