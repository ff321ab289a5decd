//! Members from AWS Organizations (`spec.membersFrom.organization`): list the ACTIVE accounts of
//! the chosen roots and OUs — AWS Organizations reads, at most once per `refreshInterval` — and
//! declare them together with `spec.members`.
//!
//! Where the resolved set lives between refreshes: `status.organization.resolved` keeps the
//! account ids and the refresh time (not the e-mail addresses). Within the interval a sync needs
//! no Organizations call: a resolved account that is already a member needs no e-mail again (the
//! member keeps the one it was enabled with, read by ListMembers). A resolved account that is
//! not a member (a write failed, or someone removed it) makes that sync list the organization
//! again, for its e-mail. The controller and `sync -f` both read the previous status (the CLI's
//! from the document), so both behave alike.
//!
//! Graphs asking the same question as the same reader share one listing per interval in one
//! process ([`SharedListings`], given by the controller and `sync -f`): a listing shared keeps the
//! time it was made as the refresh time of every graph it serves.
//!
//! The decisions ([`refresh_due`], [`declared_members`], [`resolution`]) are pure.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use tracing::{debug, info};

use super::GraphObservation;
use crate::api::constraints::MAX_MEMBERS;
use crate::api::{DetectiveGraphSpec, DetectiveGraphStatus, MemberSpec, OrganizationMembersSpec, ResolvedOrganization};
use crate::aws::organizations::home_region;
use crate::aws::{AwsError, ErrorKind, OrganizationAccount, Organizations, ReachOrganizations, RoleToAssume};
use crate::engine::organization_listings::{ListingRequest, OrganizationListings};
use crate::graph_arn::GraphArn;
use crate::member::ObservedMember;

/// Why the members could not be resolved from the organization.
#[derive(Debug, thiserror::Error)]
pub enum MembersFromError {
    /// The organization could not be listed.
    #[error(
        "spec.membersFrom.organization: could not list the organization: {source}{}",
        listing_hint(source)
    )]
    Listing {
        #[source]
        source: AwsError,
    },
    /// The union of `members` and the resolved accounts is over the quota; nothing is applied
    /// and nothing is truncated.
    #[error(
        "spec.membersFrom.organization resolves {resolved} accounts; with spec.members that is {declared} members, \
         more than the {MAX_MEMBERS} a behavior graph holds: nothing was applied. Narrow organizationalUnits or \
         add excludeAccounts"
    )]
    TooManyMembers { resolved: usize, declared: usize },
}

/// What to do when the organization may not be listed by whom the operator asked.
fn listing_hint(source: &AwsError) -> &'static str {
    if source.kind == ErrorKind::AccessDenied {
        ". Only the management account or a delegated administrator may list an organization: delegate the \
         graph's account (DetectiveOrganizationAdmin), or name such a role in \
         spec.membersFrom.organization.assumeRoleArn, whose trust policy names the operator's role (and \
         spec.membersFrom.organization.externalId when it requires one)"
    } else {
        ""
    }
}

impl MembersFromError {
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Listing { source } => source.is_retryable(),
            Self::TooManyMembers { .. } => false,
        }
    }

    /// The condition reason.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::TooManyMembers { .. } => "TooManyMembers",
            Self::Listing { source } => match (source.kind, source.code.as_str()) {
                (_, "AWSOrganizationsNotInUseException") => "OrganizationNotInUse",
                (_, "ParentNotFoundException") => "OrganizationalUnitNotFound",
                (ErrorKind::AccessDenied, _) => "OrganizationAccessDenied",
                (ErrorKind::Throttled, _) => "Throttled",
                _ => "OrganizationsError",
            },
        }
    }
}

/// What the step leaves for the desired graph and the status.
#[derive(Debug)]
pub struct MembersFrom {
    /// What `status.organization.resolved` keeps: this sync's listing, else the previous one.
    pub resolved: Option<ResolvedOrganization>,
    /// The declared members (`spec.members` ∪ the resolved accounts), or why there are none.
    pub members: Result<Vec<MemberSpec>, MembersFromError>,
}

