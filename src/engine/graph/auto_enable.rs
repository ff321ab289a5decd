//! Auto-enable (`spec.organization.autoEnable`): DescribeOrganizationConfiguration, and
//! UpdateOrganizationConfiguration when it differs — an AWS read and, when applying, one write.
//! Only the organization's delegated Detective administrator may make either call.

use tracing::info;

use super::GraphWrite;
use crate::aws::{AwsError, Detective, ErrorKind};
use crate::engine::Mode;

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
        }
    }

    /// The condition reason.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::NotDelegatedAdministrator { .. } => "NotDelegatedAdministrator",
            Self::Configuration { source } if source.kind == ErrorKind::Throttled => "Throttled",
            Self::Configuration { .. } => "OrganizationConfigurationError",
        }
    }
}

/// What the step found and did.
#[derive(Debug)]
pub struct AutoEnabled {
    /// `AutoEnable` in force after the step (the one read, in a dry run).
    pub auto_enable: bool,
    /// UpdateOrganizationConfiguration, when it was called.
    pub write: Option<GraphWrite>,
}

/// Reads `AutoEnable` of `graph_arn` (whose administrator account is `administrator`) and, when
/// applying, sets it to `wanted`.
pub async fn auto_enable<D: Detective>(
    detective: &D,
    graph_arn: &str,
    administrator: &str,
    wanted: bool,
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
    if current == wanted || mode == Mode::DryRun {
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
