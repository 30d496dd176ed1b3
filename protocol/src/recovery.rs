//! Connection state recovery, server side: the per-namespace store of disconnected sessions and
//! of the broadcast events they may have missed (the reference `SessionAwareAdapter`).
//!
//! How the server uses a [`RecoveryStore`] (one per namespace, when recovery is enabled):
//!
//! 1. On connect, a socket gets a private session id from [`RecoveryStore::generate_pid`]; the
//!    CONNECT reply carries it as `pid`.
//! 2. Every broadcast goes through [`RecoveryStore::store_broadcast`] *before* it is encoded: a
//!    non-volatile EVENT without an ack id gets an *offset* string appended as its last argument
//!    and is kept (the same bytes then go to every target, see [`crate::rooms::Broadcast`]).
//! 3. On a disconnect whose reason [is recoverable](DisconnectReason::is_recoverable), the
//!    server calls [`RecoveryStore::save_session`] with the socket's id, pid, rooms and data.
//! 4. A CONNECT with `{"pid":…,"offset":…}` calls [`RecoveryStore::restore`]. On success the
//!    server reuses the socket id, rooms and data, sends [`Restored::missed`] in order *before*
//!    the CONNECT reply, and reports the socket as recovered; otherwise it opens a fresh session
//!    (not recovered).
//! 5. [`RecoveryStore::poll_timeout`] / [`RecoveryStore::handle_timeout`] expire sessions and
//!    events after [`RecoveryConfig::max_disconnection_duration`].
//!
//! Decisions, and where they differ from the reference:
//! - **Offsets** are `<tag>.<n>`: an 8-character tag drawn once per store from the injected
//!   generator (so offsets of a previous server process are not mistaken for ours), then a
//!   counter. Stored events always form a contiguous run of counters, which makes "is the
//!   client's missed range still complete?" an exact check.
//! - **Bound on stored events** ([`RecoveryConfig::max_stored_packets`]): when exceeded, the
//!   oldest event is dropped. A restore whose missed range reaches back past a dropped event
//!   fails with [`NotRestored::EventsDropped`] and the client gets a fresh session, so recovery
//!   never silently loses events. (The check is conservative: a dropped event that the session
//!   would not have received also counts.) The reference keeps events unbounded.
//! - **Bound on sessions** ([`RecoveryConfig::max_sessions`]): when full, saving a session drops
//!   the one closest to expiry. Each session costs its rooms and data.
//! - **Expiry**: a session saved at `t` can be restored strictly before
//!   `t + max_disconnection_duration`; at that instant it is gone (the reference, checking once a
//!   minute with millisecond clocks, keeps it through that millisecond). Events expire the same
//!   way, `max_disconnection_duration` after they were stored.
//! - **Once**: a restore attempt consumes the session, successful or not.
//! - Missed events are filtered by the session's rooms against each event's targets, like the
//!   reference (`shouldIncludePacket`), plus the sender exclusion.
//!
//! ```
//! use core::time::Duration;
//! use socketio_protocol::recovery::{RecoveryConfig, RecoveryStore, SessionRecord};
//! use socketio_protocol::rooms::BroadcastOptions;
//! use socketio_protocol::socket::{DisconnectReason, Packet};
//! use socketio_protocol::{Instant, Str, Value};
//!
//! let mut store = RecoveryStore::new(RecoveryConfig::default(), || [7; 15]);
//! let pid = store.generate_pid().unwrap();
//!
//! // The socket disconnects (transport close) while in room "news".
//! let record = SessionRecord {
//!     sid: Str::from("sid-1"),
//!     pid: pid.clone(),
//!     rooms: [Str::from("sid-1"), Str::from("news")].into_iter().collect(),
//!     data: Value::Null,
//! };
//! let t0 = Instant::from_millis(1_000);
//! assert!(store.save_session(t0, DisconnectReason::TransportClose, record));
//!
//! // Two broadcasts happen meanwhile; only the one to "news" concerns the session.
//! let mut first = Packet::event("/", Value::Array(vec!["tick".into()]));
//! let offset = store.store_broadcast(t0, &mut first, false, &BroadcastOptions::new()).unwrap();
//! let mut other = Packet::event("/", Value::Array(vec!["hidden".into()]));
//! store.store_broadcast(t0, &mut other, false, &BroadcastOptions::new().to("sports"));
//! let mut news = Packet::event("/", Value::Array(vec!["headline".into()]));
//! store.store_broadcast(t0, &mut news, false, &BroadcastOptions::new().to("news"));
//!
//! // The client saw the first event (its last argument is the offset) and reconnects.
//! let restored = store.restore(t0 + Duration::from_secs(5), &pid, &offset).unwrap();
//! assert_eq!(restored.sid, "sid-1");
//! assert_eq!(restored.missed, [news]);
//! // A session is usable once.
//! assert!(store.restore(t0 + Duration::from_secs(5), &pid, &offset).is_err());
//! ```

