//! The watches: one per kind, each feeding its watch cache and letting through only the changes
//! a reconcile acts on; and readiness, once every watch has delivered its initial list.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use futures::{Stream, StreamExt};
use kube::api::{Api, ApiResource, DynamicObject};
use kube::core::Selector;
use kube::runtime::reflector::{self, Store};
use kube::runtime::{Predicate, WatchStreamExt, predicates, watcher};
use kube::{Client, ResourceExt};
use tokio::sync::Notify;

use super::decoding::Decoder;
use super::watched::Watched;
use super::{ORPHAN_ANNOTATION, RECONCILE_REQUESTED_AT};
use crate::http_server::Readiness;
use crate::metrics::Metrics;

/// Where the watches look: every namespace, or one; every object, or those a label selector
/// matches.
#[derive(Clone, Copy)]
pub struct WatchScope<'a> {
    pub client: &'a Client,
    pub namespace: Option<&'a str>,
    pub selector: Option<&'a Selector>,
}

/// The watch of one kind: the changes its controller reconciles, and its watch cache.
pub struct Watch<K: Watched> {
    pub stream: Pin<Box<dyn Stream<Item = Result<K, watcher::Error>> + Send>>,
    pub store: Store<K>,
}

impl<K: Watched> Watch<K> {
    /// Starts watching `K` in `scope`; `initial_list` is told when the first list is complete,
    /// `decoder` reads each object (skipping those that do not decode), `metrics` forgets the
    /// series of a resource that leaves the watch, `changed` is told of every change to the
    /// cache (the roles its objects name may have changed: [`super::roles`]).
    pub fn start(
        scope: WatchScope<'_>,
        initial_list: InitialList,
        decoder: Arc<Decoder>,
        metrics: Arc<Metrics>,
        changed: Arc<Notify>,
    ) -> Self {
        // Watched as plain JSON and decoded one object at a time (see `decoding`).
        let resource = ApiResource::erase::<K>(&());
        let api: Api<DynamicObject> = match scope.namespace {
            Some(namespace) => Api::namespaced_with(scope.client.clone(), namespace, &resource),
            None => Api::all_with(scope.client.clone(), &resource),
        };
        let (store, writer) = reflector::store();
        let cached = store.clone();
        // Status writes do not change the generation: filtering on it (and on finalizers, the
        // deletion timestamp and a request to reconcile now) keeps a status write from
        // triggering another round of AWS reads.
        let orphan = |resource: &K| orphan_state(resource.annotations(), resource.meta().deletion_timestamp.is_some());
        let requested = |resource: &K| annotation_hash(resource.annotations(), RECONCILE_REQUESTED_AT);
        let mut config = watcher::Config::default().any_semantic();
        if let Some(selector) = scope.selector {
            // The API server filters: an object relabelled out of the selector arrives as a
            // deletion, which only drops it from the cache (the controller acts on applied
            // objects; a reconcile still queued for it finds it gone and does nothing).
            config = config.labels_from(selector);
        }
        let stream = watcher(api, config)
            .default_backoff()
            .filter_map(move |event| {
                futures::future::ready(match event {
                    Ok(event) => decoder.event::<K>(event, &cached).map(Ok),
                    Err(error) => Some(Err(error)),
                })
            })
            .modify(forget_unread_metadata)
            .reflect(writer)
            .inspect(move |event| match event {
                Ok(watcher::Event::InitDone) => {
                    initial_list.done(&K::kind(&()));
                    changed.notify_one();
                }
                // Deleted, or relabelled out of the selector (another shard's now): its series
                // are this process's no more.
                Ok(watcher::Event::Delete(resource)) => {
                    metrics.forget(K::KIND, &resource.namespace().unwrap_or_default(), &resource.name_any());
                    changed.notify_one();
                }
                Ok(watcher::Event::Apply(_)) => changed.notify_one(),
                _ => {}
            })
            .applied_objects()
            .predicate_filter(
                predicates::generation
                    .combine(predicates::finalizers)
                    .combine(orphan)
                    .combine(requested),
                Default::default(),
            );
        Self {
            stream: Box::pin(stream),
            store,
        }
    }
}

/// The annotation `kubectl apply` writes: a second copy of the whole spec.
const LAST_APPLIED_ANNOTATION: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// Drops what the controller never reads before the watch cache stores a resource: its
/// `managedFields` (an entry per field manager, each listing every member key) and kubectl's
/// last-applied copy of the spec. Together they are about as large as the spec and status.
fn forget_unread_metadata<K: kube::Resource>(resource: &mut K) {
    let meta = resource.meta_mut();
    meta.managed_fields = None;
    if let Some(annotations) = meta.annotations.as_mut() {
        annotations.remove(LAST_APPLIED_ANNOTATION);
    }
}

