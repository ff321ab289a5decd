//! A service's integration with AWS Organizations, the writes the peers make
//! ("Organizations API Reference"):
//!
//! - trusted access (ListAWSServiceAccessForOrganization, EnableAWSServiceAccess,
//!   DisableAWSServiceAccess): the management account grants or withdraws it; it and the
//!   delegated administrators list what is granted. The state is [`crate::trusted_access`]'s,
//!   which Detective's EnableOrganizationAdminAccount writes too;
//! - DeregisterDelegatedAdministrator, the Security Reference Architecture's teardown: the
//!   management account removes an account's registration for a service (Detective's, which
//!   EnableOrganizationAdminAccount made and DisableOrganizationAdminAccount leaves).

use serde_json::{Value, json};

use super::{Body, OrganizationsContext, access_denied, invalid_input, listing, page};
use crate::validate;
use crate::wire::{self, ApiError};

/// The services the caller's organization trusts, in service-principal order, each with when it
/// was enabled. The management account or a delegated administrator may call it.
pub(super) fn list(ctx: &OrganizationsContext<'_>, body: &Body) -> Result<Value, ApiError> {
    let organization = ctx.readable_organization()?;
    let organization = &*organization;
    let items = ctx
        .state
        .trusted_access
        .trusted_services
        .iter()
        .filter(|trusted| trusted.organization == organization.id)
        .map(|trusted| {
            let enabled = json!({
                "ServicePrincipal": trusted.service_principal,
                "DateEnabled": wire::epoch_seconds(wire::jiff_timestamp(trusted.enabled_ms)),
            });
            (trusted.service_principal.clone(), enabled)
        })
        .collect::<std::collections::BTreeMap<_, _>>()
        .into_iter()
        .collect();
    Ok(listing(
        "EnabledServicePrincipals",
        page(organization, "ListAWSServiceAccessForOrganization", body, items)?,
    ))
}

/// Grants the service trusted access (again: no change); for Detective, its service-linked role
/// appears in the management account.
pub(super) fn enable(ctx: &mut OrganizationsContext<'_>, body: &Body) -> Result<Value, ApiError> {
    let principal = required_principal(body)?;
    let (organization, management) = managed(ctx)?;
    ctx.state
        .trusted_access
        .grant_trusted_access(&organization, &management, principal, ctx.rng, ctx.now_ms);
    Ok(json!({}))
}

/// Withdraws the service's trusted access (not granted: no change).
pub(super) fn disable(ctx: &mut OrganizationsContext<'_>, body: &Body) -> Result<Value, ApiError> {
    let principal = required_principal(body)?;
    let (organization, _) = managed(ctx)?;
    ctx.state.trusted_access.revoke_trusted_access(&organization, principal);
    Ok(json!({}))
}

fn required_principal(body: &Body) -> Result<&str, ApiError> {
    body.service_principal()?
        .ok_or_else(|| invalid_input("INPUT_REQUIRED", "You must specify a value for ServicePrincipal."))
}

/// The caller's organization and its management account, which the caller must be: "This
/// operation can be called only from the organization's management account."
fn managed(ctx: &OrganizationsContext<'_>) -> Result<(String, String), ApiError> {
    let organization = ctx.organization()?;
    match organization.management_account.as_deref() {
        Some(management) if management == ctx.caller => Ok((organization.id.clone(), management.to_owned())),
        _ => Err(access_denied()),
    }
}

/// Removes `AccountId`'s registration as a delegated administrator for `ServicePrincipal`; an
/// account not registered for it gets AccountNotRegisteredException.
pub(super) fn deregister_delegated_administrator(
    ctx: &mut OrganizationsContext<'_>,
    body: &Body,
) -> Result<Value, ApiError> {
    let account_id = body.id("AccountId", "^\\d{12}$", validate::is_account_id)?.to_owned();
    let principal = required_principal(body)?;
    let (organization, _) = managed(ctx)?;
    let before = ctx.state.registered_administrators.len();
    ctx.state.registered_administrators.retain(|registered| {
        !(registered.organization == organization
            && registered.account_id == account_id
            && registered.service_principal == principal)
    });
    if ctx.state.registered_administrators.len() == before {
        return Err(ApiError::organizations(
            "AccountNotRegisteredException",
            "The specified account is not a delegated administrator for this AWS service.",
        ));
    }
    Ok(json!({}))
}
