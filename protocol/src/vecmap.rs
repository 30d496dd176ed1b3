//! A map kept as a sorted `Vec`: for the few entries a connection holds (its namespaces),
//! where a `BTreeMap` would allocate a whole node (11 slots) for one entry.

use alloc::vec::Vec;
use core::borrow::Borrow;

/// A map ordered by key, stored as a sorted vector of pairs; lookups are binary searches.
#[derive(Debug, Clone)]
pub(crate) struct VecMap<K, V> {
    entries: Vec<(K, V)>,
}

impl<K, V> Default for VecMap<K, V> {
    fn default() -> Self {
        Self {
            entries: Vec::new(),
        }
    }
}

impl<K: Ord, V> VecMap<K, V> {
    fn find<Q: Ord + ?Sized>(&self, key: &Q) -> Result<usize, usize>
    where
        K: Borrow<Q>,
    {
        self.entries
            .binary_search_by(|(candidate, _)| candidate.borrow().cmp(key))
    }

    /// The value of `key`.
    pub(crate) fn get<Q: Ord + ?Sized>(&self, key: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
    {
        self.find(key).ok().map(|at| &self.entries[at].1)
    }

    /// The value of `key`, mutably.
    pub(crate) fn get_mut<Q: Ord + ?Sized>(&mut self, key: &Q) -> Option<&mut V>
    where
        K: Borrow<Q>,
    {
        self.find(key).ok().map(|at| &mut self.entries[at].1)
    }

    /// Whether `key` has a value.
    pub(crate) fn contains_key<Q: Ord + ?Sized>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
    {
        self.find(key).is_ok()
    }

    /// Sets `key`'s value; returns the one it replaces.
    pub(crate) fn insert(&mut self, key: K, value: V) -> Option<V> {
        match self.find(&key) {
            Ok(at) => Some(core::mem::replace(&mut self.entries[at].1, value)),
            Err(at) => {
                // Grown one slot at a time: a connection joins one or two namespaces.
                self.entries.reserve_exact(1);
                self.entries.insert(at, (key, value));
                None
            }
        }
    }

    /// Removes `key`; the storage goes with the last entry.
    pub(crate) fn remove<Q: Ord + ?Sized>(&mut self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
    {
        let at = self.find(key).ok()?;
        let (_, value) = self.entries.remove(at);
        if self.entries.is_empty() {
            self.entries = Vec::new();
        }
        Some(value)
    }

    /// The entries in key order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&K, &V)> {
        self.entries.iter().map(|(key, value)| (key, value))
    }

    /// The values in key order.
    pub(crate) fn values(&self) -> impl Iterator<Item = &V> {
        self.entries.iter().map(|(_, value)| value)
    }

    /// Removes everything, storage included.
    pub(crate) fn clear(&mut self) {
        self.entries = Vec::new();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::{String, ToString};

    #[test]
    fn keeps_keys_sorted_and_replaces_on_insert() {
        let mut map = VecMap::default();
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
}
