//! The status a `DetectiveOrganizationAdmin` reconcile reports: one entry per Region and the
//! kstatus conditions over all of them. Pure: no client, the clock comes in as `now`.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;

use super::decide::{Decision, OrganizationAdminWrite};
use super::pending::pending_changes;
use super::{OrganizationAdminTarget, RegionOutcome, schedule};
use crate::api::conditions::Verdict;
use crate::api::{DelegationState, DetectiveOrganizationAdminStatus, PendingChanges, RegionDelegation, SyncStatus};
use crate::aws::ErrorKind;
use crate::engine::{Mode, SyncError};

/// Why the management-account calls are refused, most of the time.
const MANAGEMENT_ACCOUNT_HINT: &str = "the organization's Detective administrator is named by its management \
     account: check that spec.assumeRoleArn (or the operator's credentials) is the management account, with \
     detective:ListOrganizationAdminAccounts, detective:EnableOrganizationAdminAccount, \
     organizations:ListDelegatedAdministrators and the organizations:* permissions they need";

/// The status for a reconcile's Region outcomes; `failed` is a failure before any Region was read.
pub fn report(
    target: &OrganizationAdminTarget<'_>,
    regions: &[RegionOutcome],
    failed: Option<&SyncError>,
    mode: Mode,
    now: Timestamp,
) -> DetectiveOrganizationAdminStatus {
    let previous = target.previous.cloned().unwrap_or_default();
    let account = &target.spec.account_id;
    let entries: Vec<RegionDelegation> = if failed.is_some() {
        previous.regions.clone()
    } else {
        regions
            .iter()
            .filter_map(|outcome| {
                let before = previous.regions.iter().find(|e| e.region == outcome.region);
                entry(outcome, before, account, mode, now)
            })
            .collect()
    };
    let policy = target.spec.management_policy;
    // The plan, when every Region was read.
    let pending = (failed.is_none() && regions.iter().all(|r| r.error.is_none())).then(|| pending_changes(regions));
    let verdict = match (failed, &pending) {
        (Some(error), _) => hinted(error, None),
        // Observe: Ready means the delegations were read; the plan is InSync's and pendingChanges'.
        (None, Some(pending)) if policy.observes() => pending.observed(),
        (None, _) => verdict(regions, &entries, account),
    };
    let mut states = verdict.states().to_vec();
    if let Some(pending) = &pending {
        let written = !policy.observes() && regions.iter().any(|r| r.applied.is_some());
        states.push(pending.in_sync(written));
    }
    let declared = |e: &&RegionDelegation| target.spec.regions.contains(&e.region);
    let delegated = entries
        .iter()
        .filter(declared)
        .filter(|e| e.state == DelegationState::Delegated)
        .count();
    DetectiveOrganizationAdminStatus {
        sync: SyncStatus::after(&previous.sync, &states, target.generation, now, failed.is_none()),
        delegated_regions: i32::try_from(delegated).unwrap_or(i32::MAX),
        declared_regions: i32::try_from(target.spec.regions.len()).unwrap_or(i32::MAX),
        regions: entries,
        pending_changes: PendingChanges::published(policy, pending, previous.pending_changes.as_ref()),
    }
}

