//! The browser test suite: each case runs against the router the page was given,
//! and its outcome is written into the page (`<li id="case-NAME" class="pass|fail">`),
//! where the native test (`tests/tests/browser.rs`) reads it through WebDriver.
//!
//! The native side has registered `native.echo`, `native.slow`, `native.interrupted`
//! and `native.call_back` (which calls back into the page), and Autobahn|Python
//! `python.echo` and `python.call_back`; the router's realm `realm1` accepts anonymous,
//! ticket, WAMP-CRA and cryptosign sessions (credentials in `run_suite`'s arguments).

use std::collections::BTreeMap;
use std::time::Duration;

use std::future::IntoFuture;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use futures::StreamExt;
use wamp_web::{
    Auth, ConnectError, Error, Invocation, JoinConfig, MatchPolicy, SerializerKind,
    SubscribeOptions, TransportConfig, WampError, Yield,
};
use wasm_bindgen::prelude::*;

use crate::page;

type Outcome = Result<String, String>;

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

fn transport(url: &str, serializer: SerializerKind) -> Result<TransportConfig, String> {
    Ok(TransportConfig::new(url)
        .map_err(err)?
        .serializers([serializer]))
}

async fn join(
    url: &str,
    serializer: SerializerKind,
    join: JoinConfig,
) -> Result<wamp_web::Session, String> {
    wamp_runtime_connect(&transport(url, serializer)?, &join).await
}

async fn wamp_runtime_connect(
    transport: &TransportConfig,
    join: &JoinConfig,
) -> Result<wamp_web::Session, String> {
    wamp_web::wamp_runtime::connect(&wamp_web::WebRuntime, transport, join)
        .await
        .map_err(err)
}

/// RPC over one serializer: args, kwargs, an application error.
async fn rpc(url: &str, serializer: SerializerKind) -> Outcome {
    let session = join(url, serializer, JoinConfig::new("realm1")).await?;
    let name = format!("web.add.{serializer}");
    let _reg = session
        .register(name.as_str(), |inv: Invocation| async move {
            let (a, b): (i64, i64) = inv.args()?;
            let kw: BTreeMap<String, i64> = inv.kwargs().unwrap_or_default();
            let c = kw.get("c").copied().unwrap_or(0);
            Yield::new(&(a + b + c,), &BTreeMap::from([("serializer", "same")])).map_err(Into::into)
        })
        .await
        .map_err(err)?;
    let failing = format!("web.fail.{serializer}");
    let _fail = session
        .register(failing.as_str(), |_: Invocation| async move {
            Err::<Yield, _>(WampError::new("com.example.oops").with_args(&("no",)))
        })
        .await
        .map_err(err)?;
    let result = session
        .call(name.as_str())
        .args(&(2, 3))
        .kwargs(&BTreeMap::from([("c", 10)]))
        .await
        .map_err(err)?;
    let (sum,): (i64,) = result.args().map_err(err)?;
    let kw: BTreeMap<String, String> = result.kwargs().map_err(err)?;
    if sum != 15 || kw.get("serializer").map(String::as_str) != Some("same") {
        return Err(format!("add gave {sum} and {kw:?}"));
    }
    match session.call(failing.as_str()).args(&(1,)).await {
        Err(Error::Wamp(e)) if e.uri().as_str() == "com.example.oops" => {}
        other => return Err(format!("the failing procedure gave {other:?}")),
    }
    match session.call("web.nobody.registered").await {
        Err(Error::Wamp(e)) if e.uri().as_str() == "wamp.error.no_such_procedure" => {}
        other => return Err(format!("an unknown procedure gave {other:?}")),
    }
    session.leave().await.map_err(err)?;
    Ok(format!("2 + 3 + 10 = {sum} over {serializer}"))
}

