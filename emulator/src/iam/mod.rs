//! IAM for assumed roles: a role in the world may carry identity policies (`policyFiles`) and a
//! trust policy (`trustPolicyFile`), read from files so that tests attach the very files users
//! paste into their accounts. With `enforceIam` on, a call made with credentials from
//! AssumeRole is allowed only when the role's policies allow its action on its resource
//! ([`authorization`] says which resource each operation is authorized on), and AssumeRole
//! itself checks the caller's identity policy and the role's trust policy. An account's own
//! credentials (the access key that is the account id) stay unrestricted, like an account's
//! root user.
//!
//! [`policy`] parses and evaluates documents; this module holds the roles' documents and
//! answers "may this caller do this".

pub mod authorization;
pub mod policy;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use authorization::Authorization;
use policy::{Kind, PolicyDocument, Principal, RequestContext};

use serde::{Deserialize, Serialize};

/// The session token of credentials from AssumeRole: names the account, the role and the
/// session, so that later calls are known to come from that role.
const SESSION_TOKEN_PREFIX: &str = "emulator-role:";

/// A role in an account, as STS AssumeRole sees it, and as IAM enforcement does (`enforceIam`).
#[serde_with::skip_serializing_none]
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RoleConfig {
    pub name: String,
    /// The external id the trust policy requires, if any.
    pub external_id: Option<String>,
    /// Accounts allowed to assume the role; empty: any account.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub trusted_accounts: Vec<String>,
    /// IAM identity policies (JSON files) attached to the role, enforced under `enforceIam`.
    /// A relative path is read from the world file's folder (else the working directory).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub policy_files: Vec<PathBuf>,
    /// The role's trust policy (a JSON file); under `enforceIam` it replaces `trustedAccounts`
    /// and `externalId`.
    pub trust_policy_file: Option<PathBuf>,
}

/// The policies of every role that declares any, and whether they are enforced.
#[derive(Clone, Debug, Default)]
pub(crate) struct Iam {
    enforced: bool,
    /// Whether EnableOrganizationAdminAccount is also authorized for what Detective does on the
    /// caller's behalf ([`authorization`]).
    on_behalf_checks: bool,
    /// (account id, role name) → its documents.
    roles: HashMap<(String, String), RolePolicies>,
}

#[derive(Clone, Debug, Default)]
struct RolePolicies {
    identity: Vec<PolicyDocument>,
    trust: Option<PolicyDocument>,
}

impl Iam {
    /// Reads and parses every policy file that `accounts`' roles name (account id, its roles, in
    /// the world's order); the error names the field, the file and the statement.
    pub fn load<'a>(
        accounts: impl IntoIterator<Item = (&'a str, &'a [RoleConfig])>,
        enforced: bool,
        on_behalf_checks: bool,
    ) -> Result<Iam, String> {
        let mut roles = HashMap::new();
        for (a, (account_id, account_roles)) in accounts.into_iter().enumerate() {
            for (r, role) in account_roles.iter().enumerate() {
                let field = format!("accounts[{a}].roles[{r}]");
                let policies = RolePolicies::load(role, &field)?;
                roles.insert((account_id.to_owned(), role.name.clone()), policies);
            }
        }
        Ok(Iam {
            enforced,
            on_behalf_checks,
            roles,
        })
    }

    /// Enforcement as `enforced` says, with no role allowed anything.
    pub fn without_policies(enforced: bool) -> Iam {
        Iam {
            enforced,
            on_behalf_checks: true,
            roles: HashMap::new(),
        }
    }

    pub fn enforced(&self) -> bool {
        self.enforced
    }

    pub fn on_behalf_checks(&self) -> bool {
        self.on_behalf_checks
    }

    /// Whether `caller` passes every one of `checks` ([`Iam::authorize`]); the first refusal's
    /// message otherwise.
    pub fn authorize_all(&self, caller: &Principal, checks: &[Authorization]) -> Result<(), String> {
        checks
            .iter()
            .try_for_each(|check| self.authorize(caller, &check.action, &check.resource, &check.context))
    }

    /// Whether `caller` may perform `action` on `resource` in a request carrying `context`:
    /// always for an account's own credentials or when not enforced; else as the role's identity
    /// policies say. The error is the AccessDenied message AWS gives.
    pub fn authorize(
        &self,
        caller: &Principal,
        action: &str,
        resource: &str,
        context: &RequestContext,
    ) -> Result<(), String> {
        let Principal::AssumedRole { account, role, .. } = caller else {
            return Ok(());
        };
        if !self.enforced {
            return Ok(());
        }
        let documents = self
            .roles
            .get(&(account.clone(), role.clone()))
            .map(|r| r.identity.as_slice())
            .unwrap_or_default();
        if policy::allows(documents, action, resource, context) {
            Ok(())
        } else {
            Err(format!(
                "User: {} is not authorized to perform: {action} on resource: {resource}",
                caller.arn()
            ))
        }
    }

    /// Under enforcement, whether `caller` may assume `role` of `account` with `external_id`:
    /// the caller's own policies must allow `sts:AssumeRole` on the role, and the role must be
    /// declared and trust the caller (its trust policy, else its `trustedAccounts` and
    /// `externalId`). `None` when not enforced (the world's plain role rules apply).
    pub fn may_assume(
        &self,
        caller: &Principal,
        account: &str,
        role: Option<&RoleConfig>,
        role_arn: &str,
        external_id: Option<&str>,
    ) -> Option<bool> {
        if !self.enforced {
            return None;
        }
        let context = RequestContext::assuming(external_id);
        if self.authorize(caller, "sts:AssumeRole", role_arn, &context).is_err() {
            return Some(false);
        }
        let Some(role) = role else {
            return Some(false);
        };
        let trust = self
            .roles
            .get(&(account.to_owned(), role.name.clone()))
            .and_then(|r| r.trust.as_ref());
        Some(match trust {
            Some(trust) => policy::trusts(trust, caller, external_id),
            None => {
                (role.trusted_accounts.is_empty() || role.trusted_accounts.iter().any(|t| t == caller.account()))
                    && (role.external_id.is_none() || role.external_id.as_deref() == external_id)
            }
        })
    }
}

