//! The server side of an accepted WebSocket, shared by [`Server`](crate::Server) and
//! [`EngineServer`](crate::engine::EngineServer): the bounded outgoing queue the state writes
//! into, and the task that reads frames in and writes the queue out.

use std::collections::VecDeque;

use bytes::Bytes;
use futures_util::task::AtomicWaker;
use futures_util::{FutureExt, SinkExt, StreamExt};
use socketio_protocol::Str;
use socketio_protocol::engine::Frame;
use std::sync::atomic::{AtomicBool, Ordering};
use tungstenite::protocol::frame::coding::CloseCode;

use std::sync::Arc;

use socketio_protocol::Instant;

use socketio_protocol::flow::{Backpressure, OutgoingWatch};

use crate::flow::Gate;
use crate::hooks::TrafficCounters;
use crate::outbox::{OutboxReceiver, OutboxSender, outbox};
use crate::probe::{Dir, Probe, Transport};

/// What the state queues for a WebSocket: a frame, a message made ready for tungstenite (a
/// broadcast's, see [`TextMemo`]), a heartbeat ping (reported once written), or the close.
pub(crate) enum WsOut {
    Frame(Frame),
    Message(tungstenite::Message),
    Heartbeat(Frame),
    Close,
}

/// A broadcast's text frame made a tungstenite message once for all its recipients:
/// tungstenite takes text only as `Utf8Bytes`, which checks the UTF-8 again on every
/// conversion (for a 100-byte event, a fifth of the server's instructions per delivery).
/// Every recipient of a broadcast gets a clone of the same frame, so one check serves all.
#[derive(Default)]
pub(crate) struct TextMemo(Option<(Str, tungstenite::Utf8Bytes)>);

impl TextMemo {
    /// `frame` as a tungstenite message; `None` only for text that is not UTF-8 (never, as
    /// `Str` holds UTF-8).
    pub(crate) fn message(&mut self, frame: Frame) -> Option<tungstenite::Message> {
        let text = match frame {
            Frame::Text(text) => text,
            binary => return to_message(binary),
        };
        if let Some((seen, ready)) = &self.0
            && seen.as_bytes().as_ptr() == text.as_bytes().as_ptr()
            && seen.len() == text.len()
        {
            // The same bytes (the memo keeps them alive, so they cannot have been reused).
            return Some(tungstenite::Message::Text(ready.clone()));
        }
        let ready = tungstenite::Utf8Bytes::try_from(text.as_bytes().clone()).ok()?;
        self.0 = Some((text, ready.clone()));
        Some(tungstenite::Message::Text(ready))
    }
}

/// `frame` as a tungstenite message (a text frame's UTF-8 checked again); `None` only for
/// text that is not UTF-8 (never, as `Str` holds UTF-8).
fn to_message(frame: Frame) -> Option<tungstenite::Message> {
    Some(match frame {
        Frame::Text(text) => {
            tungstenite::Message::Text(tungstenite::Utf8Bytes::try_from(text.into_bytes()).ok()?)
        }
        Frame::Binary(bytes) => tungstenite::Message::Binary(bytes),
    })
}

/// Most WebSocket ping frames a peer may send between two of our heartbeats (one per
/// `pingInterval`, 25 s by default) before it counts as flooding and is closed with 1008:
/// each ping makes tungstenite queue a pong, which a peer that never reads would pile up.
/// Browsers send none; proxies that keep connections alive send one every few seconds.
pub(crate) const MAX_PINGS_PER_HEARTBEAT: u32 = 100;

/// What the state and a connection's task signal each other beyond the queue, in one
/// allocation: the abort (a slow consumer, or the `Writer` dropped), and, as the waker the
/// reading half of the task is polled with, that the reader has something to do.
struct Signals {
    aborted: AtomicBool,
    read_woken: AtomicBool,
    task: AtomicWaker,
}

impl Default for Signals {
    fn default() -> Self {
        Self {
            aborted: AtomicBool::new(false),
            // The reader is polled on the task's first poll.
            read_woken: AtomicBool::new(true),
            task: AtomicWaker::new(),
        }
    }
}

impl Signals {
    fn abort(&self) {
        self.aborted.store(true, Ordering::Release);
        self.task.wake();
    }
}

impl std::task::Wake for Signals {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.read_woken.store(true, Ordering::Release);
        self.task.wake();
    }
}

