//! `spec.membersFrom.organization` in the emulator's realistic profile, through the engine with
//! the real `aws-sdk-detective` and `aws-sdk-organizations` clients: organization accounts being
//! verified are pending (Reconciling, looked at again soon) and never created twice; only ACTIVE
//! accounts are declared, read from `State` alone (the profile omits `Status`), and CLOSED or
//! PENDING_CLOSURE ones follow `pruning`; chosen OUs are resolved from the `Paths` of the
//! ListAccounts pages alone, with the OU walk when Organizations answers without them; an account
//! moved into a chosen OU is added once, when the Organizations listings show it (after
//! `propagationDelay`), and a closed member removed while Organizations still lists it CLOSED is
//! never added again; and the whole organization flow in 3 Regions makes exactly the writes it
//! needs.

#[path = "../emulator/tests/fixtures/mod.rs"]
mod fixtures;
mod support;

use std::collections::BTreeMap;

use detective_emulator::{
    AccountState, Emulator, MemberStatus, OrganizationSeed, REALISTIC_PROPAGATION_DELAY, WorldConfig, WorldPatch,
};
use detective_operator::api::{DetectiveGraph, ResolvedOrganization};
use detective_operator::engine::{self, GraphOutcome, GraphTarget, Mode, Reported, SHORT_REQUEUE};
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use serde_json::json;

use support::emulator_access;
use support::organization_flow::{self, REGIONS};

const REGION: &str = "us-east-1";
const MANAGEMENT: &str = "950000000000";
/// The delegated Detective administrator: the first account of the seeded organization.
const ADMIN: &str = "950000000001";
/// The realistic `verificationDelay`.
const VERIFICATION: std::time::Duration = std::time::Duration::from_secs(2);

fn seed(accounts: u32) -> OrganizationSeed {
    OrganizationSeed::new("o-realmember1", MANAGEMENT, 40, accounts, ADMIN)
}

/// A realistic emulator (with `world`'s own settings besides) holding the organization of
/// `seed`, whose administrator ADMIN is delegated and shown.
async fn delegated(seed: &OrganizationSeed, world: WorldConfig) -> Emulator {
    let emulator = organization_flow::realistic_emulator(ADMIN, world, seed).await;
    fixtures::delegate(&emulator.endpoint_url(), MANAGEMENT, ADMIN, REGION).await;
    emulator.advance_clock(REALISTIC_PROPAGATION_DELAY);
    emulator
}

/// Organizations without its rate limit: the tests that count Organizations calls count the
/// operator's, not the SDK's retries of throttled ones.
fn unthrottled() -> WorldConfig {
    WorldConfig {
        organizations_rate_limit: Some(0),
        ..WorldConfig::default()
    }
}

fn graph(organization: serde_json::Value, extra: serde_json::Value) -> DetectiveGraph {
    organization_flow::organization_graph("organization", REGION, organization, extra)
}

/// One sync at `now`, its calls counted on their own; the graph keeps the new status.
async fn sync(
    emulator: &Emulator,
    graph: &mut DetectiveGraph,
    now: Timestamp,
) -> (GraphOutcome, BTreeMap<String, u64>) {
    emulator.reset_calls();
    let access = emulator_access(&emulator.endpoint_url(), ADMIN, REGION).await;
    let outcome = engine::sync(&access, GraphTarget::of(graph), Mode::Apply, now).await;
    graph.status = Some(outcome.status.clone());
    (outcome, emulator.calls())
}

fn count(calls: &BTreeMap<String, u64>, operation: &str) -> u64 {
    calls.get(operation).copied().unwrap_or(0)
}

/// The writes among `calls`, by operation (those made only).
fn writes(calls: &BTreeMap<String, u64>) -> BTreeMap<&'static str, u64> {
    organization_flow::WRITES
        .iter()
        .map(|write| (*write, count(calls, write)))
        .filter(|(_, n)| *n > 0)
        .collect()
}

