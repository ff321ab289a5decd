//! Which IAM action and resource each call is authorized on, after the Service Authorization
//! Reference ("Actions, resources, and condition keys for Amazon Detective", "… for AWS
//! Organizations", "… for AWS Security Token Service"):
//!
//! - Detective: the action is `detective:<Operation>`. Operations that act on a behavior graph
//!   (the `Graph` resource type: members, invitations as the member, tags, datasource packages,
//!   the organization configuration) are authorized on the graph's ARN; the others
//!   (CreateGraph, ListGraphs, ListInvitations, the organization-admin calls) on `*`.
//!   BatchGetMembershipDatasources names several graphs: each must be allowed.
//! - Organizations: `organizations:<Operation>` on `*` for the reads the emulator serves (the
//!   reference lists no resource type for them).
//! - STS: `sts:AssumeRole` on the role's ARN (GetCallerIdentity needs no permission).
//! - IAM: `iam:<Action>` on the role's ARN ("… for AWS Identity and Access Management": GetRole
//!   and CreateServiceLinkedRole act on the `role` resource type), CreateServiceLinkedRole with
//!   its `AWSServiceName` as `iam:AWSServiceName`.
//!
//! EnableOrganizationAdminAccount is also authorized for what Detective does on the caller's
//! behalf (the API reference: "Detective calls Organizations to make that account the delegated
//! administrator account"; AWS's managed policy `AmazonDetectiveOrganizationsAccess` grants the
//! same three actions): `organizations:EnableAWSServiceAccess` and, when the administrator is not
//! the caller's own account, `organizations:RegisterDelegatedAdministrator`, both with
//! `organizations:ServicePrincipal` = `detective.amazonaws.com`, and `iam:CreateServiceLinkedRole`
//! with `iam:AWSServiceName` = `detective.amazonaws.com`. Whether AWS checks them against the
//! caller's own policies is undocumented (unverified): the emulator does, unless the world sets
//! `onBehalfChecks: false`.

use serde_json::Value;

use super::policy::RequestContext;

/// Detective's service principal, as Organizations and IAM name it.
pub const DETECTIVE_SERVICE_PRINCIPAL: &str = "detective.amazonaws.com";

/// One check a call must pass: `action` allowed on `resource` for a request carrying `context`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Authorization {
    pub action: String,
    pub resource: String,
    pub context: RequestContext,
}

impl Authorization {
    fn on_star(action: &str, context: RequestContext) -> Authorization {
        Authorization {
            action: action.to_owned(),
            resource: "*".to_owned(),
            context,
        }
    }
}

/// What a Detective `operation` by `caller_account` must be allowed: the operation on its
/// resources, and for EnableOrganizationAdminAccount (when `on_behalf` is on) what Detective then
/// does in Organizations and IAM.
pub fn detective(
    operation: &str,
    resource_label: Option<&str>,
    body: &[u8],
    caller_account: &str,
    on_behalf: bool,
) -> Vec<Authorization> {
    let action = format!("detective:{operation}");
    let mut checks: Vec<Authorization> = detective_resources(resource_label, body)
        .into_iter()
        .map(|resource| Authorization {
            action: action.clone(),
            resource,
            context: RequestContext::default(),
        })
        .collect();
    if on_behalf && operation == "EnableOrganizationAdminAccount" {
        let organizations =
            RequestContext::default().with("organizations:ServicePrincipal", DETECTIVE_SERVICE_PRINCIPAL);
        checks.push(Authorization::on_star(
            "organizations:EnableAWSServiceAccess",
            organizations.clone(),
        ));
        let administrator = serde_json::from_slice::<Value>(body)
            .ok()
            .and_then(|b| b.get("AccountId").and_then(Value::as_str).map(str::to_owned));
        if administrator.is_some_and(|account| account != caller_account) {
            checks.push(Authorization::on_star(
                "organizations:RegisterDelegatedAdministrator",
                organizations,
            ));
        }
        let iam = RequestContext::default().with("iam:AWSServiceName", DETECTIVE_SERVICE_PRINCIPAL);
        checks.push(Authorization::on_star("iam:CreateServiceLinkedRole", iam));
    }
    checks
}

/// What an Organizations `operation` must be allowed: itself on `*`, with the request's
/// `ServicePrincipal` as `organizations:ServicePrincipal`.
pub fn organizations(operation: &str, body: &[u8]) -> Vec<Authorization> {
    let body: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let context = match body.get("ServicePrincipal").and_then(Value::as_str) {
        Some(principal) => RequestContext::default().with("organizations:ServicePrincipal", principal),
        None => RequestContext::default(),
    };
    vec![Authorization::on_star(&format!("organizations:{operation}"), context)]
}