use alloc::boxed::Box;
use alloc::collections::{BTreeMap, BTreeSet, VecDeque};
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;
use core::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE;
use bytes::Bytes;

use crate::rooms::BroadcastOptions;
use crate::socket::{DisconnectReason, Packet, PacketKind, Payload};
use crate::str::Str;
use crate::time::Instant;
use crate::value::Value;

/// How many generated pids may collide with stored sessions before giving up.
const ID_ATTEMPTS: usize = 8;

/// Connection state recovery settings (the reference `connectionStateRecovery` option).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecoveryConfig {
    /// How long a disconnected session, and every stored event, is kept (120 s).
    pub max_disconnection_duration: Duration,
    /// Whether a recovered socket skips the connect middlewares (true); read by the server.
    pub skip_middlewares: bool,
    /// Most events kept at once (10 000); the oldest is dropped beyond it.
    pub max_stored_packets: usize,
    /// Most disconnected sessions kept at once (10 000); the one closest to expiry is dropped.
    pub max_sessions: usize,
}

impl Default for RecoveryConfig {
    fn default() -> Self {
        RecoveryConfig {
            max_disconnection_duration: Duration::from_secs(120),
            skip_middlewares: true,
            max_stored_packets: 10_000,
            max_sessions: 10_000,
        }
    }
}

/// What the server keeps of a socket that disconnected recoverably.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionRecord {
    /// The public socket id, given back on restore.
    pub sid: Str,
    /// The private session id the client will present.
    pub pid: Str,
    /// The rooms the socket was in (its own id room included).
    pub rooms: BTreeSet<Str>,
    /// The socket's application data (`socket.data`).
    pub data: Value,
}

/// A session given back by [`RecoveryStore::restore`].
#[derive(Debug, Clone, PartialEq)]
pub struct Restored {
    /// The socket id to reuse.
    pub sid: Str,
    /// The private session id to reuse.
    pub pid: Str,
    /// The rooms to rejoin.
    pub rooms: BTreeSet<Str>,
    /// The socket's application data.
    pub data: Value,
    /// The events the client missed, oldest first, each with its offset as last argument; send
    /// them before the CONNECT reply.
    pub missed: Vec<Packet>,
}

/// Why [`RecoveryStore::restore`] gave no session (the client then gets a fresh one).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum NotRestored {
    /// No session with that pid is kept (never saved, already used, or dropped by the cap).
    UnknownSession,
    /// The session was kept for `max_disconnection_duration` and has expired.
    Expired,
    /// The offset was not issued by this store.
    InvalidOffset,
    /// Events after the client's offset were dropped (age or bound): the range is incomplete.
    EventsDropped,
}

impl fmt::Display for NotRestored {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            NotRestored::UnknownSession => "unknown session",
            NotRestored::Expired => "session expired",
            NotRestored::InvalidOffset => "unknown offset",
            NotRestored::EventsDropped => "missed events no longer available",
        })
    }
}

impl core::error::Error for NotRestored {}

/// One stored broadcast event.
#[derive(Debug, Clone)]
struct StoredPacket {
    seq: u64,
    emitted_at: Instant,
    packet: Packet,
    opts: BroadcastOptions,
}

