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
use detective_operator::api::{DetectiveGraphSpec, DetectiveOrganizationAdminSpec};
use detective_operator::engine::{self, GraphOutcome, Mode, OrganizationAdminTarget, Reported};
use k8s_openapi::jiff::Timestamp;

use support::{assume_role_grant, emulator_access_as_role};

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
    let outcome = support::apply_new_graph(&access, spec).await;
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
    // Every member's role refused: no retry fixes that, a human must (the spec or the trust).
    assert!(outcome.is_stalled(), "{:?}", outcome.status.sync.conditions);
    let refusal = outcome.error.as_ref().expect("the graph's error");
    assert_eq!(refusal.reason(), "AccessDenied");
    assert!(!refusal.is_retryable(), "not retried in a fast loop: {refusal}");
    assert!(
        refusal
            .to_string()
            .contains(&format!("arn:aws:iam::{MEMBER}:role/{ACCEPT_ROLE}")),
        "{refusal}"
    );
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

/// `plan -f` as a role that may find the graph but not read its members: exit 1, and the
/// output names the action and the role.
#[tokio::test]
async fn plan_exits_1_naming_the_missing_action_and_the_role() {
    let folder = tempfile::tempdir().expect("a temporary folder");
    let policy = folder.path().join("find-only.json");
    std::fs::write(
        &policy,
        r#"{"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "detective:ListGraphs", "Resource": "*"}
        ]}"#,
    )
    .expect("write the policy");
    let emulator = fixtures::start_emulator_with(world(vec![policy])).await;
    // The account's own credentials create the graph the role is to plan against.
    fixtures::create_graph(&fixtures::detective_client(
        &emulator.endpoint_url(),
        ADMINISTRATOR,
        REGION,
    ))
    .await;
    let graph = folder.path().join("graph.yaml");
    std::fs::write(
        &graph,
        format!(
            "apiVersion: detective.operator.dev/v1alpha1\nkind: DetectiveGraph\nmetadata: {{name: g, namespace: security}}\n\
             spec:\n  region: {REGION}\n  members:\n    - accountId: \"{MEMBER}\"\n      emailAddress: member@example.com\n"
        ),
    )
    .expect("write the graph");
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_detective-operator"))
        .args(["plan", "-f", graph.to_str().expect("a UTF-8 path")])
        .args(["--endpoint-url", &emulator.endpoint_url()])
        .env("AWS_ACCESS_KEY_ID", ADMINISTRATOR)
        .env("AWS_SECRET_ACCESS_KEY", "emulator-secret")
        .env(
            "AWS_SESSION_TOKEN",
            detective_emulator::session_token(ADMINISTRATOR, OPERATOR_ROLE, "ci"),
        )
        .env("AWS_REGION", REGION)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", "/nonexistent")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_ENDPOINT_URL")
        .env_remove("AWS_ENDPOINT_URL_DETECTIVE")
        .env_remove("RUST_LOG")
        .output()
        .await
        .expect("the binary runs");
    let printed = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(output.status.code(), Some(1), "{printed}");
    assert!(printed.contains("detective:ListMembers"), "{printed}");
    assert!(
        printed.contains(&format!("arn:aws:sts::{ADMINISTRATOR}:assumed-role/{OPERATOR_ROLE}/ci")),
        "{printed}"
    );
    assert!(printed.contains("AccessDenied"), "{printed}");
    assert_eq!(emulator.refused_calls().get("ListMembers"), Some(&1));
}