fn condition(outcome: &GraphOutcome, type_: &str) -> (String, String, String) {
    let found = outcome
        .status
        .sync
        .conditions
        .iter()
        .find(|c| c.type_ == type_ && c.status == "True")
        .unwrap_or_else(|| panic!("no {type_} condition: {:?}", outcome.status.sync.conditions));
    (found.type_.clone(), found.reason.clone(), found.message.clone())
}

fn members(emulator: &Emulator) -> BTreeMap<String, MemberStatus> {
    support::graph_of(emulator, ADMIN)
        .members
        .iter()
        .map(|m| (m.account_id.clone(), m.status))
        .collect()
}

fn resolved(graph: &DetectiveGraph) -> ResolvedOrganization {
    organization_flow::resolved(graph)
}

#[tokio::test]
async fn organization_accounts_being_verified_are_pending_and_created_once() {
    let emulator = delegated(&seed(120), WorldConfig::default()).await;
    let mut graph = graph(json!({}), json!({}));
    let start = Timestamp::now();
    let (created, calls) = sync(&emulator, &mut graph, start).await;
    assert!(created.error.is_none(), "{:?}", created.error);
    // 121 accounts but the administrator: 120 members, in ⌈120 / 50⌉ calls.
    assert_eq!(count(&calls, "CreateMembers"), 3, "{calls:?}");
    let (_, reason, message) = condition(&created, "Reconciling");
    assert_eq!(reason, "Progressing");
    assert!(message.contains("120 being verified"), "{message}");
    assert!(!created.is_ready() && !created.is_stalled());
    assert!(created.requeue_after <= SHORT_REQUEUE, "{:?}", created.requeue_after);
    assert!(
        members(&emulator)
            .values()
            .all(|s| *s == MemberStatus::VerificationInProgress)
    );

    // Looked at again while they are verified: nothing written again.
    let (waiting, calls) = sync(&emulator, &mut graph, start + SignedDuration::from_secs(1)).await;
    assert!(!waiting.is_ready() && waiting.requeue_after <= SHORT_REQUEUE);
    assert_eq!(
        count(&calls, "CreateMembers") + count(&calls, "DeleteMembers"),
        0,
        "{calls:?}"
    );

    emulator.advance_clock(VERIFICATION);
    let (ready, calls) = sync(&emulator, &mut graph, start + SignedDuration::from_secs(3)).await;
    assert!(ready.is_ready(), "{:?}", ready.status.sync.conditions);
    assert_eq!(
        count(&calls, "CreateMembers") + count(&calls, "DeleteMembers"),
        0,
        "{calls:?}"
    );
    assert!(members(&emulator).values().all(|s| *s == MemberStatus::Enabled));
    let snapshot = support::graph_of(&emulator, ADMIN);
    assert!(
        snapshot.create_members_requests.values().all(|n| *n == 1),
        "every account named by one CreateMembers"
    );
    emulator.shutdown().await;
}

/// A realistic emulator (with `world`'s settings besides) holding 6 accounts, and the graph of
/// the whole organization refreshed every minute under `pruning`, Ready with every account a
/// verified member; and when the graph was first synced.
async fn ready_graph(pruning: &str, world: WorldConfig) -> (Emulator, DetectiveGraph, Timestamp) {
    let emulator = delegated(&seed(6), world).await;
    let mut graph = graph(json!({"refreshInterval": "1m"}), json!({"pruning": pruning}));
    let start = Timestamp::now();
    sync(&emulator, &mut graph, start).await;
    emulator.advance_clock(VERIFICATION);
    let (ready, _) = sync(&emulator, &mut graph, start + SignedDuration::from_secs(3)).await;
    assert!(ready.is_ready(), "{pruning}: {:?}", ready.status.sync.conditions);
    (emulator, graph, start)
}

