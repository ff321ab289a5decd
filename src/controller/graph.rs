//! What is the `DetectiveGraph`'s own in its reconcile: the claim check (one owner per behavior
//! graph), its events, and its member and deletion-guard metrics (`deletionPolicy: Delete` is the
//! engine's).

use k8s_openapi::jiff::Timestamp;
use kube::{Resource, ResourceExt};

use super::claims::{Claimant, other_owner};
use super::reconciler::{Managed, scheduled_by_spec};
use super::{Context, events};
use crate::api::{DetectiveGraph, DetectiveGraphStatus};
use crate::engine::{self, GraphOutcome, GraphTarget, Mode, Pipeline};
use crate::member::MemberStatus;

impl Managed for DetectiveGraph {
    const KIND: &'static str = "DetectiveGraph";
    type Outcome = GraphOutcome;

    scheduled_by_spec!();

    fn graph_arn(&self) -> Option<&str> {
        self.status.as_ref().and_then(|s| s.graph_arn.as_deref())
    }

    fn target(&self) -> impl Pipeline<Outcome = GraphOutcome> + '_ {
        GraphTarget::of(self)
    }

    /// With the claim check: one owner per behavior graph.
    async fn sync(&self, ctx: &Context) -> GraphOutcome {
        let key = self.key();
        let claimants = claimants(ctx);
        let claimed_by = |graph_arn: &str| other_owner(graph_arn, &key, &claimants);
        let target = GraphTarget::of(self)
            .with_claim_check(&claimed_by)
            .with_shared_listings(&ctx.shared_listings);
        engine::sync(&ctx.aws, target, Mode::Apply, Timestamp::now()).await
    }

    async fn announce(&self, outcome: &GraphOutcome, ctx: &Context) {
        let notices = events::notices(self.status.as_ref(), outcome);
        if !notices.is_empty() {
            events::publish(&ctx.recorder, &self.object_ref(&()), notices).await;
        }
        let namespace = self.namespace().unwrap_or_default();
        let name = self.name_any();
        if let Some(counts) = member_counts(&outcome.status) {
            let counts: Vec<(&str, i64)> = counts.iter().map(|(s, n)| (s.as_str(), i64::from(*n))).collect();
            ctx.metrics.set_members(&namespace, &name, &counts);
        }
        if outcome.plan.as_ref().is_some_and(|p| p.refusal.is_some()) {
            ctx.metrics.deletion_guard_tripped(&namespace, &name);
        }
    }
}

/// Every resource's claim on graphs, from the watch cache.
fn claimants(ctx: &Context) -> Vec<Claimant> {
    ctx.graphs
        .state()
        .iter()
        .map(|g| Claimant {
            key: g.key(),
            recorded: g.status.as_ref().and_then(|s| s.graph_arn.clone()),
            declared: g.spec.graph_arn.clone(),
            created: g.metadata.creation_timestamp.as_ref().map(|t| t.0),
            deleting: g.metadata.deletion_timestamp.is_some(),
        })
        .collect()
}

/// The `graph_members` gauges of a status, once members were read.
fn member_counts(status: &DetectiveGraphStatus) -> Option<[(MemberStatus, i32); 5]> {
    let summary = status.summary.as_ref()?;
    Some([
        (MemberStatus::Enabled, summary.enabled),
        (MemberStatus::Invited, summary.invited),
        (MemberStatus::VerificationInProgress, summary.verification_in_progress),
        (MemberStatus::VerificationFailed, summary.verification_failed),
        (MemberStatus::AcceptedButDisabled, summary.accepted_but_disabled),
    ])
}
