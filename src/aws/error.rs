//! How an AWS failure is classified: retryable (throttling, server errors, timeouts, connection
//! failures) or terminal (validation, access denied, not found, quota). The controller retries the
//! first kind with backoff and reports the second as `Stalled`.

use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::display::DisplayErrorContext;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

/// What kind of failure an AWS call ended in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// TooManyRequestsException / throttling, after the SDK's own retries.
    Throttled,
    /// 5xx answers, timeouts and connection failures, after the SDK's own retries.
    Unavailable,
    /// ValidationException: the request is wrong and will stay wrong.
    Invalid,
    /// AccessDeniedException, or credentials that cannot be obtained (e.g. a role that cannot be
    /// assumed).
    AccessDenied,
    /// ResourceNotFoundException: the graph does not exist (any more).
    NotFound,
    /// ConflictException: the state does not allow the call (e.g. a member not in INVITED).
    Conflict,
    /// ServiceQuotaExceededException: e.g. more than 1,200 members.
    QuotaExceeded,
    /// No Detective endpoint in the Region (the connection failed, in a Region outside
    /// [`super::regions::DETECTIVE_REGIONS`]).
    RegionUnavailable,
    /// An opt-in Region the calling account has not enabled (UnrecognizedClientException there).
    RegionNotEnabled,
    /// Anything else.
    Other,
}

impl ErrorKind {
    /// The metric label of this kind.
    pub fn label(self) -> &'static str {
        match self {
            Self::Throttled => "throttled",
            Self::Unavailable => "unavailable",
            Self::Invalid => "invalid",
            Self::AccessDenied => "access_denied",
            Self::NotFound => "not_found",
            Self::Conflict => "conflict",
            Self::QuotaExceeded => "quota_exceeded",
            Self::RegionUnavailable => "region_unavailable",
            Self::RegionNotEnabled => "region_not_enabled",
            Self::Other => "other",
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Throttled => "Throttled",
            Self::Unavailable => "Unavailable",
            Self::Invalid => "Invalid",
            Self::AccessDenied => "AccessDenied",
            Self::NotFound => "NotFound",
            Self::Conflict => "Conflict",
            Self::QuotaExceeded => "QuotaExceeded",
            Self::RegionUnavailable => "RegionUnavailable",
            Self::RegionNotEnabled => "RegionNotEnabled",
            Self::Other => "Other",
        }
    }
}

/// A failed Detective call.
#[derive(Clone, Debug, thiserror::Error)]
#[error("{operation} failed ({code}): {message}")]
pub struct AwsError {
    pub operation: &'static str,
    pub kind: ErrorKind,
    /// The service's error code (e.g. `ValidationException`), or a description of the local failure.
    pub code: String,
    pub message: String,
}

impl AwsError {
    /// Whether trying again later can succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self.kind,
            ErrorKind::Throttled | ErrorKind::Unavailable | ErrorKind::Other
        )
    }

    pub fn new(operation: &'static str, kind: ErrorKind, code: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            operation,
            kind,
            code: code.into(),
            message: message.into(),
        }
    }

    /// This failure as met in `region`: a connection that could not be made where Detective has
    /// no endpoint is the Region's absence, not an outage; UnrecognizedClientException in an
    /// opt-in Region is the account not having enabled it, not bad credentials. Both need a
    /// human, so neither is retried in a loop.
    pub fn in_region(self, region: &str) -> Self {
        use super::regions::{has_detective, is_opt_in};
        let unreachable = self.kind == ErrorKind::Unavailable && self.code == "DispatchFailure";
        if unreachable && !has_detective(region) {
            let message = format!(
                "Amazon Detective has no endpoint in {region} (it is in: {}); {}",
                super::regions::DETECTIVE_REGIONS.join(", "),
                self.message
            );
            return Self::new(self.operation, ErrorKind::RegionUnavailable, self.code, message);
        }
        if self.code == "UnrecognizedClientException" && is_opt_in(region) {
            let message = format!(
                "{region} is an opt-in Region this account has not enabled: enable it (AWS console, \
                 Account, AWS Regions; or `aws account enable-region --region-name {region}`), then \
                 the next resync proceeds ({})",
                self.message
            );
            return Self::new(self.operation, ErrorKind::RegionNotEnabled, self.code, message);
        }
        self
    }

    /// Classifies an SDK failure of `operation`.
    pub fn from_sdk<E, R>(operation: &'static str, error: SdkError<E, R>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
        R: std::fmt::Debug + Send + Sync + 'static,
    {
        let described = redact_emails(&DisplayErrorContext(&error).to_string());
        match &error {
            SdkError::ServiceError(service) => {
                let err = service.err();
                let code = err.code().unwrap_or("Unknown").to_owned();
                let message = err.message().map(redact_emails).unwrap_or(described);
                Self::new(operation, kind_of_code(&code), code, message)
            }
            SdkError::TimeoutError(_) => Self::new(operation, ErrorKind::Unavailable, "Timeout", described),
            SdkError::DispatchFailure(failure) if failure.is_user() => {
                Self::new(operation, ErrorKind::Invalid, "DispatchFailure", described)
            }
            // The credentials could not be obtained because STS refused them (a role the caller
            // may not assume, a wrong external id): terminal, and told in STS's own words, which
            // name the caller and the role.
            SdkError::DispatchFailure(_) if let Some((code, message)) = credentials_refusal(&error) => {
                let kind = match kind_of_code(code) {
                    ErrorKind::Other => ErrorKind::AccessDenied,
                    kind => kind,
                };
                let message = format!("could not obtain credentials: {}", redact_emails(message));
                Self::new(operation, kind, code, message)
            }
            SdkError::DispatchFailure(_) => Self::new(operation, ErrorKind::Unavailable, "DispatchFailure", described),
            SdkError::ResponseError(_) => Self::new(operation, ErrorKind::Unavailable, "ResponseError", described),
            // Building the request failed before anything was sent: in practice credentials that
            // could not be resolved (no role trust, wrong external id, no credentials at all).
            SdkError::ConstructionFailure(_) => Self::new(operation, ErrorKind::AccessDenied, "Credentials", described),
            _ => Self::new(operation, ErrorKind::Other, "Unknown", described),
        }
    }
}

