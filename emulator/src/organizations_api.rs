//! The AWS Organizations API, as far as reading an organization goes: protocol awsJson1_1
//! (`POST /` with `X-Amz-Target: AWSOrganizationsV20161128.<Operation>`), answered from the
//! world's organizations ([`crate::organization`]).
//!
//! Who may call: DescribeOrganization any account of the organization; everything else only its
//! management account or a delegated administrator (the world's `delegatedAdministrators`, or an
//! account that EnableOrganizationAdminAccount registered for Detective, which stays registered
//! after DisableOrganizationAdminAccount). ListDelegatedAdministrators lists both kinds.
//! An account in no organization gets AWSOrganizationsNotInUseException, others
//! AccessDeniedException. Pages hold at most 20 items (MaxResults 1–20).
//!
//! Trusted access (ListAWSServiceAccessForOrganization, Enable/DisableAWSServiceAccess) and
//! DeregisterDelegatedAdministrator are in [`integration`]: the only writes.

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

mod integration;

use super::model::ServiceState;
use super::operation_enum::operations;
use super::organization::{self, MAX_PAGE_SIZE, Organization};
use super::organization_view;
use super::paging;
use super::prng::SplitMix64;
use super::validate;
use super::wire::{self, ApiError};
use super::world::World;

/// The `X-Amz-Target` prefix of the Organizations API.
pub(crate) const TARGET_PREFIX: &str = "AWSOrganizationsV20161128.";

operations! {
    /// An Organizations operation the emulator answers.
    pub(crate) enum OrganizationsOperation {
        DescribeAccount,
        DescribeOrganization,
        DescribeOrganizationalUnit,
        DeregisterDelegatedAdministrator,
        DisableAWSServiceAccess,
        EnableAWSServiceAccess,
        ListAWSServiceAccessForOrganization,
        ListAccounts,
        ListAccountsForParent,
        ListChildren,
        ListDelegatedAdministrators,
        ListOrganizationalUnitsForParent,
        ListParents,
        ListRoots,
    }
}

/// The operation name of an `X-Amz-Target` header value that addresses Organizations.
pub(crate) fn target_operation(target: &str) -> Option<&str> {
    target.strip_prefix(TARGET_PREFIX)
}

/// What an Organizations operation reads or changes, and who calls when.
pub(crate) struct OrganizationsContext<'a> {
    pub state: &'a mut ServiceState,
    pub world: &'a World,
    pub caller: &'a str,
    pub now_ms: i64,
    pub rng: &'a mut SplitMix64,
}

impl OrganizationsOperation {
    /// Whether the operation changes the state (to be persisted).
    pub fn is_write(self) -> bool {
        matches!(
            self,
            OrganizationsOperation::EnableAWSServiceAccess
                | OrganizationsOperation::DisableAWSServiceAccess
                | OrganizationsOperation::DeregisterDelegatedAdministrator
        )
    }
}

pub(crate) fn handle(
    operation: OrganizationsOperation,
    ctx: &mut OrganizationsContext<'_>,
    body: &[u8],
) -> Result<Value, ApiError> {
    let body = Body::parse(body)?;
    match operation {
        OrganizationsOperation::DescribeOrganization => describe_organization(ctx),
        OrganizationsOperation::DescribeOrganizationalUnit => describe_organizational_unit(ctx, &body),
        OrganizationsOperation::DescribeAccount => describe_account(ctx, &body),
        OrganizationsOperation::ListRoots => list_roots(ctx, &body),
        OrganizationsOperation::ListAccounts => list_accounts(ctx, &body),
        OrganizationsOperation::ListAccountsForParent => list_accounts_for_parent(ctx, &body),
        OrganizationsOperation::ListOrganizationalUnitsForParent => list_units_for_parent(ctx, &body),
        OrganizationsOperation::ListChildren => list_children(ctx, &body),
        OrganizationsOperation::ListDelegatedAdministrators => list_delegated_administrators(ctx, &body),
        OrganizationsOperation::ListParents => list_parents(ctx, &body),
        OrganizationsOperation::ListAWSServiceAccessForOrganization => integration::list(ctx, &body),
        OrganizationsOperation::EnableAWSServiceAccess => integration::enable(ctx, &body),
        OrganizationsOperation::DisableAWSServiceAccess => integration::disable(ctx, &body),
        OrganizationsOperation::DeregisterDelegatedAdministrator => {
            integration::deregister_delegated_administrator(ctx, &body)
        }
    }
}

