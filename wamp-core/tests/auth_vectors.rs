//! Published test vectors for the authentication methods, driven through the public API.
//!
//! Sources: Autobahn|Python `test_wamp_auth.py` (WAMP-CRA), the WAMP spec's
//! `authentication_cryptosign.md` (`test_vectors_1` and the example exchanges), RFC 7677
//! section 3 (SCRAM-SHA-256, which the WAMP-SCRAM spec points to).

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use wamp_proto::auth::scram::{self, Kdf, KdfLimits};
use wamp_proto::auth::{
    cryptosign, wampcra, AuthError, ChannelBinding, ChannelBindingKind, ClientAuthenticator,
    Cryptosign, Scram, WampCra,
};
use wamp_proto::{Dict, Value};

#[path = "../src/auth/fixed_rng.rs"]
mod fixed_rng;
use fixed_rng::FixedRng;

fn hex32(s: &str) -> [u8; 32] {
    let mut out = [0u8; 32];
    hex::decode_to_slice(s, &mut out).expect("32 hex bytes");
    out
}

// ---------------------------------------------------------------- WAMP-CRA

#[test]
fn wampcra_derive_key() {
    assert_eq!(
        wampcra::derive_key("L3L1YUE8Txlw", "salt123", 1000, 32),
        "qzcdsr9uu/L5hnss3kjNTRe490ETgA70ZBaB5rvnJ5Y="
    );
}

#[test]
fn wampcra_compute_wcs() {
    // json.dumps([1, 2, 3]) == "[1, 2, 3]"
    assert_eq!(
        wampcra::sign(b"L3L1YUE8Txlw", "[1, 2, 3]"),
        "1njQtmmeYO41N5EWEzD2kAjjEKRZ5kPZt/TzpYXOzR0="
    );
    let mut cra = WampCra::new("peter", "L3L1YUE8Txlw");
    let auth = cra
        .authenticate(&Dict::new().with("challenge", "[1, 2, 3]"), None)
        .expect("unsalted");
    assert_eq!(
        auth.signature,
        "1njQtmmeYO41N5EWEzD2kAjjEKRZ5kPZt/TzpYXOzR0="
    );
}

#[test]
fn wampcra_salted_self_check() {
    let key = wampcra::derive_key("L3L1YUE8Txlw", "salt123", 1000, 32);
    assert_eq!(
        wampcra::sign(key.as_bytes(), "[1, 2, 3]"),
        "c3pCfyceJEbMIYZ/MRvn3RbPu4aqaQ/IeiCmHKfGMx4="
    );
    let mut cra = WampCra::new("peter", "L3L1YUE8Txlw");
    let challenge = Dict::new()
        .with("challenge", "[1, 2, 3]")
        .with("salt", "salt123")
        .with("iterations", 1000u32)
        .with("keylen", 32u32);
    let auth = cra.authenticate(&challenge, None).expect("salted");
    assert_eq!(
        auth.signature,
        "c3pCfyceJEbMIYZ/MRvn3RbPu4aqaQ/IeiCmHKfGMx4="
    );
    assert_eq!(
        wampcra::verify(key.as_bytes(), "[1, 2, 3]", &auth.signature),
        Ok(())
    );
}

// ---------------------------------------------------------------- Cryptosign

const CHANNEL_ID: &str = "62e935ae755f3d48f80d4d59f6121358c435722a67e859cc0caa8b539027f2ff";

