//! What the router task hands one connection task to write: a queue whose backlog is
//! counted in bytes.
//!
//! The router task pushes encoded messages without waiting, and wakes the connection
//! task once at the end of its turn ([`Outlet::wake`]) rather than at every push: a task
//! on another core woken by the first push would take one message and write it alone,
//! while the rest of the turn's messages for it were still being routed. The connection
//! task takes what is queued in batches. When the backlog passes its byte limit the push
//! says so: the router task pauses the connection in the router (whose own queue is
//! bounded by the router's byte budgets, with backpressure on the sessions that feed it)
//! until the connection task reports room, which it does as soon as it takes anything:
//! any progress at all ends the pause (and so restarts the router's write deadline).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};

use bytes::Bytes;
use futures::task::AtomicWaker;

/// Most messages taken in one go: the task writes them, then comes back for more, so the
/// head of a burst goes out while the router task is still producing its tail (taking
/// 256 at a time measured a quarter slower with 100 calls in flight).
const TAKE_MAX: usize = 64;

#[derive(Debug, Default)]
struct Queue {
    messages: VecDeque<Bytes>,
    /// The router pushes no more: once `messages` is taken, the task closes.
    closed: bool,
}

#[derive(Debug)]
struct Shared {
    /// Held only to move messages in or out.
    queue: Mutex<Queue>,
    /// The connection task, when it waits for messages.
    waker: AtomicWaker,
    /// The connection task dropped its receiver.
    gone: AtomicBool,
    /// Bytes pushed and not yet taken.
    bytes: AtomicUsize,
    /// A push found the limit passed; whoever clears it says so (the taker reports room
    /// with its next take, or the pusher finds the backlog already taken and goes on).
    full: AtomicBool,
    limit: usize,
}

impl Shared {
    /// The backlog is below the limit again.
    fn has_room(&self) -> bool {
        self.bytes.load(Ordering::SeqCst) < self.limit
    }

    fn queue(&self) -> MutexGuard<'_, Queue> {
        // A panic while holding this lock cannot leave the queue half-changed.
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The router task's side.
#[derive(Debug)]
pub(crate) struct Outlet {
    shared: Arc<Shared>,
    /// Closed by the router task: nothing more is pushed.
    closed: bool,
    /// Pushed since the last [`Outlet::wake`].
    unannounced: bool,
}

/// What became of a pushed message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Pushed {
    /// Queued; the task hears of it at the next [`Outlet::wake`]. `first` says whether
    /// it is the first push since the last wake (the caller lists the outlet to wake).
    Queued { first: bool },
    /// Queued, and the outlet is at its limit: push no more until room is reported.
    Full { first: bool },
    /// The connection task is gone.
    Gone,
}

/// What the connection task took.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Taken {
    /// The outlet had been full: tell the router task there is room now.
    pub(crate) room: bool,
    /// The router is done with the connection and everything it sent is taken.
    pub(crate) closed: bool,
}

impl Outlet {
    /// An outlet that is full at `limit` bytes.
    pub(crate) fn new(limit: usize) -> (Outlet, OutletReceiver) {
        let shared = Arc::new(Shared {
            queue: Mutex::new(Queue::default()),
            waker: AtomicWaker::new(),
            gone: AtomicBool::new(false),
            bytes: AtomicUsize::new(0),
            full: AtomicBool::new(false),
            limit: limit.max(2),
        });
        (
            Outlet {
                shared: shared.clone(),
                closed: false,
                unannounced: false,
            },
            OutletReceiver { shared },
        )
    }

    /// Queues `bytes`; the task is woken by the next [`Outlet::wake`].
    pub(crate) fn push(&mut self, bytes: Bytes) -> Pushed {
        let shared = &self.shared;
        if self.closed || shared.gone.load(Ordering::SeqCst) {
            return Pushed::Gone;
        }
        let len = bytes.len();
        shared.bytes.fetch_add(len, Ordering::SeqCst);
        shared.queue().messages.push_back(bytes);
        let first = !std::mem::replace(&mut self.unannounced, true);
        if shared.bytes.load(Ordering::SeqCst) < shared.limit {
            return Pushed::Queued { first };
        }
        shared.full.store(true, Ordering::SeqCst);
        // Taken meanwhile, before the taker could see the flag? Then there is room.
        if shared.has_room() && shared.full.swap(false, Ordering::SeqCst) {
            return Pushed::Queued { first };
        }
        Pushed::Full { first }
    }

