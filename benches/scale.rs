//! The operator at scale, as it runs in a cluster: the real `detective-operator` binary against a
//! real kube-apiserver + etcd (the e2e harness) and the Detective emulator, with 100
//! `DetectiveGraph`s of 100 members (by default), each graph in its own administrator account
//! reached through its own `spec.assumeRoleArn` (STS AssumeRole, answered by the emulator: a
//! role's credentials act as its account).
//!
//! Prints the time until every graph is Ready, the operator's resident memory (peak `VmHWM` and
//! `VmRSS` sampled every 200 ms), the AWS calls by operation during convergence, and the calls
//! and memory of the quiet minute that follows, then the targets, each MET or MISSED. A missed
//! target is a figure to report, not a failure; the run fails only when the operator does not
//! converge.
//!
//! With `--shards N` the graphs are labelled `detective.operator.dev/shard=<g mod N>` and N
//! operator processes each watch one shard (`--watch-label-selector`): each shard's calls are
//! attributed to graphs from its own log (each graph is its own administrator account and role),
//! and the sum of the processes' peaks is printed.
//!
//! Run: `cargo bench --bench scale` (options after `--`: `--graphs 100 --members 100
//! --quiet-secs 60 --resync 60s --shards 1 --peak-mib 40`; the peak target is 40 MiB up to 100
//! graphs, 100 MiB beyond). `cargo bench` builds the operator optimized; with `--profile dev` it
//! measures a debug binary, whose resident memory is larger. It needs what the e2e tests need
//! (tests/e2e/README.md); without it the run is skipped loudly (a failure when `CI` is set).

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

use harness::{ADMIN, Env, Operator, OperatorOptions, REGION};

/// The label that puts a graph in a shard.
const SHARD_LABEL: &str = "detective.operator.dev/shard";

/// The longest the graphs may take to be Ready (issue: 1,000 roles in one process).
const READY_WITHIN: Duration = Duration::from_secs(120);

