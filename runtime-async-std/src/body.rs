//! [`RequestBody`]: a request body that tells, after the server is done with it, whether it
//! was read to its end. One that was not leaves bytes on the connection: the answer then says
//! `Connection: close` (hyper closes such a connection, but without saying so when the body
//! was dropped after the answer was ready).

use std::{
    pin::Pin,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    task::{Context, Poll},
};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;

/// hyper's request body, noting its end in a flag shared with [`BodyEnd`].
pub(crate) struct RequestBody {
    body: Incoming,
    ended: Arc<AtomicBool>,
}

/// Whether a [`RequestBody`] was read to its end.
pub(crate) struct BodyEnd(Arc<AtomicBool>);

impl BodyEnd {
    /// Whether the body was read to its end (or had none).
    pub(crate) fn reached(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

impl RequestBody {
    /// `body`, and the flag of its end.
    pub(crate) fn new(body: Incoming) -> (Self, BodyEnd) {
        let ended = Arc::new(AtomicBool::new(body.is_end_stream()));
        let end = BodyEnd(ended.clone());
        (RequestBody { body, ended }, end)
    }
}

impl Body for RequestBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let this = self.get_mut();
        let frame = std::task::ready!(Pin::new(&mut this.body).poll_frame(cx));
        if frame.is_none() || this.body.is_end_stream() {
            this.ended.store(true, Ordering::Relaxed);
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}
