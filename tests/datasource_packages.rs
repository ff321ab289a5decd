//! `spec.datasourcePackages` and the per-member ingest state, through the engine and the real
//! SDK against the emulator, and through `plan -f` run as the binary: a declared package that is
//! not started is started once, a started one that is not declared is reported and never
//! written, a resync is read-only, a failed read or start is retried and keeps what was known,
//! and a graph without the field makes the calls it always made.

mod support;

use std::collections::BTreeMap;

use detective_emulator::{Emulator, Fault};
use detective_operator::api::{DatasourcePackageStatus, DetectiveGraph, DetectiveGraphSpec, DetectiveGraphStatus};
use detective_operator::aws::AwsAccess;
use detective_operator::engine::membership::{self, MembershipTarget};
use detective_operator::engine::{self, GraphOutcome, GraphTarget, GraphWrite, Mode, Reported};
use k8s_openapi::jiff::Timestamp;

use support::{emulator_access, legacy_graph_emulator};

const ADMIN: &str = "123456789012";
const REGION: &str = "us-east-1";
/// Three accounts: two accept at once (ENABLED), the third never answers (INVITED).
const ACCOUNTS: [&str; 3] = ["210000000001", "210000000002", "210000000003"];

/// An emulator whose administrator has a graph created in January 2022, before Detective
/// started the optional packages by default: only DETECTIVE_CORE is started.
async fn legacy_graph() -> (Emulator, String) {
    legacy_graph_emulator(ADMIN, REGION, &ACCOUNTS[..2]).await
}

fn spec(packages: Option<&[&str]>) -> DetectiveGraphSpec {
    let members: Vec<serde_json::Value> = ACCOUNTS
        .iter()
        .map(|id| serde_json::json!({"accountId": id, "emailAddress": format!("root+{id}@example.com")}))
        .collect();
    let mut spec = serde_json::json!({"region": REGION, "members": members});
    if let Some(packages) = packages {
        spec["datasourcePackages"] = serde_json::json!(packages);
    }
    serde_json::from_value(spec).expect("a valid spec")
}

async fn sync(access: &AwsAccess, spec: &DetectiveGraphSpec, previous: Option<&DetectiveGraphStatus>) -> GraphOutcome {
    let mut graph = DetectiveGraph::new("org", spec.clone());
    graph.status = previous.cloned();
    engine::sync(access, GraphTarget::of(&graph), Mode::Apply, Timestamp::now()).await
}

fn package_states(emulator: &Emulator, graph: &str) -> BTreeMap<String, String> {
    emulator
        .graphs()
        .into_iter()
        .find(|g| g.arn == graph)
        .expect("the graph")
        .datasource_packages
}

fn package<'a>(status: &'a DetectiveGraphStatus, name: &str) -> &'a DatasourcePackageStatus {
    status
        .datasource_packages
        .iter()
        .find(|p| p.package == name)
        .unwrap_or_else(|| panic!("{name} in status: {:?}", status.datasource_packages))
}

fn calls(emulator: &Emulator) -> Vec<(String, u64)> {
    emulator.calls().into_iter().collect()
}