/// The organization listings one process shares between its graphs.
pub type SharedListings = OrganizationListings<Listing>;

/// Where a graph's listing comes from: AWS Organizations through `reach`, through `shared` when
/// the caller shares listings between graphs.
pub struct ListingSource<'a, R> {
    pub reach: &'a R,
    pub shared: Option<&'a SharedListings>,
}

/// Resolves the declared members of a graph that was observed: lists the organization when a
/// refresh is due (or takes the listing shared for the same request), else declares the accounts
/// `previous` resolved.
pub async fn resolve_members<R: ReachOrganizations>(
    source: ListingSource<'_, R>,
    spec: &DetectiveGraphSpec,
    from: &OrganizationMembersSpec,
    observation: &GraphObservation,
    previous: Option<&ResolvedOrganization>,
    now: Timestamp,
) -> MembersFrom {
    let administrator = observation.administrator().map(str::to_owned);
    let fresh = if refresh_due(from, previous, &observation.members, administrator.as_deref(), now) {
        match list_for(source, spec, from, observation, now).await {
            Ok(listing) => Some(listing),
            Err(source) => {
                return MembersFrom {
                    resolved: previous.cloned(),
                    members: Err(MembersFromError::Listing { source }),
                };
            }
        }
    } else {
        debug!("organization listed within refreshInterval: using status.organization.resolved");
        None
    };
    let emails: BTreeMap<&str, &str> = match &fresh {
        Some((listing, _)) => listing
            .accounts
            .iter()
            .map(|a| (a.account_id.as_str(), a.email_address.as_str()))
            .collect(),
        None => observation
            .members
            .iter()
            .filter_map(|m| Some((m.account_id.as_str(), m.email_address.as_deref()?)))
            .collect(),
    };
    let resolved = match &fresh {
        Some((listing, listed_at)) => Some(resolution(listing, &from.organizational_units, *listed_at)),
        None => previous.cloned(),
    };
    let accounts: Vec<&str> = resolved
        .as_ref()
        .map(|r| r.accounts.iter().map(String::as_str).collect())
        .unwrap_or_default();
    // The administrator is an account of the organization but never a member of its graph.
    let excluded: Vec<String> = from.exclude_accounts.iter().cloned().chain(administrator).collect();
    // The quota counts every declared account, whether or not its e-mail is at hand.
    let all = BTreeMap::from_iter(accounts.iter().map(|account| (*account, "")));
    let declared = declared_members(&spec.members, &accounts, &excluded, &all).len();
    let members = if declared > MAX_MEMBERS {
        Err(MembersFromError::TooManyMembers {
            resolved: accounts.len(),
            declared,
        })
    } else {
        Ok(declared_members(&spec.members, &accounts, &excluded, &emails))
    };
    MembersFrom { resolved, members }
}

/// Lists the organization as the role `membersFrom.organization` names (else as the graph's
/// account), through the Organizations endpoint of the graph's partition; or takes the listing
/// shared for the same request by the same reader. The listing and when it was made.
async fn list_for<R: ReachOrganizations>(
    source: ListingSource<'_, R>,
    spec: &DetectiveGraphSpec,
    from: &OrganizationMembersSpec,
    observation: &GraphObservation,
    now: Timestamp,
) -> Result<(Arc<Listing>, Timestamp), AwsError> {
    // The graph's Region (else the operator's default, as for its Detective client).
    let region = observation
        .graph_arn
        .as_deref()
        .and_then(|arn| GraphArn::parse(arn).ok())
        .map(|arn| arn.region())
        .or(spec.region());
    let reader = from.role().or_else(|| spec.role());
    let list_now = async || {
        let role = reader.map(RoleToAssume::from);
        let organizations = source.reach.organizations(region, role.as_ref()).await?;
        let listing = list(&organizations, &from.organizational_units).await?;
        info!(
            accounts = listing.accounts.len(),
            inactive = listing.inactive,
            units = listing.units_walked,
            "organization listed"
        );
        Ok(listing)
    };
    let Some(shared) = source.shared else {
        return Ok((Arc::new(list_now().await?), now));
    };
    let request = ListingRequest::new(
        &from.organizational_units,
        &from.exclude_accounts,
        reader,
        region.map(home_region),
    );
    let listing = shared.listing(request, now, from.refresh_interval(), list_now).await?;
    if listing.shared {
        debug!(listed_at = %listing.listed_at, "organization listing shared with another graph asking the same");
    }
    Ok((listing.listing, listing.listed_at))
}

