//! Counting requests per key in fixed time windows: failed sign-ins per
//! client address and per login (so guessing passwords is slow), and, when
//! `SYNCD_RATE_LIMIT` is set, all requests per signed-in user (as Highrise's
//! "150 requests per 5 seconds per token").
//!
//! `Throttle` counts in this process's memory (SQLite); on PostgreSQL the
//! rate limit is counted in the database instead (`crate::counts`).

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use crate::security::expiring::{ExpiringMap, Overflow};

/// At most `count` events per `window`, written `150/5s` (units `s`, `m`,
/// `h`; a bare number is seconds).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    pub count: u32,
    pub window: Duration,
}

/// As it is written on the command line (clap shows the default so).
impl fmt::Display for Limit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}s", self.count, self.window.as_secs())
    }
}

impl fmt::Debug for Limit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl FromStr for Limit {
    type Err = String;

    fn from_str(text: &str) -> Result<Limit, String> {
        let bad = || {
            format!("{text:?} is not a limit such as 150/5s (a count, '/', seconds with s, m or h)")
        };
        let (count, window) = text.trim().split_once('/').ok_or_else(bad)?;
        let count: u32 = count.trim().parse().map_err(|_| bad())?;
        let window = window.trim();
        let (number, unit) = match window.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
            Some((at, _)) => window.split_at(at),
            None => (window, "s"),
        };
        let number: u64 = number.parse().map_err(|_| bad())?;
        let seconds = match unit {
            "s" => Some(number),
            "m" => number.checked_mul(60),
            "h" => number.checked_mul(3600),
            _ => None,
        }
        .ok_or_else(bad)?;
        if count == 0 || seconds == 0 || seconds > 86_400 {
            return Err(format!(
                "{text:?}: the count must be at least 1 and the window from 1s to 24h"
            ));
        }
        Ok(Limit {
            count,
            window: Duration::from_secs(seconds),
        })
    }
}

/// Counts per key in fixed windows: a key's window starts at its first
/// event and its count starts again once the window has ended. Memory is
/// bounded: past `max_keys` keys, windows that have ended are dropped, and
/// if that is not enough the oldest half goes (their counts start again,
/// which errs towards letting a client in).
pub struct Throttle {
    limit: Limit,
    /// Each key's count in its current window; an entry ends with its
    /// window.
    counts: ExpiringMap<String, u32>,
}

impl Throttle {
    pub fn new(limit: Limit, max_keys: usize) -> Throttle {
        Throttle {
            limit,
            counts: ExpiringMap::new(
                limit.window,
                max_keys,
                Overflow::OlderHalf { what: "clients" },
            ),
        }
    }

    pub fn limit(&self) -> Limit {
        self.limit
    }

    /// How long `key` must wait, if it has used up its limit.
    pub fn blocked(&self, key: &str) -> Option<Duration> {
        let (count, left) = self.counts.get_with_time_left(key)?;
        (count >= self.limit.count).then_some(left)
    }

    /// Counts one event for `key`; how long it must wait if that was over
    /// the limit.
    pub fn hit(&self, key: &str) -> Option<Duration> {
        let limit = self.limit.count;
        self.counts
            .update_or_insert(key.to_string(), 0, |count, left| {
                *count = count.saturating_add(1);
                (*count > limit).then_some(left)
            })
    }

    /// Forgets `key` (a login that has just signed in).
    pub fn clear(&self, key: &str) {
        self.counts.remove(key);
    }
}

/// Whole seconds for `Retry-After`, rounded up, at least 1.
pub fn retry_after_secs(wait: Duration) -> u64 {
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    secs.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_are_read_with_units() {
        let l = |s: &str| s.parse::<Limit>();
        assert_eq!(l("150/5s").unwrap().count, 150);
        assert_eq!(l("150/5s").unwrap().window, Duration::from_secs(5));
        assert_eq!(l(" 10 / 1m ").unwrap().window, Duration::from_secs(60));
        assert_eq!(l("3/2h").unwrap().window, Duration::from_secs(7200));
        assert_eq!(l("3/30").unwrap().window, Duration::from_secs(30));
        for bad in [
            "", "150", "/5s", "x/5s", "0/5s", "5/0s", "5/5d", "5/s", "5/2days", "-1/5s", "5/25h",
        ] {
            assert!(l(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_key_is_blocked_after_its_count_until_the_window_ends() {
        let t = Throttle::new("2/1s".parse().unwrap(), 100);
        assert_eq!(t.hit("a"), None);
        assert_eq!(t.blocked("a"), None);
        assert_eq!(t.hit("a"), None);
        let wait = t.blocked("a").expect("blocked after 2");
        assert!(wait <= Duration::from_secs(1));
        assert!(t.hit("a").is_some());
        assert_eq!(t.blocked("b"), None, "other keys are counted apart");
        std::thread::sleep(Duration::from_millis(1050));
        assert_eq!(t.blocked("a"), None);
        assert_eq!(t.hit("a"), None, "a new window");
        t.hit("a");
        t.clear("a");
        assert_eq!(t.blocked("a"), None);
    }

    #[test]
    fn memory_is_bounded() {
        let t = Throttle::new("1/1h".parse().unwrap(), 50);
        for i in 0..1000 {
            t.hit(&format!("k{i}"));
        }
        assert!(t.counts.len() <= 50);
        assert!(t.blocked("k999").is_some(), "the newest are kept");
    }

    #[test]
    fn retry_after_rounds_up() {
        assert_eq!(retry_after_secs(Duration::from_millis(1)), 1);
        assert_eq!(retry_after_secs(Duration::from_millis(1500)), 2);
        assert_eq!(retry_after_secs(Duration::from_secs(5)), 5);
        assert_eq!(retry_after_secs(Duration::ZERO), 1);
    }
}
