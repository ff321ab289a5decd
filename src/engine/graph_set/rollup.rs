//! A `DetectiveGraphSet`'s status: each declared Region's child as its own status reports it,
//! and the kstatus verdict over all of them.

use k8s_openapi::jiff::Timestamp;

use kube::ResourceExt;

use super::children::{ChildAction, ChildView};

use crate::api::conditions::{READY, STALLED, Verdict};
use crate::api::{DetectiveGraphSet, DetectiveGraphSetStatus, RegionGraph, SyncStatus};

/// The reason of a Region whose child's name is taken by a resource the set does not control.
pub const CHILD_CONFLICT: &str = "ChildConflict";

/// Where one declared Region stands, after this reconcile's action on its child.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RegionProgress {
    /// The child is Ready for its current generation.
    Ready,
    /// The child (or the set on its behalf) needs a human: the reason and message.
    Stalled(String, String),
    /// Not Ready yet; why.
    Waiting(String),
}

/// One declared Region's entry, from the action taken and the child seen before it.
fn region_entry(action: &ChildAction, child: Option<&ChildView>) -> (RegionGraph, RegionProgress) {
    let region = action.declared_region().unwrap_or_default().to_owned();
    let status = child.and_then(|c| c.status.as_ref());
    let progress = match action {
        ChildAction::Create { .. } => RegionProgress::Waiting("child created".into()),
        ChildAction::Update { .. } => RegionProgress::Waiting("child updated to the template".into()),
        ChildAction::Recreate { .. } => {
            RegionProgress::Waiting("child being deleted; it is created again once gone".into())
        }
        ChildAction::Conflict {
            name, other_controller, ..
        } => RegionProgress::Stalled(
            CHILD_CONFLICT.into(),
            format!(
                "DetectiveGraph {name} exists and is not owned by this set ({}); it is never taken over: rename or delete it",
                other_controller
                    .as_ref()
                    .map_or("no controller".to_owned(), |o| format!("controlled by {o}"))
            ),
        ),
        ChildAction::InSync { .. } => child_progress(child),
        ChildAction::Orphan { .. } | ChildAction::Delete { .. } => {
            unreachable!("only declared Regions have an entry")
        }
    };
    let summary = status.and_then(|s| s.summary.as_ref());
    let name = match action {
        ChildAction::Create { child, .. } | ChildAction::Update { child, .. } => {
            child.metadata.name.clone().unwrap_or_default()
        }
        ChildAction::InSync { name, .. } | ChildAction::Recreate { name, .. } | ChildAction::Conflict { name, .. } => {
            name.clone()
        }
        ChildAction::Orphan { .. } | ChildAction::Delete { .. } => unreachable!("only declared Regions"),
    };
    // Nothing is read from a graph the set does not own.
    let owned_status = status.filter(|_| !matches!(action, ChildAction::Conflict { .. }));
    let entry = RegionGraph {
        region,
        name,
        ready: progress == RegionProgress::Ready,
        stalled_reason: match &progress {
            RegionProgress::Stalled(reason, _) => Some(reason.clone()),
            _ => None,
        },
        message: match &progress {
            RegionProgress::Ready => None,
            RegionProgress::Stalled(_, message) | RegionProgress::Waiting(message) => Some(message.clone()),
        },
        graph_arn: owned_status.and_then(|s| s.graph_arn.clone()),
        desired: summary.filter(|_| owned_status.is_some()).map(|s| s.desired),
        enabled: summary.filter(|_| owned_status.is_some()).map(|s| s.enabled),
        pending: summary
            .filter(|_| owned_status.is_some())
            .map(|s| s.invited + s.verification_in_progress + s.accepted_but_disabled),
        failed: summary
            .filter(|_| owned_status.is_some())
            .map(|s| s.verification_failed),
    };
    (entry, progress)
}

