//! Deleting a `DetectiveGraph`: the finalizer applies `deletionPolicy` in AWS, then goes; the
//! orphan annotation releases a resource whose cleanup cannot succeed.
//!
//! Namespaces never finish terminating on this control plane (no controller-manager), so the
//! tests delete the objects themselves and check that they are gone.

use std::collections::BTreeSet;
use std::time::Duration;

use detective_emulator::Fault;

use crate::fixtures::{create_graph, detective_client, invite};
use crate::harness::{ADMIN, Env, OperatorOptions, emulator, eventually, graph_manifest, ids};

/// Scenario 5: `Delete` removes the inventory's members, and the graph only if the resource
/// created it; `Retain` leaves graph and members; either way the finalizer goes and the object is
/// gone. A cleanup that keeps failing holds the object until the orphan annotation releases it,
/// without touching AWS.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deletion_policies_are_applied() {
    let Some(env) = Env::new("deletion").await else { return };
    let emulator = emulator(Default::default()).await;
    let url = emulator.endpoint_url();

    // A graph that exists before the operator (in eu-west-1), with a member nobody declares.
    let admin = detective_client(&url, ADMIN, "eu-west-1");
    let existing = create_graph(&admin).await;
    let outsider = "240000000099";
    invite(&admin, &existing, outsider, "outsider@example.com").await;

    let mut operator = env.operator(OperatorOptions::new("operator", ADMIN, &url)).await;
    // (name, region, policy, members)
    let resources = [
        (
            "delete-created",
            "us-east-1",
            "Delete",
            ["240000000001", "240000000002"],
        ),
        ("retain", "us-west-2", "Retain", ["240000000011", "240000000012"]),
        (
            "delete-adopted",
            "eu-west-1",
            "Delete",
            ["240000000021", "240000000022"],
        ),
        ("orphaned", "eu-central-1", "Delete", ["240000000031", "240000000032"]),
    ];
    for (name, region, policy, members) in &resources {
        let members: Vec<(&str, &str)> = members.iter().map(|m| (*m, "ops@example.com")).collect();
        env.apply(&graph_manifest(
            name,
            &env.ns,
            &members,
            &format!("region: {region}\ndeletionPolicy: {policy}"),
        ))
        .await;
    }
    let mut arns = std::collections::BTreeMap::new();
    for (name, _, _, members) in &resources {
        let want: BTreeSet<String> = members.iter().map(|m| m.to_string()).collect();
        let graph = env
            .wait_graph(
                name,
                Duration::from_secs(60),
                "members invited and in the inventory",
                |g| {
                    let inventory = ids(&g["status"]["inventory"]);
                    if inventory == want {
                        Ok(())
                    } else {
                        Err(format!("inventory {inventory:?}"))
                    }
                },
            )
            .await;
        arns.insert(
            *name,
            graph["status"]["graphArn"].as_str().expect("graphArn").to_owned(),
        );
    }
    assert_eq!(arns["delete-adopted"], existing, "the existing graph was adopted");
    let graph_members =
        |arn: &str| -> BTreeSet<String> { emulator.members(arn).into_iter().map(|m| m.account_id).collect() };
    let graph_exists = |arn: &str| emulator.graphs().iter().any(|g| g.arn == arn);

    for name in ["delete-created", "retain", "delete-adopted"] {
        env.kubectl(&["delete", "dg", name, "--wait=false"]).await.ok();
    }
    for name in ["delete-created", "retain", "delete-adopted"] {
        env.wait_gone(&env.graphs(), name, Duration::from_secs(60)).await;
    }
    // Delete + created by the resource: members and graph gone.
    assert!(
        !graph_exists(&arns["delete-created"]),
        "the graph the resource created is deleted"
    );
    // Retain: all stays.
    assert_eq!(
        graph_members(&arns["retain"]),
        ["240000000011", "240000000012"].map(String::from).into(),
        "Retain leaves the members"
    );
    // Delete + adopted: the managed members go, the graph and the undeclared member stay.
    assert!(graph_exists(&existing), "an adopted graph is never deleted");
    assert_eq!(
        graph_members(&existing),
        [outsider.to_owned()].into(),
        "only the inventory is removed"
    );

    // A cleanup that cannot succeed holds the object.
    emulator.inject_fault(Fault::internal_error().on("DeleteMembers"));
    let failed_before = emulator.calls().get("DeleteMembers").copied().unwrap_or(0);
    env.kubectl(&["delete", "dg", "orphaned", "--wait=false"]).await.ok();
    // One cleanup that failed through all of the SDK's 5 attempts.
    eventually(
        Duration::from_secs(90),
        "a cleanup failed through its retries",
        || async {
            let attempts = emulator.calls().get("DeleteMembers").copied().unwrap_or(0);
            if attempts >= failed_before + 5 {
                Ok(())
            } else {
                Err(format!("{} DeleteMembers calls", attempts - failed_before))
            }
        },
    )
    .await;
    let held = env
        .graph("orphaned")
        .await
        .expect("held by its finalizer while the cleanup fails");
    assert!(held["metadata"]["deletionTimestamp"].is_string(), "{held}");
    assert_eq!(held["metadata"]["finalizers"][0], "detective.operator.dev/cleanup");

    // The escape hatch: released without a single Detective call. The operator that kept
    // retrying the cleanup is stopped first, so that no retry it had scheduled can come after
    // the annotation; the next one finds the resource annotated.
    operator.kill();
    let total_calls = || emulator.calls().values().sum::<u64>();
    let before_annotation = emulator.calls();
    env.kubectl(&["annotate", "dg", "orphaned", "detective.operator.dev/orphan=true"])
        .await
        .ok();
    let _operator = env.operator(OperatorOptions::new("operator-2", ADMIN, &url)).await;
    env.wait_gone(&env.graphs(), "orphaned", Duration::from_secs(30)).await;
    assert_eq!(
        total_calls(),
        before_annotation.values().sum::<u64>(),
        "the orphan annotation releases the resource without touching AWS: calls before {before_annotation:?}, \
         after {:?}",
        emulator.calls()
    );
    emulator.clear_faults();
    assert!(graph_exists(&arns["orphaned"]), "an orphaned resource's graph stays");
    assert_eq!(
        graph_members(&arns["orphaned"]),
        ["240000000031", "240000000032"].map(String::from).into(),
        "an orphaned resource's members stay"
    );
}
