//! The index of URI patterns that the broker (subscriptions) and the dealer
//! (registrations) both keep: exact URIs, prefixes and wildcard patterns, each mapped to
//! the ID registered under it, and the lookups each role needs.

use wamp_proto::{IdHashMap, Map, MatchPolicy, PeerHashMap, SessionId, Uri, Value};

/// Patterns of the three match policies, one ID per pattern and policy.
#[derive(Debug)]
pub(crate) struct PatternIndex<I> {
    exact: PeerHashMap<Uri, I>,
    prefix: PeerHashMap<Uri, I>,
    /// Wildcard patterns by their number of components: only a URI with as many
    /// components can match one.
    wildcard: IdHashMap<usize, PeerHashMap<Uri, I>>,
}

// Not derived: a derive would ask `I: Default`.
impl<I> Default for PatternIndex<I> {
    fn default() -> Self {
        PatternIndex {
            exact: PeerHashMap::default(),
            prefix: PeerHashMap::default(),
            wildcard: IdHashMap::default(),
        }
    }
}

/// The meta API's description of a subscription or registration: its ID, URI and match
/// policy (a registration adds its invocation policy).
pub(crate) fn pattern_details(id: u64, uri: &Uri, policy: MatchPolicy) -> Map {
    let mut m = Map::new();
    m.insert("id".into(), Value::UInt(id));
    m.insert("uri".into(), Value::from(uri.as_str()));
    m.insert("match".into(), Value::from(policy.as_str()));
    m
}

/// How many subscriptions (or registrations) each session holds, against the
/// per-session limit.
#[derive(Debug, Default)]
pub(crate) struct Held(IdHashMap<SessionId, usize>);

impl Held {
    /// `Err` with the refusal's message when `session` already holds `limit` `what`s.
    pub(crate) fn room(&self, session: SessionId, limit: usize, what: &str) -> Result<(), String> {
        let held = self.0.get(&session).copied().unwrap_or(0);
        if held < limit {
            return Ok(());
        }
        Err(format!(
            "session {session} already holds {held} {what}, the most allowed"
        ))
    }

    pub(crate) fn add(&mut self, session: SessionId) {
        *self.0.entry(session).or_default() += 1;
    }

    pub(crate) fn release(&mut self, session: SessionId) {
        if let Some(n) = self.0.get_mut(&session) {
            *n -= 1;
            if *n == 0 {
                self.0.remove(&session);
            }
        }
    }
}

fn components(uri: &str) -> usize {
    uri.split('.').count()
}

/// The spec's wildcard precedence: compare the lengths of the runs of fixed components
/// between wildcards, first run first ("a1.b2.c3..e5" = [3, 1] beats "a1.b2..d4.e5" =
/// [2, 2]).
fn wildcard_rank(pattern: &str) -> Vec<usize> {
    let parts: Vec<&str> = pattern.split('.').collect();
    parts.split(|c| c.is_empty()).map(<[&str]>::len).collect()
}

/// The ends of every proper prefix of `uri` (at character boundaries), shortest first.
fn prefix_ends(uri: &str) -> impl DoubleEndedIterator<Item = usize> + '_ {
    uri.char_indices().map(|(i, _)| i).filter(|&i| i > 0)
}

impl<I: Copy + Ord> PatternIndex<I> {
    /// Files `id` under `pattern`; a previous ID for the same pattern and policy is
    /// replaced (the caller looks it up first).
    pub(crate) fn insert(&mut self, pattern: &Uri, policy: MatchPolicy, id: I) {
        let index = match policy {
            MatchPolicy::Exact => &mut self.exact,
            MatchPolicy::Prefix => &mut self.prefix,
            MatchPolicy::Wildcard => self.wildcard.entry(components(pattern)).or_default(),
        };
        index.insert(pattern.clone(), id);
    }

    pub(crate) fn remove(&mut self, pattern: &Uri, policy: MatchPolicy) {
        match policy {
            MatchPolicy::Exact => {
                self.exact.remove(pattern);
            }
            MatchPolicy::Prefix => {
                self.prefix.remove(pattern);
            }
            MatchPolicy::Wildcard => {
                let n = components(pattern);
                if let Some(m) = self.wildcard.get_mut(&n) {
                    m.remove(pattern);
                    if m.is_empty() {
                        self.wildcard.remove(&n);
                    }
                }
            }
        }
    }

    /// The ID filed under exactly this pattern and policy.
    pub(crate) fn lookup(&self, pattern: &str, policy: MatchPolicy) -> Option<I> {
        match policy {
            MatchPolicy::Exact => self.exact.get(pattern).copied(),
            MatchPolicy::Prefix => self.prefix.get(pattern).copied(),
            MatchPolicy::Wildcard => self
                .wildcard
                .get(&components(pattern))
                .and_then(|m| m.get(pattern))
                .copied(),
        }
    }

