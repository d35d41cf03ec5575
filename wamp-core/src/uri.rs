//! WAMP URIs: parsed once, checked by the spec's loose or strict rules, and matched as
//! exact, prefix or wildcard patterns.
//!
//! The rules (spec "URIs"): components are separated by `.`; a component never contains
//! `.`, `#` or whitespace. Concrete URIs have no empty component. Pattern URIs used with
//! `match: prefix` or `match: wildcard` may have empty components (a wildcard component is
//! the empty one). The *strict* rule narrows components to `[0-9a-z_]`; it is a SHOULD in
//! the spec, so decoding accepts loose URIs and a router may insist on strict ones.

use std::borrow::Borrow;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::Deref;
use std::sync::Arc;

/// A URI that passed the loose rule (or, for patterns, the loose rule with empty
/// components). Cheap to clone.
#[derive(Clone)]
pub struct Uri(Repr);

#[derive(Clone)]
enum Repr {
    Static(&'static str),
    Shared(Arc<str>),
}

/// Why a string is not a valid URI.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{uri:?} is not a valid URI: {reason}")]
pub struct InvalidUri {
    /// The offending text (truncated to 128 characters).
    pub uri: String,
    /// Which rule it breaks.
    pub reason: &'static str,
}

/// How a subscription or registration URI is matched (`Options.match`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
pub enum MatchPolicy {
    /// The URI must equal the pattern.
    #[default]
    Exact,
    /// The URI must start with the pattern (plain string prefix, as Crossbar.io does).
    Prefix,
    /// Same number of components; an empty pattern component matches any component.
    Wildcard,
}

impl MatchPolicy {
    /// The wire spelling: `exact`, `prefix` or `wildcard`.
    pub const fn as_str(self) -> &'static str {
        match self {
            MatchPolicy::Exact => "exact",
            MatchPolicy::Prefix => "prefix",
            MatchPolicy::Wildcard => "wildcard",
        }
    }

    /// Parses the wire spelling.
    pub fn from_wire(s: &str) -> Option<Self> {
        match s {
            "exact" => Some(MatchPolicy::Exact),
            "prefix" => Some(MatchPolicy::Prefix),
            "wildcard" => Some(MatchPolicy::Wildcard),
            _ => None,
        }
    }
}

/// Which rule to check a URI against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UriRule {
    /// No empty components; components free of `.`, `#` and whitespace.
    Loose,
    /// No empty components; components of `[0-9a-z_]` only.
    Strict,
    /// Loose, and empty components allowed (prefix and wildcard patterns).
    LoosePattern,
    /// Strict, and empty components allowed.
    StrictPattern,
}

impl UriRule {
    fn allows_empty(self) -> bool {
        matches!(self, UriRule::LoosePattern | UriRule::StrictPattern)
    }
    fn strict(self) -> bool {
        matches!(self, UriRule::Strict | UriRule::StrictPattern)
    }
}

impl UriRule {
    /// Checks `s` against this rule; `Err` says what is wrong.
    pub fn check(self, s: &str) -> Result<(), &'static str> {
        check(s, self)
    }
}

fn check(s: &str, rule: UriRule) -> Result<(), &'static str> {
    if s.is_empty() {
        return Err("empty URI");
    }
    let mut all_empty = true;
    for component in s.split('.') {
        if component.is_empty() {
            if !rule.allows_empty() {
                return Err("empty component");
            }
            continue;
        }
        all_empty = false;
        if rule.strict() {
            if !component
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
            {
                return Err("strict URIs allow only [0-9a-z_] in components");
            }
        } else if component.chars().any(|c| c == '#' || c.is_whitespace()) {
            return Err("components may not contain '#' or whitespace");
        }
    }
    if all_empty && !rule.allows_empty() {
        return Err("no non-empty component");
    }
    Ok(())
}

fn invalid(s: &str, reason: &'static str) -> InvalidUri {
    InvalidUri {
        uri: s.chars().take(128).collect(),
        reason,
    }
}

impl Uri {
    /// Parses a concrete URI by the loose rule.
    pub fn parse(s: &str) -> Result<Uri, InvalidUri> {
        Uri::parse_with(s, UriRule::Loose)
    }

    /// Parses a concrete URI by the strict rule.
    pub fn parse_strict(s: &str) -> Result<Uri, InvalidUri> {
        Uri::parse_with(s, UriRule::Strict)
    }

    /// Parses a subscription or registration URI for the given match policy: exact ones
    /// follow the loose rule, prefix and wildcard ones may have empty components.
    pub fn parse_pattern(s: &str, policy: MatchPolicy) -> Result<Uri, InvalidUri> {
        let rule = match policy {
            MatchPolicy::Exact => UriRule::Loose,
            MatchPolicy::Prefix | MatchPolicy::Wildcard => UriRule::LoosePattern,
        };
        Uri::parse_with(s, rule)
    }

    /// Parses `s` by the given rule.
    pub fn parse_with(s: &str, rule: UriRule) -> Result<Uri, InvalidUri> {
        check(s, rule).map_err(|reason| invalid(s, reason))?;
        Ok(Uri(Repr::Shared(Arc::from(s))))
    }