/// A kept session and when it expires.
#[derive(Debug, Clone)]
struct Session {
    record: SessionRecord,
    expires_at: Instant,
}

/// The per-namespace recovery store: disconnected sessions and recent broadcast events.
pub struct RecoveryStore {
    config: RecoveryConfig,
    ids: Box<dyn FnMut() -> [u8; 15] + Send>,
    tag: String,
    next_seq: u64,
    packets: VecDeque<StoredPacket>,
    sessions: BTreeMap<Str, Session>,
    expiries: BTreeSet<(Instant, Str)>,
}

impl fmt::Debug for RecoveryStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecoveryStore")
            .field("config", &self.config)
            .field("tag", &self.tag)
            .field("next_seq", &self.next_seq)
            .field("packets", &self.packets.len())
            .field("sessions", &self.sessions.len())
            .finish_non_exhaustive()
    }
}

impl RecoveryStore {
    /// A store with `config`; `ids` yields 15 random bytes per pid (base64url → 20 chars) and
    /// once for the offset tag.
    pub fn new(config: RecoveryConfig, ids: impl FnMut() -> [u8; 15] + Send + 'static) -> Self {
        let mut ids: Box<dyn FnMut() -> [u8; 15] + Send> = Box::new(ids);
        let seed = ids();
        let tag = URL_SAFE.encode(&seed[..6]);
        RecoveryStore {
            config,
            ids,
            tag,
            next_seq: 0,
            packets: VecDeque::new(),
            sessions: BTreeMap::new(),
            expiries: BTreeSet::new(),
        }
    }

    /// The settings.
    pub fn config(&self) -> &RecoveryConfig {
        &self.config
    }

    /// A fresh private session id that no kept session uses (`None` if the generator keeps
    /// colliding).
    pub fn generate_pid(&mut self) -> Option<Str> {
        for _ in 0..ID_ATTEMPTS {
            let pid = Str::from(URL_SAFE.encode((self.ids)()));
            if !self.sessions.contains_key(&pid) {
                return Some(pid);
            }
        }
        None
    }

    /// Records a broadcast about to be sent to the sockets `opts` selects.
    ///
    /// A non-volatile EVENT without an ack id whose data is an array gets a new offset appended
    /// as its last argument and is stored; the offset is returned. Anything else is left
    /// untouched and not stored (`None`). Beyond [`RecoveryConfig::max_stored_packets`] the
    /// oldest event is dropped.
    pub fn store_broadcast(
        &mut self,
        now: Instant,
        packet: &mut Packet,
        volatile: bool,
        opts: &BroadcastOptions,
    ) -> Option<Str> {
        self.expire_packets(now);
        if volatile || packet.kind != PacketKind::Event || packet.id.is_some() {
            return None;
        }
        let seq = self.next_seq;
        let offset = self.offset(seq);
        if !append_offset(packet.data.as_mut()?, &offset) {
            return None;
        }
        self.next_seq += 1;
        self.packets.push_back(StoredPacket {
            seq,
            emitted_at: now,
            packet: packet.clone(),
            opts: opts.clone(),
        });
        while self.packets.len() > self.config.max_stored_packets {
            self.packets.pop_front();
        }
        Some(offset)
    }

    /// Keeps a disconnected socket's session if `reason` is recoverable; true if kept.
    ///
    /// Beyond [`RecoveryConfig::max_sessions`] the session closest to expiry is dropped. A
    /// session with the same pid is replaced.
    pub fn save_session(
        &mut self,
        now: Instant,
        reason: DisconnectReason,
        record: SessionRecord,
    ) -> bool {
        self.expire_sessions(now);
        if !reason.is_recoverable() || self.config.max_sessions == 0 {
            return false;
        }
        self.remove_session(&record.pid);
        while self.sessions.len() >= self.config.max_sessions {
            let Some((_, oldest)) = self.expiries.first().cloned() else {
                break;
            };
            self.remove_session(&oldest);
        }
        let expires_at = now.saturating_add(self.config.max_disconnection_duration);
        self.expiries.insert((expires_at, record.pid.clone()));
        self.sessions
            .insert(record.pid.clone(), Session { record, expires_at });
        true
    }

