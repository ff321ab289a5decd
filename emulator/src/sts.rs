//! STS, as far as the peers and the operator call it:
//!
//! - `AssumeRole`, so that role assumption (a `DetectiveGraph`'s `assumeRoleArn`, accepting
//!   invitations through a role in each member account, a `DetectiveMembership`'s
//!   `assumeRoleArn`) runs through the SDKs' real credential providers against the emulator. The
//!   returned credentials' access key id is the role's account id, which the Detective side reads
//!   as the caller (the emulator's identity convention). Which roles exist is part of the world
//!   model: an account that declares no `roles` lets any role be assumed; one that declares roles
//!   lets only those be assumed, by the accounts they trust, with their external id.
//! - `GetCallerIdentity` (the Security Reference Architecture's first call, and the Terraform
//!   provider's): the caller's account, ARN and user id. "No permissions are required to perform
//!   this operation" (STS API Reference), so `enforceIam` never refuses it.
//!
//! ARNs carry the partition of the Region the call is signed for (`aws-us-gov` in GovCloud).
//! Wire: the query protocol ([`crate::query_protocol`]); errors with status 403 (AccessDenied)
//! or 400.

use super::iam::{self, policy::Principal};
use super::operation_enum::operations;
use super::query_protocol::{self, Form, QueryAction, QueryError, escape};
use super::world::World;

/// The STS XML namespace.
pub(crate) const NAMESPACE: &str = "https://sts.amazonaws.com/doc/2011-06-15/";

operations! {
    /// The STS actions the emulator answers.
    pub(crate) enum StsAction {
        AssumeRole,
        GetCallerIdentity,
    }
}

impl QueryAction for StsAction {
    const SERVICE: &'static str = "Sts";
    const SERVED: &'static [Self] = Self::ALL;

    fn action_name(self) -> &'static str {
        self.name()
    }

    fn from_action_name(name: &str) -> Option<Self> {
        Self::from_name(name)
    }
}

fn access_denied(message: String) -> QueryError {
    QueryError::new(403, "AccessDenied", message)
}

fn invalid(message: String) -> QueryError {
    QueryError::new(400, "ValidationError", message)
}

/// The user id of a session of an assumed role (the `aws:userid` of a role session).
fn assumed_role_id(account: &str, session: &str) -> String {
    format!("AROAEMULATOR{account}:{session}")
}

/// The `GetCallerIdentityResult` of `caller`, with ARNs in `partition`.
pub(crate) fn caller_identity_xml(caller: &Principal, partition: &str) -> String {
    let user_id = match caller {
        Principal::Root { account } => account.clone(),
        Principal::AssumedRole { account, session, .. } => assumed_role_id(account, session),
    };
    format!(
        "<Arn>{}</Arn><UserId>{}</UserId><Account>{}</Account>",
        escape(&caller.arn_in(partition)),
        escape(&user_id),
        caller.account()
    )
}

/// Credentials handed out for an assumed role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Assumed {
    pub account_id: String,
    pub role_name: String,
    pub session_name: String,
}

