//! The AWS boundary: the narrow port the operator calls ([`port::Detective`]), its adapter on
//! `aws-sdk-detective` ([`sdk`]), the clients per (Region, role) and what they share
//! ([`access`]), the AWS Organizations reads ([`organizations`]), where credentials come from ([`credentials`]) and how failures are classified
//! ([`error`]). Every Detective call the operator makes is in `sdk.rs`.

pub mod access;
pub mod credentials;
pub mod error;
pub mod organizations;
pub mod port;
pub mod regions;
pub mod sdk;
mod traced;

pub use access::AwsAccess;
pub use credentials::{AwsSettings, RoleToAssume, StandIn};
pub use error::{AwsError, ErrorKind};
pub use organizations::{
    DETECTIVE_SERVICE_PRINCIPAL, OrganizationAccount, Organizations, ReachOrganizations, SdkOrganizations,
};
pub use port::{
    AssumeRole, CreateOutcome, DeleteOutcome, Detective, GraphSummary, Invitation, MembershipIngest, OrganizationAdmin,
    OrganizationAdmins, PackageIngest, PackageStates,
};
pub use sdk::SdkDetective;
