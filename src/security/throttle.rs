//! Counting requests per key in fixed time windows: failed sign-ins per
//! client address and per login (so guessing passwords is slow), and, when
//! `SYNCD_RATE_LIMIT` is set, all requests per signed-in user (as Highrise's
//! "150 requests per 5 seconds per token").

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

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

/// Counts per key. Memory is bounded: past `max_keys` keys, windows that
/// have ended are dropped, and if that is not enough the oldest half goes
/// (their counts start again, which errs towards letting a client in).
pub struct Throttle {
    limit: Limit,
    max_keys: usize,
    windows: Mutex<HashMap<String, Window>>,
}

struct Window {
    start: Instant,
    count: u32,
}

impl Throttle {
    pub fn new(limit: Limit, max_keys: usize) -> Throttle {
        Throttle {
            limit,
            max_keys: max_keys.max(1),
            windows: Mutex::new(HashMap::new()),
        }
    }

    pub fn limit(&self) -> Limit {
        self.limit
    }

    /// How long `key` must wait, if it has used up its limit.
    pub fn blocked(&self, key: &str) -> Option<Duration> {
        let now = Instant::now();
        let windows = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        let w = windows.get(key)?;
        let ends = w.start + self.limit.window;
        (w.count >= self.limit.count && ends > now).then(|| ends - now)
    }

    /// Counts one event for `key`; how long it must wait if that was over
    /// the limit.
    pub fn hit(&self, key: &str) -> Option<Duration> {
        let now = Instant::now();
        let mut windows = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        if windows.len() >= self.max_keys && !windows.contains_key(key) {
            self.make_room(&mut windows, now);
        }
        let w = windows.entry(key.to_string()).or_insert(Window {
            start: now,
            count: 0,
        });
        if w.start + self.limit.window <= now {
            *w = Window {
                start: now,
                count: 0,
            };
        }
        w.count = w.count.saturating_add(1);
        let ends = w.start + self.limit.window;
        (w.count > self.limit.count).then(|| ends - now)
    }

    /// Forgets `key` (a login that has just signed in).
    pub fn clear(&self, key: &str) {
        let mut windows = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        windows.remove(key);
    }

    fn make_room(&self, windows: &mut HashMap<String, Window>, now: Instant) {
        let window = self.limit.window;
        windows.retain(|_, w| w.start + window > now);
        if windows.len() >= self.max_keys {
            let mut starts: Vec<Instant> = windows.values().map(|w| w.start).collect();
            starts.sort_unstable();
            let cut = starts[starts.len() / 2];
            windows.retain(|_, w| w.start > cut);
            log::warn!(
                "more than {} clients are being counted; the oldest half were forgotten",
                self.max_keys
            );
        }
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
        assert!(t.windows.lock().unwrap().len() <= 50);
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
