//! Teardown: `deletionPolicy: Disassociate` leaves the graph when the resource goes.

use super::decide::{Decision, decide};
use super::{apply::apply, observe::find};
use crate::api::{DesiredInvitationState, DetectiveMembershipSpec};
use crate::aws::Detective;
use crate::engine::SyncError;

/// Leaves the graph (or rejects its open invitation); `Ok(false)` when there was nothing to
/// leave. An organization member cannot leave: [`SyncError::Refused`].
pub async fn leave<D: Detective>(detective: &D, spec: &DetectiveMembershipSpec) -> Result<bool, SyncError> {
    let Some(invitation) = find(detective, &spec.graph_arn).await? else {
        return Ok(false);
    };
    match decide(DesiredInvitationState::Rejected, Some(&invitation)) {
        Decision::Impossible(reason) => Err(SyncError::Refused(reason)),
        decision => match decision.answer() {
            Some(answer) => {
                apply(detective, &spec.graph_arn, answer).await?;
                Ok(true)
            }
            None => Ok(false),
        },
    }
}
