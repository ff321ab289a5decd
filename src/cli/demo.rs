//! `--emulator`: an in-process Detective emulator seeded with the accounts `examples/` declares,
//! so a newcomer sees the whole job with no AWS account and no cluster. The emulator is compiled
//! in by the `emulator` cargo feature (on by default); [`emulator_access`] needs only its address.

use aws_config::{BehaviorVersion, Region};
use aws_credential_types::Credentials;
#[cfg(feature = "emulator")]
use detective_emulator::{AccountConfig, Emulator, EmulatorConfig, OrganizationSeed, WorldConfig};

use crate::aws::AwsAccess;

/// The administrator account of the demo world (the emulator's default caller).
pub const ADMINISTRATOR: &str = "123456789012";
/// The management account of the demo organization (`examples/organization/admin.yaml` assumes
/// a role in it); the demo administrator is one of the organization's accounts.
pub const MANAGEMENT_ACCOUNT: &str = "999999999999";
/// The demo organization.
pub const ORGANIZATION: &str = "o-demoorg00001";
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

/// Starts the emulator on a free loopback port and an AWS configuration that talks to it as the
/// demo administrator.
#[cfg(feature = "emulator")]
pub async fn start(region: Option<&str>) -> Result<(Emulator, AwsAccess), String> {
    let emulator = Emulator::start(EmulatorConfig {
        default_account: ADMINISTRATOR.to_owned(),
        world: world(),
        ..EmulatorConfig::default()
    })
    .await
    .map_err(|e| format!("could not start the embedded Detective emulator: {e}"))?;
    // The organization the demo administrator belongs to, so that it can be delegated.
    emulator.seed_organization(&OrganizationSeed::new(
        ORGANIZATION,
        MANAGEMENT_ACCOUNT,
        0,
        1,
        ADMINISTRATOR,
    ));
    let access = emulator_access(
        &emulator.endpoint_url(),
        ADMINISTRATOR,
        region.unwrap_or(DEFAULT_REGION),
    )
    .await;
    Ok((emulator, access))
}

/// An AWS configuration whose every call (Detective, and STS for role assumption) goes to the
/// emulator at `endpoint_url`, as `account_id` (the emulator reads the caller from the key id).
pub async fn emulator_access(endpoint_url: &str, account_id: &str, region: &str) -> AwsAccess {
    let config = aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new(region.to_owned()))
        .credentials_provider(Credentials::new(
            account_id,
            "emulator-secret",
            None,
            None,
            "detective-emulator",
        ))
        .endpoint_url(endpoint_url)
        .load()
        .await;
    AwsAccess::from_config(config, None)
}
