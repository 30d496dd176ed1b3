//! The emitter: sends to the clients of a cluster from a process that is not a server, in
//! the format of `@socket.io/redis-emitter` 5.1 (uid `"emitter"`), which the classic adapter
//! (ours and the official one) reads.

use std::collections::BTreeSet;

use redis::aio::MultiplexedConnection;
use serde::Serialize;
use socketio::Value;
use socketio::adapter::BroadcastOptions;
use socketio::protocol::Str;

use crate::error::RedisAdapterError;
use crate::wire::{self, OptsOrder, WireBroadcast};

/// The uid the emitter's messages carry.
pub const EMITTER_UID: &str = "emitter";

/// Events the emitter refuses, as the official one does.
const RESERVED_EVENTS: [&str; 6] = [
    "connect",
    "connect_error",
    "disconnect",
    "disconnecting",
    "newListener",
    "removeListener",
];

/// Sends to the sockets of a cluster through Redis, in the official emitter's format (uid
/// `"emitter"`), which classic nodes (ours and Node's) read.
///
/// ```no_run
/// # async fn f() -> Result<(), socketio_redis::RedisAdapterError> {
/// let client = redis::Client::open("redis://127.0.0.1:6379")?;
/// let conn = client.get_multiplexed_async_connection().await?;
/// let emitter = socketio_redis::Emitter::new(conn);
/// emitter.to("room1").emit("news", &("hello", 1)).await?;
/// emitter.of("/admin").except("muted").emit("alert", &true).await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Emitter {
    conn: MultiplexedConnection,
    key: String,
    nsp: String,
}

impl std::fmt::Debug for Emitter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Emitter")
            .field("key", &self.key)
            .field("nsp", &self.nsp)
            .finish_non_exhaustive()
    }
}

impl Emitter {
    /// An emitter on namespace `/` with the default `key` (`socket.io`).
    pub fn new(conn: MultiplexedConnection) -> Emitter {
        Emitter::with_key(conn, "socket.io")
    }

    /// An emitter with `key` (the adapters' `key` option).
    pub fn with_key(conn: MultiplexedConnection, key: impl Into<String>) -> Emitter {
        Emitter {
            conn,
            key: key.into(),
            nsp: "/".to_owned(),
        }
    }

    /// The same emitter on namespace `nsp` (a leading `/` is added if missing).
    pub fn of(&self, nsp: &str) -> Emitter {
        let nsp = if nsp.starts_with('/') {
            nsp.to_owned()
        } else {
            format!("/{nsp}")
        };
        Emitter {
            nsp,
            ..self.clone()
        }
    }

    fn operator(&self) -> EmitterOperator {
        EmitterOperator {
            emitter: self.clone(),
            rooms: BTreeSet::new(),
            except: BTreeSet::new(),
            volatile: false,
        }
    }

    /// Targets the sockets in `room` (call again for more rooms).
    pub fn to(&self, room: impl Into<String>) -> EmitterOperator {
        self.operator().to(room)
    }

    /// Leaves out the sockets in `room`.
    pub fn except(&self, room: impl Into<String>) -> EmitterOperator {
        self.operator().except(room)
    }

    /// Marks the emits volatile.
    pub fn volatile(&self) -> EmitterOperator {
        self.operator().volatile()
    }

    /// Emits `event` with `data` (a tuple is several arguments) to every socket.
    pub async fn emit<T: Serialize + ?Sized>(
        &self,
        event: &str,
        data: &T,
    ) -> Result<(), RedisAdapterError> {
        self.operator().emit(event, data).await
    }

    /// Makes every socket join `rooms`.
    pub async fn sockets_join(&self, rooms: &[&str]) -> Result<(), RedisAdapterError> {
        self.operator().sockets_join(rooms).await
    }

    /// Makes every socket leave `rooms`.
    pub async fn sockets_leave(&self, rooms: &[&str]) -> Result<(), RedisAdapterError> {
        self.operator().sockets_leave(rooms).await
    }

    /// Disconnects every socket (`close`: their whole connections).
    pub async fn disconnect_sockets(&self, close: bool) -> Result<(), RedisAdapterError> {
        self.operator().disconnect_sockets(close).await
    }

    /// Sends a server-side event to every server of the namespace (no acks: the official
    /// emitter refuses them too).
    pub async fn server_side_emit<T: Serialize + ?Sized>(
        &self,
        event: &str,
        data: &T,
    ) -> Result<(), RedisAdapterError> {
        let value = event_value(event, data)?;
        let payload = wire::encode_server_side_emit(EMITTER_UID, None, &value);
        self.publish(self.request_channel(), payload).await
    }

    fn request_channel(&self) -> String {
        format!("{}-request#{}#", self.key, self.nsp)
    }

