//! The clients the operator calls AWS with, all made from one loaded configuration and kept for
//! the life of the process: one Detective client and one STS client per Region, shared by every
//! role, and what each role adds (its credentials, [`RoleIdentity`]).
//!
//! What is shared or kept on purpose, with the SDK's own mechanisms:
//!
//! - **One HTTP client.** Left to itself, the SDK builds an HTTPS client, with its own parsed TLS
//!   root store and connection pool, for every client it makes, about half a MiB each. The SDK's
//!   default HTTPS client is made once here and put in the base [`SdkConfig`], which every client
//!   is built from.
//! - **Clients per Region, credentials per role.** A role's Detective calls go through its
//!   Region's client and carry the role's credentials as a per-call override; its credentials
//!   come from its Region's STS client. A role costs its AssumeRole request and its cached
//!   credentials: about 2.4 KiB a role over 1,000 roles against the emulator, where a Detective
//!   and an STS client of its own cost about 40 KiB.
//! - **One identity cache per role.** The base configuration's lazy identity cache holds at most
//!   64 credential providers; beyond that it evicts an arbitrary one, whose next call assumes its
//!   role again although its credentials are still valid. A role's own cache keeps its
//!   credentials until shortly before they expire, however many roles there are.
//!
//! Organizations clients stay one per (Region, role): only graphs listing an organization through
//! a role of their own have one.
//!
//! A role's credentials (and its Organizations client) are kept until the controller says no
//! object names the role any more ([`AwsAccess::retain_roles`]): deleted, its role changed, or
//! moved to another shard.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_smithy_runtime::client::defaults::default_http_client_plugin_v2;
use aws_smithy_runtime_api::client::http::SharedHttpClient;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponentsBuilder;
use aws_smithy_runtime_api::client::runtime_plugin::RuntimePlugin;

use super::credentials::{self, AwsSettings, RoleIdentity, RoleToAssume, StandIn};
use super::organizations::{self, ReachOrganizations, SdkOrganizations};
use super::{AwsError, ErrorKind, SdkDetective};
use crate::metrics::Metrics;

type ClientKey = (String, Option<RoleToAssume>);

/// The loaded AWS configuration and the clients made from it.
#[derive(Debug)]
pub struct AwsAccess {
    base: SdkConfig,
    endpoint_url: Option<String>,
    /// One Detective client per Region, shared by every role: a role's calls carry its
    /// credentials ([`RoleIdentity`]).
    clients: Mutex<HashMap<String, aws_sdk_detective::Client>>,
    organizations: Mutex<HashMap<ClientKey, SdkOrganizations>>,
    identities: Mutex<HashMap<ClientKey, RoleIdentity>>,
    /// The STS client of each Region, which every role's credentials there are obtained with.
    sts: Mutex<HashMap<String, aws_sdk_sts::Client>>,
    /// Where the clients count their calls.
    metrics: Arc<Metrics>,
}

impl AwsAccess {
    /// Loads the default credential chain and Region.
    pub async fn load(settings: &AwsSettings) -> Self {
        let base = credentials::load_base(settings, default_https_client()).await;
        Self::from_config(base, settings.endpoint_url.clone())
    }

    /// Sends every call to `stand_in` (the embedded emulator of `--emulator`).
    pub async fn stand_in(stand_in: &StandIn<'_>) -> Self {
        Self::from_config(credentials::load_stand_in(stand_in).await, None)
    }

    /// Uses an already built configuration; gives it the shared HTTP client when it has none.
    fn from_config(base: SdkConfig, endpoint_url: Option<String>) -> Self {
        let base = match (base.http_client(), default_https_client()) {
            (None, Some(client)) => base.into_builder().http_client(client).build(),
            _ => base,
        };
        Self {
            base,
            endpoint_url,
            clients: Mutex::new(HashMap::new()),
            organizations: Mutex::new(HashMap::new()),
            identities: Mutex::new(HashMap::new()),
            sts: Mutex::new(HashMap::new()),
            metrics: Arc::default(),
        }
    }

    /// Counts the calls of every client in `metrics` (otherwise in a registry nobody reads).
    pub fn with_metrics(self, metrics: Arc<Metrics>) -> Self {
        Self { metrics, ..self }
    }

    /// The Region used when a resource names none.
    pub fn default_region(&self) -> Option<&str> {
        self.base.region().map(|r| r.as_ref())
    }

    /// `region`, else the operator's default Region.
    fn region_or_default<'a>(&'a self, region: Option<&'a str>) -> Result<&'a str, AwsError> {
        region.or(self.default_region()).ok_or_else(|| {
            AwsError::new(
                "Configure",
                ErrorKind::Invalid,
                "NoRegion",
                "no AWS Region: set spec.region, or AWS_REGION / --region for the operator",
            )
        })
    }

