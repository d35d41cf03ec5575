//! `ticket`: the client sends a shared secret (the ticket) verbatim.
//!
//! Only use it over TLS: the ticket crosses the wire in the clear. The spec requires an
//! authid in HELLO, so [`Ticket::new`] takes one. The router side is a plain comparison,
//! [`verify`].

use std::fmt;

use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::dict::Dict;
use crate::message::Authenticate;
use crate::value::Map;

use super::{AuthError, ChannelBinding, ClientAuthenticator};

const METHOD: &str = "ticket";

/// Ticket authentication: answers the CHALLENGE with the ticket itself.
#[derive(Clone)]
pub struct Ticket {
    authid: String,
    ticket: Zeroizing<String>,
}

impl Ticket {
    /// Authenticates as `authid` with `ticket`.
    pub fn new(authid: impl Into<String>, ticket: impl Into<String>) -> Self {
        Ticket {
            authid: authid.into(),
            ticket: Zeroizing::new(ticket.into()),
        }
    }
}

impl fmt::Debug for Ticket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ticket")
            .field("authid", &self.authid)
            .field("ticket", &"<redacted>")
            .finish()
    }
}

impl ClientAuthenticator for Ticket {
    fn method(&self) -> &str {
        METHOD
    }

    fn authid(&self) -> Option<&str> {
        Some(&self.authid)
    }

    fn hello_extra(&mut self, _rng: &mut dyn rand_core::RngCore) -> Map {
        Map::new()
    }

    /// The ticket CHALLENGE carries nothing the client needs; its extra is ignored.
    fn authenticate(
        &mut self,
        _challenge_extra: &Dict,
        _channel: Option<&ChannelBinding>,
    ) -> Result<Authenticate, AuthError> {
        Ok(Authenticate {
            signature: self.ticket.as_str().to_owned(),
            extra: Dict::new(),
        })
    }
}

/// Router side: checks a received ticket against the expected one in constant time (for
/// equal lengths).
pub fn verify(expected: &str, received: &str) -> Result<(), AuthError> {
    if bool::from(expected.as_bytes().ct_eq(received.as_bytes())) {
        Ok(())
    } else {
        Err(AuthError::SignatureMismatch { method: METHOD })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::test_support;

    #[test]
    fn sends_the_ticket_verbatim() {
        let mut t = Ticket::new("joe", "secret!!!");
        assert_eq!(t.method(), "ticket");
        assert_eq!(t.authid(), Some("joe"));
        let auth = t.authenticate(&Dict::new(), None).expect("ticket");
        assert_eq!(auth.signature, "secret!!!");
        assert!(auth.extra.is_empty());
        assert_eq!(verify("secret!!!", &auth.signature), Ok(()));
        assert!(verify("secret!!!", "secret!!").is_err());
    }

    #[test]
    fn debug_redacts_the_ticket() {
        let dbg = format!("{:?}", Ticket::new("joe", "secret!!!"));
        assert!(!dbg.contains("secret"), "{dbg}");
    }

    #[test]
    fn garbage_extra_never_panics() {
        let mut rng = test_support::rng(7);
        let mut t = Ticket::new("joe", "x");
        for _ in 0..200 {
            let extra = test_support::random_extra(&mut rng, &["challenge", "x"]);
            assert!(t.authenticate(&Dict::from(extra), None).is_ok());
        }
    }
}
