//! Reading the watched objects one at a time. The watches receive every object as plain JSON and
//! decode it into its kind here, so that a stored object that does not decode (written under an
//! older schema, or edited through another version) is reported — a log line, a Warning Event
//! `Undecodable` on the object, `detective_operator_objects_skipped_total` — and skipped, while
//! every other object of its kind keeps being watched and reconciled. Decoded as a whole list,
//! one such object would fail every list and the watch would retry it forever.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use k8s_openapi::api::core::v1::ObjectReference;
use kube::ResourceExt;
use kube::api::DynamicObject;
use kube::runtime::events::Recorder;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::watcher::Event;
use tracing::warn;

use super::events::{self, Notice};
use super::watched::Watched;
use crate::metrics::Metrics;

/// Decodes watched objects and reports those that do not decode.
pub struct Decoder {
    recorder: Recorder,
    metrics: Arc<Metrics>,
    /// (uid, resourceVersion) of the objects reported: a relist of the same version is reported
    /// once, a new version of the object again.
    reported: Mutex<HashSet<(String, String)>>,
}

impl Decoder {
    pub fn new(recorder: Recorder, metrics: Arc<Metrics>) -> Arc<Self> {
        Arc::new(Self {
            recorder,
            metrics,
            reported: Mutex::new(HashSet::new()),
        })
    }

    /// A watch event about `K`; `None` when its object does not decode (reported, unless it is
    /// a deletion: an object that goes needs no word). An object `cached` from before that no
    /// longer decodes leaves the cache, so that no queued reconcile acts on its old version (the
    /// deletion only drops it from the cache: the controller reconciles applied objects only).
    pub fn event<K: Watched>(&self, event: Event<DynamicObject>, cached: &Store<K>) -> Option<Event<K>> {
        Some(match event {
            Event::Apply(object) => {
                let cache_key = ObjectRef::<K>::new(&object.name_any()).within(&object.namespace().unwrap_or_default());
                match self.object(object) {
                    Some(resource) => Event::Apply(resource),
                    None => Event::Delete(K::clone(&*cached.get(&cache_key)?)),
                }
            }
            Event::InitApply(object) => Event::InitApply(self.object(object)?),
            Event::Delete(object) => Event::Delete(decode(object).ok()?),
            Event::Init => Event::Init,
            Event::InitDone => Event::InitDone,
        })
    }

    /// The object as `K`, or `None` once it is reported.
    fn object<K: Watched>(&self, object: DynamicObject) -> Option<K> {
        let reference = reference::<K>(&object);
        match decode(object) {
            Ok(resource) => Some(resource),
            Err(error) => {
                self.report::<K>(reference, &error);
                None
            }
        }
    }

    fn report<K: Watched>(&self, reference: ObjectReference, error: &serde_json::Error) {
        let version = (
            reference.uid.clone().unwrap_or_default(),
            reference.resource_version.clone().unwrap_or_default(),
        );
        if !self.reported.lock().expect("reported lock").insert(version) {
            return;
        }
        let namespace = reference.namespace.clone().unwrap_or_default();
        let name = reference.name.clone().unwrap_or_default();
        warn!(kind = K::KIND, %namespace, %name, %error, "skipping an object that does not decode; the others are reconciled");
        self.metrics.object_skipped(K::KIND);
        let note = format!(
            "{} does not decode, so it is not reconciled: {error}. Fix it, e.g. with kubectl edit",
            K::KIND
        );
        let notice = Notice::warning("Undecodable", "Decode", note);
        let recorder = self.recorder.clone();
        tokio::spawn(async move { events::publish(&recorder, &reference, vec![notice]).await });
    }
}

fn decode<K: Watched>(object: DynamicObject) -> Result<K, serde_json::Error> {
    serde_json::to_value(object).and_then(serde_json::from_value)
}

