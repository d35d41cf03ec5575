//! `wamp-scram`: WAMP-SCRAM as in the WAMP spec (RFC 5802/7677 SCRAM-SHA-256 carried in
//! HELLO/CHALLENGE/AUTHENTICATE/WELCOME), with Argon2id or PBKDF2 as the key derivation
//! function. This is the spec's `wamp-scram`, not Autobahn's earlier `scram` prototype,
//! whose strings and derivations differ.
//!
//! ```text
//! SaltedPassword     = KDF(SASLprep(password), UnBase64(salt), params)    32 bytes
//! ClientKey          = HMAC(SaltedPassword, "Client Key");  StoredKey = SHA256(ClientKey)
//! ServerKey          = HMAC(SaltedPassword, "Server Key")
//! ClientFirstBare    = "n=" + Escape(authid) + ",r=" + client nonce
//! ServerFirst        = "r=" + nonce + ",s=" + salt + ",i=" + iterations
//! ClientFinalNoProof = "c=" + Base64(gs2 header [+ cbind data]) + ",r=" + nonce
//! AuthMessage        = ClientFirstBare + "," + ServerFirst + "," + ClientFinalNoProof
//! ClientProof        = ClientKey XOR HMAC(StoredKey, AuthMessage)      (AUTHENTICATE)
//! ServerSignature    = HMAC(ServerKey, AuthMessage)            (WELCOME authextra.verifier)
//! ```
//!
//! Decisions where the spec leaves room:
//! - The salt is base64-decoded before it goes into the KDF (as RFC 5802 does, and as its
//!   test vectors require).
//! - `authextra.verifier` is accepted both as plain base64 (the prose) and with a `v=`
//!   prefix (the spec's example); a missing or wrong verifier is refused.
//! - The client refuses cost parameters outside [`KdfLimits`]: "suspiciously low" ones (a
//!   rogue router fishing for a cheap hash) and ones so high they would exhaust the client.
//! - With channel binding the gs2 header is `p=<type>,,` followed by the raw binding data,
//!   and `cbind_data` is the base64 of that data.
//! - The authid and password are normalized with SASLprep; the normalized authid is the
//!   one sent in HELLO, so both sides build the same `ClientFirstBare`.

use std::fmt;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, Zeroizing};

use crate::dict::Dict;
use crate::message::Authenticate;
use crate::value::{Map, Value};

use super::{
    binding_data, check_binding_echo, req_str, req_u64, AuthError, ChannelBinding,
    ChannelBindingKind, ClientAuthenticator,
};

const METHOD: &str = "wamp-scram";

/// The default client nonce length in bytes (the spec recommends 16).
pub const DEFAULT_NONCE_LEN: usize = 16;
/// The shortest client nonce [`Scram::with_nonce_len`] allows.
pub const MIN_NONCE_LEN: usize = 8;

type HmacSha256 = Hmac<Sha256>;

/// A 32-byte key that is wiped on drop.
pub(crate) type Key = Zeroizing<[u8; 32]>;

/// A WAMP-SCRAM key derivation function and its cost parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kdf {
    /// `argon2id13`: Argon2id version 1.3, parallelism 1, 32-byte output.
    Argon2id13 {
        /// Time cost `t` (the CHALLENGE's `iterations`).
        iterations: u32,
        /// Memory cost `m` in KiB (the CHALLENGE's `memory`).
        memory: u32,
    },
    /// `pbkdf2`: PBKDF2-HMAC-SHA256 with a 32-byte output.
    Pbkdf2 {
        /// The iteration count.
        iterations: u32,
    },
}

impl Kdf {
    /// The `kdf` string on the wire.
    pub const fn name(&self) -> &'static str {
        match self {
            Kdf::Argon2id13 { .. } => "argon2id13",
            Kdf::Pbkdf2 { .. } => "pbkdf2",
        }
    }

    /// The `iterations` parameter.
    pub const fn iterations(&self) -> u32 {
        match *self {
            Kdf::Argon2id13 { iterations, .. } | Kdf::Pbkdf2 { iterations } => iterations,
        }
    }

    /// The `memory` parameter (Argon2 only).
    pub const fn memory(&self) -> Option<u32> {
        match *self {
            Kdf::Argon2id13 { memory, .. } => Some(memory),
            Kdf::Pbkdf2 { .. } => None,
        }
    }

    /// Computes `SaltedPassword` from an already normalized password and the raw
    /// (base64-decoded) salt.
    fn salted_password(&self, password: &[u8], salt: &[u8]) -> Result<Key, AuthError> {
        let mut out = Zeroizing::new([0u8; 32]);
        match *self {
            Kdf::Pbkdf2 { iterations } => {
                if iterations == 0 {
                    return Err(kdf_error(METHOD, "iterations must be at least 1"));
                }
                pbkdf2::pbkdf2_hmac::<Sha256>(password, salt, iterations, &mut *out);
            }
            Kdf::Argon2id13 { iterations, memory } => {
                out = argon2id13(METHOD, password, salt, iterations, memory)?;
            }
        }
        Ok(out)
    }
}

