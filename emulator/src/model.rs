//! The service side of the emulator: behavior graphs, their members and the member state
//! machine, organization delegations. Serializable as is, which is what `--state-file` stores.
//!
//! Time-based transitions are lazy: nothing ticks in the background; [`ServiceState::settle`]
//! runs before each request and replays every transition that is due at that instant, stamping
//! it with the time it *became* due (not the time it was observed), so answers do not depend on
//! when a client happens to poll.
//!
//! ```text
//! CreateMembers ─► VERIFICATION_IN_PROGRESS ─(delay)─► INVITED ─AcceptInvitation─► ENABLED
//!                        │                              │  │            └────────► ACCEPTED_BUT_DISABLED
//!                        └─(e-mail ≠ root e-mail)─► VERIFICATION_FAILED            (VOLUME_UNKNOWN /
//!                                                       │  └─ RejectInvitation: removed     VOLUME_TOO_HIGH)
//!                                                       └─ autoAcceptAfterMs: as if accepted
//! ACCEPTED_BUT_DISABLED ─StartMonitoringMember─► ENABLED once the cause is gone
//! ENABLED ─DisassociateMembership─► removed (not for ORGANIZATION members)
//! Organization accounts (delegated administrator's graph): VERIFICATION_IN_PROGRESS for
//! `verificationDelay` (none in the default profile), then ENABLED or ACCEPTED_BUT_DISABLED.
//! ```

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::prng::SplitMix64;
use super::trusted_access::TrustedAccess;
use super::validate::DATASOURCE_PACKAGES;
use super::wire;
use super::world::{AccountFacts, World};

/// A behavior graph holds at most this many member accounts.
pub(crate) const MEMBER_QUOTA: usize = 1200;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum MemberStatus {
    Invited,
    VerificationInProgress,
    VerificationFailed,
    Enabled,
    AcceptedButDisabled,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum DisabledReason {
    VolumeTooHigh,
    VolumeUnknown,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum InvitationType {
    Invitation,
    Organization,
}

impl MemberStatus {
    /// The wire value (`"ACCEPTED_BUT_DISABLED"`).
    pub fn as_str(self) -> &'static str {
        match self {
            MemberStatus::Invited => "INVITED",
            MemberStatus::VerificationInProgress => "VERIFICATION_IN_PROGRESS",
            MemberStatus::VerificationFailed => "VERIFICATION_FAILED",
            MemberStatus::Enabled => "ENABLED",
            MemberStatus::AcceptedButDisabled => "ACCEPTED_BUT_DISABLED",
        }
    }
}

impl DisabledReason {
    pub fn as_str(self) -> &'static str {
        match self {
            DisabledReason::VolumeTooHigh => "VOLUME_TOO_HIGH",
            DisabledReason::VolumeUnknown => "VOLUME_UNKNOWN",
        }
    }
}

impl InvitationType {
    pub fn as_str(self) -> &'static str {
        match self {
            InvitationType::Invitation => "INVITATION",
            InvitationType::Organization => "ORGANIZATION",
        }
    }
}

impl std::fmt::Display for MemberStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One member account of one graph. Times are epoch milliseconds of the emulator clock.
#[serde_with::skip_serializing_none]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Member {
    pub account_id: String,
    pub email_address: String,
    pub status: MemberStatus,
    pub disabled_reason: Option<DisabledReason>,
    pub invitation_type: InvitationType,
    pub invited_ms: i64,
    pub updated_ms: i64,
    /// When the member last became ENABLED (data sources report ingestion from then on).
    pub enabled_ms: Option<i64>,
    /// Set while VERIFICATION_IN_PROGRESS: when verification ends and how. Decided at
    /// CreateMembers time against the world model, as the service checks what it was given.
    pub verification: Option<PendingVerification>,
    /// `DisableEmailNotification` of the CreateMembers call that added the member, as sent
    /// (`None`: absent, or added without a call). No e-mail is sent either way; kept so tests can
    /// see what the caller asked for.
    #[serde(default)]
    pub disable_email_notification: Option<bool>,
    /// Since when the account's data is not ingested (its organization state is not ACTIVE;
    /// [`crate::organization_lifecycle`]).
    #[serde(default)]
    pub ingest_stopped_ms: Option<i64>,
    /// When the member goes because its account was closed.
    #[serde(default)]
    pub removal_due_ms: Option<i64>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PendingVerification {
    pub due_ms: i64,
    pub passes: bool,
}

