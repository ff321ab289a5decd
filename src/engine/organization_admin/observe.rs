//! Observe: the organization's Detective administrator in one Region.

use crate::aws::{AwsError, OrganizationAdmin, OrganizationAdmins};

/// The administrator ListOrganizationAdminAccounts reports in this Region, if any (an
/// organization has at most one per Region).
pub async fn administrator<D: OrganizationAdmins>(detective: &D) -> Result<Option<OrganizationAdmin>, AwsError> {
    Ok(detective.list_organization_admin_accounts().await?.into_iter().next())
}
