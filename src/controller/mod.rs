//! `detective-operator run`: the controller that keeps every `DetectiveGraph`,
//! `DetectiveMembership`, `DetectiveOrganizationAdmin` and `DetectiveGraphSet` true.
//!
//! - [`run`]: the process — flags, the Kubernetes client, the HTTP server, signals, the leader
//!   loop — and the controllers it starts; [`kinds`]: the kinds it can run (`--kinds`);
//! - [`watches`]: what each kind's watch caches and lets through, and readiness once every watch
//!   has listed; [`label_selector`]: the objects a process watches (`--watch-label-selector`);
//!   [`decoding`]: each watched object read on its own, one that does not decode skipped;
//!   [`watched`]: what both need of a kind;
//! - [`reconciler`]: one reconcile, shared by every kind (finalizer → engine → status → events →
//!   metrics → requeue; teardown on deletion); [`graph`], [`membership`], [`organization_admin`]:
//!   what each kind adds; [`graph_set`]: the `DetectiveGraphSet`'s own controller (it writes
//!   child `DetectiveGraph`s, not AWS);
//! - [`status`]: where status is written; [`events`]: which events are published;
//! - [`claims`]: one owner per behavior graph;
//! - [`roles`]: the roles the watched objects name; the credentials of the others are dropped;
//! - [`leader`]: the Lease that lets one replica reconcile; [`backoff`]: retry pacing.

pub mod backoff;
pub mod claims;
pub mod decoding;
pub mod events;
pub mod graph;
pub mod graph_set;
pub mod kinds;
pub mod label_selector;
pub mod leader;
pub mod membership;
pub mod organization_admin;
pub mod reconciler;
pub mod roles;
pub mod run;
pub mod status;
pub mod watched;
pub mod watches;

pub use reconciler::{FINALIZER, ORPHAN_ANNOTATION, RECONCILE_REQUESTED_AT, error_policy, reconcile};
pub use run::{RunArgs, StartError, run};

use std::sync::Arc;

use kube::Client;
use kube::runtime::events::Recorder;
use kube::runtime::reflector::Store;

use crate::api::DetectiveGraph;
use crate::aws::AwsAccess;
use crate::engine::{SharedListings, SyncError};
use crate::metrics::Metrics;

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
    /// The organization listings the graphs share (`membersFrom.organization`, one listing per
    /// request, reader and interval).
    pub shared_listings: Arc<SharedListings>,
}
