//! The member side (`DetectiveMembership`) against the emulator with two real SDK identities: the
//! administrator invites with its credentials, the member answers with its own.

#[path = "../emulator/tests/fixtures/mod.rs"]
mod fixtures;
mod support;

use detective_emulator::{Emulator, MemberStatus, WorldConfig};
use detective_operator::api::{DesiredInvitationState, DetectiveMembershipSpec, DetectiveMembershipStatus};
use detective_operator::aws::SdkDetective;
use detective_operator::engine::membership::{self, Decision, MembershipTarget, MembershipWrite};
use detective_operator::engine::{self, Mode, Reported};
use k8s_openapi::jiff::Timestamp;

use support::emulator_access;

const ADMIN: &str = "123456789012";
const MEMBER: &str = "111111111111";
const REGION: &str = "us-east-1";

struct World {
    emulator: Emulator,
    admin: aws_sdk_detective::Client,
    member: SdkDetective,
    graph_arn: String,
}

async fn world() -> World {
    let emulator = fixtures::start_emulator_as(ADMIN, WorldConfig::default()).await;
    let admin = fixtures::detective_client(&emulator.endpoint_url(), ADMIN, REGION);
    let graph_arn = fixtures::create_graph(&admin).await;
    let member = emulator_access(&emulator.endpoint_url(), MEMBER, REGION)
        .await
        .detective(None, None)
        .await
        .unwrap();
    World {
        emulator,
        admin,
        member,
        graph_arn,
    }
}

impl World {
    async fn invite(&self) {
        fixtures::invite(&self.admin, &self.graph_arn, MEMBER, "member@example.com").await;
    }

    fn status_of_member(&self) -> Option<MemberStatus> {
        self.emulator
            .members(&self.graph_arn)
            .into_iter()
            .find(|m| m.account_id == MEMBER)
            .map(|m| m.status)
    }

    fn spec(&self, state: DesiredInvitationState) -> DetectiveMembershipSpec {
        serde_json::from_value(serde_json::json!({
            "graphArn": self.graph_arn,
            "state": state,
        }))
        .unwrap()
    }

    async fn reconcile(
        &self,
        spec: &DetectiveMembershipSpec,
        previous: Option<&DetectiveMembershipStatus>,
    ) -> membership::MembershipOutcome {
        let target = MembershipTarget {
            spec,
            previous,
            generation: Some(1),
        };
        // Through the engine's door, as the controller: the spec is checked there.
        let access = emulator_access(&self.emulator.endpoint_url(), MEMBER, REGION).await;
        engine::sync(&access, target, Mode::Apply, Timestamp::now()).await
    }
}

fn condition<'a>(
    status: &'a DetectiveMembershipStatus,
    type_: &str,
) -> &'a k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition {
    status.sync.condition(type_).unwrap()
}

#[tokio::test]
async fn an_invited_member_accepts_and_the_administrator_sees_it_enabled() {
    let world = world().await;
    world.invite().await;
    assert_eq!(world.status_of_member(), Some(MemberStatus::Invited));

    let spec = world.spec(DesiredInvitationState::Accepted);
    let outcome = world.reconcile(&spec, None).await;
    assert_eq!(outcome.applied, Some(MembershipWrite::Accept));
    assert!(outcome.is_ready(), "{:?}", outcome.status);
    assert_eq!(world.status_of_member(), Some(MemberStatus::Enabled));
    let invitation = outcome.status.invitation.as_ref().unwrap();
    assert_eq!(invitation.status, "ENABLED");
    assert_eq!(invitation.administrator_account_id.as_deref(), Some(ADMIN));

    // Settled: the next reconcile only reads (the invitation, and this account's ingest state).
    world.emulator.reset_calls();
    let again = world.reconcile(&spec, Some(&outcome.status)).await;
    assert_eq!(again.applied, None);
    assert_eq!(
        world.emulator.calls().keys().collect::<Vec<_>>(),
        vec!["BatchGetMembershipDatasources", "ListInvitations"]
    );
}

#[tokio::test]
async fn a_membership_declared_rejected_rejects_the_invitation() {
    let world = world().await;
    world.invite().await;
    let outcome = world
        .reconcile(&world.spec(DesiredInvitationState::Rejected), None)
        .await;
    assert_eq!(outcome.applied, Some(MembershipWrite::Reject));
    assert!(outcome.is_ready());
    assert_eq!(
        world.status_of_member(),
        None,
        "a rejected invitation leaves the graph's member list"
    );
    assert!(outcome.status.invitation.is_none());
}

