//! Per-resource exponential backoff for retryable failures (throttling, AWS unavailable).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

const FIRST: Duration = Duration::from_secs(5);
/// One minute: during an outage a resource costs AWS at most one reconcile (one call and the
/// SDK's retries) a minute, and it is back within about a minute of AWS answering again.
const CAP: Duration = Duration::from_secs(60);

/// Consecutive failures per resource key.
#[derive(Debug, Default)]
pub struct Backoff {
    failures: Mutex<HashMap<String, u32>>,
}

impl Backoff {
    /// Records a failure of `key` and returns how long to wait: 5 s, 10 s, 20 s, 40 s, then 1 min.
    pub fn next(&self, key: &str) -> Duration {
        let mut failures = self.failures.lock().expect("backoff lock");
        let count = failures.entry(key.to_owned()).or_insert(0);
        let delay = FIRST.saturating_mul(2u32.saturating_pow((*count).min(16))).min(CAP);
        *count += 1;
        delay
    }

    /// Forgets the failures of `key` after a success.
    pub fn reset(&self, key: &str) {
        self.failures.lock().expect("backoff lock").remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_caps_and_resets() {
        let backoff = Backoff::default();
        let delays: Vec<u64> = (0..8).map(|_| backoff.next("ns/a").as_secs()).collect();
        assert_eq!(delays, vec![5, 10, 20, 40, 60, 60, 60, 60]);
        assert_eq!(backoff.next("ns/b").as_secs(), 5, "per resource");
        backoff.reset("ns/a");
        assert_eq!(backoff.next("ns/a").as_secs(), 5);
    }
}
