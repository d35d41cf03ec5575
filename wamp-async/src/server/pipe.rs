//! An in-memory, bounded, bidirectional byte stream. An in-process client reaches the
//! router through one: RawSocket framing on both ends, so it takes the same code path
//! as a socket (the same connection task, the same backpressure).

use std::collections::VecDeque;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use futures::io::{AsyncRead, AsyncWrite};

/// One direction: bytes written by one end and not yet read by the other.
#[derive(Default)]
struct Half {
    buf: VecDeque<u8>,
    /// The writing end closed or was dropped: the reader sees end of stream once the
    /// buffer is drained.
    writer_closed: bool,
    /// The reading end was dropped: writes fail.
    reader_gone: bool,
    /// The reader waiting for bytes.
    read_waker: Option<Waker>,
    /// The writer waiting for room.
    write_waker: Option<Waker>,
}

type SharedHalf = Arc<Mutex<Half>>;

fn lock(half: &SharedHalf) -> MutexGuard<'_, Half> {
    // A panic while holding the lock leaves the buffer consistent (every method
    // mutates it in one step), so a poisoned lock is still usable.
    half.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// One end of a [`duplex`] pipe.
pub(crate) struct PipeEnd {
    rx: SharedHalf,
    tx: SharedHalf,
    capacity: usize,
}

/// Two connected ends; each direction buffers at most `capacity` bytes, so a writer
/// whose reader does not keep up waits, as on a socket.
pub(crate) fn duplex(capacity: usize) -> (PipeEnd, PipeEnd) {
    let capacity = capacity.max(1);
    let a = SharedHalf::default();
    let b = SharedHalf::default();
    (
        PipeEnd {
            rx: a.clone(),
            tx: b.clone(),
            capacity,
        },
        PipeEnd {
            rx: b,
            tx: a,
            capacity,
        },
    )
}

impl AsyncRead for PipeEnd {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let mut half = lock(&self.rx);
        if half.buf.is_empty() {
            if half.writer_closed {
                return Poll::Ready(Ok(0));
            }
            half.read_waker = Some(cx.waker().clone());
            return Poll::Pending;
        }
        let n = buf.len().min(half.buf.len());
        for (slot, byte) in buf.iter_mut().zip(half.buf.drain(..n)) {
            *slot = byte;
        }
        if let Some(waker) = half.write_waker.take() {
            waker.wake();
        }
        Poll::Ready(Ok(n))
    }
}

impl AsyncWrite for PipeEnd {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let capacity = self.capacity;
        let mut half = lock(&self.tx);
        if half.reader_gone || half.writer_closed {
            return Poll::Ready(Err(io::ErrorKind::BrokenPipe.into()));
        }
        let room = capacity.saturating_sub(half.buf.len());
        if room == 0 {
            half.write_waker = Some(cx.waker().clone());
            return Poll::Pending;
        }
        let n = room.min(data.len());
        half.buf.extend(&data[..n]);
        if let Some(waker) = half.read_waker.take() {
            waker.wake();
        }
        Poll::Ready(Ok(n))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_close(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let mut half = lock(&self.tx);
        half.writer_closed = true;
        if let Some(waker) = half.read_waker.take() {
            waker.wake();
        }
        Poll::Ready(Ok(()))
    }
}

impl Drop for PipeEnd {
    fn drop(&mut self) {
        {
            let mut tx = lock(&self.tx);
            tx.writer_closed = true;
            if let Some(waker) = tx.read_waker.take() {
                waker.wake();
            }
        }
        let mut rx = lock(&self.rx);
        rx.reader_gone = true;
        rx.buf.clear();
        if let Some(waker) = rx.write_waker.take() {
            waker.wake();
        }
    }
}

#[cfg(test)]
mod tests {
    use futures::executor::block_on;
    use futures::io::{AsyncReadExt, AsyncWriteExt};
    use futures::FutureExt;

    use super::*;

    #[test]
    fn bytes_cross_both_ways_and_the_end_is_seen() {
        block_on(async {
            let (mut a, mut b) = duplex(4);
            // More than the capacity: the write waits until the reader takes some.
            let write = async {
                a.write_all(b"hello world").await.expect("written");
                a.close().await.expect("closed");
                a
            };
            let read = async {
                let mut got = Vec::new();
                b.read_to_end(&mut got).await.expect("read");
                (b, got)
            };
            let (mut a, (mut b, got)) = futures::join!(write, read);
            assert_eq!(got, b"hello world");
            b.write_all(b"back").await.expect("written");
            let mut four = [0u8; 4];
            a.read_exact(&mut four).await.expect("read");
            assert_eq!(&four, b"back");
        });
    }

    #[test]
    fn a_full_pipe_waits_and_a_dropped_reader_fails_the_writer() {
        block_on(async {
            let (mut a, b) = duplex(2);
            assert_eq!(a.write(b"abc").await.expect("partial"), 2);
            assert!(
                a.write(b"c").now_or_never().is_none(),
                "full: the writer waits"
            );
            drop(b);
            let err = a.write(b"c").await.expect_err("reader gone");
            assert_eq!(err.kind(), io::ErrorKind::BrokenPipe);
            let mut buf = [0u8; 1];
            assert_eq!(a.read(&mut buf).await.expect("eof"), 0);
        });
    }
}
