//! The server side of an accepted WebSocket, shared by [`Server`](crate::Server) and
//! [`EngineServer`](crate::engine::EngineServer): the bounded outgoing queue the state writes
//! into, and the task that reads frames in and writes the queue out.

use std::collections::VecDeque;

use bytes::Bytes;
use futures_channel::oneshot;
use futures_util::{SinkExt, StreamExt};
use socketio_protocol::Str;
use socketio_protocol::engine::Frame;

use crate::outbox::{OutboxReceiver, OutboxSender, outbox};

/// What the state queues for a WebSocket: a frame, or the close.
pub(crate) enum WsOut {
    Frame(Frame),
    Close,
}

/// The state's handle on a WebSocket's writer task.
pub(crate) struct Writer {
    tx: OutboxSender<WsOut>,
    abort: Option<oneshot::Sender<()>>,
}

/// The writer task's end: the queue and the abort signal (a slow consumer).
pub(crate) struct WriterEnd {
    rx: OutboxReceiver<WsOut>,
    abort: oneshot::Receiver<()>,
}

/// The queue is full: the peer does not read; the connection has been aborted.
pub(crate) struct Overflow;

/// A writer and its task's end.
pub(crate) fn writer() -> (Writer, WriterEnd) {
    let (tx, rx) = outbox();
    let (abort_tx, abort) = oneshot::channel();
    (
        Writer {
            tx,
            abort: Some(abort_tx),
        },
        WriterEnd { rx, abort },
    )
}

impl Writer {
    /// Queues `frame`; with `capacity` frames already waiting, aborts the connection instead
    /// (the caller closes the session with `transport error`).
    pub(crate) fn push_frame(&mut self, frame: Frame, capacity: usize) -> Result<(), Overflow> {
        if self.tx.len() >= capacity {
            if let Some(abort) = self.abort.take() {
                let _ = abort.send(());
            }
            return Err(Overflow);
        }
        let _ = self.tx.push(WsOut::Frame(frame));
        Ok(())
    }

    /// Queues the close frame, after everything already queued.
    pub(crate) fn close(self) {
        let _ = self.tx.push(WsOut::Close);
    }

    /// Whether frames still wait to be written (the reference's `!transport.writable`).
    pub(crate) fn is_busy(&self) -> bool {
        self.tx.len() > 0
    }
}

/// Serves an accepted WebSocket until it ends: hands every received frame to `on_frame`
/// and writes the queue, everything queued as one batch flushed once. Resolves to whether it
/// ended cleanly ([`ws_closed`]); an abort is not clean.
///
/// Not an `async fn`: the socket is split before the future is made, so the future holds only
/// the two halves, not a second copy of the socket (an idle connection's memory).
pub(crate) fn serve<S>(
    socket: S,
    end: WriterEnd,
    mut on_frame: impl FnMut(Frame),
) -> impl std::future::Future<Output = bool>
where
    S: futures_core::Stream<Item = Result<tungstenite::Message, tungstenite::Error>>
        + futures_sink::Sink<tungstenite::Message, Error = tungstenite::Error>
        + Unpin,
{
    let WriterEnd { mut rx, abort } = end;
    let (mut sink, mut stream) = socket.split();
    async move {
        let reader = async {
            while let Some(message) = stream.next().await {
                let frame = match message {
                    Ok(tungstenite::Message::Text(text)) => match Str::from_utf8(Bytes::from(text))
                    {
                        Ok(text) => Frame::Text(text),
                        Err(_) => return false,
                    },
                    Ok(tungstenite::Message::Binary(bytes)) => Frame::Binary(bytes),
                    Ok(tungstenite::Message::Close(_)) => return true,
                    Ok(_) => continue,
                    Err(error) => return ws_closed(&error),
                };
                on_frame(frame);
            }
            true
        };
        let writer = async {
            let mut batch = VecDeque::new();
            while rx.take_all(&mut batch).await {
                while let Some(out) = batch.pop_front() {
                    match out {
                        WsOut::Frame(frame) => {
                            let message = match frame {
                                Frame::Text(text) => {
                                    match tungstenite::Utf8Bytes::try_from(text.into_bytes()) {
                                        Ok(text) => tungstenite::Message::Text(text),
                                        Err(_) => continue,
                                    }
                                }
                                Frame::Binary(bytes) => tungstenite::Message::Binary(bytes),
                            };
                            if let Err(error) = sink.feed(message).await {
                                return ws_closed(&error);
                            }
                        }
                        WsOut::Close => {
                            let _ = sink.send(tungstenite::Message::Close(None)).await;
                            return true;
                        }
                    }
                }
                if let Err(error) = sink.flush().await {
                    return ws_closed(&error);
                }
                // An idle connection keeps no buffer (the next batch allocates once).
                batch = VecDeque::new();
            }
            let _ = sink.flush().await;
            true
        };
        // A dropped `Writer` ends the connection too, as an abort; `io` is polled first, so a
        // close queued just before is still written when the socket takes it at once, and a peer
        // that does not read cannot hold the task.
        let reader = std::pin::pin!(reader);
        let writer = std::pin::pin!(writer);
        let io = futures_util::future::select(reader, writer);
        match futures_util::future::select(io, abort).await {
            futures_util::future::Either::Left((either, _)) => either.factor_first().0,
            futures_util::future::Either::Right(_) => false,
        }
    }
}

/// Whether a WebSocket error only means the peer is gone (`transport close`, as the
/// reference's `ws` reports a TCP connection that ends, even without a close frame, or is
/// reset) rather than a failure of the connection (`transport error`: a protocol violation,
/// an oversized message, another IO error).
pub(crate) fn ws_closed(error: &tungstenite::Error) -> bool {
    use std::io::ErrorKind;
    use tungstenite::error::ProtocolError;
    match error {
        tungstenite::Error::ConnectionClosed | tungstenite::Error::AlreadyClosed => true,
        tungstenite::Error::Protocol(ProtocolError::ResetWithoutClosingHandshake) => true,
        tungstenite::Error::Io(io) => matches!(
            io.kind(),
            ErrorKind::ConnectionReset
                | ErrorKind::ConnectionAborted
                | ErrorKind::BrokenPipe
                | ErrorKind::UnexpectedEof
        ),
        _ => false,
    }
}
