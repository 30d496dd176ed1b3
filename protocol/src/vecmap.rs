//! A map for the few entries a connection or a socket holds (its namespaces, its rooms, a
//! room's members): a sorted `Vec` while small, where a `BTreeMap` would allocate a whole node
//! (11 slots) for one entry; a `BTreeMap` once past `SMALL` entries, so a peer that makes many
//! of them costs no quadratic work.

use alloc::collections::{BTreeMap, btree_map};
use alloc::vec::Vec;
use core::borrow::Borrow;

/// A map ordered by key: a sorted vector of pairs up to `SMALL` entries, a B-tree beyond.
#[derive(Debug, Clone)]
pub(crate) enum VecMap<K, V, const SMALL: usize = 16> {
    Small(Vec<(K, V)>),
    Large(BTreeMap<K, V>),
}

impl<K, V, const SMALL: usize> Default for VecMap<K, V, SMALL> {
    fn default() -> Self {
        VecMap::Small(Vec::new())
    }
}

/// The entries of a [`VecMap`] in key order.
#[derive(Debug, Clone)]
pub(crate) enum Iter<'a, K, V> {
    Small(core::slice::Iter<'a, (K, V)>),
    Large(btree_map::Iter<'a, K, V>),
}

impl<K, V> Default for Iter<'_, K, V> {
    fn default() -> Self {
        Iter::Small([].iter())
    }
}

impl<'a, K, V> Iterator for Iter<'a, K, V> {
    type Item = (&'a K, &'a V);

    fn next(&mut self) -> Option<(&'a K, &'a V)> {
        match self {
            Iter::Small(iter) => iter.next().map(|(key, value)| (key, value)),
            Iter::Large(iter) => iter.next(),
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        match self {
            Iter::Small(iter) => iter.size_hint(),
            Iter::Large(iter) => iter.size_hint(),
        }
    }
}

/// The keys of a [`VecMap`] by value, in order.
#[derive(Debug)]
pub(crate) enum IntoKeys<K, V> {
    Small(alloc::vec::IntoIter<(K, V)>),
    Large(btree_map::IntoKeys<K, V>),
}

impl<K, V> Iterator for IntoKeys<K, V> {
    type Item = K;

    fn next(&mut self) -> Option<K> {
        match self {
            IntoKeys::Small(iter) => iter.next().map(|(key, _)| key),
            IntoKeys::Large(iter) => iter.next(),
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        match self {
            IntoKeys::Small(iter) => iter.size_hint(),
            IntoKeys::Large(iter) => iter.size_hint(),
        }
    }
}

impl<K, V, const SMALL: usize> VecMap<K, V, SMALL> {
    /// How many entries.
    pub(crate) fn len(&self) -> usize {
        match self {
            VecMap::Small(entries) => entries.len(),
            VecMap::Large(map) => map.len(),
        }
    }

    /// The entries in key order.
    pub(crate) fn iter(&self) -> Iter<'_, K, V> {
        match self {
            VecMap::Small(entries) => Iter::Small(entries.iter()),
            VecMap::Large(map) => Iter::Large(map.iter()),
        }
    }

    /// The keys by value, in order.
    pub(crate) fn into_keys(self) -> IntoKeys<K, V> {
        match self {
            VecMap::Small(entries) => IntoKeys::Small(entries.into_iter()),
            VecMap::Large(map) => IntoKeys::Large(map.into_keys()),
        }
    }
}

impl<K: Ord, V, const SMALL: usize> VecMap<K, V, SMALL> {
    fn find<Q: Ord + ?Sized>(entries: &[(K, V)], key: &Q) -> Result<usize, usize>
    where
        K: Borrow<Q>,
    {
        entries.binary_search_by(|(candidate, _)| candidate.borrow().cmp(key))
    }

