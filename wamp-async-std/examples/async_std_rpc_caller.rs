//! An RPC caller on async-std: calls `com.example.add2` (served by the
//! `async_std_rpc_callee` or `rpc_callee` example) once with a result and once with an
//! error, leaves, and exits 0.
//!
//! ```text
//! cargo run -p wamp-async-std --example async_std_rpc_caller -- ws://127.0.0.1:8080/ws
//! ```
//!
//! The same program as `wamp-tokio`'s `rpc_caller` example. The router URL is the first
//! argument, else the `WAMP_URL` environment variable, else `ws://127.0.0.1:8080/ws`.
#![allow(clippy::print_stdout)]

use wamp_async_std::{Error, Uri};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::args()
        .nth(1)
        .or_else(|| std::env::var("WAMP_URL").ok())
        .unwrap_or_else(|| "ws://127.0.0.1:8080/ws".into());

    async_std::task::block_on(async {
        let session = wamp_async_std::connect(&url, "realm1").await?;
        println!("joined realm1 on {url} as session {}", session.id());

        let sum: i64 = match session.call("com.example.add2").args(&(2, 3)).await {
            Ok(result) => result.first()?,
            Err(e) if e.uri() == Some(&Uri::NO_SUCH_PROCEDURE) => {
                return Err(
                    "nobody serves com.example.add2: start the async_std_rpc_callee example".into(),
                )
            }
            Err(e) => return Err(e.into()),
        };
        println!("add2(2, 3) = {sum}");

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
    })
}