/// Argon2id version 1.3 with parallelism 1 and a 32-byte output; the work memory is wiped
/// afterwards. Shared with Autobahn's `scram` ([`super::scram_autobahn`]), which only
/// encodes the result differently.
pub(crate) fn argon2id13(
    method: &'static str,
    password: &[u8],
    salt: &[u8],
    iterations: u32,
    memory: u32,
) -> Result<Key, AuthError> {
    let mut out = Zeroizing::new([0u8; 32]);
    argon2id_into(method, password, salt, (iterations, memory, 1), &mut *out)?;
    Ok(out)
}

/// Argon2id v1.3 of `password` with `salt` and `(iterations, memory in KiB, lanes)`,
/// filling `out` (whose length is the hash length).
pub(crate) fn argon2id_into(
    method: &'static str,
    password: &[u8],
    salt: &[u8],
    (iterations, memory, lanes): (u32, u32, u32),
    out: &mut [u8],
) -> Result<(), AuthError> {
    let params = argon2::Params::new(memory, iterations, lanes, Some(out.len()))
        .map_err(|e| kdf_error(method, e.to_string()))?;
    let argon = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
    // The workspace builds argon2 without `alloc`, so the blocks come from here.
    let mut blocks = vec![argon2::Block::new(); argon.params().block_count()];
    let result = argon.hash_password_into_with_memory(password, salt, out, &mut blocks);
    for block in &mut blocks {
        block.zeroize();
    }
    result.map_err(|e| kdf_error(method, e.to_string()))
}

fn kdf_error(method: &'static str, reason: impl Into<String>) -> AuthError {
    AuthError::Kdf {
        method,
        reason: reason.into(),
    }
}

/// Bounds on the KDF cost parameters a client accepts from a CHALLENGE.
///
/// The floors catch a rogue router that asks for cheap parameters to obtain an easily
/// cracked hash (the spec says the client SHOULD abort then); the ceilings stop a router
/// from making the client burn minutes of CPU or gigabytes of memory. Lower the floors
/// only for tests or for a router you control.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KdfLimits {
    /// Fewest PBKDF2 iterations (default 4096, RFC 7677's minimum).
    pub min_pbkdf2_iterations: u32,
    /// Most PBKDF2 iterations (default 10,000,000).
    pub max_pbkdf2_iterations: u32,
    /// Smallest Argon2 time cost (default 1, Argon2's own minimum).
    pub min_argon2_iterations: u32,
    /// Largest Argon2 time cost (default 256).
    pub max_argon2_iterations: u32,
    /// Smallest Argon2 memory in KiB (default 1024, that is 1 MiB).
    pub min_argon2_memory: u32,
    /// Largest Argon2 memory in KiB (default 262,144, that is 256 MiB).
    pub max_argon2_memory: u32,
}

impl Default for KdfLimits {
    fn default() -> Self {
        KdfLimits {
            min_pbkdf2_iterations: 4096,
            max_pbkdf2_iterations: 10_000_000,
            min_argon2_iterations: 1,
            max_argon2_iterations: 256,
            min_argon2_memory: 1024,
            max_argon2_memory: 256 * 1024,
        }
    }
}

impl KdfLimits {
    /// Checks `kdf`'s parameters against the limits.
    pub fn check(&self, kdf: &Kdf) -> Result<(), AuthError> {
        self.check_for(METHOD, kdf)
    }

    /// [`KdfLimits::check`], naming `method` in the errors.
    pub(crate) fn check_for(&self, method: &'static str, kdf: &Kdf) -> Result<(), AuthError> {
        let bound = |param, value: u32, floor: u32, ceiling: u32| {
            if value < floor {
                Err(AuthError::KdfCostTooLow {
                    method,
                    param,
                    value: value.into(),
                    floor: floor.into(),
                })
            } else if value > ceiling {
                Err(AuthError::KdfCostTooHigh {
                    method,
                    param,
                    value: value.into(),
                    ceiling: ceiling.into(),
                })
            } else {
                Ok(())
            }
        };
        match *kdf {
            Kdf::Pbkdf2 { iterations } => bound(
                "iterations",
                iterations,
                self.min_pbkdf2_iterations,
                self.max_pbkdf2_iterations,
            ),
            Kdf::Argon2id13 { iterations, memory } => {
                bound(
                    "iterations",
                    iterations,
                    self.min_argon2_iterations,
                    self.max_argon2_iterations,
                )?;
                bound(
                    "memory",
                    memory,
                    self.min_argon2_memory,
                    self.max_argon2_memory,
                )
            }
        }
    }
}