#[tokio::test]
async fn a_declared_package_is_started_once_and_resyncs_only_read() {
    let (emulator, graph) = legacy_graph().await;
    let access = emulator_access(&emulator.endpoint_url(), ADMIN, REGION).await;
    let declared = spec(Some(&["EKS_AUDIT"]));

    let first = sync(&access, &declared, None).await;
    assert!(first.error.is_none(), "{:?}", first.error);
    assert_eq!(emulator.calls().get("UpdateDatasourcePackages"), Some(&1));
    assert_eq!(
        package_states(&emulator, &graph),
        BTreeMap::from([
            ("ASFF_SECURITYHUB_FINDING".to_owned(), "STOPPED".to_owned()),
            ("DETECTIVE_CORE".to_owned(), "STARTED".to_owned()),
            ("EKS_AUDIT".to_owned(), "STARTED".to_owned()),
        ]),
        "only the declared package is started"
    );
    let status = &first.status;
    let eks = package(status, "EKS_AUDIT");
    assert_eq!(
        (eks.state.as_deref(), eks.declared, eks.ingesting_members),
        (Some("STARTED"), Some(true), 2),
        "the two ENABLED members ingest it"
    );
    let asff = package(status, "ASFF_SECURITYHUB_FINDING");
    assert_eq!(
        (asff.state.as_deref(), asff.declared, asff.ingesting_members),
        (Some("STOPPED"), Some(false), 0)
    );
    let not_ingesting: BTreeMap<&str, Vec<&str>> = status
        .members
        .iter()
        .map(|m| {
            (
                m.account_id.as_str(),
                m.not_ingesting.iter().map(String::as_str).collect(),
            )
        })
        .collect();
    assert_eq!(
        not_ingesting,
        BTreeMap::from([
            (ACCOUNTS[0], vec!["ASFF_SECURITYHUB_FINDING"]),
            (ACCOUNTS[1], vec!["ASFF_SECURITYHUB_FINDING"]),
            (
                ACCOUNTS[2],
                vec!["ASFF_SECURITYHUB_FINDING", "DETECTIVE_CORE", "EKS_AUDIT"]
            ),
        ])
    );

    // The next resync reads the members and the packages, writes nothing and changes nothing.
    emulator.reset_calls();
    let second = sync(&access, &declared, Some(&first.status)).await;
    assert_eq!(
        calls(&emulator),
        [("ListDatasourcePackages".to_owned(), 1), ("ListMembers".to_owned(), 1)]
    );
    assert!(second.applied.is_empty(), "{:?}", second.applied);
    assert_eq!(second.status.datasource_packages, first.status.datasource_packages);
    assert_eq!(second.status.members, first.status.members);

    // Without the field, the graph makes the calls it made before packages existed.
    emulator.reset_calls();
    let undeclared = sync(&access, &spec(None), Some(&second.status)).await;
    assert_eq!(calls(&emulator), [("ListMembers".to_owned(), 1)]);
    assert_eq!(
        package(&undeclared.status, "EKS_AUDIT").state,
        None,
        "the graph's state is not read"
    );
    emulator.shutdown().await;
}

#[tokio::test]
async fn a_started_package_that_is_not_declared_is_reported_and_never_written() {
    let (emulator, graph) = legacy_graph().await;
    let access = emulator_access(&emulator.endpoint_url(), ADMIN, REGION).await;
    let first = sync(&access, &spec(Some(&["EKS_AUDIT", "ASFF_SECURITYHUB_FINDING"])), None).await;
    assert!(first.error.is_none(), "{:?}", first.status.sync.conditions);
    assert_eq!(
        package_states(&emulator, &graph)
            .get("ASFF_SECURITYHUB_FINDING")
            .map(String::as_str),
        Some("STARTED")
    );

    // ASFF is no longer declared: the API cannot stop it, so it is reported, not retried.
    let only_eks = spec(Some(&["EKS_AUDIT"]));
    let mut previous = first.status;
    for _ in 0..3 {
        emulator.reset_calls();
        let outcome = sync(&access, &only_eks, Some(&previous)).await;
        assert_eq!(
            calls(&emulator),
            [("ListDatasourcePackages".to_owned(), 1), ("ListMembers".to_owned(), 1)],
            "read-only"
        );
        assert_eq!(
            package(&outcome.status, "ASFF_SECURITYHUB_FINDING").declared,
            Some(false)
        );
        let ready = outcome.status.sync.condition("Ready").expect("Ready");
        assert!(
            ready.message.contains("ASFF_SECURITYHUB_FINDING") && ready.message.contains("Detective console"),
            "{}",
            ready.message
        );
        previous = outcome.status;
    }
    assert_eq!(
        package_states(&emulator, &graph)
            .get("ASFF_SECURITYHUB_FINDING")
            .map(String::as_str),
        Some("STARTED")
    );
    emulator.shutdown().await;
}

