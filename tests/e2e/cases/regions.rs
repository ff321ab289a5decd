//! Regions as AWS has them, on the real API server (the realistic profile's strict Regions): a
//! graph in a Region without Detective is Stalled `RegionUnavailable`, one in an opt-in Region
//! its account has not enabled is Stalled `RegionNotEnabled` saying how to enable it, a graph in
//! a Region with Detective beside them is Ready; once the Region is enabled, a requested
//! reconcile brings the stalled graph to Ready without a spec change.

use std::time::Duration;

use detective_emulator::{AccountConfig, WorldConfig, WorldPatch};

use crate::harness::{ADMIN, Env, OperatorOptions, condition, emulator, graph_manifest, is_ready, stalled_by};

const MEMBER: (&str, &str) = ("297000000001", "root+297@example.com");
const WAIT: Duration = Duration::from_secs(60);

fn administrator(enabled_regions: &[&str]) -> AccountConfig {
    AccountConfig {
        enabled_regions: enabled_regions.iter().map(|r| (*r).to_owned()).collect(),
        ..AccountConfig::new(ADMIN, "")
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graphs_in_regions_without_detective_or_not_enabled_stall_saying_why() {
    let Some(env) = Env::new("regions").await else { return };
    let emulator = emulator(WorldConfig {
        accounts: vec![
            administrator(&[]),
            AccountConfig {
                auto_accept_after_ms: Some(0),
                ..AccountConfig::new(MEMBER.0, MEMBER.1)
            },
        ],
        ..WorldConfig::realistic()
    })
    .await;
    let _operator = env
        .operator(OperatorOptions::new("operator", ADMIN, &emulator.endpoint_url()))
        .await;
    for (name, region) in [
        ("nowhere", "ap-northeast-3"),
        ("telaviv", "il-central-1"),
        ("virginia", "us-east-1"),
    ] {
        env.apply(&graph_manifest(name, &env.ns, &[MEMBER], &format!("region: {region}")))
            .await;
    }

    let nowhere = env
        .wait_graph(
            "nowhere",
            WAIT,
            "Stalled RegionUnavailable",
            stalled_by("RegionUnavailable"),
        )
        .await;
    let message = condition(&nowhere, "Stalled").expect("Stalled")["message"].to_string();
    assert!(message.contains("no endpoint in ap-northeast-3"), "{message}");
    let telaviv = env
        .wait_graph(
            "telaviv",
            WAIT,
            "Stalled RegionNotEnabled",
            stalled_by("RegionNotEnabled"),
        )
        .await;
    let message = condition(&telaviv, "Stalled").expect("Stalled")["message"].to_string();
    assert!(
        message.contains("enable-region --region-name il-central-1"),
        "{message}"
    );
    env.wait_graph("virginia", WAIT, "Ready beside them", is_ready).await;
    let regions: Vec<String> = emulator.graphs().into_iter().map(|g| g.region).collect();
    assert_eq!(regions, ["us-east-1"], "no graph where Detective could not be reached");

    // The account enables the Region; a requested reconcile finds it usable, no spec change.
    emulator.merge_world(WorldPatch {
        accounts: vec![administrator(&["il-central-1"])],
        ..WorldPatch::default()
    });
    let out = env
        .kubectl(&[
            "annotate",
            "dg/telaviv",
            "reconcile.fluxcd.io/requestedAt=2026-12-06T02:00:00Z",
        ])
        .await;
    assert!(out.success, "{}", out.stderr);
    env.wait_graph("telaviv", WAIT, "Ready once the Region is enabled", is_ready)
        .await;
    assert!(
        emulator.graphs().iter().any(|g| g.region == "il-central-1"),
        "the graph created in il-central-1"
    );
}
