//! Apply: the one write that answers the invitation.

use super::decide::Answer;
use crate::aws::{AwsError, Detective};

/// Makes the call of `answer` for `graph_arn`.
pub async fn apply<D: Detective>(detective: &D, graph_arn: &str, answer: Answer) -> Result<(), AwsError> {
    match answer {
        Answer::Accept => detective.accept_invitation(graph_arn).await,
        Answer::Reject => detective.reject_invitation(graph_arn).await,
        Answer::Disassociate => detective.disassociate_membership(graph_arn).await,
    }
}