    async fn publish(&self, channel: String, payload: Vec<u8>) -> Result<(), RedisAdapterError> {
        let mut conn = self.conn.clone();
        redis::cmd("PUBLISH")
            .arg(channel)
            .arg(payload)
            .query_async::<i64>(&mut conn)
            .await?;
        Ok(())
    }
}

/// An emitter with a selection (`to`, `except`) and flags.
#[derive(Debug, Clone)]
pub struct EmitterOperator {
    emitter: Emitter,
    rooms: BTreeSet<String>,
    except: BTreeSet<String>,
    volatile: bool,
}

impl EmitterOperator {
    /// Also targets the sockets in `room`.
    pub fn to(mut self, room: impl Into<String>) -> Self {
        self.rooms.insert(room.into());
        self
    }

    /// Also leaves out the sockets in `room`.
    pub fn except(mut self, room: impl Into<String>) -> Self {
        self.except.insert(room.into());
        self
    }

    /// Marks the emit volatile.
    pub fn volatile(mut self) -> Self {
        self.volatile = true;
        self
    }

    fn opts(&self) -> BroadcastOptions {
        wire::opts_from_lists(
            self.rooms.iter().map(|r| Str::from(r.clone())).collect(),
            self.except.iter().map(|r| Str::from(r.clone())).collect(),
        )
    }

    /// Emits `event` with `data` (a tuple is several arguments) to the selected sockets.
    pub async fn emit<T: Serialize + ?Sized>(
        self,
        event: &str,
        data: &T,
    ) -> Result<(), RedisAdapterError> {
        let data = event_value(event, data)?;
        let opts = self.opts();
        let channel = format!("{}#{}#", self.emitter.key, self.emitter.nsp);
        let channel = match (self.rooms.len(), self.rooms.iter().next()) {
            (1, Some(room)) => format!("{channel}{room}#"),
            _ => channel,
        };
        let message = WireBroadcast {
            uid: EMITTER_UID.to_owned(),
            nsp: self.emitter.nsp.clone(),
            data,
            rooms: opts.rooms.into_iter().collect(),
            except: opts.except.into_iter().collect(),
            volatile: self.volatile,
        };
        self.emitter
            .publish(
                channel,
                wire::encode_broadcast(&message, OptsOrder::Emitter),
            )
            .await
    }

    /// Makes the selected sockets join `rooms`.
    pub async fn sockets_join(self, rooms: &[&str]) -> Result<(), RedisAdapterError> {
        self.rooms_request(true, rooms).await
    }

    /// Makes the selected sockets leave `rooms`.
    pub async fn sockets_leave(self, rooms: &[&str]) -> Result<(), RedisAdapterError> {
        self.rooms_request(false, rooms).await
    }

    async fn rooms_request(self, join: bool, rooms: &[&str]) -> Result<(), RedisAdapterError> {
        let rooms: Vec<Str> = rooms.iter().map(|r| Str::from((*r).to_owned())).collect();
        let payload = wire::encode_remote_rooms(None, join, &self.opts(), &rooms);
        self.emitter
            .publish(self.emitter.request_channel(), payload)
            .await
    }

    /// Disconnects the selected sockets (`close`: their whole connections).
    pub async fn disconnect_sockets(self, close: bool) -> Result<(), RedisAdapterError> {
        let payload = wire::encode_remote_disconnect(None, &self.opts(), close);
        self.emitter
            .publish(self.emitter.request_channel(), payload)
            .await
    }
}

/// `[event, ...args]`: a tuple is spread into several arguments, `()` is none (as the
/// server's `emit` does).
fn event_value<T: Serialize + ?Sized>(event: &str, data: &T) -> Result<Value, RedisAdapterError> {
    if RESERVED_EVENTS.contains(&event) {
        return Err(RedisAdapterError::Serialize(format!(
            "\"{event}\" is a reserved event name"
        )));
    }
    let name = std::any::type_name::<T>();
    let mut items = vec![Value::String(event.to_owned())];
    if name != "()" {
        let value = socketio::to_value(data).map_err(|e| RedisAdapterError::Serialize(e.0))?;
        match value {
            Value::Array(args) if name.starts_with('(') => items.extend(args),
            value => items.push(value),
        }
    }
    Ok(Value::Array(items))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_arguments_spread_tuples() {
        assert_eq!(
            event_value("a", &(1, "b")).unwrap(),
            Value::Array(vec![Value::from("a"), Value::from(1u64), Value::from("b")])
        );
        assert_eq!(
            event_value("a", &()).unwrap(),
            Value::Array(vec![Value::from("a")])
        );
        assert_eq!(
            event_value("a", &vec![1, 2]).unwrap(),
            Value::Array(vec![
                Value::from("a"),
                Value::Array(vec![Value::from(1u64), Value::from(2u64)])
            ])
        );
        assert!(event_value("disconnect", &1).is_err());
    }
}
