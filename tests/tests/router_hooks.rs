//! Authenticators and authorizers written in Rust (`RouterBuilder::authenticator`,
//! `RouterBuilder::authorizer`) for an application that embeds the router: the router
//! asks them what it would ask a WAMP procedure, and their answers decide alike. Driven
//! with in-process sessions on Tokio.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use common::{bounded, on_tokio};
use wamp_tokio::wamp_router::{Authenticator, Permission, RealmConfig, RoleConfig, RouterConfig};
use wamp_tokio::wamp_runtime::{Auth, JoinConfig};
use wamp_tokio::{AuthGrant, AuthRequest, AuthzDecision, AuthzRequest, Router, Uri, WampError};

const AUTHENTICATE: &str = "com.example.authenticate";
const AUTHORIZE: &str = "com.example.authorize";

fn uri(s: &str) -> Uri {
    Uri::parse(s).expect("a valid URI")
}

#[test]
fn rust_hooks_decide_who_joins_and_what_a_role_may_do() {
    on_tokio(|rt| async move {
        let mut realm = RealmConfig::new("realm1")
            .expect("a valid URI")
            .role(RoleConfig::new("admin").permit(Permission::everything()))
            .role(RoleConfig::dynamic("user", uri(AUTHORIZE)));
        realm.auth.authenticators.ticket =
            Some(Authenticator::new(AUTHENTICATE).expect("a valid URI"));
        let asked = Arc::new(AtomicUsize::new(0));
        let counter = asked.clone();
        let router = Router::builder(RouterConfig::new().realm(realm))
            .authenticator(uri(AUTHENTICATE), move |request: AuthRequest| {
                counter.fetch_add(1, Ordering::SeqCst);
                async move {
                    match (request.authid.as_deref(), request.ticket()) {
                        (Some("ann"), Some("ann's ticket")) => Ok(AuthGrant::role("admin")),
                        (Some("bob"), Some("bob's ticket")) => {
                            Ok(AuthGrant::role("user").authid("bob@example"))
                        }
                        _ => Err(WampError::new("wamp.error.not_authorized")
                            .with_args(&("unknown ticket",))),
                    }
                }
            })
            .authorizer(uri(AUTHORIZE), |request: AuthzRequest| async move {
                let allowed = request.action == "call" && request.uri.starts_with("com.public.");
                Ok(if allowed {
                    AuthzDecision::allow().cache()
                } else {
                    AuthzDecision::deny()
                })
            })
            .start()
            .await
            .expect("the router starts");
        let join = |authid: &str, ticket: &str| {
            JoinConfig::new("realm1").auth(Auth::ticket(authid, ticket))
        };
        let ann = bounded(
            &rt,
            "ann joins",
            router.connect_local(join("ann", "ann's ticket")),
        )
        .await
        .expect("ann is admitted");
        assert_eq!(ann.details().authrole.as_deref(), Some("admin"));
        let bob = bounded(
            &rt,
            "bob joins",
            router.connect_local(join("bob", "bob's ticket")),
        )
        .await
        .expect("bob is admitted");
        assert_eq!(bob.details().authid.as_deref(), Some("bob@example"));
        let err = bounded(&rt, "eve", router.connect_local(join("eve", "guess")))
            .await
            .expect_err("eve is refused");
        assert!(err.is_auth_rejection(), "{err}");
        assert!(err.to_string().contains("unknown ticket"), "{err}");
        assert_eq!(asked.load(Ordering::SeqCst), 3);

        // ann (static role) registers; bob's calls go where the authorizer allows.
        let _reg = ann
            .register("com.public.echo", |_inv: wamp_tokio::Invocation| async move {
                Ok(wamp_tokio::Yield::args(&("pong",))?)
            })
            .await
            .expect("ann registers");
        let _reg2 = ann
            .register("com.private.echo", |_inv: wamp_tokio::Invocation| async move {
                Ok(wamp_tokio::Yield::args(&("secret",))?)
            })
            .await
            .expect("ann registers");
        let result = bounded(&rt, "bob calls", bob.call("com.public.echo"))
            .await
            .expect("allowed");
        assert_eq!(result.args::<(String,)>().expect("a string").0, "pong");
        let denied = bounded(&rt, "bob calls", bob.call("com.private.echo"))
            .await
            .expect_err("denied");
        assert_eq!(
            denied.uri().map(Uri::as_str),
            Some("wamp.error.not_authorized"),
            "{denied}"
        );
        router.shutdown().await;
    });
}
