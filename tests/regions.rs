//! Regions as AWS has them (the emulator's `strictRegions`), through the engine and the real
//! SDK: a Region without Detective is `RegionUnavailable`, an opt-in Region the account has not
//! enabled is `RegionNotEnabled`; both Stall the resource (a human must act) instead of being
//! retried as an outage (the controller requeues a terminal error at `resyncInterval`).

#[path = "../emulator/tests/fixtures/mod.rs"]
mod fixtures;
mod support;

use detective_emulator::{AccountConfig, Emulator, WorldConfig};
use detective_operator::api::{DetectiveGraphSpec, DetectiveOrganizationAdminSpec};
use detective_operator::engine::{self, GraphOutcome, Mode, OrganizationAdminTarget, Reported};
use k8s_openapi::jiff::Timestamp;

use support::emulator_access;

const ADMINISTRATOR: &str = "111122223333";

async fn strict_world(enabled_regions: &[&str]) -> Emulator {
    let mut administrator = AccountConfig::new(ADMINISTRATOR, "");
    administrator.enabled_regions = enabled_regions.iter().map(|r| (*r).to_owned()).collect();
    fixtures::start_emulator_with(WorldConfig {
        accounts: vec![administrator],
        strict_regions: Some(true),
        ..WorldConfig::default()
    })
    .await
}

async fn sync_graph(emulator: &Emulator, region: &str) -> GraphOutcome {
    let spec: DetectiveGraphSpec = serde_json::from_value(serde_json::json!({
        "region": region,
        "members": [{"accountId": "444455556666", "emailAddress": "member@example.com"}],
    }))
    .expect("a valid spec");
    let access = emulator_access(&emulator.endpoint_url(), ADMINISTRATOR, region).await;
    support::apply_new_graph(&access, &spec).await
}

fn stalled_reason(outcome: &GraphOutcome) -> (String, String) {
    let stalled = outcome
        .status
        .sync
        .conditions
        .iter()
        .find(|c| c.type_ == "Stalled" && c.status == "True")
        .unwrap_or_else(|| panic!("Stalled: {:?}", outcome.status.sync.conditions));
    (stalled.reason.clone(), stalled.message.clone())
}

#[tokio::test]
async fn a_region_without_detective_stalls_the_graph_instead_of_retrying_an_outage() {
    let emulator = strict_world(&[]).await;
    let outcome = sync_graph(&emulator, "ap-northeast-3").await;
    assert!(outcome.is_stalled());
    let (reason, message) = stalled_reason(&outcome);
    assert_eq!(reason, "RegionUnavailable");
    assert!(message.contains("no endpoint in ap-northeast-3"), "{message}");
    assert!(emulator.graphs().is_empty());
    // Terminal: the controller looks again at the resync, not in a fast retry loop.
    assert!(!outcome.error.as_ref().expect("the error").is_retryable());
    // Where Detective is, the same world answers.
    let elsewhere = sync_graph(&emulator, "eu-west-1").await;
    assert!(elsewhere.error.is_none(), "{:?}", elsewhere.error);
    assert_eq!(emulator.graphs().len(), 1);
}

#[tokio::test]
async fn an_opt_in_region_not_enabled_stalls_saying_how_to_enable_it() {
    let emulator = strict_world(&[]).await;
    let outcome = sync_graph(&emulator, "il-central-1").await;
    let (reason, message) = stalled_reason(&outcome);
    assert_eq!(reason, "RegionNotEnabled");
    assert!(
        message.contains("enable-region --region-name il-central-1"),
        "{message}"
    );
    assert!(!outcome.error.as_ref().expect("the error").is_retryable());

    let enabled = strict_world(&["il-central-1"]).await;
    let outcome = sync_graph(&enabled, "il-central-1").await;
    assert!(outcome.error.is_none(), "{:?}", outcome.error);
    assert_eq!(
        enabled.graphs().len(),
        1,
        "the graph created once the Region is enabled"
    );
}

#[tokio::test]
async fn a_delegation_in_an_opt_in_region_not_enabled_is_stalled_for_that_region() {
    let management = "999988887777";
    let emulator = fixtures::start_emulator_with(WorldConfig {
        strict_regions: Some(true),
        ..WorldConfig::default()
    })
    .await;
    emulator.seed_organization(&detective_emulator::OrganizationSeed::new(
        "o-regions001",
        management,
        1,
        2,
        ADMINISTRATOR,
    ));
    let spec: DetectiveOrganizationAdminSpec =
        serde_json::from_value(serde_json::json!({"accountId": ADMINISTRATOR, "regions": ["us-east-1", "me-south-1"]}))
            .expect("a valid spec");
    let access = emulator_access(&emulator.endpoint_url(), management, "us-east-1").await;
    let target = OrganizationAdminTarget {
        spec: &spec,
        previous: None,
        generation: Some(1),
    };
    let outcome = engine::sync(&access, target, Mode::Apply, Timestamp::now()).await;
    assert!(outcome.is_stalled(), "{:?}", outcome.status.sync.conditions);
    let error = outcome.error.as_ref().expect("the Region's error");
    assert_eq!(error.reason(), "RegionNotEnabled");
    let me_south = outcome
        .status
        .regions
        .iter()
        .find(|r| r.region == "me-south-1")
        .expect("me-south-1");
    assert!(
        me_south.message.as_deref().is_some_and(|m| m.contains("enable-region")),
        "{me_south:?}"
    );
    assert_eq!(
        support::delegations(&emulator).keys().collect::<Vec<_>>(),
        ["us-east-1"],
        "the other Region is delegated"
    );
}
