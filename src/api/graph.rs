//! `DetectiveGraph`: the administrator side: the member accounts one behavior graph should have.

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::{CustomResource, KubeSchema};
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Serialize};

use super::constraints::{
    ACCOUNT_ID_PATTERN, EMAIL_MAX_LENGTH, EMAIL_PATTERN, EXTERNAL_ID_MAX_LENGTH, EXTERNAL_ID_PATTERN,
    GRAPH_ARN_MAX_LENGTH, GRAPH_ARN_PATTERN, MAX_DELETIONS_LIMIT, MAX_MEMBERS, MAX_TAGS, MESSAGE_MAX_LENGTH,
    REGION_MAX_LENGTH, REGION_PATTERN, ROLE_NAME_PATTERN, SESSION_NAME_PATTERN, TAG_KEY_MAX_LENGTH, TAG_KEY_PATTERN,
    TAG_KEY_RESERVED_PREFIX, TAG_VALUE_MAX_LENGTH,
};
use super::constraints::{DEFAULT_REFRESH_INTERVAL, DEFAULT_RESYNC_INTERVAL, Interval};
use super::constraints::{MAX_ORGANIZATIONAL_UNITS, PARENT_ID_PATTERN};
use super::constraints::{cel_rule, immutable_once_set};
use super::management_policy::{ManagementPolicy, PendingChanges};
use super::role::{AssumeRoleSpec, DeclaredRole};
use super::sync_status::SyncStatus;

/// The member accounts an Amazon Detective behavior graph should have, kept true by the operator.
///
/// The operator adopts (or creates) the administrator account's behavior graph in `region`,
/// invites the listed accounts, removes the ones no longer listed (see `pruning`), starts
/// monitoring for accepted-but-disabled members, and reports every member's state in `status`.
/// `assumeRoleArn` names a role in the administrator account.
#[serde_with::skip_serializing_none]
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "detective.operator.dev",
    version = "v1alpha1",
    kind = "DetectiveGraph",
    plural = "detectivegraphs",
    singular = "detectivegraph",
    shortname = "dg",
    category = "detective",
    namespaced,
    doc = "A DetectiveGraph: the member accounts of one Amazon Detective behavior graph, kept as declared.",
    status = "DetectiveGraphStatus",
    derive = "PartialEq",
    printcolumn = r#"{"name": "Graph", "type": "string", "description": "The behavior graph ARN", "jsonPath": ".status.graphArn"}"#,
    printcolumn = r#"{"name": "Enabled", "type": "integer", "description": "Members contributing data", "jsonPath": ".status.summary.enabled"}"#,
    printcolumn = r#"{"name": "Desired", "type": "integer", "description": "Members declared", "jsonPath": ".status.summary.desired"}"#,
    printcolumn = r#"{"name": "Ready", "type": "string", "jsonPath": ".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name": "Status", "type": "string", "priority": 1, "jsonPath": ".status.conditions[?(@.type==\"Ready\")].message"}"#,
    printcolumn = r#"{"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}"#
)]
#[x_kube(
    validation = immutable_once_set("region", "region is immutable once set: create a new DetectiveGraph for another Region"),
    validation = immutable_once_set("graphArn", "graphArn is immutable once set: create a new DetectiveGraph to manage another graph"),
    validation = cel_rule(
        "!has(self.graphArn) || !has(self.region) || self.graphArn.contains(':detective:' + self.region + ':')",
        "graphArn names a different Region than region", ".graphArn", Reason::FieldValueInvalid,
    ),
)]
#[serde(rename_all = "camelCase")]
pub struct DetectiveGraphSpec {
    /// The AWS Region of the behavior graph, e.g. `us-east-1`. Defaults to the Region of the
    /// operator's AWS configuration. Immutable once set.
    #[schemars(regex(pattern = REGION_PATTERN), length(max = REGION_MAX_LENGTH))]
    pub region: Option<String>,

