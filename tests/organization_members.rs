//! `spec.membersFrom.organization` and `spec.organization.autoEnable` through the engine, with
//! the real `aws-sdk-detective` and `aws-sdk-organizations` clients against the emulator: what a
//! refresh lists and calls, that a resync within the refresh interval makes no Organizations
//! call, convergence of 1,200 organization accounts, and the rules a resolved set follows
//! (exclusions, suspended accounts, moves, the quota and the deletion guard).

#[path = "../emulator/tests/fixtures/mod.rs"]
mod fixtures;
mod support;

use std::collections::BTreeMap;

use detective_emulator::{
    AccountConfig, AccountState, Emulator, EmulatorConfig, Fault, MemberStatus, OrganizationConfig, OrganizationSeed,
    OrganizationalUnitConfig, WorldPatch,
};
use detective_operator::api::{DetectiveGraph, DetectiveGraphSpec, ResolvedOrganization};
use detective_operator::engine::{self, GraphOutcome, GraphTarget, GraphWrite, Mode, Reported};
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use serde_json::json;

use support::emulator_access;
use support::organization_flow;

const REGION: &str = fixtures::REGION;
const MANAGEMENT: &str = "900000000000";
/// The delegated Detective administrator: the first account of the seeded organization.
const ADMIN: &str = "900000000001";
/// The Organizations operations; none of them may be called within the refresh interval.
const ORGANIZATIONS_CALLS: [&str; 4] = [
    "ListAccounts",
    "ListAccountsForParent",
    "ListOrganizationalUnitsForParent",
    "ListRoots",
];

/// An emulator whose caller (by default) is the administrator.
async fn emulator() -> Emulator {
    Emulator::start(EmulatorConfig {
        default_account: ADMIN.to_owned(),
        ..EmulatorConfig::default()
    })
    .await
    .expect("the emulator starts")
}

/// The management account delegates [`ADMIN`] as the Detective administrator in [`REGION`].
async fn delegate(emulator: &Emulator) {
    fixtures::delegate(&emulator.endpoint_url(), MANAGEMENT, ADMIN, REGION).await;
}

/// An emulator holding the organization of `seed`, whose administrator [`ADMIN`] is delegated.
async fn delegated_organization(seed: &OrganizationSeed) -> Emulator {
    let emulator = emulator().await;
    emulator.seed_organization(seed);
    delegate(&emulator).await;
    emulator
}

/// A spec drawing its members from `organization` (`membersFrom.organization`), with AutoEnable on,
/// and the fields of `extra` besides (or instead).
fn spec(organization: serde_json::Value, extra: serde_json::Value) -> DetectiveGraphSpec {
    organization_flow::organization_spec(REGION, organization, extra)
}

fn graph(organization: serde_json::Value, extra: serde_json::Value) -> DetectiveGraph {
    organization_flow::organization_graph("organization", REGION, organization, extra)
}

/// One sync at `now` (the previous status is the graph's); the graph keeps the new status.
async fn sync(emulator: &Emulator, graph: &mut DetectiveGraph, now: Timestamp) -> GraphOutcome {
    let access = emulator_access(&emulator.endpoint_url(), ADMIN, REGION).await;
    let outcome = engine::sync(&access, GraphTarget::of(graph), Mode::Apply, now).await;
    graph.status = Some(outcome.status.clone());
    outcome
}

/// The reason of the outcome's Stalled condition, when it is True.
fn stalled_reason(outcome: &GraphOutcome) -> Option<&str> {
    outcome
        .status
        .sync
        .conditions
        .iter()
        .find(|c| c.type_ == "Stalled" && c.status == "True")
        .map(|c| c.reason.as_str())
}

/// What the last refresh resolved (`status.organization.resolved`).
fn resolved(graph: &DetectiveGraph) -> ResolvedOrganization {
    organization_flow::resolved(graph)
}

fn count(calls: &BTreeMap<String, u64>, operation: &str) -> u64 {
    calls.get(operation).copied().unwrap_or(0)
}

fn organizations_calls(calls: &BTreeMap<String, u64>) -> u64 {
    ORGANIZATIONS_CALLS.iter().map(|op| count(calls, op)).sum()
}

fn members(emulator: &Emulator) -> BTreeMap<String, (MemberStatus, String)> {
    support::graph_of(emulator, ADMIN)
        .members
        .iter()
        .map(|m| (m.account_id.clone(), (m.status, format!("{:?}", m.invitation_type))))
        .collect()
}

fn seed(accounts: u32) -> OrganizationSeed {
    OrganizationSeed::new("o-benchmark01", MANAGEMENT, 40, accounts, ADMIN)
}

/// A graph declaring the whole organization of `accounts` seeded accounts, after its first sync at
/// the returned time.
async fn whole_organization_synced(accounts: u32) -> (Emulator, DetectiveGraph, Timestamp, GraphOutcome) {
    let emulator = delegated_organization(&seed(accounts)).await;
    let mut graph = graph(json!({}), json!({}));
    let now = Timestamp::now();
    let outcome = sync(&emulator, &mut graph, now).await;
    (emulator, graph, now, outcome)
}

