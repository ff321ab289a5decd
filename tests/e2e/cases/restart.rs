//! An operator killed in the middle of inviting 1,200 members, then started again: the graph
//! converges to exactly the declared 1,200 members and no account is invited twice.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use detective_emulator::{Fault, MemberStatus};

use crate::harness::{ADMIN, Env, OperatorOptions, accepting_world, emulator, eventually, graph_manifest, is_ready};

const MEMBERS: usize = 1200;
/// 1,200 accounts in batches of 50.
const BATCHES: u64 = 24;

/// Scenario 9: with 200 ms of latency on every CreateMembers call the sync of 1,200 members takes
/// seconds; the operator is SIGKILLed after a few batches and started again. It converges to the
/// 1,200 declared accounts, each invited once: members invited before the kill keep their
/// invitation time, nothing was ever deleted, and CreateMembers stays near the 24 batches.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_mid_sync_invites_nobody_twice() {
    let Some(env) = Env::new("restart").await else { return };
    let accounts: Vec<String> = (0..MEMBERS)
        .map(|i| format!("{}", 290_000_000_000u64 + i as u64))
        .collect();
    let emulator = emulator(accepting_world(accounts.iter().map(String::as_str))).await;
    emulator.inject_fault(Fault::latency(Duration::from_millis(200)).on("CreateMembers"));
    let members: Vec<(&str, &str)> = accounts.iter().map(|a| (a.as_str(), "ops@example.com")).collect();
    let manifest = graph_manifest("large", &env.ns, &members, "region: us-east-1");

    let mut first = env
        .operator(OperatorOptions::new("first", ADMIN, &emulator.endpoint_url()))
        .await;
    let out = env.kubectl_stdin(&["apply", "--server-side"], &manifest).await;
    assert!(out.success, "apply the 1,200-member graph: {}", out.stderr);
    eventually(Duration::from_secs(60), "3 CreateMembers calls", || async {
        let calls = emulator.calls().get("CreateMembers").copied().unwrap_or(0);
        if calls >= 3 {
            Ok(())
        } else {
            Err(format!("{calls} calls"))
        }
    })
    .await;
    first.kill();

    let graphs = emulator.graphs();
    assert_eq!(graphs.len(), 1, "one graph");
    let arn = graphs[0].arn.clone();
    // Invitation times of whoever was invited before the kill.
    let before: BTreeMap<String, jiff::Timestamp> = emulator
        .members(&arn)
        .into_iter()
        .map(|m| (m.account_id, m.invited_time))
        .collect();
    assert!(
        !before.is_empty() && before.len() < MEMBERS,
        "killed mid-sync: {} of {MEMBERS} invited",
        before.len()
    );

    let _second = env
        .operator(OperatorOptions::new("second", ADMIN, &emulator.endpoint_url()))
        .await;
    let graph = env
        .wait_graph("large", Duration::from_secs(180), "Ready with 1,200 members", is_ready)
        .await;

    let after = emulator.members(&arn);
    let unique: BTreeSet<&str> = after.iter().map(|m| m.account_id.as_str()).collect();
    assert_eq!(after.len(), MEMBERS, "exactly the declared members");
    assert_eq!(unique.len(), MEMBERS, "no account twice");
    assert_eq!(
        unique,
        accounts.iter().map(String::as_str).collect(),
        "the declared accounts"
    );
    assert!(after.iter().all(|m| m.status == MemberStatus::Enabled));
    for member in &after {
        if let Some(first_invited) = before.get(&member.account_id) {
            assert_eq!(
                &member.invited_time, first_invited,
                "{} was invited again after the restart",
                member.account_id
            );
        }
    }
    let calls = emulator.calls();
    assert!(
        !calls.contains_key("DeleteMembers"),
        "nothing was removed (and so re-invited): {calls:?}"
    );
    let creates = calls.get("CreateMembers").copied().unwrap_or(0);
    // 24 batches, plus at most the one interrupted by the kill (sent again), and one more in
    // case the kill landed between two batches' answers and requests.
    assert!(
        (BATCHES..=BATCHES + 2).contains(&creates),
        "CreateMembers calls: {creates} (24 batches of 50): {calls:?}"
    );
    let summary = &graph["status"]["summary"];
    assert_eq!(summary["desired"], MEMBERS, "{summary}");
    assert_eq!(summary["enabled"], MEMBERS, "{summary}");
    assert_eq!(graph["status"]["inventory"].as_array().map(Vec::len), Some(MEMBERS));
}
