//! An RPC callee: joins `realm1`, registers `com.example.add2`, serves calls until
//! Ctrl-C (or SIGTERM), then leaves and exits 0.
//!
//! ```text
//! cargo run -p wamp-examples --example rpc_callee -- ws://127.0.0.1:8080/ws
//! ```
//!
//! The router URL is the first argument, else the `WAMP_URL` environment variable, else
//! `ws://127.0.0.1:8080/ws`; `--runtime async-std` runs it on async-std instead of Tokio.

// An example prints what it does.
#![allow(clippy::print_stdout)]

use std::pin::pin;

use futures::future::{select, Either};
use wamp_examples::{Args, BoxError};
use wamp_runtime::{Invocation, Runtime, WampError, Yield};

/// `com.example.add2(a, b)`: the sum, or the error `com.example.error.overflow`.
async fn add2(invocation: Invocation) -> Result<Yield, WampError> {
    // Arguments that are not two integers fail the call with wamp.error.invalid_argument.
    let (a, b): (i64, i64) = invocation.args()?;
    let Some(sum) = a.checked_add(b) else {
        println!("add2({a}, {b}) overflows: answering with an error");
        return Err(WampError::with_message(
            "com.example.error.overflow",
            format!("{a} + {b} does not fit in 64 bits"),
        ));
    };
    println!("add2({a}, {b}) = {sum}");
    Ok(Yield::args(&(sum,))?)
}

async fn rpc_callee<R: Runtime>(rt: R, args: Args) -> Result<(), BoxError> {
    let session = wamp_examples::join_realm1(&rt, &args).await?;

    // The procedure stays registered as long as this handle lives.
    let registration = session.register("com.example.add2", add2).await?;
    println!("registered {}", registration.procedure());

    // Serve until Ctrl-C, or until the router ends the session.
    match select(pin!(wamp_runtime::ctrl_c()), session.closed()).await {
        Either::Left((signal, _)) => {
            signal?;
            println!("stopping");
            let reason = session.leave().await?;
            println!("left: {reason}");
            Ok(())
        }
        Either::Right((reason, _)) => {
            Err(format!("the router closed the session: {reason}").into())
        }
    }
}

fn main() -> Result<(), BoxError> {
    wamp_examples::run!(rpc_callee, Args::parse()?)
}
