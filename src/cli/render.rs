//! How the command line shows what the engine did: plans (`plan`, and `sync` before it writes),
//! progress lines, member tables.

use std::collections::BTreeSet;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use serde::Serialize;

use super::manifest::{GraphDocument, Origin};
use crate::api::{DetectiveGraph, DetectiveGraphSpec, MemberStatusEntry, Pruning};
use crate::engine::graph::decide::{IgnoredReason, KeptReason};
use crate::engine::graph::pending;
use crate::engine::{GraphOutcome, GraphSource, GraphWrite, SyncError};
use crate::member::InvitationType;

/// What the plan of a resource of any kind says first: which resource, from where, whether a sync
/// would change anything, and what would stop it (`plan`'s exit code reads these).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PlanVerdict {
    pub resource: String,
    pub origin: String,
    /// What a sync would refuse to do: the deletion guard's refusal, Regions another account
    /// administers.
    pub refused: Option<String>,
    pub error: Option<String>,
    pub changes: bool,
}

impl PlanVerdict {
    /// The verdict before the plan is read: no change, nothing refused.
    pub fn new(resource: String, origin: &Origin, error: Option<&SyncError>) -> Self {
        Self {
            resource,
            origin: origin.to_string(),
            refused: None,
            error: error.map(ToString::to_string),
            changes: false,
        }
    }

    /// Whether a sync would fail or be refused.
    pub fn failed(&self) -> bool {
        self.error.is_some() || self.refused.is_some()
    }
}

/// The plan of one `DetectiveGraph`, as `-o json` prints it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PlanReport {
    #[serde(flatten)]
    pub verdict: PlanVerdict,
    pub graph_arn: Option<String>,
    /// `declared`, `discovered`, or `create` when the sync would create the graph.
    pub graph: &'static str,
    /// Accounts of the organization to add (from `membersFrom.organization`, or known as
    /// organization members): CreateMembers enables them, with no invitation.
    pub enable: Vec<String>,
    /// The other accounts to add: CreateMembers invites them.
    pub invite: Vec<String>,
    pub reinvite: Vec<String>,
    pub remove: Vec<String>,
    pub start_monitoring: Vec<String>,
    /// INVITED members whose invitation is accepted as the member (`spec.acceptInvitations`).
    pub accept: Vec<String>,
    pub kept: Vec<KeptReport>,
    pub ignored: Vec<String>,
    pub tags_set: Vec<String>,
    pub tags_removed: Vec<String>,
    /// Declared datasource packages the sync starts (UpdateDatasourcePackages).
    pub start_packages: Vec<String>,
    /// Started packages that are not declared: reported, never stopped (the API cannot).
    pub undeclared_packages: Vec<String>,
    pub notes: Vec<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct KeptReport {
    pub account_id: String,
    pub reason: &'static str,
}

