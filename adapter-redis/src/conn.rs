//! Connections to Redis: one publishing connection per node (a multiplexed connection fed by
//! a bounded, ordered queue), one subscribing connection per namespace, both reconnecting
//! with backoff when Redis goes away.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use futures_channel::mpsc;
use futures_channel::oneshot;
use futures_util::future::{Either, select};
use futures_util::{FutureExt, StreamExt};
use redis::aio::MultiplexedConnection;
use socketio::Runtime;
use socketio::protocol::backoff::Backoff;

use crate::error::RedisAdapterError;

/// How many queued messages go to Redis in one pipeline.
const PIPELINE_BATCH: usize = 64;

/// Reconnection delays: from `min` doubling to `max`, with jitter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reconnect {
    /// The first delay (default 100 ms).
    pub min: Duration,
    /// The longest delay (default 5 s).
    pub max: Duration,
}

impl Default for Reconnect {
    fn default() -> Self {
        Reconnect {
            min: Duration::from_millis(100),
            max: Duration::from_secs(5),
        }
    }
}

impl Reconnect {
    pub(crate) fn backoff(self) -> Backoff {
        Backoff::new(self.min, self.max, 2, 0.5)
    }
}

/// A random number in `[0, 1)`.
pub(crate) fn random_unit() -> f64 {
    let mut bytes = [0u8; 8];
    if getrandom::fill(&mut bytes).is_err() {
        return 0.5;
    }
    (u64::from_le_bytes(bytes) >> 11) as f64 / (1u64 << 53) as f64
}

/// `len` random characters of `[0-9A-Za-z_-]` (as `uid2` makes them).
pub(crate) fn random_id(len: usize) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-";
    let mut bytes = vec![0u8; len];
    if getrandom::fill(&mut bytes).is_err() {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        for (i, b) in bytes.iter_mut().enumerate() {
            *b = (nanos >> ((i % 16) * 8)) as u8 ^ i as u8;
        }
    }
    bytes
        .iter()
        .map(|b| ALPHABET[(*b & 63) as usize] as char)
        .collect()
}

/// One message to publish.
pub(crate) struct Outgoing {
    /// `PUBLISH` or `SPUBLISH`.
    pub command: &'static str,
    pub channel: String,
    pub payload: Vec<u8>,
}

/// What the publishing task is asked to do.
pub(crate) enum Job {
    /// Publish a message.
    Publish(Outgoing),
    /// A query on the connection failed: check it (`PING`) and reconnect if it is broken.
    Check,
    /// `XADD stream MAXLEN ~ max_len * fields...`; `done` gets the entry id (`None` when it
    /// could not be added).
    XAdd(StreamEntry),
}

/// An entry to append to a stream.
pub(crate) struct StreamEntry {
    pub stream: String,
    pub max_len: usize,
    pub fields: Vec<(&'static str, Vec<u8>)>,
    pub done: Box<dyn FnOnce(Option<String>) + Send>,
}

impl Job {
    /// A job that is not carried out: its callback learns so.
    fn dropped(self) {
        if let Job::XAdd(entry) = self {
            (entry.done)(None);
        }
    }
}

/// The node's publishing side: a bounded queue drained, in order, by one task that holds the
/// connection; and the connection itself for queries (`PUBSUB NUMSUB`).
pub(crate) struct Publisher {
    queue: mpsc::Sender<Job>,
    conn: Arc<Mutex<Option<MultiplexedConnection>>>,
}

impl Publisher {
    /// Starts the publishing task on `runtime`; it stops when the publisher is dropped.
    pub(crate) fn start(
        client: redis::Client,
        runtime: Arc<dyn Runtime>,
        capacity: usize,
        reconnect: Reconnect,
        reports: Reports,
    ) -> Publisher {
        let (queue, rx) = mpsc::channel(capacity.max(1));
        let conn = Arc::new(Mutex::new(None));
        let task = publish_loop(
            client,
            runtime.clone(),
            rx,
            conn.clone(),
            reconnect,
            reports,
        );
        runtime.spawn(Box::pin(task));
        Publisher { queue, conn }
    }

