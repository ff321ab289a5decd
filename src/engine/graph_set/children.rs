//! The children a `DetectiveGraphSet` should have, one per declared Region, and what to do about
//! the `DetectiveGraph`s seen: create, put back, leave, orphan, delete, or refuse to touch.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use kube::{Resource, ResourceExt};

use crate::api::{
    DetectiveGraph, DetectiveGraphSet, DetectiveGraphSpec, DetectiveGraphStatus, GRAPH_SET_LABEL,
    RECONCILE_REQUESTED_AT, RegionRemoval,
};

/// A `DetectiveGraph` as the set's step reads it.
#[derive(Clone, Debug, PartialEq)]
pub struct ChildView {
    pub name: String,
    pub uid: String,
    /// Whether the set is its controller (an owner reference with `controller: true` and the
    /// set's uid).
    pub controlled: bool,
    /// Its controller when that is not the set: `Kind/name`.
    pub other_controller: Option<String>,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    pub owner_references: Vec<OwnerReference>,
    pub spec: DetectiveGraphSpec,
    pub generation: Option<i64>,
    pub status: Option<DetectiveGraphStatus>,
    /// Deletion has started.
    pub deleting: bool,
}

impl ChildView {
    /// How `graph` stands to the set whose uid is `set_uid`.
    pub fn of(graph: &DetectiveGraph, set_uid: &str) -> Self {
        let owners = graph.metadata.owner_references.clone().unwrap_or_default();
        let controller = owners.iter().find(|o| o.controller == Some(true));
        Self {
            name: graph.metadata.name.clone().unwrap_or_default(),
            uid: graph.metadata.uid.clone().unwrap_or_default(),
            controlled: controller.is_some_and(|o| o.uid == set_uid),
            other_controller: controller
                .filter(|o| o.uid != set_uid)
                .map(|o| format!("{}/{}", o.kind, o.name)),
            labels: graph.metadata.labels.clone().unwrap_or_default(),
            annotations: graph.metadata.annotations.clone().unwrap_or_default(),
            owner_references: owners,
            spec: graph.spec.clone(),
            generation: graph.metadata.generation,
            status: graph.status.clone(),
            deleting: graph.metadata.deletion_timestamp.is_some(),
        }
    }
}

/// What to do about one child.
#[derive(Clone, Debug, PartialEq)]
pub enum ChildAction {
    /// No `DetectiveGraph` of the child's name exists: create it.
    Create { region: String, child: DetectiveGraph },
    /// The child differs from the template (a template change, or an edit by hand): put it back.
    Update {
        region: String,
        child: DetectiveGraph,
        uid: String,
    },
    /// The child is as declared.
    InSync { region: String, name: String },
    /// The child is being deleted (by hand): it is created again once it is gone.
    Recreate { region: String, name: String },
    /// A `DetectiveGraph` of the child's name that the set does not control: never touched.
    Conflict {
        region: String,
        name: String,
        other_controller: Option<String>,
    },
    /// A child whose Region was removed, under `regionRemoval: Retain`: it stays, without the
    /// set's owner reference and label (`owner_references` are the ones it keeps).
    Orphan {
        region: Option<String>,
        name: String,
        uid: String,
        owner_references: Vec<OwnerReference>,
    },
    /// A child whose Region was removed, under `regionRemoval: Delete`.
    Delete {
        region: Option<String>,
        name: String,
        uid: String,
    },
}

impl ChildAction {
    /// The declared Region the action is about; none for a Region removed.
    pub fn declared_region(&self) -> Option<&str> {
        match self {
            Self::Create { region, .. }
            | Self::Update { region, .. }
            | Self::InSync { region, .. }
            | Self::Recreate { region, .. }
            | Self::Conflict { region, .. } => Some(region),
            Self::Orphan { .. } | Self::Delete { .. } => None,
        }
    }
}

