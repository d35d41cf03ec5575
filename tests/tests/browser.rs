//! The browser client (`wamp-web`) in a real headless Chromium against `wamp router`:
//! the test page of `wamp-web-app` runs its suite (RPC with args, kwargs and errors over
//! JSON, MessagePack and CBOR; pub/sub with a prefix pattern; progressive results; a
//! call canceled by its timeout; ticket, WAMP-CRA and cryptosign right and wrong; what a
//! browser refuses), calls procedures of a native Rust client and of an Autobahn|Python
//! client through the same router and is called back by both; the example page is
//! loaded, checked for its text and photographed.
//!
//! The router serves the pages itself (a Crossbar.io-style config with a static path
//! beside the WebSocket). `scripts/web-env.sh` builds the pages and installs Chromium
//! and chromedriver where they are missing (first run: minutes); about 20 s after that.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures::future::Either;
use serde_json::{json, Value};
use wamp_integration::autobahn::{Peer, Serializer};
use wamp_integration::browser::{web_dir, Browser};
use wamp_integration::credentials::{
    CRYPTOSIGN_AUTHID, CRYPTOSIGN_PUBLIC_KEY_HEX, CRYPTOSIGN_SEED_HEX, TICKET, TICKET_AUTHID,
    WAMPCRA_AUTHID, WAMPCRA_SECRET,
};
use wamp_integration::ports::free_port;
use wamp_integration::python::PyProcess;
use wamp_integration::wamp_cli::{signal, RouterProcess, Signal};
use wamp_tokio::{Invocation, Registration, Session, WampError, Yield};

const SUITE_LIMIT: Duration = Duration::from_secs(120);

/// A node config: realm1 (roles anonymous and authenticated may do everything), one
/// web transport on `port` serving `folder` at `/` and WAMP at `/ws`.
fn config(port: u16, folder: &str) -> Value {
    let everything = |name: &str| {
        json!({"name": name, "permissions": [{"uri": "", "match": "prefix",
            "allow": {"call": true, "register": true, "publish": true, "subscribe": true}}]})
    };
    json!({
        "version": 2,
        "workers": [{
            "type": "router",
            "realms": [{"name": "realm1", "roles": [everything("anonymous"), everything("authenticated")]}],
            "transports": [{
                "type": "web",
                "endpoint": {"type": "tcp", "interface": "127.0.0.1", "port": port},
                "paths": {
                    "/": {"type": "static", "directory": folder},
                    "ws": {
                        "type": "websocket",
                        "serializers": ["json", "msgpack", "cbor"],
                        "auth": {
                            "anonymous": {"type": "static", "role": "anonymous"},
                            "ticket": {"type": "static", "principals": {
                                TICKET_AUTHID: {"ticket": TICKET, "role": "authenticated"}}},
                            "wampcra": {"type": "static", "users": {
                                WAMPCRA_AUTHID: {"secret": WAMPCRA_SECRET, "role": "authenticated"}}},
                            "cryptosign": {"type": "static", "principals": {
                                CRYPTOSIGN_AUTHID: {"authorized_keys": [CRYPTOSIGN_PUBLIC_KEY_HEX],
                                                    "role": "authenticated"}}},
                        },
                    },
                },
            }],
        }],
    })
}

/// Counts one cancellation when dropped, unless disarmed (`None`).
struct HeardOnDrop(Option<Arc<AtomicU32>>);

impl Drop for HeardOnDrop {
    fn drop(&mut self) {
        if let Some(count) = &self.0 {
            count.fetch_add(1, Ordering::SeqCst);
        }
    }
}

