//! `Options`, `Details` and `Extra`: the string-keyed dictionaries carried by WAMP
//! messages, with typed accessors for the keys the spec (and Autobahn) define.
//!
//! Every key is kept, known or not, so a dictionary round-trips unchanged. Known keys are
//! type-checked when a message is decoded (a `"acknowledge": "yes"` is a protocol
//! violation that names the key), which is why the typed getters can return plain
//! `Option<T>`: `None` means absent. A value of the wrong type can only get in through
//! [`Dict::insert`], and then the getter returns `None` too.

use std::collections::btree_map;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::id::{Id, RegistrationId, SessionId, SubscriptionId};
use crate::uri::{MatchPolicy, UriRule};
use crate::value::{Map, Value};

/// A WAMP dictionary (`Options`, `Details`, `Extra`).
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Dict(Map);

/// The `Options` of a request message.
///
/// An alias, not a newtype, on purpose: `Options` and `Details` are the same wire
/// dictionary, and the same keys cross from one to the other (a CALL's `receive_progress`
/// and `timeout` become the INVOCATION's details; `progress` is an option of YIELD and a
/// detail of RESULT), so one type with one set of typed accessors serves both, and the
/// router forwards without converting. The names say which role a dictionary plays in a
/// message.
pub type Options = Dict;
/// The `Details` of a message from the router. An alias of [`Dict`], as
/// [`Options`] is (see there why).
pub type Details = Dict;

/// How a shared registration picks the callee (`REGISTER.Options.invoke`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum InvokePolicy {
    /// One callee only (the default); a second registration fails.
    #[default]
    Single,
    /// Callees in turn.
    RoundRobin,
    /// A random callee.
    Random,
    /// The first callee that registered.
    First,
    /// The last callee that registered.
    Last,
}

impl InvokePolicy {
    /// The wire spelling.
    pub const fn as_str(self) -> &'static str {
        match self {
            InvokePolicy::Single => "single",
            InvokePolicy::RoundRobin => "roundrobin",
            InvokePolicy::Random => "random",
            InvokePolicy::First => "first",
            InvokePolicy::Last => "last",
        }
    }
    /// Parses the wire spelling.
    pub fn from_wire(s: &str) -> Option<Self> {
        Some(match s {
            "single" => InvokePolicy::Single,
            "roundrobin" => InvokePolicy::RoundRobin,
            "random" => InvokePolicy::Random,
            "first" => InvokePolicy::First,
            "last" => InvokePolicy::Last,
            _ => return None,
        })
    }
}

/// How a call is canceled (`CANCEL.Options.mode`, `INTERRUPT.Options.mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CancelMode {
    /// Fail the call at once; the callee is not told.
    Skip,
    /// Interrupt the callee and wait for its answer.
    Kill,
    /// Interrupt the callee and fail the call at once.
    KillNoWait,
}

impl CancelMode {
    /// The wire spelling.
    pub const fn as_str(self) -> &'static str {
        match self {
            CancelMode::Skip => "skip",
            CancelMode::Kill => "kill",
            CancelMode::KillNoWait => "killnowait",
        }
    }
    /// Parses the wire spelling.
    pub fn from_wire(s: &str) -> Option<Self> {
        Some(match s {
            "skip" => CancelMode::Skip,
            "kill" => CancelMode::Kill,
            "killnowait" => CancelMode::KillNoWait,
            _ => return None,
        })
    }
}