#[tokio::test]
async fn twelve_hundred_organization_accounts_converge_in_one_sync_a_resync_lists_nothing_and_a_refresh_writes_nothing()
{
    let (emulator, mut graph, now, outcome) = whole_organization_synced(1200).await;
    assert!(outcome.is_ready(), "{:?}", outcome.status.sync.conditions);
    let calls = emulator.calls();
    // 1,201 accounts in the organization (1,200 seeded, the management account), less the
    // administrator: 1,200 members.
    let members = members(&emulator);
    assert_eq!(members.len(), 1200);
    assert!(
        members
            .values()
            .all(|(status, kind)| *status == MemberStatus::Enabled && kind == "Organization")
    );
    assert!(!members.contains_key(ADMIN));
    assert!(count(&calls, "CreateMembers") <= 24, "{calls:?}");
    assert_eq!(count(&calls, "ListAccounts"), 1201_u64.div_ceil(20), "{calls:?}");
    assert_eq!(count(&calls, "UpdateOrganizationConfiguration"), 1, "{calls:?}");
    let status = graph.status.as_ref().expect("a status");
    assert_eq!(status.organization.as_ref().and_then(|o| o.auto_enable), Some(true));
    let resolved = resolved(&graph);
    assert_eq!((resolved.count, resolved.units_walked), (1201, 0));
    assert_eq!(
        status.summary.as_ref().map(|s| (s.desired, s.enabled)),
        Some((1200, 1200))
    );

    // Five minutes later, inside the 10-minute refresh interval: members are read, nothing listed.
    emulator.reset_calls();
    let again = sync(&emulator, &mut graph, now + SignedDuration::from_mins(5)).await;
    assert!(again.is_ready() && again.applied.is_empty(), "{:?}", again.applied);
    let calls = emulator.calls();
    assert_eq!(organizations_calls(&calls), 0, "{calls:?}");
    assert_eq!(count(&calls, "ListMembers"), 6, "{calls:?}");
    assert_eq!(count(&calls, "DescribeOrganizationConfiguration"), 1, "{calls:?}");
    eprintln!("resync within the interval: {calls:?}");

    // Eleven minutes after the listing, past the interval: the organization is listed again
    // (docs/benchmarks.md's refresh row), and nothing changed, so nothing is written.
    emulator.reset_calls();
    let refresh = sync(&emulator, &mut graph, now + SignedDuration::from_mins(11)).await;
    assert!(
        refresh.is_ready() && refresh.applied.is_empty(),
        "{:?}",
        refresh.applied
    );
    let calls = emulator.calls();
    assert_eq!(count(&calls, "ListAccounts"), 1201_u64.div_ceil(20), "{calls:?}");
    assert_eq!(organizations_calls(&calls), count(&calls, "ListAccounts"), "{calls:?}");
    assert_eq!(count(&calls, "ListMembers"), 6, "{calls:?}");
    assert_eq!(count(&calls, "DescribeOrganizationConfiguration"), 1, "{calls:?}");
    assert_eq!(self::members(&emulator).len(), 1200, "nobody removed");
    emulator.shutdown().await;
}

#[tokio::test]
async fn a_refresh_of_forty_ous_lists_each_ou_once() {
    let seed = seed(1200);
    let emulator = delegated_organization(&seed).await;
    // The five top-level OUs: the walk finds the other 35 below them.
    let top: Vec<String> = (0..5).map(|i| seed.unit_id(i)).collect();
    let mut graph = graph(json!({"organizationalUnits": top}), json!({}));
    let outcome = sync(&emulator, &mut graph, Timestamp::now()).await;
    assert!(outcome.is_ready(), "{:?}", outcome.status.sync.conditions);
    let calls = emulator.calls();
    let resolved = resolved(&graph);
    // Every seeded account sits in an OU (the management account in the root is not selected).
    assert_eq!((resolved.count, resolved.units_walked), (1200, 40));
    assert_eq!(
        members(&emulator).len(),
        1199,
        "the administrator is not its own member"
    );
    // Each OU holds 30 accounts: 2 pages each (⌈1,200 / 20⌉ full pages + one partial page per
    // OU, exactly); the walk is one page per OU.
    let account_pages = count(&calls, "ListAccountsForParent");
    assert_eq!(account_pages, 80, "{calls:?}");
    assert_eq!(count(&calls, "ListOrganizationalUnitsForParent"), 40, "{calls:?}");
    // One ListAccounts page shows that this Organizations answers without `Paths` (the default
    // profile): then the OUs are walked (the realistic profile's Paths resolve them from the
    // ListAccounts pages alone: tests/realistic_organization_members.rs).
    assert_eq!(count(&calls, "ListAccounts"), 1, "{calls:?}");
    emulator.shutdown().await;
}

#[tokio::test]
async fn more_than_twelve_hundred_resolved_accounts_stall_with_the_count() {
    let (emulator, mut graph, now, outcome) = whole_organization_synced(1300).await;
    assert!(outcome.is_stalled());
    assert_eq!(
        stalled_reason(&outcome),
        Some("TooManyMembers"),
        "{:?}",
        outcome.status.sync.conditions
    );
    let message = outcome.error.as_ref().map(ToString::to_string).unwrap_or_default();
    assert!(
        message.contains("resolves 1301 accounts") && message.contains("1300 members"),
        "{message}"
    );
    assert_eq!(
        count(&emulator.calls(), "CreateMembers"),
        0,
        "nothing truncated, nothing applied"
    );
    // The resolution is kept: the next resync within the interval stalls again without a listing.
    emulator.reset_calls();
    let again = sync(&emulator, &mut graph, now + SignedDuration::from_mins(1)).await;
    assert!(again.is_stalled());
    assert_eq!(organizations_calls(&emulator.calls()), 0, "{:?}", emulator.calls());
    emulator.shutdown().await;
}

