//! Teardown: `deletionPolicy: Disable` disables the delegation in each declared Region where the
//! declared account is still the administrator (deleting the organization's behavior graph there).

use tracing::info;

use super::decide::{Decision, removal};
use super::{apply::apply, decide::OrganizationAdminWrite, observe::administrator};
use crate::api::DetectiveOrganizationAdminSpec;
use crate::aws::OrganizationAdmins;
use crate::engine::SyncError;

/// Disables the declared account's delegations in the declared Regions of `regions` (the
/// management account's Detective client in each); returns the Regions disabled. Another
/// account's delegation is left alone.
pub async fn disable_declared<D: OrganizationAdmins>(
    regions: &[(String, D)],
    spec: &DetectiveOrganizationAdminSpec,
) -> Result<Vec<String>, SyncError> {
    let mut disabled = Vec::new();
    for (region, client) in regions.iter().filter(|(r, _)| spec.regions.contains(r)) {
        let current = administrator(client).await?;
        let account = current.as_ref().map(|a| a.account_id.as_str());
        if removal(&spec.account_id, spec.deletion_policy, account) == Decision::Disable {
            apply(client, &spec.account_id, OrganizationAdminWrite::Disable).await?;
            info!(%region, account = %spec.account_id, "deletionPolicy Disable: delegation disabled");
            disabled.push(region.clone());
        }
    }
    Ok(disabled)
}