/// Summarizes an engine outcome as a plan.
pub fn report(document: &GraphDocument, outcome: &GraphOutcome) -> PlanReport {
    let spec = &document.graph.spec;
    let mut report = PlanReport {
        verdict: PlanVerdict::new(document.graph.key(), &document.origin, outcome.error.as_ref()),
        graph_arn: outcome.observation.as_ref().and_then(|o| o.graph_arn.clone()),
        graph: match outcome.observation.as_ref().map(|o| &o.source) {
            Some(GraphSource::WouldCreate) => "create",
            Some(GraphSource::Discovered) => "discovered",
            Some(GraphSource::Created) => "created",
            _ => "declared",
        },
        enable: Vec::new(),
        invite: Vec::new(),
        reinvite: Vec::new(),
        remove: Vec::new(),
        start_monitoring: Vec::new(),
        accept: Vec::new(),
        kept: Vec::new(),
        ignored: Vec::new(),
        tags_set: outcome.tag_changes.set.keys().cloned().collect(),
        tags_removed: outcome.tag_changes.remove.clone(),
        start_packages: outcome.package_changes.start_names(),
        undeclared_packages: outcome
            .package_changes
            .undeclared
            .iter()
            .map(|p| p.as_str().to_owned())
            .collect(),
        notes: Vec::new(),
    };
    if let Some(plan) = &outcome.plan {
        let organization = organization_accounts(document, outcome);
        (report.enable, report.invite) = plan
            .invite
            .iter()
            .map(|m| m.account_id.clone())
            .partition(|account| organization.contains(account.as_str()));
        if !report.invite.is_empty() && document.uses_organization() {
            report.notes.push(
                "in the organization's behavior graph, an account of the organization among those to invite is \
                 enabled instead, without an invitation"
                    .to_owned(),
            );
        }
        report.reinvite = plan.reinvite.iter().map(|m| m.account_id.clone()).collect();
        report.remove = plan.remove.clone();
        report.start_monitoring = plan.start_monitoring.clone();
        report.accept = plan.accept.clone();
        report.kept = plan
            .kept
            .iter()
            .map(|k| KeptReport {
                account_id: k.account_id.clone(),
                reason: match k.reason {
                    KeptReason::NotInInventory => "not in status.inventory (pruning: Managed)",
                    KeptReason::PruningDisabled => "pruning: Disabled",
                },
            })
            .collect();
        report.ignored = plan
            .ignored
            .iter()
            .map(|i| match i.reason {
                IgnoredReason::AdministratorAccount => {
                    format!(
                        "{} is the graph's administrator account, never its member",
                        i.account_id
                    )
                }
            })
            .collect();
        report.verdict.refused = plan.refusal.as_ref().map(ToString::to_string);
        let inventory_empty = document.graph.status.as_ref().is_none_or(|s| s.inventory.is_empty());
        let unmanaged = plan
            .kept
            .iter()
            .filter(|k| k.reason == KeptReason::NotInInventory)
            .count();
        if spec.pruning == Pruning::Managed && inventory_empty && unmanaged > 0 {
            report.notes.push(format!(
                "{unmanaged} undeclared members are kept: pruning: Managed removes only accounts in status.inventory, \
                 and this resource has no inventory yet (first run, or no cluster). Use pruning: Authoritative to remove them"
            ));
        }
        if !outcome.deferred.is_empty() {
            report.notes.push(format!(
                "StartMonitoringMember / AcceptInvitation for {} is postponed by its backoff",
                outcome.deferred.join(", ")
            ));
        }
        report.notes.extend(outcome.package_changes.undeclared_note());
    }
    report.verdict.changes = pending::any(outcome);
    report.verdict.changes |= organization_notes(spec, outcome, &mut report.notes);
    report.verdict.changes |= report.graph == "create";
    report
}

/// The accounts known to be the organization's: those `membersFrom.organization` resolved, and
/// members the document's status shows with InvitationType ORGANIZATION. CreateMembers enables
/// them rather than inviting them.
fn organization_accounts<'a>(document: &'a GraphDocument, outcome: &'a GraphOutcome) -> BTreeSet<&'a str> {
    let resolved = outcome
        .status
        .organization
        .iter()
        .flat_map(|o| &o.resolved)
        .flat_map(|r| &r.accounts);
    let members = document
        .graph
        .status
        .iter()
        .flat_map(|s| &s.members)
        .filter(|m| m.invitation_type.as_deref() == Some(InvitationType::Organization.as_str()));
    resolved
        .map(String::as_str)
        .chain(members.map(|m| m.account_id.as_str()))
        .collect()
}

/// What the organization steps saw: the resolved accounts, and an `autoEnable` to change (in a
/// plan; a sync has changed it). Returns whether `autoEnable` is to change.
fn organization_notes(spec: &DetectiveGraphSpec, outcome: &GraphOutcome, notes: &mut Vec<String>) -> bool {
    let Some(organization) = &outcome.status.organization else {
        return false;
    };
    if let Some(resolved) = &organization.resolved {
        let units = match resolved.units_walked {
            0 => "the whole organization".to_owned(),
            n => format!("{n} roots and OUs"),
        };
        notes.push(format!(
            "membersFrom.organization: {} ACTIVE accounts in {units} ({} not ACTIVE skipped), listed at {}",
            resolved.count, resolved.inactive, resolved.refresh_time.0
        ));
    }
    let wanted = spec.organization.as_ref().and_then(|o| o.auto_enable);
    match (wanted, organization.auto_enable) {
        (Some(wanted), Some(current)) if wanted != current => {
            notes.push(format!("organization autoEnable: {current} → {wanted}"));
            true
        }
        _ => false,
    }
}