    /// Adopt this behavior graph. Without it the operator adopts the administrator account's graph
    /// in the Region if one exists (ListGraphs), and creates one otherwise (CreateGraph).
    /// Immutable once set.
    #[schemars(regex(pattern = GRAPH_ARN_PATTERN), length(max = GRAPH_ARN_MAX_LENGTH))]
    pub graph_arn: Option<String>,

    #[serde(flatten)]
    pub assume_role: AssumeRoleSpec,

    /// Tags of the behavior graph: set when the graph is created and kept in step afterwards.
    /// At most 50; values at most 256 characters; keys 1–128 characters matching Detective's
    /// `^(?!aws:)[a-zA-Z+-=._:/]+$`, whose `+-=` is a range: `+ , - . / 0-9 : ; < =`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schemars(schema_with = "tags_schema")]
    pub tags: BTreeMap<String, String>,

    /// The member accounts the behavior graph should have, keyed by `accountId` (at most 1,200).
    #[serde(default)]
    #[schemars(length(max = MAX_MEMBERS))]
    #[x_kube(merge_strategy = ListMerge::Map(vec!["accountId".into()]))]
    pub members: Vec<MemberSpec>,

    /// The invitation sent to newly invited accounts. Changing it never re-invites an account
    /// that is already a member.
    #[serde(default)]
    pub invitation: InvitationSpec,

    /// Monitoring of accepted members.
    #[serde(default)]
    pub monitoring: MonitoringSpec,

    /// Accept invitations on the members' behalf by assuming a role in each invited account.
    pub accept_invitations: Option<AcceptInvitationsSpec>,

    /// The optional datasource packages the graph must ingest besides the core one (CloudTrail,
    /// VPC Flow Logs, GuardDuty findings): `EKS_AUDIT` (Amazon EKS audit logs) and
    /// `ASFF_SECURITYHUB_FINDING` (AWS security findings from Security Hub). A declared package
    /// that is not started is started (UpdateDatasourcePackages). The API cannot stop a package:
    /// a started package that is not listed is reported (condition message, one Event), never
    /// stopped; stop it in the Detective console (Settings, General, Source packages). Unset (the
    /// default): packages are neither read nor started. `[]`: none declared, started ones reported.
    // `default` keeps the field optional in the schema: behind `schema_with`, schemars no longer
    // sees that the type is an `Option`.
    #[serde(default)]
    #[schemars(schema_with = "datasource_packages_schema")]
    pub datasource_packages: Option<Vec<DatasourcePackage>>,

    /// Which members not listed in `members` are removed from the graph: `Managed` (default) removes
    /// only accounts this resource manages (`status.inventory`), `Authoritative` removes every
    /// unlisted invited member, `Disabled` removes none.
    #[serde(default)]
    pub pruning: Pruning,

    /// Refuses a sync that would remove more members than allowed.
    #[serde(default)]
    pub deletion_guard: DeletionGuardSpec,

    /// What happens in AWS when this resource is deleted: `Retain` (default) leaves the graph and
    /// its members; `Delete` removes the members in `status.inventory`, and the graph if this
    /// resource created it.
    #[serde(default)]
    pub deletion_policy: GraphDeletionPolicy,

    /// How often the graph is read again to find drift made outside the operator, e.g. `5m`; at most `24h`.
    #[serde(default = "Interval::default_resync")]
    pub resync_interval: Interval,

    /// Stops every AWS call for this resource until set back to false.
    #[serde(default)]
    pub suspend: bool,

    /// `Manage` (default) applies the spec; `Observe` reads AWS, reports the plan a sync would
    /// apply in `status.pendingChanges` (and one Event each time it changes) and the `InSync`
    /// condition, and makes no AWS write, not even on deletion (`deletionPolicy` is then not
    /// applied). Back to `Manage`, the next reconcile applies the plan.
    #[serde(default)]
    pub management_policy: ManagementPolicy,