/// A child in sync with the template: Ready when its Ready condition holds for its current
/// generation; Stalled with its own reason; else waiting, with its Ready message.
fn child_progress(child: Option<&ChildView>) -> RegionProgress {
    let Some(child) = child else {
        return RegionProgress::Waiting("child not read".into());
    };
    let Some(status) = child.status.as_ref() else {
        return RegionProgress::Waiting("the child has not been reconciled yet".into());
    };
    let current = |type_: &str| {
        let condition = status.sync.condition(type_)?;
        (condition.status == "True" && condition.observed_generation == child.generation).then_some(condition)
    };
    let observed = status.sync.observed_generation == child.generation;
    if let Some(stalled) = current(STALLED).filter(|_| observed) {
        return RegionProgress::Stalled(stalled.reason.clone(), stalled.message.clone());
    }
    if current(READY).is_some() && observed {
        return RegionProgress::Ready;
    }
    let message = status
        .sync
        .condition(READY)
        .map(|c| c.message.clone())
        .filter(|m| !m.is_empty() && observed)
        .unwrap_or_else(|| {
            format!(
                "the child has not reconciled generation {} yet",
                child.generation.unwrap_or_default()
            )
        });
    RegionProgress::Waiting(message)
}

/// The set's status after a reconcile that took `actions` on the children `observed` before
/// them, at `now`.
pub fn report(
    set: &DetectiveGraphSet,
    observed: &[ChildView],
    actions: &[ChildAction],
    now: Timestamp,
) -> DetectiveGraphSetStatus {
    let previous = set.status.clone().unwrap_or_default();
    let mut regions = Vec::new();
    let mut stalled = Vec::new();
    let mut waiting = Vec::new();
    for action in actions.iter().filter(|a| a.declared_region().is_some()) {
        let name = set.child_name(action.declared_region().unwrap_or_default());
        let child = observed.iter().find(|c| c.name == name);
        let (entry, progress) = region_entry(action, child);
        match progress {
            RegionProgress::Ready => {}
            RegionProgress::Stalled(reason, message) => stalled.push((entry.region.clone(), reason, message)),
            RegionProgress::Waiting(message) => waiting.push((entry.region.clone(), message)),
        }
        regions.push(entry);
    }
    let declared = set.spec.regions.len();
    let ready = regions.iter().filter(|r| r.ready).count();
    let verdict = verdict(ready, declared, &stalled, &waiting);
    let mut sync = SyncStatus::after(&previous.sync, &verdict.states(), set.metadata.generation, now, true);
    sync.handled_request(set.annotations());
    DetectiveGraphSetStatus {
        sync,
        regions,
        ready_regions: i32::try_from(ready).unwrap_or(i32::MAX),
        declared_regions: i32::try_from(declared).unwrap_or(i32::MAX),
        ready: Some(format!("{ready}/{declared}")),
    }
}

/// The kstatus verdict over the Regions: Stalled when one is (naming them), Ready when all are,
/// Reconciling otherwise.
fn verdict(
    ready: usize,
    declared: usize,
    stalled: &[(String, String, String)],
    waiting: &[(String, String)],
) -> Verdict {
    if !stalled.is_empty() {
        let reason = if stalled.iter().any(|(_, reason, _)| reason == CHILD_CONFLICT) {
            CHILD_CONFLICT
        } else {
            "ChildStalled"
        };
        let regions: Vec<String> = stalled
            .iter()
            .map(|(region, reason, message)| format!("{region} ({reason}: {message})"))
            .collect();
        return Verdict::stalled(reason, format!("Stalled in {}", regions.join("; ")));
    }
    if waiting.is_empty() {
        return Verdict::ready("RegionsReady", format!("{ready}/{declared} Regions Ready"));
    }
    let regions: Vec<String> = waiting
        .iter()
        .map(|(region, message)| format!("{region} ({message})"))
        .collect();
    Verdict::progressing(
        "RegionsProgressing",
        format!("{ready}/{declared} Regions Ready; waiting for {}", regions.join("; ")),
    )
}

