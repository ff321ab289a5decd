//! Prometheus metrics, served on the admin server's `/metrics`.
//!
//! One registry per process, made in `run` and handed to whoever records: the controller (in its
//! `Context`), the AWS adapter (through `AwsAccess`) and the admin server. Every reconcile is
//! counted once, by the guard [`Metrics::reconcile`] returns; a resource's own series
//! (conditions, members, last sync, deletion-guard trips) go with the resource ([`Metrics::forget`]).

use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use k8s_openapi::jiff::Timestamp;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReconcileLabels {
    pub kind: &'static str,
    /// `ready`, `progressing`, `stalled`, `error`, `suspended`, `deleted`.
    pub result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SkippedLabels {
    pub kind: &'static str,
}

/// Where a graph's organization listing came from: `listed` (this reconcile asked AWS
/// Organizations) or `shared` (another graph asking the same, as the same reader, had listed it).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ListingLabels {
    pub source: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct AwsCallLabels {
    pub operation: &'static str,
    /// `ok`, `throttled`, or the error kind.
    pub outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct MemberLabels {
    pub namespace: String,
    pub name: String,
    pub status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ResourceLabels {
    pub namespace: String,
    pub name: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KindLabels {
    pub kind: &'static str,
    pub namespace: String,
    pub name: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ConditionLabels {
    pub kind: &'static str,
    pub namespace: String,
    pub name: String,
    pub r#type: String,
    /// `True`, `False` or `Unknown`.
    pub status: &'static str,
}

/// The values of a condition's `status`, each a series of `resource_condition`.
const CONDITION_STATUSES: [&str; 3] = ["True", "False", "Unknown"];

/// One resource, as the per-resource series name it.
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
struct ResourceKey {
    kind: &'static str,
    namespace: String,
    name: String,
}

/// The label values a resource's series were recorded with, so that they can be removed.
#[derive(Debug, Default)]
struct Recorded {
    condition_types: BTreeSet<String>,
    member_statuses: BTreeSet<String>,
}

/// Every metric of the operator.
pub struct Metrics {
    registry: Registry,
    reconciles: Family<ReconcileLabels, Counter>,
    reconcile_duration: Family<ReconcileLabels, Histogram>,
    aws_calls: Family<AwsCallLabels, Counter>,
    members: Family<MemberLabels, Gauge>,
    deletion_guard_trips: Family<ResourceLabels, Counter>,
    conditions: Family<ConditionLabels, Gauge>,
    last_success: Family<KindLabels, Gauge>,
    objects_skipped: Family<SkippedLabels, Counter>,
    organization_listings: Family<ListingLabels, Counter>,
    recorded: Mutex<HashMap<ResourceKey, Recorded>>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("detective_operator");
        let reconciles = Family::<ReconcileLabels, Counter>::default();
        let reconcile_duration = Family::<ReconcileLabels, Histogram>::new_with_constructor(|| {
            Histogram::new([0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0])
        });
        let aws_calls = Family::<AwsCallLabels, Counter>::default();
        let members = Family::<MemberLabels, Gauge>::default();
        let deletion_guard_trips = Family::<ResourceLabels, Counter>::default();
        let conditions = Family::<ConditionLabels, Gauge>::default();
        let last_success = Family::<KindLabels, Gauge>::default();
        let objects_skipped = Family::<SkippedLabels, Counter>::default();
        let organization_listings = Family::<ListingLabels, Counter>::default();
        registry.register(
            "reconciles",
            "Reconciles by resource kind and result",
            reconciles.clone(),
        );
        registry.register(
            "reconcile_duration_seconds",
            "Reconcile wall time by resource kind and result",
            reconcile_duration.clone(),
        );
        registry.register(
            "aws_calls",
            "Detective API calls by operation and outcome (throttled counted apart)",
            aws_calls.clone(),
        );
        registry.register(
            "graph_members",
            "Members of each managed graph by status",
            members.clone(),
        );
        registry.register(
            "deletion_guard_trips",
            "Syncs refused by the deletion guard",
            deletion_guard_trips.clone(),
        );
        registry.register(
            "resource_condition",
            "The status of each condition of each resource: 1 for the current status, 0 for the others",
            conditions.clone(),
        );
        registry.register(
            "last_successful_sync_timestamp_seconds",
            "Unix time of the last reconcile of each resource that ended without error",
            last_success.clone(),
        );
        registry.register(
            "objects_skipped",
            "Stored objects the watches skipped because they do not decode, by kind (each version once)",
            objects_skipped.clone(),
        );
        registry.register(
            "organization_listings",
            "Organization listings graphs used (membersFrom.organization), by source: listed (asked AWS Organizations) or shared (listed by another graph asking the same)",
            organization_listings.clone(),
        );
        Self {
            registry,
            reconciles,
            reconcile_duration,
            aws_calls,
            members,
            deletion_guard_trips,
            conditions,
            last_success,
            objects_skipped,
            organization_listings,
            recorded: Mutex::new(HashMap::new()),
        }
    }

    /// Starts measuring one reconcile of `kind`; it is counted once, when the guard drops, with
    /// the result last set on it (`error` unless told otherwise).
    pub fn reconcile(&self, kind: &'static str) -> ReconcileMeasure<'_> {
        ReconcileMeasure {
            metrics: self,
            kind,
            result: Some("error"),
            started: Instant::now(),
        }
    }

    fn observe_reconcile(&self, kind: &'static str, result: &'static str, took: Duration) {
        let labels = ReconcileLabels { kind, result };
        self.reconciles.get_or_create(&labels).inc();
        self.reconcile_duration
            .get_or_create(&labels)
            .observe(took.as_secs_f64());
    }

    pub fn observe_aws_call(&self, operation: &'static str, outcome: &'static str) {
        self.aws_calls
            .get_or_create(&AwsCallLabels { operation, outcome })
            .inc();
    }

    /// Replaces a graph's member gauges with the current counts.
    pub fn set_members(&self, namespace: &str, name: &str, counts: &[(&str, i64)]) {
        for (status, count) in counts {
            self.members
                .get_or_create(&member_labels(namespace, name, status))
                .set(*count);
        }
        self.with_recorded("DetectiveGraph", namespace, name, |recorded| {
            recorded
                .member_statuses
                .extend(counts.iter().map(|(s, _)| (*s).to_owned()))
        });
    }

    pub fn deletion_guard_tripped(&self, namespace: &str, name: &str) {
        self.deletion_guard_trips
            .get_or_create(&resource_labels(namespace, name))
            .inc();
    }

    /// Counts a version of a stored object of `kind` the watch skipped (it does not decode).
    pub fn object_skipped(&self, kind: &'static str) {
        self.objects_skipped.get_or_create(&SkippedLabels { kind }).inc();
    }

    /// Counts an organization listing a graph used: made by its reconcile, or `shared` with it.
    pub fn organization_listing(&self, shared: bool) {
        let source = if shared { "shared" } else { "listed" };
        self.organization_listings
            .get_or_create(&ListingLabels { source })
            .inc();
    }

    /// Sets the condition series of a resource (kube-state-metrics style: for each condition
    /// type, one series per status, 1 on the current one); types it no longer has are removed.
    pub fn set_conditions(&self, kind: &'static str, namespace: &str, name: &str, conditions: &[Condition]) {
        let current: BTreeSet<String> = conditions.iter().map(|c| c.type_.clone()).collect();
        for condition in conditions {
            for status in CONDITION_STATUSES {
                let labels = condition_labels(kind, namespace, name, &condition.type_, status);
                self.conditions
                    .get_or_create(&labels)
                    .set(i64::from(condition.status == status));
            }
        }
        let gone: Vec<String> = self.with_recorded(kind, namespace, name, |recorded| {
            let gone = recorded.condition_types.difference(&current).cloned().collect();
            recorded.condition_types = current.clone();
            gone
        });
        for type_ in gone {
            for status in CONDITION_STATUSES {
                self.conditions
                    .remove(&condition_labels(kind, namespace, name, &type_, status));
            }
        }
    }

    /// Records a reconcile of the resource that ended without error.
    pub fn synced(&self, kind: &'static str, namespace: &str, name: &str, at: Timestamp) {
        self.last_success
            .get_or_create(&kind_labels(kind, namespace, name))
            .set(at.as_second());
        self.with_recorded(kind, namespace, name, |_| ());
    }

    /// Removes every series of a resource that is gone.
    pub fn forget(&self, kind: &'static str, namespace: &str, name: &str) {
        let key = ResourceKey {
            kind,
            namespace: namespace.to_owned(),
            name: name.to_owned(),
        };
        let recorded = self
            .recorded
            .lock()
            .expect("metrics index lock")
            .remove(&key)
            .unwrap_or_default();
        for type_ in &recorded.condition_types {
            for status in CONDITION_STATUSES {
                self.conditions
                    .remove(&condition_labels(kind, namespace, name, type_, status));
            }
        }
        for status in &recorded.member_statuses {
            self.members.remove(&member_labels(namespace, name, status));
        }
        self.last_success.remove(&kind_labels(kind, namespace, name));
        if kind == "DetectiveGraph" {
            self.deletion_guard_trips.remove(&resource_labels(namespace, name));
        }
    }

    fn with_recorded<T>(
        &self,
        kind: &'static str,
        namespace: &str,
        name: &str,
        f: impl FnOnce(&mut Recorded) -> T,
    ) -> T {
        let key = ResourceKey {
            kind,
            namespace: namespace.to_owned(),
            name: name.to_owned(),
        };
        f(self
            .recorded
            .lock()
            .expect("metrics index lock")
            .entry(key)
            .or_default())
    }

    /// The Prometheus text exposition of every metric.
    pub fn encode(&self) -> String {
        let mut text = String::new();
        encode(&mut text, &self.registry).expect("writing to a String cannot fail");
        text
    }
}

fn member_labels(namespace: &str, name: &str, status: &str) -> MemberLabels {
    MemberLabels {
        namespace: namespace.to_owned(),
        name: name.to_owned(),
        status: status.to_owned(),
    }
}

fn resource_labels(namespace: &str, name: &str) -> ResourceLabels {
    ResourceLabels {
        namespace: namespace.to_owned(),
        name: name.to_owned(),
    }
}

fn kind_labels(kind: &'static str, namespace: &str, name: &str) -> KindLabels {
    KindLabels {
        kind,
        namespace: namespace.to_owned(),
        name: name.to_owned(),
    }
}

fn condition_labels(
    kind: &'static str,
    namespace: &str,
    name: &str,
    type_: &str,
    status: &'static str,
) -> ConditionLabels {
    ConditionLabels {
        kind,
        namespace: namespace.to_owned(),
        name: name.to_owned(),
        r#type: type_.to_owned(),
        status,
    }
}

/// Measures one reconcile; counted once, on drop.
pub struct ReconcileMeasure<'a> {
    metrics: &'a Metrics,
    kind: &'static str,
    /// `None` once discarded.
    result: Option<&'static str>,
    started: Instant,
}

impl ReconcileMeasure<'_> {
    /// The `result` label this reconcile is counted with.
    pub fn set_result(&mut self, result: &'static str) {
        self.result = Some(result);
    }

    /// Not a reconcile worth counting (it only added the finalizer).
    pub fn discard(mut self) {
        self.result = None;
    }
}

impl Drop for ReconcileMeasure<'_> {
    fn drop(&mut self) {
        if let Some(result) = self.result {
            self.metrics
                .observe_reconcile(self.kind, result, self.started.elapsed());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Readers of the series these tests check. The library has none: the integration tests read
    /// the encoded text (tests/support/metrics.rs).
    impl Metrics {
        /// How many reconciles of `kind` ended with `result`.
        fn reconciles(&self, kind: &'static str, result: &'static str) -> u64 {
            self.reconciles
                .get(&ReconcileLabels { kind, result })
                .map_or(0, |c| c.get())
        }

        /// The member gauge of one graph and status, if recorded.
        fn members(&self, namespace: &str, name: &str, status: &str) -> Option<i64> {
            self.members
                .get(&member_labels(namespace, name, status))
                .map(|g| g.get())
        }

        fn deletion_guard_trips(&self, namespace: &str, name: &str) -> u64 {
            self.deletion_guard_trips
                .get(&resource_labels(namespace, name))
                .map_or(0, |c| c.get())
        }

        /// The condition series of one resource, type and status, if recorded.
        fn condition(
            &self,
            kind: &'static str,
            namespace: &str,
            name: &str,
            type_: &str,
            status: &'static str,
        ) -> Option<i64> {
            self.conditions
                .get(&condition_labels(kind, namespace, name, type_, status))
                .map(|g| g.get())
        }

        fn last_successful_sync(&self, kind: &'static str, namespace: &str, name: &str) -> Option<i64> {
            self.last_success
                .get(&kind_labels(kind, namespace, name))
                .map(|g| g.get())
        }
    }

    fn condition(type_: &str, status: &str) -> Condition {
        Condition {
            type_: type_.into(),
            status: status.into(),
            reason: "Test".into(),
            message: String::new(),
            last_transition_time: k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(Timestamp::UNIX_EPOCH),
            observed_generation: None,
        }
    }

    #[test]
    fn a_reconcile_is_counted_once_with_its_last_result() {
        let metrics = Metrics::new();
        {
            let mut measure = metrics.reconcile("DetectiveGraph");
            measure.set_result("ready");
        }
        drop(metrics.reconcile("DetectiveGraph"));
        metrics.reconcile("DetectiveGraph").discard();
        assert_eq!(metrics.reconciles("DetectiveGraph", "ready"), 1);
        assert_eq!(metrics.reconciles("DetectiveGraph", "error"), 1, "unset means error");
        assert_eq!(metrics.reconciles("DetectiveMembership", "ready"), 0);
    }

    #[test]
    fn conditions_are_one_hot_and_dropped_types_disappear() {
        let metrics = Metrics::new();
        let kind = "DetectiveGraph";
        metrics.set_conditions(
            kind,
            "ns",
            "g",
            &[condition("Ready", "True"), condition("MembersHealthy", "False")],
        );
        assert_eq!(metrics.condition(kind, "ns", "g", "Ready", "True"), Some(1));
        assert_eq!(metrics.condition(kind, "ns", "g", "Ready", "False"), Some(0));
        assert_eq!(metrics.condition(kind, "ns", "g", "Ready", "Unknown"), Some(0));
        assert_eq!(metrics.condition(kind, "ns", "g", "MembersHealthy", "False"), Some(1));
        metrics.set_conditions(kind, "ns", "g", &[condition("Ready", "False")]);
        assert_eq!(metrics.condition(kind, "ns", "g", "Ready", "True"), Some(0));
        assert_eq!(metrics.condition(kind, "ns", "g", "MembersHealthy", "False"), None);
        let text = metrics.encode();
        assert!(
            text.contains(r#"detective_operator_resource_condition{kind="DetectiveGraph",namespace="ns",name="g",type="Ready",status="False"} 1"#),
            "{text}"
        );
    }

    #[test]
    fn a_resource_that_goes_takes_its_series_along() {
        let metrics = Metrics::new();
        let kind = "DetectiveGraph";
        metrics.set_conditions(kind, "ns", "g", &[condition("Ready", "True")]);
        metrics.set_members("ns", "g", &[("ENABLED", 3), ("INVITED", 1)]);
        metrics.synced(kind, "ns", "g", Timestamp::from_second(1_700_000_000).unwrap());
        metrics.deletion_guard_tripped("ns", "g");
        metrics.set_members("ns", "other", &[("ENABLED", 2)]);
        assert_eq!(metrics.last_successful_sync(kind, "ns", "g"), Some(1_700_000_000));
        assert_eq!(metrics.deletion_guard_trips("ns", "g"), 1);

        metrics.forget(kind, "ns", "g");
        assert_eq!(metrics.condition(kind, "ns", "g", "Ready", "True"), None);
        assert_eq!(metrics.members("ns", "g", "ENABLED"), None);
        assert_eq!(metrics.members("ns", "g", "INVITED"), None);
        assert_eq!(metrics.last_successful_sync(kind, "ns", "g"), None);
        assert_eq!(metrics.deletion_guard_trips("ns", "g"), 0);
        assert_eq!(
            metrics.members("ns", "other", "ENABLED"),
            Some(2),
            "other resources keep theirs"
        );
        let text = metrics.encode();
        assert!(!text.contains(r#"name="g""#), "{text}");
    }
}
