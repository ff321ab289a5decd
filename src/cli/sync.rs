//! `detective-operator sync -f FILE`: one reconcile per resource without a cluster.
//!
//! The human part (plan, progress, member table, calls) goes to stderr; the resources with their
//! new `status` go to stdout as YAML or JSON, ready to be fed back to `plan -f -`.

use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use k8s_openapi::jiff::Timestamp;

use super::manifest::{GraphDocument, OrganizationAdminDocument, read_manifests};
use super::render::{describe, fold_repeated, render_members, render_text, report};
use super::{AwsBackend, SyncArgs, SyncOutput, organization_admin};
use crate::api::validation::parse_duration;
use crate::api::{DetectiveGraph, DetectiveOrganizationAdmin};
use crate::engine::Reported;
use crate::engine::{self, GraphOutcome, GraphTarget, GraphWrite, Mode, SharedListings};

/// How often `--wait` looks again when the emulator (which moves instantly) is the target.
const EMULATOR_POLL: Duration = Duration::from_millis(500);

/// `sync -f FILE`.
pub async fn run(args: &SyncArgs) -> ExitCode {
    let manifests = match read_manifests(&args.files) {
        Ok(read) => read,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::FAILURE;
        }
    };
    for other in &manifests.skipped {
        eprintln!("skipped (not a DetectiveGraph, DetectiveGraphSet or DetectiveOrganizationAdmin): {other}");
    }
    let wait = match args.wait.as_deref().map(|w| (w, parse_duration(w))) {
        None => None,
        Some((_, Some(wait))) => Some(wait),
        Some((text, None)) => {
            eprintln!("error: --wait: {text:?} is not a duration such as 30s or 2m");
            return ExitCode::FAILURE;
        }
    };
    let backend = match AwsBackend::connect(&args.aws, manifests.use_organization()).await {
        Ok(backend) => backend,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::FAILURE;
        }
    };
    #[cfg(feature = "emulator")]
    if let Some(emulator) = &backend.emulator {
        eprintln!(
            "embedded Detective emulator at {} (demo world)",
            emulator.endpoint_url()
        );
    }

    let mut results = Vec::new();
    let mut failed = false;
    let mut report_failure = |stalled: bool, error: Option<&engine::SyncError>| {
        failed |= stalled;
        if let Some(error) = error {
            eprintln!("  error: {error}");
            failed = true;
        }
    };
    // The management-account side first: an organization graph needs its delegation.
    let mut admins = Vec::new();
    for document in manifests.organization_admins {
        let (admin, outcome) = sync_organization_admin(&backend, document, wait).await;
        eprint!("{}", organization_admin::render_regions(&admin));
        report_failure(outcome.is_stalled(), outcome.error.as_ref());
        admins.push(admin);
    }
    // The graphs of a set (one per Region) asking the same of the organization list it once.
    let shared_listings = SharedListings::default();
    for document in manifests.graphs {
        let (graph, outcome) = sync_one(&backend, &shared_listings, document, wait).await;
        eprint!("{}", render_members(&graph));
        report_failure(outcome.is_stalled(), outcome.error.as_ref());
        results.push(graph);
    }
    #[cfg(feature = "emulator")]
    if let Some(emulator) = &backend.emulator {
        let calls = emulator.calls();
        let listed: Vec<String> = calls.iter().map(|(op, n)| format!("{op} {n}")).collect();
        eprintln!("Detective calls made: {}", listed.join(", "));
    }
    backend.shutdown().await;

    match args.output {
        SyncOutput::Yaml => {
            for graph in &results {
                print!("---\n{}", serde_saphyr::to_string(graph).expect("resources serialize"));
            }
            for admin in &admins {
                print!("---\n{}", serde_saphyr::to_string(admin).expect("resources serialize"));
            }
        }
        SyncOutput::Json => {
            let mut items: Vec<serde_json::Value> = results
                .iter()
                .map(serde_json::to_value)
                .chain(admins.iter().map(serde_json::to_value))
                .collect::<Result<_, _>>()
                .expect("resources serialize");
            let value = if items.len() == 1 {
                Ok(items.remove(0))
            } else {
                serde_json::to_value(serde_json::json!({"apiVersion": "v1", "kind": "List", "items": items}))
            };
            println!(
                "{}",
                serde_json::to_string_pretty(&value.expect("resources serialize")).expect("JSON")
            );
        }
    }
    if failed { ExitCode::FAILURE } else { ExitCode::SUCCESS }
}

/// Reconciles one graph (repeatedly with `--wait`), returning it with its new status.
async fn sync_one(
    backend: &AwsBackend,
    shared_listings: &SharedListings,
    mut document: GraphDocument,
    wait: Option<Duration>,
) -> (DetectiveGraph, GraphOutcome) {
    let on_terminal = std::io::stderr().is_terminal();
    let name = document.graph.key();
    let mut first = true;
    let outcome = until_settled(backend, wait, async || {
        let progress = |applied: &GraphWrite| {
            if on_terminal {
                eprintln!("  {name}: {}", describe(applied));
            }
        };
        let outcome = engine::sync(
            &backend.access,
            GraphTarget::of(&document.graph)
                .with_progress(&progress)
                .with_shared_listings(shared_listings),
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
        outcome
    })
    .await;
    (document.graph, outcome)
}

/// Reconciles one `DetectiveOrganizationAdmin` (repeatedly with `--wait`), returning it with its
/// new status.
async fn sync_organization_admin(
    backend: &AwsBackend,
    mut document: OrganizationAdminDocument,
    wait: Option<Duration>,
) -> (DetectiveOrganizationAdmin, engine::OrganizationAdminOutcome) {
    let mut first = true;
    let outcome = until_settled(backend, wait, async || {
        if first {
            // The plan first, read-only: its Region lines name the administrator before any
            // write (one more ListOrganizationAdminAccounts per Region, on the first pass only).
            let plan = organization_admin::run(backend, &document.admin, Mode::DryRun).await;
            eprint!(
                "{}",
                organization_admin::render_text(&organization_admin::report(&document, &plan))
            );
            first = false;
        }
        let outcome = organization_admin::run(backend, &document.admin, Mode::Apply).await;
        for region in outcome.regions.iter().filter(|r| r.applied.is_some()) {
            let change = region.applied.map(|c| c.operation()).unwrap_or_default();
            eprintln!("  applied: {change} in {}", region.region);
        }
        document.admin.status = Some(outcome.status.clone());
        outcome
    })
    .await;
    (document.admin, outcome)
}

/// Runs `once` until its outcome is Ready, Stalled or failed, or until `wait` is over (once
/// without `--wait`); the last outcome.
async fn until_settled<O: Reported>(
    backend: &AwsBackend,
    wait: Option<Duration>,
    mut once: impl AsyncFnMut() -> O,
) -> O {
    let started = Instant::now();
    loop {
        let outcome = once().await;
        let settled = outcome.is_ready() || outcome.is_stalled() || outcome.error().is_some();
        let requeue_after = outcome.requeue_after();
        match wait {
            Some(limit) if !settled && started.elapsed() < limit => {
                let pause = if backend.is_emulated() {
                    EMULATOR_POLL
                } else {
                    requeue_after
                };
                tokio::time::sleep(pause.min(limit.saturating_sub(started.elapsed()))).await;
            }
            _ => return outcome,
        }
    }
}
