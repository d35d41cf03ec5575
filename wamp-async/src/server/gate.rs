//! Backpressure from the router task to one connection task: while the gate is held,
//! the connection does not read its socket (what it sent feeds a congested connection;
//! see `wamp_router::RouterEvent::InputPaused`).

use std::sync::atomic::{AtomicBool, Ordering};
use std::task::Context;

use futures::task::AtomicWaker;

/// Shared by the router task (which holds and releases it) and one connection task
/// (which checks it before reading).
#[derive(Debug, Default)]
pub(crate) struct InputGate {
    held: AtomicBool,
    waker: AtomicWaker,
}

impl InputGate {
    /// Stop reading.
    pub(crate) fn hold(&self) {
        self.held.store(true, Ordering::Release);
    }

    /// Read again; wakes the connection task if it waits.
    pub(crate) fn release(&self) {
        self.held.store(false, Ordering::Release);
        self.waker.wake();
    }

    /// Whether the connection may read now; if not, it is woken on release.
    pub(crate) fn poll_open(&self, cx: &mut Context<'_>) -> bool {
        if !self.held.load(Ordering::Acquire) {
            return true;
        }
        self.waker.register(cx.waker());
        // Released between the check and the registration: no wake-up would come.
        !self.held.load(Ordering::Acquire)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;
    use std::sync::Arc;
    use std::task::{Wake, Waker};

    use super::*;

    struct Count(AtomicUsize);
    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn a_held_gate_wakes_its_reader_on_release() {
        let count = Arc::new(Count(AtomicUsize::new(0)));
        let waker = Waker::from(count.clone());
        let mut cx = Context::from_waker(&waker);
        let gate = InputGate::default();
        assert!(gate.poll_open(&mut cx));
        gate.hold();
        assert!(!gate.poll_open(&mut cx));
        assert_eq!(count.0.load(Ordering::SeqCst), 0);
        gate.release();
        assert_eq!(count.0.load(Ordering::SeqCst), 1);
        assert!(gate.poll_open(&mut cx));
    }
}
