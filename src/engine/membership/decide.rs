//! Decide: the answer the spec asks for, given the invitation. Pure.

use crate::api::DesiredInvitationState;
use crate::aws::Invitation;
use crate::member::{InvitationType, MemberStatus};

/// Why an organization member cannot leave.
pub const ORGANIZATION_MEMBER: &str = "this account is an organization member of the graph: organization members cannot \
     leave it (the organization's Detective administrator removes them)";

/// What to do about the invitation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    Accept,
    Reject,
    /// Declared `Rejected`, but the account is already a member: leave the graph.
    Disassociate,
    /// No invitation from the graph yet.
    Wait,
    /// As declared.
    Settled,
    /// Cannot be done; the reason says why.
    Impossible(String),
}

/// The write that answers an invitation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MembershipWrite {
    Accept,
    Reject,
    Disassociate,
}

impl MembershipWrite {
    /// The Detective operation, as events and metrics name it.
    pub fn operation(self) -> &'static str {
        match self {
            Self::Accept => "AcceptInvitation",
            Self::Reject => "RejectInvitation",
            Self::Disassociate => "DisassociateMembership",
        }
    }

    /// The action, as `status.pendingChanges` names it.
    pub fn action(self) -> &'static str {
        match self {
            Self::Accept => "accept",
            Self::Reject => "reject",
            Self::Disassociate => "disassociate",
        }
    }
}

impl Decision {
    /// The write this decision makes, if any.
    pub fn write(&self) -> Option<MembershipWrite> {
        match self {
            Self::Accept => Some(MembershipWrite::Accept),
            Self::Reject => Some(MembershipWrite::Reject),
            Self::Disassociate => Some(MembershipWrite::Disassociate),
            Self::Wait | Self::Settled | Self::Impossible(_) => None,
        }
    }
}

/// The answer the spec asks for, given the invitation. Pure.
pub fn decide(desired: DesiredInvitationState, invitation: Option<&Invitation>) -> Decision {
    let Some(invitation) = invitation else {
        return match desired {
            DesiredInvitationState::Accepted => Decision::Wait,
            // Nothing to reject: no open invitation and no membership.
            DesiredInvitationState::Rejected => Decision::Settled,
        };
    };
    let member = &invitation.member;
    let joined = matches!(member.status, MemberStatus::Enabled | MemberStatus::AcceptedButDisabled);
    match (desired, &member.status) {
        (DesiredInvitationState::Accepted, MemberStatus::Invited) => Decision::Accept,
        (DesiredInvitationState::Accepted, _) if joined => Decision::Settled,
        (DesiredInvitationState::Rejected, MemberStatus::Invited) => Decision::Reject,
        (DesiredInvitationState::Rejected, _) if joined && member.invitation_type == InvitationType::Organization => {
            Decision::Impossible(ORGANIZATION_MEMBER.into())
        }
        (DesiredInvitationState::Rejected, _) if joined => Decision::Disassociate,
        // Verification still running on the administrator's side.
        _ => Decision::Wait,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::member::ObservedMember;

    fn invitation(status: MemberStatus, kind: InvitationType) -> Invitation {
        Invitation {
            graph_arn: "arn:aws:detective:us-east-1:123456789012:graph:0123456789abcdef0123456789abcdef".into(),
            administrator_account_id: Some("123456789012".into()),
            member: ObservedMember {
                status,
                invitation_type: kind,
                ..ObservedMember::invited("111111111111", "a@example.com")
            },
        }
    }

    #[test]
    fn decisions() {
        use DesiredInvitationState::{Accepted, Rejected};
        use InvitationType::{Invitation as Invited, Organization};
        // (desired, the invitation found as (status, type), the decision)
        let cases = [
            (Accepted, None, Decision::Wait),
            (Rejected, None, Decision::Settled),
            (Accepted, Some((MemberStatus::Invited, Invited)), Decision::Accept),
            (Rejected, Some((MemberStatus::Invited, Invited)), Decision::Reject),
            (Accepted, Some((MemberStatus::Enabled, Invited)), Decision::Settled),
            (
                Accepted,
                Some((MemberStatus::AcceptedButDisabled, Invited)),
                Decision::Settled,
            ),
            (Rejected, Some((MemberStatus::Enabled, Invited)), Decision::Disassociate),
            (
                Accepted,
                Some((MemberStatus::VerificationInProgress, Invited)),
                Decision::Wait,
            ),
        ];
        for (desired, found, decision) in cases {
            let found = found.map(|(status, kind)| invitation(status, kind));
            assert_eq!(decide(desired, found.as_ref()), decision, "{desired:?}, {found:?}");
        }
        assert!(matches!(
            decide(Rejected, Some(&invitation(MemberStatus::Enabled, Organization))),
            Decision::Impossible(_)
        ));
    }

    #[test]
    fn only_answers_write() {
        assert_eq!(Decision::Disassociate.write(), Some(MembershipWrite::Disassociate));
        assert_eq!(Decision::Wait.write(), None);
        assert_eq!(Decision::Impossible("no".into()).write(), None);
        assert_eq!(MembershipWrite::Reject.operation(), "RejectInvitation");
    }
}
