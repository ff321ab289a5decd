//! The member's side of membership, called with the invited account's own credentials:
//! AcceptInvitation, RejectInvitation, DisassociateMembership, ListInvitations.

use serde_json::json;

use super::access::graph_not_found;
use super::output::member_detail;
use super::{Context, Reply};
use crate::model::{InvitationType, MemberStatus};
use crate::paging::{self, with_next_token};
use crate::validate::RequestBody;
use crate::wire::ApiError;

pub(super) fn accept_invitation(ctx: &mut Context<'_>, body: &RequestBody) -> Result<Reply, ApiError> {
    let arn = body.graph_arn("GraphArn")?;
    let world = ctx.world;
    let now_ms = ctx.now_ms;
    let (graph, caller) = ctx.membership_mut(arn)?;
    let Some(member) = graph.members.get_mut(&caller) else {
        return Err(graph_not_found(arn, &graph.region));
    };
    if member.status != MemberStatus::Invited {
        return Err(ApiError::conflict(format!(
            "The invitation cannot be accepted: account {caller} has status {} in behavior \
             graph {arn} (AcceptInvitation requires INVITED)",
            member.status
        )));
    }
    member.enable(world.account(&caller), now_ms);
    Ok(Reply::Empty(200))
}

pub(super) fn reject_invitation(ctx: &mut Context<'_>, body: &RequestBody) -> Result<Reply, ApiError> {
    let arn = body.graph_arn("GraphArn")?;
    let (graph, caller) = ctx.membership_mut(arn)?;
    let status = graph.members.get(&caller).map(|member| member.status);
    if status != Some(MemberStatus::Invited) {
        return Err(ApiError::conflict(format!(
            "The invitation cannot be rejected: account {caller} has status {} in behavior \
             graph {arn} (RejectInvitation requires INVITED)",
            status.map_or("none", MemberStatus::as_str)
        )));
    }
    graph.members.remove(&caller);
    Ok(Reply::Empty(200))
}

pub(super) fn disassociate_membership(ctx: &mut Context<'_>, body: &RequestBody) -> Result<Reply, ApiError> {
    let arn = body.graph_arn("GraphArn")?;
    let (graph, caller) = ctx.membership_mut(arn)?;
    let Some(member) = graph.members.get(&caller) else {
        return Err(graph_not_found(arn, &graph.region));
    };
    if member.invitation_type == InvitationType::Organization {
        return Err(ApiError::conflict(format!(
            "Account {caller} is an organization account of behavior graph {arn}; organization \
             accounts cannot disassociate, the Detective administrator account must remove them"
        )));
    }
    if member.status != MemberStatus::Enabled {
        return Err(ApiError::conflict(format!(
            "Account {caller} has status {} in behavior graph {arn}; DisassociateMembership \
             requires ENABLED",
            member.status
        )));
    }
    graph.members.remove(&caller);
    Ok(Reply::Empty(200))
}

pub(super) fn list_invitations(ctx: &mut Context<'_>, body: &RequestBody) -> Result<Reply, ApiError> {
    let max_results = body.max_results()?;
    let scope = format!("ListInvitations:{}:{}", ctx.caller, ctx.region);
    let after = paging::resume_after(&scope, body.next_token()?)?;
    // Open and accepted invitations only: not verification states (no invitation was sent yet,
    // or ever), and not organization memberships (there was no invitation).
    let invitations = ctx
        .state
        .graphs
        .values()
        .filter(|graph| graph.region == ctx.region)
        .filter_map(|graph| {
            let member = graph.members.get(ctx.caller)?;
            let listed = member.invitation_type == InvitationType::Invitation
                && matches!(
                    member.status,
                    MemberStatus::Invited | MemberStatus::Enabled | MemberStatus::AcceptedButDisabled
                );
            listed.then(|| (graph.arn.clone(), member_detail(graph, member)))
        });
    let (page, next) = paging::page(&scope, invitations, after.as_deref(), max_results);
    Ok(Reply::Json(with_next_token(json!({"Invitations": page}), next)))
}
