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

/// SIGTERM in the middle of a reconcile: the process finishes it (every CreateMembers batch sent,
/// the status written) before it exits, cleanly; it starts no new one. Each CreateMembers is held
/// 1 s, so the four batches of 200 accounts are still in flight when the signal comes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_the_reconcile_in_flight_finish() {
    let Some(env) = Env::new("sigterm").await else {
        return;
    };
    let accounts: Vec<String> = (0..200).map(|i| format!("{}", 281_000_000_000u64 + i)).collect();
    let emulator = emulator(accepting_world(accounts.iter().map(String::as_str))).await;
    emulator.inject_fault(detective_emulator::Fault::latency(Duration::from_secs(1)).on("CreateMembers"));
    let mut operator = env
        .operator(OperatorOptions::new("operator", ADMIN, &emulator.endpoint_url()))
        .await;
    let members: Vec<(&str, &str)> = accounts.iter().map(|a| (a.as_str(), "ops@example.com")).collect();
    env.apply(&graph_manifest("inflight", &env.ns, &members, "region: us-east-1"))
        .await;
    // The signal comes once the first batch is in flight (counted when the call arrives).
    eventually(Duration::from_secs(60), "the first CreateMembers", || async {
        match emulator.calls().get("CreateMembers") {
            Some(_) => Ok(()),
            None => Err("no CreateMembers yet".to_owned()),
        }
    })
    .await;
    let status = operator
        .terminate(Duration::from_secs(60))
        .expect("the operator exits on SIGTERM");
    assert!(
        status.success(),
        "a clean exit on SIGTERM: {status}\n{}",
        operator.log()
    );
    let log = operator.log();
    assert!(log.contains("finishing in-flight reconciles"), "{log}");
    let created = emulator.graphs().first().map_or(0, |g| g.members.len());
    assert_eq!(created, accounts.len(), "every batch was sent before the exit");
    assert_eq!(emulator.calls().get("CreateMembers"), Some(&4));
    let graph = env.graph("inflight").await.expect("the graph");
    assert_eq!(
        graph["status"]["summary"]["desired"], 200,
        "the finished reconcile wrote its status: {}",
        graph["status"]
    );
    assert_eq!(
        graph["status"]["members"].as_array().map(Vec::len),
        Some(accounts.len()),
        "{}",
        graph["status"]
    );
}
