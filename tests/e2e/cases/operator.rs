//! The operator process itself: admin endpoints, and readiness once its watches have synced.

use std::time::{Duration, Instant};

use crate::harness::operator::STORE_READY;
use crate::harness::{ADMIN, Env, OperatorOptions, emulator};

/// `/readyz` turns 200 once both watches (DetectiveGraph, DetectiveMembership) have listed their
/// objects; `/healthz` answers; `/metrics` serves OpenMetrics text.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_reports_synced_watches() {
    let Some(env) = Env::new("admin").await else { return };
    let emulator = emulator(Default::default()).await;
    let operator = env
        .operator(OperatorOptions::new("operator", ADMIN, &emulator.endpoint_url()))
        .await;
    assert_eq!(operator.get("/healthz").await.0, 200);
    let metrics = operator.get("/metrics").await;
    assert_eq!(metrics.0, 200);
    assert!(
        metrics.1.trim_end().ends_with("# EOF"),
        "OpenMetrics text: {}",
        metrics.1
    );

    let started = Instant::now();
    let mut readyz = operator.get("/readyz").await;
    while readyz.0 != 200 && started.elapsed() < Duration::from_secs(5) {
        tokio::time::sleep(Duration::from_millis(250)).await;
        readyz = operator.get("/readyz").await;
    }
    assert!(
        operator.log().matches(STORE_READY).count() >= 2,
        "both watches listed their objects before /readyz said so"
    );
    assert_eq!(readyz.0, 200, "/readyz: {}", readyz.1);
}
