//! TLS over any byte stream with rustls (ring provider), through `futures-rustls`, so
//! it works the same on every runtime.

use std::sync::{Arc, OnceLock};

use futures_rustls::pki_types::pem::PemObject;
use futures_rustls::pki_types::{CertificateDer, ServerName};
use futures_rustls::rustls::{self, ClientConfig, RootCertStore};
use futures_rustls::TlsConnector;

use crate::error::ConnectError;
use crate::runtime::BoxStream;
use crate::transport::{TlsOptions, TlsRoots};

/// Wraps `stream` in TLS, verifying the certificate against `host` (or the configured
/// server name).
pub(crate) async fn connect(
    stream: BoxStream,
    host: &str,
    options: &TlsOptions,
) -> Result<BoxStream, ConnectError> {
    let config = client_config(&options.roots)?;
    let name = options.server_name.as_deref().unwrap_or(host);
    let server_name = ServerName::try_from(name.to_owned())
        .map_err(|e| ConnectError::Config(format!("TLS server name {name:?}: {e}")))?;
    let tls = TlsConnector::from(config)
        .connect(server_name, stream)
        .await
        .map_err(tls_handshake_error)?;
    Ok(Box::new(tls))
}

/// The handshake's `io::Error` carries the `rustls` error inside when TLS itself failed
/// (an untrusted certificate, a wrong name): that is the error to keep.
fn tls_handshake_error(e: std::io::Error) -> ConnectError {
    match e.downcast::<rustls::Error>() {
        Ok(tls) => ConnectError::Tls(Box::new(tls)),
        Err(io) => ConnectError::Tls(Box::new(io)),
    }
}

fn client_config(roots: &TlsRoots) -> Result<Arc<ClientConfig>, ConnectError> {
    match roots {
        TlsRoots::Rustls(config) => Ok(config.clone()),
        TlsRoots::Pem(pem) => {
            let mut store = RootCertStore::empty();
            for cert in CertificateDer::pem_slice_iter(pem) {
                let cert = cert.map_err(|e| ConnectError::Config(format!("TLS roots: {e}")))?;
                store
                    .add(cert)
                    .map_err(|e| ConnectError::Config(format!("TLS roots: {e}")))?;
            }
            if store.is_empty() {
                return Err(ConnectError::Config(
                    "TLS roots: no CERTIFICATE in the PEM text".into(),
                ));
            }
            build(store)
        }
        TlsRoots::Native => {
            // Reading the system store costs milliseconds and file I/O: once per process
            // is enough, also for a component that reconnects.
            static NATIVE: OnceLock<Result<Arc<ClientConfig>, String>> = OnceLock::new();
            NATIVE
                .get_or_init(|| {
                    let loaded = rustls_native_certs::load_native_certs();
                    let mut store = RootCertStore::empty();
                    let (added, _ignored) = store.add_parsable_certificates(loaded.certs);
                    if added == 0 {
                        let why = loaded
                            .errors
                            .first()
                            .map_or_else(|| "none found".to_owned(), ToString::to_string);
                        return Err(format!("no usable system TLS roots: {why}"));
                    }
                    build(store).map_err(|e| e.to_string())
                })
                .clone()
                .map_err(|why| ConnectError::Tls(why.into()))
        }
    }
}

fn build(store: RootCertStore) -> Result<Arc<ClientConfig>, ConnectError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ConnectError::Tls(Box::new(e)))?
        .with_root_certificates(store)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pem_roots_must_hold_certificates() {
        let err = client_config(&TlsRoots::Pem(b"not pem".to_vec())).expect_err("empty");
        assert!(matches!(err, ConnectError::Config(_)), "{err}");
    }
}
