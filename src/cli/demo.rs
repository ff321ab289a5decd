//! `--emulator`: an in-process Detective emulator seeded with the accounts `examples/` declares,
//! so a newcomer sees the whole job with no AWS account and no cluster. The emulator is compiled
//! in by the `emulator` cargo feature (on by default).

#[cfg(feature = "emulator")]
use detective_emulator::{
    AccountConfig, AccountState, Emulator, EmulatorConfig, OrganizationConfig, OrganizationalUnitConfig, WorldConfig,
    WorldPatch,
};

#[cfg(feature = "emulator")]
use k8s_openapi::jiff::Timestamp;

#[cfg(feature = "emulator")]
use super::manifest::{DocumentError, organization_admin_from_document};
#[cfg(feature = "emulator")]
use super::render::render_conditions;
#[cfg(feature = "emulator")]
use crate::api::{DetectiveOrganizationAdmin, DetectiveOrganizationAdminStatus, GROUP, VERSION};
#[cfg(feature = "emulator")]
use crate::aws::{AwsAccess, StandIn};
#[cfg(feature = "emulator")]
use crate::engine::{self, Mode, OrganizationAdminTarget, Reported, SyncError};

/// The administrator account of the demo world (the emulator's default caller).
pub const ADMINISTRATOR: &str = "123456789012";
/// The Region used when neither the flag nor the resource names one.
pub const DEFAULT_REGION: &str = "us-east-1";

/// The demo world: the accounts of `examples/graph.yaml`, each showing one path a member takes.
#[cfg(feature = "emulator")]
pub fn world() -> WorldConfig {
    let account = |id: &str, email: &str| AccountConfig {
        account_id: id.to_owned(),
        email: email.to_owned(),
        ..AccountConfig::default()
    };
    WorldConfig {
        accounts: vec![
            // Accept their invitations shortly after they arrive.
            AccountConfig {
                auto_accept_after_ms: Some(0),
                ..account("111111111111", "aws-prod@example.com")
            },
            AccountConfig {
                auto_accept_after_ms: Some(0),
                ..account("222222222222", "aws-staging@example.com")
            },
            // Accepts, but is not enrolled in GuardDuty: ACCEPTED_BUT_DISABLED / VOLUME_UNKNOWN.
            AccountConfig {
                auto_accept_after_ms: Some(0),
                guard_duty_enrolled: false,
                ..account("333333333333", "aws-sandbox@example.com")
            },
            // Its root e-mail is not the one examples/graph.yaml declares: VERIFICATION_FAILED.
            account("444444444444", "aws-log-archive@example.com"),
            // Never answers: stays INVITED.
            account("555555555555", "aws-data@example.com"),
        ],
        ..WorldConfig::default()
    }
}

/// The management account of the demo organization.
pub const MANAGEMENT: &str = "999999999999";
/// The Regions of `examples/organization/`, where the demo administrator is delegated.
pub const ORGANIZATION_REGIONS: [&str; 2] = ["us-east-1", "eu-west-1"];
/// The demo organization's id and OUs, as `examples/organization/` names them.
pub const ORGANIZATION: &str = "o-demoorg0001";
pub const UNIT_WORKLOADS: &str = "ou-demo-workload";
pub const UNIT_PRODUCTION: &str = "ou-demo-prodprod";
pub const UNIT_DEVELOPMENT: &str = "ou-demo-devdevde";
pub const UNIT_SANDBOX: &str = "ou-demo-sandboxx";
pub const UNIT_SECURITY: &str = "ou-demo-security";

/// The demo organization (`examples/organization/`): workloads (production and development
/// below it), sandbox and security OUs; one development account suspended, one sandbox account
/// that the graphs exclude, the demo administrator in the security OU.
#[cfg(feature = "emulator")]
pub fn organization() -> WorldPatch {
    let unit = |id: &str, name: &str, parent: Option<&str>| OrganizationalUnitConfig {
        id: id.to_owned(),
        name: name.to_owned(),
        parent_id: parent.map(str::to_owned),
    };
    let account = |id: &str, name: &str, parent: Option<&str>, state: AccountState| AccountConfig {
        organization: Some(ORGANIZATION.to_owned()),
        name: Some(name.to_owned()),
        parent_id: parent.map(str::to_owned),
        state,
        ..AccountConfig::new(id, format!("aws+{name}@example.com"))
    };
    use AccountState::{Active, Suspended};
    WorldPatch {
        organizations: vec![OrganizationConfig {
            id: ORGANIZATION.to_owned(),
            management_account: MANAGEMENT.to_owned(),
            root_id: Some("r-demo".to_owned()),
            organizational_units: vec![
                unit(UNIT_WORKLOADS, "workloads", None),
                unit(UNIT_PRODUCTION, "production", Some(UNIT_WORKLOADS)),
                unit(UNIT_DEVELOPMENT, "development", Some(UNIT_WORKLOADS)),
                unit(UNIT_SANDBOX, "sandbox", None),
                unit(UNIT_SECURITY, "security", None),
            ],
            delegated_administrators: Vec::new(),
            empty_first_pages: false,
            page_size_limit: None,
        }],
        accounts: vec![
            account(MANAGEMENT, "management", None, Active),
            account(ADMINISTRATOR, "security-tooling", Some(UNIT_SECURITY), Active),
            account("610000000001", "shop-prod", Some(UNIT_PRODUCTION), Active),
            account("610000000002", "payments-prod", Some(UNIT_PRODUCTION), Active),
            account("620000000001", "shop-dev", Some(UNIT_DEVELOPMENT), Active),
            account("620000000002", "legacy-dev", Some(UNIT_DEVELOPMENT), Suspended),
            account("630000000001", "sandbox-alice", Some(UNIT_SANDBOX), Active),
            account("630000000002", "sandbox-load-tests", Some(UNIT_SANDBOX), Active),
            account("640000000001", "log-archive", Some(UNIT_SECURITY), Active),
        ],
        ..WorldPatch::default()
    }
}

