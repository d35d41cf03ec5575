//! WAMP IDs: integers in `1..=2^53`, and the generators for the two ID scopes that a
//! peer assigns itself.
//!
//! The spec restricts IDs to `[1, 2^53]` so that every ID is exact in an IEEE double
//! (JavaScript peers) and non-zero (falsy in many languages). Request ID `0` appears on
//! the wire only in the revocation forms of UNSUBSCRIBED and UNREGISTERED, which the
//! message types model as `Option<RequestId>` instead of admitting `0` here.

use std::fmt;

/// The largest valid ID, `2^53`.
pub const MAX_ID: u64 = 1 << 53;

/// A WAMP ID: an integer in `1..=2^53`.
///
/// Construct with [`Id::new`] or `TryFrom<u64>`; the range is checked once, so holders of an
/// `Id` never re-validate.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Id(u64);

/// An integer was outside the ID range `1..=2^53`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{0} is not a WAMP ID (must be in 1..=2^53)")]
pub struct IdOutOfRange(pub u64);

impl Id {
    /// The smallest ID, `1`.
    pub const MIN: Id = Id(1);
    /// The largest ID, `2^53`.
    pub const MAX: Id = Id(MAX_ID);

    /// `Some(id)` when `value` is in `1..=2^53`.
    pub const fn new(value: u64) -> Option<Id> {
        if value >= 1 && value <= MAX_ID {
            Some(Id(value))
        } else {
            None
        }
    }

    /// The integer value.
    pub const fn get(self) -> u64 {
        self.0
    }

    /// The next ID in session scope: `+1`, wrapping from `2^53` back to `1`.
    pub const fn next_wrapping(self) -> Id {
        if self.0 == MAX_ID {
            Id(1)
        } else {
            Id(self.0 + 1)
        }
    }

    /// A uniformly random ID over `1..=2^53`, for global-scope IDs (session and publication
    /// IDs). The randomness is injected so that tests and fuzzers are deterministic.
    pub fn random<R: rand_core::RngCore + ?Sized>(rng: &mut R) -> Id {
        // The top 53 bits of a uniform u64 are uniform over [0, 2^53 - 1]; +1 shifts the
        // range onto [1, 2^53] exactly, with no rejection loop needed.
        Id((rng.next_u64() >> 11) + 1)
    }
}

impl TryFrom<u64> for Id {
    type Error = IdOutOfRange;
    fn try_from(value: u64) -> Result<Self, Self::Error> {
        Id::new(value).ok_or(IdOutOfRange(value))
    }
}

impl From<Id> for u64 {
    fn from(id: Id) -> u64 {
        id.0
    }
}

impl fmt::Debug for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

macro_rules! id_newtype {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(pub Id);

        impl $name {
            /// `Some` when `value` is in `1..=2^53`.
            pub const fn new(value: u64) -> Option<Self> {
                match Id::new(value) {
                    Some(id) => Some($name(id)),
                    None => None,
                }
            }
            /// The integer value.
            pub const fn get(self) -> u64 {
                self.0.get()
            }
        }

        impl From<Id> for $name {
            fn from(id: Id) -> Self {
                $name(id)
            }
        }

        impl From<$name> for Id {
            fn from(id: $name) -> Id {
                id.0
            }
        }

        impl TryFrom<u64> for $name {
            type Error = IdOutOfRange;
            fn try_from(value: u64) -> Result<Self, Self::Error> {
                Id::try_from(value).map($name)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($name), "({})"), self.0.get())
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0, f)
            }
        }
    };
}

id_newtype!(
    /// A request ID (session scope): sequential per session and per direction.
    RequestId
);
id_newtype!(
    /// A session ID (global scope): random, assigned by the router in WELCOME.
    SessionId
);
id_newtype!(
    /// A subscription ID (router scope), from SUBSCRIBED.
    SubscriptionId
);
id_newtype!(
    /// A registration ID (router scope), from REGISTERED.
    RegistrationId
);
id_newtype!(
    /// A publication ID (global scope), from PUBLISHED and EVENT.
    PublicationId
);

/// The session-scope request ID sequence: `1, 2, 3, ...`, wrapping to `1` after `2^53`.
///
/// One generator per session and direction. It does not track which IDs are in flight;
/// the session that owns it does.
#[derive(Debug, Clone, Default)]
pub struct RequestIdGenerator {
    last: Option<Id>,
}