/// Decides an `AssumeRole` by `caller` against the world model (and, under `enforceIam`, the
/// caller's identity policies and the role's trust policy).
/// `partition` is the one of the Region the call is signed for: a role of another partition
/// cannot be assumed there (partitions are isolated, the AWS GovCloud (US) User Guide says one
/// cannot "delegate access between an AWS GovCloud (US) account and a standard AWS account"; the
/// error's wording is **unverified**).
pub(crate) fn assume_role(
    world: &World,
    caller: &Principal,
    form: &Form,
    partition: &str,
) -> Result<Assumed, QueryError> {
    let role_arn = form
        .get("RoleArn")
        .ok_or_else(|| invalid("1 validation error detected: Value null at 'roleArn' failed to satisfy constraint: Member must not be null".into()))?;
    let session_name = form.get("RoleSessionName").cloned().ok_or_else(|| {
        invalid("1 validation error detected: Value null at 'roleSessionName' failed to satisfy constraint: Member must not be null".into())
    })?;
    // arn:<partition>:iam::<account>:role/<path/>name
    let parts: Vec<&str> = role_arn.splitn(6, ':').collect();
    let (role_partition, account_id, role_path) = match parts.as_slice() {
        ["arn", role_partition, "iam", "", account, resource] if resource.starts_with("role/") => {
            (*role_partition, *account, *resource)
        }
        _ => return Err(invalid(format!("{role_arn} is not a valid role ARN"))),
    };
    if role_partition != partition {
        return Err(invalid(format!(
            "{role_arn} is not a role ARN of partition {partition}, where the call was made"
        )));
    }
    if account_id.len() != 12 || !account_id.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid(format!("{role_arn} is not a valid role ARN")));
    }
    let role_name = role_path.rsplit('/').next().unwrap_or_default().to_owned();
    let denied = || {
        access_denied(format!(
            "User: {} is not authorized to perform: sts:AssumeRole on resource: {role_arn}",
            caller.arn()
        ))
    };
    let declared = world
        .roles(account_id)
        .and_then(|roles| roles.iter().find(|r| r.name == role_name));
    if let Some(allowed) = world.iam().may_assume(
        caller,
        account_id,
        declared,
        role_arn,
        form.get("ExternalId").map(String::as_str),
    ) {
        return match allowed {
            true => Ok(Assumed {
                account_id: account_id.to_owned(),
                role_name,
                session_name,
            }),
            false => Err(denied()),
        };
    }
    let caller = caller.account();
    if let Some(roles) = world.roles(account_id) {
        let role = roles.iter().find(|r| r.name == role_name).ok_or_else(denied)?;
        if !role.trusted_accounts.is_empty() && !role.trusted_accounts.iter().any(|t| t == caller) {
            return Err(denied());
        }
        if role.external_id.is_some() && role.external_id.as_ref() != form.get("ExternalId") {
            return Err(denied());
        }
    }
    Ok(Assumed {
        account_id: account_id.to_owned(),
        role_name,
        session_name,
    })
}

/// The `AssumeRoleResult` of `assumed`, with ARNs in `partition`.
pub(crate) fn assume_role_xml(assumed: &Assumed, expiration: &str, partition: &str) -> String {
    format!(
        "<Credentials>\
<AccessKeyId>{account}</AccessKeyId>\
<SecretAccessKey>emulator-secret</SecretAccessKey>\
<SessionToken>{token}</SessionToken>\
<Expiration>{expiration}</Expiration>\
</Credentials>\
<AssumedRoleUser>\
<AssumedRoleId>{id}</AssumedRoleId>\
<Arn>arn:{partition}:sts::{account}:assumed-role/{role}/{session}</Arn>\
</AssumedRoleUser>",
        account = assumed.account_id,
        token = escape(&iam::session_token(
            &assumed.account_id,
            &assumed.role_name,
            &assumed.session_name
        )),
        id = escape(&assumed_role_id(&assumed.account_id, &assumed.session_name)),
        role = escape(&assumed.role_name),
        session = escape(&assumed.session_name),
    )
}

