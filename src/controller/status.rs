//! Where status is written: server-side apply on the status subresource, only when it changed.
//!
//! `lastSyncTime` alone does not count as a change: a no-op resync of a 1,200-member graph costs
//! the API server nothing.

use kube::Api;
use kube::api::{Patch, PatchParams};
use serde::Serialize;
use serde::de::DeserializeOwned;

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
pub async fn apply<K, S>(api: &Api<K>, name: &str, api_version: &str, kind: &str, status: &S) -> kube::Result<()>
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::DetectiveGraphStatus;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
    use k8s_openapi::jiff::Timestamp;

    #[test]
    fn a_new_sync_time_alone_is_no_change() {
        let before = DetectiveGraphStatus {
            observed_generation: Some(1),
            last_sync_time: Some(Time(Timestamp::from_second(1).unwrap())),
            ..Default::default()
        };
        let mut after = before.clone();
        after.last_sync_time = Some(Time(Timestamp::from_second(99).unwrap()));
        assert!(!changed(Some(&before), &after));
        after.observed_generation = Some(2);
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
