//! The reconcile pipelines, shared by the controller and the command line so that what a pull
//! request's plan shows is what the controller does:
//! - [`graph`]: a `DetectiveGraph`: observe → declare → decide → apply → accept → report;
//! - [`membership`]: a `DetectiveMembership`: observe → decide → apply → report;
//! - [`organization_admin`]: a `DetectiveOrganizationAdmin`, per Region: observe → decide →
//!   apply → report;
//! - [`graph_set`]: a `DetectiveGraphSet`'s children and rollup, pure (it makes no AWS call:
//!   its children do).
//!
//! Beside them, [`organization_listings`]: the organization listings the graphs of one process
//! share (given to a graph's reconcile through its [`GraphTarget`]).
//!
//! All are reached through one door, [`sync`] (and [`teardown`] when a resource goes): it gets
//! the resource's AWS clients (its Region or Regions, its role) and runs the pipeline, or reports
//! why it could not.

pub mod graph;
pub mod graph_set;
pub mod membership;
pub mod organization_admin;
pub mod organization_listings;
pub mod outcome;
mod port_vocabulary;
pub mod target;

use std::future::Future;
use std::time::Duration;

use k8s_openapi::jiff::Timestamp;
use tracing::info;

use crate::api::validation::FieldErrors;
use crate::api::{DeclaredRole, DelegationRemoval, GraphDeletionPolicy, ManagementPolicy, MembershipDeletionPolicy};
use crate::aws::{AwsAccess, AwsError, ErrorKind, ReachOrganizations, RoleToAssume, SdkDetective, SdkOrganizations};

pub use graph::members_from::SharedListings;
pub use graph::{ClaimCheck, GraphObservation, GraphOutcome, GraphSource, GraphTarget, GraphWrite, failed, report};
pub use membership::{MembershipOutcome, MembershipTarget, MembershipWrite};
pub use organization_admin::{
    OrganizationAdminClients, OrganizationAdminOutcome, OrganizationAdminTarget, OrganizationAdminWrite,
};
pub use outcome::Reported;

/// How soon to look again while members are in transit or work is pending.
pub const SHORT_REQUEUE: Duration = Duration::from_secs(10);

/// How long a new delegation of the organization's Detective administrator may take to show
/// (in ListOrganizationAdminAccounts, and for Describe/UpdateOrganizationConfiguration) before
/// the operator stops looking again soon and reports Stalled: the 5 minutes Terraform's
/// `aws_detective_organization_admin_account` waits for it, the longest wait a peer documents.
pub const DELEGATION_SHOWS_WITHIN: Duration = Duration::from_secs(300);

/// A resource the engine reconciles: where its AWS clients come from and its pipeline.
pub trait Pipeline: Copy + Send + Sync {
    type Outcome: Reported + Send;
    /// The AWS clients the pipeline runs with: one Region's, or one per declared Region.
    type Clients: Send + Sync;

    /// Whether the spec can be acted on at all (checked before any AWS call).
    fn validate(&self) -> Result<(), FieldErrors>;
    /// The resource's clients (its Regions, as its role).
    fn connect(&self, aws: &AwsAccess) -> impl Future<Output = Result<Self::Clients, SyncError>> + Send;
    /// Runs the pipeline of a valid spec through `clients`; `aws` reaches other accounts when
    /// the pipeline acts as them.
    fn run(
        self,
        clients: &Self::Clients,
        aws: &AwsAccess,
        mode: Mode,
        now: Timestamp,
    ) -> impl Future<Output = Self::Outcome> + Send;
    /// The outcome of a reconcile that could not start.
    fn failed(self, error: SyncError, now: Timestamp) -> Self::Outcome;
    /// `spec.managementPolicy`: under `Observe` neither a reconcile nor a deletion writes to AWS.
    fn management_policy(&self) -> ManagementPolicy;
    /// Whether deleting a managed resource calls AWS at all (`deletionPolicy`, what status
    /// recorded).
    fn tears_down(&self) -> bool;
    /// What deleting the resource does in AWS.
    fn tear_down(self, clients: &Self::Clients) -> impl Future<Output = Result<(), SyncError>> + Send;
}

/// The Detective client of one Region (else the operator's default), as `role` when declared.
pub(crate) async fn regional_client(
    aws: &AwsAccess,
    region: Option<&str>,
    role: Option<DeclaredRole<'_>>,
) -> Result<SdkDetective, SyncError> {
    let role = role.map(RoleToAssume::from);
    Ok(aws.detective(region, role.as_ref()).await?)
}

/// [`Pipeline::validate`] and [`Pipeline::management_policy`] read off the spec's `validate()`
/// and `management_policy` (the CRD derive gives the specs no common trait).
macro_rules! checked_by_spec {
    () => {
        fn validate(&self) -> Result<(), FieldErrors> {
            self.spec.validate()
        }

        fn management_policy(&self) -> ManagementPolicy {
            self.spec.management_policy
        }
    };
}

/// [`checked_by_spec`], and [`Pipeline::Clients`] and [`Pipeline::connect`] of a kind that runs
/// in one Region, read off its spec: `region()` (else the operator's default) and `role()`.
macro_rules! in_one_region_by_spec {
    () => {
        type Clients = SdkDetective;
        checked_by_spec!();

        async fn connect(&self, aws: &AwsAccess) -> Result<SdkDetective, SyncError> {
            regional_client(aws, self.spec.region(), self.spec.role()).await
        }
    };
}