/// An operation the emulator does not answer (it is either not an Organizations operation or
/// one it does not model). 501 is not retried by the SDK, so a test that strays here fails at once.
pub(crate) fn not_implemented(name: &str) -> ApiError {
    let mut error = ApiError::not_implemented(name);
    error.message = format!("{name} is not an AWS Organizations operation that the emulator implements");
    error
}

// ---------------------------------------------------------------------------------------------
// Errors

fn invalid_input(reason: &str, message: impl Into<String>) -> ApiError {
    ApiError::organizations("InvalidInputException", message).with("Reason", json!(reason))
}

fn not_in_use() -> ApiError {
    ApiError::organizations(
        "AWSOrganizationsNotInUseException",
        "Your account is not a member of an organization.",
    )
}

fn access_denied() -> ApiError {
    ApiError::organizations(
        "AccessDeniedException",
        "You don't have permissions to access this resource.",
    )
}

fn parent_not_found(parent_id: &str) -> ApiError {
    ApiError::organizations(
        "ParentNotFoundException",
        format!("We can't find a root or OU with the ParentId {parent_id} that you specified."),
    )
}

// ---------------------------------------------------------------------------------------------
// Request members

struct Body {
    members: Map<String, Value>,
}

impl Body {
    fn parse(bytes: &[u8]) -> Result<Body, ApiError> {
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(Body { members: Map::new() });
        }
        match serde_json::from_slice::<Value>(bytes) {
            Ok(Value::Object(members)) => Ok(Body { members }),
            _ => Err(ApiError::organizations(
                "SerializationException",
                "The request body is not a JSON object",
            )),
        }
    }

    fn optional_str(&self, field: &str) -> Result<Option<&str>, ApiError> {
        match self.members.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(text)) => Ok(Some(text)),
            Some(_) => Err(invalid_input("INVALID_PATTERN", format!("{field} must be a string."))),
        }
    }

    fn required_str(&self, field: &str) -> Result<&str, ApiError> {
        self.optional_str(field)?
            .ok_or_else(|| invalid_input("INPUT_REQUIRED", format!("You must specify a value for {field}.")))
    }

    /// A required id member checked against its pattern.
    fn id(&self, field: &str, pattern: &str, matches: fn(&str) -> bool) -> Result<&str, ApiError> {
        let value = self.required_str(field)?;
        if !matches(value) {
            return Err(invalid_input(
                "INVALID_PATTERN",
                format!("You specified a value for {field} that is not valid: it must match {pattern}."),
            ));
        }
        Ok(value)
    }

    fn parent_id(&self) -> Result<&str, ApiError> {
        self.id(
            "ParentId",
            "^(r-[0-9a-z]{4,32})|(ou-[0-9a-z]{4,32}-[a-z0-9]{8,32})$",
            organization::is_parent_id,
        )
    }

    /// ServicePrincipal, when present: 1–128 characters of `[\w+=,.@-]`.
    fn service_principal(&self) -> Result<Option<&str>, ApiError> {
        let principal = self.optional_str("ServicePrincipal")?;
        if principal.is_some_and(|principal| !is_service_principal(principal)) {
            return Err(invalid_input(
                "INVALID_PATTERN",
                "You specified a value for ServicePrincipal that is not valid: it must be 1 to 128 characters of \
                 [\\w+=,.@-].",
            ));
        }
        Ok(principal)
    }

    /// MaxResults: 1–20; absent means 20.
    fn max_results(&self) -> Result<usize, ApiError> {
        match self.members.get("MaxResults") {
            None | Some(Value::Null) => Ok(MAX_PAGE_SIZE as usize),
            Some(value) => match value.as_i64() {
                Some(count) if count > i64::from(MAX_PAGE_SIZE) => Err(invalid_input(
                    "MAX_VALUE_EXCEEDED",
                    format!("MaxResults must be at most {MAX_PAGE_SIZE}; you specified {count}."),
                )),
                Some(count) if count < 1 => Err(invalid_input(
                    "MIN_VALUE_EXCEEDED",
                    format!("MaxResults must be at least 1; you specified {count}."),
                )),
                Some(count) => Ok(count as usize),
                None => Err(invalid_input("INVALID_PATTERN", "MaxResults must be an integer.")),
            },
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Access

impl OrganizationsContext<'_> {
    /// The caller's organization as the API shows it now ([`organization_view`]).
    fn organization(&self) -> Result<Cow<'_, Organization>, ApiError> {
        let organization = self.world.organization_of(self.caller).ok_or_else(not_in_use)?;
        Ok(organization_view::shown(
            organization,
            self.world,
            self.state,
            self.now_ms,
        ))
    }

    /// The caller's organization, for the operations that only its management account or a
    /// delegated administrator may call.
    fn readable_organization(&self) -> Result<Cow<'_, Organization>, ApiError> {
        let organization = self.organization()?;
        let allowed =
            organization.management_account.as_deref() == Some(self.caller)
                || organization.delegated_administrators.contains(self.caller)
                || self.state.registered_administrators.iter().any(|registered| {
                    registered.organization == organization.id && registered.account_id == self.caller
                });
        if allowed {
            Ok(organization)
        } else {
            Err(access_denied())
        }
    }

    fn account_json(&self, organization: &Organization, account_id: &str) -> Value {
        let declared = self.world.account_config(account_id);
        let email = declared
            .map(|account| account.email.as_str())
            .filter(|email| !email.is_empty())
            .map_or_else(|| synthetic_email(account_id), str::to_owned);
        let name = declared
            .and_then(|account| account.name.clone())
            .unwrap_or_else(|| format!("account-{account_id}"));
        let state = declared.map(|account| account.state).unwrap_or_default();
        let joined_method = declared.map(|account| account.joined_method).unwrap_or_default();
        let joined = declared
            .and_then(|account| account.joined_timestamp)
            .unwrap_or(jiff::Timestamp::UNIX_EPOCH);
        let realism = self.world.realism();
        let mut account = json!({
            "Id": account_id,
            "Arn": format!(
                "arn:aws:organizations::{}:account/{}/{account_id}",
                organization.arn_account(),
                organization.id
            ),
            "Email": email,
            "Name": name,
            "State": state.as_str(),
            "JoinedMethod": joined_method.as_str(),
            "JoinedTimestamp": wire::epoch_seconds(joined),
        });
        if let Value::Object(fields) = &mut account {
            if !realism.omit_account_status {
                fields.insert("Status".into(), json!(state.status()));
            }
            if realism.account_paths
                && let Some(parent) = organization.parent_of.get(account_id)
            {
                let path = format!("{}{account_id}/", organization.path_of(parent));
                fields.insert("Paths".into(), json!([path]));
            }
        }
        account
    }

    /// An OU as the API reads it, with its `Path` when the world answers with paths.
    fn unit_json(&self, organization: &Organization, unit_id: &str) -> Value {
        let mut unit = unit_fields(organization, unit_id);
        if self.world.realism().account_paths
            && let Value::Object(fields) = &mut unit
        {
            fields.insert("Path".into(), json!(organization.path_of(unit_id)));
        }
        unit
    }
}

