//! `detective-operator run`: the controller that keeps every `DetectiveGraph`,
//! `DetectiveMembership` and `DetectiveOrganizationAdmin` true.
//!
//! - [`reconciler`]: one reconcile, shared by every kind (finalizer → engine → status → events →
//!   metrics → requeue; teardown on deletion); [`graph`], [`membership`], [`organization_admin`]:
//!   what each kind adds;
//! - [`status`]: where status is written; [`events`]: which events are published;
//! - [`claims`]: one owner per behavior graph;
//! - [`leader`]: the Lease that lets one replica reconcile; [`backoff`]: retry pacing.

pub mod backoff;
pub mod claims;
pub mod events;
pub mod graph;
pub mod leader;
pub mod membership;
pub mod organization_admin;
pub mod reconciler;
pub mod status;

pub use reconciler::{FINALIZER, ORPHAN_ANNOTATION, error_policy, reconcile};

use std::hash::{DefaultHasher, Hash, Hasher};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use clap::{ArgAction, Args};
use futures::StreamExt;
use kube::api::Api;
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::runtime::controller::{self, Controller};
use kube::runtime::events::{Recorder, Reporter};
use kube::runtime::reflector::{self, Store};
use kube::runtime::{Predicate, WatchStreamExt, predicates, watcher};
use kube::{Client, ResourceExt};
use tokio::sync::watch;
use tracing::{info, warn};

use crate::admin::{self, Readiness};
use crate::api::{DetectiveGraph, DetectiveMembership, DetectiveOrganizationAdmin};
use crate::aws::{AwsAccess, AwsSettings};
use crate::engine::SyncError;
use crate::metrics::Metrics;
use reconciler::Managed;

/// `detective-operator run` flags.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Kubeconfig file (default: KUBECONFIG, ~/.kube/config, or the in-cluster service account).
    #[arg(long)]
    pub kubeconfig: Option<PathBuf>,

    /// Watch only this namespace (default: all namespaces).
    #[arg(long, env = "WATCH_NAMESPACE")]
    pub namespace: Option<String>,

    /// Address of the admin server (/healthz, /readyz, /metrics).
    #[arg(long, default_value = "0.0.0.0:8080", env = "ADMIN_ADDRESS")]
    pub admin_address: SocketAddr,

    /// Elect a leader over a Lease so that only one replica reconciles.
    #[arg(long, default_value_t = true, action = ArgAction::Set, env = "LEADER_ELECT")]
    pub leader_elect: bool,

    /// Name of the Lease used for leader election.
    #[arg(long, default_value = "detective-operator")]
    pub lease_name: String,

    /// Namespace of the Lease (default: POD_NAMESPACE, else the kubeconfig's namespace).
    #[arg(long, env = "POD_NAMESPACE")]
    pub lease_namespace: Option<String>,

    /// This replica's identity in the election (default: POD_NAME or the host name, plus a suffix).
    #[arg(long, env = "POD_NAME")]
    pub identity: Option<String>,

    /// Resources reconciled at the same time.
    #[arg(long, default_value_t = 4)]
    pub concurrency: u16,

    /// The default AWS Region for resources that name none (overrides AWS_REGION).
    #[arg(long)]
    pub region: Option<String>,

    /// Send Detective calls to this URL (AWS_ENDPOINT_URL_DETECTIVE works too).
    #[arg(long)]
    pub endpoint_url: Option<String>,
}