/// Ingest state of one data source package of a graph, with the last time it entered each
/// state (the shape of `LastIngestStateChange` / `DatasourcePackageIngestHistory`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PackageState {
    pub state: String,
    pub last_change_ms: BTreeMap<String, i64>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Graph {
    pub arn: String,
    pub region: String,
    pub administrator_id: String,
    pub created_ms: i64,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    pub packages: BTreeMap<String, PackageState>,
    /// Organization configuration (only meaningful for a delegated administrator's graph).
    #[serde(default)]
    pub auto_enable: bool,
    /// An UpdateOrganizationConfiguration that does not show yet (`propagationDelay`): the
    /// AutoEnable it set, and when it takes effect.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_auto_enable: Option<PendingSetting>,
    /// Keyed (and therefore listed) by account id.
    #[serde(default)]
    pub members: BTreeMap<String, Member>,
    /// How many processed CreateMembers calls named each account, over the graph's life (see
    /// [`GraphSnapshot::create_members_requests`]).
    #[serde(default)]
    pub create_members_requests: BTreeMap<String, u32>,
    /// When the graph goes because its administrator account was closed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub removal_due_ms: Option<i64>,
}

/// A setting written now that reads back only from `due_ms` on (`propagationDelay`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PendingSetting {
    pub value: bool,
    pub due_ms: i64,
}

/// An organization's Detective administrator account in one Region.
///
/// With a `propagationDelay`, a delegation takes effect (is listed, and its administrator may
/// configure the organization graph) only `effective_ms` on, and a removed one stays listed until
/// `listed_until_ms`; [`ServiceState::settle`] forgets it then.
#[serde_with::skip_serializing_none]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Delegation {
    pub organization: String,
    pub region: String,
    pub account_id: String,
    pub delegated_ms: i64,
    /// When the delegation shows (its `delegated_ms` plus the propagation delay then in force).
    #[serde(default)]
    pub effective_ms: i64,
    /// Set by DisableOrganizationAdminAccount: the delegation is gone, but listed until then.
    pub listed_until_ms: Option<i64>,
}

impl Delegation {
    /// Not removed by DisableOrganizationAdminAccount.
    pub fn is_active(&self) -> bool {
        self.listed_until_ms.is_none()
    }

    /// Active, and past its propagation delay: the administrator acts as one.
    pub fn is_effective(&self, now_ms: i64) -> bool {
        self.is_active() && self.effective_ms <= now_ms
    }

    /// What ListOrganizationAdminAccounts shows at `now_ms`: a delegation once its propagation
    /// delay has passed, until the delay after its removal has.
    pub fn is_listed(&self, now_ms: i64) -> bool {
        self.effective_ms <= now_ms && self.listed_until_ms.is_none_or(|until| now_ms < until)
    }
}

/// A placement that a change of the world ended, still shown by the Organizations
/// listings until `shown_until_ms` ([`crate::organization_view`]).
#[serde_with::skip_serializing_none]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PlacementChange {
    pub account_id: String,
    /// The organization the account was in before the change (`None`: none).
    pub organization: Option<String>,
    /// Its root or OU there.
    pub parent_id: Option<String>,
    pub shown_until_ms: i64,
}

