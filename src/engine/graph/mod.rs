//! One reconcile of a `DetectiveGraph`: observe → declare → decide → apply → accept → report.
//!
//! This file is the orchestration ([`reconcile`] calls one step after the other); each step is its
//! own module:
//! - [`observe`]: find (or create) the graph, read members, tags and packages — AWS reads;
//! - declare: [`auto_enable`] (`spec.organization.autoEnable` — an AWS read, one write) and
//!   [`members_from`] (the accounts `spec.membersFrom` resolves from AWS Organizations — reads),
//!   which make the [`desired`] state every later step reads;
//! - [`decide`]: the plan, the tag and package changes — pure;
//! - [`apply`]: the plan's writes — AWS writes, returned as [`apply::Writes`];
//! - [`accept`]: invitations accepted as the members (`spec.acceptInvitations`);
//! - [`pending`]: what a sync would write, counted per action — pure;
//! - [`report`]: the status, conditions and verdict — pure;
//! - [`schedule`]: attempt backoff and the requeue delay — pure;
//! - [`teardown`]: `deletionPolicy: Delete` when the resource goes.

pub mod accept;
pub mod apply;
pub mod auto_enable;
pub mod decide;
pub mod desired;
pub mod members_from;
pub mod observe;
pub mod pending;
pub mod report;
pub mod schedule;
pub mod teardown;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;

use crate::api::{DetectiveGraph, DetectiveGraphSpec, DetectiveGraphStatus, GraphOrganizationStatus};
use crate::aws::{AssumeRole, Detective, PackageIngest, PackageStates, ReachOrganizations};
use crate::graph_arn::GraphArn;
use crate::member::ObservedMember;
use decide::{Observed, PackageChanges, Plan, TagChanges};
use desired::DesiredGraph;
use members_from::{ListingSource, SharedListings};
use schedule::Attempts;

use super::{Mode, SHORT_REQUEUE, SyncError};

pub use report::report;

/// Answers "who else manages this graph?" with that resource's `namespace/name`.
pub type ClaimCheck<'a> = &'a (dyn Fn(&str) -> Option<String> + Send + Sync);

/// Sees each write as it lands (the CLI's progress lines).
pub type Progress<'a> = &'a (dyn Fn(&GraphWrite) + Send + Sync);

/// The resource as one reconcile reads it, besides AWS.
#[derive(Clone, Copy)]
pub struct GraphTarget<'a> {
    pub spec: &'a DetectiveGraphSpec,
    /// The status written by the previous reconcile (graph ARN, inventory, backoff records).
    pub previous: Option<&'a DetectiveGraphStatus>,
    pub generation: Option<i64>,
    /// Who else manages a graph (the controller's claim check); `None` outside a cluster.
    pub claimed_by: Option<ClaimCheck<'a>>,
    pub progress: Option<Progress<'a>>,
    /// The organization listings this graph shares with the others of the process (the
    /// controller's, `sync -f`'s); `None`: it lists for itself.
    pub shared_listings: Option<&'a SharedListings>,
}

impl<'a> GraphTarget<'a> {
    /// A resource's spec, status and generation; no claim check, no progress, no shared listing.
    pub fn of(graph: &'a DetectiveGraph) -> Self {
        Self::new(&graph.spec, graph.status.as_ref(), graph.metadata.generation)
    }

    /// A spec, the previous status and the generation; no claim check, no progress, no shared
    /// listing.
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
            shared_listings: None,
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