/// `test_vectors_1` from the spec: (channel_id, private_key, challenge, signature).
const CRYPTOSIGN_VECTORS: [(Option<&str>, &str, &str, &str); 6] = [
    (
        None,
        "4d57d97a68f555696620a6d849c0ce582568518d729eb753dc7c732de2804510",
        "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
        "b32675b221f08593213737bef8240e7c15228b07028e19595294678c90d11c0cae80a357331bfc5cc9fb71081464e6e75013517c2cf067ad566a6b7b728e5d03ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
    ),
    (
        None,
        "d511fe78e23934b3dadb52fcd022974b80bd92bccc7c5cf404e46cc0a8a2f5cd",
        "b26c1f87c13fc1da14997f1b5a71995dff8fbe0a62fae8473c7bdbd05bfb607d",
        "d4209ad10d5aff6bfbc009d7e924795de138a63515efc7afc6b01b7fe5201372190374886a70207b042294af5bd64ce725cd8dceb344e6d11c09d1aaaf4d660fb26c1f87c13fc1da14997f1b5a71995dff8fbe0a62fae8473c7bdbd05bfb607d",
    ),
    (
        None,
        "6e1fde9cf9e2359a87420b65a87dc0c66136e66945196ba2475990d8a0c3a25b",
        "b05e6b8ad4d69abf74aa3be3c0ee40ae07d66e1895b9ab09285a2f1192d562d2",
        "7beb282184baadd08f166f16dd683b39cab53816ed81e6955def951cb2ddad1ec184e206746fd82bda075af03711d3d5658fc84a76196b0fa8d1ebc92ef9f30bb05e6b8ad4d69abf74aa3be3c0ee40ae07d66e1895b9ab09285a2f1192d562d2",
    ),
    (
        Some(CHANNEL_ID),
        "4d57d97a68f555696620a6d849c0ce582568518d729eb753dc7c732de2804510",
        "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
        "9b6f41540c9b95b4b7b281c3042fa9c54cef43c842d62ea3fd6030fcb66e70b3e80d49d44c29d1635da9348d02ec93f3ed1ef227dfb59a07b580095c2b82f80f9d16ca518aa0c2b707f2b2a609edeca73bca8dd59817a633f35574ac6fd80d00",
    ),
    (
        Some(CHANNEL_ID),
        "d511fe78e23934b3dadb52fcd022974b80bd92bccc7c5cf404e46cc0a8a2f5cd",
        "b26c1f87c13fc1da14997f1b5a71995dff8fbe0a62fae8473c7bdbd05bfb607d",
        "305aaa3ac25e98f651427688b3fc43fe7d8a68a7ec1d7d61c61517c519bd4a427c3015599d83ca28b4c652333920223844ef0725eb5dc2febfd6af7677b73f01d0852a29b460fc92ec943242ac638a053bbacc200512b18b30d15083cbdc9282",
    ),
    (
        Some(CHANNEL_ID),
        "6e1fde9cf9e2359a87420b65a87dc0c66136e66945196ba2475990d8a0c3a25b",
        "b05e6b8ad4d69abf74aa3be3c0ee40ae07d66e1895b9ab09285a2f1192d562d2",
        "ee3c7644fd8070532bc1fde3d70d742267da545d8c8f03e63bda63f1ad4214f4d2c4bfdb4eb9526def42deeb7e31602a6ff99eba893e0a4ad4d45892ca75e608d2b75e24a189a7f78ca776ba36fc53f6c3e31c32f251f2c524f0a44202f2902d",
    ),
];

#[test]
fn cryptosign_test_vectors_1() {
    for (i, (channel_id, key, challenge, expected)) in CRYPTOSIGN_VECTORS.iter().enumerate() {
        let mut client = Cryptosign::from_hex(None, key).expect("seed");
        let channel = channel_id.map(|c| ChannelBinding {
            kind: ChannelBindingKind::TlsUnique,
            data: hex32(c),
        });
        let mut extra = Dict::new().with("challenge", *challenge);
        if channel.is_some() {
            client = client.with_channel_binding(ChannelBindingKind::TlsUnique);
            extra.insert("channel_binding", "tls-unique");
        }
        let auth = client
            .authenticate(&extra, channel.as_ref())
            .unwrap_or_else(|e| panic!("vector {i}: {e}"));
        assert_eq!(auth.signature, *expected, "vector {i}");
        assert_eq!(auth.signature.len(), 192);
        assert_eq!(
            cryptosign::verify(
                client.public_key(),
                &hex32(challenge),
                channel.as_ref(),
                expected
            ),
            Ok(()),
            "vector {i}"
        );
    }
}

