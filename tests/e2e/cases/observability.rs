//! The chart's alerts and dashboard against the operator's real `/metrics`: every metric name the
//! rendered PrometheusRule and the Grafana dashboard select is one a running operator exports
//! after reconciling a DetectiveGraph and a DetectiveMembership.

use std::collections::BTreeSet;
use std::process::Command;
use std::time::Duration;

use serde_json::Value;

use crate::fixtures::{create_graph, detective_client, invite};
use crate::harness::rbac::CHART;
use crate::harness::{
    ADMIN, Env, OperatorOptions, REGION, accepting_world, emulator, eventually, graph_manifest, has_condition,
    is_ready, repo_path, run_checked,
};
use crate::observability;

/// The members of the operator's graph (they accept at once).
const MEMBERS: [&str; 2] = ["280000000001", "280000000004"];
/// Another administrator, whose graph invites [`JOINING`].
const OTHER_ADMIN: &str = "280000000002";
/// The account the DetectiveMembership acts as (through STS).
const JOINING: &str = "280000000003";

/// `helm template` of the chart with the PrometheusRule and the dashboard switched on.
fn render_chart(env: &Env) -> Vec<Value> {
    let home = env.dir.join("helm");
    let rendered = run_checked(
        Command::new(&env.plane.helm)
            .args(["template", "e2e"])
            .arg(repo_path(CHART))
            .args(["--namespace", "e2e-release"])
            .args(observability::SWITCHES_ON)
            .env("HELM_CACHE_HOME", home.join("cache"))
            .env("HELM_CONFIG_HOME", home.join("config"))
            .env("HELM_DATA_HOME", home.join("data")),
    )
    .unwrap_or_else(|e| panic!("helm template {CHART}: {e}"));
    let documents: Vec<Value> = serde_saphyr::from_multiple(&rendered).expect("helm template output is YAML");
    documents.into_iter().filter(|d| !d.is_null()).collect()
}

/// The operator reconciles a graph (to Ready, then Stalled by the deletion guard) and a
/// membership (to Ready); then every metric name in the chart's rendered alert rules and dashboard must be on its
/// `/metrics` (declared by a `# TYPE` line, or sampled).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_referenced_by_alerts_and_dashboard_are_exported() {
    let Some(env) = Env::new("observability").await else {
        return;
    };
    let emulator = emulator(accepting_world(MEMBERS)).await;
    let url = emulator.endpoint_url();
    let other = detective_client(&url, OTHER_ADMIN, REGION);
    let other_graph = create_graph(&other).await;
    invite(&other, &other_graph, JOINING, "joining@example.com").await;

    let operator = env.operator(OperatorOptions::new("operator", ADMIN, &url)).await;
    let members = [(MEMBERS[0], "one@example.com"), (MEMBERS[1], "two@example.com")];
    let guard = "deletionGuard:\n  maxDeletions: 1";
    env.apply(&graph_manifest("watched", &env.ns, &members, guard)).await;
    env.apply(&format!(
        "apiVersion: detective.operator.dev/v1alpha1
kind: DetectiveMembership
metadata:
  name: joined
  namespace: {ns}
spec:
  graphArn: {other_graph}
  assumeRoleArn: arn:aws:iam::{JOINING}:role/detective-member
  state: Accepted
",
        ns = env.ns
    ))
    .await;
    env.wait_graph("watched", Duration::from_secs(60), "Ready", is_ready)
        .await;
    // Emptying the list trips the deletion guard (two removals, one allowed): its counter is
    // only exported once it has counted.
    env.apply(&graph_manifest("watched", &env.ns, &[], guard)).await;
    env.wait_graph(
        "watched",
        Duration::from_secs(60),
        "Stalled by the deletion guard",
        |graph| {
            has_condition(graph, "Stalled", "True")?;
            match crate::harness::condition(graph, "Stalled").map(|c| &c["reason"]) {
                Some(reason) if reason == "DeletionGuard" => Ok(()),
                other => Err(format!("Stalled reason {other:?}")),
            }
        },
    )
    .await;
    let memberships = env.memberships();
    eventually(Duration::from_secs(60), "the membership Ready", || async {
        let object = crate::harness::try_get(&memberships, "joined")
            .await?
            .ok_or("not found")?;
        has_condition(&object, "Ready", "True")
    })
    .await;

    let objects = render_chart(&env);
    let rules = observability::rules(&objects).expect("the rendered PrometheusRule");
    let dashboard = observability::rendered_dashboard(&objects).expect("the rendered dashboard");
    let referenced = observability::referenced_names(&rules, &dashboard);
    let names: BTreeSet<&str> = referenced.iter().map(|(name, _)| name.as_str()).collect();
    assert!(
        names.iter().filter(|n| n.starts_with("detective_operator_")).count() >= 7,
        "the rules and dashboard select the operator's metrics: {names:?}"
    );
    let members_sample = format!(
        "detective_operator_graph_members{{namespace=\"{}\",name=\"watched\"",
        env.ns
    );
    // A reconcile writes its status before its drop guard counts it, so a scrape right after the
    // conditions showed can precede the last count: scrape until every referenced metric shows
    // (or time out with what is missing).
    eventually(
        Duration::from_secs(30),
        "every metric the alerts and dashboard use in /metrics",
        || async {
            let (status, scrape) = operator.get("/metrics").await;
            if status != 200 {
                return Err(format!("/metrics answered {status}: {scrape}"));
            }
            // The scrape is the real thing: the graph's members are in it.
            if !scrape.lines().any(|l| l.starts_with(&members_sample)) {
                return Err(format!("no {members_sample}...}} sample in /metrics:\n{scrape}"));
            }
            let exported = observability::exposed_names(&scrape);
            let missing: Vec<String> = referenced
                .iter()
                .filter(|(name, _)| !exported.contains(name) && !observability::SCRAPE_SERIES.contains(&name.as_str()))
                .map(|(name, place)| format!("{name} (used by {place})"))
                .collect();
            if missing.is_empty() {
                Ok(())
            } else {
                Err(format!(
                    "metrics the chart's alerts or dashboard use but the operator does not export:\n{}\nexported: {exported:?}",
                    missing.join("\n")
                ))
            }
        },
    )
    .await;
}
