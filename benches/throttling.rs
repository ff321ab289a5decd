//! How the operator copes with a rate limit and with AWS outages, through the real SDK (with the
//! operator's own retry settings, `AwsAccess::load`) against the emulator. Prints figures and
//! asserts the call counts the README states; times are printed, never asserted.
//!
//! - rate limit: a 1,200-member graph converges while the emulator throttles every call beyond
//!   5 a second (per account and Region);
//! - outage / throttle storm: a converged graph meets 2 minutes of 500s, then 1 minute of 429s;
//!   the reconciles follow the controller's own pacing (`controller::backoff::Backoff` after a
//!   retryable failure, `requeue_after` after a success), as its error policy does.
//!
//! `tests/throttling.rs` asserts the same call-count bounds under `cargo test`, pacing the
//! reconciles by the same `Backoff` without waiting for it.
//!
//! Run: `cargo bench --bench throttling` (about 5 minutes; `-- --rate-limit-only` skips the
//! outages).

#[path = "../emulator/tests/fixtures/mod.rs"]
mod fixtures;
#[path = "../tests/support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use detective_emulator::{Emulator, Fault, WorldConfig};
use detective_operator::api::conditions::RECONCILING;
use detective_operator::api::{DetectiveGraph, DetectiveGraphStatus};
use detective_operator::controller::backoff::Backoff;
use detective_operator::engine::Reported;
use support::faulted_graph::{self, OperatorAws, spec, world};

const ADMIN: &str = "123456789012";
const RATE_LIMIT: u32 = 5;
const OUTAGE: Duration = Duration::from_secs(120);
const STORM: Duration = Duration::from_secs(60);

fn total(emulator: &Emulator) -> u64 {
    emulator.calls().values().sum()
}

fn condition_reason(status: &DetectiveGraphStatus, type_: &str) -> String {
    status
        .sync
        .condition(type_)
        .filter(|c| c.status == "True")
        .map(|c| c.reason.clone())
        .unwrap_or_else(|| "-".into())
}

async fn rate_limit() {
    const MEMBERS: u64 = 1200;
    let emulator = fixtures::start_emulator_as(ADMIN, WorldConfig::default()).await;
    let aws = OperatorAws::to(&emulator).await;
    emulator.inject_fault(Fault::rate_limit(RATE_LIMIT));
    let spec = spec(MEMBERS);
    let started = Instant::now();
    let outcome = aws.reconcile(&spec, None).await;
    let took = started.elapsed();
    let attempts = total(&emulator);
    let throttled: u64 = emulator.faulted_calls().values().sum();
    let members = emulator.members(&emulator.graphs()[0].arn).len();
    let share = throttled as f64 * 100.0 / attempts as f64;
    println!(
        "rate limit {RATE_LIMIT}/s, {MEMBERS} members: {:.1} s, {attempts} attempts, {throttled} throttled ({share:.1} %), error: {:?}, members in graph: {members}",
        took.as_secs_f64(),
        outcome.error.as_ref().map(ToString::to_string)
    );
    assert!(
        outcome.error.is_none(),
        "a reconcile error surfaced: {:?}",
        outcome.error
    );
    assert_eq!(members as u64, MEMBERS);
    // 12 %, as tests/throttling.rs asserts: runs throttle 8.3 to 10.8 % (one call either way, by
    // the pace), and the standard retry mode, which does not slow down, is throttled on 27 %.
    assert!(share <= 12.0, "{share:.1} % of calls throttled");
    emulator.shutdown().await;
}

/// A converged graph meets `fault` for `length`; the reconciles are paced as the controller
/// paces them. Returns the attempts during the fault and the time from its end to Ready.
async fn outage(name: &str, fault: Fault, length: Duration) -> (u64, Duration) {
    const MEMBERS: u64 = 50;
    let emulator = fixtures::start_emulator_as(ADMIN, world(MEMBERS)).await;
    let aws = OperatorAws::to(&emulator).await;
    let spec = spec(MEMBERS);
    let mut previous = Some(aws.converged(&emulator, &spec).await);

    let backoff = Backoff::default();
    emulator.reset_calls();
    emulator.inject_fault(fault);
    let started = Instant::now();
    let end = started + length;
    let mut during = None;
    let end_fault = |during: &mut Option<u64>| {
        emulator.clear_faults();
        *during = Some(total(&emulator));
    };
    let mut reasons = std::collections::BTreeSet::new();
    let mut reconciles = 0;
    let key = kube::runtime::reflector::ObjectRef::<DetectiveGraph>::new(name)
        .within("bench")
        .erase();
    let recovered = loop {
        let outcome = aws.reconcile(&spec, previous.as_ref()).await;
        reconciles += 1;
        if during.is_none() && Instant::now() >= end {
            end_fault(&mut during);
        }
        let ready = outcome.is_ready();
        let delay = match &outcome.error {
            Some(error) => {
                assert!(error.is_retryable(), "{name}: {error} would stall the resource");
                reasons.insert(condition_reason(&outcome.status, RECONCILING));
                backoff.next(&key)
            }
            None => {
                backoff.reset(&key);
                outcome.requeue_after
            }
        };
        previous = Some(outcome.status);
        if during.is_some() && ready {
            break Instant::now().duration_since(end);
        }
        let wake = Instant::now() + delay;
        if during.is_none() && wake >= end {
            tokio::time::sleep_until(end.into()).await;
            end_fault(&mut during);
        }
        tokio::time::sleep_until(wake.into()).await;
    };
    let during = during.unwrap_or_default();
    println!(
        "{name} for {} s: {during} Detective calls for the resource during it, {reconciles} reconciles, reasons {reasons:?}; Ready {:.1} s after it ended",
        length.as_secs(),
        recovered.as_secs_f64()
    );
    emulator.shutdown().await;
    (during, recovered)
}

fn main() {
    // The operator's credential chain reads the environment: act as the administrator. Set before
    // the runtime starts, while this is the only thread.
    unsafe { faulted_graph::act_as(ADMIN) };
    let rate_limit_only = std::env::args().any(|arg| arg == "--rate-limit-only");
    tokio::runtime::Runtime::new().expect("a runtime").block_on(async {
        rate_limit().await;
        if rate_limit_only {
            return;
        }
        let (calls, recovered) = outage("outage (every call 500)", Fault::internal_error(), OUTAGE).await;
        assert!(calls <= 30, "{calls} calls during the outage");
        println!(
            "  (bound: <= 30 calls; Ready <= 90 s after: {})",
            recovered <= Duration::from_secs(90)
        );
        let (calls, recovered) = outage("throttle storm (every call 429)", Fault::throttle(), STORM).await;
        assert!(calls <= 30, "{calls} calls during the throttle storm");
        println!(
            "  (bound: <= 30 calls; Ready <= 90 s after: {})",
            recovered <= Duration::from_secs(90)
        );
    });
}