    /// The Detective port for `region` (or the default), as `role` when given.
    pub async fn detective(&self, region: Option<&str>, role: Option<&RoleToAssume>) -> Result<SdkDetective, AwsError> {
        let region = self.region_or_default(region)?;
        let client = self
            .clients
            .lock()
            .expect("client cache lock")
            .entry(region.to_owned())
            .or_insert_with(|| self.client(region))
            .clone();
        let role = match role {
            Some(role) => Some(self.identity(region, role).await),
            None => None,
        };
        Ok(SdkDetective::new(client, role, self.metrics.clone()))
    }

    fn client(&self, region: &str) -> aws_sdk_detective::Client {
        let mut config = aws_sdk_detective::config::Builder::from(&self.base).region(Region::new(region.to_owned()));
        if let Some(url) = &self.endpoint_url {
            config = config.endpoint_url(url);
        }
        aws_sdk_detective::Client::from_conf(config.build())
    }

    /// Keeps the credentials (and the Organizations clients) of the roles in `named()` and drops
    /// those of every other role; returns how many (Region, role) credentials it dropped.
    /// `named` is read while new credentials wait: credentials made meanwhile would belong to an
    /// object `named` already counts, and are never dropped unseen.
    pub fn retain_roles(&self, named: impl FnOnce() -> HashSet<RoleToAssume>) -> usize {
        let mut identities = self.identities.lock().expect("identity cache lock");
        let named = named();
        let is_named = |role: &Option<RoleToAssume>| role.as_ref().is_none_or(|role| named.contains(role));
        let before = identities.len();
        identities.retain(|(_, role), _| is_named(role));
        self.organizations
            .lock()
            .expect("client cache lock")
            .retain(|(_, role), _| is_named(role));
        before - identities.len()
    }

    /// The roles whose credentials are kept, each once however many Regions it is used in.
    pub fn roles(&self) -> Vec<RoleToAssume> {
        let identities = self.identities.lock().expect("identity cache lock");
        let roles: HashSet<&RoleToAssume> = identities.keys().filter_map(|(_, role)| role.as_ref()).collect();
        roles.into_iter().cloned().collect()
    }

    /// The credentials of `role` obtained through STS in `region`, made once per (Region, role).
    async fn identity(&self, region: &str, role: &RoleToAssume) -> RoleIdentity {
        let key = (region.to_owned(), Some(role.clone()));
        if let Some(identity) = self.identities.lock().expect("identity cache lock").get(&key) {
            return identity.clone();
        }
        let sts = {
            let mut sts = self.sts.lock().expect("STS client lock");
            sts.entry(region.to_owned())
                .or_insert_with(|| credentials::sts_client(region, &self.base))
                .clone()
        };
        let identity = RoleIdentity::new(credentials::assume_role(role, &sts));
        let mut identities = self.identities.lock().expect("identity cache lock");
        identities.entry(key).or_insert(identity).clone()
    }
}

impl ReachOrganizations for AwsAccess {
    type Client = SdkOrganizations;

    /// The Organizations client of the partition of `region` (its global endpoint), as `role`
    /// when given. The endpoint is the SDK's (or `AWS_ENDPOINT_URL_ORGANIZATIONS`): the
    /// `--endpoint-url` override is Detective's only.
    async fn organizations(
        &self,
        region: Option<&str>,
        role: Option<&RoleToAssume>,
    ) -> Result<SdkOrganizations, AwsError> {
        let region = self.region_or_default(region)?;
        let home = organizations::home_region(region);
        let key = (home.to_owned(), role.cloned());
        if let Some(client) = self.organizations.lock().expect("client cache lock").get(&key) {
            return Ok(client.clone());
        }
        let mut config = aws_sdk_organizations::config::Builder::from(&self.base).region(Region::new(home.to_owned()));
        if let Some(role) = role {
            // STS in the graph's Region, like the Detective client of the same role.
            let identity = self.identity(region, role).await;
            config = config
                .credentials_provider(identity.provider)
                .identity_cache(identity.cache);
        }
        let client = SdkOrganizations::new(
            aws_sdk_organizations::Client::from_conf(config.build()),
            self.metrics.clone(),
        );
        let mut clients = self.organizations.lock().expect("client cache lock");
        Ok(clients.entry(key).or_insert(client).clone())
    }
}

impl super::port::AssumeRole for AwsAccess {
    type Member = SdkDetective;

    async fn assume(&self, role: &RoleToAssume, region: &str) -> Result<SdkDetective, AwsError> {
        self.detective(Some(region), Some(role)).await
    }
}

/// The HTTPS client the SDK would build for each client by default (rustls, the system's root
/// certificates, `HTTPS_PROXY` and `NO_PROXY` from the environment), built once to be shared.
fn default_https_client() -> Option<SharedHttpClient> {
    default_http_client_plugin_v2(BehaviorVersion::latest())?
        .runtime_components(&RuntimeComponentsBuilder::new("detective-operator"))
        .http_client()
}
