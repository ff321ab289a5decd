//! Trusted access and the service-linked role it brings: which AWS services an organization let
//! integrate with AWS Organizations (EnableAWSServiceAccess, or Detective's own
//! EnableOrganizationAdminAccount, which enables it on the caller's behalf), and the IAM
//! service-linked roles that exist in each account (CreateServiceLinkedRole, or made by the
//! service when trusted access is granted).
//!
//! One state for both ways in: the Organizations API lists what either enabled, and IAM's
//! GetRole finds the role either created. The AWS Organizations User Guide ("Amazon Detective and
//! AWS Organizations") says `AWSServiceRoleForDetective` "is automatically created in your
//! organization's management account when you enable trusted access".

use serde::{Deserialize, Serialize};

use super::organization::DETECTIVE_SERVICE_PRINCIPAL;
use super::prng::SplitMix64;

/// The name of Detective's service-linked role ("Using service-linked roles for Detective").
pub(crate) const DETECTIVE_SERVICE_LINKED_ROLE: &str = "AWSServiceRoleForDetective";

/// A service an organization granted trusted access (`EnabledServicePrincipal`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct TrustedService {
    pub organization: String,
    pub service_principal: String,
    pub enabled_ms: i64,
}

/// An IAM service-linked role of one account.
#[serde_with::skip_serializing_none]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ServiceLinkedRole {
    pub account_id: String,
    pub role_name: String,
    /// The service principal the role is linked to (`detective.amazonaws.com`).
    pub service_name: String,
    pub description: Option<String>,
    /// `AROA` and 17 upper-case letters or digits, as IAM's role ids look.
    pub role_id: String,
    pub created_ms: i64,
}

impl ServiceLinkedRole {
    /// `/aws-service-role/<service principal>/`: the path IAM gives every service-linked role.
    pub fn path(&self) -> String {
        format!("/aws-service-role/{}/", self.service_name)
    }
}

/// A new IAM role id: `AROA` and 17 upper-case hex digits (IAM's are `AROA` and 17 upper-case
/// letters or digits).
pub(crate) fn new_role_id(rng: &mut SplitMix64) -> String {
    format!("AROA{}", rng.hex(17).to_ascii_uppercase())
}

/// The service-linked role that trusted access for `service_principal` brings, if the emulator
/// models one (Detective's only).
pub(crate) fn service_linked_role_name(service_principal: &str) -> Option<&'static str> {
    (service_principal == DETECTIVE_SERVICE_PRINCIPAL).then_some(DETECTIVE_SERVICE_LINKED_ROLE)
}

/// What trusted access and IAM's service-linked roles hold, across every organization and
/// account the emulator knows (part of the emulator's state, stored flat beside the rest).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct TrustedAccess {
    /// Services granted trusted access in AWS Organizations.
    pub trusted_services: Vec<TrustedService>,
    /// IAM service-linked roles, per account.
    pub service_linked_roles: Vec<ServiceLinkedRole>,
}

impl TrustedAccess {
    /// Whether `organization` granted `service_principal` trusted access.
    pub fn is_trusted(&self, organization: &str, service_principal: &str) -> bool {
        self.trusted_services
            .iter()
            .any(|trusted| trusted.organization == organization && trusted.service_principal == service_principal)
    }

    /// Grants `service_principal` trusted access in `organization` (again: no change), and
    /// creates its service-linked role in the management account when it has none.
    pub fn grant_trusted_access(
        &mut self,
        organization: &str,
        management_account: &str,
        service_principal: &str,
        rng: &mut SplitMix64,
        now_ms: i64,
    ) {
        if !self.is_trusted(organization, service_principal) {
            self.trusted_services.push(TrustedService {
                organization: organization.to_owned(),
                service_principal: service_principal.to_owned(),
                enabled_ms: now_ms,
            });
        }
        if let Some(role_name) = service_linked_role_name(service_principal)
            && self.service_linked_role(management_account, role_name).is_none()
        {
            self.service_linked_roles.push(ServiceLinkedRole {
                account_id: management_account.to_owned(),
                role_name: role_name.to_owned(),
                service_name: service_principal.to_owned(),
                description: None,
                role_id: new_role_id(rng),
                created_ms: now_ms,
            });
        }
    }

    /// Withdraws `service_principal`'s trusted access in `organization` (nothing else changes:
    /// its service-linked roles stay, as IAM keeps them until they are deleted).
    pub fn revoke_trusted_access(&mut self, organization: &str, service_principal: &str) {
        self.trusted_services.retain(|trusted| {
            !(trusted.organization == organization && trusted.service_principal == service_principal)
        });
    }

    /// `account_id`'s service-linked role `role_name`.
    pub fn service_linked_role(&self, account_id: &str, role_name: &str) -> Option<&ServiceLinkedRole> {
        self.service_linked_roles
            .iter()
            .find(|role| role.account_id == account_id && role.role_name == role_name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn granting_detective_trusted_access_creates_its_role_in_the_management_account_once() {
        let mut state = TrustedAccess::default();
        let mut rng = SplitMix64::new(7);
        state.grant_trusted_access("o-a", "111111111111", DETECTIVE_SERVICE_PRINCIPAL, &mut rng, 5);
        state.grant_trusted_access("o-a", "111111111111", DETECTIVE_SERVICE_PRINCIPAL, &mut rng, 9);
        assert!(state.is_trusted("o-a", DETECTIVE_SERVICE_PRINCIPAL));
        assert_eq!(state.trusted_services.len(), 1, "granted once, at its first time");
        assert_eq!(state.trusted_services[0].enabled_ms, 5);
        let role = state
            .service_linked_role("111111111111", DETECTIVE_SERVICE_LINKED_ROLE)
            .expect("the management account has the role");
        assert_eq!(role.path(), "/aws-service-role/detective.amazonaws.com/");
        assert!(
            role.role_id.starts_with("AROA") && role.role_id.len() == 21,
            "{}",
            role.role_id
        );
        assert_eq!(state.service_linked_roles.len(), 1);

        state.grant_trusted_access("o-a", "111111111111", "guardduty.amazonaws.com", &mut rng, 9);
        assert_eq!(
            state.service_linked_roles.len(),
            1,
            "no role modelled for other services"
        );
        state.revoke_trusted_access("o-a", DETECTIVE_SERVICE_PRINCIPAL);
        assert!(!state.is_trusted("o-a", DETECTIVE_SERVICE_PRINCIPAL));
        assert!(state.is_trusted("o-a", "guardduty.amazonaws.com"));
        assert!(
            state
                .service_linked_role("111111111111", DETECTIVE_SERVICE_LINKED_ROLE)
                .is_some(),
            "the role outlives trusted access"
        );
    }
}