// ---- a small organization: OUs, a suspended account, an exclusion, moves ----

const ORGANIZATION: &str = "o-smallorg01";
const ROOT: &str = "r-smallorg01";
const UNIT_A: &str = "ou-small-0000000a";
const UNIT_A1: &str = "ou-small-000000a1";
const UNIT_B: &str = "ou-small-0000000b";

fn account(id: &str, parent: &str, state: AccountState) -> AccountConfig {
    AccountConfig {
        organization: Some(ORGANIZATION.to_owned()),
        parent_id: Some(parent.to_owned()),
        state,
        ..AccountConfig::new(id, format!("aws+{id}@example.com"))
    }
}

fn small_organization() -> WorldPatch {
    let unit = |id: &str, parent: Option<&str>| OrganizationalUnitConfig {
        id: id.to_owned(),
        name: id.to_owned(),
        parent_id: parent.map(str::to_owned),
    };
    WorldPatch {
        organizations: vec![OrganizationConfig {
            id: ORGANIZATION.to_owned(),
            management_account: MANAGEMENT.to_owned(),
            root_id: Some(ROOT.to_owned()),
            organizational_units: vec![unit(UNIT_A, None), unit(UNIT_A1, Some(UNIT_A)), unit(UNIT_B, None)],
            delegated_administrators: Vec::new(),
            // The documented quirk: a first page that is empty but carries a NextToken.
            empty_first_pages: true,
            page_size_limit: None,
        }],
        accounts: vec![
            AccountConfig {
                organization: Some(ORGANIZATION.to_owned()),
                ..AccountConfig::new(MANAGEMENT, "aws+management@example.com")
            },
            account(ADMIN, UNIT_B, AccountState::Active),
            account("100000000001", UNIT_A, AccountState::Active),
            account("100000000002", UNIT_A1, AccountState::Active),
            account("100000000003", UNIT_A1, AccountState::Active),
            account("100000000004", UNIT_A, AccountState::Active),
            account("100000000005", UNIT_A, AccountState::Suspended),
            account("100000000009", UNIT_A, AccountState::Active),
            account("200000000001", UNIT_B, AccountState::Active),
        ],
        ..WorldPatch::default()
    }
}

fn enabled(emulator: &Emulator) -> Vec<String> {
    members(emulator)
        .into_iter()
        .filter(|(_, (status, _))| *status == MemberStatus::Enabled)
        .map(|(id, _)| id)
        .collect()
}

/// The small organization with its administrator delegated, and a graph of `organization` (and
/// the `extra` spec fields) after its first sync, which must be Ready, at the returned time.
async fn small_organization_synced(
    organization: serde_json::Value,
    extra: serde_json::Value,
) -> (Emulator, DetectiveGraph, Timestamp) {
    let emulator = emulator().await;
    emulator.merge_world(small_organization());
    delegate(&emulator).await;
    let mut graph = graph(organization, extra);
    let start = Timestamp::now();
    let outcome = sync(&emulator, &mut graph, start).await;
    assert!(outcome.is_ready(), "{:?}", outcome.status.sync.conditions);
    (emulator, graph, start)
}

/// The administrator's own Detective client: someone changing the graph behind the operator's back.
fn someone(emulator: &Emulator) -> aws_sdk_detective::Client {
    fixtures::detective_client(&emulator.endpoint_url(), ADMIN, REGION)
}

/// One sync at `now`, its calls counted on their own.
async fn counted_sync(
    emulator: &Emulator,
    graph: &mut DetectiveGraph,
    now: Timestamp,
) -> (GraphOutcome, BTreeMap<String, u64>) {
    emulator.reset_calls();
    let outcome = sync(emulator, graph, now).await;
    (outcome, emulator.calls())
}

#[tokio::test]
async fn exclusions_suspended_accounts_moves_and_the_guard() {
    let (emulator, mut graph, start) = small_organization_synced(
        json!({"organizationalUnits": [UNIT_A], "excludeAccounts": ["100000000009"], "refreshInterval": "1m"}),
        json!({"deletionGuard": {"maxDeletions": 1}}),
    )
    .await;
    // A and its child A1; not the suspended account, not the excluded one, not B.
    assert_eq!(
        enabled(&emulator),
        ["100000000001", "100000000002", "100000000003", "100000000004"]
    );
    let resolved = resolved(&graph);
    assert_eq!((resolved.count, resolved.units_walked, resolved.inactive), (5, 2, 1));

    // 100000000002 moves to B; an account joins A. At the next refresh the first is removed
    // (pruning: Managed, it is in the inventory) and the second enabled.
    let mut moved = account("100000000002", UNIT_B, AccountState::Active);
    let joined = account("100000000006", UNIT_A, AccountState::Active);
    emulator.merge_world(WorldPatch {
        accounts: vec![moved.clone(), joined],
        ..WorldPatch::default()
    });
    let within = sync(&emulator, &mut graph, start + SignedDuration::from_secs(30)).await;
    assert!(
        within.applied.is_empty(),
        "nothing changes before the refresh: {:?}",
        within.applied
    );
    let refreshed = sync(&emulator, &mut graph, start + SignedDuration::from_mins(2)).await;
    assert!(refreshed.is_ready(), "{:?}", refreshed.status.sync.conditions);
    assert_eq!(
        enabled(&emulator),
        ["100000000001", "100000000003", "100000000004", "100000000006"]
    );

    // Two accounts move out at once, more than maxDeletions (1): Stalled, nothing removed.
    moved.account_id = "100000000003".to_owned();
    let also = account("100000000004", UNIT_B, AccountState::Active);
    emulator.merge_world(WorldPatch {
        accounts: vec![moved, also],
        ..WorldPatch::default()
    });
    let guarded = sync(&emulator, &mut graph, start + SignedDuration::from_mins(4)).await;
    assert_eq!(
        stalled_reason(&guarded),
        Some("DeletionGuard"),
        "{:?}",
        guarded.status.sync.conditions
    );
    assert_eq!(enabled(&emulator).len(), 4, "the guard removed nothing");
    emulator.shutdown().await;
}

