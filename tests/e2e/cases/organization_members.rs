//! A `DetectiveGraph` of the organization's delegated administrator, with `membersFrom` and
//! `autoEnable`, run by the operator binary against the real API server: it reaches Ready with
//! every chosen organization account ENABLED and none INVITED; an account moved out of its OU is
//! removed at the next refresh; a move of more accounts than the deletion guard allows is
//! Stalled; an account joining the organization shows as a member.

use std::collections::BTreeSet;
use std::time::Duration;

use detective_emulator::{AccountConfig, MemberStatus, WorldConfig, WorldPatch};
use detective_operator::cli::demo;

use crate::harness::{
    ADMIN, Env, OperatorOptions, REGION, emulator, eventually, has_condition, is_ready, member_status,
};

const WAIT: Duration = Duration::from_secs(60);

/// The demo organization's account `id`, placed under `parent`.
fn placed(id: &str, parent: &str) -> AccountConfig {
    let mut account = demo::organization()
        .accounts
        .into_iter()
        .find(|a| a.account_id == id)
        .unwrap_or_else(|| AccountConfig {
            organization: Some(demo::ORGANIZATION.to_owned()),
            ..AccountConfig::new(id, format!("aws+{id}@example.com"))
        });
    account.parent_id = Some(parent.to_owned());
    account
}