/// Pub/sub with a prefix and a wildcard pattern over one serializer.
async fn pubsub(url: &str, serializer: SerializerKind) -> Outcome {
    let session = join(url, serializer, JoinConfig::new("realm1")).await?;
    let prefix = format!("web.topic.{serializer}");
    let mut events = session
        .subscribe_with(
            prefix.as_str(),
            SubscribeOptions::new().match_policy(MatchPolicy::Prefix),
        )
        .await
        .map_err(err)?;
    // `web.topic..c`: any one component between `topic` and `c`.
    let mut wild = session
        .subscribe_with(
            "web.topic..c",
            SubscribeOptions::new().match_policy(MatchPolicy::Wildcard),
        )
        .await
        .map_err(err)?;
    for (i, leaf) in ["a", "b", "c"].iter().enumerate() {
        session
            .publish(format!("{prefix}.{leaf}").as_str())
            .args(&(i, *leaf))
            .exclude_me(false)
            .acknowledge(true)
            .await
            .map_err(err)?;
    }
    let mut seen = Vec::new();
    for _ in 0..3 {
        let event = events
            .next()
            .await
            .ok_or("the subscription ended")?
            .map_err(err)?;
        let (i, leaf): (usize, String) = event.args().map_err(err)?;
        seen.push(format!("{}={i}{leaf}", event.topic()));
    }
    let want: Vec<String> = ["a", "b", "c"]
        .iter()
        .enumerate()
        .map(|(i, l)| format!("{prefix}.{l}={i}{l}"))
        .collect();
    if seen != want {
        return Err(format!("events {seen:?}, expected {want:?}"));
    }
    let event = wild
        .next()
        .await
        .ok_or("the wildcard subscription ended")?
        .map_err(err)?;
    if event.topic().as_str() != format!("{prefix}.c") {
        return Err(format!("the wildcard subscription got {}", event.topic()));
    }
    session.leave().await.map_err(err)?;
    Ok(format!(
        "3 events in order on {prefix}.*, 1 on web.topic..c"
    ))
}

/// Progressive results from a procedure registered in the page.
async fn progressive(url: &str) -> Outcome {
    let session = join(url, SerializerKind::Json, JoinConfig::new("realm1")).await?;
    let _reg = session
        .register("web.countdown", |inv: Invocation| async move {
            let (from,): (u32,) = inv.args()?;
            for n in (1..=from).rev() {
                inv.progress(&(n,), &()).await?;
            }
            Yield::args(&("liftoff",)).map_err(Into::into)
        })
        .await
        .map_err(err)?;
    let mut results = session.call("web.countdown").args(&(3,)).progress();
    let mut seen = Vec::new();
    while let Some(result) = results.next().await {
        let result = result.map_err(err)?;
        let item: serde_json_like::Item = result.first().map_err(err)?;
        seen.push((item.text(), result.is_progress()));
    }
    let want = vec![
        ("3".to_owned(), true),
        ("2".to_owned(), true),
        ("1".to_owned(), true),
        ("liftoff".to_owned(), false),
    ];
    if seen != want {
        return Err(format!("results {seen:?}"));
    }
    session.leave().await.map_err(err)?;
    Ok("3, 2, 1, liftoff".into())
}

/// Decoding "a number or a string" without a JSON value type.
mod serde_json_like {
    #[derive(serde::Deserialize)]
    #[serde(untagged)]
    pub enum Item {
        Number(u32),
        Text(String),
    }

    impl Item {
        pub fn text(&self) -> String {
            match self {
                Item::Number(n) => n.to_string(),
                Item::Text(t) => t.clone(),
            }
        }
    }
}

/// How many times the native callee of `native.slow` heard of a cancellation.
async fn interruptions(session: &wamp_web::Session) -> Result<u32, String> {
    let (count,): (u32,) = session
        .call("native.interrupted")
        .await
        .and_then(|r| r.args())
        .map_err(err)?;
    Ok(count)
}

/// Waits (up to 2 s) until the native callee has heard of `want` cancellations.
async fn await_interruptions(session: &wamp_web::Session, want: u32) -> Result<(), String> {
    for _ in 0..20 {
        if interruptions(session).await? >= want {
            return Ok(());
        }
        gloo_timers::future::sleep(Duration::from_millis(100)).await;
    }
    Err(format!(
        "the native callee heard of fewer than {want} cancellations"
    ))
}

/// A call canceled twice: by its timeout (the router cancels it), and by dropping the
/// call's future (this side sends CANCEL, mode `kill`). Both times the native callee
/// hears of it.
async fn cancel(url: &str) -> Outcome {
    let session = join(url, SerializerKind::MsgPack, JoinConfig::new("realm1")).await?;
    let before = interruptions(&session).await?;
    let timed = session
        .call("native.slow")
        .timeout(Duration::from_millis(300))
        .await;
    match &timed {
        Err(Error::Wamp(e)) if e.uri().as_str() == "wamp.error.timeout" => {}
        other => return Err(format!("the call with a timeout gave {other:?}")),
    }
    await_interruptions(&session, before + 1).await?;
    let call = session
        .call("native.slow")
        .cancel_mode(wamp_web::CancelMode::Kill)
        .into_future();
    let timer = gloo_timers::future::sleep(Duration::from_millis(300));
    match futures::future::select(Box::pin(call), Box::pin(timer)).await {
        futures::future::Either::Left((outcome, _)) => {
            return Err(format!("the slow call returned {outcome:?}"))
        }
        // The call's future is dropped here, which cancels it.
        futures::future::Either::Right(_) => {}
    }
    await_interruptions(&session, before + 2).await?;
    session.leave().await.map_err(err)?;
    Ok(
        "canceled by its timeout (wamp.error.timeout) and by dropping it; the callee heard both"
            .into(),
    )
}

