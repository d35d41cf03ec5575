// RFC 7677 section 3 (SCRAM-SHA-256), the vector the WAMP-SCRAM spec points to, and the
// client, CHALLENGE and router-side values that drive it. Included (not a module) by the
// unit tests in `scram.rs` and by `tests/auth_vectors.rs`; each brings `scram`, `Scram`,
// `Dict`, `B64`, `ChannelBindingKind` and `FixedRng` into scope, as the crate and its users
// spell them apart.

const RFC_CLIENT_NONCE: &str = "rOprNGfwEbeRWgbNEkqO";
const RFC_NONCE: &str = "rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";
const RFC_SALT: &str = "W22ZaJ0SNY7soEsUEjb6gQ==";
const RFC_PROOF: &str = "dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
const RFC_SERVER_SIGNATURE: &str = "6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=";

/// The RFC's client: `user` with `pencil`, drawing a 15-byte nonce.
fn rfc7677_client() -> Scram {
    Scram::new("user", "pencil")
        .expect("saslprep")
        .with_nonce_len(15)
}

/// An RNG that hands out exactly the RFC's client nonce (the base64 of 15 bytes).
fn rfc7677_rng() -> FixedRng {
    FixedRng(B64.decode(RFC_CLIENT_NONCE).expect("b64").into())
}

/// The RFC's server-first message as a WAMP-SCRAM CHALLENGE: PBKDF2, 4096 iterations.
fn rfc7677_challenge() -> Dict {
    Dict::new()
        .with("nonce", RFC_NONCE)
        .with("salt", RFC_SALT)
        .with("kdf", "pbkdf2")
        .with("iterations", 4096u32)
}

/// The router's stored credential for `pencil` under the RFC's salt.
fn rfc7677_credential() -> scram::StoredCredential {
    scram::derive_credential(
        "pencil",
        &B64.decode(RFC_SALT).expect("b64"),
        scram::Kdf::Pbkdf2 { iterations: 4096 },
    )
    .expect("credential")
}

/// The RFC's AuthMessage, as both sides build it (no channel binding).
fn rfc7677_auth_message() -> String {
    scram::AuthMessageParts {
        authid: "user",
        client_nonce: RFC_CLIENT_NONCE,
        nonce: RFC_NONCE,
        salt: RFC_SALT,
        iterations: 4096,
        channel_binding: None,
    }
    .auth_message()
}

/// The AuthMessage of a round trip against `cred` (salt from the credential), for the
/// client `authid` and the `(client, full)` nonces.
fn auth_message_with(
    cred: &scram::StoredCredential,
    authid: &str,
    (client_nonce, nonce): (&str, &str),
    iterations: u32,
    channel_binding: Option<(ChannelBindingKind, &[u8])>,
) -> String {
    scram::AuthMessageParts {
        authid,
        client_nonce,
        nonce,
        salt: &cred.salt_base64(),
        iterations,
        channel_binding,
    }
    .auth_message()
}
