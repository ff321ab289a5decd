//! Detective in an AWS organization: the management account names, removes and lists the
//! organization's Detective administrator (Enable/Disable/ListOrganizationAdminAccounts), and
//! that administrator configures its organization behavior graph
//! (Describe/UpdateOrganizationConfiguration).
//!
//! Enabling registers the account as AWS Organizations' delegated administrator for Detective
//! (disabling leaves it registered) and grants Detective trusted access, with its service-linked
//! role in the management account ([`crate::trusted_access`]). The realistic profile's parts act here: with a
//! `propagationDelay` a delegation, a removal and an AutoEnable show only after it; with
//! `singleAdministrator` the registered account (or the management account) is the only one
//! that may be named.

use serde_json::{Value, json};

use super::{Context, Reply};
use crate::model::{Delegation, Graph, PendingSetting, RegisteredAdministrator};
use crate::organization::DETECTIVE_SERVICE_PRINCIPAL;
use crate::paging::{self, with_next_token};
use crate::validate::RequestBody;
use crate::wire::{self, ApiError};

pub(super) fn enable_organization_admin(ctx: &mut Context<'_>, body: &RequestBody) -> Result<Reply, ApiError> {
    let account_id = body.account_id("AccountId")?.to_owned();
    let (organization, management) = ctx.managed_organization()?;
    if ctx.world.account(&account_id).organization != Some(organization.as_str()) {
        return Err(ApiError::validation(
            "AccountId",
            format!("account {account_id} is not an account of organization {organization}"),
        ));
    }
    let realism = ctx.world.realism();
    if realism.single_administrator
        && account_id != management
        && let Some(registered) = ctx
            .state
            .registered_for(&organization, DETECTIVE_SERVICE_PRINCIPAL)
            .find(|registered| registered.account_id != account_id)
    {
        return Err(ApiError::invalid_request(format!(
            "Account {} is the delegated administrator for Detective in organization {organization} (AWS \
             Organizations): the Detective administrator account must be that account or the organization \
             management account {management}, in every Region",
            registered.account_id
        )));
    }
    let region = ctx.region.to_owned();
    if let Some(current) = ctx.state.delegations.iter().find(|delegation| {
        delegation.is_active() && delegation.organization == organization && delegation.region == region
    }) {
        if current.account_id == account_id {
            return Ok(Reply::Empty(200));
        }
        return Err(ApiError::validation(
            "AccountId",
            format!(
                "organization {organization} already has Detective administrator account {} in \
                 {region}; call DisableOrganizationAdminAccount first",
                current.account_id
            ),
        ));
    }
    ctx.state.delegations.push(Delegation {
        organization: organization.clone(),
        region: region.clone(),
        account_id: account_id.clone(),
        delegated_ms: ctx.now_ms,
        effective_ms: ctx.now_ms.saturating_add(realism.propagation_delay_ms()),
        listed_until_ms: None,
    });
    // Detective makes the account Organizations' delegated administrator for Detective (the
    // management account cannot be one); disabling it later does not undo that.
    let registered = ctx
        .state
        .registered_for(&organization, DETECTIVE_SERVICE_PRINCIPAL)
        .any(|registered| registered.account_id == account_id);
    if account_id != management && !registered {
        ctx.state.registered_administrators.push(RegisteredAdministrator {
            organization: organization.clone(),
            account_id: account_id.clone(),
            service_principal: DETECTIVE_SERVICE_PRINCIPAL.to_owned(),
            registered_ms: ctx.now_ms,
        });
    }
    // Detective enables its trusted access on the caller's behalf, which brings its
    // service-linked role into the management account.
    ctx.state.trusted_access.grant_trusted_access(
        &organization,
        &management,
        DETECTIVE_SERVICE_PRINCIPAL,
        ctx.rng,
        ctx.now_ms,
    );
    // The service enables Detective for the new administrator if it has no graph yet.
    if ctx.state.graph_of(&account_id, &region).is_none() {
        let arn = Graph::new_arn(&region, &account_id, ctx.rng);
        let graph = Graph::new(arn.clone(), &region, &account_id, ctx.now_ms);
        ctx.state.graphs.insert(arn, graph);
    }
    Ok(Reply::Empty(200))
}

