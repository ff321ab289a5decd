//! Decide: the graph's planner. Desired members × observed members → the actions that make them
//! agree; the tag and datasource-package changes likewise.
//!
//! Pure: no I/O, no clock. Everything the rules need comes in as arguments, so the same function
//! serves the controller, `plan -f` and `sync -f`, and is property-tested on its own.
//!
//! The rules, in the order they are applied:
//! - a declared account that is not a member is invited (CreateMembers, batches of at most 50);
//! - a declared member in VERIFICATION_FAILED whose declared e-mail differs from the one it was
//!   invited with is re-invited (removed, then invited again). No other change re-invites: a new
//!   invitation message, or a new e-mail for a member that passed verification, changes nothing;
//! - an undeclared member is removed as `pruning` says (DeleteMembers, batches of at most 50),
//!   organization members (InvitationType ORGANIZATION) as much as invited ones: the service
//!   allows DeleteMembers on them and they can be enabled again later. They are never re-invited
//!   (they have no invitation) and never asked to DisassociateMembership;
//! - a declared member in ACCEPTED_BUT_DISABLED gets StartMonitoringMember when
//!   `monitoring.autoStart`;
//! - the deletion guard refuses the whole plan when it removes more than `maxDeletions` members,
//!   organization members included (re-invitations are not counted: the account is invited
//!   again in the same sync).
//!
//! The declared members are those of the [`DesiredGraph`]: `spec.members`, with `spec.membersFrom`
//! the union [`super::members_from`] resolved.

use std::collections::{BTreeMap, BTreeSet};

use super::desired::DesiredGraph;
use crate::api::{DatasourcePackage, MemberSpec, Pruning};
use crate::member::{InvitationType, MemberStatus, ObservedMember, PackageIngest};

/// The most accounts one CreateMembers or DeleteMembers call takes.
pub const BATCH_SIZE: usize = 50;

/// What the planner reads besides the spec.
#[derive(Clone, Copy, Debug)]
pub struct Observed<'a> {
    /// Every member of the graph (ListMembers, all pages).
    pub members: &'a [ObservedMember],
    /// The accounts this resource manages (`status.inventory`).
    pub inventory: &'a BTreeSet<String>,
    /// The graph's administrator account, which can never be its own member.
    pub administrator_account: Option<&'a str>,
}

/// The actions that bring the graph to the spec, grouped by intent.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Plan {
    /// Declared accounts that are not members yet.
    pub invite: Vec<MemberSpec>,
    /// Members that failed verification and are declared with another e-mail now.
    pub reinvite: Vec<MemberSpec>,
    /// Undeclared members that `pruning` removes.
    pub remove: Vec<String>,
    /// Declared members in ACCEPTED_BUT_DISABLED.
    pub start_monitoring: Vec<String>,
    /// Declared members in INVITED whose invitation the operator accepts on their behalf
    /// (`spec.acceptInvitations`), as each member account.
    pub accept: Vec<String>,
    /// Undeclared members left in place, and why.
    pub kept: Vec<Kept>,
    /// Declared accounts that cannot be members, and why.
    pub ignored: Vec<Ignored>,
    /// Set when the deletion guard refuses the plan: then nothing of it is applied.
    pub refusal: Option<Refusal>,
}

/// Why an undeclared member stays.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeptReason {
    /// `pruning: Managed` and the account is not in `status.inventory`.
    NotInInventory,
    /// `pruning: Disabled`.
    PruningDisabled,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Kept {
    pub account_id: String,
    pub reason: KeptReason,
}

/// Why a declared account is not acted on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IgnoredReason {
    /// The administrator account owns the graph and cannot be invited to it.
    AdministratorAccount,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ignored {
    pub account_id: String,
    pub reason: IgnoredReason,
}

/// The deletion guard's verdict on a plan that removes too many members.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    pub deletions: usize,
    pub max_deletions: usize,
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the plan removes {} members, more than spec.deletionGuard.maxDeletions ({}); nothing was applied. \
             Check spec.members, or raise the limit for this change",
            self.deletions, self.max_deletions
        )
    }
}

/// One AWS write, in the order the plan applies them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    DeleteMembers(Vec<String>),
    CreateMembers(Vec<MemberSpec>),
    StartMonitoring(String),
}

impl Plan {
    /// Whether there is nothing to write.
    pub fn is_empty(&self) -> bool {
        self.invite.is_empty()
            && self.reinvite.is_empty()
            && self.remove.is_empty()
            && self.start_monitoring.is_empty()
            && self.accept.is_empty()
    }

