//! One reconcile of a `DetectiveOrganizationAdmin`: observe (the organization's delegated
//! administrator for Detective in AWS Organizations, then its Detective administrator in each
//! Region it reads) → decide per Region, knowing the organization's → apply (Enable or Disable) →
//! report. Runs as the organization's management account: one Organizations client and one
//! Detective client per Region.
//!
//! This file is the orchestration; each step is its own module, named as in [`super::membership`]:
//! [`observe`] (AWS reads), [`decide`] (pure), [`apply`] (AWS write), [`pending`] (what a sync
//! would write, pure), [`report`] (pure),
//! [`schedule`] (when to look again at a delegation that does not show yet, pure),
//! [`teardown`] (`deletionPolicy: Disable`).

pub mod apply;
pub mod decide;
pub mod observe;
pub mod pending;
pub mod report;
pub mod schedule;
pub mod teardown;

use std::time::Duration;

use k8s_openapi::jiff::Timestamp;
use tracing::{Instrument, info, info_span};

use super::target::ResourceTarget;
use super::{Mode, Reported, SHORT_REQUEUE, SyncError};
use crate::api::{DetectiveOrganizationAdmin, DetectiveOrganizationAdminSpec, DetectiveOrganizationAdminStatus};
use crate::aws::{AwsError, OrganizationAdmin, OrganizationAdmins, Organizations};

pub use decide::{Decision, OrganizationAdminWrite, RegionView, decide, regions_in_view};
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

/// The management account's clients: AWS Organizations (global), and Detective in each Region
/// the target reads ([`OrganizationAdminTarget::regions`]).
#[derive(Clone, Debug)]
pub struct OrganizationAdminClients<D, O> {
    pub organizations: O,
    pub regions: Vec<(String, D)>,
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

/// Runs one reconcile of a valid spec ([`super::sync`] checks it) through `clients`.
pub async fn reconcile<D: OrganizationAdmins, O: Organizations>(
    clients: &OrganizationAdminClients<D, O>,
    target: OrganizationAdminTarget<'_>,
    mode: Mode,
    now: Timestamp,
) -> OrganizationAdminOutcome {
    let mode = mode.under(target.spec.management_policy);
    let spec = target.spec;
    let registered = match observe::other_registered(&clients.organizations, &spec.account_id).await {
        Ok(registered) => registered,
        Err(error) => return failed(target, SyncError::Aws(error), now),
    };
    let mut regions = Vec::new();
    for (region, declared) in target.regions() {
        let Some((_, client)) = clients.regions.iter().find(|(r, _)| *r == region) else {
            continue;
        };
        let span = info_span!("region", region = %region, declared);
        let read = observe::administrator(client).instrument(span).await;
        regions.push(RegionOutcome {
            region,
            declared,
            decision: None,
            administrator: read.as_ref().ok().cloned().flatten(),
            applied: None,
            error: read.err(),
        });
    }
    let declared_administrators = regions
        .iter()
        .filter(|r| r.declared)
        .filter_map(|r| r.administrator.as_ref().map(|a| a.account_id.as_str()));
    let other = decide::other_administrator(&spec.account_id, &registered, declared_administrators).map(str::to_owned);
    for outcome in regions.iter_mut().filter(|r| r.error.is_none()) {
        let Some((_, client)) = clients.regions.iter().find(|(r, _)| *r == outcome.region) else {
            continue;
        };
        let span = info_span!("region", region = %outcome.region, declared = outcome.declared);
        let enabled_at = target
            .previous
            .and_then(|p| p.regions.iter().find(|e| e.region == outcome.region))
            .and_then(|e| e.enable_time.as_ref())
            .map(|time| time.0);
        decide_and_apply(client, outcome, spec, other.as_deref(), enabled_at, mode, now)
            .instrument(span)
            .await;
    }
    let error = first_error(&regions);
    let status = report(&target, &regions, None, mode, now);
    let mut outcome = OrganizationAdminOutcome {
        regions,
        status,
        error,
        requeue_after: spec.resync_interval(),
    };
    if outcome.error.is_none() && outcome.is_reconciling() {
        let soonest = outcome.regions.iter().filter_map(|r| recheck(r, now)).min();
        outcome.requeue_after = soonest.unwrap_or(SHORT_REQUEUE).min(outcome.requeue_after);
    }
    outcome
}

/// Decide → apply in one Region whose administrator was read; `other` is another account that
/// administers the organization, `enabled_at` an earlier Enable that did not show then.
async fn decide_and_apply<D: OrganizationAdmins>(
    client: &D,
    outcome: &mut RegionOutcome,
    spec: &DetectiveOrganizationAdminSpec,
    other: Option<&str>,
    enabled_at: Option<Timestamp>,
    mode: Mode,
    now: Timestamp,
) {
    let view = RegionView {
        declared: outcome.declared,
        administrator: outcome.administrator.as_ref().map(|a| a.account_id.as_str()),
        other_administrator: other,
        enabled_at,
    };
    let decision = decide(spec, view, now);
    outcome.decision = Some(decision.clone());
    let (Some(change), Mode::Apply) = (decision.write(), mode) else {
        return;
    };
    match apply::apply(client, &spec.account_id, change).await {
        Ok(()) => {
            info!(operation = change.operation(), account = %spec.account_id, "delegation changed");
            outcome.applied = Some(change);
            // Read back so the status shows the delegation (and its graph) as it now is: a new
            // one usually does not show yet.
            match observe::administrator(client).await {
                Ok(administrator) => outcome.administrator = administrator,
                Err(error) => outcome.error = Some(error),
            }
        }
        Err(error) => outcome.error = Some(error),
    }
}

/// When to look again at a Region whose delegation was enabled and does not show yet.
fn recheck(region: &RegionOutcome, now: Timestamp) -> Option<Duration> {
    let shown = region.administrator.is_some();
    match (&region.decision, region.applied) {
        (Some(Decision::Propagating { since }), _) => Some(schedule::recheck_after(*since, now)),
        (Some(Decision::Enable), Some(OrganizationAdminWrite::Enable)) if !shown => {
            Some(schedule::recheck_after(now, now))
        }
        _ => None,
    }
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