    /// The organization configuration of the graph, when its account is the organization's
    /// delegated Detective administrator in this Region.
    pub organization: Option<GraphOrganizationSpec>,

    /// Members drawn from another source, declared together with `members`.
    pub members_from: Option<MembersFromSpec>,
}

/// The organization configuration of the delegated administrator's behavior graph.
#[serde_with::skip_serializing_none]
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct GraphOrganizationSpec {
    /// Whether accounts that join the organization later become members on their own
    /// (UpdateOrganizationConfiguration `AutoEnable`). Absent: left as it is. Existing accounts
    /// are enabled through `membersFrom.organization` or `members`.
    pub auto_enable: Option<bool>,
}

/// Other sources of declared members.
#[serde_with::skip_serializing_none]
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct MembersFromSpec {
    /// The ACTIVE accounts of AWS Organizations OUs (with their child OUs).
    pub organization: Option<OrganizationMembersSpec>,
}

/// Members from AWS Organizations: the ACTIVE accounts under the listed roots or OUs (child OUs
/// included), minus `excludeAccounts`; each with the e-mail address Organizations reports. An
/// entry of `members` for the same account wins. `assumeRoleArn` names a role allowed to list the
/// organization (in the management account, or in a delegated administrator); without it the
/// graph's own role or credentials list it, enough when the graph's account is the delegated
/// Detective administrator.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct OrganizationMembersSpec {
    /// Root (`r-...`) or OU (`ou-...`) ids whose accounts are members, child OUs included.
    /// Empty or absent: the whole organization.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = MAX_ORGANIZATIONAL_UNITS), inner(regex(pattern = PARENT_ID_PATTERN)))]
    #[x_kube(merge_strategy = ListMerge::Set)]
    pub organizational_units: Vec<String>,

    /// Accounts never drawn from the organization (an entry of `members` still declares one).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = MAX_MEMBERS), inner(regex(pattern = ACCOUNT_ID_PATTERN)))]
    #[x_kube(merge_strategy = ListMerge::Set)]
    pub exclude_accounts: Vec<String>,

    #[serde(flatten)]
    pub assume_role: AssumeRoleSpec,

    /// How often the organization is listed again, e.g. `10m` (default); at most `24h`. A resync
    /// in between uses the accounts resolved last time (`status.organization.resolved`).
    #[serde(default = "Interval::default_refresh")]
    pub refresh_interval: Interval,
}

impl OrganizationMembersSpec {
    /// The role that lists the organization, if the spec names one.
    pub fn role(&self) -> Option<DeclaredRole<'_>> {
        self.assume_role.role()
    }

    /// `refreshInterval` as a duration.
    pub fn refresh_interval(&self) -> Duration {
        self.refresh_interval.duration_or(DEFAULT_REFRESH_INTERVAL)
    }
}

/// What the operator last saw of the graph's organization side.
#[serde_with::skip_serializing_none]
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct GraphOrganizationStatus {
    /// The graph's `AutoEnable` as last read (DescribeOrganizationConfiguration), or as last
    /// written while that write propagates, when `spec.organization.autoEnable` is set.
    pub auto_enable: Option<bool>,

    /// The accounts `spec.membersFrom.organization` resolved at the last refresh.
    pub resolved: Option<ResolvedOrganization>,

    /// Since when the graph's account has been refused as the organization's delegated
    /// Detective administrator in this Region, while the operator retries (a new delegation
    /// takes a while to show); cleared once it is accepted.
    pub not_delegated_since: Option<Time>,

    /// When the operator last wrote `AutoEnable` (UpdateOrganizationConfiguration). A write
    /// takes a while to read back: within a minute of it, a read that does not show it yet
    /// causes no second write; after that, a different value is drift and is written again.
    pub auto_enable_set_time: Option<Time>,
}