    /// The administrator's AWS writes: removals (pruned and re-invited accounts together, which
    /// also frees quota before new invitations), then invitations, then StartMonitoringMember
    /// calls. Acceptances (`accept`) are made as the members, after these.
    pub fn steps(&self) -> Vec<Step> {
        let deletions: Vec<String> = self
            .remove
            .iter()
            .cloned()
            .chain(self.reinvite.iter().map(|m| m.account_id.clone()))
            .collect();
        let creations: Vec<MemberSpec> = self.reinvite.iter().chain(&self.invite).cloned().collect();
        deletions
            .chunks(BATCH_SIZE)
            .map(|batch| Step::DeleteMembers(batch.to_vec()))
            .chain(
                creations
                    .chunks(BATCH_SIZE)
                    .map(|batch| Step::CreateMembers(batch.to_vec())),
            )
            .chain(self.start_monitoring.iter().cloned().map(Step::StartMonitoring))
            .collect()
    }
}

/// Plans the actions that bring `observed` to `desired`.
pub fn plan(desired: &DesiredGraph<'_>, observed: Observed<'_>) -> Plan {
    let members: BTreeMap<&str, &ObservedMember> =
        observed.members.iter().map(|m| (m.account_id.as_str(), m)).collect();
    let declared: BTreeMap<&str, &MemberSpec> = desired.members.iter().map(|m| (m.account_id.as_str(), m)).collect();
    let mut plan = Plan::default();

    for (&account_id, &wanted) in &declared {
        if observed.administrator_account == Some(account_id) {
            plan.ignored.push(Ignored {
                account_id: account_id.to_owned(),
                reason: IgnoredReason::AdministratorAccount,
            });
            continue;
        }
        match members.get(account_id) {
            None => plan.invite.push(wanted.clone()),
            Some(member) if needs_reinvite(member, wanted) => plan.reinvite.push(wanted.clone()),
            Some(member) if member.status == MemberStatus::AcceptedButDisabled && desired.auto_start_monitoring => {
                plan.start_monitoring.push(account_id.to_owned())
            }
            Some(member) if accepted_as_member(desired, member) => plan.accept.push(account_id.to_owned()),
            Some(_) => {}
        }
    }

    for &account_id in members.keys() {
        if declared.contains_key(account_id) {
            continue;
        }
        let kept = |reason| Kept {
            account_id: account_id.to_owned(),
            reason,
        };
        match desired.pruning {
            Pruning::Disabled => plan.kept.push(kept(KeptReason::PruningDisabled)),
            Pruning::Managed if !observed.inventory.contains(account_id) => {
                plan.kept.push(kept(KeptReason::NotInInventory))
            }
            Pruning::Managed | Pruning::Authoritative => plan.remove.push(account_id.to_owned()),
        }
    }

    let max_deletions = desired.max_deletions;
    if plan.remove.len() > max_deletions {
        plan.refusal = Some(Refusal {
            deletions: plan.remove.len(),
            max_deletions,
        });
    }
    plan
}

/// Whether the operator accepts `member`'s invitation as the member account: a declared member in
/// INVITED by invitation (organization members have none), with `spec.acceptInvitations` set.
/// The accept step asks this of the members it read back after the writes.
pub fn accepted_as_member(desired: &DesiredGraph<'_>, member: &ObservedMember) -> bool {
    member.status == MemberStatus::Invited
        && member.invitation_type == InvitationType::Invitation
        && desired.accept_invitations.is_some()
}

/// Only a failed verification with a corrected e-mail is worth a new invitation; organization
/// members are never invited at all.
fn needs_reinvite(member: &ObservedMember, wanted: &MemberSpec) -> bool {
    member.invitation_type == InvitationType::Invitation
        && member.status == MemberStatus::VerificationFailed
        && member.email_address.as_deref() != Some(wanted.email_address.as_str())
}

/// The inventory after a sync: accounts removed leave it; declared accounts that are members now
/// join it (invited by this resource, or adopted by declaring them).
pub fn next_inventory(
    desired: &DesiredGraph<'_>,
    previous: &BTreeSet<String>,
    members_now: &[ObservedMember],
) -> BTreeSet<String> {
    let present: BTreeSet<&str> = members_now.iter().map(|m| m.account_id.as_str()).collect();
    let declared = desired.members.iter().map(|m| m.account_id.as_str());
    previous
        .iter()
        .map(String::as_str)
        .chain(declared)
        .filter(|account| present.contains(account))
        .map(str::to_owned)
        .collect()
}

/// Tag writes that bring the graph's tags to the declared ones.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TagChanges {
    /// Keys to add or overwrite (TagResource).
    pub set: BTreeMap<String, String>,
    /// Keys to remove (UntagResource).
    pub remove: Vec<String>,
}

impl TagChanges {
    pub fn is_empty(&self) -> bool {
        self.set.is_empty() && self.remove.is_empty()
    }
}

