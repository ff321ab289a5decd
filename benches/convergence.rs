//! How long convergence takes and what it costs in API calls, for the largest graph Detective
//! allows (1,200 members), through the real SDK against the emulator. Prints figures; asserts
//! nothing about time (the call budgets are asserted in tests/cli.rs).
//!
//! Run: `cargo bench --bench convergence` (add `-- --latency-ms 50` to give every Detective call
//! a simulated round trip).

#[path = "../emulator/tests/fixtures/mod.rs"]
mod fixtures;
#[path = "../tests/support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use detective_emulator::{Fault, WorldConfig};
use detective_operator::api::DetectiveGraphSpec;
use detective_operator::engine::{self, GraphTarget, Mode};
use k8s_openapi::jiff::Timestamp;

use support::emulator_access;

const ADMIN: &str = "123456789012";
const MEMBERS: u64 = 1200;

fn spec() -> DetectiveGraphSpec {
    let members: Vec<serde_json::Value> = (0..MEMBERS)
        .map(|i| serde_json::json!({"accountId": format!("{:012}", 200_000_000_000 + i), "emailAddress": format!("root+{i}@example.com")}))
        .collect();
    serde_json::from_value(serde_json::json!({"region": "us-east-1", "members": members})).expect("a valid spec")
}

fn latency_from_args() -> Duration {
    let args: Vec<String> = std::env::args().collect();
    let millis = args
        .iter()
        .position(|a| a == "--latency-ms")
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    Duration::from_millis(millis)
}

#[tokio::main]
async fn main() {
    let latency = latency_from_args();
    let emulator = fixtures::start_emulator_as(ADMIN, WorldConfig::default()).await;
    if !latency.is_zero() {
        emulator.inject_fault(Fault::latency(latency));
    }
    let access = emulator_access(&emulator.endpoint_url(), ADMIN, "us-east-1").await;
    let spec = spec();

    let mut previous = None;
    println!("convergence of {MEMBERS} members (simulated latency per call: {latency:?})");
    for (round, label) in [(1, "converge from empty"), (2, "no-op resync")] {
        emulator.reset_calls();
        let started = Instant::now();
        let outcome = engine::sync(
            &access,
            GraphTarget::new(&spec, previous.as_ref(), Some(1)),
            Mode::Apply,
            Timestamp::now(),
        )
        .await;
        let took = started.elapsed();
        let calls = emulator.calls();
        let total: u64 = calls.values().sum();
        println!(
            "  round {round} ({label}): {:>8.1} ms, {total} calls {calls:?}, members in graph: {}",
            took.as_secs_f64() * 1000.0,
            emulator.members(&emulator.graphs()[0].arn).len()
        );
        assert!(outcome.error.is_none(), "{:?}", outcome.error);
        previous = Some(outcome.status);
    }
    emulator.shutdown().await;
}
