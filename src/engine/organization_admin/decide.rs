//! Decide: what one Region needs, given its administrator. Pure.
//!
//! DisableOrganizationAdminAccount deletes the organization's behavior graph in its Region, so
//! [`Decision::Disable`] comes out of exactly one path: a Region no longer asked for, whose
//! administrator is the declared account, with `Disable` chosen explicitly. Another account's
//! delegation is never enabled over nor disabled.

use crate::api::{DelegationRemoval, DetectiveOrganizationAdminSpec, DetectiveOrganizationAdminStatus};

/// What to do in one Region.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Declared, and the declared account is the administrator: nothing to do (adopted as is).
    Delegated,
    /// Declared, and the organization has no administrator there: EnableOrganizationAdminAccount.
    Enable,
    /// Declared, but another account is the administrator: left alone, reported Stalled.
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
}

impl Decision {
    /// The write this decision makes, if any.
    pub fn write(&self) -> Option<OrganizationAdminWrite> {
        match self {
            Self::Enable => Some(OrganizationAdminWrite::Enable),
            Self::Disable => Some(OrganizationAdminWrite::Disable),
            Self::Delegated | Self::Conflict { .. } | Self::Retained | Self::Forget => None,
        }
    }
}

/// The decision for a Region (`declared`: in `spec.regions`) whose administrator is
/// `administrator`.
pub fn decide(spec: &DetectiveOrganizationAdminSpec, declared: bool, administrator: Option<&str>) -> Decision {
    if !declared {
        return removal(&spec.account_id, spec.region_removal, administrator);
    }
    match administrator {
        None => Decision::Enable,
        Some(account) if account == spec.account_id => Decision::Delegated,
        Some(account) => Decision::Conflict {
            administrator: account.to_owned(),
        },
    }
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
                decide(&spec(&["us-east-1"], removal), declared, administrator),
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
    fn removed_regions_stay_in_view_after_the_declared_ones() {
        let entry = |region: &str| crate::api::RegionDelegation {
            region: region.into(),
            administrator_account_id: Some(OURS.into()),
            graph_arn: None,
            delegation_time: None,
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
        ) {
            let decision = decide(&spec(&["us-east-1"], region_removal), declared, administrator.as_deref());
            let ours = administrator.as_deref() == Some(OURS);
            if decision.write() == Some(OrganizationAdminWrite::Disable) {
                prop_assert!(!declared && region_removal == DelegationRemoval::Disable && ours);
            }
            if decision.write() == Some(OrganizationAdminWrite::Enable) {
                prop_assert!(declared && administrator.is_none());
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
