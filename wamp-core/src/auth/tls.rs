//! `tls`: the client is known by the certificate it presented in the TLS handshake, as
//! Crossbar.io (and our router) authenticate it. The session carries no credential of
//! its own: announce the method (and perhaps an authid) and connect with a client
//! certificate configured in the transport's TLS settings.

use crate::dict::Dict;
use crate::message::Authenticate;
use crate::value::Map;

use super::{Anonymous, AuthError, ChannelBinding, ClientAuthenticator};

const METHOD: &str = "tls";

/// TLS client certificate authentication: announces `tls` and never answers a
/// CHALLENGE (the router needs none: the TLS handshake proved the key).
#[derive(Debug, Clone, Default)]
pub struct TlsCertificate {
    /// Holds the optional authid; the behaviour is anonymous's but for the method.
    inner: Anonymous,
}

impl TlsCertificate {
    /// Without an authid (the router names the principal from the certificate).
    pub fn new() -> Self {
        TlsCertificate::default()
    }

    /// Announces `authid` in HELLO.
    #[must_use]
    pub fn with_authid(self, authid: impl Into<String>) -> Self {
        TlsCertificate {
            inner: self.inner.with_authid(authid),
        }
    }
}

impl ClientAuthenticator for TlsCertificate {
    fn method(&self) -> &str {
        METHOD
    }

    fn authid(&self) -> Option<&str> {
        self.inner.authid()
    }

    fn hello_extra(&mut self, rng: &mut dyn rand_core::CryptoRng) -> Map {
        self.inner.hello_extra(rng)
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
    fn announces_tls_and_refuses_challenges() {
        let mut auth = TlsCertificate::new().with_authid("device-7");
        assert_eq!((auth.method(), auth.authid()), ("tls", Some("device-7")));
        assert!(auth.authenticate(&Dict::new(), None).is_err());
    }
}
