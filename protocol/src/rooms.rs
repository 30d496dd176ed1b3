//! The room index and broadcast selection of one namespace, as the reference in-memory adapter
//! keeps them.
//!
//! A [`RoomIndex`] maps rooms to their sockets and sockets to their rooms (both directions are
//! indexed, so every join, leave and lookup is `O(log n)`). Empty rooms are removed at once; the
//! [`Joined`] / [`Left`] results say when a room was created or deleted (the reference adapter's
//! `create-room` / `delete-room` events).
//!
//! Every socket is, in the reference, also a member of a room named by its own id
//! (`socket.join(socket.id)` on connect). The index does **not** do that by itself, because
//! socket ids and room names may be different types; call [`RoomIndex::connect`] (when both are
//! the same type, e.g. [`Str`]) to register a socket *and* join its own room, or
//! [`RoomIndex::add_socket`] to register it only.
//!
//! A broadcast targets the union of [`BroadcastOptions::rooms`] (all sockets when empty), minus
//! the sockets in any [`BroadcastOptions::except`] room, minus [`BroadcastOptions::except_sockets`]
//! (e.g. the sender). [`RoomIndex::select`] yields each target once, in ascending socket-id order.
//! The packet is encoded once ([`Broadcast`]) and every target gets a reference-counted clone of
//! the same bytes.
//!
//! Memory is one entry per (socket, room) pair in each direction; a set of up to
//! [`RoomSet::SMALL`] entries (a socket's rooms, its own room) is a vector of exactly that
//! size, a larger one a B-tree. Only the application joins
//! rooms, so the index has no cap of its own; bound what a client can make the server join.
//!
//! ```
//! use socketio_protocol::rooms::{Broadcast, BroadcastOptions, RoomIndex};
//! use socketio_protocol::socket::{Packet, ProtocolVersion};
//! use socketio_protocol::{Str, Value};
//!
//! let mut index: RoomIndex = RoomIndex::new();
//! for id in ["a", "b", "c"] {
//!     index.connect(Str::from(id));
//! }
//! index.join(Str::from("a"), Str::from("lobby"));
//! index.join(Str::from("b"), Str::from("lobby"));
//!
//! // `socket.broadcast.to("lobby").emit(...)` from "a": the lobby minus the sender.
//! let opts = BroadcastOptions::new().to("lobby").except_socket("a");
//! let targets: Vec<&Str> = index.select(&opts).collect();
//! assert_eq!(targets, ["b"]);
//!
//! let packet = Packet::event("/", Value::Array(vec!["hello".into()]));
//! let broadcast = Broadcast::encode(&packet, ProtocolVersion::V5);
//! for (socket, frames) in broadcast.deliveries(index.select(&opts)) {
//!     assert_eq!(socket, "b");
//!     assert_eq!(frames.text, r#"2["hello"]"#);
//! }
//!
//! // On disconnect the socket leaves every room; "lobby" still has "b".
//! let left = index.leave_all(&Str::from("a"));
//! assert_eq!(left.rooms, ["a", "lobby"]);
//! assert_eq!(left.deleted_rooms, ["a"]);
//! ```

use alloc::collections::{BTreeMap, BTreeSet, btree_map, btree_set};
use alloc::vec::Vec;

use crate::socket::parser::common::{self, Encoded};
use crate::socket::{Packet, ProtocolVersion};
use crate::str::Str;
use crate::vecmap::VecMap;

/// What [`RoomIndex::join`] changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Joined {
    /// The socket was not in the room before (`join-room`).
    pub joined: bool,
    /// The room did not exist before (`create-room`).
    pub created_room: bool,
}

/// What [`RoomIndex::leave`] changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Left {
    /// The socket was in the room (`leave-room`).
    pub left: bool,
    /// The room became empty and was removed (`delete-room`).
    pub deleted_room: bool,
}

