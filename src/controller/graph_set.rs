//! The `DetectiveGraphSet` controller: one child `DetectiveGraph` per declared Region.
//!
//! A reconcile reads the set's children (the `DetectiveGraph`s carrying its label, and any other
//! one with a child's name), decides ([`crate::engine::graph_set`]), writes each child that is
//! missing or differs with server-side apply under its own field manager (forced, so that an
//! edit by hand is put back), orphans or deletes the children of removed Regions, and writes the
//! rolled-up status. It makes no AWS call: the children's own reconciles do. It has no
//! finalizer: deleting the set deletes the children through the garbage collector (their owner
//! reference), and each child's `deletionPolicy` applies. The children are watched
//! ([`Controller::owns`]) so that their status changes roll up at once.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, Preconditions};
use kube::runtime::controller::{self, Action, Controller};
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher;
use kube::{Resource, ResourceExt};
use serde_json::json;
use tokio::sync::watch;
use tracing::{Instrument, info, info_span, warn};

use super::watched::Watched;
use super::watches::{Watch, WatchScope};
use super::{Context, Error, events, status};
use crate::api::conditions::Verdict;
use crate::api::constraints::DEFAULT_RESYNC_INTERVAL;
use crate::api::{DetectiveGraph, DetectiveGraphSet, DetectiveGraphSetStatus, GRAPH_SET_LABEL, SyncStatus};
use crate::engine::SHORT_REQUEUE;
use crate::engine::graph_set::{ChildAction, ChildView, decide, report};

/// The `kind` label of the metrics.
pub const KIND: &str = "DetectiveGraphSet";

/// The set is watched too, though its controller is its own (it writes graphs, not AWS).
impl Watched for DetectiveGraphSet {
    const KIND: &'static str = KIND;
}

/// The field manager of the children's fields the set declares: its own, so that the
/// children's status (written by the graph controller) and finalizer are never its.
pub const FIELD_MANAGER: &str = "detective-operator-graphset";

/// Runs the set controller until `stop`, watching the sets of `watch` and their children in
/// `scope`.
pub fn control(
    watch: Watch<DetectiveGraphSet>,
    scope: WatchScope<'_>,
    concurrency: u16,
    stop: watch::Receiver<bool>,
    ctx: Arc<Context>,
) -> impl std::future::Future<Output = ()> + Send + 'static {
    let children: Api<DetectiveGraph> = match scope.namespace {
        Some(namespace) => Api::namespaced(scope.client.clone(), namespace),
        None => Api::all(scope.client.clone()),
    };
    let mut stop = stop;
    Controller::for_stream(watch.stream, watch.store)
        .owns(
            children,
            watcher::Config::default().labels(GRAPH_SET_LABEL).any_semantic(),
        )
        .with_config(controller::Config::default().concurrency(concurrency))
        .graceful_shutdown_on(async move {
            let _ = stop.wait_for(|stopped| *stopped).await;
        })
        .run(reconcile, error_policy, ctx)
        .for_each(|result| async move {
            if let Err(error) = result {
                tracing::debug!(%error, "reconcile did not complete");
            }
        })
}

/// The backoff key of a set.
fn key(set: &DetectiveGraphSet) -> ObjectRef<kube::api::DynamicObject> {
    ObjectRef::from_obj(set).erase()
}

/// One reconcile of a set; counted once in the metrics.
pub async fn reconcile(set: Arc<DetectiveGraphSet>, ctx: Arc<Context>) -> Result<Action, Error> {
    let namespace = set.namespace().unwrap_or_default();
    let name = set.name_any();
    let span = info_span!("reconcile", kind = KIND, namespace = %namespace, name = %name);
    let mut measure = ctx.metrics.reconcile(KIND);
    if set.metadata.deletion_timestamp.is_some() {
        // The garbage collector deletes the children; nothing of the set's own to do.
        ctx.metrics.forget(KIND, &namespace, &name);
        ctx.backoff.reset(&key(&set));
        measure.discard();
        return Ok(Action::await_change());
    }
    let result = sync(&set, &ctx).instrument(span).await;
    match &result {
        Ok((_, label)) => {
            measure.set_result(label);
            ctx.backoff.reset(&key(&set));
            ctx.metrics.synced(KIND, &namespace, &name, Timestamp::now());
        }
        Err(_) => measure.set_result("error"),
    }
    result.map(|(action, _)| action)
}