pub(super) fn disable_organization_admin(ctx: &mut Context<'_>) -> Result<Reply, ApiError> {
    let (organization, _) = ctx.managed_organization()?;
    let region = ctx.region.to_owned();
    let delay_ms = ctx.world.realism().propagation_delay_ms();
    let now_ms = ctx.now_ms;
    let Some(delegation) = ctx.state.delegations.iter_mut().find(|delegation| {
        delegation.is_active() && delegation.organization == organization && delegation.region == region
    }) else {
        return Ok(Reply::Empty(200));
    };
    // Listed for the propagation delay still (settling forgets it after; at once without one).
    delegation.listed_until_ms = Some(now_ms.saturating_add(delay_ms));
    let administrator = delegation.account_id.clone();
    // Removing the Detective administrator deletes the organization behavior graph.
    ctx.state
        .graphs
        .retain(|_, graph| !(graph.administrator_id == administrator && graph.region == region));
    Ok(Reply::Empty(200))
}

pub(super) fn list_organization_admins(ctx: &mut Context<'_>, body: &RequestBody) -> Result<Reply, ApiError> {
    let max_results = body.max_results()?;
    let (organization, _) = ctx.managed_organization()?;
    let scope = format!("ListOrganizationAdminAccounts:{organization}:{}", ctx.region);
    let after = paging::resume_after(&scope, body.next_token()?)?;
    let mut admins: Vec<(String, Value)> = ctx
        .state
        .delegations
        .iter()
        .filter(|delegation| {
            delegation.organization == organization
                && delegation.region == ctx.region
                && delegation.is_listed(ctx.now_ms)
        })
        .map(|delegation| {
            let mut admin = json!({
                "AccountId": delegation.account_id,
                "DelegationTime": wire::timestamp(delegation.delegated_ms),
            });
            if let (Some(graph), Value::Object(fields)) = (
                ctx.state.graph_of(&delegation.account_id, &delegation.region),
                &mut admin,
            ) {
                fields.insert("GraphArn".into(), json!(graph.arn));
            }
            (delegation.account_id.clone(), admin)
        })
        .collect();
    admins.sort_by(|a, b| a.0.cmp(&b.0));
    let (page, next) = paging::page(&scope, admins, after.as_deref(), max_results);
    Ok(Reply::Json(with_next_token(json!({"Administrators": page}), next)))
}

/// The caller's graph `arn`, which must be an organization behavior graph.
fn organization_graph<'c>(ctx: &'c mut Context<'_>, arn: &str) -> Result<&'c mut Graph, ApiError> {
    let graph = ctx.admin_graph(arn)?;
    if ctx.effective_organization_of(graph).is_none() {
        // Also while a new delegation propagates: the administrator is not one yet.
        return Err(ApiError::access_denied(format!(
            "Account {} is not the Detective administrator account of an organization; behavior \
             graph {arn} has no organization configuration",
            ctx.caller
        )));
    }
    ctx.admin_graph_mut(arn)
}

pub(super) fn describe_organization_configuration(
    ctx: &mut Context<'_>,
    body: &RequestBody,
) -> Result<Reply, ApiError> {
    let arn = body.graph_arn("GraphArn")?;
    let graph = organization_graph(ctx, arn)?;
    Ok(Reply::Json(json!({"AutoEnable": graph.auto_enable})))
}

pub(super) fn update_organization_configuration(ctx: &mut Context<'_>, body: &RequestBody) -> Result<Reply, ApiError> {
    let arn = body.graph_arn("GraphArn")?;
    let auto_enable = body.optional_bool("AutoEnable")?.unwrap_or(false);
    let delay_ms = ctx.world.realism().propagation_delay_ms();
    let now_ms = ctx.now_ms;
    let graph = organization_graph(ctx, arn)?;
    if delay_ms == 0 {
        graph.auto_enable = auto_enable;
    } else {
        // Reads back (and acts) after the propagation delay, counted from the last Update: a
        // client that repeats itself while the value propagates keeps it from showing
        // (unverified; the stricter reading).
        graph.pending_auto_enable = Some(PendingSetting {
            value: auto_enable,
            due_ms: now_ms.saturating_add(delay_ms),
        });
    }
    Ok(Reply::Empty(200))
}