/// Hashes the value of annotation `name`, when set: a new value is a change to act on.
fn annotation_hash(annotations: &std::collections::BTreeMap<String, String>, name: &str) -> Option<u64> {
    annotations.get(name).map(|value| {
        let mut hasher = DefaultHasher::new();
        value.hash(&mut hasher);
        hasher.finish()
    })
}

/// Hashes what matters on deletion: the orphan annotation and whether deletion started.
fn orphan_state(annotations: &std::collections::BTreeMap<String, String>, deleting: bool) -> Option<u64> {
    let mut hasher = DefaultHasher::new();
    annotations.get(ORPHAN_ANNOTATION).hash(&mut hasher);
    deleting.hash(&mut hasher);
    Some(hasher.finish())
}

/// Marks the operator ready once every watch it expects has delivered its initial list.
pub struct InitialLists {
    pending: Arc<AtomicUsize>,
    readiness: Readiness,
}

impl InitialLists {
    pub fn new(readiness: Readiness) -> Self {
        Self {
            pending: Arc::new(AtomicUsize::new(0)),
            readiness,
        }
    }

    /// One more watch whose initial list readiness waits for.
    pub fn expect(&self) -> InitialList {
        self.pending.fetch_add(1, Ordering::SeqCst);
        InitialList {
            done: AtomicBool::new(false),
            pending: self.pending.clone(),
            readiness: self.readiness.clone(),
        }
    }
}

/// One watch's share of [`InitialLists`].
pub struct InitialList {
    done: AtomicBool,
    pending: Arc<AtomicUsize>,
    readiness: Readiness,
}

impl InitialList {
    /// The watch of `kind` listed everything once; a later relist changes nothing.
    fn done(&self, kind: &str) {
        if self.done.swap(true, Ordering::SeqCst) {
            return;
        }
        let remaining = self.pending.fetch_sub(1, Ordering::SeqCst) - 1;
        // Logged before readiness turns: the log shows which lists readiness waited for.
        tracing::info!(kind, remaining, "initial list done");
        if remaining == 0 {
            self.readiness.set(true);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::DetectiveGraph;

    #[test]
    fn the_watch_cache_keeps_what_the_controller_reads_and_drops_the_rest() {
        let mut graph: DetectiveGraph = serde_json::from_value(serde_json::json!({
            "apiVersion": "detective.operator.dev/v1alpha1",
            "kind": "DetectiveGraph",
            "metadata": {
                "name": "g",
                "managedFields": [{"manager": "kubectl", "operation": "Apply", "fieldsType": "FieldsV1"}],
                "annotations": {
                    LAST_APPLIED_ANNOTATION: "{\"spec\":{}}",
                    ORPHAN_ANNOTATION: "true",
                    "team": "security",
                },
            },
            "spec": {"members": []},
        }))
        .expect("a DetectiveGraph");

        forget_unread_metadata(&mut graph);

        assert_eq!(graph.metadata.managed_fields, None);
        let kept: Vec<&str> = graph.annotations().keys().map(String::as_str).collect();
        assert_eq!(kept, [ORPHAN_ANNOTATION, "team"]);
    }

    #[test]
    fn a_new_reconcile_request_is_a_change_and_the_same_one_is_not() {
        let annotations = |value: Option<&str>| {
            let mut annotations = std::collections::BTreeMap::from([("team".to_owned(), "security".to_owned())]);
            if let Some(value) = value {
                annotations.insert(RECONCILE_REQUESTED_AT.to_owned(), value.to_owned());
            }
            annotations
        };
        let hash = |value| annotation_hash(&annotations(value), RECONCILE_REQUESTED_AT);
        assert_eq!(hash(None), None, "no request, nothing to act on");
        assert_eq!(hash(Some("1733400000")), hash(Some("1733400000")));
        assert_ne!(hash(Some("1733400000")), hash(Some("1733400060")));
    }

    #[test]
    fn ready_once_every_expected_watch_has_listed_and_relists_count_once() {
        let readiness = Readiness::default();
        let lists = InitialLists::new(readiness.clone());
        let (graphs, memberships) = (lists.expect(), lists.expect());
        graphs.done("DetectiveGraph");
        graphs.done("DetectiveGraph");
        assert!(!readiness.get(), "one of two watches listed (twice)");
        memberships.done("DetectiveMembership");
        assert!(readiness.get());
    }
}
