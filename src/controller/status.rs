//! Where status is written: server-side apply on the status subresource, only when it changed.
//!
//! `lastSyncTime` alone does not count as a change: a no-op resync of a 1,200-member graph costs
//! the API server nothing.

use std::collections::HashMap;
use std::sync::Mutex;

use kube::Api;
use kube::api::{Patch, PatchParams};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::backoff::Key;

/// The field manager of everything the operator writes.
pub const FIELD_MANAGER: &str = "detective-operator";

/// Whether `new` says something `current` does not, ignoring `lastSyncTime`.
pub fn changed<S: Serialize>(current: Option<&S>, new: &S) -> bool {
    // Compare as written: the API server keeps times to the second, so a status read back never
    // equals the freshly computed one field by field.
    let written = |status: &S| {
        let mut value = serde_json::to_value(status).unwrap_or_default();
        if let Some(object) = value.as_object_mut() {
            object.remove("lastSyncTime");
        }
        value
    };
    current.is_none_or(|current| written(current) != written(new))
}

/// Applies `status` to the status subresource of `name`.
pub async fn patch<K, S>(api: &Api<K>, name: &str, api_version: &str, kind: &str, status: &S) -> kube::Result<()>
where
    K: Clone + DeserializeOwned + std::fmt::Debug,
    S: Serialize,
{
    let patch = serde_json::json!({
        "apiVersion": api_version,
        "kind": kind,
        "status": status,
    });
    api.patch_status(name, &PatchParams::apply(FIELD_MANAGER).force(), &Patch::Apply(&patch))
        .await
        .map(drop)
}

/// Statuses a reconcile computed but could not write (the API server refused or failed the
/// patch), each with the status it was computed from. What a reconcile learns only once — that
/// it created the graph (`graphCreated`), its StartMonitoringMember attempts — would otherwise be
/// lost: the next reconcile starts from the stored status again and, finding the graph by
/// ListGraphs, takes it for an adopted one.
#[derive(Debug, Default)]
pub struct Unwritten {
    statuses: Mutex<HashMap<Key, (Value, Value)>>,
}

impl Unwritten {
    /// Remembers `computed`, which failed to replace `stored`.
    pub fn keep<S: Serialize>(&self, key: &Key, stored: Option<&S>, computed: &S) {
        let value = |status: Option<&S>| serde_json::to_value(status).unwrap_or_default();
        self.statuses
            .lock()
            .expect("unwritten lock")
            .insert(key.clone(), (value(stored), value(Some(computed))));
    }

    /// The status to start from instead of `stored`: the one computed from `stored` that is not
    /// written yet. None when there is none, or when `stored` has changed since (then the
    /// unwritten one is out of date, or was written after all, and is dropped).
    pub fn take_over<S: Serialize + DeserializeOwned>(&self, key: &Key, stored: Option<&S>) -> Option<S> {
        let mut statuses = self.statuses.lock().expect("unwritten lock");
        let (base, computed) = statuses.get(key)?;
        if *base == serde_json::to_value(stored).unwrap_or_default()
            && let Ok(status) = serde_json::from_value(computed.clone())
        {
            return Some(status);
        }
        statuses.remove(key);
        None
    }

    /// Forgets `key` once its status is written (or the resource is gone).
    pub fn forget(&self, key: &Key) {
        self.statuses.lock().expect("unwritten lock").remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{DetectiveGraphStatus, SyncStatus};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
    use k8s_openapi::jiff::Timestamp;

    #[test]
    fn a_new_sync_time_alone_is_no_change() {
        let before = DetectiveGraphStatus {
            sync: SyncStatus {
                observed_generation: Some(1),
                last_sync_time: Some(Time(Timestamp::from_second(1).unwrap())),
                ..Default::default()
            },
            ..Default::default()
        };
        let mut after = before.clone();
        after.sync.last_sync_time = Some(Time(Timestamp::from_second(99).unwrap()));
        assert!(!changed(Some(&before), &after));
        after.sync.observed_generation = Some(2);
        assert!(changed(Some(&before), &after));
        assert!(changed(None, &after));
    }

    #[test]
    fn sub_second_differences_are_no_change() {
        let member = |millis| crate::api::MemberStatusEntry {
            account_id: "000000000101".into(),
            status: "INVITED".into(),
            invited_time: Some(Time(Timestamp::from_millisecond(millis).unwrap())),
            ..Default::default()
        };
        let stored = DetectiveGraphStatus {
            members: vec![member(10_000)],
            ..Default::default()
        };
        let computed = DetectiveGraphStatus {
            members: vec![member(10_400)],
            ..Default::default()
        };
        assert!(!changed(Some(&stored), &computed));
        let later = DetectiveGraphStatus {
            members: vec![member(11_000)],
            ..Default::default()
        };
        assert!(changed(Some(&stored), &later));
    }
}