/// One listing of the organization. The account ids are kept (not their e-mail addresses) so
/// that a resync within `refreshInterval` needs no Organizations call: the e-mail of an account
/// that is already a member is not needed again, and a resolved account that is not a member
/// makes the next sync list the organization again.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ResolvedOrganization {
    /// The ACTIVE accounts found (before `excludeAccounts`).
    pub count: i32,
    /// `spec.membersFrom.organization.organizationalUnits` as listed (empty: the whole
    /// organization); a change lists the organization again at once.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub requested: Vec<String>,
    /// The roots and OUs whose accounts were listed (the requested ones and every OU below).
    pub units_walked: i32,
    /// Accounts skipped because they are not ACTIVE (suspended, closing).
    pub inactive: i32,
    /// When the organization was listed.
    pub refresh_time: Time,
    /// The ACTIVE account ids found, sorted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub accounts: Vec<String>,
}

/// One member account of the behavior graph.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
#[serde(rename_all = "camelCase")]
pub struct MemberSpec {
    /// The 12-digit AWS account id.
    #[schemars(regex(pattern = ACCOUNT_ID_PATTERN))]
    pub account_id: String,

    /// The AWS account root user e-mail address (Detective verifies it against the account).
    #[schemars(regex(pattern = EMAIL_PATTERN), length(min = 1, max = EMAIL_MAX_LENGTH))]
    pub email_address: String,
}

/// The invitation sent to new members.
#[serde_with::skip_serializing_none]
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct InvitationSpec {
    /// A custom message for the invitation e-mail (1–1000 characters).
    #[schemars(length(min = 1, max = MESSAGE_MAX_LENGTH))]
    pub message: Option<String>,

    /// Send no invitation e-mail (useful when members are accepted automatically).
    #[serde(default)]
    pub disable_email_notification: bool,
}

/// Monitoring of accepted members.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct MonitoringSpec {
    /// Call StartMonitoringMember for members in ACCEPTED_BUT_DISABLED (with backoff).
    #[serde(default = "default_true")]
    pub auto_start: bool,
}

impl Default for MonitoringSpec {
    fn default() -> Self {
        Self { auto_start: true }
    }
}

/// Accepting invitations in member accounts by role assumption.
#[serde_with::skip_serializing_none]
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct AcceptInvitationsSpec {
    /// The role to assume in each invited account: `arn:<partition>:iam::<member>:role/<roleName>`.
    #[schemars(regex(pattern = ROLE_NAME_PATTERN))]
    pub role_name: String,

    /// The external id the members' role trust policies require.
    #[schemars(regex(pattern = EXTERNAL_ID_PATTERN), length(max = EXTERNAL_ID_MAX_LENGTH))]
    pub external_id: Option<String>,

    /// The role session name (default `detective-operator`).
    #[schemars(regex(pattern = SESSION_NAME_PATTERN))]
    pub session_name: Option<String>,
}

/// Which unlisted members are removed from the graph.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Pruning {
    /// Remove only members this resource manages (listed in `status.inventory`).
    #[default]
    Managed,
    /// Remove every invited member that is not listed.
    Authoritative,
    /// Never remove members.
    Disabled,
}

/// The deletion guard.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct DeletionGuardSpec {
    /// The most members one sync may remove. A plan removing more is not applied: the resource
    /// reports `Stalled` with the count until the list is fixed or this limit raised.
    #[serde(default = "default_max_deletions")]
    #[schemars(range(min = 0, max = MAX_DELETIONS_LIMIT))]
    pub max_deletions: i32,
}

impl Default for DeletionGuardSpec {
    fn default() -> Self {
        Self {
            max_deletions: default_max_deletions(),
        }
    }
}

/// What deleting the resource does in AWS.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum GraphDeletionPolicy {
    /// Leave the graph and its members as they are.
    #[default]
    Retain,
    /// Remove the members in `status.inventory`, and the graph if this resource created it.
    Delete,
}

