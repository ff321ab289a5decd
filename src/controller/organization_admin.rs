//! What is the `DetectiveOrganizationAdmin`'s own in its reconcile: its events and
//! `deletionPolicy: Disable`.

use k8s_openapi::jiff::Timestamp;
use kube::Resource;
use kube::api::Api;

use super::reconciler::{Managed, scheduled_by_spec};
use super::{Context, Error, events};
use crate::api::DetectiveOrganizationAdmin;
use crate::engine::{self, Mode, OrganizationAdminOutcome, OrganizationAdminTarget};

impl Managed for DetectiveOrganizationAdmin {
    const KIND: &'static str = "DetectiveOrganizationAdmin";
    type Outcome = OrganizationAdminOutcome;

    scheduled_by_spec!();

    /// The resource spans Regions and graphs: the span names none.
    fn graph_arn(&self) -> Option<&str> {
        None
    }

    async fn sync(&self, ctx: &Context) -> OrganizationAdminOutcome {
        engine::sync(
            &ctx.aws,
            OrganizationAdminTarget::of(self),
            Mode::Apply,
            Timestamp::now(),
        )
        .await
    }

    async fn announce(&self, outcome: &OrganizationAdminOutcome, ctx: &Context) {
        let notices = events::organization_admin_notices(self.status.as_ref(), outcome);
        if !notices.is_empty() {
            events::publish(&ctx.recorder, &self.object_ref(&()), notices).await;
        }
    }

    async fn tear_down(&self, _api: &Api<Self>, ctx: &Context) -> Result<(), Error> {
        engine::teardown(&ctx.aws, OrganizationAdminTarget::of(self))
            .await
            .map_err(|source| Error::Teardown {
                resource: self.key(),
                source,
            })
    }
}
