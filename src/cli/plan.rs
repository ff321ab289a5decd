//! `detective-operator plan -f FILE`: what a sync would change, for pull requests. Read-only.

use std::process::ExitCode;

use k8s_openapi::jiff::Timestamp;

use super::manifest::read_manifests;
use super::render::{PlanVerdict, render_text, report};
use super::{AwsBackend, PlanArgs, PlanOutput, organization_admin};
use crate::engine::{self, GraphTarget, Mode, SharedListings};

/// Exit codes of `--detailed-exitcode`, as Terraform users know them.
const EXIT_NO_CHANGES: u8 = 0;
const EXIT_ERROR: u8 = 1;
const EXIT_CHANGES: u8 = 2;

/// `plan -f FILE`.
pub async fn run(args: &PlanArgs) -> ExitCode {
    let manifests = match read_manifests(&args.files) {
        Ok(read) => read,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::from(EXIT_ERROR);
        }
    };
    for other in &manifests.skipped {
        eprintln!("skipped (not a DetectiveGraph, DetectiveGraphSet or DetectiveOrganizationAdmin): {other}");
    }
    for warning in manifests.unknown_region_warnings() {
        eprintln!("warning: {warning}");
    }
    let backend = match AwsBackend::connect(&args.aws, manifests.use_organization()).await {
        Ok(backend) => backend,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::from(EXIT_ERROR);
        }
    };
    let mut reports = Vec::new();
    // A set's Regions (and any graphs asking the same of the organization) list it once.
    let shared_listings = SharedListings::default();
    for document in &manifests.graphs {
        let outcome = engine::sync(
            &backend.access,
            GraphTarget::of(&document.graph).with_shared_listings(&shared_listings),
            Mode::DryRun,
            Timestamp::now(),
        )
        .await;
        reports.push(report(document, &outcome));
    }
    let mut admin_plans = Vec::new();
    for document in &manifests.organization_admins {
        let outcome = organization_admin::run(&backend, &document.admin, Mode::DryRun).await;
        admin_plans.push(organization_admin::report(document, &outcome));
    }
    backend.shutdown().await;

    match args.output {
        PlanOutput::Text => {
            reports.iter().for_each(|r| print!("{}", render_text(r)));
            admin_plans
                .iter()
                .for_each(|p| print!("{}", organization_admin::render_text(p)));
        }
        PlanOutput::Json => {
            // One array, graphs first, as before organization admins were planned.
            let mut all: Vec<serde_json::Value> = reports.iter().map(to_json).collect();
            all.extend(admin_plans.iter().map(to_json));
            println!(
                "{}",
                serde_json::to_string_pretty(&all).expect("plan reports serialize")
            );
        }
    }
    let verdicts: Vec<&PlanVerdict> = reports
        .iter()
        .map(|r| &r.verdict)
        .chain(admin_plans.iter().map(|p| &p.verdict))
        .collect();
    let failed = verdicts.iter().any(|v| v.failed());
    let changes = verdicts.iter().any(|v| v.changes);
    match (failed, changes, args.detailed_exitcode) {
        (true, _, _) => ExitCode::from(EXIT_ERROR),
        (false, true, true) => ExitCode::from(EXIT_CHANGES),
        _ => ExitCode::from(EXIT_NO_CHANGES),
    }
}

fn to_json(report: &impl serde::Serialize) -> serde_json::Value {
    serde_json::to_value(report).expect("plan reports serialize")
}
