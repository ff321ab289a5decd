//! The operator's AWS clients (`AwsAccess`) through the real SDK against the emulator's STS and
//! Detective: a role's client acts as the role's account, and each role is assumed once per
//! credential lifetime, however many roles there are.

#[path = "../emulator/tests/fixtures/mod.rs"]
mod fixtures;
mod support;

use std::collections::{BTreeMap, HashSet};

use detective_operator::aws::{AwsAccess, Detective, ReachOrganizations, RoleToAssume, SdkDetective};

use support::emulator_access;

/// The account the operator's own credentials belong to.
const OPERATOR: &str = "123456789012";

fn role(index: u64) -> RoleToAssume {
    RoleToAssume {
        role_arn: format!("arn:aws:iam::{}:role/detective-administrator", account(index)),
        external_id: None,
        session_name: None,
    }
}

fn account(index: u64) -> String {
    format!("{:012}", 300_000_000_000 + index)
}

async fn access(emulator: &detective_emulator::Emulator) -> AwsAccess {
    emulator_access(&emulator.endpoint_url(), OPERATOR, fixtures::REGION).await
}

/// An emulator, the operator's own client (no role) and the graph it created.
async fn own_graph() -> (detective_emulator::Emulator, SdkDetective, String) {
    let emulator = fixtures::start_emulator().await;
    let detective = access(&emulator).await.detective(None, None).await.expect("a client");
    let arn = detective.create_graph(&BTreeMap::new()).await.expect("CreateGraph");
    (emulator, detective, arn)
}

fn count(calls: &BTreeMap<String, u64>, operation: &str) -> u64 {
    calls.get(operation).copied().unwrap_or(0)
}

#[tokio::test]
async fn a_hundred_roles_are_each_assumed_once_across_rounds_of_calls() {
    let emulator = fixtures::start_emulator().await;
    let access = access(&emulator).await;
    // More roles than the SDK's shared identity cache holds credential providers (64).
    let roles: Vec<RoleToAssume> = (0..100).map(role).collect();
    for _round in 0..3 {
        for role in &roles {
            let detective = access.detective(None, Some(role)).await.expect("a client");
            detective.list_graphs().await.expect("ListGraphs as the role");
        }
    }
    let calls = emulator.calls();
    assert_eq!(count(&calls, "ListGraphs"), 300, "{calls:?}");
    assert_eq!(count(&calls, "AssumeRole"), 100, "one AssumeRole per role: {calls:?}");

    // Each client acts as its role's account: a graph it creates belongs to that account.
    for index in [0, 99] {
        let detective = access.detective(None, Some(&role(index))).await.expect("a client");
        let arn = detective
            .create_graph(&BTreeMap::new())
            .await
            .expect("CreateGraph as the role");
        assert!(arn.contains(&format!(":{}:graph:", account(index))), "{arn}");
    }
    assert_eq!(count(&emulator.calls(), "AssumeRole"), 100);
    emulator.shutdown().await;
}

#[tokio::test]
async fn the_credentials_of_a_role_no_object_names_are_dropped_and_the_others_kept() {
    let emulator = fixtures::start_emulator().await;
    let access = access(&emulator).await;
    // Role 2 lists an organization too: its Organizations client goes with its credentials.
    for index in 0..3 {
        let detective = access.detective(None, Some(&role(index))).await.expect("a client");
        detective.list_graphs().await.expect("ListGraphs as the role");
    }
    access
        .organizations(None, Some(&role(2)))
        .await
        .expect("an Organizations client as role 2");
    let arns = |access: &AwsAccess| {
        let mut arns: Vec<String> = access.roles().into_iter().map(|r| r.role_arn).collect();
        arns.sort();
        arns
    };
    assert_eq!(arns(&access), [role(0).role_arn, role(1).role_arn, role(2).role_arn]);
    assert_eq!(count(&emulator.calls(), "AssumeRole"), 3);

    // Role 0 is still named; roles 1 and 2 are not.
    let dropped = access.retain_roles(|| HashSet::from([role(0)]));
    assert_eq!(dropped, 2);
    assert_eq!(arns(&access), [role(0).role_arn]);

    // The kept role calls with the credentials it has; a dropped one is assumed anew.
    for index in [0, 1] {
        let detective = access.detective(None, Some(&role(index))).await.expect("a client");
        detective.list_graphs().await.expect("ListGraphs as the role");
    }
    assert_eq!(count(&emulator.calls(), "AssumeRole"), 4, "role 1 again, not role 0");
    emulator.shutdown().await;
}