/// What a router stores per user: the KDF with its parameters, the salt, `StoredKey` and
/// `ServerKey`. The keys are wiped on drop and never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct StoredCredential {
    /// The KDF and its cost parameters.
    pub kdf: Kdf,
    /// The raw salt (base64-encoded on the wire).
    pub salt: Vec<u8>,
    /// `SHA256(HMAC(SaltedPassword, "Client Key"))`.
    pub stored_key: [u8; 32],
    /// `HMAC(SaltedPassword, "Server Key")`.
    pub server_key: [u8; 32],
}

impl StoredCredential {
    /// The salt as sent in `CHALLENGE.Extra.salt`.
    pub fn salt_base64(&self) -> String {
        B64.encode(&self.salt)
    }

    /// The CHALLENGE extra for this credential: `nonce` (client nonce + server nonce),
    /// `salt`, `kdf`, `iterations` and `memory` (`null` for PBKDF2).
    pub fn challenge_extra(&self, nonce: &str) -> Dict {
        Dict::new()
            .with("nonce", nonce)
            .with("salt", self.salt_base64())
            .with("kdf", self.kdf.name())
            .with("iterations", self.kdf.iterations())
            .with("memory", self.kdf.memory())
    }
}

impl fmt::Debug for StoredCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoredCredential")
            .field("kdf", &self.kdf)
            .field("salt", &self.salt_base64())
            .field("stored_key", &"<redacted>")
            .field("server_key", &"<redacted>")
            .finish()
    }
}

impl Drop for StoredCredential {
    fn drop(&mut self) {
        self.stored_key.zeroize();
        self.server_key.zeroize();
    }
}

/// The keys SCRAM derives from `SaltedPassword`.
pub(crate) struct Keys {
    /// `HMAC(SaltedPassword, "Client Key")`.
    pub(crate) client_key: Key,
    /// `SHA256(ClientKey)`.
    pub(crate) stored_key: Key,
    /// `HMAC(SaltedPassword, "Server Key")`.
    pub(crate) server_key: Key,
}

impl Keys {
    /// `ClientProof = ClientKey XOR HMAC(StoredKey, AuthMessage)`.
    pub(crate) fn client_proof(&self, auth_message: &str) -> Key {
        let mut proof = hmac32(&*self.stored_key, auth_message.as_bytes());
        for (p, k) in proof.iter_mut().zip(self.client_key.iter()) {
            *p ^= k;
        }
        proof
    }
}

/// Checks the router's base64 `ServerSignature = HMAC(ServerKey, AuthMessage)` in constant
/// time.
pub(crate) fn check_server_signature(
    server_key: &[u8; 32],
    auth_message: &str,
    signature_b64: &str,
) -> Result<(), AuthError> {
    let received = B64
        .decode(signature_b64)
        .map_err(|_| AuthError::ServerSignatureMismatch)?;
    hmac(server_key, auth_message.as_bytes())
        .verify_slice(&received)
        .map_err(|_| AuthError::ServerSignatureMismatch)
}

/// Draws a fresh client nonce of `len` bytes: the raw bytes and their base64 text.
pub(crate) fn draw_nonce(rng: &mut dyn rand_core::CryptoRng, len: usize) -> (Vec<u8>, String) {
    let mut raw = vec![0u8; len];
    rng.fill_bytes(&mut raw);
    let text = B64.encode(&raw);
    (raw, text)
}

/// A CHALLENGE came before `hello_extra` drew a nonce.
pub(crate) fn challenge_before_hello(method: &'static str) -> AuthError {
    AuthError::OutOfOrder {
        method,
        what: "CHALLENGE before HELLO (hello_extra was not called)",
    }
}

/// A WELCOME came before the CHALLENGE was answered: the router is unverified.
pub(crate) fn welcome_before_challenge(method: &'static str) -> AuthError {
    AuthError::OutOfOrder {
        method,
        what: "WELCOME without a completed CHALLENGE: the router was not verified",
    }
}

/// A required string in `WELCOME.Details.authextra`; no authextra at all counts as an
/// empty one (the field is missing).
pub(crate) fn welcome_authextra_str<'a>(
    welcome_details: &'a Dict,
    method: &'static str,
    field: &'static str,
) -> Result<&'a str, AuthError> {
    match welcome_details.authextra() {
        Some(authextra) => req_str(authextra, method, field),
        None => Err(AuthError::MissingField { method, field }),
    }
}

