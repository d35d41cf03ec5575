//! A predictable byte source for the authentication tests, shared by the unit tests
//! (`crate::auth::fixed_rng`) and `tests/auth_vectors.rs` (which includes this file).

use std::collections::VecDeque;

/// An RNG that hands out fixed bytes, then zeros, so a client nonce is known in advance.
pub(crate) struct FixedRng(pub(crate) VecDeque<u8>);

// Predictable on purpose (a test must reproduce from its input alone); the marker
// lets it stand where the API demands a cryptographic generator.
impl rand_core::CryptoRng for FixedRng {}

impl rand_core::RngCore for FixedRng {
    fn next_u32(&mut self) -> u32 {
        let mut b = [0; 4];
        self.fill_bytes(&mut b);
        u32::from_le_bytes(b)
    }
    fn next_u64(&mut self) -> u64 {
        let mut b = [0; 8];
        self.fill_bytes(&mut b);
        u64::from_le_bytes(b)
    }
    fn fill_bytes(&mut self, dst: &mut [u8]) {
        for d in dst {
            *d = self.0.pop_front().unwrap_or(0);
        }
    }
}
