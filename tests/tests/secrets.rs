//! Secrets stay secret, end to end with the `wamp` executable:
//!
//! - `wamp hash-ticket` turns a ticket (read from stdin) into an Argon2id PHC string;
//!   `wamp router` with that string in a principal's `ticket` lets the ticket in and
//!   refuses anything else, including the hash itself;
//! - with the router and the clients logging at the most verbose level (`-vvv`, trace),
//!   joins with every method (ticket plain and hashed, WAMP-CRA, cryptosign, WAMP-SCRAM),
//!   right and wrong, leave no secret in any log or output: not the tickets, the
//!   WAMP-CRA secret, the SCRAM password, the cryptosign private key, nor the stored hash.

use std::io::Write;
use std::process::{Command, Stdio};

use wamp_integration::credentials::*;
use wamp_integration::ports::free_ports;
use wamp_integration::suites::wamp_router_config;
use wamp_integration::wamp_cli::{finish, run_wamp_with, wamp_binary, RouterProcess, CLIENT_LIMIT};

const HASHED_AUTHID: &str = "hashed-user";
const HASHED_TICKET: &str = "hashed-ticket-51be0d";

/// `printf %s TICKET | wamp hash-ticket`.
fn hash_ticket(ticket: &str) -> String {
    let mut child = Command::new(wamp_binary())
        .arg("hash-ticket")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn wamp hash-ticket");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(ticket.as_bytes())
        .expect("write the ticket");
    let out = finish(child, CLIENT_LIMIT, "wamp hash-ticket");
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let phc = out.stdout.trim().to_owned();
    assert!(phc.starts_with("$argon2id$v=19$"), "{out:?}");
    assert!(!phc.contains(ticket));
    phc
}

/// The suites' router configuration (every method's principal) plus a ticket principal
/// whose `ticket` is a hash.
fn config(ws_port: u16, rs_port: u16, hashed: &str) -> String {
    format!(
        "{}\n[[realms.auth.ticket]]\nauthid = \"{HASHED_AUTHID}\"\nrole = \"{AUTHENTICATED_ROLE}\"\nticket = \"{hashed}\"\n",
        wamp_router_config(ws_port, rs_port)
    )
}

#[test]
fn hashed_tickets_work_and_no_secret_reaches_a_log() {
    let hashed = hash_ticket(HASHED_TICKET);
    let dir = tempfile::tempdir().expect("a temp dir");
    let path = dir.path().join("router.toml");
    let ports = free_ports(2).expect("free ports");
    std::fs::write(&path, config(ports[0], ports[1], &hashed)).expect("write the config");
    let (router, urls) = RouterProcess::start(&["-vvv", "--config", &path.to_string_lossy()]);
    let url = &urls[0];

    // (method, authid, right secret, a wrong one)
    let wrong_key = "11".repeat(32);
    let cases = [
        ("ticket", TICKET_AUTHID, TICKET, "secret-tickeT"),
        ("ticket", HASHED_AUTHID, HASHED_TICKET, hashed.as_str()),
        ("wampcra", WAMPCRA_AUTHID, WAMPCRA_SECRET, "cra-secreT"),
        (
            "cryptosign",
            CRYPTOSIGN_AUTHID,
            CRYPTOSIGN_SEED_HEX,
            wrong_key.as_str(),
        ),
        ("scram", SCRAM_AUTHID, SCRAM_PASSWORD, "scram-passworD"),
    ];
    let mut client_output = String::new();
    for (method, authid, right, wrong) in cases {
        for (secret, expect) in [(right, 0), (wrong, 3)] {
            let out = run_wamp_with(
                &[
                    "call",
                    url,
                    "-vvv",
                    "--authmethod",
                    method,
                    "--authid",
                    authid,
                    "wamp.session.count",
                ],
                &[("WAMP_SECRET", secret)],
            );
            assert_eq!(
                out.status.code(),
                Some(expect),
                "{method} as {authid} with {}: {out:?}",
                if expect == 0 {
                    "the right secret"
                } else {
                    "a wrong one"
                }
            );
            client_output.push_str(&out.stdout);
            client_output.push_str(&out.stderr);
        }
    }
    let router_log = router.stop();
    assert!(
        router_log.contains("session joined") && client_output.contains("DEBUG"),
        "the logs were not at the verbose level:\n{router_log}\n{client_output}"
    );
    let hash_part = hashed.rsplit('$').next().expect("the hash");
    for secret in [
        TICKET,
        HASHED_TICKET,
        hash_part,
        WAMPCRA_SECRET,
        CRYPTOSIGN_SEED_HEX,
        SCRAM_PASSWORD,
        "secret-tickeT",
        "cra-secreT",
        "scram-passworD",
    ] {
        assert!(
            !router_log.contains(secret),
            "the router logged {secret:?}:\n{router_log}"
        );
        assert!(
            !client_output.contains(secret),
            "a client printed {secret:?}:\n{client_output}"
        );
    }
}
