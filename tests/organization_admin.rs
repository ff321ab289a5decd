//! The management-account side (`DetectiveOrganizationAdmin`) through the engine's one door
//! (`engine::sync`, `engine::teardown`), with the real `aws-sdk-detective` client against the
//! emulator, one client per Region, and `aws-sdk-organizations` for the organization's delegated
//! administrator. Every call is counted in the emulator. (The realistic profile's lag and
//! one-administrator rule: tests/realistic_delegation.rs.)

#[path = "../emulator/tests/fixtures/mod.rs"]
mod fixtures;
mod support;

use std::collections::BTreeMap;

use detective_emulator::{Emulator, OrganizationSeed};
use detective_operator::api::{
    DelegationRemoval, DelegationState, DetectiveOrganizationAdminSpec, DetectiveOrganizationAdminStatus,
};
use detective_operator::aws::AwsAccess;
use detective_operator::engine::{self, Mode, OrganizationAdminOutcome, OrganizationAdminTarget, Reported};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use k8s_openapi::jiff::Timestamp;

use support::emulator_access;

const MANAGEMENT: &str = "900000000000";
const SECURITY: &str = "900000000001";
const OTHER: &str = "900000000002";
const EAST: &str = "us-east-1";
const WEST: &str = "eu-west-1";
const ENABLE: &str = "EnableOrganizationAdminAccount";
const DISABLE: &str = "DisableOrganizationAdminAccount";
const LIST: &str = "ListOrganizationAdminAccounts";
/// Organizations' ListDelegatedAdministrators: one per reconcile, before any Region.
const DELEGATED: &str = "ListDelegatedAdministrators";

struct World {
    emulator: Emulator,
    /// The management account's access.
    management: AwsAccess,
}

async fn world() -> World {
    let emulator = fixtures::start_emulator().await;
    emulator.seed_organization(&OrganizationSeed::new("o-orgadmin001", MANAGEMENT, 2, 4, SECURITY));
    let management = emulator_access(&emulator.endpoint_url(), MANAGEMENT, EAST).await;
    World { emulator, management }
}

fn spec(regions: &[&str]) -> DetectiveOrganizationAdminSpec {
    serde_json::from_value(serde_json::json!({ "accountId": SECURITY, "regions": regions })).expect("a spec")
}

impl World {
    async fn sync(
        &self,
        spec: &DetectiveOrganizationAdminSpec,
        previous: Option<&DetectiveOrganizationAdminStatus>,
        mode: Mode,
    ) -> OrganizationAdminOutcome {
        let target = OrganizationAdminTarget {
            spec,
            previous,
            generation: Some(1),
        };
        engine::sync(&self.management, target, mode, Timestamp::now()).await
    }

    /// The resource's deletion, as the controller's finalizer runs it.
    async fn teardown(&self, spec: &DetectiveOrganizationAdminSpec, previous: &DetectiveOrganizationAdminStatus) {
        let target = OrganizationAdminTarget {
            spec,
            previous: Some(previous),
            generation: Some(1),
        };
        engine::teardown(&self.management, target).await.expect("teardown");
    }

    /// Delegates `account` in `region` behind the operator's back.
    async fn delegate(&self, account: &str, region: &str) {
        fixtures::delegate(&self.emulator.endpoint_url(), MANAGEMENT, account, region).await;
    }

    /// Region → administrator, as the emulator holds them.
    fn delegations(&self) -> BTreeMap<String, String> {
        support::delegations(&self.emulator)
    }

    /// The calls since the last look, then forgets them.
    fn calls(&self) -> BTreeMap<String, u64> {
        let calls = self.emulator.calls();
        self.emulator.reset_calls();
        calls
    }
}

fn stalled(outcome: &OrganizationAdminOutcome) -> &Condition {
    let stalled = outcome.status.sync.conditions.iter().find(|c| c.type_ == "Stalled");
    stalled.expect("a Stalled condition")
}

fn states(status: &DetectiveOrganizationAdminStatus) -> Vec<(&str, DelegationState)> {
    status.regions.iter().map(|e| (e.region.as_str(), e.state)).collect()
}

#[tokio::test]
async fn delegates_in_two_regions_then_adopts_without_a_write() {
    let world = world().await;
    let spec = spec(&[EAST, WEST]);

    let plan = world.sync(&spec, None, Mode::DryRun).await;
    assert_eq!(
        states(&plan.status),
        [(EAST, DelegationState::Pending), (WEST, DelegationState::Pending)]
    );
    assert_eq!(
        world.calls(),
        BTreeMap::from([(DELEGATED.to_owned(), 1), (LIST.to_owned(), 2)]),
        "a plan only reads"
    );

    let first = world.sync(&spec, None, Mode::Apply).await;
    assert!(first.is_ready(), "{:?}", first.status.sync.conditions);
    assert!(first.error.is_none());
    assert_eq!(
        states(&first.status),
        [(EAST, DelegationState::Delegated), (WEST, DelegationState::Delegated)]
    );
    assert_eq!((first.status.delegated_regions, first.status.declared_regions), (2, 2));
    for entry in &first.status.regions {
        assert_eq!(entry.administrator_account_id.as_deref(), Some(SECURITY));
        let graph = entry.graph_arn.as_deref().expect("the organization graph's ARN");
        assert!(graph.contains(&format!(":{}:{SECURITY}:", entry.region)), "{graph}");
        assert!(entry.delegation_time.is_some());
    }
    assert_eq!(
        world.calls(),
        BTreeMap::from([(DELEGATED.to_owned(), 1), (ENABLE.to_owned(), 2), (LIST.to_owned(), 4)])
    );

    let again = world.sync(&spec, Some(&first.status), Mode::Apply).await;
    assert!(again.is_ready());
    assert_eq!(again.status.regions, first.status.regions);
    assert_eq!(
        world.calls(),
        BTreeMap::from([(DELEGATED.to_owned(), 1), (LIST.to_owned(), 2)]),
        "adopted: no write"
    );
    world.emulator.shutdown().await;
}

