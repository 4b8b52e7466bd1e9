//! `ExpiringMap`: a map shared between workers whose entries last a fixed
//! time and whose size is bounded, so that no client can grow it without
//! limit. The caches of verified passwords and tokens and the rate throttle
//! are built on it. (The sign-in lockout is not: it must never forget a
//! lockout, so its tables refuse rather than evict; see `lockout`.)
//!
//! Overflow: only a key not yet in the map can overflow it. Entries that
//! have ended go first; if the map is still full, the [`Overflow`] policy
//! it was made with decides what else goes.

use std::borrow::Borrow;
use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::hash::Hash;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// What a full map forgets, once the ended entries are gone, to take a
/// new key.
#[derive(Debug, Clone, Copy)]
pub enum Overflow {
    /// Everything: for caches, where a forgotten entry costs only a slower
    /// answer, and clearing costs no sorting under the lock.
    Clear,
    /// The half that would end soonest, logged as a warning naming `what`
    /// is kept: for counts, where forgetting the newest would let a client
    /// flooding the map with new keys reset everyone's count at will.
    OlderHalf { what: &'static str },
}

/// Values by key, each ending `ttl` after it was inserted.
pub struct ExpiringMap<K, V> {
    ttl: Duration,
    capacity: usize,
    overflow: Overflow,
    entries: Mutex<HashMap<K, (V, Instant)>>,
}

impl<K: Hash + Eq, V> ExpiringMap<K, V> {
    /// At most `capacity` keys (at least one), each for `ttl`.
    pub fn new(ttl: Duration, capacity: usize, overflow: Overflow) -> Self {
        ExpiringMap {
            ttl,
            capacity: capacity.max(1),
            overflow,
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// The value of `key`, if it has not ended.
    pub fn get<Q>(&self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
        V: Clone,
    {
        self.get_with_time_left(key).map(|(value, _)| value)
    }

    /// The value of `key` and how long it has left, if it has not ended.
    /// An ended entry met here is dropped.
    pub fn get_with_time_left<Q>(&self, key: &Q) -> Option<(V, Duration)>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
        V: Clone,
    {
        let now = Instant::now();
        let mut entries = self.lock();
        match entries.get(key) {
            Some((value, ends)) if *ends > now => Some((value.clone(), *ends - now)),
            Some(_) => {
                entries.remove(key);
                None
            }
            None => None,
        }
    }

    /// Sets `key` to `value`, for the map's `ttl` from now.
    pub fn insert(&self, key: K, value: V) {
        let now = Instant::now();
        let mut entries = self.lock();
        self.make_room(&mut entries, &key, now);
        entries.insert(key, (value, now + self.ttl));
    }

    /// Changes the value of `key` with `update`, which is also told how
    /// long the entry has left. If `key` has no entry, or its entry has
    /// ended, a new one starts from `start` first, for the map's `ttl`
    /// (the entry's end does not move while it lasts: fixed windows).
    pub fn update_or_insert<R>(
        &self,
        key: K,
        start: V,
        update: impl FnOnce(&mut V, Duration) -> R,
    ) -> R {
        let now = Instant::now();
        let mut entries = self.lock();
        self.make_room(&mut entries, &key, now);
        let (value, ends) = match entries.entry(key) {
            Entry::Occupied(entry) => {
                let entry = entry.into_mut();
                if entry.1 <= now {
                    *entry = (start, now + self.ttl);
                }
                entry
            }
            Entry::Vacant(entry) => entry.insert((start, now + self.ttl)),
        };
        update(value, *ends - now)
    }

    /// Forgets `key`.
    pub fn remove<Q>(&self, key: &Q)
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.lock().remove(key);
    }

    /// Keys held, ended or not (tests).
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<K, (V, Instant)>> {
        // A panic elsewhere while holding the lock leaves the map as
        // consistent as any moment: keep serving.
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Makes room for `key` if it is new and the map is full.
    fn make_room(&self, entries: &mut HashMap<K, (V, Instant)>, key: &K, now: Instant) {
        if entries.len() < self.capacity || entries.contains_key(key) {
            return;
        }
        entries.retain(|_, (_, ends)| *ends > now);
        if entries.len() < self.capacity {
            return;
        }
        match self.overflow {
            Overflow::Clear => entries.clear(),
            Overflow::OlderHalf { what } => {
                let mut ends: Vec<Instant> = entries.values().map(|(_, e)| *e).collect();
                ends.sort_unstable();
                let cut = ends[ends.len() / 2];
                entries.retain(|_, (_, e)| *e > cut);
                log::warn!(
                    "more than {} {what} are being counted; the oldest half were forgotten",
                    self.capacity
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_last_their_ttl() {
        let m = ExpiringMap::new(Duration::from_millis(50), 10, Overflow::Clear);
        m.insert("a".to_string(), 1);
        assert_eq!(m.get("a"), Some(1));
        let (_, left) = m.get_with_time_left("a").unwrap();
        assert!(left <= Duration::from_millis(50));
        std::thread::sleep(Duration::from_millis(60));
        assert_eq!(m.get("a"), None);
        assert!(m.is_empty(), "an ended entry met is dropped");
        let zero = ExpiringMap::new(Duration::ZERO, 10, Overflow::Clear);
        zero.insert("a".to_string(), 1);
        assert_eq!(zero.get("a"), None);
    }

    #[test]
    fn updates_keep_the_end_and_an_ended_entry_starts_again() {
        let m = ExpiringMap::new(Duration::from_millis(50), 10, Overflow::Clear);
        let add = |m: &ExpiringMap<String, u32>| {
            m.update_or_insert("k".into(), 0, |n, _| {
                *n += 1;
                *n
            })
        };
        assert_eq!(add(&m), 1);
        assert_eq!(add(&m), 2);
        std::thread::sleep(Duration::from_millis(60));
        assert_eq!(add(&m), 1, "a new window");
        m.remove("k");
        assert_eq!(m.get("k"), None);
    }

    #[test]
    fn a_full_map_drops_ended_entries_then_applies_its_policy() {
        let cache = ExpiringMap::new(Duration::from_secs(60), 2, Overflow::Clear);
        cache.insert(1, "a");
        cache.insert(2, "b");
        cache.insert(2, "b2");
        assert_eq!(cache.len(), 2, "a key already held never overflows");
        cache.insert(3, "c");
        assert_eq!((cache.get(&1), cache.get(&3)), (None, Some("c")));
        assert_eq!(cache.len(), 1);

        let counts = ExpiringMap::new(
            Duration::from_secs(60),
            4,
            Overflow::OlderHalf { what: "keys" },
        );
        for k in 0..4 {
            counts.insert(k, k);
            std::thread::sleep(Duration::from_millis(2));
        }
        counts.insert(4, 4);
        assert!(counts.len() <= 4);
        assert_eq!(
            (counts.get(&0), counts.get(&3), counts.get(&4)),
            (None, Some(3), Some(4))
        );

        let short = ExpiringMap::new(Duration::from_millis(10), 2, Overflow::Clear);
        short.insert(1, ());
        std::thread::sleep(Duration::from_millis(20));
        short.insert(2, ());
        short.insert(3, ());
        assert_eq!(
            (short.get(&2), short.get(&3)),
            (Some(()), Some(())),
            "only the ended one went"
        );
    }
}
