//! The IAM API, only as far as Detective's service-linked role goes: what AWS's Security
//! Reference Architecture and Terraform's `aws_iam_service_linked_role` call before they set up
//! Detective — `GetRole` and `CreateServiceLinkedRole` for `AWSServiceRoleForDetective`.
//! IAM is global (any signed Region reaches it) and speaks the query protocol
//! ([`crate::query_protocol`]) at `iam.amazonaws.com`.
//!
//! The roles are the state's service-linked roles ([`crate::trusted_access`]): the ones these
//! calls create and the one Detective creates in the management account when trusted access is
//! granted (EnableAWSServiceAccess, EnableOrganizationAdminAccount). The world's `roles` (for
//! AssumeRole) are not IAM roles that GetRole lists. Which action and resource each call is
//! authorized on under `enforceIam` is in [`crate::iam::authorization::iam`]; this module (the
//! API) and [`crate::iam`] (policy evaluation) are kept apart.

use super::iam::authorization::{self, Authorization};
use super::model::ServiceState;
use super::operation_enum::operations;
use super::organization::DETECTIVE_SERVICE_PRINCIPAL;
use super::prng::SplitMix64;
use super::query_protocol::{self, Form, QueryAction, QueryError, escape};
use super::trusted_access::{DETECTIVE_SERVICE_LINKED_ROLE, ServiceLinkedRole, new_role_id, service_linked_role_name};
use super::wire;

/// The IAM XML namespace.
pub(crate) const NAMESPACE: &str = "https://iam.amazonaws.com/doc/2010-05-08/";

operations! {
    /// The IAM actions the emulator answers.
    pub(crate) enum IamAction {
        CreateServiceLinkedRole,
        GetRole,
    }
}

impl QueryAction for IamAction {
    const SERVICE: &'static str = "Iam";
    const SERVED: &'static [Self] = Self::ALL;

    fn action_name(self) -> &'static str {
        self.name()
    }

    fn from_action_name(name: &str) -> Option<Self> {
        Self::from_name(name)
    }
}

/// What an IAM call may read or change, and who calls.
pub(crate) struct IamContext<'a> {
    pub state: &'a mut ServiceState,
    pub caller: &'a str,
    /// The ARN partition of the signed Region.
    pub partition: &'a str,
    pub now_ms: i64,
    pub rng: &'a mut SplitMix64,
}

/// The checks `enforceIam` makes of a call by `caller_account` (in `partition`): the action on
/// the role it names, with `iam:AWSServiceName` for CreateServiceLinkedRole. A request too
/// malformed to name a role is authorized on `*` (it fails validation next).
pub(crate) fn authorizations(
    action: IamAction,
    form: &Form,
    caller_account: &str,
    partition: &str,
) -> Vec<Authorization> {
    let service_name = form.get("AWSServiceName").map(String::as_str);
    let role_name = match action {
        IamAction::GetRole => form.get("RoleName").map(String::as_str),
        IamAction::CreateServiceLinkedRole => service_name.and_then(service_linked_role_name),
    };
    let role_arn = role_name.map_or_else(
        || "*".to_owned(),
        |name| role_arn(partition, caller_account, &role_path(name), name),
    );
    let service_name = match action {
        IamAction::CreateServiceLinkedRole => service_name,
        IamAction::GetRole => None,
    };
    authorization::iam(action.name(), &role_arn, service_name)
}

/// Answers `action`: the `<...Result>` content.
pub(crate) fn handle(action: IamAction, ctx: &mut IamContext<'_>, form: &Form) -> Result<String, QueryError> {
    match action {
        IamAction::GetRole => get_role(ctx, form),
        IamAction::CreateServiceLinkedRole => create_service_linked_role(ctx, form),
    }
}

/// A whole IAM answer document for `action`.
pub(crate) fn response_xml(action: IamAction, result: &str, request_id: &str) -> String {
    query_protocol::response_xml(NAMESPACE, action.name(), result, request_id)
}

fn get_role(ctx: &IamContext<'_>, form: &Form) -> Result<String, QueryError> {
    let role_name = required(form, "RoleName", "roleName")?;
    if !(1..=64).contains(&role_name.chars().count()) || !is_name(role_name) {
        return Err(validation(&format!(
            "Value '{role_name}' at 'roleName' failed to satisfy constraint: Member must satisfy regular expression \
             pattern: [\\w+=,.@-]+ and have length between 1 and 64"
        )));
    }
    let role = ctx
        .state
        .trusted_access
        .service_linked_role(ctx.caller, role_name)
        .ok_or_else(|| {
            QueryError::new(
                404,
                "NoSuchEntity",
                format!("The role with name {role_name} cannot be found."),
            )
        })?;
    Ok(role_xml(role, ctx.partition))
}

