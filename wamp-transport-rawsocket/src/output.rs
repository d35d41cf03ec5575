//! The bounded queue behind `poll_transmit`.

use std::collections::VecDeque;

use bytes::{BufMut, Bytes, BytesMut};

use crate::frame::HEADER_LEN;

/// Payloads up to this size are copied next to their header, so a run of small frames
/// leaves as one write. Larger payloads are queued as they are (zero-copy).
const COALESCE_MAX: usize = 4096;

/// Bytes waiting to be written, in order: `ready` first, then `tail`.
#[derive(Debug, Default)]
pub(crate) struct Output {
    /// Finished chunks, oldest first.
    ready: VecDeque<Bytes>,
    /// Small frames being coalesced; always newer than everything in `ready`.
    tail: BytesMut,
    /// Total bytes in `ready` and `tail`.
    queued: usize,
}

impl Output {
    pub(crate) fn queued(&self) -> usize {
        self.queued
    }

    /// Whether one more frame may be queued: while the queue holds at most `limit` bytes.
    /// `limit` is a high-water mark, so the queue never holds more than `limit` plus one
    /// frame, and any single frame (at most 2^24 + 4 bytes) can always be queued once
    /// the queue has drained below it.
    pub(crate) fn accepts_more(&self, limit: usize) -> bool {
        self.queued <= limit
    }

    /// Queues raw bytes (a handshake).
    pub(crate) fn push_raw(&mut self, bytes: &[u8]) {
        self.tail.put_slice(bytes);
        self.queued += bytes.len();
    }

    /// Queues one frame.
    pub(crate) fn push_frame(&mut self, header: [u8; HEADER_LEN], payload: Bytes) {
        self.queued += HEADER_LEN + payload.len();
        self.tail.put_slice(&header);
        if payload.len() <= COALESCE_MAX {
            self.tail.put_slice(&payload);
        } else {
            self.ready.push_back(self.tail.split().freeze());
            self.ready.push_back(payload);
        }
    }

    /// The next bytes to write.
    pub(crate) fn pop(&mut self) -> Option<Bytes> {
        let next = match self.ready.pop_front() {
            Some(chunk) => chunk,
            None if !self.tail.is_empty() => self.tail.split().freeze(),
            None => return None,
        };
        self.queued -= next.len();
        Some(next)
    }

    /// Drops everything queued and releases the memory.
    pub(crate) fn clear(&mut self) {
        *self = Self::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain(output: &mut Output) -> Vec<u8> {
        let mut all = Vec::new();
        while let Some(chunk) = output.pop() {
            assert!(!chunk.is_empty());
            all.extend_from_slice(&chunk);
        }
        assert_eq!(output.queued(), 0);
        all
    }

    #[test]
    fn keeps_order_across_small_and_large_frames() {
        let mut output = Output::default();
        output.push_raw(&[0x7f, 0xf1, 0, 0]);
        output.push_frame([0, 0, 0, 1], Bytes::from_static(b"a"));
        let big = Bytes::from(vec![7u8; COALESCE_MAX + 1]);
        output.push_frame([0, 0, 0x10, 0x01], big.clone());
        output.push_frame([0, 0, 0, 1], Bytes::from_static(b"b"));
        assert_eq!(output.queued(), 4 + 5 + 4 + big.len() + 5);

        let mut expected = vec![0x7f, 0xf1, 0, 0, 0, 0, 0, 1, b'a', 0, 0, 0x10, 0x01];
        expected.extend_from_slice(&big);
        expected.extend_from_slice(&[0, 0, 0, 1, b'b']);
        assert_eq!(drain(&mut output), expected);
    }

    #[test]
    fn limit_is_a_high_water_mark() {
        let mut output = Output::default();
        assert!(output.accepts_more(0));
        output.push_raw(&[1]);
        assert!(!output.accepts_more(0));
        assert!(output.accepts_more(1));
        let _ = output.pop();
        assert!(output.accepts_more(0));
    }
}