/// The e-mail Organizations reports for an account whose world entry has none.
fn synthetic_email(account_id: &str) -> String {
    format!("account-{account_id}@example.com")
}

/// An OU's fields but its `Path`.
fn unit_fields(organization: &Organization, unit_id: &str) -> Value {
    let name = organization
        .units
        .get(unit_id)
        .map(|(name, _)| name.as_str())
        .unwrap_or_default();
    json!({
        "Id": unit_id,
        "Arn": format!(
            "arn:aws:organizations::{}:ou/{}/{unit_id}",
            organization.arn_account(),
            organization.id
        ),
        "Name": name,
    })
}

fn parent_type(organization: &Organization, parent_id: &str) -> &'static str {
    if parent_id == organization.root_id {
        "ROOT"
    } else {
        "ORGANIZATIONAL_UNIT"
    }
}

// ---------------------------------------------------------------------------------------------
// Pages

/// One page of `items` (in key order) for a listing bound to `scope`, with the organization's
/// quirks: an empty first page with a NextToken when `emptyFirstPages` is set, at most
/// `pageSizeLimit` items per page.
fn page(
    organization: &Organization,
    scope: &str,
    body: &Body,
    items: Vec<(String, Value)>,
) -> Result<(Vec<Value>, Option<String>), ApiError> {
    let max_results = body.max_results()?;
    let token = body.optional_str("NextToken")?;
    let scope = format!("{}:{scope}", organization.id);
    let after = paging::resume_after(&scope, token).map_err(|_| {
        invalid_input(
            "INVALID_NEXT_TOKEN",
            "The specified NextToken is not valid for this request.",
        )
    })?;
    if token.is_none() && organization.empty_first_pages && !items.is_empty() {
        // Resuming after the empty key continues from the first item.
        return Ok((Vec::new(), Some(paging::encode(&scope, ""))));
    }
    let size = max_results.min(organization.page_size_limit.unwrap_or(MAX_PAGE_SIZE) as usize);
    Ok(paging::page(&scope, items, after.as_deref(), size))
}

