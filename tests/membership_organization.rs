//! A `DetectiveMembership` in an account that is an organization member of the graph, through the
//! engine with the member's real `aws-sdk-detective` client against the emulator. An organization
//! membership is no invitation (ListInvitations never shows it), yet the account is a member:
//! `state: Accepted` is already true, and `state: Rejected` can never be, since organization
//! members cannot leave.

#[path = "../emulator/tests/fixtures/mod.rs"]
mod fixtures;
mod support;

use detective_emulator::MemberStatus;
use detective_operator::api::{DesiredInvitationState, DetectiveMembershipSpec};
use detective_operator::engine::membership::{self, Decision, MembershipOutcome, MembershipTarget};
use detective_operator::engine::{Mode, Reported};
use k8s_openapi::jiff::Timestamp;

use support::emulator_access;

const MANAGEMENT: &str = "900000000001";
const ADMIN: &str = "123456789012";
const MEMBER: &str = "111111111111";
const REGION: &str = fixtures::REGION;

/// One reconcile of a membership declaring `state` in the organization graph, as `account`.
async fn reconcile(url: &str, account: &str, graph_arn: &str, state: DesiredInvitationState) -> MembershipOutcome {
    let member = emulator_access(url, account, REGION)
        .await
        .detective(None, None)
        .await
        .expect("the member's client");
    let spec: DetectiveMembershipSpec =
        serde_json::from_value(serde_json::json!({"graphArn": graph_arn, "state": state})).expect("a spec");
    let target = MembershipTarget {
        spec: &spec,
        previous: None,
        generation: Some(1),
    };
    membership::reconcile(&member, target, Mode::Apply, Timestamp::now()).await
}

fn condition<'a>(outcome: &'a MembershipOutcome, type_: &str) -> (&'a str, &'a str, &'a str) {
    let condition = outcome.status.sync.condition(type_);
    let condition = condition.unwrap_or_else(|| panic!("no {type_}: {:?}", outcome.status));
    (&condition.status, &condition.reason, &condition.message)
}

#[tokio::test]
async fn rejected_is_stalled_and_accepted_is_ready_for_an_organization_member() {
    let (emulator, graph_arn) = fixtures::organization_graph(MANAGEMENT, ADMIN, &[MEMBER]).await;
    let url = emulator.endpoint_url();

    let rejected = reconcile(&url, MEMBER, &graph_arn, DesiredInvitationState::Rejected).await;
    assert!(
        matches!(rejected.decision, Some(Decision::Impossible(_))),
        "{:?}",
        rejected.decision
    );
    assert_eq!(rejected.applied, None, "no write");
    assert!(!rejected.is_ready(), "{:?}", rejected.status);
    let (status, reason, message) = condition(&rejected, "Stalled");
    assert_eq!((status, reason), ("True", "CannotLeave"), "{message}");
    for says in ["organization member", "state: Accepted", "Detective administrator"] {
        assert!(
            message.contains(says),
            "the message says why and what to do ({says}): {message}"
        );
    }
    let invitation = rejected.status.invitation.as_ref().expect("the membership is shown");
    assert_eq!(invitation.invitation_type.as_deref(), Some("ORGANIZATION"));
    assert_eq!(invitation.administrator_account_id.as_deref(), Some(ADMIN));
    let members = emulator.members(&graph_arn);
    assert_eq!(
        members
            .iter()
            .map(|m| (m.account_id.as_str(), m.status))
            .collect::<Vec<_>>(),
        [(MEMBER, MemberStatus::Enabled)],
        "still a member"
    );
    for write in ["RejectInvitation", "DisassociateMembership"] {
        assert!(!emulator.calls().contains_key(write), "{write}: {:?}", emulator.calls());
    }

    emulator.reset_calls();
    let accepted = reconcile(&url, MEMBER, &graph_arn, DesiredInvitationState::Accepted).await;
    assert_eq!(accepted.decision, Some(Decision::Settled));
    assert!(accepted.is_ready(), "{:?}", accepted.status);
    assert_eq!(condition(&accepted, "Ready").1, "Accepted");
    assert_eq!(accepted.applied, None);
    // The read that found the membership is the ingest state the status shows: read once.
    assert_eq!(
        emulator.calls().get("BatchGetMembershipDatasources").copied(),
        Some(1),
        "{:?}",
        emulator.calls()
    );
    assert!(!accepted.status.datasource_packages.is_empty(), "{:?}", accepted.status);
    emulator.shutdown().await;
}

/// An account that is no member of the graph and has no invitation: `Rejected` is true already.
#[tokio::test]
async fn rejected_is_ready_for_an_account_that_is_no_member() {
    let (emulator, graph_arn) = fixtures::organization_graph(MANAGEMENT, ADMIN, &[MEMBER]).await;
    let outsider = "222222222222";
    let outcome = reconcile(
        &emulator.endpoint_url(),
        outsider,
        &graph_arn,
        DesiredInvitationState::Rejected,
    )
    .await;
    assert_eq!(outcome.decision, Some(Decision::Settled));
    assert!(outcome.is_ready(), "{:?}", outcome.status);
    assert_eq!(outcome.status.invitation, None);
    emulator.shutdown().await;
}
