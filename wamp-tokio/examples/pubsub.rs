//! Publish and subscribe in one program: a subscriber session and a publisher session
//! join `realm1`; the publisher sends three events to `com.example.tick`, the subscriber
//! prints them as they arrive; both leave and the program exits 0.
//!
//! ```text
//! cargo run -p wamp-tokio --example pubsub -- ws://127.0.0.1:8080/ws
//! ```
//!
//! The router URL is the first argument, else the `WAMP_URL` environment variable, else
//! `ws://127.0.0.1:8080/ws`.
#![allow(clippy::print_stdout)]

use std::collections::BTreeMap;
use std::time::Duration;

use futures::StreamExt;

const TOPIC: &str = "com.example.tick";
const TICKS: u32 = 3;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::args()
        .nth(1)
        .or_else(|| std::env::var("WAMP_URL").ok())
        .unwrap_or_else(|| "ws://127.0.0.1:8080/ws".into());

    let subscriber = wamp_tokio::connect(&url, "realm1").await?;
    let publisher = wamp_tokio::connect(&url, "realm1").await?;
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
        // Bounded: a router that drops events should not hang the example.
        let event = tokio::time::timeout(Duration::from_secs(10), ticks.next())
            .await
            .map_err(|_| "no event within 10 s")?
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