/// Reads the children, applies the actions, writes the status: the requeue and the result label.
async fn sync(set: &DetectiveGraphSet, ctx: &Context) -> Result<(Action, &'static str), Error> {
    let namespace = set.namespace().unwrap_or_default();
    let sets: Api<DetectiveGraphSet> = Api::namespaced(ctx.client.clone(), &namespace);
    if let Err(errors) = set.validate() {
        // An object stored before a stricter schema: nothing is written to the children.
        let verdict = Verdict::stalled("InvalidSpec", format!("invalid spec: {errors}"));
        let previous = set.status.clone().unwrap_or_default();
        let mut sync = SyncStatus::after(
            &previous.sync,
            &verdict.states(),
            set.metadata.generation,
            Timestamp::now(),
            false,
        );
        sync.handled_request(set.annotations());
        let status = DetectiveGraphSetStatus { sync, ..previous };
        write(&sets, set, &status, ctx).await?;
        return Ok((Action::requeue(DEFAULT_RESYNC_INTERVAL), "stalled"));
    }
    let graphs: Api<DetectiveGraph> = Api::namespaced(ctx.client.clone(), &namespace);
    let observed = observe(&graphs, set).await.map_err(Error::Kube)?;
    let actions = decide(set, &observed);
    for action in &actions {
        apply(&graphs, action).await.map_err(Error::Kube)?;
    }
    let status = report(set, &observed, &actions, Timestamp::now());
    let notices = events::graph_set_notices(set.status.as_ref(), &actions);
    if !notices.is_empty() {
        events::publish(&ctx.recorder, &set.object_ref(&()), notices).await;
    }
    write(&sets, set, &status, ctx).await?;
    let conflict = status.regions.iter().any(|r| r.stalled_reason.is_some());
    let label = match (&status.sync, conflict) {
        (sync, _) if crate::api::conditions::is_true(&sync.conditions, "Ready") => "ready",
        (_, true) => "stalled",
        _ => "progressing",
    };
    // A name taken by another resource shows no event of the set's own: looked at again soon.
    // The children's changes wake the set through the watch; the resync is a safety net.
    let requeue = if conflict {
        SHORT_REQUEUE
    } else {
        DEFAULT_RESYNC_INTERVAL
    };
    Ok((Action::requeue(requeue), label))
}

/// The set's children: the graphs carrying its label (one list), and, for each declared child
/// not among them, the graph of that name if there is one (a conflict, or a child whose label
/// was removed by hand).
async fn observe(graphs: &Api<DetectiveGraph>, set: &DetectiveGraphSet) -> kube::Result<Vec<ChildView>> {
    let set_uid = set.metadata.uid.clone().unwrap_or_default();
    let selector = format!("{GRAPH_SET_LABEL}={}", set.name_any());
    let labelled = graphs.list(&ListParams::default().labels(&selector)).await?;
    let mut observed: Vec<ChildView> = labelled.items.iter().map(|g| ChildView::of(g, &set_uid)).collect();
    for region in &set.spec.regions {
        let name = set.child_name(region);
        if observed.iter().any(|c| c.name == name) {
            continue;
        }
        if let Some(graph) = graphs.get_opt(&name).await? {
            observed.push(ChildView::of(&graph, &set_uid));
        }
    }
    Ok(observed)
}

/// Carries out one action. An update names the child's uid, so that it never lands on another
/// object that took the name meanwhile; a creation follows a read that found no object of that
/// name (an apply would otherwise take over one created in between, which is a matter of
/// milliseconds).
async fn apply(graphs: &Api<DetectiveGraph>, action: &ChildAction) -> kube::Result<()> {
    let params = PatchParams::apply(FIELD_MANAGER).force();
    match action {
        ChildAction::Create { child, region } => {
            info!(%region, child = %child.name_any(), "creating the Region's child");
            graphs.patch(&child.name_any(), &params, &Patch::Apply(child)).await?;
        }
        ChildAction::Update { child, uid, region } => {
            info!(%region, child = %child.name_any(), "putting the child back as the template declares it");
            let mut child = child.clone();
            child.metadata.uid = Some(uid.clone());
            graphs.patch(&child.name_any(), &params, &Patch::Apply(&child)).await?;
        }
        ChildAction::Orphan {
            name,
            uid,
            owner_references,
            ..
        } => {
            info!(child = %name, "Region removed (regionRemoval: Retain): releasing the child");
            let patch = json!({
                "metadata": {
                    "uid": uid,
                    "labels": { GRAPH_SET_LABEL: null },
                    "ownerReferences": owner_references,
                }
            });
            graphs
                .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
                .await?;
        }
        ChildAction::Delete { name, uid, .. } => {
            info!(child = %name, "Region removed (regionRemoval: Delete): deleting the child");
            let params = DeleteParams {
                preconditions: Some(Preconditions {
                    uid: Some(uid.clone()),
                    resource_version: None,
                }),
                ..DeleteParams::default()
            };
            match graphs.delete(name, &params).await {
                Err(kube::Error::Api(status)) if status.is_not_found() => {}
                other => {
                    other?;
                }
            }
        }
        ChildAction::InSync { .. } | ChildAction::Recreate { .. } | ChildAction::Conflict { .. } => {}
    }
    Ok(())
}

/// Writes the status when it says something new; the condition series follow it.
async fn write(
    sets: &Api<DetectiveGraphSet>,
    set: &DetectiveGraphSet,
    new: &DetectiveGraphSetStatus,
    ctx: &Context,
) -> Result<(), Error> {
    if status::changed(set.status.as_ref(), new) {
        let (api_version, kind) = (DetectiveGraphSet::api_version(&()), DetectiveGraphSet::kind(&()));
        status::patch(sets, &set.name_any(), &api_version, &kind, new)
            .await
            .map_err(Error::Kube)?;
    }
    let namespace = set.namespace().unwrap_or_default();
    ctx.metrics
        .set_conditions(KIND, &namespace, &set.name_any(), &new.sync.conditions);
    Ok(())
}

/// Requeue policy for failed reconciles: exponential backoff per set.
pub fn error_policy(set: Arc<DetectiveGraphSet>, error: &Error, ctx: Arc<Context>) -> Action {
    let delay: Duration = ctx.backoff.next(&key(&set));
    warn!(%error, resource = %set.key(), retry_in = ?delay, "reconcile error");
    Action::requeue(delay)
}
