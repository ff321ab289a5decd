//! Observe: the graph's invitation to this account, if any.

use crate::aws::{Detective, Invitation};
use crate::engine::SyncError;

/// The invitation (or membership) of `graph_arn`, as ListInvitations shows it.
pub async fn find<D: Detective>(detective: &D, graph_arn: &str) -> Result<Option<Invitation>, SyncError> {
    Ok(detective
        .list_invitations()
        .await?
        .into_iter()
        .find(|i| i.graph_arn == graph_arn))
}
