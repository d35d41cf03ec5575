//! A reconnecting Component: it declares a procedure and a subscription (registered
//! again after every reconnect), logs its lifecycle hooks, retries with backoff while
//! the router is unreachable, and runs `main` once joined: three rounds of calling its
//! own procedure and publishing a heartbeat. When `main` returns, the component leaves
//! and the program exits 0. Ctrl-C (or SIGTERM) stops it at any point, leaving the
//! realm gracefully.
//!
//! ```text
//! cargo run -p wamp-examples --example component -- ws://127.0.0.1:8080/ws
//! ```
//!
//! Start it before the router to watch it retry. The router URL is the first argument,
//! else the `WAMP_URL` environment variable, else `ws://127.0.0.1:8080/ws`;
//! `--runtime async-std` runs it on async-std instead of Tokio.

// An example prints what it does.
#![allow(clippy::print_stdout)]

use std::time::Duration;

use wamp_examples::{sleep, Args, BoxError};
use wamp_runtime::{
    Component, Event, Invocation, RetryPolicy, Runtime, Session, TransportConfig, TransportSpec,
    Yield,
};

const PROCEDURE: &str = "com.example.component.double";
const TOPIC: &str = "com.example.component.heartbeat";

async fn component<R: Runtime>(rt: R, args: Args) -> Result<(), BoxError> {
    let url = args.url();
    // Autobahn's retry settings. The first retry waits `initial_retry_delay`, each next
    // one `retry_delay_growth` times longer (±10 % jitter, at most `max_retry_delay`),
    // and the count starts over after every successful join.
    let retry = RetryPolicy {
        max_retries: Some(20),
        initial_retry_delay: Duration::from_millis(500),
        max_retry_delay: Duration::from_secs(10),
        retry_delay_growth: 2.0,
        retry_delay_jitter: 0.1,
    };
    let transport =
        TransportSpec::new(TransportConfig::new(&url)?.connect_timeout(Duration::from_secs(5)))
            .retry(retry);

    // What the component does once joined; returning `Ok` finishes the component.
    let clock = rt.clone();
    let work = move |session: Session| {
        let rt = clock.clone();
        async move {
            for n in 1..=3_i64 {
                let doubled: i64 = session.call(PROCEDURE).args(&(n,)).await?.first()?;
                println!("double({n}) = {doubled}");
                // exclude_me(false): this session subscribes too and wants its own event.
                session
                    .publish(TOPIC)
                    .args(&(n,))
                    .exclude_me(false)
                    .acknowledge(true)
                    .await?;
                sleep(&rt, Duration::from_millis(300)).await;
            }
            Ok::<(), wamp_runtime::BoxError>(())
        }
    };

    let component = Component::builder()
        .transport(transport)
        .realm("realm1")
        .register(PROCEDURE, |invocation: Invocation| async move {
            let (n,): (i64,) = invocation.args()?;
            Ok(Yield::args(&(n * 2,))?)
        })
        .subscribe(TOPIC, |event: Event| async move {
            if let Ok((n,)) = event.args::<(i64,)>() {
                println!("heartbeat {n}");
            }
        })
        .on_join(|session: Session| async move {
            println!("joined realm1 as session {}", session.id());
            Ok(())
        })
        .on_leave(|reason| println!("left: {reason}"))
        .on_disconnect(|clean| println!("disconnected (clean: {clean})"))
        .on_connect_failure(|failed| println!("connection failed: {}", failed.failure))
        .on_retry(|retry| println!("retry {} in {:?}", retry.retry, retry.delay))
        .main(work)
        .build()?;

    // `run_until_signal` returns when every component is done, or after Ctrl-C has
    // stopped them.
    for result in wamp_runtime::run_until_signal(&rt, &[component]).await {
        result?;
    }
    println!("done");
    Ok(())
}

fn main() -> Result<(), BoxError> {
    wamp_examples::run!(component, Args::parse()?)
}
