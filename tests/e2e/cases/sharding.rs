//! Several processes splitting the work: by kind (`--kinds`) and by label selector
//! (`--watch-label-selector`, one Lease per shard), and an object relabelled from one shard to
//! another, which moves without an AWS write.

use std::time::Duration;

use crate::harness::control_plane::OPERATOR_USER;
use crate::harness::operator::{INITIAL_LIST_DONE, Operator};
use crate::harness::{ADMIN, Env, OperatorOptions, accepting_world, emulator, eventually, is_ready};

const SHARD_LABEL: &str = "detective.operator.dev/shard";

/// A graph in its own Region (one graph per account and Region) with one member; labelled with
/// `shard` when given.
fn graph(env: &Env, name: &str, shard: Option<&str>, region: &str, member: &str) -> String {
    let labels = shard.map_or_else(String::new, |shard| {
        format!("  labels:\n    {SHARD_LABEL}: \"{shard}\"\n")
    });
    format!(
        "apiVersion: detective.operator.dev/v1alpha1\nkind: DetectiveGraph\nmetadata:\n  name: {name}\n  \
         namespace: {ns}\n{labels}spec:\n  region: {region}\n  members:\n    - accountId: \"{member}\"\n      \
         emailAddress: root+{member}@example.com\n",
        ns = env.ns
    )
}

/// Lets the operator user hold the shards' Leases, as the chart's `shards` grants each shard its
/// own (the chart's default RBAC, bound by the harness, names one Lease).
async fn grant_leases(env: &Env, leases: &[&str]) {
    let role = serde_json::json!({
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": {"name": "shard-leases"},
        "rules": [
            {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "verbs": ["create"]},
            {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "resourceNames": leases, "verbs": ["get", "patch"]},
        ],
    });
    let binding = serde_json::json!({
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": {"name": "shard-leases"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "shard-leases"},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": OPERATOR_USER}],
    });
    let list = serde_json::json!({"apiVersion": "v1", "kind": "List", "items": [role, binding]});
    env.apply(&list.to_string()).await;
}

/// The resources whose series the operator's /metrics holds (its `name` labels).
async fn reported_names(operator: &Operator) -> Vec<String> {
    let (status, body) = operator.get("/metrics").await;
    assert_eq!(status, 200, "{body}");
    let mut names: Vec<String> = body
        .lines()
        .filter(|line| line.starts_with("detective_operator_resource_condition{"))
        .filter_map(|line| Some(line.split("name=\"").nth(1)?.split('"').next()?.to_owned()))
        .collect();
    names.sort_unstable();
    names.dedup();
    names
}

/// Whether the operator reports `name` Ready.
async fn reports_ready(operator: &Operator, ns: &str, name: &str) -> bool {
    let ready = format!(
        "detective_operator_resource_condition{{kind=\"DetectiveGraph\",namespace=\"{ns}\",name=\"{name}\",type=\"Ready\",status=\"True\"}} 1"
    );
    operator.get("/metrics").await.1.lines().any(|line| line == ready)
}

