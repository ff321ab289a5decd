//! What the Organizations API shows of an organization at an instant, which is not the world as
//! it is now:
//!
//! - with a `propagationDelay`, an account that moved between OUs, joined or left the
//!   organization is listed where it was before the change until the delay has passed (the
//!   Organizations User Guide, "Changes that I make aren't always immediately visible"). Each
//!   change of the world notes the placements it ends ([`ServiceState::note_placement_changes`]);
//!   a listing reads the oldest placement still shown, so that two quick moves show the first
//!   placement, then the second, then the third. An organization that appears with the change
//!   appears whole: its creation is not a change within it.
//! - a CLOSED account is listed for 90 days after its `closedTimestamp`, then no longer (the
//!   Organizations User Guide, "Closing a member account in an organization").

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};

use super::model::{PlacementChange, ServiceState};
use super::organization::{AccountState, Organization};
use super::world::World;

/// How long Organizations keeps listing a CLOSED account after its closure.
pub(crate) const CLOSED_ACCOUNT_LISTED_FOR: jiff::SignedDuration = jiff::SignedDuration::from_hours(90 * 24);

impl ServiceState {
    /// Notes, at `now_ms`, the placements that the change from `before` to `after` ends, when
    /// `after` has a propagation delay.
    pub(crate) fn note_placement_changes(&mut self, before: &World, after: &World, now_ms: i64) {
        let delay_ms = after.realism().propagation_delay_ms();
        if delay_ms == 0 {
            return;
        }
        let accounts: BTreeSet<&str> = before
            .organization_members()
            .chain(after.organization_members())
            .collect();
        for account_id in accounts {
            let (was, is) = (before.placement(account_id), after.placement(account_id));
            let new_organization = is.is_some_and(|(organization, _)| !before.has_organization(organization));
            if was == is || (was.is_none() && new_organization) {
                continue;
            }
            self.placement_changes.push(PlacementChange {
                account_id: account_id.to_owned(),
                organization: was.map(|(organization, _)| organization.to_owned()),
                parent_id: was.map(|(_, parent)| parent.to_owned()),
                shown_until_ms: now_ms.saturating_add(delay_ms),
            });
        }
    }

    /// Forgets the placements no longer shown at `now_ms`.
    pub(crate) fn settle_placement_changes(&mut self, now_ms: i64) {
        self.placement_changes.retain(|change| now_ms < change.shown_until_ms);
    }
}

/// `organization` as the Organizations API shows it at `now_ms` (borrowed when that is the
/// world as it is).
pub(crate) fn shown<'o>(
    organization: &'o Organization,
    world: &World,
    state: &ServiceState,
    now_ms: i64,
) -> Cow<'o, Organization> {
    // Per account, the parent it is shown under here (`None`: not shown here), from the oldest
    // placement still shown.
    let mut lagging: BTreeMap<&str, Option<&str>> = BTreeMap::new();
    for change in state
        .placement_changes
        .iter()
        .filter(|change| now_ms < change.shown_until_ms)
    {
        let here = change.organization.as_deref() == Some(organization.id.as_str());
        lagging
            .entry(change.account_id.as_str())
            .or_insert_with(|| change.parent_id.as_deref().filter(|_| here));
    }
    let expired = |account_id: &str| {
        world.account_config(account_id).is_some_and(|account| {
            account.state == AccountState::Closed
                && account.closed_timestamp.is_some_and(|closed| {
                    closed
                        .checked_add(CLOSED_ACCOUNT_LISTED_FOR)
                        .is_ok_and(|gone| gone.as_millisecond() <= now_ms)
                })
        })
    };
    if lagging.is_empty() && !organization.accounts.iter().any(|account| expired(account)) {
        return Cow::Borrowed(organization);
    }
    let mut placed: BTreeMap<&str, &str> = organization
        .parent_of
        .iter()
        .map(|(account, parent)| (account.as_str(), parent.as_str()))
        .collect();
    for (account, shown_under) in lagging {
        match shown_under {
            Some(parent) => placed.insert(account, parent),
            None => placed.remove(account),
        };
    }
    let mut view = Organization {
        accounts: Vec::new(),
        accounts_by_parent: Default::default(),
        parent_of: Default::default(),
        ..organization.clone()
    };
    for (account, parent) in placed.into_iter().filter(|(account, _)| !expired(account)) {
        view.add_account(account, Some(parent));
    }
    view.finish();
    Cow::Owned(view)
}
