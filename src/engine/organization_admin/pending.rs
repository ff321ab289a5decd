//! What a sync of the delegations would write: the Regions to enable and to disable, and why a
//! sync would be refused (another account administers the organization). What
//! `status.pendingChanges` and the `InSync` condition read. Pure.

use super::RegionOutcome;
use super::decide::{Decision, OrganizationAdminWrite};
use crate::api::PendingChanges;

/// The plan of a reconcile's Region outcomes (those read without an error), in the order a
/// sync takes them.
pub fn pending_changes(regions: &[RegionOutcome]) -> PendingChanges {
    let decided = || {
        regions
            .iter()
            .filter(|r| r.error.is_none())
            .filter_map(|r| r.decision.as_ref().map(|decision| (r.region.as_str(), decision)))
    };
    let writing = |write: OrganizationAdminWrite| {
        let regions = decided().filter(|(_, decision)| decision.write() == Some(write));
        (write.action(), regions.map(|(region, _)| region.to_owned()).collect())
    };
    let conflicts: Vec<(&str, &str)> = decided()
        .filter_map(|(region, decision)| match decision {
            Decision::Conflict { administrator } => Some((region, administrator.as_str())),
            _ => None,
        })
        .collect();
    // One administrator for the organization: the same account in every conflicting Region.
    let refused = conflicts.first().map(|(_, administrator)| {
        let regions: Vec<&str> = conflicts.iter().map(|(region, _)| *region).collect();
        format!(
            "account {administrator} is already the organization's Detective administrator and is never replaced \
             (in {})",
            regions.join(", ")
        )
    });
    PendingChanges::of(
        vec![
            writing(OrganizationAdminWrite::Enable),
            writing(OrganizationAdminWrite::Disable),
        ],
        refused,
    )
}
