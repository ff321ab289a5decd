//! What Detective does when an account's state in its organization changes (`state` of a world
//! account: PENDING_ACTIVATION, ACTIVE, SUSPENDED, PENDING_CLOSURE, CLOSED), as the Detective User
//! Guide describes for closed and suspended accounts:
//!
//! - a member account that is no longer ACTIVE stops ingesting: its packages read STOPPED in the
//!   member's `DatasourcePackageIngestStates` and ingest history from the change on, and it
//!   reports no volume; ingestion resumes when it is ACTIVE again;
//! - a CLOSED member account is removed from its graphs ("Detective automatically removes member
//!   accounts that are terminated in AWS, except in the AWS GovCloud (US-East) and AWS GovCloud
//!   (US-West) Regions", page "Removing member accounts from a behavior graph"), and a closed
//!   administrator account loses its graph, each `propagationDelay` after the change (how long
//!   after, and the administrator's graph: **unverified**).
//!
//! The change is noted when the world changes ([`ServiceState::apply_account_states`]); the
//! removals happen lazily when due ([`ServiceState::settle_account_states`]).

use super::model::ServiceState;
use super::organization::AccountState;
use super::world::World;

/// Whether an account in `state` has its data ingested.
fn ingests(state: AccountState) -> bool {
    matches!(state, AccountState::Active | AccountState::PendingActivation)
}

impl ServiceState {
    /// Notes, at `now_ms`, what the accounts whose state changed from `before` to `after` do to
    /// the graphs.
    pub(crate) fn apply_account_states(&mut self, before: &World, after: &World, now_ms: i64) {
        let delay_ms = after.realism().propagation_delay_ms();
        let removal_due = now_ms.saturating_add(delay_ms);
        for graph in self.graphs.values_mut() {
            let is_gov_cloud = |region: &str| region.starts_with("us-gov-");
            let administrator = after.account_state(&graph.administrator_id);
            if administrator == AccountState::Closed {
                graph.removal_due_ms.get_or_insert(removal_due);
            } else {
                graph.removal_due_ms = None;
            }
            for (account_id, member) in &mut graph.members {
                let (was, is) = (before.account_state(account_id), after.account_state(account_id));
                if ingests(is) {
                    member.ingest_stopped_ms = None;
                } else if ingests(was) || member.ingest_stopped_ms.is_none() {
                    member.ingest_stopped_ms.get_or_insert(now_ms);
                }
                if is == AccountState::Closed && !is_gov_cloud(&graph.region) {
                    member.removal_due_ms.get_or_insert(removal_due);
                } else {
                    member.removal_due_ms = None;
                }
            }
        }
    }

    /// Removes the closed members and the graphs of closed administrators that are due by `now_ms`.
    pub(crate) fn settle_account_states(&mut self, now_ms: i64) {
        self.graphs
            .retain(|_, graph| graph.removal_due_ms.is_none_or(|due| now_ms < due));
        for graph in self.graphs.values_mut() {
            graph
                .members
                .retain(|_, member| member.removal_due_ms.is_none_or(|due| now_ms < due));
        }
    }
}