/// The page calls a procedure of another client, and that client calls the page.
async fn cross(url: &str, peer: &str) -> Outcome {
    let session = join(url, SerializerKind::Json, JoinConfig::new("realm1")).await?;
    let (text, n): (String, i64) = session
        .call(format!("{peer}.echo").as_str())
        .args(&("from the browser", 42))
        .await
        .and_then(|r| r.args())
        .map_err(err)?;
    if text != "from the browser" || n != 42 {
        return Err(format!("{peer}.echo gave ({text:?}, {n})"));
    }
    let procedure = format!("web.reverse.{peer}");
    let _reg = session
        .register(procedure.as_str(), |inv: Invocation| async move {
            let (text,): (String,) = inv.args()?;
            Yield::args(&(text.chars().rev().collect::<String>(),)).map_err(Into::into)
        })
        .await
        .map_err(err)?;
    let (back,): (String,) = session
        .call(format!("{peer}.call_back").as_str())
        .args(&(procedure.as_str(), "stressed"))
        .await
        .and_then(|r| r.args())
        .map_err(err)?;
    if back != "desserts" {
        return Err(format!("{peer}.call_back gave {back:?}"));
    }
    session.leave().await.map_err(err)?;
    Ok(format!("called {peer}.echo; {peer} called {procedure}"))
}

/// Joins with `auth`: `Ok(authid/authrole)` or the refusal.
async fn authenticate(url: &str, auth: Auth) -> Result<String, ConnectError> {
    let transport = TransportConfig::new(url)?;
    let session = wamp_web::wamp_runtime::connect(
        &wamp_web::WebRuntime,
        &transport,
        &JoinConfig::new("realm1").auth(auth),
    )
    .await?;
    let details = session.details();
    let who = format!(
        "{}/{}",
        details.authid.as_deref().unwrap_or("-"),
        details.authrole.as_deref().unwrap_or("-")
    );
    let _ = session.leave().await;
    Ok(who)
}

async fn auth_case(url: &str, right: Auth, wrong: Auth) -> Outcome {
    let who = authenticate(url, right).await.map_err(err)?;
    match authenticate(url, wrong).await {
        Err(ConnectError::Aborted { reason, .. }) => Ok(format!(
            "joined as {who}; the wrong one was refused with {reason}"
        )),
        Err(other) => Err(format!("the wrong credentials failed otherwise: {other}")),
        Ok(who) => Err(format!("the wrong credentials joined as {who}")),
    }
}

/// `AUTHID:SECRET` split at the first colon.
fn credential(text: &str) -> (&str, &str) {
    text.split_once(':').unwrap_or((text, ""))
}

/// What the browser cannot do is an error that says so.
async fn refusals(url: &str) -> Outcome {
    let raw = wamp_web::connect("rs://127.0.0.1:1", "realm1").await;
    let Err(ConnectError::Io(e)) = raw else {
        return Err(format!("RawSocket gave {raw:?}"));
    };
    if e.kind() != std::io::ErrorKind::Unsupported {
        return Err(format!("RawSocket failed with {e}"));
    }
    let mut with_header = TransportConfig::new(url).map_err(err)?;
    with_header
        .websocket
        .headers
        .push(("x-token".into(), "1".into()));
    match wamp_runtime_connect(&with_header, &JoinConfig::new("realm1")).await {
        Err(e) if e.contains("handshake headers") => {}
        other => return Err(format!("a handshake header gave {:?}", other.map(|_| ()))),
    }
    let mut with_tls = TransportConfig::new(url).map_err(err)?;
    with_tls.tls.server_name = Some("elsewhere.example".into());
    match wamp_runtime_connect(&with_tls, &JoinConfig::new("realm1")).await {
        Err(e) if e.contains("does its own TLS") => {}
        other => return Err(format!("a TLS server name gave {:?}", other.map(|_| ()))),
    }
    Ok("RawSocket, handshake headers and TLS settings are refused with reasons".into())
}

