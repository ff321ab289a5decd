//! Prometheus metrics, served on the admin server's `/metrics`.
//!
//! One process-wide registry: the AWS adapter counts calls where they are made, the controller
//! counts reconciles, without threading a handle through every layer.

use std::sync::LazyLock;
use std::time::Duration;

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

/// Every metric of the operator.
pub struct Metrics {
    registry: Registry,
    pub reconciles: Family<ReconcileLabels, Counter>,
    pub reconcile_duration: Family<ReconcileLabels, Histogram>,
    pub aws_calls: Family<AwsCallLabels, Counter>,
    pub members: Family<MemberLabels, Gauge>,
    pub deletion_guard_trips: Family<ResourceLabels, Counter>,
}

static METRICS: LazyLock<Metrics> = LazyLock::new(Metrics::new);

impl Metrics {
    fn new() -> Self {
        let mut registry = Registry::with_prefix("detective_operator");
        let reconciles = Family::<ReconcileLabels, Counter>::default();
        let reconcile_duration = Family::<ReconcileLabels, Histogram>::new_with_constructor(|| {
            Histogram::new([0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0])
        });
        let aws_calls = Family::<AwsCallLabels, Counter>::default();
        let members = Family::<MemberLabels, Gauge>::default();
        let deletion_guard_trips = Family::<ResourceLabels, Counter>::default();
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
        Self {
            registry,
            reconciles,
            reconcile_duration,
            aws_calls,
            members,
            deletion_guard_trips,
        }
    }

    /// The process-wide metrics.
    pub fn global() -> &'static Metrics {
        &METRICS
    }

    pub fn observe_reconcile(&self, kind: &'static str, result: &'static str, took: Duration) {
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
                .get_or_create(&MemberLabels {
                    namespace: namespace.to_owned(),
                    name: name.to_owned(),
                    status: (*status).to_owned(),
                })
                .set(*count);
        }
    }

    /// The Prometheus text exposition of every metric.
    pub fn encode(&self) -> String {
        let mut text = String::new();
        encode(&mut text, &self.registry).expect("writing to a String cannot fail");
        text
    }
}
