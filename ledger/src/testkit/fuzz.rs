//! A seeded mutation fuzzer that runs on the stable toolchain inside `cargo test` (test support:
//! the fuzz targets of `ledger/tests/fuzz_inputs.rs` and `node/tests/fuzz_wire.rs` use it).
//!
//! Mutations: bit flips, byte overwrites, insertions of interesting bytes (boundary integers,
//! multi-byte and broken UTF-8), deletions, splices from other corpus entries, truncation, runs.
//! It is reproducible: `FUZZ_SEED` picks the sequence, `FUZZ_ITERS` its length (default 4,000
//! per target in CI); a panic names the target, the iteration and the input.
#![allow(clippy::indexing_slicing)]

/// xorshift64*: a reproducible byte source (no dependency, no OS randomness).
pub struct Rng(pub u64);
impl Rng {
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next_u64() % n as u64) as usize
        }
    }
}

const INTERESTING: &[&[u8]] = &[
    &[0xff, 0xff, 0xff, 0xff],
    &[0, 0, 0, 0],
    &[0xff, 0xff, 0xff, 0x7f],
    &[0, 0, 0, 0x80],
    &[0xff; 8],
    "é".as_bytes(),
    "€".as_bytes(),
    "𝄞".as_bytes(),
    &[0xc3],
    &[0xed, 0xa0, 0x80],
];

pub fn mutate(rng: &mut Rng, input: &[u8], corpus: &[Vec<u8>]) -> Vec<u8> {
    let mut v = input.to_vec();
    for _ in 0..1 + rng.below(4) {
        match rng.below(7) {
            0 if !v.is_empty() => {
                let i = rng.below(v.len());
                v[i] ^= 1 << rng.below(8);
            }
            1 if !v.is_empty() => {
                let i = rng.below(v.len());
                v[i] = rng.next_u64() as u8;
            }
            2 => {
                let i = rng.below(v.len() + 1);
                let ins = INTERESTING[rng.below(INTERESTING.len())];
                v.splice(i..i, ins.iter().copied());
            }
            3 if !v.is_empty() => {
                let i = rng.below(v.len());
                let n = 1 + rng.below(16.min(v.len() - i));
                v.drain(i..i + n);
            }
            4 if !corpus.is_empty() => {
                // Splice a piece of another corpus entry.
                let other = &corpus[rng.below(corpus.len())];
                if !other.is_empty() {
                    let a = rng.below(other.len());
                    let b = a + rng.below(other.len() - a);
                    let i = rng.below(v.len() + 1);
                    v.splice(i..i, other[a..b].iter().copied());
                }
            }
            5 => v.truncate(rng.below(v.len() + 1)),
            _ => {
                let i = rng.below(v.len() + 1);
                let n = rng.below(8);
                v.splice(i..i, std::iter::repeat_n(rng.next_u64() as u8, n));
            }
        }
    }
    v
}

pub fn iters() -> usize {
    std::env::var("FUZZ_ITERS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(4_000)
}

pub fn seed() -> u64 {
    std::env::var("FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x7ade_c4a1)
}

/// Run `target` on the corpus and on mutations of it; a panic names the replay.
pub fn fuzz(name: &str, corpus: Vec<Vec<u8>>, target: impl Fn(&[u8])) {
    assert!(!corpus.is_empty(), "{name}: empty corpus");
    for c in &corpus {
        target(c);
    }
    let mut rng = Rng(seed()
        ^ name
            .bytes()
            .fold(0u64, |h, b| h.wrapping_mul(31).wrapping_add(b as u64))
        | 1);
    for i in 0..iters() {
        let base = &corpus[rng.below(corpus.len())];
        let input = mutate(&mut rng, base, &corpus);
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| target(&input)));
        if r.is_err() {
            panic!(
                "fuzz target {name} panicked at iteration {i} (replay: FUZZ_SEED={} FUZZ_ITERS={}); input {}",
                seed(),
                i + 1,
                hex::encode(&input)
            );
        }
    }
}