/// Whether a Region of the previous status was already in conflict (its event was published).
pub fn was_in_conflict(previous: Option<&DetectiveGraphSetStatus>, region: &str) -> bool {
    previous.is_some_and(|status| {
        status
            .regions
            .iter()
            .any(|r| r.region == region && r.stalled_reason.as_deref() == Some(CHILD_CONFLICT))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::conditions::ConditionState;
    use crate::api::{DetectiveGraph, DetectiveGraphStatus, MemberSummary};
    use crate::engine::graph_set::children::{decide, desired_child};

    fn set(regions: &[&str]) -> DetectiveGraphSet {
        let mut set: DetectiveGraphSet = serde_json::from_value(serde_json::json!({
            "apiVersion": "detective.operator.dev/v1alpha1",
            "kind": "DetectiveGraphSet",
            "metadata": {"name": "org", "namespace": "security", "uid": "set-uid", "generation": 2},
            "spec": {"regions": regions, "template": {"spec": {}}},
        }))
        .expect("a set");
        set.metadata.generation = Some(2);
        set
    }

    /// The set's child in `region` with a status whose Ready (and Stalled) conditions are for
    /// `observed` while the child is at generation 3.
    fn child(set: &DetectiveGraphSet, region: &str, ready: bool, stalled: Option<&str>, observed: i64) -> ChildView {
        let mut graph: DetectiveGraph = desired_child(set, region);
        graph.metadata.uid = Some(format!("uid-{region}"));
        graph.metadata.generation = Some(3);
        let states = [
            ConditionState::new(READY, ready, "Synced", "as declared"),
            ConditionState::new(STALLED, stalled.is_some(), stalled.unwrap_or("NotStalled"), "guard"),
        ];
        graph.status = Some(DetectiveGraphStatus {
            sync: SyncStatus::after(
                &SyncStatus::default(),
                &states,
                Some(observed),
                Timestamp::UNIX_EPOCH,
                true,
            ),
            graph_arn: Some(format!("arn:aws:detective:{region}:123456789012:graph:0123")),
            summary: Some(MemberSummary {
                desired: 5,
                enabled: 3,
                invited: 1,
                verification_failed: 1,
                ..MemberSummary::default()
            }),
            ..DetectiveGraphStatus::default()
        });
        ChildView::of(&graph, "set-uid")
    }

    fn rolled_up(set: &DetectiveGraphSet, children: &[ChildView]) -> DetectiveGraphSetStatus {
        report(set, children, &decide(set, children), Timestamp::UNIX_EPOCH)
    }

    fn condition(status: &DetectiveGraphSetStatus, type_: &str) -> (String, String, String) {
        let c = status.sync.condition(type_).expect("condition");
        (c.status.clone(), c.reason.clone(), c.message.clone())
    }

    #[test]
    fn ready_when_every_child_is_ready_for_its_current_generation() {
        let set = set(&["us-east-1", "eu-west-1", "ap-southeast-2"]);
        let regions = ["us-east-1", "eu-west-1", "ap-southeast-2"];
        let children: Vec<ChildView> = regions.iter().map(|r| child(&set, r, true, None, 3)).collect();
        let status = rolled_up(&set, &children);
        assert_eq!(condition(&status, READY).0, "True", "{status:?}");
        assert_eq!((status.ready_regions, status.declared_regions), (3, 3));
        assert_eq!(status.ready.as_deref(), Some("3/3"));
        assert_eq!(status.sync.observed_generation, Some(2), "the set's own generation");
        let entry = &status.regions[1];
        assert_eq!(
            (entry.region.as_str(), entry.name.as_str(), entry.ready),
            ("eu-west-1", "org-eu-west-1", true)
        );
        assert_eq!(
            (entry.desired, entry.enabled, entry.pending, entry.failed),
            (Some(5), Some(3), Some(1), Some(1))
        );
        assert!(entry.graph_arn.as_deref().is_some_and(|a| a.contains(":eu-west-1:")));

        // Ready for an older generation is not Ready.
        let mut behind = children.clone();
        behind[2] = child(&set, "ap-southeast-2", true, None, 2);
        let status = rolled_up(&set, &behind);
        assert_eq!(condition(&status, READY).0, "False");
        let (reconciling, _, message) = condition(&status, "Reconciling");
        assert_eq!(reconciling, "True");
        assert!(
            message.starts_with("2/3 Regions Ready; waiting for ap-southeast-2"),
            "{message}"
        );
        assert_eq!(status.ready.as_deref(), Some("2/3"));

        // And so is a Ready condition left from an older generation under a newer status.
        let mut stale = children.clone();
        if let Some(status) = stale[0].status.as_mut() {
            status
                .sync
                .conditions
                .iter_mut()
                .for_each(|c| c.observed_generation = Some(2));
        }
        let status = rolled_up(&set, &stale);
        assert_eq!(condition(&status, READY).0, "False");
        assert!(!status.regions[0].ready);
    }

    #[test]
    fn a_requested_reconcile_is_recorded_as_handled() {
        let mut set = set(&["us-east-1"]);
        let children = vec![child(&set, "us-east-1", true, None, 3)];
        assert_eq!(rolled_up(&set, &children).sync.last_handled_reconcile_at, None);
        set.metadata.annotations = Some(
            [(
                crate::api::RECONCILE_REQUESTED_AT.to_owned(),
                "2026-12-06T05:00:00Z".to_owned(),
            )]
            .into(),
        );
        assert_eq!(
            rolled_up(&set, &children).sync.last_handled_reconcile_at.as_deref(),
            Some("2026-12-06T05:00:00Z")
        );
    }

    #[test]
    fn a_stalled_child_or_a_name_clash_stalls_the_set_naming_the_regions() {
        let set = set(&["us-east-1", "eu-west-1"]);
        let children = vec![
            child(&set, "us-east-1", false, Some("DeletionGuard"), 3),
            child(&set, "eu-west-1", true, None, 3),
        ];
        let status = rolled_up(&set, &children);
        let (stalled, reason, message) = condition(&status, STALLED);
        assert_eq!((stalled.as_str(), reason.as_str()), ("True", "ChildStalled"));
        assert!(message.contains("us-east-1 (DeletionGuard: guard)"), "{message}");
        assert_eq!(status.regions[0].stalled_reason.as_deref(), Some("DeletionGuard"));

        let mut foreign = children.clone();
        foreign[1].controlled = false;
        foreign[1].other_controller = None;
        let status = rolled_up(&set, &foreign);
        let (stalled, reason, message) = condition(&status, STALLED);
        assert_eq!((stalled.as_str(), reason.as_str()), ("True", CHILD_CONFLICT));
        assert!(
            message.contains("eu-west-1 (ChildConflict: DetectiveGraph org-eu-west-1 exists"),
            "{message}"
        );
        assert_eq!(
            status.regions[1].graph_arn, None,
            "nothing is read from a graph the set does not own"
        );
        assert!(was_in_conflict(Some(&status), "eu-west-1"));
        assert!(!was_in_conflict(Some(&status), "us-east-1"));
    }

    #[test]
    fn new_and_updated_children_are_waited_for() {
        let set = set(&["us-east-1", "eu-west-1"]);
        let mut edited = child(&set, "eu-west-1", true, None, 3);
        edited.spec.suspend = true;
        let status = rolled_up(&set, &[edited]);
        assert_eq!(condition(&status, READY).0, "False");
        let messages: Vec<_> = status
            .regions
            .iter()
            .map(|r| r.message.clone().unwrap_or_default())
            .collect();
        assert_eq!(messages, ["child created", "child updated to the template"]);
        assert_eq!(status.ready.as_deref(), Some("0/2"));
    }
}
