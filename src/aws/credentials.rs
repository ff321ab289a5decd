//! Where the operator's AWS identity comes from, and one SDK client per (Region, role).
//!
//! The base configuration is the SDK's default chain: environment variables, shared profiles,
//! IRSA web identity (`AWS_ROLE_ARN` + `AWS_WEB_IDENTITY_TOKEN_FILE`) and EKS Pod Identity
//! (`AWS_CONTAINER_CREDENTIALS_FULL_URI`). Endpoint overrides follow the SDK's own variables
//! (`AWS_ENDPOINT_URL_DETECTIVE`, `AWS_ENDPOINT_URL`) or the `--endpoint-url` flag. A resource may
//! name a role to assume; its client (and so its STS credentials cache) is kept per role, so a
//! thousand reconciles assume a role once per credential lifetime, not once per sync.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::sts::AssumeRoleProvider;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::provider::SharedCredentialsProvider;

use super::{AwsError, ErrorKind, SdkDetective};

/// How the operator reaches AWS, from flags and environment.
#[derive(Clone, Debug, Default)]
pub struct AwsSettings {
    /// The default Region (otherwise the SDK's: `AWS_REGION`, profile, IMDS).
    pub region: Option<String>,
    /// Send Detective calls here instead of the public endpoint (e.g. the emulator).
    pub endpoint_url: Option<String>,
    /// Attempts per call, including the first (the SDK retries throttling and 5xx).
    pub max_attempts: Option<u32>,
}

/// A role to act through.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct RoleToAssume {
    pub role_arn: String,
    pub external_id: Option<String>,
    pub session_name: Option<String>,
}

impl RoleToAssume {
    /// The role a resource declares (`assumeRoleArn`, `externalId`), if any.
    pub fn declared(role_arn: Option<&String>, external_id: Option<&String>) -> Option<Self> {
        role_arn.map(|arn| Self {
            role_arn: arn.clone(),
            external_id: external_id.cloned(),
            session_name: None,
        })
    }
}

/// The session name used when a resource names none.
pub const DEFAULT_SESSION_NAME: &str = "detective-operator";

type ClientKey = (Option<String>, Option<RoleToAssume>);

/// The loaded AWS configuration and the clients made from it.
#[derive(Debug)]
pub struct AwsAccess {
    base: SdkConfig,
    endpoint_url: Option<String>,
    clients: Mutex<HashMap<ClientKey, SdkDetective>>,
}

impl AwsAccess {
    /// Loads the default credential chain and Region.
    pub async fn load(settings: &AwsSettings) -> Self {
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            // Adaptive: standard's retries plus a client-side rate limiter that slows down after
            // throttling, so a rate-limited account spends its quota on work, not on 429s.
            .retry_config(RetryConfig::adaptive().with_max_attempts(settings.max_attempts.unwrap_or(5)))
            .timeout_config(
                TimeoutConfig::builder()
                    .operation_attempt_timeout(Duration::from_secs(20))
                    .operation_timeout(Duration::from_secs(90))
                    .build(),
            );
        if let Some(region) = &settings.region {
            loader = loader.region(Region::new(region.clone()));
        }
        Self::from_config(loader.load().await, settings.endpoint_url.clone())
    }

    /// Uses an already built configuration (the embedded emulator, tests).
    pub fn from_config(base: SdkConfig, endpoint_url: Option<String>) -> Self {
        Self {
            base,
            endpoint_url,
            clients: Mutex::new(HashMap::new()),
        }
    }

    /// The Region used when a resource names none.
    pub fn default_region(&self) -> Option<&str> {
        self.base.region().map(|r| r.as_ref())
    }

    /// The Detective port for `region` (or the default), as `role` when given.
    pub async fn detective(&self, region: Option<&str>, role: Option<&RoleToAssume>) -> Result<SdkDetective, AwsError> {
        let region = region.or(self.default_region()).ok_or_else(|| {
            AwsError::new(
                "Configure",
                ErrorKind::Invalid,
                "NoRegion",
                "no AWS Region: set spec.region, or AWS_REGION / --region for the operator",
            )
        })?;
        let key = (Some(region.to_owned()), role.cloned());
        if let Some(client) = self.clients.lock().expect("client cache lock").get(&key) {
            return Ok(client.clone());
        }
        let mut config = aws_sdk_detective::config::Builder::from(&self.base).region(Region::new(region.to_owned()));
        if let Some(url) = &self.endpoint_url {
            config = config.endpoint_url(url);
        }
        if let Some(role) = role {
            let provider = AssumeRoleProvider::builder(role.role_arn.clone())
                .session_name(
                    role.session_name
                        .clone()
                        .unwrap_or_else(|| DEFAULT_SESSION_NAME.to_owned()),
                )
                .region(Region::new(region.to_owned()))
                .configure(&self.base);
            let provider = match &role.external_id {
                Some(external_id) => provider.external_id(external_id.clone()),
                None => provider,
            };
            config = config.credentials_provider(SharedCredentialsProvider::new(provider.build().await));
        }
        let client = SdkDetective::new(aws_sdk_detective::Client::from_conf(config.build()));
        self.clients
            .lock()
            .expect("client cache lock")
            .insert(key, client.clone());
        Ok(client)
    }
}

impl super::port::AssumeRole for AwsAccess {
    type Member = SdkDetective;

    async fn assume(&self, role: &RoleToAssume, region: &str) -> Result<SdkDetective, AwsError> {
        self.detective(Some(region), Some(role)).await
    }
}