/// An account registered in AWS Organizations as a delegated administrator for a service
/// (RegisterDelegatedAdministrator, which EnableOrganizationAdminAccount calls for
/// `detective.amazonaws.com`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct RegisteredAdministrator {
    pub organization: String,
    pub account_id: String,
    pub service_principal: String,
    pub registered_ms: i64,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct ServiceState {
    /// Keyed by graph ARN.
    pub graphs: BTreeMap<String, Graph>,
    pub delegations: Vec<Delegation>,
    /// Delegated administrators registered in AWS Organizations by the service (Detective's);
    /// DisableOrganizationAdminAccount leaves them, as AWS does.
    pub registered_administrators: Vec<RegisteredAdministrator>,
    /// Trusted access in AWS Organizations and IAM's service-linked roles.
    #[serde(flatten)]
    pub trusted_access: TrustedAccess,
    /// Placements of accounts in organizations that changed but still show in the
    /// Organizations listings.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub placement_changes: Vec<PlacementChange>,
    /// Added to the wall clock: lets tests jump past verification and acceptance delays.
    pub clock_offset_ms: i64,
}

/// What accepting an invitation (or StartMonitoringMember) leads to for this account.
pub(crate) fn enablement(facts: AccountFacts<'_>) -> (MemberStatus, Option<DisabledReason>) {
    if !facts.guard_duty_enrolled {
        (MemberStatus::AcceptedButDisabled, Some(DisabledReason::VolumeUnknown))
    } else if facts.volume_too_high {
        (MemberStatus::AcceptedButDisabled, Some(DisabledReason::VolumeTooHigh))
    } else {
        (MemberStatus::Enabled, None)
    }
}

impl Member {
    /// A member added to a graph at `now_ms`, with nothing pending yet.
    pub fn new(
        account_id: &str,
        email_address: &str,
        status: MemberStatus,
        invitation_type: InvitationType,
        now_ms: i64,
    ) -> Member {
        Member {
            account_id: account_id.to_owned(),
            email_address: email_address.to_owned(),
            status,
            disabled_reason: None,
            invitation_type,
            invited_ms: now_ms,
            updated_ms: now_ms,
            enabled_ms: None,
            verification: None,
            disable_email_notification: None,
            ingest_stopped_ms: None,
            removal_due_ms: None,
        }
    }

    /// Moves an accepted (or organization) member to ENABLED or ACCEPTED_BUT_DISABLED at `at_ms`.
    pub fn enable(&mut self, facts: AccountFacts<'_>, at_ms: i64) {
        let (status, reason) = enablement(facts);
        if status == MemberStatus::Enabled && self.status != MemberStatus::Enabled {
            self.enabled_ms = Some(at_ms);
        }
        self.status = status;
        self.disabled_reason = reason;
        self.updated_ms = at_ms;
        self.verification = None;
    }

    /// Replays the transitions due by `now_ms`.
    fn settle(&mut self, world: &World, now_ms: i64) {
        if let Some(pending) = self.verification
            && pending.due_ms <= now_ms
            && self.invitation_type == InvitationType::Organization
        {
            // An organization account is not invited: verified, it is enabled.
            self.enable(world.account(&self.account_id), pending.due_ms);
        }
        if let Some(pending) = self.verification
            && pending.due_ms <= now_ms
        {
            self.status = if pending.passes {
                MemberStatus::Invited
            } else {
                MemberStatus::VerificationFailed
            };
            self.updated_ms = pending.due_ms;
            self.verification = None;
        }
        if self.status == MemberStatus::Invited {
            let facts = world.account(&self.account_id);
            if let Some(delay) = facts.auto_accept_after_ms {
                let due = self.updated_ms.saturating_add(i64::try_from(delay).unwrap_or(i64::MAX));
                if due <= now_ms {
                    self.enable(facts, due);
                }
            }
        }
    }
}

/// Since when a new graph starts each optional package by itself, as the Detective User Guide
/// documents: "This data source is enabled by default for new behavior graphs created after
/// July 26, 2022" (page "Amazon EKS audit logs") and "The AWS security findings data source is
/// enabled by default for new behavior graphs created after May 16, 2023" (page "AWS security
/// findings"); older graphs had to start them by hand. Epoch milliseconds (00:00 UTC).
const STARTED_BY_DEFAULT_SINCE_MS: [(&str, i64); 2] = [
    ("EKS_AUDIT", 1_658_793_600_000),
    ("ASFF_SECURITYHUB_FINDING", 1_684_195_200_000),
];

