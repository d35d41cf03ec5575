//! The buffers every connection reads its socket into and gathers its small writes in,
//! one of each per thread: the framers copy what they keep and a write's leftover stays
//! in the queue it came from, so both are free again as soon as the call returns, and an
//! idle connection (client or router side) holds no buffer of its own.

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

thread_local! {
    static WRITE_BUF: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// Runs `write` with this thread's write buffer, emptied and with room for `len` bytes.
/// Not reentrant either (a `poll_write` does not call it again).
pub(crate) fn with_write_buf<T>(len: usize, write: impl FnOnce(&mut Vec<u8>) -> T) -> T {
    WRITE_BUF.with(|cell| match cell.try_borrow_mut() {
        Ok(mut buf) => {
            buf.clear();
            buf.reserve(len);
            write(&mut buf)
        }
        Err(_) => write(&mut Vec::with_capacity(len)),
    })
}
