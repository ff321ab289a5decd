//! A `DetectiveOrganizationAdmin` whose Regions drift (one added, one removed with
//! `regionRemoval: Disable`): the Regions a sync would enable and disable are reported, not
//! changed, until `Manage`; another account as the organization's administrator is reported as
//! what a sync would be refused.

use std::collections::BTreeMap;

use detective_emulator::{Emulator, OrganizationSeed};
use detective_operator::api::conditions::{IN_SYNC, READY, STALLED};
use detective_operator::api::{
    DelegationRemoval, DelegationState, DetectiveOrganizationAdmin, DetectiveOrganizationAdminSpec,
    DetectiveOrganizationAdminStatus, ManagementPolicy,
};
use detective_operator::aws::AwsAccess;
use detective_operator::engine::{self, Mode, OrganizationAdminOutcome, OrganizationAdminTarget};
use k8s_openapi::jiff::Timestamp;

use super::support::{delegations, emulator_access};
use super::{actions, condition, fixtures, write_calls, writes};

const MANAGEMENT: &str = "900000000000";
const SECURITY: &str = "900000000001";
const OTHER: &str = "900000000002";
const EAST: &str = "us-east-1";
const WEST: &str = "eu-west-1";
const SYDNEY: &str = "ap-southeast-2";

async fn organization() -> (Emulator, AwsAccess) {
    let emulator = fixtures::start_emulator().await;
    emulator.seed_organization(&OrganizationSeed::new("o-observe0001", MANAGEMENT, 2, 4, SECURITY));
    let management = emulator_access(&emulator.endpoint_url(), MANAGEMENT, EAST).await;
    (emulator, management)
}

fn spec(account: &str, regions: &[&str], policy: ManagementPolicy) -> DetectiveOrganizationAdminSpec {
    DetectiveOrganizationAdminSpec {
        management_policy: policy,
        region_removal: DelegationRemoval::Disable,
        deletion_policy: DelegationRemoval::Disable,
        ..serde_json::from_value(serde_json::json!({"accountId": account, "regions": regions})).expect("a spec")
    }
}

fn resource(
    spec: &DetectiveOrganizationAdminSpec,
    previous: Option<&DetectiveOrganizationAdminStatus>,
) -> DetectiveOrganizationAdmin {
    let mut admin = DetectiveOrganizationAdmin::new("organization", spec.clone());
    admin.status = previous.cloned();
    admin
}

async fn sync(
    management: &AwsAccess,
    spec: &DetectiveOrganizationAdminSpec,
    previous: Option<&DetectiveOrganizationAdminStatus>,
) -> OrganizationAdminOutcome {
    let admin = resource(spec, previous);
    let outcome = engine::sync(
        management,
        OrganizationAdminTarget::of(&admin),
        Mode::Apply,
        Timestamp::now(),
    )
    .await;
    assert!(outcome.error.is_none(), "{:?}", outcome.error);
    outcome
}

fn region_map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(r, a)| ((*r).to_owned(), (*a).to_owned())).collect()
}