/// Why the peer's side of a WebSocket ended.
enum ReadEnd {
    /// Closed, or gone (`transport close`).
    Closed,
    /// A failure of the connection (`transport error`).
    Failed,
    /// A protocol violation: the close code and reason to send before closing
    /// (`transport error`).
    Violation(CloseCode, &'static str),
}

impl Drop for Writer {
    /// A dropped `Writer` ends the connection, as an abort (after a close queued just before
    /// is written if the socket takes it at once).
    fn drop(&mut self) {
        self.signals.abort();
    }
}

/// The state's handle on a WebSocket's writer task.
pub(crate) struct Writer {
    tx: OutboxSender<WsOut>,
    signals: Arc<Signals>,
    /// The slow-consumer watch on the queue.
    watch: OutgoingWatch,
    /// The session's incoming side, once the connection carries a session: frames read pause
    /// on it.
    gate: Option<Arc<Gate>>,
}

/// The writer task's end: the queue and the abort signal (a slow consumer).
pub(crate) struct WriterEnd {
    rx: OutboxReceiver<WsOut>,
    signals: Arc<Signals>,
}

/// The peer is a slow consumer (past the byte limit, or above the high water mark for too
/// long); the connection has been aborted.
pub(crate) struct Overflow;

/// A writer and its task's end.
pub(crate) fn writer() -> (Writer, WriterEnd) {
    let (tx, rx) = outbox();
    let signals = Arc::new(Signals::default());
    (
        Writer {
            tx,
            signals: signals.clone(),
            watch: OutgoingWatch::default(),
            gate: None,
        },
        WriterEnd { rx, signals },
    )
}

impl Writer {
    /// Queues `frame`, unless the peer is a slow consumer by `limits` (the queue would pass
    /// the byte limit, or has been above the high water mark for too long): then aborts the
    /// connection instead (the caller closes the session with `transport error`).
    pub(crate) fn push_frame(
        &mut self,
        frame: Frame,
        heartbeat: bool,
        limits: &Backpressure,
        now: Instant,
    ) -> Result<(), Overflow> {
        let len = frame.len();
        let out = if heartbeat {
            WsOut::Heartbeat(frame)
        } else {
            WsOut::Frame(frame)
        };
        self.push(out, len, limits, now)
    }

    /// Queues a ready `message` of `len` bytes, as [`push_frame`](Self::push_frame).
    pub(crate) fn push_message(
        &mut self,
        message: tungstenite::Message,
        len: usize,
        limits: &Backpressure,
        now: Instant,
    ) -> Result<(), Overflow> {
        self.push(WsOut::Message(message), len, limits, now)
    }

    fn push(
        &mut self,
        out: WsOut,
        len: usize,
        limits: &Backpressure,
        now: Instant,
    ) -> Result<(), Overflow> {
        if !self.watch.admit(now, self.tx.bytes(), len, limits) {
            self.signals.abort();
            return Err(Overflow);
        }
        let _ = self.tx.push(out, len);
        Ok(())
    }

    /// Queues the close frame, after everything already queued.
    pub(crate) fn close(self) {
        let _ = self.tx.push(WsOut::Close, 0);
    }

    /// Whether frames still wait to be written (the reference's `!transport.writable`).
    pub(crate) fn is_busy(&self) -> bool {
        self.tx.bytes() > 0
    }

    /// Bytes queued and not yet written.
    pub(crate) fn queued_bytes(&self) -> usize {
        self.tx.bytes()
    }

    /// The session this connection now carries: its reading pauses on the session's gate.
    pub(crate) fn attach(&mut self, gate: Arc<Gate>) {
        self.gate = Some(gate);
    }

