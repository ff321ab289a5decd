//! The port: the Detective calls the operator makes, in the operator's own vocabulary.
//!
//! The engine is generic over this trait; the only implementation in the product is the SDK
//! adapter ([`super::SdkDetective`]). Tests exercise the adapter against the project's emulator
//! rather than faking this trait, so the real SDK, its retries and its wire format are covered.

use std::collections::BTreeMap;
use std::future::Future;

use k8s_openapi::jiff::Timestamp;

use super::AwsError;
pub use crate::member::PackageIngest;
use crate::member::{InvitationSettings, Invitee, ObservedMember, UnprocessedAccount};

/// One behavior graph of the calling account (ListGraphs).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GraphSummary {
    pub arn: String,
    pub created_time: Option<Timestamp>,
}

/// What a CreateMembers call did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CreateOutcome {
    /// The accounts Detective started verifying, in their new state.
    pub members: Vec<ObservedMember>,
    /// The accounts it refused (e.g. already members), with its reason.
    pub unprocessed: Vec<UnprocessedAccount>,
}

/// What a DeleteMembers call did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DeleteOutcome {
    pub deleted: Vec<String>,
    pub unprocessed: Vec<UnprocessedAccount>,
}

/// An invitation as the member account sees it (ListInvitations).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Invitation {
    pub graph_arn: String,
    pub administrator_account_id: Option<String>,
    pub member: ObservedMember,
}

/// The ingest state of each datasource package, keyed by package name (`DETECTIVE_CORE`, ...).
pub type PackageStates = BTreeMap<String, PackageIngest>;

/// The calling member account's ingest state in one graph (BatchGetMembershipDatasources): per
/// package, its current state and when it entered it.
pub type MembershipIngest = BTreeMap<String, (PackageIngest, Option<Timestamp>)>;

/// The Detective calls the operator makes, as one principal in one Region.
pub trait Detective: Send + Sync {
    /// The calling account's behavior graphs (all pages).
    fn list_graphs(&self) -> impl Future<Output = Result<Vec<GraphSummary>, AwsError>> + Send;
    /// Creates (or, idempotently, returns) the calling account's graph in this Region.
    fn create_graph(&self, tags: &BTreeMap<String, String>) -> impl Future<Output = Result<String, AwsError>> + Send;
    fn delete_graph(&self, graph_arn: &str) -> impl Future<Output = Result<(), AwsError>> + Send;

    /// Every member of the graph (all pages, the largest page size).
    fn list_members(&self, graph_arn: &str) -> impl Future<Output = Result<Vec<ObservedMember>, AwsError>> + Send;
    /// Invites at most 50 accounts.
    fn create_members(
        &self,
        graph_arn: &str,
        invitees: &[Invitee],
        invitation: &InvitationSettings,
    ) -> impl Future<Output = Result<CreateOutcome, AwsError>> + Send;
    /// Removes at most 50 members.
    fn delete_members(
        &self,
        graph_arn: &str,
        account_ids: &[String],
    ) -> impl Future<Output = Result<DeleteOutcome, AwsError>> + Send;
    fn start_monitoring_member(
        &self,
        graph_arn: &str,
        account_id: &str,
    ) -> impl Future<Output = Result<(), AwsError>> + Send;

    fn list_tags(&self, graph_arn: &str) -> impl Future<Output = Result<BTreeMap<String, String>, AwsError>> + Send;
    fn tag_resource(
        &self,
        graph_arn: &str,
        tags: &BTreeMap<String, String>,
    ) -> impl Future<Output = Result<(), AwsError>> + Send;
    fn untag_resource(&self, graph_arn: &str, keys: &[String]) -> impl Future<Output = Result<(), AwsError>> + Send;

    /// Every datasource package of the graph (`DETECTIVE_CORE`, `EKS_AUDIT`, ...) and its state
    /// (all pages).
    fn list_datasource_packages(&self, graph_arn: &str)
    -> impl Future<Output = Result<PackageStates, AwsError>> + Send;
    /// Starts `packages` for the graph (UpdateDatasourcePackages, 1 to 25 packages).
    fn update_datasource_packages(
        &self,
        graph_arn: &str,
        packages: &[String],
    ) -> impl Future<Output = Result<(), AwsError>> + Send;

    /// The calling member account's own ingest state in `graph_arn`
    /// (BatchGetMembershipDatasources); `None` when the graph does not count it as a member.
    fn membership_datasources(
        &self,
        graph_arn: &str,
    ) -> impl Future<Output = Result<Option<MembershipIngest>, AwsError>> + Send;

    /// The calling account's open and accepted invitations (all pages).
    fn list_invitations(&self) -> impl Future<Output = Result<Vec<Invitation>, AwsError>> + Send;
    fn accept_invitation(&self, graph_arn: &str) -> impl Future<Output = Result<(), AwsError>> + Send;
    fn reject_invitation(&self, graph_arn: &str) -> impl Future<Output = Result<(), AwsError>> + Send;
    fn disassociate_membership(&self, graph_arn: &str) -> impl Future<Output = Result<(), AwsError>> + Send;

    /// Whether the organization's accounts that join later become members on their own
    /// (DescribeOrganizationConfiguration; the delegated administrator's graph only).
    fn describe_organization_configuration(
        &self,
        graph_arn: &str,
    ) -> impl Future<Output = Result<bool, AwsError>> + Send;
    /// Sets `AutoEnable` (UpdateOrganizationConfiguration).
    fn update_organization_configuration(
        &self,
        graph_arn: &str,
        auto_enable: bool,
    ) -> impl Future<Output = Result<(), AwsError>> + Send;
}

/// Detective as another account, through a role in that account (to accept invitations on the
/// members' behalf).
pub trait AssumeRole: Send + Sync {
    type Member: Detective;
    fn assume(
        &self,
        role: &super::RoleToAssume,
        region: &str,
    ) -> impl Future<Output = Result<Self::Member, AwsError>> + Send;
}

/// The organization's delegated Detective administrator in one Region
/// (ListOrganizationAdminAccounts' `Administrators`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OrganizationAdmin {
    pub account_id: String,
    /// The administrator's behavior graph, when the service reports it.
    pub graph_arn: Option<String>,
    pub delegation_time: Option<Timestamp>,
}

/// The calls of an organization's management account that name its Detective administrator, in
/// one Region. Only the management account may make them (AccessDeniedException otherwise).
pub trait OrganizationAdmins: Send + Sync {
    /// The organization's Detective administrators in this Region (all pages; at most one).
    fn list_organization_admin_accounts(&self)
    -> impl Future<Output = Result<Vec<OrganizationAdmin>, AwsError>> + Send;
    /// Makes `account_id` the organization's Detective administrator in this Region.
    fn enable_organization_admin_account(&self, account_id: &str) -> impl Future<Output = Result<(), AwsError>> + Send;
    /// Removes the organization's Detective administrator in this Region, **deleting the
    /// organization's behavior graph** there.
    fn disable_organization_admin_account(&self) -> impl Future<Output = Result<(), AwsError>> + Send;
}