/// Accounts leaving (PENDING_CLOSURE, CLOSED) are read from `State` alone (the realistic profile
/// answers no `Status`): they are no longer declared and follow `pruning`.
#[tokio::test]
async fn closed_and_closing_accounts_are_undeclared_and_follow_pruning() {
    let closed = "950000000003";
    let closing = "950000000004";
    for (pruning, removed) in [("Managed", true), ("Disabled", false)] {
        let (emulator, mut graph, start) = ready_graph(pruning, WorldConfig::default()).await;
        assert_eq!(members(&emulator).len(), 6, "{pruning}");
        assert_eq!(resolved(&graph).inactive, 0);

        let mut world = emulator.world();
        for account in world.accounts.iter_mut() {
            match account.account_id.as_str() {
                id if id == closed => account.state = AccountState::Closed,
                id if id == closing => account.state = AccountState::PendingClosure,
                _ => continue,
            }
        }
        emulator.merge_world(WorldPatch {
            accounts: world.accounts,
            ..WorldPatch::default()
        });
        // At the refresh, before Detective itself removes the closed account.
        let (refreshed, calls) = sync(&emulator, &mut graph, start + SignedDuration::from_mins(2)).await;
        assert!(
            refreshed.is_ready(),
            "{pruning}: {:?}",
            refreshed.status.sync.conditions
        );
        let resolved = resolved(&graph);
        assert_eq!((resolved.count, resolved.inactive), (5, 2), "{pruning}");
        assert!(!resolved.accounts.iter().any(|a| a == closed || a == closing));
        assert_eq!(
            count(&calls, "DeleteMembers"),
            u64::from(removed),
            "{pruning}: {calls:?}"
        );
        assert_eq!(count(&calls, "CreateMembers"), 0, "{pruning}: {calls:?}");
        let left = members(&emulator);
        assert_eq!(left.contains_key(closed), !removed, "{pruning}");
        assert_eq!(left.contains_key(closing), !removed, "{pruning}");
        emulator.shutdown().await;
    }
}

/// Five top-level OUs (40 OUs with the 35 below them) of 120 accounts: from the `Paths` of the
/// ListAccounts pages alone (⌈121 / 20⌉ = 7 calls, no OU walk), and without `Paths` from the walk
/// (one ListAccounts page to see there are none, then for each of the 40 OUs its one
/// ListAccountsForParent and one ListOrganizationalUnitsForParent page). Both find the same
/// accounts. An OU no account is under costs one call to tell it exists; one that does not
/// exist is refused.
#[tokio::test]
async fn chosen_ous_are_resolved_from_paths_alone_and_walked_without_them() {
    let seed = seed(120);
    let top: Vec<String> = (0..5).map(|i| seed.unit_id(i)).collect();
    let mut found = Vec::new();
    for (paths, list_accounts, for_parent, units_for_parent) in [(true, 7, 0, 0), (false, 1, 40, 40)] {
        let emulator = delegated(
            &seed,
            WorldConfig {
                account_paths: Some(paths),
                ..unthrottled()
            },
        )
        .await;
        let mut graph = graph(json!({"organizationalUnits": top}), json!({}));
        let (outcome, calls) = sync(&emulator, &mut graph, Timestamp::now()).await;
        assert!(outcome.error.is_none(), "paths {paths}: {:?}", outcome.error);
        let listed = (
            count(&calls, "ListAccounts"),
            count(&calls, "ListAccountsForParent"),
            count(&calls, "ListOrganizationalUnitsForParent"),
        );
        assert_eq!(
            listed,
            (list_accounts, for_parent, units_for_parent),
            "paths {paths}: {calls:?}"
        );
        let resolved = resolved(&graph);
        assert_eq!(resolved.count, 120, "paths {paths}");
        found.push(resolved.accounts);
        emulator.shutdown().await;
    }
    assert_eq!(found[0], found[1], "the same accounts either way");

    let emulator = delegated(&seed, unthrottled()).await;
    // A seeded OU holds 3 accounts; an id of this organization that is no OU of it.
    let unknown = "ou-real-99999999";
    let mut graph = graph(json!({"organizationalUnits": [unknown]}), json!({}));
    let (refused, calls) = sync(&emulator, &mut graph, Timestamp::now()).await;
    assert_eq!(condition(&refused, "Stalled").1, "OrganizationalUnitNotFound");
    assert_eq!(count(&calls, "ListOrganizationalUnitsForParent"), 1, "{calls:?}");
    assert_eq!(count(&calls, "CreateMembers"), 0, "{calls:?}");
    emulator.shutdown().await;
}

