//! `wamp subscribe`: every event as one JSON line
//! `{"args":[...],"kwargs":{...},"topic":"..."}` on stdout.

use futures::StreamExt;
use wamp_tokio::{Session, SubscribeOptions};

use crate::args::payload_line;
use crate::cli::SubscribeArgs;
use crate::connect::serve_until_stopped;
use crate::error::CliError;
use crate::output::{print_line, Outcome};
use crate::signal::Shutdown;

/// Runs `wamp subscribe`.
pub async fn run(args: SubscribeArgs) -> Result<(), CliError> {
    serve_until_stopped(&args.connection, async |session, shutdown| {
        receive(session, &args, shutdown).await
    })
    .await
}

async fn receive(
    session: &Session,
    args: &SubscribeArgs,
    shutdown: &mut Shutdown,
) -> Result<(), CliError> {
    let options = SubscribeOptions::new().match_policy(args.match_policy.into());
    let mut events = session.subscribe_with(args.topic.as_str(), options).await?;
    eprintln!("subscribed {}", args.topic);

    let mut received: u64 = 0;
    loop {
        tokio::select! {
            event = events.next() => match event {
                Some(Ok(event)) => {
                    // The concrete topic: the router's `topic` detail for pattern
                    // subscriptions, else the subscribed topic.
                    let line = payload_line(event.payload(), Some(("topic", event.topic().as_str())))
                        .map_err(|e| CliError::Session(e.into()))?;
                    received += 1;
                    if print_line(&line)? == Outcome::Closed {
                        return Ok(());
                    }
                    if args.count.is_some_and(|n| received >= n) {
                        return Ok(());
                    }
                }
                Some(Err(wamp_tokio::Error::Lagged { missed })) => {
                    eprintln!("warning: {missed} events were dropped (stdout too slow)");
                }
                Some(Err(e)) => return Err(e.into()),
                None => {
                    let reason = session.closed().await;
                    return Err(CliError::Session(wamp_tokio::Error::SessionClosed(reason)));
                }
            },
            signal = shutdown.recv() => {
                tracing::info!(signal, "stopping");
                return Ok(());
            }
        }
    }
}