/// `organization.autoEnable` is read every sync and written only when AWS differs, either way:
/// AutoEnable turned off behind the operator's back is turned on again with one
/// UpdateOrganizationConfiguration, `false` turns it off the same way, and a graph already as
/// declared is only read. Absent, it is neither read nor changed.
#[tokio::test]
async fn auto_enable_drift_is_repaired_both_ways_and_absent_leaves_it_alone() {
    let (emulator, mut graph, start) =
        small_organization_synced(json!({"organizationalUnits": [UNIT_A]}), json!({})).await;
    assert!(support::graph_of(&emulator, ADMIN).auto_enable);
    let arn = support::graph_of(&emulator, ADMIN).arn;
    // (set behind the operator's back, spec.organization.autoEnable, Describe and Update calls,
    // AutoEnable afterwards)
    let steps = [
        (Some(false), Some(true), 1, 1, true),
        (None, Some(true), 1, 0, true),
        (None, Some(false), 1, 1, false),
        (None, Some(false), 1, 0, false),
        (Some(true), Some(false), 1, 1, false),
        (Some(true), None, 0, 0, true),
    ];
    for (minute, (behind, wanted, describes, updates, after)) in (1..).zip(steps) {
        if let Some(auto_enable) = behind {
            someone(&emulator)
                .update_organization_configuration()
                .graph_arn(&arn)
                .auto_enable(auto_enable)
                .send()
                .await
                .expect("UpdateOrganizationConfiguration");
        }
        graph.spec.organization = wanted.map(|w| serde_json::from_value(json!({"autoEnable": w})).expect("a spec"));
        let step = format!("step {minute}: AutoEnable set to {behind:?}, declared {wanted:?}");
        let (outcome, calls) = counted_sync(&emulator, &mut graph, start + SignedDuration::from_mins(minute)).await;
        assert!(outcome.is_ready(), "{step}: {:?}", outcome.status.sync.conditions);
        assert_eq!(
            (
                count(&calls, "DescribeOrganizationConfiguration"),
                count(&calls, "UpdateOrganizationConfiguration")
            ),
            (describes, updates),
            "{step}: {calls:?}"
        );
        assert_eq!(support::graph_of(&emulator, ADMIN).auto_enable, after, "{step}");
        let written = outcome.applied.contains(&GraphWrite::AutoEnableSet(after));
        assert_eq!(written, updates == 1, "{step}: {:?}", outcome.applied);
        let reported = outcome.status.organization.as_ref().and_then(|o| o.auto_enable);
        assert_eq!(reported, wanted.map(|_| after), "{step}");
    }
    emulator.shutdown().await;
}

/// The organization's root in `organizationalUnits` is the whole organization: ListRoots checks
/// it, then ListAccounts lists everything (no OU walk). Another organization's root is refused
/// (reason `OrganizationalUnitNotFound`, no retry) before any account is listed, and nothing is
/// written or removed.
#[tokio::test]
async fn the_root_is_the_whole_organization_and_a_foreign_root_is_refused() {
    let (emulator, mut graph, start) =
        small_organization_synced(json!({"organizationalUnits": [ROOT]}), json!({})).await;
    let calls = emulator.calls();
    // Each listing of this organization starts with an empty page carrying a NextToken.
    assert_eq!(count(&calls, "ListRoots"), 2, "{calls:?}");
    assert!(count(&calls, "ListAccounts") >= 1, "{calls:?}");
    assert_eq!(
        count(&calls, "ListAccountsForParent") + count(&calls, "ListOrganizationalUnitsForParent"),
        0,
        "{calls:?}"
    );
    let whole = [
        "100000000001",
        "100000000002",
        "100000000003",
        "100000000004",
        "100000000009",
        "200000000001",
        MANAGEMENT,
    ];
    assert_eq!(enabled(&emulator), whole, "every ACTIVE account but the administrator");
    let resolved = resolved(&graph);
    assert_eq!((resolved.count, resolved.units_walked, resolved.inactive), (8, 0, 1));

    let foreign = "r-otherorg01";
    graph.spec = spec(json!({"organizationalUnits": [foreign]}), json!({}));
    let (refused, calls) = counted_sync(&emulator, &mut graph, start + SignedDuration::from_mins(1)).await;
    assert_eq!(
        stalled_reason(&refused),
        Some("OrganizationalUnitNotFound"),
        "{:?}",
        refused.status.sync.conditions
    );
    let error = refused.error.as_ref().expect("an error");
    assert!(!error.is_retryable(), "{error:?}");
    let message = error.to_string();
    assert!(message.contains(foreign) && message.contains(ROOT), "{message}");
    assert_eq!(count(&calls, "ListRoots"), 2, "{calls:?}");
    for never in ["ListAccounts", "CreateMembers", "DeleteMembers"] {
        assert_eq!(count(&calls, never), 0, "{never}: {calls:?}");
    }
    assert_eq!(enabled(&emulator), whole);
    emulator.shutdown().await;
}

