//! Accept invitations as the members (`spec.acceptInvitations`): assume a role in each INVITED
//! member account and call AcceptInvitation there, with per-account backoff.

use futures::StreamExt;
use k8s_openapi::jiff::Timestamp;

use super::GraphWrite;
use super::decide::accepted_as_member;
use super::desired::DesiredGraph;
use super::schedule::{Attempts, attempt_due};
use crate::api::{AcceptInvitationsSpec, DetectiveGraphStatus};
use crate::aws::credentials::DEFAULT_SESSION_NAME;
use crate::aws::{AssumeRole, AwsError, Detective, ErrorKind, RoleToAssume};
use crate::graph_arn::GraphArn;
use crate::member::{ObservedMember, UnprocessedAccount};

/// How many member roles are assumed and used at the same time.
const ACCEPT_CONCURRENCY: usize = 8;

/// What accepting did.
#[derive(Debug, Default)]
pub struct Acceptance {
    /// `None` when no invitation was due.
    pub applied: Option<GraphWrite>,
    /// Accounts whose acceptance was attempted, and those where it failed (with the reason).
    pub attempts: Attempts,
    /// Accounts whose backoff has not elapsed.
    pub deferred: Vec<String>,
    /// When every attempted account was refused (AccessDenied: a wrong `externalId` or
    /// `roleName`, a trust policy, a grant or the accept policy missing), the first refusal: no
    /// retry fixes that, a human must, so the graph is Stalled on it.
    pub every_account_refused: Option<AwsError>,
}

impl Acceptance {
    /// Whether at least one invitation was accepted (the graph is worth reading again).
    pub fn accepted_any(&self) -> bool {
        matches!(self.applied, Some(GraphWrite::Accepted { accounts, .. }) if accounts > 0)
    }
}

/// The declared members whose invitation is accepted as them, read off `members` as the graph
/// stands now (after this sync's invitations).
pub fn invited(desired: &DesiredGraph<'_>, members: &[ObservedMember]) -> Vec<String> {
    let declared = desired.declared();
    members
        .iter()
        .filter(|m| declared.contains_key(m.account_id.as_str()) && accepted_as_member(desired, m))
        .map(|m| m.account_id.clone())
        .collect()
}

/// Accepts the invitations of the `invited` accounts whose backoff has elapsed.
pub async fn accept_invited<R: AssumeRole>(
    roles: &R,
    graph_arn: &str,
    accepting: &AcceptInvitationsSpec,
    invited: Vec<String>,
    previous: &DetectiveGraphStatus,
    now: Timestamp,
) -> Acceptance {
    let (accounts, deferred): (Vec<String>, Vec<String>) =
        invited.into_iter().partition(|a| attempt_due(previous, a, now));
    let mut acceptance = Acceptance {
        deferred,
        ..Acceptance::default()
    };
    if accounts.is_empty() {
        return acceptance;
    }
    let results = accept_all(roles, graph_arn, accepting, &accounts).await;
    let accepted = results.iter().filter(|(_, r)| r.is_ok()).count();
    let every_account_refused = results
        .iter()
        .all(|(_, r)| matches!(r, Err(f) if f.access_denied.is_some()));
    for (account, result) in results {
        acceptance.attempts.attempted.push(account.clone());
        if let Err(failure) = result {
            if every_account_refused && acceptance.every_account_refused.is_none() {
                acceptance.every_account_refused = failure.access_denied;
            }
            acceptance.attempts.unprocessed.push(UnprocessedAccount {
                account_id: account,
                reason: failure.reason,
            });
        }
    }
    acceptance.applied = Some(GraphWrite::Accepted {
        accounts: accepted,
        failed: accounts.len() - accepted,
    });
    acceptance
}

/// Why one account's invitation was not accepted.
struct AcceptFailure {
    /// For the member's `lastError`.
    reason: String,
    /// The refusal, when assuming the account's role or accepting as it was AccessDenied (the
    /// SDK assumes the role on the first call, so either step can carry STS's refusal).
    access_denied: Option<AwsError>,
}

/// Accepts the invitations of `accounts` as each of them, through `role_name` in each account.
/// One account's failure (a role that cannot be assumed) is its own and blocks no other.
async fn accept_all<R: AssumeRole>(
    roles: &R,
    graph_arn: &str,
    accepting: &AcceptInvitationsSpec,
    accounts: &[String],
) -> Vec<(String, Result<(), AcceptFailure>)> {
    let (partition, region) = match GraphArn::parse(graph_arn) {
        Ok(arn) => (arn.partition(), arn.region()),
        // No partition to name the roles in, no Region to assume them in: each account fails.
        Err(malformed) => {
            let failed = |account: &String| {
                let reason = format!("AcceptInvitation: {malformed}");
                (
                    account.clone(),
                    Err(AcceptFailure {
                        reason,
                        access_denied: None,
                    }),
                )
            };
            return accounts.iter().map(failed).collect();
        }
    };
    let mut calls = Vec::with_capacity(accounts.len());
    for account in accounts {
        let account = account.clone();
        let role = RoleToAssume {
            role_arn: format!("arn:{partition}:iam::{account}:role/{}", accepting.role_name),
            external_id: accepting.external_id.clone(),
            session_name: Some(
                accepting
                    .session_name
                    .clone()
                    .unwrap_or_else(|| DEFAULT_SESSION_NAME.to_owned()),
            ),
        };
        calls.push(async move {
            let result = match roles.assume(&role, region).await {
                Ok(member) => member.accept_invitation(graph_arn).await,
                Err(error) => Err(error),
            };
            let result = result.map_err(|e| AcceptFailure {
                reason: format!("AcceptInvitation as {}: {e}", role.role_arn),
                access_denied: (e.kind == ErrorKind::AccessDenied).then_some(e),
            });
            (account, result)
        });
    }
    futures::stream::iter(calls)
        .buffer_unordered(ACCEPT_CONCURRENCY)
        .collect()
        .await
}
