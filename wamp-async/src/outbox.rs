//! Bytes waiting to be written to a stream: the output half shared by the client's
//! connection loop and the router's connection tasks.

use std::collections::VecDeque;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Buf, Bytes};
use futures::io::AsyncWrite;

/// A queue of byte chunks, written as far as the stream takes them, then flushed.
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
    ) -> Result<bool, String> {
        let mut progress = false;
        while let Some(front) = self.chunks.front_mut() {
            match Pin::new(&mut *io).poll_write(cx, front) {
                Poll::Pending => return Ok(progress),
                Poll::Ready(Ok(0)) => return self.fail("the stream accepts no more bytes".into()),
                Poll::Ready(Ok(n)) => {
                    let n = n.min(front.len());
                    front.advance(n);
                    self.len -= n;
                    if front.is_empty() {
                        self.chunks.pop_front();
                    }
                    self.needs_flush = true;
                    progress = true;
                }
                Poll::Ready(Err(e)) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Poll::Ready(Err(e)) => return self.fail(e.to_string()),
            }
        }
        if self.needs_flush {
            match Pin::new(&mut *io).poll_flush(cx) {
                Poll::Pending => return Ok(progress),
                Poll::Ready(Ok(())) => self.needs_flush = false,
                Poll::Ready(Err(e)) => return self.fail(e.to_string()),
            }
        }
        Ok(progress)
    }

    fn fail(&mut self, why: String) -> Result<bool, String> {
        self.clear();
        Err(why)
    }
}
