//! The buffer every connection reads its socket into, one per thread: the framers copy
//! what they keep, so it is free again as soon as `poll_read` returns, and an idle
//! connection (client or router side) holds no read buffer of its own.

use std::cell::RefCell;

/// How much one read takes at most.
const READ_CHUNK: usize = 64 * 1024;

thread_local! {
    static READ_BUF: RefCell<Box<[u8]>> = RefCell::new(vec![0; READ_CHUNK].into_boxed_slice());
}

/// Runs `read` with this thread's read buffer. Not reentrant: `read` must not call it
/// again (a `poll_read` does not).
pub(crate) fn with_read_buf<T>(read: impl FnOnce(&mut [u8]) -> T) -> T {
    READ_BUF.with(|cell| match cell.try_borrow_mut() {
        Ok(mut buf) => read(&mut buf),
        // Reentered after all: a buffer of its own for this call rather than a panic.
        Err(_) => read(&mut vec![0; READ_CHUNK]),
    })
}
