//! The organization's delegation in the emulator's realistic profile, through the engine's one
//! door with the real `aws-sdk-detective` and `aws-sdk-organizations` clients. A new delegation
//! shows only after the propagation delay (crossed by moving the emulator clock, never by
//! sleeping), and an organization has one Detective administrator, kept by Organizations:
//!
//! - `DetectiveOrganizationAdmin`: Pending, looked at again within seconds, then Delegated, with
//!   exactly one EnableOrganizationAdminAccount per Region; Stalled `DelegationNotShown` when the
//!   delegation never shows, without a second Enable; Stalled `AdministratorConflict` in every
//!   Region, with no Enable at all, when Organizations already has another administrator;
//! - `DetectiveGraph` reconciled while its delegation propagates: retried soon (a retryable
//!   `AwaitingDelegation`, which the controller backs off from in seconds), then Ready; Stalled
//!   `NotDelegatedAdministrator` only once the wait is over.

#[path = "../emulator/tests/fixtures/mod.rs"]
mod fixtures;
mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use detective_emulator::{Emulator, OrganizationSeed, REALISTIC_PROPAGATION_DELAY, WorldConfig};
use detective_operator::api::{
    DelegationState, DetectiveGraph, DetectiveGraphSpec, DetectiveOrganizationAdminSpec,
    DetectiveOrganizationAdminStatus,
};
use detective_operator::engine::{
    self, DELEGATION_SHOWS_WITHIN, GraphOutcome, GraphTarget, Mode, OrganizationAdminOutcome, OrganizationAdminTarget,
    Reported, SHORT_REQUEUE,
};
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use serde_json::json;

use support::emulator_access;

const MANAGEMENT: &str = "920000000000";
/// The account to delegate: the first of the seeded organization.
const SECURITY: &str = "920000000001";
const OTHER: &str = "920000000002";
const EAST: &str = "us-east-1";
const WEST: &str = "eu-west-1";
const SOUTH: &str = "ap-southeast-2";
const ENABLE: &str = "EnableOrganizationAdminAccount";
const DISABLE: &str = "DisableOrganizationAdminAccount";
const UPDATE_CONFIGURATION: &str = "UpdateOrganizationConfiguration";

/// A realistic emulator (default propagation delay) with an organization of 2 OUs and 6 accounts.
async fn realistic() -> Emulator {
    let emulator = fixtures::start_emulator_with(WorldConfig::realistic()).await;
    emulator.seed_organization(&OrganizationSeed::new("o-realistic002", MANAGEMENT, 2, 6, SECURITY));
    emulator
}

fn admin_spec(regions: &[&str]) -> DetectiveOrganizationAdminSpec {
    serde_json::from_value(json!({ "accountId": SECURITY, "regions": regions })).expect("a spec")
}

/// One reconcile of the delegation at `now`, as the management account.
async fn sync_admin(
    emulator: &Emulator,
    spec: &DetectiveOrganizationAdminSpec,
    previous: Option<&DetectiveOrganizationAdminStatus>,
    now: Timestamp,
) -> OrganizationAdminOutcome {
    let management = emulator_access(&emulator.endpoint_url(), MANAGEMENT, EAST).await;
    let target = OrganizationAdminTarget {
        spec,
        previous,
        generation: Some(1),
    };
    engine::sync(&management, target, Mode::Apply, now).await
}

/// The calls since the last look, then forgets them.
fn calls(emulator: &Emulator) -> BTreeMap<String, u64> {
    let calls = emulator.calls();
    emulator.reset_calls();
    calls
}

fn states(status: &DetectiveOrganizationAdminStatus) -> Vec<(&str, DelegationState)> {
    status.regions.iter().map(|e| (e.region.as_str(), e.state)).collect()
}

fn condition<'a>(
    conditions: &'a [k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition],
    type_: &str,
) -> (&'a str, &'a str) {
    conditions
        .iter()
        .find(|c| c.type_ == type_)
        .map(|c| (c.status.as_str(), c.reason.as_str()))
        .unwrap_or_else(|| panic!("no {type_} condition in {conditions:?}"))
}