/// Runs every case against `url` and writes the outcomes into `#cases`; `#summary`
/// says `N passed, M failed` at the end. The credentials are `AUTHID:SECRET` (the
/// cryptosign secret is the private key seed in hex).
#[wasm_bindgen]
pub async fn run_suite(
    url: String,
    ticket: String,
    wampcra: String,
    cryptosign: String,
) -> Result<(), JsValue> {
    let url = url.as_str();
    let mut passed = 0;
    let mut failed = 0;
    let mut record = |name: &str, outcome: Outcome| -> Result<(), JsValue> {
        let (class, text) = match outcome {
            Ok(detail) => {
                passed += 1;
                ("pass", format!("{name}: ok: {detail}"))
            }
            Err(why) => {
                failed += 1;
                ("fail", format!("{name}: FAILED: {why}"))
            }
        };
        page::line("cases", &format!("case-{name}"), class, &text)
    };
    for serializer in [
        SerializerKind::Json,
        SerializerKind::MsgPack,
        SerializerKind::Cbor,
    ] {
        record(&format!("rpc-{serializer}"), rpc(url, serializer).await)?;
        record(
            &format!("pubsub-{serializer}"),
            pubsub(url, serializer).await,
        )?;
    }
    record("progressive", progressive(url).await)?;
    record("cancel", cancel(url).await)?;
    record("cross-native", cross(url, "native").await)?;
    record("cross-python", cross(url, "python").await)?;
    let (ticket_id, ticket) = credential(&ticket);
    record(
        "ticket",
        auth_case(
            url,
            Auth::ticket(ticket_id, ticket),
            Auth::ticket(ticket_id, "not it"),
        )
        .await,
    )?;
    let (cra_id, cra_secret) = credential(&wampcra);
    record(
        "wampcra",
        auth_case(
            url,
            Auth::wampcra(cra_id, cra_secret),
            Auth::wampcra(cra_id, "wrong secret"),
        )
        .await,
    )?;
    let (key_id, seed) = credential(&cryptosign);
    let wrong_seed = "11".repeat(32);
    let cryptosign = match (
        Auth::cryptosign_hex(Some(key_id.into()), seed),
        Auth::cryptosign_hex(Some(key_id.into()), &wrong_seed),
    ) {
        (Ok(right), Ok(wrong)) => auth_case(url, right, wrong).await,
        (Err(e), _) | (_, Err(e)) => Err(err(e)),
    };
    record("cryptosign", cryptosign)?;
    record("refusals", refusals(url).await)?;
    page::set_text("summary", &format!("{passed} passed, {failed} failed"))?;
    Ok(())
}

/// Starts a reconnecting [`Component`](wamp_web::Component) on `url` (retrying every
/// 0.2 to 1 s) that registers `web.alive` (answering how many times it has joined),
/// writes `joined N` into `#joins` after each join and `left N: why` when a session
/// ends; returns at once. Its keepalive is short (a probe after 1 s of silence, 1 s to
/// answer), so a router that stops answering is noticed within about 2 s.
#[wasm_bindgen]
pub fn run_reconnect(url: String) -> Result<(), JsValue> {
    let joins = Arc::new(AtomicU32::new(0));
    let counted = Arc::clone(&joins);
    let retry = wamp_web::RetryPolicy {
        initial_retry_delay: Duration::from_millis(200),
        max_retry_delay: Duration::from_secs(1),
        ..wamp_web::RetryPolicy::default()
    };
    let mut transport =
        TransportConfig::new(url.as_str()).map_err(|e| JsValue::from_str(&e.to_string()))?;
    transport.websocket.auto_ping = Some((Duration::from_secs(1), Duration::from_secs(1)));
    let left = Arc::new(AtomicU32::new(0));
    let component = wamp_web::Component::builder()
        .transport(wamp_web::TransportSpec::new(transport).retry(retry))
        .realm("realm1")
        .is_fatal(|_| false)
        .register("web.alive", move |_: Invocation| {
            let n = joins.load(Ordering::SeqCst);
            async move { Yield::args(&(n,)).map_err(Into::into) }
        })
        .on_join(move |session: wamp_web::Session| {
            let n = counted.fetch_add(1, Ordering::SeqCst) + 1;
            let text = format!("joined {n} as session {}", session.id());
            async move {
                page::line("joins", &format!("join-{n}"), "join", &text)
                    .map_err(|e| format!("{e:?}").into())
            }
        })
        .on_leave(move |reason| {
            let n = left.fetch_add(1, Ordering::SeqCst) + 1;
            let _ = page::line(
                "joins",
                &format!("left-{n}"),
                "left",
                &format!("left {n}: {reason}"),
            );
        })
        .build()
        .map_err(|e| JsValue::from_str(&e.to_string()))?;
    wasm_bindgen_futures::spawn_local(async move {
        let outcome = wamp_web::start(&component).await;
        let _ = page::set_text("summary", &format!("the component ended: {outcome:?}"));
    });
    Ok(())
}
