//! The example page: joins the realm, registers and calls a procedure, subscribes to a
//! topic and shows the events a ticker publishes to it.

use std::time::Duration;

use futures::StreamExt;
use wamp_web::{Invocation, JoinConfig, Yield};
use wasm_bindgen::prelude::*;

use crate::page;

/// Runs the demo against the router at `url` (e.g. `ws://127.0.0.1:8080/ws`), realm
/// `realm`, writing what happens into the page's `#log` list.
#[wasm_bindgen]
pub async fn run_demo(url: String, realm: String) -> Result<(), JsValue> {
    let fail = |e: &dyn std::fmt::Display| JsValue::from_str(&e.to_string());
    let log = |text: &str| page::line("log", "", "entry", text);
    page::set_text("status", &format!("connecting to {url} ..."))?;
    let session = wamp_web::connect(url.as_str(), JoinConfig::new(realm.as_str()))
        .await
        .map_err(|e| fail(&e))?;
    page::set_text(
        "status",
        &format!(
            "joined {realm} as session {} ({})",
            session.id(),
            session.serializer()
        ),
    )?;
    let _add2 = session
        .register("com.example.web.add2", |inv: Invocation| async move {
            let (a, b): (i64, i64) = inv.args()?;
            Yield::args(&(a + b,)).map_err(Into::into)
        })
        .await
        .map_err(|e| fail(&e))?;
    let (sum,): (i64,) = session
        .call("com.example.web.add2")
        .args(&(2, 3))
        .await
        .and_then(|r| r.args())
        .map_err(|e| fail(&e))?;
    log(&format!("called com.example.web.add2(2, 3) = {sum}"))?;
    let mut ticks = session
        .subscribe("com.example.web.tick")
        .await
        .map_err(|e| fail(&e))?;
    log("subscribed to com.example.web.tick")?;
    let publisher = session.clone();
    wasm_bindgen_futures::spawn_local(async move {
        for n in 1..=5u32 {
            gloo_timers::future::sleep(Duration::from_millis(300)).await;
            let sent = publisher
                .publish("com.example.web.tick")
                .args(&(n,))
                .exclude_me(false)
                .acknowledge(true)
                .await;
            if sent.is_err() {
                return;
            }
        }
    });
    for _ in 0..5 {
        let Some(event) = ticks.next().await else {
            break;
        };
        let event = event.map_err(|e| fail(&e))?;
        let (n,): (u32,) = event.args().map_err(|e| fail(&e))?;
        log(&format!("event {n} on com.example.web.tick"))?;
    }
    session.leave().await.map_err(|e| fail(&e))?;
    page::set_text("status", "done: left the realm")?;
    Ok(())
}
