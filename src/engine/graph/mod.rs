//! One reconcile of a `DetectiveGraph`: observe → plan → apply → accept → report.
//!
//! This file is the orchestration; each step is its own module:
//! - [`observe`]: find (or create) the graph, read members and tags — AWS reads;
//! - [`organization`]: `spec.organization.autoEnable`, and the members `spec.membersFrom`
//!   resolves from AWS Organizations (declared with `spec.members`) — AWS reads, one write;
//! - the plan: [`crate::plan`] — pure;
//! - [`apply`]: the plan's writes — AWS writes, returned as [`apply::Writes`];
//! - [`accept`]: invitations accepted as the members (`spec.acceptInvitations`);
//! - [`report`]: the status, conditions and verdict — pure;
//! - [`schedule`]: attempt backoff and the requeue delay — pure;
//! - [`teardown`]: `deletionPolicy: Delete` when the resource goes.

pub mod accept;
pub mod apply;
pub mod observe;
pub mod organization;
pub mod report;
pub mod schedule;
pub mod teardown;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use k8s_openapi::jiff::Timestamp;

use crate::api::{DetectiveGraph, DetectiveGraphSpec, DetectiveGraphStatus};
use crate::aws::{AssumeRole, Detective, PackageIngest, PackageStates, ReachOrganizations};
use crate::graph_arn::GraphArn;
use crate::member::ObservedMember;
use crate::plan::{self, Observed, PackageChanges, Plan, TagChanges};

use super::{Mode, SHORT_REQUEUE, SyncError};

pub use report::report;

/// Answers "who else manages this graph?" with that resource's `namespace/name`.
pub type ClaimCheck<'a> = &'a (dyn Fn(&str) -> Option<String> + Send + Sync);

/// Sees each write as it lands (the CLI's progress lines).
pub type Progress<'a> = &'a (dyn Fn(&Applied) + Send + Sync);

/// What one reconcile reads besides AWS.
#[derive(Clone, Copy)]
pub struct Target<'a> {
    pub spec: &'a DetectiveGraphSpec,
    /// The status written by the previous reconcile (graph ARN, inventory, backoff records).
    pub previous: Option<&'a DetectiveGraphStatus>,
    pub generation: Option<i64>,
    /// Who else manages a graph (the controller's claim check); `None` outside a cluster.
    pub claimed_by: Option<ClaimCheck<'a>>,
    pub progress: Option<Progress<'a>>,
}

impl<'a> Target<'a> {
    /// A resource's spec, status and generation; no claim check, no progress.
    pub fn of(graph: &'a DetectiveGraph) -> Self {
        Self::new(&graph.spec, graph.status.as_ref(), graph.metadata.generation)
    }

    /// A spec, the previous status and the generation; no claim check, no progress.
    pub fn new(
        spec: &'a DetectiveGraphSpec,
        previous: Option<&'a DetectiveGraphStatus>,
        generation: Option<i64>,
    ) -> Self {
        Self {
            spec,
            previous,
            generation,
            claimed_by: None,
            progress: None,
        }
    }

    pub fn with_claim_check(self, claimed_by: ClaimCheck<'a>) -> Self {
        Self {
            claimed_by: Some(claimed_by),
            ..self
        }
    }

    pub fn with_progress(self, progress: Progress<'a>) -> Self {
        Self {
            progress: Some(progress),
            ..self
        }
    }
}

/// How the graph was found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GraphSource {
    /// `spec.graphArn`, or the graph recorded in status.
    Declared,
    /// The administrator account's existing graph in the Region (ListGraphs).
    Discovered,
    /// Created by this reconcile (CreateGraph).
    Created,
    /// None exists; an apply would create one (dry run only).
    WouldCreate,
}

/// What the reconcile saw before it wrote anything.
#[derive(Clone, Debug)]
pub struct Observation {
    pub graph_arn: Option<String>,
    pub source: GraphSource,
    pub members: Vec<ObservedMember>,
    /// The graph's tags, read only when `spec.tags` is set (an empty map leaves tags alone).
    pub tags: Option<BTreeMap<String, String>>,
    /// The graph's datasource packages, read only when `spec.datasourcePackages` is set.
    pub packages: Option<PackageStates>,
}

