//! One reconcile of a `DetectiveMembership`: observe (find the invitation) → decide → apply
//! (answer) → report. Runs as the member account.
//!
//! This file is the orchestration; each step is its own module, named as in [`super::graph`]:
//! [`observe`] (AWS read), [`decide`] (pure), [`apply`] (AWS write), [`pending`] (what a sync
//! would write, pure), [`report`] (pure), [`schedule`] (pure), [`teardown`]
//! (`deletionPolicy: Disassociate`).

pub mod apply;
pub mod decide;
pub mod observe;
pub mod pending;
pub mod report;
pub mod schedule;
pub mod teardown;

use std::time::Duration;

use k8s_openapi::jiff::Timestamp;
use tracing::warn;

use super::target::ResourceTarget;
use super::{Mode, SyncError};
use crate::api::{DetectiveMembership, DetectiveMembershipStatus, MembershipPackageStatus};
use crate::aws::Detective;

pub use decide::{Decision, MembershipWrite, decide};
pub use report::report;
pub use schedule::INVITATION_RECHECK;
pub use teardown::leave;

/// What one reconcile reads besides AWS.
pub type MembershipTarget<'a> = ResourceTarget<'a, DetectiveMembership>;

/// Everything one membership reconcile decided and did.
#[derive(Debug)]
pub struct MembershipOutcome {
    pub decision: Option<Decision>,
    /// The write made, if any.
    pub applied: Option<MembershipWrite>,
    /// The account's own ingest state per package; `None` when it could not be read (the
    /// previous status's is kept).
    pub packages: Option<Vec<MembershipPackageStatus>>,
    pub status: DetectiveMembershipStatus,
    pub error: Option<SyncError>,
    pub requeue_after: Duration,
}

/// The outcome of a reconcile that could not start (e.g. no credentials for the resource's role):
/// the status keeps what the previous one knew and reports the error.
pub fn failed(target: MembershipTarget<'_>, error: SyncError, now: Timestamp) -> MembershipOutcome {
    let previous = target.previous.cloned().unwrap_or_default();
    let mut outcome = MembershipOutcome {
        decision: None,
        applied: None,
        packages: None,
        status: DetectiveMembershipStatus::default(),
        error: Some(error),
        requeue_after: schedule::requeue_after(target.spec, None, true),
    };
    outcome.status = report(&target, &outcome, previous.invitation.clone(), now);
    outcome
}

/// Runs one reconcile of a valid membership spec ([`super::sync`] checks it) through `detective`
/// (the member account).
pub async fn reconcile<D: Detective>(
    detective: &D,
    target: MembershipTarget<'_>,
    mode: Mode,
    now: Timestamp,
) -> MembershipOutcome {
    let mode = mode.under(target.spec.management_policy);
    let graph_arn = &target.spec.graph_arn;
    let found = match observe::find(detective, graph_arn).await {
        Ok(found) => found,
        Err(error) => return failed(target, error, now),
    };
    let decision = decide(target.spec.state, found.invitation.as_ref());
    let mut outcome = MembershipOutcome {
        decision: Some(decision.clone()),
        applied: None,
        packages: None,
        status: DetectiveMembershipStatus::default(),
        error: None,
        requeue_after: Duration::ZERO,
    };
    let mut seen = found;
    if let (Some(answer), Mode::Apply) = (decision.write(), mode) {
        match apply::apply(detective, graph_arn, answer).await {
            Ok(()) => {
                outcome.applied = Some(answer);
                // Read back so the status shows where the answer landed.
                match observe::find(detective, graph_arn).await {
                    Ok(after) => seen = after,
                    Err(error) => outcome.error = Some(error),
                }
            }
            Err(error) => outcome.error = Some(error.into()),
        }
    }
    // Informational: a failed read (say, a role without BatchGetMembershipDatasources) is logged
    // and keeps the previous state; it never holds up the invitation's answer.
    match observe::ingest(detective, graph_arn, &seen).await {
        Ok(ingest) => outcome.packages = Some(ingest.as_ref().map(report::package_statuses).unwrap_or_default()),
        Err(error) => warn!(%error, "could not read this account's datasource ingest state"),
    }
    outcome.requeue_after = schedule::requeue_after(target.spec, Some(&decision), outcome.error.is_some());
    let invitation_status = seen.invitation.as_ref().map(report::invitation_status);
    outcome.status = report(&target, &outcome, invitation_status, now);
    outcome
}
