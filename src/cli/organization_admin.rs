//! `plan` and `sync` of `DetectiveOrganizationAdmin` documents: the per-Region changes, and the
//! Regions as the status then shows them.

use k8s_openapi::jiff::Timestamp;
use serde::Serialize;

use super::AwsBackend;
use super::manifest::OrganizationAdminDocument;
use super::render::{Column, PlanVerdict, or_dash, render_table};
use crate::api::{DetectiveOrganizationAdmin, RegionDelegation};
use crate::engine::organization_admin::{Decision, RegionOutcome};
use crate::engine::{self, Mode, OrganizationAdminOutcome, OrganizationAdminTarget};

/// The plan of one `DetectiveOrganizationAdmin`, as `plan -o json` prints it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OrganizationAdminPlan {
    pub kind: &'static str,
    /// `refused` names the Regions another account administers (the organization's administrator
    /// is another account): a sync would stall.
    #[serde(flatten)]
    pub verdict: PlanVerdict,
    pub account_id: String,
    pub regions: Vec<RegionPlan>,
}

/// One Region's line of a plan.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RegionPlan {
    pub region: String,
    /// The organization's Detective administrator there now.
    pub administrator: Option<String>,
    /// `enable`, `disable`, `keep` (as declared, or removed and retained), `forget`, `pending`
    /// (enabled, not listed yet), `stalled` (enabled, and still not listed), `conflict` (another
    /// account is the organization's administrator), or `error`.
    pub action: &'static str,
    pub detail: Option<String>,
}

fn region_plan(outcome: &RegionOutcome) -> RegionPlan {
    let (action, detail) = match (&outcome.error, &outcome.decision) {
        (Some(error), _) => ("error", Some(error.to_string())),
        (None, Some(Decision::Enable)) => ("enable", Some("EnableOrganizationAdminAccount".to_owned())),
        (None, Some(Decision::Disable)) => (
            "disable",
            Some(
                "DisableOrganizationAdminAccount (regionRemoval: Disable): deletes the organization's behavior graph there"
                    .to_owned(),
            ),
        ),
        (None, Some(Decision::Conflict { administrator })) => (
            "conflict",
            Some(format!(
                "account {administrator} is the organization's Detective administrator; it is never replaced"
            )),
        ),
        (None, Some(Decision::Propagating { since })) => (
            "pending",
            Some(format!("EnableOrganizationAdminAccount made at {since}; not listed yet")),
        ),
        (None, Some(Decision::NotShown { since })) => (
            "stalled",
            Some(format!(
                "EnableOrganizationAdminAccount made at {since}; still not listed, not called again"
            )),
        ),
        (None, Some(Decision::Retained)) => (
            "keep",
            Some("removed from spec.regions; kept (regionRemoval: Retain)".to_owned()),
        ),
        (None, Some(Decision::Forget)) => ("forget", None),
        (None, _) => ("keep", None),
    };
    RegionPlan {
        region: outcome.region.clone(),
        administrator: outcome.administrator.as_ref().map(|a| a.account_id.clone()),
        action,
        detail,
    }
}

/// Summarizes an engine outcome as a plan.
pub fn report(document: &OrganizationAdminDocument, outcome: &OrganizationAdminOutcome) -> OrganizationAdminPlan {
    let regions: Vec<RegionPlan> = outcome.regions.iter().map(region_plan).collect();
    let conflicts: Vec<String> = regions
        .iter()
        .filter(|r| r.action == "conflict")
        .map(|r| format!("{}: {}", r.region, r.detail.as_deref().unwrap_or_default()))
        .collect();
    OrganizationAdminPlan {
        kind: "DetectiveOrganizationAdmin",
        verdict: PlanVerdict {
            changes: regions.iter().any(|r| matches!(r.action, "enable" | "disable")),
            refused: (!conflicts.is_empty()).then(|| conflicts.join("; ")),
            ..PlanVerdict::new(document.admin.key(), &document.origin, outcome.error.as_ref())
        },
        account_id: document.admin.spec.account_id.clone(),
        regions,
    }
}

/// Human-readable lines of one plan.
pub fn render_text(plan: &OrganizationAdminPlan) -> String {
    let mut out = format!(
        "DetectiveOrganizationAdmin {} ({}): Detective administrator {}\n",
        plan.verdict.resource, plan.verdict.origin, plan.account_id
    );
    if let (Some(error), true) = (&plan.verdict.error, plan.regions.is_empty()) {
        out.push_str(&format!("  error: {error}\n"));
        return out;
    }
    for region in &plan.regions {
        let sign = match region.action {
            "enable" => "+",
            "disable" => "-",
            "conflict" | "stalled" | "error" => "!",
            "pending" => "~",
            _ => "=",
        };
        out.push_str(&format!(
            "  {sign} {}: {} (administrator now: {}){}\n",
            region.region,
            region.action,
            region.administrator.as_deref().unwrap_or("none"),
            region.detail.as_deref().map(|d| format!(": {d}")).unwrap_or_default()
        ));
    }
    let count = |action: &str| plan.regions.iter().filter(|r| r.action == action).count();
    out.push_str(&format!(
        "Plan: {} Regions to delegate, {} to disable, {} administered by another account.\n",
        count("enable"),
        count("disable"),
        count("conflict")
    ));
    out
}

/// The Region table's columns, as `kubectl get` prints them.
const REGION_COLUMNS: &[Column<RegionDelegation>] = &[
    Column::new("REGION", 16, |entry| entry.region.clone()),
    Column::new("ADMINISTRATOR", 14, |entry| {
        or_dash(entry.administrator_account_id.as_deref())
    }),
    Column::new("STATE", 10, |entry| format!("{:?}", entry.state)),
    Column::new("GRAPH", 0, |entry| or_dash(entry.graph_arn.as_deref())),
];

/// The Regions of a resource's status, then its conditions.
pub fn render_regions(admin: &DetectiveOrganizationAdmin) -> String {
    let Some(status) = &admin.status else {
        return String::new();
    };
    render_table(&status.regions, REGION_COLUMNS, &status.sync.conditions)
}

/// One run of the engine on a document.
pub async fn run(backend: &AwsBackend, admin: &DetectiveOrganizationAdmin, mode: Mode) -> OrganizationAdminOutcome {
    engine::sync(
        &backend.access,
        OrganizationAdminTarget::of(admin),
        mode,
        Timestamp::now(),
    )
    .await
}
