//! `detective-operator sync -f FILE`: one reconcile per resource without a cluster.
//!
//! The human part (plan, progress, member table, calls) goes to stderr; the resources with their
//! new `status` go to stdout as YAML or JSON, ready to be fed back to `plan -f -`.

use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use k8s_openapi::jiff::Timestamp;

use super::manifest::{GraphDocument, read_graphs};
use super::render::{describe, fold_repeated, render_members, render_text, report};
use super::{AwsTarget, SyncArgs, SyncOutput};
use crate::api::DetectiveGraph;
use crate::api::validation::parse_duration;
use crate::engine::{self, Applied, Mode, Outcome, Target};

/// How often `--wait` looks again when the emulator (which moves instantly) is the target.
const EMULATOR_POLL: Duration = Duration::from_millis(500);

/// `sync -f FILE`.
pub async fn run(args: &SyncArgs) -> ExitCode {
    let (documents, skipped) = match read_graphs(&args.files) {
        Ok(read) => read,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::FAILURE;
        }
    };
    for other in &skipped {
        eprintln!("skipped (not a DetectiveGraph): {other}");
    }
    let wait = match args.wait.as_deref().map(|w| (w, parse_duration(w))) {
        None => None,
        Some((_, Some(wait))) => Some(wait),
        Some((text, None)) => {
            eprintln!("error: --wait: {text:?} is not a duration such as 30s or 2m");
            return ExitCode::FAILURE;
        }
    };
    let target = match AwsTarget::connect(&args.aws, documents.iter().any(GraphDocument::uses_organization)).await {
        Ok(target) => target,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::FAILURE;
        }
    };
    #[cfg(feature = "emulator")]
    if let Some(emulator) = &target.emulator {
        eprintln!(
            "embedded Detective emulator at {} (demo world)",
            emulator.endpoint_url()
        );
    }

    let mut results = Vec::new();
    let mut failed = false;
    for document in documents {
        let (graph, outcome) = sync_one(&target, document, wait).await;
        eprint!("{}", render_members(&graph));
        failed |= outcome.is_stalled() || outcome.error.as_ref().is_some_and(|e| !e.is_retryable());
        if let Some(error) = &outcome.error {
            eprintln!("  error: {error}");
            failed = true;
        }
        results.push(graph);
    }
    #[cfg(feature = "emulator")]
    if let Some(emulator) = &target.emulator {
        let calls = emulator.calls();
        let listed: Vec<String> = calls.iter().map(|(op, n)| format!("{op} {n}")).collect();
        eprintln!("Detective calls made: {}", listed.join(", "));
    }
    target.shutdown().await;

    match args.output {
        SyncOutput::Yaml => {
            for graph in &results {
                print!("---\n{}", serde_saphyr::to_string(graph).expect("resources serialize"));
            }
        }
        SyncOutput::Json => {
            let value = if results.len() == 1 {
                serde_json::to_value(&results[0])
            } else {
                serde_json::to_value(serde_json::json!({"apiVersion": "v1", "kind": "List", "items": results}))
            };
            println!(
                "{}",
                serde_json::to_string_pretty(&value.expect("resources serialize")).expect("JSON")
            );
        }
    }
    if failed { ExitCode::FAILURE } else { ExitCode::SUCCESS }
}

/// Reconciles one resource (repeatedly with `--wait`), returning it with its new status.
async fn sync_one(
    target: &AwsTarget,
    mut document: GraphDocument,
    wait: Option<Duration>,
) -> (DetectiveGraph, Outcome) {
    let started = Instant::now();
    let on_terminal = std::io::stderr().is_terminal();
    let mut first = true;
    loop {
        let name = document.graph.key();
        let progress = |applied: &Applied| {
            if on_terminal {
                eprintln!("  {name}: {}", describe(applied));
            }
        };
        let outcome = engine::sync(
            &target.access,
            Target::of(&document.graph).with_progress(&progress),
            Mode::Apply,
            Timestamp::now(),
        )
        .await;
        if first {
            eprint!("{}", render_text(&report(&document, &outcome)));
            first = false;
        }
        if !outcome.applied.is_empty() {
            let lines: Vec<String> = outcome.applied.iter().map(describe).collect();
            eprintln!("  applied: {}", fold_repeated(&lines));
        }
        document.graph.status = Some(outcome.status.clone());
        let settled = outcome.is_ready() || outcome.is_stalled() || outcome.error.is_some();
        match wait {
            Some(limit) if !settled && started.elapsed() < limit => {
                let pause = if target.is_emulated() {
                    EMULATOR_POLL
                } else {
                    outcome.requeue_after
                };
                tokio::time::sleep(pause.min(limit.saturating_sub(started.elapsed()))).await;
            }
            _ => return (document.graph, outcome),
        }
    }
}