/// What the operator last saw of the graph.
#[serde_with::skip_serializing_none]
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
#[schemars(transform = SyncStatus::described(
    "kstatus conditions: `Ready`, `Reconciling`, `Stalled`, `MembersHealthy` and `InSync` (whether AWS matches the spec).",
    "When the graph was last read and reconciled."
))]
pub struct DetectiveGraphStatus {
    #[serde(flatten)]
    pub sync: SyncStatus,

    /// The behavior graph this resource manages.
    pub graph_arn: Option<String>,

    /// Whether this resource created the graph (and so may delete it under `deletionPolicy: Delete`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub graph_created: bool,

    /// Member counts by state.
    pub summary: Option<MemberSummary>,

    /// Every member of the graph, declared or not, as Detective reports it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[x_kube(merge_strategy = ListMerge::Map(vec!["accountId".into()]))]
    pub members: Vec<MemberStatusEntry>,

    /// The accounts this resource manages: invited by it, or declared while already members.
    /// `pruning: Managed` removes only these.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[x_kube(merge_strategy = ListMerge::Set)]
    pub inventory: Vec<String>,

    /// Each datasource package: the graph's ingest state (when `spec.datasourcePackages` is set),
    /// whether it is declared, and how many members' data of it is ingested.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[x_kube(merge_strategy = ListMerge::Map(vec!["package".into()]))]
    pub datasource_packages: Vec<DatasourcePackageStatus>,

    /// The organization side: `AutoEnable` and the members resolved from AWS Organizations.
    pub organization: Option<GraphOrganizationStatus>,

    /// With `managementPolicy: Observe`: the plan a sync would apply (counts per action and the
    /// first accounts of each), as of the last read.
    pub pending_changes: Option<PendingChanges>,
}

/// Member counts by state.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct MemberSummary {
    /// Members declared in `spec.members`.
    pub desired: i32,
    /// Declared members that are not in the graph.
    pub missing: i32,
    /// Members in the graph that are not declared.
    pub undeclared: i32,
    pub enabled: i32,
    pub invited: i32,
    pub verification_in_progress: i32,
    pub verification_failed: i32,
    pub accepted_but_disabled: i32,
}

/// One member account as Detective reports it.
#[serde_with::skip_serializing_none]
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct MemberStatusEntry {
    pub account_id: String,
    /// INVITED, VERIFICATION_IN_PROGRESS, VERIFICATION_FAILED, ENABLED or ACCEPTED_BUT_DISABLED.
    pub status: String,
    /// VOLUME_TOO_HIGH or VOLUME_UNKNOWN, for ACCEPTED_BUT_DISABLED members.
    pub disabled_reason: Option<String>,
    /// INVITATION or ORGANIZATION.
    pub invitation_type: Option<String>,
    /// Whether the account is listed in `spec.members`.
    pub declared: bool,
    pub invited_time: Option<Time>,
    pub updated_time: Option<Time>,
    /// Calls made for this member in its current state (StartMonitoringMember while
    /// ACCEPTED_BUT_DISABLED, AcceptInvitation while INVITED); the next waits 1, 2, 4, ... minutes
    /// (at most an hour) after the last.
    pub attempts: Option<i32>,
    pub last_attempt_time: Option<Time>,
    /// The last error of an action on this member (e.g. an invitation Detective did not process).
    pub last_error: Option<String>,
    /// The datasource packages whose data of this member is not ingested (its
    /// `DatasourcePackageIngestStates` other than STARTED); absent when every package is.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub not_ingesting: Vec<String>,
}

/// An optional datasource package of a behavior graph (Detective's `DatasourcePackage`; the core
/// package, `DETECTIVE_CORE`, is always on and is not declared).
#[derive(JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DatasourcePackage {
    /// Amazon EKS audit logs.
    #[serde(rename = "EKS_AUDIT")]
    EksAudit,
    /// AWS security findings: Security Hub findings in the AWS Security Finding Format.
    #[serde(rename = "ASFF_SECURITYHUB_FINDING")]
    AsffSecurityHubFinding,
}

