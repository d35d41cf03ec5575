//! The async client (`wamp-runtime` through `wamp-tokio` and `wamp-async-std`) against a
//! real Crossbar.io router. Every case is written once (in `common/`, shared with
//! `router_client.rs`), generic over the `Runtime`, and run on
//! both runtimes: RPC and pub/sub for all three serializers over WebSocket and
//! RawSocket (args and kwargs, error URIs, progressive results, cancel with the callee
//! seeing the interrupt, pattern registrations and subscriptions, publish with
//! acknowledge and exclude_me, caller and publisher disclosure), every authentication
//! method with right and wrong credentials (Crossbar refuses the spec's `wamp-scram` and
//! takes Autobahn's `scram` through `Auth::ScramAutobahn`), TLS (wss, rss) with the
//! harness's CA, the Unix socket, and connect failures.
//!
//! One router (with TLS) serves the whole file, started once in the single test below
//! (a start costs about 3 s) and stopped by its pid when the test ends.

mod common;

use std::time::Duration;

use common::{
    authentication, join, on_both_runtimes, refused, rpc_and_pubsub_over, transports, Endpoints,
    Scram,
};
use wamp_integration::credentials::{AUTHENTICATED_ROLE, SCRAM_AUTHID, SCRAM_PASSWORD};
use wamp_integration::{Crossbar, CrossbarOptions, REALM};
use wamp_tokio::wamp_runtime::{
    Auth, ConnectError, JoinConfig, Runtime, SerializerKind, TransportConfig, Uri,
};

#[test]
fn the_client_against_crossbar_on_both_runtimes() {
    let mut options = CrossbarOptions::default().with_tls(true);
    // A safety net only: the router is stopped by its pid when this test ends.
    options.max_lifetime = Duration::from_secs(600);
    let crossbar = match Crossbar::start(options) {
        Ok(crossbar) => crossbar,
        Err(e) => panic!("{e}"),
    };
    let router = Endpoints {
        ws: crossbar.ws_url(),
        rs: crossbar.rawsocket_url(),
        ws_auth: crossbar.ws_auth_url(),
        rs_auth: crossbar.rawsocket_auth_url(),
        wss: crossbar.wss_url().expect("TLS is on"),
        rss: crossbar.rss_url().expect("TLS is on"),
        ca_pem: crossbar.ca_pem().expect("TLS is on").to_owned(),
        unix: format!("unix://{}", crossbar.unix_path().display()),
    };
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        for serializer in SerializerKind::ALL {
            for (kind, url) in [("ws", &router.ws), ("rs", &router.rs)] {
                let name = format!("rpc and pub/sub, {kind}, {serializer}");
                let tag = |rt: &str| format!("test.{rt}.{kind}.{serializer}");
                on_both_runtimes(
                    &name,
                    |rt| rpc_and_pubsub_over(rt, url.clone(), serializer, tag("tokio")),
                    |rt| rpc_and_pubsub_over(rt, url.clone(), serializer, tag("asyncstd")),
                );
            }
        }
        for url in [&router.ws_auth, &router.rs_auth] {
            on_both_runtimes(
                &format!("authentication, {url}"),
                |rt| authentication(rt, url.clone(), Scram::Refused),
                |rt| authentication(rt, url.clone(), Scram::Refused),
            );
            on_both_runtimes(
                &format!("Autobahn's scram, {url}"),
                |rt| scram_autobahn(rt, url.clone()),
                |rt| scram_autobahn(rt, url.clone()),
            );
        }
        on_both_runtimes(
            "TLS, Unix socket, failures",
            |rt| transports(rt, &router),
            |rt| transports(rt, &router),
        );
    }));
    if let Err(panic) = outcome {
        crossbar.print_log();
        std::panic::resume_unwind(panic);
    }
}

/// Crossbar's `scram` (Autobahn's draft) through [`Auth::ScramAutobahn`]: the right
/// password joins as the harness's principal (the client has checked the router's
/// `scram_server_signature` by then); a wrong password or an unknown authid is refused.
async fn scram_autobahn<R: Runtime>(rt: R, url: String) {
    let transport = TransportConfig::new(&url).expect("valid URL");
    let right = JoinConfig::new(REALM).auth(Auth::scram_autobahn(SCRAM_AUTHID, SCRAM_PASSWORD));
    let session = join(&rt, &transport, &right).await;
    let details = session.details();
    assert_eq!(details.authid.as_deref(), Some(SCRAM_AUTHID));
    assert_eq!(details.authrole.as_deref(), Some(AUTHENTICATED_ROLE));
    assert_eq!(details.authmethod.as_deref(), Some("scram"));
    common::leave(&rt, &session).await;

    for auth in [
        Auth::scram_autobahn(SCRAM_AUTHID, "not the password"),
        Auth::scram_autobahn("nobody", SCRAM_PASSWORD),
    ] {
        let err = refused(&rt, &transport, &JoinConfig::new(REALM).auth(auth)).await;
        assert!(
            matches!(&err, ConnectError::Aborted { reason, .. } if reason == &Uri::NOT_AUTHORIZED),
            "scram: {err}"
        );
    }
}
