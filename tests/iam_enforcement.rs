//! The operator under the emulator's IAM enforcement (`enforceIam`), with the very files of
//! `examples/iam/` attached to its roles: the operator runs as the role `detective-operator` of
//! the administrator account (as IRSA would give it), reaches the member's
//! `DetectiveInvitationAccepter` through the SDK's real STS credential provider, and that
//! role's trust policy checks the operator's role and the external id.

#[path = "../emulator/tests/fixtures/mod.rs"]
mod fixtures;
mod support;

use std::path::PathBuf;

use detective_emulator::{AccountConfig, MemberStatus, RoleConfig, WorldConfig};
use detective_operator::api::DetectiveGraphSpec;
use detective_operator::engine::{self, GraphOutcome, GraphTarget, Mode, Reported};
use k8s_openapi::jiff::Timestamp;

use support::emulator_access_as_role;

/// The administrator account and the roles the example policies name.
const ADMINISTRATOR: &str = "111122223333";
const OPERATOR_ROLE: &str = "detective-operator";
const ACCEPT_ROLE: &str = "DetectiveInvitationAccepter";
const EXTERNAL_ID: &str = "detective-operator-7f3c9a";
const MEMBER: &str = "444455556666";
const REGION: &str = "us-east-1";

fn example(file: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("examples/iam")
        .join(file)
}

/// The operator's role carries `operator_policies`; the member's accept role carries the
/// example accept policy and trust policy.
fn world(operator_policies: Vec<PathBuf>) -> WorldConfig {
    let mut administrator = AccountConfig::new(ADMINISTRATOR, "");
    administrator.roles = Some(vec![RoleConfig {
        name: OPERATOR_ROLE.into(),
        policy_files: operator_policies,
        ..RoleConfig::default()
    }]);
    let mut member = AccountConfig::new(MEMBER, "");
    member.roles = Some(vec![RoleConfig {
        name: ACCEPT_ROLE.into(),
        policy_files: vec![example("member-accept-role-policy.json")],
        trust_policy_file: Some(example("member-accept-role-trust-policy.json")),
        ..RoleConfig::default()
    }]);
    WorldConfig {
        accounts: vec![administrator, member],
        enforce_iam: true,
        ..WorldConfig::default()
    }
}

fn spec(external_id: &str) -> DetectiveGraphSpec {
    serde_json::from_value(serde_json::json!({
        "region": REGION,
        "tags": {"team": "security"},
        "members": [{"accountId": MEMBER, "emailAddress": "member@example.com"}],
        "acceptInvitations": {"roleName": ACCEPT_ROLE, "externalId": external_id},
    }))
    .expect("a valid spec")
}

async fn sync(world: WorldConfig, spec: &DetectiveGraphSpec) -> (detective_emulator::Emulator, GraphOutcome) {
    let emulator = fixtures::start_emulator_with(world).await;
    let access = emulator_access_as_role(&emulator.endpoint_url(), ADMINISTRATOR, OPERATOR_ROLE, REGION).await;
    let outcome = engine::sync(
        &access,
        GraphTarget::new(spec, None, Some(1)),
        Mode::Apply,
        Timestamp::now(),
    )
    .await;
    (emulator, outcome)
}

#[tokio::test]
async fn the_example_policies_let_the_operator_converge_and_accept_as_the_member() {
    let policies = vec![
        example("administrator-policy.json"),
        example("assume-accept-role-policy.json"),
    ];
    let (emulator, outcome) = sync(world(policies), &spec(EXTERNAL_ID)).await;
    assert!(outcome.error.is_none(), "{:?}", outcome.error);
    assert_eq!(emulator.refused_calls(), Default::default(), "nothing refused");
    let graph = &emulator.graphs()[0];
    let member = emulator.members(&graph.arn);
    assert_eq!(
        member[0].status,
        MemberStatus::Enabled,
        "accepted through the trusted role"
    );
    assert!(outcome.is_ready(), "{:?}", outcome.status.sync.conditions);
}

#[tokio::test]
async fn a_wrong_external_id_is_refused_by_the_trust_policy_naming_the_role() {
    let policies = vec![
        example("administrator-policy.json"),
        example("assume-accept-role-policy.json"),
    ];
    let (emulator, outcome) = sync(world(policies), &spec("not-the-external-id")).await;
    assert_eq!(emulator.refused_calls().get("AssumeRole"), Some(&1));
    let entry = &outcome.status.members[0];
    assert_eq!(entry.status, "INVITED", "not accepted");
    let error = entry.last_error.as_deref().expect("the refusal is in status");
    assert!(
        error.contains(&format!("arn:aws:iam::{MEMBER}:role/{ACCEPT_ROLE}")),
        "{error}"
    );
    assert!(
        error.contains(&format!("assumed-role/{OPERATOR_ROLE}/")),
        "names who was refused: {error}"
    );
    assert!(!error.contains('@'), "no e-mail address in a message: {error}");
}

#[tokio::test]
async fn a_missing_action_stalls_the_graph_naming_the_action_and_the_role() {
    // Without the accept-role policy the operator may not assume the member's role, and
    // without the administrator policy's writes it may not invite: a read-only role.
    let (emulator, outcome) = sync(world(vec![example("plan-readonly-policy.json")]), &spec(EXTERNAL_ID)).await;
    assert_eq!(emulator.refused_calls().get("CreateGraph"), Some(&1));
    assert!(outcome.is_stalled(), "{:?}", outcome.status.sync.conditions);
    let stalled = outcome
        .status
        .sync
        .conditions
        .iter()
        .find(|c| c.type_ == "Stalled")
        .expect("a Stalled condition");
    assert_eq!(stalled.reason, "AccessDenied");
    assert!(stalled.message.contains("detective:CreateGraph"), "{}", stalled.message);
    assert!(
        stalled
            .message
            .contains(&format!("arn:aws:sts::{ADMINISTRATOR}:assumed-role/{OPERATOR_ROLE}/")),
        "{}",
        stalled.message
    );
}
