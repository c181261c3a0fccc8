//! Hash maps keyed by object ids, pack offsets and node numbers: keys that are
//! already uniformly distributed (object ids) or small integers, for which `SipHash`
//! is wasted work on the walk's hottest paths.

use std::collections::{HashMap, HashSet};
use std::hash::BuildHasherDefault;

use git2::Oid;

/// A hasher that mixes at most the first 8 bytes of each write: an object id's first
/// 8 bytes are as random as all 20, and integers are written whole.
#[derive(Default, Clone, Copy)]
pub struct IdHasher(u64);

impl IdHasher {
    fn mix(&mut self, value: u64) {
        self.0 = (self.0.rotate_left(5) ^ value).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
}

impl std::hash::Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        let mut raw = [0u8; 8];
        let len = bytes.len().min(8);
        raw[..len].copy_from_slice(&bytes[..len]);
        self.mix(u64::from_le_bytes(raw));
    }
    fn write_u32(&mut self, value: u32) {
        self.mix(u64::from(value));
    }
    fn write_u64(&mut self, value: u64) {
        self.mix(value);
    }
    fn write_usize(&mut self, value: usize) {
        // Lossless on every target this builds for (usize is at most 64 bits).
        self.mix(u64::try_from(value).unwrap_or(u64::MAX));
    }
}

/// A `HashMap` hashing with [`IdHasher`].
pub type IdMap<K, V> = HashMap<K, V, BuildHasherDefault<IdHasher>>;

/// A `HashSet` hashing with [`IdHasher`].
pub type IdSet<K> = HashSet<K, BuildHasherDefault<IdHasher>>;

/// An object id as a map key: its raw bytes, compared inline (`Oid`'s own equality
/// is a call into libgit2).
pub type OidKey = [u8; 20];

/// The key of `oid`.
#[must_use]
pub fn key(oid: &Oid) -> OidKey {
    let mut raw = [0u8; 20];
    raw.copy_from_slice(oid.as_bytes());
    raw
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_integers_are_keys() {
        let mut map: IdMap<Oid, u32> = IdMap::default();
        for n in 0..=255u8 {
            let mut raw = [0u8; 20];
            // Ids differing only past byte 8 still land apart (equality decides).
            raw[19] = n;
            map.insert(Oid::from_bytes(&raw).unwrap(), u32::from(n));
        }
        assert_eq!(map.len(), 256);
        assert_eq!(map[&Oid::from_bytes(&[0u8; 20]).unwrap()], 0);
        let mut offsets: IdMap<(usize, u64), u8> = IdMap::default();
        offsets.insert((1, 12), 7);
        assert!(offsets.contains_key(&(1, 12)) && !offsets.contains_key(&(0, 12)));
    }
}