    /// Wakes the task if anything was pushed since the last wake.
    pub(crate) fn wake(&mut self) {
        if std::mem::take(&mut self.unannounced) {
            self.shared.waker.wake();
        }
    }

    /// Nothing more will be pushed; the connection task closes the transport once it
    /// has taken what is queued (it is woken now).
    pub(crate) fn close(&mut self) {
        self.closed = true;
        self.unannounced = false;
        self.shared.queue().closed = true;
        self.shared.waker.wake();
    }
}

impl Drop for Outlet {
    fn drop(&mut self) {
        if !self.closed {
            self.close();
        }
    }
}

/// The connection task's side; dropping it tells the router task nobody takes any more.
#[derive(Debug)]
pub(crate) struct OutletReceiver {
    shared: Arc<Shared>,
}

impl OutletReceiver {
    /// Moves what is queued (up to a batch) into `into`, or waits for something.
    pub(crate) fn poll_take(
        &mut self,
        cx: &mut Context<'_>,
        into: &mut VecDeque<Bytes>,
    ) -> Poll<Taken> {
        let (taken, closed) = match self.take(into) {
            (0, false) => {
                // Register before looking again, so a push and wake in between is seen.
                self.shared.waker.register(cx.waker());
                match self.take(into) {
                    (0, false) => return Poll::Pending,
                    other => other,
                }
            }
            other => other,
        };
        self.shared.bytes.fetch_sub(taken, Ordering::SeqCst);
        // Any progress ends a pause: the router's write deadline is about a writer that
        // takes nothing at all, not about one that is slow.
        let room = taken > 0 && self.shared.full.swap(false, Ordering::SeqCst);
        Poll::Ready(Taken { room, closed })
    }

    /// Takes up to the batch limit: (bytes taken, whether the router is done and
    /// nothing is left).
    fn take(&mut self, into: &mut VecDeque<Bytes>) -> (usize, bool) {
        let mut queue = self.shared.queue();
        let count = TAKE_MAX
            .saturating_sub(into.len())
            .min(queue.messages.len());
        let mut taken = 0;
        for bytes in queue.messages.drain(..count) {
            taken += bytes.len();
            into.push_back(bytes);
        }
        if queue.messages.is_empty() && queue.messages.capacity() > TAKE_MAX {
            // A burst is over: an idle connection keeps no room for the next one.
            queue.messages = VecDeque::new();
        }
        (taken, queue.closed && queue.messages.is_empty())
    }
}

impl Drop for OutletReceiver {
    fn drop(&mut self) {
        self.shared.gone.store(true, Ordering::SeqCst);
        // What waited is dropped with the receiver, not when the router's side goes.
        let dropped = std::mem::take(&mut self.shared.queue().messages);
        drop(dropped);
    }
}

#[cfg(test)]
mod tests {
    use futures::task::noop_waker;

    use super::*;

    /// Takes what is queued: the poll's answer and how many messages it took.
    fn take(receiver: &mut OutletReceiver, cx: &mut Context<'_>) -> (Poll<Taken>, usize) {
        let mut taken = VecDeque::new();
        let got = receiver.poll_take(cx, &mut taken);
        (got, taken.len())
    }

    fn ready(room: bool, closed: bool) -> Poll<Taken> {
        Poll::Ready(Taken { room, closed })
    }

    #[test]
    fn a_full_outlet_says_so_and_reports_room_once_taken() {
        let waker = noop_waker();
        let mut cx = Context::from_waker(&waker);
        let (mut outlet, mut receiver) = Outlet::new(100);
        assert!(take(&mut receiver, &mut cx).0.is_pending());
        assert_eq!(
            outlet.push(Bytes::from_static(&[0; 60])),
            Pushed::Queued { first: true }
        );
        assert_eq!(
            outlet.push(Bytes::from_static(&[1; 60])),
            Pushed::Full { first: false }
        );
        outlet.wake();
        assert_eq!(take(&mut receiver, &mut cx), (ready(true, false), 2));
        assert_eq!(
            outlet.push(Bytes::from_static(&[2; 10])),
            Pushed::Queued { first: true }
        );
        outlet.close();
        assert_eq!(take(&mut receiver, &mut cx), (ready(false, true), 1));
        drop(receiver);
        assert_eq!(outlet.push(Bytes::from_static(&[3])), Pushed::Gone);
    }
}
