//! The operator process itself: admin endpoints, and readiness once its watches have synced.

use std::time::Duration;

use crate::harness::gate::ApiGate;
use crate::harness::operator::INITIAL_LIST_DONE;
use crate::harness::{ADMIN, Env, OperatorOptions, emulator, eventually};

/// `/readyz` turns 200 only once the four watches (DetectiveGraph, DetectiveMembership,
/// DetectiveOrganizationAdmin, DetectiveGraphSet) have listed their objects: while the API server cannot be reached
/// it says not ready (and `/healthz` still answers), and once it can, it turns ready after each
/// watch has logged its initial list. `/metrics` serves
/// OpenMetrics text.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_reports_synced_watches() {
    let Some(env) = Env::new("admin").await else { return };
    let emulator = emulator(Default::default()).await;
    let gate = ApiGate::closed(&env.plane.server).await;
    let options = OperatorOptions::new("operator", ADMIN, &emulator.endpoint_url()).kubeconfig(gate.kubeconfig(&env));
    let operator = env.operator_unready(options).await;

    // The watches cannot list anything through the closed gate: never ready meanwhile. Polled
    // for a while; an operator that reports ready without synced watches fails at once.
    for _ in 0..12 {
        let (status, body) = operator.get("/readyz").await;
        assert_ne!(status, 200, "ready before any watch could list: {body}");
        assert_ne!(status, 0, "the admin server answers: {body}");
        assert_eq!(operator.get("/healthz").await.0, 200, "alive while not ready");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert_eq!(
        operator.log().matches(INITIAL_LIST_DONE).count(),
        0,
        "no watch listed yet"
    );

    gate.open();
    eventually(
        Duration::from_secs(60),
        "/readyz once the API server is reachable",
        || async {
            match operator.get("/readyz").await {
                (200, _) => Ok(()),
                (status, body) => Err(format!("{status} {body}")),
            }
        },
    )
    .await;
    // Read right after the first 200: each watch logs its list before readiness may turn.
    let log = operator.log();
    let listed: Vec<&str> = log.lines().filter(|line| line.contains(INITIAL_LIST_DONE)).collect();
    for kind in [
        "DetectiveGraph",
        "DetectiveMembership",
        "DetectiveOrganizationAdmin",
        "DetectiveGraphSet",
    ] {
        let kind = format!("kind=\"{kind}\"");
        assert_eq!(
            listed.iter().filter(|line| line.contains(&kind)).count(),
            1,
            "{kind} listed its objects once before /readyz said ready:\n{log}"
        );
    }
    // Readiness waited for all four: the lists counted down 3, 2, 1, 0 (it turns at 0).
    let mut remaining: Vec<&str> = listed
        .iter()
        .filter_map(|line| line.split("remaining=").nth(1)?.split_whitespace().next())
        .collect();
    remaining.sort_unstable();
    assert_eq!(remaining, ["0", "1", "2", "3"], "lists awaited:\n{}", listed.join("\n"));

    let metrics = operator.get("/metrics").await;
    assert_eq!(metrics.0, 200);
    assert!(
        metrics.1.trim_end().ends_with("# EOF"),
        "OpenMetrics text: {}",
        metrics.1
    );
}