/// The organization flow in 3 Regions, 120 accounts: one Enable per Region, one
/// UpdateOrganizationConfiguration per graph, ⌈members / 50⌉ CreateMembers per graph, no
/// DeleteMembers and nothing else written (new graphs already ingest the packages asked for).
/// The benchmark runs the same flow on 1,200 accounts (`cargo bench --bench organization -- --realistic`).
#[tokio::test]
async fn the_realistic_organization_flow_writes_only_what_it_needs() {
    let report = organization_flow::realistic_organization_flow(120, WorldConfig::default()).await;
    assert_eq!(report.members_per_graph, 120);
    let regions = REGIONS.len() as u64;
    let mut expected: BTreeMap<String, u64> = organization_flow::WRITES.iter().map(|w| ((*w).to_owned(), 0)).collect();
    expected.insert("EnableOrganizationAdminAccount".to_owned(), regions);
    expected.insert("UpdateOrganizationConfiguration".to_owned(), regions);
    expected.insert("CreateMembers".to_owned(), regions * 120u64.div_ceil(50));
    assert_eq!(report.writes, expected, "{:?}", report.calls);
}

/// An account moved into the chosen OU: the refresh right after the move still reads the old
/// placement (the Organizations listings lag by `propagationDelay`) and changes nothing; the
/// refresh after the lag adds it with one CreateMembers; while it is verified the graph is
/// Reconciling, then Ready, and later refreshes write nothing.
#[tokio::test]
async fn an_account_moved_into_a_chosen_ou_is_added_once_when_the_listing_shows_it() {
    let seed = seed(6);
    // The accounts sit one per OU: 950000000002 in the chosen OU, 950000000003 in the next.
    let (chosen, elsewhere) = (seed.unit_id(1), seed.unit_id(2));
    let (member, moved) = ("950000000002", "950000000003");
    let emulator = delegated(&seed, unthrottled()).await;
    let mut graph = graph(
        json!({"organizationalUnits": [chosen], "refreshInterval": "1m"}),
        json!({}),
    );
    let start = Timestamp::now();
    sync(&emulator, &mut graph, start).await;
    emulator.advance_clock(VERIFICATION);
    let (ready, _) = sync(&emulator, &mut graph, start + SignedDuration::from_secs(3)).await;
    assert!(ready.is_ready(), "{:?}", ready.status.sync.conditions);
    assert_eq!(members(&emulator).keys().collect::<Vec<_>>(), [member]);
    assert_eq!(
        emulator
            .world()
            .accounts
            .iter()
            .find(|a| a.account_id == moved)
            .and_then(|a| a.parent_id.clone()),
        Some(elsewhere)
    );

    // Two minutes on, as for the operator (the AutoEnable it set has long read back), the move.
    emulator.advance_clock(std::time::Duration::from_secs(120));
    fixtures::change_account(&emulator, moved, |account| account.parent_id = Some(chosen.clone())).await;
    // The refresh right after the move: Organizations still lists the account where it was.
    let (unchanged, calls) = sync(&emulator, &mut graph, start + SignedDuration::from_mins(2)).await;
    assert!(count(&calls, "ListAccounts") > 0, "refreshed: {calls:?}");
    assert!(unchanged.is_ready(), "{:?}", unchanged.status.sync.conditions);
    assert_eq!(resolved(&graph).accounts, [member]);
    assert_eq!(writes(&calls), BTreeMap::new(), "{calls:?}");

    // The refresh after the lag: added once, pending while it is verified.
    emulator.advance_clock(REALISTIC_PROPAGATION_DELAY);
    let (adding, calls) = sync(&emulator, &mut graph, start + SignedDuration::from_mins(4)).await;
    assert_eq!(resolved(&graph).accounts, [member, moved]);
    assert_eq!(writes(&calls), BTreeMap::from([("CreateMembers", 1)]), "{calls:?}");
    assert_eq!(condition(&adding, "Reconciling").1, "Progressing");
    assert!(!adding.is_stalled() && adding.requeue_after <= SHORT_REQUEUE);
    emulator.advance_clock(VERIFICATION);
    let (ready, calls) = sync(
        &emulator,
        &mut graph,
        start + SignedDuration::from_mins(4) + SignedDuration::from_secs(3),
    )
    .await;
    assert!(ready.is_ready(), "{:?}", ready.status.sync.conditions);
    assert_eq!(writes(&calls), BTreeMap::new(), "{calls:?}");
    let (refreshed, calls) = sync(&emulator, &mut graph, start + SignedDuration::from_mins(6)).await;
    assert!(refreshed.is_ready(), "{:?}", refreshed.status.sync.conditions);
    assert_eq!(writes(&calls), BTreeMap::new(), "{calls:?}");
    assert_eq!(
        members(&emulator),
        BTreeMap::from([
            (member.to_owned(), MemberStatus::Enabled),
            (moved.to_owned(), MemberStatus::Enabled)
        ])
    );
    let snapshot = support::graph_of(&emulator, ADMIN);
    assert_eq!(
        snapshot.create_members_requests.get(moved),
        Some(&1),
        "named by one CreateMembers"
    );
    emulator.shutdown().await;
}

