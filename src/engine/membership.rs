//! One reconcile of a `DetectiveMembership`: find the invitation → decide → answer → report.
//!
//! Runs as the member account. [`decide`] is pure; the calls go through the [`Detective`] port.

use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;

use super::{Mode, SyncError};
use crate::api::conditions::{self, READY, STALLED, Verdict};
use crate::api::validation::parse_duration;
use crate::api::{DesiredInvitationState, DetectiveMembershipSpec, DetectiveMembershipStatus, InvitationStatus};
use crate::aws::{Detective, Invitation};
use crate::member::{InvitationType, MemberStatus};

/// How often a membership waiting for its invitation looks again.
pub const INVITATION_RECHECK: Duration = Duration::from_secs(60);

/// What one reconcile reads besides AWS.
#[derive(Clone, Copy, Debug)]
pub struct MembershipTarget<'a> {
    pub spec: &'a DetectiveMembershipSpec,
    pub previous: Option<&'a DetectiveMembershipStatus>,
    pub generation: Option<i64>,
}

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
            Decision::Impossible(
                "this account is an organization member of the graph: organization members cannot leave it \
                 (the organization's Detective administrator removes them)"
                    .into(),
            )
        }
        (DesiredInvitationState::Rejected, _) if joined => Decision::Disassociate,
        // Verification still running on the administrator's side.
        _ => Decision::Wait,
    }
}

/// Everything one membership reconcile decided and did.
#[derive(Debug)]
pub struct MembershipOutcome {
    pub decision: Option<Decision>,
    /// The write made, if any (`AcceptInvitation`, `RejectInvitation`, `DisassociateMembership`).
    pub applied: Option<&'static str>,
    pub status: DetectiveMembershipStatus,
    pub error: Option<SyncError>,
    pub requeue_after: Duration,
}

impl MembershipOutcome {
    pub fn is_ready(&self) -> bool {
        conditions::is_true(&self.status.conditions, READY)
    }

    pub fn is_stalled(&self) -> bool {
        conditions::is_true(&self.status.conditions, STALLED)
    }
}

/// The outcome of a reconcile that could not start.
pub fn failed(target: MembershipTarget<'_>, error: SyncError, now: Timestamp) -> MembershipOutcome {
    let previous = target.previous.cloned().unwrap_or_default();
    let mut outcome = MembershipOutcome {
        decision: None,
        applied: None,
        status: DetectiveMembershipStatus::default(),
        error: Some(error),
        requeue_after: resync(target.spec),
    };
    outcome.status = report(&target, &outcome, previous.invitation.clone(), now);
    outcome
}

fn resync(spec: &DetectiveMembershipSpec) -> Duration {
    parse_duration(&spec.resync_interval).unwrap_or(Duration::from_secs(300))
}

async fn find<D: Detective>(detective: &D, graph_arn: &str) -> Result<Option<Invitation>, SyncError> {
    Ok(detective
        .list_invitations()
        .await?
        .into_iter()
        .find(|i| i.graph_arn == graph_arn))
}

/// Runs one reconcile of a membership.
pub async fn reconcile<D: Detective>(
    detective: &D,
    target: MembershipTarget<'_>,
    mode: Mode,
    now: Timestamp,
) -> MembershipOutcome {
    if let Err(errors) = target.spec.validate() {
        return failed(target, SyncError::InvalidSpec(errors), now);
    }
    let graph_arn = &target.spec.graph_arn;
    let invitation = match find(detective, graph_arn).await {
        Ok(invitation) => invitation,
        Err(error) => return failed(target, error, now),
    };
    let decision = decide(target.spec.state, invitation.as_ref());
    let write = match (&decision, mode) {
        (_, Mode::DryRun) => None,
        (Decision::Accept, Mode::Apply) => Some("AcceptInvitation"),
        (Decision::Reject, Mode::Apply) => Some("RejectInvitation"),
        (Decision::Disassociate, Mode::Apply) => Some("DisassociateMembership"),
        _ => None,
    };
    let mut outcome = MembershipOutcome {
        decision: Some(decision.clone()),
        applied: None,
        status: DetectiveMembershipStatus::default(),
        error: None,
        requeue_after: resync(target.spec),
    };
    let mut seen = invitation;
    if let Some(operation) = write {
        let result = match operation {
            "AcceptInvitation" => detective.accept_invitation(graph_arn).await,
            "RejectInvitation" => detective.reject_invitation(graph_arn).await,
            _ => detective.disassociate_membership(graph_arn).await,
        };
        match result {
            Ok(()) => {
                outcome.applied = Some(operation);
                // Read back so the status shows where the answer landed.
                match find(detective, graph_arn).await {
                    Ok(after) => seen = after,
                    Err(error) => outcome.error = Some(error),
                }
            }
            Err(error) => outcome.error = Some(error.into()),
        }
    }
    if outcome.error.is_none() && decision == Decision::Wait {
        outcome.requeue_after = INVITATION_RECHECK.min(outcome.requeue_after);
    }
    let invitation_status = seen.as_ref().map(invitation_status);
    outcome.status = report(&target, &outcome, invitation_status, now);
    outcome
}

