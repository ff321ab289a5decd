//! The call bounds of the scale benchmark (`cargo bench --bench scale`: 100 graphs × 100
//! members, each graph in its own account through its own `assumeRoleArn`), asserted on a size
//! that fits the suite: 10 graphs × 100 members through the engine and one shared `AwsAccess`,
//! as the controller holds it. Counts, not times (memory stays the benchmark's).

#[path = "../emulator/tests/fixtures/mod.rs"]
mod fixtures;
mod support;

use std::collections::BTreeMap;

use detective_operator::api::{DetectiveGraphSpec, DetectiveGraphStatus};
use detective_operator::engine::{self, GraphTarget, Mode};
use k8s_openapi::jiff::{SignedDuration, Timestamp};

use support::emulator_access;

const GRAPHS: u64 = 10;
const MEMBERS: u64 = 100;
/// The benchmark's bar: at most 7 Detective calls to converge a graph.
const MOST_CALLS_TO_CONVERGE: u64 = 7;

fn administrator(g: u64) -> String {
    format!("{:012}", 500_000_000_000 + g)
}

fn spec(g: u64) -> DetectiveGraphSpec {
    let members: Vec<serde_json::Value> = (0..MEMBERS)
        .map(|m| {
            serde_json::json!({"accountId": format!("{:012}", 600_000_000_000 + g * 1000 + m), "emailAddress": format!("root+{g}-{m}@example.com")})
        })
        .collect();
    serde_json::from_value(serde_json::json!({
        "region": fixtures::REGION,
        "assumeRoleArn": format!("arn:aws:iam::{}:role/detective-administrator", administrator(g)),
        "members": members,
    }))
    .expect("a valid spec")
}

fn detective_calls(calls: &BTreeMap<String, u64>) -> u64 {
    calls.iter().filter(|(op, _)| *op != "AssumeRole").map(|(_, n)| n).sum()
}

#[tokio::test]
async fn each_graph_converges_in_at_most_seven_calls_and_its_role_is_assumed_once() {
    let emulator = fixtures::start_emulator().await;
    let access = emulator_access(&emulator.endpoint_url(), "123456789012", fixtures::REGION).await;
    let specs: Vec<DetectiveGraphSpec> = (0..GRAPHS).map(spec).collect();
    let mut statuses: Vec<DetectiveGraphStatus> = Vec::new();
    for (g, spec) in specs.iter().enumerate() {
        emulator.reset_calls();
        let outcome = support::apply_new_graph(&access, spec).await;
        assert!(outcome.error.is_none(), "graph {g}: {:?}", outcome.error);
        let calls = emulator.calls();
        assert_eq!(calls.get("AssumeRole"), Some(&1), "graph {g}: {calls:?}");
        assert!(
            detective_calls(&calls) <= MOST_CALLS_TO_CONVERGE,
            "graph {g} took {} Detective calls: {calls:?}",
            detective_calls(&calls)
        );
        statuses.push(outcome.status);
    }
    assert_eq!(emulator.graphs().len() as u64, GRAPHS);
    // The quiet resync: each graph read once (one ListMembers page, after finding the graph from
    // its status), and no role assumed again.
    emulator.reset_calls();
    let later = Timestamp::now() + SignedDuration::from_secs(300);
    for (spec, status) in specs.iter().zip(&statuses) {
        let outcome = engine::sync(
            &access,
            GraphTarget::new(spec, Some(status), Some(1)),
            Mode::Apply,
            later,
        )
        .await;
        assert!(outcome.error.is_none(), "{:?}", outcome.error);
    }
    let calls = emulator.calls();
    assert!(!calls.contains_key("AssumeRole"), "{calls:?}");
    assert_eq!(calls.get("ListMembers"), Some(&GRAPHS), "{calls:?}");
    assert!(
        !calls
            .keys()
            .any(|op| op.starts_with("Create") || op.starts_with("Delete")),
        "a quiet resync writes nothing: {calls:?}"
    );
}
