//! Connection state recovery store: transcripts under virtual time.

use core::time::Duration;
use std::collections::BTreeSet;

use bytes::Bytes;
use socketio_protocol::recovery::{
    NotRestored, RecoveryConfig, RecoveryStore, SessionRecord, append_offset,
};
use socketio_protocol::rooms::BroadcastOptions;
use socketio_protocol::socket::parser::common;
use socketio_protocol::socket::{DisconnectReason, Packet, PacketKind, Payload, ProtocolVersion};
use socketio_protocol::{Instant, Str, Value};

const WINDOW: Duration = Duration::from_secs(120);

fn at(ms: u64) -> Instant {
    Instant::from_millis(ms)
}

/// A deterministic generator: counts up in the first byte.
fn counter_ids() -> impl FnMut() -> [u8; 15] + Send + 'static {
    let mut n = 0u8;
    move || {
        n = n.wrapping_add(1);
        let mut bytes = [0u8; 15];
        bytes[0] = n;
        bytes
    }
}

fn store_with(config: RecoveryConfig) -> RecoveryStore {
    RecoveryStore::new(config, counter_ids())
}

fn store() -> RecoveryStore {
    store_with(RecoveryConfig::default())
}

fn event(name: &str) -> Packet {
    Packet::event("/", Value::Array(vec![Value::String(name.into())]))
}

fn rooms(names: &[&str]) -> BTreeSet<Str> {
    names.iter().map(|r| Str::from(r.to_string())).collect()
}

fn record(sid: &str, pid: &Str, in_rooms: &[&str]) -> SessionRecord {
    SessionRecord {
        sid: Str::from(sid.to_string()),
        pid: pid.clone(),
        rooms: rooms(in_rooms),
        data: Value::Object(vec![("user".into(), "ann".into())]),
    }
}

fn emit(
    store: &mut RecoveryStore,
    now: Instant,
    name: &str,
    opts: &BroadcastOptions,
) -> (Packet, Str) {
    let mut packet = event(name);
    let offset = store
        .store_broadcast(now, &mut packet, false, opts)
        .expect("stored");
    (packet, offset)
}

fn names(packets: &[Packet]) -> Vec<String> {
    packets
        .iter()
        .map(|p| match &p.data {
            Some(Payload::Value(Value::Array(items))) => items[0].as_str().unwrap().to_string(),
            other => panic!("unexpected data {other:?}"),
        })
        .collect()
}

