//! When to act again: the backoff of repeated member actions (StartMonitoringMember,
//! AcceptInvitation), the attempts carried in status, and the requeue delay. Pure: the clock
//! comes in as `now`.

use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::{SignedDuration, Timestamp};

use crate::api::DetectiveGraphStatus;
use crate::engine::SHORT_REQUEUE;
use crate::member::{MemberStatus, UnprocessedAccount};

/// Backoff of repeated member actions (StartMonitoringMember, AcceptInvitation): 1, 2, 4, ...
/// minutes, capped.
const ATTEMPT_BACKOFF_BASE: Duration = Duration::from_secs(60);
const ATTEMPT_BACKOFF_CAP: Duration = Duration::from_secs(3600);

/// Whether the backoff of a member's repeated action (StartMonitoringMember, AcceptInvitation)
/// has elapsed.
pub fn attempt_due(previous: &DetectiveGraphStatus, account: &str, now: Timestamp) -> bool {
    let Some(entry) = previous.members.iter().find(|m| m.account_id == account) else {
        return true;
    };
    let (Some(attempts), Some(Time(last))) = (entry.attempts, entry.last_attempt_time.as_ref()) else {
        return true;
    };
    let wait = attempt_backoff(attempts);
    now.duration_since(*last) >= SignedDuration::try_from(wait).unwrap_or(SignedDuration::MAX)
}

fn attempt_backoff(attempts: i32) -> Duration {
    let doublings = u32::try_from(attempts.saturating_sub(1)).unwrap_or(0).min(10);
    (ATTEMPT_BACKOFF_BASE * 2u32.pow(doublings)).min(ATTEMPT_BACKOFF_CAP)
}

/// What the per-member writes of one reconcile leave for the backoff records in status.
#[derive(Debug, Default)]
pub struct Attempts {
    /// Members whose repeated action (StartMonitoringMember, AcceptInvitation) was attempted:
    /// their backoff counts.
    pub attempted: Vec<String>,
    /// Accounts a write did not process, with the reason (AWS's, or the failed acceptance's).
    pub unprocessed: Vec<UnprocessedAccount>,
}

impl Attempts {
    /// Adds what a later step attempted.
    pub fn extend(&mut self, later: Attempts) {
        self.attempted.extend(later.attempted);
        self.unprocessed.extend(later.unprocessed);
    }
}

/// Carries action attempts (kept while a member stays in the same state) and per-member errors
/// into the new status.
pub fn record_attempts(
    status: &mut DetectiveGraphStatus,
    previous: &DetectiveGraphStatus,
    made: &Attempts,
    now: Timestamp,
) {
    let Attempts { attempted, unprocessed } = made;
    for entry in &mut status.members {
        let before = previous
            .members
            .iter()
            .find(|m| m.account_id == entry.account_id && m.status == entry.status);
        let attempts = before.and_then(|b| b.attempts).unwrap_or(0);
        if attempted.contains(&entry.account_id) {
            entry.attempts = Some(attempts + 1);
            entry.last_attempt_time = Some(Time(now));
        } else if attempts > 0 {
            entry.attempts = Some(attempts);
            entry.last_attempt_time = before.and_then(|b| b.last_attempt_time.clone());
        }
        if let Some(refused) = unprocessed.iter().find(|u| u.account_id == entry.account_id) {
            entry.last_error = Some(refused.reason.clone());
        } else if attempts > 0 && !attempted.contains(&entry.account_id) {
            entry.last_error = before.and_then(|b| b.last_error.clone());
        }
    }
}

/// When to reconcile again: soon while something moves, at `resync` (`resyncInterval`) otherwise.
///
/// - members being verified, or writes that just landed (`wrote`): [`SHORT_REQUEUE`];
/// - declared members waiting in INVITED: a quarter of the youngest invitation's age, so a fresh
///   invitation is looked at within seconds and one that nobody answers is not polled every 10 s;
/// - a member action waiting for its backoff (StartMonitoringMember, AcceptInvitation): when it
///   is due;
///
/// each at least [`SHORT_REQUEUE`] and at most `resyncInterval`.
pub fn requeue_after(status: &DetectiveGraphStatus, resync: Duration, wrote: bool, now: Timestamp) -> Duration {
    let clamp = |wait: Duration| wait.clamp(SHORT_REQUEUE.min(resync), resync);
    let in_transit = status
        .members
        .iter()
        .any(|m| MemberStatus::parse(&m.status).in_transit());
    if in_transit || wrote {
        return clamp(SHORT_REQUEUE);
    }
    let since = |time: &Option<Time>| {
        time.as_ref()
            .and_then(|Time(t)| Duration::try_from(now.duration_since(*t)).ok())
            .unwrap_or_default()
    };
    let awaiting_acceptance = status
        .members
        .iter()
        .filter(|m| m.declared && m.status == MemberStatus::Invited.as_str())
        .map(|m| clamp(since(&m.updated_time.clone().or(m.invited_time.clone())) / 4));
    let backoff_due = status.members.iter().filter_map(|m| {
        let attempts = m.attempts?;
        Some(clamp(
            attempt_backoff(attempts).saturating_sub(since(&m.last_attempt_time)),
        ))
    });
    awaiting_acceptance.chain(backoff_due).min().unwrap_or(resync)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::MemberStatusEntry;

    #[test]
    fn monitoring_backoff_doubles_and_caps() {
        assert_eq!(attempt_backoff(1), Duration::from_secs(60));
        assert_eq!(attempt_backoff(2), Duration::from_secs(120));
        assert_eq!(attempt_backoff(4), Duration::from_secs(480));
        assert_eq!(attempt_backoff(30), ATTEMPT_BACKOFF_CAP);
    }

    #[test]
    fn invited_members_are_looked_at_sooner_the_fresher_their_invitation() {
        let resync = Duration::from_secs(300);
        let now = Timestamp::from_second(1_000_000).unwrap();
        let invited = |age_secs: i64| MemberStatusEntry {
            account_id: "111111111111".into(),
            status: "INVITED".into(),
            declared: true,
            updated_time: Some(Time(now - SignedDuration::from_secs(age_secs))),
            ..Default::default()
        };
        let status = |members| DetectiveGraphStatus {
            members,
            ..Default::default()
        };
        let idle = false;
        assert_eq!(
            requeue_after(&status(vec![invited(5)]), resync, idle, now),
            SHORT_REQUEUE
        );
        assert_eq!(
            requeue_after(&status(vec![invited(240)]), resync, idle, now),
            Duration::from_secs(60)
        );
        assert_eq!(
            requeue_after(&status(vec![invited(7200)]), resync, idle, now),
            Duration::from_secs(300)
        );
        assert_eq!(
            requeue_after(&status(vec![]), resync, idle, now),
            Duration::from_secs(300)
        );
        let mut backing_off = invited(7200);
        backing_off.status = "ACCEPTED_BUT_DISABLED".into();
        backing_off.attempts = Some(2);
        backing_off.last_attempt_time = Some(Time(now - SignedDuration::from_secs(60)));
        assert_eq!(
            requeue_after(&status(vec![backing_off]), resync, idle, now),
            Duration::from_secs(60),
            "the second attempt waits 2 minutes, 1 is left"
        );
    }
}
