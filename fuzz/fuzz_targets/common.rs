//! What the fuzz targets share: a virtual clock's starting instant and a deterministic
//! generator. Each target includes it with `mod common;`, and not every target uses
//! every item.
#![allow(dead_code)]

use std::sync::OnceLock;
use std::time::Instant;

/// One real instant for the whole run; everything else is virtual.
pub fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    #[allow(clippy::disallowed_methods)]
    *EPOCH.get_or_init(Instant::now)
}

/// A deterministic generator, so a crash reproduces from its input alone.
pub struct XorShift(pub u64);

// Predictable on purpose (a test must reproduce from its input alone); the marker
// lets it stand where the API demands a cryptographic generator.
impl rand_core::CryptoRng for XorShift {}

impl rand_core::RngCore for XorShift {
    fn next_u32(&mut self) -> u32 {
        (self.next_u64() >> 32) as u32
    }
    fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        for b in dest {
            *b = self.next_u64() as u8;
        }
    }
}
