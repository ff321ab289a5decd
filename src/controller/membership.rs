//! What is the `DetectiveMembership`'s own in its reconcile: its events, and what it tells when
//! `deletionPolicy: Disassociate` cannot be applied (an organization member cannot leave).

use k8s_openapi::jiff::Timestamp;
use kube::Resource;
use kube::api::Api;
use tracing::warn;

use super::reconciler::{Managed, ORPHAN_ANNOTATION, scheduled_by_spec, write_status};
use super::{Context, Error, events};
use crate::api::DetectiveMembership;
use crate::engine::{MembershipOutcome, MembershipTarget, Pipeline, SyncError};

impl Managed for DetectiveMembership {
    const KIND: &'static str = "DetectiveMembership";
    type Outcome = MembershipOutcome;

    scheduled_by_spec!();

    fn graph_arn(&self) -> Option<&str> {
        Some(&self.spec.graph_arn)
    }

    fn target(&self) -> impl Pipeline<Outcome = MembershipOutcome> + '_ {
        MembershipTarget::of(self)
    }

    async fn announce(&self, outcome: &MembershipOutcome, ctx: &Context) {
        let notices = events::membership_notices(self.status.as_ref(), &self.spec.graph_arn, outcome);
        if !notices.is_empty() {
            events::publish(&ctx.recorder, &self.object_ref(&()), notices).await;
        }
    }

    /// A membership that cannot leave (an organization member) says why in status; the finalizer
    /// stays until a human decides (the orphan annotation).
    async fn teardown_failed(&self, api: &Api<Self>, error: SyncError) -> Result<SyncError, Error> {
        let SyncError::Refused(_) = error else {
            return Ok(error);
        };
        let message =
            format!("{error}. Annotate {ORPHAN_ANNOTATION}=true to delete this resource and keep the membership");
        let outcome = self.target().failed(SyncError::Refused(message), Timestamp::now());
        write_status(api, self, &outcome.status).await.map_err(Error::Kube)?;
        let refused = outcome.error.expect("a failed outcome keeps its error");
        warn!(error = %refused, "cannot disassociate");
        Ok(refused)
    }
}