/// Human-readable lines of one plan.
pub fn render_text(report: &PlanReport) -> String {
    let verdict = &report.verdict;
    let mut out = format!("DetectiveGraph {} ({})\n", verdict.resource, verdict.origin);
    match (&report.graph_arn, report.graph) {
        (_, "create") => out.push_str("  graph: none in this account and Region yet: + create one\n"),
        (Some(arn), how) => out.push_str(&format!("  graph: {arn} ({how})\n")),
        (None, _) => {}
    }
    if let Some(error) = &verdict.error {
        out.push_str(&format!("  error: {error}\n"));
        return out;
    }
    let mut group = |sign: &str, what: &str, accounts: &[String]| {
        if !accounts.is_empty() {
            out.push_str(&format!(
                "  {sign} {what} {}: {}\n",
                accounts.len(),
                accounts.join(", ")
            ));
        }
    };
    group(
        "+",
        "enable (accounts of the organization, no invitation)",
        &report.enable,
    );
    group("+", "invite", &report.invite);
    group(
        "~",
        "re-invite (verification failed, e-mail corrected)",
        &report.reinvite,
    );
    group("-", "remove", &report.remove);
    group(">", "start monitoring", &report.start_monitoring);
    group(">", "accept as the member", &report.accept);
    group("+", "set tags", &report.tags_set);
    group("-", "remove tags", &report.tags_removed);
    group("+", "start datasource packages", &report.start_packages);
    for kept in &report.kept {
        out.push_str(&format!("  = keep {}: {}\n", kept.account_id, kept.reason));
    }
    for ignored in &report.ignored {
        out.push_str(&format!("  ! {ignored}\n"));
    }
    for note in &report.notes {
        out.push_str(&format!("  note: {note}\n"));
    }
    match &verdict.refused {
        Some(refusal) => out.push_str(&format!("  deletion guard: REFUSED: {refusal}\n")),
        None if !report.remove.is_empty() => out.push_str("  deletion guard: allowed\n"),
        None => {}
    }
    out.push_str(&format!(
        "Plan: {}{} to invite, {} to re-invite, {} to remove, {} to start monitoring{}{}.\n",
        if report.enable.is_empty() {
            String::new()
        } else {
            format!("{} to enable, ", report.enable.len())
        },
        report.invite.len(),
        report.reinvite.len(),
        report.remove.len(),
        report.start_monitoring.len(),
        if report.accept.is_empty() {
            String::new()
        } else {
            format!(", {} to accept", report.accept.len())
        },
        if report.start_packages.is_empty() {
            String::new()
        } else {
            format!(", {} datasource packages to start", report.start_packages.len())
        }
    ));
    out
}

/// The member table's columns, as `kubectl get` prints them.
const MEMBER_COLUMNS: &[Column<MemberStatusEntry>] = &[
    Column::new("ACCOUNT", 14, |member| member.account_id.clone()),
    Column::new("STATUS", 26, |member| member.status.clone()),
    Column::new("DISABLED", 16, |member| or_dash(member.disabled_reason.as_deref())),
    Column::new("TYPE", 13, |member| or_dash(member.invitation_type.as_deref())),
    Column::new("DECLARED", 0, |member| {
        if member.declared { "yes" } else { "no" }.to_owned()
    }),
];

/// A graph's member table, then its conditions.
pub fn render_members(graph: &DetectiveGraph) -> String {
    let Some(status) = &graph.status else {
        return String::new();
    };
    render_table(&status.members, MEMBER_COLUMNS, &status.sync.conditions)
}

/// One column of a status table: its header, its width (the cells are padded to it; the last
/// column's is 0) and what its cell shows of an entry.
pub struct Column<T> {
    header: &'static str,
    width: usize,
    cell: fn(&T) -> String,
}

impl<T> Column<T> {
    pub const fn new(header: &'static str, width: usize, cell: fn(&T) -> String) -> Self {
        Self { header, width, cell }
    }
}

