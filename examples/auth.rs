//! Authentication: joins `realm1` with `ticket`, `wampcra` or `cryptosign` credentials,
//! prints who the router says this session is, leaves, and exits 0; exits 1 when the
//! router refuses the credentials.
//!
//! ```text
//! cargo run -p wamp-examples --example auth -- [URL] METHOD AUTHID SECRET
//! cargo run -p wamp-examples --example auth -- ws://127.0.0.1:8080/ws ticket joe secret-ticket
//! cargo run -p wamp-examples --example auth -- wampcra peter secret1
//! cargo run -p wamp-examples --example auth -- cryptosign alice 4d57d97a...(64 hex digits)
//! ```
//!
//! METHOD is `ticket` (SECRET is the ticket), `wampcra` (the shared secret; salted keys
//! are derived as the router's challenge asks) or `cryptosign` (the Ed25519 private key
//! as 64 hex digits). The router URL is the first argument when four are given, else
//! the `WAMP_URL` environment variable, else `ws://127.0.0.1:8080/ws`. The router must
//! know the principal: see its authentication configuration. `--runtime async-std` runs
//! it on async-std instead of Tokio.

// An example prints what it does.
#![allow(clippy::print_stdout)]

use std::process::ExitCode;

use wamp_examples::{Args, BoxError, DEFAULT_URL};
use wamp_runtime::{Auth, IntoTransport, JoinConfig, Runtime};

async fn auth<R: Runtime>(rt: R, args: Args) -> Result<ExitCode, BoxError> {
    let (url, method, authid, secret) = match args.rest.as_slice() {
        [url, method, authid, secret] => (url.clone(), method, authid, secret),
        [method, authid, secret] => (
            std::env::var("WAMP_URL").unwrap_or_else(|_| DEFAULT_URL.into()),
            method,
            authid,
            secret,
        ),
        _ => {
            eprintln!("usage: auth [URL] ticket|wampcra|cryptosign AUTHID SECRET");
            return Ok(ExitCode::from(2));
        }
    };
    let auth = match method.as_str() {
        "ticket" => Auth::ticket(authid, secret),
        "wampcra" => Auth::wampcra(authid, secret),
        "cryptosign" => Auth::cryptosign_hex(Some(authid.clone()), secret)?,
        other => {
            eprintln!("unknown method {other:?}: use ticket, wampcra or cryptosign");
            return Ok(ExitCode::from(2));
        }
    };

    // Several methods may be offered at once (`.auth(a).auth(b)`); the router picks one.
    let join = JoinConfig::new("realm1").auth(auth);
    let session = match wamp_runtime::connect(&rt, &url.as_str().into_transport()?, &join).await {
        Ok(session) => session,
        Err(e) if e.is_auth_rejection() => {
            println!("the router refused the {method} credentials of {authid}: {e}");
            return Ok(ExitCode::FAILURE);
        }
        Err(e) => return Err(e.into()),
    };
    let details = session.details();
    println!(
        "joined realm1 on {url} as session {}: authid {}, authrole {}, authmethod {}",
        session.id(),
        details.authid.as_deref().unwrap_or("-"),
        details.authrole.as_deref().unwrap_or("-"),
        details.authmethod.as_deref().unwrap_or("-"),
    );
    let reason = session.leave().await?;
    println!("left: {reason}");
    Ok(ExitCode::SUCCESS)
}

fn main() -> Result<ExitCode, BoxError> {
    wamp_examples::run!(auth, Args::parse()?)
}