#[tokio::test]
async fn an_invitation_that_arrives_later_is_waited_for_then_accepted() {
    let world = world().await;
    let spec = world.spec(DesiredInvitationState::Accepted);
    let waiting = world.reconcile(&spec, None).await;
    assert_eq!(waiting.decision, Some(Decision::Wait));
    assert!(!waiting.is_ready());
    assert_eq!(condition(&waiting.status, "Reconciling").status, "True");
    assert_eq!(condition(&waiting.status, "Reconciling").reason, "AwaitingInvitation");
    assert_eq!(
        waiting.requeue_after,
        membership::INVITATION_RECHECK,
        "a periodic recheck"
    );

    world.invite().await;
    let accepted = world.reconcile(&spec, Some(&waiting.status)).await;
    assert_eq!(accepted.applied, Some(MembershipWrite::Accept));
    assert!(accepted.is_ready());
    assert_eq!(world.status_of_member(), Some(MemberStatus::Enabled));
}

#[tokio::test]
async fn leaving_on_deletion_disassociates_and_a_reinvitation_is_accepted_again() {
    let world = world().await;
    world.invite().await;
    let mut spec = world.spec(DesiredInvitationState::Accepted);
    world.reconcile(&spec, None).await;
    assert_eq!(world.status_of_member(), Some(MemberStatus::Enabled));

    spec.deletion_policy = detective_operator::api::MembershipDeletionPolicy::Disassociate;
    assert!(membership::leave(&world.member, &spec).await.unwrap());
    assert_eq!(world.status_of_member(), None);
    assert!(
        !membership::leave(&world.member, &spec).await.unwrap(),
        "nothing left to leave"
    );

    // The administrator invites again; the same declaration accepts again.
    world.invite().await;
    let outcome = world.reconcile(&spec, None).await;
    assert_eq!(outcome.applied, Some(MembershipWrite::Accept));
    assert_eq!(world.status_of_member(), Some(MemberStatus::Enabled));
}

#[tokio::test]
async fn an_unknown_graph_is_waited_for_and_a_bad_spec_is_stalled() {
    let world = world().await;
    let mut spec = world.spec(DesiredInvitationState::Accepted);
    spec.graph_arn = "arn:aws:detective:us-east-1:123456789012:graph:ffffffffffffffffffffffffffffffff".into();
    assert_eq!(world.reconcile(&spec, None).await.decision, Some(Decision::Wait));

    spec.graph_arn = "not-an-arn".into();
    let outcome = world.reconcile(&spec, None).await;
    assert!(outcome.is_stalled());
    assert!(condition(&outcome.status, "Stalled").message.contains("spec.graphArn"));
    assert!(!world.emulator.calls().contains_key("AcceptInvitation"));
}

#[tokio::test]
/// Organization memberships are no invitation (ListInvitations never shows them), yet an
/// organization member cannot leave: deleting its membership with `deletionPolicy: Disassociate`
/// must be refused (`CannotLeave`), not taken as "nothing to leave".
async fn an_organization_member_cannot_leave() {
    let (emulator, graph_arn) = fixtures::organization_graph("900000000001", ADMIN, &[MEMBER]).await;
    let url = emulator.endpoint_url();
    let member = emulator_access(&url, MEMBER, REGION)
        .await
        .detective(None, None)
        .await
        .unwrap();
    let spec: DetectiveMembershipSpec =
        serde_json::from_value(serde_json::json!({"graphArn": graph_arn, "state": "Rejected"})).unwrap();
    let left = membership::leave(&member, &spec).await;
    assert!(
        matches!(&left, Err(detective_operator::engine::SyncError::Refused(reason)) if reason.contains("organization member")),
        "deletionPolicy Disassociate is refused, not taken as done: {left:?}"
    );
    assert_eq!(left.unwrap_err().reason(), "CannotLeave");
    let still = emulator.members(&graph_arn);
    assert_eq!(still.len(), 1, "still a member: {still:?}");
    assert_eq!(still[0].status, MemberStatus::Enabled);

    // An account that is no member (any more) has nothing to leave.
    let outsider = emulator_access(&url, "222222222222", REGION)
        .await
        .detective(None, None)
        .await
        .unwrap();
    assert!(!membership::leave(&outsider, &spec).await.unwrap());
}