/// A set of packages (an unknown name or a repeated one is refused at admission, naming the
/// entry), not nullable like the schema's other fields: `null` means unset.
fn datasource_packages_schema(generator: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "array",
        "items": generator.subschema_for::<DatasourcePackage>(),
        "x-kubernetes-list-type": "set",
    })
}

impl DatasourcePackage {
    /// Every optional package, in the order Detective lists them.
    pub const ALL: [DatasourcePackage; 2] = [Self::EksAudit, Self::AsffSecurityHubFinding];

    /// The package's name on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::EksAudit => "EKS_AUDIT",
            Self::AsffSecurityHubFinding => "ASFF_SECURITYHUB_FINDING",
        }
    }

    /// The optional package named `name`, if it is one.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == name)
    }
}

/// One datasource package of the graph, as the last reconcile saw it.
#[serde_with::skip_serializing_none]
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct DatasourcePackageStatus {
    /// `DETECTIVE_CORE`, `EKS_AUDIT`, `ASFF_SECURITYHUB_FINDING`.
    pub package: String,
    /// The graph's ingest state: STARTED, STOPPED or DISABLED (ListDatasourcePackages, read only
    /// when `spec.datasourcePackages` is set).
    pub state: Option<String>,
    /// Whether the package is listed in `spec.datasourcePackages` (optional packages, when the
    /// field is set). A STARTED package that is not declared is reported, never stopped.
    pub declared: Option<bool>,
    /// Members whose data of this package is ingested (STARTED in ListMembers).
    pub ingesting_members: i32,
}

fn default_true() -> bool {
    true
}

fn default_max_deletions() -> i32 {
    10
}

/// Tags as TagResource accepts them. A map's keys have no schema of their own, so the key rules
/// are CEL: one rule per reason, so the message says which one a key breaks. The pattern's
/// look-ahead `(?!aws:)` is the `startsWith` rule, since CEL's `matches` is RE2.
fn tags_schema(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "object",
        "maxProperties": MAX_TAGS,
        "additionalProperties": { "type": "string", "maxLength": TAG_VALUE_MAX_LENGTH },
        "x-kubernetes-validations": [
            {
                "rule": format!("self.all(k, size(k) >= 1 && size(k) <= {TAG_KEY_MAX_LENGTH})"),
                "message": format!("tag keys must be 1 to {TAG_KEY_MAX_LENGTH} characters"),
            },
            {
                "rule": format!("self.all(k, !k.startsWith('{TAG_KEY_RESERVED_PREFIX}'))"),
                "message": format!("tag keys must not start with '{TAG_KEY_RESERVED_PREFIX}'"),
            },
            {
                "rule": format!("self.all(k, k.matches('{TAG_KEY_PATTERN}'))"),
                "message": format!("tag keys must match {TAG_KEY_PATTERN}"),
            },
        ],
    })
}

impl DetectiveGraphSpec {
    /// Whether the operator only observes (`managementPolicy: Observe`): no AWS write.
    pub fn observes(&self) -> bool {
        self.management_policy.observes()
    }

    /// The role the administrator account is reached through, if the spec names one.
    pub fn role(&self) -> Option<DeclaredRole<'_>> {
        self.assume_role.role()
    }

    /// The declared Region, if any (else the operator's default).
    pub fn region(&self) -> Option<&str> {
        self.region.as_deref()
    }

    /// `resyncInterval` as a duration.
    pub fn resync_interval(&self) -> Duration {
        self.resync_interval.duration_or(DEFAULT_RESYNC_INTERVAL)
    }
}

impl DetectiveGraph {
    /// `namespace/name`, for logs and messages.
    pub fn key(&self) -> String {
        super::key_of(&self.metadata)
    }
}