/// Service messages may quote request values; e-mail addresses must not reach logs, events or
/// status, so they are masked where errors are made.
pub(crate) fn redact_emails(text: &str) -> String {
    static EMAIL: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        // Any `local@domain`, not only well-formed addresses: the service quotes the invalid ones
        // it rejects too (`first.last@corp`).
        regex::Regex::new(r#"[^\s@"'<>(),;:\[\]]+@[^\s@"'<>(),;:\[\]]+"#).expect("a valid pattern")
    });
    EMAIL.replace_all(text, "<e-mail>").into_owned()
}

/// When a call failed because its credentials provider was refused by the service it asked (STS
/// AssumeRole answering AccessDenied, say), that service's error code and message. A provider
/// that could not reach its service at all is not a refusal: `None`, and the call is retried.
fn credentials_refusal<'a>(error: &'a (dyn std::error::Error + 'static)) -> Option<(&'a str, &'a str)> {
    let mut source = Some(error);
    let mut in_provider = false;
    while let Some(current) = source {
        in_provider |= current
            .downcast_ref::<aws_credential_types::provider::error::CredentialsError>()
            .is_some();
        if in_provider
            && let Some(metadata) = current.downcast_ref::<aws_smithy_types::error::ErrorMetadata>()
            && let Some(code) = metadata.code()
        {
            return Some((code, metadata.message().unwrap_or_default()));
        }
        source = current.source();
    }
    None
}

fn kind_of_code(code: &str) -> ErrorKind {
    match code {
        "TooManyRequestsException" | "ThrottlingException" | "Throttling" => ErrorKind::Throttled,
        "InternalServerException" | "ServiceUnavailableException" => ErrorKind::Unavailable,
        "ValidationException" => ErrorKind::Invalid,
        "AccessDeniedException"
        | "AccessDenied"
        | "UnrecognizedClientException"
        | "InvalidClientTokenId"
        | "ExpiredTokenException" => ErrorKind::AccessDenied,
        "ResourceNotFoundException" => ErrorKind::NotFound,
        "ConflictException" => ErrorKind::Conflict,
        "ServiceQuotaExceededException" => ErrorKind::QuotaExceeded,
        // AWS Organizations: an account in no organization cannot list one (a setup to fix, not
        // a retry); an unknown root or OU is a spec to fix.
        "AWSOrganizationsNotInUseException" => ErrorKind::AccessDenied,
        "ParentNotFoundException" | "InvalidInputException" => ErrorKind::Invalid,
        "ServiceException" => ErrorKind::Unavailable,
        _ => ErrorKind::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_masked() {
        assert_eq!(
            redact_emails("Accounts[0].EmailAddress \"root+1@example.com\" is invalid"),
            "Accounts[0].EmailAddress \"<e-mail>\" is invalid"
        );
        assert_eq!(redact_emails("no address here"), "no address here");
    }

    #[test]
    fn retryable_kinds() {
        let error = |code: &str| AwsError::new("ListMembers", kind_of_code(code), code, "m");
        assert!(error("TooManyRequestsException").is_retryable());
        assert!(error("InternalServerException").is_retryable());
        assert!(!error("ValidationException").is_retryable());
        assert!(!error("AccessDeniedException").is_retryable());
        assert!(!error("ResourceNotFoundException").is_retryable());
        assert!(!error("ServiceQuotaExceededException").is_retryable());
    }

    #[test]
    fn a_region_without_detective_or_not_enabled_is_told_apart_from_an_outage() {
        let unreachable = || AwsError::new("ListGraphs", ErrorKind::Unavailable, "DispatchFailure", "dns error");
        let absent = unreachable().in_region("ap-northeast-3");
        assert_eq!(absent.kind, ErrorKind::RegionUnavailable);
        assert!(!absent.is_retryable());
        assert!(absent.to_string().contains("no endpoint in ap-northeast-3"), "{absent}");
        assert_eq!(
            unreachable().in_region("eu-west-1").kind,
            ErrorKind::Unavailable,
            "where Detective is, a failed connection is an outage"
        );
        let unrecognized = || {
            AwsError::new(
                "ListGraphs",
                ErrorKind::AccessDenied,
                "UnrecognizedClientException",
                "The security token included in the request is invalid.",
            )
        };
        let not_enabled = unrecognized().in_region("af-south-1");
        assert_eq!(not_enabled.kind, ErrorKind::RegionNotEnabled);
        assert!(!not_enabled.is_retryable());
        assert!(
            not_enabled
                .to_string()
                .contains("enable-region --region-name af-south-1"),
            "{not_enabled}"
        );
        assert_eq!(
            unrecognized().in_region("us-east-1").kind,
            ErrorKind::AccessDenied,
            "outside the opt-in Regions it is the credentials"
        );
    }
}