/// What [`RoomIndex::leave_all`] changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeftAll<R> {
    /// Every room the socket was in, in ascending order.
    pub rooms: Vec<R>,
    /// The rooms that became empty and were removed, in ascending order.
    pub deleted_rooms: Vec<R>,
}

impl<R> Default for LeftAll<R> {
    fn default() -> Self {
        LeftAll {
            rooms: Vec::new(),
            deleted_rooms: Vec::new(),
        }
    }
}

/// Which sockets a broadcast (or a `fetchSockets` / `socketsJoin` / `disconnectSockets`
/// operation) targets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BroadcastOptions<S = Str, R = Str> {
    /// Target the union of these rooms; every socket of the namespace when empty.
    pub rooms: BTreeSet<R>,
    /// Leave out every socket that is in any of these rooms.
    pub except: BTreeSet<R>,
    /// Leave out these sockets (e.g. the sender of `socket.broadcast.emit`).
    pub except_sockets: BTreeSet<S>,
}

impl<S, R> Default for BroadcastOptions<S, R> {
    fn default() -> Self {
        BroadcastOptions {
            rooms: BTreeSet::new(),
            except: BTreeSet::new(),
            except_sockets: BTreeSet::new(),
        }
    }
}

impl<S: Ord, R: Ord> BroadcastOptions<S, R> {
    /// Options that target every socket.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `room` to the target rooms (`.to(room)`).
    pub fn to(mut self, room: impl Into<R>) -> Self {
        self.rooms.insert(room.into());
        self
    }

    /// Leaves out the sockets in `room` (`.except(room)`).
    pub fn except(mut self, room: impl Into<R>) -> Self {
        self.except.insert(room.into());
        self
    }

    /// Leaves out one socket (the sender, for `socket.broadcast`).
    pub fn except_socket(mut self, socket: impl Into<S>) -> Self {
        self.except_sockets.insert(socket.into());
        self
    }

    /// True if a socket with `id` that is in exactly `rooms` is targeted.
    ///
    /// This is the same filter [`RoomIndex::select`] applies, usable without an index (the
    /// recovery store uses it for a disconnected session).
    pub fn includes<'a>(&self, id: &S, rooms: impl IntoIterator<Item = &'a R> + Clone) -> bool
    where
        R: 'a,
    {
        let included =
            self.rooms.is_empty() || rooms.clone().into_iter().any(|r| self.rooms.contains(r));
        included
            && !self.except_sockets.contains(id)
            && !rooms.into_iter().any(|r| self.except.contains(r))
    }
}

/// A set of socket ids or room names, in ascending order: a sorted vector up to
/// [`SMALL`](Self::SMALL) entries (what nearly every socket's room set and every socket's own
/// room is: a B-tree node would take 368 bytes for one id), a B-tree beyond.
#[derive(Debug, Clone)]
pub struct RoomSet<T>(VecMap<T, (), { RoomSet::<()>::SMALL }>);

impl<T> Default for RoomSet<T> {
    fn default() -> Self {
        RoomSet(VecMap::default())
    }
}

impl<T: PartialEq> PartialEq for RoomSet<T> {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl<T: Eq> Eq for RoomSet<T> {}

impl<T> RoomSet<T> {
    /// Most entries kept as a sorted vector.
    pub const SMALL: usize = 8;

    /// The entries in ascending order.
    pub fn iter(&self) -> RoomSetIter<'_, T> {
        RoomSetIter(self.0.iter())
    }

    /// How many entries.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True if empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl<T: Ord> RoomSet<T> {
    /// True if `item` is in the set.
    pub fn contains(&self, item: &T) -> bool {
        self.0.contains_key(item)
    }

    /// Adds `item`; false if it was there already.
    pub fn insert(&mut self, item: T) -> bool {
        self.0.insert(item, ()).is_none()
    }

    /// Removes `item`; false if it was not there.
    pub fn remove(&mut self, item: &T) -> bool {
        self.0.remove(item).is_some()
    }
}

