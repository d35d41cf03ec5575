//! Publish and subscribe in one program: a subscriber session and a publisher session
//! join `realm1`; the publisher sends three events to `com.example.tick`, the subscriber
//! prints them as they arrive; both leave and the program exits 0.
//!
//! ```text
//! cargo run -p wamp-examples --example pubsub -- ws://127.0.0.1:8080/ws
//! ```
//!
//! The router URL is the first argument, else the `WAMP_URL` environment variable, else
//! `ws://127.0.0.1:8080/ws`; `--runtime async-std` runs it on async-std instead of Tokio.

// An example prints what it does.
#![allow(clippy::print_stdout)]

use std::collections::BTreeMap;
use std::time::Duration;

use futures::StreamExt;
use wamp_examples::{within, Args, BoxError};
use wamp_runtime::{IntoTransport, JoinConfig, Runtime};

const TOPIC: &str = "com.example.tick";
const TICKS: u32 = 3;

async fn pubsub<R: Runtime>(rt: R, args: Args) -> Result<(), BoxError> {
    let url = args.url();
    let transport = url.as_str().into_transport()?;
    let realm = JoinConfig::new("realm1");
    let subscriber = wamp_runtime::connect(&rt, &transport, &realm).await?;
    let publisher = wamp_runtime::connect(&rt, &transport, &realm).await?;
    println!(
        "joined realm1 on {url}: subscriber {}, publisher {}",
        subscriber.id(),
        publisher.id()
    );

    // A subscription is a stream of events; dropping it unsubscribes.
    let mut ticks = subscriber.subscribe(TOPIC).await?;
    println!("subscribed to {TOPIC}");

    for n in 1..=TICKS {
        // With acknowledge, the router confirms the publication (or says why not).
        let publication = publisher
            .publish(TOPIC)
            .args(&(n,))
            .kwargs(&BTreeMap::from([("text", format!("tick number {n}"))]))
            .acknowledge(true)
            .await?;
        if let Some(id) = publication {
            println!("published tick {n} (publication {id})");
        }
    }

    for _ in 0..TICKS {
        let event = within(&rt, Duration::from_secs(10), "an event", ticks.next())
            .await?
            .ok_or("the subscription ended")??;
        let (n,): (u32,) = event.args()?;
        let kwargs: BTreeMap<String, String> = event.kwargs()?;
        println!(
            "received tick {n} on {}: {}",
            event.topic(),
            kwargs.get("text").map_or("", String::as_str)
        );
    }

    ticks.unsubscribe().await?;
    subscriber.leave().await?;
    publisher.leave().await?;
    println!("done");
    Ok(())
}

fn main() -> Result<(), BoxError> {
    wamp_examples::run!(pubsub, Args::parse()?)
}
