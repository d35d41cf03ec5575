//! A byte budget between session handles and the connection loop: a request takes its
//! size from the budget before it enters the command channel and gives it back when the
//! loop has taken it, so what waits for the loop is bounded in bytes, not only in
//! commands. A request that finds the budget spent waits (async backpressure); one
//! larger than the whole budget goes alone, once nothing else waits.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

#[derive(Debug)]
struct State {
    /// Bytes taken and not yet given back.
    used: usize,
    /// Requests waiting for room, first come first served: (ticket, waker).
    waiting: VecDeque<(u64, Waker)>,
    next_ticket: u64,
}

/// The budget, shared by every handle of one session and its loop.
#[derive(Debug)]
pub(crate) struct ByteBudget {
    limit: usize,
    state: Mutex<State>,
}

impl ByteBudget {
    pub(crate) fn new(limit: usize) -> Arc<ByteBudget> {
        Arc::new(ByteBudget {
            limit: limit.max(1),
            state: Mutex::new(State {
                used: 0,
                waiting: VecDeque::new(),
                next_ticket: 0,
            }),
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Every update is one step, so a poisoned lock still holds consistent data.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Waits until `bytes` fit, then takes them; the permit gives them back when dropped.
    pub(crate) fn acquire(self: &Arc<Self>, bytes: usize) -> Acquire {
        Acquire {
            budget: self.clone(),
            bytes,
            ticket: None,
        }
    }

    /// Bytes taken and not given back (for tests and logs).
    #[cfg(test)]
    pub(crate) fn used(&self) -> usize {
        self.lock().used
    }

    fn release(&self, bytes: usize) {
        let mut state = self.lock();
        state.used = state.used.saturating_sub(bytes);
        if let Some((_, waker)) = state.waiting.front() {
            waker.wake_by_ref();
        }
    }
}

/// Bytes taken from a [`ByteBudget`], given back on drop.
#[derive(Debug)]
pub(crate) struct Permit {
    budget: Arc<ByteBudget>,
    bytes: usize,
}

impl Drop for Permit {
    fn drop(&mut self) {
        self.budget.release(self.bytes);
    }
}

/// The future of [`ByteBudget::acquire`].
#[derive(Debug)]
pub(crate) struct Acquire {
    budget: Arc<ByteBudget>,
    bytes: usize,
    /// Its place in the queue, once it had to wait.
    ticket: Option<u64>,
}

impl Future for Acquire {
    type Output = Permit;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Permit> {
        let this = &mut *self;
        let budget = this.budget.clone();
        let mut state = budget.lock();
        let first = match this.ticket {
            None => state.waiting.is_empty(),
            Some(t) => state.waiting.front().is_some_and(|(f, _)| *f == t),
        };
        let fits = state.used + this.bytes <= budget.limit || state.used == 0;
        if first && fits {
            if this.ticket.take().is_some() {
                state.waiting.pop_front();
                // The next in line may fit too.
                if let Some((_, waker)) = state.waiting.front() {
                    waker.wake_by_ref();
                }
            }
            state.used += this.bytes;
            return Poll::Ready(Permit {
                budget: this.budget.clone(),
                bytes: this.bytes,
            });
        }
        match this.ticket {
            Some(t) => {
                if let Some(entry) = state.waiting.iter_mut().find(|(f, _)| *f == t) {
                    entry.1 = cx.waker().clone();
                }
            }
            None => {
                let t = state.next_ticket;
                state.next_ticket += 1;
                state.waiting.push_back((t, cx.waker().clone()));
                this.ticket = Some(t);
            }
        }
        Poll::Pending
    }
}

impl Drop for Acquire {
    fn drop(&mut self) {
        // A request given up while waiting leaves the queue; the next may go.
        if let Some(t) = self.ticket {
            let mut state = self.budget.lock();
            let was_first = state.waiting.front().is_some_and(|(f, _)| *f == t);
            state.waiting.retain(|(f, _)| *f != t);
            if was_first {
                if let Some((_, waker)) = state.waiting.front() {
                    waker.wake_by_ref();
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use futures::task::noop_waker;

    use super::*;

    fn poll(f: &mut Acquire) -> Option<Permit> {
        let waker = noop_waker();
        let mut cx = Context::from_waker(&waker);
        match Pin::new(f).poll(&mut cx) {
            Poll::Ready(p) => Some(p),
            Poll::Pending => None,
        }
    }

    #[test]
    fn requests_wait_for_room_in_order_and_a_big_one_goes_alone() {
        let budget = ByteBudget::new(100);
        let a = poll(&mut budget.acquire(60)).expect("fits");
        let mut b = budget.acquire(60);
        assert!(poll(&mut b).is_none(), "over the budget: waits");
        let mut c = budget.acquire(10);
        assert!(poll(&mut c).is_none(), "fits, but waits behind b");
        drop(a);
        let b = poll(&mut b).expect("room now");
        let c = poll(&mut c).expect("fits beside b");
        assert_eq!(budget.used(), 70);
        drop((b, c));
        assert_eq!(budget.used(), 0);
        let huge = poll(&mut budget.acquire(1000)).expect("alone, it may exceed");
        let mut small = budget.acquire(1);
        assert!(poll(&mut small).is_none());
        drop(huge);
        assert!(poll(&mut small).is_some());
    }

    #[test]
    fn a_waiter_given_up_lets_the_next_one_go() {
        let budget = ByteBudget::new(10);
        let a = poll(&mut budget.acquire(10)).expect("fits");
        let mut b = budget.acquire(10);
        assert!(poll(&mut b).is_none());
        let mut c = budget.acquire(5);
        assert!(poll(&mut c).is_none());
        drop(b);
        drop(a);
        assert!(poll(&mut c).is_some());
    }
}
