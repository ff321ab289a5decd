//! Decide: what one Region needs, given its administrator and the organization's. Pure.
//!
//! An organization has one Detective administrator: once AWS Organizations has a delegated
//! administrator for Detective, only that account (or the management account) may be named, in
//! any Region. So another account as the administrator, in Organizations or in any declared
//! Region, is a conflict of the whole resource ([`other_administrator`]): every declared Region
//! not already delegated to `accountId` is [`Decision::Conflict`], and nothing is enabled.
//!
//! A new delegation shows in ListOrganizationAdminAccounts a while after
//! EnableOrganizationAdminAccount: a Region enabled by an earlier reconcile (its status records
//! `enableTime`) is [`Decision::Propagating`], never enabled again; past
//! [`schedule::DELEGATION_SHOWS_WITHIN`] it is [`Decision::NotShown`] (Stalled).
//!
//! DisableOrganizationAdminAccount deletes the organization's behavior graph in its Region, so
//! [`Decision::Disable`] comes out of exactly one path: a Region no longer asked for, whose
//! administrator is the declared account, with `Disable` chosen explicitly. Another account's
//! delegation is never enabled over nor disabled.

use k8s_openapi::jiff::Timestamp;

use super::schedule;
use crate::api::{DelegationRemoval, DetectiveOrganizationAdminSpec, DetectiveOrganizationAdminStatus};

/// What to do in one Region.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Declared, and the declared account is the administrator: nothing to do (adopted as is).
    Delegated,
    /// Declared, and the organization has no administrator: EnableOrganizationAdminAccount.
    Enable,
    /// Declared; EnableOrganizationAdminAccount was called at `since` and the delegation does
    /// not show yet: looked at again soon, never enabled again.
    Propagating { since: Timestamp },
    /// Declared; EnableOrganizationAdminAccount was called at `since`, longer ago than a new
    /// delegation takes to show, and it still does not: reported Stalled, not enabled again.
    NotShown { since: Timestamp },
    /// Declared, but another account is the organization's Detective administrator: left alone,
    /// reported Stalled.
    Conflict { administrator: String },
    /// No longer asked for, delegated to the declared account, and `Disable` chosen.
    Disable,
    /// No longer asked for, delegated to the declared account, kept (`Retain`).
    Retained,
    /// No longer asked for and not delegated to the declared account: nothing to keep track of.
    Forget,
}

/// The write a decision makes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OrganizationAdminWrite {
    Enable,
    Disable,
}

impl OrganizationAdminWrite {
    /// The Detective operation, as events and plans name it.
    pub fn operation(self) -> &'static str {
        match self {
            Self::Enable => "EnableOrganizationAdminAccount",
            Self::Disable => "DisableOrganizationAdminAccount",
        }
    }

    /// The action, as `status.pendingChanges` names it.
    pub fn action(self) -> &'static str {
        match self {
            Self::Enable => "enable",
            Self::Disable => "disable",
        }
    }
}

impl Decision {
    /// The write this decision makes, if any.
    pub fn write(&self) -> Option<OrganizationAdminWrite> {
        match self {
            Self::Enable => Some(OrganizationAdminWrite::Enable),
            Self::Disable => Some(OrganizationAdminWrite::Disable),
            Self::Delegated
            | Self::Propagating { .. }
            | Self::NotShown { .. }
            | Self::Conflict { .. }
            | Self::Retained
            | Self::Forget => None,
        }
    }
}

/// What one Region's decision reads.
#[derive(Clone, Copy, Debug)]
pub struct RegionView<'a> {
    /// In `spec.regions`.
    pub declared: bool,
    /// The administrator ListOrganizationAdminAccounts lists there.
    pub administrator: Option<&'a str>,
    /// Another account that is the organization's Detective administrator
    /// ([`other_administrator`]).
    pub other_administrator: Option<&'a str>,
    /// When an earlier reconcile called EnableOrganizationAdminAccount there, if the delegation
    /// did not show then (the status's `enableTime`).
    pub enabled_at: Option<Timestamp>,
}

/// The decision for one Region at `now`.
pub fn decide(spec: &DetectiveOrganizationAdminSpec, region: RegionView<'_>, now: Timestamp) -> Decision {
    if !region.declared {
        return removal(&spec.account_id, spec.region_removal, region.administrator);
    }
    if region.administrator == Some(spec.account_id.as_str()) {
        return Decision::Delegated;
    }
    if let Some(other) = region.other_administrator.or(region.administrator) {
        return Decision::Conflict {
            administrator: other.to_owned(),
        };
    }
    match region.enabled_at {
        None => Decision::Enable,
        Some(since) if schedule::may_still_show(since, now) => Decision::Propagating { since },
        Some(since) => Decision::NotShown { since },
    }
}

