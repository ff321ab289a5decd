//! A local, faithful Amazon Detective API server (restJson1 over HTTP) for tests, demos and
//! benchmarks. No AWS account is reachable from CI, so everything that crosses the AWS port
//! drives the *real* `aws-sdk-detective` client against this emulator, not a hand-written fake.
//!
//! What it reproduces (details in `docs/emulator.md`):
//!
//! - the membership operations (CreateGraph, ListGraphs, DeleteGraph, CreateMembers,
//!   DeleteMembers, ListMembers, GetMembers, StartMonitoringMember, AcceptInvitation,
//!   RejectInvitation, ListInvitations, DisassociateMembership), tagging, the organization and
//!   data-source-package operations; the investigation operations answer 501
//!   `NotImplementedException`, unknown paths 404 `UnknownOperationException`;
//! - the AWS Organizations reads the operator makes (awsJson1_1, routed by `X-Amz-Target`:
//!   DescribeOrganization, ListRoots, ListAccounts, ListAccountsForParent,
//!   ListOrganizationalUnitsForParent, ListChildren, ListParents, DescribeOrganizationalUnit,
//!   DescribeAccount, ListDelegatedAdministrators) from the world's organizations, with the
//!   20-item page limit, the documented errors and, on request, empty pages that carry a
//!   NextToken; and the writes the peers' tools make: trusted access
//!   (List/Enable/DisableAWSServiceAccess) and DeregisterDelegatedAdministrator;
//! - STS AssumeRole and GetCallerIdentity, IAM GetRole and CreateServiceLinkedRole for
//!   Detective's service-linked role (the query protocol, told apart by the signature's service);
//! - AWS GovCloud (US), where Detective neither validates e-mails nor sends invitations, with
//!   its `aws-us-gov` ARNs;
//! - callers: the SigV4 `Credential=<AKID>/<date>/<region>/...` scope names the caller; a
//!   12-digit access key id *is* the account id, any other key acts as the default account
//!   (signatures are not checked);
//! - every documented input constraint (ValidationException with `ErrorCode` and a message
//!   naming the member), the member state machine (diagram in `model.rs`), the 1,200-member quota,
//!   administrator-only and member-only rules, opaque pagination tokens, wire-exact errors.
//!
//! Time-based transitions (verification delay, simulated members who accept after a delay, the
//! realistic profile's propagation delay) are computed lazily from the clock on each request;
//! tests can move the clock forward.
//!
//! The default profile is instant and lenient, for unit-level tests; the realistic profile
//! ([`Realism`]: `realistic: true` in the world, `--realistic`) adds what AWS does besides,
//! each part with its own setting.
//!
//! # Control endpoints
//!
//! Outside the AWS API, under `/_emulator/`, unsigned, JSON in and out, not counted as calls:
//!
//! | Method and path | Effect |
//! |---|---|
//! | `GET /_emulator/health` | `{"status":"ok"}` |
//! | `GET /_emulator/calls` | `{"<Operation>": count}` of AWS calls since start or reset, rejected and faulted ones included; unmatched requests count as `UnknownOperation` |
//! | `GET /_emulator/calls/faulted` | `{"<Operation>": count}` of those calls that an injected fault answered with an error (429, 500) |
//! | `GET /_emulator/calls/refused` | `{"<Operation>": count}` of those calls that IAM enforcement (`enforceIam`) refused with AccessDenied |
//! | `GET /_emulator/calls/peak` | `{"<Operation>": n}`: the most calls of each operation answered at the same time (injected latency included) |
//! | `DELETE /_emulator/calls` | reset the counts and the peaks |
//! | `GET /_emulator/state` | every graph with tags, packages, members (status, disabled reason, invitation type, times, the `disableEmailNotification` their CreateMembers call sent, `invitationEmailSent`) and `createMembersRequests` (CreateMembers calls naming each account), organization administrators (with when each shows, and until when a removed one does), the delegated administrators Detective registered in Organizations, trusted access (`trustedServices`), service-linked roles, the emulator clock |
//! | `DELETE /_emulator/state` | forget all graphs, members, delegations, registrations, trusted access and service-linked roles (world and faults stay) |
//! | `POST /_emulator/graphs` | `{"administratorAccount":"123456789012","region":"us-east-1","createdTime":"2022-01-01T00:00:00Z"}`: that account's graph as created then (optional datasource packages STOPPED on graphs older than their documented default); answers `{"graphArn": ...}` |
//! | `GET /_emulator/world` | the world model ([`WorldConfig`]) |
//! | `PUT /_emulator/world` | replace the world model |
//! | `PATCH /_emulator/world` | merge ([`WorldPatch`]): accounts and organizations upserted by id, other fields replaced when present |
//! | `POST /_emulator/world/organization` | add a generated organization ([`OrganizationSeed`]), e.g. 1,200 accounts in 40 OUs |
//! | `GET /_emulator/faults` | faults in force |
//! | `POST /_emulator/faults` | add a [`Fault`] (or an array), e.g. `{"operation":"ListMembers","kind":"throttle","count":2}`, or the rate limit `{"kind":"throttle","requestsPerSecond":5}` |
//! | `DELETE /_emulator/faults` | clear all faults |
//! | `GET /_emulator/clock` | `{"now": "..."}` |
//! | `POST /_emulator/clock` | `{"advanceMs": 60000}` moves the clock forward |
//!
//! # In-process use
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use detective_emulator::{Emulator, EmulatorConfig, Fault};
//! let emulator = Emulator::start(EmulatorConfig::default()).await?;
//! let url = emulator.endpoint_url(); // point the SDK's endpoint_url here
//! emulator.inject_fault(Fault::throttle().on("ListMembers").times(2));
//! // ... drive the SDK ...
//! assert!(emulator.calls().get("ListMembers").is_some());
//! emulator.shutdown().await;
//! # Ok(()) }
//! ```

