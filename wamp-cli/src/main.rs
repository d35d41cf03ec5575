//! `wamp`: call, register, publish and subscribe on a WAMP router from the shell.
//!
//! ```text
//! wamp call      URL PROCEDURE [ARG...] [--kwargs JSON] [--progress] [--timeout SECS]
//! wamp register  URL PROCEDURE [--count N] [--match exact|prefix|wildcard] [--invoke POLICY]
//! wamp publish   URL TOPIC [ARG...] [--kwargs JSON] [--acknowledge] [--exclude-me BOOL]
//! wamp subscribe URL TOPIC [--match exact|prefix|wildcard] [--count N]
//! wamp router    [--ws ADDR] [--rawsocket ADDR] [--unix PATH] [--realm NAME]... [--config FILE | --check FILE]
//! wamp hash-ticket   (reads a ticket on stdin, prints an Argon2id PHC string)
//! ```
//!
//! Common flags: `--realm` (default `realm1`), `--serializer json|msgpack|cbor`,
//! `--authmethod anonymous|ticket|wampcra|cryptosign|scram|scram-autobahn`, `--authid`,
//! `--secret` (or the environment variable `WAMP_SECRET`), `--ca FILE`,
//! `--connect-timeout SECS`, and `-v` (repeatable) for logs on stderr.
//!
//! Output: results and events on stdout, one JSON object per line, flushed per line;
//! status lines (`registered PROC`, `subscribed TOPIC`), warnings, errors and logs on
//! stderr. Binary values are JSON strings holding `"\u0000"` and base64, the WAMP
//! convention. The exit codes are in [`cli::EXIT_CODES`] and `wamp --help`.
//!
//! One module per command (`call`, `register`, `publish`, `subscribe`, `router`,
//! `hash_ticket`), beside the clap types (`cli`), argument parsing and JSON output
//! (`args`, `output`), the connection flags (`connect`, `auth`), errors and exit codes
//! (`error`), and stop signals (`signal`).

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod args;
mod auth;
mod call;
mod cli;
mod connect;
mod error;
mod hash_ticket;
mod output;
mod publish;
mod register;
mod router;
mod signal;
mod subscribe;

use std::process::ExitCode;

use clap::Parser;
use tracing_subscriber::EnvFilter;

use crate::cli::{Cli, Command};
use crate::error::CliError;

/// The router's default thread count: one per core, except on one or two cores, where
/// one thread measured faster (BENCHMARKS.md: the 32 B rows with `--threads 2` routed
/// a fifth to a quarter fewer calls with eight callers when the router shares two cores
/// with busy clients): the router task is one, and its handoffs to connection tasks on
/// the other core cost more than the framing they move there.
fn router_threads() -> usize {
    match std::thread::available_parallelism().map_or(1, usize::from) {
        0..=2 => 1,
        cores => cores,
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.verbose);
    // One thread is plenty for one session, and keeps the order of events and output
    // simple to reason about. The router serves many connections: with cores to spare,
    // a thread per core, so the connection tasks (framing, decoding, writing) run
    // beside the router task.
    let built = match &cli.command {
        Command::Router(args) => match args.threads.map_or_else(router_threads, usize::from) {
            // One thread: the current-thread scheduler, which has no work-stealing
            // queues to keep in step (and took a few microseconds less per hop).
            1 => tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build(),
            threads => tokio::runtime::Builder::new_multi_thread()
                .worker_threads(threads)
                .enable_all()
                .build(),
        },
        _ => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build(),
    };
    let runtime = match built {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(4);
        }
    };
    match runtime.block_on(run(cli.command)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::from(error.exit_code())
        }
    }
}

async fn run(command: Command) -> Result<(), CliError> {
    match command {
        Command::Call(args) => call::run(args).await,
        Command::Register(args) => register::run(args).await,
        Command::Publish(args) => publish::run(args).await,
        Command::Subscribe(args) => subscribe::run(args).await,
        Command::Router(args) => router::run(args).await,
        Command::HashTicket => hash_ticket::run(),
    }
}

/// Logs go to stderr, so they never mix with the JSON on stdout. `RUST_LOG` wins over
/// `-v`; without either only warnings and errors are shown.
fn init_logging(verbose: u8) {
    let level = match verbose {
        0 => "warn",
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(verbose >= 2)
        .init();
}