/// The CHALLENGE's `salt`: its base64 text (it goes into the `AuthMessage`) and bytes.
pub(crate) fn challenge_salt<'a>(
    extra: &'a Map,
    method: &'static str,
) -> Result<(&'a str, Vec<u8>), AuthError> {
    let text = req_str(extra, method, "salt")?;
    let salt = B64.decode(text).map_err(|e| AuthError::InvalidField {
        method,
        field: "salt",
        reason: format!("not canonical base64: {e}"),
    })?;
    Ok((text, salt))
}

/// HMAC-SHA256 of `data` under `key`, ready to finalize or verify.
pub(crate) fn hmac(key: &[u8], data: &[u8]) -> HmacSha256 {
    // HMAC accepts keys of any length, so this never takes the error branch.
    let mut mac = <HmacSha256 as Mac>::new_from_slice(key)
        .unwrap_or_else(|_| <HmacSha256 as Mac>::new(&Default::default()));
    mac.update(data);
    mac
}

pub(crate) fn hmac32(key: &[u8], data: &[u8]) -> Key {
    Zeroizing::new(hmac(key, data).finalize().into_bytes().into())
}

/// `ClientKey`, `StoredKey` and `ServerKey` from `SaltedPassword` (any length: Autobahn's
/// `scram` keys the HMACs with the base64 text of the hash).
pub(crate) fn keys(salted_password: &[u8]) -> Keys {
    let client_key = hmac32(salted_password, b"Client Key");
    let stored_key = Zeroizing::new(Sha256::digest(*client_key).into());
    let server_key = hmac32(salted_password, b"Server Key");
    Keys {
        client_key,
        stored_key,
        server_key,
    }
}

fn saslprep(s: &str, what: &'static str) -> Result<Zeroizing<String>, AuthError> {
    stringprep::saslprep(s)
        .map(|c| Zeroizing::new(c.into_owned()))
        .map_err(|_| AuthError::Saslprep {
            method: METHOD,
            what,
        })
}

/// Router side: derives the stored credential for a password (normalized with SASLprep
/// here), a raw salt and a KDF.
pub fn derive_credential(
    password: &str,
    salt: &[u8],
    kdf: Kdf,
) -> Result<StoredCredential, AuthError> {
    let password = saslprep(password, "password")?;
    let salted = kdf.salted_password(password.as_bytes(), salt)?;
    let keys = keys(&salted[..]);
    Ok(StoredCredential {
        kdf,
        salt: salt.to_vec(),
        stored_key: *keys.stored_key,
        server_key: *keys.server_key,
    })
}

/// The parts of a WAMP-SCRAM exchange that make up the `AuthMessage`, as they appeared on
/// the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuthMessageParts<'a> {
    /// `HELLO.Details.authid` (SASLprep-normalized by the client).
    pub authid: &'a str,
    /// `HELLO.Details.authextra.nonce`.
    pub client_nonce: &'a str,
    /// `CHALLENGE.Extra.nonce` (= `AUTHENTICATE.Extra.nonce`).
    pub nonce: &'a str,
    /// `CHALLENGE.Extra.salt`, base64 as sent.
    pub salt: &'a str,
    /// `CHALLENGE.Extra.iterations`.
    pub iterations: u32,
    /// The channel binding type and raw data (`AUTHENTICATE.Extra.channel_binding` and
    /// the decoded `cbind_data`), if any.
    pub channel_binding: Option<(ChannelBindingKind, &'a [u8])>,
}

impl AuthMessageParts<'_> {
    /// `ClientFirstBare + "," + ServerFirst + "," + ClientFinalNoProof`.
    pub fn auth_message(&self) -> String {
        let mut cbind_input = match self.channel_binding {
            None => b"n,,".to_vec(),
            Some((kind, _)) => format!("p={},,", kind.as_str()).into_bytes(),
        };
        if let Some((_, data)) = self.channel_binding {
            cbind_input.extend_from_slice(data);
        }
        format!(
            "n={},r={},r={},s={},i={},c={},r={}",
            escape(self.authid),
            self.client_nonce,
            self.nonce,
            self.salt,
            self.iterations,
            B64.encode(cbind_input),
            self.nonce,
        )
    }
}

/// RFC 5802 `saslname` escaping: `=` → `=3D`, `,` → `=2C`.
fn escape(name: &str) -> String {
    name.replace('=', "=3D").replace(',', "=2C")
}

/// Router side: checks the base64 `ClientProof` from AUTHENTICATE against the stored key
/// (`SHA256(ClientSignature XOR ClientProof) == StoredKey`, in constant time).
pub fn verify_client_proof(
    stored_key: &[u8; 32],
    auth_message: &str,
    client_proof_b64: &str,
) -> Result<(), AuthError> {
    let mismatch = AuthError::SignatureMismatch { method: METHOD };
    let proof = B64.decode(client_proof_b64).map_err(|_| mismatch.clone())?;
    let proof: [u8; 32] = proof.as_slice().try_into().map_err(|_| mismatch.clone())?;
    let mut client_key = hmac32(stored_key, auth_message.as_bytes());
    for (k, p) in client_key.iter_mut().zip(proof.iter()) {
        *k ^= p;
    }
    let recovered: Key = Zeroizing::new(Sha256::digest(*client_key).into());
    if bool::from(recovered.ct_eq(stored_key)) {
        Ok(())
    } else {
        Err(mismatch)
    }
}

