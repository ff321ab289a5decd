//! Fault injection: latency, throttling and server errors on chosen operations, so tests can show
//! that the SDK's retries and the operator's backoff hold up.
//!
//! A fault fires on a call when its operation matches (or it has none) and its trigger says so:
//! every call, the next N matching calls, a seeded random rate, or a rate limit (a token bucket per
//! account and Region, as the real service keeps). Latency from every firing
//! latency fault is added up; the first firing error fault decides the answer. Faults act before
//! the call reaches the service model, so a faulted call changes nothing.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::organizations_api::OrganizationsOperation;
use super::prng::SplitMix64;
use super::routes::Operation;
use super::wire::ApiError;

/// One injected fault. JSON form (used by `POST /_emulator/faults`):
///
/// ```json
/// {"operation": "ListMembers", "kind": "throttle", "count": 2}
/// {"kind": "internalError", "rate": 0.25, "seed": 42}
/// {"operation": "CreateMembers", "kind": "latency", "latencyMs": 300}
/// {"kind": "throttle", "requestsPerSecond": 5}
/// {"operation": "ListAccounts", "kind": "internalError", "after": 2, "count": 3}
/// ```
///
/// `operation` absent or `"*"`: every AWS operation. `count`, `rate` and `requestsPerSecond` are
/// exclusive; with none of them the fault fires on every matching call until cleared. `after`
/// lets the first N matching calls through before the trigger applies (the third page of a
/// listing fails, the first two pass).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "FaultSpec", into = "FaultSpec")]
pub struct Fault {
    /// Operation name as in the API reference (`"ListMembers"`); `None` matches all.
    pub operation: Option<String>,
    pub kind: FaultKind,
    pub trigger: FaultTrigger,
    /// Matching calls still let through before the trigger applies; counts down as they pass.
    pub after: u32,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum FaultKind {
    /// Delay the answer.
    Latency(Duration),
    /// 429 with `x-amzn-ErrorType: TooManyRequestsException`, which the SDK retries.
    Throttle,
    /// 500 InternalServerException, which the SDK retries.
    InternalError,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum FaultTrigger {
    /// Every matching call until the fault is cleared.
    Always,
    /// The next N matching calls, then the fault is spent.
    NextCalls(u32),
    /// Each matching call with probability `rate` (0.0–1.0), drawn from a PRNG seeded with
    /// `seed`, so the same seed fails the same calls.
    Rate { rate: f64, seed: u64 },
    /// The matching calls beyond `per_second` a second, counted per account and Region: a token
    /// bucket holding `per_second` tokens (so a burst of that many passes) refilled at
    /// `per_second` tokens a second. A call that fires takes no token, as a throttled request
    /// costs the real service's quota nothing.
    RateLimit { per_second: u32 },
}

impl Fault {
    pub fn latency(delay: Duration) -> Fault {
        Fault {
            operation: None,
            kind: FaultKind::Latency(delay),
            trigger: FaultTrigger::Always,
            after: 0,
        }
    }

    pub fn throttle() -> Fault {
        Fault {
            operation: None,
            kind: FaultKind::Throttle,
            trigger: FaultTrigger::Always,
            after: 0,
        }
    }

    pub fn internal_error() -> Fault {
        Fault {
            operation: None,
            kind: FaultKind::InternalError,
            trigger: FaultTrigger::Always,
            after: 0,
        }
    }

    /// A rate limit like the real service's: per account and Region, the calls beyond
    /// `requests_per_second` a second answer 429 `TooManyRequestsException`.
    pub fn rate_limit(requests_per_second: u32) -> Fault {
        Fault {
            operation: None,
            kind: FaultKind::Throttle,
            trigger: FaultTrigger::RateLimit {
                per_second: requests_per_second,
            },
            after: 0,
        }
    }

    /// Restricts the fault to one operation (`"ListMembers"`).
    pub fn on(mut self, operation: impl Into<String>) -> Fault {
        self.operation = Some(operation.into());
        self
    }

    /// Fires on the next `count` matching calls only.
    pub fn times(mut self, count: u32) -> Fault {
        self.trigger = FaultTrigger::NextCalls(count);
        self
    }

    /// Lets the first `calls` matching calls through before the trigger applies.
    pub fn after(mut self, calls: u32) -> Fault {
        self.after = calls;
        self
    }

    /// Fires on each matching call with probability `rate`, reproducibly for a given `seed`.
    pub fn with_rate(mut self, rate: f64, seed: u64) -> Fault {
        self.trigger = FaultTrigger::Rate { rate, seed };
        self
    }

    /// Checks operation name and rate; used for faults from JSON and from Rust alike.
    pub fn validate(&self) -> Result<(), String> {
        if let Some(operation) = &self.operation
            && Operation::from_name(operation).is_none()
            && OrganizationsOperation::from_name(operation).is_none()
        {
            return Err(format!(
                "operation: {operation:?} is not a Detective operation name (e.g. \"ListMembers\")"
            ));
        }
        if let FaultTrigger::Rate { rate, .. } = self.trigger
            && !(0.0..=1.0).contains(&rate)
        {
            return Err(format!("rate: {rate} is not between 0.0 and 1.0"));
        }
        if self.trigger == (FaultTrigger::RateLimit { per_second: 0 }) {
            return Err("requestsPerSecond: must be at least 1".into());
        }
        Ok(())
    }
}

/// The flat JSON form of [`Fault`].
#[serde_with::skip_serializing_none]
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct FaultSpec {
    operation: Option<String>,
    kind: String,
    latency_ms: Option<u64>,
    count: Option<u32>,
    rate: Option<f64>,
    seed: Option<u64>,
    requests_per_second: Option<u32>,
    after: Option<u32>,
}

impl TryFrom<FaultSpec> for Fault {
    type Error = String;

    fn try_from(spec: FaultSpec) -> Result<Fault, String> {
        let kind = match (spec.kind.as_str(), spec.latency_ms) {
            ("latency", Some(ms)) => FaultKind::Latency(Duration::from_millis(ms)),
            ("latency", None) => return Err("latencyMs: required for kind \"latency\"".into()),
            ("throttle", None) => FaultKind::Throttle,
            ("internalError", None) => FaultKind::InternalError,
            ("throttle" | "internalError", Some(_)) => {
                return Err("latencyMs: only allowed for kind \"latency\"".into());
            }
            (other, _) => {
                return Err(format!(
                    "kind: {other:?} is not one of \"latency\", \"throttle\", \"internalError\""
                ));
            }
        };
        let trigger = match (spec.count, spec.rate, spec.seed, spec.requests_per_second) {
            (None, None, None, None) => FaultTrigger::Always,
            (Some(count), None, None, None) => FaultTrigger::NextCalls(count),
            (None, Some(rate), seed, None) => FaultTrigger::Rate {
                rate,
                seed: seed.unwrap_or(0),
            },
            (None, None, None, Some(per_second)) => FaultTrigger::RateLimit { per_second },
            (None, None, Some(_), _) => return Err("seed: only allowed with rate".into()),
            _ => return Err("count, rate and requestsPerSecond are mutually exclusive".into()),
        };
        let fault = Fault {
            operation: spec.operation.filter(|operation| operation != "*"),
            kind,
            trigger,
            after: spec.after.unwrap_or(0),
        };
        fault.validate()?;
        Ok(fault)
    }
}

impl From<Fault> for FaultSpec {
    fn from(fault: Fault) -> FaultSpec {
        let mut spec = FaultSpec {
            operation: fault.operation,
            after: (fault.after > 0).then_some(fault.after),
            ..FaultSpec::default()
        };
        match fault.kind {
            FaultKind::Latency(delay) => {
                spec.kind = "latency".into();
                spec.latency_ms = Some(delay.as_millis() as u64);
            }
            FaultKind::Throttle => spec.kind = "throttle".into(),
            FaultKind::InternalError => spec.kind = "internalError".into(),
        }
        match fault.trigger {
            FaultTrigger::Always => {}
            FaultTrigger::NextCalls(count) => spec.count = Some(count),
            FaultTrigger::Rate { rate, seed } => {
                spec.rate = Some(rate);
                spec.seed = Some(seed);
            }
            FaultTrigger::RateLimit { per_second } => spec.requests_per_second = Some(per_second),
        }
        spec
    }
}

/// What the faults decided for one call.
#[derive(Debug, Default)]
pub(crate) struct FaultOutcome {
    pub delay: Duration,
    pub error: Option<ApiError>,
}

#[derive(Debug)]
struct ActiveFault {
    /// Current state: `NextCalls` counts down as the fault fires.
    fault: Fault,
    rng: SplitMix64,
    /// `RateLimit` only: one bucket per (account, Region).
    buckets: HashMap<(String, String), TokenBucket>,
}

/// Tokens left and when they were last counted.
#[derive(Debug)]
pub(crate) struct TokenBucket {
    tokens: f64,
    counted_at: Instant,
}

impl TokenBucket {
    /// A bucket holding `per_second` tokens at `now` (a burst of that many passes).
    pub fn full(per_second: u32, now: Instant) -> TokenBucket {
        TokenBucket {
            tokens: f64::from(per_second),
            counted_at: now,
        }
    }

    /// Refills for the time since the last call and takes a token if there is one.
    pub fn take(&mut self, per_second: u32, now: Instant) -> bool {
        let capacity = f64::from(per_second);
        let elapsed = now.saturating_duration_since(self.counted_at).as_secs_f64();
        self.tokens = (self.tokens + elapsed * capacity).min(capacity);
        self.counted_at = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// Who makes a call, for the faults that count per account and Region.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Caller<'a> {
    pub account: &'a str,
    pub region: &'a str,
}

/// The faults in force, in injection order.
#[derive(Debug, Default)]
pub(crate) struct FaultTable {
    active: Vec<ActiveFault>,
}

impl FaultTable {
    pub fn inject(&mut self, fault: Fault) {
        let seed = match fault.trigger {
            FaultTrigger::Rate { seed, .. } => seed,
            _ => 0,
        };
        self.active.push(ActiveFault {
            fault,
            rng: SplitMix64::new(seed),
            buckets: HashMap::new(),
        });
    }

    pub fn clear(&mut self) {
        self.active.clear();
    }

    /// Faults still in force (spent `NextCalls` faults are gone).
    pub fn list(&self) -> Vec<Fault> {
        self.active.iter().map(|active| active.fault.clone()).collect()
    }

    /// Decides the faults for one call of `operation` (`None`: an unrecognized request, which
    /// only operation-less faults match) by `caller` at `now`.
    pub fn on_call(&mut self, operation: Option<&str>, caller: Caller<'_>, now: Instant) -> FaultOutcome {
        let mut outcome = FaultOutcome::default();
        for active in &mut self.active {
            let matches = match &active.fault.operation {
                None => true,
                Some(name) => Some(name.as_str()) == operation,
            };
            if !matches {
                continue;
            }
            // An error fault only consumes its budget when it decides the answer, so two
            // "next N" faults on one operation fail N + M calls, not N.
            let is_error = !matches!(active.fault.kind, FaultKind::Latency(_));
            if is_error && outcome.error.is_some() {
                continue;
            }
            if active.fault.after > 0 {
                active.fault.after -= 1;
                continue;
            }
            let fires = match &mut active.fault.trigger {
                FaultTrigger::Always => true,
                FaultTrigger::NextCalls(remaining) => {
                    let fires = *remaining > 0;
                    *remaining = remaining.saturating_sub(1);
                    fires
                }
                FaultTrigger::Rate { rate, .. } => active.rng.next_f64() < *rate,
                FaultTrigger::RateLimit { per_second } => {
                    let bucket = active
                        .buckets
                        .entry((caller.account.to_owned(), caller.region.to_owned()))
                        .or_insert_with(|| TokenBucket::full(*per_second, now));
                    !bucket.take(*per_second, now)
                }
            };
            if !fires {
                continue;
            }
            match active.fault.kind {
                FaultKind::Latency(delay) => outcome.delay += delay,
                FaultKind::Throttle => outcome.error = Some(ApiError::throttled()),
                FaultKind::InternalError => {
                    outcome.error = Some(ApiError::internal("Internal server error (injected by the emulator)"));
                }
            }
        }
        self.active
            .retain(|active| active.fault.trigger != FaultTrigger::NextCalls(0));
        outcome
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CALLER: Caller<'static> = Caller {
        account: "111111111111",
        region: "us-east-1",
    };

    fn call(table: &mut FaultTable, operation: &str) -> FaultOutcome {
        table.on_call(Some(operation), CALLER, Instant::now())
    }

    #[test]
    fn next_calls_are_spent_then_removed() {
        let mut table = FaultTable::default();
        table.inject(Fault::throttle().on("ListMembers").times(2));
        assert!(call(&mut table, "ListGraphs").error.is_none());
        assert_eq!(call(&mut table, "ListMembers").error.map(|e| e.status), Some(429));
        assert!(call(&mut table, "ListMembers").error.is_some());
        assert!(call(&mut table, "ListMembers").error.is_none());
        assert!(table.list().is_empty());
    }

    #[test]
    fn after_lets_the_first_calls_through_then_the_trigger_applies() {
        let mut table = FaultTable::default();
        table.inject(Fault::internal_error().on("ListAccounts").after(2).times(1));
        assert!(
            call(&mut table, "ListRoots").error.is_none(),
            "another operation passes"
        );
        assert!(call(&mut table, "ListAccounts").error.is_none());
        assert!(call(&mut table, "ListAccounts").error.is_none());
        assert_eq!(call(&mut table, "ListAccounts").error.map(|e| e.status), Some(500));
        assert!(call(&mut table, "ListAccounts").error.is_none());
        assert!(table.list().is_empty());
        let json = r#"{"operation":"ListAccounts","kind":"internalError","after":2,"count":3}"#;
        let fault: Fault = serde_json::from_str(json).expect("valid");
        assert_eq!(fault, Fault::internal_error().on("ListAccounts").after(2).times(3));
        assert_eq!(serde_json::to_value(&fault).expect("serializes")["after"], 2);
    }

    #[test]
    fn rates_are_reproducible_from_the_seed() {
        let run = || {
            let mut table = FaultTable::default();
            table.inject(Fault::internal_error().with_rate(0.5, 9));
            (0..64)
                .map(|_| call(&mut table, "ListGraphs").error.is_some())
                .collect::<Vec<bool>>()
        };
        let first = run();
        assert_eq!(first, run());
        let failures = first.iter().filter(|failed| **failed).count();
        assert!((16..=48).contains(&failures), "{failures} of 64");
    }

    #[test]
    fn latency_adds_up_and_errors_do_not_stack() {
        let mut table = FaultTable::default();
        table.inject(Fault::latency(Duration::from_millis(10)));
        table.inject(Fault::latency(Duration::from_millis(5)).on("ListGraphs"));
        table.inject(Fault::internal_error().times(1));
        table.inject(Fault::throttle().times(1));
        let outcome = call(&mut table, "ListGraphs");
        assert_eq!(outcome.delay, Duration::from_millis(15));
        assert_eq!(outcome.error.map(|e| e.status), Some(500));
        assert_eq!(call(&mut table, "ListGraphs").error.map(|e| e.status), Some(429));
    }

    #[test]
    fn json_form_round_trips_and_rejects_nonsense() {
        let fault: Fault =
            serde_json::from_str(r#"{"operation":"ListMembers","kind":"throttle","count":2}"#).expect("valid");
        assert_eq!(fault, Fault::throttle().on("ListMembers").times(2));
        let json = serde_json::to_value(&fault).expect("serializes");
        assert_eq!(json["count"], 2);
        for bad in [
            r#"{"kind":"latency"}"#,
            r#"{"kind":"explode"}"#,
            r#"{"kind":"throttle","operation":"ListMember"}"#,
            r#"{"kind":"throttle","rate":1.5}"#,
            r#"{"kind":"throttle","rate":0.5,"count":1}"#,
        ] {
            assert!(serde_json::from_str::<Fault>(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_rate_limit_passes_a_burst_then_refills_per_account_and_region() {
        let mut table = FaultTable::default();
        table.inject(Fault::rate_limit(5));
        let start = Instant::now();
        let throttled = |table: &mut FaultTable, caller: Caller<'_>, at: Duration| {
            table
                .on_call(Some("ListMembers"), caller, start + at)
                .error
                .map(|e| e.status)
                == Some(429)
        };
        let burst: Vec<bool> = (0..7).map(|_| throttled(&mut table, CALLER, Duration::ZERO)).collect();
        assert_eq!(
            burst,
            [false, false, false, false, false, true, true],
            "5 pass, then 429"
        );
        let other_region = Caller {
            region: "eu-west-1",
            ..CALLER
        };
        let other_account = Caller {
            account: "222222222222",
            ..CALLER
        };
        assert!(
            !throttled(&mut table, other_region, Duration::ZERO),
            "own bucket per Region"
        );
        assert!(
            !throttled(&mut table, other_account, Duration::ZERO),
            "own bucket per account"
        );
        // A token comes back every 200 ms; throttled calls took none.
        assert!(throttled(&mut table, CALLER, Duration::from_millis(100)));
        assert!(!throttled(&mut table, CALLER, Duration::from_millis(210)));
        assert!(throttled(&mut table, CALLER, Duration::from_millis(220)));
        // A long pause refills to the burst size, not beyond.
        let later = Duration::from_secs(60);
        let passed = (0..10).filter(|_| !throttled(&mut table, CALLER, later)).count();
        assert_eq!(passed, 5);
        assert_eq!(table.list(), vec![Fault::rate_limit(5)], "a rate limit stays in force");
    }

    #[test]
    fn a_rate_limit_has_a_json_form() {
        let fault: Fault = serde_json::from_str(r#"{"kind":"throttle","requestsPerSecond":5}"#).expect("valid");
        assert_eq!(fault, Fault::rate_limit(5));
        assert_eq!(
            serde_json::to_value(&fault).expect("serializes"),
            serde_json::json!({"kind": "throttle", "requestsPerSecond": 5})
        );
        for bad in [
            r#"{"kind":"throttle","requestsPerSecond":0}"#,
            r#"{"kind":"throttle","requestsPerSecond":5,"count":1}"#,
            r#"{"kind":"throttle","requestsPerSecond":5,"rate":0.5}"#,
        ] {
            assert!(serde_json::from_str::<Fault>(bad).is_err(), "{bad}");
        }
    }
}
