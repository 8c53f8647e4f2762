//! The 64-bit hashes the index tables key equality on: the first eight bytes of SHA-256 over
//! the parts, each preceded by its length, read as a signed big-endian integer (a `BIGINT`).
//! Stable across releases and platforms, unlike Rust's `DefaultHasher`. A token's hashes are
//! its match, as in HAPI's index tables (two values share one with a probability near
//! 2^-64); an exact string and a quantity's units are compared as text after the lookup.

use sha2::{Digest, Sha256};

/// The hash of `parts`.
///
/// ```
/// use fhir_store::hash::stable_hash;
/// // The length prefix keeps ("ab", "c") and ("a", "bc") apart.
/// assert_ne!(stable_hash(&[b"ab", b"c"]), stable_hash(&[b"a", b"bc"]));
/// assert_eq!(stable_hash(&[b"x"]), stable_hash(&[b"x"]));
/// ```
pub fn stable_hash(parts: &[&[u8]]) -> i64 {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update((part.len() as u32).to_be_bytes());
        hasher.update(part);
    }
    let digest = hasher.finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    i64::from_be_bytes(first)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hash_is_pinned() {
        // A stored database depends on these values never changing.
        assert_eq!(stable_hash(&[]), -2_039_914_840_885_289_964);
        assert_eq!(
            stable_hash(&[&7i32.to_be_bytes(), b"http://loinc.org", b"8867-4"]),
            stable_hash(&[&7i32.to_be_bytes(), b"http://loinc.org", b"8867-4"])
        );
    }
}
