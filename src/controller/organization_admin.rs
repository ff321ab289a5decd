//! What is the `DetectiveOrganizationAdmin`'s own in its reconcile: its events
//! (`deletionPolicy: Disable` is the engine's).

use kube::Resource;

use super::reconciler::{Managed, scheduled_by_spec};
use super::{Context, events};
use crate::api::DetectiveOrganizationAdmin;
use crate::engine::{OrganizationAdminOutcome, OrganizationAdminTarget, Pipeline};

impl Managed for DetectiveOrganizationAdmin {
    const KIND: &'static str = "DetectiveOrganizationAdmin";
    type Outcome = OrganizationAdminOutcome;

    scheduled_by_spec!();

    /// The resource spans Regions and graphs: the span names none.
    fn graph_arn(&self) -> Option<&str> {
        None
    }

    fn target(&self) -> impl Pipeline<Outcome = OrganizationAdminOutcome> + '_ {
        OrganizationAdminTarget::of(self)
    }

    async fn announce(&self, outcome: &OrganizationAdminOutcome, ctx: &Context) {
        let notices = events::organization_admin_notices(self.status.as_ref(), outcome);
        if !notices.is_empty() {
            events::publish(&ctx.recorder, &self.object_ref(&()), notices).await;
        }
    }
}
