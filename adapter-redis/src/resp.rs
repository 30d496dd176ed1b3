//! A minimal sharded pub/sub subscriber (`SSUBSCRIBE`, `SUNSUBSCRIBE`, `smessage`) speaking
//! RESP2 over its own TCP connection: redis-rs 1.x offers sharded subscriptions only on
//! cluster connections. The socket is async-io's, whose reactor runs on any executor (tokio's
//! included). Bounded: a bulk string longer than the message limit ends the connection, and
//! only flat arrays are read.

use std::collections::BTreeSet;
use std::net::ToSocketAddrs;
use std::sync::Arc;

use async_io::Async;
use futures_channel::{mpsc, oneshot};
use futures_util::future::{Either, select};
use futures_util::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use futures_util::{FutureExt, StreamExt};
use socketio::Runtime;

use crate::conn::{Incoming, Reconnect, random_unit};

/// A change to the dynamic subscriptions.
pub(crate) enum Change {
    /// `SSUBSCRIBE channel`.
    Subscribe(String),
    /// `SUNSUBSCRIBE channel`.
    Unsubscribe(String),
}

/// Where and how the sharded subscriber connects.
pub(crate) struct ShardedSubscription {
    pub client: redis::Client,
    pub runtime: Arc<dyn Runtime>,
    /// Always subscribed.
    pub fixed: Vec<String>,
    pub reconnect: Reconnect,
    pub max_message: usize,
    /// Where reconnections are reported.
    pub reports: crate::conn::Reports,
}

/// One RESP2 value as pub/sub sends them.
#[derive(Debug, PartialEq)]
enum Resp {
    Simple(String),
    Error(String),
    Int(i64),
    Bulk(Option<Vec<u8>>),
    Array(Vec<Resp>),
}

/// Writes one command.
fn command(args: &[&[u8]]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for arg in args {
        out.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
        out.extend_from_slice(arg);
        out.extend_from_slice(b"\r\n");
    }
    out
}

async fn read_line<R: futures_util::io::AsyncBufRead + Unpin>(
    reader: &mut R,
) -> std::io::Result<Vec<u8>> {
    let mut line = Vec::new();
    // A header line (a type and a length, or a short status or error text) is short; cap it.
    let mut limited = (&mut *reader).take(1024);
    limited.read_until(b'\n', &mut line).await?;
    if line.len() < 2 || !line.ends_with(b"\r\n") {
        return Err(std::io::Error::other("bad RESP line"));
    }
    line.truncate(line.len() - 2);
    Ok(line)
}

fn number(text: &[u8]) -> std::io::Result<i64> {
    std::str::from_utf8(text)
        .ok()
        .and_then(|t| t.parse().ok())
        .ok_or_else(|| std::io::Error::other("bad RESP number"))
}

async fn read_scalar<R: futures_util::io::AsyncBufRead + Unpin>(
    reader: &mut R,
    line: Vec<u8>,
    max: usize,
) -> std::io::Result<Resp> {
    let (kind, rest) = line
        .split_first()
        .ok_or_else(|| std::io::Error::other("empty RESP line"))?;
    Ok(match kind {
        b'+' => Resp::Simple(String::from_utf8_lossy(rest).into_owned()),
        b'-' => Resp::Error(String::from_utf8_lossy(rest).into_owned()),
        b':' => Resp::Int(number(rest)?),
        b'$' => {
            let len = number(rest)?;
            if len < 0 {
                return Ok(Resp::Bulk(None));
            }
            let len = usize::try_from(len).unwrap_or(usize::MAX);
            if len > max {
                return Err(std::io::Error::other("RESP bulk string over the limit"));
            }
            let mut data = vec![0u8; len + 2];
            reader.read_exact(&mut data).await?;
            data.truncate(len);
            Resp::Bulk(Some(data))
        }
        _ => return Err(std::io::Error::other("unexpected RESP type")),
    })
}

/// Reads one value: a scalar or a flat array of scalars.
async fn read_value<R: futures_util::io::AsyncBufRead + Unpin>(
    reader: &mut R,
    max: usize,
) -> std::io::Result<Resp> {
    let line = read_line(reader).await?;
    if line.first() == Some(&b'*') {
        let count = number(&line[1..])?;
        if !(0..=16).contains(&count) {
            return Err(std::io::Error::other("RESP array too long"));
        }
        let mut items = Vec::new();
        for _ in 0..count {
            let line = read_line(reader).await?;
            items.push(read_scalar(reader, line, max).await?);
        }
        return Ok(Resp::Array(items));
    }
    read_scalar(reader, line, max).await
}

fn bulk(value: &Resp) -> Option<&[u8]> {
    match value {
        Resp::Bulk(Some(data)) => Some(data),
        _ => None,
    }
}

