//! A `DetectiveGraphSet` keeps one `DetectiveGraph` per Region on the real API server, with the
//! operator bound to the chart's RBAC: children created, owned and labelled, their status rolled
//! up; a template edit reaches every child; a child edited by hand is put back; Regions added and
//! removed under each `regionRemoval`; a name taken by another graph stalls the set and is never
//! taken over; the set's deletion leaves the children to the garbage collector.
//!
//! The test API server runs no controller-manager, so no garbage collector: deleting the set
//! cannot cascade here. What the cascade rests on is asserted instead (each child's controller
//! owner reference to the set, `blockOwnerDeletion`), and that deleting the set touches nothing
//! in AWS.

use std::collections::BTreeSet;
use std::time::Duration;

use kube::api::{Api, DynamicObject};
use serde_json::Value;

use crate::harness::{
    ADMIN, Env, OperatorOptions, accepting_world, emulator, eventually, get, has_condition, is_ready, resource, try_get,
};

const MEMBERS: [&str; 2] = ["310000000001", "310000000002"];
const WAIT: Duration = Duration::from_secs(90);

fn sets(env: &Env) -> Api<DynamicObject> {
    Api::namespaced_with(
        env.client.clone(),
        &env.ns,
        &resource("DetectiveGraphSet", "detectivegraphsets"),
    )
}