impl Graph {
    /// A new ARN for `administrator_id`'s graph in `region` (in the Region's partition), with a
    /// random graph id (32 lowercase hex digits).
    pub fn new_arn(region: &str, administrator_id: &str, rng: &mut SplitMix64) -> String {
        let partition = super::regions::partition(region);
        format!(
            "arn:{partition}:detective:{region}:{administrator_id}:graph:{}",
            rng.hex(32)
        )
    }

    /// A graph created at `now_ms`: the core package started, and each optional package started
    /// when the graph is newer than its default (a graph seeded with an older creation time
    /// models one made before the default changed). A package not started is STOPPED.
    pub fn new(arn: String, region: &str, administrator_id: &str, now_ms: i64) -> Graph {
        let packages = DATASOURCE_PACKAGES
            .iter()
            .map(|package| {
                let started = STARTED_BY_DEFAULT_SINCE_MS
                    .iter()
                    .find(|(optional, _)| optional == package)
                    .is_none_or(|(_, since)| now_ms > *since);
                let state = if started { "STARTED" } else { "STOPPED" };
                (
                    (*package).to_owned(),
                    PackageState {
                        state: state.to_owned(),
                        last_change_ms: BTreeMap::from([(state.to_owned(), now_ms)]),
                    },
                )
            })
            .collect();
        Graph {
            arn,
            region: region.to_owned(),
            administrator_id: administrator_id.to_owned(),
            created_ms: now_ms,
            tags: BTreeMap::new(),
            packages,
            auto_enable: false,
            pending_auto_enable: None,
            members: BTreeMap::new(),
            create_members_requests: BTreeMap::new(),
            removal_due_ms: None,
        }
    }
}

impl ServiceState {
    pub fn now_ms(&self) -> i64 {
        jiff::Timestamp::now()
            .as_millisecond()
            .saturating_add(self.clock_offset_ms)
    }

    pub fn settle(&mut self, world: &World, now_ms: i64) {
        for graph in self.graphs.values_mut() {
            for member in graph.members.values_mut() {
                member.settle(world, now_ms);
            }
            if let Some(pending) = graph.pending_auto_enable
                && pending.due_ms <= now_ms
            {
                graph.auto_enable = pending.value;
                graph.pending_auto_enable = None;
            }
        }
        self.delegations
            .retain(|delegation| delegation.listed_until_ms.is_none_or(|until| now_ms < until));
        self.settle_account_states(now_ms);
        self.settle_placement_changes(now_ms);
    }

    /// The graph `account_id` administers in `region`.
    pub fn graph_of(&self, account_id: &str, region: &str) -> Option<&Graph> {
        self.graphs
            .values()
            .find(|graph| graph.administrator_id == account_id && graph.region == region)
    }

    /// The organization `account_id` is the Detective administrator of in `region` (a removed
    /// delegation that is still listed does not count).
    pub fn delegated_organization(&self, account_id: &str, region: &str) -> Option<&str> {
        self.delegations
            .iter()
            .find(|delegation| {
                delegation.is_active() && delegation.account_id == account_id && delegation.region == region
            })
            .map(|delegation| delegation.organization.as_str())
    }

    /// As [`ServiceState::delegated_organization`], once the delegation has taken effect.
    pub fn effective_organization(&self, account_id: &str, region: &str, now_ms: i64) -> Option<&str> {
        self.delegations
            .iter()
            .find(|delegation| {
                delegation.is_effective(now_ms) && delegation.account_id == account_id && delegation.region == region
            })
            .map(|delegation| delegation.organization.as_str())
    }