fn create_service_linked_role(ctx: &mut IamContext<'_>, form: &Form) -> Result<String, QueryError> {
    let service_name = required(form, "AWSServiceName", "aWSServiceName")?;
    if !(1..=128).contains(&service_name.len()) || !is_name(service_name) {
        return Err(validation(&format!(
            "Value '{service_name}' at 'aWSServiceName' failed to satisfy constraint: Member must satisfy regular \
             expression pattern: [\\w+=,.@-]+ and have length between 1 and 128"
        )));
    }
    let description = form.get("Description");
    if description.is_some_and(|text| text.chars().count() > 1000) {
        return Err(validation(
            "Value at 'description' failed to satisfy constraint: Member must have length less than or equal to 1000",
        ));
    }
    let Some(role_name) = service_linked_role_name(service_name) else {
        return Err(invalid_input(format!(
            "detective-emulator models the service-linked role of {DETECTIVE_SERVICE_PRINCIPAL} only, not of \
             {service_name}"
        )));
    };
    if form.contains_key("CustomSuffix") {
        return Err(invalid_input(format!(
            "Custom suffix is not allowed for {service_name}"
        )));
    }
    if ctx
        .state
        .trusted_access
        .service_linked_role(ctx.caller, role_name)
        .is_some()
    {
        return Err(invalid_input(format!(
            "Service role name {role_name} has been taken in this account, please try a different suffix."
        )));
    }
    let role = ServiceLinkedRole {
        account_id: ctx.caller.to_owned(),
        role_name: role_name.to_owned(),
        service_name: service_name.to_owned(),
        description: description.cloned(),
        role_id: new_role_id(ctx.rng),
        created_ms: ctx.now_ms,
    };
    let xml = role_xml(&role, ctx.partition);
    ctx.state.trusted_access.service_linked_roles.push(role);
    Ok(xml)
}

/// The `Role` element of a service-linked role: its path, ARN, id, creation time and the trust
/// policy that lets only its service assume it (URL-encoded, as IAM returns policy documents).
fn role_xml(role: &ServiceLinkedRole, partition: &str) -> String {
    let path = role.path();
    let trust = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"Service": role.service_name},
            "Action": "sts:AssumeRole",
        }],
    });
    let trust: String = form_urlencoded::byte_serialize(trust.to_string().as_bytes()).collect();
    let description = role
        .description
        .as_deref()
        .map(|text| format!("<Description>{}</Description>", escape(text)))
        .unwrap_or_default();
    format!(
        "<Role><Path>{path}</Path><RoleName>{name}</RoleName><RoleId>{id}</RoleId><Arn>{arn}</Arn>\
<CreateDate>{created}</CreateDate><AssumeRolePolicyDocument>{trust}</AssumeRolePolicyDocument>{description}\
<MaxSessionDuration>3600</MaxSessionDuration></Role>",
        path = escape(&path),
        name = escape(&role.role_name),
        id = role.role_id,
        arn = escape(&role_arn(partition, &role.account_id, &path, &role.role_name)),
        created = wire::timestamp(role.created_ms),
    )
}

/// The path of role `role_name`: a service-linked role's under `/aws-service-role/`.
fn role_path(role_name: &str) -> String {
    if role_name == DETECTIVE_SERVICE_LINKED_ROLE {
        format!("/aws-service-role/{DETECTIVE_SERVICE_PRINCIPAL}/")
    } else {
        "/".to_owned()
    }
}

fn role_arn(partition: &str, account: &str, path: &str, role_name: &str) -> String {
    format!("arn:{partition}:iam::{account}:role{path}{role_name}")
}

/// `[\w+=,.@-]+`.
fn is_name(text: &str) -> bool {
    !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_alphanumeric() || c == '_' || "+=,.@-".contains(c))
}

fn required<'f>(form: &'f Form, field: &str, member: &str) -> Result<&'f str, QueryError> {
    form.get(field).map(String::as_str).ok_or_else(|| {
        validation(&format!(
            "Value null at '{member}' failed to satisfy constraint: Member must not be null"
        ))
    })
}