/// A refresh whose third ListAccounts page fails (on every attempt) after two pages answered:
/// a retryable error, nothing removed and nothing created, and the previous resolution kept.
/// Once Organizations answers, the refresh goes through.
#[tokio::test]
async fn a_listing_that_fails_part_way_removes_nothing_and_keeps_the_resolved_set() {
    let emulator = delegated_organization(&seed(60)).await;
    // A guard that would let a truncated listing's removals through.
    let mut graph = graph(
        json!({"refreshInterval": "1m"}),
        json!({"deletionGuard": {"maxDeletions": 1200}}),
    );
    let start = Timestamp::now();
    let first = sync(&emulator, &mut graph, start).await;
    assert!(first.is_ready(), "{:?}", first.status.sync.conditions);
    assert_eq!(members(&emulator).len(), 60);
    let before = resolved(&graph);

    // 61 accounts: four pages. The SDK makes three attempts at the third.
    emulator.inject_fault(Fault::internal_error().on("ListAccounts").after(2).times(3));
    let (failed, calls) = counted_sync(&emulator, &mut graph, start + SignedDuration::from_mins(2)).await;
    let error = failed.error.as_ref().expect("the listing failed");
    assert_eq!(error.reason(), "OrganizationsError", "{error}");
    assert!(error.is_retryable() && !failed.is_stalled(), "{error:?}");
    assert_eq!(count(&calls, "ListAccounts"), 5, "{calls:?}");
    assert_eq!(count(&emulator.faulted_calls(), "ListAccounts"), 3);
    assert_eq!(
        count(&calls, "DeleteMembers") + count(&calls, "CreateMembers"),
        0,
        "{calls:?}"
    );
    assert_eq!(members(&emulator).len(), 60, "nothing pruned");
    assert_eq!(resolved(&graph), before, "the previous resolution is kept");

    let (recovered, calls) = counted_sync(&emulator, &mut graph, start + SignedDuration::from_mins(3)).await;
    assert!(recovered.is_ready(), "{:?}", recovered.status.sync.conditions);
    assert_eq!(count(&calls, "ListAccounts"), 4, "{calls:?}");
    assert!(resolved(&graph).refresh_time.0 > before.refresh_time.0);
    emulator.shutdown().await;
}

/// A refresh of 1,201 accounts (61 ListAccounts pages) throttled on its 10th page on every
/// attempt the SDK makes (TooManyRequestsException): a retryable `Throttled`, nothing removed,
/// nothing created, the previous resolution kept; the next refresh goes through.
#[tokio::test]
async fn a_listing_throttled_on_the_tenth_of_sixty_one_pages_prunes_nothing() {
    let (emulator, mut graph, start, first) = whole_organization_synced(1200).await;
    assert!(first.is_ready(), "{:?}", first.status.sync.conditions);
    // A guard that would let a truncated listing's removals through.
    graph.spec = spec(
        json!({"refreshInterval": "1m"}),
        json!({"deletionGuard": {"maxDeletions": 1200}}),
    );
    let before = resolved(&graph);
    let members_before = members(&emulator).len();
    // The SDK makes 3 attempts at a call (its default retries, as configured for the emulator).
    emulator.inject_fault(Fault::throttle().on("ListAccounts").after(9).times(3));
    let (throttled, calls) = counted_sync(&emulator, &mut graph, start + SignedDuration::from_mins(2)).await;
    let error = throttled.error.as_ref().expect("the listing was throttled");
    assert_eq!(error.reason(), "Throttled", "{error}");
    assert!(error.is_retryable() && !throttled.is_stalled(), "{error:?}");
    assert_eq!(count(&calls, "ListAccounts"), 12, "{calls:?}");
    assert_eq!(count(&emulator.faulted_calls(), "ListAccounts"), 3);
    assert_eq!(
        count(&calls, "DeleteMembers") + count(&calls, "CreateMembers"),
        0,
        "{calls:?}"
    );
    assert_eq!(members(&emulator).len(), members_before, "nothing pruned");
    assert_eq!(resolved(&graph), before, "the previous resolution is kept");

    let (recovered, calls) = counted_sync(&emulator, &mut graph, start + SignedDuration::from_mins(3)).await;
    assert!(recovered.is_ready(), "{:?}", recovered.status.sync.conditions);
    assert_eq!(count(&calls, "ListAccounts"), 61, "{calls:?}");
    assert_eq!(count(&calls, "DeleteMembers"), 0, "{calls:?}");
    emulator.shutdown().await;
}

