//! Failed password sign-ins, counted per client address and per login, so
//! that guessing passwords is slow.
//!
//! What the security audit found, and what this module is built around:
//! - The check and the count are one step under one lock: an attempt is
//!   counted when it starts ([`Lockout::begin`]) and refunded if it turns out
//!   not to be a failure. Checking first and counting after the slow
//!   password check let 199 of 200 concurrent guesses through a limit of 10.
//! - A blocked key is never evicted. When a table is full, ended windows
//!   and keys still under the limit go first; if it is full of live blocks,
//!   new attempts are refused until one ends, rather than a lockout
//!   forgotten. Flooding the table used to drop its oldest half, lockouts
//!   included.
//! - Addresses and logins are kept in tables of their own, so a flood of
//!   one cannot push out the other.
//! - An IPv6 client is counted per /64: one host is usually given a whole
//!   /64 and can change its address within it at will.
//! - Only password sign-ins are counted. API tokens have 256 random bits,
//!   so guessing them is hopeless; counting them only let a client still
//!   sending a replaced token lock out everyone behind the same address.
//!
//! This is the in-memory count, of one process: what serves a SQLite
//! database. On PostgreSQL, where several processes may serve one database,
//! `crate::counts::SignInFailures::Shared` keeps the same guarantees in the
//! database, for all of them together.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::security::throttle::Limit;

/// Counts failed password sign-ins; see the module documentation.
pub struct Lockout {
    limit: Limit,
    max_keys: usize,
    tables: Mutex<Tables>,
}

#[derive(Default)]
struct Tables {
    addresses: Table,
    logins: Table,
}

#[derive(Default)]
struct Table {
    failures: HashMap<u128, Failures>,
    /// While the table is full of live blocks, no new key is taken and no
    /// rescan is made before this instant (a rescan walks every key).
    full_until: Option<Instant>,
}

/// One key's failed attempts in its current fixed window, which starts at
/// its first attempt.
#[derive(Clone, Copy)]
struct Failures {
    start: Instant,
    count: u32,
}

/// A sign-in attempt that has been counted: hand it back with the outcome.
#[derive(Debug, Clone, Copy)]
pub struct Attempt {
    address: u128,
    /// None when the login cannot exist (it is then counted against the
    /// address alone: its own count would protect nothing).
    login: Option<u128>,
    /// The counts this attempt brought each key to.
    address_count: u32,
    login_count: u32,
}

/// Why an attempt may not even be checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The address or the login has failed too often: wait this long.
    Blocked(Duration),
    /// The table is full of live lockouts: wait this long.
    Full(Duration),
}

impl Refusal {
    pub fn wait(self) -> Duration {
        match self {
            Refusal::Blocked(d) | Refusal::Full(d) => d,
        }
    }
}

/// Which keys a failure has just locked (for the log).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Locked {
    pub address: bool,
    pub login: bool,
}

impl Lockout {
    /// At most `limit.count` failures per key in `limit.window`; each table
    /// holds at most `max_keys` keys.
    pub fn new(limit: Limit, max_keys: usize) -> Lockout {
        Lockout {
            limit,
            max_keys: max_keys.max(1),
            tables: Mutex::new(Tables::default()),
        }
    }

    pub fn limit(&self) -> Limit {
        self.limit
    }

    /// Counts an attempt from `address` for `login` (its digest, from
    /// [`login_key`]; None for a login that cannot exist), unless either key
    /// has used up its failures or there is no room to count it.
    pub fn begin(&self, address: Option<IpAddr>, login: Option<u128>) -> Result<Attempt, Refusal> {
        let now = Instant::now();
        let address = address_key(address);
        let mut tables = self.tables.lock().unwrap_or_else(|e| e.into_inner());
        let Tables { addresses, logins } = &mut *tables;
        // Check both before counting either: a refused attempt counts nowhere.
        let mut wait = None;
        wait = wait.max(addresses.blocked(address, self.limit, now));
        if let Some(login) = login {
            wait = wait.max(logins.blocked(login, self.limit, now));
        }
        if let Some(wait) = wait {
            return Err(Refusal::Blocked(wait));
        }
        addresses.make_room(address, self.limit, self.max_keys, now)?;
        if let Some(login) = login {
            logins.make_room(login, self.limit, self.max_keys, now)?;
        }
        let address_count = addresses.count(address, self.limit, now);
        let login_count = login.map_or(0, |l| logins.count(l, self.limit, now));
        Ok(Attempt {
            address,
            login,
            address_count,
            login_count,
        })
    }

