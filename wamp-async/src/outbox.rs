//! Bytes waiting to be written to a stream: the output half shared by the client's
//! connection loop and the router's connection tasks.

use std::collections::VecDeque;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Buf, Bytes};
use futures::io::AsyncWrite;

use crate::error::IoError;
use crate::thread_buf::with_write_buf;

/// Most bytes gathered into one write.
const COALESCE_MAX: usize = 64 * 1024;

/// A queue of byte chunks, written as far as the stream takes them, then flushed.
///
/// Many small chunks (frames, their headers) are gathered into one buffer of at most
/// [`COALESCE_MAX`] bytes, so a burst of messages costs one system call rather than one
/// each; a lone chunk is written as it is, so one message in flight waits for nothing.
/// (A copy rather than a vectored write: not every stream forwards vectored writes,
/// Tokio's compat layer and TLS among them, and the copy is cheap next to a system call.
/// The copy goes to a buffer per thread, so gathering allocates nothing; a write that
/// takes part of it leaves the rest in the queue as it was.)
///
/// The owner bounds it: it stops producing output while [`Outbox::len`] is above its
/// high-water mark.
#[derive(Debug, Default)]
pub(crate) struct Outbox {
    chunks: VecDeque<Bytes>,
    len: usize,
    needs_flush: bool,
}

impl Outbox {
    /// Queues `bytes` behind what is already waiting.
    pub(crate) fn push(&mut self, bytes: Bytes) {
        self.len += bytes.len();
        self.chunks.push_back(bytes);
    }

    /// How many bytes wait.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Forgets everything (the stream failed).
    pub(crate) fn clear(&mut self) {
        self.chunks.clear();
        self.len = 0;
        self.needs_flush = false;
    }

    /// Writes what the stream takes without waiting, then flushes. `Ok(progress)` says
    /// whether anything moved; `Err` says why the stream failed (the queue is then
    /// cleared).
    pub(crate) fn poll_write<W: AsyncWrite + Unpin + ?Sized>(
        &mut self,
        io: &mut W,
        cx: &mut Context<'_>,
    ) -> Result<bool, IoError> {
        let mut progress = false;
        while !self.chunks.is_empty() {
            match self.write_front(io, cx) {
                Poll::Pending => return Ok(progress),
                Poll::Ready(Ok(0)) => {
                    return self.fail(std::io::Error::new(
                        std::io::ErrorKind::WriteZero,
                        "the stream accepts no more bytes",
                    ))
                }
                Poll::Ready(Ok(n)) => {
                    self.consume(n);
                    self.needs_flush = true;
                    progress = true;
                }
                Poll::Ready(Err(e)) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Poll::Ready(Err(e)) => return self.fail(e),
            }
        }
        if self.chunks.capacity() > 16 {
            // A burst's queue is not kept by an idle connection.
            self.chunks = VecDeque::new();
        }
        if self.needs_flush {
            match Pin::new(&mut *io).poll_flush(cx) {
                Poll::Pending => return Ok(progress),
                Poll::Ready(Ok(())) => self.needs_flush = false,
                Poll::Ready(Err(e)) => return self.fail(e),
            }
        }
        Ok(progress)
    }

    /// One write of the chunks at the front: a lone chunk as it is, several small ones
    /// gathered (up to [`COALESCE_MAX`] bytes) in this thread's write buffer.
    fn write_front<W: AsyncWrite + Unpin + ?Sized>(
        &mut self,
        io: &mut W,
        cx: &mut Context<'_>,
    ) -> Poll<std::io::Result<usize>> {
        let mut total = 0;
        let mut count = 0;
        for chunk in &self.chunks {
            if count > 0 && total + chunk.len() > COALESCE_MAX {
                break;
            }
            total += chunk.len();
            count += 1;
        }
        if count < 2 {
            let Some(front) = self.chunks.front() else {
                return Poll::Ready(Ok(0));
            };
            return Pin::new(&mut *io).poll_write(cx, front);
        }
        let chunks = self.chunks.iter().take(count);
        with_write_buf(total, |buf| {
            for chunk in chunks {
                buf.extend_from_slice(chunk);
            }
            Pin::new(&mut *io).poll_write(cx, buf)
        })
    }

