//! Kubernetes Events for what a human would want to know: one per kind of change per sync,
//! never one per member. Which events to publish is decided by the pure [`notices`].

use std::collections::BTreeMap;

use kube::runtime::events::{Event, EventType, Recorder};

use crate::api::conditions::RECONCILING;
use crate::api::{
    DelegationState, DetectiveGraphSetStatus, DetectiveGraphStatus, DetectiveMembershipStatus,
    DetectiveOrganizationAdminStatus, PendingChanges,
};
use crate::engine::graph_set::{CHILD_CONFLICT, ChildAction, was_in_conflict};
use crate::engine::organization_admin::{Decision, OrganizationAdminWrite};
use crate::engine::{GraphOutcome, GraphWrite, MembershipOutcome, OrganizationAdminOutcome, abbreviated};
use crate::member::MemberStatus;

/// An event to publish, before it meets the Events API.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Notice {
    pub warning: bool,
    pub reason: &'static str,
    pub action: &'static str,
    pub note: String,
}

impl Notice {
    fn normal(reason: &'static str, action: &'static str, note: String) -> Self {
        Self {
            warning: false,
            reason,
            action,
            note,
        }
    }

    pub(super) fn warning(reason: &'static str, action: &'static str, note: String) -> Self {
        Self {
            warning: true,
            ..Self::normal(reason, action, note)
        }
    }
}

/// The batches of one kind of member write in a sync, summed into one event.
#[derive(Default)]
struct Batches {
    accounts: usize,
    unprocessed: usize,
    calls: usize,
}

impl Batches {
    fn add(&mut self, accounts: usize, unprocessed: usize) {
        self.accounts += accounts;
        self.unprocessed += unprocessed;
        self.calls += 1;
    }

    /// "`done` N `what` in C `operation` calls (U not processed)", once a call was made.
    fn notice(&self, reason: &'static str, operation: &'static str, done: &str, what: &str) -> Option<Notice> {
        (self.calls > 0).then(|| {
            let note = format!(
                "{done} {} {what} in {} {operation} calls ({} not processed)",
                self.accounts, self.calls, self.unprocessed
            );
            Notice::normal(reason, operation, note)
        })
    }
}