#[tokio::test]
async fn observe_reports_the_regions_to_enable_and_disable_and_manage_changes_exactly_those() {
    let (emulator, management) = organization().await;
    let managed = sync(
        &management,
        &spec(SECURITY, &[EAST, WEST], ManagementPolicy::Manage),
        None,
    )
    .await;
    assert_eq!(
        delegations(&emulator),
        region_map(&[(EAST, SECURITY), (WEST, SECURITY)])
    );
    emulator.reset_calls();

    // Drift: Sydney added, eu-west-1 removed (regionRemoval: Disable), under Observe.
    let observed_spec = spec(SECURITY, &[EAST, SYDNEY], ManagementPolicy::Observe);
    let observed = sync(&management, &observed_spec, Some(&managed.status)).await;
    assert_eq!(writes(&emulator), Vec::<String>::new(), "Observe makes no AWS write");
    let status = &observed.status;
    let pending = status.pending_changes.as_ref().expect("status.pendingChanges");
    assert_eq!(
        actions(pending),
        vec![("enable", 1, vec![SYDNEY]), ("disable", 1, vec![WEST])]
    );
    assert_eq!(pending.refused, None);
    assert_eq!(condition(&status.sync, READY), ("True".into(), "Observed".into()));
    assert_eq!(
        condition(&status.sync, IN_SYNC),
        ("False".into(), "ChangesPending".into())
    );
    let states: Vec<(&str, DelegationState)> = status.regions.iter().map(|e| (e.region.as_str(), e.state)).collect();
    assert_eq!(
        states,
        [
            (EAST, DelegationState::Delegated),
            (SYDNEY, DelegationState::Pending),
            (WEST, DelegationState::Disabling)
        ]
    );
    assert!(
        status.regions.iter().all(|e| e.enable_time.is_none()),
        "nothing enabled"
    );

    // A resync reads again; deleting the resource (deletionPolicy: Disable) disables nothing.
    let again = sync(&management, &observed_spec, Some(status)).await;
    assert_eq!(again.status.pending_changes, status.pending_changes);
    let deleted = resource(&observed_spec, Some(&again.status));
    engine::teardown(&management, OrganizationAdminTarget::of(&deleted))
        .await
        .expect("nothing to do");
    assert_eq!(
        writes(&emulator),
        Vec::<String>::new(),
        "no write at a resync nor on deletion"
    );
    assert_eq!(
        delegations(&emulator),
        region_map(&[(EAST, SECURITY), (WEST, SECURITY)])
    );

    // Manage: exactly the plan, once each.
    let manage_spec = spec(SECURITY, &[EAST, SYDNEY], ManagementPolicy::Manage);
    let applied = sync(&management, &manage_spec, Some(&again.status)).await;
    assert_eq!(
        write_calls(&emulator),
        BTreeMap::from([
            ("DisableOrganizationAdminAccount".to_owned(), 1),
            ("EnableOrganizationAdminAccount".to_owned(), 1),
        ])
    );
    assert_eq!(
        delegations(&emulator),
        region_map(&[(EAST, SECURITY), (SYDNEY, SECURITY)])
    );
    assert_eq!(applied.status.pending_changes, None, "Manage publishes no plan");
    assert_eq!(
        condition(&applied.status.sync, IN_SYNC),
        ("True".into(), "InSync".into())
    );
    emulator.reset_calls();
    let resync = sync(&management, &manage_spec, Some(&applied.status)).await;
    assert_eq!(
        condition(&resync.status.sync, IN_SYNC),
        ("True".into(), "InSync".into())
    );
    assert_eq!(writes(&emulator), Vec::<String>::new());
    emulator.shutdown().await;
}

#[tokio::test]
async fn another_administrator_is_what_an_observed_sync_would_be_refused() {
    let (emulator, management) = organization().await;
    sync(&management, &spec(SECURITY, &[EAST], ManagementPolicy::Manage), None).await;
    emulator.reset_calls();

    let observed = sync(
        &management,
        &spec(OTHER, &[EAST, WEST], ManagementPolicy::Observe),
        None,
    )
    .await;
    assert_eq!(writes(&emulator), Vec::<String>::new());
    let status = &observed.status;
    let pending = status.pending_changes.as_ref().expect("status.pendingChanges");
    assert_eq!(
        actions(pending),
        Vec::new(),
        "nothing is enabled over another administrator"
    );
    let refused = pending.refused.as_deref().expect("the refusal");
    assert!(
        refused.contains(SECURITY) && refused.contains(EAST) && refused.contains(WEST),
        "{refused}"
    );
    assert_eq!(condition(&status.sync, READY), ("True".into(), "Observed".into()));
    assert_eq!(
        condition(&status.sync, IN_SYNC),
        ("False".into(), "ChangesPending".into())
    );

    // Managed, the same conflict stalls, and InSync still says AWS does not match.
    let managed = sync(
        &management,
        &spec(OTHER, &[EAST, WEST], ManagementPolicy::Manage),
        Some(status),
    )
    .await;
    assert_eq!(
        condition(&managed.status.sync, STALLED),
        ("True".into(), "AdministratorConflict".into())
    );
    assert_eq!(condition(&managed.status.sync, IN_SYNC).0, "False");
    assert_eq!(writes(&emulator), Vec::<String>::new());
    emulator.shutdown().await;
}
