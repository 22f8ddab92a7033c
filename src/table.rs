//! The one map and the one sort of the injector: a hash table from strings to numbers, and
//! a heap sort of (string, number) pairs.
//!
//! A `BTreeMap<String, usize>` did both (3.6 KB of the nightly binary: insert with node
//! splits, search, iteration, drop, the entry API); these are a third of that (issue 12).
//! Every map of the injector maps names or digests to positions in `Vec`s, and every ordered
//! listing (catalog, tags, annotations, chunks) is sorted once. The hash is FNV-1a from a
//! per-process start (the table's address, randomised by ASLR), so a payload cannot choose
//! colliding keys in advance; lookups probe linearly in a table kept at most half full.

use std::collections::BinaryHeap;

/// A map from strings to numbers, in insertion order, with hashed lookups.
#[derive(Default)]
pub struct Table {
    /// (key, value), in insertion order.
    entries: Vec<(String, usize)>,
    /// 0 for a free slot, else the position in `entries` plus one; a power of two long.
    slots: Vec<usize>,
    seed: u64,
}

impl Table {
    /// An empty table.
    pub fn new() -> Table {
        let mut table = Table::default();
        table.seed = &table as *const Table as u64;
        table
    }

    /// How many keys it holds.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether it holds no key.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The value of `key`.
    pub fn get(&self, key: &str) -> Option<usize> {
        let at = self.find(key).1?;
        self.entries.get(at).map(|&(_, value)| value)
    }

    /// The value of `key`, after inserting it with `value` if it was absent; and whether it
    /// was absent.
    pub fn insert(&mut self, key: &str, value: usize) -> (usize, bool) {
        if let Some(value) = self.get(key) {
            return (value, false);
        }
        if self.entries.len() * 2 >= self.slots.len() {
            let len = (self.slots.len() * 2).max(16);
            self.slots = vec![0; len];
            for at in 0..self.entries.len() {
                let key = self.entries.get(at).map_or("", |(key, _)| key);
                let slot = self.find(key).0;
                self.place(slot, at);
            }
        }
        let slot = self.find(key).0;
        self.place(slot, self.entries.len());
        self.entries.push((key.to_string(), value));
        (value, true)
    }

    /// Its (key, value) pairs, sorted by key.
    pub fn into_sorted(self) -> Vec<(String, usize)> {
        sorted(self.entries)
    }

    fn place(&mut self, slot: usize, at: usize) {
        if let Some(slot) = self.slots.get_mut(slot) {
            *slot = at + 1;
        }
    }

    /// The slot of `key`, or of the free slot where it would go; and its position in
    /// `entries`, if it is there.
    fn find(&self, key: &str) -> (usize, Option<usize>) {
        let mask = self.slots.len().wrapping_sub(1);
        let mut hash = self.seed ^ 0xcbf2_9ce4_8422_2325;
        for &byte in key.as_bytes() {
            hash = (hash ^ u64::from(byte)).wrapping_mul(0x100_0000_01b3);
        }
        let mut slot = hash as usize & mask;
        loop {
            match self.slots.get(slot) {
                Some(&taken) if taken > 0 => {
                    let at = taken - 1;
                    if self.entries.get(at).is_some_and(|(k, _)| k == key) {
                        return (slot, Some(at));
                    }
                }
                _ => return (slot, None),
            }
            slot = (slot + 1) & mask;
        }
    }
}

/// `items` sorted by key, then number (a heap sort: `sort_unstable` is kilobytes more code
/// in the stable build).
pub fn sorted(items: Vec<(String, usize)>) -> Vec<(String, usize)> {
    BinaryHeap::from(items).into_sorted_vec()
}

/// `items` sorted by key with each key once: the one with the largest number.
pub fn sorted_last(items: Vec<(String, usize)>) -> Vec<(String, usize)> {
    let mut out: Vec<(String, usize)> = Vec::with_capacity(items.len());
    for (key, number) in sorted(items) {
        match out.last_mut() {
            Some(last) if last.0 == key => last.1 = number,
            _ => out.push((key, number)),
        }
    }
    out
}

/// The number of `key` in `items`, sorted by key with each key once.
pub fn find_sorted(items: &[(String, usize)], key: &str) -> Option<usize> {
    let at = items.binary_search_by(|(k, _)| k.as_str().cmp(key)).ok()?;
    items.get(at).map(|&(_, number)| number)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_rng::Rng;
    use std::collections::BTreeMap;

    #[test]
    fn behaves_like_a_map() {
        let mut rng = Rng(12);
        let mut table = Table::new();
        let mut oracle = BTreeMap::new();
        for i in 0..20_000 {
            let key = format!("k{}", rng.below(5_000));
            let (value, new) = table.insert(&key, i);
            let want = *oracle.entry(key.clone()).or_insert(i);
            assert_eq!((value, new), (want, want == i), "{key}");
            assert_eq!(table.get(&key), Some(want));
        }
        assert_eq!(table.len(), oracle.len());
        assert_eq!(table.get("absent"), None);
        assert_eq!(Table::new().get(""), None);
        let all: Vec<(String, usize)> = oracle.into_iter().collect();
        assert_eq!(table.into_sorted(), all);
    }

    #[test]
    fn sorted_last_keeps_the_largest_number_of_each_key() {
        let items = vec![
            ("b".to_string(), 0),
            ("a".to_string(), 1),
            ("b".to_string(), 2),
            ("".to_string(), 3),
            ("a".to_string(), 4),
        ];
        let want = [
            ("".to_string(), 3),
            ("a".to_string(), 4),
            ("b".to_string(), 2),
        ];
        let got = sorted_last(items);
        assert_eq!(got, want);
        assert_eq!(find_sorted(&got, "a"), Some(4));
        assert_eq!(find_sorted(&got, "c"), None);
    }
}
