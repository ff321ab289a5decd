//! The status a `DetectiveGraph` reconcile reports: members, summary, kstatus conditions and the
//! verdict that picks them. Pure: no client, the clock comes in as `now`.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;

use super::desired::DesiredGraph;
use super::pending;
use super::{GraphObservation, GraphOutcome, GraphSource, GraphTarget};
use crate::api::conditions::{ConditionState, MEMBERS_HEALTHY, Verdict};
use crate::api::{
    DatasourcePackage, DatasourcePackageStatus, DetectiveGraphStatus, MemberStatusEntry, MemberSummary, PendingChanges,
    SyncStatus,
};
use crate::engine::abbreviated;
use crate::member::{InvitationType, MemberStatus, ObservedMember, PackageIngest};

/// The status that describes the outcome. Pure: the clock comes in as `now`.
pub fn report(
    target: &GraphTarget<'_>,
    desired: &DesiredGraph<'_>,
    outcome: &GraphOutcome,
    inventory: &BTreeSet<String>,
    now: Timestamp,
) -> DetectiveGraphStatus {
    let previous = target.previous.cloned().unwrap_or_default();
    let declared = desired.declared();
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
                    not_ingesting: not_ingesting(m),
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
    let datasource_packages = match observation {
        Some(observation) => package_statuses(desired, observation),
        None => previous.datasource_packages.clone(),
    };

    let graph_arn = observation
        .and_then(|o| o.graph_arn.clone())
        .or_else(|| previous.graph_arn.clone());
    let graph_created = previous.graph_created || observation.is_some_and(|o| o.source == GraphSource::Created);
    let observing = target.spec.observes();
    let states = condition_states(desired, outcome, observation, &declared, observing);
    let pending_changes = PendingChanges::published(
        target.spec.management_policy,
        observation.map(|_| pending::pending_changes(outcome)),
        previous.pending_changes.as_ref(),
    );
    DetectiveGraphStatus {
        sync: SyncStatus::after(&previous.sync, &states, target.generation, now, observation.is_some()),
        graph_arn,
        graph_created,
        summary,
        members,
        inventory: inventory.iter().cloned().collect(),
        datasource_packages,
        // The organization step sets what it saw; until then the last known stays.
        organization: previous.organization.clone(),
        pending_changes,
    }
}

/// The packages whose data of `member` is not ingested.
fn not_ingesting(member: &ObservedMember) -> Vec<String> {
    member
        .ingest
        .iter()
        .filter(|(_, state)| **state != PackageIngest::Started)
        .map(|(package, _)| package.clone())
        .collect()
}