/// Leaves the graph on deletion when `deletionPolicy: Disassociate`. An organization member
/// cannot leave: that is an error the controller reports, and the orphan annotation overrides.
pub async fn leave<D: Detective>(detective: &D, spec: &DetectiveMembershipSpec) -> Result<bool, SyncError> {
    let Some(invitation) = find(detective, &spec.graph_arn).await? else {
        return Ok(false);
    };
    match decide(DesiredInvitationState::Rejected, Some(&invitation)) {
        Decision::Disassociate => {
            detective.disassociate_membership(&spec.graph_arn).await?;
            Ok(true)
        }
        Decision::Reject => {
            detective.reject_invitation(&spec.graph_arn).await?;
            Ok(true)
        }
        Decision::Impossible(reason) => Err(SyncError::Refused(reason)),
        _ => Ok(false),
    }
}

fn invitation_status(invitation: &Invitation) -> InvitationStatus {
    let member = &invitation.member;
    InvitationStatus {
        administrator_account_id: invitation.administrator_account_id.clone(),
        status: member.status.as_str().to_owned(),
        disabled_reason: member.disabled_reason.clone(),
        invitation_type: Some(member.invitation_type.as_str().to_owned()),
        invited_time: member.invited_time.map(Time),
        updated_time: member.updated_time.map(Time),
    }
}

/// The status for an outcome. Pure.
pub fn report(
    target: &MembershipTarget<'_>,
    outcome: &MembershipOutcome,
    invitation: Option<InvitationStatus>,
    now: Timestamp,
) -> DetectiveMembershipStatus {
    let previous = target.previous.cloned().unwrap_or_default();
    let graph = &target.spec.graph_arn;
    let verdict = match (&outcome.error, &outcome.decision) {
        (Some(error), _) => error.verdict(),
        (None, Some(Decision::Impossible(reason))) => Verdict::stalled("CannotLeave", reason.clone()),
        (None, Some(Decision::Wait)) => Verdict::progressing(
            "AwaitingInvitation",
            format!(
                "no invitation from {graph} yet: checking again every {}s",
                INVITATION_RECHECK.as_secs()
            ),
        ),
        (None, _) => match (&target.spec.state, &invitation) {
            (
                DesiredInvitationState::Accepted,
                Some(InvitationStatus {
                    disabled_reason: Some(why),
                    ..
                }),
            ) => Verdict::ready("Accepted", format!("member of {graph}, not monitored yet ({why})")),
            (DesiredInvitationState::Accepted, _) => Verdict::ready("Accepted", format!("member of {graph}")),
            (DesiredInvitationState::Rejected, _) => Verdict::ready("Rejected", format!("not a member of {graph}")),
        },
    };
    let states = verdict.states();
    let read = outcome.decision.is_some();
    DetectiveMembershipStatus {
        observed_generation: target.generation,
        conditions: conditions::merge(&previous.conditions, &states, target.generation, now),
        invitation: if read { invitation } else { previous.invitation.clone() },
        last_sync_time: if read { Some(Time(now)) } else { previous.last_sync_time },
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
        assert_eq!(
            decide(Accepted, Some(&invitation(MemberStatus::Invited, Invited))),
            Decision::Accept
        );
        assert_eq!(
            decide(Rejected, Some(&invitation(MemberStatus::Invited, Invited))),
            Decision::Reject
        );
        assert_eq!(
            decide(Accepted, Some(&invitation(MemberStatus::Enabled, Invited))),
            Decision::Settled
        );
        assert_eq!(
            decide(Accepted, Some(&invitation(MemberStatus::AcceptedButDisabled, Invited))),
            Decision::Settled
        );
        assert_eq!(
            decide(Rejected, Some(&invitation(MemberStatus::Enabled, Invited))),
            Decision::Disassociate
        );
        assert!(matches!(
            decide(Rejected, Some(&invitation(MemberStatus::Enabled, Organization))),
            Decision::Impossible(_)
        ));
        assert_eq!(
            decide(
                Accepted,
                Some(&invitation(MemberStatus::VerificationInProgress, Invited))
            ),
            Decision::Wait
        );
    }
}
