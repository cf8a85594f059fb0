//! The CPU-bound task: `base ** exp` as a big integer (the seed article's `7777 ** 200000`).
//!
//! Big integers come from `num-bigint` (rust-num): pure Rust, so it builds anywhere with no
//! system library, maintained by the rust-num team and the most used big-integer crate.
//! Faster kernels exist (GMP through a C library; dashu, with a far smaller user and
//! maintainer base), but the study compares models, not kernels: every model runs this
//! same kernel, so the widely trusted one wins. What one power costs here is measured, not
//! quoted: `target/release/sync cpu --n 1` prints its wall time, and `make bench` times
//! the seed's ten (results/cpu.csv: sync's median / 10).
//!
//! Every result is verified, so a run can be neither optimised away nor silently wrong:
//! its residue modulo the Mersenne prime 2^61 - 1 must equal the same power computed
//! independently by modular exponentiation on machine words, and its bit length must match
//! `exp * log2(base)`.

use crate::summary::Tally;
use anyhow::{ensure, Result};
use num_bigint::BigUint;

/// The modulus of the checksum: the Mersenne prime 2^61 - 1.
pub const M61: u64 = (1 << 61) - 1;

/// The kernel: `base ** exp`, by num-bigint's square-and-multiply.
pub fn power(base: u64, exp: u32) -> BigUint {
    BigUint::from(base).pow(exp)
}

/// `x mod 2^61-1`, the checksum of a big result.
pub fn residue(x: &BigUint) -> u64 {
    (x % M61).iter_u64_digits().next().unwrap_or(0)
}

/// `base ** exp mod m` on machine words: an independent way to the same residue.
pub fn modpow(base: u64, mut exp: u64, m: u64) -> u64 {
    let (mut acc, mut b) = (1u128 % m as u128, base as u128 % m as u128);
    while exp > 0 {
        if exp & 1 == 1 {
            acc = acc * b % m as u128;
        }
        b = b * b % m as u128;
        exp >>= 1;
    }
    acc as u64
}

/// Set to `wrong-power` in a model's environment, every power comes out one too large
/// before it is verified: how the end-to-end tests prove that every model's run fails on a
/// wrong result, not only that `verify` would catch one.
pub const FAULT_ENV: &str = "WORKLOAD_FAULT";

/// One CPU task: compute, verify, and count it. Every model calls this, once per task.
pub fn task(base: u64, exp: u32) -> Result<Tally> {
    let mut x = power(base, exp);
    if injected_fault() {
        x += 1u32;
    }
    let checksum = verify(base, exp, &x)?;
    Ok(Tally::task(x.bits().div_ceil(8), checksum))
}

fn injected_fault() -> bool {
    static FAULT: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *FAULT.get_or_init(|| std::env::var(FAULT_ENV).is_ok_and(|v| v == "wrong-power"))
}

/// Check `x == base ** exp` without trusting the big-integer crate; returns the checksum.
pub fn verify(base: u64, exp: u32, x: &BigUint) -> Result<u64> {
    let got = residue(x);
    let want = modpow(base, exp as u64, M61);
    ensure!(
        got == want,
        "cpu: {base}**{exp} is wrong: residue mod 2^61-1 is {got:#x}, expected {want:#x}"
    );
    // The bit length is floor(exp * log2(base)) + 1. In f64 the product is exact to far
    // better than 1e-6 at these sizes, so check it unless it sits that close to an integer.
    let estimate = exp as f64 * (base as f64).log2();
    if (estimate - estimate.round()).abs() > 1e-6 {
        let want_bits = estimate.floor() as u64 + 1;
        ensure!(
            x.bits() == want_bits,
            "cpu: {base}**{exp} has {} bits, expected {want_bits}",
            x.bits()
        );
    }
    Ok(got)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The seed's numbers, checked against values CPython computed on its own:
    /// `x = 7777**200000; x.bit_length(), x % (2**61-1), x & (2**64-1)`.
    #[test]
    fn seed_power_matches_cpython() {
        let x = power(7777, 200_000);
        assert_eq!(x.bits(), 2_585_000);
        assert_eq!(residue(&x), 0x3dd5b76340df2bf);
        assert_eq!(x.iter_u64_digits().next(), Some(0x55164ebee2f3f801));
    }

    #[test]
    fn modpow_agrees_with_cpython() {
        // CPython: (7777**2000) % (2**61-1)
        assert_eq!(modpow(7777, 2000, M61), 0x10b25a8765253ee2);
        assert_eq!(modpow(3, 0, 7), 1);
        assert_eq!(modpow(2, 10, 1000), 24);
    }

    #[test]
    fn task_counts_bytes_and_checksum() {
        let t = task(7777, 2000).unwrap();
        assert_eq!(
            (t.tasks, t.bytes, t.checksum),
            (1, 25_850u64.div_ceil(8), 0x10b25a8765253ee2)
        );
    }

    #[test]
    fn a_wrong_result_is_caught() {
        let x = power(7777, 2000);
        assert!(verify(7777, 2000, &x).is_ok());
        let err = verify(7777, 2000, &(x.clone() + 1u32))
            .unwrap_err()
            .to_string();
        assert!(err.contains("is wrong"), "{err}");
        // Adding a multiple of M61 keeps the residue: only the bit length catches this one.
        let fooled = x + (BigUint::from(M61) << 30_000u32);
        assert_eq!(residue(&fooled), 0x10b25a8765253ee2);
        assert!(verify(7777, 2000, &fooled).is_err());
    }

    #[test]
    fn small_powers_are_exact() {
        assert_eq!(power(2, 10), BigUint::from(1024u32));
        assert!(
            task(2, 64).is_ok(),
            "2**64 sits exactly on a power of two and must pass"
        );
    }
}
