//! The operator at scale, as it runs in a cluster: the real `detective-operator` binary against a
//! real kube-apiserver + etcd (the e2e harness) and the Detective emulator, with 100
//! `DetectiveGraph`s of 100 members, each graph in its own administrator account reached through
//! its own `spec.assumeRoleArn` (STS AssumeRole, answered by the emulator: a role's credentials
//! act as its account).
//!
//! Prints the time until every graph is Ready, the operator's resident memory (peak `VmHWM` and
//! `VmRSS` sampled every 200 ms), the AWS calls by operation during convergence, and the calls
//! and memory of the quiet minute that follows, then the targets, each MET or MISSED. A missed
//! target is a figure to report, not a failure; the run fails only when the operator does not
//! converge.
//!
//! Run: `cargo bench --bench scale` (options after `--`: `--graphs 100 --members 100
//! --quiet-secs 60 --resync 60s`). `cargo bench` builds the operator optimized; with
//! `--profile dev` it measures a debug binary, whose resident memory is larger. It needs what the e2e tests need (tests/e2e/README.md);
//! without it the run is skipped loudly (a failure when `CI` is set).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::{StreamExt, TryStreamExt};
use kube::api::{DynamicObject, ListParams, PostParams};

// The bench uses part of the e2e harness; the rest is for the e2e cases.
#[path = "../emulator/tests/fixtures/mod.rs"]
mod fixtures;
#[allow(dead_code)]
#[path = "../tests/e2e/harness/mod.rs"]
mod harness;

use harness::{ADMIN, Env, OperatorOptions, REGION};

/// What one run measures, from its command line.
struct Settings {
    graphs: usize,
    members: usize,
    quiet: Duration,
    resync: String,
}

impl Settings {
    fn from_args() -> Self {
        let args: Vec<String> = std::env::args().collect();
        let value = |flag: &str| {
            args.iter()
                .position(|a| a == flag)
                .and_then(|i| args.get(i + 1))
                .cloned()
        };
        let number = |flag: &str, default: usize| {
            value(flag).map_or(default, |v| {
                v.parse().unwrap_or_else(|_| panic!("{flag} takes a number, not {v:?}"))
            })
        };
        Settings {
            graphs: number("--graphs", 100),
            members: number("--members", 100),
            quiet: Duration::from_secs(number("--quiet-secs", 60) as u64),
            resync: value("--resync").unwrap_or_else(|| "60s".to_owned()),
        }
    }
}

/// The administrator account of graph `g` (each graph is in its own account).
fn administrator(g: usize) -> String {
    format!("{:012}", 300_000_000_000u64 + g as u64)
}

fn member(g: usize, m: usize) -> String {
    format!("{:012}", 400_000_000_000u64 + (g * 10_000 + m) as u64)
}

fn graph_name(g: usize) -> String {
    format!("g-{g:03}")
}

fn manifest(settings: &Settings, ns: &str, g: usize) -> DynamicObject {
    let members: Vec<serde_json::Value> = (0..settings.members)
        .map(|m| serde_json::json!({"accountId": member(g, m), "emailAddress": format!("root+{g}-{m}@example.com")}))
        .collect();
    serde_json::from_value(serde_json::json!({
        "apiVersion": "detective.operator.dev/v1alpha1",
        "kind": "DetectiveGraph",
        "metadata": {"name": graph_name(g), "namespace": ns},
        "spec": {
            "region": REGION,
            "assumeRoleArn": format!("arn:aws:iam::{}:role/detective-administrator", administrator(g)),
            "resyncInterval": settings.resync,
            "members": members,
        }
    }))
    .expect("a DetectiveGraph manifest")
}

const MIB: f64 = 1024.0;

/// One field of /proc/PID/status in KiB (`VmRSS`, `VmHWM`); `None` once the process is gone
/// (a zombie has no memory fields).
fn proc_kib(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
}

/// [`proc_kib`] of the running operator.
fn operator_kib(pid: u32, field: &str) -> u64 {
    proc_kib(pid, field).unwrap_or_else(|| panic!("no {field} in /proc/{pid}/status: has the operator exited?"))
}

fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / MIB)
}

/// `VmRSS` of the operator every 200 ms, in KiB, kept with when it was taken.
#[derive(Clone, Default)]
struct RssSamples(Arc<Mutex<Vec<(Instant, u64)>>>);

