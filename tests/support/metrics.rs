//! The operator's [`Metrics`] read back from their text exposition, the way a scrape reads them:
//! the library records and encodes, and has no readers of its own for tests.

use detective_operator::metrics::Metrics;

/// What the tests read of the operator's metrics, each sample named by its labels.
pub trait Readings {
    /// How many reconciles of `kind` ended with `result`.
    fn reconciles(&self, kind: &str, result: &str) -> u64;
    /// How many AWS calls of `operation` ended with `outcome`.
    fn aws_calls(&self, operation: &str, outcome: &str) -> u64;
    /// The member gauge of one graph and status, if recorded.
    fn members(&self, namespace: &str, name: &str, status: &str) -> Option<i64>;
    /// The condition series of one resource, type and status, if recorded.
    fn condition(&self, kind: &str, namespace: &str, name: &str, type_: &str, status: &str) -> Option<i64>;
    /// The Unix time of the resource's last reconcile that ended without error, if any.
    fn last_successful_sync(&self, kind: &str, namespace: &str, name: &str) -> Option<i64>;
}

impl Readings for Metrics {
    fn reconciles(&self, kind: &str, result: &str) -> u64 {
        counter(
            self,
            &format!(r#"detective_operator_reconciles_total{{kind="{kind}",result="{result}"}}"#),
        )
    }

    fn aws_calls(&self, operation: &str, outcome: &str) -> u64 {
        counter(
            self,
            &format!(r#"detective_operator_aws_calls_total{{operation="{operation}",outcome="{outcome}"}}"#),
        )
    }

    fn members(&self, namespace: &str, name: &str, status: &str) -> Option<i64> {
        gauge(
            self,
            &format!(r#"detective_operator_graph_members{{namespace="{namespace}",name="{name}",status="{status}"}}"#),
        )
    }

    fn condition(&self, kind: &str, namespace: &str, name: &str, type_: &str, status: &str) -> Option<i64> {
        gauge(
            self,
            &format!(
                r#"detective_operator_resource_condition{{kind="{kind}",namespace="{namespace}",name="{name}",type="{type_}",status="{status}"}}"#
            ),
        )
    }

    fn last_successful_sync(&self, kind: &str, namespace: &str, name: &str) -> Option<i64> {
        gauge(
            self,
            &format!(
                r#"detective_operator_last_successful_sync_timestamp_seconds{{kind="{kind}",namespace="{namespace}",name="{name}"}}"#
            ),
        )
    }
}

/// The value of the sample `series` (the metric's name and labels as the exposition writes them),
/// if there is one.
fn sample(metrics: &Metrics, series: &str) -> Option<f64> {
    metrics
        .encode()
        .lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

/// A counter: a series never incremented has no sample, and counts 0.
fn counter(metrics: &Metrics, series: &str) -> u64 {
    sample(metrics, series).map_or(0, |value| value as u64)
}

/// A gauge, if set.
fn gauge(metrics: &Metrics, series: &str) -> Option<i64> {
    sample(metrics, series).map(|value| value as i64)
}
