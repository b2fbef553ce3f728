//! Seeded randomness: one generator per host, so that what happens on a host does not
//! depend on the order in which hosts are driven.

use rand_chacha::ChaCha8Rng;
use rand_core::{Rng, SeedableRng};

use crate::Ms;

/// A host's generator.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct HostRng(ChaCha8Rng);

impl HostRng {
    /// The generator of host `name` under `seed`.
    pub fn new(seed: u64, name: &str) -> Self {
        // FNV-1a of the name, mixed with the seed.
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in name.bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        Self(ChaCha8Rng::seed_from_u64(seed ^ h.rotate_left(17)))
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.0.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform duration between `lo` and `hi` seconds, in milliseconds.
    pub fn secs(&mut self, lo: f64, hi: f64) -> Ms {
        ((lo + (hi - lo) * self.unit()) * 1000.0).round() as Ms
    }

    /// Triangular duration (min, mode, max) in minutes, in milliseconds.
    pub fn triangular_minutes(&mut self, min: f64, mode: f64, max: f64) -> Ms {
        let u = self.unit();
        let c = (mode - min) / (max - min);
        let x = if u < c {
            min + ((max - min) * (mode - min) * u).sqrt()
        } else {
            max - ((max - min) * (max - mode) * (1.0 - u)).sqrt()
        };
        (x * 60_000.0).round() as Ms
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }
}