/// The ACTIVE accounts one listing found, and what it walked.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Listing {
    /// ACTIVE accounts, sorted by id, each once.
    pub accounts: Vec<OrganizationAccount>,
    /// Roots and OUs whose accounts were listed (0 for the whole organization, and for OUs
    /// resolved from the `Paths` of ListAccounts).
    pub units_walked: usize,
    /// Accounts found that are not ACTIVE.
    pub inactive: usize,
}

/// Lists the accounts under `requested` roots and OUs (child OUs included), or the whole
/// organization when `requested` is empty or names its root. Calls: the whole organization is
/// ⌈accounts / 20⌉ ListAccounts pages. OUs are resolved from those same pages when
/// Organizations answers accounts with `Paths` (an account is under an OU its path runs
/// through), plus one ListOrganizationalUnitsForParent call for each requested OU that no
/// account is under, to tell an empty OU from one that does not exist. Without `Paths` (one
/// ListAccounts page shows it) the OUs are walked: for each OU, its ListAccountsForParent pages
/// and one ListOrganizationalUnitsForParent page per 20 child OUs.
pub async fn list<O: Organizations>(organizations: &O, requested: &[String]) -> Result<Listing, AwsError> {
    let (roots, units): (Vec<&String>, Vec<&String>) = requested.iter().partition(|id| id.starts_with("r-"));
    let found = if requested.is_empty() || !roots.is_empty() {
        if !roots.is_empty() {
            // A root id that is not this organization's would otherwise read as "everything".
            let actual = organizations.list_roots().await?;
            if let Some(unknown) = roots.iter().find(|r| !actual.contains(r)) {
                return Err(AwsError::new(
                    "ListRoots",
                    ErrorKind::Invalid,
                    "ParentNotFoundException",
                    format!(
                        "{unknown} is not the root of the organization (its root is {})",
                        actual.join(", ")
                    ),
                ));
            }
        }
        (organizations.list_accounts().await?, 0)
    } else if let Some(everything) = organizations.list_accounts_with_paths().await? {
        let under: Vec<OrganizationAccount> = everything
            .into_iter()
            .filter(|account| units.iter().any(|unit| account.is_under(unit)))
            .collect();
        for unit in units
            .iter()
            .filter(|unit| !under.iter().any(|account| account.is_under(unit)))
        {
            // An OU with no account, or none at all: this answers ParentNotFoundException then.
            organizations.list_organizational_units_for_parent(unit).await?;
        }
        (under, 0)
    } else {
        let mut queue: VecDeque<String> = units.into_iter().cloned().collect();
        let mut walked = BTreeSet::new();
        let mut accounts = Vec::new();
        while let Some(unit) = queue.pop_front() {
            if !walked.insert(unit.clone()) {
                continue;
            }
            accounts.extend(organizations.list_accounts_for_parent(&unit).await?);
            queue.extend(organizations.list_organizational_units_for_parent(&unit).await?);
        }
        (accounts, walked.len())
    };
    Ok(active_accounts(found.0, found.1))
}

/// Keeps the ACTIVE accounts, each once, sorted. Pure.
pub fn active_accounts(found: Vec<OrganizationAccount>, units_walked: usize) -> Listing {
    let (active, inactive): (Vec<_>, Vec<_>) = found.into_iter().partition(|a| a.active);
    let accounts: BTreeMap<String, OrganizationAccount> =
        active.into_iter().map(|a| (a.account_id.clone(), a)).collect();
    Listing {
        accounts: accounts.into_values().collect(),
        units_walked,
        inactive: inactive.len(),
    }
}