    pub fn with_shared_listings(self, shared: &'a SharedListings) -> Self {
        Self {
            shared_listings: Some(shared),
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
pub struct GraphObservation {
    pub graph_arn: Option<String>,
    pub source: GraphSource,
    pub members: Vec<ObservedMember>,
    /// The graph's tags, read only when `spec.tags` is set (an empty map leaves tags alone).
    pub tags: Option<BTreeMap<String, String>>,
    /// The graph's datasource packages, read only when `spec.datasourcePackages` is set.
    pub packages: Option<PackageStates>,
}

/// One write the reconcile made, for progress lines, events and metrics.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GraphWrite {
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
pub struct GraphOutcome {
    pub observation: Option<GraphObservation>,
    pub plan: Option<Plan>,
    pub tag_changes: TagChanges,
    pub package_changes: PackageChanges,
    pub applied: Vec<GraphWrite>,
    /// Members whose StartMonitoringMember or AcceptInvitation the backoff postponed.
    pub deferred: Vec<String>,
    pub status: DetectiveGraphStatus,
    pub error: Option<SyncError>,
    pub requeue_after: Duration,
}

impl GraphOutcome {
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
pub fn failed(target: GraphTarget<'_>, error: SyncError, now: Timestamp) -> GraphOutcome {
    let inventory: BTreeSet<String> = target
        .previous
        .map(|s| s.inventory.iter().cloned().collect())
        .unwrap_or_default();
    let mut outcome = GraphOutcome::starting(Some(error));
    outcome.status = report(&target, &DesiredGraph::of(target.spec), &outcome, &inventory, now);
    outcome
}

/// Runs one reconcile of a valid spec ([`super::sync`] checks it) through `detective` (the
/// administrator account); `roles` reaches the member accounts for `spec.acceptInvitations` and
/// AWS Organizations for `spec.membersFrom`.
pub async fn reconcile<D: Detective, R: AssumeRole + ReachOrganizations>(
    detective: &D,
    roles: &R,
    target: GraphTarget<'_>,
    mode: Mode,
    now: Timestamp,
) -> GraphOutcome {
    let mode = mode.under(target.spec.management_policy);
    let previous = target.previous.cloned().unwrap_or_default();
    let progress = |write: &GraphWrite| {
        if let Some(progress) = target.progress {
            progress(write);
        }
    };

    let observation = match observe::observe(detective, target.spec, &previous, mode, &progress).await {
        Ok(observation) => observation,
        Err(error) => return failed(target, error, now),
    };
    if let Some(error) = claimed_elsewhere(&target, &observation) {
        return failed(target, error, now);
    }
    let source = ListingSource {
        reach: roles,
        shared: target.shared_listings,
    };
    let declared = declare(detective, source, target.spec, &observation, &previous, mode, now).await;
    let desired = match declared.desired {
        Ok(desired) => desired,
        Err(error) => {
            let mut outcome = failed(target, error, now);
            // Keep what was resolved, so that the next resync within the interval lists nothing.
            outcome.status.organization = declared.organization;
            return outcome;
        }
    };
    let mut outcome = decide(&desired, observation, &previous, now);
    let attempts = match mode {
        Mode::Apply => write(detective, roles, &desired, &mut outcome, &previous, now, &progress).await,
        Mode::DryRun => Attempts::default(),
    };
    if let Some(write) = declared.write {
        progress(&write);
        outcome.applied.push(write);
    }
    finish(&target, &desired, outcome, declared.organization, &attempts, mode, now)
}

/// The claim check: another resource already manages the observed graph.
fn claimed_elsewhere(target: &GraphTarget<'_>, observation: &GraphObservation) -> Option<SyncError> {
    let graph = observation.graph_arn.as_deref()?;
    let owner = (target.claimed_by?)(graph)?;
    Some(SyncError::GraphClaimed {
        graph: graph.to_owned(),
        owner,
    })
}

/// What the organization steps leave: the desired graph (or why there is none), what
/// `status.organization` records, and the write auto-enable made.
struct Declared<'a> {
    desired: Result<DesiredGraph<'a>, SyncError>,
    organization: Option<GraphOrganizationStatus>,
    write: Option<GraphWrite>,
}

/// The declare step: `spec.organization.autoEnable` first (a graph whose account is not the
/// delegated administrator resolves nothing), then the members `spec.membersFrom` resolves.
async fn declare<'a, D: Detective, R: ReachOrganizations>(
    detective: &D,
    listing: ListingSource<'_, R>,
    spec: &'a DetectiveGraphSpec,
    observation: &GraphObservation,
    previous: &DetectiveGraphStatus,
    mode: Mode,
    now: Timestamp,
) -> Declared<'a> {
    let mut declared = Declared {
        desired: Ok(DesiredGraph::of(spec)),
        organization: None,
        write: None,
    };
    let members_from = spec.members_from.as_ref().and_then(|from| from.organization.as_ref());
    let wanted_auto_enable = spec.organization.as_ref().and_then(|o| o.auto_enable);
    if members_from.is_none() && wanted_auto_enable.is_none() {
        return declared;
    }
    let known = previous.organization.clone().unwrap_or_default();
    let mut status = GraphOrganizationStatus {
        auto_enable: wanted_auto_enable.and(known.auto_enable),
        resolved: members_from.and(known.resolved),
        not_delegated_since: wanted_auto_enable.and(known.not_delegated_since),
        auto_enable_set_time: wanted_auto_enable.and(known.auto_enable_set_time),
    };
    if let (Some(wanted), Some(graph_arn)) = (wanted_auto_enable, observation.graph_arn.as_deref()) {
        let administrator = observation.administrator().unwrap_or_default();
        // The same value written by this operator a moment ago may not read back yet.
        let written_recently = known.auto_enable == Some(wanted)
            && status.auto_enable_set_time.as_ref().is_some_and(|set| {
                std::time::Duration::try_from(now.duration_since(set.0))
                    .is_ok_and(|since| since < auto_enable::AUTO_ENABLE_SHOWS_WITHIN)
            });
        match auto_enable::auto_enable(detective, graph_arn, administrator, wanted, written_recently, mode).await {
            Ok(done) => {
                status.auto_enable = Some(if written_recently { wanted } else { done.auto_enable });
                status.not_delegated_since = None;
                if done.write.is_some() {
                    status.auto_enable_set_time = Some(Time(now));
                }
                declared.write = done.write;
            }
            Err(error) => {
                // Refused as not the administrator: awaited from the first refusal on.
                let error = if error.is_not_delegated() {
                    let since = status.not_delegated_since.get_or_insert(Time(now)).0;
                    error.awaited(since, now)
                } else {
                    error
                };
                declared.desired = Err(error.into());
                declared.organization = Some(status);
                return declared;
            }
        }
    }
    if let Some(from) = members_from {
        let resolved =
            members_from::resolve_members(listing, spec, from, observation, status.resolved.as_ref(), now).await;
        status.resolved = resolved.resolved;
        declared.desired = resolved
            .members
            .map(|members| DesiredGraph::of(spec).with_members(members))
            .map_err(SyncError::from);
    }
    declared.organization = Some(status);
    declared
}

/// The decide step: the plan for the observed graph, its tag and package changes, and which
/// StartMonitoringMember calls the backoff postpones. Pure.
fn decide(
    desired: &DesiredGraph<'_>,
    observation: GraphObservation,
    previous: &DetectiveGraphStatus,
    now: Timestamp,
) -> GraphOutcome {
    let inventory: BTreeSet<String> = previous.inventory.iter().cloned().collect();
    let administrator = observation.administrator();
    let plan = decide::plan(
        desired,
        Observed {
            members: &observation.members,
            inventory: &inventory,
            administrator_account: administrator,
        },
    );
    let mut outcome = GraphOutcome::starting(None);
    if let GraphSource::Created = observation.source {
        let created = observation.graph_arn.clone().unwrap_or_default();
        outcome.applied.push(GraphWrite::GraphCreated(created));
    }
    if let Some(tags) = &observation.tags {
        outcome.tag_changes = decide::plan_tags(desired.tags, tags);
    }
    if let (Some(declared), Some(observed)) = (desired.datasource_packages, &observation.packages) {
        outcome.package_changes = decide::plan_packages(declared, observed);
    }
    outcome.deferred = plan
        .start_monitoring
        .iter()
        .filter(|account| !schedule::attempt_due(previous, account, now))
        .cloned()
        .collect();
    outcome.plan = Some(plan);
    outcome.observation = Some(observation);
    outcome
}

/// The apply and accept steps: the plan's writes as the administrator, then the invitations
/// accepted as the members; the observation is read back after writes that moved members.
/// Returns the member actions attempted, for their backoff.
async fn write<D: Detective, R: AssumeRole>(
    detective: &D,
    roles: &R,
    desired: &DesiredGraph<'_>,
    outcome: &mut GraphOutcome,
    previous: &DetectiveGraphStatus,
    now: Timestamp,
    progress: &(dyn Fn(&GraphWrite) + Send + Sync),
) -> Attempts {
    let (Some(plan), Some(observation)) = (&outcome.plan, &mut outcome.observation) else {
        return Attempts::default();
    };
    let Some(graph_arn) = observation.graph_arn.clone() else {
        return Attempts::default();
    };
    if plan.refusal.is_some() {
        return Attempts::default();
    }
    let monitoring_due: Vec<String> = plan
        .start_monitoring
        .iter()
        .filter(|account| !outcome.deferred.contains(account))
        .cloned()
        .collect();
    let work = apply::Work {
        graph_arn: &graph_arn,
        desired,
        plan,
        monitoring_due: &monitoring_due,
        tags: &outcome.tag_changes,
        packages: &outcome.package_changes,
    };
    let writes = apply::apply(detective, &work, std::mem::take(&mut observation.members), progress).await;
    observation.members = writes.members;
    outcome.applied.extend(writes.applied);
    outcome.error = writes.error.map(SyncError::from);
    let mut attempts = writes.attempts;
    record_started(&outcome.applied, observation.packages.as_mut());
    let wrote_members = outcome.applied.iter().any(|write| {
        !matches!(
            write,
            GraphWrite::GraphCreated(_) | GraphWrite::Tagged { .. } | GraphWrite::AutoEnableSet(_)
        )
    });
    if wrote_members {
        // Read the graph back so the status shows where the writes landed (verification is
        // usually quick; a started package shows in each member's ingest states), rather than
        // the state predicted from the responses.
        observe::reread(detective, &graph_arn, &mut observation.members).await;
    }
    if let Some(accepting) = desired.accept_invitations
        && outcome.error.is_none()
    {
        // Accept what is INVITED now, including the invitations this sync just sent.
        let invited = accept::invited(desired, &observation.members);
        let mut acceptance = accept::accept_invited(roles, &graph_arn, accepting, invited, previous, now).await;
        outcome.deferred.extend(acceptance.deferred.iter().cloned());
        outcome.error = acceptance.every_account_refused.take().map(SyncError::from);
        if acceptance.accepted_any() {
            observe::reread(detective, &graph_arn, &mut observation.members).await;
        }
        attempts.extend(acceptance.attempts);
        if let Some(write) = acceptance.applied {
            progress(&write);
            outcome.applied.push(write);
        }
    }
    attempts
}

/// The report step: the inventory after the writes, the status, and when to look again.
fn finish(
    target: &GraphTarget<'_>,
    desired: &DesiredGraph<'_>,
    mut outcome: GraphOutcome,
    organization: Option<GraphOrganizationStatus>,
    attempts: &Attempts,
    mode: Mode,
    now: Timestamp,
) -> GraphOutcome {
    let previous = target.previous.cloned().unwrap_or_default();
    let inventory: BTreeSet<String> = previous.inventory.iter().cloned().collect();
    let members_now = outcome
        .observation
        .as_ref()
        .map(|o| o.members.as_slice())
        .unwrap_or_default();
    let inventory_after = match mode {
        Mode::Apply => decide::next_inventory(desired, &inventory, members_now),
        Mode::DryRun => inventory,
    };
    let mut status = report(target, desired, &outcome, &inventory_after, now);
    status.organization = organization;
    schedule::record_attempts(&mut status, &previous, attempts, now);
    outcome.requeue_after = schedule::requeue_after(&status, desired.resync_interval, !outcome.applied.is_empty(), now);
    if let Some(refresh) = members_from::until_refresh(target.spec, &status, now) {
        outcome.requeue_after = outcome.requeue_after.min(refresh.max(SHORT_REQUEUE));
    }
    outcome.status = status;
    outcome
}

/// The packages an UpdateDatasourcePackages call started, as the response predicts them (it
/// has no body: a successful call started what it named).
fn record_started(applied: &[GraphWrite], packages: Option<&mut PackageStates>) {
    let Some(packages) = packages else {
        return;
    };
    for applied in applied {
        if let GraphWrite::PackagesStarted(started) = applied {
            for package in started {
                packages.insert(package.clone(), PackageIngest::Started);
            }
        }
    }
}

impl GraphObservation {
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
        let observed = |graph_arn: Option<&str>| GraphObservation {
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
