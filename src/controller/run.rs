//! The operator process (`detective-operator run`): flags, the Kubernetes client, the HTTP
//! server (probes and metrics), signals, and the leader loop that starts and stops the
//! controllers of the kinds it runs (`--kinds`).

use std::hash::{DefaultHasher, Hash, Hasher};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use clap::{ArgAction, Args};
use futures::StreamExt;
use futures::future::BoxFuture;
use kube::Client;
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::core::Selector;
use kube::runtime::controller::{self, Controller};
use kube::runtime::events::{Recorder, Reporter};
use kube::runtime::reflector;
use tokio::sync::{Notify, watch};
use tracing::{info, warn};

use super::decoding::Decoder;
use super::kinds::Kind;
use super::label_selector;
use super::reconciler::Managed;
use super::roles::{HeldRoles, NamesRoles};
use super::watched::Watched;
use super::watches::{InitialLists, Watch, WatchScope};
use super::{Context, backoff, error_policy, graph_set, leader, reconcile, status};
use crate::api::{DetectiveGraph, DetectiveGraphSet, DetectiveMembership, DetectiveOrganizationAdmin};
use crate::aws::{AwsAccess, AwsSettings};
use crate::engine::SharedListings;
use crate::http_server::{self, Readiness};
use crate::metrics::Metrics;

/// `detective-operator run` flags.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Kubeconfig file (default: KUBECONFIG, ~/.kube/config, or the in-cluster service account).
    #[arg(long)]
    pub kubeconfig: Option<PathBuf>,

    /// Watch only this namespace (default: all namespaces).
    #[arg(long, env = "WATCH_NAMESPACE")]
    pub namespace: Option<String>,

    /// The kinds this process watches and reconciles, comma-separated (default: every kind).
    /// Deployments with different kinds can hold different credentials.
    #[arg(long, env = "KINDS", value_enum, value_delimiter = ',')]
    pub kinds: Vec<Kind>,

    /// Watch, cache and reconcile only the objects whose labels match this Kubernetes label
    /// selector, e.g. `detective.operator.dev/shard=0` (default: every object). One process per
    /// shard, each with its own Lease.
    #[arg(long, env = "WATCH_LABEL_SELECTOR", value_parser = label_selector::parse)]
    pub watch_label_selector: Option<Selector>,

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
    HttpServer {
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
    let (address, serve) = http_server::bind(args.admin_address, readiness.clone(), metrics.clone())
        .await
        .map_err(|source| StartError::HttpServer {
            address: args.admin_address,
            source,
        })?;
    // The log line says "admin server", as the flag `--admin-address` does.
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
        shared_listings: Arc::new(SharedListings::counted_in(metrics.clone())),
        metrics,
        namespace: args.namespace.clone(),
        kinds: Kind::selected(&args.kinds),
        selector: args.watch_label_selector.clone().filter(|s| !s.selects_all()),
        concurrency: args.concurrency,
    };
    info!(
        kinds = ?context.kinds,
        selector = %context.selector.as_ref().map(Selector::to_string).unwrap_or_default(),
        "reconciling"
    );
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
    kinds: Vec<Kind>,
    selector: Option<Selector>,
    concurrency: u16,
    /// Kept across leadership terms: a listing is as good after a term as before it.
    shared_listings: Arc<SharedListings>,
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
    let lists = InitialLists::new(readiness.clone());
    let recorder = Recorder::new(
        parts.client.clone(),
        Reporter {
            controller: "detective-operator".into(),
            instance: std::env::var("POD_NAME").ok(),
        },
    );
    let decoder = Decoder::new(recorder.clone(), parts.metrics.clone());
    // Told of every change to a watch cache: the roles no object names any more are dropped.
    let caches_changed = Arc::new(Notify::new());
    let scope = WatchScope {
        client: &parts.client,
        namespace: parts.namespace.as_deref(),
        selector: parts.selector.as_ref(),
    };
    // The graph watch cache also serves the graph-claim check; a process that runs no graph
    // reconciles runs no claim check and gets an empty one.
    let mut graph_watch = parts.kinds.contains(&Kind::Graph).then(|| {
        Watch::<DetectiveGraph>::start(
            scope,
            lists.expect(),
            decoder.clone(),
            parts.metrics.clone(),
            caches_changed.clone(),
        )
    });
    let graphs = graph_watch
        .as_ref()
        .map_or_else(|| reflector::store().0, |watch| watch.store.clone());
    let ctx = Arc::new(Context {
        client: parts.client.clone(),
        aws: parts.aws.clone(),
        recorder: recorder.clone(),
        graphs,
        backoff: backoff::Backoff::default(),
        metrics: parts.metrics.clone(),
        unwritten: status::Unwritten::default(),
        shared_listings: parts.shared_listings.clone(),
    });

    // One stop signal for every controller.
    let (stop_tx, stop_rx) = watch::channel(false);
    tokio::spawn(async move {
        stop.await;
        let _ = stop_tx.send(true);
    });
    let controllers = Controllers {
        scope,
        lists: &lists,
        decoder,
        caches_changed: caches_changed.clone(),
        held_roles: HeldRoles::default(),
        concurrency: parts.concurrency,
        stop: stop_rx,
        ctx,
    };
    // Every watch is started (and expected by readiness) before any is polled.
    let mut running: Vec<BoxFuture<'static, ()>> = parts
        .kinds
        .iter()
        .map(|kind| match kind {
            Kind::Graph => controllers.control(graph_watch.take().expect("the graph watch started above")),
            Kind::Membership => controllers.control(controllers.watch::<DetectiveMembership>()),
            Kind::OrganizationAdmin => controllers.control(controllers.watch::<DetectiveOrganizationAdmin>()),
            Kind::GraphSet => controllers.graph_sets(),
        })
        .collect();
    running.push(Box::pin(controllers.held_roles.clone().release_on_change(
        parts.aws.clone(),
        caches_changed,
        readiness,
        controllers.stop.clone(),
    )));
    futures::future::join_all(running).await;
}