/// What an IAM `action` on `role_arn` must be allowed: itself on the role, with
/// `aws_service_name` (CreateServiceLinkedRole's) as `iam:AWSServiceName`.
pub fn iam(action: &str, role_arn: &str, aws_service_name: Option<&str>) -> Vec<Authorization> {
    let context = match aws_service_name {
        Some(name) => RequestContext::default().with("iam:AWSServiceName", name),
        None => RequestContext::default(),
    };
    vec![Authorization {
        action: format!("iam:{action}"),
        resource: role_arn.to_owned(),
        context,
    }]
}

/// The resources a Detective call is authorized on: its `{ResourceArn}` label, else the graph
/// ARN(s) of its body, else `*`.
fn detective_resources(resource_label: Option<&str>, body: &[u8]) -> Vec<String> {
    if let Some(arn) = resource_label {
        return vec![arn.to_owned()];
    }
    let body: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    if let Some(arn) = body.get("GraphArn").and_then(Value::as_str) {
        return vec![arn.to_owned()];
    }
    if let Some(arns) = body.get("GraphArns").and_then(Value::as_array) {
        let arns: Vec<String> = arns.iter().filter_map(Value::as_str).map(str::to_owned).collect();
        if !arns.is_empty() {
            return arns;
        }
    }
    vec!["*".to_owned()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn graph_operations_are_authorized_on_their_graphs_and_the_rest_on_star() {
        let arn = "arn:aws:detective:us-east-1:111122223333:graph:0123456789abcdef0123456789abcdef";
        assert_eq!(detective_resources(Some(arn), b""), [arn]);
        let body = format!(r#"{{"GraphArn": "{arn}", "MaxResults": 200}}"#);
        assert_eq!(detective_resources(None, body.as_bytes()), [arn]);
        let batch = format!(r#"{{"GraphArns": ["{arn}", "{arn}2"]}}"#);
        assert_eq!(detective_resources(None, batch.as_bytes()).len(), 2);
        assert_eq!(detective_resources(None, b"{}"), ["*"]);
        assert_eq!(detective_resources(None, b""), ["*"]);
    }

    fn actions(checks: &[Authorization]) -> Vec<&str> {
        checks.iter().map(|c| c.action.as_str()).collect()
    }

    #[test]
    fn enabling_an_administrator_is_also_authorized_for_what_detective_does_on_the_callers_behalf() {
        let body = br#"{"AccountId": "111122223333"}"#;
        let checks = detective("EnableOrganizationAdminAccount", None, body, "999988887777", true);
        assert_eq!(
            actions(&checks),
            [
                "detective:EnableOrganizationAdminAccount",
                "organizations:EnableAWSServiceAccess",
                "organizations:RegisterDelegatedAdministrator",
                "iam:CreateServiceLinkedRole",
            ]
        );
        let detective_principal =
            RequestContext::default().with("organizations:ServicePrincipal", DETECTIVE_SERVICE_PRINCIPAL);
        assert_eq!(checks[2].context, detective_principal);
        // The management account naming itself registers no delegated administrator.
        let itself = detective("EnableOrganizationAdminAccount", None, body, "111122223333", true);
        assert!(!actions(&itself).contains(&"organizations:RegisterDelegatedAdministrator"));
        let unchecked = detective("EnableOrganizationAdminAccount", None, body, "999988887777", false);
        assert_eq!(actions(&unchecked), ["detective:EnableOrganizationAdminAccount"]);
        let disable = detective("DisableOrganizationAdminAccount", None, b"", "999988887777", true);
        assert_eq!(actions(&disable), ["detective:DisableOrganizationAdminAccount"]);
    }

    #[test]
    fn organizations_calls_carry_their_service_principal() {
        let checks = organizations(
            "ListDelegatedAdministrators",
            br#"{"ServicePrincipal": "detective.amazonaws.com"}"#,
        );
        assert_eq!(checks[0].action, "organizations:ListDelegatedAdministrators");
        assert_eq!(
            checks[0].context,
            RequestContext::default().with("organizations:ServicePrincipal", DETECTIVE_SERVICE_PRINCIPAL)
        );
        assert_eq!(organizations("ListRoots", b"{}")[0].context, RequestContext::default());
    }
}