/// Why the demo world could not be set up.
#[cfg(feature = "emulator")]
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("could not start the embedded Detective emulator: {0}")]
    Start(#[source] std::io::Error),
    /// The embedded [`organization_admin`] document does not pass the checks a user's would.
    #[error("the demo's DetectiveOrganizationAdmin: {0}")]
    Document(#[source] DocumentError),
    /// The demo's `DetectiveOrganizationAdmin` did not end Ready.
    #[error(
        "the demo organization's management account could not delegate {ADMINISTRATOR}{}\n{}",
        .source.as_ref().map(|e| format!(": {e}")).unwrap_or_default(),
        render_conditions(&.status.sync.conditions)
    )]
    NotDelegated {
        status: Box<DetectiveOrganizationAdminStatus>,
        #[source]
        source: Option<SyncError>,
    },
}

/// The `DetectiveOrganizationAdmin` the demo organization's management account has run when the
/// documents' graphs use the organization fields: the demo administrator delegated in
/// [`ORGANIZATION_REGIONS`], so that each graph can be shown on its own. Checked as a user's
/// document is.
#[cfg(feature = "emulator")]
pub fn organization_admin() -> Result<DetectiveOrganizationAdmin, DocumentError> {
    organization_admin_from_document(serde_json::json!({
        "apiVersion": format!("{GROUP}/{VERSION}"),
        "kind": "DetectiveOrganizationAdmin",
        "metadata": {"name": "demo-organization", "namespace": "demo"},
        "spec": {"accountId": ADMINISTRATOR, "regions": ORGANIZATION_REGIONS},
    }))
}

/// Starts the emulator on a free loopback port and an AWS configuration that talks to it as the
/// demo administrator, in the demo organization (so a `DetectiveOrganizationAdmin` can delegate
/// it). With `organization` (the documents' graphs use the organization fields), the management
/// account has first run [`organization_admin`] through the engine, as `sync` would; the calls
/// of that setup are not counted with the documents'.
#[cfg(feature = "emulator")]
pub async fn start(region: Option<&str>, organization: bool) -> Result<(Emulator, AwsAccess), DemoError> {
    let emulator = Emulator::start(EmulatorConfig {
        default_account: ADMINISTRATOR.to_owned(),
        world: world(),
        ..EmulatorConfig::default()
    })
    .await
    .map_err(DemoError::Start)?;
    emulator.merge_world(self::organization());
    if organization {
        let admin = organization_admin().map_err(DemoError::Document)?;
        let management = emulator_access(&emulator.endpoint_url(), MANAGEMENT, DEFAULT_REGION).await;
        let outcome = engine::sync(
            &management,
            OrganizationAdminTarget::of(&admin),
            Mode::Apply,
            Timestamp::now(),
        )
        .await;
        if !outcome.is_ready() {
            return Err(DemoError::NotDelegated {
                status: Box::new(outcome.status),
                source: outcome.error,
            });
        }
        emulator.reset_calls();
    }
    let access = emulator_access(
        &emulator.endpoint_url(),
        ADMINISTRATOR,
        region.unwrap_or(DEFAULT_REGION),
    )
    .await;
    Ok((emulator, access))
}

/// The operator's AWS access to the emulator at `endpoint_url`, as `account_id` (the emulator
/// takes the access key id for the caller).
#[cfg(feature = "emulator")]
async fn emulator_access(endpoint_url: &str, account_id: &str, region: &str) -> AwsAccess {
    AwsAccess::stand_in(&StandIn {
        endpoint_url,
        region,
        access_key_id: account_id,
        session_token: None,
    })
    .await
}