/// `spec.assumeRoleArn` with an external id the role's trust policy does not name: AssumeRole is
/// refused, and the graph is Stalled (not retried by the engine: a human must fix the spec or
/// the trust policy), naming the role.
#[tokio::test]
async fn a_wrong_external_id_of_the_graphs_own_role_stalls_it_naming_the_role() {
    const ADMIN_ROLE: &str = "detective-admin";
    let role_arn = format!("arn:aws:iam::{ADMINISTRATOR}:role/{ADMIN_ROLE}");
    // The operator's role may assume the administrator role: the trust policy is what refuses.
    let folder = tempfile::tempdir().expect("a temporary folder");
    let assume = assume_role_grant(folder.path(), &role_arn);
    let mut world = world(vec![assume]);
    world.accounts[0]
        .roles
        .as_mut()
        .expect("the operator's role")
        .push(RoleConfig {
            name: ADMIN_ROLE.into(),
            policy_files: vec![example("administrator-policy.json")],
            // Trusts the operator's role with the external id detective-operator-7f3c9a.
            trust_policy_file: Some(example("member-accept-role-trust-policy.json")),
            ..RoleConfig::default()
        });
    let spec = |external_id: &str| -> DetectiveGraphSpec {
        serde_json::from_value(serde_json::json!({
            "region": REGION,
            "assumeRoleArn": role_arn,
            "externalId": external_id,
            "members": [{"accountId": MEMBER, "emailAddress": "member@example.com"}],
        }))
        .expect("a valid spec")
    };

    let (emulator, outcome) = sync(world.clone(), &spec("wrong")).await;
    assert_eq!(emulator.refused_calls().get("AssumeRole"), Some(&1));
    assert!(emulator.graphs().is_empty(), "nothing was done as the role");
    assert!(outcome.is_stalled(), "{:?}", outcome.status.sync.conditions);
    let error = outcome.error.as_ref().expect("the refusal");
    assert!(!error.is_retryable(), "not retried in a fast loop: {error}");
    assert_eq!(error.reason(), "AccessDenied");
    assert!(error.to_string().contains(&role_arn), "{error}");

    let (emulator, outcome) = sync(world, &spec(EXTERNAL_ID)).await;
    assert!(outcome.error.is_none(), "{:?}", outcome.error);
    assert_eq!(emulator.refused_calls(), Default::default());
    assert_eq!(emulator.graphs().len(), 1, "created as the administrator role");
}

/// A DetectiveOrganizationAdmin reaching the management account's role (carrying the example
/// organization-admin policy and trust policy) with an external id that trust policy does not
/// name: refused, Stalled `AccessDenied` naming the role, nothing enabled; with the right one,
/// delegated.
#[tokio::test]
async fn a_wrong_external_id_of_the_management_role_stalls_the_delegation_naming_the_role() {
    const MANAGEMENT: &str = "999988887777";
    const ORGANIZATION_ADMIN_ROLE: &str = "DetectiveOrganizationAdmin";
    let role_arn = format!("arn:aws:iam::{MANAGEMENT}:role/{ORGANIZATION_ADMIN_ROLE}");
    let folder = tempfile::tempdir().expect("a temporary folder");
    let assume = assume_role_grant(folder.path(), &role_arn);
    let mut world = world(vec![assume]);
    let organization = "o-exampleorg01";
    world.organizations = vec![
        serde_json::from_value(serde_json::json!({
            "id": organization, "managementAccount": MANAGEMENT, "rootId": "r-exampleorg01",
        }))
        .expect("an organization"),
    ];
    world.accounts[0].organization = Some(organization.into());
    let mut management = AccountConfig::new(MANAGEMENT, "");
    management.organization = Some(organization.into());
    management.roles = Some(vec![RoleConfig {
        name: ORGANIZATION_ADMIN_ROLE.into(),
        policy_files: vec![example("organization-admin-policy.json")],
        trust_policy_file: Some(example("organization-admin-role-trust-policy.json")),
        ..RoleConfig::default()
    }]);
    world.accounts.push(management);
    let spec = |external_id: &str| -> DetectiveOrganizationAdminSpec {
        serde_json::from_value(serde_json::json!({
            "accountId": ADMINISTRATOR,
            "regions": [REGION],
            "assumeRoleArn": role_arn,
            "externalId": external_id,
        }))
        .expect("a valid spec")
    };
    for (external_id, refused) in [("wrong", true), (EXTERNAL_ID, false)] {
        let emulator = fixtures::start_emulator_with(world.clone()).await;
        let access = emulator_access_as_role(&emulator.endpoint_url(), ADMINISTRATOR, OPERATOR_ROLE, REGION).await;
        let spec = spec(external_id);
        let target = OrganizationAdminTarget {
            spec: &spec,
            previous: None,
            generation: Some(1),
        };
        let outcome = engine::sync(&access, target, Mode::Apply, Timestamp::now()).await;
        if refused {
            assert_eq!(emulator.refused_calls().get("AssumeRole"), Some(&1));
            assert!(outcome.is_stalled(), "{:?}", outcome.status.sync.conditions);
            let error = outcome.error.as_ref().expect("the refusal");
            assert!(!error.is_retryable(), "not retried in a fast loop: {error}");
            assert_eq!(error.reason(), "AccessDenied");
            assert!(error.to_string().contains(&role_arn), "{error}");
            assert!(!emulator.calls().contains_key("EnableOrganizationAdminAccount"));
        } else {
            assert!(outcome.is_ready(), "{:?}", outcome.status.sync.conditions);
            assert_eq!(emulator.refused_calls(), Default::default());
            assert_eq!(emulator.calls().get("EnableOrganizationAdminAccount"), Some(&1));
        }
        emulator.shutdown().await;
    }
}

