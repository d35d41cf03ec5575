//! A bounded single-consumer queue that never blocks its producer and never loses
//! items silently: what does not fit is counted, and the consumer reads the count as
//! [`Error::Lagged`] at the place where the items went missing.
//!
//! The connection loop must not wait for one slow reader (a subscription nobody polls
//! would otherwise stall every call result behind it, and a caller awaiting a result
//! while not reading its subscription would deadlock), so it pushes and moves on.

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use futures::Stream;

use crate::error::Error;

enum Item<T> {
    Value(T),
    Lagged(u64),
    Failed(Error),
}

struct Inner<T> {
    items: VecDeque<Item<T>>,
    /// Values in `items` (markers do not count against the capacity).
    values: usize,
    /// Dropped since the last marker.
    missed: u64,
    /// No more items will come.
    closed: bool,
    receiver_alive: bool,
    waker: Option<Waker>,
}

struct Shared<T> {
    capacity: usize,
    inner: Mutex<Inner<T>>,
}

impl<T> Shared<T> {
    fn lock(&self) -> MutexGuard<'_, Inner<T>> {
        // A panic elsewhere while holding the lock leaves consistent data (every update
        // is a single step), so a poisoned lock is still usable.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// What became of a pushed value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Pushed {
    /// Queued.
    Queued,
    /// The queue was full; the value was dropped and counted.
    Dropped,
    /// The receiver is gone.
    Gone,
}

/// The producer side, held by the connection loop.
pub(crate) struct QueueTx<T> {
    shared: Arc<Shared<T>>,
}

/// The consumer side: a stream of `Result<T, Error>`; it ends after `close`.
pub(crate) struct QueueRx<T> {
    shared: Arc<Shared<T>>,
}

pub(crate) fn queue<T>(capacity: usize) -> (QueueTx<T>, QueueRx<T>) {
    let shared = Arc::new(Shared {
        capacity: capacity.max(1),
        inner: Mutex::new(Inner {
            items: VecDeque::new(),
            values: 0,
            missed: 0,
            closed: false,
            receiver_alive: true,
            waker: None,
        }),
    });
    (
        QueueTx {
            shared: shared.clone(),
        },
        QueueRx { shared },
    )
}

impl<T> Inner<T> {
    fn flush_missed(&mut self) {
        if self.missed > 0 {
            self.items.push_back(Item::Lagged(self.missed));
            self.missed = 0;
        }
    }

    fn wake(&mut self) {
        if let Some(waker) = self.waker.take() {
            waker.wake();
        }
    }
}

impl<T> QueueTx<T> {
    /// Queues `value`, or counts it as missed if the queue is full.
    pub(crate) fn push(&self, value: T) -> Pushed {
        let mut inner = self.shared.lock();
        if !inner.receiver_alive || inner.closed {
            return Pushed::Gone;
        }
        if inner.values >= self.shared.capacity {
            inner.missed += 1;
            return Pushed::Dropped;
        }
        inner.flush_missed();
        inner.items.push_back(Item::Value(value));
        inner.values += 1;
        inner.wake();
        Pushed::Queued
    }

    /// Queues the last item, beyond the capacity (a final result must not be lost),
    /// and ends the stream.
    pub(crate) fn finish(&self, last: Result<T, Error>) {
        let mut inner = self.shared.lock();
        if !inner.receiver_alive || inner.closed {
            return;
        }
        inner.flush_missed();
        match last {
            Ok(value) => {
                inner.items.push_back(Item::Value(value));
                inner.values += 1;
            }
            Err(e) => inner.items.push_back(Item::Failed(e)),
        }
        inner.closed = true;
        inner.wake();
    }

    /// Ends the stream without a last item.
    pub(crate) fn close(&self) {
        let mut inner = self.shared.lock();
        inner.flush_missed();
        inner.closed = true;
        inner.wake();
    }
}

impl<T> Drop for QueueTx<T> {
    fn drop(&mut self) {
        self.close();
    }
}

impl<T> QueueRx<T> {
    /// Whether the stream has ended and everything was read.
    pub(crate) fn is_terminated(&self) -> bool {
        let inner = self.shared.lock();
        inner.closed && inner.items.is_empty() && inner.missed == 0
    }
}

impl<T> Stream for QueueRx<T> {
    type Item = Result<T, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let mut inner = self.shared.lock();
        match inner.items.pop_front() {
            Some(Item::Value(value)) => {
                inner.values -= 1;
                return Poll::Ready(Some(Ok(value)));
            }
            Some(Item::Lagged(missed)) => return Poll::Ready(Some(Err(Error::Lagged { missed }))),
            Some(Item::Failed(e)) => return Poll::Ready(Some(Err(e))),
            None => {}
        }
        if inner.missed > 0 {
            let missed = std::mem::take(&mut inner.missed);
            return Poll::Ready(Some(Err(Error::Lagged { missed })));
        }
        if inner.closed {
            return Poll::Ready(None);
        }
        inner.waker = Some(cx.waker().clone());
        Poll::Pending
    }
}

impl<T> Drop for QueueRx<T> {
    fn drop(&mut self) {
        let mut inner = self.shared.lock();
        inner.receiver_alive = false;
        inner.items.clear();
        inner.values = 0;
        inner.waker = None;
    }
}

#[cfg(test)]
mod tests {
    use futures::executor::block_on;
    use futures::StreamExt;

    use super::*;

    #[test]
    fn overflow_is_reported_where_it_happened() {
        let (tx, mut rx) = queue::<u32>(2);
        assert_eq!(tx.push(1), Pushed::Queued);
        assert_eq!(tx.push(2), Pushed::Queued);
        assert_eq!(tx.push(3), Pushed::Dropped);
        assert_eq!(tx.push(4), Pushed::Dropped);
        block_on(async {
            assert_eq!(rx.next().await, Some(Ok(1)));
            assert_eq!(tx.push(5), Pushed::Queued);
            assert_eq!(rx.next().await, Some(Ok(2)));
            assert_eq!(rx.next().await, Some(Err(Error::Lagged { missed: 2 })));
            assert_eq!(rx.next().await, Some(Ok(5)));
            tx.finish(Ok(6));
            assert_eq!(rx.next().await, Some(Ok(6)));
            assert_eq!(rx.next().await, None);
            assert!(rx.is_terminated());
        });
    }

    #[test]
    fn missed_items_at_the_end_are_reported_before_the_end() {
        let (tx, mut rx) = queue::<u32>(1);
        tx.push(1);
        tx.push(2);
        drop(tx);
        block_on(async {
            assert_eq!(rx.next().await, Some(Ok(1)));
            assert_eq!(rx.next().await, Some(Err(Error::Lagged { missed: 1 })));
            assert_eq!(rx.next().await, None);
        });
    }

    #[test]
    fn final_items_exceed_the_capacity_and_a_gone_receiver_is_seen() {
        let (tx, mut rx) = queue::<u32>(1);
        tx.push(1);
        tx.finish(Err(Error::Canceled));
        block_on(async {
            assert_eq!(rx.next().await, Some(Ok(1)));
            assert_eq!(rx.next().await, Some(Err(Error::Canceled)));
            assert_eq!(rx.next().await, None);
        });
        drop(rx);
        assert_eq!(tx.push(2), Pushed::Gone);
    }
}