fn listing(member: &str, (page, next): (Vec<Value>, Option<String>)) -> Value {
    let body = Map::from_iter([(member.to_owned(), Value::Array(page))]);
    paging::with_next_token(Value::Object(body), next)
}

// ---------------------------------------------------------------------------------------------
// Operations

fn describe_organization(ctx: &OrganizationsContext<'_>) -> Result<Value, ApiError> {
    let organization = ctx.organization()?;
    let organization = &*organization;
    let mut described = json!({
        "Id": organization.id,
        "Arn": format!(
            "arn:aws:organizations::{}:organization/{}",
            organization.arn_account(),
            organization.id
        ),
        "FeatureSet": "ALL",
        "AvailablePolicyTypes": [],
    });
    if let (Some(management), Value::Object(fields)) = (&organization.management_account, &mut described) {
        let account = ctx.account_json(organization, management);
        fields.insert("MasterAccountId".into(), json!(management));
        fields.insert("MasterAccountArn".into(), account["Arn"].clone());
        fields.insert("MasterAccountEmail".into(), account["Email"].clone());
    }
    Ok(json!({"Organization": described}))
}

fn describe_organizational_unit(ctx: &OrganizationsContext<'_>, body: &Body) -> Result<Value, ApiError> {
    let unit_id = body.id(
        "OrganizationalUnitId",
        "^ou-[0-9a-z]{4,32}-[a-z0-9]{8,32}$",
        organization::is_ou_id,
    )?;
    let organization = ctx.readable_organization()?;
    let organization = &*organization;
    if !organization.units.contains_key(unit_id) {
        return Err(ApiError::organizations(
            "OrganizationalUnitNotFoundException",
            format!("We can't find an OU with the OrganizationalUnitId {unit_id} that you specified."),
        ));
    }
    Ok(json!({"OrganizationalUnit": ctx.unit_json(organization, unit_id)}))
}

fn describe_account(ctx: &OrganizationsContext<'_>, body: &Body) -> Result<Value, ApiError> {
    let account_id = body.id("AccountId", "^\\d{12}$", validate::is_account_id)?;
    let organization = ctx.readable_organization()?;
    let organization = &*organization;
    if !organization.parent_of.contains_key(account_id) {
        return Err(ApiError::organizations(
            "AccountNotFoundException",
            format!("We can't find an account with the AccountId {account_id} that you specified."),
        ));
    }
    Ok(json!({"Account": ctx.account_json(organization, account_id)}))
}

