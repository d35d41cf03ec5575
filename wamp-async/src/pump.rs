//! The connection pump: the half of a connection loop that faces the byte stream, written
//! once for the client's connection loop ([`Driver`](crate::driver::Driver)) and the
//! router's connection tasks.
//!
//! It owns the stream, the framer and the [`Outbox`]: it reads into the framer (through
//! the per-thread read buffer), writes what the framer produced (small frames gathered
//! into one write, bounded by the owner's high-water mark), closes the stream within
//! [`LINGER`] once the transport is over, and keeps one timer for the owner's next
//! deadline. The owner decides what the messages mean, and when to stop reading.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use wamp_proto::Instant;

use futures::future::BoxFuture;
use futures::io::{AsyncRead, AsyncWrite};
use futures::FutureExt;

use crate::error::IoError;
use crate::framer::Framer;
use crate::outbox::Outbox;
use crate::runtime::{BoxStream, Runtime};
use crate::thread_buf::with_read_buf;

/// How long closing the byte stream (a TLS close_notify) may take at the end.
pub(crate) const LINGER: Duration = Duration::from_secs(1);
/// Turns of a loop before it yields to other tasks.
const BUDGET: usize = 64;

pub(crate) struct Pump {
    pub(crate) io: BoxStream,
    pub(crate) framer: Framer,
    pub(crate) out: Outbox,
    eof: bool,
    /// Set once the transport is over: by then the stream is closed.
    flush_deadline: Option<Instant>,
    /// Everything is written and the stream closed (or the time for it ran out).
    finished: bool,
    alarm: Alarm,
}

impl Pump {
    pub(crate) fn new(io: BoxStream, framer: Framer) -> Pump {
        Pump {
            io,
            framer,
            out: Outbox::default(),
            eof: false,
            flush_deadline: None,
            finished: false,
            alarm: Alarm::default(),
        }
    }

    /// Reads what the stream has and hands it to the framer; the end of the stream (or
    /// a read error) goes to the framer too. Whether anything happened.
    pub(crate) fn poll_read(&mut self, cx: &mut Context<'_>, now: Instant) -> bool {
        if self.eof || self.framer.is_done() || self.flush_deadline.is_some() {
            return false;
        }
        // Ready(Some(error)): the stream ended (`None`) or failed.
        let read = with_read_buf(|buf| match Pin::new(&mut self.io).poll_read(cx, buf) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Ok(0)) => Poll::Ready(Some(None)),
            Poll::Ready(Ok(n)) => {
                self.framer.handle_input(now, &buf[..n.min(buf.len())]);
                Poll::Ready(None)
            }
            Poll::Ready(Err(e)) if e.kind() == std::io::ErrorKind::Interrupted => Poll::Ready(None),
            Poll::Ready(Err(e)) => Poll::Ready(Some(Some(IoError::from(e)))),
        });
        match read {
            Poll::Pending => false,
            Poll::Ready(None) => true,
            Poll::Ready(Some(error)) => {
                self.end_input(now, error);
                true
            }
        }
    }

    /// The input ended (or failed): the framer hears of it.
    fn end_input(&mut self, now: Instant, error: Option<IoError>) {
        self.eof = true;
        self.framer.handle_eof(now, error);
    }

    /// Moves what the framer has to send into the outbox.
    pub(crate) fn collect_output(&mut self) {
        while let Some(bytes) = self.framer.poll_transmit() {
            self.out.push(bytes);
        }
    }

    /// The transport is over: write what is left, then close the stream, within
    /// [`LINGER`].
    pub(crate) fn begin_flush(&mut self, now: Instant) {
        if self.flush_deadline.is_none() {
            self.flush_deadline = Some(now + LINGER);
        }
    }

    pub(crate) fn is_flushing(&self) -> bool {
        self.flush_deadline.is_some()
    }

    /// Written, closed (or out of time): the loop can end.
    pub(crate) fn is_finished(&self) -> bool {
        self.finished
    }

    /// Writes what waits, as far as the stream takes it, and closes the stream once
    /// flushing. `Ok(progress)`; `Err(why)` when writing failed while the transport was
    /// still up (the framer has been told, so the owner drains it next; once flushing, a
    /// failure just finishes).
    pub(crate) fn poll_write(
        &mut self,
        cx: &mut Context<'_>,
        now: Instant,
    ) -> Result<bool, IoError> {
        if self.finished {
            return Ok(false);
        }
        let progress = match self.out.poll_write(&mut self.io, cx) {
            Ok(progress) => progress,
            Err(why) => {
                if self.flush_deadline.is_some() {
                    self.finished = true;
                    return Ok(true);
                }
                self.end_input(now, Some(why.clone()));
                return Err(why);
            }
        };
        if let Some(deadline) = self.flush_deadline {
            let closed = Pin::new(&mut self.io).poll_close(cx).is_ready();
            if closed || now >= deadline {
                self.finished = true;
                return Ok(true);
            }
        }
        Ok(progress)
    }

    /// Arms the timer for the earliest of `deadline` (the owner's) and the flush
    /// deadline; returns the time to act on when it fires.
    pub(crate) fn poll_timer<R: Runtime>(
        &mut self,
        cx: &mut Context<'_>,
        rt: &R,
        deadline: Option<Instant>,
    ) -> Option<Instant> {
        let deadline = [deadline, self.flush_deadline].into_iter().flatten().min();
        let now = self.alarm.poll(cx, rt, deadline)?;
        if self.flush_deadline.is_some_and(|d| d <= now) {
            self.finished = true;
        }
        Some(now)
    }
}

/// One timer for a loop's next deadline, whatever it is now.
///
/// A timer that fires no later than the next deadline is kept: a deadline that moves
/// later on every message (auto-ping's idle interval, a write-stall check) then costs
/// one early wake-up instead of a new timer per message.
#[derive(Default)]
pub(crate) struct Alarm {
    sleep: Option<(Instant, BoxFuture<'static, ()>)>,
}

impl Alarm {
    /// Waits for `deadline` (none: nothing to wait for); returns the time to act on when
    /// the timer fires.
    pub(crate) fn poll<R: Runtime>(
        &mut self,
        cx: &mut Context<'_>,
        rt: &R,
        deadline: Option<Instant>,
    ) -> Option<Instant> {
        let Some(deadline) = deadline else {
            self.sleep = None;
            return None;
        };
        if self.sleep.as_ref().is_none_or(|(at, _)| *at > deadline) {
            self.sleep = Some((deadline, rt.sleep_until(deadline)));
        }
        let (at, sleep) = self.sleep.as_mut()?;
        if sleep.poll_unpin(cx).is_pending() {
            return None;
        }
        let at = *at;
        self.sleep = None;
        // A timer may fire a hair early; the machines compare with `now`, and act only on
        // deadlines that have passed.
        Some(rt.now().max(at))
    }
}

/// What one turn of a loop did.
pub(crate) struct Turn {
    pub(crate) progress: bool,
    pub(crate) done: bool,
}

/// Runs `turn` until it is done or makes no progress, for at most a budget of turns,
/// then yields to other tasks (waking itself to go on).
pub(crate) fn run_turns(
    cx: &mut Context<'_>,
    mut turn: impl FnMut(&mut Context<'_>) -> Turn,
) -> Poll<()> {
    for _ in 0..BUDGET {
        let Turn { progress, done } = turn(cx);
        if done {
            return Poll::Ready(());
        }
        if !progress {
            return Poll::Pending;
        }
    }
    cx.waker().wake_by_ref();
    Poll::Pending
}