/// The events one reconcile deserves: the writes it made, aggregated, and the member transitions
/// worth attention (compared with the previous status).
pub fn notices(previous: Option<&DetectiveGraphStatus>, outcome: &GraphOutcome) -> Vec<Notice> {
    let mut notices = Vec::new();
    let mut invited = Batches::default();
    let mut enabled = Batches::default();
    let mut removed = Batches::default();
    let mut monitoring = Vec::new();
    let mut accepted = (0, 0);
    for applied in &outcome.applied {
        match applied {
            GraphWrite::GraphCreated(arn) => notices.push(Notice::normal(
                "GraphCreated",
                "CreateGraph",
                format!("created behavior graph {arn}"),
            )),
            GraphWrite::MembersCreated {
                invited: invitations,
                enabled: organization,
                unprocessed,
            } => {
                // The response does not say which kind an unprocessed account was: a call that
                // invited counts them with the invitations.
                if *invitations > 0 || *organization == 0 {
                    invited.add(*invitations, *unprocessed);
                }
                if *organization > 0 {
                    enabled.add(*organization, if *invitations > 0 { 0 } else { *unprocessed });
                }
            }
            GraphWrite::Deleted { accounts, unprocessed } => removed.add(*accounts, *unprocessed),
            GraphWrite::MonitoringStarted(account) => monitoring.push(account.as_str()),
            GraphWrite::Accepted { accounts, failed } => accepted = (accepted.0 + accounts, accepted.1 + failed),
            GraphWrite::Tagged { set, removed } => notices.push(Notice::normal(
                "TagsUpdated",
                "TagResource",
                format!("graph tags: {set} set, {removed} removed"),
            )),
            GraphWrite::PackagesStarted(packages) => notices.push(Notice::normal(
                "DatasourcePackagesStarted",
                "UpdateDatasourcePackages",
                format!("started datasource packages {}", packages.join(", ")),
            )),
            GraphWrite::AutoEnableSet(on) => notices.push(Notice::normal(
                "OrganizationConfigured",
                "UpdateOrganizationConfiguration",
                format!("organization autoEnable set to {on}"),
            )),
        }
    }
    if let Some(note) = newly_undeclared_packages(previous, outcome) {
        notices.push(Notice::warning("UndeclaredDatasourcePackages", "Observe", note));
    }
    notices.extend(invited.notice("MembersInvited", "CreateMembers", "invited", "accounts"));
    notices.extend(enabled.notice(
        "OrganizationAccountsEnabled",
        "CreateMembers",
        "enabled",
        "accounts of the organization",
    ));
    notices.extend(removed.notice("MembersRemoved", "DeleteMembers", "removed", "members"));
    let started = listing(&monitoring, |n| format!("started monitoring {n} members"));
    notices.extend(started.map(|note| Notice::normal("MonitoringStarted", "StartMonitoringMember", note)));
    if accepted != (0, 0) {
        let note = format!(
            "accepted {} invitations as the members; {} could not be accepted (see status.members[].lastError)",
            accepted.0, accepted.1
        );
        notices.push(if accepted.1 > 0 {
            Notice::warning("InvitationsAccepted", "AcceptInvitation", note)
        } else {
            Notice::normal("InvitationsAccepted", "AcceptInvitation", note)
        });
    }
    if let Some(refusal) = outcome.plan.as_ref().and_then(|p| p.refusal.as_ref()) {
        notices.push(Notice::warning("DeletionGuard", "Plan", refusal.to_string()));
    }
    if let Some(error) = &outcome.error
        && (!error.is_retryable() || !already_reconciling(previous, error.reason()))
    {
        // A retryable failure (AWS throttling or unavailable) is told once when it starts, not
        // at every retry of an outage: the Reconciling condition carries it meanwhile.
        notices.push(Notice::warning(error.reason(), "Reconcile", error.to_string()));
    }

    let before: BTreeMap<&str, &str> = previous
        .map(|p| {
            p.members
                .iter()
                .map(|m| (m.account_id.as_str(), m.status.as_str()))
                .collect()
        })
        .unwrap_or_default();
    let newly = |status: &MemberStatus| -> Vec<&str> {
        outcome
            .status
            .members
            .iter()
            .filter(|m| m.status == status.as_str() && before.get(m.account_id.as_str()) != Some(&status.as_str()))
            .map(|m| m.account_id.as_str())
            .collect()
    };
    let failed = listing(&newly(&MemberStatus::VerificationFailed), |n| {
        format!("{n} members failed verification: account id and root e-mail do not match")
    });
    notices.extend(failed.map(|note| Notice::warning("VerificationFailed", "Verify", note)));
    // Without a previous status (a resource's first reconcile) members already ENABLED when the
    // resource arrived are no news; the ones this reconcile invited, accepted or started are.
    let acted_on: Vec<&str> = outcome
        .plan
        .iter()
        .flat_map(|plan| {
            let invited = plan.invite.iter().chain(&plan.reinvite).map(|m| m.account_id.as_str());
            invited.chain(plan.accept.iter().chain(&plan.start_monitoring).map(String::as_str))
        })
        .collect();
    let enabled: Vec<&str> = newly(&MemberStatus::Enabled)
        .into_iter()
        .filter(|account| previous.is_some() || acted_on.contains(account))
        .collect();
    let enabled = listing(&enabled, |n| format!("{n} members now contribute data"));
    notices.extend(enabled.map(|note| Notice::normal("MembersEnabled", "Observe", note)));
    notices.extend(plan_changed(
        previous.and_then(|p| p.pending_changes.as_ref()),
        outcome.status.pending_changes.as_ref(),
    ));
    notices
}

/// With `managementPolicy: Observe` (any kind), the plan when it differs from the one the
/// previous status published: one Event per change of plan, none at a resync that finds the same.
pub fn plan_changed(previous: Option<&PendingChanges>, pending: Option<&PendingChanges>) -> Option<Notice> {
    let pending = pending?;
    (previous != Some(pending)).then(|| {
        Notice::normal(
            "PlanChanged",
            "Observe",
            format!("managementPolicy Observe, a sync would: {}", pending.summary()),
        )
    })
}

/// "`summary` (the accounts, abbreviated)", with the count for the summary; none without accounts.
fn listing(accounts: &[&str], summary: impl FnOnce(usize) -> String) -> Option<String> {
    (!accounts.is_empty()).then(|| format!("{} ({})", summary(accounts.len()), abbreviated(accounts)))
}

