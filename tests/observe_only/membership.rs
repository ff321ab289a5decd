//! A `DetectiveMembership` whose invitation is open while the spec says `Accepted`, then whose
//! membership stands while the spec says `Rejected`: each answer is reported, not given, until
//! `Manage`.

use std::collections::BTreeMap;

use detective_emulator::{Emulator, MemberStatus, WorldConfig};
use detective_operator::api::conditions::{IN_SYNC, READY};
use detective_operator::api::{
    DesiredInvitationState, DetectiveMembership, DetectiveMembershipSpec, DetectiveMembershipStatus, ManagementPolicy,
    MembershipDeletionPolicy,
};
use detective_operator::aws::AwsAccess;
use detective_operator::engine::{self, MembershipOutcome, MembershipTarget, Mode};
use k8s_openapi::jiff::Timestamp;

use super::support::emulator_access;
use super::{actions, condition, fixtures, write_calls, writes};

const ADMIN: &str = "123456789012";
const MEMBER: &str = "111111111111";
const REGION: &str = "us-east-1";

struct World {
    emulator: Emulator,
    /// The member account's access, as the operator has it.
    member: AwsAccess,
    graph_arn: String,
}

impl World {
    /// A graph of ADMIN that has invited MEMBER; the calls of the setup forgotten.
    async fn invited() -> Self {
        let emulator = fixtures::start_emulator_as(ADMIN, WorldConfig::default()).await;
        let admin = fixtures::detective_client(&emulator.endpoint_url(), ADMIN, REGION);
        let graph_arn = fixtures::create_graph(&admin).await;
        fixtures::invite(&admin, &graph_arn, MEMBER, "member@example.com").await;
        let member = emulator_access(&emulator.endpoint_url(), MEMBER, REGION).await;
        emulator.reset_calls();
        Self {
            emulator,
            member,
            graph_arn,
        }
    }

    fn spec(&self, state: DesiredInvitationState, policy: ManagementPolicy) -> DetectiveMembershipSpec {
        DetectiveMembershipSpec {
            state,
            management_policy: policy,
            // Deleting it would leave the graph, were it managed.
            deletion_policy: MembershipDeletionPolicy::Disassociate,
            ..serde_json::from_value(serde_json::json!({"graphArn": self.graph_arn})).expect("a spec")
        }
    }

    async fn sync(
        &self,
        spec: &DetectiveMembershipSpec,
        previous: Option<&DetectiveMembershipStatus>,
    ) -> MembershipOutcome {
        let mut membership = DetectiveMembership::new("member", spec.clone());
        membership.status = previous.cloned();
        let outcome = engine::sync(
            &self.member,
            MembershipTarget::of(&membership),
            Mode::Apply,
            Timestamp::now(),
        )
        .await;
        assert!(outcome.error.is_none(), "{:?}", outcome.error);
        outcome
    }

    /// The member's status in the administrator's graph.
    fn member_status(&self) -> Option<MemberStatus> {
        let members = self.emulator.members(&self.graph_arn);
        members.into_iter().find(|m| m.account_id == MEMBER).map(|m| m.status)
    }

    /// Observe with `state`, after `previous`: the one answer pending, no write, also not at a
    /// resync nor on deletion. Returns the last status.
    async fn observe(
        &self,
        state: DesiredInvitationState,
        previous: Option<&DetectiveMembershipStatus>,
        answer: &str,
    ) -> DetectiveMembershipStatus {
        let spec = self.spec(state, ManagementPolicy::Observe);
        let observed = self.sync(&spec, previous).await;
        assert_eq!(
            writes(&self.emulator),
            Vec::<String>::new(),
            "Observe makes no AWS write"
        );
        let status = &observed.status;
        let pending = status.pending_changes.as_ref().expect("status.pendingChanges");
        assert_eq!(actions(pending), vec![(answer, 1, vec![self.graph_arn.as_str()])]);
        assert_eq!(pending.refused, None);
        assert_eq!(condition(&status.sync, READY), ("True".into(), "Observed".into()));
        assert_eq!(
            condition(&status.sync, IN_SYNC),
            ("False".into(), "ChangesPending".into())
        );

        let again = self.sync(&spec, Some(status)).await;
        assert_eq!(again.status.pending_changes, status.pending_changes);
        let mut membership = DetectiveMembership::new("member", spec.clone());
        membership.status = Some(again.status.clone());
        engine::teardown(&self.member, MembershipTarget::of(&membership))
            .await
            .expect("nothing to do");
        assert_eq!(
            writes(&self.emulator),
            Vec::<String>::new(),
            "no write at a resync nor on deletion, whatever deletionPolicy says"
        );
        again.status
    }

    /// Manage with `state`, after `previous`: exactly `call`, once; then in sync, no plan.
    async fn manage(
        &self,
        state: DesiredInvitationState,
        previous: &DetectiveMembershipStatus,
        call: &str,
    ) -> DetectiveMembershipStatus {
        let applied = self
            .sync(&self.spec(state, ManagementPolicy::Manage), Some(previous))
            .await;
        assert_eq!(write_calls(&self.emulator), BTreeMap::from([(call.to_owned(), 1)]));
        assert_eq!(applied.status.pending_changes, None, "Manage publishes no plan");
        assert_eq!(
            condition(&applied.status.sync, IN_SYNC),
            ("True".into(), "InSync".into())
        );
        self.emulator.reset_calls();
        applied.status
    }
}

#[tokio::test]
async fn observe_reports_the_answer_without_giving_it_and_manage_gives_exactly_that() {
    let world = World::invited().await;
    let invited = world.observe(DesiredInvitationState::Accepted, None, "accept").await;
    assert_eq!(invited.invitation.as_ref().map(|i| i.status.as_str()), Some("INVITED"));
    assert_eq!(world.member_status(), Some(MemberStatus::Invited));

    let accepted = world
        .manage(DesiredInvitationState::Accepted, &invited, "AcceptInvitation")
        .await;
    assert_eq!(world.member_status(), Some(MemberStatus::Enabled));
    assert_eq!(condition(&accepted.sync, READY), ("True".into(), "Accepted".into()));

    // Now a member; the spec drifts to Rejected: leaving is reported, not done.
    let member = world
        .observe(DesiredInvitationState::Rejected, Some(&accepted), "disassociate")
        .await;
    assert_eq!(world.member_status(), Some(MemberStatus::Enabled));
    world
        .manage(DesiredInvitationState::Rejected, &member, "DisassociateMembership")
        .await;
    assert_eq!(world.member_status(), None, "left the graph");
    world.emulator.shutdown().await;
}