/// One write the apply made, for progress lines, events and metrics.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Applied {
    GraphCreated(String),
    Deleted {
        accounts: usize,
        unprocessed: usize,
    },
    /// CreateMembers: accounts invited, and accounts of the organization enabled without an
    /// invitation (the response tells them apart by their invitation type).
    MembersCreated {
        invited: usize,
        enabled: usize,
        unprocessed: usize,
    },
    MonitoringStarted(String),
    /// Invitations accepted as the members (`spec.acceptInvitations`).
    Accepted {
        accounts: usize,
        failed: usize,
    },
    Tagged {
        set: usize,
        removed: usize,
    },
    /// Datasource packages started (UpdateDatasourcePackages).
    PackagesStarted(Vec<String>),
    /// UpdateOrganizationConfiguration set `AutoEnable` to this.
    AutoEnableSet(bool),
}

/// Everything one reconcile decided and did.
#[derive(Debug)]
pub struct Outcome {
    pub observation: Option<Observation>,
    pub plan: Option<Plan>,
    pub tag_changes: TagChanges,
    pub package_changes: PackageChanges,
    pub applied: Vec<Applied>,
    /// Members whose StartMonitoringMember or AcceptInvitation the backoff postponed.
    pub deferred: Vec<String>,
    pub status: DetectiveGraphStatus,
    pub error: Option<SyncError>,
    pub requeue_after: Duration,
}

impl Outcome {
    /// An outcome before anything was observed or applied.
    fn starting(error: Option<SyncError>) -> Self {
        Self {
            observation: None,
            plan: None,
            tag_changes: TagChanges::default(),
            package_changes: PackageChanges::default(),
            applied: Vec::new(),
            deferred: Vec::new(),
            status: DetectiveGraphStatus::default(),
            error,
            requeue_after: SHORT_REQUEUE,
        }
    }
}

/// The outcome of a reconcile that could not start (e.g. no credentials for the resource's role):
/// no AWS state is known, the status keeps what the previous one knew and reports the error.
pub fn failed(target: Target<'_>, error: SyncError, now: Timestamp) -> Outcome {
    let inventory: BTreeSet<String> = target
        .previous
        .map(|s| s.inventory.iter().cloned().collect())
        .unwrap_or_default();
    let mut outcome = Outcome::starting(Some(error));
    outcome.status = report(&target, &outcome, &inventory, now);
    outcome
}