fn validation(reason: &str) -> QueryError {
    QueryError::new(400, "ValidationError", format!("1 validation error detected: {reason}"))
}

fn invalid_input(message: String) -> QueryError {
    QueryError::new(400, "InvalidInput", message)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(pairs: &[(&str, &str)]) -> Form {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    fn call(
        state: &mut ServiceState,
        caller: &str,
        action: IamAction,
        pairs: &[(&str, &str)],
    ) -> Result<String, QueryError> {
        let mut rng = SplitMix64::new(1);
        let mut ctx = IamContext {
            state,
            caller,
            partition: "aws",
            now_ms: 0,
            rng: &mut rng,
        };
        handle(action, &mut ctx, &form(pairs))
    }

    #[test]
    fn the_detective_role_is_created_once_per_account_and_then_found() {
        let mut state = ServiceState::default();
        let get = [("RoleName", "AWSServiceRoleForDetective")];
        let missing = call(&mut state, "111111111111", IamAction::GetRole, &get).unwrap_err();
        assert_eq!((missing.status, missing.code), (404, "NoSuchEntity"));
        let create = [
            ("AWSServiceName", "detective.amazonaws.com"),
            ("Description", "A service-linked role required for Amazon Detective"),
        ];
        let created = call(&mut state, "111111111111", IamAction::CreateServiceLinkedRole, &create).unwrap();
        assert!(
            created.contains(
                "<Arn>arn:aws:iam::111111111111:role/aws-service-role/detective.amazonaws.com/AWSServiceRoleForDetective</Arn>"
            ),
            "{created}"
        );
        assert!(created.contains("<Description>A service-linked role"), "{created}");
        let found = call(&mut state, "111111111111", IamAction::GetRole, &get).unwrap();
        assert_eq!(found, created);
        let again = call(&mut state, "111111111111", IamAction::CreateServiceLinkedRole, &create).unwrap_err();
        assert_eq!((again.status, again.code), (400, "InvalidInput"));
        assert!(
            again.message.contains("has been taken in this account"),
            "{}",
            again.message
        );
        let elsewhere = call(&mut state, "222222222222", IamAction::GetRole, &get).unwrap_err();
        assert_eq!(elsewhere.code, "NoSuchEntity", "roles are per account");
    }

    #[test]
    fn other_services_suffixes_and_malformed_requests_are_refused() {
        let mut state = ServiceState::default();
        let mut refused = |action, pairs: &[(&str, &str)]| call(&mut state, "111111111111", action, pairs).unwrap_err();
        let other = refused(
            IamAction::CreateServiceLinkedRole,
            &[("AWSServiceName", "guardduty.amazonaws.com")],
        );
        assert_eq!(other.code, "InvalidInput");
        let suffix = refused(
            IamAction::CreateServiceLinkedRole,
            &[("AWSServiceName", "detective.amazonaws.com"), ("CustomSuffix", "x")],
        );
        assert_eq!(suffix.code, "InvalidInput");
        let null = refused(IamAction::CreateServiceLinkedRole, &[]);
        assert_eq!((null.status, null.code), (400, "ValidationError"));
        assert!(null.message.contains("'aWSServiceName'"), "{}", null.message);
        let bad_name = refused(IamAction::GetRole, &[("RoleName", "no spaces")]);
        assert_eq!(bad_name.code, "ValidationError");
        assert!(
            state.trusted_access.service_linked_roles.is_empty(),
            "nothing refused was created"
        );
    }

    #[test]
    fn calls_are_authorized_on_the_role_they_name() {
        let create = form(&[("AWSServiceName", "detective.amazonaws.com")]);
        let checks = authorizations(
            IamAction::CreateServiceLinkedRole,
            &create,
            "111111111111",
            "aws-us-gov",
        );
        assert_eq!(checks.len(), 1);
        assert_eq!(checks[0].action, "iam:CreateServiceLinkedRole");
        assert_eq!(
            checks[0].resource,
            "arn:aws-us-gov:iam::111111111111:role/aws-service-role/detective.amazonaws.com/AWSServiceRoleForDetective"
        );
        let get = form(&[("RoleName", "other")]);
        let checks = authorizations(IamAction::GetRole, &get, "111111111111", "aws");
        assert_eq!(checks[0].resource, "arn:aws:iam::111111111111:role/other");
        assert_eq!(checks[0].action, "iam:GetRole");
    }
}
