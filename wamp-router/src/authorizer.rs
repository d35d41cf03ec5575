//! Authorization: which role may call, register, publish or subscribe on which URI, and
//! whose identity is disclosed without being asked.

use std::collections::HashMap;
use std::fmt;

use wamp_proto::{IdHashMap, PeerHashMap, SessionId, Uri};

use super::config::{Permission, PermissionMatch, RoleConfig};

/// The four actions a permission governs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Action {
    Call,
    Register,
    Publish,
    Subscribe,
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Action::Call => "call",
            Action::Register => "register",
            Action::Publish => "publish",
            Action::Subscribe => "subscribe",
        })
    }
}

/// What a granted permission adds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Grant {
    /// Disclose the caller to callees even if it did not ask.
    pub disclose_caller: bool,
    /// Disclose the publisher to subscribers even if it did not ask.
    pub disclose_publisher: bool,
}

/// A dynamic authorizer's answer for one session, URI and action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Decision {
    pub allow: bool,
    pub disclose: bool,
    /// Kept for later requests; otherwise used once.
    pub cache: bool,
    /// Why not, when not allowed.
    pub why: String,
}

/// The most decisions kept per session; past it the session's are forgotten (and asked
/// for again).
const MAX_DECISIONS: usize = 1024;

/// The roles of one realm, and the decisions of its dynamic authorizers.
#[derive(Debug, Clone, Default)]
pub(crate) struct Authorizer {
    roles: PeerHashMap<String, Vec<Permission>>,
    /// Roles whose requests a procedure decides.
    dynamic: PeerHashMap<String, Uri>,
    decisions: IdHashMap<SessionId, HashMap<(Action, String), Decision>>,
}

impl Authorizer {
    pub fn new(roles: &[RoleConfig]) -> Self {
        Authorizer {
            roles: roles
                .iter()
                .map(|r| (r.name.clone(), r.permissions.clone()))
                .collect(),
            dynamic: roles
                .iter()
                .filter_map(|r| Some((r.name.clone(), r.authorizer.clone()?)))
                .collect(),
            decisions: IdHashMap::default(),
        }
    }

    pub fn has_role(&self, role: &str) -> bool {
        self.roles.contains_key(role)
    }

    /// Whether any role's requests a procedure decides.
    pub fn any_dynamic(&self) -> bool {
        !self.dynamic.is_empty()
    }

    /// The procedure that decides for `role`, if a procedure does.
    pub fn authorizer_of(&self, role: &str) -> Option<&Uri> {
        self.dynamic.get(role)
    }

    /// Whether a decision for `session` doing `action` on `uri` is at hand.
    pub fn decided(&self, session: SessionId, action: Action, uri: &str) -> bool {
        self.decisions
            .get(&session)
            .is_some_and(|d| d.contains_key(&(action, uri.to_owned())))
    }

    pub fn decide(&mut self, session: SessionId, action: Action, uri: &str, decision: Decision) {
        let mine = self.decisions.entry(session).or_default();
        if mine.len() >= MAX_DECISIONS {
            mine.clear();
        }
        mine.insert((action, uri.to_owned()), decision);
    }

    /// Drops a decision that was for one request only, once that request is routed.
    pub fn forget_once(&mut self, session: SessionId, action: Action, uri: &str) {
        if let Some(mine) = self.decisions.get_mut(&session) {
            let key = (action, uri.to_owned());
            if mine.get(&key).is_some_and(|d| !d.cache) {
                mine.remove(&key);
            }
        }
    }

    pub fn forget_session(&mut self, session: SessionId) {
        self.decisions.remove(&session);
    }

    /// Whether `session`, of `authrole`, may do `action` on `uri`; `Err` carries the
    /// message for the `wamp.error.not_authorized` answer.
    pub fn authorize(
        &self,
        session: SessionId,
        authrole: &str,
        action: Action,
        uri: &str,
    ) -> Result<Grant, String> {
        if let Some(procedure) = self.dynamic.get(authrole) {
            let decision = self
                .decisions
                .get(&session)
                .and_then(|d| d.get(&(action, uri.to_owned())));
            return match decision {
                Some(d) if d.allow => Ok(Grant {
                    disclose_caller: d.disclose && action == Action::Call,
                    disclose_publisher: d.disclose && action == Action::Publish,
                }),
                Some(d) => Err(format!(
                    "role {authrole:?} may not {action} {uri}: {}",
                    d.why
                )),
                None => Err(format!(
                    "role {authrole:?} may not {action} {uri}: the authorizer {procedure} was not asked"
                )),
            };
        }
        let Some(permissions) = self.roles.get(authrole) else {
            return Err(format!(
                "role {authrole:?} may not {action} {uri}: the realm defines no such role"
            ));
        };
        let Some(best) = most_specific(permissions, uri) else {
            return Err(format!(
                "role {authrole:?} may not {action} {uri}: no permission covers that URI"
            ));
        };
        let allowed = match action {
            Action::Call => best.allow.call,
            Action::Register => best.allow.register,
            Action::Publish => best.allow.publish,
            Action::Subscribe => best.allow.subscribe,
        };
        if !allowed {
            let rule = match best.match_policy {
                PermissionMatch::Exact => format!("the permission for {:?}", best.uri),
                PermissionMatch::Prefix => format!("the permission for prefix {:?}", best.uri),
                PermissionMatch::Wildcard => {
                    format!("the permission for wildcard {:?}", best.uri)
                }
            };
            return Err(format!(
                "role {authrole:?} may not {action} {uri}: {rule} does not allow it"
            ));
        }
        Ok(Grant {
            disclose_caller: best.disclose.caller,
            disclose_publisher: best.disclose.publisher,
        })
    }
}

