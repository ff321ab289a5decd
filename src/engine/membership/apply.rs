//! Apply: the one write that answers the invitation.

use super::decide::MembershipWrite;
use crate::aws::{AwsError, Detective};

/// Makes the call of `answer` for `graph_arn`.
pub async fn apply<D: Detective>(detective: &D, graph_arn: &str, answer: MembershipWrite) -> Result<(), AwsError> {
    match answer {
        MembershipWrite::Accept => detective.accept_invitation(graph_arn).await,
        MembershipWrite::Reject => detective.reject_invitation(graph_arn).await,
        MembershipWrite::Disassociate => detective.disassociate_membership(graph_arn).await,
    }
}