#[test]
fn cryptosign_spec_example_exchange() {
    // "Example Message Flow": HELLO pubkey, CHALLENGE, AUTHENTICATE (no channel binding).
    let pubkey = hex32("545efb0a2192db8d43f118e9bf9aee081466e1ef36c708b96ee6f62dddad9122");
    let challenge = hex32("fa034062ad76352b53a25358854577730db82f367aa439709c91296d04a5716c");
    let signature = "e2f0297a193b63b7a4a92028e9e2e6107f82730560d54a657bd982cb4b3151490399debbbde998e494d3c3b2a5e2e91271291e10dee85a6cfaa127885ddd8b0afa034062ad76352b53a25358854577730db82f367aa439709c91296d04a5716c";
    assert_eq!(
        cryptosign::verify(pubkey, &challenge, None, signature),
        Ok(())
    );
    let mut tampered = challenge;
    tampered[0] ^= 1;
    assert!(cryptosign::verify(pubkey, &tampered, None, signature).is_err());
}

#[test]
fn cryptosign_spec_router_authentication_example() {
    // "Router Authentication": the router signs the client's HELLO challenge.
    let router_pubkey = hex32("4a3838f6fe75251e613329d53fc69b262d5eac97fb1d73bebbaed4015b53c862");
    let client_challenge =
        hex32("bbae60ea44cdd7b20dc7010a618b0f0803fab25a817520b4b7f057299b524deb");
    let signature = "fd5128d2d207ba58a9d1d6f41b72c747964ad9d1294077b3b1eee6130b05843ab12c53c7f2519f73d4feb82db19d8ca0fc26b62bde6518e79a882f5795bc9f00bbae60ea44cdd7b20dc7010a618b0f0803fab25a817520b4b7f057299b524deb";
    assert_eq!(
        cryptosign::verify(router_pubkey, &client_challenge, None, signature),
        Ok(())
    );
}

#[test]
fn cryptosign_channel_binding_mismatch_is_refused() {
    let mut client = Cryptosign::from_hex(None, CRYPTOSIGN_VECTORS[0].1)
        .expect("seed")
        .with_channel_binding(ChannelBindingKind::TlsUnique);
    let channel = ChannelBinding {
        kind: ChannelBindingKind::TlsUnique,
        data: hex32(CHANNEL_ID),
    };
    let dropped = Dict::new().with("challenge", "ff".repeat(32));
    let err = client
        .authenticate(&dropped, Some(&channel))
        .expect_err("dropped binding");
    assert!(
        matches!(err, AuthError::ChannelBindingMismatch { .. }),
        "{err}"
    );
    let other = dropped.with("channel_binding", "tls-exporter");
    let err = client
        .authenticate(&other, Some(&channel))
        .expect_err("other binding");
    assert!(
        err.to_string().contains("requested tls-unique")
            && err.to_string().contains("tls-exporter"),
        "{err}"
    );
}

// ---------------------------------------------------------------- WAMP-SCRAM

// RFC_* constants and rfc7677_* fixtures, shared with the unit tests in src/auth/scram.rs.
include!("../src/auth/rfc7677.rs");

#[test]
fn scram_rfc7677_vector() {
    // The RFC's client nonce is the base64 of 15 bytes; feed exactly those.
    let mut rng = rfc7677_rng();
    let mut client = rfc7677_client();
    assert_eq!(client.method(), "wamp-scram");
    let hello = client.hello_extra(&mut rng);
    assert_eq!(
        hello.get("nonce").and_then(Value::as_str),
        Some(RFC_CLIENT_NONCE)
    );

    let challenge = rfc7677_challenge().with("memory", Value::Null);
    let auth = client.authenticate(&challenge, None).expect("authenticate");
    assert_eq!(auth.signature, RFC_PROOF);

    let welcome = Dict::new()
        .with_authextra([("verifier".to_owned(), Value::from(RFC_SERVER_SIGNATURE))].into());
    assert_eq!(client.verify_welcome(&welcome), Ok(()));

    // Server side, from the stored credential alone.
    let cred = rfc7677_credential();
    let msg = rfc7677_auth_message();
    assert_eq!(
        scram::verify_client_proof(&cred.stored_key, &msg, RFC_PROOF),
        Ok(())
    );
    assert_eq!(
        scram::server_signature(&cred.server_key, &msg),
        RFC_SERVER_SIGNATURE
    );
}

