//! The realistic profile's Organizations side, through the real `aws-sdk-detective` and
//! `aws-sdk-organizations` clients: organization accounts pass through verification, accounts
//! carry `State` (all five) and `Paths` but not the retired `Status`, OUs their `Path`; a closed
//! member leaves the graph and a closed administrator its graph after the propagation delay (and
//! can no longer call AWS), a suspended member stops ingesting; Organizations throttles each
//! caller; a malformed setting or state is refused naming its field. Delays are crossed with the
//! emulator clock, never slept.

mod fixtures;

use std::time::Duration;

use aws_sdk_detective::error::ProvideErrorMetadata;
use aws_sdk_detective::types::{DatasourcePackageIngestState, MemberStatus};
use aws_sdk_organizations::config::retry::RetryConfig;
use aws_sdk_organizations::types::AccountState as SdkAccountState;
use detective_emulator::{Emulator, OrganizationSeed, REALISTIC_PROPAGATION_DELAY, WorldConfig, WorldPatch};
use fixtures::{account, detective_client, http, member_detail, organizations_client, start_emulator_with};

const ORGANIZATION: &str = "o-lifecycle001";
const MANAGEMENT: &str = "930000000000";
/// The delegated Detective administrator: the first seeded account.
const SECURITY: &str = "930000000001";
const FIRST: &str = "930000000002";
const SECOND: &str = "930000000003";
const REGION: &str = "us-east-1";
/// The realistic `verificationDelay`.
const VERIFICATION: Duration = Duration::from_secs(2);

fn seed() -> OrganizationSeed {
    // Two OUs under the root; the accounts alternate between them.
    OrganizationSeed::new(ORGANIZATION, MANAGEMENT, 2, 3, SECURITY)
}

/// A realistic emulator with the seeded organization, SECURITY delegated (and the delegation
/// shown), its graph, and FIRST and SECOND created as members (still being verified).
async fn organization_graph() -> (Emulator, aws_sdk_detective::Client, String) {
    let emulator = start_emulator_with(WorldConfig::realistic()).await;
    emulator.seed_organization(&seed());
    let url = emulator.endpoint_url();
    fixtures::delegate(&url, MANAGEMENT, SECURITY, REGION).await;
    emulator.advance_clock(REALISTIC_PROPAGATION_DELAY);
    let admin = detective_client(&url, SECURITY, REGION);
    let graph = fixtures::create_graph(&admin).await;
    let created = admin
        .create_members()
        .graph_arn(&graph)
        .accounts(account(FIRST, &format!("aws+{FIRST}@example.com")))
        .accounts(account(SECOND, &format!("aws+{SECOND}@example.com")))
        .send()
        .await
        .expect("CreateMembers");
    let statuses: Vec<_> = created.members().iter().map(|m| m.status().cloned()).collect();
    assert_eq!(
        statuses,
        [
            Some(MemberStatus::VerificationInProgress),
            Some(MemberStatus::VerificationInProgress)
        ]
    );
    (emulator, admin, graph)
}

/// Changes the state of `account_id` through the control endpoint, as a test outside Rust would.
async fn set_state(emulator: &Emulator, account_id: &str, state: &str) {
    let state = serde_json::from_value(serde_json::json!(state)).expect("a state");
    fixtures::change_account(emulator, account_id, |account| account.state = state).await;
}

async fn member_ids(admin: &aws_sdk_detective::Client, graph: &str) -> Vec<String> {
    fixtures::listed_members(admin, graph)
        .await
        .iter()
        .map(|m| m.account_id().unwrap_or_default().to_owned())
        .collect()
}

#[tokio::test]
async fn organization_accounts_are_verified_before_they_are_enabled() {
    let (emulator, admin, graph) = organization_graph().await;
    let status = |detail: aws_sdk_detective::types::MemberDetail| detail.status().cloned();
    emulator.advance_clock(VERIFICATION - Duration::from_millis(100));
    let verifying = member_detail(&admin, &graph, FIRST).await;
    assert_eq!(status(verifying.clone()), Some(MemberStatus::VerificationInProgress));
    assert_eq!(verifying.invitation_type().map(|t| t.as_str()), Some("ORGANIZATION"));
    emulator.advance_clock(Duration::from_millis(100));
    assert_eq!(
        status(member_detail(&admin, &graph, FIRST).await),
        Some(MemberStatus::Enabled)
    );
    // Once: the verification stamped the change when it was due.
    let snapshot = &emulator.graphs()[0];
    assert_eq!(snapshot.create_members_requests.get(FIRST), Some(&1));
    emulator.shutdown().await;
}