/// Declared tags are authoritative once any is declared; the engine does not call this for an
/// empty declaration, which leaves the graph's tags alone.
pub fn plan_tags(declared: &BTreeMap<String, String>, observed: &BTreeMap<String, String>) -> TagChanges {
    TagChanges {
        set: declared
            .iter()
            .filter(|(k, v)| observed.get(*k) != Some(*v))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        remove: observed
            .keys()
            .filter(|k| !declared.contains_key(*k))
            .cloned()
            .collect(),
    }
}

/// Datasource-package changes that bring the graph to `spec.datasourcePackages`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PackageChanges {
    /// Declared packages the graph does not ingest: UpdateDatasourcePackages starts them.
    pub start: Vec<DatasourcePackage>,
    /// Optional packages the graph ingests without being declared. The API cannot stop a
    /// package, so these are reported and never acted on.
    pub undeclared: Vec<DatasourcePackage>,
}

impl PackageChanges {
    /// Whether there is nothing to write (undeclared packages are reported, not written).
    pub fn is_empty(&self) -> bool {
        self.start.is_empty()
    }

    /// The wire names of the packages to start, as UpdateDatasourcePackages takes them: only
    /// these, since the call starts the packages it names and leaves the others as they are.
    pub fn start_names(&self) -> Vec<String> {
        self.start.iter().map(|p| p.as_str().to_owned()).collect()
    }

    /// What the reports say about started packages that are not declared, if there are any.
    pub fn undeclared_note(&self) -> Option<String> {
        if self.undeclared.is_empty() {
            return None;
        }
        let names: Vec<&str> = self.undeclared.iter().map(|p| p.as_str()).collect();
        Some(format!(
            "datasource packages started but not declared in spec.datasourcePackages: {}. \
             The Detective API cannot stop a package: declare it, or stop it in the Detective console \
             (Settings, General, Source packages)",
            names.join(", ")
        ))
    }
}