    /// Queues `payload` for `channel` (`command`: `PUBLISH` or `SPUBLISH`); a full queue
    /// drops it.
    pub(crate) fn publish(
        &self,
        command: &'static str,
        channel: String,
        payload: Vec<u8>,
    ) -> Result<(), RedisAdapterError> {
        self.queue
            .clone()
            .try_send(Job::Publish(Outgoing {
                command,
                channel,
                payload,
            }))
            .map_err(|error| {
                if error.is_full() {
                    tracing::warn!("redis publish queue full: message dropped");
                    RedisAdapterError::QueueFull
                } else {
                    RedisAdapterError::Closed
                }
            })
    }

    /// Queues an `XADD`; when the queue is full, `entry.done` is called with `None` at once.
    pub(crate) fn xadd(&self, entry: StreamEntry) {
        if let Err(error) = self.queue.clone().try_send(Job::XAdd(entry)) {
            tracing::warn!("redis publish queue full: stream entry dropped");
            error.into_inner().dropped();
        }
    }

    /// The live connection, if there is one.
    pub(crate) fn connection(&self) -> Result<MultiplexedConnection, RedisAdapterError> {
        self.conn
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
            .ok_or(RedisAdapterError::Unavailable)
    }

    /// `PUBSUB NUMSUB channel` (or `SHARDNUMSUB`, as `which` says). A failure has the
    /// connection checked (and remade).
    pub(crate) async fn numsub(
        &self,
        which: &'static str,
        channel: &str,
    ) -> Result<usize, RedisAdapterError> {
        let mut conn = self.connection()?;
        let answer = redis::cmd("PUBSUB")
            .arg(which)
            .arg(channel)
            .query_async::<Vec<(String, usize)>>(&mut conn)
            .await;
        match answer {
            Ok(counts) => Ok(counts.first().map_or(0, |(_, count)| *count)),
            Err(error) => {
                let _ = self.queue.clone().try_send(Job::Check);
                Err(error.into())
            }
        }
    }
}

fn set(slot: &Mutex<Option<MultiplexedConnection>>, conn: Option<MultiplexedConnection>) {
    *slot.lock().unwrap_or_else(PoisonError::into_inner) = conn;
}

/// Connects, publishes what is queued (in order, pipelined in batches), and on failure waits
/// out a backoff delay, dropping what is queued meanwhile, then reconnects.
async fn publish_loop(
    client: redis::Client,
    runtime: Arc<dyn Runtime>,
    mut rx: mpsc::Receiver<Job>,
    slot: Arc<Mutex<Option<MultiplexedConnection>>>,
    reconnect: Reconnect,
    reports: Reports,
) {
    let mut backoff = reconnect.backoff();
    loop {
        match client.get_multiplexed_async_connection().await {
            Ok(mut conn) => {
                if backoff.attempts() > 0 {
                    tracing::info!("redis publisher reconnected");
                    reconnected(&reports, "publisher");
                }
                backoff.reset();
                set(&slot, Some(conn.clone()));
                loop {
                    let Some(first) = rx.next().await else {
                        return; // the node is gone
                    };
                    let mut pipe = redis::pipe();
                    let mut n = 0;
                    let mut appended = Vec::new();
                    let mut job = Some(first);
                    while let Some(next) = job.take() {
                        match next {
                            Job::Publish(message) => {
                                pipe.cmd(message.command)
                                    .arg(message.channel)
                                    .arg(message.payload)
                                    .ignore();
                            }
                            Job::Check => {
                                pipe.cmd("PING").ignore();
                            }
                            Job::XAdd(entry) => {
                                let cmd = pipe
                                    .cmd("XADD")
                                    .arg(&entry.stream)
                                    .arg("MAXLEN")
                                    .arg("~")
                                    .arg(entry.max_len)
                                    .arg("*");
                                for (name, value) in &entry.fields {
                                    cmd.arg(*name).arg(value.as_slice());
                                }
                                appended.push(entry.done);
                            }
                        }
                        n += 1;
                        if n < PIPELINE_BATCH {
                            job = rx.try_recv().ok();
                        }
                    }
                    match pipe.query_async::<Vec<redis::Value>>(&mut conn).await {
                        Ok(ids) => {
                            let mut ids = ids.into_iter();
                            for done in appended {
                                let id = match ids.next() {
                                    Some(redis::Value::BulkString(id)) => {
                                        String::from_utf8(id).ok()
                                    }
                                    Some(redis::Value::SimpleString(id)) => Some(id),
                                    _ => None,
                                };
                                done(id);
                            }
                        }
                        Err(error) => {
                            for done in appended {
                                done(None);
                            }
                            tracing::warn!(%error, lost = n, "redis connection broken");
                            break;
                        }
                    }
                }
                set(&slot, None);
            }
            Err(error) => tracing::warn!(%error, "redis publisher cannot connect"),
        }
        // Wait out the delay; what is published meanwhile is lost (documented).
        let mut delay = runtime.sleep(backoff.duration(random_unit())).fuse();
        let mut dropped = 0usize;
        loop {
            futures_util::select! {
                _ = delay => break,
                message = rx.next() => match message {
                    Some(job) => {
                        job.dropped();
                        dropped += 1;
                    }
                    None => return,
                },
            }
        }
        if dropped > 0 {
            tracing::warn!(dropped, "redis unavailable: messages dropped");
        }
    }
}

/// Where the node's connections report their reconnections: the server's metrics, once
/// the first namespace's adapter is made (its [`LocalNamespace::metrics`](socketio::adapter::LocalNamespace::metrics)).
pub(crate) type Reports = Arc<std::sync::OnceLock<socketio::adapter::AdapterMetrics>>;

/// Reports that connection `link` came back (`socketio_adapter_reconnects_total`).
pub(crate) fn reconnected(reports: &Reports, link: &'static str) {
    if let Some(metrics) = reports.get() {
        metrics.reconnected(link);
    }
}

/// A message that arrived on a subscription.
pub(crate) struct Incoming {
    pub channel: String,
    pub payload: Vec<u8>,
}

/// What a subscribing connection subscribes to, and how.
pub(crate) struct Subscription {
    pub client: redis::Client,
    pub runtime: Arc<dyn Runtime>,
    /// `PSUBSCRIBE`d.
    pub patterns: Vec<String>,
    /// `SUBSCRIBE`d.
    pub channels: Vec<String>,
    pub reconnect: Reconnect,
    /// Larger messages are dropped.
    pub max_message: usize,
    /// Where reconnections are reported.
    pub reports: Reports,
}

/// Subscribes as `subscription` says and hands every message to `handle`, reconnecting with
/// backoff, until `stop` fires (its sender is dropped) or `handle` says to stop.
pub(crate) async fn subscribe_loop(
    subscription: Subscription,
    mut stop: oneshot::Receiver<()>,
    handle: impl Fn(Incoming) -> bool + Send + 'static,
) {
    let Subscription {
        client,
        runtime,
        patterns,
        channels,
        reconnect,
        max_message,
        reports,
    } = subscription;
    let mut backoff = reconnect.backoff();
    loop {
        let connected = async {
            let mut pubsub = client.get_async_pubsub().await?;
            for pattern in &patterns {
                pubsub.psubscribe(pattern).await?;
            }
            for channel in &channels {
                pubsub.subscribe(channel).await?;
            }
            Ok::<_, redis::RedisError>(pubsub)
        };
        let connected = match select(Box::pin(connected), &mut stop).await {
            Either::Left((result, _)) => result,
            Either::Right(_) => return,
        };
        match connected {
            Ok(pubsub) => {
                if backoff.attempts() > 0 {
                    tracing::info!("redis subscriber reconnected");
                    reconnected(&reports, "subscriber");
                }
                backoff.reset();
                let mut stream = pubsub.into_on_message();
                loop {
                    match select(stream.next(), &mut stop).await {
                        Either::Left((Some(message), _)) => {
                            let payload = message.get_payload_bytes();
                            if payload.len() > max_message {
                                tracing::warn!(
                                    len = payload.len(),
                                    "redis message too large: dropped"
                                );
                                continue;
                            }
                            let incoming = Incoming {
                                channel: String::from_utf8_lossy(
                                    message.get_channel_name().as_bytes(),
                                )
                                .into_owned(),
                                payload: payload.to_vec(),
                            };
                            if !handle(incoming) {
                                return;
                            }
                        }
                        Either::Left((None, _)) => {
                            tracing::warn!("redis subscriber connection lost");
                            break;
                        }
                        Either::Right(_) => return,
                    }
                }
            }
            Err(error) => tracing::warn!(%error, "redis subscriber cannot connect"),
        }
        let delay = runtime.sleep(backoff.duration(random_unit()));
        if let Either::Right(_) = select(delay, &mut stop).await {
            return;
        }
    }
}