/// A failed UpdateDatasourcePackages (every attempt) keeps the writes before it, is a retryable
/// error naming the call, and the package is not reported started; the next sync starts it. A
/// failed ListDatasourcePackages stops the reconcile before any write, and the status keeps the
/// packages the previous one knew.
#[tokio::test]
async fn a_failed_package_read_or_start_is_retried_and_keeps_what_was_known() {
    let (emulator, graph) = legacy_graph().await;
    let access = emulator_access(&emulator.endpoint_url(), ADMIN, REGION).await;
    let eks = spec(Some(&["EKS_AUDIT"]));
    let eks_state = |status: &DetectiveGraphStatus| package(status, "EKS_AUDIT").state.clone();

    // The SDK makes three attempts.
    emulator.inject_fault(Fault::internal_error().on("UpdateDatasourcePackages").times(3));
    let failed = sync(&access, &eks, None).await;
    let error = failed.error.as_ref().expect("the start failed");
    assert!(error.is_retryable() && !failed.is_stalled(), "{error:?}");
    assert_eq!(error.reason(), "AwsUnavailable");
    assert!(error.to_string().contains("UpdateDatasourcePackages"), "{error}");
    assert_eq!(
        emulator.calls().get("CreateMembers"),
        Some(&1),
        "the writes before it landed"
    );
    assert!(
        !failed
            .applied
            .iter()
            .any(|write| matches!(write, GraphWrite::PackagesStarted(_))),
        "{:?}",
        failed.applied
    );
    assert_eq!(package_states(&emulator, &graph)["EKS_AUDIT"], "STOPPED");
    assert_eq!(eks_state(&failed.status).as_deref(), Some("STOPPED"));

    emulator.reset_calls();
    let started = sync(&access, &eks, Some(&failed.status)).await;
    assert!(started.error.is_none(), "{:?}", started.error);
    assert_eq!(emulator.calls().get("UpdateDatasourcePackages"), Some(&1));
    assert_eq!(eks_state(&started.status).as_deref(), Some("STARTED"));

    // ASFF declared too, but the packages cannot be read: nothing is started.
    emulator.inject_fault(Fault::internal_error().on("ListDatasourcePackages").times(3));
    emulator.reset_calls();
    let both = spec(Some(&["EKS_AUDIT", "ASFF_SECURITYHUB_FINDING"]));
    let unread = sync(&access, &both, Some(&started.status)).await;
    let error = unread.error.as_ref().expect("the read failed");
    assert!(error.is_retryable() && !unread.is_stalled(), "{error:?}");
    assert!(error.to_string().contains("ListDatasourcePackages"), "{error}");
    assert!(!emulator.calls().contains_key("UpdateDatasourcePackages"));
    assert_eq!(package_states(&emulator, &graph)["ASFF_SECURITYHUB_FINDING"], "STOPPED");
    assert_eq!(
        unread.status.datasource_packages, started.status.datasource_packages,
        "the previous entries are kept"
    );
    emulator.shutdown().await;
}

/// `plan -f` shows the packages to start and the undeclared ones; it writes nothing.
#[tokio::test]
async fn plan_shows_package_changes_like_member_changes() {
    let (emulator, _graph) = legacy_graph().await;
    let dir = tempfile::tempdir().expect("a temporary directory");
    let members: String = ACCOUNTS
        .iter()
        .map(|id| format!("    - accountId: \"{id}\"\n      emailAddress: root+{id}@example.com\n"))
        .collect();
    let manifest = |packages: &str| {
        format!(
            "apiVersion: detective.operator.dev/v1alpha1\nkind: DetectiveGraph\nmetadata:\n  name: org\n  namespace: \
             security\nspec:\n  region: us-east-1\n  datasourcePackages: {packages}\n  members:\n{members}"
        )
    };
    let plan = |packages: &str| {
        let path = dir.path().join("graph.yaml");
        std::fs::write(&path, manifest(packages)).expect("the manifest is written");
        let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_detective-operator"));
        command
            .args(["plan", "--detailed-exitcode", "-f"])
            .arg(&path)
            .args(["--endpoint-url", &emulator.endpoint_url()])
            .env("AWS_ACCESS_KEY_ID", ADMIN)
            .env("AWS_SECRET_ACCESS_KEY", "emulator-secret")
            .env("AWS_REGION", REGION)
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_CONFIG_FILE", "/nonexistent")
            .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
            .env_remove("AWS_PROFILE")
            .env_remove("AWS_ENDPOINT_URL_DETECTIVE");
        async move {
            let output = command.output().await.expect("the binary runs");
            (
                output.status.code(),
                String::from_utf8_lossy(&output.stdout).into_owned(),
                String::from_utf8_lossy(&output.stderr).into_owned(),
            )
        }
    };

    let (code, out, err) = plan("[EKS_AUDIT]").await;
    assert_eq!(code, Some(2), "changes: {out}{err}");
    assert!(out.contains("  + start datasource packages 1: EKS_AUDIT\n"), "{out}");
    assert!(out.contains(", 1 datasource packages to start."), "{out}");
    assert!(!out.contains("not declared"), "{out}");
    assert!(
        !emulator.calls().contains_key("UpdateDatasourcePackages"),
        "plan writes nothing"
    );

    let (code, out, err) = plan("[]").await;
    assert_eq!(code, Some(2), "the members are still to invite: {out}{err}");
    assert!(!out.contains("start datasource packages"), "{out}");
    emulator.create_graph_at("999999999999", REGION, Timestamp::now());
    // On a graph where every package started by itself, an empty declaration reports both.
    let access = emulator_access(&emulator.endpoint_url(), "999999999999", REGION).await;
    let outcome = engine::sync(
        &access,
        GraphTarget::of(&DetectiveGraph::new("x", spec(Some(&[])))),
        Mode::DryRun,
        Timestamp::now(),
    )
    .await;
    assert_eq!(
        outcome
            .package_changes
            .undeclared
            .iter()
            .map(|p| p.as_str())
            .collect::<Vec<_>>(),
        ["EKS_AUDIT", "ASFF_SECURITYHUB_FINDING"]
    );

    // Bad input is refused before any call, naming the field.
    emulator.reset_calls();
    for (packages, field) in [
        ("[S3_DATA_EVENTS]", "spec.datasourcePackages[0]"),
        ("[DETECTIVE_CORE]", "spec.datasourcePackages[0]"),
        ("[EKS_AUDIT, EKS_AUDIT]", "spec.datasourcePackages[1]"),
    ] {
        let (code, out, err) = plan(packages).await;
        assert_eq!(code, Some(1), "{packages}: {out}{err}");
        assert!(err.contains(field), "{packages}: {err}");
    }
    assert!(emulator.calls().is_empty(), "{:?}", emulator.calls());
    emulator.shutdown().await;
}

