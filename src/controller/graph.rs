//! The `DetectiveGraph` reconciler: finalizer, engine, status, events, requeue.

use std::sync::Arc;
use std::time::{Duration, Instant};

use k8s_openapi::jiff::Timestamp;
use kube::api::Api;
use kube::runtime::controller::Action;
use kube::runtime::finalizer::{Event as FinalizerEvent, finalizer};
use kube::{Resource, ResourceExt};
use tracing::{Instrument, field, info, info_span, warn};

use super::claims::{Claimant, other_owner};
use super::{Context, Error, events, finalizer as cleanup, status};
use crate::api::{DetectiveGraph, DetectiveGraphStatus};
use crate::aws::RoleToAssume;
use crate::engine::{self, Mode, Target};
use crate::member::MemberStatus;

/// The finalizer that lets the operator apply `deletionPolicy` before the resource goes.
pub const FINALIZER: &str = "detective.operator.dev/cleanup";

/// Reconciles one `DetectiveGraph`.
pub async fn reconcile(graph: Arc<DetectiveGraph>, ctx: Arc<Context>) -> Result<Action, Error> {
    let namespace = graph.namespace().unwrap_or_default();
    let name = graph.name_any();
    let span = info_span!(
        "reconcile",
        kind = "DetectiveGraph",
        namespace = %namespace,
        name = %name,
        graph = field::Empty
    );
    if let Some(arn) = graph.status.as_ref().and_then(|s| s.graph_arn.as_deref()) {
        span.record("graph", arn);
    }
    let api: Api<DetectiveGraph> = Api::namespaced(ctx.client.clone(), &namespace);
    let started = Instant::now();
    let result = finalizer(&api, FINALIZER, graph, |event| async {
        match event {
            FinalizerEvent::Apply(graph) => apply(&api, graph, &ctx).await,
            FinalizerEvent::Cleanup(graph) => cleanup::cleanup(graph, &ctx).await,
        }
    })
    .instrument(span)
    .await
    .map_err(|e| Error::Finalizer(Box::new(e)));
    if result.is_err() {
        ctx.metrics
            .observe_reconcile("DetectiveGraph", "error", started.elapsed());
    }
    result
}

async fn apply(api: &Api<DetectiveGraph>, graph: Arc<DetectiveGraph>, ctx: &Context) -> Result<Action, Error> {
    let started = Instant::now();
    let key = graph.key();
    if graph.spec.suspend {
        info!("suspended: no AWS call until spec.suspend is false");
        ctx.metrics
            .observe_reconcile("DetectiveGraph", "suspended", started.elapsed());
        return Ok(Action::await_change());
    }
    let claimants = claimants(ctx);
    let claimed_by = |graph_arn: &str| other_owner(graph_arn, &key, &claimants);
    let target = Target {
        spec: &graph.spec,
        previous: graph.status.as_ref(),
        generation: graph.metadata.generation,
        claimed_by: Some(&claimed_by),
    };
    let now = Timestamp::now();
    let outcome = match ctx
        .aws
        .detective(
            graph.spec.region.as_deref(),
            RoleToAssume::declared(graph.spec.assume_role_arn.as_ref(), graph.spec.external_id.as_ref()).as_ref(),
        )
        .await
    {
        Ok(detective) => engine::reconcile(&detective, &*ctx.aws, target, Mode::Apply, now, &mut |_| {}).await,
        Err(error) => engine::failed(target, error.into(), now),
    };
    if let Some(arn) = &outcome.status.graph_arn {
        tracing::Span::current().record("graph", arn.as_str());
    }

    if status::changed(graph.status.as_ref(), &outcome.status) {
        status::apply(
            api,
            &graph.name_any(),
            &DetectiveGraph::api_version(&()),
            &DetectiveGraph::kind(&()),
            &outcome.status,
        )
        .await
        .map_err(Error::Kube)?;
    }
    let notices = events::notices(graph.status.as_ref(), &outcome);
    if !notices.is_empty() {
        events::publish(&ctx.recorder, &graph.object_ref(&()), notices).await;
    }
    record_metrics(ctx, &graph, &outcome.status);
    if outcome.plan.as_ref().is_some_and(|p| p.refusal.is_some()) {
        ctx.metrics
            .deletion_guard_trips
            .get_or_create(&crate::metrics::ResourceLabels {
                namespace: graph.namespace().unwrap_or_default(),
                name: graph.name_any(),
            })
            .inc();
    }

    let result = super::result_label(outcome.is_ready(), outcome.is_stalled(), outcome.error.is_some());
    ctx.metrics
        .observe_reconcile("DetectiveGraph", result, started.elapsed());
    match &outcome.error {
        Some(error) if error.is_retryable() => {
            warn!(%error, "reconcile failed; retrying with backoff");
            Err(Error::Retryable(error.to_string()))
        }
        Some(error) => {
            // Terminal: Stalled is in the status; a spec change (or the resync) tries again.
            warn!(%error, "reconcile stalled");
            ctx.backoff.reset(&key);
            Ok(Action::requeue(resync_interval(&graph)))
        }
        None => {
            ctx.backoff.reset(&key);
            Ok(Action::requeue(outcome.requeue_after))
        }
    }
}

fn resync_interval(graph: &DetectiveGraph) -> Duration {
    crate::api::validation::parse_duration(&graph.spec.resync_interval).unwrap_or(Duration::from_secs(300))
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

fn record_metrics(ctx: &Context, graph: &DetectiveGraph, status: &DetectiveGraphStatus) {
    let Some(summary) = &status.summary else {
        return;
    };
    let counts = [
        (MemberStatus::Enabled.as_str(), summary.enabled),
        (MemberStatus::Invited.as_str(), summary.invited),
        (
            MemberStatus::VerificationInProgress.as_str(),
            summary.verification_in_progress,
        ),
        (MemberStatus::VerificationFailed.as_str(), summary.verification_failed),
        (
            MemberStatus::AcceptedButDisabled.as_str(),
            summary.accepted_but_disabled,
        ),
    ];
    let counts: Vec<(&str, i64)> = counts.iter().map(|(s, n)| (*s, i64::from(*n))).collect();
    ctx.metrics
        .set_members(&graph.namespace().unwrap_or_default(), &graph.name_any(), &counts);
}

/// Requeue policy for failed reconciles: exponential backoff per resource.
pub fn error_policy(graph: Arc<DetectiveGraph>, error: &Error, ctx: Arc<Context>) -> Action {
    let delay = ctx.backoff.next(&graph.key());
    warn!(%error, resource = %graph.key(), retry_in = ?delay, "reconcile error");
    Action::requeue(delay)
}
