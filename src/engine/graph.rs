//! One reconcile of a `DetectiveGraph`: observe → plan → apply → report.
//!
//! The AWS reads and writes go through the [`Detective`] port; the decisions are the pure
//! [`plan`](crate::plan) and [`report`] functions.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use tracing::{info, warn};

use crate::api::conditions::{self, ConditionState, MEMBERS_HEALTHY, READY, STALLED, Verdict};
use crate::api::validation::parse_duration;
use futures::StreamExt;

use crate::api::{AcceptInvitationsSpec, DetectiveGraphSpec, DetectiveGraphStatus, MemberStatusEntry, MemberSummary};
use crate::aws::credentials::DEFAULT_SESSION_NAME;
use crate::aws::{AssumeRole, AwsError, Detective, RoleToAssume};
use crate::member::{InvitationType, MemberStatus, ObservedMember, UnprocessedAccount};
use crate::plan::{self, Observed, Plan, Step, TagChanges};

use super::{Mode, SHORT_REQUEUE, SyncError, abbreviated};

/// Backoff of repeated member actions (StartMonitoringMember, AcceptInvitation): 1, 2, 4, ...
/// minutes, capped.
const ATTEMPT_BACKOFF_BASE: Duration = Duration::from_secs(60);
const ATTEMPT_BACKOFF_CAP: Duration = Duration::from_secs(3600);

/// Answers "who else manages this graph?" with that resource's `namespace/name`.
pub type ClaimCheck<'a> = &'a (dyn Fn(&str) -> Option<String> + Send + Sync);

/// What one reconcile reads besides AWS.
#[derive(Clone, Copy)]
pub struct Target<'a> {
    pub spec: &'a DetectiveGraphSpec,
    /// The status written by the previous reconcile (graph ARN, inventory, backoff records).
    pub previous: Option<&'a DetectiveGraphStatus>,
    pub generation: Option<i64>,
    /// Who else manages a graph (the controller's claim check); `None` outside a cluster.
    pub claimed_by: Option<ClaimCheck<'a>>,
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
}

/// One write the apply made, for progress lines, events and metrics.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Applied {
    GraphCreated(String),
    Deleted {
        accounts: usize,
        unprocessed: usize,
    },
    Invited {
        accounts: usize,
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
}

