//! The specs' CRD types in the AWS port's vocabulary: a declared member becomes an [`Invitee`],
//! the declared invitation the [`InvitationSettings`], a declared role a [`RoleToAssume`]. Here
//! because the engine is the layer that knows both the API and the port; neither knows the other.

use crate::api::{DeclaredRole, InvitationSpec, MemberSpec};
use crate::aws::RoleToAssume;
use crate::member::{InvitationSettings, Invitee};

impl From<&MemberSpec> for Invitee {
    fn from(member: &MemberSpec) -> Self {
        Self {
            account_id: member.account_id.clone(),
            email_address: member.email_address.clone(),
        }
    }
}

impl From<&InvitationSpec> for InvitationSettings {
    fn from(invitation: &InvitationSpec) -> Self {
        Self {
            message: invitation.message.clone(),
            disable_email_notification: invitation.disable_email_notification,
        }
    }
}

/// The role as the resource declares it; the session is the operator's own name for it.
impl From<DeclaredRole<'_>> for RoleToAssume {
    fn from(role: DeclaredRole<'_>) -> Self {
        Self {
            role_arn: role.role_arn.to_owned(),
            external_id: role.external_id.map(str::to_owned),
            session_name: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_declared_member_invitation_and_role_keep_every_field() {
        let member = MemberSpec {
            account_id: "111122223333".into(),
            email_address: "root@example.com".into(),
        };
        assert_eq!(
            Invitee::from(&member),
            Invitee {
                account_id: "111122223333".into(),
                email_address: "root@example.com".into(),
            }
        );
        let invitation = InvitationSpec {
            message: Some("welcome".into()),
            disable_email_notification: true,
        };
        assert_eq!(
            InvitationSettings::from(&invitation),
            InvitationSettings {
                message: Some("welcome".into()),
                disable_email_notification: true,
            }
        );
        let role = DeclaredRole {
            role_arn: "arn:aws:iam::111122223333:role/detective",
            external_id: Some("shared-secret"),
        };
        assert_eq!(
            RoleToAssume::from(role),
            RoleToAssume {
                role_arn: "arn:aws:iam::111122223333:role/detective".into(),
                external_id: Some("shared-secret".into()),
                session_name: None,
            }
        );
    }
}
