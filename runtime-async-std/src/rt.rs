//! hyper's runtime traits on async-io: [`HyperIo`] turns a futures-io stream into hyper's
//! `rt::Read`/`rt::Write`, [`AsyncIoTimer`] gives hyper `async_io::Timer`s. HTTP/1 needs no
//! executor (hyper spawns nothing for it), so there is none here.

use std::{
    future::Future,
    io,
    pin::Pin,
    task::{Context, Poll},
    time::{Duration, Instant},
};

use futures_lite::{AsyncRead, AsyncWrite};

/// Most bytes moved per read: hyper's buffer is filled from a stack copy, since the crate
/// forbids the `unsafe` needed to read into hyper's uninitialised buffer directly.
const READ_CHUNK: usize = 8 * 1024;

/// A futures-io stream as hyper's IO.
#[derive(Debug)]
pub(crate) struct HyperIo<T>(T);

impl<T> HyperIo<T> {
    pub(crate) fn new(io: T) -> Self {
        HyperIo(io)
    }

    pub(crate) fn into_inner(self) -> T {
        self.0
    }
}

impl<T: AsyncRead + Unpin> hyper::rt::Read for HyperIo<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        mut buf: hyper::rt::ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        let mut chunk = [0; READ_CHUNK];
        let room = buf.remaining().min(READ_CHUNK);
        if room == 0 {
            return Poll::Ready(Ok(()));
        }
        let read =
            std::task::ready!(Pin::new(&mut self.get_mut().0).poll_read(cx, &mut chunk[..room]))?;
        buf.put_slice(&chunk[..read.min(room)]);
        Poll::Ready(Ok(()))
    }
}

impl<T: AsyncWrite + Unpin> hyper::rt::Write for HyperIo<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().0).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().0).poll_write_vectored(cx, bufs)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_close(cx)
    }
}

/// hyper's timer (header read timeout) on async-io.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct AsyncIoTimer;

/// An [`async_io::Timer`] as hyper's `Sleep`.
struct AsyncIoSleep(async_io::Timer);

impl Future for AsyncIoSleep {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        Pin::new(&mut self.get_mut().0).poll(cx).map(drop)
    }
}

impl hyper::rt::Sleep for AsyncIoSleep {}

impl hyper::rt::Timer for AsyncIoTimer {
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn hyper::rt::Sleep>> {
        Box::pin(AsyncIoSleep(async_io::Timer::after(duration)))
    }

    fn sleep_until(&self, deadline: Instant) -> Pin<Box<dyn hyper::rt::Sleep>> {
        Box::pin(AsyncIoSleep(async_io::Timer::at(deadline)))
    }

    fn reset(&self, sleep: &mut Pin<Box<dyn hyper::rt::Sleep>>, new_deadline: Instant) {
        // Re-arms the same timer instead of allocating another, once per request head.
        match sleep.as_mut().downcast_mut_pin::<AsyncIoSleep>() {
            Some(mut sleep) => sleep.0.set_at(new_deadline),
            None => *sleep = self.sleep_until(new_deadline),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::rt::Timer;

    #[test]
    fn a_reset_timer_fires_at_its_new_deadline() {
        smol::block_on(async {
            let timer = AsyncIoTimer;
            let start = Instant::now();
            let mut sleep = timer.sleep(Duration::from_secs(60));
            timer.reset(&mut sleep, start + Duration::from_millis(20));
            sleep.await;
            assert!(start.elapsed() < Duration::from_secs(5));
        });
    }
}
