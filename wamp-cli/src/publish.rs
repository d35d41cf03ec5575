//! `wamp publish`: one event.

use wamp_tokio::Session;

use crate::args::{parse_args, parse_kwargs};
use crate::cli::PublishArgs;
use crate::connect::{leave, Target};
use crate::error::CliError;
use crate::output::print_line;

/// Runs `wamp publish`.
pub async fn run(args: PublishArgs) -> Result<(), CliError> {
    let positional = parse_args(&args.args);
    let kwargs =
        parse_kwargs(args.kwargs.as_deref()).map_err(|e| CliError::Usage(e.to_string()))?;
    let session = Target::from_flags(&args.connection)?.join().await?;
    let result = publish(&session, &args, positional, kwargs).await;
    // Without acknowledge the PUBLISH is only queued; GOODBYE goes after it on the same
    // connection, so leaving now still delivers it.
    leave(&session).await;
    result
}

async fn publish(
    session: &Session,
    args: &PublishArgs,
    positional: Vec<wamp_tokio::Value>,
    kwargs: wamp_tokio::wamp_proto::Map,
) -> Result<(), CliError> {
    let mut publish = session.publish(args.topic.as_str());
    if !positional.is_empty() {
        publish = publish.args(&positional);
    }
    if !kwargs.is_empty() {
        publish = publish.kwargs(&kwargs);
    }
    if args.acknowledge {
        publish = publish.acknowledge(true);
    }
    if let Some(exclude_me) = args.exclude_me {
        publish = publish.exclude_me(exclude_me);
    }
    if let Some(id) = publish.await? {
        print_line(&serde_json::json!({ "publication": id.get() }).to_string())?;
    }
    Ok(())
}
