//! The operator process itself: admin endpoints, and readiness once its watches have synced.

use std::time::Duration;

use crate::harness::gate::ApiGate;
use crate::harness::operator::STORE_READY;
use crate::harness::{ADMIN, Env, OperatorOptions, emulator, eventually};

/// `/readyz` turns 200 only once both watches (DetectiveGraph, DetectiveMembership) have listed
/// their objects: while the API server cannot be reached it says not ready (and `/healthz` still
/// answers), and once it can, it turns ready after both stores are synced. `/metrics` serves
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
    assert_eq!(operator.log().matches(STORE_READY).count(), 0, "no store synced yet");

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
    assert!(
        operator.log().matches(STORE_READY).count() >= 2,
        "both watches listed their objects before /readyz said so:\n{}",
        operator.log()
    );

    let metrics = operator.get("/metrics").await;
    assert_eq!(metrics.0, 200);
    assert!(
        metrics.1.trim_end().ends_with("# EOF"),
        "OpenMetrics text: {}",
        metrics.1
    );
}
