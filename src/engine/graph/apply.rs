//! Apply: the plan's writes, in order, and what they did as a value.

use std::collections::BTreeSet;

use super::GraphWrite;
use super::decide::{PackageChanges, Plan, Step, TagChanges};
use super::desired::DesiredGraph;
use super::schedule::Attempts;
use crate::aws::{AwsError, Detective};
use crate::member::{InvitationSettings, InvitationType, Invitee, ObservedMember};

/// What to write to one graph.
pub struct Work<'a> {
    pub graph_arn: &'a str,
    pub desired: &'a DesiredGraph<'a>,
    pub plan: &'a Plan,
    /// The StartMonitoringMember calls whose backoff has elapsed.
    pub monitoring_due: &'a [String],
    pub tags: &'a TagChanges,
    pub packages: &'a PackageChanges,
}

/// What the writes did.
#[derive(Debug, Default)]
pub struct Writes {
    pub applied: Vec<GraphWrite>,
    /// The members as the responses predict them (before the graph is read back).
    pub members: Vec<ObservedMember>,
    /// The StartMonitoringMember calls made, and the accounts a batch call did not process.
    pub attempts: Attempts,
    /// The call that stopped the apply; the writes before it landed.
    pub error: Option<AwsError>,
}

impl Writes {
    /// Drops `accounts` from the predicted members: a write removed them, or replaced them with
    /// what its response reports.
    fn forget<'a>(&mut self, accounts: impl IntoIterator<Item = &'a str>) {
        let gone: BTreeSet<&str> = accounts.into_iter().collect();
        self.members.retain(|m| !gone.contains(m.account_id.as_str()));
    }
}

/// Applies the work in order; stops at the first failed call, keeping what landed.
/// `progress` sees each write as it lands.
pub async fn apply<D: Detective>(
    detective: &D,
    work: &Work<'_>,
    members: Vec<ObservedMember>,
    progress: &(dyn Fn(&GraphWrite) + Send + Sync),
) -> Writes {
    let mut writes = Writes {
        members,
        ..Writes::default()
    };
    if let Err(error) = write_all(detective, work, &mut writes, progress).await {
        writes.error = Some(error);
    }
    writes
}

async fn write_all<D: Detective>(
    detective: &D,
    work: &Work<'_>,
    writes: &mut Writes,
    progress: &(dyn Fn(&GraphWrite) + Send + Sync),
) -> Result<(), AwsError> {
    let graph_arn = work.graph_arn;
    let record = |writes: &mut Writes, applied: GraphWrite| {
        progress(&applied);
        writes.applied.push(applied);
    };
    for step in work.plan.steps() {
        match step {
            Step::DeleteMembers(accounts) => {
                let outcome = detective.delete_members(graph_arn, &accounts).await?;
                writes.forget(outcome.deleted.iter().map(String::as_str));
                let applied = GraphWrite::Deleted {
                    accounts: outcome.deleted.len(),
                    unprocessed: outcome.unprocessed.len(),
                };
                record(writes, applied);
                writes.attempts.unprocessed.extend(outcome.unprocessed);
            }
            Step::CreateMembers(accounts) => {
                let invitees: Vec<Invitee> = accounts.iter().map(Invitee::from).collect();
                let invitation = InvitationSettings::from(work.desired.invitation);
                let outcome = detective.create_members(graph_arn, &invitees, &invitation).await?;
                writes.forget(outcome.members.iter().map(|m| m.account_id.as_str()));
                let enabled = outcome
                    .members
                    .iter()
                    .filter(|member| member.invitation_type == InvitationType::Organization)
                    .count();
                let applied = GraphWrite::MembersCreated {
                    invited: outcome.members.len() - enabled,
                    enabled,
                    unprocessed: outcome.unprocessed.len(),
                };
                record(writes, applied);
                writes.members.extend(outcome.members);
                writes.attempts.unprocessed.extend(outcome.unprocessed);
            }
            Step::StartMonitoring(account) => {
                if !work.monitoring_due.contains(&account) {
                    continue;
                }
                detective.start_monitoring_member(graph_arn, &account).await?;
                writes.attempts.attempted.push(account.clone());
                record(writes, GraphWrite::MonitoringStarted(account));
            }
        }
    }
    let tags = work.tags;
    if !tags.is_empty() {
        if !tags.set.is_empty() {
            detective.tag_resource(graph_arn, &tags.set).await?;
        }
        if !tags.remove.is_empty() {
            detective.untag_resource(graph_arn, &tags.remove).await?;
        }
        let applied = GraphWrite::Tagged {
            set: tags.set.len(),
            removed: tags.remove.len(),
        };
        record(writes, applied);
    }
    if !work.packages.is_empty() {
        let start = work.packages.start_names();
        detective.update_datasource_packages(graph_arn, &start).await?;
        record(writes, GraphWrite::PackagesStarted(start));
    }
    Ok(())
}
