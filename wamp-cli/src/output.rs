//! Lines on stdout, flushed one by one so that a reader (a pipe, a test) sees each
//! result or event as soon as it arrives.

use std::io::{self, Write as _};

use crate::error::CliError;

/// Writes `line` and a newline to stdout and flushes.
///
/// A closed pipe (`wamp subscribe ... | head -1`) is [`Outcome::Closed`]: the reader has
/// what it wanted, so the command stops quietly rather than failing.
pub fn print_line(line: &str) -> Result<Outcome, CliError> {
    let mut out = io::stdout().lock();
    let written = writeln!(out, "{line}").and_then(|()| out.flush());
    match written {
        Ok(()) => Ok(Outcome::Written),
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(Outcome::Closed),
        Err(e) => Err(CliError::Output(e)),
    }
}

/// Whether stdout still has a reader.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The line was written.
    Written,
    /// Nobody reads stdout any more.
    Closed,
}