    /// Gives back the session `pid` with the events it missed after `offset` (the last offset
    /// the client saw). The session is consumed whatever the outcome.
    pub fn restore(
        &mut self,
        now: Instant,
        pid: &str,
        offset: &str,
    ) -> Result<Restored, NotRestored> {
        let session = self
            .take_session(&Str::from(String::from(pid)))
            .ok_or(NotRestored::UnknownSession)?;
        if now >= session.expires_at {
            return Err(NotRestored::Expired);
        }
        self.expire_packets(now);
        let seen = self
            .parse_offset(offset)
            .ok_or(NotRestored::InvalidOffset)?;
        if seen >= self.next_seq {
            return Err(NotRestored::InvalidOffset);
        }
        let first = self.packets.front().map_or(self.next_seq, |p| p.seq);
        if seen + 1 < first {
            return Err(NotRestored::EventsDropped);
        }
        let record = session.record;
        let missed = self.stored_after(seen, &record.sid, &record.rooms);
        Ok(Restored {
            sid: record.sid,
            pid: record.pid,
            rooms: record.rooms,
            data: record.data,
            missed,
        })
    }

    /// The second step of a restore: the events for socket `sid` in `rooms` stored after
    /// `offset`, i.e. those broadcast while its session was being restored (between
    /// [`RecoveryStore::restore`] and the moment it joined its rooms again), oldest first.
    pub fn missed_since(
        &mut self,
        now: Instant,
        sid: &Str,
        rooms: &BTreeSet<Str>,
        offset: &str,
    ) -> Result<Vec<Packet>, NotRestored> {
        self.expire_packets(now);
        let seen = self
            .parse_offset(offset)
            .ok_or(NotRestored::InvalidOffset)?;
        let first = self.packets.front().map_or(self.next_seq, |p| p.seq);
        if seen + 1 < first {
            return Err(NotRestored::EventsDropped);
        }
        Ok(self.stored_after(seen, sid, rooms))
    }

    /// The stored events after counter `seen` that reach `sid` in `rooms`.
    fn stored_after(&self, seen: u64, sid: &Str, rooms: &BTreeSet<Str>) -> Vec<Packet> {
        let first = self.packets.front().map_or(self.next_seq, |p| p.seq);
        let skip = usize::try_from((seen + 1).saturating_sub(first)).unwrap_or(usize::MAX);
        self.packets
            .iter()
            .skip(skip)
            .filter(|stored| stored.opts.includes(sid, rooms))
            .map(|stored| stored.packet.clone())
            .collect()
    }

    /// Drops the sessions and events whose time is up.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.expire_sessions(now);
        self.expire_packets(now);
    }

    /// The next instant at which [`RecoveryStore::handle_timeout`] has work, if any.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        let session = self.expiries.first().map(|(at, _)| *at);
        let packet = self.packets.front().map(|p| self.packet_expiry(p));
        match (session, packet) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// How many disconnected sessions are kept.
    pub fn session_count(&self) -> usize {
        self.sessions.len()
    }

    /// How many events are stored.
    pub fn stored_packet_count(&self) -> usize {
        self.packets.len()
    }

    /// True if a session with `pid` is kept (expired ones may linger until the next call).
    pub fn has_session(&self, pid: &str) -> bool {
        self.sessions.contains_key(&Str::from(String::from(pid)))
    }

    /// The offset string of counter `seq`.
    fn offset(&self, seq: u64) -> Str {
        let mut text = String::with_capacity(self.tag.len() + 21);
        text.push_str(&self.tag);
        text.push('.');
        text.push_str(itoa::Buffer::new().format(seq));
        Str::from(text)
    }

    /// The counter of an offset this store issued (canonical decimal after `<tag>.`).
    fn parse_offset(&self, offset: &str) -> Option<u64> {
        let digits = offset.strip_prefix(self.tag.as_str())?.strip_prefix('.')?;
        let canonical = !digits.is_empty()
            && digits.bytes().all(|b| b.is_ascii_digit())
            && (digits == "0" || !digits.starts_with('0'));
        if canonical { digits.parse().ok() } else { None }
    }

    /// When a stored event stops being kept.
    fn packet_expiry(&self, packet: &StoredPacket) -> Instant {
        packet
            .emitted_at
            .saturating_add(self.config.max_disconnection_duration)
    }

    /// Drops events older than the window, oldest first.
    fn expire_packets(&mut self, now: Instant) {
        while let Some(front) = self.packets.front() {
            if self.packet_expiry(front) > now {
                break;
            }
            self.packets.pop_front();
        }
    }

    /// Drops sessions whose window is over.
    fn expire_sessions(&mut self, now: Instant) {
        while let Some((at, pid)) = self.expiries.first().cloned() {
            if at > now {
                break;
            }
            self.remove_session(&pid);
        }
    }

    /// Removes and returns the session `pid`.
    fn take_session(&mut self, pid: &Str) -> Option<Session> {
        let session = self.sessions.remove(pid)?;
        self.expiries
            .remove(&(session.expires_at, session.record.pid.clone()));
        Some(session)
    }

    /// Removes the session `pid`, if kept.
    fn remove_session(&mut self, pid: &Str) {
        let _ = self.take_session(pid);
    }
}

