//! STS `AssumeRole`, so that role assumption (a `DetectiveGraph`'s `assumeRoleArn`, accepting
//! invitations through a role in each member account, a `DetectiveMembership`'s `assumeRoleArn`)
//! runs through the SDK's real credential provider against the emulator.
//!
//! The returned credentials' access key id is the role's account id, which the Detective side
//! reads as the caller (the emulator's identity convention). Which roles exist is part of the
//! world model: an account that declares no `roles` lets any role be assumed; one that declares
//! roles lets only those be assumed, by the accounts they trust, with their external id.
//!
//! Wire: the STS query protocol — `POST /` with a form body (`Action=AssumeRole&RoleArn=...`),
//! answered in XML; errors as `<ErrorResponse>` with status 403 (AccessDenied) or 400.

use std::collections::BTreeMap;

use super::iam::{self, policy::Principal};
use super::world::World;

/// STS form field values of one request.
pub(crate) type Form = BTreeMap<String, String>;

/// Whether a request is an STS call: a form-encoded `POST /` (Detective's paths are never `/`).
pub(crate) fn is_sts(method: &str, path: &str, content_type: Option<&str>) -> bool {
    method == "POST"
        && (path == "/" || path.is_empty())
        && content_type.is_some_and(|c| c.starts_with("application/x-www-form-urlencoded"))
}

/// Decodes the form body.
pub(crate) fn parse(body: &[u8]) -> Form {
    form_urlencoded::parse(body).into_owned().collect()
}

/// An STS failure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StsError {
    pub status: u16,
    pub code: &'static str,
    pub message: String,
}

impl StsError {
    fn access_denied(message: String) -> Self {
        Self {
            status: 403,
            code: "AccessDenied",
            message,
        }
    }

    fn invalid(message: String) -> Self {
        Self {
            status: 400,
            code: "ValidationError",
            message,
        }
    }
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
pub(crate) fn assume_role(world: &World, caller: &Principal, form: &Form) -> Result<Assumed, StsError> {
    let role_arn = form
        .get("RoleArn")
        .ok_or_else(|| StsError::invalid("1 validation error detected: Value null at 'roleArn' failed to satisfy constraint: Member must not be null".into()))?;
    let session_name = form.get("RoleSessionName").cloned().ok_or_else(|| {
        StsError::invalid("1 validation error detected: Value null at 'roleSessionName' failed to satisfy constraint: Member must not be null".into())
    })?;
    // arn:<partition>:iam::<account>:role/<path/>name
    let parts: Vec<&str> = role_arn.splitn(6, ':').collect();
    let (account_id, role_path) = match parts.as_slice() {
        ["arn", _, "iam", "", account, resource] if resource.starts_with("role/") => (*account, *resource),
        _ => return Err(StsError::invalid(format!("{role_arn} is not a valid role ARN"))),
    };
    if account_id.len() != 12 || !account_id.bytes().all(|b| b.is_ascii_digit()) {
        return Err(StsError::invalid(format!("{role_arn} is not a valid role ARN")));
    }
    let role_name = role_path.rsplit('/').next().unwrap_or_default().to_owned();
    let denied = || {
        StsError::access_denied(format!(
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

/// The `AssumeRoleResponse` document.
pub(crate) fn response_xml(assumed: &Assumed, expiration: &str, request_id: &str) -> String {
    format!(
        "<AssumeRoleResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\
<AssumeRoleResult>\
<Credentials>\
<AccessKeyId>{account}</AccessKeyId>\
<SecretAccessKey>emulator-secret</SecretAccessKey>\
<SessionToken>{token}</SessionToken>\
<Expiration>{expiration}</Expiration>\
</Credentials>\
<AssumedRoleUser>\
<AssumedRoleId>AROAEMULATOR{account}:{session}</AssumedRoleId>\
<Arn>arn:aws:sts::{account}:assumed-role/{role}/{session}</Arn>\
</AssumedRoleUser>\
</AssumeRoleResult>\
<ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata>\
</AssumeRoleResponse>",
        account = assumed.account_id,
        token = escape(&iam::session_token(
            &assumed.account_id,
            &assumed.role_name,
            &assumed.session_name
        )),
        role = escape(&assumed.role_name),
        session = escape(&assumed.session_name),
    )
}

/// The `ErrorResponse` document.
pub(crate) fn error_xml(error: &StsError, request_id: &str) -> String {
    format!(
        "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\
<Error><Type>Sender</Type><Code>{}</Code><Message>{}</Message></Error>\
<RequestId>{request_id}</RequestId>\
</ErrorResponse>",
        error.code,
        escape(&error.message)
    )
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::world::{AccountConfig, RoleConfig, WorldConfig};

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
        let assumed = assume_role(&world(), &root("123456789012"), &request).unwrap();
        assert_eq!(assumed.account_id, "111111111111");
        assert_eq!(assumed.role_name, "accept");
        let xml = response_xml(&assumed, "2030-01-01T00:00:00Z", "req-1");
        assert!(xml.contains("<AccessKeyId>111111111111</AccessKeyId>"), "{xml}");
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
        assert!(assume_role(&world, &root("123456789012"), &ok).is_ok());
        let denied = |caller: &str, request: &Form| assume_role(&world, &root(caller), request).unwrap_err();
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
        assert!(error_xml(&error, "req").contains("<Code>ValidationError</Code>"));
    }

    #[test]
    fn only_form_posts_to_the_root_are_sts() {
        assert!(is_sts(
            "POST",
            "/",
            Some("application/x-www-form-urlencoded; charset=utf-8")
        ));
        assert!(!is_sts("POST", "/graph", Some("application/x-www-form-urlencoded")));
        assert!(!is_sts("POST", "/", Some("application/json")));
        assert!(!is_sts("GET", "/", Some("application/x-www-form-urlencoded")));
    }
}
