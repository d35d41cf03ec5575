//! `wamp hash-ticket`: reads a ticket from stdin and prints an Argon2id hash of it (a
//! PHC string) for the `ticket` of a principal in `wamp router`'s configuration, so
//! that the file does not hold the ticket itself.
//!
//! The ticket comes from stdin, not the command line, so it stays out of the shell
//! history and the process list: `printf %s "$TICKET" | wamp hash-ticket`, or type it
//! and press Enter. One trailing newline is dropped.

use std::io::{BufRead, Write};

use wamp_tokio::wamp_runtime::wamp_proto::auth::ticket;
use wamp_tokio::wamp_runtime::Runtime;
use wamp_tokio::TokioRuntime;

use crate::error::CliError;

/// Reads, hashes, prints.
pub fn run() -> Result<(), CliError> {
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| CliError::Usage(format!("cannot read the ticket from stdin: {e}")))?;
    let ticket = line
        .strip_suffix('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .unwrap_or(&line);
    if ticket.is_empty() {
        return Err(CliError::Usage(
            "no ticket on stdin (printf %s \"$TICKET\" | wamp hash-ticket)".into(),
        ));
    }
    let mut salt = [0u8; 16];
    let rt = TokioRuntime::try_current()
        .ok_or_else(|| CliError::Usage("no async runtime for the random salt".into()))?;
    rt.rng().fill_bytes(&mut salt);
    let phc = ticket::hash(ticket, &salt).map_err(|e| CliError::Usage(e.to_string()))?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{phc}").map_err(CliError::Output)
}
