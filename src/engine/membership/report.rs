//! The status a `DetectiveMembership` reconcile reports. Pure: no client, the clock comes in as
//! `now`.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;

use super::decide::Decision;
use super::schedule::INVITATION_RECHECK;
use super::{MembershipOutcome, MembershipTarget};
use crate::api::conditions::Verdict;
use crate::api::{
    DesiredInvitationState, DetectiveMembershipStatus, InvitationStatus, MembershipPackageStatus, SyncStatus,
};
use crate::aws::{Invitation, MembershipIngest};

pub fn invitation_status(invitation: &Invitation) -> InvitationStatus {
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

/// The account's ingest state per package, as the status reports it.
pub fn package_statuses(ingest: &MembershipIngest) -> Vec<MembershipPackageStatus> {
    ingest
        .iter()
        .map(|(package, (state, since))| MembershipPackageStatus {
            package: package.clone(),
            state: state.as_str().to_owned(),
            since: since.map(Time),
        })
        .collect()
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
        sync: SyncStatus::after(&previous.sync, &states, target.generation, now, read),
        invitation: if read { invitation } else { previous.invitation.clone() },
        datasource_packages: outcome.packages.clone().unwrap_or(previous.datasource_packages),
    }
}
