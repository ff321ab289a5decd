//! Where the operator's AWS identity comes from.
//!
//! The base configuration is the SDK's default chain: environment variables, shared profiles,
//! IRSA web identity (`AWS_ROLE_ARN` + `AWS_WEB_IDENTITY_TOKEN_FILE`) and EKS Pod Identity
//! (`AWS_CONTAINER_CREDENTIALS_FULL_URI`). Endpoint overrides follow the SDK's own variables
//! (`AWS_ENDPOINT_URL_DETECTIVE`, `AWS_ENDPOINT_URL`) or the `--endpoint-url` flag. A resource may
//! name a role to assume: its credentials come from STS with the base credentials, through one
//! STS client per Region shared by every role. A stand-in for AWS (the embedded emulator) takes the place of the chain with
//! one endpoint and a fixed access key: [`StandIn`]. Which client uses which credentials, and how
//! long they are kept, is [`super::access`]'s.

use std::time::Duration;

use std::time::SystemTime;

use aws_config::identity::IdentityCache;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::Credentials;
use aws_credential_types::provider::error::CredentialsError;
use aws_credential_types::provider::{self, ProvideCredentials, SharedCredentialsProvider, future};
use aws_sdk_sts::operation::assume_role::builders::AssumeRoleFluentBuilder;
use aws_smithy_runtime_api::client::http::SharedHttpClient;
use aws_smithy_runtime_api::client::identity::SharedIdentityCache;

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

/// A stand-in for AWS that serves every service the operator calls (Detective, Organizations and
/// STS) at one endpoint and knows the caller by the access key id alone, as the embedded Detective
/// emulator does: the configuration then has that key and no credential chain.
#[derive(Clone, Copy, Debug)]
pub struct StandIn<'a> {
    pub endpoint_url: &'a str,
    pub region: &'a str,
    /// Whom the stand-in takes the caller for.
    pub access_key_id: &'a str,
    /// A session token, for credentials of a role session (as IRSA or Pod Identity give the
    /// operator in a cluster).
    pub session_token: Option<&'a str>,
}

/// A stand-in checks no signature: the secret key only has to be there for the SDK to sign.
const STAND_IN_SECRET: &str = "stand-in-secret";

/// A role to act through.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct RoleToAssume {
    pub role_arn: String,
    pub external_id: Option<String>,
    pub session_name: Option<String>,
}

/// The session name used when a resource names none.
pub const DEFAULT_SESSION_NAME: &str = "detective-operator";

/// Loads the default credential chain and Region, with `http_client` for every call the
/// configuration and the clients made from it make.
pub(super) async fn load_base(settings: &AwsSettings, http_client: Option<SharedHttpClient>) -> SdkConfig {
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
    if let Some(client) = http_client {
        loader = loader.http_client(client);
    }
    loader.load().await
}

/// The configuration that sends every call to `stand_in` as its access key, with the SDK's
/// default retries and timeouts.
pub(super) async fn load_stand_in(stand_in: &StandIn<'_>) -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new(stand_in.region.to_owned()))
        .credentials_provider(Credentials::new(
            stand_in.access_key_id,
            STAND_IN_SECRET,
            stand_in.session_token.map(str::to_owned),
            None,
            "stand-in",
        ))
        .endpoint_url(stand_in.endpoint_url)
        .load()
        .await
}

/// A role's credentials as every call acting as it uses them: one provider and one identity
/// cache, so the Detective and the Organizations calls of a role assume it once, and keep its
/// credentials until shortly before they expire.
#[derive(Clone, Debug)]
pub struct RoleIdentity {
    pub(super) provider: SharedCredentialsProvider,
    pub(super) cache: SharedIdentityCache,
}

impl RoleIdentity {
    pub(super) fn new(provider: SharedCredentialsProvider) -> Self {
        Self {
            provider,
            cache: IdentityCache::lazy().build(),
        }
    }

    /// What one Detective call acting as the role overrides in its Region's shared client.
    pub(super) fn detective_override(&self) -> aws_sdk_detective::config::Builder {
        let mut config = aws_sdk_detective::config::Builder::default().identity_cache(self.cache.clone());
        // The provider as it is: `credentials_provider()` would wrap it anew, in a new cache
        // partition at every call, and the role would be assumed at every call.
        config.set_credentials_provider(Some(self.provider.clone()));
        config
    }
}

/// The STS client every role's credentials in `region` are obtained with: the base
/// configuration's credentials and HTTP client, no identity cache of its own (each role's
/// credentials are cached by the clients that use them, see [`super::access`]). One per Region,
/// shared by every role: the SDK's `AssumeRoleProvider` would build one per role.
pub(super) fn sts_client(region: &str, base: &SdkConfig) -> aws_sdk_sts::Client {
    let config = base
        .clone()
        .into_builder()
        .identity_cache(IdentityCache::no_cache())
        .region(Region::new(region.to_owned()))
        .build();
    aws_sdk_sts::Client::new(&config)
}

/// The credentials of `role`, obtained through `sts` (its Region's shared client). The provider
/// calls STS each time it is asked: the identity cache of the client that uses it decides how
/// often that is.
pub(super) fn assume_role(role: &RoleToAssume, sts: &aws_sdk_sts::Client) -> SharedCredentialsProvider {
    let request = sts
        .assume_role()
        .role_arn(role.role_arn.clone())
        .role_session_name(
            role.session_name
                .clone()
                .unwrap_or_else(|| DEFAULT_SESSION_NAME.to_owned()),
        )
        .set_external_id(role.external_id.clone());
    SharedCredentialsProvider::new(RoleCredentials { request })
}

/// One role's AssumeRole request, ready to send: all a role costs besides its cached
/// credentials. Its failure is a [`CredentialsError`] carrying the STS error, as the SDK's own
/// provider reports it, so that [`super::error`] classifies both alike.
#[derive(Debug)]
struct RoleCredentials {
    request: AssumeRoleFluentBuilder,
}

impl RoleCredentials {
    async fn credentials(&self) -> provider::Result {
        let assumed = self
            .request
            .clone()
            .send()
            .await
            .map_err(CredentialsError::provider_error)?;
        let granted = assumed
            .credentials
            .ok_or_else(|| CredentialsError::unhandled("STS granted no credentials"))?;
        let expiry = SystemTime::try_from(granted.expiration)
            .map_err(|_| CredentialsError::unhandled("the credentials' expiry is not a representable time"))?;
        Ok(Credentials::new(
            granted.access_key_id,
            granted.secret_access_key,
            Some(granted.session_token),
            Some(expiry),
            "detective-operator-assume-role",
        ))
    }
}

impl ProvideCredentials for RoleCredentials {
    fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        future::ProvideCredentials::new(self.credentials())
    }
}