#[tokio::test]
async fn without_a_role_the_operators_own_account_calls_and_sts_is_not_asked() {
    let (emulator, _, arn) = own_graph().await;
    assert!(arn.contains(&format!(":{OPERATOR}:graph:")), "{arn}");
    assert_eq!(count(&emulator.calls(), "AssumeRole"), 0);
    emulator.shutdown().await;
}

/// The adapter's datasource-package calls through the SDK: a new graph reports every package
/// started (the service's documented default), a start is accepted, an unknown package is a
/// ValidationException classified as invalid (never retried).
#[tokio::test]
async fn datasource_packages_are_listed_and_started_through_the_adapter() {
    use detective_operator::aws::{ErrorKind, PackageIngest};

    let (emulator, detective, arn) = own_graph().await;
    let packages = detective
        .list_datasource_packages(&arn)
        .await
        .expect("ListDatasourcePackages");
    assert_eq!(
        packages,
        BTreeMap::from([
            ("ASFF_SECURITYHUB_FINDING".to_owned(), PackageIngest::Started),
            ("DETECTIVE_CORE".to_owned(), PackageIngest::Started),
            ("EKS_AUDIT".to_owned(), PackageIngest::Started),
        ])
    );
    detective
        .update_datasource_packages(&arn, &["EKS_AUDIT".to_owned()])
        .await
        .expect("UpdateDatasourcePackages");
    let refused = detective
        .update_datasource_packages(&arn, &["NOT_A_PACKAGE".to_owned()])
        .await
        .expect_err("an unknown package");
    assert_eq!(refused.kind, ErrorKind::Invalid, "{refused:?}");
    let calls = emulator.calls();
    assert_eq!(
        count(&calls, "ListDatasourcePackages"),
        1,
        "one page holds every package"
    );
    assert_eq!(count(&calls, "UpdateDatasourcePackages"), 2, "{calls:?}");
    emulator.shutdown().await;
}

/// The service quotes a rejected `EmailAddress` in its ValidationException (the emulator does
/// too): the operator's error, which is what logs, events, conditions and `lastError` carry,
/// names no address, whether or not the address is well formed.
#[tokio::test]
async fn an_e_mail_address_quoted_by_the_service_is_masked_in_the_error() {
    use detective_operator::member::{InvitationSettings, Invitee};
    let emulator = fixtures::start_emulator().await;
    let admin = fixtures::detective_client(&emulator.endpoint_url(), OPERATOR, fixtures::REGION);
    let graph_arn = fixtures::create_graph(&admin).await;
    let detective = access(&emulator).await.detective(None, None).await.unwrap();
    let too_long = format!("{}@example.com", "a".repeat(60));
    for address in [too_long.as_str(), "first.last@corp"] {
        let invitee = Invitee {
            account_id: account(1),
            email_address: address.to_owned(),
        };
        let error = detective
            .create_members(&graph_arn, &[invitee], &InvitationSettings::default())
            .await
            .expect_err("the service rejects the address");
        assert_eq!(error.code, "ValidationException", "{error}");
        let told = format!("{error} {error:?}");
        assert!(told.contains("<e-mail>"), "the service quoted it: {told}");
        let local_part = address.split('@').next().unwrap();
        assert!(!told.contains(local_part), "{told}");
    }
    assert!(emulator.members(&graph_arn).is_empty());
}
