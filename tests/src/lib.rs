//! Integration-test harness for the wamp-rs crates: a real Crossbar.io router and
//! Autobahn|Python peers, started by the test on 127.0.0.1, bounded in time, and stopped
//! by their pids.
//!
//! ```no_run
//! use std::time::Duration;
//! use serde_json::json;
//! use wamp_integration::autobahn::{self, CallOutcome, Callee, Peer, Serializer};
//! use wamp_integration::{Crossbar, CrossbarOptions};
//!
//! # fn main() -> wamp_integration::Result<()> {
//! let router = Crossbar::start(CrossbarOptions::default())?;
//! let peer = Peer::new(router.ws_url(), Serializer::Cbor);
//! let _callee = Callee::start(&peer, "com.example.echo", None)?;
//! let outcome = autobahn::call(&peer, "com.example.echo", &json!([1, 2]), &json!({}),
//!     Duration::from_secs(20))?;
//! assert!(matches!(outcome, CallOutcome::Result { .. }));
//! # Ok(())
//! # }
//! ```
//!
//! The Python side comes from the venv of `scripts/python-env.sh` (Crossbar.io 26.10.1,
//! Autobahn|Python 26.10.2), made on first use or named by `WAMP_INTEROP_PYTHON`. There
//! is no skipping: if the venv cannot be made, the test fails and says why.
//!
//! Modules: [`crossbar`] (the router), [`autobahn`] (Python peers), [`python`] (the
//! interpreter and supervised scripts), [`credentials`] (the router's principals),
//! [`ports`] (free ports), [`suites`] (the Autobahn|Python and Autobahn|JS interop suites,
//! runnable against any router).

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod autobahn;
pub mod browser;
pub mod cargo_build;
pub mod credentials;
pub mod crossbar;
mod error;
pub mod fault_proxy;
mod node_config;
pub mod ports;
mod process;
pub mod python;
pub mod suites;
mod tls;
pub mod wamp_cli;

pub use crate::crossbar::{Crossbar, CrossbarOptions};
pub use crate::error::{Error, Result};
pub use crate::node_config::{authenticator_principals, Ports};
pub use crate::process::pids_using_dir;
pub use crate::tls::{TestPki, TLS_SERVER_NAME};

/// The realm every router of the harness serves.
pub const REALM: &str = "realm1";