impl RssSamples {
    fn start(pid: u32) -> Self {
        let samples = RssSamples::default();
        let writer = samples.clone();
        tokio::spawn(async move {
            while let Some(rss) = proc_kib(pid, "VmRSS") {
                writer.0.lock().expect("samples").push((Instant::now(), rss));
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        });
        samples
    }

    /// The largest sample taken in `[from, to]`.
    fn max_between(&self, from: Instant, to: Instant) -> u64 {
        let samples = self.0.lock().expect("samples");
        samples
            .iter()
            .filter(|(at, _)| (from..=to).contains(at))
            .map(|(_, rss)| *rss)
            .max()
            .unwrap_or_default()
    }
}

/// The operator's Detective calls per resource (of `operation`, or all), from its log between two
/// byte offsets: the `AWS call ...` debug lines of the Detective client (`aws::traced`) inside each
/// `reconcile{... name=...}` span.
fn calls_per_resource(log: &Path, from: usize, to: usize, operation: Option<&str>) -> BTreeMap<String, u64> {
    let text = std::fs::read(log).expect("the operator's log");
    let text = String::from_utf8_lossy(&text[from.min(text.len())..to.min(text.len())]).into_owned();
    let wanted = operation.map_or_else(|| "operation=".to_owned(), |op| format!("operation=\"{op}\""));
    let mut counts = BTreeMap::new();
    for line in text
        .lines()
        .filter(|l| l.contains("AWS call") && l.contains("service=\"Detective\"") && l.contains(&wanted))
    {
        let name = line
            .split([' ', '{', '}'])
            .find_map(|word| word.strip_prefix("name="))
            .unwrap_or("<no span>");
        *counts.entry(name.to_owned()).or_insert(0) += 1;
    }
    counts
}

fn log_len(log: &Path) -> usize {
    std::fs::metadata(log).map_or(0, |m| m.len() as usize)
}

fn total(calls: &BTreeMap<String, u64>) -> u64 {
    calls.values().sum()
}

fn verdict(met: bool) -> &'static str {
    if met { "MET   " } else { "MISSED" }
}