/// What starting the controller of one kind takes.
struct Controllers<'a> {
    scope: WatchScope<'a>,
    lists: &'a InitialLists,
    decoder: Arc<Decoder>,
    /// Told by every watch when its cache changes.
    caches_changed: Arc<Notify>,
    /// The caches of the kinds that act through roles.
    held_roles: HeldRoles,
    concurrency: u16,
    stop: watch::Receiver<bool>,
    ctx: Arc<Context>,
}

impl Controllers<'_> {
    /// Starts watching `K`; readiness waits for its initial list.
    fn watch<K: Watched>(&self) -> Watch<K> {
        Watch::start(
            self.scope,
            self.lists.expect(),
            self.decoder.clone(),
            self.ctx.metrics.clone(),
            self.caches_changed.clone(),
        )
    }

    /// The controller of one kind, running until the stop signal; the roles its objects name
    /// are held.
    fn control<K: Managed + NamesRoles>(&self, watch: Watch<K>) -> BoxFuture<'static, ()> {
        self.held_roles.hold(watch.store.clone());
        Box::pin(control(watch, self.concurrency, self.stop.clone(), self.ctx.clone()))
    }

    /// The `DetectiveGraphSet` controller (its own: it writes DetectiveGraphs, not AWS), running
    /// until the stop signal.
    fn graph_sets(&self) -> BoxFuture<'static, ()> {
        Box::pin(graph_set::control(
            self.watch::<DetectiveGraphSet>(),
            self.scope,
            self.concurrency,
            self.stop.clone(),
            self.ctx.clone(),
        ))
    }
}

/// Runs the controller of one kind until `stop`.
async fn control<K: Managed>(watch: Watch<K>, concurrency: u16, stop: watch::Receiver<bool>, ctx: Arc<Context>) {
    Controller::for_stream(watch.stream, watch.store)
        .with_config(controller::Config::default().concurrency(concurrency))
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