/// The reference an Event about `object` names.
fn reference<K: Watched>(object: &DynamicObject) -> ObjectReference {
    ObjectReference {
        api_version: Some(K::api_version(&()).into_owned()),
        kind: Some(K::kind(&()).into_owned()),
        namespace: object.metadata.namespace.clone(),
        name: object.metadata.name.clone(),
        uid: object.metadata.uid.clone(),
        resource_version: object.metadata.resource_version.clone(),
        ..ObjectReference::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::DetectiveGraph;

    fn decoder() -> (Arc<Decoder>, Arc<Metrics>) {
        let metrics = Arc::new(Metrics::new());
        // No API server: the Event's publication fails (and is logged); the rest is what counts.
        let (service, _) =
            tower_test::mock::pair::<http::Request<kube::client::Body>, http::Response<kube::client::Body>>();
        let client = kube::Client::new(service, "default");
        let recorder = Recorder::new(client, kube::runtime::events::Reporter::from("test"));
        (Decoder::new(recorder, metrics.clone()), metrics)
    }

    fn object(name: &str, members: serde_json::Value, version: &str) -> DynamicObject {
        serde_json::from_value(serde_json::json!({
            "apiVersion": "detective.operator.dev/v1alpha1",
            "kind": "DetectiveGraph",
            "metadata": {"name": name, "namespace": "ns", "uid": format!("uid-{name}"), "resourceVersion": version},
            "spec": {"members": members},
        }))
        .expect("a DynamicObject")
    }

    fn skipped(metrics: &Metrics) -> String {
        metrics
            .encode()
            .lines()
            .filter(|l| l.starts_with("detective_operator_objects_skipped_total"))
            .collect::<Vec<_>>()
            .join("\n")
    }

    #[tokio::test]
    async fn an_object_that_does_not_decode_is_skipped_and_counted_once_per_version() {
        let (decoder, metrics) = decoder();
        let (cache, _) = kube::runtime::reflector::store::<DetectiveGraph>();
        let good =
            decoder.event::<DetectiveGraph>(Event::InitApply(object("good", serde_json::json!([]), "1")), &cache);
        assert!(matches!(good, Some(Event::InitApply(graph)) if graph.metadata.name.as_deref() == Some("good")));
        let bad = || Event::InitApply(object("bad", serde_json::json!("everyone"), "2"));
        assert!(decoder.event::<DetectiveGraph>(bad(), &cache).is_none());
        assert!(decoder.event::<DetectiveGraph>(bad(), &cache).is_none(), "a relist");
        assert_eq!(
            skipped(&metrics),
            r#"detective_operator_objects_skipped_total{kind="DetectiveGraph"} 1"#
        );
        let edited = Event::Apply(object("bad", serde_json::json!(7), "3"));
        assert!(decoder.event::<DetectiveGraph>(edited, &cache).is_none());
        assert!(
            skipped(&metrics).ends_with(" 2"),
            "a new version: {}",
            skipped(&metrics)
        );
        let deleted = Event::Delete(object("bad", serde_json::json!(7), "4"));
        assert!(decoder.event::<DetectiveGraph>(deleted, &cache).is_none());
        assert!(skipped(&metrics).ends_with(" 2"), "its deletion is no skip");
        assert!(matches!(
            decoder.event::<DetectiveGraph>(Event::InitDone, &cache),
            Some(Event::InitDone)
        ));
    }

    #[tokio::test]
    async fn a_cached_object_edited_into_one_that_does_not_decode_leaves_the_cache() {
        let (decoder, metrics) = decoder();
        let (cache, mut writer) = kube::runtime::reflector::store::<DetectiveGraph>();
        let Some(applied) =
            decoder.event::<DetectiveGraph>(Event::Apply(object("g", serde_json::json!([]), "1")), &cache)
        else {
            panic!("a good object decodes");
        };
        writer.apply_watcher_event(&applied);
        assert_eq!(cache.state().len(), 1);

        let edited = decoder.event::<DetectiveGraph>(Event::Apply(object("g", serde_json::json!("all"), "2")), &cache);
        let Some(Event::Delete(dropped)) = edited else {
            panic!("the cached version is dropped: {edited:?}");
        };
        assert_eq!(dropped.metadata.resource_version.as_deref(), Some("1"));
        writer.apply_watcher_event(&Event::Delete(dropped));
        assert!(cache.state().is_empty());
        assert!(skipped(&metrics).ends_with(" 1"), "and reported: {}", skipped(&metrics));
    }
}
