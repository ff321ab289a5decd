//! `detective-operator plan -f FILE`: what a sync would change, for pull requests. Read-only.

use std::process::ExitCode;

use k8s_openapi::jiff::Timestamp;

use super::manifest::{GraphDocument, read_graphs};
use super::render::{render_text, report};
use super::{AwsTarget, PlanArgs, PlanOutput};
use crate::engine::{self, Mode, Target};

/// Exit codes of `--detailed-exitcode`, as Terraform users know them.
const EXIT_NO_CHANGES: u8 = 0;
const EXIT_ERROR: u8 = 1;
const EXIT_CHANGES: u8 = 2;

/// `plan -f FILE`.
pub async fn run(args: &PlanArgs) -> ExitCode {
    let (documents, skipped) = match read_graphs(&args.files) {
        Ok(read) => read,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::from(EXIT_ERROR);
        }
    };
    for other in &skipped {
        eprintln!("skipped (not a DetectiveGraph): {other}");
    }
    let target = match AwsTarget::connect(&args.aws, documents.iter().any(GraphDocument::uses_organization)).await {
        Ok(target) => target,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::from(EXIT_ERROR);
        }
    };
    let mut reports = Vec::new();
    for document in &documents {
        let outcome = engine::sync(
            &target.access,
            Target::of(&document.graph),
            Mode::DryRun,
            Timestamp::now(),
        )
        .await;
        reports.push(report(document, &outcome));
    }
    target.shutdown().await;

    match args.output {
        PlanOutput::Text => reports.iter().for_each(|r| print!("{}", render_text(r))),
        PlanOutput::Json => println!(
            "{}",
            serde_json::to_string_pretty(&reports).expect("plan reports serialize")
        ),
    }
    let failed = reports.iter().any(|r| r.error.is_some() || r.refused.is_some());
    let changes = reports.iter().any(|r| r.changes);
    match (failed, changes, args.detailed_exitcode) {
        (true, _, _) => ExitCode::from(EXIT_ERROR),
        (false, true, true) => ExitCode::from(EXIT_CHANGES),
        _ => ExitCode::from(EXIT_NO_CHANGES),
    }
}
