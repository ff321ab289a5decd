//! What the operator's integration tests and benchmarks share beyond the emulator's fixtures
//! (emulator/tests/fixtures): the operator's own AWS access to an emulator, its binary in a clean
//! AWS environment ([`binary`]), its metrics read back as a scrape reads them ([`metrics`]), and
//! the organization flows ([`organization_flow`], [`organization_set`]). Test code only: the
//! library exports none of it.
//!
//! Include with `mod support;` from a test of tests/, and with
//! `#[path = "../tests/support/mod.rs"] mod support;` from a benchmark.

// Each test binary uses a different subset.
#![allow(dead_code)]

pub mod binary;
pub mod faulted_graph;
pub mod metrics;
pub mod organization_flow;
pub mod organization_set;

use detective_operator::api::DetectiveGraphSpec;
use detective_operator::aws::{AwsAccess, StandIn};
use detective_operator::engine::{self, GraphOutcome, GraphTarget, Mode};
use k8s_openapi::jiff::Timestamp;

/// The operator's AWS access (Detective, Organizations, and STS for role assumption) to the
/// emulator at `endpoint_url`, as `account_id` (the emulator takes the access key id for the
/// caller), in `region`.
pub async fn emulator_access(endpoint_url: &str, account_id: &str, region: &str) -> AwsAccess {
    AwsAccess::stand_in(&StandIn {
        endpoint_url,
        region,
        access_key_id: account_id,
        session_token: None,
    })
    .await
}

/// Like [`emulator_access`], as a session of `role` in `account_id` (the credentials an operator
/// running as that role has, as IRSA gives them).
pub async fn emulator_access_as_role(endpoint_url: &str, account_id: &str, role: &str, region: &str) -> AwsAccess {
    let token = detective_emulator::session_token(account_id, role, "detective-operator");
    AwsAccess::stand_in(&StandIn {
        endpoint_url,
        region,
        access_key_id: account_id,
        session_token: Some(&token),
    })
    .await
}

/// The first reconcile of a new graph declaring `spec` (generation 1, no status yet), applied
/// through `access` now.
pub async fn apply_new_graph(access: &AwsAccess, spec: &DetectiveGraphSpec) -> GraphOutcome {
    engine::sync(
        access,
        GraphTarget::new(spec, None, Some(1)),
        Mode::Apply,
        Timestamp::now(),
    )
    .await
}

/// The behavior graph of `administrator` as the emulator holds it.
pub fn graph_of(emulator: &detective_emulator::Emulator, administrator: &str) -> detective_emulator::GraphSnapshot {
    emulator
        .graphs()
        .into_iter()
        .find(|g| g.administrator_id == administrator)
        .unwrap_or_else(|| panic!("no graph of {administrator}"))
}

/// Writes into `dir` an identity policy allowing `sts:AssumeRole` on `role_arn`: the grant a
/// test gives the operator's role to reach a role the examples do not name on its side.
pub fn assume_role_grant(dir: &std::path::Path, role_arn: &str) -> std::path::PathBuf {
    let path = dir.join("assume-role-grant.json");
    let grant = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": role_arn}],
    });
    std::fs::write(&path, grant.to_string()).expect("the grant written");
    path
}

/// The AWS write calls the emulator answered, each with how many times: every Detective write
/// (and the Organizations writes the operator could make) starts with one of these verbs.
pub fn write_calls(emulator: &detective_emulator::Emulator) -> std::collections::BTreeMap<String, u64> {
    const WRITES: [&str; 11] = [
        "Create",
        "Delete",
        "Tag",
        "Untag",
        "Update",
        "StartMonitoring",
        "Accept",
        "Reject",
        "Disassociate",
        "Enable",
        "Disable",
    ];
    emulator
        .calls()
        .into_iter()
        .filter(|(call, _)| WRITES.iter().any(|verb| call.starts_with(verb)))
        .collect()
}

/// Region → the organization's Detective administrator, as the emulator holds them.
pub fn delegations(emulator: &detective_emulator::Emulator) -> std::collections::BTreeMap<String, String> {
    emulator
        .graphs()
        .into_iter()
        .filter(|g| g.organization.is_some())
        .map(|g| (g.region, g.administrator_id))
        .collect()
}

/// An emulator whose `administrator` has a graph in `region` created in January 2022, before
/// Detective started the optional packages by default (only DETECTIVE_CORE is started), and
/// whose `accepting` accounts accept an invitation at once. Returns the graph's ARN with it.
pub async fn legacy_graph_emulator(
    administrator: &str,
    region: &str,
    accepting: &[&str],
) -> (detective_emulator::Emulator, String) {
    use detective_emulator::{AccountConfig, Emulator, EmulatorConfig, WorldConfig};
    let accounts = accepting
        .iter()
        .map(|id| AccountConfig {
            auto_accept_after_ms: Some(0),
            ..AccountConfig::new(*id, "")
        })
        .collect();
    let emulator = Emulator::start(EmulatorConfig {
        default_account: administrator.into(),
        world: WorldConfig {
            accounts,
            ..WorldConfig::default()
        },
        ..EmulatorConfig::default()
    })
    .await
    .expect("the emulator starts");
    let graph = emulator.create_graph_at(administrator, region, "2022-01-01T00:00:00Z".parse().expect("a time"));
    (emulator, graph)
}