/// Runs one reconcile of a valid spec ([`super::sync`] checks it) through `detective` (the
/// administrator account); `roles` reaches the member accounts for `spec.acceptInvitations`.
pub async fn reconcile<D: Detective, R: AssumeRole + ReachOrganizations>(
    detective: &D,
    roles: &R,
    target: Target<'_>,
    mode: Mode,
    now: Timestamp,
) -> Outcome {
    let previous = target.previous.cloned().unwrap_or_default();
    let inventory: BTreeSet<String> = previous.inventory.iter().cloned().collect();
    let mut progress = |applied: &Applied| {
        if let Some(progress) = target.progress {
            progress(applied);
        }
    };

    let mut observation = match observe::observe(detective, target.spec, &previous, mode, &mut progress).await {
        Ok(observation) => observation,
        Err(error) => return failed(target, error, now),
    };
    if let (Some(graph), Some(claimed_by)) = (observation.graph_arn.as_deref(), target.claimed_by)
        && let Some(owner) = claimed_by(graph)
    {
        let graph = graph.to_owned();
        return failed(target, SyncError::GraphClaimed { graph, owner }, now);
    }
    let organization = organization::prepare(detective, roles, target.spec, &observation, &previous, mode, now).await;
    if let Some(error) = organization.error {
        let mut outcome = failed(target, SyncError::Organization(error), now);
        // Keep what was resolved, so that the next resync within the interval lists nothing.
        outcome.status.organization = organization.status;
        return outcome;
    }
    // From here on the declared members are `spec.members` ∪ the resolved accounts.
    let target = Target {
        spec: organization.spec.as_ref().unwrap_or(target.spec),
        ..target
    };
    let administrator = observation.administrator().map(str::to_owned);
    let plan_of = |members: &[ObservedMember]| {
        plan::plan(
            target.spec,
            Observed {
                members,
                inventory: &inventory,
                administrator_account: administrator.as_deref(),
            },
        )
    };
    let plan = plan_of(&observation.members);
    let mut outcome = Outcome::starting(None);
    if let GraphSource::Created = observation.source {
        outcome
            .applied
            .push(Applied::GraphCreated(observation.graph_arn.clone().unwrap_or_default()));
    }
    outcome.tag_changes = match &observation.tags {
        Some(tags) => plan::plan_tags(&target.spec.tags, tags),
        None => TagChanges::default(),
    };
    outcome.package_changes = match (&target.spec.datasource_packages, &observation.packages) {
        (Some(declared), Some(observed)) => plan::plan_packages(declared, observed),
        _ => PackageChanges::default(),
    };
    let (due, deferred): (Vec<String>, Vec<String>) = plan
        .start_monitoring
        .iter()
        .cloned()
        .partition(|account| schedule::attempt_due(&previous, account, now));
    outcome.deferred = deferred;

    let mut attempts = schedule::Attempts::default();
    if mode == Mode::Apply
        && plan.refusal.is_none()
        && let Some(graph_arn) = observation.graph_arn.clone()
    {
        let work = apply::Work {
            graph_arn: &graph_arn,
            spec: target.spec,
            plan: &plan,
            monitoring_due: &due,
            tags: &outcome.tag_changes,
            packages: &outcome.package_changes,
        };
        let writes = apply::apply(
            detective,
            &work,
            std::mem::take(&mut observation.members),
            &mut progress,
        )
        .await;
        observation.members = writes.members;
        outcome.applied.extend(writes.applied);
        outcome.error = writes.error.map(SyncError::from);
        attempts = writes.attempts;
        record_started(&outcome.applied, observation.packages.as_mut());
        let wrote_members = outcome.applied.iter().any(|a| {
            !matches!(
                a,
                Applied::GraphCreated(_) | Applied::Tagged { .. } | Applied::AutoEnableSet(_)
            )
        });
        if wrote_members {
            // Read the graph back so the status shows where the writes landed (verification is
            // usually quick; a started package shows in each member's ingest states), rather than
            // the state predicted from the responses.
            observe::reread(detective, &graph_arn, &mut observation.members).await;
        }
        if let Some(accepting) = &target.spec.accept_invitations
            && outcome.error.is_none()
        {
            // Accept what is INVITED now, including the invitations this sync just sent.
            let invited = plan_of(&observation.members).accept;
            let acceptance = accept::accept_invited(roles, &graph_arn, accepting, invited, &previous, now).await;
            outcome.deferred.extend(acceptance.deferred.iter().cloned());
            if acceptance.accepted_any() {
                observe::reread(detective, &graph_arn, &mut observation.members).await;
            }
            attempts.extend(acceptance.attempts);
            if let Some(applied) = acceptance.applied {
                progress(&applied);
                outcome.applied.push(applied);
            }
        }
    }

    let inventory_after = if mode == Mode::Apply {
        plan::next_inventory(target.spec, &inventory, &observation.members)
    } else {
        inventory.clone()
    };
    outcome.observation = Some(observation);
    outcome.plan = Some(plan);
    if let Some(applied) = organization.applied {
        progress(&applied);
        outcome.applied.push(applied);
    }
    let mut status = report(&target, &outcome, &inventory_after, now);
    status.organization = organization.status;
    schedule::record_attempts(&mut status, &previous, &attempts, now);
    outcome.requeue_after = schedule::requeue_after(&status, target.spec, !outcome.applied.is_empty(), now);
    if let Some(refresh) = organization::until_refresh(target.spec, &status, now) {
        outcome.requeue_after = outcome.requeue_after.min(refresh.max(SHORT_REQUEUE));
    }
    outcome.status = status;
    outcome
}

/// The packages an UpdateDatasourcePackages call started, as the response predicts them (it
/// has no body: a successful call started what it named).
fn record_started(applied: &[Applied], packages: Option<&mut PackageStates>) {
    let Some(packages) = packages else {
        return;
    };
    for applied in applied {
        if let Applied::PackagesStarted(started) = applied {
            for package in started {
                packages.insert(package.clone(), PackageIngest::Started);
            }
        }
    }
}

impl Observation {
    /// The account that owns the graph found, read off its ARN.
    pub fn administrator(&self) -> Option<&str> {
        let arn = GraphArn::parse(self.graph_arn.as_deref()?).ok()?;
        Some(arn.administrator_account())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn administrator_comes_from_the_arn() {
        let observed = |graph_arn: Option<&str>| Observation {
            graph_arn: graph_arn.map(str::to_owned),
            source: GraphSource::Declared,
            members: Vec::new(),
            tags: None,
            packages: None,
        };
        let arn = "arn:aws:detective:us-east-1:123456789012:graph:0123456789abcdef0123456789abcdef";
        assert_eq!(observed(Some(arn)).administrator(), Some("123456789012"));
        assert_eq!(observed(Some("nonsense")).administrator(), None);
        assert_eq!(observed(None).administrator(), None);
    }
}
