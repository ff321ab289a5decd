//! What the reconcilers share, written once: the finalizer, the suspend check, the status
//! write, the metrics of a reconcile, the backoff and the error policy. A kind says what is its
//! own through [`Managed`] (`graph.rs`, `membership.rs`, `organization_admin.rs`).
//!
//! Deletion: the finalizer stays until the kind's deletion policy is applied in AWS
//! ([`crate::engine::teardown`]); when AWS cannot be reached it is retried with backoff. The
//! annotation `detective.operator.dev/orphan: "true"` skips the AWS side so that a namespace can
//! always be deleted.

use std::fmt::Debug;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::jiff::Timestamp;
use kube::api::Api;
use kube::core::object::HasStatus;
use kube::runtime::controller::Action;
use kube::runtime::finalizer::{Event as FinalizerEvent, finalizer};
use kube::runtime::reflector::ObjectRef;
use kube::{Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tracing::{Instrument, field, info, info_span, warn};

use super::{Context, Error, status};
use crate::api::key_of;
use crate::engine::{self, Mode, Pipeline, Reported, SyncError};

/// The finalizer that lets the operator apply `deletionPolicy` before the resource goes.
pub const FINALIZER: &str = "detective.operator.dev/cleanup";

/// The annotation that releases a resource without touching AWS.
pub const ORPHAN_ANNOTATION: &str = "detective.operator.dev/orphan";

pub use crate::api::RECONCILE_REQUESTED_AT;

/// A resource kind the operator reconciles: what is its own.
pub trait Managed:
    Resource<DynamicType = (), Scope = NamespaceResourceScope>
    + Clone
    + DeserializeOwned
    + Serialize
    + Debug
    + Send
    + Sync
    + HasStatus<Status: Serialize + DeserializeOwned + Send + Sync>
    + 'static
{
    /// The `kind` label of the metrics.
    const KIND: &'static str;
    type Outcome: Reported<Status = Self::Status> + Send;

    fn suspended(&self) -> bool;
    /// When to look again after a failure that needs a human.
    fn resync_interval(&self) -> Duration;
    /// The behavior graph the resource is about, when known (for the span).
    fn graph_arn(&self) -> Option<&str>;
    /// The resource as the engine reads it, outside of what the controller adds.
    fn target(&self) -> impl Pipeline<Outcome = Self::Outcome> + '_;

    /// One engine run.
    fn sync(&self, ctx: &Context) -> impl Future<Output = Self::Outcome> + Send {
        engine::sync(&ctx.aws, self.target(), Mode::Apply, Timestamp::now())
    }

    /// Events and the kind's own metrics after a run.
    fn announce(&self, outcome: &Self::Outcome, ctx: &Context) -> impl Future<Output = ()> + Send;

    /// What a failed teardown tells besides the error it returns (the one retried with
    /// backoff); by default nothing.
    fn teardown_failed(
        &self,
        _api: &Api<Self>,
        error: SyncError,
    ) -> impl Future<Output = Result<SyncError, Error>> + Send {
        std::future::ready(Ok(error))
    }
}

/// [`Managed::suspended`] and [`Managed::resync_interval`] from the spec's `suspend` and
/// `resync_interval()`, which both kinds' specs have (the CRD derive gives them no common trait).
macro_rules! scheduled_by_spec {
    () => {
        fn suspended(&self) -> bool {
            self.spec.suspend
        }

        fn resync_interval(&self) -> std::time::Duration {
            self.spec.resync_interval()
        }
    };
}
pub(super) use scheduled_by_spec;

/// The backoff key of a resource.
fn key<K: Managed>(resource: &K) -> ObjectRef<kube::api::DynamicObject> {
    ObjectRef::from_obj(resource).erase()
}

/// Reconciles one resource: finalizer, then sync or teardown. Counted once in the metrics.
pub async fn reconcile<K: Managed>(resource: Arc<K>, ctx: Arc<Context>) -> Result<Action, Error> {
    let namespace = resource.namespace().unwrap_or_default();
    let span = info_span!(
        "reconcile",
        kind = K::KIND,
        namespace = %namespace,
        name = %resource.name_any(),
        graph = field::Empty
    );
    if let Some(arn) = resource.graph_arn() {
        span.record("graph", arn);
    }
    // A status computed by an earlier reconcile whose write failed is where this one starts.
    let unwritten = ctx.unwritten.take_over(&key(&*resource), resource.status());
    let restored = unwritten.is_some();
    let resource = match unwritten {
        Some(status) => {
            let mut resource = K::clone(&resource);
            *resource.status_mut() = Some(status);
            Arc::new(resource)
        }
        None => resource,
    };
    let mut measure = ctx.metrics.reconcile(K::KIND);
    // Set by whichever branch the finalizer takes; none when it only added itself.
    let result: Mutex<Option<&'static str>> = Mutex::new(None);
    let api: Api<K> = Api::namespaced(ctx.client.clone(), &namespace);
    let reconciled = finalizer(&api, FINALIZER, resource, |event| async {
        let (action, label) = match event {
            FinalizerEvent::Apply(resource) => sync_once(&api, &resource, restored, &ctx).await?,
            FinalizerEvent::Cleanup(resource) => (cleanup(&api, &resource, &ctx).await?, "deleted"),
        };
        *result.lock().expect("result lock") = Some(label);
        Ok(action)
    })
    .instrument(span)
    .await
    .map_err(|e| Error::Finalizer(Box::new(e)));
    match (&reconciled, result.into_inner().expect("result lock")) {
        (Err(_), _) => measure.set_result("error"),
        (Ok(_), Some(label)) => measure.set_result(label),
        // Only the finalizer was added: no AWS call, nothing to count.
        (Ok(_), None) => measure.discard(),
    }
    reconciled
}

/// The `result` label of the reconcile metrics.
fn result_label(outcome: &impl Reported) -> &'static str {
    match (outcome.is_ready(), outcome.is_stalled(), outcome.error().is_some()) {
        (true, _, _) => "ready",
        (_, true, _) => "stalled",
        (_, _, true) => "error",
        _ => "progressing",
    }
}