impl<'a, T> IntoIterator for &'a RoomSet<T> {
    type Item = &'a T;
    type IntoIter = RoomSetIter<'a, T>;

    fn into_iter(self) -> RoomSetIter<'a, T> {
        self.iter()
    }
}

impl<T> IntoIterator for RoomSet<T> {
    type Item = T;
    type IntoIter = RoomSetIntoIter<T>;

    fn into_iter(self) -> RoomSetIntoIter<T> {
        RoomSetIntoIter(self.0.into_keys())
    }
}

/// The entries of a [`RoomSet`], in ascending order.
#[derive(Debug, Clone)]
pub struct RoomSetIter<'a, T>(crate::vecmap::Iter<'a, T, ()>);

impl<T> Default for RoomSetIter<'_, T> {
    fn default() -> Self {
        RoomSetIter(crate::vecmap::Iter::default())
    }
}

impl<'a, T> Iterator for RoomSetIter<'a, T> {
    type Item = &'a T;

    fn next(&mut self) -> Option<&'a T> {
        self.0.next().map(|(item, ())| item)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.0.size_hint()
    }
}

impl<T> ExactSizeIterator for RoomSetIter<'_, T> {}

/// The entries of a [`RoomSet`] by value, in ascending order.
#[derive(Debug)]
pub struct RoomSetIntoIter<T>(crate::vecmap::IntoKeys<T, ()>);

impl<T> Iterator for RoomSetIntoIter<T> {
    type Item = T;

    fn next(&mut self) -> Option<T> {
        self.0.next()
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.0.size_hint()
    }
}

/// The rooms of one namespace, indexed both ways.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomIndex<S = Str, R = Str> {
    rooms: BTreeMap<R, RoomSet<S>>,
    sockets: BTreeMap<S, RoomSet<R>>,
}

impl<S, R> Default for RoomIndex<S, R> {
    fn default() -> Self {
        RoomIndex {
            rooms: BTreeMap::new(),
            sockets: BTreeMap::new(),
        }
    }
}

impl<S: Ord + Clone, R: Ord + Clone> RoomIndex<S, R> {
    /// An empty index.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers a socket without joining any room; returns false if it was known already.
    ///
    /// A registered socket is targeted by broadcasts to all sockets even if it is in no room.
    pub fn add_socket(&mut self, socket: S) -> bool {
        match self.sockets.entry(socket) {
            btree_map::Entry::Occupied(_) => false,
            btree_map::Entry::Vacant(entry) => {
                entry.insert(RoomSet::default());
                true
            }
        }
    }

    /// Adds `socket` to `room`, registering the socket if needed.
    pub fn join(&mut self, socket: S, room: R) -> Joined {
        let rooms = self.sockets.entry(socket.clone()).or_default();
        if rooms.contains(&room) {
            return Joined::default();
        }
        rooms.insert(room.clone());
        let mut created_room = false;
        let members = self.rooms.entry(room).or_insert_with(|| {
            created_room = true;
            RoomSet::default()
        });
        members.insert(socket);
        Joined {
            joined: true,
            created_room,
        }
    }

    /// Adds `socket` to every room of `rooms`; returns the rooms that were created.
    pub fn join_many(&mut self, socket: S, rooms: impl IntoIterator<Item = R>) -> Vec<R> {
        let mut created = Vec::new();
        for room in rooms {
            if self.join(socket.clone(), room.clone()).created_room {
                created.push(room);
            }
        }
        created
    }

    /// Removes `socket` from `room` (the socket stays registered); empty rooms are removed.
    pub fn leave(&mut self, socket: &S, room: &R) -> Left {
        let Some(rooms) = self.sockets.get_mut(socket) else {
            return Left::default();
        };
        if !rooms.remove(room) {
            return Left::default();
        }
        let deleted_room = self.remove_member(room, socket);
        Left {
            left: true,
            deleted_room,
        }
    }