/// What one run measures, from its command line.
struct Settings {
    graphs: usize,
    members: usize,
    quiet: Duration,
    resync: String,
    /// Operator processes, each watching its shard of the graphs.
    shards: usize,
    /// The peak RSS target of one process, in MiB.
    peak_mib: u64,
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
        let graphs = number("--graphs", 100);
        Settings {
            graphs,
            members: number("--members", 100),
            quiet: Duration::from_secs(number("--quiet-secs", 60) as u64),
            resync: value("--resync").unwrap_or_else(|| "60s".to_owned()),
            shards: number("--shards", 1).max(1),
            // 100 x 100 in 40 MiB; 1,000 roles in 100 MiB.
            peak_mib: number("--peak-mib", if graphs <= 100 { 40 } else { 100 }) as u64,
        }
    }

    /// The shard of graph `g`.
    fn shard(&self, g: usize) -> usize {
        g % self.shards
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

/// The index of the graph named `name` ([`graph_name`]).
fn graph_index(name: &str) -> Option<usize> {
    name.strip_prefix("g-")?.parse().ok()
}

fn manifest(settings: &Settings, ns: &str, g: usize) -> DynamicObject {
    let members: Vec<serde_json::Value> = (0..settings.members)
        .map(|m| serde_json::json!({"accountId": member(g, m), "emailAddress": format!("root+{g}-{m}@example.com")}))
        .collect();
    serde_json::from_value(serde_json::json!({
        "apiVersion": "detective.operator.dev/v1alpha1",
        "kind": "DetectiveGraph",
        "metadata": {
            "name": graph_name(g),
            "namespace": ns,
            "labels": {SHARD_LABEL: settings.shard(g).to_string()},
        },
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

/// One operator process and what is measured of it.
struct Process {
    operator: Operator,
    pid: u32,
    samples: RssSamples,
}

impl Process {
    fn log_len(&self) -> usize {
        log_len(&self.operator.log_path)
    }

    /// [`calls_per_resource`] in this process's log.
    fn calls(&self, from: usize, to: usize, operation: Option<&str>) -> BTreeMap<String, u64> {
        calls_per_resource(&self.operator.log_path, from, to, operation)
    }
}

/// Adds `more`'s counts into `into`.
fn merge(into: &mut BTreeMap<String, u64>, more: BTreeMap<String, u64>) {
    for (name, count) in more {
        *into.entry(name).or_insert(0) += count;
    }
}

/// Polls until every graph is Ready; the time since `started`.
async fn all_ready(api: &kube::Api<DynamicObject>, graphs: usize, started: Instant) -> Duration {
    // Listing 1,000 graphs is heavy for the API server that the operators use too: once a
    // second then, four times a second for 100.
    let every = Duration::from_millis((graphs as u64).clamp(250, 1000));
    let deadline = started + Duration::from_secs(900);
    loop {
        let list = api.list(&ListParams::default()).await.expect("the graphs listed");
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
        if not_ready.is_empty() && list.items.len() == graphs {
            return started.elapsed();
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for every DetectiveGraph to be Ready: {} of {graphs} listed, {} not Ready, e.g. {:?}",
            list.items.len(),
            not_ready.len(),
            not_ready.first()
        );
        tokio::time::sleep(every).await;
    }
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
    let mut processes = Vec::new();
    for shard in 0..settings.shards {
        // Logs at info, as deployed, plus the AWS adapter's per-call debug line (counted per graph).
        let name = if settings.shards == 1 {
            "scale".to_owned()
        } else {
            format!("scale-shard-{shard}")
        };
        let mut options = OperatorOptions::new(&name, ADMIN, &emulator.endpoint_url());
        options.log_filter = "info,detective_operator::aws=debug".to_owned();
        if settings.shards > 1 {
            options = options.args(&["--watch-label-selector", &format!("{SHARD_LABEL}={shard}")]);
        }
        let operator = env.operator(options).await;
        let pid = operator.pid();
        processes.push(Process {
            operator,
            pid,
            samples: RssSamples::start(pid),
        });
    }
    let idle_rss: Vec<u64> = processes.iter().map(|p| operator_kib(p.pid, "VmRSS")).collect();

    println!(
        "operator at scale: {} DetectiveGraphs x {} members, each in its own account through its own \
         assumeRoleArn; resyncInterval {}; {} operator process(es) (pid {:?}), --concurrency default, {} build",
        settings.graphs,
        settings.members,
        settings.resync,
        settings.shards,
        processes.iter().map(|p| p.pid).collect::<Vec<_>>(),
        // The operator binary is built with the profile this benchmark is built with.
        if cfg!(debug_assertions) {
            "debug (dev profile)"
        } else {
            "optimized"
        }
    );
    println!(
        "  RSS once ready, before any graph: {}",
        idle_rss.iter().map(|kib| mib(*kib)).collect::<Vec<_>>().join(", ")
    );

    // Convergence: from the first create until every graph is Ready.
    emulator.reset_calls();
    let convergence_log_from: Vec<usize> = processes.iter().map(Process::log_len).collect();
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
    let ready_after = all_ready(&api, settings.graphs, started).await;
    let converged_at = Instant::now();
    let convergence_calls = emulator.calls();
    let convergence_hwm: Vec<u64> = processes.iter().map(|p| operator_kib(p.pid, "VmHWM")).collect();

    // The quiet minute: nothing changes; only resyncs should call AWS.
    emulator.reset_calls();
    let quiet_log_from: Vec<usize> = processes.iter().map(Process::log_len).collect();
    let quiet_started = Instant::now();
    let quiet_rss_start: Vec<u64> = processes.iter().map(|p| operator_kib(p.pid, "VmRSS")).collect();
    tokio::time::sleep(settings.quiet).await;
    let quiet_rss_end: Vec<u64> = processes.iter().map(|p| operator_kib(p.pid, "VmRSS")).collect();
    let quiet_ended = Instant::now();
    let quiet_calls = emulator.calls();
    let quiet_log_to: Vec<usize> = processes.iter().map(Process::log_len).collect();
    let peaks: Vec<u64> = processes.iter().map(|p| operator_kib(p.pid, "VmHWM")).collect();

    // Per graph, from each process's log.
    let mut reads = BTreeMap::new();
    let mut convergence_per_graph = BTreeMap::new();
    // Per shard: its calls for graphs of another shard (convergence and quiet minute).
    let mut foreign = Vec::new();
    for (shard, process) in processes.iter().enumerate() {
        let converging = process.calls(convergence_log_from[shard], quiet_log_from[shard], None);
        let quiet = process.calls(quiet_log_from[shard], quiet_log_to[shard], None);
        let mut all = converging.clone();
        merge(&mut all, quiet);
        let others: u64 = all
            .iter()
            .filter(|(name, _)| graph_index(name).is_none_or(|g| settings.shard(g) != shard))
            .map(|(_, count)| count)
            .sum();
        foreign.push((all.len(), total(&all), others));
        merge(&mut convergence_per_graph, converging);
        merge(
            &mut reads,
            process.calls(quiet_log_from[shard], quiet_log_to[shard], Some("ListMembers")),
        );
    }
    let most_convergence_calls = convergence_per_graph.values().copied().max().unwrap_or(0);
    // The per-graph figures come from the log: a log line that changed shape must not pass for
    // "no calls".
    assert!(
        total(&convergence_per_graph) > 0,
        "no Detective call found in the operators' logs ({:?}), while the emulator counted {:?}: \
         the `AWS call` debug line changed",
        processes
            .iter()
            .map(|p| p.operator.log_path.display().to_string())
            .collect::<Vec<_>>(),
        convergence_calls
    );

    let graphs = settings.graphs as u64;
    let assume_convergence = convergence_calls.get("AssumeRole").copied().unwrap_or(0);
    let detective_calls = total(&convergence_calls) - assume_convergence;
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
    for (shard, process) in processes.iter().enumerate() {
        println!(
            "  RSS of process {shard}: during convergence peak VmHWM {}, sampled max {}; quiet {} s: at start {}, \
             at end {}, sampled max {}; VmHWM now {}",
            mib(convergence_hwm[shard]),
            mib(process.samples.max_between(started, converged_at)),
            settings.quiet.as_secs(),
            mib(quiet_rss_start[shard]),
            mib(quiet_rss_end[shard]),
            mib(process.samples.max_between(quiet_started, quiet_ended)),
            mib(peaks[shard])
        );
    }
    println!(
        "  quiet {} s: calls {}: {quiet_calls:?}",
        settings.quiet.as_secs(),
        total(&quiet_calls)
    );
    let most_reads = reads.values().copied().max().unwrap_or(0);
    println!(
        "  quiet {} s: graphs read (ListMembers, from the operators' logs) {} of {}, at most {most_reads} times each",
        settings.quiet.as_secs(),
        reads.len(),
        settings.graphs
    );

    // The targets of this benchmark (issue: memory and calls per role; shards).
    let assume_quiet = quiet_calls.get("AssumeRole").copied().unwrap_or(0);
    let peak = peaks.iter().copied().max().unwrap_or(0);
    let peak_target = settings.peak_mib * 1024;
    // Flat: the quiet minute ends within 1 MiB of where it started, in every process.
    let flat = quiet_rss_start
        .iter()
        .zip(&quiet_rss_end)
        .all(|(start, end)| *end <= start + 1024);
    println!("targets:");
    println!(
        "  {} all Ready within {} s: {:.1} s",
        verdict(ready_after <= READY_WITHIN),
        READY_WITHIN.as_secs(),
        ready_after.as_secs_f64()
    );
    println!(
        "  {} peak RSS <= {} MiB{}: {}",
        verdict(peak <= peak_target),
        settings.peak_mib,
        if settings.shards > 1 { " (each process)" } else { "" },
        mib(peak)
    );
    println!(
        "  {} RSS flat in the quiet minute (end <= start + 1 MiB): {}",
        verdict(flat),
        quiet_rss_start
            .iter()
            .zip(&quiet_rss_end)
            .map(|(start, end)| format!("{} -> {}", mib(*start), mib(*end)))
            .collect::<Vec<_>>()
            .join(", ")
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
        "  {} convergence as before: at most 7 Detective calls for any graph (from the logs: at most {most_convergence_calls}) \
         and one AssumeRole per graph ({:.2})",
        verdict(most_convergence_calls <= 7 && assume_convergence == graphs),
        assume_convergence as f64 / graphs as f64
    );
    if settings.shards > 1 {
        for (shard, (graphs_called, calls, others)) in foreign.iter().enumerate() {
            println!(
                "  {} shard {shard} calls only for its own graphs: {calls} Detective calls for {graphs_called} graphs \
                 (of {} in the shard), {others} for another shard's",
                verdict(*others == 0),
                (0..settings.graphs).filter(|g| settings.shard(*g) == shard).count()
            );
        }
        // The calls the shards logged are the calls the emulator answered (give or take a call
        // in flight at a window's edge): the attribution above misses none.
        let logged: u64 = foreign.iter().map(|(_, calls, _)| calls).sum();
        let answered = detective_calls + total(&quiet_calls) - assume_quiet;
        println!(
            "  Detective calls attributed to a graph in the shards' logs: {logged}; answered by the emulator: {answered}"
        );
        println!(
            "  sum of the {} processes' peaks (VmHWM): {}",
            settings.shards,
            mib(peaks.iter().sum())
        );
    }
    drop(processes);
    emulator.shutdown().await;
}
