//! kstatus conditions, shared by both resources.
//!
//! `Ready`, `Reconciling` and `Stalled` follow the kstatus conventions that `kubectl wait`, Flux and
//! Argo CD health checks read; `MembersHealthy` is the domain condition of a `DetectiveGraph`.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use k8s_openapi::jiff::Timestamp;

pub const READY: &str = "Ready";
pub const RECONCILING: &str = "Reconciling";
pub const STALLED: &str = "Stalled";
pub const MEMBERS_HEALTHY: &str = "MembersHealthy";
/// Whether AWS matches the spec: nothing for a sync to write when read, or (managed) what differed written.
pub const IN_SYNC: &str = "InSync";

/// A condition's desired state, before times and generations are attached.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConditionState {
    pub type_: &'static str,
    pub status: bool,
    pub reason: String,
    pub message: String,
}

impl ConditionState {
    pub fn new(type_: &'static str, status: bool, reason: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            type_,
            status,
            reason: reason.into(),
            message: message.into(),
        }
    }
}

/// The kstatus verdict of one reconcile: `Ready`, and whether `Reconciling` or `Stalled` hold
/// (they share Ready's reason and message when they do).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    pub ready: bool,
    pub reconciling: bool,
    pub stalled: bool,
    pub reason: String,
    pub message: String,
}

impl Verdict {
    fn new(ready: bool, reconciling: bool, stalled: bool, reason: &str, message: impl Into<String>) -> Self {
        Self {
            ready,
            reconciling,
            stalled,
            reason: reason.to_owned(),
            message: message.into(),
        }
    }

    /// As declared; nothing to do.
    pub fn ready(reason: &str, message: impl Into<String>) -> Self {
        Self::new(true, false, false, reason, message)
    }

    /// Not there yet, and work (the operator's or AWS's) is under way.
    pub fn progressing(reason: &str, message: impl Into<String>) -> Self {
        Self::new(false, true, false, reason, message)
    }

    /// Cannot proceed without a human.
    pub fn stalled(reason: &str, message: impl Into<String>) -> Self {
        Self::new(false, false, true, reason, message)
    }

    /// Not ready, with nothing in flight and nothing the operator could do (e.g. a member whose
    /// verification failed).
    pub fn not_ready(reason: &str, message: impl Into<String>) -> Self {
        Self::new(false, false, false, reason, message)
    }

    /// The three kstatus conditions.
    pub fn states(&self) -> [ConditionState; 3] {
        let when = |holds: bool, idle: &str| {
            if holds {
                (self.reason.clone(), self.message.clone())
            } else {
                (idle.to_owned(), String::new())
            }
        };
        let (reconciling_reason, reconciling_message) = when(self.reconciling, "Idle");
        let (stalled_reason, stalled_message) = when(self.stalled, "NotStalled");
        [
            ConditionState::new(READY, self.ready, self.reason.clone(), self.message.clone()),
            ConditionState::new(RECONCILING, self.reconciling, reconciling_reason, reconciling_message),
            ConditionState::new(STALLED, self.stalled, stalled_reason, stalled_message),
        ]
    }
}

/// Builds the new condition list from the desired states: a condition keeps its
/// `lastTransitionTime` unless its status flips, so `kubectl get -w` and alerting see real
/// transitions only. Conditions of other types already present are dropped.
pub fn merge(
    previous: &[Condition],
    desired: &[ConditionState],
    generation: Option<i64>,
    now: Timestamp,
) -> Vec<Condition> {
    desired
        .iter()
        .map(|state| {
            let status = if state.status { "True" } else { "False" }.to_owned();
            let last_transition_time = previous
                .iter()
                .find(|c| c.type_ == state.type_ && c.status == status)
                .map(|c| c.last_transition_time.clone())
                .unwrap_or(Time(now));
            Condition {
                type_: state.type_.to_owned(),
                status,
                reason: state.reason.clone(),
                message: state.message.clone(),
                observed_generation: generation,
                last_transition_time,
            }
        })
        .collect()
}

/// Whether the condition of this type is present and `True`.
pub fn is_true(conditions: &[Condition], type_: &str) -> bool {
    conditions.iter().any(|c| c.type_ == type_ && c.status == "True")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> Timestamp {
        Timestamp::from_second(seconds).unwrap()
    }

    #[test]
    fn transition_time_moves_only_when_status_flips() {
        let first = merge(
            &[],
            &[ConditionState::new(READY, false, "Progressing", "inviting")],
            Some(1),
            at(100),
        );
        assert_eq!(first[0].last_transition_time, Time(at(100)));

        let same = merge(
            &first,
            &[ConditionState::new(READY, false, "Progressing", "verifying")],
            Some(2),
            at(200),
        );
        assert_eq!(
            same[0].last_transition_time,
            Time(at(100)),
            "message change is no transition"
        );
        assert_eq!(same[0].message, "verifying");
        assert_eq!(same[0].observed_generation, Some(2));

        let flipped = merge(
            &same,
            &[ConditionState::new(READY, true, "Synced", "all enabled")],
            Some(2),
            at(300),
        );
        assert_eq!(flipped[0].last_transition_time, Time(at(300)));
        assert!(is_true(&flipped, READY));
        assert!(!is_true(&flipped, STALLED));
    }
}
