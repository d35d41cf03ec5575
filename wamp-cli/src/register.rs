//! `wamp register`: a procedure that answers every call with its own arguments.
//!
//! Each invocation is printed on stdout as one JSON line
//! `{"args":[...],"kwargs":{...},"procedure":"..."}` (the concrete procedure, which
//! differs from the registered one for pattern registrations), so that the output can
//! be piped like `wamp subscribe`'s. Status lines go to stderr.

use futures::channel::mpsc;
use futures::{SinkExt, StreamExt};
use wamp_tokio::{Invocation, RegisterOptions, Session, WampError, Yield};

use crate::args::payload_line;
use crate::cli::RegisterArgs;
use crate::connect::serve_until_stopped;
use crate::error::CliError;
use crate::output::{print_line, Outcome};
use crate::signal::Shutdown;

/// Invocation lines waiting to be printed; a slow stdout makes handlers wait.
const LINES: usize = 64;

/// Runs `wamp register`.
pub async fn run(args: RegisterArgs) -> Result<(), CliError> {
    serve_until_stopped(&args.connection, async |session, shutdown| {
        serve(session, &args, shutdown).await
    })
    .await
}

async fn serve(
    session: &Session,
    args: &RegisterArgs,
    shutdown: &mut Shutdown,
) -> Result<(), CliError> {
    let (lines_tx, mut lines) = mpsc::channel::<String>(LINES);
    let echo = move |invocation: Invocation| {
        let mut lines_tx = lines_tx.clone();
        async move {
            let line = payload_line(
                invocation.payload(),
                Some(("procedure", invocation.procedure().as_str())),
            )
            .map_err(WampError::from)?;
            // The reader is gone only while the command is ending; the call is still
            // answered.
            let _ = lines_tx.send(line).await;
            // The arguments go back as they came, still encoded: nothing is converted.
            Ok::<_, WampError>(Yield::from_payload(invocation.payload().clone()))
        }
    };
    let mut options = RegisterOptions::new().match_policy(args.match_policy.into());
    if let Some(invoke) = args.invoke {
        options = options.invoke(invoke.into());
    }
    let registration = session
        .register_with(args.procedure.as_str(), options, echo)
        .await?;
    eprintln!("registered {}", args.procedure);

    let mut answered: u64 = 0;
    let closed = session.closed();
    tokio::pin!(closed);
    loop {
        tokio::select! {
            line = lines.next() => {
                // The handler (holding a sender) lives as long as the registration.
                let Some(line) = line else { break };
                answered += 1;
                if print_line(&line)? == Outcome::Closed {
                    break;
                }
                // Leaving at once is safe: the session sends GOODBYE only after the
                // running handlers (this one included) have answered.
                if args.count.is_some_and(|n| answered >= n) {
                    break;
                }
            }
            signal = shutdown.recv() => {
                tracing::info!(signal, "stopping");
                break;
            }
            reason = &mut closed => {
                return Err(CliError::Session(wamp_tokio::Error::SessionClosed(reason)));
            }
        }
    }
    // Leaving undoes the registration anyway; unregistering first would only add a
    // round trip.
    drop(registration);
    Ok(())
}
