//! `--authmethod`, `--authid` and `--secret` (or `WAMP_SECRET`) to an [`Auth`].

use wamp_tokio::Auth;

use crate::cli::AuthMethod;
use crate::error::CliError;

/// The environment variable read when `--secret` is not given.
pub const SECRET_ENV: &str = "WAMP_SECRET";

/// The authentication to offer, from the flags; `None` announces no method at all (the
/// router decides). `env_secret` is the value of [`SECRET_ENV`], used when `--secret`
/// is absent.
///
/// A method that needs a secret or an authid it did not get is a usage error, said
/// before anything connects.
pub fn auth(
    method: Option<AuthMethod>,
    authid: Option<&str>,
    secret: Option<&str>,
    env_secret: Option<String>,
) -> Result<Option<Auth>, CliError> {
    let Some(method) = method else {
        if secret.is_some() {
            return Err(CliError::Usage(
                "--secret given without --authmethod (ticket, wampcra, cryptosign, scram or scram-autobahn)".into(),
            ));
        }
        return Ok(None);
    };
    let secret = || -> Result<String, CliError> {
        secret
            .map(str::to_owned)
            .or(env_secret.clone())
            .filter(|s| !s.is_empty())
            .ok_or_else(|| {
                CliError::Usage(format!(
                    "--authmethod {} needs --secret ({}) or the environment variable {SECRET_ENV}",
                    method_name(method),
                    secret_meaning(method)
                ))
            })
    };
    let required_authid = || -> Result<String, CliError> {
        authid.map(str::to_owned).ok_or_else(|| {
            CliError::Usage(format!(
                "--authmethod {} needs --authid",
                method_name(method)
            ))
        })
    };
    Ok(Some(match method {
        AuthMethod::Anonymous => Auth::Anonymous {
            authid: authid.map(str::to_owned),
        },
        AuthMethod::Ticket => Auth::ticket(required_authid()?, secret()?),
        AuthMethod::Wampcra => Auth::wampcra(required_authid()?, secret()?),
        AuthMethod::Cryptosign => Auth::cryptosign_hex(authid.map(str::to_owned), &secret()?)
            .map_err(|e| {
                CliError::Usage(format!(
                    "--secret for cryptosign must be the Ed25519 private key as 64 hex digits: {e}"
                ))
            })?,
        AuthMethod::Scram => Auth::scram(required_authid()?, secret()?),
        AuthMethod::ScramAutobahn => Auth::scram_autobahn(required_authid()?, secret()?),
    }))
}

fn method_name(method: AuthMethod) -> &'static str {
    match method {
        AuthMethod::Anonymous => "anonymous",
        AuthMethod::Ticket => "ticket",
        AuthMethod::Wampcra => "wampcra",
        AuthMethod::Cryptosign => "cryptosign",
        AuthMethod::Scram => "scram",
        AuthMethod::ScramAutobahn => "scram-autobahn",
    }
}

fn secret_meaning(method: AuthMethod) -> &'static str {
    match method {
        AuthMethod::Anonymous => "nothing",
        AuthMethod::Ticket => "the ticket",
        AuthMethod::Wampcra => "the shared secret",
        AuthMethod::Cryptosign => "the Ed25519 private key as 64 hex digits",
        AuthMethod::Scram | AuthMethod::ScramAutobahn => "the password",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "4d57d97a68f555696620a6d849c0ce582568518d729eb753dc7c732de2804510";

    fn usage(result: Result<Option<Auth>, CliError>) -> String {
        match result {
            Err(CliError::Usage(why)) => why,
            other => panic!("expected a usage error, got {other:?}"),
        }
    }

    #[test]
    fn no_method_offers_nothing() {
        assert_eq!(auth(None, None, None, None).expect("ok"), None);
        assert_eq!(
            auth(None, Some("joe"), None, Some("x".into())).expect("ok"),
            None
        );
        assert!(usage(auth(None, None, Some("s"), None)).contains("--authmethod"));
    }

    #[test]
    fn each_method_from_flags() {
        assert_eq!(
            auth(Some(AuthMethod::Anonymous), Some("joe"), None, None).expect("ok"),
            Some(Auth::Anonymous {
                authid: Some("joe".into())
            })
        );
        for (method, secret, expected) in [
            (AuthMethod::Ticket, "t", Auth::ticket("joe", "t")),
            (AuthMethod::Wampcra, "s", Auth::wampcra("joe", "s")),
            (AuthMethod::Scram, "p", Auth::scram("joe", "p")),
            (
                AuthMethod::ScramAutobahn,
                "p",
                Auth::scram_autobahn("joe", "p"),
            ),
        ] {
            assert_eq!(
                auth(Some(method), Some("joe"), Some(secret), None).expect("ok"),
                Some(expected)
            );
        }
        let cs = auth(Some(AuthMethod::Cryptosign), None, Some(KEY), None)
            .expect("ok")
            .expect("some");
        assert_eq!(cs.method(), "cryptosign");
        assert_eq!(cs.authid(), None);
    }

    #[test]
    fn the_secret_comes_from_the_environment_when_not_given() {
        // (--secret, WAMP_SECRET, the ticket used): the flag wins over the environment.
        for (flag, env, used) in [(None, "env", "env"), (Some("flag"), "env", "flag")] {
            assert_eq!(
                auth(
                    Some(AuthMethod::Ticket),
                    Some("joe"),
                    flag,
                    Some(env.into())
                )
                .expect("ok"),
                Some(Auth::ticket("joe", used))
            );
        }
    }

    #[test]
    fn missing_or_bad_credentials_are_usage_errors() {
        for method in [
            AuthMethod::Ticket,
            AuthMethod::Wampcra,
            AuthMethod::Scram,
            AuthMethod::ScramAutobahn,
            AuthMethod::Cryptosign,
        ] {
            let why = usage(auth(Some(method), Some("joe"), None, None));
            assert!(
                why.contains("--secret") && why.contains(SECRET_ENV),
                "{why}"
            );
            // An empty WAMP_SECRET is as good as none.
            usage(auth(Some(method), Some("joe"), None, Some(String::new())));
        }
        for method in [
            AuthMethod::Ticket,
            AuthMethod::Wampcra,
            AuthMethod::Scram,
            AuthMethod::ScramAutobahn,
        ] {
            assert!(usage(auth(Some(method), None, Some("s"), None)).contains("--authid"));
        }
        let why = usage(auth(Some(AuthMethod::Cryptosign), None, Some("abcd"), None));
        assert!(why.contains("64 hex digits"), "{why}");
    }

    #[test]
    fn errors_never_echo_the_secret() {
        let why = usage(auth(
            Some(AuthMethod::Cryptosign),
            None,
            Some("zzsecretzz"),
            None,
        ));
        assert!(!why.contains("zzsecretzz"), "{why}");
    }
}