/// Subscribes (`SSUBSCRIBE`) to the fixed channels and to those `changes` ask for, hands every
/// `smessage` to `handle`, and reconnects with backoff (subscribing again to everything) until
/// `stop` fires or `handle` says to stop.
pub(crate) async fn sharded_loop(
    subscription: ShardedSubscription,
    mut changes: mpsc::UnboundedReceiver<Change>,
    mut stop: oneshot::Receiver<()>,
    handle: impl Fn(Incoming) -> bool + Send + 'static,
) {
    let ShardedSubscription {
        client,
        runtime,
        fixed,
        reconnect,
        max_message,
        reports,
    } = subscription;
    let mut dynamic: BTreeSet<String> = BTreeSet::new();
    let mut backoff = reconnect.backoff();
    loop {
        let info = client.get_connection_info();
        let target = match info.addr() {
            redis::ConnectionAddr::Tcp(host, port) => (host.clone(), *port)
                .to_socket_addrs()
                .ok()
                .and_then(|mut a| a.next()),
            _ => None,
        };
        let connected = match target {
            Some(addr) => {
                let connect = Box::pin(Async::<std::net::TcpStream>::connect(addr));
                match select(connect, &mut stop).await {
                    Either::Left((result, _)) => result.ok(),
                    Either::Right(_) => return,
                }
            }
            None => {
                tracing::warn!("sharded subscriber: only redis:// TCP addresses are supported");
                None
            }
        };
        if let Some(stream) = connected {
            let stream = Arc::new(stream);
            let mut writer = &*stream;
            let mut setup = Vec::new();
            let redis = info.redis_settings();
            if let Some(password) = redis.password() {
                match redis.username() {
                    Some(user) => {
                        setup.extend(command(&[b"AUTH", user.as_bytes(), password.as_bytes()]))
                    }
                    None => setup.extend(command(&[b"AUTH", password.as_bytes()])),
                }
            }
            for channel in fixed.iter().chain(dynamic.iter()) {
                setup.extend(command(&[b"SSUBSCRIBE", channel.as_bytes()]));
            }
            if writer.write_all(&setup).await.is_ok() {
                if backoff.attempts() > 0 {
                    tracing::info!("redis sharded subscriber reconnected");
                    crate::conn::reconnected(&reports, "sharded_subscriber");
                }
                backoff.reset();
                let mut reader = BufReader::new(&*stream);
                loop {
                    let read = read_value(&mut reader, max_message).fuse();
                    let change = changes.next().fuse();
                    futures_util::pin_mut!(read, change);
                    futures_util::select! {
                        value = read => match value {
                            Ok(Resp::Array(items)) => {
                                if items.first().and_then(bulk) == Some(&b"smessage"[..])
                                    && let (Some(channel), Some(payload)) =
                                        (items.get(1).and_then(bulk), items.get(2).and_then(bulk))
                                {
                                    let incoming = Incoming {
                                        channel: String::from_utf8_lossy(channel).into_owned(),
                                        payload: payload.to_vec(),
                                    };
                                    if !handle(incoming) {
                                        return;
                                    }
                                }
                            }
                            Ok(Resp::Error(error)) => tracing::warn!(%error, "sharded subscriber"),
                            Ok(_) => {}
                            Err(error) => {
                                tracing::warn!(%error, "sharded subscriber connection lost");
                                break;
                            }
                        },
                        change = change => {
                            let bytes = match change {
                                Some(Change::Subscribe(channel)) => {
                                    let bytes = command(&[b"SSUBSCRIBE", channel.as_bytes()]);
                                    dynamic.insert(channel);
                                    bytes
                                }
                                Some(Change::Unsubscribe(channel)) => {
                                    let bytes = command(&[b"SUNSUBSCRIBE", channel.as_bytes()]);
                                    dynamic.remove(&channel);
                                    bytes
                                }
                                None => return,
                            };
                            if writer.write_all(&bytes).await.is_err() {
                                break;
                            }
                        },
                        _ = stop => return,
                    }
                }
            }
        }
        // Wait out the delay, keeping the subscription changes.
        let mut delay = runtime.sleep(backoff.duration(random_unit())).fuse();
        loop {
            futures_util::select! {
                _ = delay => break,
                _ = stop => return,
                change = changes.next() => match change {
                    Some(Change::Subscribe(channel)) => { dynamic.insert(channel); }
                    Some(Change::Unsubscribe(channel)) => { dynamic.remove(&channel); }
                    None => return,
                },
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_and_values_are_resp2() {
        assert_eq!(
            command(&[b"SSUBSCRIBE", b"a#/#"]),
            b"*2\r\n$10\r\nSSUBSCRIBE\r\n$4\r\na#/#\r\n".to_vec()
        );
        let input: &[u8] =
            b"*3\r\n$8\r\nsmessage\r\n$2\r\nch\r\n$3\r\n\x01\x02\x03\r\n:5\r\n-ERR x\r\n";
        futures_executor::block_on(async {
            let mut reader = BufReader::new(input);
            assert_eq!(
                read_value(&mut reader, 100).await.unwrap(),
                Resp::Array(vec![
                    Resp::Bulk(Some(b"smessage".to_vec())),
                    Resp::Bulk(Some(b"ch".to_vec())),
                    Resp::Bulk(Some(vec![1, 2, 3])),
                ])
            );
            assert_eq!(read_value(&mut reader, 100).await.unwrap(), Resp::Int(5));
            assert_eq!(
                read_value(&mut reader, 100).await.unwrap(),
                Resp::Error("ERR x".into())
            );
            assert!(read_value(&mut reader, 100).await.is_err());
        });
        futures_executor::block_on(async {
            for bad in [
                &b"$5\r\nab\r\n"[..],
                b"$1000\r\n",
                b"*99\r\n",
                b"*1\r\n*1\r\n",
                b"?\r\n",
                b"$x\r\n",
            ] {
                let mut reader = BufReader::new(bad);
                assert!(read_value(&mut reader, 100).await.is_err(), "{bad:?}");
            }
        });
    }
}