fn list_roots(ctx: &OrganizationsContext<'_>, body: &Body) -> Result<Value, ApiError> {
    let organization = ctx.readable_organization()?;
    let organization = &*organization;
    let root = json!({
        "Id": organization.root_id,
        "Arn": format!(
            "arn:aws:organizations::{}:root/{}/{}",
            organization.arn_account(),
            organization.id,
            organization.root_id
        ),
        "Name": "Root",
        "PolicyTypes": [],
    });
    let items = vec![(organization.root_id.clone(), root)];
    Ok(listing("Roots", page(organization, "ListRoots", body, items)?))
}

fn list_accounts(ctx: &OrganizationsContext<'_>, body: &Body) -> Result<Value, ApiError> {
    let organization = ctx.readable_organization()?;
    let organization = &*organization;
    let items = organization
        .accounts
        .iter()
        .map(|account_id| (account_id.clone(), ctx.account_json(organization, account_id)))
        .collect();
    Ok(listing("Accounts", page(organization, "ListAccounts", body, items)?))
}

/// The organization and a parent of it named by the request's ParentId.
fn parent<'o>(ctx: &'o OrganizationsContext<'_>, body: &'o Body) -> Result<(Cow<'o, Organization>, &'o str), ApiError> {
    let parent_id = body.parent_id()?;
    let organization = ctx.readable_organization()?;
    if !organization.is_parent(parent_id) {
        return Err(parent_not_found(parent_id));
    }
    Ok((organization, parent_id))
}

fn accounts_under<'o>(organization: &'o Organization, parent_id: &str) -> &'o [String] {
    organization
        .accounts_by_parent
        .get(parent_id)
        .map_or(&[], Vec::as_slice)
}

fn units_under<'o>(organization: &'o Organization, parent_id: &str) -> &'o [String] {
    organization.units_by_parent.get(parent_id).map_or(&[], Vec::as_slice)
}

fn list_accounts_for_parent(ctx: &OrganizationsContext<'_>, body: &Body) -> Result<Value, ApiError> {
    let (organization, parent_id) = parent(ctx, body)?;
    let organization = &*organization;
    let items = accounts_under(organization, parent_id)
        .iter()
        .map(|account_id| (account_id.clone(), ctx.account_json(organization, account_id)))
        .collect();
    let scope = format!("ListAccountsForParent:{parent_id}");
    Ok(listing("Accounts", page(organization, &scope, body, items)?))
}

fn list_units_for_parent(ctx: &OrganizationsContext<'_>, body: &Body) -> Result<Value, ApiError> {
    let (organization, parent_id) = parent(ctx, body)?;
    let organization = &*organization;
    let items = units_under(organization, parent_id)
        .iter()
        .map(|unit_id| (unit_id.clone(), ctx.unit_json(organization, unit_id)))
        .collect();
    let scope = format!("ListOrganizationalUnitsForParent:{parent_id}");
    Ok(listing("OrganizationalUnits", page(organization, &scope, body, items)?))
}

fn list_children(ctx: &OrganizationsContext<'_>, body: &Body) -> Result<Value, ApiError> {
    let child_type = body.required_str("ChildType")?;
    let (organization, parent_id) = parent(ctx, body)?;
    let organization = &*organization;
    let children = match child_type {
        "ACCOUNT" => accounts_under(organization, parent_id),
        "ORGANIZATIONAL_UNIT" => units_under(organization, parent_id),
        _ => {
            return Err(invalid_input(
                "INVALID_ENUM",
                "ChildType must be ACCOUNT or ORGANIZATIONAL_UNIT.",
            ));
        }
    };
    let items = children
        .iter()
        .map(|id| (id.clone(), json!({"Id": id, "Type": child_type})))
        .collect();
    let scope = format!("ListChildren:{parent_id}:{child_type}");
    Ok(listing("Children", page(organization, &scope, body, items)?))
}