/// The events of one membership reconcile: the answer it wrote, a failure that needs a human,
/// and (`managementPolicy: Observe`) the plan when it changed since the `previous` status.
pub fn membership_notices(
    previous: Option<&DetectiveMembershipStatus>,
    graph_arn: &str,
    outcome: &MembershipOutcome,
) -> Vec<Notice> {
    let mut notices = Vec::new();
    if let Some(answer) = outcome.applied {
        let operation = answer.operation();
        notices.push(Notice::normal(
            operation,
            operation,
            format!("{operation} for {graph_arn}"),
        ));
    }
    if let Some(error) = outcome.error.as_ref().filter(|e| !e.is_retryable()) {
        notices.push(Notice::warning(error.reason(), "Reconcile", error.to_string()));
    }
    notices.extend(plan_changed(
        previous.and_then(|p| p.pending_changes.as_ref()),
        outcome.status.pending_changes.as_ref(),
    ));
    notices
}

/// The events of one `DetectiveOrganizationAdmin` reconcile: each delegation enabled or disabled,
/// a Region that another account administers (when it starts), a failure that needs a human, and
/// (`managementPolicy: Observe`) the plan when it changed since the `previous` status.
pub fn organization_admin_notices(
    previous: Option<&DetectiveOrganizationAdminStatus>,
    outcome: &OrganizationAdminOutcome,
) -> Vec<Notice> {
    let mut notices = Vec::new();
    for region in &outcome.regions {
        let account = region.administrator.as_ref().map(|a| a.account_id.as_str());
        match region.applied {
            Some(OrganizationAdminWrite::Enable) => notices.push(Notice::normal(
                "AdministratorDelegated",
                OrganizationAdminWrite::Enable.operation(),
                format!(
                    "delegated Detective administrator account {} in {}",
                    account.unwrap_or("(not listed yet)"),
                    region.region
                ),
            )),
            Some(OrganizationAdminWrite::Disable) => notices.push(Notice::warning(
                "DelegationDisabled",
                OrganizationAdminWrite::Disable.operation(),
                format!(
                    "disabled the organization's Detective administrator in {}: its organization behavior graph there is deleted",
                    region.region
                ),
            )),
            None => {}
        }
        let was_conflict = previous.is_some_and(|p| {
            p.regions
                .iter()
                .any(|e| e.region == region.region && e.state == DelegationState::Conflict)
        });
        if let (Some(Decision::Conflict { administrator }), false) = (&region.decision, was_conflict) {
            notices.push(Notice::warning(
                "AdministratorConflict",
                "Observe",
                format!(
                    "account {administrator} is already the organization's Detective administrator (one for the \
                     organization, in every Region): {} is not delegated, and it is never replaced",
                    region.region
                ),
            ));
        }
    }
    if let Some(error) = outcome.error.as_ref().filter(|e| !e.is_retryable()) {
        notices.push(Notice::warning(error.reason(), "Reconcile", error.to_string()));
    }
    notices.extend(plan_changed(
        previous.and_then(|p| p.pending_changes.as_ref()),
        outcome.status.pending_changes.as_ref(),
    ));
    notices
}

/// Told once: when a started package that is not declared first shows in status (the status
/// keeps it, so later resyncs, restarts included, see it as known), not at every resync.
fn newly_undeclared_packages(previous: Option<&DetectiveGraphStatus>, outcome: &GraphOutcome) -> Option<String> {
    let undeclared = |status: &DetectiveGraphStatus| -> Vec<String> {
        status
            .datasource_packages
            .iter()
            .filter(|p| p.state.as_deref() == Some("STARTED") && p.declared == Some(false))
            .map(|p| p.package.clone())
            .collect()
    };
    let known = previous.map(undeclared).unwrap_or_default();
    if undeclared(&outcome.status).iter().all(|p| known.contains(p)) {
        return None;
    }
    outcome.package_changes.undeclared_note()
}

/// Whether the previous status already reported `reason` as the cause of Reconciling.
fn already_reconciling(previous: Option<&DetectiveGraphStatus>, reason: &str) -> bool {
    previous.is_some_and(|status| {
        status
            .sync
            .conditions
            .iter()
            .any(|c| c.type_ == RECONCILING && c.status == "True" && c.reason == reason)
    })
}