/// An exclusion added between refreshes applies at once, without listing, and the excluded
/// member follows `pruning` like any undeclared member: `Managed` removes it (it is in the
/// inventory) but not an organization member someone else enabled, `Authoritative` removes both,
/// `Disabled` neither.
#[tokio::test]
async fn organization_members_follow_pruning_when_excluded_or_enabled_by_someone_else() {
    const EXCLUDED: &str = "100000000001";
    const ENABLED_ELSEWHERE: &str = "200000000001";
    let cases = [
        ("Managed", vec![ENABLED_ELSEWHERE], 1),
        ("Authoritative", vec![], 1),
        ("Disabled", vec![EXCLUDED, ENABLED_ELSEWHERE], 0),
    ];
    for (pruning, kept, deletions) in cases {
        let extra = json!({"pruning": pruning});
        let (emulator, mut graph, start) =
            small_organization_synced(json!({"organizationalUnits": [UNIT_A]}), extra.clone()).await;
        let graph_arn = support::graph_of(&emulator, ADMIN).arn;
        // An account of B enabled by hand: an organization member this resource never declared.
        fixtures::create_members(
            &someone(&emulator),
            &graph_arn,
            &[(ENABLED_ELSEWHERE, "aws+200000000001@example.com")],
        )
        .await;
        graph.spec = spec(
            json!({"organizationalUnits": [UNIT_A], "excludeAccounts": [EXCLUDED]}),
            extra,
        );
        let (outcome, calls) = counted_sync(&emulator, &mut graph, start + SignedDuration::from_mins(1)).await;
        assert!(outcome.is_ready(), "{pruning}: {:?}", outcome.status.sync.conditions);
        assert_eq!(organizations_calls(&calls), 0, "{pruning}: no listing: {calls:?}");
        assert_eq!(count(&calls, "DeleteMembers"), deletions, "{pruning}: {calls:?}");
        let mut expected = vec!["100000000002", "100000000003", "100000000004", "100000000009"];
        expected.extend(kept);
        expected.sort_unstable();
        assert_eq!(enabled(&emulator), expected, "{pruning}");
        emulator.shutdown().await;
    }
}

/// A resolved account that is no longer a member (someone removed it) makes the next sync list
/// the organization again, inside the refresh interval, for its e-mail; it is enabled again.
#[tokio::test]
async fn a_resolved_account_that_is_not_a_member_is_listed_again_and_enabled() {
    let (emulator, mut graph, start) =
        small_organization_synced(json!({"organizationalUnits": [UNIT_A]}), json!({})).await;
    let graph_arn = support::graph_of(&emulator, ADMIN).arn;
    someone(&emulator)
        .delete_members()
        .graph_arn(&graph_arn)
        .account_ids("100000000002")
        .send()
        .await
        .expect("DeleteMembers");
    let (outcome, calls) = counted_sync(&emulator, &mut graph, start + SignedDuration::from_mins(1)).await;
    assert!(outcome.is_ready(), "{:?}", outcome.status.sync.conditions);
    // Two OUs (A and A1), each an empty first page with a NextToken, then its accounts.
    assert_eq!(count(&calls, "ListAccountsForParent"), 4, "{calls:?}");
    assert_eq!(count(&calls, "CreateMembers"), 1, "{calls:?}");
    assert_eq!(
        enabled(&emulator),
        [
            "100000000001",
            "100000000002",
            "100000000003",
            "100000000004",
            "100000000009"
        ]
    );
    emulator.shutdown().await;
}

/// An entry of `members` for an account the organization also yields wins: CreateMembers sends
/// its e-mail, not the one Organizations reports, and the account is still enabled as an
/// organization account.
#[tokio::test]
async fn a_members_entry_wins_over_the_organization_email() {
    let declared = json!({"members": [{"accountId": "100000000001", "emailAddress": "security-team@example.com"}]});
    let (emulator, _graph, _) = small_organization_synced(json!({"organizationalUnits": [UNIT_A]}), declared).await;
    let emails: BTreeMap<String, (String, String)> = support::graph_of(&emulator, ADMIN)
        .members
        .into_iter()
        .map(|m| (m.account_id, (m.email_address, format!("{:?}", m.invitation_type))))
        .collect();
    let expected = |id: &str, email: &str| (id.to_owned(), (email.to_owned(), "Organization".to_owned()));
    assert_eq!(
        emails,
        BTreeMap::from([
            expected("100000000001", "security-team@example.com"),
            expected("100000000002", "aws+100000000002@example.com"),
            expected("100000000003", "aws+100000000003@example.com"),
            expected("100000000004", "aws+100000000004@example.com"),
            expected("100000000009", "aws+100000000009@example.com"),
        ])
    );
    emulator.shutdown().await;
}

#[tokio::test]
async fn a_graph_account_that_is_not_the_delegated_administrator_stalls_without_retrying() {
    let emulator = emulator().await;
    emulator.merge_world(small_organization());
    // No delegation: awaited for a while (a new one takes time to show), then Stalled.
    let mut graph = graph(json!({}), json!({}));
    let start = Timestamp::now();
    let awaited = sync(&emulator, &mut graph, start).await;
    assert!(awaited.error.as_ref().is_some_and(|e| e.is_retryable()));
    let over = start + SignedDuration::try_from(engine::DELEGATION_SHOWS_WITHIN).expect("a duration");
    let outcome = sync(&emulator, &mut graph, over).await;
    assert!(outcome.is_stalled(), "{:?}", outcome.status.sync.conditions);
    let error = outcome.error.as_ref().expect("an error");
    assert_eq!(error.reason(), "NotDelegatedAdministrator");
    assert!(!error.is_retryable());
    assert_eq!(organizations_calls(&emulator.calls()), 0);
    assert_eq!(count(&emulator.calls(), "CreateMembers"), 0);
    emulator.shutdown().await;
}

// ---- the command line ----

fn example_folder() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/organization")
}