/// One Region's status entry; `None` when the Region is no longer worth tracking (not declared
/// and not delegated to the declared account, or its delegation disabled as asked).
fn entry(
    outcome: &RegionOutcome,
    before: Option<&RegionDelegation>,
    account: &str,
    mode: Mode,
    now: Timestamp,
) -> Option<RegionDelegation> {
    let region = &outcome.region;
    if let Some(error) = &outcome.error {
        // What was known stays; the entry keeps the Region in view for the next reconcile (and
        // an Enable made before, so that it is not made again).
        let kept = before.cloned().unwrap_or_else(|| RegionDelegation {
            region: region.clone(),
            administrator_account_id: None,
            graph_arn: None,
            delegation_time: None,
            enable_time: None,
            state: DelegationState::Error,
            message: None,
        });
        let enabled_now = outcome.applied == Some(OrganizationAdminWrite::Enable);
        return Some(RegionDelegation {
            state: DelegationState::Error,
            message: Some(error.to_string()),
            enable_time: kept.enable_time.clone().or_else(|| enabled_now.then_some(Time(now))),
            ..kept
        });
    }
    let administrator = outcome.administrator.as_ref();
    let ours = administrator.is_some_and(|a| a.account_id == account);
    let not_listed = |since: Timestamp| {
        format!("EnableOrganizationAdminAccount made at {since}; not listed yet (a new delegation shows a while later)")
    };
    let (state, message, enable_time) = match outcome.decision.as_ref()? {
        Decision::Forget => return None,
        Decision::Disable if administrator.is_none() => return None,
        // The same entry whether this reconcile delegated or adopted: a resync writes nothing.
        Decision::Delegated => (DelegationState::Delegated, None, None),
        Decision::Enable if ours => (DelegationState::Delegated, None, None),
        Decision::Enable => match mode {
            Mode::DryRun => (
                DelegationState::Pending,
                Some(format!("would call {}", OrganizationAdminWrite::Enable.operation())),
                None,
            ),
            Mode::Apply => (DelegationState::Pending, Some(not_listed(now)), Some(now)),
        },
        Decision::Propagating { since } => (DelegationState::Pending, Some(not_listed(*since)), Some(*since)),
        Decision::NotShown { since } => (
            DelegationState::Pending,
            Some(format!(
                "EnableOrganizationAdminAccount made at {since} and account {account} is still not listed after {}; \
                 the operator does not call it again: check the organization's trusted access for Detective, or \
                 remove {region} from spec.regions and add it back to delegate it anew",
                humanized(schedule::DELEGATION_SHOWS_WITHIN)
            )),
            Some(*since),
        ),
        Decision::Conflict { administrator } => (
            DelegationState::Conflict,
            Some(format!(
                "account {administrator} is already the organization's Detective administrator (an organization \
                 has one, in every Region); the operator never replaces it: declare accountId {administrator}, or \
                 remove it yourself (DeregisterDelegatedAdministrator for detective.amazonaws.com in AWS \
                 Organizations, and DisableOrganizationAdminAccount where it is delegated, which deletes its \
                 organization behavior graph there)"
            )),
            None,
        ),
        Decision::Retained => (
            DelegationState::Retained,
            Some("removed from spec.regions; the delegation is kept (regionRemoval: Retain)".to_owned()),
            None,
        ),
        Decision::Disable => (
            DelegationState::Disabling,
            Some(format!(
                "removed from spec.regions with regionRemoval: Disable; {}",
                match mode {
                    Mode::DryRun => format!("would call {}", OrganizationAdminWrite::Disable.operation()),
                    Mode::Apply => format!("{} made; not listed yet", OrganizationAdminWrite::Disable.operation()),
                }
            )),
            None,
        ),
    };
    Some(RegionDelegation {
        region: region.clone(),
        administrator_account_id: administrator.map(|a| a.account_id.clone()),
        graph_arn: administrator.and_then(|a| a.graph_arn.clone()),
        delegation_time: administrator.and_then(|a| a.delegation_time).map(Time),
        enable_time: enable_time.map(Time),
        state,
        message,
    })
}

/// `5m` for a whole number of minutes, else seconds.
fn humanized(duration: std::time::Duration) -> String {
    let seconds = duration.as_secs();
    if seconds.is_multiple_of(60) {
        format!("{}m", seconds / 60)
    } else {
        format!("{seconds}s")
    }
}

/// The verdict of a failure; refused management-account calls say what to check (in `region`,
/// when the failure is one Region's).
fn hinted(error: &SyncError, region: Option<&str>) -> Verdict {
    let mut verdict = error.verdict();
    let hint = matches!(error, SyncError::Aws(aws) if aws.kind == ErrorKind::AccessDenied);
    verdict.message = match (region, hint) {
        (Some(region), true) => format!("{region}: {}; {MANAGEMENT_ACCOUNT_HINT}", verdict.message),
        (Some(region), false) => format!("{region}: {}", verdict.message),
        (None, true) => format!("{}; {MANAGEMENT_ACCOUNT_HINT}", verdict.message),
        (None, false) => verdict.message,
    };
    verdict
}

