//! An RPC caller: joins `realm1`, calls `com.example.add2` (served by the `rpc_callee`
//! example) once with a result and once with an error, leaves, and exits 0.
//!
//! ```text
//! cargo run -p wamp-examples --example rpc_callee -- ws://127.0.0.1:8080/ws   # one terminal
//! cargo run -p wamp-examples --example rpc_caller -- ws://127.0.0.1:8080/ws   # another
//! ```
//!
//! The router URL is the first argument, else the `WAMP_URL` environment variable, else
//! `ws://127.0.0.1:8080/ws`; `--runtime async-std` runs it on async-std instead of Tokio.

// An example prints what it does.
#![allow(clippy::print_stdout)]

use std::time::Duration;

use wamp_examples::{Args, BoxError};
use wamp_runtime::{Error, Runtime, Uri};

async fn rpc_caller<R: Runtime>(rt: R, args: Args) -> Result<(), BoxError> {
    let session = wamp_examples::join_realm1(&rt, &args).await?;

    // A call with typed arguments and a typed result.
    let sum: i64 = match session
        .call("com.example.add2")
        .args(&(2, 3))
        .timeout(Duration::from_secs(10))
        .await
    {
        Ok(result) => result.first()?,
        Err(e) if e.uri() == Some(&Uri::NO_SUCH_PROCEDURE) => {
            return Err("nobody serves com.example.add2: start the rpc_callee example".into())
        }
        Err(e) => return Err(e.into()),
    };
    println!("add2(2, 3) = {sum}");

    // A call the callee refuses: the error carries the URI and arguments it chose.
    match session.call("com.example.add2").args(&(i64::MAX, 1)).await {
        Err(Error::Wamp(error)) => {
            let (message,): (String,) = error.args()?;
            println!("add2(i64::MAX, 1) failed: {} ({message})", error.uri());
        }
        Ok(result) => return Err(format!("add2 should have failed: {result:?}").into()),
        Err(other) => return Err(other.into()),
    }

    let reason = session.leave().await?;
    println!("left: {reason}");
    Ok(())
}

fn main() -> Result<(), BoxError> {
    wamp_examples::run!(rpc_caller, Args::parse()?)
}