/// The permission that decides for `uri`, by Crossbar.io's rule, so that its configs
/// mean the same here:
///
/// 1. Of the exact and prefix permissions (and wildcards without an empty component
///    inside), the one with the longest URI that is a string prefix of `uri` (the later
///    one for equal URIs). If it is not a prefix permission and not exactly `uri`,
///    nothing is allowed by it (an exact permission shadows shorter prefixes).
/// 2. Unless that gave an exact match: of the wildcards (URIs with `..`), the one
///    whose part before its first `..` is the longest string prefix of `uri`; if it
///    covers `uri`, it decides instead.
fn most_specific<'a>(permissions: &'a [Permission], uri: &str) -> Option<&'a Permission> {
    let is_wildcard =
        |p: &Permission| p.match_policy == PermissionMatch::Wildcard && p.uri.contains("..");
    let keyed = permissions
        .iter()
        .filter(|p| !is_wildcard(p) && uri.starts_with(&p.uri))
        .max_by_key(|p| p.uri.len());
    let mut decided = keyed.filter(|p| p.match_policy == PermissionMatch::Prefix || p.uri == uri);
    if decided.is_none_or(|p| p.match_policy != PermissionMatch::Exact) {
        let stem = |p: &Permission| p.uri.find("..").unwrap_or(p.uri.len());
        let wildcard = permissions
            .iter()
            .filter(|p| is_wildcard(p) && uri.starts_with(&p.uri[..stem(p)]))
            .max_by_key(|p| stem(p));
        if let Some(w) = wildcard.filter(|w| wildcard_covers(&w.uri, uri)) {
            decided = Some(w);
        }
    }
    decided
}

/// Whether the wildcard `pattern` (empty components match any one component) covers
/// `uri`.
fn wildcard_covers(pattern: &str, uri: &str) -> bool {
    let (mut want, mut have) = (pattern.split('.'), uri.split('.'));
    loop {
        match (want.next(), have.next()) {
            (None, None) => return true,
            (Some(w), Some(h)) if w.is_empty() || w == h => {}
            _ => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: SessionId = SessionId(wamp_proto::Id::MIN);
    use crate::config::{Allow, Disclose};

    #[test]
    fn the_most_specific_permission_decides() {
        let role = RoleConfig::new("user")
            .permit(Permission::prefix("com.app.", Allow::ALL))
            .permit(Permission::prefix(
                "com.app.admin.",
                Allow {
                    call: true,
                    ..Allow::NONE
                },
            ))
            .permit(
                Permission::exact("com.app.admin.reset", Allow::NONE).disclose(Disclose {
                    caller: true,
                    publisher: false,
                }),
            );
        let authz = Authorizer::new(&[role]);
        assert!(authz
            .authorize(S, "user", Action::Publish, "com.app.x")
            .is_ok());
        assert!(authz
            .authorize(S, "user", Action::Call, "com.app.admin.stop")
            .is_ok());
        let err = authz
            .authorize(S, "user", Action::Register, "com.app.admin.stop")
            .expect_err("narrower prefix forbids");
        assert!(err.contains("com.app.admin."), "{err}");
        assert!(authz
            .authorize(S, "user", Action::Call, "com.app.admin.reset")
            .is_err());
        assert!(authz.authorize(S, "user", Action::Call, "org.x").is_err());
        assert!(authz
            .authorize(S, "nobody", Action::Call, "com.app.x")
            .is_err());
    }

    #[test]
    fn a_wildcard_covers_its_components_and_beats_a_prefix() {
        let wildcard = |uri: &str, allow| Permission {
            match_policy: PermissionMatch::Wildcard,
            ..Permission::exact(uri, allow)
        };
        let calls = Allow {
            call: true,
            ..Allow::NONE
        };
        let role = RoleConfig::new("user")
            .permit(Permission::prefix("com.", Allow::NONE))
            .permit(wildcard("com..update", calls))
            .permit(wildcard("com.shop..update", Allow::NONE));
        let authz = Authorizer::new(&[role]);
        let may = |uri| authz.authorize(S, "user", Action::Call, uri).is_ok();
        assert!(may("com.users.update"));
        // The prefix decides where no wildcard covers the URI.
        assert!(!may("com.users.delete"));
        assert!(!may("com.users.update.more"));
        // The longer part before the empty component is the more specific wildcard.
        assert!(!may("com.shop.cart.update"));
        assert!(wildcard_covers("a..c", "a.b.c") && !wildcard_covers("a..c", "a.b"));
        assert!(wildcard_covers(".b", "a.b") && !wildcard_covers("a..c", "x.b.c"));
    }

    /// Crossbar.io's rule: an exact permission shadows shorter prefixes, and only the
    /// wildcard with the longest stem is tried.
    #[test]
    fn an_exact_permission_shadows_shorter_prefixes_as_in_crossbar() {
        let role = RoleConfig::new("user")
            .permit(Permission::prefix("com.app.", Allow::ALL))
            .permit(Permission::exact("com.app.admin", Allow::NONE));
        let authz = Authorizer::new(&[role]);
        let may = |uri| authz.authorize(S, "user", Action::Call, uri).is_ok();
        assert!(may("com.app.x"));
        assert!(!may("com.app.admin"));
        assert!(
            !may("com.app.admin.reset"),
            "the exact permission is the longest key"
        );
        // A wildcard without an inner `..` (a starred `*.update`) covers nothing else.
        let role = RoleConfig::new("user").permit(Permission {
            match_policy: PermissionMatch::Wildcard,
            ..Permission::exact(".update", Allow::ALL)
        });
        let authz = Authorizer::new(&[role]);
        assert!(authz
            .authorize(S, "user", Action::Call, "x.update")
            .is_err());
    }
}
