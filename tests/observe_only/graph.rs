//! A drifted `DetectiveGraph` (extra member, missing member, wrong tags, stopped package).

use detective_emulator::Emulator;
use detective_operator::api::conditions::{IN_SYNC, READY};
use detective_operator::api::{DetectiveGraph, DetectiveGraphSpec, DetectiveGraphStatus};
use detective_operator::aws::AwsAccess;
use detective_operator::engine::{self, GraphOutcome, GraphTarget, Mode};
use k8s_openapi::jiff::Timestamp;

use super::support::{emulator_access, legacy_graph_emulator};
use super::{actions, write_calls, writes};

const ADMIN: &str = "123456789012";
const REGION: &str = "us-east-1";
/// `EXTRA` is a member the drifted spec no longer declares, `MISSING` one it adds.
const KEPT: &str = "220000000001";
const EXTRA: &str = "220000000002";
const MISSING: &str = "220000000003";

/// An emulator whose administrator's graph dates from before Detective started the optional
/// packages by default (EKS_AUDIT stopped); every account accepts its invitation at once.
async fn legacy_graph() -> Emulator {
    legacy_graph_emulator(ADMIN, REGION, &[KEPT, EXTRA, MISSING]).await.0
}

fn spec(members: &[&str], extra: serde_json::Value) -> DetectiveGraphSpec {
    let members: Vec<serde_json::Value> = members
        .iter()
        .map(|id| serde_json::json!({"accountId": id, "emailAddress": format!("root+{id}@example.com")}))
        .collect();
    let mut spec = serde_json::json!({"region": REGION, "members": members});
    spec.as_object_mut()
        .expect("an object")
        .extend(extra.as_object().expect("an object").clone());
    serde_json::from_value(spec).expect("a valid spec")
}

async fn sync(access: &AwsAccess, spec: &DetectiveGraphSpec, previous: Option<&DetectiveGraphStatus>) -> GraphOutcome {
    let mut graph = DetectiveGraph::new("adopted", spec.clone());
    graph.status = previous.cloned();
    engine::sync(access, GraphTarget::of(&graph), Mode::Apply, Timestamp::now()).await
}

fn condition(status: &DetectiveGraphStatus, type_: &str) -> (String, String) {
    super::condition(&status.sync, type_)
}

/// The graph as the operator left it managing KEPT and EXTRA, tagged `team: old`; then the spec
/// drifts (EXTRA dropped, MISSING added, `team: new`, EKS_AUDIT declared) under Observe.
async fn drifted(emulator: &Emulator, access: &AwsAccess) -> (DetectiveGraphSpec, DetectiveGraphStatus) {
    let managed = spec(&[KEPT, EXTRA], serde_json::json!({"tags": {"team": "old"}}));
    let first = sync(access, &managed, None).await;
    assert!(first.error.is_none(), "{:?}", first.error);
    let settled = sync(access, &managed, Some(&first.status)).await;
    assert_eq!(condition(&settled.status, IN_SYNC).0, "True", "{:?}", settled.status);
    emulator.reset_calls();
    let observed = spec(
        &[KEPT, MISSING],
        serde_json::json!({
            "tags": {"team": "new"},
            "datasourcePackages": ["EKS_AUDIT"],
            "managementPolicy": "Observe",
            "deletionPolicy": "Delete",
        }),
    );
    (observed, settled.status)
}

#[tokio::test]
async fn observe_reports_the_plan_without_a_write_and_manage_applies_it() {
    let emulator = legacy_graph().await;
    let access = emulator_access(&emulator.endpoint_url(), ADMIN, REGION).await;
    let (observed, managed_status) = drifted(&emulator, &access).await;

    let observe = sync(&access, &observed, Some(&managed_status)).await;
    assert!(observe.error.is_none(), "{:?}", observe.error);
    assert_eq!(writes(&emulator), Vec::<String>::new(), "Observe makes no AWS write");
    let status = &observe.status;
    let pending = status.pending_changes.as_ref().expect("status.pendingChanges");
    assert_eq!(
        actions(pending),
        vec![
            ("invite", 1, vec![MISSING]),
            ("remove", 1, vec![EXTRA]),
            ("setTags", 1, vec!["team"]),
            ("startPackages", 1, vec!["EKS_AUDIT"]),
        ]
    );
    assert_eq!(pending.refused, None);
    assert_eq!(condition(status, IN_SYNC), ("False".into(), "ChangesPending".into()));
    assert_eq!(condition(status, READY), ("True".into(), "Observed".into()));
    assert_eq!(
        status.inventory, managed_status.inventory,
        "no write, no inventory change"
    );

    // A resync under Observe reads again and still writes nothing.
    let again = sync(&access, &observed, Some(status)).await;
    assert_eq!(again.status.pending_changes, status.pending_changes);
    assert_eq!(writes(&emulator), Vec::<String>::new());

    // Deleting the Observe resource leaves AWS alone, even with deletionPolicy Delete.
    let mut graph = DetectiveGraph::new("adopted", observed.clone());
    graph.status = Some(again.status.clone());
    engine::teardown(&access, GraphTarget::of(&graph))
        .await
        .expect("nothing to do");
    assert_eq!(writes(&emulator), Vec::<String>::new(), "no write on deletion");

    // Manage: exactly the plan, once each.
    let mut manage = observed.clone();
    manage.management_policy = Default::default();
    let applied = sync(&access, &manage, Some(&again.status)).await;
    assert!(applied.error.is_none(), "{:?}", applied.error);
    let calls: Vec<(String, u64)> = write_calls(&emulator).into_iter().collect();
    assert_eq!(
        calls,
        vec![
            ("CreateMembers".to_owned(), 1),
            ("DeleteMembers".to_owned(), 1),
            ("TagResource".to_owned(), 1),
            ("UpdateDatasourcePackages".to_owned(), 1),
        ]
    );
    assert_eq!(applied.status.pending_changes, None, "Manage publishes no pending plan");
    // What differed was written: in sync at once, so the quiet resync below changes no status.
    assert_eq!(condition(&applied.status, IN_SYNC), ("True".into(), "InSync".into()));
    let resync = sync(&access, &manage, Some(&applied.status)).await;
    assert_eq!(condition(&resync.status, IN_SYNC), ("True".into(), "InSync".into()));
}

#[tokio::test]
async fn an_observed_plan_over_the_deletion_guard_says_so() {
    let emulator = legacy_graph().await;
    let access = emulator_access(&emulator.endpoint_url(), ADMIN, REGION).await;
    let (mut observed, managed_status) = drifted(&emulator, &access).await;
    observed.deletion_guard.max_deletions = 0;

    let observe = sync(&access, &observed, Some(&managed_status)).await;
    let pending = observe.status.pending_changes.as_ref().expect("status.pendingChanges");
    let refused = pending.refused.as_deref().expect("the guard's refusal");
    assert!(refused.contains('1'), "{refused}");
    assert_eq!(writes(&emulator), Vec::<String>::new());
}