#[tokio::main]
async fn main() {
    let settings = Settings::from_args();
    let Some(env) = Env::new("scale").await else {
        return;
    };
    let member_ids: Vec<String> = (0..settings.graphs)
        .flat_map(|g| (0..settings.members).map(move |m| member(g, m)))
        .collect();
    let emulator = harness::emulator(harness::accepting_world(member_ids.iter().map(String::as_str))).await;
    // Logs at info, as deployed, plus the AWS adapter's per-call debug line (counted per graph).
    let mut options = OperatorOptions::new("scale", ADMIN, &emulator.endpoint_url());
    options.log_filter = "info,detective_operator::aws=debug".to_owned();
    let operator = env.operator(options).await;
    let pid = operator.pid();
    let samples = RssSamples::start(pid);
    let idle_rss = operator_kib(pid, "VmRSS");

    println!(
        "operator at scale: {} DetectiveGraphs x {} members, each in its own account through its own \
         assumeRoleArn; resyncInterval {}; operator pid {pid}, --concurrency default, {} build",
        settings.graphs,
        settings.members,
        settings.resync,
        // The operator binary is built with the profile this benchmark is built with.
        if cfg!(debug_assertions) {
            "debug (dev profile)"
        } else {
            "optimized"
        }
    );
    println!("  RSS once ready, before any graph: {}", mib(idle_rss));

    // Convergence: from the first create until every graph is Ready.
    emulator.reset_calls();
    let convergence_log_from = log_len(&operator.log_path);
    let started = Instant::now();
    let api = env.graphs();
    futures::stream::iter(0..settings.graphs)
        .map(|g| {
            let api = api.clone();
            let object = manifest(&settings, &env.ns, g);
            async move { api.create(&PostParams::default(), &object).await.map(drop) }
        })
        .buffer_unordered(8)
        .try_collect::<Vec<()>>()
        .await
        .expect("the DetectiveGraphs are created");
    let created = started.elapsed();
    let ready_after = harness::eventually(Duration::from_secs(900), "every DetectiveGraph to be Ready", || {
        let api = api.clone();
        async move {
            let list = api.list(&ListParams::default()).await.map_err(|e| e.to_string())?;
            let not_ready: Vec<String> = list
                .items
                .iter()
                .filter_map(|object| {
                    let value = serde_json::to_value(object).expect("object to JSON");
                    harness::is_ready(&value)
                        .err()
                        .map(|why| format!("{}: {why}", object.metadata.name.as_deref().unwrap_or("?")))
                })
                .collect();
            match not_ready.first() {
                None if list.items.len() == settings.graphs => Ok(started.elapsed()),
                None => Err(format!("{} of {} listed", list.items.len(), settings.graphs)),
                Some(first) => Err(format!("{} not Ready, e.g. {first}", not_ready.len())),
            }
        }
    })
    .await;
    let converged_at = Instant::now();
    let convergence_calls = emulator.calls();
    let convergence_hwm = operator_kib(pid, "VmHWM");

    // The quiet minute: nothing changes; only resyncs should call AWS.
    emulator.reset_calls();
    let quiet_log_from = log_len(&operator.log_path);
    let quiet_started = Instant::now();
    let quiet_rss_start = operator_kib(pid, "VmRSS");
    tokio::time::sleep(settings.quiet).await;
    let quiet_rss_end = operator_kib(pid, "VmRSS");
    let quiet_ended = Instant::now();
    let quiet_calls = emulator.calls();
    let quiet_log_to = log_len(&operator.log_path);
    let peak = operator_kib(pid, "VmHWM");
    let reads = calls_per_resource(&operator.log_path, quiet_log_from, quiet_log_to, Some("ListMembers"));
    let convergence_per_graph = calls_per_resource(&operator.log_path, convergence_log_from, quiet_log_from, None);
    let most_convergence_calls = convergence_per_graph.values().copied().max().unwrap_or(0);
    // The per-graph figures come from the log: a log line that changed shape must not pass for
    // "no calls".
    assert!(
        convergence_per_graph.values().sum::<u64>() > 0,
        "no Detective call found in the operator's log ({}), while the emulator counted {:?}: \
         the `AWS call` debug line changed",
        operator.log_path.display(),
        convergence_calls
    );

    let graphs = settings.graphs as u64;
    let detective_calls = total(&convergence_calls) - convergence_calls.get("AssumeRole").copied().unwrap_or(0);
    println!(
        "  all {} Ready after {:.1} s (creating them took {:.1} s)",
        settings.graphs,
        ready_after.as_secs_f64(),
        created.as_secs_f64()
    );
    println!(
        "  convergence calls: {} in all, {:.2} per graph ({:.2} Detective calls per graph): {convergence_calls:?}",
        total(&convergence_calls),
        total(&convergence_calls) as f64 / graphs as f64,
        detective_calls as f64 / graphs as f64
    );
    println!(
        "  RSS during convergence: peak VmHWM {}, sampled max {}",
        mib(convergence_hwm),
        mib(samples.max_between(started, converged_at))
    );
    println!(
        "  quiet {} s: calls {}: {quiet_calls:?}",
        settings.quiet.as_secs(),
        total(&quiet_calls)
    );
    println!(
        "  quiet {} s: RSS at start {}, at end {}, sampled max {}; VmHWM now {}",
        settings.quiet.as_secs(),
        mib(quiet_rss_start),
        mib(quiet_rss_end),
        mib(samples.max_between(quiet_started, quiet_ended)),
        mib(peak)
    );
    let most_reads = reads.values().copied().max().unwrap_or(0);
    println!(
        "  quiet {} s: graphs read (ListMembers, from the operator's log) {} of {}, at most {most_reads} times each",
        settings.quiet.as_secs(),
        reads.len(),
        settings.graphs
    );

    // The targets of this benchmark (issue: memory and calls per role).
    let assume_quiet = quiet_calls.get("AssumeRole").copied().unwrap_or(0);
    let assume_convergence = convergence_calls.get("AssumeRole").copied().unwrap_or(0);
    let peak_target = 40 * 1024;
    // Flat: the quiet minute ends within 1 MiB of where it started.
    let flat = quiet_rss_end <= quiet_rss_start + 1024;
    println!("targets:");
    println!("  {} peak RSS <= 40 MiB: {}", verdict(peak <= peak_target), mib(peak));
    println!(
        "  {} RSS flat in the quiet minute (end <= start + 1 MiB): {} -> {}",
        verdict(flat),
        mib(quiet_rss_start),
        mib(quiet_rss_end)
    );
    println!(
        "  {} 0 AssumeRole in the quiet minute: {assume_quiet}",
        verdict(assume_quiet == 0)
    );
    println!(
        "  {} at most one read of each graph in the quiet minute (resyncInterval {}): at most {most_reads}",
        verdict(most_reads <= 1),
        settings.resync
    );
    println!(
        "  {} convergence as before: at most 7 Detective calls for any graph (from the log: at most {most_convergence_calls}) \
         and one AssumeRole per graph ({:.2})",
        verdict(most_convergence_calls <= 7 && assume_convergence == graphs),
        assume_convergence as f64 / graphs as f64
    );
    drop(operator);
    emulator.shutdown().await;
}