/// Everything one reconcile decided and did.
#[derive(Debug)]
pub struct Outcome {
    pub observation: Option<Observation>,
    pub plan: Option<Plan>,
    pub tag_changes: TagChanges,
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
            applied: Vec::new(),
            deferred: Vec::new(),
            status: DetectiveGraphStatus::default(),
            error,
            requeue_after: SHORT_REQUEUE,
        }
    }

    /// Whether the resource ended needing a human (the controller does not retry on its own).
    pub fn is_stalled(&self) -> bool {
        conditions::is_true(&self.status.conditions, STALLED)
    }

    pub fn is_ready(&self) -> bool {
        conditions::is_true(&self.status.conditions, READY)
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

/// Runs one reconcile. `progress` sees each write as it lands.
pub async fn reconcile<D: Detective, R: AssumeRole>(
    detective: &D,
    roles: &R,
    target: Target<'_>,
    mode: Mode,
    now: Timestamp,
    progress: &mut (dyn FnMut(&Applied) + Send),
) -> Outcome {
    let previous = target.previous.cloned().unwrap_or_default();
    let inventory: BTreeSet<String> = previous.inventory.iter().cloned().collect();

    if let Err(errors) = target.spec.validate() {
        return failed(target, SyncError::InvalidSpec(errors), now);
    }

    let mut observation = match observe(detective, target.spec, &previous, mode, progress).await {
        Ok(observation) => observation,
        Err(error) => return failed(target, error, now),
    };
    if let (Some(graph), Some(claimed_by)) = (observation.graph_arn.as_deref(), target.claimed_by)
        && let Some(owner) = claimed_by(graph)
    {
        let graph = graph.to_owned();
        return failed(target, SyncError::GraphClaimed { graph, owner }, now);
    }
    let administrator = observation.graph_arn.as_deref().and_then(administrator_of);
    let plan = plan::plan(
        target.spec,
        Observed {
            members: &observation.members,
            inventory: &inventory,
            administrator_account: administrator.as_deref(),
        },
    );
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
    let (due, deferred): (Vec<String>, Vec<String>) = plan
        .start_monitoring
        .iter()
        .cloned()
        .partition(|account| attempt_due(&previous, account, now));
    outcome.deferred = deferred;

    let mut unprocessed = Vec::new();
    let mut monitoring_attempted = Vec::new();
    if mode == Mode::Apply
        && plan.refusal.is_none()
        && let Some(graph_arn) = observation.graph_arn.clone()
    {
        let writes = apply(
            detective,
            &graph_arn,
            target.spec,
            &plan,
            &due,
            &outcome.tag_changes,
            &mut observation.members,
            &mut unprocessed,
            &mut monitoring_attempted,
            &mut |applied| {
                progress(&applied);
                outcome.applied.push(applied);
            },
        )
        .await;
        if let Err(error) = writes {
            outcome.error = Some(error.into());
        }
        let wrote_members = outcome
            .applied
            .iter()
            .any(|a| !matches!(a, Applied::GraphCreated(_) | Applied::Tagged { .. }));
        if wrote_members {
            // Read the graph back so the status shows where the writes landed (verification is
            // usually quick), rather than the state predicted from the responses.
            reread(detective, &graph_arn, &mut observation.members).await;
        }
        if let Some(accepting) = &target.spec.accept_invitations
            && outcome.error.is_none()
        {
            // Accept what is INVITED now, including the invitations this sync just sent.
            let invited_now = plan::plan(
                target.spec,
                Observed {
                    members: &observation.members,
                    inventory: &inventory,
                    administrator_account: administrator.as_deref(),
                },
            )
            .accept;
            let (accounts, waiting): (Vec<String>, Vec<String>) =
                invited_now.into_iter().partition(|a| attempt_due(&previous, a, now));
            outcome.deferred.extend(waiting);
            if !accounts.is_empty() {
                let results = accept_all(roles, &graph_arn, accepting, &accounts).await;
                let accepted = results.iter().filter(|(_, r)| r.is_ok()).count();
                for (account, result) in results {
                    monitoring_attempted.push(account.clone());
                    if let Err(reason) = result {
                        unprocessed.push(UnprocessedAccount {
                            account_id: account,
                            reason,
                        });
                    }
                }
                let applied = Applied::Accepted {
                    accounts: accepted,
                    failed: accounts.len() - accepted,
                };
                progress(&applied);
                outcome.applied.push(applied);
                if accepted > 0 {
                    reread(detective, &graph_arn, &mut observation.members).await;
                }
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
    let mut status = report(&target, &outcome, &inventory_after, now);
    record_attempts(&mut status, &previous, &monitoring_attempted, &unprocessed, now);
    outcome.requeue_after = requeue_after(&status, target.spec, &outcome, now);
    outcome.status = status;
    outcome
}

/// Finds (or, when applying, creates) the graph and reads its members.
async fn observe<D: Detective>(
    detective: &D,
    spec: &DetectiveGraphSpec,
    previous: &DetectiveGraphStatus,
    mode: Mode,
    progress: &mut (dyn FnMut(&Applied) + Send),
) -> Result<Observation, SyncError> {
    let known = spec.graph_arn.clone().or_else(|| previous.graph_arn.clone());
    let (graph_arn, source) = match known {
        Some(arn) => (Some(arn), GraphSource::Declared),
        None => match detective.list_graphs().await?.into_iter().next() {
            Some(graph) => (Some(graph.arn), GraphSource::Discovered),
            None if mode == Mode::DryRun => (None, GraphSource::WouldCreate),
            None => {
                let arn = detective.create_graph(&spec.tags).await?;
                info!(graph = %arn, "created behavior graph");
                progress(&Applied::GraphCreated(arn.clone()));
                (Some(arn), GraphSource::Created)
            }
        },
    };
    let (members, tags) = match &graph_arn {
        Some(arn) => {
            let members = detective.list_members(arn).await?;
            let tags = if spec.tags.is_empty() || source == GraphSource::Created {
                None
            } else {
                Some(detective.list_tags(arn).await?)
            };
            (members, tags)
        }
        None => (Vec::new(), None),
    };
    Ok(Observation {
        graph_arn,
        source,
        members,
        tags,
    })
}

/// Applies the plan's writes in order; stops at the first failed call, keeping what landed.
#[allow(clippy::too_many_arguments)]
async fn apply<D: Detective>(
    detective: &D,
    graph_arn: &str,
    spec: &DetectiveGraphSpec,
    plan: &Plan,
    monitoring_due: &[String],
    tags: &TagChanges,
    members: &mut Vec<ObservedMember>,
    unprocessed: &mut Vec<UnprocessedAccount>,
    monitoring_attempted: &mut Vec<String>,
    record: &mut (dyn FnMut(Applied) + Send),
) -> Result<(), AwsError> {
    for step in plan.steps() {
        match step {
            Step::DeleteMembers(accounts) => {
                let outcome = detective.delete_members(graph_arn, &accounts).await?;
                let deleted: BTreeSet<&str> = outcome.deleted.iter().map(String::as_str).collect();
                members.retain(|m| !deleted.contains(m.account_id.as_str()));
                record(Applied::Deleted {
                    accounts: outcome.deleted.len(),
                    unprocessed: outcome.unprocessed.len(),
                });
                unprocessed.extend(outcome.unprocessed);
            }
            Step::CreateMembers(accounts) => {
                let outcome = detective.create_members(graph_arn, &accounts, &spec.invitation).await?;
                let created: BTreeSet<&str> = outcome.members.iter().map(|m| m.account_id.as_str()).collect();
                members.retain(|m| !created.contains(m.account_id.as_str()));
                record(Applied::Invited {
                    accounts: outcome.members.len(),
                    unprocessed: outcome.unprocessed.len(),
                });
                members.extend(outcome.members);
                unprocessed.extend(outcome.unprocessed);
            }
            Step::StartMonitoring(account) => {
                if !monitoring_due.contains(&account) {
                    continue;
                }
                detective.start_monitoring_member(graph_arn, &account).await?;
                monitoring_attempted.push(account.clone());
                record(Applied::MonitoringStarted(account));
            }
        }
    }
    if !tags.is_empty() {
        if !tags.set.is_empty() {
            detective.tag_resource(graph_arn, &tags.set).await?;
        }
        if !tags.remove.is_empty() {
            detective.untag_resource(graph_arn, &tags.remove).await?;
        }
        record(Applied::Tagged {
            set: tags.set.len(),
            removed: tags.remove.len(),
        });
    }
    Ok(())
}

/// Replaces `members` with a fresh read; on failure keeps the state predicted from responses.
async fn reread<D: Detective>(detective: &D, graph_arn: &str, members: &mut Vec<ObservedMember>) {
    match detective.list_members(graph_arn).await {
        Ok(fresh) => *members = fresh,
        Err(error) => warn!(%error, "could not read members back after applying; reporting the predicted state"),
    }
}

/// How many member roles are assumed and used at the same time.
const ACCEPT_CONCURRENCY: usize = 8;

/// Accepts the invitations of `accounts` as each of them, through `role_name` in each account.
/// One account's failure (a role that cannot be assumed) is its own and blocks no other.
async fn accept_all<R: AssumeRole>(
    roles: &R,
    graph_arn: &str,
    accepting: &AcceptInvitationsSpec,
    accounts: &[String],
) -> Vec<(String, Result<(), String>)> {
    let mut parts = graph_arn.split(':');
    let partition = parts.nth(1).unwrap_or("aws").to_owned();
    let region = parts.nth(1).unwrap_or_default().to_owned();
    let mut calls = Vec::with_capacity(accounts.len());
    for account in accounts {
        let account = account.clone();
        let role = RoleToAssume {
            role_arn: format!("arn:{partition}:iam::{account}:role/{}", accepting.role_name),
            external_id: accepting.external_id.clone(),
            session_name: Some(
                accepting
                    .session_name
                    .clone()
                    .unwrap_or_else(|| DEFAULT_SESSION_NAME.to_owned()),
            ),
        };
        let region = region.clone();
        calls.push(async move {
            let result = match roles.assume(&role, &region).await {
                Ok(member) => member.accept_invitation(graph_arn).await,
                Err(error) => Err(error),
            };
            (
                account,
                result.map_err(|e| format!("AcceptInvitation as {}: {e}", role.role_arn)),
            )
        });
    }
    futures::stream::iter(calls)
        .buffer_unordered(ACCEPT_CONCURRENCY)
        .collect()
        .await
}

/// The administrator account of a graph: the account field of its ARN.
pub fn administrator_of(graph_arn: &str) -> Option<String> {
    graph_arn.split(':').nth(4).filter(|a| !a.is_empty()).map(str::to_owned)
}

/// Whether the backoff of a member's repeated action (StartMonitoringMember, AcceptInvitation)
/// has elapsed.
fn attempt_due(previous: &DetectiveGraphStatus, account: &str, now: Timestamp) -> bool {
    let Some(entry) = previous.members.iter().find(|m| m.account_id == account) else {
        return true;
    };
    let (Some(attempts), Some(Time(last))) = (entry.attempts, entry.last_attempt_time.as_ref()) else {
        return true;
    };
    let wait = attempt_backoff(attempts);
    now.duration_since(*last) >= SignedDuration::try_from(wait).unwrap_or(SignedDuration::MAX)
}

fn attempt_backoff(attempts: i32) -> Duration {
    let doublings = u32::try_from(attempts.saturating_sub(1)).unwrap_or(0).min(10);
    (ATTEMPT_BACKOFF_BASE * 2u32.pow(doublings)).min(ATTEMPT_BACKOFF_CAP)
}

/// Carries action attempts (kept while a member stays in the same state) and per-member errors
/// into the new status.
fn record_attempts(
    status: &mut DetectiveGraphStatus,
    previous: &DetectiveGraphStatus,
    attempted: &[String],
    unprocessed: &[UnprocessedAccount],
    now: Timestamp,
) {
    for entry in &mut status.members {
        let before = previous
            .members
            .iter()
            .find(|m| m.account_id == entry.account_id && m.status == entry.status);
        let attempts = before.and_then(|b| b.attempts).unwrap_or(0);
        if attempted.contains(&entry.account_id) {
            entry.attempts = Some(attempts + 1);
            entry.last_attempt_time = Some(Time(now));
        } else if attempts > 0 {
            entry.attempts = Some(attempts);
            entry.last_attempt_time = before.and_then(|b| b.last_attempt_time.clone());
        }
        if let Some(refused) = unprocessed.iter().find(|u| u.account_id == entry.account_id) {
            entry.last_error = Some(refused.reason.clone());
        } else if attempts > 0 && !attempted.contains(&entry.account_id) {
            entry.last_error = before.and_then(|b| b.last_error.clone());
        }
    }
}

/// The status that describes the outcome. Pure: the clock comes in as `now`.
pub fn report(
    target: &Target<'_>,
    outcome: &Outcome,
    inventory: &BTreeSet<String>,
    now: Timestamp,
) -> DetectiveGraphStatus {
    let previous = target.previous.cloned().unwrap_or_default();
    let spec = target.spec;
    let declared: BTreeMap<&str, &str> = spec
        .members
        .iter()
        .map(|m| (m.account_id.as_str(), m.email_address.as_str()))
        .collect();
    let observation = outcome.observation.as_ref();

    let (members, summary) = match observation {
        Some(observation) => {
            let mut members: Vec<MemberStatusEntry> = observation
                .members
                .iter()
                .map(|m| MemberStatusEntry {
                    account_id: m.account_id.clone(),
                    status: m.status.as_str().to_owned(),
                    disabled_reason: m.disabled_reason.clone(),
                    invitation_type: Some(m.invitation_type.as_str().to_owned()),
                    declared: declared.contains_key(m.account_id.as_str()),
                    invited_time: m.invited_time.map(Time),
                    updated_time: m.updated_time.map(Time),
                    ..Default::default()
                })
                .collect();
            members.sort_by(|a, b| a.account_id.cmp(&b.account_id));
            let summary = summarize(&declared, &observation.members);
            (members, Some(summary))
        }
        // Nothing was read: keep what the previous status knew rather than blank it out.
        None => (previous.members.clone(), previous.summary.clone()),
    };

    let graph_arn = observation
        .and_then(|o| o.graph_arn.clone())
        .or_else(|| previous.graph_arn.clone());
    let graph_created = previous.graph_created || observation.is_some_and(|o| o.source == GraphSource::Created);
    let states = condition_states(spec, outcome, observation, &declared);
    DetectiveGraphStatus {
        observed_generation: target.generation,
        graph_arn,
        graph_created,
        conditions: conditions::merge(&previous.conditions, &states, target.generation, now),
        summary,
        members,
        inventory: inventory.iter().cloned().collect(),
        last_sync_time: if observation.is_some() {
            Some(Time(now))
        } else {
            previous.last_sync_time.clone()
        },
    }
}

fn summarize(declared: &BTreeMap<&str, &str>, members: &[ObservedMember]) -> MemberSummary {
    let count = |status: MemberStatus| count_i32(members.iter().filter(|m| m.status == status).count());
    let present: BTreeSet<&str> = members.iter().map(|m| m.account_id.as_str()).collect();
    MemberSummary {
        desired: count_i32(declared.len()),
        missing: count_i32(declared.keys().filter(|a| !present.contains(*a)).count()),
        undeclared: count_i32(present.iter().filter(|a| !declared.contains_key(*a)).count()),
        enabled: count(MemberStatus::Enabled),
        invited: count(MemberStatus::Invited),
        verification_in_progress: count(MemberStatus::VerificationInProgress),
        verification_failed: count(MemberStatus::VerificationFailed),
        accepted_but_disabled: count(MemberStatus::AcceptedButDisabled),
    }
}

fn count_i32(n: usize) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

/// The kstatus conditions for an outcome; see the README's "Status" section for their meaning.
fn condition_states(
    spec: &DetectiveGraphSpec,
    outcome: &Outcome,
    observation: Option<&Observation>,
    declared: &BTreeMap<&str, &str>,
) -> Vec<ConditionState> {
    let mut states = verdict(spec, outcome, observation, declared).states().to_vec();
    if let Some(observation) = observation {
        let declared_members: Vec<&ObservedMember> = observation
            .members
            .iter()
            .filter(|m| declared.contains_key(m.account_id.as_str()))
            .collect();
        let enabled = declared_members
            .iter()
            .filter(|m| m.status == MemberStatus::Enabled)
            .count();
        let healthy = enabled == declared.len();
        states.push(ConditionState::new(
            MEMBERS_HEALTHY,
            healthy,
            if healthy { "AllEnabled" } else { "NotAllEnabled" },
            format!("{enabled} of {} declared members are enabled", declared.len()),
        ));
    }
    states
}

/// Ready / Reconciling / Stalled for an outcome, in order of precedence.
fn verdict(
    spec: &DetectiveGraphSpec,
    outcome: &Outcome,
    observation: Option<&Observation>,
    declared: &BTreeMap<&str, &str>,
) -> Verdict {
    if let Some(error) = &outcome.error {
        return error.verdict();
    }
    let (Some(observation), Some(plan)) = (observation, outcome.plan.as_ref()) else {
        return Verdict::progressing("Unknown", "not reconciled yet");
    };
    if let Some(refusal) = &plan.refusal {
        return Verdict::stalled("DeletionGuard", refusal.to_string());
    }
    if observation.source == GraphSource::WouldCreate {
        return Verdict::progressing("GraphMissing", "no behavior graph yet: a sync creates one");
    }
    let by_id: BTreeMap<&str, &ObservedMember> =
        observation.members.iter().map(|m| (m.account_id.as_str(), m)).collect();
    let administrator = observation.graph_arn.as_deref().and_then(administrator_of);
    let mut missing = Vec::new();
    let mut verifying = Vec::new();
    let mut failed = Vec::new();
    let mut invited = Vec::new();
    let mut disabled = Vec::new();
    for &account in declared.keys() {
        if administrator.as_deref() == Some(account) {
            continue;
        }
        match by_id.get(account).map(|m| (&m.status, m.invitation_type)) {
            None => missing.push(account),
            Some((MemberStatus::VerificationInProgress, _)) => verifying.push(account),
            Some((MemberStatus::VerificationFailed, _)) => failed.push(account),
            Some((MemberStatus::Invited, InvitationType::Invitation)) => invited.push(account),
            Some((MemberStatus::AcceptedButDisabled, _)) if spec.monitoring.auto_start => disabled.push(account),
            Some(_) => {}
        }
    }
    let waiting = [
        (missing.as_slice(), "not yet invited"),
        (verifying.as_slice(), "being verified"),
        (
            invited.as_slice(),
            if spec.accept_invitations.is_some() {
                "invited, accepting as the member (spec.acceptInvitations, with backoff)"
            } else {
                "invited, waiting for the member account to accept"
            },
        ),
        (
            disabled.as_slice(),
            "accepted but not monitored (StartMonitoringMember with backoff)",
        ),
    ];
    let mut pending: Vec<String> = waiting
        .iter()
        .filter(|(accounts, _)| !accounts.is_empty())
        .map(|(accounts, what)| format!("{} {what} ({})", accounts.len(), abbreviated(accounts)))
        .collect();
    // The members were read back after any write, so what is still pending shows in them; a plan
    // that was not applied (a dry run) is pending as a whole.
    if outcome.applied.is_empty() && !plan.remove.is_empty() {
        pending.push(format!(
            "{} undeclared members to remove ({})",
            plan.remove.len(),
            abbreviated(&plan.remove.iter().map(String::as_str).collect::<Vec<_>>())
        ));
    }
    if outcome.applied.is_empty() && !outcome.tag_changes.is_empty() {
        pending.push("graph tags to update".to_owned());
    }
    if !pending.is_empty() {
        return Verdict::progressing("Progressing", pending.join("; "));
    }
    if !failed.is_empty() {
        // A member-level problem, not the operator's: the graph is as declared, the member's
        // owner or the spec's e-mail must change. Reported, not Stalled (which means the operator
        // cannot act at all); MembersHealthy and status.members carry the detail.
        let message = format!(
            "{} members failed verification ({}): correct their emailAddress in spec.members to invite them again",
            failed.len(),
            abbreviated(&failed)
        );
        return Verdict::not_ready("VerificationFailed", message);
    }
    Verdict::ready("Synced", format!("{} declared members in the graph", declared.len()))
}

/// When to reconcile again: soon while something moves, at `resyncInterval` otherwise.
///
/// - members being verified, or writes that just landed: [`SHORT_REQUEUE`];
/// - declared members waiting in INVITED: a quarter of the youngest invitation's age, so a fresh
///   invitation is looked at within seconds and one that nobody answers is not polled every 10 s;
/// - a member action waiting for its backoff (StartMonitoringMember, AcceptInvitation): when it
///   is due;
///
/// each at least [`SHORT_REQUEUE`] and at most `resyncInterval`.
fn requeue_after(
    status: &DetectiveGraphStatus,
    spec: &DetectiveGraphSpec,
    outcome: &Outcome,
    now: Timestamp,
) -> Duration {
    let resync = parse_duration(&spec.resync_interval).unwrap_or(Duration::from_secs(300));
    let clamp = |wait: Duration| wait.clamp(SHORT_REQUEUE.min(resync), resync);
    let in_transit = status
        .members
        .iter()
        .any(|m| MemberStatus::parse(&m.status).in_transit());
    if in_transit || !outcome.applied.is_empty() {
        return clamp(SHORT_REQUEUE);
    }
    let since = |time: &Option<Time>| {
        time.as_ref()
            .and_then(|Time(t)| Duration::try_from(now.duration_since(*t)).ok())
            .unwrap_or_default()
    };
    let awaiting_acceptance = status
        .members
        .iter()
        .filter(|m| m.declared && m.status == MemberStatus::Invited.as_str())
        .map(|m| clamp(since(&m.updated_time.clone().or(m.invited_time.clone())) / 4));
    let backoff_due = status.members.iter().filter_map(|m| {
        let attempts = m.attempts?;
        Some(clamp(
            attempt_backoff(attempts).saturating_sub(since(&m.last_attempt_time)),
        ))
    });
    awaiting_acceptance.chain(backoff_due).min().unwrap_or(resync)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn administrator_comes_from_the_arn() {
        assert_eq!(
            administrator_of("arn:aws:detective:us-east-1:123456789012:graph:0123456789abcdef0123456789abcdef"),
            Some("123456789012".to_owned())
        );
        assert_eq!(administrator_of("nonsense"), None);
    }

    #[test]
    fn monitoring_backoff_doubles_and_caps() {
        assert_eq!(attempt_backoff(1), Duration::from_secs(60));
        assert_eq!(attempt_backoff(2), Duration::from_secs(120));
        assert_eq!(attempt_backoff(4), Duration::from_secs(480));
        assert_eq!(attempt_backoff(30), ATTEMPT_BACKOFF_CAP);
    }

    #[test]
    fn invited_members_are_looked_at_sooner_the_fresher_their_invitation() {
        let spec: DetectiveGraphSpec = serde_json::from_value(serde_json::json!({"resyncInterval": "5m"})).unwrap();
        let now = Timestamp::from_second(1_000_000).unwrap();
        let invited = |age_secs: i64| MemberStatusEntry {
            account_id: "111111111111".into(),
            status: "INVITED".into(),
            declared: true,
            updated_time: Some(Time(now - SignedDuration::from_secs(age_secs))),
            ..Default::default()
        };
        let status = |members| DetectiveGraphStatus {
            members,
            ..Default::default()
        };
        let idle = Outcome::starting(None);
        assert_eq!(
            requeue_after(&status(vec![invited(5)]), &spec, &idle, now),
            SHORT_REQUEUE
        );
        assert_eq!(
            requeue_after(&status(vec![invited(240)]), &spec, &idle, now),
            Duration::from_secs(60)
        );
        assert_eq!(
            requeue_after(&status(vec![invited(7200)]), &spec, &idle, now),
            Duration::from_secs(300)
        );
        assert_eq!(
            requeue_after(&status(vec![]), &spec, &idle, now),
            Duration::from_secs(300)
        );
        let mut backing_off = invited(7200);
        backing_off.status = "ACCEPTED_BUT_DISABLED".into();
        backing_off.attempts = Some(2);
        backing_off.last_attempt_time = Some(Time(now - SignedDuration::from_secs(60)));
        assert_eq!(
            requeue_after(&status(vec![backing_off]), &spec, &idle, now),
            Duration::from_secs(60),
            "the second attempt waits 2 minutes, 1 is left"
        );
    }

    #[test]
    fn long_account_lists_are_abbreviated() {
        let ids: Vec<String> = (0..8).map(|i| format!("{i:012}")).collect();
        let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
        let text = abbreviated(&refs);
        assert!(text.ends_with("and 3 more"), "{text}");
        assert_eq!(text.matches(", ").count(), 5);
    }
}