    /// Every ID whose pattern matches `uri` (the broker's rule: all of them), sorted.
    pub(crate) fn matching(&self, uri: &str) -> Vec<I> {
        let mut out = Vec::new();
        out.extend(self.exact.get(uri));
        if !self.prefix.is_empty() {
            // A prefix matches by plain string prefix: look up every prefix of the URI
            // rather than scanning every pattern.
            out.extend(prefix_ends(uri).filter_map(|i| self.prefix.get(&uri[..i])));
            out.extend(self.prefix.get(uri));
        }
        if let Some(candidates) = self.wildcard.get(&components(uri)) {
            out.extend(
                candidates
                    .iter()
                    .filter(|(p, _)| p.matches(MatchPolicy::Wildcard, uri))
                    .map(|(_, id)| id),
            );
        }
        out.sort();
        out
    }

    /// The one ID a call to `uri` goes to (the dealer's rule): the exact pattern, else
    /// the longest prefix, else the best wildcard by the spec's precedence, ties going
    /// to the lowest ID (the oldest registration).
    pub(crate) fn best(&self, uri: &str) -> Option<I> {
        if let Some(id) = self.exact.get(uri) {
            return Some(*id);
        }
        if !self.prefix.is_empty() {
            let longest = self.prefix.get(uri).or_else(|| {
                prefix_ends(uri)
                    .rev()
                    .find_map(|i| self.prefix.get(&uri[..i]))
            });
            if let Some(id) = longest {
                return Some(*id);
            }
        }
        self.wildcard
            .get(&components(uri))?
            .iter()
            .filter(|(p, _)| p.matches(MatchPolicy::Wildcard, uri))
            .max_by(|(pa, ia), (pb, ib)| {
                wildcard_rank(pa)
                    .cmp(&wildcard_rank(pb))
                    .then_with(|| ib.cmp(ia))
            })
            .map(|(_, id)| *id)
    }

    /// The IDs per policy (exact, prefix, wildcard), each list sorted.
    pub(crate) fn list(&self) -> [Vec<I>; 3] {
        let sorted = |mut ids: Vec<I>| {
            ids.sort();
            ids
        };
        [
            sorted(self.exact.values().copied().collect()),
            sorted(self.prefix.values().copied().collect()),
            sorted(
                self.wildcard
                    .values()
                    .flat_map(|m| m.values().copied())
                    .collect(),
            ),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn index(patterns: &[(&str, MatchPolicy, u32)]) -> PatternIndex<u32> {
        let mut index = PatternIndex::default();
        for &(p, policy, id) in patterns {
            index.insert(&Uri::parse_pattern(p, policy).expect("pattern"), policy, id);
        }
        index
    }

    #[test]
    fn wildcard_precedence_follows_the_spec_examples() {
        let rank = |p: &str| wildcard_rank(p);
        assert!(rank("a1.b2.c3..e5") > rank("a1.b2..d4.e5"));
        assert!(rank("a1.b2..d4.e5..g7") > rank("a1.b2..d4..f6.g7"));
        assert!(rank("a1.b2..d4") > rank("a1...d4"));
    }

    #[test]
    fn matching_finds_every_policy_and_best_follows_precedence() {
        use MatchPolicy::*;
        let index = index(&[
            ("a.b.c", Exact, 1),
            ("a.b", Prefix, 2),
            ("a", Prefix, 3),
            ("a..c", Wildcard, 4),
            ("a.b.", Wildcard, 5),
            ("x..", Wildcard, 6),
        ]);
        assert_eq!(index.matching("a.b.c"), vec![1, 2, 3, 4, 5]);
        assert_eq!(index.best("a.b.c"), Some(1));
        assert_eq!(index.best("a.b.d"), Some(2), "the longest prefix");
        assert_eq!(index.best("a.x"), Some(3));
        assert_eq!(index.matching("x.y.z"), vec![6]);
        assert_eq!(index.best("q.r"), None);
        assert_eq!(index.list(), [vec![1], vec![2, 3], vec![4, 5, 6]]);
    }

    #[test]
    fn wildcard_ties_go_to_the_lowest_id_and_removal_forgets() {
        use MatchPolicy::*;
        let mut index = index(&[("a..c", Wildcard, 9), ("a.b.", Wildcard, 7)]);
        // [1, 1] against [2, 0]: the longer first run wins.
        assert_eq!(index.best("a.b.c"), Some(7));
        index.insert(
            &Uri::parse_pattern("a..c", Wildcard).expect("pattern"),
            Wildcard,
            3,
        );
        index.remove(
            &Uri::parse_pattern("a.b.", Wildcard).expect("pattern"),
            Wildcard,
        );
        assert_eq!(index.best("a.b.c"), Some(3));
        assert_eq!(index.lookup("a..c", Wildcard), Some(3));
        index.remove(
            &Uri::parse_pattern("a..c", Wildcard).expect("pattern"),
            Wildcard,
        );
        assert!(index.wildcard.is_empty(), "an empty bucket is dropped");
        assert_eq!(index.best("a.b.c"), None);
    }
}