/// The organization's delegated administrators, in account-id order: those registered for
/// `ServicePrincipal` when the request names one, else every one (an account registered for
/// several services is listed once, enabled since its first registration).
fn list_delegated_administrators(ctx: &OrganizationsContext<'_>, body: &Body) -> Result<Value, ApiError> {
    let principal = body.service_principal()?;
    let organization = ctx.readable_organization()?;
    let organization = &*organization;
    let mut enabled: BTreeMap<&str, i64> = BTreeMap::new();
    let registered = ctx
        .state
        .registered_administrators
        .iter()
        .filter(|r| r.organization == organization.id && principal.is_none_or(|p| r.service_principal == p))
        .map(|r| (r.account_id.as_str(), r.registered_ms));
    // The world's delegated administrators serve services the emulator does not name.
    let declared = organization
        .delegated_administrators
        .iter()
        .filter(|_| principal.is_none())
        .map(|account| (account.as_str(), 0));
    for (account, since) in registered.chain(declared) {
        let first = enabled.entry(account).or_insert(since);
        *first = (*first).min(since);
    }
    let items = enabled
        .into_iter()
        .map(|(account, since)| {
            let mut administrator = ctx.account_json(organization, account);
            if let Value::Object(fields) = &mut administrator {
                // A DelegatedAdministrator has no Paths.
                fields.remove("Paths");
                fields.insert(
                    "DelegationEnabledDate".into(),
                    wire::epoch_seconds(wire::jiff_timestamp(since)),
                );
            }
            (account.to_owned(), administrator)
        })
        .collect();
    let scope = format!("ListDelegatedAdministrators:{}", principal.unwrap_or_default());
    Ok(listing(
        "DelegatedAdministrators",
        page(organization, &scope, body, items)?,
    ))
}

/// `^[\w+=,.@-]*$`, 1–128 characters.
fn is_service_principal(value: &str) -> bool {
    (1..=128).contains(&value.len())
        && value
            .chars()
            .all(|c| c.is_alphanumeric() || c == '_' || "+=,.@-".contains(c))
}

fn list_parents(ctx: &OrganizationsContext<'_>, body: &Body) -> Result<Value, ApiError> {
    let child_id = body.id("ChildId", "^(\\d{12})|(ou-[0-9a-z]{4,32}-[a-z0-9]{8,32})$", |id| {
        validate::is_account_id(id) || organization::is_ou_id(id)
    })?;
    let organization = ctx.readable_organization()?;
    let organization = &*organization;
    let parent = organization
        .parent_of
        .get(child_id)
        .or_else(|| organization.units.get(child_id).map(|(_, parent)| parent))
        .ok_or_else(|| {
            ApiError::organizations(
                "ChildNotFoundException",
                format!("We can't find an organizational unit (OU) or AWS account with the ChildId {child_id} that you specified."),
            )
        })?;
    let item = json!({"Id": parent, "Type": parent_type(organization, parent)});
    let scope = format!("ListParents:{child_id}");
    Ok(listing(
        "Parents",
        page(organization, &scope, body, vec![(parent.clone(), item)])?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_name_operations() {
        assert_eq!(
            target_operation("AWSOrganizationsV20161128.ListAccounts"),
            Some("ListAccounts")
        );
        assert_eq!(target_operation("AWSSecurityTokenServiceV20110615.AssumeRole"), None);
        assert_eq!(
            OrganizationsOperation::from_name("ListChildren"),
            Some(OrganizationsOperation::ListChildren)
        );
        assert_eq!(OrganizationsOperation::from_name("CreateAccount"), None);
    }

    #[test]
    fn max_results_is_1_to_20() {
        let body = |text: &str| Body::parse(text.as_bytes()).expect("object");
        assert_eq!(body("{}").max_results().expect("default"), 20);
        assert_eq!(body(r#"{"MaxResults":20}"#).max_results().expect("20"), 20);
        let err = body(r#"{"MaxResults":21}"#).max_results().expect_err("21");
        assert_eq!(err.extra["Reason"], json!("MAX_VALUE_EXCEEDED"));
        let err = body(r#"{"MaxResults":0}"#).max_results().expect_err("0");
        assert_eq!(err.extra["Reason"], json!("MIN_VALUE_EXCEEDED"));
    }
}