    /// The attempt signed in: it is not a failure of its address, and its
    /// login starts again. (An address's earlier failures stay: else one
    /// account of an attacker's own would reset their count.)
    pub fn succeeded(&self, attempt: Attempt) {
        let mut tables = self.tables.lock().unwrap_or_else(|e| e.into_inner());
        tables.addresses.refund(attempt.address);
        if let Some(login) = attempt.login {
            tables.logins.failures.remove(&login);
        }
    }

    /// The attempt was never decided (the database was down, or the
    /// password checkers were busy): it counts against nobody.
    pub fn abandoned(&self, attempt: Attempt) {
        let mut tables = self.tables.lock().unwrap_or_else(|e| e.into_inner());
        tables.addresses.refund(attempt.address);
        if let Some(login) = attempt.login {
            tables.logins.refund(login);
        }
    }

    /// The attempt failed: it stays counted. Says which keys it was the last
    /// allowed failure of, so that each lockout is logged once.
    pub fn failed(&self, attempt: Attempt) -> Locked {
        let limit = self.limit.count;
        Locked {
            address: attempt.address_count == limit,
            login: attempt.login.is_some() && attempt.login_count == limit,
        }
    }

    #[cfg(test)]
    fn keys(&self) -> (usize, usize) {
        let tables = self.tables.lock().unwrap();
        (
            tables.addresses.failures.len(),
            tables.logins.failures.len(),
        )
    }
}

impl Table {
    fn blocked(&self, key: u128, limit: Limit, now: Instant) -> Option<Duration> {
        let w = self.failures.get(&key)?;
        let ends = w.start + limit.window;
        (w.count >= limit.count && ends > now).then(|| ends - now)
    }

    /// Makes sure `key` can be counted, evicting what may be evicted.
    fn make_room(
        &mut self,
        key: u128,
        limit: Limit,
        max_keys: usize,
        now: Instant,
    ) -> Result<(), Refusal> {
        if self.failures.len() < max_keys || self.failures.contains_key(&key) {
            return Ok(());
        }
        if let Some(until) = self.full_until {
            if until > now {
                return Err(Refusal::Full(until - now));
            }
        }
        // Ended windows, and keys still under the limit (forgetting those
        // errs towards letting a client in, never locks anyone out).
        self.failures
            .retain(|_, w| w.start + limit.window > now && w.count >= limit.count);
        if self.failures.len() < max_keys {
            self.full_until = None;
            return Ok(());
        }
        let first_end = self
            .failures
            .values()
            .map(|w| w.start + limit.window)
            .min()
            .unwrap_or(now + limit.window);
        self.full_until = Some(first_end);
        log::warn!(
            "sign-in lockouts: {max_keys} keys are locked out at once; new password sign-ins are refused until the first lockout ends"
        );
        Err(Refusal::Full(first_end.saturating_duration_since(now)))
    }

    /// Counts one attempt for `key`; returns its new count.
    fn count(&mut self, key: u128, limit: Limit, now: Instant) -> u32 {
        let w = self.failures.entry(key).or_insert(Failures {
            start: now,
            count: 0,
        });
        if w.start + limit.window <= now {
            *w = Failures {
                start: now,
                count: 0,
            };
        }
        w.count = w.count.saturating_add(1);
        w.count
    }

    fn refund(&mut self, key: u128) {
        if let Some(w) = self.failures.get_mut(&key) {
            w.count = w.count.saturating_sub(1);
        }
    }
}

/// The key an address is counted under: an IPv4 address whole, an IPv6
/// address by its /64 (an IPv4 address mapped into IPv6 is IPv4).
pub fn address_key(address: Option<IpAddr>) -> u128 {
    match address.map(|a| a.to_canonical()) {
        Some(IpAddr::V4(v4)) => u128::from(v4.to_ipv6_mapped()),
        Some(IpAddr::V6(v6)) => u128::from(v6) & !u128::from(u64::MAX),
        None => 0,
    }
}