/// The events of one `DetectiveGraphSet` reconcile: a Region's child created, a removed
/// Region's child released or deleted, and a child's name taken by a resource the set does not
/// control (when that starts).
pub fn graph_set_notices(previous: Option<&DetectiveGraphSetStatus>, actions: &[ChildAction]) -> Vec<Notice> {
    let removed = |region: &Option<String>| region.as_deref().unwrap_or("(no Region)").to_owned();
    actions
        .iter()
        .filter_map(|action| match action {
            ChildAction::Create { region, child } => Some(Notice::normal(
                "RegionAdded",
                "Create",
                format!(
                    "created DetectiveGraph {} for {region}",
                    child.metadata.name.as_deref().unwrap_or_default()
                ),
            )),
            ChildAction::Orphan { region, name, .. } => Some(Notice::normal(
                "RegionRemoved",
                "Orphan",
                format!(
                    "{} removed: DetectiveGraph {name} is kept, no longer owned by this set (regionRemoval: Retain)",
                    removed(region)
                ),
            )),
            ChildAction::Delete { region, name, .. } => Some(Notice::normal(
                "RegionRemoved",
                "Delete",
                format!(
                    "{} removed: deleted DetectiveGraph {name} (regionRemoval: Delete; its deletionPolicy applies)",
                    removed(region)
                ),
            )),
            ChildAction::Conflict {
                region,
                name,
                other_controller,
            } if !was_in_conflict(previous, region) => Some(Notice::warning(
                CHILD_CONFLICT,
                "Apply",
                format!(
                    "DetectiveGraph {name} ({region}) exists and is not owned by this set ({}): never taken over",
                    other_controller.as_deref().unwrap_or("no controller")
                ),
            )),
            _ => None,
        })
        .collect()
}