/// Where an offset stands in its store's order, to tell which of two events came first: a
/// Redis stream entry id `<ms>-<seq>` gives `(ms, seq)`, an offset of [`RecoveryStore`]
/// (`<tag>.<seq>`) gives `(0, seq)`. `None` for anything else.
#[must_use]
pub fn offset_order(offset: &str) -> Option<(u64, u64)> {
    let digits = |text: &str| {
        (!text.is_empty() && text.len() <= 20 && text.bytes().all(|b| b.is_ascii_digit()))
            .then(|| text.parse().ok())
            .flatten()
    };
    if let Some((_, seq)) = offset.rsplit_once('.') {
        return Some((0, digits(seq)?));
    }
    let (ms, seq) = offset.split_once('-')?;
    Some((digits(ms)?, digits(seq)?))
}

/// Appends `offset` as the last item of an event's data array; false if the data is not an
/// array (then nothing changes).
///
/// A [`Payload::Value`] array gets a string pushed; [`Payload::Json`] text gets `,"<offset>"`
/// spliced before its closing bracket (or `"<offset>"` into an empty array).
pub fn append_offset(payload: &mut Payload, offset: &str) -> bool {
    match payload {
        Payload::Value(Value::Array(items)) => {
            items.push(Value::String(String::from(offset)));
            true
        }
        Payload::Value(_) => false,
        Payload::Json(text) => match splice_json(text.as_bytes(), offset) {
            Some(spliced) => {
                *text = spliced;
                true
            }
            None => false,
        },
        #[cfg(feature = "msgpack")]
        Payload::Msgpack(data) => {
            let mut value = data.to_value();
            let Value::Array(items) = &mut value else {
                return false;
            };
            items.push(Value::String(String::from(offset)));
            *data = crate::socket::MsgpackData::from_value(&value);
            true
        }
    }
}

/// `text` (a JSON array, possibly padded with whitespace) with `offset` added as last item.
fn splice_json(text: &[u8], offset: &str) -> Option<Str> {
    let is_space = |b: &u8| matches!(b, b' ' | b'\t' | b'\n' | b'\r');
    let start = text.iter().position(|b| !is_space(b))?;
    let end = text.iter().rposition(|b| !is_space(b))?;
    if text[start] != b'[' || text[end] != b']' || end == start {
        return None;
    }
    let empty = text[start + 1..end].iter().all(is_space);
    let mut out = Vec::with_capacity(text.len() + offset.len() + 3);
    out.extend_from_slice(&text[..end]);
    if !empty {
        out.push(b',');
    }
    crate::json::write_str(offset, &mut out);
    out.extend_from_slice(&text[end..]);
    Str::from_utf8(Bytes::from(out)).ok()
}
