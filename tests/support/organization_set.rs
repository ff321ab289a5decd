//! A `DetectiveGraphSet` drawing every account of an organization (`membersFrom.organization`)
//! in many Regions, its children reconciled through the engine the way the controller runs them:
//! all at once, sharing the process's organization listings. With the real SDK clients against
//! the emulator, each round counted by operation. Shared by `tests/shared_organization_listing.rs`
//! and `cargo bench --bench organization -- --regions N`.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use detective_emulator::{Emulator, EmulatorConfig, OrganizationSeed};
use detective_operator::api::{
    DetectiveGraph, DetectiveGraphSet, DetectiveGraphSetSpec, DetectiveOrganizationAdminSpec,
};
use detective_operator::aws::AwsAccess;
use detective_operator::aws::regions::DETECTIVE_REGIONS;
use detective_operator::engine::graph_set::children::child_graphs;
use detective_operator::engine::{
    self, GraphOutcome, GraphTarget, Mode, OrganizationAdminTarget, Reported, SharedListings,
};
use k8s_openapi::jiff::Timestamp;

use super::emulator_access;

pub const MANAGEMENT: &str = "950000000000";
/// The delegated Detective administrator in every Region: the first account of the organization.
pub const ADMINISTRATOR: &str = "950000000001";
/// The Organizations operations the operator calls.
pub const ORGANIZATIONS_OPERATIONS: [&str; 6] = [
    "DescribeOrganization",
    "ListAccounts",
    "ListAccountsForParent",
    "ListDelegatedAdministrators",
    "ListOrganizationalUnitsForParent",
    "ListRoots",
];
/// The STS operations the operator calls.
pub const STS_OPERATIONS: [&str; 1] = ["AssumeRole"];

/// The first `count` Regions of the `aws` partition Detective is in (GovCloud's are another
/// partition: another organization).
pub fn regions(count: usize) -> Vec<&'static str> {
    let commercial: Vec<&str> = DETECTIVE_REGIONS
        .into_iter()
        .filter(|region| !region.starts_with("us-gov-"))
        .collect();
    assert!(count <= commercial.len(), "at most {} Regions", commercial.len());
    commercial.into_iter().take(count).collect()
}

/// An emulator holding an organization of `accounts` member accounts (and its management
/// account) in 40 OUs, whose first account is the delegated Detective administrator in each of
/// `regions`.
pub async fn delegated_organization(accounts: u32, regions: &[&str]) -> Emulator {
    let emulator = Emulator::start(EmulatorConfig {
        default_account: ADMINISTRATOR.to_owned(),
        ..EmulatorConfig::default()
    })
    .await
    .expect("the emulator starts");
    emulator.seed_organization(&OrganizationSeed::new(
        "o-graphset0001",
        MANAGEMENT,
        40,
        accounts,
        ADMINISTRATOR,
    ));
    delegate(&emulator, regions).await;
    emulator
}

/// The management account delegates [`ADMINISTRATOR`] in `regions`, as a
/// `DetectiveOrganizationAdmin` through the engine.
async fn delegate(emulator: &Emulator, regions: &[&str]) {
    let spec: DetectiveOrganizationAdminSpec =
        serde_json::from_value(serde_json::json!({"accountId": ADMINISTRATOR, "regions": regions}))
            .expect("a valid spec");
    let management = emulator_access(&emulator.endpoint_url(), MANAGEMENT, regions[0]).await;
    let mut previous = None;
    for _ in 0..5 {
        let target = OrganizationAdminTarget {
            spec: &spec,
            previous: previous.as_ref(),
            generation: Some(1),
        };
        let outcome = engine::sync(&management, target, Mode::Apply, Timestamp::now()).await;
        if outcome.is_ready() {
            return;
        }
        previous = Some(outcome.status);
    }
    panic!("the administrator was not delegated in {regions:?}: {previous:?}");
}

/// The set `organization` in the namespace `security` over `regions`, whose template draws its
/// members from `organization` (`membersFrom.organization`) with AutoEnable on.
pub fn graph_set(regions: &[&str], organization: serde_json::Value) -> DetectiveGraphSet {
    let spec: DetectiveGraphSetSpec = serde_json::from_value(serde_json::json!({
        "regions": regions,
        "template": {"spec": {
            "organization": {"autoEnable": true},
            "membersFrom": {"organization": organization},
        }},
    }))
    .expect("a valid set");
    let mut set = DetectiveGraphSet::new("organization", spec);
    set.metadata.namespace = Some("security".to_owned());
    set
}

/// The children of a set drawing the whole organization in `regions`, as the set's controller
/// writes them.
pub fn whole_organization_children(regions: &[&str]) -> Vec<DetectiveGraph> {
    child_graphs(&graph_set(regions, serde_json::json!({})))
}

/// What one round of reconciles did.
#[derive(Debug)]
pub struct Round {
    /// Every AWS call of the round, by operation.
    pub calls: BTreeMap<String, u64>,
    pub outcomes: Vec<GraphOutcome>,
    pub took: Duration,
}

impl Round {
    pub fn count(&self, operation: &str) -> u64 {
        self.calls.get(operation).copied().unwrap_or(0)
    }

    /// The round's AWS Organizations calls.
    pub fn organizations_calls(&self) -> u64 {
        ORGANIZATIONS_OPERATIONS.iter().map(|op| self.count(op)).sum()
    }

    /// The round's Detective calls (every call but Organizations' and STS').
    pub fn detective_calls(&self) -> u64 {
        let sts: u64 = STS_OPERATIONS.iter().map(|op| self.count(op)).sum();
        self.calls.values().sum::<u64>() - self.organizations_calls() - sts
    }

    pub fn all_ready(&self) -> bool {
        self.outcomes.iter().all(Reported::is_ready)
    }
}

/// One reconcile of each of `graphs` at `now`, all at once, sharing `shared` when given (the
/// controller's reconciles of a set's children); each graph keeps its new status. The calls are
/// this round's.
pub async fn reconcile_together(
    emulator: &Emulator,
    access: &AwsAccess,
    graphs: &mut [DetectiveGraph],
    shared: Option<&SharedListings>,
    now: Timestamp,
) -> Round {
    emulator.reset_calls();
    let started = Instant::now();
    let outcomes = futures::future::join_all(graphs.iter().map(|graph| {
        let target = GraphTarget::of(graph);
        let target = match shared {
            Some(shared) => target.with_shared_listings(shared),
            None => target,
        };
        engine::sync(access, target, Mode::Apply, now)
    }))
    .await;
    let took = started.elapsed();
    for (graph, outcome) in graphs.iter_mut().zip(&outcomes) {
        graph.status = Some(outcome.status.clone());
    }
    Round {
        calls: emulator.calls(),
        outcomes,
        took,
    }
}

/// Like [`reconcile_together`], one graph after the other (reconciles of the same set a moment
/// apart).
pub async fn reconcile_one_by_one(
    emulator: &Emulator,
    access: &AwsAccess,
    graphs: &mut [DetectiveGraph],
    shared: &SharedListings,
    now: Timestamp,
) -> Round {
    emulator.reset_calls();
    let started = Instant::now();
    let mut outcomes = Vec::new();
    for graph in graphs.iter_mut() {
        let outcome = engine::sync(
            access,
            GraphTarget::of(graph).with_shared_listings(shared),
            Mode::Apply,
            now,
        )
        .await;
        graph.status = Some(outcome.status.clone());
        outcomes.push(outcome);
    }
    Round {
        calls: emulator.calls(),
        outcomes,
        took: started.elapsed(),
    }
}
