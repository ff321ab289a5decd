//! Apply: the one write a Region's decision makes.

use super::decide::Change;
use crate::aws::{AwsError, OrganizationAdmins};

/// Makes the call of `change` in the Region of `detective`.
pub async fn apply<D: OrganizationAdmins>(detective: &D, account_id: &str, change: Change) -> Result<(), AwsError> {
    match change {
        Change::Enable => detective.enable_organization_admin_account(account_id).await,
        Change::Disable => detective.disable_organization_admin_account().await,
    }
}