mod control;
mod faults;
mod iam;
mod iam_api;
mod model;
mod operation_enum;
mod operations;
mod organization;
mod organization_lifecycle;
mod organization_seed;
mod organization_view;
mod organizations_api;
mod paging;
mod prng;
mod query_protocol;
mod realism;
mod regions;
mod routes;
mod server;
mod shared;
mod state_file;
mod sts;
mod tls;
mod trusted_access;
mod validate;
mod wire;
mod world;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use faults::{Fault, FaultKind, FaultTrigger};
pub use iam::RoleConfig;
pub use iam::session_token;
pub use model::{DisabledReason, GraphSnapshot, InvitationType, MemberSnapshot, MemberStatus};
pub use organization::{AccountState, JoinedMethod, OrganizationConfig, OrganizationalUnitConfig};
pub use organization_seed::OrganizationSeed;
pub use realism::{REALISTIC_PROPAGATION_DELAY, Realism};
pub use tls::{TlsError, TlsFiles};
pub use world::{AccountConfig, DEFAULT_ORGANIZATION, WorldConfig, WorldPatch};

use shared::Shared;

/// How to start an [`Emulator`].
#[derive(Clone, Debug)]
pub struct EmulatorConfig {
    /// Address to bind. Port 0 picks a free port ([`Emulator::endpoint_url`] tells which).
    pub listen: SocketAddr,
    /// Account that callers act as when their access key id is not a 12-digit account id
    /// (unless the world model sets `defaultAccount`).
    pub default_account: String,
    /// The initial world model. When a state file is loaded, a non-default `world` here replaces
    /// the persisted one; the default (empty) world keeps the persisted one.
    pub world: WorldConfig,
    /// Persist the service state here after every change and load it at start.
    pub state_file: Option<PathBuf>,
    /// Serve HTTPS with this certificate and key instead of plain HTTP.
    pub tls: Option<TlsFiles>,
}

impl Default for EmulatorConfig {
    fn default() -> Self {
        EmulatorConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            default_account: "123456789012".to_owned(),
            world: WorldConfig::default(),
            state_file: None,
            tls: None,
        }
    }
}

/// A running emulator. Dropping it stops the server too; [`Emulator::shutdown`] also waits
/// for it to finish.
pub struct Emulator {
    shared: Arc<Shared>,
    local_addr: SocketAddr,
    https: bool,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
}