/// The native Rust peer: `native.echo`, `native.slow` (answers only when interrupted),
/// `native.interrupted` (how many times `native.slow` was) and `native.call_back(procedure,
/// text)` (calls the page's procedure with `[text]`).
async fn native_peer(url: &str) -> (Session, Vec<Registration>) {
    let session = wamp_tokio::connect(url, "realm1")
        .await
        .expect("native peer joins");
    let interrupted = Arc::new(AtomicU32::new(0));
    let mut registrations = Vec::new();
    registrations.push(
        session
            .register("native.echo", |inv: Invocation| async move {
                Ok(Yield::from_payload(inv.payload().clone()))
            })
            .await
            .expect("register native.echo"),
    );
    let flag = Arc::clone(&interrupted);
    registrations.push(
        session
            .register("native.slow", move |inv: Invocation| {
                let flag = Arc::clone(&flag);
                async move {
                    // An INTERRUPT either reaches the handler or (killnowait) drops it:
                    // both count as the callee hearing of the cancellation.
                    let mut heard = HeardOnDrop(Some(Arc::clone(&flag)));
                    let interrupted = inv.interrupted();
                    let timer = tokio::time::sleep(Duration::from_secs(30));
                    match futures::future::select(Box::pin(interrupted), Box::pin(timer)).await {
                        // The guard counts it as it goes.
                        Either::Left(_) => Err(WampError::new("wamp.error.canceled")),
                        Either::Right(_) => {
                            heard.0 = None;
                            Yield::args(&("too late",)).map_err(Into::into)
                        }
                    }
                }
            })
            .await
            .expect("register native.slow"),
    );
    let flag = Arc::clone(&interrupted);
    registrations.push(
        session
            .register("native.interrupted", move |_: Invocation| {
                let count = flag.load(Ordering::SeqCst);
                async move { Yield::args(&(count,)).map_err(Into::into) }
            })
            .await
            .expect("register native.interrupted"),
    );
    let caller = session.clone();
    registrations.push(
        session
            .register("native.call_back", move |inv: Invocation| {
                let caller = caller.clone();
                async move {
                    let (procedure, text): (String, String) = inv.args()?;
                    let result = caller.call(procedure.as_str()).args(&(text,)).await?;
                    Ok(Yield::from_payload(result.payload().clone()))
                }
            })
            .await
            .expect("register native.call_back"),
    );
    (session, registrations)
}

#[test]
fn the_browser_client_passes_its_suite_in_chromium() {
    let site = Site::new();
    let router = site.start_router();
    let (web, port, ws) = (&site.web, site.port, site.ws.clone());

    let rt = tokio::runtime::Runtime::new().expect("tokio");
    let (native, _registrations) = rt.block_on(native_peer(&ws));
    let mut python = PyProcess::spawn("ab_web_peer.py", Peer::new(&ws, Serializer::Json).args())
        .expect("start the Python peer");
    python
        .wait_for_line("READY", Duration::from_secs(30))
        .expect("the Python peer registers");

    let browser = Browser::start().expect("chromedriver and Chromium");
    browser
        .open(&format!(
            "http://127.0.0.1:{port}/test.html?router={ws}&ticket={TICKET_AUTHID}:{TICKET}\
             &wampcra={WAMPCRA_AUTHID}:{WAMPCRA_SECRET}\
             &cryptosign={CRYPTOSIGN_AUTHID}:{CRYPTOSIGN_SEED_HEX}"
        ))
        .expect("open the test page");
    browser
        .wait_until(
            "return document.getElementById('summary').textContent !== 'running'",
            SUITE_LIMIT,
        )
        .expect("the suite finishes");
    let cases = browser
        .eval(
            "return [...document.querySelectorAll('#cases li')]\
             .map(li => [li.id, li.className, li.textContent])",
        )
        .expect("the outcomes");
    let cases: Vec<(String, String, String)> =
        serde_json::from_value(cases).expect("a list of outcomes");
    for (_, _, text) in &cases {
        eprintln!("browser: {text}");
    }
    let summary = browser
        .eval("return document.getElementById('summary').textContent")
        .expect("the summary");
    let failed: Vec<&String> = cases
        .iter()
        .filter(|(_, class, _)| class != "pass")
        .map(|(_, _, text)| text)
        .collect();
    assert!(failed.is_empty(), "failed in the browser: {failed:#?}");
    let names: Vec<&str> = cases.iter().map(|(id, _, _)| id.as_str()).collect();
    let expected = [
        "case-rpc-json",
        "case-pubsub-json",
        "case-rpc-msgpack",
        "case-pubsub-msgpack",
        "case-rpc-cbor",
        "case-pubsub-cbor",
        "case-progressive",
        "case-cancel",
        "case-cross-native",
        "case-cross-python",
        "case-ticket",
        "case-wampcra",
        "case-cryptosign",
        "case-refusals",
    ];
    assert_eq!(names, expected, "summary: {summary}");

    // The example page, served by the router, joined through the router that served it.
    browser
        .open(&format!("http://127.0.0.1:{port}/"))
        .expect("open the example page");
    browser
        .wait_until(
            "return document.body.innerText.includes('done: left the realm')",
            Duration::from_secs(30),
        )
        .expect("the demo runs to its end");
    let text = browser.text().expect("the page's text");
    for line in [
        "called com.example.web.add2(2, 3) = 5",
        "subscribed to com.example.web.tick",
        "event 1 on com.example.web.tick",
        "event 5 on com.example.web.tick",
    ] {
        assert!(text.contains(line), "{line:?} is not on the page:\n{text}");
    }
    let png = browser.screenshot().expect("a screenshot");
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
    assert!(
        png.len() > 5_000,
        "a {} byte screenshot is blank",
        png.len()
    );
    let shot = web.join("example-page.png");
    std::fs::write(&shot, &png).expect("save the screenshot");
    eprintln!("the example page's screenshot: {}", shot.display());

    drop(browser);
    python.stop().expect("stop the Python peer");
    rt.block_on(native.leave()).expect("the native peer leaves");
    router.stop();
}

