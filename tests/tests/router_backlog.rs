//! A listener with its own listen queue (`ListenerConfig::backlog`, Crossbar.io's
//! endpoint `backlog`) binds and serves on both runtimes.

mod common;

use common::{bounded, on_both_runtimes};
use wamp_tokio::wamp_runtime::{
    connect, JoinConfig, ListenerConfig, RealmConfig, RouterBuilder, RouterConfig, Runtime,
    TransportConfig,
};

async fn serves_with_a_backlog<R: Runtime>(rt: R) {
    let config = RouterConfig::new().realm(RealmConfig::anonymous("realm1").expect("a URI"));
    let mut listener = ListenerConfig::websocket("127.0.0.1:0", "/ws");
    listener.backlog = Some(8);
    let router = RouterBuilder::new(rt.clone(), config)
        .listen(listener)
        .start()
        .await
        .expect("the router starts");
    let url = router.listeners()[0].url().expect("a URL");
    let transport = TransportConfig::new(&url).expect("a URL");
    let session = bounded(
        &rt,
        "join",
        connect(&rt, &transport, &JoinConfig::new("realm1")),
    )
    .await
    .expect("joins");
    assert!(session.details().authid.is_some());
    router.shutdown().await;
}

#[test]
fn a_listener_with_a_backlog_serves_on_both_runtimes() {
    on_both_runtimes("backlog", serves_with_a_backlog, serves_with_a_backlog);
}