/// A graph drawing its members from the organization through the management account's reader
/// role (`membersFrom.organization.assumeRoleArn`), whose trust policy names the operator's role
/// and the external id: with a wrong `externalId` AssumeRole is refused, the graph is Stalled
/// `OrganizationAccessDenied`
/// and the external id: with a wrong `externalId` AssumeRole is refused, the graph is Stalled
/// `AccessDenied` naming the role and nothing is listed or invited; with the right one the
/// organization is listed as the reader role and its accounts become members.
#[tokio::test]
async fn the_organization_is_listed_through_the_reader_role_only_with_its_external_id() {
    const MANAGEMENT: &str = "999988887777";
    const READER_ROLE: &str = "DetectiveOrganizationReader";
    let reader_arn = format!("arn:aws:iam::{MANAGEMENT}:role/{READER_ROLE}");
    let folder = tempfile::tempdir().expect("a temporary folder");
    let assume = assume_role_grant(folder.path(), &reader_arn);
    let mut world = world(vec![
        example("administrator-policy.json"),
        example("administrator-organization-policy.json"),
        assume,
    ]);
    let organization = "o-exampleorg01";
    world.organizations = vec![
        serde_json::from_value(serde_json::json!({
            "id": organization, "managementAccount": MANAGEMENT, "rootId": "r-exampleorg01",
        }))
        .expect("an organization"),
    ];
    for account in &mut world.accounts {
        account.organization = Some(organization.into());
    }
    world.accounts[1].email = "member@example.com".into();
    let mut management = AccountConfig::new(MANAGEMENT, "");
    management.organization = Some(organization.into());
    management.roles = Some(vec![RoleConfig {
        name: READER_ROLE.into(),
        policy_files: vec![example("organization-reader-policy.json")],
        // The same trust as the management role's: the operator's role, with the external id.
        trust_policy_file: Some(example("organization-admin-role-trust-policy.json")),
        ..RoleConfig::default()
    }]);
    world.accounts.push(management);
    let spec = |external_id: &str| -> DetectiveGraphSpec {
        serde_json::from_value(serde_json::json!({
            "region": REGION,
            "membersFrom": {"organization": {"assumeRoleArn": reader_arn, "externalId": external_id}},
        }))
        .expect("a valid spec")
    };
    for (external_id, refused) in [("wrong", true), (EXTERNAL_ID, false)] {
        let emulator = fixtures::start_emulator_with(world.clone()).await;
        fixtures::delegate(&emulator.endpoint_url(), MANAGEMENT, ADMINISTRATOR, REGION).await;
        let access = emulator_access_as_role(&emulator.endpoint_url(), ADMINISTRATOR, OPERATOR_ROLE, REGION).await;
        let spec = spec(external_id);
        let outcome = support::apply_new_graph(&access, &spec).await;
        let calls = emulator.calls();
        if refused {
            assert_eq!(emulator.refused_calls().get("AssumeRole"), Some(&1));
            assert!(outcome.is_stalled(), "{:?}", outcome.status.sync.conditions);
            let error = outcome.error.as_ref().expect("the refusal");
            assert!(!error.is_retryable(), "not retried in a fast loop: {error}");
            // The listing's own reason, as for a reader refused ListAccounts.
            assert_eq!(error.reason(), "OrganizationAccessDenied");
            assert!(error.to_string().contains(&reader_arn), "{error}");
            assert!(error.to_string().contains("externalId"), "the way out: {error}");
            assert!(!calls.contains_key("ListAccounts"), "{calls:?}");
            assert!(!calls.contains_key("CreateMembers"), "{calls:?}");
        } else {
            assert!(outcome.is_ready(), "{:?}", outcome.status.sync.conditions);
            assert_eq!(emulator.refused_calls(), Default::default());
            assert_eq!(calls.get("ListAccounts"), Some(&1), "{calls:?}");
            let graph = &emulator.graphs()[0];
            let members: Vec<String> = emulator.members(&graph.arn).into_iter().map(|m| m.account_id).collect();
            // The whole organization but the administrator, as the reader role listed it.
            assert_eq!(members, [MEMBER, MANAGEMENT], "{members:?}");
        }
        emulator.shutdown().await;
    }
}