/// Router side: the base64 `ServerSignature` for `WELCOME.Details.authextra.verifier`.
pub fn server_signature(server_key: &[u8; 32], auth_message: &str) -> String {
    B64.encode(
        hmac(server_key, auth_message.as_bytes())
            .finalize()
            .into_bytes(),
    )
}

enum State {
    /// Nothing sent yet.
    Idle,
    /// HELLO built with this client nonce.
    Hello { client_nonce: String },
    /// AUTHENTICATE sent; the router's verifier is still to be checked.
    Authenticated {
        client_nonce: String,
        server_key: Key,
        auth_message: String,
    },
}

/// WAMP-SCRAM client authentication (`wamp-scram`).
pub struct Scram {
    authid: String,
    password: Zeroizing<String>,
    binding: Option<ChannelBindingKind>,
    limits: KdfLimits,
    nonce_len: usize,
    state: State,
}

impl Scram {
    /// Authenticates as `authid` with `password`, both normalized with SASLprep; fails if
    /// either contains characters SASLprep prohibits.
    pub fn new(authid: impl AsRef<str>, password: impl AsRef<str>) -> Result<Self, AuthError> {
        let authid = saslprep(authid.as_ref(), "username")?.as_str().to_owned();
        let password = saslprep(password.as_ref(), "password")?;
        Ok(Scram {
            authid,
            password,
            binding: None,
            limits: KdfLimits::default(),
            nonce_len: DEFAULT_NONCE_LEN,
            state: State::Idle,
        })
    }

    /// Requests TLS channel binding of type `kind` in HELLO; AUTHENTICATE then needs the
    /// connection's [`ChannelBinding`] data, which goes into the proof.
    #[must_use]
    pub fn with_channel_binding(mut self, kind: ChannelBindingKind) -> Self {
        self.binding = Some(kind);
        self
    }

    /// Replaces the KDF cost bounds (see [`KdfLimits`] for the defaults).
    #[must_use]
    pub fn with_limits(mut self, limits: KdfLimits) -> Self {
        self.limits = limits;
        self
    }

    /// Sets the client nonce length in random bytes (default [`DEFAULT_NONCE_LEN`];
    /// values below [`MIN_NONCE_LEN`] are raised to it).
    #[must_use]
    pub fn with_nonce_len(mut self, len: usize) -> Self {
        self.nonce_len = len.max(MIN_NONCE_LEN);
        self
    }

    fn client_nonce(&self) -> Option<&str> {
        match &self.state {
            State::Idle => None,
            State::Hello { client_nonce } | State::Authenticated { client_nonce, .. } => {
                Some(client_nonce)
            }
        }
    }

    fn parse_kdf(extra: &Map) -> Result<Kdf, AuthError> {
        let name = req_str(extra, METHOD, "kdf")?;
        let u32_field = |field, value: u64| {
            u32::try_from(value).map_err(|_| AuthError::KdfCostTooHigh {
                method: METHOD,
                param: field,
                value,
                ceiling: u32::MAX.into(),
            })
        };
        let iterations = || -> Result<u32, AuthError> {
            u32_field("iterations", req_u64(extra, METHOD, "iterations")?)
        };
        match name {
            "pbkdf2" => Ok(Kdf::Pbkdf2 {
                iterations: iterations()?,
            }),
            "argon2id13" => Ok(Kdf::Argon2id13 {
                iterations: iterations()?,
                memory: u32_field("memory", req_u64(extra, METHOD, "memory")?)?,
            }),
            other => Err(AuthError::UnsupportedKdf(other.to_owned())),
        }
    }
}

impl fmt::Debug for Scram {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match self.state {
            State::Idle => "idle",
            State::Hello { .. } => "hello sent",
            State::Authenticated { .. } => "authenticate sent",
        };
        f.debug_struct("Scram")
            .field("authid", &self.authid)
            .field("password", &"<redacted>")
            .field("channel_binding", &self.binding)
            .field("limits", &self.limits)
            .field("nonce_len", &self.nonce_len)
            .field("state", &state)
            .finish()
    }
}

impl ClientAuthenticator for Scram {
    fn method(&self) -> &str {
        METHOD
    }

    fn authid(&self) -> Option<&str> {
        Some(&self.authid)
    }

