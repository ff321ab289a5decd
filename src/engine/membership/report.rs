//! The status a `DetectiveMembership` reconcile reports. Pure: no client, the clock comes in as
//! `now`.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;

use super::decide::Decision;
use super::pending::pending_changes;
use super::schedule::INVITATION_RECHECK;
use super::{MembershipOutcome, MembershipTarget};
use crate::api::conditions::Verdict;
use crate::api::{
    DesiredInvitationState, DetectiveMembershipStatus, InvitationStatus, MembershipPackageStatus, PendingChanges,
    SyncStatus,
};
use crate::aws::{Invitation, MembershipIngest};

/// What to do about a declared `state: Rejected` that cannot be reached.
const CANNOT_LEAVE_REMEDY: &str = "spec.state Rejected cannot be reached: declare state: Accepted, or have the \
     organization's Detective administrator remove this account from its graph";

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
    let policy = target.spec.management_policy;
    let pending = outcome
        .decision
        .as_ref()
        .map(|decision| pending_changes(decision, graph));
    let verdict = match (&outcome.error, &outcome.decision, &pending) {
        (Some(error), _, _) => error.verdict(),
        // Observe: Ready means the invitation was read; the answer is InSync's and pendingChanges'.
        (None, Some(_), Some(pending)) if policy.observes() => pending.observed(),
        (None, Some(Decision::Impossible(reason)), _) => {
            Verdict::stalled("CannotLeave", format!("{reason}. {CANNOT_LEAVE_REMEDY}"))
        }
        (None, Some(Decision::Wait), _) => Verdict::progressing(
            "AwaitingInvitation",
            format!(
                "no invitation from {graph} yet: checking again every {}s",
                INVITATION_RECHECK.as_secs()
            ),
        ),
        (None, _, _) => match (&target.spec.state, &invitation) {
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
    let mut states = verdict.states().to_vec();
    if let (None, Some(pending)) = (&outcome.error, &pending) {
        states.push(pending.in_sync(!policy.observes() && outcome.applied.is_some()));
    }
    let read = outcome.decision.is_some();
    DetectiveMembershipStatus {
        sync: SyncStatus::after(&previous.sync, &states, target.generation, now, read),
        invitation: if read { invitation } else { previous.invitation.clone() },
        datasource_packages: outcome.packages.clone().unwrap_or(previous.datasource_packages),
        pending_changes: PendingChanges::published(policy, pending, previous.pending_changes.as_ref()),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::api::DetectiveMembership;
    use crate::api::conditions::{IN_SYNC, READY, RECONCILING, STALLED};
    use crate::engine::membership::decide;
    use crate::engine::membership::observe::organization_membership;

    const GRAPH: &str = "arn:aws:detective:us-east-1:123456789012:graph:0123456789abcdef0123456789abcdef";

    /// An organization member declared `Rejected`: the state cannot be reached, so the status is
    /// Stalled, naming why and what to do; `Accepted` is Ready.
    #[test]
    fn an_organization_member_declared_rejected_is_stalled_saying_why_and_what_to_do() {
        let organization = organization_membership(GRAPH);
        let cases = [
            (DesiredInvitationState::Rejected, ("Stalled", "CannotLeave")),
            (DesiredInvitationState::Accepted, ("Ready", "Accepted")),
        ];
        for (state, (type_, reason)) in cases {
            let spec = serde_json::from_value(serde_json::json!({"graphArn": GRAPH, "state": state}));
            let membership = DetectiveMembership::new("organization-member", spec.expect("a spec"));
            let outcome = MembershipOutcome {
                decision: Some(decide(state, Some(&organization))),
                applied: None,
                packages: None,
                status: DetectiveMembershipStatus::default(),
                error: None,
                requeue_after: Duration::ZERO,
            };
            let shown = Some(invitation_status(&organization));
            let status = report(
                &MembershipTarget::of(&membership),
                &outcome,
                shown,
                Timestamp::UNIX_EPOCH,
            );
            let conditions = &status.sync.conditions;
            let kstatus = [READY, RECONCILING, STALLED];
            let true_ones: Vec<_> = conditions
                .iter()
                .filter(|c| kstatus.contains(&c.type_.as_str()) && c.status == "True")
                .collect();
            assert_eq!(true_ones.len(), 1, "{state:?}: {conditions:?}");
            let message = &true_ones[0].message;
            assert_eq!(
                (true_ones[0].type_.as_str(), true_ones[0].reason.as_str()),
                (type_, reason),
                "{state:?}: {message}"
            );
            if state == DesiredInvitationState::Rejected {
                for says in ["cannot leave", "declare state: Accepted"] {
                    assert!(message.contains(says), "{says}: {message}");
                }
            }
            // Rejected cannot be reached: AWS does not match the spec, and a sync would be refused.
            let in_sync = status.sync.condition(IN_SYNC).expect("InSync once read");
            assert_eq!(
                in_sync.status == "True",
                state == DesiredInvitationState::Accepted,
                "{in_sync:?}"
            );
            assert_eq!(
                status.invitation.and_then(|i| i.invitation_type).as_deref(),
                Some("ORGANIZATION")
            );
        }
    }
}