/// Why a reconcile failed (the reconcile's own outcome is in the resource's status).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("Kubernetes API: {0}")]
    Kube(#[source] kube::Error),
    #[error("finalizer: {0}")]
    Finalizer(#[source] Box<kube::runtime::finalizer::Error<Error>>),
    /// A failure that trying again (with backoff) can overcome: throttling, AWS unavailable.
    #[error("{0}")]
    Sync(#[source] SyncError),
    /// The deletion policy could not be applied; the finalizer stays.
    #[error("teardown of {resource}: {source}")]
    Teardown {
        resource: String,
        #[source]
        source: SyncError,
    },
}

/// What every reconcile shares.
pub struct Context {
    pub client: Client,
    pub aws: Arc<AwsAccess>,
    pub recorder: Recorder,
    /// The watch cache of every `DetectiveGraph` (for the graph-claim check).
    pub graphs: Store<DetectiveGraph>,
    pub backoff: backoff::Backoff,
    pub metrics: Arc<Metrics>,
    /// Statuses computed but not written yet (the write failed).
    pub unwritten: status::Unwritten,
}

/// Why the operator could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("--kubeconfig {}: {source}", path.display())]
    Kubeconfig {
        path: PathBuf,
        #[source]
        source: kube::config::KubeconfigError,
    },
    #[error("no Kubernetes configuration found: {0}")]
    NoConfig(#[source] kube::config::InferConfigError),
    #[error("Kubernetes client: {0}")]
    Client(#[source] kube::Error),
    #[error("admin server on {address}: {source}")]
    Admin {
        address: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Election(#[from] leader::ElectionError),
}

async fn client(kubeconfig: Option<&PathBuf>) -> Result<Client, StartError> {
    let config = match kubeconfig {
        Some(path) => {
            let kubeconfig_error = |source| StartError::Kubeconfig {
                path: path.clone(),
                source,
            };
            let file = Kubeconfig::read_from(path).map_err(kubeconfig_error)?;
            kube::Config::from_custom_kubeconfig(file, &KubeConfigOptions::default())
                .await
                .map_err(kubeconfig_error)?
        }
        None => kube::Config::infer().await.map_err(StartError::NoConfig)?,
    };
    Client::try_from(config).map_err(StartError::Client)
}

/// Runs the operator until SIGTERM/SIGINT.
pub async fn run(args: RunArgs) -> Result<(), StartError> {
    let client = client(args.kubeconfig.as_ref()).await?;
    let metrics = Arc::new(Metrics::new());
    let aws = AwsAccess::load(&AwsSettings {
        region: args.region.clone(),
        endpoint_url: args.endpoint_url.clone(),
        max_attempts: None,
    })
    .await
    .with_metrics(metrics.clone());

    let readiness = Readiness::default();
    let (address, serve) = admin::bind(args.admin_address, readiness.clone(), metrics.clone())
        .await
        .map_err(|source| StartError::Admin {
            address: args.admin_address,
            source,
        })?;
    info!(%address, "admin server listening");
    tokio::spawn(async move {
        if let Err(error) = serve.await {
            warn!(%error, "admin server stopped");
        }
    });

    let (terminate_tx, terminate) = watch::channel(false);
    tokio::spawn(async move {
        shutdown_signal().await;
        info!("termination signal: finishing in-flight reconciles");
        let _ = terminate_tx.send(true);
    });

    let context = SharedParts {
        client: client.clone(),
        aws: Arc::new(aws),
        metrics,
        namespace: args.namespace.clone(),
        concurrency: args.concurrency,
    };
    if !args.leader_elect {
        readiness.set(false);
        run_controller(&context, readiness, stopped(terminate.clone())).await;
        return Ok(());
    }

    let namespace = args
        .lease_namespace
        .clone()
        .unwrap_or_else(|| client.default_namespace().to_owned());
    let identity = identity(args.identity.as_deref());
    let mut election = leader::Election::join(client.clone(), &args.lease_name, &namespace, &identity).await?;
    info!(%identity, lease = %format!("{namespace}/{}", args.lease_name), "joined leader election");
    // A standby replica is healthy and ready: it is waiting its turn, not failing.
    readiness.set(true);
    loop {
        tokio::select! {
            acquired = election.acquired() => if !acquired { break },
            _ = stopped(terminate.clone()) => break,
        }
        info!(%identity, "acquired the lease: reconciling");
        let lost = election.lost();
        let mut terminate_while_leading = terminate.clone();
        let stop = async move {
            tokio::select! {
                _ = lost => info!("lost the lease: stopping reconciles"),
                _ = terminate_while_leading.wait_for(|t| *t) => {}
            }
        };
        run_controller(&context, readiness.clone(), stop).await;
        if *terminate.borrow() {
            break;
        }
        readiness.set(true);
    }
    election.release().await;
    Ok(())
}

/// The parts of a context that outlive one leadership term.
struct SharedParts {
    client: Client,
    aws: Arc<AwsAccess>,
    metrics: Arc<Metrics>,
    namespace: Option<String>,
    concurrency: u16,
}

/// Reconciles until `stop` resolves; in-flight reconciles finish first.
async fn run_controller(
    parts: &SharedParts,
    readiness: Readiness,
    stop: impl std::future::Future<Output = ()> + Send + 'static,
) {
    // Readiness follows the watches' initial lists (InitDone) as they pass by: a second waiter on
    // the stores themselves would compete with the controllers' own wait for them.
    readiness.set(false);
    let synced = Arc::new(SyncedWatches::new(3, readiness.clone()));
    let (graphs, graph_store) = watch::<DetectiveGraph>(parts, &synced, 0);
    let (memberships, membership_store) = watch::<DetectiveMembership>(parts, &synced, 1);
    let (admins, admin_store) = watch::<DetectiveOrganizationAdmin>(parts, &synced, 2);
    let ctx = Arc::new(Context {
        client: parts.client.clone(),
        aws: parts.aws.clone(),
        recorder: Recorder::new(
            parts.client.clone(),
            Reporter {
                controller: "detective-operator".into(),
                instance: std::env::var("POD_NAME").ok(),
            },
        ),
        graphs: graph_store.clone(),
        backoff: backoff::Backoff::default(),
        metrics: parts.metrics.clone(),
        unwritten: status::Unwritten::default(),
    });

    // One stop signal for every controller.
    let (stop_tx, stop_rx) = watch::channel(false);
    tokio::spawn(async move {
        stop.await;
        let _ = stop_tx.send(true);
    });
    futures::join!(
        control(graphs, graph_store, parts, stop_rx.clone(), ctx.clone()),
        control(memberships, membership_store, parts, stop_rx.clone(), ctx.clone()),
        control(admins, admin_store, parts, stop_rx, ctx),
    );
}

/// The watch of one kind, feeding its store and readiness; only changes that matter pass.
fn watch<K: Managed>(
    parts: &SharedParts,
    synced: &Arc<SyncedWatches>,
    index: usize,
) -> (
    impl futures::Stream<Item = Result<K, watcher::Error>> + Send + use<K>,
    Store<K>,
) {
    let api: Api<K> = match &parts.namespace {
        Some(namespace) => Api::namespaced(parts.client.clone(), namespace),
        None => Api::all(parts.client.clone()),
    };
    let (reader, writer) = reflector::store();
    let synced = synced.clone();
    // Status writes do not change the generation: filtering on it (and on finalizers and the
    // deletion timestamp) keeps a status write from triggering another round of AWS reads.
    let orphan = |resource: &K| orphan_state(resource.annotations(), resource.meta().deletion_timestamp.is_some());
    let stream = watcher(api, watcher::Config::default().any_semantic())
        .default_backoff()
        .modify(forget_unread_metadata)
        .reflect(writer)
        .inspect(move |event| synced.observe(index, event))
        .applied_objects()
        .predicate_filter(
            predicates::generation.combine(predicates::finalizers).combine(orphan),
            Default::default(),
        );
    (stream, reader)
}

/// Runs the controller of one kind until `stop`.
async fn control<K: Managed>(
    stream: impl futures::Stream<Item = Result<K, watcher::Error>> + Send + 'static,
    store: Store<K>,
    parts: &SharedParts,
    stop: watch::Receiver<bool>,
    ctx: Arc<Context>,
) {
    Controller::for_stream(stream, store)
        .with_config(controller::Config::default().concurrency(parts.concurrency))
        .graceful_shutdown_on(stopped(stop))
        .run(reconcile::<K>, error_policy::<K>, ctx)
        .for_each(log_result)
        .await;
}

async fn log_result<T, E: std::fmt::Display>(result: Result<T, E>) {
    if let Err(error) = result {
        tracing::debug!(%error, "reconcile did not complete");
    }
}

/// The annotation `kubectl apply` writes: a second copy of the whole spec.
const LAST_APPLIED_ANNOTATION: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// Drops what the controller never reads before the watch cache stores a resource: its
/// `managedFields` (an entry per field manager, each listing every member key) and kubectl's
/// last-applied copy of the spec. Together they are about as large as the spec and status.
fn forget_unread_metadata<K: kube::Resource>(resource: &mut K) {
    let meta = resource.meta_mut();
    meta.managed_fields = None;
    if let Some(annotations) = meta.annotations.as_mut() {
        annotations.remove(LAST_APPLIED_ANNOTATION);
    }
}

/// Hashes what matters on deletion: the orphan annotation and whether deletion started.
fn orphan_state(annotations: &std::collections::BTreeMap<String, String>, deleting: bool) -> Option<u64> {
    let mut hasher = DefaultHasher::new();
    annotations.get(ORPHAN_ANNOTATION).hash(&mut hasher);
    deleting.hash(&mut hasher);
    Some(hasher.finish())
}

/// Marks the operator ready once every watch has delivered its initial list.
struct SyncedWatches {
    done: Vec<std::sync::atomic::AtomicBool>,
    readiness: Readiness,
}

impl SyncedWatches {
    fn new(watches: usize, readiness: Readiness) -> Self {
        Self {
            done: (0..watches)
                .map(|_| std::sync::atomic::AtomicBool::new(false))
                .collect(),
            readiness,
        }
    }

    fn observe<K>(&self, watch: usize, event: &Result<watcher::Event<K>, watcher::Error>) {
        use std::sync::atomic::Ordering;
        if let Ok(watcher::Event::InitDone) = event {
            self.done[watch].store(true, Ordering::Relaxed);
            if self.done.iter().all(|d| d.load(Ordering::Relaxed)) {
                self.readiness.set(true);
            }
        }
    }
}

async fn stopped(mut terminate: watch::Receiver<bool>) {
    let _ = terminate.wait_for(|t| *t).await;
}

async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("installing a SIGTERM handler");
        tokio::select! {
            _ = interrupt => {},
            _ = terminate.recv() => {},
        }
    }
    #[cfg(not(unix))]
    let _ = interrupt.await;
}

fn identity(configured: Option<&str>) -> String {
    let base = configured
        .map(str::to_owned)
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "detective-operator".to_owned());
    // Two processes with one name (a restart that overlaps the old pod) must not share a claim.
    let mut hasher = DefaultHasher::new();
    std::process::id().hash(&mut hasher);
    std::time::SystemTime::now().hash(&mut hasher);
    format!("{base}-{:08x}", hasher.finish() as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_watch_cache_keeps_what_the_controller_reads_and_drops_the_rest() {
        let mut graph: DetectiveGraph = serde_json::from_value(serde_json::json!({
            "apiVersion": "detective.operator.dev/v1alpha1",
            "kind": "DetectiveGraph",
            "metadata": {
                "name": "g",
                "managedFields": [{"manager": "kubectl", "operation": "Apply", "fieldsType": "FieldsV1"}],
                "annotations": {
                    LAST_APPLIED_ANNOTATION: "{\"spec\":{}}",
                    ORPHAN_ANNOTATION: "true",
                    "team": "security",
                },
            },
            "spec": {"members": []},
        }))
        .expect("a DetectiveGraph");

        forget_unread_metadata(&mut graph);

        assert_eq!(graph.metadata.managed_fields, None);
        let kept: Vec<&str> = graph.annotations().keys().map(String::as_str).collect();
        assert_eq!(kept, [ORPHAN_ANNOTATION, "team"]);
    }
}
