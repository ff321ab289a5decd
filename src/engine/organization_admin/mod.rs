//! One reconcile of a `DetectiveOrganizationAdmin`: for each Region it reads, observe (the
//! organization's administrator there) → decide → apply (Enable or Disable) → report. Runs as the
//! organization's management account, with one client per Region.
//!
//! This file is the orchestration; each step is its own module, named as in [`super::membership`]:
//! [`observe`] (AWS read), [`decide`] (pure), [`apply`] (AWS write), [`report`] (pure),
//! [`teardown`] (`deletionPolicy: Disable`).

pub mod apply;
pub mod decide;
pub mod observe;
pub mod report;
pub mod teardown;

use std::time::Duration;

use k8s_openapi::jiff::Timestamp;
use tracing::{Instrument, info, info_span};

use super::target::ResourceTarget;
use super::{Mode, Reported, SHORT_REQUEUE, SyncError};
use crate::api::{DetectiveOrganizationAdmin, DetectiveOrganizationAdminSpec, DetectiveOrganizationAdminStatus};
use crate::aws::{AwsError, OrganizationAdmin, OrganizationAdmins};

pub use decide::{Decision, OrganizationAdminWrite, decide, regions_in_view};
pub use report::report;
pub use teardown::disable_declared;

/// What one reconcile reads besides AWS.
pub type OrganizationAdminTarget<'a> = ResourceTarget<'a, DetectiveOrganizationAdmin>;

impl OrganizationAdminTarget<'_> {
    /// The Regions this reconcile reads, each with whether it is declared.
    pub fn regions(&self) -> Vec<(String, bool)> {
        regions_in_view(self.spec, self.previous)
    }
}

/// What one Region's part of a reconcile saw, decided and did.
#[derive(Clone, Debug)]
pub struct RegionOutcome {
    pub region: String,
    pub declared: bool,
    /// None when the administrator could not be read.
    pub decision: Option<Decision>,
    /// The administrator as last read (after the write, when one was made).
    pub administrator: Option<OrganizationAdmin>,
    /// The write made, if any.
    pub applied: Option<OrganizationAdminWrite>,
    pub error: Option<AwsError>,
}

/// Everything one reconcile decided and did, Region by Region.
#[derive(Debug)]
pub struct OrganizationAdminOutcome {
    pub regions: Vec<RegionOutcome>,
    pub status: DetectiveOrganizationAdminStatus,
    /// The failure that decides the requeue: the first retryable one, else the first terminal one.
    pub error: Option<SyncError>,
    pub requeue_after: Duration,
}

/// The outcome of a reconcile that could not start or read nothing: the status keeps what the
/// previous one knew and reports the error.
pub fn failed(target: OrganizationAdminTarget<'_>, error: SyncError, now: Timestamp) -> OrganizationAdminOutcome {
    let status = report(&target, &[], Some(&error), Mode::Apply, now);
    OrganizationAdminOutcome {
        regions: Vec::new(),
        status,
        error: Some(error),
        requeue_after: target.spec.resync_interval(),
    }
}

/// Runs one reconcile of a valid spec ([`super::sync`] checks it) through `clients`: one
/// management-account client per Region the target reads ([`OrganizationAdminTarget::regions`]).
pub async fn reconcile<D: OrganizationAdmins>(
    clients: &[(String, D)],
    target: OrganizationAdminTarget<'_>,
    mode: Mode,
    now: Timestamp,
) -> OrganizationAdminOutcome {
    let mut regions = Vec::new();
    for (region, declared) in target.regions() {
        let Some((_, client)) = clients.iter().find(|(r, _)| *r == region) else {
            continue;
        };
        let span = info_span!("region", region = %region, declared);
        regions.push(
            one_region(client, region, declared, target.spec, mode)
                .instrument(span)
                .await,
        );
    }
    let error = first_error(&regions);
    let status = report(&target, &regions, None, mode, now);
    let mut outcome = OrganizationAdminOutcome {
        regions,
        status,
        error,
        requeue_after: target.spec.resync_interval(),
    };
    if outcome.error.is_none() && outcome.is_reconciling() {
        outcome.requeue_after = SHORT_REQUEUE.min(outcome.requeue_after);
    }
    outcome
}

/// Observe → decide → apply in one Region.
async fn one_region<D: OrganizationAdmins>(
    client: &D,
    region: String,
    declared: bool,
    spec: &DetectiveOrganizationAdminSpec,
    mode: Mode,
) -> RegionOutcome {
    let mut outcome = RegionOutcome {
        region,
        declared,
        decision: None,
        administrator: None,
        applied: None,
        error: None,
    };
    match observe::administrator(client).await {
        Ok(administrator) => outcome.administrator = administrator,
        Err(error) => {
            outcome.error = Some(error);
            return outcome;
        }
    }
    let decision = decide(
        spec,
        declared,
        outcome.administrator.as_ref().map(|a| a.account_id.as_str()),
    );
    outcome.decision = Some(decision.clone());
    if let (Some(change), Mode::Apply) = (decision.write(), mode) {
        match apply::apply(client, &spec.account_id, change).await {
            Ok(()) => {
                info!(operation = change.operation(), account = %spec.account_id, "delegation changed");
                outcome.applied = Some(change);
                // Read back so the status shows the delegation (and its graph) as it now is.
                match observe::administrator(client).await {
                    Ok(administrator) => outcome.administrator = administrator,
                    Err(error) => outcome.error = Some(error),
                }
            }
            Err(error) => outcome.error = Some(error),
        }
    }
    outcome
}

/// The failure the controller acts on: a retryable one (backoff) before a terminal one (Stalled).
fn first_error(regions: &[RegionOutcome]) -> Option<SyncError> {
    let errors = || regions.iter().filter_map(|r| r.error.as_ref());
    errors()
        .find(|e| e.is_retryable())
        .or_else(|| errors().next())
        .cloned()
        .map(SyncError::Aws)
}
