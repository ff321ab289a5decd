//! What a sync of the membership would write: the answer, naming the graph, or why the declared
//! state cannot be reached. What `status.pendingChanges` and the `InSync` condition read. Pure.

use super::decide::Decision;
use crate::api::PendingChanges;

/// The plan of `decision` for `graph_arn`: its one write, or the refusal of an organization
/// member that cannot leave.
pub fn pending_changes(decision: &Decision, graph_arn: &str) -> PendingChanges {
    let refused = match decision {
        Decision::Impossible(reason) => Some(reason.clone()),
        _ => None,
    };
    let answer = decision
        .write()
        .map(|write| (write.action(), vec![graph_arn.to_owned()]));
    PendingChanges::of(answer.into_iter().collect(), refused)
}
