//! Observe: the graph's invitation to this account, if any.

use tracing::warn;

use crate::aws::{Detective, Invitation, MembershipIngest};
use crate::engine::SyncError;
use crate::graph_arn::GraphArn;
use crate::member::{InvitationType, MemberStatus, ObservedMember, PackageIngest};

/// What [`find`] saw of this account in a graph.
#[derive(Debug, Default)]
pub struct Found {
    /// The invitation, or the membership.
    pub invitation: Option<Invitation>,
    /// This account's ingest state, when looking for an organization membership read it (so
    /// that [`ingest`] does not read it again).
    pub ingest: Option<MembershipIngest>,
}

/// The invitation (or membership) of `graph_arn`, as ListInvitations shows it; else the
/// account's organization membership of it, which is no invitation and which ListInvitations
/// never shows. Only then is this account's ingest state read (BatchGetMembershipDatasources):
/// data flows only from a joined member, and a joined member without an invitation is an
/// organization member. (One whose data does not flow yet, ACCEPTED_BUT_DISABLED, is not told
/// apart from an account that is no member.)
pub async fn find<D: Detective>(detective: &D, graph_arn: &str) -> Result<Found, SyncError> {
    let listed = detective.list_invitations().await?;
    if let Some(invitation) = listed.into_iter().find(|i| i.graph_arn == graph_arn) {
        return Ok(Found {
            invitation: Some(invitation),
            ingest: None,
        });
    }
    match detective.membership_datasources(graph_arn).await {
        Ok(ingest) => {
            let ingest = ingest.filter(flowing);
            Ok(Found {
                invitation: ingest.as_ref().map(|_| organization_membership(graph_arn)),
                ingest,
            })
        }
        // As for the ingest state itself: a role without the read keeps the invitation's view.
        Err(error) => {
            warn!(%error, "could not read this account's ingest state to look for an organization membership");
            Ok(Found::default())
        }
    }
}

/// Whether some package's data of the account is ingested. Pure.
fn flowing(ingest: &MembershipIngest) -> bool {
    ingest.values().any(|(state, _)| *state == PackageIngest::Started)
}

/// This account's organization membership of `graph_arn`, as [`find`] reports it: ENABLED (its
/// data flows), InvitationType ORGANIZATION, the graph's administrator from its ARN. The member
/// side does not learn its own account id or e-mail here; the status shows neither. Pure.
pub fn organization_membership(graph_arn: &str) -> Invitation {
    Invitation {
        graph_arn: graph_arn.to_owned(),
        administrator_account_id: GraphArn::parse(graph_arn)
            .ok()
            .map(|arn| arn.administrator_account().to_owned()),
        member: ObservedMember {
            account_id: String::new(),
            email_address: None,
            status: MemberStatus::Enabled,
            disabled_reason: None,
            invitation_type: InvitationType::Organization,
            invited_time: None,
            updated_time: None,
            ingest: Default::default(),
        },
    }
}

/// This account's own ingest state in `graph_arn` (BatchGetMembershipDatasources), read only once
/// the account has accepted (before that no data of it flows), and only if [`find`] did not read
/// it already. `Ok(None)`: nothing to read.
pub async fn ingest<D: Detective>(
    detective: &D,
    graph_arn: &str,
    found: &Found,
) -> Result<Option<MembershipIngest>, SyncError> {
    if found.ingest.is_some() {
        return Ok(found.ingest.clone());
    }
    let accepted = found.invitation.as_ref().is_some_and(|i| {
        matches!(
            i.member.status,
            MemberStatus::Enabled | MemberStatus::AcceptedButDisabled
        )
    });
    if !accepted {
        return Ok(None);
    }
    Ok(detective.membership_datasources(graph_arn).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Only an account whose data flows is taken for a member: one still in verification (not
    /// listed either) shows every package DISABLED.
    #[test]
    fn a_membership_is_told_by_data_that_flows() {
        let ingest = |states: &[PackageIngest]| -> MembershipIngest {
            let names = ["DETECTIVE_CORE", "EKS_AUDIT"];
            names
                .iter()
                .zip(states)
                .map(|(n, s)| ((*n).to_owned(), (*s, None)))
                .collect()
        };
        use PackageIngest::{Disabled, Started, Stopped};
        for (states, member) in [
            (&[Started, Stopped][..], true),
            (&[Disabled, Started][..], true),
            (&[Disabled, Disabled][..], false),
            (&[Stopped][..], false),
            (&[][..], false),
        ] {
            assert_eq!(flowing(&ingest(states)), member, "{states:?}");
        }
    }
}