/// Publishes notices on the resource; a failure to publish is logged, never fatal.
pub async fn publish(
    recorder: &Recorder,
    reference: &k8s_openapi::api::core::v1::ObjectReference,
    notices: Vec<Notice>,
) {
    for notice in notices {
        let event = Event {
            type_: if notice.warning {
                EventType::Warning
            } else {
                EventType::Normal
            },
            reason: notice.reason.to_owned(),
            note: Some(notice.note),
            action: notice.action.to_owned(),
            secondary: None,
        };
        if let Err(error) = recorder.publish(&event, reference).await {
            tracing::warn!(%error, reason = notice.reason, "could not publish an event");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::{AwsError, ErrorKind};
    use crate::engine::graph::decide::TagChanges;
    use crate::engine::{SHORT_REQUEUE, SyncError};

    #[test]
    fn a_plan_is_told_when_it_changes_not_at_every_resync() {
        let plan = |accounts: Vec<String>| PendingChanges::of(vec![("invite", accounts)], None);
        let first = plan(vec!["000000000101".into()]);
        let notice = plan_changed(None, Some(&first)).expect("a first plan is news");
        assert_eq!(notice.reason, "PlanChanged");
        assert!(notice.note.contains("invite 1 (000000000101)"), "{}", notice.note);
        assert_eq!(
            plan_changed(Some(&first), Some(&first.clone())),
            None,
            "same plan: no event"
        );
        let second = plan(vec!["000000000101".into(), "000000000102".into()]);
        assert!(plan_changed(Some(&first), Some(&second)).is_some());
        assert_eq!(plan_changed(Some(&first), None), None, "Manage publishes no plan");
    }

    fn failed(kind: ErrorKind, code: &str, previous: Option<&DetectiveGraphStatus>) -> GraphOutcome {
        let error = SyncError::Aws(AwsError::new("ListMembers", kind, code, "m"));
        let verdict = error.verdict();
        let mut status = previous.cloned().unwrap_or_default();
        status.sync.conditions = crate::api::conditions::merge(
            &status.sync.conditions,
            &verdict.states(),
            Some(1),
            k8s_openapi::jiff::Timestamp::UNIX_EPOCH,
        );
        GraphOutcome {
            observation: None,
            plan: None,
            tag_changes: TagChanges::default(),
            package_changes: Default::default(),
            applied: Vec::new(),
            deferred: Vec::new(),
            status,
            error: Some(error),
            requeue_after: SHORT_REQUEUE,
        }
    }

    fn warnings(notices: &[Notice]) -> Vec<&'static str> {
        notices.iter().filter(|n| n.warning).map(|n| n.reason).collect()
    }

    #[test]
    fn an_outage_is_told_once_and_a_new_cause_again() {
        let healthy = DetectiveGraphStatus::default();
        let first = failed(ErrorKind::Unavailable, "InternalServerException", Some(&healthy));
        assert_eq!(warnings(&notices(Some(&healthy), &first)), ["AwsUnavailable"]);
        let again = failed(ErrorKind::Unavailable, "InternalServerException", Some(&first.status));
        assert!(
            warnings(&notices(Some(&first.status), &again)).is_empty(),
            "not at every retry"
        );
        let throttled = failed(ErrorKind::Throttled, "TooManyRequestsException", Some(&again.status));
        assert_eq!(warnings(&notices(Some(&again.status), &throttled)), ["Throttled"]);
    }

    #[test]
    fn a_terminal_failure_is_told_at_every_reconcile() {
        let first = failed(ErrorKind::AccessDenied, "AccessDeniedException", None);
        let again = failed(ErrorKind::AccessDenied, "AccessDeniedException", Some(&first.status));
        assert_eq!(warnings(&notices(Some(&first.status), &again)), ["AccessDenied"]);
    }

    #[test]
    fn members_enabled_by_a_first_reconcile_are_told_members_found_enabled_are_not() {
        use crate::api::{MemberSpec, MemberStatusEntry};
        let enabled = |account: &str| MemberStatusEntry {
            account_id: account.into(),
            status: "ENABLED".into(),
            ..Default::default()
        };
        let mut outcome = failed(ErrorKind::Other, "x", None);
        outcome.error = None;
        outcome.status.members = vec![enabled("000000000101"), enabled("000000000102")];
        outcome.plan = Some(crate::engine::graph::decide::Plan {
            invite: vec![MemberSpec {
                account_id: "000000000101".into(),
                email_address: "root@example.com".into(),
            }],
            ..Default::default()
        });
        let told: Vec<Notice> = notices(None, &outcome)
            .into_iter()
            .filter(|n| n.reason == "MembersEnabled")
            .collect();
        assert_eq!(told.len(), 1, "{told:?}");
        assert!(
            told[0].note.starts_with("1 members now contribute data (000000000101"),
            "{told:?}"
        );
        assert!(!told[0].note.contains("000000000102"), "already enabled: {told:?}");

        outcome.plan = Some(crate::engine::graph::decide::Plan::default());
        assert!(
            !notices(None, &outcome).iter().any(|n| n.reason == "MembersEnabled"),
            "an adopted graph's enabled members are no news"
        );
    }

    #[test]
    fn accounts_of_the_organization_are_told_enabled_not_invited() {
        let created = |invited, enabled, unprocessed| GraphWrite::MembersCreated {
            invited,
            enabled,
            unprocessed,
        };
        // (the calls' results, the CreateMembers events told)
        let cases = [
            (
                vec![created(3, 0, 1)],
                vec!["MembersInvited: invited 3 accounts in 1 CreateMembers calls (1 not processed)"],
            ),
            (
                vec![created(0, 50, 1), created(0, 20, 0)],
                vec![
                    "OrganizationAccountsEnabled: enabled 70 accounts of the organization in 2 CreateMembers calls (1 not processed)",
                ],
            ),
            (
                vec![created(1, 4, 2)],
                vec![
                    "MembersInvited: invited 1 accounts in 1 CreateMembers calls (2 not processed)",
                    "OrganizationAccountsEnabled: enabled 4 accounts of the organization in 1 CreateMembers calls (0 not processed)",
                ],
            ),
        ];
        for (applied, expected) in cases {
            let mut outcome = failed(ErrorKind::Other, "x", None);
            outcome.error = None;
            outcome.applied = applied;
            let told: Vec<String> = notices(None, &outcome)
                .into_iter()
                .filter(|n| n.action == "CreateMembers")
                .map(|n| format!("{}: {}", n.reason, n.note))
                .collect();
            assert_eq!(told, expected, "{:?}", outcome.applied);
        }
    }

    #[test]
    fn an_undeclared_started_package_is_told_once_not_at_every_resync() {
        use crate::api::{DatasourcePackage, DatasourcePackageStatus};
        let undeclared = |declared: bool| DatasourcePackageStatus {
            package: "ASFF_SECURITYHUB_FINDING".into(),
            state: Some("STARTED".into()),
            declared: Some(declared),
            ingesting_members: 3,
        };
        let resync = |previous: Option<&DetectiveGraphStatus>, declared: bool| {
            let mut outcome = failed(ErrorKind::Other, "x", previous);
            outcome.error = None;
            outcome.status.datasource_packages = vec![undeclared(declared)];
            if !declared {
                outcome.package_changes.undeclared = vec![DatasourcePackage::AsffSecurityHubFinding];
            }
            outcome
        };
        let told = |notices: Vec<Notice>| {
            notices
                .into_iter()
                .filter(|n| n.reason == "UndeclaredDatasourcePackages")
                .count()
        };
        let first = resync(None, false);
        assert_eq!(
            told(notices(None, &first)),
            1,
            "the first reconcile that sees it tells it"
        );
        let second = resync(Some(&first.status), false);
        assert_eq!(told(notices(Some(&first.status), &second)), 0, "not at the next resync");
        let declared = resync(Some(&second.status), true);
        assert_eq!(told(notices(Some(&second.status), &declared)), 0);
        let undeclared_again = resync(Some(&declared.status), false);
        assert_eq!(
            told(notices(Some(&declared.status), &undeclared_again)),
            1,
            "undeclared anew: told anew"
        );
    }

    /// The notices of a reconcile that made `applied` and nothing else: "reason (warning?): note".
    fn told_for(applied: Vec<GraphWrite>) -> Vec<String> {
        let mut outcome = failed(ErrorKind::Other, "x", None);
        outcome.error = None;
        outcome.applied = applied;
        notices(None, &outcome)
            .into_iter()
            .map(|n| format!("{}{}: {}", n.reason, if n.warning { " (warning)" } else { "" }, n.note))
            .collect()
    }

    #[test]
    fn removals_monitoring_acceptances_and_auto_enable_are_each_told_once_per_reconcile() {
        let removed = told_for(vec![
            GraphWrite::Deleted {
                accounts: 50,
                unprocessed: 0,
            },
            GraphWrite::Deleted {
                accounts: 7,
                unprocessed: 1,
            },
        ]);
        assert_eq!(
            removed,
            ["MembersRemoved: removed 57 members in 2 DeleteMembers calls (1 not processed)"]
        );
        let started = told_for(vec![
            GraphWrite::MonitoringStarted("000000000101".into()),
            GraphWrite::MonitoringStarted("000000000102".into()),
        ]);
        assert_eq!(started.len(), 1, "one event for every member started: {started:?}");
        assert!(
            started[0].starts_with("MonitoringStarted: started monitoring 2 members (000000000101"),
            "{started:?}"
        );
        assert!(started[0].contains("000000000102"), "{started:?}");
        let accepted = told_for(vec![GraphWrite::Accepted { accounts: 3, failed: 0 }]);
        assert_eq!(
            accepted,
            [
                "InvitationsAccepted: accepted 3 invitations as the members; 0 could not be accepted (see status.members[].lastError)"
            ]
        );
        let partly = told_for(vec![
            GraphWrite::Accepted { accounts: 2, failed: 1 },
            GraphWrite::Accepted { accounts: 0, failed: 1 },
        ]);
        assert_eq!(
            partly,
            [
                "InvitationsAccepted (warning): accepted 2 invitations as the members; 2 could not be accepted (see status.members[].lastError)"
            ],
            "a failed acceptance is a warning"
        );
        assert_eq!(
            told_for(vec![GraphWrite::AutoEnableSet(true)]),
            ["OrganizationConfigured: organization autoEnable set to true"]
        );
        assert_eq!(
            told_for(vec![GraphWrite::AutoEnableSet(false)]),
            ["OrganizationConfigured: organization autoEnable set to false"]
        );
        assert!(told_for(Vec::new()).is_empty(), "no write, no event");
    }

    #[test]
    fn a_membership_tells_its_answer_and_a_failure_that_needs_a_human() {
        use crate::engine::membership::MembershipWrite;
        let graph = "arn:aws:detective:us-east-1:111122223333:graph:0123456789abcdef0123456789abcdef";
        let outcome = |applied: Option<MembershipWrite>, error: Option<SyncError>| MembershipOutcome {
            decision: None,
            applied,
            packages: None,
            status: Default::default(),
            error,
            requeue_after: SHORT_REQUEUE,
        };
        for (write, reason) in [
            (MembershipWrite::Accept, "AcceptInvitation"),
            (MembershipWrite::Reject, "RejectInvitation"),
            (MembershipWrite::Disassociate, "DisassociateMembership"),
        ] {
            let told = membership_notices(None, graph, &outcome(Some(write), None));
            assert_eq!(told, [Notice::normal(reason, reason, format!("{reason} for {graph}"))]);
        }
        let denied = SyncError::Aws(AwsError::new(
            "AcceptInvitation",
            ErrorKind::AccessDenied,
            "AccessDeniedException",
            "m",
        ));
        let told = membership_notices(None, graph, &outcome(None, Some(denied)));
        assert_eq!(warnings(&told), ["AccessDenied"]);
        let throttled = SyncError::Aws(AwsError::new(
            "ListInvitations",
            ErrorKind::Throttled,
            "TooManyRequestsException",
            "m",
        ));
        assert!(
            membership_notices(None, graph, &outcome(None, Some(throttled))).is_empty(),
            "a retryable failure is not a human's to fix"
        );
    }
}