/// The member side: once the account has accepted, its status shows what of its data the graph
/// ingests (BatchGetMembershipDatasources); while it is only invited, nothing is read.
#[tokio::test]
async fn a_membership_shows_the_member_accounts_own_ingest_state() {
    let (emulator, graph) = legacy_graph().await;
    let url = emulator.endpoint_url();
    let admin = emulator_access(&url, ADMIN, REGION).await;
    let outcome = sync(&admin, &spec(Some(&["EKS_AUDIT"])), None).await;
    assert!(outcome.error.is_none(), "{:?}", outcome.error);
    let member_of = |account: &'static str| {
        let url = url.clone();
        async move {
            emulator_access(&url, account, REGION)
                .await
                .detective(None, None)
                .await
                .expect("a member client")
        }
    };
    let membership: detective_operator::api::DetectiveMembershipSpec =
        serde_json::from_value(serde_json::json!({"graphArn": graph, "state": "Accepted"})).expect("a spec");
    let reconcile = |detective, previous| {
        let membership = &membership;
        async move {
            let target = MembershipTarget {
                spec: membership,
                previous,
                generation: Some(1),
            };
            membership::reconcile(&detective, target, Mode::DryRun, Timestamp::now()).await
        }
    };

    // ENABLED (accepted by itself): the core package and EKS audit logs are ingested.
    emulator.reset_calls();
    let enabled = reconcile(member_of(ACCOUNTS[0]).await, None).await;
    let states: Vec<(&str, &str, bool)> = enabled
        .status
        .datasource_packages
        .iter()
        .map(|p| (p.package.as_str(), p.state.as_str(), p.since.is_some()))
        .collect();
    assert_eq!(
        states,
        [
            ("ASFF_SECURITYHUB_FINDING", "STOPPED", true),
            ("DETECTIVE_CORE", "STARTED", true),
            ("EKS_AUDIT", "STARTED", true),
        ]
    );
    assert_eq!(emulator.calls().get("BatchGetMembershipDatasources"), Some(&1));

    // The read fails on every attempt (the SDK makes three): the previous entries are kept, and
    // the invitation's answer is not held up.
    emulator.inject_fault(Fault::internal_error().on("BatchGetMembershipDatasources").times(3));
    let unread = reconcile(member_of(ACCOUNTS[0]).await, Some(&enabled.status)).await;
    assert_eq!(emulator.faulted_calls().get("BatchGetMembershipDatasources"), Some(&3));
    assert!(unread.is_ready(), "{:?}", unread.status.sync.conditions);
    assert_eq!(unread.status.datasource_packages, enabled.status.datasource_packages);

    // INVITED and never accepting: no data flows, nothing is read.
    emulator.reset_calls();
    let invited = reconcile(member_of(ACCOUNTS[2]).await, None).await;
    assert!(invited.status.datasource_packages.is_empty());
    assert!(!emulator.calls().contains_key("BatchGetMembershipDatasources"));
    emulator.shutdown().await;
}
