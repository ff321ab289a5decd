//! What a sync of the graph would write, per action: the one count that `plan -f`'s verdict,
//! `status.pendingChanges` and the `InSync` condition all read.

use super::{GraphOutcome, GraphSource};
use crate::api::PendingChanges;

/// Each action of the outcome's plan with the accounts (tag keys, package names) it names, in
/// the order a sync takes them; actions with nothing to do are empty.
pub fn actions(outcome: &GraphOutcome) -> Vec<(&'static str, Vec<String>)> {
    let create = outcome
        .observation
        .as_ref()
        .filter(|o| o.source == GraphSource::WouldCreate)
        .map(|_| vec!["graph".to_owned()])
        .unwrap_or_default();
    let mut actions = vec![("createGraph", create)];
    if let Some(plan) = &outcome.plan {
        let ids = |members: &[crate::api::MemberSpec]| members.iter().map(|m| m.account_id.clone()).collect();
        actions.extend([
            ("invite", ids(&plan.invite)),
            ("reinvite", ids(&plan.reinvite)),
            ("remove", plan.remove.clone()),
            ("startMonitoring", plan.start_monitoring.clone()),
            ("accept", plan.accept.clone()),
        ]);
    }
    actions.extend([
        ("setTags", outcome.tag_changes.set.keys().cloned().collect()),
        ("removeTags", outcome.tag_changes.remove.clone()),
        ("startPackages", outcome.package_changes.start_names()),
    ]);
    actions
}

/// Whether a sync would write anything.
pub fn any(outcome: &GraphOutcome) -> bool {
    actions(outcome).iter().any(|(_, names)| !names.is_empty())
}

/// `status.pendingChanges`: the counted plan and what the deletion guard would refuse.
pub fn pending_changes(outcome: &GraphOutcome) -> PendingChanges {
    let refused = outcome
        .plan
        .as_ref()
        .and_then(|p| p.refusal.as_ref())
        .map(ToString::to_string);
    PendingChanges::of(actions(outcome), refused)
}
