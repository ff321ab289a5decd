//! When to look again at a delegation that does not show yet. Pure: the clock comes in as `now`.
//!
//! ListOrganizationAdminAccounts lists a new administrator a while after
//! EnableOrganizationAdminAccount (Terraform's `aws_detective_organization_admin_account` waits
//! up to 5 minutes for it; AWS's Security Reference Architecture sleeps 10 s). The Region is
//! looked at again soon, with a backoff that doubles from [`FIRST_RECHECK`] to [`RECHECK_CAP`],
//! for [`DELEGATION_SHOWS_WITHIN`]; then it is reported Stalled.

use std::time::Duration;

use k8s_openapi::jiff::{SignedDuration, Timestamp};

pub use crate::engine::DELEGATION_SHOWS_WITHIN;

/// The first look after Enable.
const FIRST_RECHECK: Duration = Duration::from_secs(2);
/// The longest wait between two looks.
const RECHECK_CAP: Duration = Duration::from_secs(30);

/// Whether a delegation enabled at `since` may still show at `now`.
pub fn may_still_show(since: Timestamp, now: Timestamp) -> bool {
    elapsed(since, now) < DELEGATION_SHOWS_WITHIN
}

/// When to look again at a Region enabled at `since`: as long as it has been waiting, between
/// 2 s and 30 s (2, 2, 4, 8, 16, 30, 30 s, ... after Enable).
pub fn recheck_after(since: Timestamp, now: Timestamp) -> Duration {
    elapsed(since, now).clamp(FIRST_RECHECK, RECHECK_CAP)
}

fn elapsed(since: Timestamp, now: Timestamp) -> Duration {
    let waited: SignedDuration = now.duration_since(since);
    Duration::try_from(waited).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn looks_again_within_seconds_doubling_then_gives_up_after_five_minutes() {
        let since = Timestamp::from_second(1_800_000_000).expect("a time");
        let mut now = since;
        let mut waits = Vec::new();
        for _ in 0..8 {
            let wait = recheck_after(since, now);
            waits.push(wait.as_secs());
            now += SignedDuration::try_from(wait).expect("a wait");
        }
        assert_eq!(waits, [2, 2, 4, 8, 16, 30, 30, 30]);
        assert!(may_still_show(since, since + SignedDuration::from_secs(299)));
        assert!(!may_still_show(since, since + SignedDuration::from_secs(300)));
        assert_eq!(
            recheck_after(since, since - SignedDuration::from_secs(5)),
            FIRST_RECHECK,
            "a clock that went back"
        );
    }
}
