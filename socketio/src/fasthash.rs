//! A fast hasher for the server's maps keyed by ids it generates itself (engine session ids,
//! socket ids, connection counters). SipHash's flooding resistance buys nothing there: a
//! peer chooses none of the inserted keys (a lookup with a forged id is a miss like any other),
//! and a broadcast hashes a few ids per recipient under the server's lock.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// A multiply-rotate hasher (the Fx scheme): one rotate, xor and multiply per word.
#[derive(Default, Clone, Copy)]
pub(crate) struct IdHasher {
    hash: u64,
}

/// An odd constant with well-spread bits (from the golden ratio).
const K: u64 = 0x9e37_79b9_7f4a_7c15;

impl IdHasher {
    #[inline]
    fn add(&mut self, word: u64) {
        self.hash = (self.hash.rotate_left(5) ^ word).wrapping_mul(K);
    }
}

impl Hasher for IdHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0; 8];
            word.copy_from_slice(chunk);
            self.add(u64::from_le_bytes(word));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut word = [0; 8];
            word[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(word));
        }
    }

    #[inline]
    fn write_u8(&mut self, value: u8) {
        self.add(u64::from(value));
    }

    #[inline]
    fn write_u64(&mut self, value: u64) {
        self.add(value);
    }

    #[inline]
    fn write_usize(&mut self, value: usize) {
        self.add(value as u64);
    }

    #[inline]
    fn finish(&self) -> u64 {
        self.hash
    }
}

/// A `HashMap` keyed by server-generated ids.
pub(crate) type IdMap<K, V> = HashMap<K, V, BuildHasherDefault<IdHasher>>;

#[cfg(test)]
mod tests {
    use super::*;
    use std::hash::{BuildHasher, Hash};

    fn hash_of(value: impl Hash) -> u64 {
        BuildHasherDefault::<IdHasher>::default().hash_one(value)
    }

    #[test]
    fn ids_differing_anywhere_hash_apart() {
        let base = "c2lkLWFhYWFhYWFhYWFh";
        let mut seen = std::collections::HashSet::new();
        for i in 0..base.len() {
            let mut id = base.as_bytes().to_vec();
            id[i] ^= 1;
            assert!(seen.insert(hash_of(std::str::from_utf8(&id).unwrap())));
        }
        assert!(seen.insert(hash_of(base)));
        let map: IdMap<u64, u64> = (0..1000).map(|i| (i, i * 2)).collect();
        assert_eq!(map.get(&500), Some(&1000));
    }
}
