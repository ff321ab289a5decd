//! `DetectiveMembership`: the member side: one member account's answer to one graph's invitation.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use std::time::Duration;

use super::constraints::{DEFAULT_RESYNC_INTERVAL, Interval, cel_rule, immutable_once_set};
use super::constraints::{GRAPH_ARN_MAX_LENGTH, GRAPH_ARN_PATTERN, REGION_MAX_LENGTH, REGION_PATTERN};
use super::management_policy::{ManagementPolicy, PendingChanges};
use super::role::{AssumeRoleSpec, DeclaredRole};
use super::sync_status::SyncStatus;
use crate::graph_arn::GraphArn;

/// A member account's membership in another account's behavior graph, for clusters that run with
/// the member account's credentials (or assume a role into it).
///
/// The operator finds the graph's invitation (ListInvitations), accepts or rejects it as declared,
/// and on deletion disassociates from the graph when `deletionPolicy` is `Disassociate`.
/// `assumeRoleArn` names a role in the member account.
#[serde_with::skip_serializing_none]
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "detective.operator.dev",
    version = "v1alpha1",
    kind = "DetectiveMembership",
    plural = "detectivememberships",
    singular = "detectivemembership",
    shortname = "dm",
    category = "detective",
    namespaced,
    doc = "A DetectiveMembership: one member account's answer to a behavior graph's invitation.",
    status = "DetectiveMembershipStatus",
    derive = "PartialEq",
    printcolumn = r#"{"name": "Graph", "type": "string", "jsonPath": ".spec.graphArn"}"#,
    printcolumn = r#"{"name": "Invitation", "type": "string", "description": "The invitation's state in the graph", "jsonPath": ".status.invitation.status"}"#,
    printcolumn = r#"{"name": "Ready", "type": "string", "jsonPath": ".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}"#
)]
#[x_kube(
    validation = immutable_once_set("region", "region is immutable once set"),
    validation = cel_rule(
        "!has(self.region) || self.graphArn.contains(':detective:' + self.region + ':')",
        "graphArn names a different Region than region", ".graphArn", Reason::FieldValueInvalid,
    ),
)]
#[serde(rename_all = "camelCase")]
pub struct DetectiveMembershipSpec {
    /// The behavior graph whose invitation this account answers. Immutable.
    #[schemars(regex(pattern = GRAPH_ARN_PATTERN), length(max = GRAPH_ARN_MAX_LENGTH))]
    #[x_kube(validation = Rule::new("self == oldSelf").message("graphArn is immutable").reason(Reason::FieldValueInvalid))]
    pub graph_arn: String,

    /// The AWS Region of the graph; defaults to the Region in `graphArn`. Immutable once set.
    #[schemars(regex(pattern = REGION_PATTERN), length(max = REGION_MAX_LENGTH))]
    pub region: Option<String>,

    #[serde(flatten)]
    pub assume_role: AssumeRoleSpec,

    /// `Accepted` (default) accepts the invitation; `Rejected` rejects it.
    #[serde(default)]
    pub state: DesiredInvitationState,

    /// What deleting this resource does: `Retain` (default) leaves the membership; `Disassociate`
    /// leaves the graph (not possible for organization members).
    #[serde(default)]
    pub deletion_policy: MembershipDeletionPolicy,

    /// How often the invitation is read again, e.g. `5m`; at most `24h`.
    #[serde(default = "Interval::default_resync")]
    pub resync_interval: Interval,

    /// Stops every AWS call for this resource until set back to false.
    #[serde(default)]
    pub suspend: bool,

    /// `Manage` (default) answers the invitation as declared; `Observe` reads it, reports the
    /// answer a sync would give in `status.pendingChanges` (and one Event each time it changes)
    /// and the `InSync` condition, and makes no AWS write, not even on deletion
    /// (`deletionPolicy` is then not applied). Back to `Manage`, the next reconcile answers.
    #[serde(default)]
    pub management_policy: ManagementPolicy,
}

/// The declared answer to the invitation.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum DesiredInvitationState {
    #[default]
    Accepted,
    Rejected,
}

/// What deleting a `DetectiveMembership` does in AWS.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum MembershipDeletionPolicy {
    /// Stay a member of the graph.
    #[default]
    Retain,
    /// Leave the graph (DisassociateMembership).
    Disassociate,
}

/// What the operator last saw of the invitation.
#[serde_with::skip_serializing_none]
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
#[schemars(transform = SyncStatus::described(
    "kstatus conditions: `Ready`, `Reconciling`, `Stalled`, and `InSync` (whether AWS matches the spec).",
    "When the invitation was last read."
))]
pub struct DetectiveMembershipStatus {
    #[serde(flatten)]
    pub sync: SyncStatus,

    /// The invitation as ListInvitations reports it; absent while no invitation has arrived.
    pub invitation: Option<InvitationStatus>,

    /// Whether the graph ingests this account's data of each datasource package
    /// (BatchGetMembershipDatasources), read once the account is a member.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[x_kube(merge_strategy = ListMerge::Map(vec!["package".into()]))]
    pub datasource_packages: Vec<MembershipPackageStatus>,

    /// With `managementPolicy: Observe`: the answer a sync would give (`accept`, `reject` or
    /// `disassociate`, naming the graph), or why it would be refused, as of the last read.
    pub pending_changes: Option<PendingChanges>,
}

/// The invitation as the member account sees it.
#[serde_with::skip_serializing_none]
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct InvitationStatus {
    /// The administrator account that owns the graph.
    pub administrator_account_id: Option<String>,
    /// INVITED, ENABLED, ACCEPTED_BUT_DISABLED, ...
    pub status: String,
    pub disabled_reason: Option<String>,
    /// INVITATION or ORGANIZATION.
    pub invitation_type: Option<String>,
    pub invited_time: Option<Time>,
    pub updated_time: Option<Time>,
}

/// The member account's own ingest state of one datasource package.
#[serde_with::skip_serializing_none]
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct MembershipPackageStatus {
    /// `DETECTIVE_CORE`, `EKS_AUDIT`, `ASFF_SECURITYHUB_FINDING`.
    pub package: String,
    /// STARTED (this account's data of the package is ingested), STOPPED or DISABLED.
    pub state: String,
    /// When the package entered that state for this account.
    pub since: Option<Time>,
}

impl DetectiveMembershipSpec {
    /// The role the member account is reached through, if the spec names one.
    pub fn role(&self) -> Option<DeclaredRole<'_>> {
        self.assume_role.role()
    }

    /// The declared Region, else the graph ARN's.
    pub fn region(&self) -> Option<&str> {
        self.region
            .as_deref()
            .or_else(|| GraphArn::parse(&self.graph_arn).ok().map(|arn| arn.region()))
    }

    /// `resyncInterval` as a duration.
    pub fn resync_interval(&self) -> Duration {
        self.resync_interval.duration_or(DEFAULT_RESYNC_INTERVAL)
    }
}
