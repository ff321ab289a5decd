//! IAM enforcement for assumed roles (`enforceIam`), through the real Detective and
//! Organizations SDK clients: a session of a role may do what the files of `examples/iam/`
//! attached to it allow and nothing else, refusals have AWS's message shape and are counted, an
//! account's own credentials stay unrestricted, and a malformed policy file stops the start
//! naming the file and the statement. (AssumeRole's trust checks run through the operator's real
//! credential provider in the operator's `tests/iam_enforcement.rs`.)

mod fixtures;

use std::path::PathBuf;

use aws_credential_types::Credentials;
use aws_sdk_detective::config::{BehaviorVersion, Region};
use aws_sdk_detective::error::ProvideErrorMetadata;
use detective_emulator::{AccountConfig, Emulator, EmulatorConfig, RoleConfig, WorldConfig};
use fixtures::{REGION, assert_refused, create_graph, detective_client};

/// The administrator account the example policies name.
const ADMINISTRATOR: &str = "111122223333";
const ROLE: &str = "detective-plan";

fn example(file: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../examples/iam")
        .join(file)
}

fn world(policies: &[&str]) -> WorldConfig {
    let mut administrator = AccountConfig::new(ADMINISTRATOR, "");
    administrator.roles = Some(vec![RoleConfig {
        name: ROLE.into(),
        policy_files: policies.iter().map(|file| example(file)).collect(),
        ..RoleConfig::default()
    }]);
    WorldConfig {
        accounts: vec![administrator],
        enforce_iam: true,
        ..WorldConfig::default()
    }
}

async fn start(world: WorldConfig) -> Emulator {
    Emulator::start(EmulatorConfig {
        world,
        ..EmulatorConfig::default()
    })
    .await
    .expect("the emulator starts")
}

/// A client signing as a session of `role` in `account`: the credentials AssumeRole hands out
/// (the access key is the account; the session token names the role and the session).
fn session_client(endpoint: &str, account: &str, role: &str) -> aws_sdk_detective::Client {
    let token = detective_emulator::session_token(account, role, "ci");
    let credentials = Credentials::new(account, "emulator-secret", Some(token), None, "iam-test");
    let config = aws_sdk_detective::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(REGION))
        .credentials_provider(credentials)
        .endpoint_url(endpoint)
        .build();
    aws_sdk_detective::Client::from_conf(config)
}

#[tokio::test]
async fn a_session_may_do_what_its_policies_allow_and_nothing_else() {
    let emulator = start(world(&["plan-readonly-policy.json"])).await;
    let endpoint = emulator.endpoint_url();
    // The account's own credentials are unrestricted: they make the graph the role reads.
    let root = detective_client(&endpoint, ADMINISTRATOR, REGION);
    let graph = create_graph(&root).await;

    let reader = session_client(&endpoint, ADMINISTRATOR, ROLE);
    let graphs = reader.list_graphs().send().await.expect("ListGraphs is allowed on *");
    assert_eq!(graphs.graph_list().len(), 1);
    reader
        .list_members()
        .graph_arn(&graph)
        .send()
        .await
        .expect("ListMembers is allowed on the account's graphs");

    let refused = assert_refused(
        reader
            .create_members()
            .graph_arn(&graph)
            .accounts(fixtures::account("444455556666", "a@example.com"))
            .send(),
        "AccessDeniedException",
        "CreateMembers by a read-only role",
    )
    .await;
    assert_eq!(
        refused.message(),
        Some(
            format!(
                "User: arn:aws:sts::{ADMINISTRATOR}:assumed-role/{ROLE}/ci is not authorized to perform: \
                 detective:CreateMembers on resource: {graph}"
            )
            .as_str()
        )
    );
    let refused = assert_refused(reader.create_graph().send(), "AccessDeniedException", "CreateGraph").await;
    assert!(
        refused
            .message()
            .unwrap_or_default()
            .ends_with("detective:CreateGraph on resource: *"),
        "{refused:?}"
    );
    assert_eq!(emulator.refused_calls().get("CreateMembers"), Some(&1));
    assert_eq!(emulator.refused_calls().get("CreateGraph"), Some(&1));
    assert_eq!(
        emulator.refused_calls().get("ListMembers"),
        None,
        "allowed calls are not refused"
    );
    assert!(
        emulator.graphs()[0].members.is_empty(),
        "a refused call changes nothing"
    );
}