/// One entry per package that the graph (when read), a member or the spec names: the graph's
/// state, whether it is declared, and how many members' data of it is ingested.
fn package_statuses(desired: &DesiredGraph<'_>, observation: &GraphObservation) -> Vec<DatasourcePackageStatus> {
    let declared = desired.datasource_packages;
    let mut names: BTreeSet<&str> = observation
        .members
        .iter()
        .flat_map(|m| m.ingest.keys())
        .map(String::as_str)
        .collect();
    names.extend(observation.packages.iter().flat_map(|p| p.keys()).map(String::as_str));
    names.extend(declared.unwrap_or_default().iter().map(|p| p.as_str()));
    names
        .into_iter()
        .map(|name| DatasourcePackageStatus {
            package: name.to_owned(),
            state: observation
                .packages
                .as_ref()
                .and_then(|p| p.get(name))
                .map(|state| state.as_str().to_owned()),
            declared: declared
                .zip(DatasourcePackage::parse(name))
                .map(|(declared, package)| declared.contains(&package)),
            ingesting_members: count_i32(
                observation
                    .members
                    .iter()
                    .filter(|m| m.ingest.get(name) == Some(&PackageIngest::Started))
                    .count(),
            ),
        })
        .collect()
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
    desired: &DesiredGraph<'_>,
    outcome: &GraphOutcome,
    observation: Option<&GraphObservation>,
    declared: &BTreeMap<&str, &str>,
    observing: bool,
) -> Vec<ConditionState> {
    let mut verdict = match (observing, &outcome.error, observation) {
        // Observe: Ready means AWS was read; what a sync would do is InSync's and pendingChanges'.
        (true, None, Some(_)) => pending::pending_changes(outcome).observed(),
        _ => verdict(desired, outcome, observation, declared),
    };
    // Whatever else is going on, a started package that is not declared is told (the API cannot
    // stop it, so it never becomes work of the operator's).
    if outcome.error.is_none()
        && let Some(note) = outcome.package_changes.undeclared_note()
    {
        verdict.message = format!("{}; {note}", verdict.message);
    }
    let mut states = verdict.states().to_vec();
    if outcome.error.is_none() && observation.is_some() {
        states.push(in_sync(outcome, observing));
    }
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

/// `InSync`: whether AWS matches the spec after this reconcile: nothing for a sync to write when
/// read, or (managed) the writes it found needed made.
fn in_sync(outcome: &GraphOutcome, observing: bool) -> ConditionState {
    pending::pending_changes(outcome).in_sync(!observing && !outcome.applied.is_empty())
}

/// Ready / Reconciling / Stalled for an outcome, in order of precedence.
fn verdict(
    desired: &DesiredGraph<'_>,
    outcome: &GraphOutcome,
    observation: Option<&GraphObservation>,
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
    let administrator = observation.administrator();
    let mut missing = Vec::new();
    let mut verifying = Vec::new();
    let mut failed = Vec::new();
    let mut invited = Vec::new();
    let mut disabled = Vec::new();
    for &account in declared.keys() {
        if administrator == Some(account) {
            continue;
        }
        match by_id.get(account).map(|m| (&m.status, m.invitation_type)) {
            None => missing.push(account),
            Some((MemberStatus::VerificationInProgress, _)) => verifying.push(account),
            Some((MemberStatus::VerificationFailed, _)) => failed.push(account),
            Some((MemberStatus::Invited, InvitationType::Invitation)) => invited.push(account),
            Some((MemberStatus::AcceptedButDisabled, _)) if desired.auto_start_monitoring => disabled.push(account),
            Some(_) => {}
        }
    }
    let waiting = [
        (missing.as_slice(), "not yet invited"),
        (verifying.as_slice(), "being verified"),
        (
            invited.as_slice(),
            if desired.accept_invitations.is_some() {
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
    if outcome.applied.is_empty() && !outcome.package_changes.is_empty() {
        let names: Vec<&str> = outcome.package_changes.start.iter().map(|p| p.as_str()).collect();
        pending.push(format!("datasource packages to start ({})", names.join(", ")));
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

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::api::DetectiveGraphSpec;
    use crate::api::conditions;
    use crate::engine::graph::decide::plan_packages;

    const ARN: &str = "arn:aws:detective:us-east-1:123456789012:graph:0123456789abcdef0123456789abcdef";

    fn spec(packages: serde_json::Value, members: &[serde_json::Value]) -> DetectiveGraphSpec {
        serde_json::from_value(serde_json::json!({ "datasourcePackages": packages, "members": members }))
            .expect("a valid spec")
    }

    fn member(account: &str, ingest: &[(&str, PackageIngest)]) -> ObservedMember {
        ObservedMember {
            status: MemberStatus::Enabled,
            ingest: ingest.iter().map(|(p, s)| ((*p).to_owned(), *s)).collect(),
            ..ObservedMember::invited(account, "a@example.com")
        }
    }

    /// The status of an applied reconcile that saw `members` and the graph's `packages`.
    fn status_of(
        spec: &DetectiveGraphSpec,
        members: Vec<ObservedMember>,
        packages: Option<PackageStates>,
    ) -> DetectiveGraphStatus {
        let target = GraphTarget {
            spec,
            previous: None,
            generation: Some(1),
            claimed_by: None,
            progress: None,
            shared_listings: None,
        };
        let mut outcome = GraphOutcome::starting(None);
        outcome.package_changes = match (&spec.datasource_packages, &packages) {
            (Some(declared), Some(observed)) => plan_packages(declared, observed),
            _ => Default::default(),
        };
        outcome.plan = Some(Default::default());
        outcome.observation = Some(GraphObservation {
            graph_arn: Some(ARN.to_owned()),
            source: GraphSource::Declared,
            members,
            tags: None,
            packages,
        });
        report(
            &target,
            &DesiredGraph::of(spec),
            &outcome,
            &BTreeSet::new(),
            Timestamp::UNIX_EPOCH,
        )
    }

    use crate::aws::PackageStates;
    use PackageIngest::{Disabled, Started, Stopped};

    #[test]
    fn packages_are_counted_per_member_and_members_name_what_they_miss() {
        let declared = spec(serde_json::json!(["EKS_AUDIT"]), &[]);
        let members = vec![
            member("111111111111", &[("DETECTIVE_CORE", Started), ("EKS_AUDIT", Started)]),
            member("222222222222", &[("DETECTIVE_CORE", Started), ("EKS_AUDIT", Disabled)]),
            member("333333333333", &[]),
        ];
        let graph = PackageStates::from([
            ("DETECTIVE_CORE".to_owned(), Started),
            ("EKS_AUDIT".to_owned(), Started),
            ("ASFF_SECURITYHUB_FINDING".to_owned(), Stopped),
        ]);
        let status = status_of(&declared, members, Some(graph));
        let by_package: BTreeMap<&str, (&Option<String>, Option<bool>, i32)> = status
            .datasource_packages
            .iter()
            .map(|p| (p.package.as_str(), (&p.state, p.declared, p.ingesting_members)))
            .collect();
        assert_eq!(
            by_package,
            BTreeMap::from([
                (
                    "ASFF_SECURITYHUB_FINDING",
                    (&Some("STOPPED".to_owned()), Some(false), 0)
                ),
                ("DETECTIVE_CORE", (&Some("STARTED".to_owned()), None, 2)),
                ("EKS_AUDIT", (&Some("STARTED".to_owned()), Some(true), 1)),
            ])
        );
        let missing: Vec<(&str, &[String])> = status
            .members
            .iter()
            .map(|m| (m.account_id.as_str(), m.not_ingesting.as_slice()))
            .collect();
        assert_eq!(
            missing,
            [
                ("111111111111", &[][..]),
                ("222222222222", &["EKS_AUDIT".to_owned()][..]),
                ("333333333333", &[][..]),
            ],
            "a member that reports no states is not said to miss any"
        );
        assert!(conditions::is_true(&status.sync.conditions, conditions::READY));
    }

    #[test]
    fn without_the_field_members_are_counted_and_the_graph_state_is_unknown() {
        let status = status_of(
            &spec(serde_json::Value::Null, &[]),
            vec![member("111111111111", &[("EKS_AUDIT", Started)])],
            None,
        );
        assert_eq!(
            status.datasource_packages,
            [DatasourcePackageStatus {
                package: "EKS_AUDIT".into(),
                state: None,
                declared: None,
                ingesting_members: 1,
            }]
        );
    }

    #[test]
    fn a_started_undeclared_package_is_named_in_the_ready_message() {
        let graph = PackageStates::from([
            ("EKS_AUDIT".to_owned(), Started),
            ("ASFF_SECURITYHUB_FINDING".to_owned(), Started),
        ]);
        let status = status_of(&spec(serde_json::json!(["EKS_AUDIT"]), &[]), Vec::new(), Some(graph));
        let ready = status.sync.condition(conditions::READY).unwrap();
        assert_eq!((ready.status.as_str(), ready.reason.as_str()), ("True", "Synced"));
        assert!(
            ready
                .message
                .contains("not declared in spec.datasourcePackages: ASFF_SECURITYHUB_FINDING")
                && ready.message.contains("Detective console"),
            "{}",
            ready.message
        );
    }

    #[test]
    fn a_package_to_start_keeps_a_dry_run_reconciling() {
        let graph = PackageStates::from([("EKS_AUDIT".to_owned(), Stopped)]);
        let status = status_of(&spec(serde_json::json!(["EKS_AUDIT"]), &[]), Vec::new(), Some(graph));
        let ready = status.sync.condition(conditions::READY).unwrap();
        assert_eq!(ready.status, "False");
        assert!(
            ready.message.contains("datasource packages to start (EKS_AUDIT)"),
            "{}",
            ready.message
        );
    }

    /// The largest `DetectiveGraph` object: 1,200 members declared with 64-character e-mail
    /// addresses, every status entry filled (times, disabled reason, attempts, an error) and
    /// every member missing every package, plus an estimate of the `managedFields` that
    /// server-side apply keeps for spec and status. Against the API server's 1.5 MiB object
    /// limit (etcd's default request size) the status must stay under half of it, and the
    /// whole object, managed fields included, under 80 %.
    #[test]
    fn the_status_of_a_full_graph_stays_well_under_the_object_limit() {
        const OBJECT_LIMIT: usize = 1_572_864;
        let accounts: Vec<String> = (0..1200).map(|i| format!("{:012}", 100_000_000_000u64 + i)).collect();
        let email = |i: usize| format!("{}{i:04}@{}.example.com", "r".repeat(30), "d".repeat(17));
        assert_eq!(email(0).len(), 64, "the longest e-mail Detective accepts");
        let declared: Vec<serde_json::Value> = accounts
            .iter()
            .enumerate()
            .map(|(i, a)| serde_json::json!({ "accountId": a, "emailAddress": email(i) }))
            .collect();
        let spec = spec(serde_json::json!(["EKS_AUDIT", "ASFF_SECURITYHUB_FINDING"]), &declared);
        let at = Timestamp::from_second(1_700_000_000).unwrap();
        let members: Vec<ObservedMember> = accounts
            .iter()
            .map(|a| ObservedMember {
                status: MemberStatus::AcceptedButDisabled,
                disabled_reason: Some("VOLUME_TOO_HIGH".into()),
                invited_time: Some(at),
                updated_time: Some(at),
                ingest: ["DETECTIVE_CORE", "EKS_AUDIT", "ASFF_SECURITYHUB_FINDING"]
                    .into_iter()
                    .map(|p| (p.to_owned(), Disabled))
                    .collect(),
                ..ObservedMember::invited(a, "unused@example.com")
            })
            .collect();
        let graph = PackageStates::from([
            ("DETECTIVE_CORE".to_owned(), Started),
            ("EKS_AUDIT".to_owned(), Started),
            ("ASFF_SECURITYHUB_FINDING".to_owned(), Started),
        ]);
        let mut status = status_of(&spec, members, Some(graph));
        for entry in &mut status.members {
            entry.attempts = Some(7);
            entry.last_attempt_time = Some(Time(at));
            entry.last_error =
                Some("StartMonitoringMember: the member account's data volume is too high (VOLUME_TOO_HIGH)".into());
        }
        status.inventory = accounts.clone();
        let mut object = crate::api::DetectiveGraph::new("org-graph", spec);
        object.metadata.namespace = Some("security".into());
        object.status = Some(status);
        let body = serde_json::to_value(&object).unwrap();
        let length = |v: &serde_json::Value| v.to_string().len();
        let (spec_size, status_size) = (length(&body["spec"]), length(&body["status"]));
        let (spec_fields, status_fields) = (length(&fields_v1(&body["spec"])), length(&fields_v1(&body["status"])));
        let not_ingesting: usize = object
            .status
            .as_ref()
            .unwrap()
            .members
            .iter()
            .map(|m| m.not_ingesting.iter().map(|p| p.len() + 3).sum::<usize>() + 16)
            .sum();
        let size = length(&body) + spec_fields + status_fields;
        let share = size as f64 / OBJECT_LIMIT as f64;
        let status_share = status_size as f64 / OBJECT_LIMIT as f64;
        println!(
            "1,200-member DetectiveGraph: spec {spec_size} bytes, status {status_size} (notIngesting {not_ingesting}), \
             managedFields about {spec_fields} + {status_fields}; status {:.1} % and the object {size} bytes, {:.1} % \
             of the 1.5 MiB object limit",
            status_share * 100.0,
            share * 100.0
        );
        assert!(
            status_share < 0.5,
            "the status is {:.1} % of the object limit",
            status_share * 100.0
        );
        assert!(
            share < 0.8,
            "{size} bytes is {:.1} % of the object limit",
            share * 100.0
        );
    }

    /// Server-side apply's `fieldsV1` for a value: `f:` per field, `k:` per list-map entry
    /// (members by account id, conditions by type, packages by name), `v:` per set item.
    fn fields_v1(value: &serde_json::Value) -> serde_json::Value {
        use serde_json::{Map, Value, json};
        match value {
            Value::Object(fields) => Value::Object(
                fields
                    .iter()
                    .map(|(key, child)| (format!("f:{key}"), fields_v1(child)))
                    .chain([(".".to_owned(), json!({}))])
                    .collect(),
            ),
            Value::Array(items) => Value::Object(
                items
                    .iter()
                    .map(|item| match item {
                        Value::Object(entry) => {
                            let key: Map<String, Value> = ["accountId", "type", "package"]
                                .into_iter()
                                .filter_map(|k| entry.get(k).map(|v| (k.to_owned(), v.clone())))
                                .collect();
                            (format!("k:{}", Value::Object(key)), fields_v1(item))
                        }
                        scalar => (format!("v:{scalar}"), json!({})),
                    })
                    .collect(),
            ),
            _ => json!({}),
        }
    }
}