fn member_ids(emulator: &detective_emulator::Emulator) -> BTreeSet<String> {
    emulator
        .graphs()
        .iter()
        .filter(|g| g.administrator_id == ADMIN)
        .flat_map(|g| g.members.iter().map(|m| m.account_id.clone()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn organization_accounts_are_enabled_moved_out_guarded_and_joined() {
    let Some(env) = Env::new("orgmembers").await else {
        return;
    };
    // AWS as it is: the delegation and AutoEnable propagate, one administrator, strict Regions.
    let emulator = emulator(WorldConfig::realistic()).await;
    emulator.merge_world(demo::organization());
    crate::fixtures::delegate(&emulator.endpoint_url(), demo::MANAGEMENT, ADMIN, REGION).await;
    let _operator = env
        .operator(OperatorOptions::new("operator", ADMIN, &emulator.endpoint_url()))
        .await;

    let manifest = format!(
        r#"apiVersion: detective.operator.dev/v1alpha1
kind: DetectiveGraph
metadata:
  name: organization
  namespace: {ns}
spec:
  region: {REGION}
  organization:
    autoEnable: true
  membersFrom:
    organization:
      organizationalUnits: ["{workloads}", "{sandbox}"]
      excludeAccounts: ["630000000002"]
      refreshInterval: 2s
  deletionGuard:
    maxDeletions: 1
  resyncInterval: 2s
"#,
        ns = env.ns,
        workloads = demo::UNIT_WORKLOADS,
        sandbox = demo::UNIT_SANDBOX,
    );
    env.apply(&manifest).await;
    let chosen = ["610000000001", "610000000002", "620000000001", "630000000001"];
    let graph = env.wait_graph("organization", WAIT, "Ready", is_ready).await;
    let graphs = emulator.graphs();
    let members = &graphs
        .iter()
        .find(|g| g.administrator_id == ADMIN)
        .expect("the graph")
        .members;
    assert_eq!(
        members.iter().map(|m| m.account_id.as_str()).collect::<Vec<_>>(),
        chosen,
        "the suspended, the excluded and the unlisted OUs' accounts are not members"
    );
    assert!(
        members.iter().all(|m| m.status == MemberStatus::Enabled),
        "none INVITED: {members:?}"
    );
    for id in chosen {
        let reported = member_status(&graph, id).expect("in status");
        assert_eq!(reported["invitationType"], "ORGANIZATION", "{reported}");
    }
    let organization = &graph["status"]["organization"];
    assert_eq!(organization["autoEnable"], true, "{organization}");
    assert_eq!(organization["resolved"]["count"], 5, "{organization}");
    // AutoEnable reads back once it has propagated.
    eventually(WAIT, "AutoEnable set in AWS", || async {
        let graphs = emulator.graphs();
        if graphs.iter().all(|g| g.auto_enable) {
            Ok(())
        } else {
            let states: Vec<_> = graphs
                .iter()
                .map(|g| (&g.arn, g.organization.is_some(), g.auto_enable))
                .collect();
            Err(format!(
                "graphs (arn, organization, AutoEnable): {states:?}; calls {:?}",
                emulator.calls()
            ))
        }
    })
    .await;
    // Events are published after the status is written.
    eventually(WAIT, "the CreateMembers event", || async {
        let reasons = env.event_reasons("organization").await;
        let told = |reason: &str| reasons.iter().any(|r| r == reason);
        match (told("OrganizationAccountsEnabled"), told("MembersInvited")) {
            (true, false) => Ok(()),
            (_, true) => panic!("accounts of the organization are told enabled, not invited: {reasons:?}"),
            (false, false) => Err(format!("{reasons:?}")),
        }
    })
    .await;

    // 620000000001 moves to the security OU (not chosen): removed at the next refresh.
    emulator.merge_world(WorldPatch {
        accounts: vec![placed("620000000001", demo::UNIT_SECURITY)],
        ..WorldPatch::default()
    });
    env.wait_graph("organization", WAIT, "the moved account removed", |graph| {
        if member_status(graph, "620000000001").is_some() {
            return Err("620000000001 still a member".to_owned());
        }
        is_ready(graph)
    })
    .await;
    assert!(!member_ids(&emulator).contains("620000000001"));

    // An account joins the organization in production: a member, declared.
    emulator.merge_world(WorldPatch {
        accounts: vec![placed("610000000003", demo::UNIT_PRODUCTION)],
        ..WorldPatch::default()
    });
    env.wait_graph("organization", WAIT, "the joining account a member", |graph| {
        let member = member_status(graph, "610000000003").ok_or("610000000003 not a member yet")?;
        if member["status"] != "ENABLED" || member["declared"] != true {
            return Err(format!("610000000003: {member}"));
        }
        is_ready(graph)
    })
    .await;

    // Two accounts move out at once, more than maxDeletions (1): Stalled, none removed.
    emulator.merge_world(WorldPatch {
        accounts: vec![
            placed("610000000001", demo::UNIT_SECURITY),
            placed("610000000002", demo::UNIT_SECURITY),
        ],
        ..WorldPatch::default()
    });
    let stalled = env
        .wait_graph("organization", WAIT, "Stalled by the deletion guard", |graph| {
            has_condition(graph, "Stalled", "True")
        })
        .await;
    let reason = crate::harness::condition(&stalled, "Stalled").map(|c| c["reason"].clone());
    assert_eq!(reason, Some(serde_json::json!("DeletionGuard")), "{stalled}");
    let ids = member_ids(&emulator);
    assert!(ids.contains("610000000001") && ids.contains("610000000002"), "{ids:?}");
}

/// Malformed organization fields are refused at `kubectl apply --server-side` with the field
/// named; nothing refused is stored. No operator runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_organization_fields_are_refused_at_admission() {
    let Some(env) = Env::new("orgadmission").await else {
        return;
    };
    let cases = [
        (
            "organizationalUnits: [ou-12]",
            "spec.membersFrom.organization.organizationalUnits[0]",
        ),
        (
            "organizationalUnits: [r-abc]",
            "spec.membersFrom.organization.organizationalUnits[0]",
        ),
        (
            "organizationalUnits: [r-abcd, r-abcd]",
            "spec.membersFrom.organization.organizationalUnits: duplicate entries",
        ),
        (
            "excludeAccounts: [\"12345\"]",
            "spec.membersFrom.organization.excludeAccounts[0]",
        ),
        (
            "excludeAccounts: [\"111111111111\", \"111111111111\"]",
            "spec.membersFrom.organization.excludeAccounts: duplicate entries",
        ),
        (
            "externalId: lonely-external-id",
            "spec.membersFrom.organization.externalId: Forbidden: externalId is only used together with assumeRoleArn",
        ),
        (
            "assumeRoleArn: not-a-role",
            "spec.membersFrom.organization.assumeRoleArn",
        ),
        (
            "refreshInterval: ten minutes",
            "spec.membersFrom.organization.refreshInterval",
        ),
    ];
    for (index, (field, expected)) in cases.iter().enumerate() {
        let yaml = format!(
            "apiVersion: detective.operator.dev/v1alpha1\nkind: DetectiveGraph\nmetadata:\n  name: bad-{index}\n\
             spec:\n  membersFrom:\n    organization:\n      {field}\n"
        );
        let out = env.kubectl_stdin(&["apply", "--server-side"], &yaml).await;
        assert!(!out.success, "{field}: accepted");
        assert!(
            out.stderr.contains(expected),
            "{field}: {expected} not in {}",
            out.stderr
        );
        assert!(env.graph(&format!("bad-{index}")).await.is_none(), "{field}: stored");
    }
    let wrong_type = "apiVersion: detective.operator.dev/v1alpha1\nkind: DetectiveGraph\nmetadata:\n  name: bad-type\n\
                      spec:\n  organization:\n    autoEnable: sometimes\n";
    let out = env.kubectl_stdin(&["apply", "--server-side"], wrong_type).await;
    assert!(
        !out.success && out.stderr.contains("spec.organization.autoEnable"),
        "{}",
        out.stderr
    );
}