#[tokio::test]
async fn a_new_delegation_is_pending_then_delegated_with_one_enable_per_region() {
    let emulator = realistic().await;
    let spec = admin_spec(&[EAST, WEST]);
    let start = Timestamp::now();

    let enabled = sync_admin(&emulator, &spec, None, start).await;
    assert!(enabled.error.is_none(), "{:?}", enabled.error);
    assert_eq!(
        states(&enabled.status),
        [(EAST, DelegationState::Pending), (WEST, DelegationState::Pending)]
    );
    assert!(
        enabled.status.regions.iter().all(|e| e.enable_time.is_some()),
        "the Enable is recorded"
    );
    assert_eq!(
        condition(&enabled.status.sync.conditions, "Reconciling"),
        ("True", "Delegating")
    );
    assert!(!enabled.is_stalled(), "never a conflict");
    assert!(
        enabled.requeue_after < SHORT_REQUEUE,
        "looked at again within seconds: {:?}",
        enabled.requeue_after
    );
    assert_eq!(calls(&emulator).get(ENABLE), Some(&2), "one Enable per Region");

    // Looked at again before the delegation shows: still Pending, no second Enable, nothing new
    // to write in status.
    let later = start + SignedDuration::from_secs(2);
    let waiting = sync_admin(&emulator, &spec, Some(&enabled.status), later).await;
    assert_eq!(
        states(&waiting.status),
        [(EAST, DelegationState::Pending), (WEST, DelegationState::Pending)]
    );
    assert_eq!(waiting.status.regions, enabled.status.regions);
    assert!(waiting.requeue_after < SHORT_REQUEUE && !waiting.is_stalled());
    assert_eq!(calls(&emulator).get(ENABLE), None, "never enabled twice");

    emulator.advance_clock(REALISTIC_PROPAGATION_DELAY);
    let shown = sync_admin(
        &emulator,
        &spec,
        Some(&waiting.status),
        later + SignedDuration::from_secs(4),
    )
    .await;
    assert!(shown.is_ready(), "{:?}", shown.status.sync.conditions);
    assert_eq!(
        states(&shown.status),
        [(EAST, DelegationState::Delegated), (WEST, DelegationState::Delegated)]
    );
    for entry in &shown.status.regions {
        assert_eq!(entry.administrator_account_id.as_deref(), Some(SECURITY));
        assert!(entry.enable_time.is_none() && entry.graph_arn.is_some());
    }
    assert_eq!(calls(&emulator).get(ENABLE), None);
    emulator.shutdown().await;
}

#[tokio::test]
async fn a_delegation_that_never_shows_stalls_without_a_second_enable() {
    let emulator = realistic().await;
    let spec = admin_spec(&[EAST]);
    let start = Timestamp::now();
    let enabled = sync_admin(&emulator, &spec, None, start).await;
    assert_eq!(states(&enabled.status), [(EAST, DelegationState::Pending)]);
    calls(&emulator);

    // The emulator clock stays: the delegation is not listed when the wait is over.
    let over = start + SignedDuration::try_from(DELEGATION_SHOWS_WITHIN).expect("a duration");
    let stalled = sync_admin(&emulator, &spec, Some(&enabled.status), over).await;
    assert!(stalled.is_stalled());
    let (status, reason) = condition(&stalled.status.sync.conditions, "Stalled");
    assert_eq!((status, reason), ("True", "DelegationNotShown"));
    assert_eq!(calls(&emulator).get(ENABLE), None, "not enabled again");
    emulator.shutdown().await;
}

/// AWS's Security Reference Architecture's teardown trap: DisableOrganizationAdminAccount
/// leaves the account registered as Organizations' delegated administrator for Detective, and
/// the organization has one Detective administrator.
#[tokio::test]
async fn another_administrator_of_the_organization_stalls_every_region_without_an_enable() {
    let emulator = realistic().await;
    let url = emulator.endpoint_url();
    let south = fixtures::detective_client(&url, MANAGEMENT, SOUTH);
    fixtures::enable_organization_admin(&south, OTHER).await;
    south
        .disable_organization_admin_account()
        .send()
        .await
        .expect("DisableOrganizationAdminAccount");
    emulator.advance_clock(REALISTIC_PROPAGATION_DELAY);
    calls(&emulator);

    let outcome = sync_admin(&emulator, &admin_spec(&[EAST, WEST]), None, Timestamp::now()).await;
    assert!(outcome.is_stalled());
    assert!(outcome.error.is_none(), "a conflict is no AWS failure");
    let stalled = outcome.status.sync.condition("Stalled").expect("a Stalled condition");
    assert_eq!(stalled.reason, "AdministratorConflict");
    for named in [OTHER, EAST, WEST] {
        assert!(stalled.message.contains(named), "{named}: {}", stalled.message);
    }
    assert_eq!(
        states(&outcome.status),
        [(EAST, DelegationState::Conflict), (WEST, DelegationState::Conflict)]
    );
    let made = calls(&emulator);
    assert_eq!(made.get(ENABLE), None, "no Enable call: {made:?}");
    assert_eq!(made.get(DISABLE), None);
    assert_eq!(made.get("ListDelegatedAdministrators"), Some(&1));
    emulator.shutdown().await;
}