/// The account other than `account_id` that is the organization's Detective administrator, if
/// any: registered in Organizations as its delegated administrator for Detective (`registered`;
/// pass none when `account_id` is the management account, which may be named regardless), else
/// the administrator in a declared Region (`declared_administrators`).
pub fn other_administrator<'a>(
    account_id: &str,
    registered: &'a [String],
    declared_administrators: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    registered
        .iter()
        .map(String::as_str)
        .chain(declared_administrators)
        .find(|account| *account != account_id)
}

/// What giving up a Region does under `policy` (`regionRemoval`, or `deletionPolicy` when the
/// resource goes): `Disable` only while `account_id` is the administrator there.
pub fn removal(account_id: &str, policy: DelegationRemoval, administrator: Option<&str>) -> Decision {
    match (administrator, policy) {
        (Some(account), DelegationRemoval::Disable) if account == account_id => Decision::Disable,
        (Some(account), DelegationRemoval::Retain) if account == account_id => Decision::Retained,
        _ => Decision::Forget,
    }
}

/// The Regions a reconcile reads, each with whether it is declared: `spec.regions` in order, then
/// the Regions the previous status still records (removed from the spec, delegation kept or
/// being disabled), so that a removed Region is never lost track of.
pub fn regions_in_view(
    spec: &DetectiveOrganizationAdminSpec,
    previous: Option<&DetectiveOrganizationAdminStatus>,
) -> Vec<(String, bool)> {
    let mut regions: Vec<(String, bool)> = spec.regions.iter().map(|r| (r.clone(), true)).collect();
    for entry in previous.map(|p| p.regions.as_slice()).unwrap_or_default() {
        if !regions.iter().any(|(region, _)| *region == entry.region) {
            regions.push((entry.region.clone(), false));
        }
    }
    regions
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    const OURS: &str = "111111111111";
    const OTHER: &str = "222222222222";

    fn spec(regions: &[&str], region_removal: DelegationRemoval) -> DetectiveOrganizationAdminSpec {
        DetectiveOrganizationAdminSpec {
            region_removal,
            ..serde_json::from_value(serde_json::json!({ "accountId": OURS, "regions": regions }))
                .expect("a well-typed spec")
        }
    }

    fn at(second: i64) -> Timestamp {
        Timestamp::from_second(1_800_000_000 + second).expect("a time")
    }

    fn view<'a>(declared: bool, administrator: Option<&'a str>) -> RegionView<'a> {
        RegionView {
            declared,
            administrator,
            other_administrator: None,
            enabled_at: None,
        }
    }

    #[test]
    fn decisions() {
        use DelegationRemoval::{Disable, Retain};
        let conflict = Decision::Conflict {
            administrator: OTHER.into(),
        };
        let cases = [
            (true, Retain, None, Decision::Enable),
            (true, Retain, Some(OURS), Decision::Delegated),
            (true, Disable, Some(OTHER), conflict.clone()),
            (true, Retain, Some(OTHER), conflict),
            (false, Disable, Some(OURS), Decision::Disable),
            (false, Retain, Some(OURS), Decision::Retained),
            (false, Disable, Some(OTHER), Decision::Forget),
            (false, Disable, None, Decision::Forget),
        ];
        for (declared, removal, administrator, expected) in cases {
            assert_eq!(
                decide(&spec(&["us-east-1"], removal), view(declared, administrator), at(0)),
                expected,
                "declared {declared}, {removal:?}, administrator {administrator:?}"
            );
        }
        assert_eq!(Decision::Enable.write(), Some(OrganizationAdminWrite::Enable));
        assert_eq!(Decision::Retained.write(), None);
        assert_eq!(
            OrganizationAdminWrite::Disable.operation(),
            "DisableOrganizationAdminAccount"
        );
    }

    #[test]
    fn an_enabled_region_waits_for_its_delegation_and_is_never_enabled_again() {
        let spec = spec(&["us-east-1"], DelegationRemoval::Retain);
        let enabled = RegionView {
            enabled_at: Some(at(0)),
            ..view(true, None)
        };
        assert_eq!(decide(&spec, enabled, at(30)), Decision::Propagating { since: at(0) });
        let late = at(i64::try_from(schedule::DELEGATION_SHOWS_WITHIN.as_secs()).expect("seconds"));
        assert_eq!(decide(&spec, enabled, late), Decision::NotShown { since: at(0) });
        let shown = RegionView {
            administrator: Some(OURS),
            ..enabled
        };
        assert_eq!(decide(&spec, shown, late), Decision::Delegated);
    }

    #[test]
    fn another_administrator_of_the_organization_conflicts_in_every_region_not_yet_ours() {
        let spec = spec(&["us-east-1", "eu-west-1"], DelegationRemoval::Retain);
        let registered = vec![OTHER.to_owned()];
        let other = other_administrator(OURS, &registered, [OURS]);
        assert_eq!(other, Some(OTHER));
        let conflict = Decision::Conflict {
            administrator: OTHER.into(),
        };
        let region = |administrator, enabled_at| RegionView {
            declared: true,
            administrator,
            other_administrator: other,
            enabled_at,
        };
        assert_eq!(decide(&spec, region(None, None), at(0)), conflict, "nothing enabled");
        assert_eq!(decide(&spec, region(None, Some(at(0))), at(1)), conflict);
        assert_eq!(decide(&spec, region(Some(OURS), None), at(0)), Decision::Delegated);
        // Found in a declared Region rather than in Organizations (e.g. the management account).
        assert_eq!(other_administrator(OURS, &[], [OURS, OTHER]), Some(OTHER));
        assert_eq!(other_administrator(OURS, &[OURS.to_owned()], [OURS]), None);
    }

    #[test]
    fn removed_regions_stay_in_view_after_the_declared_ones() {
        let entry = |region: &str| crate::api::RegionDelegation {
            region: region.into(),
            administrator_account_id: Some(OURS.into()),
            graph_arn: None,
            delegation_time: None,
            enable_time: None,
            state: crate::api::DelegationState::Delegated,
            message: None,
        };
        let previous = DetectiveOrganizationAdminStatus {
            regions: vec![entry("eu-west-1"), entry("us-east-1")],
            ..Default::default()
        };
        assert_eq!(
            regions_in_view(
                &spec(&["us-east-1", "us-west-2"], DelegationRemoval::Retain),
                Some(&previous)
            ),
            [
                ("us-east-1".to_owned(), true),
                ("us-west-2".to_owned(), true),
                ("eu-west-1".to_owned(), false)
            ]
        );
    }

    fn account() -> impl Strategy<Value = Option<String>> {
        prop_oneof![Just(None), Just(Some(OURS.to_owned())), Just(Some(OTHER.to_owned()))]
    }

    fn policy() -> impl Strategy<Value = DelegationRemoval> {
        prop_oneof![Just(DelegationRemoval::Retain), Just(DelegationRemoval::Disable)]
    }

    proptest! {
        /// The one way to DisableOrganizationAdminAccount: not declared, `Disable` chosen, and
        /// the declared account is the administrator. Nothing else ever writes over another
        /// account's delegation either.
        #[test]
        fn disable_needs_the_opt_in_and_our_own_delegation(
            declared in any::<bool>(),
            region_removal in policy(),
            administrator in account(),
            other in account(),
            enabled in any::<bool>(),
        ) {
            let region = RegionView {
                declared,
                administrator: administrator.as_deref(),
                other_administrator: other.as_deref().filter(|o| *o != OURS),
                enabled_at: enabled.then(|| at(0)),
            };
            let decision = decide(&spec(&["us-east-1"], region_removal), region, at(1));
            let ours = administrator.as_deref() == Some(OURS);
            if decision.write() == Some(OrganizationAdminWrite::Disable) {
                prop_assert!(!declared && region_removal == DelegationRemoval::Disable && ours);
            }
            // Enable only where nobody administers, nobody else is the organization's
            // administrator, and no earlier Enable is still to show.
            if decision.write() == Some(OrganizationAdminWrite::Enable) {
                prop_assert!(declared && administrator.is_none() && region.other_administrator.is_none() && !enabled);
            }
            // Deleting the resource goes through the same gate: it never enables, and it
            // disables only the declared account's own delegation, with `Disable` chosen.
            let teardown = removal(OURS, region_removal, administrator.as_deref()).write();
            prop_assert_ne!(teardown, Some(OrganizationAdminWrite::Enable));
            if teardown == Some(OrganizationAdminWrite::Disable) {
                prop_assert!(region_removal == DelegationRemoval::Disable && ours);
            }
        }
    }
}
