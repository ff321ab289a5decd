//! Auto-enable (`spec.organization.autoEnable`): DescribeOrganizationConfiguration, and
//! UpdateOrganizationConfiguration when it differs — an AWS read and, when applying, one write.
//! Only the organization's delegated Detective administrator may make either call.
//!
//! A graph applied together with the `DetectiveOrganizationAdmin` that delegates its account
//! is refused until the new delegation shows: for [`DELEGATION_SHOWS_WITHIN`] after the first
//! refusal that is [`AutoEnableError::AwaitingDelegation`], retried with the controller's short
//! backoff; after it, [`AutoEnableError::NotDelegatedAdministrator`] (Stalled).

use k8s_openapi::jiff::Timestamp;
use tracing::info;

use super::GraphWrite;
use crate::aws::{AwsError, Detective, ErrorKind};
use crate::engine::{DELEGATION_SHOWS_WITHIN, Mode};

/// Why `spec.organization.autoEnable` could not be carried out.
#[derive(Debug, thiserror::Error)]
pub enum AutoEnableError {
    /// DescribeOrganizationConfiguration was refused: the graph's account is not the
    /// organization's delegated Detective administrator in this Region, or the caller's IAM
    /// policy lacks the action (AWS's answer, which says which, is in the message).
    #[error(
        "account {account} is not the delegated Detective administrator of an organization in this Region, so \
         spec.organization.autoEnable cannot be applied: delegate it from the management account \
         (DetectiveOrganizationAdmin), or remove spec.organization ({source})"
    )]
    NotDelegatedAdministrator {
        account: String,
        #[source]
        source: AwsError,
    },
    /// As [`AutoEnableError::NotDelegatedAdministrator`], refused first at `since`, within
    /// [`DELEGATION_SHOWS_WITHIN`]: a new delegation may not show yet, so it is retried soon.
    #[error(
        "account {account} is not (yet) the delegated Detective administrator of an organization in this Region, \
         refused since {since}: a new delegation takes a while to show, retrying ({source})"
    )]
    AwaitingDelegation {
        account: String,
        since: Timestamp,
        #[source]
        source: AwsError,
    },
    /// DescribeOrganizationConfiguration or UpdateOrganizationConfiguration failed otherwise.
    #[error("spec.organization.autoEnable: {source}")]
    Configuration {
        #[source]
        source: AwsError,
    },
}

impl AutoEnableError {
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Configuration { source } => source.is_retryable(),
            Self::NotDelegatedAdministrator { .. } => false,
            Self::AwaitingDelegation { .. } => true,
        }
    }

    /// A refusal as not the delegated administrator, first seen at `since`, at `now`: still
    /// awaited within [`DELEGATION_SHOWS_WITHIN`], final after. Other errors are as they are.
    pub fn awaited(self, since: Timestamp, now: Timestamp) -> Self {
        let waited = std::time::Duration::try_from(now.duration_since(since)).unwrap_or_default();
        match self {
            Self::NotDelegatedAdministrator { account, source } if waited < DELEGATION_SHOWS_WITHIN => {
                Self::AwaitingDelegation { account, since, source }
            }
            other => other,
        }
    }

    /// Whether AWS refused the graph's account as the organization's administrator.
    pub fn is_not_delegated(&self) -> bool {
        matches!(
            self,
            Self::NotDelegatedAdministrator { .. } | Self::AwaitingDelegation { .. }
        )
    }

    /// The condition reason.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::NotDelegatedAdministrator { .. } => "NotDelegatedAdministrator",
            Self::AwaitingDelegation { .. } => "AwaitingDelegation",
            Self::Configuration { source } if source.kind == ErrorKind::Throttled => "Throttled",
            Self::Configuration { .. } => "OrganizationConfigurationError",
        }
    }
}

/// How long a written `AutoEnable` may take to read back before a read that differs is taken
/// for drift (and written again). AWS documents no figure; the emulator's realistic profile
/// shows a write after 3 s.
pub const AUTO_ENABLE_SHOWS_WITHIN: std::time::Duration = std::time::Duration::from_secs(60);

/// What the step found and did.
#[derive(Debug)]
pub struct AutoEnabled {
    /// `AutoEnable` in force after the step (the one read, in a dry run).
    pub auto_enable: bool,
    /// UpdateOrganizationConfiguration, when it was called.
    pub write: Option<GraphWrite>,
}

/// Reads `AutoEnable` of `graph_arn` (whose administrator account is `administrator`) and, when
/// applying, sets it to `wanted`, unless this operator already wrote it within
/// [`AUTO_ENABLE_SHOWS_WITHIN`] (`written_recently`: the write is still propagating).
pub async fn auto_enable<D: Detective>(
    detective: &D,
    graph_arn: &str,
    administrator: &str,
    wanted: bool,
    written_recently: bool,
    mode: Mode,
) -> Result<AutoEnabled, AutoEnableError> {
    let refused = |source: AwsError| match source.kind {
        ErrorKind::AccessDenied => AutoEnableError::NotDelegatedAdministrator {
            account: administrator.to_owned(),
            source,
        },
        _ => AutoEnableError::Configuration { source },
    };
    let current = detective
        .describe_organization_configuration(graph_arn)
        .await
        .map_err(refused)?;
    if current == wanted || mode == Mode::DryRun || written_recently {
        return Ok(AutoEnabled {
            auto_enable: current,
            write: None,
        });
    }
    detective
        .update_organization_configuration(graph_arn, wanted)
        .await
        .map_err(refused)?;
    info!(auto_enable = wanted, "organization configuration updated");
    Ok(AutoEnabled {
        auto_enable: wanted,
        write: Some(GraphWrite::AutoEnableSet(wanted)),
    })
}

#[cfg(test)]
mod tests {
    use k8s_openapi::jiff::SignedDuration;

    use super::*;

    #[test]
    fn a_refused_administrator_is_awaited_for_five_minutes_then_stalls() {
        let refused = || AutoEnableError::NotDelegatedAdministrator {
            account: "111111111111".into(),
            source: AwsError::new(
                "DescribeOrganizationConfiguration",
                ErrorKind::AccessDenied,
                "AccessDeniedException",
                "not the administrator",
            ),
        };
        let since = Timestamp::from_second(1_800_000_000).expect("a time");
        let awaited = refused().awaited(since, since + SignedDuration::from_secs(299));
        assert!(awaited.is_retryable() && awaited.is_not_delegated());
        assert_eq!(awaited.reason(), "AwaitingDelegation");
        let final_ = refused().awaited(since, since + SignedDuration::from_secs(300));
        assert!(!final_.is_retryable() && final_.is_not_delegated());
        assert_eq!(final_.reason(), "NotDelegatedAdministrator");
        let throttled = AutoEnableError::Configuration {
            source: AwsError::new("DescribeOrganizationConfiguration", ErrorKind::Throttled, "x", "y"),
        };
        assert!(!throttled.awaited(since, since).is_not_delegated());
    }
}