/// The key a login is counted under: a 128-bit digest, so that a long or
/// secret user name costs a fixed few bytes and is never kept as sent.
pub fn login_key(login: &str) -> u128 {
    xxhash_rust::xxh3::xxh3_128(login.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> Option<IpAddr> {
        Some(text.parse().unwrap())
    }

    #[test]
    fn counting_and_checking_are_one_step() {
        let l = Lockout::new("3/1h".parse().unwrap(), 100);
        let login = Some(login_key("alice"));
        let attempts: Vec<_> = (0..10).map(|_| l.begin(ip("10.0.0.1"), login)).collect();
        // Nothing decided yet, and still only three were let through.
        assert_eq!(attempts.iter().filter(|a| a.is_ok()).count(), 3);
        assert!(matches!(attempts[3], Err(Refusal::Blocked(_))));
        let locked: Vec<_> = attempts
            .into_iter()
            .flatten()
            .map(|a| l.failed(a))
            .collect();
        assert_eq!(
            locked.iter().filter(|k| k.address && k.login).count(),
            1,
            "the lockout is reported once"
        );
    }

    #[test]
    fn success_refunds_the_address_and_resets_the_login() {
        let l = Lockout::new("2/1h".parse().unwrap(), 100);
        let a = l.begin(ip("10.0.0.1"), Some(login_key("alice"))).unwrap();
        l.failed(a);
        let b = l.begin(ip("10.0.0.1"), Some(login_key("alice"))).unwrap();
        l.succeeded(b);
        // The address has one failure left; alice's count started again.
        let c = l.begin(ip("10.0.0.1"), Some(login_key("bob"))).unwrap();
        l.failed(c);
        assert!(l.begin(ip("10.0.0.1"), Some(login_key("carol"))).is_err());
        let d = l.begin(ip("10.0.0.2"), Some(login_key("alice"))).unwrap();
        l.abandoned(d);
        let e = l.begin(ip("10.0.0.2"), Some(login_key("alice"))).unwrap();
        l.failed(e);
        assert!(l.begin(ip("10.0.0.3"), Some(login_key("alice"))).is_ok());
    }

    #[test]
    fn ipv6_is_counted_per_64_and_ipv4_mapped_as_ipv4() {
        assert_eq!(
            address_key(ip("2001:db8:1:2::1")),
            address_key(ip("2001:db8:1:2:ffff:1:2:3"))
        );
        assert_ne!(
            address_key(ip("2001:db8:1:2::1")),
            address_key(ip("2001:db8:1:3::1"))
        );
        assert_eq!(
            address_key(ip("::ffff:10.0.0.1")),
            address_key(ip("10.0.0.1"))
        );
        assert_ne!(address_key(ip("10.0.0.1")), address_key(ip("10.0.0.2")));
        let l = Lockout::new("1/1h".parse().unwrap(), 100);
        let a = l.begin(ip("2001:db8::1"), None).unwrap();
        l.failed(a);
        assert!(l.begin(ip("2001:db8::2"), None).is_err());
    }

    #[test]
    fn a_full_table_never_forgets_a_lockout() {
        let l = Lockout::new("1/1h".parse().unwrap(), 10);
        // Ten addresses locked out.
        for i in 0..10 {
            let a = l.begin(ip(&format!("10.0.0.{i}")), None).unwrap();
            l.failed(a);
        }
        // A flood of new addresses is refused, not counted over the locks.
        for i in 0..1000 {
            assert!(matches!(
                l.begin(ip(&format!("10.1.{}.{}", i / 250, i % 250)), None),
                Err(Refusal::Full(_))
            ));
        }
        for i in 0..10 {
            assert!(matches!(
                l.begin(ip(&format!("10.0.0.{i}")), None),
                Err(Refusal::Blocked(_))
            ));
        }
        assert_eq!(l.keys(), (10, 0));
    }

    #[test]
    fn keys_under_the_limit_make_room_and_tables_are_apart() {
        let l = Lockout::new("2/1h".parse().unwrap(), 10);
        let locked = l.begin(ip("10.0.0.1"), Some(login_key("alice"))).unwrap();
        l.failed(locked);
        let locked = l.begin(ip("10.0.0.1"), Some(login_key("alice"))).unwrap();
        l.failed(locked);
        // Many addresses with one failure each: they come and go.
        for i in 0..100 {
            let a = l.begin(ip(&format!("10.2.0.{i}")), None).unwrap();
            l.failed(a);
        }
        let (addresses, logins) = l.keys();
        assert!(addresses <= 10 && logins == 1);
        assert!(matches!(
            l.begin(ip("10.9.9.9"), Some(login_key("alice"))),
            Err(Refusal::Blocked(_))
        ));
        assert!(matches!(
            l.begin(ip("10.0.0.1"), Some(login_key("bob"))),
            Err(Refusal::Blocked(_))
        ));
    }
}