#[tokio::test]
async fn the_default_profile_enables_organization_accounts_at_once_unless_a_delay_is_set() {
    for (delay, expected) in [
        (None, MemberStatus::Enabled),
        (Some(Duration::from_secs(1)), MemberStatus::VerificationInProgress),
    ] {
        let emulator = start_emulator_with(WorldConfig {
            verification_delay: delay,
            ..WorldConfig::default()
        })
        .await;
        emulator.seed_organization(&seed());
        let url = emulator.endpoint_url();
        fixtures::delegate(&url, MANAGEMENT, SECURITY, REGION).await;
        let admin = detective_client(&url, SECURITY, REGION);
        let graph = fixtures::create_graph(&admin).await;
        let created = admin
            .create_members()
            .graph_arn(&graph)
            .accounts(account(FIRST, "aws+first@example.com"))
            .send()
            .await
            .expect("CreateMembers");
        assert_eq!(created.members()[0].status(), Some(&expected), "{delay:?}");
        emulator.shutdown().await;
    }
}

#[tokio::test]
async fn accounts_carry_state_and_paths_and_no_status_in_the_realistic_profile() {
    let emulator = start_emulator_with(WorldConfig::realistic()).await;
    emulator.seed_organization(&seed());
    set_state(&emulator, FIRST, "CLOSED").await;
    set_state(&emulator, SECOND, "PENDING_ACTIVATION").await;
    let management = organizations_client(&emulator.endpoint_url(), MANAGEMENT);
    let pages = management
        .list_accounts()
        .into_paginator()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .expect("ListAccounts");
    let accounts: Vec<_> = pages.iter().flat_map(|page| page.accounts().to_vec()).collect();
    let unit = |index| seed().unit_id(index);
    let root = "r-lifecycle001";
    let read: Vec<_> = accounts
        .iter()
        .map(|a| {
            (
                a.id().unwrap_or_default(),
                a.state().cloned(),
                a.status().is_some(),
                a.paths().to_vec(),
            )
        })
        .collect();
    assert_eq!(
        read,
        [
            (
                MANAGEMENT,
                Some(SdkAccountState::Active),
                false,
                vec![format!("{ORGANIZATION}/{root}/{MANAGEMENT}/")]
            ),
            (
                SECURITY,
                Some(SdkAccountState::Active),
                false,
                vec![format!("{ORGANIZATION}/{root}/{}/{SECURITY}/", unit(0))]
            ),
            (
                FIRST,
                Some(SdkAccountState::Closed),
                false,
                vec![format!("{ORGANIZATION}/{root}/{}/{FIRST}/", unit(1))]
            ),
            (
                SECOND,
                Some(SdkAccountState::PendingActivation),
                false,
                vec![format!("{ORGANIZATION}/{root}/{}/{SECOND}/", unit(0))]
            ),
        ]
    );
    let described = management
        .describe_organizational_unit()
        .organizational_unit_id(unit(1))
        .send()
        .await
        .expect("DescribeOrganizationalUnit");
    let path = described.organizational_unit().and_then(|ou| ou.path());
    assert_eq!(path, Some(format!("{ORGANIZATION}/{root}/{}/", unit(1)).as_str()));

    // The default profile: the API before Paths, with Status (a closed account reads SUSPENDED
    // there, its enum has no CLOSED).
    emulator.merge_world(WorldPatch {
        realistic: Some(false),
        ..WorldPatch::default()
    });
    let described = management
        .describe_account()
        .account_id(FIRST)
        .send()
        .await
        .expect("DescribeAccount");
    let first = described.account().expect("an account");
    assert_eq!(first.status().map(|s| s.as_str()), Some("SUSPENDED"));
    assert_eq!(first.state(), Some(&SdkAccountState::Closed));
    assert!(first.paths.is_none(), "{first:?}");
    emulator.shutdown().await;
}