#[tokio::test]
async fn the_resource_is_checked_against_the_graph_arn() {
    // The example policy names the graphs of 111122223333 only.
    let emulator = start(world(&["plan-readonly-policy.json"])).await;
    let endpoint = emulator.endpoint_url();
    let other = "444455556666";
    let foreign_graph = create_graph(&detective_client(&endpoint, other, REGION)).await;
    let reader = session_client(&endpoint, ADMINISTRATOR, ROLE);
    let refused = assert_refused(
        reader.list_members().graph_arn(&foreign_graph).send(),
        "AccessDeniedException",
        "ListMembers of another account's graph",
    )
    .await;
    assert!(
        refused.message().unwrap_or_default().contains(&foreign_graph),
        "{refused:?}"
    );
}

#[tokio::test]
async fn without_enforcement_or_with_an_undeclared_role_policies_decide_as_configured() {
    // Enforcement off (the default profile): the same session is unrestricted.
    let mut relaxed = world(&["plan-readonly-policy.json"]);
    relaxed.enforce_iam = false;
    let emulator = start(relaxed).await;
    let session = session_client(&emulator.endpoint_url(), ADMINISTRATOR, ROLE);
    session.create_graph().send().await.expect("not enforced");

    // Enforced: a session of a role the world does not declare is allowed nothing.
    let emulator = start(world(&["plan-readonly-policy.json"])).await;
    let stranger = session_client(&emulator.endpoint_url(), ADMINISTRATOR, "undeclared");
    assert_refused(
        stranger.list_graphs().send(),
        "AccessDeniedException",
        "an undeclared role",
    )
    .await;
}

#[tokio::test]
async fn organizations_reads_are_authorized_on_star() {
    let organizations = |policy: &str| {
        let mut world = world(&[policy]);
        world.accounts[0].organization = Some(detective_emulator::DEFAULT_ORGANIZATION.into());
        // A delegated administrator, so that the service itself lets it list the organization.
        world.organizations = vec![
            serde_json::from_value(serde_json::json!({
                "id": detective_emulator::DEFAULT_ORGANIZATION,
                "managementAccount": "999988887777",
                "delegatedAdministrators": [ADMINISTRATOR],
            }))
            .expect("an organization"),
        ];
        world
    };
    let client = |emulator: &Emulator| {
        let token = detective_emulator::session_token(ADMINISTRATOR, ROLE, "ci");
        aws_sdk_organizations::Client::from_conf(
            aws_sdk_organizations::Config::builder()
                .behavior_version(BehaviorVersion::latest())
                .region(Region::new(REGION))
                .credentials_provider(Credentials::new(ADMINISTRATOR, "s", Some(token), None, "iam-test"))
                .endpoint_url(emulator.endpoint_url())
                .build(),
        )
    };
    let planner = start(organizations("plan-readonly-policy.json")).await;
    client(&planner)
        .list_roots()
        .send()
        .await
        .expect("the plan policy allows ListRoots");

    let reader = start(organizations("organization-reader-policy.json")).await;
    client(&reader)
        .list_roots()
        .send()
        .await
        .expect("the reader policy allows ListRoots");
    let refused = client(&reader)
        .describe_organization()
        .send()
        .await
        .expect_err("DescribeOrganization is not in the reader policy");
    assert_eq!(refused.code(), Some("AccessDeniedException"), "{refused:?}");
    assert!(
        refused
            .message()
            .unwrap_or_default()
            .contains("organizations:DescribeOrganization on resource: *"),
        "{refused:?}"
    );
    assert_eq!(reader.refused_calls().get("DescribeOrganization"), Some(&1));
}

#[tokio::test]
async fn a_malformed_policy_file_stops_the_start_naming_the_file_and_the_statement() {
    let folder = tempfile::tempdir().expect("a temporary folder");
    let file = folder.path().join("broken.json");
    std::fs::write(
        &file,
        r#"{"Version": "2012-10-17", "Statement": [
            {"Sid": "Fine", "Effect": "Allow", "Action": "detective:ListGraphs", "Resource": "*"},
            {"Sid": "Typo", "Effect": "Allow", "Actions": "detective:ListMembers", "Resource": "*"}
        ]}"#,
    )
    .expect("write the policy");
    let mut world = world(&[]);
    world.accounts[0].roles.as_mut().expect("the role")[0].policy_files = vec![file.clone()];
    let error = Emulator::start(EmulatorConfig {
        world,
        ..EmulatorConfig::default()
    })
    .await
    .expect_err("a malformed policy is refused");
    let message = error.to_string();
    assert!(message.contains("accounts[0].roles[0].policyFiles[0]"), "{message}");
    assert!(message.contains(&file.display().to_string()), "{message}");
    assert!(
        message.contains("Statement[1] (Typo): Actions is not supported"),
        "{message}"
    );
}
