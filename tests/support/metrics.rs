//! The operator's [`Metrics`] read back from their text exposition, the way a scrape reads them:
//! the library records and encodes, and has no readers of its own for tests.

use std::collections::BTreeMap;

use detective_operator::metrics::Metrics;

/// One series of a histogram: how many observations, their sum, and the cumulative count at
/// each bucket's upper bound (`le`, `+Inf` last).
#[derive(Clone, Debug, PartialEq)]
pub struct Observed {
    pub count: u64,
    pub sum: f64,
    pub buckets: Vec<(f64, u64)>,
}

impl Observed {
    /// The observations at or below `bound` (a bucket's upper bound).
    pub fn at_most(&self, bound: f64) -> u64 {
        self.buckets
            .iter()
            .find(|(le, _)| *le == bound)
            .unwrap_or_else(|| panic!("no bucket with upper bound {bound}: {self:?}"))
            .1
    }
}

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
    /// Every `result` that reconciles of `kind` were counted under, with its count.
    fn reconcile_results(&self, kind: &str) -> BTreeMap<String, u64>;
    /// The reconcile wall times of `kind` that ended with `result`, if any was observed.
    fn reconcile_durations(&self, kind: &str, result: &str) -> Option<Observed>;
    /// Every sample labelled with the resource `namespace`/`name`, as the exposition writes it.
    fn resource_samples(&self, namespace: &str, name: &str) -> Vec<String>;
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

    fn reconcile_results(&self, kind: &str) -> BTreeMap<String, u64> {
        let prefix = format!(r#"detective_operator_reconciles_total{{kind="{kind}","#);
        self.encode()
            .lines()
            .filter(|line| line.starts_with(&prefix))
            .map(|line| {
                let result = label(line, "result").expect("a reconcile has a result");
                (result.to_owned(), value(line) as u64)
            })
            .collect()
    }

    fn reconcile_durations(&self, kind: &str, result: &str) -> Option<Observed> {
        let text = self.encode();
        let ours = |line: &&str| label(line, "kind") == Some(kind) && label(line, "result") == Some(result);
        let one = |suffix: &str| {
            text.lines()
                .filter(ours)
                .find(|line| line.starts_with(&format!("{RECONCILE_DURATION}_{suffix}{{")))
                .map(value)
        };
        let buckets = text
            .lines()
            .filter(ours)
            .filter(|line| line.starts_with(&format!("{RECONCILE_DURATION}_bucket{{")))
            .map(|line| {
                let bound = label(line, "le").expect("a bucket has an upper bound");
                let bound = if bound == "+Inf" {
                    f64::INFINITY
                } else {
                    bound.parse().expect("a bound")
                };
                (bound, value(line) as u64)
            })
            .collect();
        Some(Observed {
            count: one("count")? as u64,
            sum: one("sum")?,
            buckets,
        })
    }

    fn resource_samples(&self, namespace: &str, name: &str) -> Vec<String> {
        self.encode()
            .lines()
            .filter(|line| !line.starts_with('#'))
            .filter(|line| label(line, "namespace") == Some(namespace) && label(line, "name") == Some(name))
            .map(str::to_owned)
            .collect()
    }
}

const RECONCILE_DURATION: &str = "detective_operator_reconcile_duration_seconds";

/// The value of the label `name` in a sample line, if it has one.
fn label<'a>(line: &'a str, name: &str) -> Option<&'a str> {
    let labels = line.split_once('{')?.1.rsplit_once('}')?.0;
    labels.split(',').find_map(|pair| {
        let value = pair.strip_prefix(name)?.strip_prefix("=\"")?;
        value.strip_suffix('"')
    })
}

/// The value of a sample line.
fn value(line: &str) -> f64 {
    let value = line.rsplit_once(' ').expect("a sample has a value").1;
    value.parse().unwrap_or_else(|_| panic!("not a sample value: {line}"))
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