/// An absent value as `kubectl get` prints one.
pub fn or_dash(value: Option<&str>) -> String {
    value.unwrap_or("-").to_owned()
}

/// A table as `kubectl get` prints one, a row an entry, then the resource's conditions.
pub fn render_table<T>(entries: &[T], columns: &[Column<T>], conditions: &[Condition]) -> String {
    let line = |cell: &dyn Fn(&Column<T>) -> String| {
        let mut line = " ".to_owned();
        for column in columns {
            let width = column.width;
            line.push_str(&format!(" {:<width$}", cell(column)));
        }
        line + "\n"
    };
    let mut out = line(&|column| column.header.to_owned());
    for entry in entries {
        out.push_str(&line(&|column| (column.cell)(entry)));
    }
    out.push_str(&render_conditions(conditions));
    out
}

/// One line per condition: `Ready=True (Synced): message`.
pub fn render_conditions(conditions: &[Condition]) -> String {
    conditions
        .iter()
        .map(|condition| {
            format!(
                "  {}={} ({}){}\n",
                condition.type_,
                condition.status,
                condition.reason,
                if condition.message.is_empty() {
                    String::new()
                } else {
                    format!(": {}", condition.message)
                }
            )
        })
        .collect()
}

pub fn describe(applied: &GraphWrite) -> String {
    match applied {
        GraphWrite::GraphCreated(arn) => format!("created behavior graph {arn}"),
        GraphWrite::Deleted { accounts, unprocessed } => {
            format!("removed {accounts} members ({unprocessed} not processed)")
        }
        GraphWrite::MembersCreated {
            invited,
            enabled,
            unprocessed,
        } => {
            let invitations = format!("invited {invited} accounts");
            let organization = format!("enabled {enabled} accounts of the organization");
            let done = match (invited, enabled) {
                (_, 0) => invitations,
                (0, _) => organization,
                _ => format!("{invitations}, {organization}"),
            };
            format!("{done} ({unprocessed} not processed)")
        }
        GraphWrite::MonitoringStarted(account) => format!("started monitoring {account}"),
        GraphWrite::Accepted { accounts, failed } => {
            format!("accepted {accounts} invitations as the members ({failed} failed)")
        }
        GraphWrite::Tagged { set, removed } => format!("tags: {set} set, {removed} removed"),
        GraphWrite::PackagesStarted(packages) => format!("started datasource packages {}", packages.join(", ")),
        GraphWrite::AutoEnableSet(on) => format!("organization autoEnable set to {on}"),
    }
}

/// Folds repeated progress lines (24 invitation batches) into counts.
pub fn fold_repeated(lines: &[String]) -> String {
    let mut folded: Vec<(String, usize)> = Vec::new();
    for line in lines {
        match folded.last_mut() {
            Some((last, n)) if last == line => *n += 1,
            _ => folded.push((line.clone(), 1)),
        }
    }
    folded
        .into_iter()
        .map(|(line, n)| if n > 1 { format!("{line} ×{n}") } else { line })
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_table_pads_every_column_but_the_last_then_lists_the_conditions() {
        let rows = [("111111111111", "ENABLED", true), ("2", "INVITED", false)];
        let columns: [Column<(&str, &str, bool)>; 3] = [
            Column::new("ACCOUNT", 14, |row| row.0.to_owned()),
            Column::new("STATUS", 9, |row| row.1.to_owned()),
            Column::new("DECLARED", 0, |row| if row.2 { "yes" } else { "no" }.to_owned()),
        ];
        let ready = Condition {
            type_: "Ready".into(),
            status: "True".into(),
            reason: "Synced".into(),
            message: String::new(),
            last_transition_time: k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
                k8s_openapi::jiff::Timestamp::UNIX_EPOCH,
            ),
            observed_generation: None,
        };
        let table = render_table(&rows, &columns, &[ready]);
        assert_eq!(
            table,
            "  ACCOUNT        STATUS    DECLARED\n  111111111111   ENABLED   yes\n  2              INVITED   no\n  Ready=True (Synced)\n"
        );
    }
}
