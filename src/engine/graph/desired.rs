//! The desired state of a graph: what every step after the organization steps reads — the
//! declared members and the settings that shape the plan, the writes, the status and the requeue.
//!
//! It is made once per reconcile from a valid spec ([`crate::engine::sync`] validates it at the
//! door): from `spec.members` alone, or with the union that `spec.membersFrom` resolves
//! ([`super::members_from`]). The spec itself is read only by the steps before it (observe: the
//! graph to find; the organization steps: what to list and configure).

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::time::Duration;

use crate::api::{AcceptInvitationsSpec, DatasourcePackage, DetectiveGraphSpec, InvitationSpec, MemberSpec, Pruning};

/// The graph as declared, members resolved.
#[derive(Clone, Debug)]
pub struct DesiredGraph<'a> {
    /// The declared members: `spec.members` first (their entries win), then the accounts
    /// `spec.membersFrom` resolved, each once.
    pub members: Cow<'a, [MemberSpec]>,
    /// For new invitations only; a change never re-invites a member.
    pub invitation: &'a InvitationSpec,
    pub pruning: Pruning,
    /// `spec.deletionGuard.maxDeletions`: a plan removing more is refused whole.
    pub max_deletions: usize,
    /// `spec.monitoring.autoStart`: StartMonitoringMember for ACCEPTED_BUT_DISABLED members.
    pub auto_start_monitoring: bool,
    /// `spec.acceptInvitations`: accept as each INVITED member, through this role.
    pub accept_invitations: Option<&'a AcceptInvitationsSpec>,
    /// The graph's tags; empty leaves the graph's tags alone.
    pub tags: &'a BTreeMap<String, String>,
    /// `spec.datasourcePackages`; `None` leaves the packages alone (and unread).
    pub datasource_packages: Option<&'a [DatasourcePackage]>,
    pub resync_interval: Duration,
}

impl<'a> DesiredGraph<'a> {
    /// The graph as `spec` declares it, its members those of `spec.members`.
    pub fn of(spec: &'a DetectiveGraphSpec) -> Self {
        Self {
            members: Cow::Borrowed(&spec.members),
            invitation: &spec.invitation,
            pruning: spec.pruning,
            max_deletions: usize::try_from(spec.deletion_guard.max_deletions).unwrap_or(0),
            auto_start_monitoring: spec.monitoring.auto_start,
            accept_invitations: spec.accept_invitations.as_ref(),
            tags: &spec.tags,
            datasource_packages: spec.datasource_packages.as_deref(),
            resync_interval: spec.resync_interval(),
        }
    }

    /// The same settings with `members` declared (the union `membersFrom` resolved).
    pub fn with_members(self, members: Vec<MemberSpec>) -> Self {
        Self {
            members: Cow::Owned(members),
            ..self
        }
    }

    /// The declared members by account id, with their e-mail addresses.
    pub fn declared(&self) -> BTreeMap<&str, &str> {
        self.members
            .iter()
            .map(|m| (m.account_id.as_str(), m.email_address.as_str()))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_come_from_the_spec_and_members_can_be_replaced() {
        let spec: DetectiveGraphSpec = serde_json::from_value(serde_json::json!({
            "members": [{"accountId": "111111111111", "emailAddress": "a@example.com"}],
            "pruning": "Authoritative",
            "deletionGuard": {"maxDeletions": 3},
            "monitoring": {"autoStart": false},
            "resyncInterval": "2m",
        }))
        .expect("a valid spec");
        let desired = DesiredGraph::of(&spec);
        assert_eq!(desired.pruning, Pruning::Authoritative);
        assert_eq!(desired.max_deletions, 3);
        assert!(!desired.auto_start_monitoring);
        assert_eq!(desired.resync_interval, Duration::from_secs(120));
        assert_eq!(desired.declared().keys().copied().collect::<Vec<_>>(), ["111111111111"]);

        let union = desired.with_members(vec![
            spec.members[0].clone(),
            MemberSpec {
                account_id: "222222222222".into(),
                email_address: "b@example.com".into(),
            },
        ]);
        assert_eq!(union.members.len(), 2);
        assert_eq!(union.max_deletions, 3, "settings stay");
    }
}
