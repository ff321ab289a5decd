//! One organization listing for every Region: the graphs of one process asking the same
//! `membersFrom.organization` question as the same reader share one listing per
//! `refreshInterval` (`SharedListings`), with the real `aws-sdk-detective`,
//! `aws-sdk-organizations` and STS clients against the emulator. A 1,200-account organization
//! costs the same Organizations calls per refresh in 17 Regions as in 1; readers that differ
//! (the operator's own identity, a role, the same role with another external id) each list.

mod support;

use detective_emulator::Emulator;
use detective_operator::api::{DetectiveGraph, ResolvedOrganization};
use detective_operator::engine::SharedListings;
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use serde_json::json;

use support::emulator_access;
use support::organization_flow::{organization_graph, resolved};
use support::organization_set::{
    ADMINISTRATOR, MANAGEMENT, Round, delegated_organization, reconcile_one_by_one, reconcile_together, regions,
    whole_organization_children,
};

const ACCOUNTS: u32 = 1200;
/// The ListAccounts pages of the whole organization: ⌈(1,200 accounts + the management
/// account) / 20⌉.
const PAGES: u64 = 61;
/// The default `refreshInterval` is 10 minutes.
const RESYNC: SignedDuration = SignedDuration::from_mins(5);
const REFRESH: SignedDuration = SignedDuration::from_mins(11);

/// The children of a whole-organization set over `count` Regions on their own emulator, after
/// their first round together (with one share), and that round.
async fn set_converged(count: usize, shared: &SharedListings) -> (Emulator, Vec<DetectiveGraph>, Round, Timestamp) {
    let regions = regions(count);
    let emulator = delegated_organization(ACCOUNTS, &regions).await;
    let access = emulator_access(&emulator.endpoint_url(), ADMINISTRATOR, regions[0]).await;
    let mut children = whole_organization_children(&regions);
    let now = Timestamp::now();
    let round = reconcile_together(&emulator, &access, &mut children, Some(shared), now).await;
    assert!(
        round.all_ready(),
        "{:?}",
        round
            .outcomes
            .iter()
            .map(|o| &o.status.sync.conditions)
            .collect::<Vec<_>>()
    );
    (emulator, children, round, now)
}

fn all_resolved(children: &[DetectiveGraph]) -> Vec<ResolvedOrganization> {
    children.iter().map(resolved).collect()
}

#[tokio::test]
async fn seventeen_regions_make_the_organizations_calls_of_one_region_per_refresh() {
    let mut calls_per_refresh = Vec::new();
    for count in [1, 17] {
        let shared = SharedListings::default();
        let (emulator, mut children, first, now) = set_converged(count, &shared).await;
        // Every child converged from its own listing: all the organization but the administrator.
        let members: Vec<i32> = first
            .outcomes
            .iter()
            .map(|o| o.status.summary.as_ref().map_or(0, |s| s.enabled))
            .collect();
        assert_eq!(members, vec![1200; count]);
        // Each child recorded the resolved set in its own status, with the time of the one listing.
        let resolved = all_resolved(&children);
        assert!(
            resolved.iter().all(|r| r.count == 1201 && r.refresh_time.0 == now),
            "{resolved:?}"
        );

        let access = emulator_access(&emulator.endpoint_url(), ADMINISTRATOR, "us-east-1").await;
        let resync = reconcile_together(&emulator, &access, &mut children, Some(&shared), now + RESYNC).await;
        assert_eq!(
            resync.organizations_calls(),
            0,
            "{count} Regions, inside the interval: {:?}",
            resync.calls
        );
        // The refresh one child after the other: the first lists, the others take its listing.
        let refresh = reconcile_one_by_one(&emulator, &access, &mut children, &shared, now + REFRESH).await;
        assert!(refresh.all_ready());
        assert!(
            all_resolved(&children)
                .iter()
                .all(|r| r.refresh_time.0 == now + REFRESH)
        );

        for round in [&first, &refresh] {
            assert_eq!(round.count("ListAccounts"), PAGES, "{count} Regions: {:?}", round.calls);
            assert_eq!(round.organizations_calls(), PAGES, "{count} Regions: {:?}", round.calls);
        }
        calls_per_refresh.push((first.organizations_calls(), refresh.organizations_calls()));
        emulator.shutdown().await;
    }
    assert_eq!(calls_per_refresh[0], calls_per_refresh[1], "1 Region, then 17");
}

