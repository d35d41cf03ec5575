//! A reconnecting Component on async-std: a declared procedure and subscription
//! (registered again after every reconnect), lifecycle hooks, retries with backoff, and
//! `main`: three rounds of calling its own procedure and publishing a heartbeat. When
//! `main` returns, the component leaves and the program exits 0; Ctrl-C (or SIGTERM)
//! stops it at any point, leaving the realm gracefully.
//!
//! ```text
//! cargo run -p wamp-async-std --example async_std_component -- ws://127.0.0.1:8080/ws
//! ```
//!
//! The same program as `wamp-tokio`'s `component` example, which explains each part;
//! only the runtime glue differs. The router URL is the first argument, else the
//! `WAMP_URL` environment variable, else `ws://127.0.0.1:8080/ws`.
#![allow(clippy::print_stdout)]

use std::time::Duration;

use wamp_async_std::{
    Component, Event, Invocation, RetryPolicy, Session, TransportConfig, TransportSpec, Yield,
};

const PROCEDURE: &str = "com.example.component.double";
const TOPIC: &str = "com.example.component.heartbeat";

async fn work(session: Session) -> Result<(), wamp_async_std::component::BoxError> {
    for n in 1..=3_i64 {
        let doubled: i64 = session.call(PROCEDURE).args(&(n,)).await?.first()?;
        println!("double({n}) = {doubled}");
        session
            .publish(TOPIC)
            .args(&(n,))
            .exclude_me(false)
            .acknowledge(true)
            .await?;
        async_std::task::sleep(Duration::from_millis(300)).await;
    }
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::args()
        .nth(1)
        .or_else(|| std::env::var("WAMP_URL").ok())
        .unwrap_or_else(|| "ws://127.0.0.1:8080/ws".into());

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

    async_std::task::block_on(async {
        for result in wamp_async_std::run(&[component]).await {
            result?;
        }
        println!("done");
        Ok(())
    })
}