#[test]
fn the_offset_is_appended_as_the_last_argument() {
    let mut store = store();
    let mut packet = Packet::event(
        "/chat",
        Value::Array(vec!["msg".into(), Value::from(1u64), Value::Null]),
    );
    let offset = store
        .store_broadcast(at(0), &mut packet, false, &BroadcastOptions::new())
        .unwrap();
    let Some(Payload::Value(Value::Array(items))) = &packet.data else {
        panic!()
    };
    assert_eq!(items.len(), 4);
    assert_eq!(items[3].as_str(), Some(offset.as_str()));
    let wire = common::encode(&packet, ProtocolVersion::V5).text;
    assert_eq!(
        wire.as_str(),
        format!(r#"2/chat,["msg",1,null,"{offset}"]"#)
    );

    // Offsets are distinct, and a binary event keeps its placeholders in order.
    let mut binary = Packet::event(
        "/",
        Value::Array(vec!["bin".into(), Value::Binary(Bytes::from_static(b"x"))]),
    );
    let second = store
        .store_broadcast(at(0), &mut binary, false, &BroadcastOptions::new())
        .unwrap();
    assert_ne!(offset, second);
    let encoded = common::encode(&binary, ProtocolVersion::V5);
    assert_eq!(
        encoded.text.as_str(),
        format!(r#"51-["bin",{{"_placeholder":true,"num":0}},"{second}"]"#)
    );
}

#[test]
fn the_offset_is_spliced_into_json_text() {
    let mut store = store();
    let mut packet = Packet::event("/", Payload::Json(r#"["a",{"b":[1]}]"#.into()));
    let offset = store
        .store_broadcast(at(0), &mut packet, false, &BroadcastOptions::new())
        .unwrap();
    assert_eq!(
        common::encode(&packet, ProtocolVersion::V5).text.as_str(),
        format!(r#"2["a",{{"b":[1]}},"{offset}"]"#)
    );
    let mut padded = Payload::Json(" [ \"a\" ] \n".into());
    assert!(append_offset(&mut padded, "o.1"));
    assert_eq!(padded, Payload::Json(" [ \"a\" ,\"o.1\"] \n".into()));
    let mut empty = Payload::Json("[ ]".into());
    assert!(append_offset(&mut empty, "o.1"));
    assert_eq!(empty, Payload::Json("[ \"o.1\"]".into()));
    let mut object = Payload::Json("{}".into());
    assert!(!append_offset(&mut object, "o.1"));
    let mut value = Payload::Value(Value::Null);
    assert!(!append_offset(&mut value, "o.1"));
}

#[test]
fn volatile_acked_and_non_event_packets_are_not_stored() {
    let mut store = store();
    let opts = BroadcastOptions::new();
    let mut volatile = event("v");
    assert_eq!(
        store.store_broadcast(at(0), &mut volatile, true, &opts),
        None
    );
    assert_eq!(volatile, event("v"));
    let mut acked = event("a").with_id(3);
    assert_eq!(store.store_broadcast(at(0), &mut acked, false, &opts), None);
    assert_eq!(acked, event("a").with_id(3));
    let mut ack = Packet::ack("/", 1, Value::Array(vec![]));
    assert_eq!(store.store_broadcast(at(0), &mut ack, false, &opts), None);
    let mut disconnect = Packet::new(PacketKind::Disconnect, "/");
    assert_eq!(
        store.store_broadcast(at(0), &mut disconnect, false, &opts),
        None
    );
    assert_eq!(store.stored_packet_count(), 0);
}

#[test]
fn restore_gives_back_the_session_and_missed_events_in_order_filtered_by_rooms() {
    let mut store = store();
    let pid = store.generate_pid().unwrap();
    assert_eq!(pid.len(), 20);
    let all = BroadcastOptions::new();
    let (_, seen) = emit(&mut store, at(0), "before", &all);
    assert!(store.save_session(
        at(10),
        DisconnectReason::PingTimeout,
        record("s1", &pid, &["s1", "red", "blue"])
    ));
    emit(&mut store, at(20), "all-1", &all);
    emit(
        &mut store,
        at(21),
        "red",
        &BroadcastOptions::new().to("red"),
    );
    emit(
        &mut store,
        at(22),
        "green",
        &BroadcastOptions::new().to("green"),
    );
    emit(
        &mut store,
        at(23),
        "red-or-green",
        &BroadcastOptions::new().to("green").to("red"),
    );
    emit(
        &mut store,
        at(24),
        "all-but-blue",
        &BroadcastOptions::new().except("blue"),
    );
    emit(
        &mut store,
        at(25),
        "all-but-green",
        &BroadcastOptions::new().except("green"),
    );
    emit(
        &mut store,
        at(26),
        "not-from-s1",
        &BroadcastOptions::new().except_socket("s1"),
    );
    emit(
        &mut store,
        at(27),
        "to-s1",
        &BroadcastOptions::new().to("s1"),
    );
    emit(&mut store, at(28), "all-2", &all);

    let restored = store.restore(at(1_000), &pid, &seen).unwrap();
    assert_eq!(restored.sid, "s1");
    assert_eq!(restored.pid, pid);
    assert_eq!(restored.rooms, rooms(&["s1", "red", "blue"]));
    assert_eq!(
        restored.data,
        Value::Object(vec![("user".into(), "ann".into())])
    );
    assert_eq!(
        names(&restored.missed),
        [
            "all-1",
            "red",
            "red-or-green",
            "all-but-green",
            "to-s1",
            "all-2"
        ]
    );
    // Each missed event carries its offset last, in increasing order.
    let offsets: Vec<String> = restored
        .missed
        .iter()
        .map(|p| match &p.data {
            Some(Payload::Value(Value::Array(items))) => {
                items.last().unwrap().as_str().unwrap().to_string()
            }
            _ => panic!(),
        })
        .collect();
    assert_eq!(offsets.len(), 6);
    assert!(offsets.iter().all(|o| *o != *seen));
    // Used once.
    assert_eq!(
        store.restore(at(1_000), &pid, &seen),
        Err(NotRestored::UnknownSession)
    );
    assert_eq!(store.session_count(), 0);
}

#[test]
fn restore_from_the_latest_offset_misses_nothing() {
    let mut store = store();
    let pid = store.generate_pid().unwrap();
    let (_, last) = emit(&mut store, at(0), "x", &BroadcastOptions::new());
    store.save_session(
        at(0),
        DisconnectReason::TransportClose,
        record("s", &pid, &["s"]),
    );
    let restored = store.restore(at(1), &pid, &last).unwrap();
    assert!(restored.missed.is_empty());
}

#[test]
fn a_session_expires_exactly_at_the_window() {
    let mut store = store();
    let pid = store.generate_pid().unwrap();
    let (_, seen) = emit(&mut store, at(1_000), "x", &BroadcastOptions::new());
    store.save_session(
        at(1_000),
        DisconnectReason::TransportError,
        record("s", &pid, &["s"]),
    );
    let deadline = at(1_000) + WINDOW;
    assert_eq!(store.poll_timeout(), Some(deadline));
    let just_before = Instant::from_duration(deadline.since_epoch() - Duration::from_nanos(1));
    assert!(store.restore(just_before, &pid, &seen).is_ok());

    store.save_session(
        at(1_000),
        DisconnectReason::TransportError,
        record("s", &pid, &["s"]),
    );
    assert_eq!(
        store.restore(deadline, &pid, &seen),
        Err(NotRestored::Expired)
    );

    // handle_timeout at the deadline drops session and event.
    store.save_session(
        at(1_000),
        DisconnectReason::TransportError,
        record("s", &pid, &["s"]),
    );
    store.handle_timeout(just_before);
    assert!(store.has_session(&pid));
    assert_eq!(store.stored_packet_count(), 1);
    store.handle_timeout(deadline);
    assert!(!store.has_session(&pid));
    assert_eq!(store.stored_packet_count(), 0);
    assert_eq!(store.poll_timeout(), None);
    assert_eq!(
        store.restore(deadline, &pid, &seen),
        Err(NotRestored::UnknownSession)
    );
}

#[test]
fn poll_timeout_is_the_earliest_of_sessions_and_events() {
    let mut store = store();
    assert_eq!(store.poll_timeout(), None);
    let pid = store.generate_pid().unwrap();
    store.save_session(
        at(500),
        DisconnectReason::ForcedClose,
        record("s", &pid, &["s"]),
    );
    assert_eq!(store.poll_timeout(), Some(at(500) + WINDOW));
    emit(&mut store, at(200), "x", &BroadcastOptions::new());
    assert_eq!(store.poll_timeout(), Some(at(200) + WINDOW));
    store.handle_timeout(at(200) + WINDOW);
    assert_eq!(store.poll_timeout(), Some(at(500) + WINDOW));
}

#[test]
fn events_older_than_the_window_make_an_old_offset_unrecoverable() {
    let mut store = store();
    let pid = store.generate_pid().unwrap();
    let (_, seen) = emit(&mut store, at(0), "seen", &BroadcastOptions::new());
    // An event the client did not get, then a disconnect much later.
    emit(
        &mut store,
        at(1_000),
        "unseen",
        &BroadcastOptions::new().to("other"),
    );
    store.save_session(
        at(100_000),
        DisconnectReason::TransportClose,
        record("s", &pid, &["s"]),
    );
    // "unseen" expires at 121 s, while the session is still within its window.
    assert_eq!(
        store.restore(at(121_000), &pid, &seen),
        Err(NotRestored::EventsDropped)
    );
}

#[test]
fn exceeding_the_bound_drops_the_oldest_and_makes_affected_sessions_unrecoverable() {
    let mut store = store_with(RecoveryConfig {
        max_stored_packets: 3,
        ..RecoveryConfig::default()
    });
    let all = BroadcastOptions::new();
    let pid_a = store.generate_pid().unwrap();
    let pid_b = store.generate_pid().unwrap();
    let (_, a_seen) = emit(&mut store, at(0), "0", &all);
    let (_, b_seen) = emit(&mut store, at(0), "1", &all);
    store.save_session(
        at(1),
        DisconnectReason::TransportClose,
        record("a", &pid_a, &["a"]),
    );
    store.save_session(
        at(1),
        DisconnectReason::TransportClose,
        record("b", &pid_b, &["b"]),
    );
    emit(&mut store, at(2), "2", &all);
    emit(&mut store, at(3), "3", &all);
    emit(&mut store, at(4), "4", &all);
    assert_eq!(store.stored_packet_count(), 3); // "2", "3", "4"; "0" and "1" dropped
    // a saw "0": "1" is gone, so a cannot be recovered completely.
    assert_eq!(
        store.restore(at(5), &pid_a, &a_seen),
        Err(NotRestored::EventsDropped)
    );
    // b saw "1": everything after it is still there.
    let restored = store.restore(at(5), &pid_b, &b_seen).unwrap();
    assert_eq!(names(&restored.missed), ["2", "3", "4"]);
}

#[test]
fn offsets_not_issued_by_this_store_are_refused() {
    let mut store = store();
    let all = BroadcastOptions::new();
    let (_, offset) = emit(&mut store, at(0), "0", &all);
    let (tag, counter) = offset.rsplit_once('.').unwrap();
    assert_eq!(counter, "0");
    let mut other = RecoveryStore::new(RecoveryConfig::default(), || [9; 15]);
    let (_, foreign) = emit(&mut other, at(0), "0", &all);
    for bad in [
        foreign.to_string(),
        format!("{tag}.1"),  // not issued yet
        format!("{tag}.00"), // not canonical
        format!("{tag}.+0"),
        format!("{tag}."),
        format!("{tag}0"),
        String::new(),
    ] {
        let pid = store.generate_pid().unwrap();
        store.save_session(
            at(0),
            DisconnectReason::TransportClose,
            record("s", &pid, &["s"]),
        );
        assert_eq!(
            store.restore(at(1), &pid, &bad),
            Err(NotRestored::InvalidOffset),
            "{bad}"
        );
        assert!(!store.has_session(&pid), "consumed");
    }
}

#[test]
fn only_recoverable_reasons_keep_the_session() {
    let mut store = store();
    for reason in [
        DisconnectReason::ClientNamespaceDisconnect,
        DisconnectReason::ServerNamespaceDisconnect,
        DisconnectReason::ParseError,
    ] {
        let pid = store.generate_pid().unwrap();
        assert!(!store.save_session(at(0), reason, record("s", &pid, &["s"])));
    }
    assert_eq!(store.session_count(), 0);
    for reason in [
        DisconnectReason::TransportError,
        DisconnectReason::TransportClose,
        DisconnectReason::ForcedClose,
        DisconnectReason::PingTimeout,
        DisconnectReason::ServerShuttingDown,
        DisconnectReason::ForcedServerClose,
    ] {
        let pid = store.generate_pid().unwrap();
        assert!(store.save_session(at(0), reason, record("s", &pid, &["s"])));
    }
    assert_eq!(store.session_count(), 6);
}

#[test]
fn the_session_cap_drops_the_session_closest_to_expiry() {
    let mut store = store_with(RecoveryConfig {
        max_sessions: 2,
        ..RecoveryConfig::default()
    });
    let pids: Vec<Str> = (0..3).map(|_| store.generate_pid().unwrap()).collect();
    for (i, pid) in pids.iter().enumerate() {
        let now = at(i as u64 * 10);
        assert!(store.save_session(now, DisconnectReason::TransportClose, record("s", pid, &[])));
    }
    assert_eq!(store.session_count(), 2);
    assert!(!store.has_session(&pids[0]));
    assert!(store.has_session(&pids[1]));
    assert!(store.has_session(&pids[2]));
    // Saving the same pid again replaces it rather than taking another slot.
    store.save_session(
        at(40),
        DisconnectReason::TransportClose,
        record("s", &pids[1], &[]),
    );
    assert_eq!(store.session_count(), 2);
    assert_eq!(store.poll_timeout(), Some(at(20) + WINDOW));
    // A zero cap keeps nothing.
    let mut none = store_with(RecoveryConfig {
        max_sessions: 0,
        ..RecoveryConfig::default()
    });
    let pid = none.generate_pid().unwrap();
    assert!(!none.save_session(
        at(0),
        DisconnectReason::TransportClose,
        record("s", &pid, &[])
    ));
}

#[test]
fn pids_are_unique_among_kept_sessions() {
    // A generator stuck on one value: the second pid would collide with the kept session.
    let mut store = RecoveryStore::new(RecoveryConfig::default(), || [3; 15]);
    let pid = store.generate_pid().unwrap();
    store.save_session(
        at(0),
        DisconnectReason::TransportClose,
        record("s", &pid, &[]),
    );
    assert_eq!(store.generate_pid(), None);
}
