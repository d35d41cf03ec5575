//! TLS for the router's listeners: rustls (ring provider) through `futures-rustls`, so
//! it works the same on every runtime.

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use futures_rustls::pki_types::pem::PemObject;
use futures_rustls::pki_types::{CertificateDer, PrivateKeyDer};
use futures_rustls::rustls::{self, ProtocolVersion, ServerConfig};
use futures_rustls::TlsAcceptor;
use wamp_proto::auth::{ChannelBinding, ChannelBindingKind};

use super::RouterError;
use crate::runtime::BoxStream;

/// A listener's TLS identity: its certificate chain and private key, as a rustls
/// server configuration.
///
/// ```no_run
/// use wamp_runtime::ServerTls;
/// let tls = ServerTls::from_pem_files("certs/server.pem", "certs/server.key")?;
/// # Ok::<(), wamp_runtime::RouterError>(())
/// ```
#[derive(Clone)]
pub struct ServerTls {
    config: Arc<ServerConfig>,
    /// The identity, kept to rebuild the configuration with client certificates.
    identity: Option<Arc<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)>>,
}

impl fmt::Debug for ServerTls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerTls").finish_non_exhaustive()
    }
}

fn tls_error(what: &str, source: impl Into<crate::error::BoxError>) -> RouterError {
    RouterError::Tls {
        what: what.to_owned(),
        source: source.into(),
    }
}

impl ServerTls {
    /// From PEM text: the certificate chain (the server's certificate first, then the
    /// intermediates) and its private key (PKCS#8, PKCS#1 or SEC1).
    pub fn from_pem(cert_chain: &[u8], key: &[u8]) -> Result<ServerTls, RouterError> {
        let certs = CertificateDer::pem_slice_iter(cert_chain)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| tls_error("certificate chain", e))?;
        if certs.is_empty() {
            return Err(tls_error(
                "certificate chain",
                "no CERTIFICATE in the PEM text",
            ));
        }
        let key = PrivateKeyDer::from_pem_slice(key).map_err(|e| tls_error("private key", e))?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| tls_error("protocol versions", e))?
            .with_no_client_auth()
            .with_single_cert(certs.clone(), key.clone_key())
            .map_err(|e| tls_error("certificate and key", e))?;
        Ok(ServerTls {
            config: Arc::new(config),
            identity: Some(Arc::new((certs, key))),
        })
    }

    /// Asks clients for a certificate and verifies one that is offered against the CAs
    /// in `ca_pem` (a client without one still connects: its sessions may authenticate
    /// otherwise). A verified certificate is what the `tls` authentication method
    /// matches principals against, by its SHA-1 fingerprint.
    pub fn client_certificates(self, ca_pem: &[u8]) -> Result<ServerTls, RouterError> {
        let Some(identity) = self.identity.clone() else {
            return Err(tls_error(
                "client certificates",
                "a configuration from rustls sets its own client verifier",
            ));
        };
        let mut roots = rustls::RootCertStore::empty();
        for cert in CertificateDer::pem_slice_iter(ca_pem) {
            let cert = cert.map_err(|e| tls_error("client CA certificates", e))?;
            roots
                .add(cert)
                .map_err(|e| tls_error("client CA certificates", e))?;
        }
        if roots.is_empty() {
            return Err(tls_error(
                "client CA certificates",
                "no CERTIFICATE in the PEM text",
            ));
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
            Arc::new(roots),
            provider.clone(),
        )
        .allow_unauthenticated()
        .build()
        .map_err(|e| tls_error("client CA certificates", e))?;
        let (certs, key) = &*identity;
        let config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| tls_error("protocol versions", e))?
            .with_client_cert_verifier(verifier)
            .with_single_cert(certs.clone(), key.clone_key())
            .map_err(|e| tls_error("certificate and key", e))?;
        Ok(ServerTls {
            config: Arc::new(config),
            identity: Some(identity),
        })
    }

    /// From PEM files: the certificate chain and the private key.
    pub fn from_pem_files(
        cert_chain: impl AsRef<Path>,
        key: impl AsRef<Path>,
    ) -> Result<ServerTls, RouterError> {
        let read = |path: &Path| {
            std::fs::read(path).map_err(|e| tls_error(&path.display().to_string(), e))
        };
        ServerTls::from_pem(&read(cert_chain.as_ref())?, &read(key.as_ref())?)
    }

    /// From a rustls configuration built by the application (client certificates,
    /// ALPN, a certificate resolver, ...).
    pub fn from_rustls(config: Arc<ServerConfig>) -> ServerTls {
        ServerTls {
            config,
            identity: None,
        }
    }

    /// The TLS handshake on an accepted stream; also the channel binding data
    /// (`tls-exporter`, RFC 9266) for cryptosign and WAMP-SCRAM clients that bind their
    /// authentication to this TLS session, and the SHA-1 fingerprint of the client's
    /// verified certificate, if it sent one (hex; the router compares it with the
    /// principals' whatever their case and colons).
    pub(crate) async fn accept(
        &self,
        stream: BoxStream,
    ) -> std::io::Result<(BoxStream, Option<ChannelBinding>, Option<String>)> {
        let tls = TlsAcceptor::from(self.config.clone())
            .accept(stream)
            .await?;
        let (_, session) = tls.get_ref();
        // RFC 9266 defines `tls-exporter` for TLS 1.3 only.
        let binding = if session.protocol_version() == Some(ProtocolVersion::TLSv1_3) {
            session
                .export_keying_material([0u8; 32], b"EXPORTER-Channel-Binding", None)
                .ok()
                .map(|data| ChannelBinding {
                    kind: ChannelBindingKind::TlsExporter,
                    data,
                })
        } else {
            None
        };
        let client_cert = session
            .peer_certificates()
            .and_then(|chain| chain.first())
            .map(|cert| fingerprint(cert.as_ref()));
        Ok((Box::new(tls), binding, client_cert))
    }
}

/// A certificate's SHA-1 fingerprint, upper-case hex.
pub(crate) fn fingerprint(der: &[u8]) -> String {
    use sha1::Digest as _;
    hex::encode_upper(sha1::Sha1::digest(der))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_pem_is_a_tls_error() {
        let err = ServerTls::from_pem(b"not pem", b"not pem").expect_err("refused");
        assert!(matches!(err, RouterError::Tls { .. }), "{err}");
        let err = ServerTls::from_pem_files("/nonexistent/cert.pem", "/nonexistent/key.pem")
            .expect_err("no files");
        assert!(err.to_string().contains("/nonexistent/cert.pem"), "{err}");
    }
}