#[tokio::test]
async fn closed_members_leave_suspended_ones_stop_ingesting_and_a_closed_administrator_loses_its_graph() {
    let (emulator, admin, graph) = organization_graph().await;
    emulator.advance_clock(VERIFICATION);
    set_state(&emulator, SECOND, "SUSPENDED").await;
    let suspended = member_detail(&admin, &graph, SECOND).await;
    assert_eq!(suspended.status(), Some(&MemberStatus::Enabled), "still a member");
    let states = suspended.datasource_package_ingest_states().expect("ingest states");
    assert!(!states.is_empty());
    assert!(
        states.values().all(|s| *s == DatasourcePackageIngestState::Stopped),
        "{states:?}"
    );
    assert!(
        suspended.volume_usage_by_datasource_package().is_none(),
        "no volume while suspended"
    );
    let ingesting = member_detail(&admin, &graph, FIRST).await;
    let states = ingesting.datasource_package_ingest_states().expect("ingest states");
    assert!(
        states.values().any(|s| *s == DatasourcePackageIngestState::Started),
        "{states:?}"
    );
    set_state(&emulator, SECOND, "ACTIVE").await;
    let resumed = member_detail(&admin, &graph, SECOND).await;
    let states = resumed.datasource_package_ingest_states().expect("ingest states");
    assert!(
        states.values().any(|s| *s == DatasourcePackageIngestState::Started),
        "{states:?}"
    );

    set_state(&emulator, FIRST, "CLOSED").await;
    emulator.advance_clock(REALISTIC_PROPAGATION_DELAY - Duration::from_millis(100));
    assert_eq!(
        member_ids(&admin, &graph).await,
        [FIRST, SECOND],
        "still listed while it propagates"
    );
    emulator.advance_clock(Duration::from_millis(100));
    assert_eq!(member_ids(&admin, &graph).await, [SECOND], "the closed account is gone");

    set_state(&emulator, SECURITY, "CLOSED").await;
    emulator.advance_clock(REALISTIC_PROPAGATION_DELAY);
    // The closed administrator can no longer call AWS to look (`refuseInactiveCallers`).
    fixtures::assert_refused(
        admin.list_graphs().send(),
        "UnrecognizedClientException",
        "ListGraphs of a closed account",
    )
    .await;
    let graphs = emulator.graphs();
    assert!(!graphs.iter().any(|g| g.administrator_id == SECURITY), "{graphs:?}");
    emulator.shutdown().await;
}

#[tokio::test]
async fn organizations_throttles_each_caller_beyond_its_rate() {
    let emulator = start_emulator_with(WorldConfig {
        organizations_rate_limit: Some(3),
        ..WorldConfig::default()
    })
    .await;
    emulator.seed_organization(&seed());
    let client = |caller: &str| {
        let config = organizations_client(&emulator.endpoint_url(), caller)
            .config()
            .to_builder()
            .retry_config(RetryConfig::disabled())
            .build();
        aws_sdk_organizations::Client::from_conf(config)
    };
    let management = client(MANAGEMENT);
    for call in 1..=3 {
        management
            .list_roots()
            .send()
            .await
            .unwrap_or_else(|e| panic!("call {call}: {e:?}"));
    }
    let throttled = management
        .list_roots()
        .send()
        .await
        .expect_err("the fourth call in the second");
    assert_eq!(throttled.code(), Some("TooManyRequestsException"), "{throttled:?}");
    // Another caller has its own budget.
    client(SECURITY)
        .describe_organization()
        .send()
        .await
        .expect("another caller is not throttled");
    // Without a limit (0), nothing is throttled.
    emulator.merge_world(WorldPatch {
        organizations_rate_limit: Some(0),
        ..WorldPatch::default()
    });
    for _ in 0..10 {
        management.list_roots().send().await.expect("no limit");
    }
    emulator.shutdown().await;
}

#[tokio::test]
async fn a_malformed_state_or_delay_is_refused_naming_its_field() {
    let folder = tempfile::tempdir().expect("a temporary folder");
    let file = folder.path().join("world.yaml");
    for (world, field) in [
        (
            "accounts:\n  - accountId: '111111111111'\n    state: DELETED\n",
            "state",
        ),
        ("realistic: true\nverificationDelay: two seconds\n", "verificationDelay"),
        ("organizationsRateLimit: -1\n", "organizationsRateLimit"),
    ] {
        std::fs::write(&file, world).expect("write the world");
        let error = WorldConfig::from_file(&file).expect_err(world);
        assert!(error.contains(field), "{world}: {error}");
    }
    let emulator = start_emulator_with(WorldConfig::default()).await;
    let url = emulator.endpoint_url();
    for (patch, field) in [
        (
            r#"{"accounts": [{"accountId": "111111111111", "state": "GONE"}]}"#,
            "state",
        ),
        (r#"{"verificationDelay": "-2s"}"#, "verificationDelay"),
    ] {
        let answer = http(&url, "PATCH", "/_emulator/world", Some(patch)).await;
        assert_eq!(answer.status, 400, "{patch}: {}", answer.body);
        assert!(answer.body.contains(field), "{patch}: {}", answer.body);
    }
    let answer = http(
        &url,
        "PATCH",
        "/_emulator/world",
        Some(r#"{"verificationDelay": "2s"}"#),
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(
        http(&url, "GET", "/_emulator/world", None).await.json()["verificationDelay"],
        "2s"
    );
    emulator.shutdown().await;
}