/// The set `org` over `regions`, with a `team` label, `message` as the invitation message.
fn set_manifest(ns: &str, regions: &[&str], removal: &str, message: &str) -> String {
    let members: String = MEMBERS
        .iter()
        .map(|id| format!("        - {{accountId: \"{id}\", emailAddress: root+{id}@example.com}}\n"))
        .collect();
    format!(
        "apiVersion: detective.operator.dev/v1alpha1
kind: DetectiveGraphSet
metadata:
  name: org
  namespace: {ns}
spec:
  regions: [{}]
  regionRemoval: {removal}
  template:
    metadata:
      labels: {{team: security}}
      annotations: {{owner: security-team}}
    spec:
      invitation: {{message: \"{message}\"}}
      resyncInterval: 5m
      members:
{members}",
        regions.join(", ")
    )
}

/// Waits until the set is Ready for its current generation with `regions` rolled up, each
/// Ready; returns the set.
async fn wait_set_ready(env: &Env, regions: &[&str]) -> Value {
    let api = sets(env);
    let want: Vec<String> = regions.iter().map(|r| r.to_string()).collect();
    eventually(WAIT, "the set Ready with every Region", || async {
        let set = try_get(&api, "org").await?.ok_or("no set")?;
        is_ready(&set)?;
        let status = &set["status"];
        let listed: Vec<String> = status["regions"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|r| r["region"].as_str().map(str::to_owned))
            .collect();
        if listed != want || status["readyRegions"] != regions.len() || status["declaredRegions"] != regions.len() {
            return Err(format!("regions {listed:?}: {status}"));
        }
        Ok(set)
    })
    .await
}

/// How many times the set's events of `reason` were published (an event repeated within a few
/// minutes is counted in its `series`).
async fn events(env: &Env, reason: &str) -> u64 {
    env.events_about("org")
        .await
        .iter()
        .filter(|e| e["reason"] == reason)
        .map(|e| e["series"]["count"].as_u64().unwrap_or(1))
        .sum()
}

/// The child of `region`, which must exist.
async fn child(env: &Env, region: &str) -> Value {
    get(&env.graphs(), &format!("org-{region}"))
        .await
        .unwrap_or_else(|| panic!("org-{region} exists"))
}

/// The child is the set's: named, labelled, annotated, owned (controller), with the template's
/// spec and its Region.
fn assert_owned_child(child: &Value, set: &Value, region: &str) {
    let meta = &child["metadata"];
    assert_eq!(meta["labels"]["detective.operator.dev/graph-set"], "org", "{meta}");
    assert_eq!(meta["labels"]["team"], "security", "{meta}");
    assert_eq!(meta["annotations"]["owner"], "security-team", "{meta}");
    let owners = meta["ownerReferences"].as_array().expect("ownerReferences");
    assert_eq!(owners.len(), 1, "{owners:?}");
    let owner = &owners[0];
    assert_eq!(
        (&owner["kind"], &owner["name"], &owner["uid"]),
        (&"DetectiveGraphSet".into(), &"org".into(), &set["metadata"]["uid"])
    );
    assert_eq!(
        (&owner["controller"], &owner["blockOwnerDeletion"]),
        (&true.into(), &true.into())
    );
    assert_eq!(child["spec"]["region"], region);
    let members: BTreeSet<&str> = child["spec"]["members"]
        .as_array()
        .expect("members")
        .iter()
        .filter_map(|m| m["accountId"].as_str())
        .collect();
    assert_eq!(members, MEMBERS.into_iter().collect());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_set_keeps_one_graph_per_region() {
    let Some(env) = Env::new("graphset").await else { return };
    let emulator = emulator(accepting_world(MEMBERS)).await;
    let _operator = env
        .operator(OperatorOptions::new("operator", ADMIN, &emulator.endpoint_url()))
        .await;
    let ns = env.ns.clone();

    // Three Regions: three children, created, owned, Ready; the status rolled up.
    let three = ["us-east-1", "us-west-2", "eu-west-1"];
    env.apply(&set_manifest(&ns, &three, "Retain", "hello")).await;
    let set = wait_set_ready(&env, &three).await;
    has_condition(&set, "Stalled", "False").unwrap();
    assert_eq!(set["status"]["ready"], "3/3");
    for (i, region) in three.iter().enumerate() {
        let child = child(&env, region).await;
        assert_owned_child(&child, &set, region);
        is_ready(&child).unwrap();
        let entry = &set["status"]["regions"][i];
        assert_eq!(entry["name"], format!("org-{region}"));
        assert_eq!(entry["ready"], true);
        assert_eq!(entry["graphArn"], child["status"]["graphArn"], "{entry}");
        assert_eq!(
            (&entry["desired"], &entry["enabled"]),
            (&2.into(), &2.into()),
            "{entry}"
        );
        assert_eq!((&entry["pending"], &entry["failed"]), (&0.into(), &0.into()), "{entry}");
    }
    let in_aws: BTreeSet<String> = emulator.graphs().into_iter().map(|g| g.region).collect();
    assert_eq!(in_aws, three.map(String::from).into(), "one graph per Region in AWS");
    let table = env.kubectl(&["get", "dgs"]).await.ok();
    let header: Vec<&str> = table.lines().next().unwrap_or_default().split_whitespace().collect();
    assert_eq!(header, ["NAME", "READY", "AGE"], "{table}");
    let row: Vec<&str> = table.lines().nth(1).unwrap_or_default().split_whitespace().collect();
    assert_eq!(&row[..2], ["org", "3/3"], "{table}");
    assert_eq!(events(&env, "RegionAdded").await, 3);

    // A template edit reaches every child (generation 2 each), with no membership write.
    emulator.reset_calls();
    env.apply(&set_manifest(&ns, &three, "Retain", "a new message")).await;
    eventually(WAIT, "every child at generation 2 and Ready", || async {
        for region in three {
            let child = try_get(&env.graphs(), &format!("org-{region}")).await?.ok_or("gone")?;
            if child["spec"]["invitation"]["message"] != "a new message" || child["metadata"]["generation"] != 2 {
                return Err(format!("{region}: {}", child["spec"]["invitation"]));
            }
            is_ready(&child)?;
        }
        Ok(())
    })
    .await;
    wait_set_ready(&env, &three).await;
    let calls = emulator.calls();
    assert!(!calls.contains_key("CreateMembers"), "{calls:?}");

    // A child edited by hand is put back.
    let edited = env
        .kubectl(&[
            "patch",
            "dg",
            "org-us-west-2",
            "--type=merge",
            "-p",
            r#"{"spec":{"suspend":true,"invitation":{"message":"by hand"}}}"#,
        ])
        .await;
    assert!(edited.success, "{}", edited.stderr);
    eventually(WAIT, "the hand edit reverted", || async {
        let child = try_get(&env.graphs(), "org-us-west-2").await?.ok_or("gone")?;
        let spec = &child["spec"];
        if spec["suspend"] != false || spec["invitation"]["message"] != "a new message" {
            return Err(format!("{spec}"));
        }
        Ok(())
    })
    .await;

    // "Reconcile now" on the set: recorded by the set and passed on to every child, which
    // reads AWS again and records it too.
    let requested = "2026-12-06T05:00:00Z";
    let annotation = format!("reconcile.fluxcd.io/requestedAt={requested}");
    emulator.reset_calls();
    let annotate = env.kubectl(&["annotate", "--overwrite", "dgs/org", &annotation]).await;
    assert!(annotate.success, "{}", annotate.stderr);
    eventually(WAIT, "the request handled by the set and every child", || async {
        let set = try_get(&sets(&env), "org").await?.ok_or("no set")?;
        let handled = |object: &Value| object["status"]["lastHandledReconcileAt"] == requested;
        if !handled(&set) {
            return Err(format!("set: {}", set["status"]["lastHandledReconcileAt"]));
        }
        for region in three {
            let child = try_get(&env.graphs(), &format!("org-{region}")).await?.ok_or("gone")?;
            if !handled(&child) {
                return Err(format!("{region}: {}", child["status"]["lastHandledReconcileAt"]));
            }
        }
        Ok(())
    })
    .await;
    let reads = emulator.calls().get("ListMembers").copied().unwrap_or(0);
    assert!(
        reads >= 3,
        "every Region read again inside its 5-minute resync: {reads} ListMembers"
    );

    // eu-west-1 removed under Retain, ap-southeast-2 added: the removed child stays, released.
    let next = ["us-east-1", "us-west-2", "ap-southeast-2"];
    env.apply(&set_manifest(&ns, &next, "Retain", "a new message")).await;
    let set = wait_set_ready(&env, &next).await;
    assert_owned_child(&child(&env, "ap-southeast-2").await, &set, "ap-southeast-2");
    let released = child(&env, "eu-west-1").await;
    let meta = &released["metadata"];
    assert!(
        meta["ownerReferences"].as_array().is_none_or(Vec::is_empty),
        "no owner any more: {meta}"
    );
    assert!(meta["labels"]["detective.operator.dev/graph-set"].is_null(), "{meta}");
    assert_eq!(meta["labels"]["team"], "security", "the template's own labels stay");
    let eu_graph = released["status"]["graphArn"].as_str().expect("graphArn").to_owned();

    // us-west-2 removed under Delete: the child is deleted, its own deletionPolicy (Retain)
    // leaves its graph and members in AWS.
    let west_graph = child(&env, "us-west-2").await["status"]["graphArn"]
        .as_str()
        .expect("graphArn")
        .to_owned();
    let last = ["us-east-1", "ap-southeast-2"];
    env.apply(&set_manifest(&ns, &last, "Delete", "a new message")).await;
    env.wait_gone(&env.graphs(), "org-us-west-2", WAIT).await;
    wait_set_ready(&env, &last).await;
    assert!(
        get(&env.graphs(), "org-eu-west-1").await.is_some(),
        "the released child is never the set's again"
    );
    for arn in [&west_graph, &eu_graph] {
        assert_eq!(emulator.members(arn).len(), 2, "{arn} keeps its members");
    }
    assert_eq!(events(&env, "RegionRemoved").await, 2);

    // Deleting the set: without a garbage collector here, the children stay, owned by the set
    // (what the garbage collector deletes them by); nothing happens in AWS.
    let set = get(&sets(&env), "org").await.expect("the set");
    emulator.reset_calls();
    env.kubectl(&["delete", "dgs", "org", "--wait=true"]).await.ok();
    env.wait_gone(&sets(&env), "org", WAIT).await;
    for region in last {
        assert_owned_child(&child(&env, region).await, &set, region);
    }
    let writes: Vec<String> = emulator
        .calls()
        .into_keys()
        .filter(|op| !op.starts_with("List") && !op.starts_with("Get") && !op.starts_with("Describe"))
        .collect();
    assert!(writes.is_empty(), "deleting the set writes nothing to AWS: {writes:?}");
}

/// A `DetectiveGraph` already named like a child, not the set's: the set is Stalled naming it
/// (reason ChildConflict, one Warning event) and the graph is never changed; the other Region's
/// child is made as usual.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_name_taken_by_another_graph_stalls_the_set_and_is_never_taken_over() {
    let Some(env) = Env::new("graphset-clash").await else {
        return;
    };
    let emulator = emulator(accepting_world(MEMBERS)).await;
    let ns = env.ns.clone();
    let foreign = format!(
        "apiVersion: detective.operator.dev/v1alpha1
kind: DetectiveGraph
metadata: {{name: org-eu-west-1, namespace: {ns}}}
spec:
  region: eu-west-1
  suspend: true
  members: []
"
    );
    env.apply(&foreign).await;
    let before = get(&env.graphs(), "org-eu-west-1").await.expect("the graph");
    let _operator = env
        .operator(OperatorOptions::new("operator", ADMIN, &emulator.endpoint_url()))
        .await;
    env.apply(&set_manifest(&ns, &["us-east-1", "eu-west-1"], "Retain", "hello"))
        .await;
    let set = eventually(WAIT, "the set Stalled by the name clash", || async {
        let set = try_get(&sets(&env), "org").await?.ok_or("no set")?;
        has_condition(&set, "Stalled", "True")?;
        let regions = &set["status"]["regions"];
        if regions[0]["ready"] != true {
            return Err(format!("us-east-1 not Ready yet: {regions}"));
        }
        Ok(set)
    })
    .await;
    let stalled = crate::harness::condition(&set, "Stalled").expect("Stalled");
    assert_eq!(stalled["reason"], "ChildConflict", "{stalled}");
    let message = stalled["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("eu-west-1") && message.contains("org-eu-west-1"),
        "{message}"
    );
    assert_eq!(set["status"]["regions"][1]["stalledReason"], "ChildConflict");
    assert_eq!(set["status"]["ready"], "1/2");

    let after = get(&env.graphs(), "org-eu-west-1").await.expect("the graph");
    assert_eq!(after["spec"], before["spec"], "never taken over");
    assert!(after["metadata"]["ownerReferences"].is_null(), "{}", after["metadata"]);
    assert!(after["metadata"]["labels"].is_null(), "{}", after["metadata"]);
    assert!(
        emulator.graphs().iter().all(|g| g.region != "eu-west-1"),
        "the suspended graph made no call"
    );
    assert_eq!(events(&env, "ChildConflict").await, 1);
}
