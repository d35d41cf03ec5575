//! The in-memory stream that runs tungstenite's client handshake without a socket.

use std::io::{self, Read, Write};

use bytes::{Buf, Bytes, BytesMut};

/// A byte stream made of two buffers: `Read` serves what the caller fed with
/// [`Pipe::feed`] and reports `WouldBlock` when it runs dry (tungstenite's signal to stop
/// and wait); `Write` appends to an output buffer the caller drains with
/// [`Pipe::take_output`]. Nothing ever blocks and nothing touches the OS.
#[derive(Debug, Default)]
pub(crate) struct Pipe {
    input: BytesMut,
    output: BytesMut,
}

impl Pipe {
    pub(crate) fn feed(&mut self, data: &[u8]) {
        self.input.extend_from_slice(data);
    }

    pub(crate) fn take_output(&mut self) -> Option<Bytes> {
        if self.output.is_empty() {
            None
        } else {
            Some(self.output.split().freeze())
        }
    }
}

impl Read for Pipe {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.input.is_empty() {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        let n = buf.len().min(self.input.len());
        buf[..n].copy_from_slice(&self.input[..n]);
        self.input.advance(n);
        if self.input.is_empty() {
            // An idle connection keeps no input buffer.
            self.input = BytesMut::new();
        }
        Ok(n)
    }
}

impl Write for Pipe {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.output.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
