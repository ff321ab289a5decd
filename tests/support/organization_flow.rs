//! The organization flow on the emulator's realistic profile, driven through the engine with the
//! real SDK clients, every write counted: the management account delegates an account as the
//! Detective administrator in 3 Regions (`DetectiveOrganizationAdmin`), and that account keeps a
//! graph in each Region drawing every account of the organization (`membersFrom` + `autoEnable` +
//! `datasourcePackages`). Propagation and verification delays are crossed by moving the emulator
//! clock between reconciles, as the controller's short requeues would. Shared by
//! `tests/realistic_organization_members.rs` (120 accounts, in CI) and
//! `cargo bench --bench organization -- --realistic` (1,200 accounts).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use detective_emulator::{Emulator, EmulatorConfig, OrganizationSeed, WorldConfig};
use detective_operator::api::{
    DelegationState, DetectiveGraph, DetectiveGraphSpec, DetectiveOrganizationAdminSpec, ResolvedOrganization,
};
use detective_operator::engine::{self, GraphTarget, Mode, OrganizationAdminTarget, Reported};
use k8s_openapi::jiff::{SignedDuration, Timestamp};

use super::emulator_access;

pub const MANAGEMENT: &str = "940000000000";
/// The delegated administrator: the first account of the seeded organization.
pub const ADMINISTRATOR: &str = "940000000001";
pub const REGIONS: [&str; 3] = ["us-east-1", "eu-west-1", "ap-southeast-2"];
/// The Detective operations that change something.
pub const WRITES: [&str; 13] = [
    "AcceptInvitation",
    "CreateGraph",
    "CreateMembers",
    "DeleteGraph",
    "DeleteMembers",
    "DisableOrganizationAdminAccount",
    "EnableOrganizationAdminAccount",
    "StartMonitoringMember",
    "TagResource",
    "UntagResource",
    "UpdateDatasourcePackages",
    "UpdateOrganizationConfiguration",
    "DisassociateMembership",
];
/// How many reconciles of each resource the flow allows before it gives up.
const MAX_SYNCS: usize = 20;
/// How far the emulator clock moves between two reconciles.
const STEP: Duration = Duration::from_secs(1);

/// What one run of the flow did.
#[derive(Debug)]
pub struct FlowReport {
    /// Member accounts of the graph in each Region (the organization's accounts but the
    /// administrator).
    pub members_per_graph: usize,
    /// Writes, by operation (every operation of [`WRITES`], zero included).
    pub writes: BTreeMap<String, u64>,
    /// Every AWS call, by operation.
    pub calls: BTreeMap<String, u64>,
    /// Reconciles until the delegation, and then every graph, was Ready.
    pub admin_syncs: usize,
    pub graph_syncs: usize,
    pub took: Duration,
}

/// Moves the emulator clock and the reconciles' time one [`STEP`] on.
fn tick(emulator: &Emulator, now: &mut Timestamp) {
    emulator.advance_clock(STEP);
    *now += SignedDuration::try_from(STEP).expect("a duration");
}

/// A spec in `region` drawing its members from `organization` (`membersFrom.organization`), with
/// AutoEnable on, and the fields of `extra` besides (or instead).
pub fn organization_spec(
    region: &str,
    organization: serde_json::Value,
    extra: serde_json::Value,
) -> DetectiveGraphSpec {
    let mut spec = serde_json::json!({
        "region": region,
        "organization": {"autoEnable": true},
        "membersFrom": {"organization": organization},
    });
    if let (Some(spec), Some(extra)) = (spec.as_object_mut(), extra.as_object()) {
        spec.extend(extra.clone());
    }
    serde_json::from_value(spec).expect("a valid spec")
}

/// The `DetectiveGraph` `name` in the namespace `security` with [`organization_spec`].
pub fn organization_graph(
    name: &str,
    region: &str,
    organization: serde_json::Value,
    extra: serde_json::Value,
) -> DetectiveGraph {
    let mut graph = DetectiveGraph::new(name, organization_spec(region, organization, extra));
    graph.metadata.namespace = Some("security".to_owned());
    graph
}

/// What the graph's last refresh resolved (`status.organization.resolved`).
pub fn resolved(graph: &DetectiveGraph) -> ResolvedOrganization {
    graph
        .status
        .as_ref()
        .and_then(|s| s.organization.as_ref())
        .and_then(|o| o.resolved.clone())
        .expect("status.organization.resolved")
}

