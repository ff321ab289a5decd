//! Apply: the one write a Region's decision makes.

use super::decide::OrganizationAdminWrite;
use crate::aws::{AwsError, OrganizationAdmins};

/// Makes the call of `change` in the Region of `detective`.
pub async fn apply<D: OrganizationAdmins>(
    detective: &D,
    account_id: &str,
    change: OrganizationAdminWrite,
) -> Result<(), AwsError> {
    match change {
        OrganizationAdminWrite::Enable => detective.enable_organization_admin_account(account_id).await,
        OrganizationAdminWrite::Disable => detective.disable_organization_admin_account().await,
    }
}
