//! The reconcile pipelines, shared by the controller and the command line so that what a pull
//! request's plan shows is what the controller does:
//! - [`graph`]: a `DetectiveGraph`: observe → plan → apply → accept → report;
//! - [`membership`]: a `DetectiveMembership`: observe → decide → apply → report.
//!
//! Both are reached through one door, [`sync`] (and [`teardown`] when a resource goes): it gets
//! the resource's AWS client (Region, role) and runs the pipeline, or reports why it could not.

pub mod graph;
pub mod membership;

use std::future::Future;
use std::time::Duration;

use k8s_openapi::jiff::Timestamp;
use tracing::info;

use crate::api::validation::FieldErrors;
use crate::api::{DeclaredRole, GraphDeletionPolicy, MembershipDeletionPolicy};
use crate::aws::{AwsAccess, AwsError, ErrorKind, RoleToAssume, SdkDetective};

pub use graph::{Applied, ClaimCheck, GraphSource, Observation, Outcome, Target, administrator_of, failed, report};
pub use membership::{MembershipOutcome, MembershipTarget};

/// How soon to look again while members are in transit or work is pending.
pub const SHORT_REQUEUE: Duration = Duration::from_secs(10);

/// A resource the engine reconciles: where its AWS client comes from and its pipeline.
pub trait Pipeline: Copy + Send + Sync {
    type Outcome: Send;

    /// The declared Region (else the operator's default).
    fn region(&self) -> Option<&str>;
    /// The role to act through, if declared.
    fn role(&self) -> Option<DeclaredRole<'_>>;
    /// Runs the pipeline through `detective`; `aws` reaches other accounts when the pipeline
    /// acts as them.
    fn run(
        self,
        detective: &SdkDetective,
        aws: &AwsAccess,
        mode: Mode,
        now: Timestamp,
    ) -> impl Future<Output = Self::Outcome> + Send;
    /// The outcome of a reconcile that could not start.
    fn failed(self, error: SyncError, now: Timestamp) -> Self::Outcome;
    /// Whether deleting the resource calls AWS at all (`deletionPolicy`, what status recorded).
    fn tears_down(&self) -> bool;
    /// What deleting the resource does in AWS.
    fn tear_down(self, detective: &SdkDetective) -> impl Future<Output = Result<(), SyncError>> + Send;
}

/// The AWS client of a resource: its Region, as its role.
async fn client<P: Pipeline>(aws: &AwsAccess, target: &P) -> Result<SdkDetective, SyncError> {
    let role = target.role().map(RoleToAssume::from);
    Ok(aws.detective(target.region(), role.as_ref()).await?)
}

/// One reconcile of a resource: get its AWS client, then run its pipeline, or report why the
/// client could not be had. The controller and the command line both come through here.
pub async fn sync<P: Pipeline>(aws: &AwsAccess, target: P, mode: Mode, now: Timestamp) -> P::Outcome {
    match client(aws, &target).await {
        Ok(detective) => target.run(&detective, aws, mode, now).await,
        Err(error) => target.failed(error, now),
    }
}

/// Applies the resource's deletion policy in AWS; `Ok` means nothing is left to do.
pub async fn teardown<P: Pipeline>(aws: &AwsAccess, target: P) -> Result<(), SyncError> {
    if !target.tears_down() {
        info!("deletionPolicy keeps the AWS side: releasing without a call");
        return Ok(());
    }
    let detective = client(aws, &target).await?;
    target.tear_down(&detective).await
}

/// [`Pipeline::region`] and [`Pipeline::role`] as the target's spec declares them (both specs
/// have `region()` and `role()`; the CRD types share no trait for them).
macro_rules! reached_as_spec_declares {
    () => {
        fn region(&self) -> Option<&str> {
            self.spec.region()
        }

        fn role(&self) -> Option<DeclaredRole<'_>> {
            self.spec.role()
        }
    };
}

