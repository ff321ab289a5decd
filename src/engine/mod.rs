//! The reconcile pipelines, shared by the controller and the command line so that what a pull
//! request's plan shows is what the controller does:
//! - [`graph`]: a `DetectiveGraph`: observe → plan → apply → report;
//! - [`membership`]: a `DetectiveMembership`: find the invitation → decide → answer → report.

pub mod graph;
pub mod membership;

use std::time::Duration;

use crate::api::validation::FieldErrors;
use crate::aws::{AwsError, ErrorKind};

pub use graph::{
    Applied, ClaimCheck, GraphSource, Observation, Outcome, Target, administrator_of, failed, reconcile, report,
};

/// How soon to look again while members are in transit or work is pending.
pub const SHORT_REQUEUE: Duration = Duration::from_secs(10);

/// Whether the reconcile may write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Observe and plan only: no write call is made (`plan -f`).
    DryRun,
    /// Apply the plan.
    Apply,
}

/// Why a reconcile failed.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error("invalid spec: {0}")]
    InvalidSpec(FieldErrors),
    #[error(transparent)]
    Aws(#[from] AwsError),
    #[error("{0}")]
    Refused(String),
    #[error("behavior graph {graph} is already managed by DetectiveGraph {owner}; delete one of the two resources")]
    GraphClaimed { graph: String, owner: String },
}

impl SyncError {
    /// Whether trying again (with backoff) can succeed without a change to the spec.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::InvalidSpec(_) | Self::GraphClaimed { .. } | Self::Refused(_) => false,
            Self::Aws(error) => error.is_retryable(),
        }
    }

    /// What this failure means for the kstatus conditions: retryable ones keep the resource
    /// Reconciling (with backoff), the others Stall it until the spec or the world changes.
    pub fn verdict(&self) -> crate::api::conditions::Verdict {
        use crate::api::conditions::Verdict;
        if self.is_retryable() {
            Verdict::progressing(self.reason(), self.to_string())
        } else {
            Verdict::stalled(self.reason(), self.to_string())
        }
    }

    /// The condition reason for this failure.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::InvalidSpec(_) => "InvalidSpec",
            Self::GraphClaimed { .. } => "GraphClaimed",
            Self::Refused(_) => "Refused",
            Self::Aws(error) => match error.kind {
                ErrorKind::Throttled => "Throttled",
                ErrorKind::Unavailable => "AwsUnavailable",
                ErrorKind::Invalid => "AwsValidation",
                ErrorKind::AccessDenied => "AccessDenied",
                ErrorKind::NotFound => "GraphNotFound",
                ErrorKind::Conflict => "AwsConflict",
                ErrorKind::QuotaExceeded => "QuotaExceeded",
                ErrorKind::Other => "AwsError",
            },
        }
    }
}

/// A few account ids for a message, not a thousand.
pub(crate) fn abbreviated(accounts: &[&str]) -> String {
    const SHOWN: usize = 5;
    let mut text = accounts.iter().take(SHOWN).copied().collect::<Vec<_>>().join(", ");
    if accounts.len() > SHOWN {
        text.push_str(&format!(", and {} more", accounts.len() - SHOWN));
    }
    text
}
