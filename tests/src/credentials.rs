//! The static principals of the router's authenticated transports.
//!
//! Test-only secrets, public on purpose. Every principal but one gets the role
//! [`AUTHENTICATED_ROLE`], which may do everything on [`REALM`](crate::REALM); the
//! exception is [`RESTRICTED_AUTHID`], whose role [`RESTRICTED_ROLE`] may only call and
//! subscribe under [`RESTRICTED_ALLOWED_PREFIX`] (for authorization tests).

/// The role of every authenticated principal.
pub const AUTHENTICATED_ROLE: &str = "authenticated";

/// The role of anonymous sessions (the plain transports).
pub const ANONYMOUS_ROLE: &str = "anonymous";

/// WAMP-Ticket: the authid.
pub const TICKET_AUTHID: &str = "ticket-user";
/// WAMP-Ticket: the ticket.
pub const TICKET: &str = "secret-ticket";

/// The role of [`RESTRICTED_AUTHID`]: only `call` and `subscribe`, only on URIs starting
/// with [`RESTRICTED_ALLOWED_PREFIX`]. Everything else is refused with
/// `wamp.error.not_authorized`.
pub const RESTRICTED_ROLE: &str = "restricted";
/// The URI prefix [`RESTRICTED_ROLE`] may call and subscribe under.
pub const RESTRICTED_ALLOWED_PREFIX: &str = "com.allowed.";
/// WAMP-Ticket principal with the [`RESTRICTED_ROLE`]: the authid.
pub const RESTRICTED_AUTHID: &str = "restricted-user";
/// WAMP-Ticket principal with the [`RESTRICTED_ROLE`]: the ticket.
pub const RESTRICTED_TICKET: &str = "restricted-ticket";

/// WAMP-CRA without salt: the authid.
pub const WAMPCRA_AUTHID: &str = "cra-user";
/// WAMP-CRA without salt: the secret (the HMAC key itself).
pub const WAMPCRA_SECRET: &str = "cra-secret";

/// WAMP-CRA with a salted key: the authid.
pub const WAMPCRA_SALTED_AUTHID: &str = "cra-salted";
/// WAMP-CRA with a salted key: the secret the key is derived from.
pub const WAMPCRA_SALTED_SECRET: &str = "cra-secret2";
/// WAMP-CRA with a salted key: the PBKDF2 salt (Crossbar sends it in the CHALLENGE).
pub const WAMPCRA_SALT: &str = "salt123";
/// WAMP-CRA with a salted key: the PBKDF2 iterations.
pub const WAMPCRA_ITERATIONS: u32 = 100;
/// WAMP-CRA with a salted key: the derived key length in bytes.
pub const WAMPCRA_KEYLEN: u32 = 32;

/// WAMP-Cryptosign: the authid.
pub const CRYPTOSIGN_AUTHID: &str = "cs-user";
/// WAMP-Cryptosign: the Ed25519 private key seed (32 bytes, hex), SHA-256 of
/// "wamp-rs integration test cryptosign key".
pub const CRYPTOSIGN_SEED_HEX: &str =
    "5b7e465ccb9e45369a778a7991f76c281a6ef5bd7dc45119531db562337b442e";
/// WAMP-Cryptosign: the Ed25519 public key of [`CRYPTOSIGN_SEED_HEX`] (32 bytes, hex),
/// the router's `authorized_keys` entry.
pub const CRYPTOSIGN_PUBLIC_KEY_HEX: &str =
    "f2801bf6099ac4911dd864bcb9718c3fd427ab6a7a720312dc8fb463234d61b8";

/// SCRAM: the authid.
///
/// Crossbar's `scram` is Autobahn's prototype, not the spec's `wamp-scram`: the method is
/// `scram`, the KDF is named `argon2id-13`, the salted password is the *unpadded base64
/// text* of the Argon2id hash, the client-final `c=` is empty, and WELCOME carries
/// `scram_server_signature`. Autobahn|Python's `AuthScram` speaks it.
pub const SCRAM_AUTHID: &str = "scram-user";
/// SCRAM: the password.
pub const SCRAM_PASSWORD: &str = "scram-password";
/// SCRAM: the salt (16 bytes, hex; the bytes spell "wamp-rs scram sa").
pub const SCRAM_SALT_HEX: &str = "77616d702d727320736372616d207361";
/// SCRAM: the KDF as Crossbar names it.
pub const SCRAM_KDF: &str = "argon2id-13";
/// SCRAM: Argon2id time cost.
pub const SCRAM_ITERATIONS: u32 = 8;
/// SCRAM: Argon2id memory cost in KiB.
pub const SCRAM_MEMORY: u32 = 1024;
/// SCRAM: `SHA256(HMAC(SaltedPassword, "Client Key"))`, hex (Crossbar's `stored-key`).
pub const SCRAM_STORED_KEY_HEX: &str =
    "b8d792104e67b1b3ded0644452b2558a3d74aa66cd880b43d27eff6b6af0072b";
/// SCRAM: `HMAC(SaltedPassword, "Server Key")`, hex (Crossbar's `server-key`).
pub const SCRAM_SERVER_KEY_HEX: &str =
    "3d22bfef2b91792c58d5bf9a1d6e51251fad92ca664a8bdebfc941f0cc38daaa";