macro_rules! bool_keys {
    ($($(#[$doc:meta])* $key:ident, $with:ident;)*) => {
        impl Dict {
            $(
                $(#[$doc])*
                pub fn $key(&self) -> Option<bool> {
                    self.get_bool(stringify!($key))
                }
                #[doc = concat!("Sets `", stringify!($key), "`.")]
                #[must_use]
                pub fn $with(self, value: bool) -> Self {
                    self.with(stringify!($key), value)
                }
            )*
        }
    };
}

macro_rules! str_keys {
    ($($(#[$doc:meta])* $key:ident, $with:ident;)*) => {
        impl Dict {
            $(
                $(#[$doc])*
                pub fn $key(&self) -> Option<&str> {
                    self.get_str(stringify!($key))
                }
                #[doc = concat!("Sets `", stringify!($key), "`.")]
                #[must_use]
                pub fn $with(self, value: impl Into<String>) -> Self {
                    self.with(stringify!($key), value.into())
                }
            )*
        }
    };
}

macro_rules! str_list_keys {
    ($($(#[$doc:meta])* $key:ident, $with:ident;)*) => {
        impl Dict {
            $(
                $(#[$doc])*
                pub fn $key(&self) -> Option<Vec<&str>> {
                    self.get_str_list(stringify!($key))
                }
                #[doc = concat!("Sets `", stringify!($key), "`.")]
                #[must_use]
                pub fn $with<S: Into<String>>(self, values: impl IntoIterator<Item = S>) -> Self {
                    let list: Vec<Value> = values.into_iter().map(|s| Value::String(s.into())).collect();
                    self.with(stringify!($key), list)
                }
            )*
        }
    };
}

macro_rules! session_keys {
    ($($(#[$doc:meta])* $key:ident, $with:ident;)*) => {
        impl Dict {
            $(
                $(#[$doc])*
                pub fn $key(&self) -> Option<SessionId> {
                    self.get_id(stringify!($key)).map(SessionId)
                }
                #[doc = concat!("Sets `", stringify!($key), "`.")]
                #[must_use]
                pub fn $with(self, value: SessionId) -> Self {
                    self.with(stringify!($key), value.get())
                }
            )*
        }
    };
}

macro_rules! session_list_keys {
    ($($(#[$doc:meta])* $key:ident, $with:ident;)*) => {
        impl Dict {
            $(
                $(#[$doc])*
                pub fn $key(&self) -> Option<Vec<SessionId>> {
                    self.get(stringify!($key))?
                        .as_list()?
                        .iter()
                        .map(|v| v.as_u64().and_then(SessionId::new))
                        .collect()
                }
                #[doc = concat!("Sets `", stringify!($key), "`.")]
                #[must_use]
                pub fn $with(self, values: impl IntoIterator<Item = SessionId>) -> Self {
                    let list: Vec<Value> = values.into_iter().map(|s| Value::UInt(s.get())).collect();
                    self.with(stringify!($key), list)
                }
            )*
        }
    };
}

bool_keys! {
    /// PUBLISH: ask the broker for a PUBLISHED acknowledgement.
    acknowledge, with_acknowledge;
    /// PUBLISH: `false` lets the publisher receive its own event (default `true`).
    exclude_me, with_exclude_me;
    /// CALL/PUBLISH: ask the router to disclose the caller/publisher identity.
    disclose_me, with_disclose_me;
    /// PUBLISH: keep this event as the topic's retained event.
    retain, with_retain;
    /// SUBSCRIBE: deliver the topic's retained event on subscribing.
    get_retained, with_get_retained;
    /// EVENT: this event is a retained one.
    retained, with_retained;
    /// CALL: the caller accepts progressive results; INVOCATION: the callee may send them.
    receive_progress, with_receive_progress;
    /// RESULT/YIELD/CALL/INVOCATION: this is a progressive (non-final) part.
    progress, with_progress;
    /// REGISTER: ask the dealer to disclose callers to this callee.
    disclose_caller, with_disclose_caller;
    /// REGISTER: forward the caller's timeout to the callee.
    forward_timeout, with_forward_timeout;
}

str_keys! {
    /// EVENT: the publisher's authid (when disclosed).
    publisher_authid, with_publisher_authid;
    /// EVENT: the publisher's authrole (when disclosed).
    publisher_authrole, with_publisher_authrole;
    /// INVOCATION: the caller's authid (when disclosed).
    caller_authid, with_caller_authid;
    /// INVOCATION: the caller's authrole (when disclosed).
    caller_authrole, with_caller_authrole;
    /// EVENT (pattern subscriptions): the concrete topic.
    topic, with_topic;
    /// INVOCATION (pattern registrations): the concrete procedure.
    procedure, with_procedure;
    /// HELLO/WELCOME: the authentication id.
    authid, with_authid;
    /// HELLO/WELCOME: the authentication role.
    authrole, with_authrole;
    /// WELCOME: the method that authenticated the session.
    authmethod, with_authmethod;
    /// WELCOME: who authenticated the session.
    authprovider, with_authprovider;
    /// HELLO/WELCOME: the peer's software.
    agent, with_agent;
    /// ABORT/GOODBYE: a human-readable message.
    message, with_message;
    /// INTERRUPT and revocations: why.
    reason, with_reason;
}

str_list_keys! {
    /// HELLO: the authentication methods the client offers, in order of preference.
    authmethods, with_authmethods;
    /// PUBLISH: authids that must not receive the event.
    exclude_authid, with_exclude_authid;
    /// PUBLISH: authroles that must not receive the event.
    exclude_authrole, with_exclude_authrole;
    /// PUBLISH: only these authids may receive the event.
    eligible_authid, with_eligible_authid;
    /// PUBLISH: only these authroles may receive the event.
    eligible_authrole, with_eligible_authrole;
}

session_keys! {
    /// EVENT: the publisher's session (when disclosed).
    publisher, with_publisher;
    /// INVOCATION: the caller's session (when disclosed).
    caller, with_caller;
}

session_list_keys! {
    /// PUBLISH: sessions that must not receive the event.
    exclude, with_exclude;
    /// PUBLISH: only these sessions may receive the event.
    eligible, with_eligible;
}

impl Dict {
    /// An empty dictionary.
    pub fn new() -> Self {
        Dict(Map::new())
    }
    /// The value under `key`.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.0.get(key)
    }
    /// Sets `key` (replacing any value) and returns the old value.
    pub fn insert(&mut self, key: impl Into<String>, value: impl Into<Value>) -> Option<Value> {
        self.0.insert(key.into(), value.into())
    }
    /// Builder form of [`Dict::insert`].
    #[must_use]
    pub fn with(mut self, key: impl Into<String>, value: impl Into<Value>) -> Self {
        self.insert(key, value);
        self
    }
    /// Removes `key`.
    pub fn remove(&mut self, key: &str) -> Option<Value> {
        self.0.remove(key)
    }
    /// Whether `key` is present.
    pub fn contains_key(&self, key: &str) -> bool {
        self.0.contains_key(key)
    }
    /// Number of keys.
    pub fn len(&self) -> usize {
        self.0.len()
    }
    /// Whether there are no keys.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    /// The keys and values, sorted by key.
    pub fn iter(&self) -> btree_map::Iter<'_, String, Value> {
        self.0.iter()
    }
    /// The underlying map.
    pub fn as_map(&self) -> &Map {
        &self.0
    }
    /// The underlying map, owned.
    pub fn into_map(self) -> Map {
        self.0
    }

    /// `key` as a bool.
    pub fn get_bool(&self, key: &str) -> Option<bool> {
        self.get(key)?.as_bool()
    }
    /// `key` as a string.
    pub fn get_str(&self, key: &str) -> Option<&str> {
        self.get(key)?.as_str()
    }
    /// `key` as a non-negative integer.
    pub fn get_u64(&self, key: &str) -> Option<u64> {
        self.get(key)?.as_u64()
    }
    /// `key` as an ID.
    pub fn get_id(&self, key: &str) -> Option<Id> {
        self.get_u64(key).and_then(Id::new)
    }
    /// `key` as a map.
    pub fn get_map(&self, key: &str) -> Option<&Map> {
        self.get(key)?.as_map()
    }
    /// `key` as a list of strings (`None` if any item is not a string).
    pub fn get_str_list(&self, key: &str) -> Option<Vec<&str>> {
        self.get(key)?
            .as_list()?
            .iter()
            .map(Value::as_str)
            .collect()
    }

    /// SUBSCRIBE/REGISTER: the match policy (`None` when absent, which means exact).
    pub fn match_policy(&self) -> Option<MatchPolicy> {
        MatchPolicy::from_wire(self.get_str("match")?)
    }
    /// Sets `match` (omitted for exact, the default, as Autobahn does).
    #[must_use]
    pub fn with_match_policy(mut self, policy: MatchPolicy) -> Self {
        match policy {
            MatchPolicy::Exact => {
                self.remove("match");
                self
            }
            _ => self.with("match", policy.as_str()),
        }
    }
    /// REGISTER: the shared-registration policy.
    pub fn invoke(&self) -> Option<InvokePolicy> {
        InvokePolicy::from_wire(self.get_str("invoke")?)
    }
    /// Sets `invoke`.
    #[must_use]
    pub fn with_invoke(self, policy: InvokePolicy) -> Self {
        self.with("invoke", policy.as_str())
    }
    /// CANCEL/INTERRUPT: the cancel mode.
    pub fn mode(&self) -> Option<CancelMode> {
        CancelMode::from_wire(self.get_str("mode")?)
    }
    /// Sets `mode`.
    #[must_use]
    pub fn with_mode(self, mode: CancelMode) -> Self {
        self.with("mode", mode.as_str())
    }
    /// CALL/INVOCATION: the timeout in milliseconds (`0` means none).
    pub fn timeout(&self) -> Option<u64> {
        self.get_u64("timeout")
    }
    /// Sets `timeout` in milliseconds.
    #[must_use]
    pub fn with_timeout(self, millis: u64) -> Self {
        self.with("timeout", millis)
    }
    /// INVOCATION/EVENT: the trust level assigned by the router.
    pub fn trustlevel(&self) -> Option<u64> {
        self.get_u64("trustlevel")
    }
    /// UNSUBSCRIBED revocation: the revoked subscription.
    pub fn subscription(&self) -> Option<SubscriptionId> {
        self.get_id("subscription").map(SubscriptionId)
    }
    /// UNREGISTERED revocation: the revoked registration.
    pub fn registration(&self) -> Option<RegistrationId> {
        self.get_id("registration").map(RegistrationId)
    }
    /// HELLO/WELCOME: extra authentication data.
    pub fn authextra(&self) -> Option<&Map> {
        self.get_map("authextra")
    }
    /// Sets `authextra`.
    #[must_use]
    pub fn with_authextra(self, extra: Map) -> Self {
        self.with("authextra", extra)
    }

    /// HELLO/WELCOME: the announced roles, each mapping to its details (with `features`).
    pub fn roles(&self) -> Option<&Map> {
        self.get_map("roles")
    }
    /// The `features` announced for `role`, if the role is announced.
    pub fn role_features(&self, role: &str) -> Option<&Map> {
        self.roles()?.get(role)?.as_map()?.get("features")?.as_map()
    }
    /// Whether `role` is announced.
    pub fn has_role(&self, role: &str) -> bool {
        self.roles().is_some_and(|r| r.contains_key(role))
    }
    /// Whether `role` announces `feature` as `true`.
    pub fn has_feature(&self, role: &str, feature: &str) -> bool {
        self.role_features(role)
            .and_then(|f| f.get(feature))
            .and_then(Value::as_bool)
            .unwrap_or(false)
    }
    /// Announces `role` with the given features set to `true` (replacing that role's entry).
    #[must_use]
    pub fn with_role<'a>(
        mut self,
        role: &str,
        features: impl IntoIterator<Item = &'a str>,
    ) -> Self {
        let features: Map = features
            .into_iter()
            .map(|f| (f.to_owned(), Value::Bool(true)))
            .collect();
        let mut entry = Map::new();
        if !features.is_empty() {
            entry.insert("features".into(), Value::Map(features));
        }
        let mut roles = match self.0.remove("roles") {
            Some(Value::Map(m)) => m,
            _ => Map::new(),
        };
        roles.insert(role.to_owned(), Value::Map(entry));
        self.0.insert("roles".into(), Value::Map(roles));
        self
    }

    /// Checks the types of the well-known keys. On failure, names the key and says why.
    pub fn check_known_keys(&self) -> Result<(), (&'static str, String)> {
        for (key, value) in &self.0 {
            let Some(&(name, rule)) = KEY_RULES.iter().find(|(k, _)| *k == key.as_str()) else {
                continue;
            };
            rule.check(value).map_err(|why| (name, why))?;
        }
        Ok(())
    }
}

impl fmt::Debug for Dict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(&self.0).finish()
    }
}

impl From<Map> for Dict {
    fn from(m: Map) -> Dict {
        Dict(m)
    }
}

impl From<Dict> for Map {
    fn from(d: Dict) -> Map {
        d.0
    }
}

impl<K: Into<String>, V: Into<Value>> FromIterator<(K, V)> for Dict {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        Dict(
            iter.into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        )
    }
}

impl<'a> IntoIterator for &'a Dict {
    type Item = (&'a String, &'a Value);
    type IntoIter = btree_map::Iter<'a, String, Value>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

include!("dict/key_rules.rs");

impl Rule {
    fn check(self, v: &Value) -> Result<(), String> {
        let want = |what: &str| format!("must be {what}, got {}", v.kind());
        match self {
            Rule::Bool => v.as_bool().map(drop).ok_or_else(|| want("a bool")),
            Rule::Str => v.as_str().map(drop).ok_or_else(|| want("a string")),
            Rule::Uint => v
                .as_u64()
                .map(drop)
                .ok_or_else(|| want("a non-negative integer")),
            Rule::Id => match v.as_u64() {
                Some(n) if Id::new(n).is_some() => Ok(()),
                Some(n) => Err(format!("{n} is not an ID in 1..=2^53")),
                None => Err(want("an ID")),
            },
            Rule::IdList => match v.as_list() {
                Some(l) if l.iter().all(|x| x.as_u64().and_then(Id::new).is_some()) => Ok(()),
                Some(_) => Err("must be a list of IDs in 1..=2^53".into()),
                None => Err(want("a list of IDs")),
            },
            Rule::StrList => match v.as_list() {
                Some(l) if l.iter().all(|x| x.as_str().is_some()) => Ok(()),
                Some(_) => Err("must be a list of strings".into()),
                None => Err(want("a list of strings")),
            },
            Rule::Uri => match v.as_str() {
                Some(s) => UriRule::Loose
                    .check(s)
                    .map_err(|e| format!("not a valid URI: {e}")),
                None => Err(want("a URI string")),
            },
            Rule::Map => v.as_map().map(drop).ok_or_else(|| want("a dict")),
            Rule::OneOf(names) | Rule::OneOfOrCustom(names) => {
                let s = v.as_str().ok_or_else(|| want("a string"))?;
                let custom = matches!(self, Rule::OneOfOrCustom(_)) && s.starts_with("x_");
                if names.contains(&s) || custom {
                    Ok(())
                } else {
                    Err(format!("{s:?} is not one of {names:?}"))
                }
            }
            Rule::ForwardFor => {
                let list = v.as_list().ok_or_else(|| want("a list"))?;
                for hop in list {
                    let m = hop.as_map().ok_or("items must be dicts")?;
                    if let Some(s) = m.get("session") {
                        Rule::Id.check(s).map_err(|e| format!("session {e}"))?;
                    }
                    for k in ["authid", "authrole"] {
                        if m.get(k).is_some_and(|x| x.as_str().is_none()) {
                            return Err(format!("{k} must be a string"));
                        }
                    }
                }
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_accessors_read_what_builders_write() {
        let s = SessionId::new(7).unwrap_or(SessionId(Id::MIN));
        let d = Dict::new()
            .with_acknowledge(true)
            .with_exclude([s])
            .with_eligible_authrole(["admin"])
            .with_match_policy(MatchPolicy::Prefix)
            .with_invoke(InvokePolicy::RoundRobin)
            .with_mode(CancelMode::KillNoWait)
            .with_timeout(1500)
            .with_role("caller", ["progressive_call_results", "call_canceling"])
            .with("_custom_key", "kept");
        assert_eq!(d.acknowledge(), Some(true));
        assert_eq!(d.exclude(), Some(vec![s]));
        assert_eq!(d.eligible_authrole(), Some(vec!["admin"]));
        assert_eq!(d.match_policy(), Some(MatchPolicy::Prefix));
        assert_eq!(d.invoke(), Some(InvokePolicy::RoundRobin));
        assert_eq!(d.mode(), Some(CancelMode::KillNoWait));
        assert_eq!(d.timeout(), Some(1500));
        assert!(d.has_feature("caller", "call_canceling"));
        assert!(!d.has_feature("caller", "progressive_call_invocations"));
        assert!(!d.has_role("callee"));
        assert_eq!(d.get_str("_custom_key"), Some("kept"));
        assert_eq!(d.check_known_keys(), Ok(()));
        assert_eq!(d.exclude_me(), None);
    }

    #[test]
    fn known_keys_are_type_checked() {
        let bad = [
            ("acknowledge", Value::from("hello")),
            ("acknowledge", Value::from(1u64)),
            ("exclude", Value::List(vec![Value::from("x")])),
            ("exclude", Value::List(vec![Value::UInt(0)])),
            ("match", Value::from("invalid")),
            ("publisher", Value::from("hello")),
            ("topic", Value::from(123u64)),
            ("topic", Value::from("a..b")),
            ("enc_algo", Value::from("invalid")),
            ("forward_for", Value::from("hello")),
        ];
        for (key, value) in bad {
            let d = Dict::new().with(key, value.clone());
            let err = d.check_known_keys().err();
            assert_eq!(err.as_ref().map(|e| e.0), Some(key), "{key} = {value:?}");
        }
        let d = Dict::new()
            .with("enc_algo", "x_mine")
            .with("unknown", Value::from("anything"));
        assert_eq!(d.check_known_keys(), Ok(()));
    }
}
