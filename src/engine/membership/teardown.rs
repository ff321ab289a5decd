//! Teardown: `deletionPolicy: Disassociate` leaves the graph when the resource goes.

use super::decide::{Decision, ORGANIZATION_MEMBER, decide};
use super::{apply::apply, observe::find};
use crate::api::{DesiredInvitationState, DetectiveMembershipSpec};
use crate::aws::{Detective, ErrorKind};
use crate::engine::SyncError;

/// Leaves the graph (or rejects its open invitation); `Ok(false)` when there was nothing to
/// leave. An organization member cannot leave: [`SyncError::Refused`].
pub async fn leave<D: Detective>(detective: &D, spec: &DetectiveMembershipSpec) -> Result<bool, SyncError> {
    let Some(invitation) = find(detective, &spec.graph_arn).await?.invitation else {
        // An organization membership whose data does not flow yet is not found either. Only
        // DisassociateMembership tells: it refuses an organization account (ConflictException)
        // and answers ResourceNotFoundException to an account that is no member.
        return match detective.disassociate_membership(&spec.graph_arn).await {
            Ok(()) => Ok(true),
            Err(error) if error.kind == ErrorKind::NotFound => Ok(false),
            Err(error) if error.kind == ErrorKind::Conflict => Err(SyncError::Refused(ORGANIZATION_MEMBER.into())),
            Err(error) => Err(error.into()),
        };
    };
    match decide(DesiredInvitationState::Rejected, Some(&invitation)) {
        Decision::Impossible(reason) => Err(SyncError::Refused(reason)),
        decision => match decision.write() {
            Some(answer) => {
                apply(detective, &spec.graph_arn, answer).await?;
                Ok(true)
            }
            None => Ok(false),
        },
    }
}