/// What status keeps of a listing. Pure.
pub fn resolution(listing: &Listing, requested: &[String], now: Timestamp) -> ResolvedOrganization {
    let count = |n: usize| i32::try_from(n).unwrap_or(i32::MAX);
    ResolvedOrganization {
        count: count(listing.accounts.len()),
        requested: requested.to_vec(),
        units_walked: count(listing.units_walked),
        inactive: count(listing.inactive),
        refresh_time: Time(now),
        accounts: listing.accounts.iter().map(|a| a.account_id.clone()).collect(),
    }
}

/// Whether this sync lists the organization: never listed, the requested units changed, the
/// interval elapsed, or a resolved account (neither excluded nor the administrator) is not a
/// member, so its e-mail is not known (unless the resolved set is over the quota, which stays
/// refused until the next refresh). Pure.
pub fn refresh_due(
    spec: &OrganizationMembersSpec,
    previous: Option<&ResolvedOrganization>,
    members: &[ObservedMember],
    administrator: Option<&str>,
    now: Timestamp,
) -> bool {
    let Some(previous) = previous else {
        return true;
    };
    if previous.requested != spec.organizational_units {
        return true;
    }
    let interval = SignedDuration::try_from(spec.refresh_interval()).unwrap_or(SignedDuration::MAX);
    if now.duration_since(previous.refresh_time.0) >= interval {
        return true;
    }
    let present: BTreeSet<&str> = members.iter().map(|m| m.account_id.as_str()).collect();
    let drawn: Vec<&String> = previous
        .accounts
        .iter()
        .filter(|account| administrator != Some(account.as_str()) && !spec.exclude_accounts.contains(account))
        .collect();
    // A set over the quota is refused until a refresh (or the spec) changes it: listing again
    // before the interval would only find the same refusal.
    drawn.len() <= MAX_MEMBERS && drawn.iter().any(|account| !present.contains(account.as_str()))
}

/// How long until the resolved members are due for a refresh, when `membersFrom.organization`
/// is set: the requeue is no later than that. Pure.
pub fn until_refresh(
    spec: &DetectiveGraphSpec,
    status: &DetectiveGraphStatus,
    now: Timestamp,
) -> Option<std::time::Duration> {
    let from = spec.members_from.as_ref()?.organization.as_ref()?;
    let refreshed = status.organization.as_ref()?.resolved.as_ref()?.refresh_time.0;
    let elapsed = std::time::Duration::try_from(now.duration_since(refreshed)).unwrap_or_default();
    Some(from.refresh_interval().saturating_sub(elapsed))
}

