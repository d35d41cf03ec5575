//! The main demo: an embedded WAMP router and a demo component in one process, with RPC
//! and pub/sub round trips over real sockets and in process. No external server.
//!
//! ```sh
//! cargo run -p wamp-examples --example demo
//! ```
//!
//! What happens:
//! 1. A router starts with realm `realm1` (anonymous), listening for WebSocket and
//!    RawSocket on ports the OS picks on 127.0.0.1.
//! 2. A `Component` joins over WebSocket (JSON). It declares a procedure
//!    `com.demo.add`, a progressive procedure `com.demo.countdown` and a subscription to
//!    `com.demo.tick`; they would be re-established after a reconnect.
//! 3. A client joins over RawSocket (MessagePack): it calls both procedures, gets an
//!    application error back with its URI, and publishes three ticks the component
//!    receives.
//! 4. An in-process session (no socket) asks the router's meta API how many sessions
//!    there are.
//! 5. Everything leaves and the router shuts down.
//!
//! `--runtime async-std` runs the same program on async-std instead of Tokio.

// An example prints what it does.
#![allow(clippy::print_stdout)]

use std::time::Duration;

use futures::channel::{mpsc, oneshot};
use futures::StreamExt;
use wamp_examples::{within, Args, BoxError};
use wamp_runtime::{
    Component, Invocation, JoinConfig, RealmConfig, RetryPolicy, RouterBuilder, RouterConfig,
    Runtime, SerializerKind, TransportConfig, TransportSpec, WampError, Yield,
};

async fn demo<R: Runtime>(rt: R, _args: Args) -> Result<(), BoxError> {
    // 1. The router.
    let config = RouterConfig::new().realm(RealmConfig::anonymous("realm1")?);
    let router = RouterBuilder::new(rt.clone(), config)
        .listen_ws("127.0.0.1:0", "/ws")
        .listen_rawsocket("127.0.0.1:0")
        .start()
        .await?;
    let urls: Vec<String> = router.listeners().iter().filter_map(|l| l.url()).collect();
    println!("router   listening on {}", urls.join(" and "));
    let ws = urls
        .iter()
        .find(|u| u.starts_with("ws://"))
        .ok_or("no ws listener")?;
    let rs = urls
        .iter()
        .find(|u| u.starts_with("rs://"))
        .ok_or("no rs listener")?;

    // 2. The demo component, over WebSocket.
    let (ticks_tx, mut ticks) = mpsc::unbounded::<i64>();
    let (ready_tx, mut ready) = mpsc::unbounded::<()>();
    let component = Component::builder()
        .transport(
            TransportSpec::new(TransportConfig::new(ws)?.serializer(SerializerKind::Json)).retry(
                RetryPolicy {
                    initial_retry_delay: Duration::from_millis(200),
                    ..RetryPolicy::default()
                },
            ),
        )
        .realm("realm1")
        .register("com.demo.add", |inv: Invocation| async move {
            let (a, b): (i64, i64) = inv.args()?;
            if a < 0 || b < 0 {
                return Err(WampError::with_message(
                    "com.demo.error.negative",
                    "only natural numbers, please",
                ));
            }
            Ok(Yield::args(&(a + b,))?)
        })
        .register("com.demo.countdown", |inv: Invocation| async move {
            let (from,): (i64,) = inv.args()?;
            for n in (1..=from).rev() {
                if inv.receive_progress() {
                    inv.progress(&(n,), &()).await?;
                }
            }
            Ok(Yield::args(&("liftoff",))?)
        })
        .subscribe("com.demo.tick", move |event| {
            let ticks_tx = ticks_tx.clone();
            async move {
                if let Ok((n,)) = event.args::<(i64,)>() {
                    let _ = ticks_tx.unbounded_send(n);
                }
            }
        })
        .on_ready(move |session| {
            let ready_tx = ready_tx.clone();
            async move {
                println!(
                    "component joined realm1 as session {} over WebSocket/JSON",
                    session.id().get()
                );
                let _ = ready_tx.unbounded_send(());
                Ok(())
            }
        })
        .build()?;
    let (done_tx, done) = oneshot::channel();
    rt.spawn(Box::pin({
        let (component, rt) = (component.clone(), rt.clone());
        async move {
            let _ = done_tx.send(component.start(&rt).await);
        }
    }));
    ready.next().await.ok_or("the component did not join")?;

    // 3. A client over RawSocket with MessagePack.
    let transport = TransportConfig::new(rs)?.serializer(SerializerKind::MsgPack);
    let client = wamp_runtime::connect(&rt, &transport, &JoinConfig::new("realm1")).await?;
    println!(
        "client   joined realm1 as session {} over RawSocket/MessagePack",
        client.id().get()
    );

    let sum: i64 = client.call("com.demo.add").args(&(2, 3)).await?.first()?;
    println!("rpc      com.demo.add(2, 3) = {sum}");

    match client.call("com.demo.add").args(&(-1, 3)).await {
        Err(wamp_runtime::Error::Wamp(error)) => println!(
            "rpc      com.demo.add(-1, 3) failed: {} ({})",
            error.uri(),
            error.message().unwrap_or_default()
        ),
        other => return Err(format!("expected an application error, got {other:?}").into()),
    }

    let mut countdown = client.call("com.demo.countdown").args(&(3,)).progress();
    let mut parts = Vec::new();
    while let Some(part) = countdown.next().await {
        let part = part?;
        if part.is_progress() {
            parts.push(part.first::<i64>()?.to_string());
        } else {
            parts.push(part.first::<String>()?);
        }
    }
    println!(
        "rpc      com.demo.countdown(3) progressed: {}",
        parts.join(", ")
    );

    for n in 1..=3 {
        client
            .publish("com.demo.tick")
            .args(&(n,))
            .acknowledge(true)
            .await?;
    }
    let mut received = Vec::new();
    while received.len() < 3 {
        let n = within(&rt, Duration::from_secs(5), "a tick", ticks.next())
            .await?
            .ok_or("the component stopped")?;
        received.push(n);
    }
    println!("pubsub   published 1, 2, 3 on com.demo.tick; the component received {received:?}");

    // 4. In process, no socket: the meta API.
    let local = router.connect_local(JoinConfig::new("realm1")).await?;
    let count: i64 = local.call("wamp.session.count").await?.first()?;
    println!("meta     wamp.session.count = {count} (component, client, this in-process session)");

    // 5. Goodbye.
    local.leave().await?;
    client.leave().await?;
    component.stop();
    done.await??;
    router.shutdown().await;
    println!("done     everyone left and the router stopped");
    Ok(())
}

fn main() -> Result<(), BoxError> {
    wamp_examples::run!(demo, Args::parse()?)
}
