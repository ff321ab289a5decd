//! What is the `DetectiveMembership`'s own in its reconcile: its events and
//! `deletionPolicy: Disassociate` (which an organization member cannot apply).

use k8s_openapi::jiff::Timestamp;
use kube::api::Api;
use kube::{Resource, ResourceExt};
use tracing::warn;

use super::reconciler::{Managed, ORPHAN_ANNOTATION, scheduled_by_spec};
use super::{Context, Error, events, status};
use crate::api::DetectiveMembership;
use crate::engine::{self, MembershipOutcome, MembershipTarget, Mode, SyncError};

/// `namespace/name`, for messages.
fn key(membership: &DetectiveMembership) -> String {
    format!(
        "{}/{}",
        membership.namespace().unwrap_or_default(),
        membership.name_any()
    )
}

impl Managed for DetectiveMembership {
    const KIND: &'static str = "DetectiveMembership";
    type Outcome = MembershipOutcome;

    scheduled_by_spec!();

    fn graph_arn(&self) -> Option<&str> {
        Some(&self.spec.graph_arn)
    }

    async fn sync(&self, ctx: &Context) -> MembershipOutcome {
        engine::sync(&ctx.aws, MembershipTarget::of(self), Mode::Apply, Timestamp::now()).await
    }

    async fn announce(&self, outcome: &MembershipOutcome, ctx: &Context) {
        let notices = events::membership_notices(&self.spec.graph_arn, outcome);
        if !notices.is_empty() {
            events::publish(&ctx.recorder, &self.object_ref(&()), notices).await;
        }
    }

    async fn tear_down(&self, api: &Api<Self>, ctx: &Context) -> Result<(), Error> {
        match engine::teardown(&ctx.aws, MembershipTarget::of(self)).await {
            Ok(()) => Ok(()),
            Err(error @ SyncError::Refused(_)) => {
                // Say why in status; the finalizer stays until a human decides (orphan annotation).
                let message = format!(
                    "{error}. Annotate {ORPHAN_ANNOTATION}=true to delete this resource and keep the membership"
                );
                let refused = SyncError::Refused(message);
                let outcome = engine::membership::failed(MembershipTarget::of(self), refused, Timestamp::now());
                status::apply(
                    api,
                    &self.name_any(),
                    &Self::api_version(&()),
                    &Self::kind(&()),
                    &outcome.status,
                )
                .await
                .map_err(Error::Kube)?;
                let source = outcome.error.expect("a failed outcome keeps its error");
                warn!(error = %source, "cannot disassociate");
                Err(Error::Teardown {
                    resource: key(self),
                    source,
                })
            }
            Err(source) => Err(Error::Teardown {
                resource: key(self),
                source,
            }),
        }
    }
}
