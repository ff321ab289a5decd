//! The controller lets go of a role once no object it holds names it: the roles named in the
//! watch caches ([`HeldRoles`]) against the real `AwsAccess`, through the real SDK and the
//! emulator's STS.

#[path = "../emulator/tests/fixtures/mod.rs"]
mod fixtures;
mod support;

use std::sync::Arc;
use std::time::Duration;

use detective_operator::api::{DetectiveGraph, DetectiveMembership};
use detective_operator::aws::{AwsAccess, Detective, RoleToAssume};
use detective_operator::controller::roles::HeldRoles;
use detective_operator::http_server::Readiness;
use kube::runtime::reflector;
use kube::runtime::watcher::Event;
use serde_json::json;
use tokio::sync::{Notify, watch};

fn arn(account: u64) -> String {
    format!("arn:aws:iam::{:012}:role/detective", 300_000_000_000 + account)
}

fn graph(name: &str, role: &str, organization_role: Option<&str>) -> DetectiveGraph {
    let mut spec = json!({"assumeRoleArn": role, "members": []});
    if let Some(organization_role) = organization_role {
        spec["membersFrom"] = json!({"organization": {"assumeRoleArn": organization_role}});
    }
    serde_json::from_value(json!({
        "apiVersion": "detective.operator.dev/v1alpha1",
        "kind": "DetectiveGraph",
        "metadata": {"name": name, "namespace": "security"},
        "spec": spec,
    }))
    .expect("a DetectiveGraph")
}

fn membership(role: &str) -> DetectiveMembership {
    serde_json::from_value(json!({
        "apiVersion": "detective.operator.dev/v1alpha1",
        "kind": "DetectiveMembership",
        "metadata": {"name": "joined", "namespace": "security"},
        "spec": {
            "graphArn": "arn:aws:detective:us-east-1:123456789012:graph:0123456789abcdef0123456789abcdef",
            "assumeRoleArn": role,
        },
    }))
    .expect("a DetectiveMembership")
}

/// Acts as `role_arn` once, as a reconcile would: its credentials are then kept.
async fn act_as(access: &AwsAccess, role_arn: &str) {
    let role = RoleToAssume {
        role_arn: role_arn.to_owned(),
        external_id: None,
        session_name: None,
    };
    let detective = access.detective(None, Some(&role)).await.expect("a client");
    detective.list_graphs().await.expect("ListGraphs as the role");
}

fn held_arns(access: &AwsAccess) -> Vec<String> {
    let mut arns: Vec<String> = access.roles().into_iter().map(|r| r.role_arn).collect();
    arns.sort();
    arns
}

/// Waits until the roles `access` keeps are `expected` (sorted), at most 10 s.
async fn until_held(access: &AwsAccess, expected: &[&str]) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while held_arns(access) != expected {
        assert!(
            tokio::time::Instant::now() < deadline,
            "roles held: {:?}, expected {expected:?}",
            held_arns(access)
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_role_goes_with_the_last_object_naming_it_and_one_still_named_stays() {
    let emulator = fixtures::start_emulator().await;
    let access = Arc::new(support::emulator_access(&emulator.endpoint_url(), "123456789012", fixtures::REGION).await);
    let (graphs, mut graph_cache) = reflector::store::<DetectiveGraph>();
    let (memberships, mut membership_cache) = reflector::store::<DetectiveMembership>();
    let held = HeldRoles::default();
    held.hold(graphs);
    held.hold(memberships);

    // Graphs one and two act through role a; three through b, listing its organization through c;
    // the membership through d.
    let (a, b, c, d) = (arn(1), arn(2), arn(3), arn(4));
    let one = graph("one", &a, None);
    let two = graph("two", &a, None);
    let three = graph("three", &b, Some(&c));
    for object in [&one, &two, &three] {
        graph_cache.apply_watcher_event(&Event::Apply(object.clone()));
    }
    membership_cache.apply_watcher_event(&Event::Apply(membership(&d)));
    for role in [&a, &b, &c, &d] {
        act_as(&access, role).await;
    }
    assert_eq!(held_arns(&access), [&a, &b, &c, &d].map(String::as_str));

    let changed = Arc::new(Notify::new());
    let ready = Readiness::default();
    ready.set(true);
    let (stop, stopped) = watch::channel(false);
    let sweeping = tokio::spawn(
        held.clone()
            .release_on_change(access.clone(), changed.clone(), ready, stopped),
    );

    // Graph three and graph one deleted: b and c go, a stays for graph two, d for the membership.
    graph_cache.apply_watcher_event(&Event::Delete(three));
    graph_cache.apply_watcher_event(&Event::Delete(one));
    changed.notify_one();
    until_held(&access, &[&a, &d]).await;

    // The last graph naming a changes its role to b: a goes.
    graph_cache.apply_watcher_event(&Event::Apply(graph("two", &b, None)));
    act_as(&access, &b).await;
    changed.notify_one();
    until_held(&access, &[&b, &d]).await;

    // Still named, the kept roles call with the credentials they have: d was assumed once.
    act_as(&access, &d).await;
    let calls = emulator.calls();
    assert_eq!(calls.get("AssumeRole"), Some(&5), "a, b, c, d, then b again: {calls:?}");

    stop.send(true).expect("the sweep is running");
    sweeping.await.expect("the sweep ends on stop");
    emulator.shutdown().await;
}
