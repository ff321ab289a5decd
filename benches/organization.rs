//! Calls of `spec.membersFrom.organization` for an organization of 1,200 member accounts in 40
//! OUs (plus the management account), through the real SDK clients against the emulator:
//! converging from an empty graph, a resync inside the refresh interval, and chosen OUs both
//! ways: walked (Organizations without `Paths`) and from the `Paths` of the ListAccounts pages.
//! Prints the calls per operation and the wall time of each round.
//!
//! `cargo bench --bench organization -- --realistic` runs the organization flow on the
//! realistic profile instead (delegation in 3 Regions, a graph per Region with `membersFrom` +
//! `autoEnable` + `datasourcePackages`, 1,200 accounts) and prints every write it made.
//!
//! `cargo bench --bench organization -- --regions 17` reconciles the children of a
//! `DetectiveGraphSet` over 17 Regions drawing the same 1,200-account organization, all at once
//! and sharing the process's organization listings as the controller does, until every child is
//! Ready; it prints the Organizations calls per refresh next to those of the same set over 1
//! Region, the Detective calls, the time to Ready, and whether 17 Regions cost the Organizations
//! calls of 1.
//!
//! `cargo bench --bench organization [-- --realistic | --regions N]`

#[path = "../emulator/tests/fixtures/mod.rs"]
mod fixtures;
#[path = "../tests/support/mod.rs"]
mod support;

use std::collections::BTreeMap;
use std::time::Instant;

use detective_emulator::{Emulator, EmulatorConfig, OrganizationSeed, WorldConfig, WorldPatch};
use detective_operator::api::{DetectiveGraph, DetectiveGraphSpec};
use detective_operator::engine::{self, GraphTarget, Mode};
use k8s_openapi::jiff::{SignedDuration, Timestamp};

use support::emulator_access;

const MANAGEMENT: &str = "900000000000";
const ADMIN: &str = "900000000001";
const REGION: &str = "us-east-1";

fn graph(organization: serde_json::Value) -> DetectiveGraph {
    let spec: DetectiveGraphSpec = serde_json::from_value(serde_json::json!({
        "region": REGION,
        "organization": {"autoEnable": true},
        "membersFrom": {"organization": organization},
    }))
    .expect("a valid spec");
    DetectiveGraph::new("organization", spec)
}

async fn round(emulator: &Emulator, graph: &mut DetectiveGraph, label: &str, now: Timestamp) {
    let access = emulator_access(&emulator.endpoint_url(), ADMIN, REGION).await;
    emulator.reset_calls();
    let started = Instant::now();
    let outcome = engine::sync(&access, GraphTarget::of(graph), Mode::Apply, now).await;
    let took = started.elapsed();
    assert!(outcome.error.is_none(), "{:?}", outcome.error);
    graph.status = Some(outcome.status);
    let calls: BTreeMap<String, u64> = emulator.calls();
    let total: u64 = calls.values().sum();
    let members = emulator.graphs().iter().map(|g| g.members.len()).sum::<usize>();
    let enabled = graph
        .status
        .as_ref()
        .and_then(|s| s.summary.as_ref())
        .map_or(0, |s| s.enabled);
    println!(
        "  {label:<44} {:>8.1} ms, {total:>3} calls, members {members}, enabled {enabled}: {calls:?}",
        took.as_secs_f64() * 1000.0
    );
}

/// The organization flow on the realistic profile, its writes and calls.
async fn realistic_flow() {
    const ACCOUNTS: u32 = 1200;
    println!(
        "organization flow, realistic profile: delegation in {} Regions, a graph per Region with membersFrom + \
         autoEnable + datasourcePackages, {ACCOUNTS} accounts in 40 OUs",
        support::organization_flow::REGIONS.len()
    );
    let report = support::organization_flow::realistic_organization_flow(ACCOUNTS, WorldConfig::default()).await;
    println!(
        "  {} members per graph, {} reconciles of the delegation, {} of the graphs, {:.1} s",
        report.members_per_graph,
        report.admin_syncs,
        report.graph_syncs,
        report.took.as_secs_f64()
    );
    println!("  writes: {:?}", report.writes);
    println!("  every call: {:?}", report.calls);
}

/// What a set over some Regions cost, from empty to Ready and on a refresh.
struct SetFigures {
    regions: usize,
    rounds: usize,
    to_ready: std::time::Duration,
    /// Organizations and Detective calls until Ready.
    organizations: u64,
    detective: u64,
    /// Organizations and Detective calls of a refresh (every child, the interval over).
    refresh_organizations: u64,
    refresh_detective: u64,
}