/// Two graph shards (one Lease each) and a process for the other kinds: each reconciles only its
/// own objects, an unlabelled graph belongs to no shard, and the other-kinds process never
/// watches graphs. Relabelling a graph to the other shard moves it: the old shard forgets it
/// (no teardown, its finalizer stays), the new one adopts it from its status, and AWS sees only
/// reads.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kinds_and_shards_split_the_objects_and_a_relabelled_graph_moves_without_an_aws_write() {
    let Some(env) = Env::new("shards").await else { return };
    let emulator = emulator(accepting_world(["111111111111", "222222222222", "333333333333"])).await;
    let endpoint = emulator.endpoint_url();
    let shard = |n: &str| {
        OperatorOptions::new(&format!("shard-{n}"), ADMIN, &endpoint)
            .leader_elect(&format!("detective-operator-shard-{n}"))
            .args(&[
                "--kinds",
                "graph",
                "--watch-label-selector",
                &format!("{SHARD_LABEL}={n}"),
            ])
    };
    grant_leases(&env, &["detective-operator-shard-0", "detective-operator-shard-1"]).await;
    let shard0 = env.operator(shard("0")).await;
    let shard1 = env.operator(shard("1")).await;
    let others = env
        .operator(OperatorOptions::new("others", ADMIN, &endpoint).args(&["--kinds", "membership,organizationadmin"]))
        .await;

    env.apply(&graph(&env, "unsharded", None, "eu-west-1", "333333333333"))
        .await;
    env.apply(&graph(&env, "g0", Some("0"), "us-east-1", "111111111111"))
        .await;
    env.apply(&graph(&env, "g1", Some("1"), "us-west-2", "222222222222"))
        .await;
    let g0 = env.wait_graph("g0", Duration::from_secs(60), "Ready", is_ready).await;
    env.wait_graph("g1", Duration::from_secs(60), "Ready", is_ready).await;

    // Each shard reconciled its own graph and holds its own Lease.
    for (operator, name) in [(&shard0, "g0"), (&shard1, "g1")] {
        eventually(
            Duration::from_secs(30),
            &format!("{} reports {name}", operator.name),
            || async {
                match reported_names(operator).await {
                    names if names == [name] => Ok(()),
                    names => Err(format!("reports {names:?}")),
                }
            },
        )
        .await;
        let lease = format!("detective-operator-{}", operator.name);
        let holder = env.lease_holder(&lease).await.expect("the shard's Lease has a holder");
        assert!(holder.starts_with(&operator.name), "{lease} held by {holder}");
    }
    // The unlabelled graph is no shard's: untouched in the cluster and in AWS.
    let unsharded = env.graph("unsharded").await.expect("unsharded exists");
    assert!(unsharded["metadata"]["finalizers"].is_null(), "{unsharded}");
    assert!(unsharded["status"].is_null(), "{unsharded}");
    let regions: Vec<String> = emulator
        .graphs()
        .iter()
        .map(|g| g.arn.split(':').nth(3).unwrap().to_owned())
        .collect();
    assert_eq!(regions.len(), 2, "one graph per shard: {regions:?}");
    assert!(!regions.iter().any(|r| r == "eu-west-1"), "{regions:?}");
    // The other kinds' process listed memberships and organization admins, never graphs.
    assert_eq!(reported_names(&others).await, Vec::<String>::new());
    let log = others.log();
    let listed: Vec<&str> = log.lines().filter(|l| l.contains(INITIAL_LIST_DONE)).collect();
    for kind in ["DetectiveMembership", "DetectiveOrganizationAdmin"] {
        assert!(
            listed.iter().any(|l| l.contains(&format!("kind=\"{kind}\""))),
            "{kind}: {listed:?}"
        );
    }
    assert!(
        !log.contains("kind=\"DetectiveGraph\""),
        "the graph watch runs elsewhere:\n{log}"
    );

    // g0 moves to shard 1.
    let members_before = emulator.members(g0["status"]["graphArn"].as_str().expect("graphArn"));
    emulator.reset_calls();
    let relabel = env
        .kubectl(&["label", "--overwrite", "dg/g0", &format!("{SHARD_LABEL}=1")])
        .await;
    assert!(relabel.success, "{}", relabel.stderr);
    eventually(
        Duration::from_secs(60),
        "shard 1 reports g0 Ready and shard 0 forgot it",
        || async {
            let (old, new) = (
                reported_names(&shard0).await,
                reports_ready(&shard1, &env.ns, "g0").await,
            );
            if old.is_empty() && new {
                Ok(())
            } else {
                Err(format!("shard 0 reports {old:?}; shard 1 reports g0 Ready: {new}"))
            }
        },
    )
    .await;
    let calls = emulator.calls();
    let writes: Vec<&String> = calls
        .keys()
        .filter(|op| {
            !["List", "Get", "Describe", "BatchGet"]
                .iter()
                .any(|read| op.starts_with(read))
        })
        .collect();
    assert!(writes.is_empty(), "the move wrote to AWS: {calls:?}");
    assert!(
        calls.contains_key("ListMembers") || calls.contains_key("GetMembers"),
        "shard 1 read g0: {calls:?}"
    );
    let moved = env.graph("g0").await.expect("g0 exists");
    assert_eq!(
        moved["status"]["graphArn"], g0["status"]["graphArn"],
        "adopted from its status"
    );
    assert_eq!(
        moved["metadata"]["finalizers"], g0["metadata"]["finalizers"],
        "no teardown"
    );
    assert!(moved["metadata"]["deletionTimestamp"].is_null());
    let arn = g0["status"]["graphArn"].as_str().unwrap();
    assert_eq!(format!("{:?}", emulator.members(arn)), format!("{members_before:?}"));
}