    /// Drops the first `n` bytes written.
    fn consume(&mut self, n: usize) {
        let n = n.min(self.len);
        self.len -= n;
        let mut left = n;
        while left > 0 {
            let Some(front) = self.chunks.front_mut() else {
                break;
            };
            if front.len() <= left {
                left -= front.len();
                self.chunks.pop_front();
            } else {
                front.advance(left);
                left = 0;
            }
        }
        while self.chunks.front().is_some_and(Bytes::is_empty) {
            self.chunks.pop_front();
        }
    }

    fn fail(&mut self, why: std::io::Error) -> Result<bool, IoError> {
        self.clear();
        Err(IoError::from(why))
    }
}

#[cfg(test)]
mod tests {
    use std::io;

    use futures::task::noop_waker;

    use super::*;

    /// A stream that keeps what it is given and records the size of every write; it
    /// takes at most `cap` bytes a write.
    struct Recorder {
        data: Vec<u8>,
        writes: Vec<usize>,
        cap: usize,
    }

    impl Recorder {
        fn new(cap: usize) -> Recorder {
            Recorder {
                data: Vec::new(),
                writes: Vec::new(),
                cap,
            }
        }
    }

    impl AsyncWrite for Recorder {
        fn poll_write(
            mut self: Pin<&mut Self>,
            _cx: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<io::Result<usize>> {
            let n = buf.len().min(self.cap);
            self.data.extend_from_slice(&buf[..n]);
            self.writes.push(n);
            Poll::Ready(Ok(n))
        }
        fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
        fn poll_close(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }

    #[test]
    fn many_small_chunks_go_out_in_one_write_and_a_lone_one_as_it_is() {
        let waker = noop_waker();
        let mut cx = Context::from_waker(&waker);
        let mut out = Outbox::default();
        let mut io = Recorder::new(usize::MAX);
        for _ in 0..1000 {
            out.push(Bytes::from_static(&[7; 40]));
        }
        assert_eq!(out.poll_write(&mut io, &mut cx), Ok(true));
        assert_eq!(io.writes, vec![40_000], "one system call for the burst");
        assert_eq!(out.len(), 0);

        out.push(Bytes::from(vec![1; 100_000]));
        assert_eq!(out.poll_write(&mut io, &mut cx), Ok(true));
        assert_eq!(io.writes[1..], [100_000], "a big chunk goes out as it is");
    }

    #[test]
    fn batches_are_bounded_and_partial_writes_keep_the_order() {
        let waker = noop_waker();
        let mut cx = Context::from_waker(&waker);
        let mut expected = Vec::new();
        for cap in [usize::MAX, 1000, 7] {
            let mut out = Outbox::default();
            let mut io = Recorder::new(cap);
            expected.clear();
            for i in 0..30_000u32 {
                let chunk = i.to_be_bytes();
                expected.extend_from_slice(&chunk);
                out.push(Bytes::copy_from_slice(&chunk));
            }
            assert_eq!(out.poll_write(&mut io, &mut cx), Ok(true));
            assert_eq!(io.data, expected, "every byte in order (cap {cap})");
            assert!(io.writes.iter().all(|&n| n <= COALESCE_MAX), "cap {cap}");
            if cap == usize::MAX {
                assert_eq!(io.writes.len(), 120_000usize.div_ceil(COALESCE_MAX));
            }
        }
    }

    /// A stream whose every write fails with `kind`.
    struct Broken(io::ErrorKind);

    impl AsyncWrite for Broken {
        fn poll_write(
            self: Pin<&mut Self>,
            _cx: &mut Context<'_>,
            _buf: &[u8],
        ) -> Poll<io::Result<usize>> {
            Poll::Ready(Err(io::Error::new(self.0, "the peer is gone")))
        }
        fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
        fn poll_close(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }

    #[test]
    fn a_failed_write_keeps_the_io_error_and_clears_the_queue() {
        let waker = noop_waker();
        let mut cx = Context::from_waker(&waker);
        let mut out = Outbox::default();
        out.push(Bytes::from_static(b"hello"));
        let error = out
            .poll_write(&mut Broken(io::ErrorKind::BrokenPipe), &mut cx)
            .expect_err("the write fails");
        assert_eq!(error.kind(), io::ErrorKind::BrokenPipe);
        assert_eq!(error.get_ref().to_string(), "the peer is gone");
        assert_eq!(out.len(), 0, "nothing is kept for a dead stream");
    }
}
