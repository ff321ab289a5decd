//! When to look again at a membership. Pure.

use std::time::Duration;

use super::decide::Decision;
use crate::api::DetectiveMembershipSpec;

/// How often a membership waiting for its invitation looks again.
pub const INVITATION_RECHECK: Duration = Duration::from_secs(60);

/// `resyncInterval`, or sooner while the invitation has not arrived.
pub fn requeue_after(spec: &DetectiveMembershipSpec, decision: Option<&Decision>, failed: bool) -> Duration {
    let resync = spec.resync_interval();
    match decision {
        Some(Decision::Wait) if !failed => INVITATION_RECHECK.min(resync),
        _ => resync,
    }
}
