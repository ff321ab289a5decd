//! What is the `DetectiveOrganizationAdmin`'s own in its reconcile: its events and
//! `deletionPolicy: Disable`.

use std::time::Duration;

use k8s_openapi::jiff::Timestamp;
use kube::Resource;
use kube::api::Api;

use super::reconciler::Managed;
use super::{Context, Error, events};
use crate::api::{DetectiveOrganizationAdmin, DetectiveOrganizationAdminStatus};
use crate::engine::{self, Mode, OrganizationAdminOutcome, OrganizationAdminTarget};

impl Managed for DetectiveOrganizationAdmin {
    const KIND: &'static str = "DetectiveOrganizationAdmin";
    type Outcome = OrganizationAdminOutcome;

    fn suspended(&self) -> bool {
        self.spec.suspend
    }

    fn current_status(&self) -> Option<&DetectiveOrganizationAdminStatus> {
        self.status.as_ref()
    }

    fn replace_status(&mut self, status: DetectiveOrganizationAdminStatus) {
        self.status = Some(status);
    }

    fn resync_interval(&self) -> Duration {
        self.spec.resync_interval()
    }

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