    /// Removes `socket` from every room and forgets it (on disconnect).
    pub fn leave_all(&mut self, socket: &S) -> LeftAll<R> {
        let Some(rooms) = self.sockets.remove(socket) else {
            return LeftAll::default();
        };
        let mut deleted_rooms = Vec::new();
        for room in &rooms {
            if self.remove_member(room, socket) {
                deleted_rooms.push(room.clone());
            }
        }
        LeftAll {
            rooms: rooms.into_iter().collect(),
            deleted_rooms,
        }
    }

    /// Drops `socket` from the member set of `room`; true if the room became empty (removed).
    fn remove_member(&mut self, room: &R, socket: &S) -> bool {
        match self.rooms.get_mut(room) {
            Some(members) => {
                members.remove(socket);
                if members.is_empty() {
                    self.rooms.remove(room);
                    true
                } else {
                    false
                }
            }
            None => false,
        }
    }

    /// True if the socket is registered.
    pub fn contains_socket(&self, socket: &S) -> bool {
        self.sockets.contains_key(socket)
    }

    /// True if `socket` is in `room`.
    pub fn is_member(&self, socket: &S, room: &R) -> bool {
        self.rooms.get(room).is_some_and(|m| m.contains(socket))
    }

    /// The rooms of `socket` in ascending order (none if it is unknown).
    pub fn rooms_of(&self, socket: &S) -> RoomSetIter<'_, R> {
        match self.sockets.get(socket) {
            Some(rooms) => rooms.iter(),
            None => RoomSetIter::default(),
        }
    }

    /// The sockets in `room`, in ascending order (none if the room does not exist).
    pub fn sockets_in(&self, room: &R) -> RoomSetIter<'_, S> {
        match self.rooms.get(room) {
            Some(members) => members.iter(),
            None => RoomSetIter::default(),
        }
    }

    /// Every room that has at least one member, in ascending order.
    pub fn rooms(&self) -> btree_map::Keys<'_, R, RoomSet<S>> {
        self.rooms.keys()
    }

    /// Every registered socket, in ascending order.
    pub fn sockets(&self) -> btree_map::Keys<'_, S, RoomSet<R>> {
        self.sockets.keys()
    }

    /// How many sockets are registered.
    pub fn len(&self) -> usize {
        self.sockets.len()
    }

    /// True if no socket is registered.
    pub fn is_empty(&self) -> bool {
        self.sockets.is_empty()
    }

    /// How many rooms exist (every room has at least one member).
    pub fn room_count(&self) -> usize {
        self.rooms.len()
    }

    /// The sockets `opts` targets: each once, in ascending id order.
    pub fn select<'a>(&'a self, opts: &'a BroadcastOptions<S, R>) -> Selection<'a, S, R> {
        let source = if opts.rooms.is_empty() {
            Source::All(self.sockets.keys())
        } else if opts.rooms.len() == 1 {
            let room = opts.rooms.iter().next();
            Source::One(room.map_or_else(RoomSetIter::default, |r| self.sockets_in(r)))
        } else {
            let union: BTreeSet<&S> = opts
                .rooms
                .iter()
                .filter_map(|room| self.rooms.get(room))
                .flatten()
                .collect();
            Source::Many(union.into_iter())
        };
        Selection {
            index: self,
            opts,
            source,
        }
    }

    /// The sockets `opts` targets with their rooms (`fetchSockets`), in ascending id order.
    pub fn fetch_sockets<'a>(
        &'a self,
        opts: &'a BroadcastOptions<S, R>,
    ) -> impl Iterator<Item = (&'a S, &'a RoomSet<R>)> + 'a {
        self.select(opts)
            .filter_map(move |id| self.sockets.get_key_value(id))
    }

    /// Adds every socket `opts` targets to `room` (`socketsJoin`); returns how many joined.
    pub fn sockets_join(&mut self, opts: &BroadcastOptions<S, R>, room: R) -> usize {
        let targets: Vec<S> = self.select(opts).cloned().collect();
        targets
            .into_iter()
            .filter(|socket| self.join(socket.clone(), room.clone()).joined)
            .count()
    }

    /// Removes every socket `opts` targets from `room` (`socketsLeave`); returns how many left.
    pub fn sockets_leave(&mut self, opts: &BroadcastOptions<S, R>, room: &R) -> usize {
        let targets: Vec<S> = self.select(opts).cloned().collect();
        targets
            .iter()
            .filter(|socket| self.leave(socket, room).left)
            .count()
    }
}

