//! Trusted access, the Organizations side ("Organizations API Reference":
//! ListAWSServiceAccessForOrganization, EnableAWSServiceAccess, DisableAWSServiceAccess): the
//! management account grants or withdraws a service's integration; it and the delegated
//! administrators list what is granted. The state is [`crate::trusted_access`]'s, which
//! Detective's EnableOrganizationAdminAccount writes too.

use serde_json::{Value, json};

use super::{Body, OrganizationsContext, access_denied, invalid_input, listing, page};
use crate::organization::Organization;
use crate::wire::{self, ApiError};

/// The services the caller's organization trusts, in service-principal order, each with when it
/// was enabled. The management account or a delegated administrator may call it.
pub(super) fn list(ctx: &OrganizationsContext<'_>, body: &Body) -> Result<Value, ApiError> {
    let organization = ctx.readable_organization()?;
    let items = ctx
        .state
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
        .grant_trusted_access(&organization, &management, principal, ctx.rng, ctx.now_ms);
    Ok(json!({}))
}

/// Withdraws the service's trusted access (not granted: no change).
pub(super) fn disable(ctx: &mut OrganizationsContext<'_>, body: &Body) -> Result<Value, ApiError> {
    let principal = required_principal(body)?;
    let (organization, _) = managed(ctx)?;
    ctx.state.revoke_trusted_access(&organization, principal);
    Ok(json!({}))
}

fn required_principal<'b>(body: &'b Body) -> Result<&'b str, ApiError> {
    body.service_principal()?
        .ok_or_else(|| invalid_input("INPUT_REQUIRED", "You must specify a value for ServicePrincipal."))
}

/// The caller's organization and its management account, which the caller must be: "This
/// operation can be called only from the organization's management account."
fn managed(ctx: &OrganizationsContext<'_>) -> Result<(String, String), ApiError> {
    let organization: &Organization = ctx.organization()?;
    match organization.management_account.as_deref() {
        Some(management) if management == ctx.caller => Ok((organization.id.clone(), management.to_owned())),
        _ => Err(access_denied()),
    }
}
