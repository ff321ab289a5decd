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
pub enum Answer {
    Accept,
    Reject,
    Disassociate,
}

impl Answer {
    /// The Detective operation, as events and metrics name it.
    pub fn operation(self) -> &'static str {
        match self {
            Self::Accept => "AcceptInvitation",
            Self::Reject => "RejectInvitation",
            Self::Disassociate => "DisassociateMembership",
        }
    }
}

impl Decision {
    /// The write this decision makes, if any.
    pub fn answer(&self) -> Option<Answer> {
        match self {
            Self::Accept => Some(Answer::Accept),
            Self::Reject => Some(Answer::Reject),
            Self::Disassociate => Some(Answer::Disassociate),
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
        assert_eq!(decide(Accepted, None), Decision::Wait);
        assert_eq!(decide(Rejected, None), Decision::Settled);
        let cases = [
            (Accepted, MemberStatus::Invited, Invited, Decision::Accept),
            (Rejected, MemberStatus::Invited, Invited, Decision::Reject),
            (Accepted, MemberStatus::Enabled, Invited, Decision::Settled),
            (Accepted, MemberStatus::AcceptedButDisabled, Invited, Decision::Settled),
            (Rejected, MemberStatus::Enabled, Invited, Decision::Disassociate),
            (
                Rejected,
                MemberStatus::Enabled,
                Organization,
                Decision::Impossible(ORGANIZATION_MEMBER.into()),
            ),
            (Accepted, MemberStatus::VerificationInProgress, Invited, Decision::Wait),
        ];
        for (desired, status, kind, expected) in cases {
            let seen = invitation(status.clone(), kind);
            assert_eq!(
                decide(desired, Some(&seen)),
                expected,
                "{desired:?} of {status:?} ({kind:?})"
            );
        }
    }

    #[test]
    fn only_answers_write() {
        assert_eq!(Decision::Disassociate.answer(), Some(Answer::Disassociate));
        assert_eq!(Decision::Wait.answer(), None);
        assert_eq!(Decision::Impossible("no".into()).answer(), None);
        assert_eq!(Answer::Reject.operation(), "RejectInvitation");
    }
}