    /// The accounts registered in Organizations as `organization`'s delegated administrators
    /// for `service_principal`.
    pub fn registered_for<'s>(
        &'s self,
        organization: &'s str,
        service_principal: &'s str,
    ) -> impl Iterator<Item = &'s RegisteredAdministrator> + 's {
        self.registered_administrators
            .iter()
            .filter(move |r| r.organization == organization && r.service_principal == service_principal)
    }

    /// What the service does when the organization changes under it (`before` → `after`), in
    /// each organization behavior graph: accounts that *joined* the organization become
    /// ORGANIZATION members when the graph's configuration has AutoEnable (existing accounts are
    /// not swept in), and ORGANIZATION members whose account left the organization are removed.
    pub fn apply_organization_changes(&mut self, before: &World, after: &World, now_ms: i64) {
        for delegation in self.delegations.iter().filter(|delegation| delegation.is_active()) {
            let Some(graph) = self
                .graphs
                .values_mut()
                .find(|graph| graph.administrator_id == delegation.account_id && graph.region == delegation.region)
            else {
                continue;
            };
            let organization = delegation.organization.as_str();
            graph.members.retain(|account_id, member| {
                member.invitation_type != InvitationType::Organization
                    || after.account(account_id).organization == Some(organization)
            });
            if !graph.auto_enable {
                continue;
            }
            for account_id in after.organization_accounts(organization) {
                let joined = before.account(account_id).organization != Some(organization);
                let active = after
                    .account_config(account_id)
                    .is_none_or(|account| account.state.is_active());
                if !joined
                    || !active
                    || *account_id == graph.administrator_id
                    || graph.members.contains_key(account_id)
                    || graph.members.len() >= MEMBER_QUOTA
                {
                    continue;
                }
                let facts = after.account(account_id);
                let mut member = Member::new(
                    account_id,
                    facts.email.unwrap_or_default(),
                    MemberStatus::Enabled,
                    InvitationType::Organization,
                    now_ms,
                );
                member.enable(facts, now_ms);
                graph.members.insert(account_id.clone(), member);
            }
        }
    }
}

/// A member as tests see it ([`Emulator::members`](super::Emulator::members)).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MemberSnapshot {
    pub account_id: String,
    pub email_address: String,
    pub graph_arn: String,
    pub administrator_id: String,
    pub status: MemberStatus,
    pub disabled_reason: Option<DisabledReason>,
    pub invitation_type: InvitationType,
    pub invited_time: jiff::Timestamp,
    pub updated_time: jiff::Timestamp,
    /// `DisableEmailNotification` of the CreateMembers call that added the member, as sent
    /// (`None`: the call left it out, or no call added the member).
    pub disable_email_notification: Option<bool>,
    /// Whether Detective sent (would have sent) an invitation e-mail: to an invited account that
    /// passed verification, unless the call disabled it, and never in GovCloud (the User Guide,
    /// "Managing invited member accounts in Detective").
    pub invitation_email_sent: bool,
}

/// A graph with its members ([`Emulator::graphs`](super::Emulator::graphs),
/// `GET /_emulator/state`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GraphSnapshot {
    pub arn: String,
    pub region: String,
    pub administrator_id: String,
    pub created_time: jiff::Timestamp,
    pub tags: BTreeMap<String, String>,
    /// Set when the administrator is an organization's delegated Detective administrator.
    pub organization: Option<String>,
    pub auto_enable: bool,
    pub datasource_packages: BTreeMap<String, String>,
    pub members: Vec<MemberSnapshot>,
    /// Per account id: how many CreateMembers calls on this graph named it, whether it became a
    /// member or came back in `UnprocessedAccounts`, removals notwithstanding. An account
    /// invited, removed and invited again counts 2; a call refused as a whole (validation, quota,
    /// an injected fault) counts nothing, since it never reached the graph.
    pub create_members_requests: BTreeMap<String, u32>,
}

impl Member {
    pub fn snapshot(&self, graph: &Graph) -> MemberSnapshot {
        MemberSnapshot {
            account_id: self.account_id.clone(),
            email_address: self.email_address.clone(),
            graph_arn: graph.arn.clone(),
            administrator_id: graph.administrator_id.clone(),
            status: self.status,
            disabled_reason: self.disabled_reason,
            invitation_type: self.invitation_type,
            invited_time: wire::jiff_timestamp(self.invited_ms),
            updated_time: wire::jiff_timestamp(self.updated_ms),
            disable_email_notification: self.disable_email_notification,
            invitation_email_sent: self.invitation_type == InvitationType::Invitation
                && !matches!(
                    self.status,
                    MemberStatus::VerificationInProgress | MemberStatus::VerificationFailed
                )
                && self.disable_email_notification != Some(true)
                && !super::regions::is_gov_cloud(&graph.region),
        }
    }
}