fn organization_graph() -> DetectiveGraph {
    let spec: DetectiveGraphSpec = serde_json::from_value(json!({
        "region": EAST,
        "organization": {"autoEnable": true},
        "membersFrom": {"organization": {}},
    }))
    .expect("a valid spec");
    let mut graph = DetectiveGraph::new("organization", spec);
    graph.metadata.namespace = Some("security".to_owned());
    graph
}

/// One reconcile of `graph` at `now` as the administrator; the graph keeps the new status.
async fn sync_graph(emulator: &Emulator, graph: &mut DetectiveGraph, now: Timestamp) -> GraphOutcome {
    let access = emulator_access(&emulator.endpoint_url(), SECURITY, EAST).await;
    let outcome = engine::sync(&access, GraphTarget::of(graph), Mode::Apply, now).await;
    graph.status = Some(outcome.status.clone());
    outcome
}

/// A GitOps apply does not order objects: the graph meets its delegation while it propagates.
#[tokio::test]
async fn a_graph_reconciled_while_its_delegation_propagates_is_ready_without_waiting_for_resync() {
    let emulator = realistic().await;
    let start = Timestamp::now();
    let delegation = sync_admin(&emulator, &admin_spec(&[EAST]), None, start).await;
    assert_eq!(states(&delegation.status), [(EAST, DelegationState::Pending)]);
    let mut graph = organization_graph();

    let refused = sync_graph(&emulator, &mut graph, start).await;
    let error = refused.error.as_ref().expect("refused while the delegation propagates");
    assert_eq!(error.reason(), "AwaitingDelegation");
    assert!(
        error.is_retryable(),
        "retried with the controller's backoff (seconds), not parked until the resync"
    );
    assert!(!refused.is_stalled(), "{:?}", refused.status.sync.conditions);
    assert_eq!(
        condition(&refused.status.sync.conditions, "Reconciling"),
        ("True", "AwaitingDelegation")
    );
    let since = |graph: &DetectiveGraph| {
        graph
            .status
            .as_ref()
            .and_then(|s| s.organization.as_ref())
            .and_then(|o| o.not_delegated_since.clone())
    };
    assert!(since(&graph).is_some());
    let first_refusal = since(&graph);
    let again = sync_graph(&emulator, &mut graph, start + SignedDuration::from_secs(5)).await;
    assert_eq!(again.error.as_ref().map(|e| e.reason()), Some("AwaitingDelegation"));
    assert_eq!(since(&graph), first_refusal, "waited for since the first refusal");

    emulator.advance_clock(REALISTIC_PROPAGATION_DELAY);
    calls(&emulator);
    let enabling = sync_graph(&emulator, &mut graph, start + SignedDuration::from_secs(15)).await;
    assert!(enabling.error.is_none(), "{:?}", enabling.error);
    // The organization's accounts pass through verification (the realistic verificationDelay).
    emulator.advance_clock(Duration::from_secs(3));
    let ready = sync_graph(&emulator, &mut graph, start + SignedDuration::from_secs(20)).await;
    assert!(ready.error.is_none(), "{:?}", ready.error);
    assert!(ready.is_ready(), "{:?}", ready.status.sync.conditions);
    assert_eq!(since(&graph), None, "no longer waiting");
    assert_eq!(calls(&emulator).get(UPDATE_CONFIGURATION), Some(&1));

    // The write propagates: reconciles meanwhile read AutoEnable not yet set, and write it no
    // second time; once it shows, it is as declared.
    for later in [16, 17] {
        let meanwhile = sync_graph(&emulator, &mut graph, start + SignedDuration::from_secs(later)).await;
        assert!(meanwhile.error.is_none(), "{:?}", meanwhile.error);
    }
    assert_eq!(
        calls(&emulator).get(UPDATE_CONFIGURATION),
        None,
        "one UpdateOrganizationConfiguration per graph"
    );
    emulator.advance_clock(REALISTIC_PROPAGATION_DELAY);
    assert!(emulator.graphs().iter().any(|g| g.auto_enable), "AutoEnable reads back");
    emulator.shutdown().await;
}

#[tokio::test]
async fn a_graph_whose_account_is_never_delegated_stalls_once_the_wait_is_over() {
    let emulator = realistic().await;
    let mut graph = organization_graph();
    let start = Timestamp::now();
    let waiting = sync_graph(&emulator, &mut graph, start).await;
    assert!(waiting.error.as_ref().is_some_and(|e| e.is_retryable()));

    let over = start + SignedDuration::try_from(DELEGATION_SHOWS_WITHIN + Duration::from_secs(1)).expect("a duration");
    let stalled = sync_graph(&emulator, &mut graph, over).await;
    let error = stalled.error.as_ref().expect("still refused");
    assert_eq!(error.reason(), "NotDelegatedAdministrator");
    assert!(!error.is_retryable());
    assert!(stalled.is_stalled());
    emulator.shutdown().await;
}
