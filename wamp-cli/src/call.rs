//! `wamp call`: one call, its result as one JSON line (progressive results first, one
//! line each, with `--progress`).

use std::future::{Future, IntoFuture};
use std::time::Duration;

use futures::StreamExt;
use wamp_tokio::Session;

use crate::args::{parse_args, parse_kwargs, payload_line};
use crate::cli::CallArgs;
use crate::connect::{leave, Target};
use crate::error::CliError;
use crate::output::{print_line, Outcome};

/// Runs `wamp call`.
pub async fn run(args: CallArgs) -> Result<(), CliError> {
    let positional = parse_args(&args.args);
    let kwargs =
        parse_kwargs(args.kwargs.as_deref()).map_err(|e| CliError::Usage(e.to_string()))?;
    let session = Target::from_flags(&args.connection)?.join().await?;
    let result = call(&session, &args, positional, kwargs).await;
    leave(&session).await;
    result
}

async fn call(
    session: &Session,
    args: &CallArgs,
    positional: Vec<wamp_tokio::Value>,
    kwargs: wamp_tokio::wamp_proto::Map,
) -> Result<(), CliError> {
    let mut call = session.call(args.procedure.as_str());
    if !positional.is_empty() {
        call = call.args(&positional);
    }
    if !kwargs.is_empty() {
        call = call.kwargs(&kwargs);
    }
    // The deadline is kept here: routers may ignore the `timeout` option (Crossbar.io
    // does), and it still tells a callee registered with `forward_timeout` how long it
    // has.
    let limit = args.timeout.map(Duration::from_secs_f64);
    if let Some(limit) = limit {
        call = call.timeout(limit);
    }
    if args.progress {
        let mut results = call.progress();
        let print_all = async {
            while let Some(item) = results.next().await {
                match item {
                    Ok(result) => {
                        let line = payload_line(result.payload(), None)
                            .map_err(|e| CliError::Session(e.into()))?;
                        if print_line(&line)? == Outcome::Closed {
                            break;
                        }
                    }
                    Err(wamp_tokio::Error::Lagged { missed }) => {
                        eprintln!("warning: {missed} progressive results were dropped");
                    }
                    Err(e) => return Err(e.into()),
                }
            }
            Ok(())
        };
        // Dropping the stream on timeout cancels the call.
        within(limit, print_all).await?
    } else {
        // Dropping the future on timeout cancels the call.
        let result = within(limit, call.into_future()).await??;
        let line = payload_line(result.payload(), None).map_err(|e| CliError::Session(e.into()))?;
        print_line(&line)?;
        Ok(())
    }
}

/// Runs `work` for at most `limit` (forever without one).
async fn within<T>(limit: Option<Duration>, work: impl Future<Output = T>) -> Result<T, CliError> {
    match limit {
        Some(limit) => tokio::time::timeout(limit, work)
            .await
            .map_err(|_| CliError::Timeout(limit)),
        None => Ok(work.await),
    }
}
