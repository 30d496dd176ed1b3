//! What `to`, `except`, `within`, `join` and `leave` take: one room name of any string type,
//! or several at once.
//!
//! ```no_run
//! # fn io() -> socketio::Server { unimplemented!() }
//! # fn socket() -> socketio::Socket { unimplemented!() }
//! let lobby = String::from("lobby");
//! socket().join(["news", "sports"]); // several rooms at once
//! socket().join(&lobby); // a &String, no `.as_str()`
//! io().to(vec![lobby.clone(), "vip".to_owned()]).except(socket().id()).emit("hi", &1).ok();
//! ```

use std::borrow::Cow;
use std::sync::Arc;

use socketio_protocol::Str;

/// One room name: `&str`, `String`, `&String`, `Str`, `Arc<str>`, `Box<str>`, `Cow<str>`.
///
/// ```
/// use socketio::Room;
/// assert_eq!(&*String::from("a").into_room(), "a");
/// ```
pub trait Room {
    /// The name.
    fn into_room(self) -> Str;
}

impl Room for &str {
    fn into_room(self) -> Str {
        Str::from(self.to_owned())
    }
}

impl Room for String {
    fn into_room(self) -> Str {
        Str::from(self)
    }
}

impl Room for &String {
    fn into_room(self) -> Str {
        Str::from(self.clone())
    }
}

impl Room for Str {
    fn into_room(self) -> Str {
        self
    }
}

impl Room for &Str {
    fn into_room(self) -> Str {
        self.clone()
    }
}

impl Room for Arc<str> {
    fn into_room(self) -> Str {
        Str::from(self.to_string())
    }
}

impl Room for Box<str> {
    fn into_room(self) -> Str {
        Str::from(String::from(self))
    }
}

impl Room for Cow<'_, str> {
    fn into_room(self) -> Str {
        Str::from(self.into_owned())
    }
}

/// One room or several: any [`Room`], or an array, `Vec` or slice of them.
///
/// ```
/// use socketio::Rooms;
/// let mut names = Vec::new();
/// ["a", "b"].each_room(&mut |room| names.push(room.to_string()));
/// "c".each_room(&mut |room| names.push(room.to_string()));
/// assert_eq!(names, ["a", "b", "c"]);
/// ```
pub trait Rooms {
    /// Hands each room name to `f`, in order.
    fn each_room(self, f: &mut dyn FnMut(Str));
}

impl<R: Room> Rooms for R {
    fn each_room(self, f: &mut dyn FnMut(Str)) {
        f(self.into_room());
    }
}

impl<R: Room> Rooms for Vec<R> {
    fn each_room(self, f: &mut dyn FnMut(Str)) {
        for room in self {
            f(room.into_room());
        }
    }
}

impl<R: Room, const N: usize> Rooms for [R; N] {
    fn each_room(self, f: &mut dyn FnMut(Str)) {
        for room in self {
            f(room.into_room());
        }
    }
}

impl<R: Room + Clone> Rooms for &[R] {
    fn each_room(self, f: &mut dyn FnMut(Str)) {
        for room in self {
            f(room.clone().into_room());
        }
    }
}

/// The rooms as a list.
pub(crate) fn room_list(rooms: impl Rooms) -> Vec<Str> {
    let mut list = Vec::new();
    rooms.each_room(&mut |room| list.push(room));
    list
}
