//! What every pipeline's outcome tells its callers (the controller, `sync --wait`): the status it
//! derived, its failure, when to look again, and — read off the status's conditions, the same
//! way for every kind — whether the resource is Ready, Stalled or still Reconciling.

use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;

use super::{GraphOutcome, MembershipOutcome, OrganizationAdminOutcome, SyncError};
use crate::api::conditions::{self, READY, RECONCILING, STALLED};
use crate::api::{DetectiveGraphStatus, DetectiveMembershipStatus, DetectiveOrganizationAdminStatus};

/// A pipeline's outcome, as its callers read it.
pub trait Reported {
    type Status;
    fn status(&self) -> &Self::Status;
    fn conditions(&self) -> &[Condition];
    /// The behavior graph the status records (a graph's; the other kinds record none), for the
    /// reconcile's span.
    fn graph_arn(&self) -> Option<&str>;
    fn error(&self) -> Option<&SyncError>;
    fn take_error(&mut self) -> Option<SyncError>;
    fn requeue_after(&self) -> Duration;
    /// Records in the status the `reconcile.fluxcd.io/requestedAt` value this reconcile handled.
    fn handled_request(&mut self, requested_at: &str);

    fn is_ready(&self) -> bool {
        conditions::is_true(self.conditions(), READY)
    }

    /// Whether the resource ended needing a human (the controller does not retry on its own).
    fn is_stalled(&self) -> bool {
        conditions::is_true(self.conditions(), STALLED)
    }

    /// Whether writes are in flight or planned (a short requeue, or changes in a plan).
    fn is_reconciling(&self) -> bool {
        conditions::is_true(self.conditions(), RECONCILING)
    }
}

/// [`Reported`] for an outcome with public `status`, `error` and `requeue_after` fields;
/// `$graph` reads the graph ARN of `$status`.
macro_rules! reported {
    ($outcome:ty, $status:ty, |$s:ident| $graph:expr) => {
        impl Reported for $outcome {
            type Status = $status;

            fn status(&self) -> &Self::Status {
                &self.status
            }

            fn conditions(&self) -> &[Condition] {
                &self.status.sync.conditions
            }

            fn graph_arn(&self) -> Option<&str> {
                let $s = &self.status;
                $graph
            }

            fn error(&self) -> Option<&SyncError> {
                self.error.as_ref()
            }

            fn take_error(&mut self) -> Option<SyncError> {
                self.error.take()
            }

            fn requeue_after(&self) -> Duration {
                self.requeue_after
            }

            fn handled_request(&mut self, requested_at: &str) {
                self.status.sync.last_handled_reconcile_at = Some(requested_at.to_owned());
            }
        }
    };
}

reported!(GraphOutcome, DetectiveGraphStatus, |status| status.graph_arn.as_deref());
reported!(MembershipOutcome, DetectiveMembershipStatus, |_status| None);
reported!(OrganizationAdminOutcome, DetectiveOrganizationAdminStatus, |_status| {
    None
});