/// A whole STS answer document for `action`.
pub(crate) fn response_xml(action: StsAction, result: &str, request_id: &str) -> String {
    query_protocol::response_xml(NAMESPACE, action.name(), result, request_id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::iam::RoleConfig;
    use crate::world::{AccountConfig, WorldConfig};

    fn root(account: &str) -> Principal {
        Principal::Root {
            account: account.to_owned(),
        }
    }

    fn form(pairs: &[(&str, &str)]) -> Form {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    fn world() -> World {
        let mut locked = AccountConfig::new("222222222222", "");
        locked.roles = Some(vec![RoleConfig {
            name: "accept".into(),
            external_id: Some("ext".into()),
            trusted_accounts: vec!["123456789012".into()],
            ..RoleConfig::default()
        }]);
        World::new(WorldConfig {
            accounts: vec![locked],
            ..WorldConfig::default()
        })
    }

    #[test]
    fn any_role_of_an_undeclared_account_is_assumable_and_names_the_account() {
        let request = form(&[
            ("RoleArn", "arn:aws:iam::111111111111:role/path/accept"),
            ("RoleSessionName", "s"),
        ]);
        let assumed = assume_role(&world(), &root("123456789012"), &request, "aws").unwrap();
        assert_eq!(assumed.account_id, "111111111111");
        assert_eq!(assumed.role_name, "accept");
        let xml = assume_role_xml(&assumed, "2030-01-01T00:00:00Z", "aws");
        assert!(xml.contains("<AccessKeyId>111111111111</AccessKeyId>"), "{xml}");
        let document = response_xml(StsAction::AssumeRole, &xml, "req-1");
        assert!(document.starts_with("<AssumeRoleResponse "), "{document}");
    }

    #[test]
    fn declared_roles_enforce_name_trust_and_external_id() {
        let world = world();
        let with = |role: &str, external: Option<&str>| {
            let mut pairs = vec![("RoleArn", role), ("RoleSessionName", "s")];
            if let Some(external) = external {
                pairs.push(("ExternalId", external));
            }
            form(&pairs)
        };
        let ok = with("arn:aws:iam::222222222222:role/accept", Some("ext"));
        assert!(assume_role(&world, &root("123456789012"), &ok, "aws").is_ok());
        let denied = |caller: &str, request: &Form| assume_role(&world, &root(caller), request, "aws").unwrap_err();
        let gov = assume_role(&world, &root("123456789012"), &ok, "aws-us-gov").unwrap_err();
        assert_eq!(
            (gov.status, gov.code),
            (400, "ValidationError"),
            "another partition's role"
        );
        assert_eq!(
            denied(
                "123456789012",
                &with("arn:aws:iam::222222222222:role/other", Some("ext"))
            )
            .code,
            "AccessDenied"
        );
        assert_eq!(
            denied(
                "123456789012",
                &with("arn:aws:iam::222222222222:role/accept", Some("bad"))
            )
            .code,
            "AccessDenied"
        );
        assert_eq!(
            denied("123456789012", &with("arn:aws:iam::222222222222:role/accept", None)).code,
            "AccessDenied"
        );
        assert_eq!(denied("999999999999", &ok).code, "AccessDenied", "untrusted caller");
        assert_eq!(denied("123456789012", &with("not-an-arn", None)).status, 400);
        let error = denied("123456789012", &form(&[("RoleSessionName", "s")]));
        assert!(error.message.contains("roleArn"));
        assert!(error.to_xml(NAMESPACE, "req").contains("<Code>ValidationError</Code>"));
    }

    #[test]
    fn the_caller_identity_names_the_account_or_the_role_session_in_the_partition() {
        let root = caller_identity_xml(&root("111122223333"), "aws");
        assert_eq!(
            root,
            "<Arn>arn:aws:iam::111122223333:root</Arn><UserId>111122223333</UserId><Account>111122223333</Account>"
        );
        let session = Principal::AssumedRole {
            account: "111122223333".into(),
            role: "reader".into(),
            session: "s-1".into(),
        };
        let xml = caller_identity_xml(&session, "aws-us-gov");
        assert!(
            xml.contains("<Arn>arn:aws-us-gov:sts::111122223333:assumed-role/reader/s-1</Arn>"),
            "{xml}"
        );
        assert!(xml.contains("<UserId>AROAEMULATOR111122223333:s-1</UserId>"), "{xml}");
        assert_eq!(
            StsAction::from_name("GetCallerIdentity"),
            Some(StsAction::GetCallerIdentity)
        );
        assert_eq!(StsAction::from_name("GetSessionToken"), None);
    }
}