/// Plans the packages: a declared package in any state but STARTED (STOPPED, DISABLED, not
/// listed at all) is started; a STARTED optional package that is not declared is reported.
/// Packages this build does not know are neither started nor reported.
pub fn plan_packages(declared: &[DatasourcePackage], observed: &BTreeMap<String, PackageIngest>) -> PackageChanges {
    let started = |package: DatasourcePackage| observed.get(package.as_str()) == Some(&PackageIngest::Started);
    let declared: BTreeSet<DatasourcePackage> = declared.iter().copied().collect();
    PackageChanges {
        start: declared.iter().copied().filter(|p| !started(*p)).collect(),
        undeclared: DatasourcePackage::ALL
            .into_iter()
            .filter(|p| started(*p) && !declared.contains(p))
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::DetectiveGraphSpec;
    use proptest::prelude::*;

    /// The planner on a spec as declared (`spec.members` alone).
    fn plan(spec: &DetectiveGraphSpec, observed: Observed<'_>) -> Plan {
        super::plan(&DesiredGraph::of(spec), observed)
    }

    fn next_inventory(
        spec: &DetectiveGraphSpec,
        previous: &BTreeSet<String>,
        members_now: &[ObservedMember],
    ) -> BTreeSet<String> {
        super::next_inventory(&DesiredGraph::of(spec), previous, members_now)
    }

    fn spec(members: &[(&str, &str)]) -> DetectiveGraphSpec {
        DetectiveGraphSpec {
            members: members
                .iter()
                .map(|(id, email)| MemberSpec {
                    account_id: (*id).to_owned(),
                    email_address: (*email).to_owned(),
                })
                .collect(),
            ..serde_json::from_value(serde_json::json!({})).expect("an empty spec deserializes")
        }
    }

    fn member(id: &str, email: &str, status: MemberStatus) -> ObservedMember {
        ObservedMember {
            status,
            ..ObservedMember::invited(id, email)
        }
    }

    fn observe<'a>(members: &'a [ObservedMember], inventory: &'a BTreeSet<String>) -> Observed<'a> {
        Observed {
            members,
            inventory,
            administrator_account: Some("999999999999"),
        }
    }

    #[test]
    fn invites_missing_accounts_in_batches_of_fifty() {
        let ids: Vec<String> = (0..120).map(|i| format!("{:012}", 100_000 + i)).collect();
        let pairs: Vec<(&str, &str)> = ids.iter().map(|id| (id.as_str(), "root@example.com")).collect();
        let plan = plan(&spec(&pairs), observe(&[], &BTreeSet::new()));
        assert_eq!(plan.invite.len(), 120);
        let sizes: Vec<usize> = plan
            .steps()
            .iter()
            .map(|s| match s {
                Step::CreateMembers(batch) => batch.len(),
                other => panic!("unexpected step {other:?}"),
            })
            .collect();
        assert_eq!(sizes, vec![50, 50, 20]);
    }

    #[test]
    fn changed_message_or_email_of_a_verified_member_changes_nothing() {
        let mut wanted = spec(&[("111111111111", "new@example.com")]);
        wanted.invitation.message = Some("a brand new message".into());
        for status in [
            MemberStatus::Invited,
            MemberStatus::Enabled,
            MemberStatus::VerificationInProgress,
        ] {
            let observed = [member("111111111111", "old@example.com", status)];
            let plan = plan(&wanted, observe(&observed, &BTreeSet::new()));
            assert!(plan.is_empty(), "{plan:?}");
        }
    }

    #[test]
    fn verification_failed_is_reinvited_only_with_a_corrected_email() {
        let observed = [member(
            "111111111111",
            "typo@example.com",
            MemberStatus::VerificationFailed,
        )];
        let same = plan(
            &spec(&[("111111111111", "typo@example.com")]),
            observe(&observed, &BTreeSet::new()),
        );
        assert!(same.is_empty());
        let fixed = plan(
            &spec(&[("111111111111", "root@example.com")]),
            observe(&observed, &BTreeSet::new()),
        );
        assert_eq!(fixed.reinvite.len(), 1);
        assert_eq!(
            fixed.steps(),
            vec![
                Step::DeleteMembers(vec!["111111111111".into()]),
                Step::CreateMembers(fixed.reinvite.clone()),
            ]
        );
    }

    #[test]
    fn organization_members_are_never_reinvited_and_follow_pruning() {
        let org = ObservedMember {
            invitation_type: InvitationType::Organization,
            ..member("222222222222", "x@example.com", MemberStatus::VerificationFailed)
        };
        let unmanaged = ObservedMember {
            account_id: "333333333333".into(),
            ..org.clone()
        };
        let observed = [org.clone(), unmanaged];
        let inventory = BTreeSet::from(["222222222222".to_owned()]);
        // Declared with another e-mail: an organization member has no invitation to send again.
        let declared = plan(&spec(&[("222222222222", "y@example.com")]), observe(&[org], &inventory));
        assert!(declared.is_empty(), "{declared:?}");
        // Undeclared: each pruning mode treats it as it treats an invited member.
        let [managed, authoritative, disabled] = plan_each_pruning(&observed, &inventory);
        assert_eq!(managed.remove, vec!["222222222222".to_owned()]);
        assert_eq!(managed.kept[0].reason, KeptReason::NotInInventory);
        assert_eq!(authoritative.remove.len(), 2);
        assert!(disabled.remove.is_empty());
        // And the deletion guard counts them.
        let mut wanted = spec(&[]);
        wanted.pruning = Pruning::Authoritative;
        wanted.deletion_guard.max_deletions = 1;
        let refused = plan(&wanted, observe(&observed, &inventory));
        assert_eq!(refused.refusal.map(|r| r.deletions), Some(2));
    }

    #[test]
    fn pruning_modes() {
        let observed = [
            member("111111111111", "a@example.com", MemberStatus::Enabled),
            member("222222222222", "b@example.com", MemberStatus::Invited),
        ];
        let inventory = BTreeSet::from(["111111111111".to_owned()]);
        let [managed, authoritative, disabled] = plan_each_pruning(&observed, &inventory);
        assert_eq!(managed.remove, vec!["111111111111".to_owned()]);
        assert_eq!(managed.kept[0].reason, KeptReason::NotInInventory);
        assert_eq!(authoritative.remove.len(), 2);
        assert!(disabled.remove.is_empty());
        assert_eq!(disabled.kept.len(), 2);
    }

    /// The plans of an empty `members` over `observed` under `Managed`, `Authoritative` and
    /// `Disabled` pruning.
    fn plan_each_pruning(observed: &[ObservedMember], inventory: &BTreeSet<String>) -> [Plan; 3] {
        [Pruning::Managed, Pruning::Authoritative, Pruning::Disabled].map(|pruning| {
            let wanted = DetectiveGraphSpec { pruning, ..spec(&[]) };
            plan(&wanted, observe(observed, inventory))
        })
    }

    #[test]
    fn deletion_guard_refuses_too_many_removals() {
        let observed: Vec<ObservedMember> = (0..11)
            .map(|i| member(&format!("{:012}", i), "a@example.com", MemberStatus::Enabled))
            .collect();
        let mut wanted = spec(&[]);
        wanted.pruning = Pruning::Authoritative;
        let refused = plan(&wanted, observe(&observed, &BTreeSet::new()));
        assert_eq!(
            refused.refusal,
            Some(Refusal {
                deletions: 11,
                max_deletions: 10
            })
        );
        wanted.deletion_guard.max_deletions = 11;
        assert_eq!(plan(&wanted, observe(&observed, &BTreeSet::new())).refusal, None);
    }

    #[test]
    fn invitations_are_accepted_only_when_asked_and_never_for_organization_members() {
        let observed = [
            member("111111111111", "a@example.com", MemberStatus::Invited),
            ObservedMember {
                invitation_type: InvitationType::Organization,
                ..member("222222222222", "b@example.com", MemberStatus::Invited)
            },
        ];
        let mut wanted = spec(&[("111111111111", "a@example.com"), ("222222222222", "b@example.com")]);
        assert!(plan(&wanted, observe(&observed, &BTreeSet::new())).is_empty());
        wanted.accept_invitations = Some(crate::api::AcceptInvitationsSpec {
            role_name: "detective-member".into(),
            external_id: None,
            session_name: None,
        });
        let plan = plan(&wanted, observe(&observed, &BTreeSet::new()));
        assert_eq!(plan.accept, vec!["111111111111".to_owned()]);
        assert!(plan.steps().is_empty(), "acceptances are not administrator writes");
    }

    #[test]
    fn monitoring_starts_only_when_auto_start() {
        let observed = [member(
            "111111111111",
            "a@example.com",
            MemberStatus::AcceptedButDisabled,
        )];
        let mut wanted = spec(&[("111111111111", "a@example.com")]);
        assert_eq!(
            plan(&wanted, observe(&observed, &BTreeSet::new()))
                .start_monitoring
                .len(),
            1
        );
        wanted.monitoring.auto_start = false;
        assert!(plan(&wanted, observe(&observed, &BTreeSet::new())).is_empty());
    }

    #[test]
    fn tags_are_set_and_removed_to_match() {
        let declared = BTreeMap::from([
            ("team".to_owned(), "sec".to_owned()),
            ("env".to_owned(), "prod".to_owned()),
        ]);
        let observed = BTreeMap::from([
            ("team".to_owned(), "ops".to_owned()),
            ("old".to_owned(), "x".to_owned()),
            ("env".to_owned(), "prod".to_owned()),
        ]);
        let changes = plan_tags(&declared, &observed);
        assert_eq!(changes.set, BTreeMap::from([("team".to_owned(), "sec".to_owned())]));
        assert_eq!(changes.remove, vec!["old".to_owned()]);
        assert!(plan_tags(&declared, &declared).is_empty());
    }

    #[test]
    fn the_administrator_account_is_ignored() {
        let plan = plan(
            &spec(&[("999999999999", "admin@example.com")]),
            observe(&[], &BTreeSet::new()),
        );
        assert!(plan.is_empty());
        assert_eq!(plan.ignored[0].reason, IgnoredReason::AdministratorAccount);
    }

    // ---- properties ----

    /// The graph as a successful apply of `plan` leaves it.
    /// Where AWS leaves a member after a write, as it really can: an invitation may stay
    /// INVITED, fail verification, or be accepted into a graph that cannot monitor it yet; a
    /// StartMonitoringMember or an acceptance may leave it ACCEPTED_BUT_DISABLED. `outcomes` picks
    /// one per written account (cycled), so the model never lands only where the planner is idle.
    fn applied(plan: &Plan, observed: &[ObservedMember], outcomes: &[Outcome]) -> Vec<ObservedMember> {
        let mut outcome = outcomes.iter().copied().cycle();
        let mut by_id: BTreeMap<String, ObservedMember> =
            observed.iter().map(|m| (m.account_id.clone(), m.clone())).collect();
        for step in plan.steps() {
            match step {
                Step::DeleteMembers(ids) => ids.iter().for_each(|id| {
                    by_id.remove(id);
                }),
                Step::CreateMembers(accounts) => accounts.iter().for_each(|a| {
                    let status = outcome
                        .next()
                        .map_or(MemberStatus::VerificationInProgress, Outcome::after_invitation);
                    by_id.insert(
                        a.account_id.clone(),
                        ObservedMember {
                            status,
                            ..ObservedMember::invited(&a.account_id, &a.email_address)
                        },
                    );
                }),
                Step::StartMonitoring(id) => {
                    if let Some(m) = by_id.get_mut(&id) {
                        m.status = outcome.next().map_or(MemberStatus::Enabled, Outcome::after_enabling);
                    }
                }
            }
        }
        for id in &plan.accept {
            if let Some(m) = by_id.get_mut(id) {
                m.status = outcome.next().map_or(MemberStatus::Enabled, Outcome::after_enabling);
            }
        }
        by_id.into_values().collect()
    }

    /// How one write ends in AWS (see [`applied`]).
    #[derive(Clone, Copy, Debug)]
    enum Outcome {
        Succeeds,
        StaysPending,
        FailsVerification,
        StaysDisabled,
    }

    impl Outcome {
        fn after_invitation(self) -> MemberStatus {
            match self {
                Outcome::Succeeds => MemberStatus::Enabled,
                Outcome::StaysPending => MemberStatus::Invited,
                Outcome::FailsVerification => MemberStatus::VerificationFailed,
                Outcome::StaysDisabled => MemberStatus::AcceptedButDisabled,
            }
        }

        /// StartMonitoringMember and AcceptInvitation: enabled, or still not monitored.
        fn after_enabling(self) -> MemberStatus {
            match self {
                Outcome::StaysDisabled | Outcome::StaysPending => MemberStatus::AcceptedButDisabled,
                Outcome::Succeeds | Outcome::FailsVerification => MemberStatus::Enabled,
            }
        }
    }

    fn outcomes() -> impl Strategy<Value = Vec<Outcome>> {
        prop::collection::vec(
            prop_oneof![
                Just(Outcome::Succeeds),
                Just(Outcome::StaysPending),
                Just(Outcome::FailsVerification),
                Just(Outcome::StaysDisabled),
            ],
            1..8,
        )
    }

    fn account_id() -> impl Strategy<Value = String> {
        // A small id space so that declared, observed and inventory sets overlap often.
        (0u32..40).prop_map(|n| format!("{:012}", 100_000_000_000u64 + u64::from(n)))
    }

    fn email() -> impl Strategy<Value = String> {
        prop_oneof![Just("a@example.com".to_owned()), Just("b@example.com".to_owned())]
    }

    fn status() -> impl Strategy<Value = MemberStatus> {
        prop_oneof![
            Just(MemberStatus::VerificationInProgress),
            Just(MemberStatus::VerificationFailed),
            Just(MemberStatus::Invited),
            Just(MemberStatus::Enabled),
            Just(MemberStatus::AcceptedButDisabled),
        ]
    }

    fn observed_member() -> impl Strategy<Value = ObservedMember> {
        (account_id(), email(), status(), any::<bool>()).prop_map(|(id, email, status, org)| ObservedMember {
            invitation_type: if org {
                InvitationType::Organization
            } else {
                InvitationType::Invitation
            },
            ..member(&id, &email, status)
        })
    }

    fn pruning() -> impl Strategy<Value = Pruning> {
        prop_oneof![
            Just(Pruning::Managed),
            Just(Pruning::Authoritative),
            Just(Pruning::Disabled)
        ]
    }

    prop_compose! {
        fn scenario()(
            declared in prop::collection::btree_map(account_id(), email(), 0..30),
            observed in prop::collection::btree_map(account_id(), observed_member(), 0..30),
            inventory in prop::collection::btree_set(account_id(), 0..20),
            pruning in pruning(),
            auto_start in any::<bool>(),
            auto_accept in any::<bool>(),
            max_deletions in 0i32..50,
        ) -> (DetectiveGraphSpec, Vec<ObservedMember>, BTreeSet<String>) {
            let pairs: Vec<(&str, &str)> = declared.iter().map(|(a, e)| (a.as_str(), e.as_str())).collect();
            let mut spec = spec(&pairs);
            spec.pruning = pruning;
            spec.monitoring.auto_start = auto_start;
            spec.accept_invitations = auto_accept.then(|| crate::api::AcceptInvitationsSpec {
                role_name: "detective-member".into(),
                external_id: None,
                session_name: None,
            });
            spec.deletion_guard.max_deletions = max_deletions;
            let observed = observed
                .into_iter()
                .map(|(id, m)| ObservedMember { account_id: id, ..m })
                .collect();
            (spec, observed, inventory)
        }
    }

    proptest! {
        /// Idempotence against the states that persist: after a plan is applied, whatever AWS
        /// made of each write, the next plan repeats no membership write (no invitation, no
        /// re-invitation, no removal). What it may still do is only what a persisting state calls
        /// for: StartMonitoringMember for a member still ACCEPTED_BUT_DISABLED, an acceptance for
        /// a member still INVITED.
        #[test]
        fn replanning_after_a_successful_apply_finds_nothing_to_do(
            (spec, observed, inventory) in scenario(),
            outcomes in outcomes(),
        ) {
            let first = plan(&spec, observe(&observed, &inventory));
            prop_assume!(first.refusal.is_none());
            let after = applied(&first, &observed, &outcomes);
            let inventory_after = next_inventory(&spec, &inventory, &after);
            let second = plan(&spec, observe(&after, &inventory_after));
            prop_assert!(
                second.invite.is_empty() && second.reinvite.is_empty() && second.remove.is_empty(),
                "second plan repeats a membership write: {:?}\nafter {:?}", second, after
            );
            let status_after = |id: &str| after.iter().find(|m| m.account_id == id).map(|m| m.status.clone());
            for id in &second.start_monitoring {
                prop_assert_eq!(status_after(id), Some(MemberStatus::AcceptedButDisabled), "{}", id);
            }
            for id in &second.accept {
                prop_assert_eq!(status_after(id), Some(MemberStatus::Invited), "{}", id);
            }
            // Nothing left to do once every write has succeeded.
            let settled = applied(&first, &observed, &[Outcome::Succeeds]);
            let settled_inventory = next_inventory(&spec, &inventory, &settled);
            let third = plan(&spec, observe(&settled, &settled_inventory));
            prop_assert!(third.is_empty(), "work left after every write succeeded: {:?}", third);
        }

        #[test]
        fn no_plan_removes_what_pruning_protects((spec, observed, inventory) in scenario()) {
            let plan = plan(&spec, observe(&observed, &inventory));
            let declared: BTreeSet<&str> = spec.members.iter().map(|m| m.account_id.as_str()).collect();
            for id in &plan.remove {
                prop_assert!(!declared.contains(id.as_str()), "removes declared {}", id);
                prop_assert!(observed.iter().any(|m| &m.account_id == id), "removes a non-member {}", id);
                match spec.pruning {
                    Pruning::Disabled => prop_assert!(false, "Disabled pruning removed {}", id),
                    Pruning::Managed => prop_assert!(inventory.contains(id), "{} not in inventory", id),
                    Pruning::Authoritative => {}
                }
            }
            for step in plan.steps() {
                match step {
                    Step::DeleteMembers(ids) => {
                        for id in &ids {
                            let reinvited = plan.reinvite.iter().any(|m| &m.account_id == id);
                            prop_assert!(!declared.contains(id.as_str()) || reinvited);
                        }
                    }
                    Step::CreateMembers(accounts) => {
                        for a in &accounts {
                            prop_assert!(declared.contains(a.account_id.as_str()));
                        }
                    }
                    Step::StartMonitoring(_) => prop_assert!(spec.monitoring.auto_start),
                }
            }
        }

        /// How an account joined the graph changes which members are removed not at all (and
        /// so neither what the guard counts): organization members follow `pruning` like
        /// invited ones.
        #[test]
        fn removals_do_not_depend_on_how_a_member_joined((spec, observed, inventory) in scenario()) {
            let as_type = |kind| -> Vec<ObservedMember> {
                observed.iter().map(|m| ObservedMember { invitation_type: kind, ..m.clone() }).collect()
            };
            let invited = as_type(InvitationType::Invitation);
            let organization = as_type(InvitationType::Organization);
            let by_invitation = plan(&spec, observe(&invited, &inventory));
            let by_organization = plan(&spec, observe(&organization, &inventory));
            prop_assert_eq!(&by_invitation.remove, &by_organization.remove);
            prop_assert_eq!(&by_invitation.refusal, &by_organization.refusal);
            prop_assert!(by_organization.reinvite.is_empty() && by_organization.accept.is_empty());
        }

        #[test]
        fn batches_never_exceed_fifty_and_each_account_appears_once(
            declared in prop::collection::btree_set(0u32..5000, 0..400),
            extra in prop::collection::btree_set(5000u32..9000, 0..400),
        ) {
            let ids: Vec<String> = declared.iter().map(|n| format!("{:012}", n)).collect();
            let pairs: Vec<(&str, &str)> = ids.iter().map(|id| (id.as_str(), "a@example.com")).collect();
            let mut spec = spec(&pairs);
            spec.pruning = Pruning::Authoritative;
            spec.deletion_guard.max_deletions = 1200;
            let observed: Vec<ObservedMember> = extra
                .iter()
                .map(|n| member(&format!("{:012}", n), "a@example.com", MemberStatus::Enabled))
                .collect();
            let plan = plan(&spec, observe(&observed, &BTreeSet::new()));
            let mut seen = BTreeSet::new();
            for step in plan.steps() {
                match step {
                    Step::DeleteMembers(ids) => {
                        prop_assert!(!ids.is_empty() && ids.len() <= BATCH_SIZE);
                        for id in ids { prop_assert!(seen.insert(("delete", id))); }
                    }
                    Step::CreateMembers(accounts) => {
                        prop_assert!(!accounts.is_empty() && accounts.len() <= BATCH_SIZE);
                        for a in accounts { prop_assert!(seen.insert(("create", a.account_id))); }
                    }
                    Step::StartMonitoring(_) => {}
                }
            }
            prop_assert_eq!(seen.len(), declared.len() + extra.len());
        }

        /// The guard, stated on the graph rather than on the plan: a plan is refused exactly
        /// when carrying out its writes would leave more than `maxDeletions` of the graph's
        /// members gone (re-invited accounts come back in the same sync), and a refused plan
        /// says how many that is.
        #[test]
        fn refused_plans_are_exactly_those_over_the_limit((spec, observed, inventory) in scenario()) {
            let plan = plan(&spec, observe(&observed, &inventory));
            let after: BTreeSet<String> = applied(&plan, &observed, &[Outcome::Succeeds])
                .into_iter()
                .map(|m| m.account_id)
                .collect();
            let gone = observed.iter().filter(|m| !after.contains(&m.account_id)).count();
            let limit = usize::try_from(spec.deletion_guard.max_deletions).unwrap();
            match &plan.refusal {
                Some(refusal) => {
                    prop_assert!(gone > limit, "refused with {} gone, limit {}", gone, limit);
                    prop_assert_eq!(refusal.deletions, gone);
                    prop_assert_eq!(refusal.max_deletions, limit);
                }
                None => prop_assert!(gone <= limit, "accepted with {} gone, limit {}", gone, limit),
            }
        }
    }
}

#[cfg(test)]
mod package_tests {
    use super::*;
    use DatasourcePackage::{AsffSecurityHubFinding as Asff, EksAudit as Eks};
    use PackageIngest::{Disabled, Started, Stopped, Unknown};
    use proptest::prelude::*;

    fn graph(states: &[(&str, PackageIngest)]) -> BTreeMap<String, PackageIngest> {
        states.iter().map(|(p, s)| ((*p).to_owned(), *s)).collect()
    }

    #[test]
    fn declared_packages_not_started_are_started_and_undeclared_started_ones_reported() {
        let cases = [
            // (declared, graph, start, undeclared)
            (vec![Eks], graph(&[("EKS_AUDIT", Stopped)]), vec![Eks], vec![]),
            (vec![Eks], graph(&[("EKS_AUDIT", Disabled)]), vec![Eks], vec![]),
            (vec![Eks], graph(&[]), vec![Eks], vec![]),
            (vec![Eks], graph(&[("EKS_AUDIT", Started)]), vec![], vec![]),
            (
                vec![Eks],
                graph(&[("EKS_AUDIT", Started), ("ASFF_SECURITYHUB_FINDING", Started)]),
                vec![],
                vec![Asff],
            ),
            (
                vec![],
                graph(&[
                    ("DETECTIVE_CORE", Started),
                    ("EKS_AUDIT", Started),
                    ("ASFF_SECURITYHUB_FINDING", Unknown),
                ]),
                vec![],
                vec![Eks],
            ),
            (
                vec![Asff, Eks],
                graph(&[("DETECTIVE_CORE", Started)]),
                vec![Eks, Asff],
                vec![],
            ),
        ];
        for (declared, observed, start, undeclared) in cases {
            let changes = plan_packages(&declared, &observed);
            assert_eq!(
                (&changes.start, &changes.undeclared),
                (&start, &undeclared),
                "{declared:?} on {observed:?}"
            );
            assert_eq!(changes.is_empty(), start.is_empty(), "only starting is a write");
            assert_eq!(changes.undeclared_note().is_some(), !undeclared.is_empty());
        }
        let changes = plan_packages(&[Asff, Eks], &graph(&[]));
        assert_eq!(
            changes.start_names(),
            ["EKS_AUDIT", "ASFF_SECURITYHUB_FINDING"],
            "only the packages to start are sent, in a stable order"
        );
    }

    fn state() -> impl Strategy<Value = Option<PackageIngest>> {
        prop_oneof![
            Just(None),
            Just(Some(Started)),
            Just(Some(Stopped)),
            Just(Some(Disabled)),
            Just(Some(Unknown))
        ]
    }

    proptest! {
        /// Starting what the plan starts leaves nothing to start; a package is never both
        /// started and reported; only declared packages are started, only undeclared reported.
        #[test]
        fn starting_the_plan_converges(
            declared in prop::collection::vec(prop_oneof![Just(Eks), Just(Asff)], 0..3),
            eks in state(),
            asff in state(),
        ) {
            let mut observed = BTreeMap::new();
            for (package, state) in [(Eks, eks), (Asff, asff)] {
                if let Some(state) = state {
                    observed.insert(package.as_str().to_owned(), state);
                }
            }
            let first = plan_packages(&declared, &observed);
            for package in &first.start {
                prop_assert!(declared.contains(package));
                prop_assert!(!first.undeclared.contains(package));
            }
            for package in &first.undeclared {
                prop_assert!(!declared.contains(package));
            }
            for package in &first.start {
                observed.insert(package.as_str().to_owned(), Started);
            }
            let second = plan_packages(&declared, &observed);
            prop_assert!(second.is_empty(), "{:?}", second);
            prop_assert_eq!(second.undeclared, first.undeclared, "reports are stable, not retried");
        }
    }
}