/// Even in the default profile, which lets each Region name its own administrator, another
/// account delegated in one Region is the organization's administrator (Organizations registers
/// it): every declared Region is in conflict, and nothing is enabled anywhere.
#[tokio::test]
async fn another_administrator_stalls_every_region_and_is_never_replaced() {
    let world = world().await;
    world.delegate(OTHER, WEST).await;
    world.calls();
    let outcome = world.sync(&spec(&[EAST, WEST]), None, Mode::Apply).await;

    assert!(outcome.is_stalled());
    assert!(outcome.error.is_none(), "a conflict is no AWS failure");
    let stalled = stalled(&outcome);
    assert_eq!(stalled.reason, "AdministratorConflict");
    assert!(
        stalled.message.contains(OTHER) && stalled.message.contains(EAST) && stalled.message.contains(WEST),
        "{}",
        stalled.message
    );
    assert_eq!(
        states(&outcome.status),
        [(EAST, DelegationState::Conflict), (WEST, DelegationState::Conflict)]
    );
    assert_eq!(
        outcome.status.regions[1].administrator_account_id.as_deref(),
        Some(OTHER)
    );
    assert_eq!(outcome.status.delegated_regions, 0);
    assert_eq!(
        world.delegations(),
        BTreeMap::from([(WEST.to_owned(), OTHER.to_owned())])
    );
    assert_eq!(world.calls().get(ENABLE), None, "nothing enabled anywhere");

    // deletionPolicy: Disable leaves the other account's delegation alone.
    let mut disabling = spec(&[EAST, WEST]);
    disabling.deletion_policy = DelegationRemoval::Disable;
    world.teardown(&disabling, &outcome.status).await;
    assert_eq!(
        world.delegations(),
        BTreeMap::from([(WEST.to_owned(), OTHER.to_owned())])
    );
    assert_eq!(world.calls().get(DISABLE), None);
    world.emulator.shutdown().await;
}

#[tokio::test]
async fn a_removed_region_is_disabled_only_when_asked() {
    let world = world().await;
    let both = world.sync(&spec(&[EAST, WEST]), None, Mode::Apply).await;
    assert!(both.is_ready());
    world.calls();

    let mut east_only = spec(&[EAST]);
    let retained = world.sync(&east_only, Some(&both.status), Mode::Apply).await;
    assert!(retained.is_ready(), "{:?}", retained.status.sync.conditions);
    assert_eq!(
        states(&retained.status),
        [(EAST, DelegationState::Delegated), (WEST, DelegationState::Retained)]
    );
    assert_eq!(retained.status.delegated_regions, 1);
    assert_eq!(world.calls().get(DISABLE), None, "regionRemoval: Retain never disables");
    assert_eq!(world.delegations().len(), 2);

    // The Region is still known from status: opting in disables it.
    east_only.region_removal = DelegationRemoval::Disable;
    let disabled = world.sync(&east_only, Some(&retained.status), Mode::Apply).await;
    assert!(disabled.is_ready());
    assert_eq!(states(&disabled.status), [(EAST, DelegationState::Delegated)]);
    assert_eq!(world.calls().get(DISABLE), Some(&1));
    assert_eq!(
        world.delegations(),
        BTreeMap::from([(EAST.to_owned(), SECURITY.to_owned())])
    );
    world.emulator.shutdown().await;
}

#[tokio::test]
async fn deletion_with_retain_makes_no_call() {
    let world = world().await;
    let spec = spec(&[EAST, WEST]);
    let outcome = world.sync(&spec, None, Mode::Apply).await;
    world.calls();
    world.teardown(&spec, &outcome.status).await;
    assert!(world.calls().is_empty(), "deletionPolicy: Retain calls nothing");
    assert_eq!(world.delegations().len(), 2);
    world.emulator.shutdown().await;
}

#[tokio::test]
async fn a_caller_that_is_not_the_management_account_stalls_with_the_reason() {
    let world = world().await;
    let member = emulator_access(&world.emulator.endpoint_url(), OTHER, EAST).await;
    let spec = spec(&[EAST]);
    let target = OrganizationAdminTarget {
        spec: &spec,
        previous: None,
        generation: Some(1),
    };
    let outcome = engine::sync(&member, target, Mode::Apply, Timestamp::now()).await;
    assert!(outcome.is_stalled());
    let error = outcome.error.as_ref().expect("the AWS error");
    assert!(!error.is_retryable(), "no endless fast retry: {error}");
    let stalled = stalled(&outcome);
    assert_eq!(stalled.reason, "AccessDenied");
    assert!(stalled.message.contains("management account"), "{}", stalled.message);
    // Refused at the first call, Organizations': no Region read, none recorded.
    assert!(outcome.status.regions.is_empty());
    assert_eq!(world.calls(), BTreeMap::from([(DELEGATED.to_owned(), 1)]));
    assert!(world.delegations().is_empty());
    world.emulator.shutdown().await;
}