    /// A URI from a `'static` string that the caller vouches for (the well-known URIs
    /// below). Usable in `const` items; not checked, so prefer [`Uri::parse`] elsewhere.
    pub const fn from_static(s: &'static str) -> Uri {
        Uri(Repr::Static(s))
    }

    /// The URI text.
    pub fn as_str(&self) -> &str {
        match &self.0 {
            Repr::Static(s) => s,
            Repr::Shared(s) => s,
        }
    }

    /// Whether the URI also passes the strict rule (empty components allowed when
    /// `pattern` is true).
    pub fn is_strict(&self, pattern: bool) -> bool {
        let rule = if pattern {
            UriRule::StrictPattern
        } else {
            UriRule::Strict
        };
        check(self.as_str(), rule).is_ok()
    }

    /// Whether the first component is the reserved `wamp`.
    pub fn is_reserved(&self) -> bool {
        self.as_str() == "wamp" || self.as_str().starts_with("wamp.")
    }

    /// Whether `concrete` matches this URI used as a pattern with `policy`.
    pub fn matches(&self, policy: MatchPolicy, concrete: &str) -> bool {
        let pattern = self.as_str();
        match policy {
            MatchPolicy::Exact => pattern == concrete,
            MatchPolicy::Prefix => concrete.starts_with(pattern),
            MatchPolicy::Wildcard => {
                let mut want = pattern.split('.');
                let mut have = concrete.split('.');
                loop {
                    match (want.next(), have.next()) {
                        (None, None) => return true,
                        (Some(w), Some(h)) if w.is_empty() || w == h => {}
                        _ => return false,
                    }
                }
            }
        }
    }
}

