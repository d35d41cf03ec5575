//! Dynamic authentication and authorization as Crossbar.io users run them: one
//! Crossbar.io `config.json` whose principal transports leave ticket, WAMP-CRA (plain
//! and salted) and cryptosign to a `dynamic` authenticator, and whose restricted role is
//! decided by an `authorizer`, both written in Autobahn|Python
//! (`tests/interop/ab_authenticator.py`, registered through the anonymous transport,
//! answering as Crossbar.io's documentation shows; the authorizer allows calls and
//! subscriptions under the allowed prefix only). The authentication and authorization
//! checks of the Autobahn|Python and Autobahn|JS suites run against Crossbar.io, then
//! against `wamp router --config` given the same file, and must give the same results,
//! with the authenticator and the authorizer each asked as often by both routers.
//!
//! About 20 s: Crossbar.io starts in a few seconds; each suite's auth checks take a few.

use std::time::{Duration, Instant};

use wamp_integration::autobahn::{DynamicAuthenticator, Peer, Serializer};
use wamp_integration::suites::{
    run_js_suite, run_python_suite, tally, AuthMethod, Check, SuiteTarget,
};
use wamp_integration::wamp_cli::RouterProcess;
use wamp_integration::{authenticator_principals, Crossbar, CrossbarOptions};

const AUTHENTICATOR: &str = "com.example.authenticate";
const AUTHORIZER: &str = "com.example.authorize";

#[test]
fn autobahn_authenticators_and_authorizers_decide_alike_on_crossbar_and_on_wamp_router() {
    let options = CrossbarOptions::default()
        .with_loglevel("warn")
        .with_authenticator(AUTHENTICATOR)
        .with_authorizer(AUTHORIZER);
    let mut crossbar = match Crossbar::start(options) {
        Ok(router) => router,
        Err(e) => panic!("{e}"),
    };
    let mut target = SuiteTarget::crossbar(&crossbar);
    // SCRAM stays static (and Crossbar.io's is not the spec's): not compared.
    target
        .principals
        .retain(|p| p.method != AuthMethod::AutobahnScram);
    target.only = Some(r"^(auth\.(ticket|wampcra|wampcra-salted|cryptosign)\.|authz\.)".into());
    target.deadline = Duration::from_secs(40);
    let peer = Peer::new(crossbar.ws_url(), Serializer::Json);

    let mut complaints = Vec::new();
    let (theirs, asked_crossbar) = run(&target, &peer, &mut complaints);
    if !complaints.is_empty() {
        crossbar.print_log();
        panic!("against Crossbar.io:\n{}", complaints.join("\n"));
    }
    assert!(
        asked_crossbar.0 > 0 && asked_crossbar.1 > 0,
        "Crossbar.io never asked the authenticator or the authorizer: {asked_crossbar:?}"
    );

    let config = crossbar.cbdir().join("config.json");
    crossbar.stop().expect("Crossbar.io stops");
    let (ours, _) = RouterProcess::start(&["--config", &config.to_string_lossy()]);
    let (mine, asked_ours) = run(&target, &peer, &mut complaints);
    let log = ours.stop();
    let outcomes = |checks: &[Check]| {
        let mut v: Vec<(String, bool)> = checks.iter().map(|c| (c.name.clone(), c.ok)).collect();
        v.sort();
        v
    };
    if outcomes(&theirs) != outcomes(&mine) {
        complaints.push(format!(
            "other outcomes:\nwamp router: {:?}\nCrossbar.io: {:?}",
            outcomes(&mine),
            outcomes(&theirs)
        ));
    }
    if asked_ours != asked_crossbar {
        complaints.push(format!(
            "(authenticator, authorizer) asked {asked_ours:?} times by wamp router, \
             {asked_crossbar:?} by Crossbar.io"
        ));
    }
    assert!(
        complaints.is_empty(),
        "{}\n--- wamp router ---\n{log}",
        complaints.join("\n")
    );
}

/// Starts the authenticator and authorizer, runs both suites' auth checks, stops them:
/// the checks, and how many times each was asked.
fn run(
    target: &SuiteTarget,
    peer: &Peer,
    complaints: &mut Vec<String>,
) -> (Vec<Check>, (usize, usize)) {
    let restricted = target.restricted.as_ref().expect("a restricted principal");
    let options = [
        "--authorizer",
        AUTHORIZER,
        "--allow-prefix",
        &restricted.allowed_prefix,
        "--allow-actions",
        "call,subscribe",
    ];
    let scripts = DynamicAuthenticator::start_with(
        peer,
        AUTHENTICATOR,
        &authenticator_principals(),
        &options,
    )
    .expect("the authenticator registers");
    let started = Instant::now();
    let python = tally(
        "ab_suite.py",
        run_python_suite(target),
        started,
        &[],
        complaints,
    );
    let started = Instant::now();
    let js = tally(
        "abjs_suite.mjs",
        run_js_suite(target),
        started,
        &[],
        complaints,
    );
    let finished = scripts.stop().expect("the authenticator stops");
    let count = |prefix: &str| {
        finished
            .stdout
            .iter()
            .filter(|l| l.starts_with(prefix))
            .count()
    };
    let checks = [python.unwrap_or_default(), js.unwrap_or_default()].concat();
    (checks, (count("ASKED "), count("AUTHORIZE ")))
}