/// A whole-organization set over `count` Regions on its own emulator: its children reconciled
/// together, sharing their listings, until all are Ready; then a refresh.
async fn set_in_regions(count: usize) -> SetFigures {
    use support::organization_set::{
        ADMINISTRATOR, delegated_organization, reconcile_together, regions, whole_organization_children,
    };
    let regions = regions(count);
    let emulator = delegated_organization(1200, &regions).await;
    let access = emulator_access(&emulator.endpoint_url(), ADMINISTRATOR, regions[0]).await;
    let shared = engine::SharedListings::default();
    let mut children = whole_organization_children(&regions);
    let now = Timestamp::now();
    let (mut rounds, mut to_ready, mut organizations, mut detective) = (0, std::time::Duration::ZERO, 0, 0);
    loop {
        let round = reconcile_together(&emulator, &access, &mut children, Some(&shared), now).await;
        rounds += 1;
        to_ready += round.took;
        organizations += round.organizations_calls();
        detective += round.detective_calls();
        if round.all_ready() {
            break;
        }
        assert!(rounds < 10, "not Ready after {rounds} rounds");
    }
    // The default refreshInterval (10 minutes) over.
    let later = now + SignedDuration::from_mins(11);
    let refresh = reconcile_together(&emulator, &access, &mut children, Some(&shared), later).await;
    assert!(refresh.all_ready());
    emulator.shutdown().await;
    SetFigures {
        regions: count,
        rounds,
        to_ready,
        organizations,
        detective,
        refresh_organizations: refresh.organizations_calls(),
        refresh_detective: refresh.detective_calls(),
    }
}

/// `--regions N`: the set over 1 Region, then over N.
async fn set_flow(count: usize) {
    println!(
        "DetectiveGraphSet, membersFrom.organization (whole organization, 1,200 accounts + the management account), \
         children reconciled together with one share of organization listings"
    );
    let mut figures = Vec::new();
    for regions in [1, count] {
        let set = set_in_regions(regions).await;
        println!(
            "  {:>2} Region{}: Ready in {:>7.1} ms ({} round{}), Organizations calls {} (per child {:.1}), Detective \
             calls {}; refresh: Organizations calls {}, Detective calls {}",
            set.regions,
            if set.regions == 1 { "" } else { "s" },
            set.to_ready.as_secs_f64() * 1000.0,
            set.rounds,
            if set.rounds == 1 { "" } else { "s" },
            set.organizations,
            set.organizations as f64 / set.regions as f64,
            set.detective,
            set.refresh_organizations,
            set.refresh_detective,
        );
        figures.push(set);
    }
    let (one, many) = (&figures[0], &figures[1]);
    let met = one.organizations == many.organizations && one.refresh_organizations == many.refresh_organizations;
    println!(
        "  Organizations calls for {count} Regions == for 1 Region (until Ready {} == {}, per refresh {} == {}): {}",
        many.organizations,
        one.organizations,
        many.refresh_organizations,
        one.refresh_organizations,
        if met { "MET" } else { "MISSED" }
    );
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.iter().any(|arg| arg == "--realistic") {
        realistic_flow().await;
        return;
    }
    if let Some(count) = args
        .iter()
        .position(|arg| arg == "--regions")
        .and_then(|at| args.get(at + 1))
    {
        set_flow(count.parse().expect("--regions N: a number of Regions")).await;
        return;
    }
    let emulator = Emulator::start(EmulatorConfig {
        default_account: ADMIN.into(),
        ..EmulatorConfig::default()
    })
    .await
    .expect("the emulator starts");
    let seed = OrganizationSeed::new("o-benchmark01", MANAGEMENT, 40, 1200, ADMIN);
    emulator.seed_organization(&seed);
    fixtures::delegate(&emulator.endpoint_url(), MANAGEMENT, ADMIN, REGION).await;
    let now = Timestamp::now();

    println!(
        "membersFrom.organization: 1,200 accounts in 40 OUs (+ the management account; the administrator is one of them)"
    );
    // The five top-level OUs, whose walk finds the 35 below them.
    let top: Vec<String> = (0..5).map(|i| seed.unit_id(i)).collect();
    let (whole, units, from_paths) = (0, 1, 2);
    let mut graphs = [
        graph(serde_json::json!({})),
        graph(serde_json::json!({"organizationalUnits": top})),
        graph(serde_json::json!({"organizationalUnits": top})),
    ];
    // (the graph, what the round is, minutes after the first sync)
    let rounds = [
        (whole, "whole organization: converge from empty", 0),
        (whole, "resync inside refreshInterval (5 min later)", 5),
        (whole, "refresh (11 min later), nothing to change", 11),
        (units, "5 top-level OUs (40 walked): first sync", 0),
        (units, "5 top-level OUs: resync inside the interval", 5),
        (from_paths, "5 top-level OUs from Paths (no walk): first sync", 0),
    ];
    for (graph, what, minutes) in rounds {
        if graph == from_paths {
            // Organizations answers accounts with `Paths` from here on.
            emulator.merge_world(WorldPatch {
                account_paths: Some(true),
                ..WorldPatch::default()
            });
        }
        round(
            &emulator,
            &mut graphs[graph],
            what,
            now + SignedDuration::from_mins(minutes),
        )
        .await;
    }
    emulator.shutdown().await;
}
