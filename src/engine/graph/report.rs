//! The status a `DetectiveGraph` reconcile reports: members, summary, kstatus conditions and the
//! verdict that picks them. Pure: no client, the clock comes in as `now`.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;

use super::{GraphSource, Observation, Outcome, Target, administrator_of};
use crate::api::conditions::{self, ConditionState, MEMBERS_HEALTHY, Verdict};
use crate::api::{DetectiveGraphSpec, DetectiveGraphStatus, MemberStatusEntry, MemberSummary};
use crate::engine::abbreviated;
use crate::member::{InvitationType, MemberStatus, ObservedMember};

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
        // The organization step sets what it saw; until then the last known stays.
        organization: previous.organization.clone(),
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