/// One sync; `restored` says the resource carries a status that is not written yet.
async fn sync_once<K: Managed>(
    api: &Api<K>,
    resource: &K,
    restored: bool,
    ctx: &Context,
) -> Result<(Action, &'static str), Error> {
    if resource.suspended() {
        info!("suspended: no AWS call until spec.suspend is false");
        return Ok((Action::await_change(), "suspended"));
    }
    let mut outcome = resource.sync(ctx).await;
    if let Some(requested_at) = resource.annotations().get(RECONCILE_REQUESTED_AT) {
        outcome.handled_request(requested_at);
    }
    if let Some(arn) = outcome.graph_arn() {
        tracing::Span::current().record("graph", arn);
    }
    let written = if restored || status::changed(resource.status(), outcome.status()) {
        write_status(api, resource, outcome.status()).await
    } else {
        Ok(())
    };
    match &written {
        Ok(()) => ctx.unwritten.forget(&key(resource)),
        // Kept for the next reconcile, which starts from it and writes it.
        Err(_) => ctx.unwritten.keep(&key(resource), resource.status(), outcome.status()),
    }
    // The AWS writes happened whether or not the status could be written: told once, now.
    resource.announce(&outcome, ctx).await;
    let namespace = resource.namespace().unwrap_or_default();
    let name = resource.name_any();
    ctx.metrics
        .set_conditions(K::KIND, &namespace, &name, outcome.conditions());
    written.map_err(Error::Kube)?;
    let label = result_label(&outcome);
    match outcome.take_error() {
        Some(error) if error.is_retryable() => {
            warn!(%error, "reconcile failed; retrying with backoff");
            Err(Error::Sync(error))
        }
        Some(error) => {
            // Terminal: Stalled is in the status; a spec change (or the resync) tries again.
            warn!(%error, "reconcile stalled");
            ctx.backoff.reset(&key(resource));
            Ok((Action::requeue(resource.resync_interval()), label))
        }
        None => {
            ctx.metrics.synced(K::KIND, &namespace, &name, Timestamp::now());
            ctx.backoff.reset(&key(resource));
            Ok((Action::requeue(outcome.requeue_after()), label))
        }
    }
}

/// Writes `status` as the resource's status subresource.
pub(super) async fn write_status<K: Managed>(api: &Api<K>, resource: &K, status: &K::Status) -> kube::Result<()> {
    status::patch(api, &resource.name_any(), &K::api_version(&()), &K::kind(&()), status).await
}

/// Whether the orphan annotation releases the resource without touching AWS.
pub fn orphaned<K: Resource>(resource: &K) -> bool {
    resource
        .annotations()
        .get(ORPHAN_ANNOTATION)
        .is_some_and(|v| v == "true")
}

/// Applies the deletion policy (unless orphaned); `Ok` lets the finalizer go, with the
/// resource's metric series.
async fn cleanup<K: Managed>(api: &Api<K>, resource: &K, ctx: &Context) -> Result<Action, Error> {
    if orphaned(resource) {
        info!("orphan annotation set: releasing without touching AWS");
    } else {
        tear_down(api, resource, ctx).await?;
    }
    ctx.metrics
        .forget(K::KIND, &resource.namespace().unwrap_or_default(), &resource.name_any());
    ctx.backoff.reset(&key(resource));
    ctx.unwritten.forget(&key(resource));
    Ok(Action::await_change())
}

/// Applies the resource's deletion policy in AWS; on failure the finalizer stays.
async fn tear_down<K: Managed>(api: &Api<K>, resource: &K, ctx: &Context) -> Result<(), Error> {
    let Err(error) = engine::teardown(&ctx.aws, resource.target()).await else {
        return Ok(());
    };
    let source = resource.teardown_failed(api, error).await?;
    Err(Error::Teardown {
        resource: key_of(resource.meta()),
        source,
    })
}

/// Requeue policy for failed reconciles: exponential backoff per resource.
pub fn error_policy<K: Managed>(resource: Arc<K>, error: &Error, ctx: Arc<Context>) -> Action {
    let key = key(&*resource);
    let delay = ctx.backoff.next(&key);
    warn!(%error, resource = %key, retry_in = ?delay, "reconcile error");
    Action::requeue(delay)
}
