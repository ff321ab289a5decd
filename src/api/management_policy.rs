//! `spec.managementPolicy` (whether the operator may write to AWS for a resource) and
//! `status.pendingChanges` (the plan an `Observe` resource would apply).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::conditions::{ConditionState, IN_SYNC, Verdict};

/// Whether the operator applies the spec or only observes how AWS differs from it.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ManagementPolicy {
    /// Reads AWS and applies the plan (the default).
    #[default]
    Manage,
    /// Reads AWS, writes status and `status.pendingChanges`, and makes no AWS write (deletion
    /// included, whatever `deletionPolicy` says).
    Observe,
}

impl ManagementPolicy {
    /// Whether the operator only observes: no AWS write.
    pub fn observes(self) -> bool {
        self == Self::Observe
    }
}

/// How many accounts (or tags, packages) of each action `status.pendingChanges` names.
pub const FIRST_SHOWN: usize = 5;

/// The plan an `Observe` resource would apply: one entry per action that has something to do.
#[serde_with::skip_serializing_none]
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct PendingChanges {
    /// One entry per action, in the order a sync would take them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub actions: Vec<PendingAction>,
    /// What a sync would be refused, and why: the deletion guard, when the plan removes more
    /// than it allows; an organization member that cannot leave its graph; another account that
    /// administers the organization.
    pub refused: Option<String>,
}

/// One action of the plan: how many, and the first few it names.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct PendingAction {
    /// A `DetectiveGraph`'s `createGraph`, `invite`, `reinvite`, `remove`, `startMonitoring`,
    /// `accept`, `setTags`, `removeTags` or `startPackages`; a `DetectiveMembership`'s `accept`,
    /// `reject` or `disassociate`; a `DetectiveOrganizationAdmin`'s `enable` or `disable`.
    pub action: String,
    pub count: i32,
    /// The first accounts (tag keys, package names, graphs, Regions) of the action, at most five.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub first: Vec<String>,
}

impl PendingChanges {
    /// From each action with what it names (empty ones left out).
    pub fn of(actions: Vec<(&str, Vec<String>)>, refused: Option<String>) -> Self {
        Self {
            actions: actions
                .into_iter()
                .filter(|(_, names)| !names.is_empty())
                .map(|(action, names)| PendingAction {
                    action: action.to_owned(),
                    count: i32::try_from(names.len()).unwrap_or(i32::MAX),
                    first: names.into_iter().take(FIRST_SHOWN).collect(),
                })
                .collect(),
            refused,
        }
    }

    /// Whether AWS already matches the spec: nothing to write, nothing refused.
    pub fn is_empty(&self) -> bool {
        self.actions.is_empty() && self.refused.is_none()
    }

    /// One line: `invite 2 (a, b); remove 1 (c)`, and the refusal.
    pub fn summary(&self) -> String {
        let mut parts: Vec<String> = self
            .actions
            .iter()
            .map(|a| format!("{} {} ({})", a.action, a.count, a.first.join(", ")))
            .collect();
        if let Some(refused) = &self.refused {
            parts.push(format!("a sync would be refused: {refused}"));
        }
        if parts.is_empty() {
            "no change".to_owned()
        } else {
            parts.join("; ")
        }
    }

    /// `InSync` after a reconcile that found this plan: `True` when there is nothing to write,
    /// or when the reconcile itself wrote what differed (`written`, under `Manage`): the same
    /// condition either way, so a quiet resync that reads AWS as written changes no status.
    pub fn in_sync(&self, written: bool) -> ConditionState {
        if self.is_empty() || written {
            ConditionState::new(IN_SYNC, true, "InSync", "AWS matches the spec")
        } else {
            ConditionState::new(IN_SYNC, false, "ChangesPending", self.summary())
        }
    }

    /// The kstatus verdict of an `Observe` reconcile that read AWS: Ready means observed; what a
    /// sync would do is `InSync`'s and `pendingChanges`'.
    pub fn observed(&self) -> Verdict {
        Verdict::ready(
            "Observed",
            format!(
                "managementPolicy Observe: AWS read, no write made; pending: {}",
                self.summary()
            ),
        )
    }

    /// What `status.pendingChanges` holds under `policy`: nothing under `Manage`; under `Observe`
    /// the plan this reconcile `read`, else (nothing was read) the last known one.
    pub fn published(policy: ManagementPolicy, read: Option<Self>, previous: Option<&Self>) -> Option<Self> {
        match (policy.observes(), read) {
            (false, _) => None,
            (true, Some(read)) => Some(read),
            (true, None) => previous.cloned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plan_counts_each_action_names_the_first_five_and_says_what_is_refused() {
        let accounts: Vec<String> = (0..7).map(|i| format!("{i:012}")).collect();
        let plan = PendingChanges::of(vec![("invite", accounts), ("remove", Vec::new())], None);
        assert_eq!(plan.actions.len(), 1, "an action with nothing to do is left out");
        assert_eq!((plan.actions[0].count, plan.actions[0].first.len()), (7, FIRST_SHOWN));
        assert!(!plan.in_sync(false).status);
        assert!(plan.in_sync(true).status, "written under Manage");

        let refused = PendingChanges::of(Vec::new(), Some("cannot leave".into()));
        assert!(!refused.is_empty(), "a refusal is no match");
        assert_eq!(refused.summary(), "a sync would be refused: cannot leave");
        assert_eq!(refused.in_sync(false).reason, "ChangesPending");
        let none = PendingChanges::default();
        assert_eq!(
            (none.summary().as_str(), none.in_sync(false).status),
            ("no change", true)
        );
    }

    #[test]
    fn only_observe_publishes_a_plan_and_keeps_the_last_one_when_nothing_was_read() {
        let last = PendingChanges::of(vec![("accept", vec!["graph".into()])], None);
        let read = PendingChanges::default();
        use ManagementPolicy::{Manage, Observe};
        assert_eq!(PendingChanges::published(Manage, Some(read.clone()), Some(&last)), None);
        assert_eq!(
            PendingChanges::published(Observe, Some(read.clone()), Some(&last)),
            Some(read)
        );
        assert_eq!(PendingChanges::published(Observe, None, Some(&last)), Some(last));
    }
}