    /// Draws a fresh client nonce and returns `{nonce, channel_binding}`.
    fn hello_extra(&mut self, rng: &mut dyn rand_core::CryptoRng) -> Map {
        let (_, client_nonce) = draw_nonce(rng, self.nonce_len);
        let mut extra = Map::new();
        extra.insert("nonce".into(), Value::String(client_nonce.clone()));
        extra.insert(
            "channel_binding".into(),
            self.binding.map(ChannelBindingKind::as_str).into(),
        );
        self.state = State::Hello { client_nonce };
        extra
    }

    fn authenticate(
        &mut self,
        challenge_extra: &Dict,
        channel: Option<&ChannelBinding>,
    ) -> Result<Authenticate, AuthError> {
        let extra = challenge_extra.as_map();
        let client_nonce = self
            .client_nonce()
            .ok_or(challenge_before_hello(METHOD))?
            .to_owned();
        let nonce = req_str(extra, METHOD, "nonce")?;
        if nonce.len() <= client_nonce.len() || !nonce.starts_with(&client_nonce) {
            return Err(AuthError::NonceMismatch);
        }
        let (salt_b64, salt) = challenge_salt(extra, METHOD)?;
        let kdf = Scram::parse_kdf(extra)?;
        self.limits.check(&kdf)?;
        // The spec's CHALLENGE does not echo channel_binding; if a router does, it must match.
        if extra.get("channel_binding").is_some_and(|v| !v.is_null()) {
            check_binding_echo(extra, METHOD, self.binding)?;
        }
        let cbind = match self.binding {
            None => None,
            Some(kind) => Some((kind, *binding_data(METHOD, kind, channel)?)),
        };

        let salted = kdf.salted_password(self.password.as_bytes(), &salt)?;
        let keys = keys(&salted[..]);
        let auth_message = AuthMessageParts {
            authid: &self.authid,
            client_nonce: &client_nonce,
            nonce,
            salt: salt_b64,
            iterations: kdf.iterations(),
            channel_binding: cbind.as_ref().map(|(k, d)| (*k, &d[..])),
        }
        .auth_message();
        let proof = keys.client_proof(&auth_message);

        let authenticate = Authenticate {
            signature: B64.encode(*proof),
            extra: Dict::new()
                .with("nonce", nonce)
                .with("channel_binding", cbind.map(|(k, _)| k.as_str()))
                .with("cbind_data", cbind.map(|(_, d)| B64.encode(d))),
        };
        self.state = State::Authenticated {
            client_nonce,
            server_key: keys.server_key,
            auth_message,
        };
        Ok(authenticate)
    }

