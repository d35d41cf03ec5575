//! `anonymous`: no credentials at all.
//!
//! The spec has no section of its own for it; Autobahn's `AuthAnonymous` sends no secret
//! and treats any CHALLENGE as an error, and so does [`Anonymous`].

use crate::dict::Dict;
use crate::message::Authenticate;
use crate::value::Map;

use super::{AuthError, ChannelBinding, ClientAuthenticator};

const METHOD: &str = "anonymous";

/// Anonymous authentication: announces `anonymous` (and optionally an authid) and never
/// answers a CHALLENGE.
#[derive(Debug, Clone, Default)]
pub struct Anonymous {
    authid: Option<String>,
}

impl Anonymous {
    /// Anonymous, without an authid (the router assigns one).
    pub fn new() -> Self {
        Anonymous::default()
    }

    /// Announces `authid` in HELLO.
    #[must_use]
    pub fn with_authid(mut self, authid: impl Into<String>) -> Self {
        self.authid = Some(authid.into());
        self
    }
}

impl ClientAuthenticator for Anonymous {
    fn method(&self) -> &str {
        METHOD
    }

    fn authid(&self) -> Option<&str> {
        self.authid.as_deref()
    }

    fn hello_extra(&mut self, _rng: &mut dyn rand_core::CryptoRng) -> Map {
        Map::new()
    }

    fn authenticate(
        &mut self,
        _challenge_extra: &Dict,
        _channel: Option<&ChannelBinding>,
    ) -> Result<Authenticate, AuthError> {
        Err(AuthError::UnexpectedChallenge { method: METHOD })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_challenges() {
        let mut anon = Anonymous::new().with_authid("guest");
        assert_eq!(anon.method(), "anonymous");
        assert_eq!(anon.authid(), Some("guest"));
        assert!(anon
            .hello_extra(&mut crate::auth::test_support::rng(1))
            .is_empty());
        assert_eq!(
            anon.authenticate(&Dict::new(), None),
            Err(AuthError::UnexpectedChallenge {
                method: "anonymous"
            })
        );
        assert_eq!(anon.verify_welcome(&Dict::new()), Ok(()));
    }
}
