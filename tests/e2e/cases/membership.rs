//! The member side: a `DetectiveMembership` accepts the invitation of another account's graph by
//! assuming a role in the member account (STS AssumeRole, answered by the emulator), and leaves
//! the graph when deleted with `deletionPolicy: Disassociate`.

use std::time::Duration;

use crate::fixtures::{create_graph, detective_client, invite};
use crate::harness::{ADMIN, Env, OperatorOptions, REGION, emulator, has_condition};

const MEMBER: &str = "260000000001";
/// The account the operator's own credentials belong to (a security tooling account).
const TOOLING: &str = "260000000099";

/// Scenario 10: a DetectiveMembership with `assumeRoleArn` into the member account accepts the
/// administrator's invitation (status.invitation.status ENABLED, Ready), and deleting it with
/// `deletionPolicy: Disassociate` leaves the graph, which stays.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn membership_accepts_and_disassociates_through_a_role() {
    let Some(env) = Env::new("membership").await else {
        return;
    };
    let emulator = emulator(Default::default()).await;
    let url = emulator.endpoint_url();

    // The administrator's graph and invitation, made outside the cluster.
    let admin = detective_client(&url, ADMIN, REGION);
    let arn = create_graph(&admin).await;
    invite(&admin, &arn, MEMBER, "member@example.com").await;

    // The operator runs as a security tooling account and reaches the member through STS.
    let role_line = format!("assumeRoleArn: arn:aws:iam::{MEMBER}:role/detective-member\n  ");
    let _operator = env.operator(OperatorOptions::new("operator", TOOLING, &url)).await;
    env.apply(&format!(
        "apiVersion: detective.operator.dev/v1alpha1
kind: DetectiveMembership
metadata:
  name: org-graph
  namespace: {ns}
spec:
  graphArn: {arn}
  {role_line}state: Accepted
  deletionPolicy: Disassociate
",
        ns = env.ns
    ))
    .await;

    let api = env.memberships();
    let membership =
        crate::harness::eventually(Duration::from_secs(60), "the membership ENABLED and Ready", || async {
            let object = crate::harness::try_get(&api, "org-graph").await?.ok_or("not found")?;
            let invitation = &object["status"]["invitation"]["status"];
            if invitation != "ENABLED" {
                return Err(format!("invitation {invitation}; status {}", object["status"]));
            }
            has_condition(&object, "Ready", "True")?;
            Ok(object)
        })
        .await;
    assert_eq!(membership["status"]["invitation"]["administratorAccountId"], ADMIN);
    let member = emulator.members(&arn).into_iter().find(|m| m.account_id == MEMBER);
    assert_eq!(member.map(|m| m.status.as_str()), Some("ENABLED"), "accepted in AWS");
    let calls = emulator.calls();
    assert!(
        calls.keys().any(|k| k.contains("AssumeRole")),
        "the operator assumed the member role: {calls:?}"
    );
    let table = env.kubectl(&["get", "dm"]).await.ok();
    let header: Vec<&str> = table.lines().next().unwrap_or_default().split_whitespace().collect();
    assert_eq!(header, ["NAME", "GRAPH", "INVITATION", "READY", "AGE"], "{table}");
    assert!(table.contains("ENABLED"), "{table}");

    env.kubectl(&["delete", "dm", "org-graph", "--wait=false"]).await.ok();
    env.wait_gone(&api, "org-graph", Duration::from_secs(60)).await;
    assert!(
        emulator.members(&arn).iter().all(|m| m.account_id != MEMBER),
        "the member left the graph: {:?}",
        emulator.members(&arn)
    );
    assert!(emulator.graphs().iter().any(|g| g.arn == arn), "the graph stays");
}