    /// The gate of the session this connection carries.
    pub(crate) fn gate(&self) -> Option<&Arc<Gate>> {
        self.gate.as_ref()
    }
}

/// Serves an accepted WebSocket until it ends: hands every received frame to `on_frame`
/// and writes the queue, everything queued as one batch flushed once, calling
/// `on_heartbeat_written` after a batch with a heartbeat ping is flushed. Resolves to whether
/// it ended cleanly ([`ws_closed`]); an abort is not clean.
///
/// A protocol violation by the peer (a message over the size limit, invalid UTF-8, an
/// unmasked frame, a reserved opcode or bit, a ping flood) gets a close frame with the code
/// the reference sends (1009, 1007, 1002, 1008) before the connection ends.
///
/// Backpressure: `on_frame` returns the gate of the session the connection carries (once it
/// carries one); while the queue's bytes or the session's backlog are above `limits`, the
/// reader reads nothing more until they are back at half.
///
/// Not an `async fn`: the socket is split before the future is made, so the future holds only
/// the two halves, not a second copy of the socket (an idle connection's memory).
pub(crate) fn serve<S>(
    socket: S,
    end: WriterEnd,
    limits: Backpressure,
    metrics: Probe,
    traffic: &TrafficCounters,
    mut on_frame: impl FnMut(Frame) -> Option<Arc<Gate>>,
    on_heartbeat_written: impl Fn(),
) -> impl std::future::Future<Output = bool>
where
    S: futures_core::Stream<Item = Result<tungstenite::Message, tungstenite::Error>>
        + futures_sink::Sink<tungstenite::Message, Error = tungstenite::Error>
        + Unpin,
{
    let WriterEnd { mut rx, signals } = end;
    let probe = rx.probe();
    let (mut sink, mut stream) = socket.split();
    async move {
        let pings = std::sync::atomic::AtomicU32::new(0);
        let pings = &pings;
        let reader = async {
            while let Some(message) = stream.next().await {
                let frame = match message {
                    Ok(tungstenite::Message::Text(text)) => match Str::from_utf8(Bytes::from(text))
                    {
                        Ok(text) => Frame::Text(text),
                        Err(_) => return ReadEnd::Violation(CloseCode::Invalid, "invalid UTF-8"),
                    },
                    Ok(tungstenite::Message::Binary(bytes)) => Frame::Binary(bytes),
                    Ok(tungstenite::Message::Close(_)) => return ReadEnd::Closed,
                    Ok(tungstenite::Message::Ping(_)) => {
                        if pings.fetch_add(1, Ordering::Relaxed) >= MAX_PINGS_PER_HEARTBEAT {
                            return ReadEnd::Violation(CloseCode::Policy, "ping flood");
                        }
                        continue;
                    }
                    Ok(_) => continue,
                    Err(error) => return read_error(&error),
                };
                count_frame(&metrics, traffic, Dir::In, &frame);
                if let Some(gate) = on_frame(frame)
                    && limits.must_pause(probe.bytes(), gate.backlog())
                {
                    gate.wait(
                        |waker| probe.register_drained(waker),
                        |gate| limits.may_resume(probe.bytes(), gate.backlog()),
                    )
                    .await;
                }
            }
            ReadEnd::Closed
        };
        let writer = async {
            let mut batch = VecDeque::new();
            while rx.take_all(&mut batch).await {
                // A connection that gets several frames per wake is busy: its queue's buffer
                // goes back to the queue on the next take instead of being allocated anew
                // (and grown) for every batch. An idle one keeps none.
                let busy = batch.len() > 1;
                let mut bytes = 0;
                let mut heartbeat = false;
                while let Some(out) = batch.pop_front() {
                    let (len, message) = match out {
                        WsOut::Frame(frame) => {
                            count_frame(&metrics, traffic, Dir::Out, &frame);
                            (frame.len(), to_message(frame))
                        }
                        // (Counted when the broadcast queued it, once for all recipients.)
                        WsOut::Message(message) => (message.len(), Some(message)),
                        WsOut::Heartbeat(frame) => {
                            heartbeat = true;
                            count_frame(&metrics, traffic, Dir::Out, &frame);
                            (frame.len(), to_message(frame))
                        }
                        WsOut::Close => {
                            let _ = sink.send(tungstenite::Message::Close(None)).await;
                            return true;
                        }
                    };
                    bytes += len;
                    let Some(message) = message else {
                        continue;
                    };
                    if let Err(error) = sink.feed(message).await {
                        return ws_closed(&error);
                    }
                }
                if let Err(error) = sink.flush().await {
                    return ws_closed(&error);
                }
                rx.written(bytes);
                if heartbeat {
                    // A new heartbeat interval: the peer's ping allowance starts over.
                    pings.store(0, Ordering::Relaxed);
                    on_heartbeat_written();
                }
                if !busy {
                    // An idle connection keeps no buffer (the next batch allocates once).
                    batch = VecDeque::new();
                }
            }
            let _ = sink.flush().await;
            true
        };
        // A dropped `Writer` ends the connection too, as an abort; `io` is polled first, so a
        // close queued just before is still written when the socket takes it at once, and a peer
        // that does not read cannot hold the task.
        let ended = {
            let mut reader = std::pin::pin!(reader);
            let mut writer = std::pin::pin!(writer);
            let read_waker = std::task::Waker::from(signals.clone());
            std::future::poll_fn(|cx| {
                signals.task.register(cx.waker());
                // Only when its own waker fired (or at first): a wake for the writer would
                // otherwise also make tungstenite zero a read buffer and try the socket.
                if signals.read_woken.swap(false, Ordering::AcqRel) {
                    let mut read_cx = std::task::Context::from_waker(&read_waker);
                    if let std::task::Poll::Ready(end) = reader.as_mut().poll(&mut read_cx) {
                        return std::task::Poll::Ready(end);
                    }
                }
                if let std::task::Poll::Ready(clean) = writer.as_mut().poll(cx) {
                    return std::task::Poll::Ready(if clean {
                        ReadEnd::Closed
                    } else {
                        ReadEnd::Failed
                    });
                }
                if signals.aborted.load(Ordering::Acquire) {
                    return std::task::Poll::Ready(ReadEnd::Failed);
                }
                std::task::Poll::Pending
            })
            .await
        };
        match ended {
            ReadEnd::Closed => true,
            ReadEnd::Failed => false,
            ReadEnd::Violation(code, reason) => {
                // One attempt, without waiting: a peer that does not read gets no close frame.
                let close = tungstenite::protocol::CloseFrame {
                    code,
                    reason: reason.into(),
                };
                let _ = sink
                    .send(tungstenite::Message::Close(Some(close)))
                    .now_or_never();
                false
            }
        }
    }
}

/// Counts a frame read or written (nothing without metrics or traffic counting).
#[inline]
fn count_frame(probe: &Probe, traffic: &TrafficCounters, dir: Dir, frame: &Frame) {
    let (bytes, binary) = match frame {
        Frame::Text(text) => (&text.as_bytes()[..], false),
        Frame::Binary(bytes) => (&bytes[..], true),
    };
    probe.frame(dir, Transport::WebSocket, bytes, binary);
    traffic.frame(dir, bytes, binary);
}

/// What a read error means: the peer gone, a violation to answer with a close code, or
/// another failure.
fn read_error(error: &tungstenite::Error) -> ReadEnd {
    use tungstenite::error::{CapacityError, ProtocolError};
    match error {
        _ if ws_closed(error) => ReadEnd::Closed,
        tungstenite::Error::Capacity(CapacityError::MessageTooLong { .. }) => {
            ReadEnd::Violation(CloseCode::Size, "message too big")
        }
        tungstenite::Error::Utf8(_) => ReadEnd::Violation(CloseCode::Invalid, "invalid UTF-8"),
        tungstenite::Error::Protocol(
            ProtocolError::UnmaskedFrameFromClient
            | ProtocolError::NonZeroReservedBits
            | ProtocolError::UnknownControlFrameType(_)
            | ProtocolError::UnknownDataFrameType(_)
            | ProtocolError::ControlFrameTooBig
            | ProtocolError::FragmentedControlFrame
            | ProtocolError::UnexpectedContinueFrame
            | ProtocolError::ExpectedFragment(_)
            | ProtocolError::InvalidOpcode(_)
            | ProtocolError::InvalidCloseSequence,
        ) => ReadEnd::Violation(CloseCode::Protocol, "protocol error"),
        _ => ReadEnd::Failed,
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

#[cfg(test)]
mod tests {
    use super::*;

    fn text(message: &tungstenite::Message) -> &str {
        match message {
            tungstenite::Message::Text(text) => text.as_str(),
            _ => panic!("not a text message"),
        }
    }

    #[test]
    fn a_memo_checks_a_shared_frame_once_and_hands_out_its_bytes() {
        let mut memo = TextMemo::default();
        let frame = Str::from(String::from("42[\"tick\",1]"));
        let first = memo.message(Frame::Text(frame.clone())).unwrap();
        let second = memo.message(Frame::Text(frame.clone())).unwrap();
        assert_eq!(text(&first), "42[\"tick\",1]");
        // No copy: both messages point at the frame's own bytes.
        assert_eq!(text(&first).as_ptr(), frame.as_ptr());
        assert_eq!(text(&second).as_ptr(), frame.as_ptr());
        // Other bytes, even with the same text, are their own message.
        let other = Str::from(String::from("42[\"tick\",1]"));
        let third = memo.message(Frame::Text(other.clone())).unwrap();
        assert_eq!(text(&third).as_ptr(), other.as_ptr());
        let binary = memo
            .message(Frame::Binary(Bytes::from_static(b"\x01")))
            .unwrap();
        assert!(matches!(binary, tungstenite::Message::Binary(b) if b.as_ref() == b"\x01"));
    }
}