/// What `sync --emulator -o json -f examples/organization/` prints (it must succeed).
async fn organization_demo() -> serde_json::Value {
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_detective-operator"))
        .args(["sync", "--emulator", "-o", "json", "-f"])
        .arg(example_folder())
        .env_remove("AWS_ENDPOINT_URL")
        .env_remove("AWS_ENDPOINT_URL_DETECTIVE")
        .env_remove("AWS_ENDPOINT_URL_ORGANIZATIONS")
        .output()
        .await
        .expect("the binary runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    serde_json::from_slice(&output.stdout).expect("JSON")
}

/// The demo's `admin.yaml` adopts the two Regions where the demo administrator is already
/// delegated (no Enable there) and delegates the third: `plan --emulator` of the folder says so,
/// and `sync` ends with all three delegated to the same account.
#[tokio::test]
async fn the_organization_demo_adopts_two_regions_and_delegates_the_third() {
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_detective-operator"))
        .args(["plan", "--emulator", "-f"])
        .arg(example_folder())
        .env_remove("AWS_ENDPOINT_URL")
        .env_remove("AWS_ENDPOINT_URL_DETECTIVE")
        .env_remove("AWS_ENDPOINT_URL_ORGANIZATIONS")
        .output()
        .await
        .expect("the binary runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let admin: Vec<&str> = stdout
        .lines()
        .skip_while(|line| !line.starts_with("DetectiveOrganizationAdmin"))
        .collect();
    assert_eq!(
        admin[1..],
        [
            "  = us-east-1: keep (administrator now: 123456789012)",
            "  = eu-west-1: keep (administrator now: 123456789012)",
            "  + ap-southeast-2: enable (administrator now: none): EnableOrganizationAdminAccount",
            "Plan: 1 Regions to delegate, 0 to disable, 0 administered by another account.",
        ],
        "{stdout}"
    );

    let list = organization_demo().await;
    let admin = list["items"]
        .as_array()
        .expect("a List")
        .iter()
        .find(|item| item["kind"] == "DetectiveOrganizationAdmin")
        .expect("admin.yaml in the output");
    let regions: Vec<(&str, &str, &str)> = admin["status"]["regions"]
        .as_array()
        .expect("status.regions")
        .iter()
        .map(|r| {
            (
                r["region"].as_str().unwrap_or_default(),
                r["state"].as_str().unwrap_or_default(),
                r["administratorAccountId"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        regions,
        ["us-east-1", "eu-west-1", "ap-southeast-2"].map(|region| (region, "Delegated", "123456789012")),
        "{}",
        admin["status"]
    );
}

/// `sync --emulator -f examples/organization/` (a `DetectiveOrganizationAdmin` and one
/// `DetectiveGraphSet` over two Regions): the demo organization enabled in both Regions,
/// without the suspended account, the excluded one or the OUs not listed.
#[tokio::test]
async fn the_organization_demo_enables_the_chosen_accounts_in_two_regions() {
    let list = organization_demo().await;
    let graphs: Vec<&serde_json::Value> = list["items"]
        .as_array()
        .expect("a List")
        .iter()
        .filter(|item| item["kind"] == "DetectiveGraph")
        .collect();
    // The set's graphs, in the order its Regions are declared.
    let regions: Vec<&str> = graphs.iter().filter_map(|g| g["spec"]["region"].as_str()).collect();
    assert_eq!(regions, ["us-east-1", "eu-west-1"]);
    for graph in graphs {
        let status = &graph["status"];
        let members: Vec<(&str, &str, &str)> = status["members"]
            .as_array()
            .expect("members")
            .iter()
            .map(|m| {
                (
                    m["accountId"].as_str().unwrap_or_default(),
                    m["status"].as_str().unwrap_or_default(),
                    m["invitationType"].as_str().unwrap_or_default(),
                )
            })
            .collect();
        assert_eq!(
            members,
            [
                "610000000001",
                "610000000002",
                "620000000001",
                "630000000001",
                "640000000001"
            ]
            .map(|id| (id, "ENABLED", "ORGANIZATION")),
            "{status}"
        );
        assert_eq!(status["organization"]["autoEnable"], true, "{status}");
        assert_eq!(status["organization"]["resolved"]["inactive"], 1, "{status}");
        let ready = status["conditions"]
            .as_array()
            .expect("conditions")
            .iter()
            .any(|c| c["type"] == "Ready" && c["status"] == "True");
        assert!(ready, "{status}");
    }
}

/// Malformed organization fields are refused by `plan` before any call, each named.
#[tokio::test]
async fn plan_refuses_malformed_organization_fields_before_any_call() {
    let emulator = fixtures::start_emulator().await;
    let file = tempfile::NamedTempFile::with_suffix(".yaml").expect("a temporary file");
    std::fs::write(
        file.path(),
        r#"apiVersion: detective.operator.dev/v1alpha1
kind: DetectiveGraph
metadata: {name: bad, namespace: security}
spec:
  region: us-east-1
  membersFrom:
    organization:
      organizationalUnits: ["ou-12", "r-abcd", "r-abcd"]
      excludeAccounts: ["12345"]
      externalId: lonely-external-id
      refreshInterval: ten minutes
"#,
    )
    .expect("written");
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_detective-operator"))
        .args(["plan", "--endpoint-url", &emulator.endpoint_url(), "-f"])
        .arg(file.path())
        .env("AWS_ACCESS_KEY_ID", ADMIN)
        .env("AWS_SECRET_ACCESS_KEY", "emulator-secret")
        .env("AWS_REGION", REGION)
        .output()
        .await
        .expect("the binary runs");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    for field in [
        "spec.membersFrom.organization.organizationalUnits[0]",
        "spec.membersFrom.organization.organizationalUnits[2]: duplicate",
        "spec.membersFrom.organization.excludeAccounts[0]",
        "spec.membersFrom.organization.externalId: is only used together with assumeRoleArn",
        "spec.membersFrom.organization.refreshInterval",
    ] {
        assert!(stderr.contains(field), "{field} not named in: {stderr}");
    }
    assert!(emulator.calls().is_empty(), "{:?}", emulator.calls());
    emulator.shutdown().await;
}

/// `--endpoint-url` redirects Detective only; Organizations follows the SDK's own
/// `AWS_ENDPOINT_URL_ORGANIZATIONS`.
#[tokio::test]
async fn organizations_calls_follow_aws_endpoint_url_organizations() {
    let emulator = emulator().await;
    emulator.merge_world(small_organization());
    delegate(&emulator).await;
    let file = tempfile::NamedTempFile::with_suffix(".yaml").expect("a temporary file");
    let manifest = serde_json::to_string(&graph(json!({"organizationalUnits": [UNIT_A]}), json!({}))).expect("JSON");
    std::fs::write(file.path(), manifest).expect("written");
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_detective-operator"))
        .args(["plan", "--endpoint-url", &emulator.endpoint_url(), "-f"])
        .arg(file.path())
        .env_remove("AWS_ENDPOINT_URL")
        .env_remove("AWS_ENDPOINT_URL_DETECTIVE")
        .env("AWS_ENDPOINT_URL_ORGANIZATIONS", emulator.endpoint_url())
        .env("AWS_ACCESS_KEY_ID", ADMIN)
        .env("AWS_SECRET_ACCESS_KEY", "emulator-secret")
        .env("AWS_REGION", REGION)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .output()
        .await
        .expect("the binary runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(
        stdout.contains("membersFrom.organization: 5 ACTIVE accounts in 2 roots and OUs"),
        "{stdout}"
    );
    let calls = emulator.calls();
    // Two OUs (A and A1), each an empty first page with a NextToken, then its accounts.
    assert_eq!(count(&calls, "ListAccountsForParent"), 4, "{calls:?}");
    assert_eq!(count(&calls, "CreateMembers"), 0, "plan writes nothing: {calls:?}");
    emulator.shutdown().await;
}

/// Without autoEnable, a graph account that may not list the organization is Stalled with the
/// way out in the message, and nothing is written.
#[tokio::test]
async fn an_account_that_may_not_list_the_organization_stalls_with_the_way_out() {
    let emulator = emulator().await;
    emulator.merge_world(small_organization());
    let mut graph = graph(json!({}), json!({"organization": {}}));
    let outcome = sync(&emulator, &mut graph, Timestamp::now()).await;
    assert!(outcome.is_stalled(), "{:?}", outcome.status.sync.conditions);
    let error = outcome.error.as_ref().expect("an error");
    assert_eq!(error.reason(), "OrganizationAccessDenied");
    assert!(error.to_string().contains("assumeRoleArn"), "{error}");
    // Terminal: the controller requeues it at resyncInterval instead of retrying with backoff.
    assert!(!error.is_retryable(), "{error:?}");
    assert_eq!(count(&emulator.calls(), "CreateMembers"), 0);
    emulator.shutdown().await;
}

/// Organization members' ingest states in the graph's status: an account whose volume is too
/// high joins as ACCEPTED_BUT_DISABLED, names every package in its `notIngesting`, and is not
/// counted in any package's `ingestingMembers`; the ENABLED organization members are.
#[tokio::test]
async fn organization_members_ingest_states_show_in_the_status() {
    const TOO_BIG: &str = "100000000004";
    let emulator = emulator().await;
    let mut world = small_organization();
    for account in &mut world.accounts {
        account.volume_too_high = account.account_id == TOO_BIG;
    }
    emulator.merge_world(world);
    delegate(&emulator).await;
    let mut graph = graph(
        json!({"organizationalUnits": [UNIT_A]}),
        json!({"datasourcePackages": ["EKS_AUDIT"]}),
    );
    let outcome = sync(&emulator, &mut graph, Timestamp::now()).await;
    assert!(outcome.error.is_none(), "{:?}", outcome.error);
    let status = &outcome.status;
    let members = self::members(&emulator);
    assert_eq!(
        members.get(TOO_BIG).map(|m| m.0),
        Some(MemberStatus::AcceptedButDisabled)
    );
    // The ACTIVE accounts of UNIT_A and below (the SUSPENDED one is not declared), less TOO_BIG.
    let ingesting = ["100000000001", "100000000002", "100000000003", "100000000009"];
    for entry in &status.members {
        if entry.account_id == TOO_BIG {
            assert!(
                ["DETECTIVE_CORE", "EKS_AUDIT"]
                    .iter()
                    .all(|p| entry.not_ingesting.iter().any(|n| n == p)),
                "{entry:?}"
            );
        } else {
            assert!(ingesting.contains(&entry.account_id.as_str()), "{entry:?}");
            assert!(entry.not_ingesting.is_empty(), "{entry:?}");
        }
    }
    assert_eq!(status.members.len(), ingesting.len() + 1, "{:?}", status.members);
    for package in ["DETECTIVE_CORE", "EKS_AUDIT"] {
        let entry = status
            .datasource_packages
            .iter()
            .find(|p| p.package == package)
            .unwrap_or_else(|| panic!("{package}: {:?}", status.datasource_packages));
        assert_eq!(entry.ingesting_members, ingesting.len() as i32, "{entry:?}");
    }
    emulator.shutdown().await;
}