impl Deref for Uri {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for Uri {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl Borrow<str> for Uri {
    fn borrow(&self) -> &str {
        self.as_str()
    }
}

impl PartialEq for Uri {
    fn eq(&self, other: &Uri) -> bool {
        self.as_str() == other.as_str()
    }
}
impl Eq for Uri {}

impl PartialEq<str> for Uri {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Uri {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PartialOrd for Uri {
    fn partial_cmp(&self, other: &Uri) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Uri {
    fn cmp(&self, other: &Uri) -> std::cmp::Ordering {
        self.as_str().cmp(other.as_str())
    }
}

impl Hash for Uri {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_str().hash(state)
    }
}

impl fmt::Debug for Uri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for Uri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl TryFrom<&str> for Uri {
    type Error = InvalidUri;
    fn try_from(s: &str) -> Result<Uri, InvalidUri> {
        Uri::parse(s)
    }
}

impl TryFrom<String> for Uri {
    type Error = InvalidUri;
    fn try_from(s: String) -> Result<Uri, InvalidUri> {
        check(&s, UriRule::Loose).map_err(|reason| invalid(&s, reason))?;
        Ok(Uri(Repr::Shared(Arc::from(s))))
    }
}

impl std::str::FromStr for Uri {
    type Err = InvalidUri;
    fn from_str(s: &str) -> Result<Uri, InvalidUri> {
        Uri::parse(s)
    }
}

impl serde::Serialize for Uri {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

macro_rules! well_known {
    ($($(#[$doc:meta])* $name:ident = $text:literal;)*) => {
        impl Uri {
            $( $(#[$doc])* pub const $name: Uri = Uri::from_static($text); )*
        }
    };
}

well_known! {
    /// A URI given to a peer was not valid.
    INVALID_URI = "wamp.error.invalid_uri";
    /// No procedure is registered under the called URI.
    NO_SUCH_PROCEDURE = "wamp.error.no_such_procedure";
    /// A procedure is already registered under the URI (and the policy does not share it).
    PROCEDURE_ALREADY_EXISTS = "wamp.error.procedure_already_exists";
    /// UNREGISTER named a registration that does not exist.
    NO_SUCH_REGISTRATION = "wamp.error.no_such_registration";
    /// UNSUBSCRIBE named a subscription that does not exist.
    NO_SUCH_SUBSCRIPTION = "wamp.error.no_such_subscription";
    /// The arguments of a call were not acceptable.
    INVALID_ARGUMENT = "wamp.error.invalid_argument";
    /// The call was canceled.
    CANCELED = "wamp.error.canceled";
    /// A payload exceeded a size limit.
    PAYLOAD_SIZE_EXCEEDED = "wamp.error.payload_size_exceeded";
    /// A peer broke the protocol; the session is aborted.
    PROTOCOL_VIOLATION = "wamp.error.protocol_violation";
    /// The action is not authorized.
    NOT_AUTHORIZED = "wamp.error.not_authorized";
    /// Authorization could not be decided.
    AUTHORIZATION_FAILED = "wamp.error.authorization_failed";
    /// The realm does not exist.
    NO_SUCH_REALM = "wamp.error.no_such_realm";
    /// The role does not exist.
    NO_SUCH_ROLE = "wamp.error.no_such_role";
    /// No offered authentication method is acceptable.
    NO_MATCHING_AUTH_METHOD = "wamp.error.no_matching_auth_method";
    /// The authid is unknown.
    NO_SUCH_PRINCIPAL = "wamp.error.no_such_principal";
    /// Authentication was denied.
    AUTHENTICATION_DENIED = "wamp.error.authentication_denied";
    /// Authentication failed.
    AUTHENTICATION_FAILED = "wamp.error.authentication_failed";
    /// Authentication is required.
    AUTHENTICATION_REQUIRED = "wamp.error.authentication_required";
    /// The client cannot answer the challenge (Autobahn's URI, not in the spec).
    CANNOT_AUTHENTICATE = "wamp.error.cannot_authenticate";
    /// The call timed out.
    TIMEOUT = "wamp.error.timeout";
    /// An option is not allowed.
    OPTION_NOT_ALLOWED = "wamp.error.option_not_allowed";
    /// Disclosure of the caller or publisher was refused.
    OPTION_DISALLOWED_DISCLOSE_ME = "wamp.error.option_disallowed.disclose_me";
    /// The callee is unavailable.
    UNAVAILABLE = "wamp.error.unavailable";
    /// No callee is available to serve the call.
    NO_AVAILABLE_CALLEE = "wamp.error.no_available_callee";
    /// A peer did not announce a feature the request needs.
    FEATURE_NOT_SUPPORTED = "wamp.error.feature_not_supported";
    /// Close reason: the router is shutting down.
    CLOSE_SYSTEM_SHUTDOWN = "wamp.close.system_shutdown";
    /// Close reason: the realm is closing.
    CLOSE_REALM = "wamp.close.close_realm";
    /// Close reason: the reply to a GOODBYE.
    GOODBYE_AND_OUT = "wamp.close.goodbye_and_out";
    /// Close reason: the session was killed through the meta API.
    CLOSE_KILLED = "wamp.close.killed";
    /// Close reason: a normal leave (Autobahn's default).
    CLOSE_NORMAL = "wamp.close.normal";
    /// Close reason (ABORT): the router closed the session because the client did not
    /// read what was sent to it (no progress for the write timeout, or over the byte
    /// budget). Not in the spec; the name follows its `wamp.close.*` pattern.
    CLOSE_SLOW_CONSUMER = "wamp.close.slow_consumer";
    /// Close reason: the transport was lost without a GOODBYE (Crossbar.io's name, used
    /// in the meta API's `on_leave`).
    CLOSE_TRANSPORT_LOST = "wamp.close.transport_lost";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loose_rule() {
        for ok in [
            "com.myapp.topic1",
            "a",
            "com.MyApp.ü",
            "wamp.error.x",
            "a-b.c_d",
        ] {
            assert!(Uri::parse(ok).is_ok(), "{ok}");
        }
        for bad in ["", ".", "a..b", ".a", "a.", "a b", "a.#", "a.\tb", "a.b\n"] {
            assert!(Uri::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn strict_rule() {
        assert!(Uri::parse_strict("com.my_app.v2").is_ok());
        assert!(Uri::parse_strict("com.MyApp").is_err());
        assert!(Uri::parse_strict("com.my-app").is_err());
        assert!(Uri::parse("com.my-app").is_ok_and(|u| !u.is_strict(false)));
    }

    #[test]
    fn patterns_allow_empty_components() {
        assert!(Uri::parse_pattern("com..topic", MatchPolicy::Wildcard).is_ok());
        assert!(Uri::parse_pattern(".", MatchPolicy::Wildcard).is_ok());
        assert!(Uri::parse_pattern("com.myapp.", MatchPolicy::Prefix).is_ok());
        assert!(Uri::parse_pattern("com..topic", MatchPolicy::Exact).is_err());
        assert!(Uri::parse_pattern("com. .topic", MatchPolicy::Wildcard).is_err());
    }

    #[test]
    fn matching() {
        let p = Uri::parse_pattern("com..update", MatchPolicy::Wildcard).unwrap_or(Uri::CANCELED);
        assert!(p.matches(MatchPolicy::Wildcard, "com.a.update"));
        assert!(!p.matches(MatchPolicy::Wildcard, "com.a.b.update"));
        assert!(!p.matches(MatchPolicy::Wildcard, "com.a.delete"));
        let p = Uri::from_static("interop.pattern");
        assert!(p.matches(MatchPolicy::Prefix, "interop.pattern.x"));
        assert!(p.matches(MatchPolicy::Prefix, "interop.patternx.y"));
        assert!(!p.matches(MatchPolicy::Prefix, "interop.patter"));
        assert!(p.matches(MatchPolicy::Exact, "interop.pattern"));
    }

    #[test]
    fn well_known_constants_are_valid() {
        for u in [
            Uri::PROTOCOL_VIOLATION,
            Uri::GOODBYE_AND_OUT,
            Uri::OPTION_DISALLOWED_DISCLOSE_ME,
        ] {
            assert!(u.is_strict(false), "{u}");
            assert_eq!(Uri::parse(u.as_str()).ok(), Some(u.clone()));
        }
    }
}
