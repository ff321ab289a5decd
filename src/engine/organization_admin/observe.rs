//! Observe: the organization's Detective administrator, in AWS Organizations and in one Region.

use crate::aws::{AwsError, DETECTIVE_SERVICE_PRINCIPAL, OrganizationAdmin, OrganizationAdmins, Organizations};

/// The administrator ListOrganizationAdminAccounts reports in this Region, if any (an
/// organization has at most one per Region).
pub async fn administrator<D: OrganizationAdmins>(detective: &D) -> Result<Option<OrganizationAdmin>, AwsError> {
    Ok(detective.list_organization_admin_accounts().await?.into_iter().next())
}

/// The accounts other than `account_id` that AWS Organizations registers as the organization's
/// delegated administrator for Detective (ListDelegatedAdministrators). None when `account_id` is
/// the management account, which may be named whoever is registered (DescribeOrganization tells,
/// asked only then).
pub async fn other_registered<O: Organizations>(organizations: &O, account_id: &str) -> Result<Vec<String>, AwsError> {
    let mut others = organizations
        .delegated_administrators(DETECTIVE_SERVICE_PRINCIPAL)
        .await?;
    others.retain(|account| account != account_id);
    if !others.is_empty() && organizations.management_account().await?.as_deref() == Some(account_id) {
        others.clear();
    }
    Ok(others)
}