#[tokio::test]
async fn a_listing_is_shared_by_the_same_reader_only() {
    const SMALL: u32 = 120;
    // ⌈(120 + 1) / 20⌉
    const SMALL_PAGES: u64 = 7;
    let regions = regions(5);
    let emulator = delegated_organization(SMALL, &regions).await;
    let access = emulator_access(&emulator.endpoint_url(), ADMINISTRATOR, regions[0]).await;
    let reader = format!("arn:aws:iam::{MANAGEMENT}:role/OrganizationReader");
    let readers = [
        json!({}),
        json!({"assumeRoleArn": reader}),
        json!({"assumeRoleArn": reader, "externalId": "reader-two"}),
        // The operator's own identity again, and the role again: they share.
        json!({}),
        json!({"assumeRoleArn": reader}),
    ];
    let mut graphs: Vec<DetectiveGraph> = regions
        .iter()
        .zip(readers)
        .map(|(region, organization)| {
            organization_graph(&format!("organization-{region}"), region, organization, json!({}))
        })
        .collect();
    let shared = SharedListings::default();
    let round = reconcile_together(&emulator, &access, &mut graphs, Some(&shared), Timestamp::now()).await;
    assert!(
        round.all_ready(),
        "{:?}",
        round.outcomes.iter().map(|o| &o.error).collect::<Vec<_>>()
    );
    assert!(all_resolved(&graphs).iter().all(|r| r.count == SMALL as i32 + 1));
    // Three readers, three listings; each role assumed.
    assert_eq!(round.count("ListAccounts"), 3 * SMALL_PAGES, "{:?}", round.calls);
    assert!(round.count("AssumeRole") >= 2, "{:?}", round.calls);
    emulator.shutdown().await;
}

/// `plan -f` of a set reads the organization once for all its Regions, as `sync -f` and the
/// controller do.
#[tokio::test]
async fn plan_of_a_set_lists_the_organization_once_for_every_region() {
    const SMALL: u32 = 120;
    // ⌈(120 + 1) / 20⌉
    const SMALL_PAGES: u64 = 7;
    let regions = regions(3);
    let emulator = delegated_organization(SMALL, &regions).await;
    emulator.reset_calls();
    let file = tempfile::NamedTempFile::with_suffix(".yaml").expect("a temporary file");
    let set = support::organization_set::graph_set(&regions, json!({}));
    std::fs::write(file.path(), serde_json::to_string(&set).expect("JSON")).expect("written");
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_detective-operator"))
        .args(["plan", "--endpoint-url", &emulator.endpoint_url(), "-f"])
        .arg(file.path())
        .env("AWS_ENDPOINT_URL_ORGANIZATIONS", emulator.endpoint_url())
        .env("AWS_ACCESS_KEY_ID", ADMINISTRATOR)
        .env("AWS_SECRET_ACCESS_KEY", "emulator-secret")
        .env("AWS_REGION", regions[0])
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .output()
        .await
        .expect("the binary runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    for region in &regions {
        assert!(
            stdout.contains(&format!("organization-{region}")),
            "{region} planned: {stdout}"
        );
    }
    let calls = emulator.calls();
    assert_eq!(
        calls.get("ListAccounts").copied().unwrap_or(0),
        SMALL_PAGES,
        "one listing for {} Regions: {calls:?}",
        regions.len()
    );
    emulator.shutdown().await;
}
