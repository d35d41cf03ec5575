//! The Autobahn interop suites (`tests/interop/ab_suite.py`, `tests/interop/abjs_suite.mjs`)
//! proven against the real Crossbar.io router: every check passes except the ones listed
//! below with the reason. The same suites are meant for any router (see
//! `wamp_integration::suites`); this run shows the checks themselves are right.
//!
//! One router for both suites, run one after the other (the meta API checks count
//! sessions, so the suites must not overlap). About 30 s in all: Crossbar starts in a few
//! seconds, the Python suite takes about 20 s (mostly the bounded waits of the cancel-skip
//! checks Crossbar never answers), the JS suite a few seconds.

use std::time::Instant;

use wamp_integration::suites::{run_js_suite, run_python_suite, tally, KnownFailure, SuiteTarget};
use wamp_integration::{Crossbar, CrossbarOptions};

/// Checks Crossbar.io 26.10.1 fails for reasons of its own (measured; see
/// `../shared/reference/interop-notes.md`).
const CROSSBAR_KNOWN_FAILURES: &[KnownFailure] = &[KnownFailure {
    check: "rpc.cancel.skip",
    reason: "Crossbar never completes a call canceled in skip mode: it sends the caller no \
             ERROR and drops the callee's late YIELD (interop-notes, 'How they behave' 2)",
}];

#[test]
fn autobahn_python_and_js_suites_pass_against_crossbar() {
    let router = match Crossbar::start(CrossbarOptions::default().with_loglevel("warn")) {
        Ok(router) => router,
        Err(e) => panic!("{e}"),
    };
    let mut target = SuiteTarget::crossbar(&router);
    // Bounds for the whole test: the suites start no check after their deadline.
    target.deadline = std::time::Duration::from_secs(50);
    let mut complaints = Vec::new();

    let started = Instant::now();
    let run = run_python_suite(&target);
    tally(
        "ab_suite.py",
        run,
        started,
        CROSSBAR_KNOWN_FAILURES,
        &mut complaints,
    );

    // Autobahn|JS has no cancel checks, so nothing of its run is a known failure.
    target.deadline = std::time::Duration::from_secs(30);
    let started = Instant::now();
    let run = run_js_suite(&target);
    tally("abjs_suite.mjs", run, started, &[], &mut complaints);

    if !complaints.is_empty() {
        router.print_log();
        panic!(
            "{} problem(s):\n{}",
            complaints.len(),
            complaints.join("\n")
        );
    }
}