/// An in-process emulator on the realistic profile (with `world`'s own settings besides) whose
/// unsigned callers act as `default_account`, holding the organization of `seed`.
pub async fn realistic_emulator(default_account: &str, world: WorldConfig, seed: &OrganizationSeed) -> Emulator {
    let emulator = Emulator::start(EmulatorConfig {
        default_account: default_account.to_owned(),
        world: WorldConfig {
            realistic: true,
            ..world
        },
        ..EmulatorConfig::default()
    })
    .await
    .expect("the emulator starts");
    emulator.seed_organization(seed);
    emulator
}

/// Runs the flow for an organization of `accounts` member accounts (plus its management
/// account) in 40 OUs, on a realistic emulator with `world`'s own settings besides.
pub async fn realistic_organization_flow(accounts: u32, world: WorldConfig) -> FlowReport {
    let seed = OrganizationSeed::new("o-realflow001", MANAGEMENT, 40, accounts, ADMINISTRATOR);
    let emulator = realistic_emulator(ADMINISTRATOR, world, &seed).await;
    let started = Instant::now();
    let mut now = Timestamp::now();

    let spec: DetectiveOrganizationAdminSpec =
        serde_json::from_value(serde_json::json!({"accountId": ADMINISTRATOR, "regions": REGIONS})).expect("a spec");
    let management = emulator_access(&emulator.endpoint_url(), MANAGEMENT, REGIONS[0]).await;
    let mut previous = None;
    let mut admin_syncs = 0;
    loop {
        admin_syncs += 1;
        let target = OrganizationAdminTarget {
            spec: &spec,
            previous: previous.as_ref(),
            generation: Some(1),
        };
        let outcome = engine::sync(&management, target, Mode::Apply, now).await;
        assert!(!outcome.is_stalled(), "{:?}", outcome.status.sync.conditions);
        let delegated = outcome
            .status
            .regions
            .iter()
            .all(|r| r.state == DelegationState::Delegated);
        previous = Some(outcome.status);
        if delegated {
            break;
        }
        assert!(admin_syncs < MAX_SYNCS, "never delegated: {previous:?}");
        tick(&emulator, &mut now);
    }

    let mut graph_syncs = 0;
    for region in REGIONS {
        let access = emulator_access(&emulator.endpoint_url(), ADMINISTRATOR, region).await;
        let packages = serde_json::json!({"datasourcePackages": ["EKS_AUDIT", "ASFF_SECURITYHUB_FINDING"]});
        let mut graph = organization_graph(
            &format!("organization-{region}"),
            region,
            serde_json::json!({}),
            packages,
        );
        loop {
            graph_syncs += 1;
            let outcome = engine::sync(&access, GraphTarget::of(&graph), Mode::Apply, now).await;
            assert!(!outcome.is_stalled(), "{region}: {:?}", outcome.status.sync.conditions);
            let ready = outcome.is_ready();
            graph.status = Some(outcome.status);
            if ready {
                break;
            }
            assert!(
                graph_syncs < MAX_SYNCS * REGIONS.len(),
                "{region}: never Ready: {:?}",
                graph.status
            );
            tick(&emulator, &mut now);
        }
    }
    // Whatever still propagates (AutoEnable) shows.
    tick(&emulator, &mut now);
    let graphs = emulator.graphs();
    assert_eq!(graphs.len(), REGIONS.len());
    let members_per_graph = graphs[0].members.len();
    for graph in &graphs {
        assert!(graph.auto_enable, "{}: AutoEnable", graph.region);
        assert_eq!(graph.members.len(), members_per_graph);
        assert!(
            graph
                .members
                .iter()
                .all(|m| m.status == detective_emulator::MemberStatus::Enabled),
            "{}: every member ENABLED",
            graph.region
        );
    }
    let calls = emulator.calls();
    let writes = WRITES
        .iter()
        .map(|write| ((*write).to_owned(), calls.get(*write).copied().unwrap_or(0)))
        .collect();
    emulator.shutdown().await;
    FlowReport {
        members_per_graph,
        writes,
        calls,
        admin_syncs,
        graph_syncs,
        took: started.elapsed(),
    }
}