/// One reconcile of a resource: check its spec, get its AWS clients, then run its pipeline, or
/// report why it could not start. The controller and the command line both come through here.
pub async fn sync<P: Pipeline>(aws: &AwsAccess, target: P, mode: Mode, now: Timestamp) -> P::Outcome {
    if let Err(errors) = target.validate() {
        return target.failed(SyncError::InvalidSpec(errors), now);
    }
    match target.connect(aws).await {
        Ok(clients) => target.run(&clients, aws, mode, now).await,
        Err(error) => target.failed(error, now),
    }
}

/// Applies the resource's deletion policy in AWS; `Ok` means nothing is left to do.
pub async fn teardown<P: Pipeline>(aws: &AwsAccess, target: P) -> Result<(), SyncError> {
    if target.management_policy().observes() {
        info!("managementPolicy Observe: releasing without an AWS call, whatever deletionPolicy says");
        return Ok(());
    }
    if !target.tears_down() {
        info!("deletionPolicy keeps the AWS side: releasing without a call");
        return Ok(());
    }
    let clients = target.connect(aws).await?;
    target.tear_down(&clients).await
}

impl Pipeline for GraphTarget<'_> {
    type Outcome = GraphOutcome;
    in_one_region_by_spec!();

    async fn run(self, detective: &SdkDetective, aws: &AwsAccess, mode: Mode, now: Timestamp) -> GraphOutcome {
        graph::reconcile(detective, aws, self, mode, now).await
    }

    fn failed(self, error: SyncError, now: Timestamp) -> GraphOutcome {
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
    in_one_region_by_spec!();

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

impl Pipeline for OrganizationAdminTarget<'_> {
    type Outcome = OrganizationAdminOutcome;
    /// The management account's Organizations client and its Detective client per Region the
    /// resource reads.
    type Clients = OrganizationAdminClients<SdkDetective, SdkOrganizations>;
    checked_by_spec!();

    async fn connect(&self, aws: &AwsAccess) -> Result<Self::Clients, SyncError> {
        let mut regions = Vec::new();
        for (region, _) in self.regions() {
            let client = regional_client(aws, Some(&region), self.spec.role()).await?;
            regions.push((region, client));
        }
        // Organizations is global; its client assumes the role through the first Region's STS.
        let role = self.spec.role().map(RoleToAssume::from);
        let home = regions.first().map(|(region, _)| region.as_str());
        let organizations = aws.organizations(home, role.as_ref()).await?;
        Ok(OrganizationAdminClients { organizations, regions })
    }

    async fn run(
        self,
        clients: &Self::Clients,
        _aws: &AwsAccess,
        mode: Mode,
        now: Timestamp,
    ) -> OrganizationAdminOutcome {
        organization_admin::reconcile(clients, self, mode, now).await
    }

    fn failed(self, error: SyncError, now: Timestamp) -> OrganizationAdminOutcome {
        organization_admin::failed(self, error, now)
    }

    fn tears_down(&self) -> bool {
        self.spec.deletion_policy == DelegationRemoval::Disable
    }

    async fn tear_down(self, clients: &Self::Clients) -> Result<(), SyncError> {
        let disabled = organization_admin::disable_declared(&clients.regions, self.spec).await?;
        info!(?disabled, "deletionPolicy Disable applied");
        Ok(())
    }
}

/// Whether the reconcile may write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Observe and plan only: no write call is made (`plan -f`, `managementPolicy: Observe`).
    DryRun,
    /// Apply the plan.
    Apply,
}

impl Mode {
    /// The mode a resource under `policy` runs in: whatever the caller asks, `Observe` makes
    /// no AWS write.
    pub fn under(self, policy: ManagementPolicy) -> Self {
        if policy.observes() { Self::DryRun } else { self }
    }
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
    /// `spec.organization.autoEnable` could not be carried out.
    #[error(transparent)]
    AutoEnable(#[from] graph::auto_enable::AutoEnableError),
    /// `spec.membersFrom.organization` could not be resolved.
    #[error(transparent)]
    MembersFrom(#[from] graph::members_from::MembersFromError),
}

impl SyncError {
    /// Whether trying again (with backoff) can succeed without a change to the spec.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::InvalidSpec(_) | Self::GraphClaimed { .. } | Self::Refused(_) => false,
            Self::Aws(error) => error.is_retryable(),
            Self::AutoEnable(error) => error.is_retryable(),
            Self::MembersFrom(error) => error.is_retryable(),
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
            Self::AutoEnable(error) => error.reason(),
            Self::MembersFrom(error) => error.reason(),
            Self::Aws(error) => match error.kind {
                ErrorKind::Throttled => "Throttled",
                ErrorKind::Unavailable => "AwsUnavailable",
                ErrorKind::Invalid => "AwsValidation",
                ErrorKind::AccessDenied => "AccessDenied",
                ErrorKind::NotFound => "GraphNotFound",
                ErrorKind::Conflict => "AwsConflict",
                ErrorKind::QuotaExceeded => "QuotaExceeded",
                ErrorKind::RegionUnavailable => "RegionUnavailable",
                ErrorKind::RegionNotEnabled => "RegionNotEnabled",
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
