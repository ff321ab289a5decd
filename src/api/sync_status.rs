//! What every kind's status says about its last sync, declared once: the generation it
//! describes, the kstatus conditions and when AWS was last read. Flattened into
//! `DetectiveGraphStatus`, `DetectiveMembershipStatus` and `DetectiveOrganizationAdminStatus`, so
//! the wire JSON and the CRD schemas are those of three fields written in each.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use k8s_openapi::jiff::Timestamp;
use kube::KubeSchema;
use schemars::Schema;
use serde::{Deserialize, Serialize};

use super::conditions::{self, ConditionState};

/// The annotation that asks for a reconcile now (Flux's convention: `flux reconcile` sets it,
/// and so does `kubectl annotate --overwrite ... reconcile.fluxcd.io/requestedAt="$(date +%s)"`).
/// The reconcile that handles it records its value in `status.lastHandledReconcileAt`.
pub const RECONCILE_REQUESTED_AT: &str = "reconcile.fluxcd.io/requestedAt";

/// The part of a status every kind has (`#[serde(flatten)]`ed: its fields sit at the top of
/// `status`).
#[serde_with::skip_serializing_none]
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct SyncStatus {
    /// The `metadata.generation` this status describes.
    pub observed_generation: Option<i64>,

    /// kstatus conditions: `Ready`, `Reconciling`, `Stalled`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[x_kube(merge_strategy = ListMerge::Map(vec!["type".into()]))]
    pub conditions: Vec<Condition>,

    /// When AWS was last read.
    pub last_sync_time: Option<Time>,

    /// The value of the `reconcile.fluxcd.io/requestedAt` annotation the last reconcile handled
    /// (`flux reconcile` and `kubectl annotate` set it to ask for a reconcile now), as Flux's
    /// own resources record it.
    pub last_handled_reconcile_at: Option<String>,
}

impl SyncStatus {
    /// The sync status after a reconcile of `generation` at `now` that ends in the `desired`
    /// conditions; `read` says whether AWS was read (else the last read time stays).
    pub fn after(
        previous: &SyncStatus,
        desired: &[ConditionState],
        generation: Option<i64>,
        now: Timestamp,
        read: bool,
    ) -> Self {
        Self {
            observed_generation: generation,
            conditions: conditions::merge(&previous.conditions, desired, generation, now),
            last_sync_time: if read {
                Some(Time(now))
            } else {
                previous.last_sync_time.clone()
            },
            last_handled_reconcile_at: previous.last_handled_reconcile_at.clone(),
        }
    }

    /// Records the `reconcile.fluxcd.io/requestedAt` value among `annotations`, if any, as
    /// handled by this reconcile.
    pub fn handled_request(&mut self, annotations: &std::collections::BTreeMap<String, String>) {
        if let Some(requested_at) = annotations.get(RECONCILE_REQUESTED_AT) {
            self.last_handled_reconcile_at = Some(requested_at.clone());
        }
    }

    /// The condition of this type, if present.
    pub fn condition(&self, type_: &str) -> Option<&Condition> {
        self.conditions.iter().find(|c| c.type_ == type_)
    }

    /// A schema transform for the status that flattens this: the kind's own descriptions of
    /// `conditions` and `lastSyncTime` (which conditions, what "sync" reads), in place of the
    /// generic ones above. Used as `#[schemars(transform = SyncStatus::described(..))]`.
    pub fn described(conditions: &'static str, last_sync_time: &'static str) -> impl FnMut(&mut Schema) {
        move |schema: &mut Schema| {
            for (property, description) in [("conditions", conditions), ("lastSyncTime", last_sync_time)] {
                if let Some(property) = schema
                    .get_mut("properties")
                    .and_then(|properties| properties.get_mut(property))
                    .and_then(|property| property.as_object_mut())
                {
                    property.insert("description".into(), description.into());
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{DetectiveGraphStatus, DetectiveMembershipStatus, DetectiveOrganizationAdminStatus};
    use serde::de::DeserializeOwned;
    use serde_json::json;

    /// The wire form of a status with `sync` and nothing else, and that it reads back equal.
    fn wire<S: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug>(status: S) -> serde_json::Value {
        let value = serde_json::to_value(&status).expect("serializes");
        assert_eq!(serde_json::from_value::<S>(value.clone()).expect("reads back"), status);
        value
    }

    // The three fields stand at the top of every kind's status, as they did when each kind
    // declared them, and an absent one is omitted (never `null`).
    #[test]
    fn the_sync_fields_are_top_level_and_omitted_when_absent() {
        let now = Timestamp::from_second(1_700_000_000).unwrap();
        let desired = [ConditionState::new(conditions::READY, true, "Synced", "")];
        let sync = SyncStatus::after(&SyncStatus::default(), &desired, Some(4), now, true);
        let expected = json!({
            "observedGeneration": 4,
            "conditions": [{
                "type": "Ready", "status": "True", "reason": "Synced", "message": "",
                "observedGeneration": 4, "lastTransitionTime": "2023-11-14T22:13:20Z",
            }],
            "lastSyncTime": "2023-11-14T22:13:20Z",
        });
        let graph = DetectiveGraphStatus {
            sync: sync.clone(),
            ..Default::default()
        };
        assert_eq!(wire(graph), expected);
        let membership = DetectiveMembershipStatus {
            sync: sync.clone(),
            ..Default::default()
        };
        assert_eq!(wire(membership), expected);
        let admin = DetectiveOrganizationAdminStatus {
            sync,
            ..Default::default()
        };
        let mut expected_admin = expected;
        expected_admin["delegatedRegions"] = json!(0);
        expected_admin["declaredRegions"] = json!(0);
        assert_eq!(wire(admin), expected_admin);

        assert_eq!(wire(DetectiveGraphStatus::default()), json!({}));
        let read: DetectiveMembershipStatus = serde_json::from_value(json!({})).expect("every field may be absent");
        assert_eq!(read, DetectiveMembershipStatus::default());
    }

    #[test]
    fn a_sync_without_a_read_keeps_the_last_read_time() {
        let at = |second| Timestamp::from_second(second).unwrap();
        let desired = [ConditionState::new(conditions::READY, false, "Failed", "no access")];
        let read = SyncStatus::after(&SyncStatus::default(), &desired, Some(1), at(100), true);
        let unread = SyncStatus::after(&read, &desired, Some(2), at(200), false);
        assert_eq!(unread.last_sync_time, Some(Time(at(100))));
        assert_eq!(unread.observed_generation, Some(2));
        assert_eq!(
            unread
                .condition(conditions::READY)
                .map(|c| c.last_transition_time.clone()),
            Some(Time(at(100)))
        );
        assert!(!conditions::is_true(&unread.conditions, conditions::READY));
    }
}