#[test]
fn scram_wrong_verifier_is_refused() {
    let mut client = rfc7677_client();
    client.hello_extra(&mut rfc7677_rng());
    client
        .authenticate(&rfc7677_challenge(), None)
        .expect("authenticate");
    let welcome = Dict::new().with_authextra(
        [(
            "verifier".to_owned(),
            Value::from("v=7rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="),
        )]
        .into(),
    );
    assert_eq!(
        client.verify_welcome(&welcome),
        Err(AuthError::ServerSignatureMismatch)
    );
}

#[test]
fn scram_argon2id13_round_trip() {
    let limits = KdfLimits {
        min_argon2_memory: 8,
        ..KdfLimits::default()
    };
    let kdf = Kdf::Argon2id13 {
        iterations: 2,
        memory: 32,
    };
    let salt = *b"0123456789abcdef";
    let cred = scram::derive_credential("correct horse", &salt, kdf).expect("credential");

    let mut client = Scram::new("alice", "correct horse")
        .expect("saslprep")
        .with_limits(limits);
    let mut rng = FixedRng((1u8..=16).collect());
    let hello = client.hello_extra(&mut rng);
    let client_nonce = hello
        .get("nonce")
        .and_then(Value::as_str)
        .expect("nonce")
        .to_owned();
    assert_eq!(client_nonce, B64.encode((1u8..=16).collect::<Vec<_>>()));
    let nonce = format!("{client_nonce}{}", B64.encode([0xAB; 16]));
    let challenge = cred.challenge_extra(&nonce);
    assert_eq!(challenge.get("kdf"), Some(&Value::from("argon2id13")));
    let auth = client.authenticate(&challenge, None).expect("authenticate");

    let msg = auth_message_with(&cred, "alice", (&client_nonce, &nonce), 2, None);
    assert_eq!(
        scram::verify_client_proof(&cred.stored_key, &msg, &auth.signature),
        Ok(())
    );
    let wrong = scram::derive_credential("wrong horse", &salt, kdf).expect("credential");
    assert!(scram::verify_client_proof(&wrong.stored_key, &msg, &auth.signature).is_err());

    let verifier = format!("v={}", scram::server_signature(&cred.server_key, &msg));
    let welcome =
        Dict::new().with_authextra([("verifier".to_owned(), Value::from(verifier))].into());
    assert_eq!(client.verify_welcome(&welcome), Ok(()));

    // With the default floor (1 MiB), 32 KiB is refused as suspiciously cheap.
    let mut strict = Scram::new("alice", "correct horse").expect("saslprep");
    strict.hello_extra(&mut FixedRng((1u8..=16).collect()));
    let err = strict
        .authenticate(&challenge, None)
        .expect_err("too cheap");
    assert!(
        matches!(
            err,
            AuthError::KdfCostTooLow {
                param: "memory",
                ..
            }
        ),
        "{err}"
    );
}

/// The spec's WAMP-SCRAM example (nonce `egVDf3DMJh0=SBmkFIh7sSo=`, salt `aBc+fx0NAVA=`,
/// 4096 PBKDF2 iterations) gives no password, and its AUTHENTICATE signature and WELCOME
/// verifier are RFC 7677's values, copied across: they cannot come from the example's own
/// nonce and salt. With RFC 7677's password they do not verify, which this test records.
#[test]
fn scram_spec_example_is_not_self_consistent() {
    let mut rng = FixedRng(B64.decode("egVDf3DMJh0=").expect("b64").into());
    let mut client = Scram::new("user", "pencil")
        .expect("saslprep")
        .with_nonce_len(8);
    let hello = client.hello_extra(&mut rng);
    assert_eq!(
        hello.get("nonce").and_then(Value::as_str),
        Some("egVDf3DMJh0=")
    );
    let challenge = Dict::new()
        .with("nonce", "egVDf3DMJh0=SBmkFIh7sSo=")
        .with("salt", "aBc+fx0NAVA=")
        .with("kdf", "pbkdf2")
        .with("iterations", 4096u32)
        .with("memory", Value::Null);
    let auth = client.authenticate(&challenge, None).expect("authenticate");
    assert_ne!(auth.signature, RFC_PROOF);
}
