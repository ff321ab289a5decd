//! The `DetectiveMembership` reconciler: finalizer, engine, status, events, requeue.

use std::sync::Arc;
use std::time::Instant;

use k8s_openapi::jiff::Timestamp;
use kube::api::Api;
use kube::runtime::controller::Action;
use kube::runtime::finalizer::{Event as FinalizerEvent, finalizer};
use kube::{Resource, ResourceExt};
use tracing::{Instrument, info, info_span, warn};

use super::events::{Notice, publish};
use super::finalizer::ORPHAN_ANNOTATION;
use super::graph::FINALIZER;
use super::{Context, Error, status};
use crate::api::{DetectiveMembership, MembershipDeletionPolicy};
use crate::aws::RoleToAssume;
use crate::engine::membership::{self as engine, MembershipTarget};
use crate::engine::{Mode, SyncError};

/// `namespace/name`, for logs, backoff and messages.
fn key(membership: &DetectiveMembership) -> String {
    format!(
        "{}/{}",
        membership.namespace().unwrap_or_default(),
        membership.name_any()
    )
}

/// The Region of the membership: declared, or the graph ARN's.
fn region(membership: &DetectiveMembership) -> Option<String> {
    membership
        .spec
        .region
        .clone()
        .or_else(|| membership.spec.graph_arn.split(':').nth(3).map(str::to_owned))
}

/// Reconciles one `DetectiveMembership`.
pub async fn reconcile(membership: Arc<DetectiveMembership>, ctx: Arc<Context>) -> Result<Action, Error> {
    let namespace = membership.namespace().unwrap_or_default();
    let span = info_span!(
        "reconcile",
        kind = "DetectiveMembership",
        namespace = %namespace,
        name = %membership.name_any(),
        graph = %membership.spec.graph_arn
    );
    let api: Api<DetectiveMembership> = Api::namespaced(ctx.client.clone(), &namespace);
    finalizer(&api, FINALIZER, membership, |event| async {
        match event {
            FinalizerEvent::Apply(membership) => apply(&api, membership, &ctx).await,
            FinalizerEvent::Cleanup(membership) => cleanup(&api, membership, &ctx).await,
        }
    })
    .instrument(span)
    .await
    .map_err(|e| Error::Finalizer(Box::new(e)))
}

async fn apply(
    api: &Api<DetectiveMembership>,
    membership: Arc<DetectiveMembership>,
    ctx: &Context,
) -> Result<Action, Error> {
    let started = Instant::now();
    if membership.spec.suspend {
        info!("suspended: no AWS call until spec.suspend is false");
        ctx.metrics
            .observe_reconcile("DetectiveMembership", "suspended", started.elapsed());
        return Ok(Action::await_change());
    }
    let target = MembershipTarget {
        spec: &membership.spec,
        previous: membership.status.as_ref(),
        generation: membership.metadata.generation,
    };
    let now = Timestamp::now();
    let outcome = match ctx
        .aws
        .detective(
            region(&membership).as_deref(),
            RoleToAssume::declared(
                membership.spec.assume_role_arn.as_ref(),
                membership.spec.external_id.as_ref(),
            )
            .as_ref(),
        )
        .await
    {
        Ok(detective) => engine::reconcile(&detective, target, Mode::Apply, now).await,
        Err(error) => engine::failed(target, error.into(), now),
    };
    if status::changed(membership.status.as_ref(), &outcome.status) {
        write_status(api, &membership, &outcome.status).await?;
    }
    let mut notices = Vec::new();
    if let Some(operation) = outcome.applied {
        notices.push(Notice {
            warning: false,
            reason: operation,
            action: operation,
            note: format!("{operation} for {}", membership.spec.graph_arn),
        });
    }
    if let Some(error) = outcome.error.as_ref().filter(|e| !e.is_retryable()) {
        notices.push(Notice {
            warning: true,
            reason: error.reason(),
            action: "Reconcile",
            note: error.to_string(),
        });
    }
    if !notices.is_empty() {
        publish(&ctx.recorder, &membership.object_ref(&()), notices).await;
    }
    let result = super::result_label(outcome.is_ready(), outcome.is_stalled(), outcome.error.is_some());
    ctx.metrics
        .observe_reconcile("DetectiveMembership", result, started.elapsed());
    match &outcome.error {
        Some(error) if error.is_retryable() => Err(Error::Retryable(error.to_string())),
        _ => {
            ctx.backoff.reset(&key(&membership));
            Ok(Action::requeue(outcome.requeue_after))
        }
    }
}

/// `deletionPolicy: Disassociate` leaves the graph; `Retain` (or the orphan annotation) leaves it be.
async fn cleanup(
    api: &Api<DetectiveMembership>,
    membership: Arc<DetectiveMembership>,
    ctx: &Context,
) -> Result<Action, Error> {
    let orphaned = membership
        .annotations()
        .get(ORPHAN_ANNOTATION)
        .is_some_and(|v| v == "true");
    if orphaned || membership.spec.deletion_policy == MembershipDeletionPolicy::Retain {
        info!("releasing without touching the membership");
        return Ok(Action::await_change());
    }
    let detective = ctx
        .aws
        .detective(
            region(&membership).as_deref(),
            RoleToAssume::declared(
                membership.spec.assume_role_arn.as_ref(),
                membership.spec.external_id.as_ref(),
            )
            .as_ref(),
        )
        .await
        .map_err(|e| Error::Retryable(e.to_string()))?;
    match engine::leave(&detective, &membership.spec).await {
        Ok(left) => {
            info!(left, "deletionPolicy Disassociate applied");
            Ok(Action::await_change())
        }
        Err(error @ SyncError::Refused(_)) => {
            // Say why in status; the finalizer stays until a human decides (orphan annotation).
            let target = MembershipTarget {
                spec: &membership.spec,
                previous: membership.status.as_ref(),
                generation: membership.metadata.generation,
            };
            let message =
                format!("{error}. Annotate {ORPHAN_ANNOTATION}=true to delete this resource and keep the membership");
            let outcome = engine::failed(target, SyncError::Refused(message.clone()), Timestamp::now());
            write_status(api, &membership, &outcome.status).await?;
            warn!(%message, "cannot disassociate");
            Err(Error::Retryable(message))
        }
        Err(error) => Err(Error::Retryable(error.to_string())),
    }
}

async fn write_status(
    api: &Api<DetectiveMembership>,
    membership: &DetectiveMembership,
    new: &crate::api::DetectiveMembershipStatus,
) -> Result<(), Error> {
    status::apply(
        api,
        &membership.name_any(),
        &DetectiveMembership::api_version(&()),
        &DetectiveMembership::kind(&()),
        new,
    )
    .await
    .map_err(Error::Kube)
}

/// Requeue policy for failed reconciles: exponential backoff per resource.
pub fn error_policy(membership: Arc<DetectiveMembership>, error: &Error, ctx: Arc<Context>) -> Action {
    let delay = ctx.backoff.next(&key(&membership));
    warn!(%error, resource = %key(&membership), retry_in = ?delay, "reconcile error");
    Action::requeue(delay)
}