impl RolePolicies {
    fn load(role: &RoleConfig, field: &str) -> Result<RolePolicies, String> {
        let identity = role
            .policy_files
            .iter()
            .enumerate()
            .map(|(index, path)| read(path, Kind::Identity, &format!("{field}.policyFiles[{index}]")))
            .collect::<Result<Vec<_>, _>>()?;
        let trust = role
            .trust_policy_file
            .as_deref()
            .map(|path| read(path, Kind::Trust, &format!("{field}.trustPolicyFile")))
            .transpose()?;
        Ok(RolePolicies { identity, trust })
    }
}

fn read(path: &Path, kind: Kind, field: &str) -> Result<PolicyDocument, String> {
    let text =
        std::fs::read_to_string(path).map_err(|err| format!("{field}: cannot read {}: {err}", path.display()))?;
    PolicyDocument::parse(&text, kind).map_err(|err| format!("{field}: {}: {err}", path.display()))
}

/// The session token AssumeRole hands out for a session of `role` in `account`: with the
/// account id as access key, the credentials of that session (what a test gives an operator
/// that runs as a role, as IRSA would).
pub fn session_token(account: &str, role: &str, session: &str) -> String {
    format!("{SESSION_TOKEN_PREFIX}{account}:{role}:{session}")
}

/// The caller a request acts as: a session of an assumed role when its session token is one
/// [`session_token`] made for `account`, else the account itself.
pub(crate) fn principal(account: &str, session_token: Option<&str>) -> Principal {
    let session = session_token
        .and_then(|token| token.strip_prefix(SESSION_TOKEN_PREFIX))
        .map(|rest| rest.splitn(3, ':').collect::<Vec<_>>());
    match session.as_deref() {
        Some([token_account, role, session]) if *token_account == account => Principal::AssumedRole {
            account: account.to_owned(),
            role: (*role).to_owned(),
            session: (*session).to_owned(),
        },
        _ => Principal::Root {
            account: account.to_owned(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_tokens_name_the_role_of_their_own_account_only() {
        let token = session_token("111122223333", "reader", "s-1");
        assert_eq!(
            principal("111122223333", Some(&token)),
            Principal::AssumedRole {
                account: "111122223333".into(),
                role: "reader".into(),
                session: "s-1".into(),
            }
        );
        assert!(matches!(
            principal("444455556666", Some(&token)),
            Principal::Root { .. }
        ));
        assert!(matches!(principal("111122223333", None), Principal::Root { .. }));
        assert!(matches!(
            principal("111122223333", Some("other")),
            Principal::Root { .. }
        ));
    }
}
