//! `DetectiveOrganizationAdmin`: the management-account side of organization-wide Detective: which
//! account is the organization's Detective administrator, in which Regions.

use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::constraints::{ACCOUNT_ID_PATTERN, MAX_REGIONS, REGION_MAX_LENGTH, REGION_PATTERN};
use super::constraints::{DEFAULT_RESYNC_INTERVAL, Interval};
use super::management_policy::{ManagementPolicy, PendingChanges};
use super::role::{AssumeRoleSpec, DeclaredRole};
use super::sync_status::SyncStatus;

/// The organization's delegated Amazon Detective administrator account, per Region, kept as
/// declared from the organization's management account.
///
/// The operator reads the organization's delegated administrator for Detective in AWS
/// Organizations (ListDelegatedAdministrators) and the delegation of each Region
/// (ListOrganizationAdminAccounts), adopts one that already names `accountId`, delegates where
/// there is none (EnableOrganizationAdminAccount, once: a new delegation shows a while later) and
/// never replaces another account: an organization has one Detective administrator, so another
/// one anywhere stalls the resource in every Region.
/// Disabling a delegation deletes the organization's behavior graph in that Region, so it only
/// happens where `regionRemoval` or `deletionPolicy` say `Disable`. `assumeRoleArn` names a role in
/// the organization's management account; without it the operator's own credentials must be the
/// management account's.
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "detective.operator.dev",
    version = "v1alpha1",
    kind = "DetectiveOrganizationAdmin",
    plural = "detectiveorganizationadmins",
    singular = "detectiveorganizationadmin",
    shortname = "doa",
    category = "detective",
    namespaced,
    doc = "A DetectiveOrganizationAdmin: the organization's delegated Detective administrator account in each declared Region.",
    status = "DetectiveOrganizationAdminStatus",
    derive = "PartialEq",
    printcolumn = r#"{"name": "Account", "type": "string", "description": "The delegated administrator account", "jsonPath": ".spec.accountId"}"#,
    printcolumn = r#"{"name": "Delegated", "type": "integer", "description": "Regions delegated to the account", "jsonPath": ".status.delegatedRegions"}"#,
    printcolumn = r#"{"name": "Declared", "type": "integer", "description": "Regions declared", "jsonPath": ".status.declaredRegions"}"#,
    printcolumn = r#"{"name": "Ready", "type": "string", "jsonPath": ".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name": "Status", "type": "string", "priority": 1, "jsonPath": ".status.conditions[?(@.type==\"Ready\")].message"}"#,
    printcolumn = r#"{"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct DetectiveOrganizationAdminSpec {
    /// The account to delegate as the organization's Detective administrator (12 digits). AWS
    /// recommends the same account in every Region.
    #[schemars(regex(pattern = ACCOUNT_ID_PATTERN))]
    pub account_id: String,

    /// The Regions to delegate it in, e.g. `[us-east-1, eu-west-1]`: at least one, each once.
    #[schemars(length(min = 1, max = MAX_REGIONS), inner(regex(pattern = REGION_PATTERN), length(max = REGION_MAX_LENGTH)))]
    #[x_kube(merge_strategy = ListMerge::Set)]
    pub regions: Vec<String>,

    #[serde(flatten)]
    pub assume_role: AssumeRoleSpec,

    /// What removing a Region from `regions` does: `Retain` (default) keeps its delegation;
    /// `Disable` disables it (DisableOrganizationAdminAccount, which deletes the organization's
    /// behavior graph in that Region), only while `accountId` is the administrator there.
    #[serde(default)]
    pub region_removal: DelegationRemoval,

    /// What deleting this resource does: `Retain` (default) keeps every delegation; `Disable`
    /// disables it in each declared Region where `accountId` is the administrator (deleting the
    /// organization's behavior graph there).
    #[serde(default)]
    pub deletion_policy: DelegationRemoval,

    /// How often the delegations are read again, e.g. `5m`; at most `24h`.
    #[serde(default = "Interval::default_resync")]
    pub resync_interval: Interval,

    /// Stops every AWS call for this resource until set back to false.
    #[serde(default)]
    pub suspend: bool,

    /// `Manage` (default) delegates as declared; `Observe` reads the delegations, reports the
    /// Regions a sync would enable or disable in `status.pendingChanges` (and one Event each time
    /// that changes) and the `InSync` condition, and makes no AWS write, not even on deletion
    /// (`deletionPolicy` is then not applied). Back to `Manage`, the next reconcile applies it.
    #[serde(default)]
    pub management_policy: ManagementPolicy,
}