impl Pipeline for Target<'_> {
    type Outcome = Outcome;

    reached_as_spec_declares!();

    async fn run(self, detective: &SdkDetective, aws: &AwsAccess, mode: Mode, now: Timestamp) -> Outcome {
        graph::reconcile(detective, aws, self, mode, now).await
    }

    fn failed(self, error: SyncError, now: Timestamp) -> Outcome {
        graph::failed(self, error, now)
    }

    fn tears_down(&self) -> bool {
        self.spec.deletion_policy == GraphDeletionPolicy::Delete && self.previous.is_some_and(|s| s.graph_arn.is_some())
    }

    async fn tear_down(self, detective: &SdkDetective) -> Result<(), SyncError> {
        let status = self.previous.cloned().unwrap_or_default();
        let Some(graph_arn) = &status.graph_arn else {
            return Ok(());
        };
        graph::teardown::delete_managed(detective, graph_arn, &status.inventory, status.graph_created)
            .await
            .map_err(SyncError::from)
    }
}

impl Pipeline for MembershipTarget<'_> {
    type Outcome = MembershipOutcome;

    reached_as_spec_declares!();

    async fn run(self, detective: &SdkDetective, _aws: &AwsAccess, mode: Mode, now: Timestamp) -> MembershipOutcome {
        membership::reconcile(detective, self, mode, now).await
    }

    fn failed(self, error: SyncError, now: Timestamp) -> MembershipOutcome {
        membership::failed(self, error, now)
    }

    fn tears_down(&self) -> bool {
        self.spec.deletion_policy == MembershipDeletionPolicy::Disassociate
    }

    async fn tear_down(self, detective: &SdkDetective) -> Result<(), SyncError> {
        let left = membership::leave(detective, self.spec).await?;
        info!(left, "deletionPolicy Disassociate applied");
        Ok(())
    }
}

/// Whether the reconcile may write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Observe and plan only: no write call is made (`plan -f`).
    DryRun,
    /// Apply the plan.
    Apply,
}

/// Why a reconcile failed.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error("invalid spec: {0}")]
    InvalidSpec(FieldErrors),
    #[error(transparent)]
    Aws(#[from] AwsError),
    /// AWS will not do what the spec asks (an organization member cannot leave its graph).
    #[error("{0}")]
    Refused(String),
    #[error("behavior graph {graph} is already managed by DetectiveGraph {owner}; delete one of the two resources")]
    GraphClaimed { graph: String, owner: String },
}

impl SyncError {
    /// Whether trying again (with backoff) can succeed without a change to the spec.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::InvalidSpec(_) | Self::GraphClaimed { .. } | Self::Refused(_) => false,
            Self::Aws(error) => error.is_retryable(),
        }
    }

    /// What this failure means for the kstatus conditions: retryable ones keep the resource
    /// Reconciling (with backoff), the others Stall it until the spec or the world changes.
    pub fn verdict(&self) -> crate::api::conditions::Verdict {
        use crate::api::conditions::Verdict;
        if self.is_retryable() {
            Verdict::progressing(self.reason(), self.to_string())
        } else {
            Verdict::stalled(self.reason(), self.to_string())
        }
    }

    /// The condition reason for this failure.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::InvalidSpec(_) => "InvalidSpec",
            Self::GraphClaimed { .. } => "GraphClaimed",
            // The README's and runbooks' reason for a membership that cannot leave its graph.
            Self::Refused(_) => "CannotLeave",
            Self::Aws(error) => match error.kind {
                ErrorKind::Throttled => "Throttled",
                ErrorKind::Unavailable => "AwsUnavailable",
                ErrorKind::Invalid => "AwsValidation",
                ErrorKind::AccessDenied => "AccessDenied",
                ErrorKind::NotFound => "GraphNotFound",
                ErrorKind::Conflict => "AwsConflict",
                ErrorKind::QuotaExceeded => "QuotaExceeded",
                ErrorKind::Other => "AwsError",
            },
        }
    }
}

/// A few account ids for a message, not a thousand.
pub(crate) fn abbreviated(accounts: &[&str]) -> String {
    const SHOWN: usize = 5;
    let mut text = accounts.iter().take(SHOWN).copied().collect::<Vec<_>>().join(", ");
    if accounts.len() > SHOWN {
        text.push_str(&format!(", and {} more", accounts.len() - SHOWN));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_account_lists_are_abbreviated() {
        let ids: Vec<String> = (0..8).map(|i| format!("{i:012}")).collect();
        let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
        let text = abbreviated(&refs);
        assert!(text.ends_with("and 3 more"), "{text}");
        assert_eq!(text.matches(", ").count(), 5);
    }
}