/// The kstatus verdict over every Region: an AWS failure first (retryable before terminal), then
/// conflicts, then work in flight; Ready when every declared Region is delegated as declared.
fn verdict(regions: &[RegionOutcome], entries: &[RegionDelegation], account: &str) -> Verdict {
    let failures: Vec<(&str, SyncError)> = regions
        .iter()
        .filter_map(|r| r.error.clone().map(|e| (r.region.as_str(), SyncError::Aws(e))))
        .collect();
    let failure = failures
        .iter()
        .find(|(_, e)| e.is_retryable())
        .or_else(|| failures.first());
    if let Some((region, error)) = failure {
        return hinted(error, Some(region));
    }
    let in_state =
        |state: DelegationState| -> Vec<&RegionDelegation> { entries.iter().filter(|e| e.state == state).collect() };
    let conflicts = in_state(DelegationState::Conflict);
    if let Some(first) = conflicts.first() {
        // One administrator for the organization: the message is the same in every Region.
        let regions: Vec<&str> = conflicts.iter().map(|e| e.region.as_str()).collect();
        return Verdict::stalled(
            "AdministratorConflict",
            format!(
                "{} (in {})",
                first.message.as_deref().unwrap_or_default(),
                regions.join(", ")
            ),
        );
    }
    let not_shown: Vec<String> = regions
        .iter()
        .filter(|r| matches!(r.decision, Some(Decision::NotShown { .. })))
        .filter_map(|r| entries.iter().find(|e| e.region == r.region))
        .map(|e| format!("{}: {}", e.region, e.message.as_deref().unwrap_or_default()))
        .collect();
    if !not_shown.is_empty() {
        return Verdict::stalled("DelegationNotShown", not_shown.join("; "));
    }
    let pending: Vec<&str> = in_state(DelegationState::Pending)
        .into_iter()
        .chain(in_state(DelegationState::Disabling))
        .map(|e| e.region.as_str())
        .collect();
    if !pending.is_empty() {
        return Verdict::progressing(
            "Delegating",
            format!("delegation changes pending in {}", pending.join(", ")),
        );
    }
    let delegated: Vec<&str> = regions
        .iter()
        .filter(|r| r.declared)
        .map(|r| r.region.as_str())
        .collect();
    Verdict::ready(
        "Delegated",
        format!(
            "account {account} is the organization's Detective administrator in {}",
            delegated.join(", ")
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{DelegationRemoval, DetectiveOrganizationAdminSpec};
    use crate::aws::{AwsError, OrganizationAdmin};

    const OURS: &str = "111111111111";
    const OTHER: &str = "222222222222";

    fn spec(regions: &[&str]) -> DetectiveOrganizationAdminSpec {
        serde_json::from_value(serde_json::json!({ "accountId": OURS, "regions": regions })).expect("a spec")
    }

    fn admin(account: &str) -> OrganizationAdmin {
        OrganizationAdmin {
            account_id: account.into(),
            graph_arn: Some(format!(
                "arn:aws:detective:us-east-1:{account}:graph:{}",
                "a".repeat(32)
            )),
            delegation_time: Timestamp::from_second(1_700_000_000).ok(),
        }
    }

    fn region(name: &str, declared: bool, decision: Decision, administrator: Option<&str>) -> RegionOutcome {
        RegionOutcome {
            region: name.into(),
            declared,
            decision: Some(decision),
            administrator: administrator.map(admin),
            applied: None,
            error: None,
        }
    }

    fn status_of(
        spec: &DetectiveOrganizationAdminSpec,
        regions: &[RegionOutcome],
        mode: Mode,
    ) -> DetectiveOrganizationAdminStatus {
        let target = OrganizationAdminTarget {
            spec,
            previous: None,
            generation: Some(3),
        };
        report(
            &target,
            regions,
            None,
            mode,
            Timestamp::from_second(1_800_000_000).expect("a time"),
        )
    }

    fn condition(status: &DetectiveOrganizationAdminStatus, type_: &str) -> (String, String, String) {
        let c = status.sync.condition(type_).expect("the condition");
        (c.status.clone(), c.reason.clone(), c.message.clone())
    }

    #[test]
    fn delegated_everywhere_is_ready_with_the_graph_and_time_of_each_region() {
        let spec = spec(&["us-east-1", "eu-west-1"]);
        let status = status_of(
            &spec,
            &[
                region("us-east-1", true, Decision::Delegated, Some(OURS)),
                region("eu-west-1", true, Decision::Enable, Some(OURS)),
            ],
            Mode::Apply,
        );
        assert_eq!(condition(&status, "Ready").0, "True");
        assert_eq!((status.delegated_regions, status.declared_regions), (2, 2));
        assert!(
            status
                .regions
                .iter()
                .all(|e| e.state == DelegationState::Delegated && e.graph_arn.is_some() && e.delegation_time.is_some())
        );
        assert_eq!(status.sync.observed_generation, Some(3));
    }

    #[test]
    fn another_administrator_stalls_naming_it_while_the_other_region_is_delegated() {
        let spec = spec(&["us-east-1", "eu-west-1"]);
        let conflict = Decision::Conflict {
            administrator: OTHER.into(),
        };
        let status = status_of(
            &spec,
            &[
                region("us-east-1", true, Decision::Delegated, Some(OURS)),
                region("eu-west-1", true, conflict, Some(OTHER)),
            ],
            Mode::Apply,
        );
        let (ready, reason, message) = condition(&status, "Stalled");
        assert_eq!((ready.as_str(), reason.as_str()), ("True", "AdministratorConflict"));
        assert!(message.contains(OTHER) && message.contains("eu-west-1"), "{message}");
        assert_eq!(condition(&status, "Ready").0, "False");
        assert_eq!(status.delegated_regions, 1);
        let states: Vec<DelegationState> = status.regions.iter().map(|e| e.state).collect();
        assert_eq!(states, [DelegationState::Delegated, DelegationState::Conflict]);
    }

    #[test]
    fn plans_and_removals_are_reconciling_and_forgotten_regions_leave_status() {
        let mut spec = spec(&["us-east-1"]);
        spec.region_removal = DelegationRemoval::Disable;
        let status = status_of(
            &spec,
            &[
                region("us-east-1", true, Decision::Enable, None),
                region("eu-west-1", false, Decision::Disable, Some(OURS)),
                region("ap-south-1", false, Decision::Forget, Some(OTHER)),
            ],
            Mode::DryRun,
        );
        let (reconciling, reason, message) = condition(&status, "Reconciling");
        assert_eq!((reconciling.as_str(), reason.as_str()), ("True", "Delegating"));
        assert!(
            message.contains("us-east-1") && message.contains("eu-west-1"),
            "{message}"
        );
        let regions: Vec<(&str, DelegationState)> =
            status.regions.iter().map(|e| (e.region.as_str(), e.state)).collect();
        assert_eq!(
            regions,
            [
                ("us-east-1", DelegationState::Pending),
                ("eu-west-1", DelegationState::Disabling)
            ]
        );
        assert_eq!(
            status.regions[0].message.as_deref(),
            Some("would call EnableOrganizationAdminAccount")
        );
        let disabled = status_of(
            &spec,
            &[region("eu-west-1", false, Decision::Disable, None)],
            Mode::Apply,
        );
        assert!(disabled.regions.is_empty(), "a disabled Region is no longer tracked");
    }

    proptest::proptest! {
        /// Over any mix of Regions (none, ours, another account's administrator; a plan or an
        /// apply whose Enable shows at once): Ready exactly when every declared Region is ours,
        /// Stalled exactly when another account administers a declared one, and the count of
        /// delegated Regions is the count of ours.
        #[test]
        fn the_verdict_follows_the_regions(
            administrators in proptest::collection::vec(0u8..3, 1..5),
            apply in proptest::bool::ANY,
        ) {
            let names = ["us-east-1", "eu-west-1", "ap-south-1", "sa-east-1"];
            let declared: Vec<&str> = names[..administrators.len()].to_vec();
            let spec = spec(&declared);
            let mode = if apply { Mode::Apply } else { Mode::DryRun };
            let before = |who: &u8| [None, Some(OURS), Some(OTHER)][usize::from(*who)];
            let other = super::super::decide::other_administrator(OURS, &[], administrators.iter().filter_map(before));
            let now = Timestamp::from_second(1_800_000_000).expect("a time");
            let regions: Vec<RegionOutcome> = declared
                .iter()
                .zip(&administrators)
                .map(|(name, who)| {
                    let view = super::super::RegionView {
                        declared: true,
                        administrator: before(who),
                        other_administrator: other,
                        enabled_at: None,
                    };
                    let decision = super::super::decide(&spec, view, now);
                    let after = if apply && decision == Decision::Enable { Some(OURS) } else { before(who) };
                    region(name, true, decision, after)
                })
                .collect();
            let status = status_of(&spec, &regions, mode);
            let ours = regions
                .iter()
                .filter(|r| r.administrator.as_ref().is_some_and(|a| a.account_id == OURS))
                .count();
            let conflict = administrators.contains(&2);
            proptest::prop_assert_eq!(condition(&status, "Ready").0 == "True", ours == regions.len());
            proptest::prop_assert_eq!(condition(&status, "Stalled").0 == "True", conflict);
            proptest::prop_assert_eq!(usize::try_from(status.delegated_regions).ok(), Some(ours));
        }
    }

    #[test]
    fn access_denied_stalls_with_the_management_account_hint() {
        let spec = spec(&["us-east-1"]);
        let mut denied = region("us-east-1", true, Decision::Enable, None);
        denied.decision = None;
        denied.error = Some(AwsError::new(
            "ListOrganizationAdminAccounts",
            ErrorKind::AccessDenied,
            "AccessDeniedException",
            "not the management account",
        ));
        let status = status_of(&spec, &[denied], Mode::Apply);
        let (stalled, reason, message) = condition(&status, "Stalled");
        assert_eq!((stalled.as_str(), reason.as_str()), ("True", "AccessDenied"));
        assert!(
            message.starts_with("us-east-1: ") && message.contains("management"),
            "{message}"
        );
        assert_eq!(status.regions[0].state, DelegationState::Error);
    }
}
