//! Observe: the graph's invitation to this account, if any.

use crate::aws::{Detective, Invitation, MembershipIngest};
use crate::engine::SyncError;
use crate::member::MemberStatus;

/// The invitation (or membership) of `graph_arn`, as ListInvitations shows it.
pub async fn find<D: Detective>(detective: &D, graph_arn: &str) -> Result<Option<Invitation>, SyncError> {
    Ok(detective
        .list_invitations()
        .await?
        .into_iter()
        .find(|i| i.graph_arn == graph_arn))
}

/// This account's own ingest state in `graph_arn` (BatchGetMembershipDatasources), read only once
/// the account has accepted: before that no data of it flows. `Ok(None)`: nothing to read.
pub async fn ingest<D: Detective>(
    detective: &D,
    graph_arn: &str,
    invitation: Option<&Invitation>,
) -> Result<Option<MembershipIngest>, SyncError> {
    let accepted = invitation.is_some_and(|i| {
        matches!(
            i.member.status,
            MemberStatus::Enabled | MemberStatus::AcceptedButDisabled
        )
    });
    if !accepted {
        return Ok(None);
    }
    Ok(detective.membership_datasources(graph_arn).await?)
}
