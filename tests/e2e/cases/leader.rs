//! Two replicas with leader election over the chart's Lease: only the holder reconciles; when it
//! dies (SIGKILL: the Lease must expire) or stops (SIGTERM: it releases the Lease), the other takes
//! over and reconciles what changed meanwhile.

use std::time::{Duration, Instant};

use crate::harness::rbac::lease_name;
use crate::harness::{
    ADMIN, Env, Operator, OperatorOptions, accepting_world, emulator, eventually, graph_manifest, is_ready,
};

/// The operator's AWS call counter (`/metrics`).
const AWS_CALLS: &str = "detective_operator_aws_calls_total";

/// A reconcile of a DetectiveGraph, as the operator's span prints it.
const RECONCILE: &str = "reconcile{kind=\"DetectiveGraph\"";

/// Starts replicas a and b, waits for a holder; returns (leader, standby).
async fn elect(env: &Env, endpoint: &str, lease: &str) -> (Operator, Operator) {
    let a = env
        .operator(OperatorOptions::new("replica-a", ADMIN, endpoint).leader_elect(lease))
        .await;
    let b = env
        .operator(OperatorOptions::new("replica-b", ADMIN, endpoint).leader_elect(lease))
        .await;
    let id = eventually(Duration::from_secs(30), "a Lease holder", || env.lease_holder(lease)).await;
    // The operator suffixes --identity to keep two processes of one pod apart.
    if id.starts_with("replica-a-") {
        (a, b)
    } else if id.starts_with("replica-b-") {
        (b, a)
    } else {
        panic!("unexpected Lease holder {id}")
    }
}

/// Waits until the Lease names a holder other than `old_holder`, and checks that it is `standby`.
async fn standby_holds_the_lease(env: &Env, lease: &str, old_holder: &str, standby: &Operator) {
    let new_holder = eventually(Duration::from_secs(60), "the standby to hold the Lease", || async {
        let id = env.lease_holder(lease).await?;
        if id != old_holder {
            Ok(id)
        } else {
            Err(format!("still {id}"))
        }
    })
    .await;
    assert!(new_holder.starts_with(&format!("{}-", standby.name)), "{new_holder}");
}

fn members(ids: &[&'static str]) -> Vec<(&'static str, &'static str)> {
    ids.iter().map(|id| (*id, "ops@example.com")).collect()
}

/// Scenario 8: only the leader reconciles (logs and AWS calls); SIGKILL it, change the spec,
/// and the standby takes over once the Lease expires and reconciles the change.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn standby_takes_over_when_the_leader_is_killed() {
    let Some(env) = Env::new("leader-kill").await else {
        return;
    };
    let accounts = ["270000000001", "270000000002", "270000000003"];
    let emulator = emulator(accepting_world(accounts)).await;
    let lease = lease_name(&env);
    let (mut leader, standby) = elect(&env, &emulator.endpoint_url(), &lease).await;

    env.apply(&graph_manifest(
        "ha",
        &env.ns,
        &members(&accounts[..2]),
        "region: us-east-1",
    ))
    .await;
    env.wait_graph("ha", Duration::from_secs(60), "Ready", is_ready).await;
    assert!(leader.log().contains(RECONCILE), "the leader reconciles");
    assert!(
        !standby.log().contains(RECONCILE),
        "the standby does not reconcile:\n{}",
        standby.log()
    );
    assert!(leader.counter(AWS_CALLS).await > 0.0, "the leader made the AWS calls");
    assert_eq!(standby.counter(AWS_CALLS).await, 0.0, "the standby made no AWS call");

    let old_holder = env.lease_holder(&lease).await.unwrap();
    leader.kill();
    let killed = Instant::now();
    // A change made after the kill, for the standby to reconcile.
    env.apply(&graph_manifest("ha", &env.ns, &members(&accounts), "region: us-east-1"))
        .await;
    standby_holds_the_lease(&env, &lease, &old_holder, &standby).await;
    let graph = env
        .wait_graph("ha", Duration::from_secs(60), "Ready with the third member", |g| {
            is_ready(g)?;
            match g["status"]["summary"]["enabled"].as_i64() {
                Some(3) => Ok(()),
                other => Err(format!("enabled {other:?}")),
            }
        })
        .await;
    assert_eq!(graph["status"]["observedGeneration"], 2);
    assert!(standby.log().contains(RECONCILE), "the new leader reconciles");
    assert!(
        standby.counter(AWS_CALLS).await > 0.0,
        "the new leader makes the AWS calls"
    );
    eprintln!("takeover after SIGKILL: {:.1?}", killed.elapsed());
}

/// Scenario 8 (graceful): SIGTERM lets the leader exit cleanly and release the Lease (no holder
/// left); the standby takes it over and reconciles.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn terminated_leader_releases_the_lease() {
    let Some(env) = Env::new("leader-term").await else {
        return;
    };
    let accounts = ["280000000001", "280000000002"];
    let emulator = emulator(accepting_world(accounts)).await;
    let lease = lease_name(&env);
    let (mut leader, standby) = elect(&env, &emulator.endpoint_url(), &lease).await;
    let old_holder = env.lease_holder(&lease).await.unwrap();
    let duration: u64 = env
        .kubectl(&["get", "lease", &lease, "-o", "jsonpath={.spec.leaseDurationSeconds}"])
        .await
        .ok()
        .trim()
        .parse()
        .expect("leaseDurationSeconds");

    let status = leader
        .terminate(Duration::from_secs(60))
        .expect("the leader exits on SIGTERM");
    assert!(status.success(), "a clean exit on SIGTERM: {status}\n{}", leader.log());
    // The clock starts once the leader is gone: how long it took to exit is not the point.
    let exited = Instant::now();
    // Released: the Lease names no holder (until the standby takes it). A lease that merely
    // expires would still name the stopped leader here, for up to leaseDurationSeconds.
    let after_exit = env.lease_holder(&lease).await;
    assert!(
        after_exit.as_ref().is_err() || after_exit.as_ref().is_ok_and(|id| id != &old_holder),
        "the Lease still names the stopped leader ({duration}s Lease): {after_exit:?}"
    );
    standby_holds_the_lease(&env, &lease, &old_holder, &standby).await;
    eprintln!(
        "takeover after SIGTERM: {:.1?} after the leader exited ({duration}s Lease)",
        exited.elapsed()
    );
    env.apply(&graph_manifest("ha", &env.ns, &members(&accounts), "region: us-east-1"))
        .await;
    env.wait_graph("ha", Duration::from_secs(60), "Ready", is_ready).await;
    assert!(standby.log().contains(RECONCILE), "the new leader reconciles");
}