/// Whether a delegation the resource no longer asks for is kept or disabled.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum DelegationRemoval {
    /// Keep the delegation (and the organization's behavior graph).
    #[default]
    Retain,
    /// DisableOrganizationAdminAccount: the organization's behavior graph in that Region is deleted.
    Disable,
}

/// What the operator last saw of the delegations.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
#[schemars(transform = SyncStatus::described(
    "kstatus conditions over all Regions: `Ready`, `Reconciling`, `Stalled`, and `InSync` (whether AWS matches the spec).",
    "When the delegations were last read."
))]
pub struct DetectiveOrganizationAdminStatus {
    #[serde(flatten)]
    pub sync: SyncStatus,

    /// One entry per declared Region, and per Region removed from `regions` whose delegation to
    /// `accountId` is kept (`Retained`): how a removed Region is still known.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[x_kube(merge_strategy = ListMerge::Map(vec!["region".into()]))]
    pub regions: Vec<RegionDelegation>,

    /// Declared Regions delegated to `accountId`.
    #[serde(default)]
    pub delegated_regions: i32,

    /// Regions in `spec.regions`.
    #[serde(default)]
    pub declared_regions: i32,

    /// With `managementPolicy: Observe`: the Regions a sync would `enable` or `disable`, or why
    /// it would be refused (another account administers the organization), as of the last read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_changes: Option<PendingChanges>,
}

/// The delegation in one Region, as ListOrganizationAdminAccounts reports it.
#[serde_with::skip_serializing_none]
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct RegionDelegation {
    pub region: String,
    /// The organization's Detective administrator account there; absent when there is none.
    pub administrator_account_id: Option<String>,
    /// The administrator's (organization) behavior graph.
    pub graph_arn: Option<String>,
    /// When the administrator was delegated.
    pub delegation_time: Option<Time>,
    /// When the operator called EnableOrganizationAdminAccount here, while the new delegation
    /// does not show yet (AWS lists it a while after): the Region is `Pending` and never
    /// enabled twice.
    pub enable_time: Option<Time>,
    pub state: DelegationState,
    pub message: Option<String>,
}

/// Where one Region stands.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub enum DelegationState {
    /// `accountId` is the administrator, as declared.
    Delegated,
    /// Not delegated yet (a plan, or a delegation that does not show yet).
    Pending,
    /// The organization's Detective administrator is another account (there is one for the
    /// organization, in every Region): never replaced; the resource is Stalled.
    Conflict,
    /// Removed from `regions`, still delegated to `accountId` (`regionRemoval: Retain`).
    Retained,
    /// Removed from `regions`; its delegation is to be disabled (`regionRemoval: Disable`).
    Disabling,
    /// The delegation could not be read or written; `message` says why.
    Error,
}

impl DetectiveOrganizationAdminSpec {
    /// The role the management account is reached through, if the spec names one.
    pub fn role(&self) -> Option<DeclaredRole<'_>> {
        self.assume_role.role()
    }

    /// `resyncInterval` as a duration.
    pub fn resync_interval(&self) -> Duration {
        self.resync_interval.duration_or(DEFAULT_RESYNC_INTERVAL)
    }
}

impl DetectiveOrganizationAdmin {
    /// `namespace/name`, for logs and messages.
    pub fn key(&self) -> String {
        super::key_of(&self.metadata)
    }
}