/// The declared members: `explicit` (whose entries win), then every resolved account that is
/// not excluded, with its e-mail. A resolved account without a known e-mail cannot occur after
/// [`refresh_due`]; it is left out rather than declared with a made-up address. Pure.
pub fn declared_members(
    explicit: &[MemberSpec],
    resolved: &[&str],
    excluded: &[String],
    emails: &BTreeMap<&str, &str>,
) -> Vec<MemberSpec> {
    let listed: BTreeSet<&str> = explicit.iter().map(|m| m.account_id.as_str()).collect();
    let drawn = resolved
        .iter()
        .filter(|account| !listed.contains(*account) && !excluded.iter().any(|e| e == *account))
        .filter_map(|account| {
            Some(MemberSpec {
                account_id: (*account).to_owned(),
                email_address: (*emails.get(account)?).to_owned(),
            })
        });
    explicit.iter().cloned().chain(drawn).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::member::MemberStatus;

    fn from(units: &[&str], excluded: &[&str]) -> OrganizationMembersSpec {
        serde_json::from_value(serde_json::json!({
            "organizationalUnits": units,
            "excludeAccounts": excluded,
            "refreshInterval": "10m",
        }))
        .expect("a valid membersFrom.organization")
    }

    fn account(id: &str, active: bool) -> OrganizationAccount {
        OrganizationAccount {
            account_id: id.to_owned(),
            email_address: format!("aws+{id}@example.com"),
            active,
            paths: None,
        }
    }

    fn at(seconds: i64) -> Timestamp {
        Timestamp::from_second(1_800_000_000 + seconds).expect("a valid time")
    }

    fn resolved(accounts: &[&str], units: &[&str], seconds: i64) -> ResolvedOrganization {
        let listing = active_accounts(accounts.iter().map(|id| account(id, true)).collect(), units.len());
        let units: Vec<String> = units.iter().map(|u| (*u).to_owned()).collect();
        resolution(&listing, &units, at(seconds))
    }

    fn enabled(id: &str) -> ObservedMember {
        ObservedMember {
            status: MemberStatus::Enabled,
            ..ObservedMember::invited(id, "x@example.com")
        }
    }

    #[test]
    fn only_active_accounts_are_kept_once_each() {
        let listing = active_accounts(
            vec![
                account("000000000003", true),
                account("000000000001", false),
                account("000000000002", true),
                account("000000000003", true),
            ],
            2,
        );
        let ids: Vec<&str> = listing.accounts.iter().map(|a| a.account_id.as_str()).collect();
        assert_eq!(ids, ["000000000002", "000000000003"]);
        assert_eq!((listing.inactive, listing.units_walked), (1, 2));
    }

    #[test]
    fn a_refresh_is_due_only_when_something_calls_for_it() {
        let unit = "ou-abcd-00000001";
        let spec = from(&[unit], &["000000000009"]);
        let members = [enabled("000000000001"), enabled("000000000002")];
        let fresh = resolved(
            &["000000000001", "000000000002", "000000000009", "999999999999"],
            &[unit],
            0,
        );
        let due = |previous: Option<&ResolvedOrganization>, seconds| {
            refresh_due(&spec, previous, &members, Some("999999999999"), at(seconds))
        };
        assert!(due(None, 0), "never listed");
        assert!(
            !due(Some(&fresh), 599),
            "within the interval, excluded and administrator accounts aside"
        );
        assert!(due(Some(&fresh), 600), "the interval elapsed");
        let other_units = resolved(&["000000000001"], &["ou-abcd-00000002"], 0);
        assert!(due(Some(&other_units), 1), "the requested units changed");
        let lost = resolved(&["000000000001", "000000000003"], &[unit], 0);
        assert!(
            due(Some(&lost), 1),
            "a resolved account is not a member: its e-mail is needed"
        );
    }

    #[test]
    fn explicit_members_win_and_exclusions_apply() {
        let explicit = [MemberSpec {
            account_id: "000000000001".into(),
            email_address: "declared@example.com".into(),
        }];
        let emails = BTreeMap::from([
            ("000000000001", "org-1@example.com"),
            ("000000000002", "org-2@example.com"),
            ("000000000003", "org-3@example.com"),
        ]);
        let declared = declared_members(
            &explicit,
            &["000000000001", "000000000002", "000000000003", "000000000004"],
            &["000000000003".to_owned()],
            &emails,
        );
        let pairs: Vec<(&str, &str)> = declared
            .iter()
            .map(|m| (m.account_id.as_str(), m.email_address.as_str()))
            .collect();
        // 3 is excluded; 4 has no known e-mail (not declared with a made-up one).
        assert_eq!(
            pairs,
            [
                ("000000000001", "declared@example.com"),
                ("000000000002", "org-2@example.com")
            ]
        );
    }

    #[test]
    fn errors_say_what_to_fix() {
        let too_many = MembersFromError::TooManyMembers {
            resolved: 1_250,
            declared: 1_251,
        };
        assert_eq!(too_many.reason(), "TooManyMembers");
        assert!(too_many.to_string().contains("1250 accounts"), "{too_many}");
        assert!(!too_many.is_retryable());
        let listing = |code: &str, kind| MembersFromError::Listing {
            source: AwsError::new("ListAccounts", kind, code, "m"),
        };
        let denied = listing("AccessDeniedException", ErrorKind::AccessDenied);
        assert_eq!(denied.reason(), "OrganizationAccessDenied");
        assert!(
            denied.to_string().contains("membersFrom.organization.assumeRoleArn"),
            "{denied}"
        );
        assert_eq!(
            listing("ParentNotFoundException", ErrorKind::Invalid).reason(),
            "OrganizationalUnitNotFound"
        );
        assert!(listing("TooManyRequestsException", ErrorKind::Throttled).is_retryable());
    }
}
