//! A member account in Detective's vocabulary, independent of the SDK's and the CRDs' types: as
//! the operator invites it ([`Invitee`], [`InvitationSettings`]) and as Detective reports it
//! ([`ObservedMember`]).
//!
//! The planner reads these, the AWS adapter takes and produces them, the status reports them:
//! one vocabulary for all three.

use std::collections::BTreeMap;
use std::fmt;

use k8s_openapi::jiff::Timestamp;

/// An account to invite into a behavior graph (CreateMembers' `Accounts`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Invitee {
    /// The 12-digit AWS account id.
    pub account_id: String,
    /// The account's root e-mail address, which Detective verifies against the account.
    pub email_address: String,
}

/// How CreateMembers invites: the same for every account of one graph.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct InvitationSettings {
    /// A custom message for the invitation e-mail.
    pub message: Option<String>,
    /// Send no invitation e-mail.
    pub disable_email_notification: bool,
}

/// A member's state in the behavior graph (Detective's `MemberStatus`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum MemberStatus {
    VerificationInProgress,
    VerificationFailed,
    Invited,
    Enabled,
    AcceptedButDisabled,
    /// A value this version of the operator does not know; kept verbatim for the status.
    Unknown(String),
}

impl MemberStatus {
    pub fn as_str(&self) -> &str {
        match self {
            Self::VerificationInProgress => "VERIFICATION_IN_PROGRESS",
            Self::VerificationFailed => "VERIFICATION_FAILED",
            Self::Invited => "INVITED",
            Self::Enabled => "ENABLED",
            Self::AcceptedButDisabled => "ACCEPTED_BUT_DISABLED",
            Self::Unknown(other) => other,
        }
    }

    pub fn parse(value: &str) -> Self {
        match value {
            "VERIFICATION_IN_PROGRESS" => Self::VerificationInProgress,
            "VERIFICATION_FAILED" => Self::VerificationFailed,
            "INVITED" => Self::Invited,
            "ENABLED" => Self::Enabled,
            "ACCEPTED_BUT_DISABLED" => Self::AcceptedButDisabled,
            other => Self::Unknown(other.to_owned()),
        }
    }

    /// Whether the member is still on its way (Detective will move it without the operator).
    pub fn in_transit(&self) -> bool {
        matches!(self, Self::VerificationInProgress)
    }
}

impl fmt::Display for MemberStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How the account joined the graph.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum InvitationType {
    /// Invited by CreateMembers; accepts or rejects the invitation itself.
    Invitation,
    /// Enabled through AWS Organizations: never invited, never passes through INVITED.
    Organization,
}

impl InvitationType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Invitation => "INVITATION",
            Self::Organization => "ORGANIZATION",
        }
    }
}

/// One member account of a behavior graph.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObservedMember {
    pub account_id: String,
    /// The root e-mail the member was invited with (absent for organization members).
    pub email_address: Option<String>,
    pub status: MemberStatus,
    /// Why an accepted member is not monitored (VOLUME_TOO_HIGH, VOLUME_UNKNOWN).
    pub disabled_reason: Option<String>,
    pub invitation_type: InvitationType,
    pub invited_time: Option<Timestamp>,
    pub updated_time: Option<Timestamp>,
    /// Whether the member's data of each datasource package is ingested (ListMembers'
    /// `DatasourcePackageIngestStates`, keyed by package name).
    pub ingest: BTreeMap<String, PackageIngest>,
}

impl ObservedMember {
    /// A member as CreateMembers leaves it, for tests and for predicting the state after a plan.
    pub fn invited(account_id: &str, email_address: &str) -> Self {
        Self {
            account_id: account_id.to_owned(),
            email_address: Some(email_address.to_owned()),
            status: MemberStatus::VerificationInProgress,
            disabled_reason: None,
            invitation_type: InvitationType::Invitation,
            invited_time: None,
            updated_time: None,
            ingest: BTreeMap::new(),
        }
    }
}

/// Whether a datasource package is ingested, for a graph (ListDatasourcePackages) or one member
/// (ListMembers, BatchGetMembershipDatasources): Detective's `DatasourcePackageIngestState`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PackageIngest {
    Started,
    Stopped,
    Disabled,
    /// A state this build does not know.
    Unknown,
}

impl PackageIngest {
    pub fn parse(value: &str) -> Self {
        match value {
            "STARTED" => Self::Started,
            "STOPPED" => Self::Stopped,
            "DISABLED" => Self::Disabled,
            _ => Self::Unknown,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Started => "STARTED",
            Self::Stopped => "STOPPED",
            Self::Disabled => "DISABLED",
            Self::Unknown => "UNKNOWN",
        }
    }
}

/// An account a write call could not process, with Detective's reason.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnprocessedAccount {
    pub account_id: String,
    pub reason: String,
}