    /// Checks `authextra.verifier`, with or without a `v=` prefix.
    fn verify_welcome(&mut self, welcome_details: &Dict) -> Result<(), AuthError> {
        let State::Authenticated {
            server_key,
            auth_message,
            ..
        } = &self.state
        else {
            return Err(welcome_before_challenge(METHOD));
        };
        let verifier = welcome_authextra_str(welcome_details, METHOD, "verifier")?;
        let verifier = verifier.strip_prefix("v=").unwrap_or(verifier);
        check_server_signature(server_key, auth_message, verifier)?;
        self.state = State::Idle;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::fixed_rng::FixedRng;
    use crate::auth::{scram, test_support};

    /// The client nonce a HELLO extra announces.
    fn hello_nonce(hello: &Map) -> String {
        hello
            .get("nonce")
            .and_then(Value::as_str)
            .expect("nonce")
            .to_owned()
    }

    fn low_limits() -> KdfLimits {
        KdfLimits {
            min_pbkdf2_iterations: 1,
            min_argon2_memory: 8,
            ..KdfLimits::default()
        }
    }

    // RFC_* constants and rfc7677_* fixtures, shared with tests/auth_vectors.rs.
    include!("rfc7677.rs");

    /// RFC 7677 section 3, driven through the client.
    #[test]
    fn rfc7677_vector() {
        let mut scram = rfc7677_client();
        let hello = scram.hello_extra(&mut rfc7677_rng());
        assert_eq!(hello.get("nonce"), Some(&Value::from(RFC_CLIENT_NONCE)));
        assert_eq!(hello.get("channel_binding"), Some(&Value::Null));
        let challenge = rfc7677_challenge().with("memory", Value::Null);
        let auth = scram.authenticate(&challenge, None).expect("authenticate");
        assert_eq!(auth.signature, RFC_PROOF);
        assert_eq!(auth.extra.get("nonce"), Some(&Value::from(RFC_NONCE)));
        assert_eq!(auth.extra.get("channel_binding"), Some(&Value::Null));
        assert_eq!(auth.extra.get("cbind_data"), Some(&Value::Null));

        // The router side agrees.
        let cred = rfc7677_credential();
        let msg = rfc7677_auth_message();
        assert_eq!(
            msg,
            "n=user,r=rOprNGfwEbeRWgbNEkqO,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,\
             s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096,c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
        );
        assert_eq!(
            verify_client_proof(&cred.stored_key, &msg, &auth.signature),
            Ok(())
        );
        let sig = server_signature(&cred.server_key, &msg);
        assert_eq!(sig, RFC_SERVER_SIGNATURE);

        // Without, then with, the spec example's "v=" prefix.
        let welcome =
            |v: &str| Dict::new().with_authextra([("verifier".to_owned(), Value::from(v))].into());
        let again = |v: &str| {
            let mut s = rfc7677_client();
            s.hello_extra(&mut rfc7677_rng());
            s.authenticate(&challenge, None).expect("authenticate");
            s.verify_welcome(&welcome(v))
        };
        assert_eq!(again(&sig), Ok(()));
        assert_eq!(again(&format!("v={sig}")), Ok(()));
        assert_eq!(
            again("v=AAAATRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="),
            Err(AuthError::ServerSignatureMismatch)
        );
        assert_eq!(again("garbage"), Err(AuthError::ServerSignatureMismatch));
        assert_eq!(
            scram.verify_welcome(&Dict::new()),
            Err(AuthError::MissingField {
                method: "wamp-scram",
                field: "verifier"
            })
        );
    }

    #[test]
    fn argon2_round_trip_with_channel_binding() {
        let salt = [9u8; 16];
        let kdf = Kdf::Argon2id13 {
            iterations: 1,
            memory: 64,
        };
        let cred = derive_credential("pässword", &salt, kdf).expect("credential");
        let cb = ChannelBinding {
            kind: ChannelBindingKind::TlsExporter,
            data: [0x5a; 32],
        };
        let mut scram = Scram::new("a,b=c", "pässword")
            .expect("saslprep")
            .with_channel_binding(ChannelBindingKind::TlsExporter)
            .with_limits(low_limits());
        let hello = scram.hello_extra(&mut test_support::rng(3));
        let client_nonce = hello_nonce(&hello);
        assert_eq!(B64.decode(&client_nonce).expect("b64").len(), 16);
        assert_eq!(
            hello.get("channel_binding"),
            Some(&Value::from("tls-exporter"))
        );
        let nonce = format!("{client_nonce}c2VydmVyIG5vbmNl");
        let auth = scram
            .authenticate(&cred.challenge_extra(&nonce), Some(&cb))
            .expect("authenticate");
        assert_eq!(
            auth.extra.get("channel_binding"),
            Some(&Value::from("tls-exporter"))
        );
        assert_eq!(
            auth.extra.get("cbind_data"),
            Some(&Value::from(B64.encode(cb.data)))
        );

        let nonces = (client_nonce.as_str(), nonce.as_str());
        let msg = auth_message_with(&cred, "a,b=c", nonces, 1, Some((cb.kind, &cb.data)));
        assert!(msg.starts_with("n=a=2Cb=3Dc,r="), "{msg}");
        assert_eq!(
            verify_client_proof(&cred.stored_key, &msg, &auth.signature),
            Ok(())
        );
        let unbound = auth_message_with(&cred, "a,b=c", nonces, 1, None);
        assert!(verify_client_proof(&cred.stored_key, &unbound, &auth.signature).is_err());
        let welcome = Dict::new().with_authextra(
            [(
                "verifier".to_owned(),
                Value::from(server_signature(&cred.server_key, &msg)),
            )]
            .into(),
        );
        assert_eq!(scram.verify_welcome(&welcome), Ok(()));
    }

    #[test]
    fn client_checks() {
        let mut scram = Scram::new("user", "pencil").expect("saslprep");
        let early = scram
            .authenticate(&Dict::new(), None)
            .expect_err("no hello");
        assert!(matches!(early, AuthError::OutOfOrder { .. }));
        assert!(matches!(
            scram.verify_welcome(&Dict::new()),
            Err(AuthError::OutOfOrder { .. })
        ));

        let hello = scram.hello_extra(&mut test_support::rng(5));
        let cn = hello_nonce(&hello);
        let ok = Dict::new()
            .with("nonce", format!("{cn}xyz"))
            .with("salt", "c2FsdHNhbHQ=")
            .with("kdf", "pbkdf2")
            .with("iterations", 4096u32);
        let check = |scram: &mut Scram, d: Dict| scram.authenticate(&d, None).expect_err("refused");
        assert_eq!(
            check(&mut scram, ok.clone().with("nonce", "xyz")),
            AuthError::NonceMismatch
        );
        assert_eq!(
            check(&mut scram, ok.clone().with("nonce", cn.clone())),
            AuthError::NonceMismatch
        );
        assert!(matches!(
            check(&mut scram, ok.clone().with("iterations", 4095u32)),
            AuthError::KdfCostTooLow {
                param: "iterations",
                ..
            }
        ));
        assert!(matches!(
            check(&mut scram, ok.clone().with("iterations", u64::MAX)),
            AuthError::KdfCostTooHigh {
                param: "iterations",
                ..
            }
        ));
        let argon = ok
            .clone()
            .with("kdf", "argon2id13")
            .with("iterations", 1u32);
        assert_eq!(
            check(&mut scram, argon.clone()),
            AuthError::MissingField {
                method: "wamp-scram",
                field: "memory"
            }
        );
        assert!(matches!(
            check(&mut scram, argon.clone().with("memory", 512u32)),
            AuthError::KdfCostTooLow {
                param: "memory",
                ..
            }
        ));
        assert!(matches!(
            check(&mut scram, argon.with("memory", 10_000_000u32)),
            AuthError::KdfCostTooHigh {
                param: "memory",
                ..
            }
        ));
        assert_eq!(
            check(&mut scram, ok.clone().with("kdf", "argon2id-13")),
            AuthError::UnsupportedKdf("argon2id-13".into())
        );
        for field in ["nonce", "salt", "kdf", "iterations"] {
            let mut d = ok.clone();
            d.remove(field);
            assert_eq!(
                check(&mut scram, d),
                AuthError::MissingField {
                    method: "wamp-scram",
                    field
                }
            );
        }
        let err = check(&mut scram, ok.clone().with("salt", "not base64"));
        assert!(err.to_string().contains("`salt`"), "{err}");
        let err = check(&mut scram, ok.clone().with("iterations", "4096"));
        assert!(err.to_string().contains("`iterations`"), "{err}");
        // A router that claims a binding the client did not request.
        assert!(matches!(
            check(&mut scram, ok.clone().with("channel_binding", "tls-unique")),
            AuthError::ChannelBindingMismatch { .. }
        ));
        // Bound client without transport data.
        let mut bound = Scram::new("user", "pencil")
            .expect("saslprep")
            .with_channel_binding(ChannelBindingKind::TlsUnique);
        let hello = bound.hello_extra(&mut test_support::rng(5));
        assert_eq!(
            hello.get("nonce").and_then(Value::as_str),
            Some(cn.as_str())
        );
        assert!(matches!(
            check(&mut bound, ok),
            AuthError::ChannelBindingUnavailable { .. }
        ));
    }

    #[test]
    fn saslprep_and_debug() {
        assert!(matches!(
            Scram::new("user", "bad\u{0007}"),
            Err(AuthError::Saslprep {
                what: "password",
                ..
            })
        ));
        // RFC 4013: non-ASCII space maps to space, soft hyphen maps to nothing.
        let s = Scram::new("I\u{00AD}X", "pencil\u{00A0}1").expect("saslprep");
        assert_eq!(s.authid(), Some("IX"));
        let dbg = format!("{s:?}");
        assert!(!dbg.contains("pencil"), "{dbg}");
        let cred =
            derive_credential("pencil", b"saltsalt", Kdf::Pbkdf2 { iterations: 1 }).expect("cred");
        let dbg = format!("{cred:?}");
        assert!(
            dbg.contains("<redacted>") && !dbg.contains(&format!("{:?}", cred.stored_key)),
            "{dbg}"
        );
    }

    #[test]
    fn garbage_extra_never_panics() {
        let mut rng = test_support::rng(17);
        // Tight ceilings: random costs that pass must stay cheap.
        let limits = KdfLimits {
            max_pbkdf2_iterations: 5000,
            max_argon2_iterations: 2,
            max_argon2_memory: 64,
            ..low_limits()
        };
        let mut scram = Scram::new("user", "pencil")
            .expect("saslprep")
            .with_limits(limits);
        for i in 0..500 {
            scram.hello_extra(&mut rng);
            let mut extra = test_support::random_extra(
                &mut rng,
                &[
                    "nonce",
                    "salt",
                    "kdf",
                    "iterations",
                    "memory",
                    "channel_binding",
                ],
            );
            if i % 2 == 0 {
                // Keep the nonce valid sometimes so the later checks are reached.
                if let Some(cn) = scram.client_nonce().map(str::to_owned) {
                    extra.insert("nonce".into(), format!("{cn}x").into());
                }
            }
            if i % 3 == 0 {
                let kdf = if i % 2 == 0 { "pbkdf2" } else { "argon2id13" };
                extra.insert("kdf".into(), kdf.into());
                extra.insert("salt".into(), "c2FsdHNhbHQ=".into());
            }
            let _ = scram.authenticate(&Dict::from(extra.clone()), None);
            let _ = scram.verify_welcome(&Dict::new().with_authextra(extra));
        }
    }
}
