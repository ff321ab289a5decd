//! The CRD types: the public contract of the operator (`detective.operator.dev/v1alpha1`).
//!
//! Everything a user writes or reads lives here, with the validation the API server enforces at
//! `kubectl apply` time (schema patterns, list-map keys, CEL rules) and the same checks in Rust
//! ([`validation`]) for the paths that never meet an API server (`plan -f`, `sync -f`).

pub mod conditions;
pub mod constraints;
pub mod graph;
pub mod graph_set;
pub mod management_policy;
pub mod membership;
pub mod organization_admin;
pub mod role;
pub mod sync_status;
pub mod validation;

pub use graph::{
    AcceptInvitationsSpec, DeletionGuardSpec, DetectiveGraph, DetectiveGraphSpec, DetectiveGraphStatus,
    GraphDeletionPolicy, InvitationSpec, MemberSpec, MemberStatusEntry, MemberSummary, MonitoringSpec, Pruning,
};
pub use graph::{DatasourcePackage, DatasourcePackageStatus};
pub use graph::{
    GraphOrganizationSpec, GraphOrganizationStatus, MembersFromSpec, OrganizationMembersSpec, ResolvedOrganization,
};
pub use graph_set::{
    DetectiveGraphSet, DetectiveGraphSetSpec, DetectiveGraphSetStatus, GRAPH_SET_LABEL, GraphTemplate, RegionGraph,
    RegionRemoval, TemplateMetadata,
};
pub use management_policy::{ManagementPolicy, PendingAction, PendingChanges};
pub use membership::MembershipPackageStatus;
pub use membership::{
    DesiredInvitationState, DetectiveMembership, DetectiveMembershipSpec, DetectiveMembershipStatus, InvitationStatus,
    MembershipDeletionPolicy,
};
pub use organization_admin::{
    DelegationRemoval, DelegationState, DetectiveOrganizationAdmin, DetectiveOrganizationAdminSpec,
    DetectiveOrganizationAdminStatus, RegionDelegation,
};
pub use role::{AssumeRoleSpec, DeclaredRole};
pub use sync_status::{RECONCILE_REQUESTED_AT, SyncStatus};

/// The API group of every resource of this operator.
pub const GROUP: &str = "detective.operator.dev";
/// The one served and stored version.
pub const VERSION: &str = "v1alpha1";

/// `namespace/name` of a resource, for logs and messages.
pub fn key_of(metadata: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta) -> String {
    format!(
        "{}/{}",
        metadata.namespace.as_deref().unwrap_or_default(),
        metadata.name.as_deref().unwrap_or_default()
    )
}
