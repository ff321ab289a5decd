//! One function per Detective operation: validate the whole input first (a refused request
//! changes nothing), check who may call it, apply it to the service model, and build the output
//! members exactly as the SDK deserializes them.
//!
//! One module per API area, beside the two they share:
//!
//! - [`graphs`]: CreateGraph, ListGraphs, DeleteGraph;
//! - [`members`]: the administrator's side of membership (CreateMembers, DeleteMembers,
//!   GetMembers, ListMembers, StartMonitoringMember);
//! - [`membership`]: the member's side (AcceptInvitation, RejectInvitation,
//!   DisassociateMembership, ListInvitations);
//! - [`tags`]: TagResource, UntagResource, ListTagsForResource;
//! - [`organization_admin`]: the organization's Detective administrator
//!   (Enable/Disable/ListOrganizationAdminAccounts) and its graph's configuration
//!   (Describe/UpdateOrganizationConfiguration);
//! - [`datasource_packages`]: ListDatasourcePackages, UpdateDatasourcePackages,
//!   BatchGetGraphMemberDatasources, BatchGetMembershipDatasources;
//! - [`access`]: graph lookup (graphs are regional) and who may call what;
//! - [`output`]: output members several areas answer with (a member's details, batch answers
//!   with their unprocessed entries).
//!
//! This module holds what every operation is given ([`Context`], [`Request`]), what it answers
//! ([`Reply`]), and [`handle`], which sends each [`Operation`] to its function.

mod access;
mod datasource_packages;
mod graphs;
mod members;
mod membership;
mod organization_admin;
mod output;
mod tags;

use serde_json::Value;

use super::model::ServiceState;
use super::prng::SplitMix64;
use super::routes::Operation;
use super::validate::RequestBody;
use super::wire::ApiError;
use super::world::World;

/// Everything an operation may read or change, and who is calling from where.
pub(crate) struct Context<'a> {
    pub state: &'a mut ServiceState,
    pub world: &'a World,
    pub rng: &'a mut SplitMix64,
    pub caller: &'a str,
    pub region: &'a str,
    pub now_ms: i64,
}

/// The parts of an HTTP request an operation reads.
pub(crate) struct Request<'a> {
    pub body: &'a [u8],
    /// Percent-decoded `{ResourceArn}` of the tagging operations.
    pub resource_arn: Option<&'a str>,
    /// Percent-decoded query parameters, in order.
    pub query: &'a [(String, String)],
}

/// A successful answer.
#[derive(Debug)]
pub(crate) enum Reply {
    Json(Value),
    /// No output members: 200 for most operations, 204 for the tagging writes.
    Empty(u16),
}

pub(crate) fn handle(operation: Operation, ctx: &mut Context<'_>, request: &Request<'_>) -> Result<Reply, ApiError> {
    let body = RequestBody::parse(request.body)?;
    match operation {
        Operation::CreateGraph => graphs::create_graph(ctx, &body),
        Operation::ListGraphs => graphs::list_graphs(ctx, &body),
        Operation::DeleteGraph => graphs::delete_graph(ctx, &body),
        Operation::CreateMembers => members::create_members(ctx, &body),
        Operation::DeleteMembers => members::delete_members(ctx, &body),
        Operation::GetMembers => members::get_members(ctx, &body),
        Operation::ListMembers => members::list_members(ctx, &body),
        Operation::StartMonitoringMember => members::start_monitoring_member(ctx, &body),
        Operation::AcceptInvitation => membership::accept_invitation(ctx, &body),
        Operation::RejectInvitation => membership::reject_invitation(ctx, &body),
        Operation::DisassociateMembership => membership::disassociate_membership(ctx, &body),
        Operation::ListInvitations => membership::list_invitations(ctx, &body),
        Operation::TagResource => tags::tag_resource(ctx, request, &body),
        Operation::UntagResource => tags::untag_resource(ctx, request),
        Operation::ListTagsForResource => tags::list_tags_for_resource(ctx, request),
        Operation::EnableOrganizationAdminAccount => organization_admin::enable_organization_admin(ctx, &body),
        Operation::DisableOrganizationAdminAccount => organization_admin::disable_organization_admin(ctx),
        Operation::ListOrganizationAdminAccounts => organization_admin::list_organization_admins(ctx, &body),
        Operation::DescribeOrganizationConfiguration => {
            organization_admin::describe_organization_configuration(ctx, &body)
        }
        Operation::UpdateOrganizationConfiguration => organization_admin::update_organization_configuration(ctx, &body),
        Operation::ListDatasourcePackages => datasource_packages::list_datasource_packages(ctx, &body),
        Operation::UpdateDatasourcePackages => datasource_packages::update_datasource_packages(ctx, &body),
        Operation::BatchGetGraphMemberDatasources => datasource_packages::graph_member_datasources(ctx, &body),
        Operation::BatchGetMembershipDatasources => datasource_packages::membership_datasources(ctx, &body),
        Operation::GetInvestigation
        | Operation::ListIndicators
        | Operation::ListInvestigations
        | Operation::StartInvestigation
        | Operation::UpdateInvestigationState => Err(ApiError::not_implemented(operation.name())),
    }
}