/// Where a test serves the pages and WAMP: the built pages, a free port, a folder for
/// the router's config.
struct Site {
    web: std::path::PathBuf,
    port: u16,
    ws: String,
    dir: tempfile::TempDir,
}

impl Site {
    fn new() -> Site {
        let port = free_port().expect("a free port");
        Site {
            web: web_dir().expect("the built pages"),
            port,
            ws: format!("ws://127.0.0.1:{port}/ws"),
            dir: tempfile::tempdir().expect("a temp dir"),
        }
    }

    /// Starts `wamp router` with the browser tests' config on the site's port.
    fn start_router(&self) -> RouterProcess {
        let config_path = self.dir.path().join("config.json");
        let folder = self.web.to_string_lossy().into_owned();
        std::fs::write(&config_path, config(self.port, &folder).to_string())
            .expect("write the config");
        RouterProcess::start(&["--config", &config_path.to_string_lossy()]).0
    }
}

/// How many times the page's component has joined, as `web.alive` answers it.
async fn page_joins(url: &str) -> u32 {
    let session = wamp_tokio::connect(url, "realm1").await.expect("join");
    let (joins,): (u32,) = session
        .call("web.alive")
        .await
        .and_then(|r| r.args())
        .expect("web.alive answers");
    session.leave().await.expect("leave");
    joins
}

#[test]
fn the_browser_component_reconnects_after_the_router_restarts() {
    let site = Site::new();
    let router = site.start_router();
    let (port, ws) = (site.port, site.ws.clone());
    let rt = tokio::runtime::Runtime::new().expect("tokio");

    let browser = Browser::start().expect("chromedriver and Chromium");
    browser
        .open(&format!(
            "http://127.0.0.1:{port}/test.html?mode=reconnect&router={ws}"
        ))
        .expect("open the test page");
    browser
        .wait_until(
            "return !!document.getElementById('join-1')",
            Duration::from_secs(30),
        )
        .expect("the component joins");
    assert_eq!(rt.block_on(page_joins(&ws)), 1);

    // The router stops answering (SIGSTOP: its sockets stay open, as with a hung
    // process or a dead network path). The browser shows the page no WebSocket pings,
    // so it is the session's WAMP-level probe that notices.
    signal(router.pid(), Signal::STOP);
    browser
        .wait_until(
            "return !!document.getElementById('left-1')",
            Duration::from_secs(15),
        )
        .expect("the probe ends the session");
    let text = browser.text().expect("the page's text");
    assert!(text.contains("liveness probe"), "{text}");

    // The router goes away and comes back on the same port: the page's component
    // retries, joins again and registers again.
    router.kill();
    let router = site.start_router();
    browser
        .wait_until(
            "return !!document.getElementById('join-2')",
            Duration::from_secs(30),
        )
        .expect("the component joins again");
    assert_eq!(rt.block_on(page_joins(&ws)), 2);
    let text = browser.text().expect("the page's text");
    assert!(!text.contains("the component ended"), "{text}");
    drop(browser);
    router.stop();
}