impl<T: Ord + Clone> RoomIndex<T, T> {
    /// Registers `socket` and joins it to the room named by its own id, as the reference does
    /// on connect.
    pub fn connect(&mut self, socket: T) -> Joined {
        self.join(socket.clone(), socket)
    }
}

/// Where a [`Selection`] draws its candidates from.
#[derive(Debug)]
enum Source<'a, S, R> {
    /// Every socket (no target rooms).
    All(btree_map::Keys<'a, S, RoomSet<R>>),
    /// The members of a single room.
    One(RoomSetIter<'a, S>),
    /// The union of several rooms, deduplicated and sorted.
    Many(btree_set::IntoIter<&'a S>),
}

/// The sockets a broadcast targets: see [`RoomIndex::select`].
#[derive(Debug)]
pub struct Selection<'a, S, R> {
    index: &'a RoomIndex<S, R>,
    opts: &'a BroadcastOptions<S, R>,
    source: Source<'a, S, R>,
}

impl<'a, S: Ord, R: Ord> Iterator for Selection<'a, S, R> {
    type Item = &'a S;

    fn next(&mut self) -> Option<&'a S> {
        loop {
            let candidate = match &mut self.source {
                Source::All(keys) => keys.next()?,
                Source::One(iter) => iter.next()?,
                Source::Many(iter) => iter.next()?,
            };
            if self.opts.except_sockets.contains(candidate) {
                continue;
            }
            let excluded = !self.opts.except.is_empty()
                && self
                    .index
                    .sockets
                    .get(candidate)
                    .is_some_and(|rooms| excluded_by(rooms, &self.opts.except));
            if !excluded {
                return Some(candidate);
            }
        }
    }
}

/// True if the two sets intersect (walks the smaller one).
fn excluded_by<R: Ord>(rooms: &RoomSet<R>, except: &BTreeSet<R>) -> bool {
    if rooms.len() <= except.len() {
        rooms.iter().any(|r| except.contains(r))
    } else {
        except.iter().any(|r| rooms.contains(r))
    }
}

/// A packet encoded once for a broadcast; every recipient gets the same bytes (reference
/// counted, never copied).
#[derive(Debug, Clone, PartialEq)]
pub struct Broadcast {
    frames: Encoded,
}

impl Broadcast {
    /// Encodes `packet` once with the common (JSON) parser.
    pub fn encode(packet: &Packet, version: ProtocolVersion) -> Self {
        Broadcast {
            frames: common::encode(packet, version),
        }
    }

    /// Wraps frames that were already encoded.
    pub fn from_encoded(frames: Encoded) -> Self {
        Broadcast { frames }
    }

    /// The encoded frames (text header, then binary attachments).
    pub fn frames(&self) -> &Encoded {
        &self.frames
    }

    /// A copy of the frames for one recipient: the text and attachments share their storage.
    pub fn frames_for_recipient(&self) -> Encoded {
        self.frames.clone()
    }

    /// Pairs each target with its (shared) frames.
    pub fn deliveries<'a, S: 'a>(
        &'a self,
        targets: impl IntoIterator<Item = &'a S> + 'a,
    ) -> impl Iterator<Item = (&'a S, Encoded)> + 'a {
        targets
            .into_iter()
            .map(move |target| (target, self.frames_for_recipient()))
    }
}