/// The child the set declares in `region`: the template's labels (and the set's label, which
/// wins), annotations and spec with `region`, and, when the set is stored (it has a uid), its
/// controller owner reference. A reconcile requested of the set (`reconcile.fluxcd.io/requestedAt`)
/// is passed on to every child, so that "reconcile now" on the set reads every Region now.
pub fn desired_child(set: &DetectiveGraphSet, region: &str) -> DetectiveGraph {
    let set_name = set.metadata.name.clone().unwrap_or_default();
    let template = &set.spec.template;
    let mut labels = template.metadata.labels.clone();
    labels.insert(GRAPH_SET_LABEL.to_owned(), set_name.clone());
    let owner = set.metadata.uid.as_ref().map(|uid| OwnerReference {
        api_version: DetectiveGraphSet::api_version(&()).into_owned(),
        kind: DetectiveGraphSet::kind(&()).into_owned(),
        name: set_name,
        uid: uid.clone(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    });
    let mut annotations = template.metadata.annotations.clone();
    if let Some(requested_at) = set.annotations().get(RECONCILE_REQUESTED_AT) {
        annotations.insert(RECONCILE_REQUESTED_AT.to_owned(), requested_at.clone());
    }
    let mut child = DetectiveGraph::new(
        &set.child_name(region),
        DetectiveGraphSpec {
            region: Some(region.to_owned()),
            ..template.spec.clone()
        },
    );
    child.metadata = ObjectMeta {
        namespace: set.metadata.namespace.clone(),
        labels: Some(labels),
        annotations: (!annotations.is_empty()).then_some(annotations),
        owner_references: owner.map(|owner| vec![owner]),
        ..child.metadata
    };
    child
}

/// The graphs a set stands for, one per declared Region, in the order declared (what `plan -f`
/// and `sync -f` read a set as).
pub fn child_graphs(set: &DetectiveGraphSet) -> Vec<DetectiveGraph> {
    set.spec
        .regions
        .iter()
        .map(|region| desired_child(set, region))
        .collect()
}

/// Whether `observed` is the `desired` child already: the same spec, and the declared labels,
/// annotations and owner reference present (others may be added by hand or by tools).
fn in_sync(observed: &ChildView, desired: &DetectiveGraph) -> bool {
    let contains = |have: &BTreeMap<String, String>, want: &Option<BTreeMap<String, String>>| {
        want.iter().flatten().all(|(k, v)| have.get(k) == Some(v))
    };
    let owners = desired.metadata.owner_references.iter().flatten();
    observed.spec == desired.spec
        && contains(&observed.labels, &desired.metadata.labels)
        && contains(&observed.annotations, &desired.metadata.annotations)
        && owners
            .into_iter()
            .all(|owner| observed.owner_references.contains(owner))
}

/// What to do about each declared Region (in the order declared), then about each child of the
/// set whose Region is no longer declared. `observed`: the `DetectiveGraph`s carrying the set's
/// label, and any other one with a child's name.
pub fn decide(set: &DetectiveGraphSet, observed: &[ChildView]) -> Vec<ChildAction> {
    let by_name: BTreeMap<&str, &ChildView> = observed.iter().map(|c| (c.name.as_str(), c)).collect();
    let mut actions = Vec::new();
    let mut declared_names = BTreeSet::new();
    for region in &set.spec.regions {
        let desired = desired_child(set, region);
        let name = set.child_name(region);
        declared_names.insert(name.clone());
        let region = region.clone();
        actions.push(match by_name.get(name.as_str()) {
            None => ChildAction::Create { region, child: desired },
            Some(child) if !child.controlled => ChildAction::Conflict {
                region,
                name,
                other_controller: child.other_controller.clone(),
            },
            Some(child) if child.deleting => ChildAction::Recreate { region, name },
            Some(child) if in_sync(child, &desired) => ChildAction::InSync { region, name },
            Some(child) => ChildAction::Update {
                region,
                child: desired,
                uid: child.uid.clone(),
            },
        });
    }
    let removed = observed
        .iter()
        .filter(|child| child.controlled && !child.deleting && !declared_names.contains(&child.name));
    for child in removed {
        let (region, name, uid) = (child.spec.region.clone(), child.name.clone(), child.uid.clone());
        actions.push(match set.spec.region_removal {
            RegionRemoval::Retain => ChildAction::Orphan {
                region,
                name,
                uid,
                owner_references: child
                    .owner_references
                    .iter()
                    .filter(|o| Some(&o.uid) != set.metadata.uid.as_ref())
                    .cloned()
                    .collect(),
            },
            RegionRemoval::Delete => ChildAction::Delete { region, name, uid },
        });
    }
    actions
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn set(regions: &[&str], removal: &str) -> DetectiveGraphSet {
        let mut set: DetectiveGraphSet = serde_json::from_value(serde_json::json!({
            "apiVersion": "detective.operator.dev/v1alpha1",
            "kind": "DetectiveGraphSet",
            "metadata": {"name": "org", "namespace": "security", "uid": "set-uid"},
            "spec": {
                "regions": regions,
                "regionRemoval": removal,
                "template": {
                    "metadata": {"labels": {"team": "security"}, "annotations": {"note": "x"}},
                    "spec": {"members": [{"accountId": "111111111111", "emailAddress": "a@example.com"}]},
                },
            },
        }))
        .expect("a set");
        set.metadata.generation = Some(1);
        set
    }

    /// The set's children as the API server would hold them after the actions were applied.
    fn stored(set: &DetectiveGraphSet, regions: &[&str]) -> Vec<ChildView> {
        regions
            .iter()
            .map(|region| {
                let mut child = desired_child(set, region);
                child.metadata.uid = Some(format!("uid-{region}"));
                ChildView::of(&child, "set-uid")
            })
            .collect()
    }

    #[test]
    fn each_region_gets_a_named_labelled_owned_child_with_the_template_spec() {
        let set = set(&["us-east-1", "eu-west-1"], "Retain");
        let child = desired_child(&set, "eu-west-1");
        assert_eq!(child.metadata.name.as_deref(), Some("org-eu-west-1"));
        assert_eq!(child.metadata.namespace.as_deref(), Some("security"));
        assert_eq!(child.spec.region.as_deref(), Some("eu-west-1"));
        assert_eq!(child.spec.members, set.spec.template.spec.members);
        let labels = child.metadata.labels.clone().unwrap_or_default();
        assert_eq!(labels.get(GRAPH_SET_LABEL).map(String::as_str), Some("org"));
        assert_eq!(labels.get("team").map(String::as_str), Some("security"));
        let owners = child.metadata.owner_references.clone().unwrap_or_default();
        assert_eq!(owners.len(), 1);
        assert_eq!(
            (owners[0].kind.as_str(), owners[0].uid.as_str(), owners[0].controller),
            ("DetectiveGraphSet", "set-uid", Some(true))
        );
        let actions = decide(&set, &[]);
        assert!(
            matches!(&actions[..], [ChildAction::Create { region: a, .. }, ChildAction::Create { region: b, .. }] if a == "us-east-1" && b == "eu-west-1"),
            "{actions:?}"
        );
    }

    #[test]
    fn a_hand_edit_is_put_back_and_added_labels_are_left() {
        let set = set(&["us-east-1"], "Retain");
        let mut children = stored(&set, &["us-east-1"]);
        children[0].labels.insert("added-by".into(), "a-human".into());
        assert!(matches!(&decide(&set, &children)[..], [ChildAction::InSync { .. }]));
        children[0].spec.suspend = true;
        assert!(
            matches!(&decide(&set, &children)[..], [ChildAction::Update { uid, .. }] if uid == "uid-us-east-1"),
            "a spec edited by hand is put back"
        );
        let mut children = stored(&set, &["us-east-1"]);
        children[0].labels.remove(GRAPH_SET_LABEL);
        assert!(matches!(&decide(&set, &children)[..], [ChildAction::Update { .. }]));
    }

    #[test]
    fn a_reconcile_requested_of_the_set_is_passed_on_to_every_child() {
        let mut set = set(&["us-east-1", "eu-west-1"], "Retain");
        let children = stored(&set, &["us-east-1", "eu-west-1"]);
        set.metadata.annotations =
            Some([(RECONCILE_REQUESTED_AT.to_owned(), "2026-12-06T05:00:00Z".to_owned())].into());
        let child = desired_child(&set, "eu-west-1");
        let annotations = child.metadata.annotations.unwrap_or_default();
        assert_eq!(
            annotations.get(RECONCILE_REQUESTED_AT).map(String::as_str),
            Some("2026-12-06T05:00:00Z")
        );
        assert_eq!(
            annotations.get("note").map(String::as_str),
            Some("x"),
            "the template's stay"
        );
        let actions = decide(&set, &children);
        assert!(
            actions.len() == 2 && actions.iter().all(|a| matches!(a, ChildAction::Update { .. })),
            "each child is applied once with the request: {actions:?}"
        );
        let requested = stored(&set, &["us-east-1", "eu-west-1"]);
        assert!(
            decide(&set, &requested)
                .iter()
                .all(|a| matches!(a, ChildAction::InSync { .. })),
            "and then left alone"
        );
    }

    #[test]
    fn a_graph_the_set_does_not_control_is_a_conflict() {
        let set = set(&["us-east-1"], "Delete");
        let mut other = desired_child(&set, "us-east-1");
        other.metadata.uid = Some("someone-elses".into());
        other.metadata.owner_references = None;
        let free = ChildView::of(&other, "set-uid");
        let actions = decide(&set, std::slice::from_ref(&free));
        assert!(
            matches!(&actions[..], [ChildAction::Conflict { name, other_controller: None, .. }] if name == "org-us-east-1"),
            "{actions:?}"
        );
        let mut owned = other.clone();
        let mut reference = desired_child(&set, "us-east-1").metadata.owner_references.unwrap()[0].clone();
        reference.uid = "another-set".into();
        reference.name = "another".into();
        owned.metadata.owner_references = Some(vec![reference]);
        let actions = decide(&set, &[ChildView::of(&owned, "set-uid")]);
        assert!(
            matches!(&actions[..], [ChildAction::Conflict { other_controller: Some(o), .. }] if o == "DetectiveGraphSet/another"),
            "{actions:?}"
        );
    }

    #[test]
    fn a_removed_region_is_orphaned_or_deleted_by_policy() {
        for (policy, orphaned) in [("Retain", true), ("Delete", false)] {
            let before = set(&["us-east-1", "eu-west-1"], policy);
            let children = stored(&before, &["us-east-1", "eu-west-1"]);
            let after = set(&["us-east-1"], policy);
            let actions = decide(&after, &children);
            assert_eq!(actions.len(), 2, "{actions:?}");
            assert!(matches!(&actions[0], ChildAction::InSync { .. }));
            match (&actions[1], orphaned) {
                (
                    ChildAction::Orphan {
                        name,
                        owner_references,
                        region,
                        ..
                    },
                    true,
                ) => {
                    assert_eq!((name.as_str(), region.as_deref()), ("org-eu-west-1", Some("eu-west-1")));
                    assert!(owner_references.is_empty(), "the set's reference goes");
                }
                (ChildAction::Delete { name, uid, .. }, false) => {
                    assert_eq!((name.as_str(), uid.as_str()), ("org-eu-west-1", "uid-eu-west-1"));
                }
                (other, _) => panic!("{policy}: {other:?}"),
            }
        }
    }

    proptest! {
        /// Whatever Regions were declared before and are now, applying the actions leaves
        /// exactly one child per declared Region, each in sync, and deciding again finds nothing
        /// to do.
        #[test]
        fn applying_the_actions_converges(
            before in proptest::sample::subsequence(vec!["us-east-1", "us-west-2", "eu-west-1", "eu-central-1", "ap-southeast-2"], 0..=5),
            after in proptest::sample::subsequence(vec!["us-east-1", "us-west-2", "eu-west-1", "eu-central-1", "ap-southeast-2"], 1..=5),
            retain in any::<bool>(),
            suspended in any::<bool>(),
        ) {
            let policy = if retain { "Retain" } else { "Delete" };
            let old = set(&before, policy);
            let mut children = stored(&old, &before);
            let mut new = set(&after, policy);
            new.spec.template.spec.suspend = suspended;
            for action in decide(&new, &children) {
                match action {
                    ChildAction::Create { child, .. } | ChildAction::Update { child, .. } => {
                        let mut child = child;
                        child.metadata.uid = Some(format!("uid-{}", child.spec.region.clone().unwrap_or_default()));
                        children.retain(|c| Some(&c.name) != child.metadata.name.as_ref());
                        children.push(ChildView::of(&child, "set-uid"));
                    }
                    ChildAction::Orphan { name, .. } => {
                        let child = children.iter_mut().find(|c| c.name == name).expect("orphaned child");
                        child.owner_references.clear();
                        child.controlled = false;
                        child.labels.remove(GRAPH_SET_LABEL);
                    }
                    ChildAction::Delete { name, .. } => children.retain(|c| c.name != name),
                    ChildAction::InSync { .. } => {}
                    other => panic!("{other:?}"),
                }
            }
            let again = decide(&new, &children);
            prop_assert!(again.iter().all(|a| matches!(a, ChildAction::InSync { .. })), "{again:?}");
            prop_assert_eq!(again.len(), after.len());
            let controlled = children.iter().filter(|c| c.controlled).count();
            prop_assert_eq!(controlled, after.len());
            let kept = children.len() - controlled;
            let removed = before.iter().filter(|r| !after.contains(r)).count();
            prop_assert_eq!(kept, if retain { removed } else { 0 }, "orphans stay only under Retain");
        }
    }
}