impl Emulator {
    /// Binds `config.listen`, loads the state file if there is one, and serves in the
    /// background on the current Tokio runtime.
    pub async fn start(config: EmulatorConfig) -> std::io::Result<Emulator> {
        let invalid = |message: String| std::io::Error::new(std::io::ErrorKind::InvalidInput, message);
        if !validate::is_account_id(&config.default_account) {
            return Err(invalid(format!(
                "default account {:?} is not a 12-digit account id",
                config.default_account
            )));
        }
        config.world.validate().map_err(invalid)?;
        let mut world = config.world;
        let mut state = model::ServiceState::default();
        if let Some(path) = &config.state_file
            && let Some(file) = state_file::load(path)?
        {
            state = file.state;
            if world == WorldConfig::default() {
                world = file.world;
            }
            tracing::info!(path = %path.display(), graphs = state.graphs.len(), "loaded emulator state");
        }
        // Read before anything is bound or written: a bad certificate fails the start.
        let acceptor = match &config.tls {
            Some(files) => Some(
                files
                    .acceptor()
                    .map_err(|error| std::io::Error::new(std::io::ErrorKind::InvalidInput, error))?,
            ),
            None => None,
        };
        let shared = Arc::new(Shared::new(state, world, config.default_account, config.state_file));
        shared.persist(&shared.lock());

        let listener = tokio::net::TcpListener::bind(config.listen).await?;
        let local_addr = listener.local_addr()?;
        let (stop, stopped) = oneshot::channel::<()>();
        // Also resolves when the sender is dropped with the Emulator.
        let stopped = async {
            let _ = stopped.await;
        };
        let app = server::router(Arc::clone(&shared));
        let https = acceptor.is_some();
        let task = match acceptor {
            Some(acceptor) => {
                let listener = tls::TlsListener::new(listener, acceptor)?;
                tokio::spawn(async move { axum::serve(listener, app).with_graceful_shutdown(stopped).await })
            }
            None => tokio::spawn(async move { axum::serve(listener, app).with_graceful_shutdown(stopped).await }),
        };
        tracing::info!(address = %local_addr, https, "detective emulator listening");
        Ok(Emulator {
            shared,
            local_addr,
            https,
            stop: Some(stop),
            task: Some(task),
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// `http://127.0.0.1:PORT` (`https://` when serving TLS), for the SDK's `endpoint_url` or
    /// `AWS_ENDPOINT_URL_DETECTIVE`.
    pub fn endpoint_url(&self) -> String {
        let scheme = if self.https { "https" } else { "http" };
        format!("{scheme}://{}", self.local_addr)
    }

    /// AWS API calls received per operation name since start or [`Emulator::reset_calls`],
    /// including rejected and faulted ones (each SDK retry is a call).
    pub fn calls(&self) -> BTreeMap<String, u64> {
        self.shared.calls()
    }

    /// The calls of [`Emulator::calls`] that an injected fault answered with an error (a 429
    /// of a rate limit, a 500), per operation name.
    pub fn faulted_calls(&self) -> BTreeMap<String, u64> {
        self.shared.faulted_calls()
    }

    /// The calls of [`Emulator::calls`] that IAM enforcement (`enforceIam`) refused with
    /// AccessDenied, per operation name (`AssumeRole` for STS).
    pub fn refused_calls(&self) -> BTreeMap<String, u64> {
        self.shared.refused_calls()
    }

    /// The most Detective or Organizations calls of each operation answered at the same time
    /// (injected latency included) since start or [`Emulator::reset_calls`]: how concurrent a
    /// client really is.
    pub fn peak_in_flight(&self) -> BTreeMap<String, u64> {
        self.shared.peak_in_flight()
    }

    /// Resets [`Emulator::calls`], [`Emulator::faulted_calls`], [`Emulator::refused_calls`] and
    /// [`Emulator::peak_in_flight`].
    pub fn reset_calls(&self) {
        self.shared.reset_calls();
    }

    /// **Replaces** the world model (use [`Emulator::merge_world`] to upsert accounts).
    /// Accounts that join an organization here are enabled in that organization's graph when its
    /// configuration has AutoEnable, and organization members that leave it are removed, as the
    /// service does.
    ///
    /// # Panics
    ///
    /// If the world is invalid (a typo in a test should fail loudly).
    pub fn set_world(&self, world: WorldConfig) {
        if let Err(message) = world.validate() {
            panic!("invalid emulator world: {message}");
        }
        self.shared.set_world(world);
    }

    /// Upserts accounts and organizations by id and replaces the other fields that the patch
    /// sets. Moving an account to another OU, suspending it, adding one or taking it out of its
    /// organization is an upsert of that account.
    ///
    /// # Panics
    ///
    /// If the merged world is invalid (a typo in a test should fail loudly).
    pub fn merge_world(&self, patch: WorldPatch) {
        match self.shared.merged_world(patch) {
            Ok(world) => self.shared.set_world(world),
            Err(message) => panic!("invalid emulator world: {message}"),
        }
    }

    /// Adds a generated organization (e.g. 1,200 accounts in 40 OUs) to the world.
    ///
    /// # Panics
    ///
    /// If the seed or the resulting world is invalid.
    pub fn seed_organization(&self, seed: &OrganizationSeed) {
        match seed.patch() {
            Ok(patch) => self.merge_world(patch),
            Err(message) => panic!("invalid organization seed: {message}"),
        }
    }

    pub fn world(&self) -> WorldConfig {
        self.shared.world()
    }

    /// Adds a fault; faults stay until spent ([`Fault::times`]) or cleared.
    ///
    /// # Panics
    ///
    /// If the fault names no Detective operation or has a rate outside 0.0–1.0: a typo in a
    /// test should fail loudly, not silently inject nothing.
    pub fn inject_fault(&self, fault: Fault) {
        if let Err(message) = fault.validate() {
            panic!("invalid emulator fault: {message}");
        }
        self.shared.inject_fault(fault);
    }

    pub fn clear_faults(&self) {
        self.shared.clear_faults();
    }

    /// Faults still in force.
    pub fn faults(&self) -> Vec<Fault> {
        self.shared.faults()
    }

    /// The members of a graph as of now (lazy transitions applied), in account-id order; empty
    /// if there is no such graph.
    pub fn members(&self, graph_arn: &str) -> Vec<MemberSnapshot> {
        self.graphs()
            .into_iter()
            .find(|graph| graph.arn == graph_arn)
            .map(|graph| graph.members)
            .unwrap_or_default()
    }

    /// Every graph, in ARN order, with its members.
    pub fn graphs(&self) -> Vec<GraphSnapshot> {
        self.shared.graphs()
    }

    /// Moves the emulator clock forward: pending verifications and simulated acceptances that
    /// fall due in between take effect (stamped with their due time).
    pub fn advance_clock(&self, by: Duration) {
        self.shared.advance_clock(by);
    }

    /// The emulator clock (wall clock plus every advance).
    pub fn now(&self) -> jiff::Timestamp {
        wire::jiff_timestamp(self.shared.now_ms())
    }

    /// Creates `administrator_account`'s behavior graph in `region` as if CreateGraph had been
    /// called at `created`, e.g. before the optional datasource packages started by default
    /// (EKS audit logs: graphs created after 2022-07-26; Security Hub findings: after
    /// 2023-05-16), to model a graph where they are not started. Returns its ARN.
    ///
    /// # Panics
    ///
    /// If the account id is malformed or the account already has a graph in that Region.
    pub fn create_graph_at(&self, administrator_account: &str, region: &str, created: jiff::Timestamp) -> String {
        self.shared
            .seed_graph(administrator_account, region, created.as_millisecond())
            .unwrap_or_else(|message| panic!("cannot seed the graph: {message}"))
    }

    /// Forgets all graphs, members, organization delegations and the delegated administrators
    /// Detective registered in Organizations.
    pub fn reset_state(&self) {
        self.shared.reset_state();
    }

    /// Stops accepting connections and waits (at most 5 s) for in-flight requests.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(mut task) = self.task.take() {
            match tokio::time::timeout(Duration::from_secs(5), &mut task).await {
                Ok(Ok(Err(err))) => tracing::warn!(error = %err, "emulator server ended with an error"),
                Ok(_) => {}
                Err(_) => task.abort(),
            }
        }
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

impl std::fmt::Debug for Emulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Emulator")
            .field("local_addr", &self.local_addr)
            .finish_non_exhaustive()
    }
}