/// A closed member account leaves the graph (by the operator under `pruning: Managed`, by
/// Detective after `propagationDelay` either way) while Organizations keeps listing it CLOSED
/// for 90 days: no refresh adds it again, during those days or after them.
#[tokio::test]
async fn a_closed_member_removed_while_still_listed_closed_is_never_added_again() {
    let closed = "950000000003";
    for pruning in ["Managed", "Disabled"] {
        let (emulator, mut graph, start) = ready_graph(pruning, unthrottled()).await;

        fixtures::change_account(&emulator, closed, |account| account.state = AccountState::Closed).await;
        sync(&emulator, &mut graph, start + SignedDuration::from_mins(2)).await;
        emulator.advance_clock(REALISTIC_PROPAGATION_DELAY);
        assert!(!members(&emulator).contains_key(closed), "{pruning}: removed");
        let listed = fixtures::organizations_client(&emulator.endpoint_url(), MANAGEMENT)
            .describe_account()
            .account_id(closed)
            .send()
            .await
            .expect("still listed");
        assert_eq!(
            listed.account().and_then(|a| a.state()).map(|s| s.as_str()),
            Some("CLOSED"),
            "{pruning}"
        );
        let mut at = start + SignedDuration::from_mins(4);
        let mut inactive = Vec::new();
        for (when, days) in [("while listed CLOSED", 0), ("once no longer listed", 90)] {
            emulator.advance_clock(std::time::Duration::from_secs(days * 24 * 3600));
            at += SignedDuration::from_hours(i64::try_from(days * 24).expect("hours"));
            let (outcome, calls) = sync(&emulator, &mut graph, at).await;
            assert!(
                outcome.is_ready(),
                "{pruning}, {when}: {:?}",
                outcome.status.sync.conditions
            );
            assert!(
                count(&calls, "ListAccounts") > 0,
                "{pruning}, {when}: refreshed: {calls:?}"
            );
            assert_eq!(writes(&calls), BTreeMap::new(), "{pruning}, {when}: {calls:?}");
            assert!(!members(&emulator).contains_key(closed), "{pruning}, {when}");
            let resolved = resolved(&graph);
            assert!(!resolved.accounts.iter().any(|a| a == closed), "{pruning}, {when}");
            inactive.push((resolved.count, resolved.inactive));
            at += SignedDuration::from_mins(2);
        }
        // 6 ACTIVE accounts of 7; the closed one inactive, then not listed at all.
        assert_eq!(inactive, [(6, 1), (6, 0)], "{pruning}");
        emulator.shutdown().await;
    }
}
