//! Per-resource exponential backoff for retryable failures (throttling, AWS unavailable).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use kube::api::DynamicObject;
use kube::runtime::reflector::ObjectRef;

/// A resource of any kind.
pub type Key = ObjectRef<DynamicObject>;

const FIRST: Duration = Duration::from_secs(5);
/// One minute: during an outage a resource costs AWS at most one reconcile (one call and the
/// SDK's retries) a minute, and it is back within about a minute of AWS answering again.
const CAP: Duration = Duration::from_secs(60);

/// Consecutive failures per resource key.
#[derive(Debug, Default)]
pub struct Backoff {
    failures: Mutex<HashMap<Key, u32>>,
}

impl Backoff {
    /// Records a failure of `key` and returns how long to wait: 5 s, 10 s, 20 s, 40 s, then 1 min.
    pub fn next(&self, key: &Key) -> Duration {
        let mut failures = self.failures.lock().expect("backoff lock");
        let count = failures.entry(key.clone()).or_insert(0);
        let delay = FIRST.saturating_mul(2u32.saturating_pow((*count).min(16))).min(CAP);
        *count += 1;
        delay
    }

    /// Forgets the failures of `key` after a success.
    pub fn reset(&self, key: &Key) {
        self.failures.lock().expect("backoff lock").remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_caps_and_resets() {
        use crate::api::{DetectiveGraph, DetectiveMembership};
        let key = |name: &str| ObjectRef::<DetectiveGraph>::new(name).within("ns").erase();
        let backoff = Backoff::default();
        let delays: Vec<u64> = (0..8).map(|_| backoff.next(&key("a")).as_secs()).collect();
        assert_eq!(delays, vec![5, 10, 20, 40, 60, 60, 60, 60]);
        assert_eq!(backoff.next(&key("b")).as_secs(), 5, "per resource");
        let membership = ObjectRef::<DetectiveMembership>::new("a").within("ns").erase();
        assert_eq!(backoff.next(&membership).as_secs(), 5, "per kind");
        backoff.reset(&key("a"));
        assert_eq!(backoff.next(&key("a")).as_secs(), 5);
    }
}