    /// The value of `key`.
    pub(crate) fn get<Q: Ord + ?Sized>(&self, key: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
    {
        match self {
            VecMap::Small(entries) => Self::find(entries, key).ok().map(|at| &entries[at].1),
            VecMap::Large(map) => map.get(key),
        }
    }

    /// The value of `key`, mutably.
    pub(crate) fn get_mut<Q: Ord + ?Sized>(&mut self, key: &Q) -> Option<&mut V>
    where
        K: Borrow<Q>,
    {
        match self {
            VecMap::Small(entries) => Self::find(entries, key).ok().map(|at| &mut entries[at].1),
            VecMap::Large(map) => map.get_mut(key),
        }
    }

    /// Whether `key` has a value.
    pub(crate) fn contains_key<Q: Ord + ?Sized>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
    {
        self.get(key).is_some()
    }

    /// Sets `key`'s value; returns the one it replaces.
    pub(crate) fn insert(&mut self, key: K, value: V) -> Option<V> {
        match self {
            VecMap::Small(entries) => match Self::find(entries, &key) {
                Ok(at) => Some(core::mem::replace(&mut entries[at].1, value)),
                Err(at) if entries.len() < SMALL => {
                    // Grown one slot at a time: these maps stay tiny and live long.
                    entries.reserve_exact(1);
                    entries.insert(at, (key, value));
                    None
                }
                Err(_) => {
                    let mut map: BTreeMap<K, V> = core::mem::take(entries).into_iter().collect();
                    map.insert(key, value);
                    *self = VecMap::Large(map);
                    None
                }
            },
            VecMap::Large(map) => map.insert(key, value),
        }
    }

    /// Removes `key`; a small map's storage goes with its last entry.
    pub(crate) fn remove<Q: Ord + ?Sized>(&mut self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
    {
        match self {
            VecMap::Small(entries) => {
                let at = Self::find(entries, key).ok()?;
                let (_, value) = entries.remove(at);
                if entries.is_empty() {
                    *entries = Vec::new();
                }
                Some(value)
            }
            VecMap::Large(map) => map.remove(key),
        }
    }

    /// The values in key order.
    pub(crate) fn values(&self) -> impl Iterator<Item = &V> {
        self.iter().map(|(_, value)| value)
    }

    /// Removes everything, storage included.
    pub(crate) fn clear(&mut self) {
        *self = VecMap::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::collections::BTreeMap;
    use alloc::string::{String, ToString};

    #[test]
    fn keeps_keys_sorted_and_replaces_on_insert() {
        let mut map: VecMap<String, i32> = VecMap::default();
        assert_eq!(map.insert("/b".to_string(), 2), None);
        assert_eq!(map.insert("/".to_string(), 0), None);
        assert_eq!(map.insert("/a".to_string(), 1), None);
        assert_eq!(map.insert("/a".to_string(), 10), Some(1));
        let keys: Vec<&String> = map.iter().map(|(k, _)| k).collect();
        assert_eq!(keys, ["/", "/a", "/b"]);
        assert_eq!(map.get("/a"), Some(&10));
        assert!(map.contains_key("/b"));
        assert_eq!(map.remove("/b"), Some(2));
        assert_eq!(map.remove("/b"), None);
        assert_eq!(map.values().copied().collect::<Vec<_>>(), [0, 10]);
        *map.get_mut("/").unwrap() = 5;
        assert_eq!(map.get("/"), Some(&5));
        map.clear();
        assert!(!map.contains_key("/"));
    }

    #[test]
    fn behaves_as_a_btree_map_across_the_switch() {
        let mut map: VecMap<u32, u32> = VecMap::default();
        let mut model = BTreeMap::new();
        // A fixed pseudo-random walk of inserts and removes over 40 keys.
        let mut state = 7u32;
        for _ in 0..2_000 {
            state = state.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            let key = (state >> 8) % 40;
            if (state >> 20).is_multiple_of(3) {
                assert_eq!(map.remove(&key), model.remove(&key));
            } else {
                assert_eq!(map.insert(key, state), model.insert(key, state));
            }
            assert_eq!(map.get(&key), model.get(&key));
            assert!(map.iter().eq(model.iter()));
        }
        assert!(matches!(map, VecMap::Large(_)));
    }
}
