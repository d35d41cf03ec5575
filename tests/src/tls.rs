//! A throwaway PKI for the router's TLS transports: a CA and a server certificate it
//! signs for `localhost` and `127.0.0.1`.
//!
//! A separate CA (rather than one self-signed server certificate) keeps every client
//! happy: webpki (rustls) refuses an end-entity certificate as its own trust anchor,
//! OpenSSL accepts either.

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};

use crate::error::Result;

/// The DNS name in the server certificate (besides the IP address 127.0.0.1).
pub const TLS_SERVER_NAME: &str = "localhost";

/// PEM texts of a fresh CA and server certificate (for Crossbar's TLS transports, and
/// for tests that run a router of their own).
#[derive(Debug, Clone)]
pub struct TestPki {
    /// The CA certificate clients trust.
    pub ca_pem: String,
    /// The server certificate, signed by the CA.
    pub cert_pem: String,
    /// The server certificate's private key (PKCS#8).
    pub key_pem: String,
}

impl TestPki {
    /// Generates a CA and a server certificate (ECDSA P-256).
    pub fn generate() -> Result<Self> {
        let ca_key = KeyPair::generate()?;
        let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "wamp-rs integration test CA");
        ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca_cert = ca_params.self_signed(&ca_key)?;
        let issuer = Issuer::new(ca_params, ca_key);

        let key = KeyPair::generate()?;
        let mut params =
            CertificateParams::new(vec![TLS_SERVER_NAME.to_owned(), "127.0.0.1".to_owned()])?;
        params
            .distinguished_name
            .push(DnType::CommonName, TLS_SERVER_NAME);
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.use_authority_key_identifier_extension = true;
        let cert = params.signed_by(&key, &issuer)?;

        Ok(Self {
            ca_pem: ca_cert.pem(),
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        })
    }
}
