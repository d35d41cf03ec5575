//! The `tls` authentication method: a listener that asks for client certificates
//! (`ServerTls::client_certificates`) names the principal by the SHA-1 fingerprint of
//! the certificate the client presented, as Crossbar.io's `tls` authentication does. A
//! client with a certificate the CA signed joins as its principal; one without a
//! certificate, or with one no principal has, is refused; other methods still work on
//! the same listener. Real TLS over 127.0.0.1, on Tokio.

mod common;

use std::sync::Arc;

use common::{bounded, on_tokio};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use wamp_tokio::rustls::{self, pki_types::pem::PemObject};
use wamp_tokio::wamp_router::{
    AuthConfig, Permission, RealmConfig, RoleConfig, RouterConfig, TlsPrincipal,
};
use wamp_tokio::wamp_runtime::{Auth, JoinConfig, TransportConfig};
use wamp_tokio::{ListenerConfig, Router, ServerTls};

struct Pki {
    ca: String,
    server: (String, String),
    client: (String, String),
    client_der: Vec<u8>,
}

fn pki() -> Pki {
    let ca_key = KeyPair::generate().expect("a key");
    let mut ca = CertificateParams::new(Vec::<String>::new()).expect("params");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name.push(DnType::CommonName, "test CA");
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign];
    let ca_cert = ca.self_signed(&ca_key).expect("a CA");
    let issuer = Issuer::new(ca, ca_key);
    let leaf = |names: Vec<String>, usage: ExtendedKeyUsagePurpose| {
        let key = KeyPair::generate().expect("a key");
        let mut params = CertificateParams::new(names).expect("params");
        params.distinguished_name.push(DnType::CommonName, "leaf");
        params.extended_key_usages = vec![usage];
        let cert = params.signed_by(&key, &issuer).expect("signed");
        (cert.pem(), key.serialize_pem(), cert.der().to_vec())
    };
    let server = leaf(
        vec!["127.0.0.1".into()],
        ExtendedKeyUsagePurpose::ServerAuth,
    );
    let client = leaf(Vec::new(), ExtendedKeyUsagePurpose::ClientAuth);
    Pki {
        ca: ca_cert.pem(),
        server: (server.0, server.1),
        client: (client.0, client.1),
        client_der: client.2,
    }
}

/// A rustls client configuration trusting `ca`, presenting `identity` if given.
fn client_tls(ca: &str, identity: Option<&(String, String)>) -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls::pki_types::CertificateDer::pem_slice_iter(ca.as_bytes()) {
        roots.add(cert.expect("a certificate")).expect("a root");
    }
    let builder = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("versions")
    .with_root_certificates(roots);
    let config = match identity {
        Some((cert, key)) => {
            let chain = rustls::pki_types::CertificateDer::pem_slice_iter(cert.as_bytes())
                .collect::<Result<Vec<_>, _>>()
                .expect("a chain");
            let key =
                rustls::pki_types::PrivateKeyDer::from_pem_slice(key.as_bytes()).expect("a key");
            builder
                .with_client_auth_cert(chain, key)
                .expect("an identity")
        }
        None => builder.with_no_client_auth(),
    };
    Arc::new(config)
}

fn sha1_hex(der: &[u8]) -> String {
    use sha1::Digest as _;
    sha1::Sha1::digest(der)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[test]
fn a_client_certificate_names_the_principal() {
    on_tokio(|rt| async move {
        let pki = pki();
        let realm = RealmConfig::new("realm1")
            .expect("a valid URI")
            .role(RoleConfig::new("device").permit(Permission::everything()));
        let mut auth = AuthConfig::new().ticket("joe", "device", "t");
        auth.tls.push(TlsPrincipal {
            authid: "device-7".into(),
            role: "device".into(),
            // Lower case and without colons: compared as hex digits.
            certificate_sha1: sha1_hex(&pki.client_der),
            realm: None,
        });
        let tls = ServerTls::from_pem(pki.server.0.as_bytes(), pki.server.1.as_bytes())
            .and_then(|t| t.client_certificates(pki.ca.as_bytes()))
            .expect("server TLS");
        let router = Router::builder(RouterConfig::new().realm(realm).transport_auth("tls", auth))
            .listen({
                let mut listener = ListenerConfig::websocket("127.0.0.1:0", "/ws")
                    .tls(tls)
                    .auth("tls");
                // A listen queue of its own (bound through `bind_std_tcp`).
                listener.backlog = Some(16);
                listener
            })
            .start()
            .await
            .expect("the router starts");
        let url = router.listeners()[0].url().expect("a URL");
        let transport = |identity| {
            TransportConfig::new(&url)
                .expect("a URL")
                .tls_config(client_tls(&pki.ca, identity))
        };
        let tls_auth = JoinConfig::new("realm1").auth(Auth::Tls { authid: None });
        let connect = |t: TransportConfig, j: JoinConfig| {
            let rt = rt.clone();
            async move {
                bounded(
                    &rt,
                    "connect",
                    wamp_tokio::wamp_runtime::connect(&rt, &t, &j),
                )
                .await
            }
        };
        let session = connect(transport(Some(&pki.client)), tls_auth.clone())
            .await
            .expect("the certificate's principal joins");
        assert_eq!(session.details().authid.as_deref(), Some("device-7"));
        assert_eq!(session.details().authmethod.as_deref(), Some("tls"));
        // No certificate: refused, with the reason.
        let err = connect(transport(None), tls_auth.clone())
            .await
            .expect_err("refused");
        assert!(
            err.to_string().contains("no TLS client certificate"),
            "{err}"
        );
        // Another method on the same listener, without a certificate.
        let joe = JoinConfig::new("realm1").auth(Auth::ticket("joe", "t"));
        let session = connect(transport(None), joe)
            .await
            .expect("a ticket still works");
        assert_eq!(session.details().authid.as_deref(), Some("joe"));
        router.shutdown().await;
    });
}
