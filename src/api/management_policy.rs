//! `spec.managementPolicy` (whether the operator may write to AWS for a resource) and
//! `status.pendingChanges` (the plan an `Observe` resource would apply).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

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
    /// What the deletion guard would refuse, when the plan removes more than it allows.
    pub refused: Option<String>,
}

/// One action of the plan: how many, and the first few it names.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct PendingAction {
    /// `createGraph`, `invite`, `reinvite`, `remove`, `startMonitoring`, `accept`, `setTags`,
    /// `removeTags` or `startPackages`.
    pub action: String,
    pub count: i32,
    /// The first accounts (tag keys, package names) of the action, at most five.
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

    /// Whether AWS already matches the spec.
    pub fn is_empty(&self) -> bool {
        self.actions.is_empty()
    }

    /// One line: `invite 2 (a, b); remove 1 (c)`, and the refusal.
    pub fn summary(&self) -> String {
        let mut text = if self.actions.is_empty() {
            "no change".to_owned()
        } else {
            self.actions
                .iter()
                .map(|a| format!("{} {} ({})", a.action, a.count, a.first.join(", ")))
                .collect::<Vec<_>>()
                .join("; ")
        };
        if let Some(refused) = &self.refused {
            text.push_str(&format!("; deletion guard would refuse: {refused}"));
        }
        text
    }
}