impl ServiceState {
    pub fn snapshot(&self) -> Vec<GraphSnapshot> {
        self.graphs
            .values()
            .map(|graph| GraphSnapshot {
                arn: graph.arn.clone(),
                region: graph.region.clone(),
                administrator_id: graph.administrator_id.clone(),
                created_time: wire::jiff_timestamp(graph.created_ms),
                tags: graph.tags.clone(),
                organization: self
                    .delegated_organization(&graph.administrator_id, &graph.region)
                    .map(str::to_owned),
                auto_enable: graph.auto_enable,
                datasource_packages: graph
                    .packages
                    .iter()
                    .map(|(package, state)| (package.clone(), state.state.clone()))
                    .collect(),
                members: graph.members.values().map(|member| member.snapshot(graph)).collect(),
                create_members_requests: graph.create_members_requests.clone(),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::world::{AccountConfig, WorldConfig};

    fn invited(account_id: &str, due_ms: i64, passes: bool) -> Member {
        Member {
            verification: Some(PendingVerification { due_ms, passes }),
            ..Member::new(
                account_id,
                "a@example.com",
                MemberStatus::VerificationInProgress,
                InvitationType::Invitation,
                0,
            )
        }
    }

    #[test]
    fn optional_packages_start_by_default_only_on_graphs_newer_than_the_documented_dates() {
        let states = |created: &str| {
            let ms = created.parse::<jiff::Timestamp>().unwrap().as_millisecond();
            Graph::new("arn".into(), "us-east-1", "123456789012", ms)
                .packages
                .into_iter()
                .map(|(package, state)| (package, state.state))
                .collect::<BTreeMap<_, _>>()
        };
        let started = |eks: &str, asff: &str| {
            BTreeMap::from([
                ("ASFF_SECURITYHUB_FINDING".to_owned(), asff.to_owned()),
                ("DETECTIVE_CORE".to_owned(), "STARTED".to_owned()),
                ("EKS_AUDIT".to_owned(), eks.to_owned()),
            ])
        };
        assert_eq!(states("2022-07-26T00:00:00Z"), started("STOPPED", "STOPPED"));
        assert_eq!(states("2022-07-26T00:00:00.001Z"), started("STARTED", "STOPPED"));
        assert_eq!(states("2023-05-16T00:00:00Z"), started("STARTED", "STOPPED"));
        assert_eq!(states("2023-05-16T00:00:01Z"), started("STARTED", "STARTED"));
    }

    #[test]
    fn verification_settles_at_its_due_time() {
        let world = World::default();
        let mut member = invited("111111111111", 100, true);
        member.settle(&world, 99);
        assert_eq!(member.status, MemberStatus::VerificationInProgress);
        member.settle(&world, 500);
        assert_eq!(member.status, MemberStatus::Invited);
        assert_eq!(member.updated_ms, 100, "stamped when due, not when observed");
        let mut failed = invited("111111111111", 100, false);
        failed.settle(&world, 100);
        assert_eq!(failed.status, MemberStatus::VerificationFailed);
    }

    #[test]
    fn auto_accept_chains_after_verification() {
        let world = World::new(WorldConfig {
            accounts: vec![AccountConfig {
                auto_accept_after_ms: Some(1000),
                guard_duty_enrolled: false,
                ..AccountConfig::new("111111111111", "a@example.com")
            }],
            ..WorldConfig::default()
        });
        let mut member = invited("111111111111", 100, true);
        member.settle(&world, 1099);
        assert_eq!(member.status, MemberStatus::Invited);
        member.settle(&world, 1100);
        assert_eq!(member.status, MemberStatus::AcceptedButDisabled);
        assert_eq!(member.disabled_reason, Some(DisabledReason::VolumeUnknown));
        assert_eq!(member.updated_ms, 1100);
    }
}