impl RequestIdGenerator {
    /// A generator whose first ID is `1`.
    pub const fn new() -> Self {
        RequestIdGenerator { last: None }
    }

    /// The next request ID.
    #[allow(clippy::should_implement_trait)] // not an iterator: it never ends and has no `Item` ambiguity
    pub fn next(&mut self) -> RequestId {
        let id = match self.last {
            None => Id::MIN,
            Some(last) => last.next_wrapping(),
        };
        self.last = Some(id);
        RequestId(id)
    }

    /// The ID most recently returned, if any.
    pub fn last(&self) -> Option<RequestId> {
        self.last.map(RequestId)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn range_is_one_to_two_pow_53() {
        assert_eq!(Id::new(0), None);
        assert_eq!(Id::new(1).map(Id::get), Some(1));
        assert_eq!(Id::new(MAX_ID).map(Id::get), Some(9_007_199_254_740_992));
        assert_eq!(Id::new(MAX_ID + 1), None);
        assert_eq!(Id::try_from(u64::MAX), Err(IdOutOfRange(u64::MAX)));
    }

    #[test]
    fn request_ids_start_at_one_and_wrap() {
        let mut gen = RequestIdGenerator::new();
        assert_eq!(gen.next().get(), 1);
        assert_eq!(gen.next().get(), 2);
        let mut gen = RequestIdGenerator {
            last: Id::new(MAX_ID - 1),
        };
        assert_eq!(gen.next().get(), MAX_ID);
        assert_eq!(gen.next().get(), 1);
    }

    struct Fixed(u64);
    impl rand_core::RngCore for Fixed {
        fn next_u32(&mut self) -> u32 {
            self.0 as u32
        }
        fn next_u64(&mut self) -> u64 {
            self.0
        }
        fn fill_bytes(&mut self, dst: &mut [u8]) {
            dst.fill(0)
        }
    }

    #[test]
    fn random_ids_cover_both_ends_of_the_range() {
        assert_eq!(Id::random(&mut Fixed(0)).get(), 1);
        assert_eq!(Id::random(&mut Fixed(u64::MAX)).get(), MAX_ID);
    }
}

/// A fast hasher for maps keyed by IDs this side assigns or draws at random (connection,
/// session, registration and subscription IDs, timer keys): a multiply-and-rotate over
/// the key's words, a fraction of SipHash's cost on the router's hottest lookups.
///
/// It gives no protection against keys chosen to collide, so maps keyed by what a peer
/// picks (request IDs, URIs) are [`PeerHashMap`]s.
#[derive(Debug, Default, Clone, Copy)]
pub struct IdHasher {
    hash: u64,
}

impl IdHasher {
    const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

    fn add(&mut self, word: u64) {
        self.hash = (self.hash.rotate_left(5) ^ word).wrapping_mul(Self::SEED);
    }
}

impl std::hash::Hasher for IdHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            self.add(u64::from_le_bytes(word));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut word = [0u8; 8];
            word[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(word));
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.add(n);
    }

    fn write_usize(&mut self, n: usize) {
        self.add(n as u64);
    }

    fn write_u32(&mut self, n: u32) {
        self.add(u64::from(n));
    }

    fn write_u8(&mut self, n: u8) {
        self.add(u64::from(n));
    }

    fn write_isize(&mut self, n: isize) {
        self.add(n as u64);
    }

    fn finish(&self) -> u64 {
        self.hash
    }
}

/// Builds [`IdHasher`]s.
pub type BuildIdHasher = std::hash::BuildHasherDefault<IdHasher>;

/// A `HashMap` keyed by IDs this side assigns (see [`IdHasher`]).
pub type IdHashMap<K, V> = std::collections::HashMap<K, V, BuildIdHasher>;

/// A `HashMap` keyed by what a peer picks (request IDs, URIs, role names): foldhash,
/// seeded at random, so a peer cannot choose keys that collide without knowing the
/// seed (a weaker guarantee than SipHash's, the one hashbrown's default gives), at a
/// fraction of SipHash's cost: SipHash was a fifth of the router task's time on
/// 32-byte calls.
pub type PeerHashMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;
