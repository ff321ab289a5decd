//! The realistic profile, through the real `aws-sdk-detective` and `aws-sdk-organizations`
//! clients: a delegation, its removal and an AutoEnable show only after the propagation delay
//! (moved past with the emulator clock, never slept); the organization has one Detective
//! administrator, registered in Organizations by Enable and kept there by Disable;
//! ListDelegatedAdministrators filters, pages and checks its caller; settings are read from the
//! world and a malformed one is refused naming its field.

mod fixtures;

use std::time::Duration;

use aws_sdk_detective::error::ProvideErrorMetadata;
use detective_emulator::{AccountConfig, Emulator, OrganizationConfig, OrganizationSeed, WorldConfig};
use fixtures::{
    assert_refused, detective_client, enable_organization_admin, http, organization_admins, organizations_client,
    start_emulator_with,
};

const ORGANIZATION: &str = "o-realistic001";
const MANAGEMENT: &str = "910000000000";
const SECURITY: &str = "910000000001";
const OTHER: &str = "910000000002";
const THIRD: &str = "910000000003";
/// Delegated administrator of another service, declared in the world.
const AUDIT: &str = "910000000004";
const OUTSIDER: &str = "555555555555";
const EAST: &str = "us-east-1";
const WEST: &str = "eu-west-1";
const SOUTH: &str = "ap-southeast-2";
const DETECTIVE: &str = "detective.amazonaws.com";

/// An emulator with `world` and the organization (management account, SECURITY, OTHER, THIRD).
async fn organization(world: WorldConfig) -> Emulator {
    let emulator = start_emulator_with(world).await;
    emulator.seed_organization(&OrganizationSeed::new(ORGANIZATION, MANAGEMENT, 0, 3, SECURITY));
    emulator
}

/// The accounts ListOrganizationAdminAccounts lists to the management account in `region`.
async fn listed(emulator: &Emulator, region: &str) -> Vec<String> {
    let management = detective_client(&emulator.endpoint_url(), MANAGEMENT, region);
    organization_admins(&management)
        .await
        .iter()
        .map(|admin| admin.account_id().unwrap_or_default().to_owned())
        .collect()
}

/// The accounts ListDelegatedAdministrators lists to `caller` for `principal` (every page).
async fn delegated_administrators(emulator: &Emulator, caller: &str, principal: Option<&str>) -> Vec<String> {
    organizations_client(&emulator.endpoint_url(), caller)
        .list_delegated_administrators()
        .set_service_principal(principal.map(str::to_owned))
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .expect("ListDelegatedAdministrators")
        .iter()
        .map(|admin| admin.id().unwrap_or_default().to_owned())
        .collect()
}

/// Sets AutoEnable of `graph` as its administrator `client`.
async fn set_auto_enable(client: &aws_sdk_detective::Client, graph: &str, auto_enable: bool) {
    client
        .update_organization_configuration()
        .graph_arn(graph)
        .auto_enable(auto_enable)
        .send()
        .await
        .expect("UpdateOrganizationConfiguration");
}

async fn auto_enable(client: &aws_sdk_detective::Client, graph: &str) -> bool {
    client
        .describe_organization_configuration()
        .graph_arn(graph)
        .send()
        .await
        .expect("DescribeOrganizationConfiguration")
        .auto_enable()
}

#[tokio::test]
async fn delegations_and_auto_enable_show_after_the_propagation_delay() {
    // A long delay, crossed with the emulator clock: the wall clock never decides the outcome.
    let delay = Duration::from_secs(600);
    let emulator = organization(WorldConfig {
        propagation_delay: Some(delay),
        ..WorldConfig::realistic()
    })
    .await;
    let url = emulator.endpoint_url();
    let management = detective_client(&url, MANAGEMENT, EAST);
    let security = detective_client(&url, SECURITY, EAST);

    enable_organization_admin(&management, SECURITY).await;
    assert!(
        listed(&emulator, EAST).await.is_empty(),
        "a new delegation is not listed yet"
    );
    let graphs = security.list_graphs().send().await.expect("ListGraphs");
    let graph = graphs.graph_list()[0]
        .arn()
        .expect("the graph Enable created")
        .to_owned();
    assert_refused(
        security.describe_organization_configuration().graph_arn(&graph).send(),
        "AccessDeniedException",
        "DescribeOrganizationConfiguration while the delegation propagates",
    )
    .await;
    assert_refused(
        security
            .update_organization_configuration()
            .graph_arn(&graph)
            .auto_enable(true)
            .send(),
        "AccessDeniedException",
        "UpdateOrganizationConfiguration while the delegation propagates",
    )
    .await;
    // Enabling again while it propagates changes nothing (the call is idempotent).
    enable_organization_admin(&management, SECURITY).await;
    emulator.advance_clock(delay / 2);
    assert!(listed(&emulator, EAST).await.is_empty(), "half way: still not listed");

    emulator.advance_clock(delay / 2);
    assert_eq!(listed(&emulator, EAST).await, [SECURITY]);
    assert!(!auto_enable(&security, &graph).await);
    set_auto_enable(&security, &graph, true).await;
    assert!(
        !auto_enable(&security, &graph).await,
        "AutoEnable reads back after the delay"
    );
    emulator.advance_clock(delay);
    assert!(auto_enable(&security, &graph).await);

    management
        .disable_organization_admin_account()
        .send()
        .await
        .expect("DisableOrganizationAdminAccount");
    assert!(
        emulator.graphs().is_empty(),
        "the organization graph is deleted at once"
    );
    assert_eq!(
        listed(&emulator, EAST).await,
        [SECURITY],
        "a removed delegation stays listed for the delay"
    );
    emulator.advance_clock(delay);
    assert!(listed(&emulator, EAST).await.is_empty());
    emulator.shutdown().await;
}

#[tokio::test]
async fn the_organization_has_one_detective_administrator_in_every_region() {
    // The single-administrator part alone, without delays.
    let emulator = organization(WorldConfig {
        propagation_delay: Some(Duration::ZERO),
        ..WorldConfig::realistic()
    })
    .await;
    let url = emulator.endpoint_url();
    let (east, west) = (
        detective_client(&url, MANAGEMENT, EAST),
        detective_client(&url, MANAGEMENT, WEST),
    );
    enable_organization_admin(&east, SECURITY).await;
    assert_eq!(
        delegated_administrators(&emulator, MANAGEMENT, Some(DETECTIVE)).await,
        [SECURITY],
        "Enable registered it in Organizations"
    );
    let refused = assert_refused(
        west.enable_organization_admin_account().account_id(OTHER).send(),
        "ValidationException",
        "another account in another Region",
    )
    .await;
    let message = refused.message().unwrap_or_default();
    assert!(message.contains(SECURITY) && message.contains(MANAGEMENT), "{message}");
    // The management account may always be named, and is never registered.
    enable_organization_admin(&west, MANAGEMENT).await;
    assert_eq!(listed(&emulator, WEST).await, [MANAGEMENT]);
    assert_eq!(
        delegated_administrators(&emulator, MANAGEMENT, Some(DETECTIVE)).await,
        [SECURITY]
    );

    // Disabling keeps the registration: another account stays refused everywhere.
    east.disable_organization_admin_account()
        .send()
        .await
        .expect("DisableOrganizationAdminAccount");
    assert!(listed(&emulator, EAST).await.is_empty());
    assert_eq!(
        delegated_administrators(&emulator, MANAGEMENT, Some(DETECTIVE)).await,
        [SECURITY],
        "Disable does not deregister"
    );
    assert_refused(
        east.enable_organization_admin_account().account_id(OTHER).send(),
        "ValidationException",
        "another account after Disable",
    )
    .await;
    enable_organization_admin(&east, SECURITY).await;
    assert_eq!(listed(&emulator, EAST).await, [SECURITY]);
    emulator.shutdown().await;
}

#[tokio::test]
async fn the_default_profile_is_instant_and_allows_an_administrator_per_region() {
    let emulator = organization(WorldConfig::default()).await;
    let url = emulator.endpoint_url();
    enable_organization_admin(&detective_client(&url, MANAGEMENT, EAST), SECURITY).await;
    assert_eq!(listed(&emulator, EAST).await, [SECURITY], "listed at once");
    enable_organization_admin(&detective_client(&url, MANAGEMENT, WEST), OTHER).await;
    assert_eq!(listed(&emulator, WEST).await, [OTHER]);
    assert_eq!(
        delegated_administrators(&emulator, MANAGEMENT, Some(DETECTIVE)).await,
        [SECURITY, OTHER]
    );
    emulator.shutdown().await;
}

#[tokio::test]
async fn delegated_administrators_are_filtered_paged_and_for_the_organization_only() {
    let mut world = WorldConfig::default();
    world.organizations.push(OrganizationConfig {
        id: ORGANIZATION.to_owned(),
        management_account: MANAGEMENT.to_owned(),
        root_id: None,
        organizational_units: Vec::new(),
        delegated_administrators: vec![AUDIT.to_owned()],
        empty_first_pages: true,
        page_size_limit: None,
    });
    for account in [SECURITY, OTHER, THIRD, AUDIT] {
        world.accounts.push(AccountConfig {
            organization: Some(ORGANIZATION.to_owned()),
            ..AccountConfig::new(account, format!("root+{account}@example.com"))
        });
    }
    let emulator = start_emulator_with(world).await;
    let url = emulator.endpoint_url();
    // The default profile lets each Region name its own administrator: three registrations.
    for (region, account) in [(EAST, SECURITY), (WEST, OTHER), (SOUTH, THIRD)] {
        enable_organization_admin(&detective_client(&url, MANAGEMENT, region), account).await;
    }
    assert_eq!(
        delegated_administrators(&emulator, MANAGEMENT, Some(DETECTIVE)).await,
        [SECURITY, OTHER, THIRD]
    );
    assert_eq!(
        delegated_administrators(&emulator, MANAGEMENT, None).await,
        [SECURITY, OTHER, THIRD, AUDIT],
        "without a ServicePrincipal, every service's"
    );
    assert!(
        delegated_administrators(&emulator, MANAGEMENT, Some("guardduty.amazonaws.com"))
            .await
            .is_empty()
    );

    // One item a page, after the empty first page of the organization's quirk.
    let client = organizations_client(&url, SECURITY);
    let pages: Vec<_> = client
        .list_delegated_administrators()
        .service_principal(DETECTIVE)
        .into_paginator()
        .page_size(1)
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .expect("a delegated administrator lists them");
    let sizes: Vec<usize> = pages.iter().map(|page| page.delegated_administrators().len()).collect();
    assert_eq!(sizes, [0, 1, 1, 1]);
    let first = &pages[1].delegated_administrators()[0];
    assert_eq!(first.id(), Some(SECURITY));
    assert_eq!(first.email(), Some(format!("root+{SECURITY}@example.com").as_str()));
    assert!(first.delegation_enabled_date().is_some() && first.joined_timestamp().is_some());
    assert!(
        first
            .arn()
            .is_some_and(|arn| arn.ends_with(&format!("account/{ORGANIZATION}/{SECURITY}")))
    );

    assert_refused(
        client.list_delegated_administrators().max_results(21).send(),
        "InvalidInputException",
        "MaxResults 21",
    )
    .await;
    assert_refused(
        client
            .list_delegated_administrators()
            .service_principal("not a principal")
            .send(),
        "InvalidInputException",
        "a malformed ServicePrincipal",
    )
    .await;
    emulator.merge_world(detective_emulator::WorldPatch {
        accounts: vec![AccountConfig {
            organization: Some(ORGANIZATION.to_owned()),
            ..AccountConfig::new("910000000005", "")
        }],
        ..Default::default()
    });
    assert_refused(
        organizations_client(&url, "910000000005")
            .list_delegated_administrators()
            .send(),
        "AccessDeniedException",
        "a member that administers nothing",
    )
    .await;
    assert_refused(
        organizations_client(&url, OUTSIDER)
            .list_delegated_administrators()
            .send(),
        "AWSOrganizationsNotInUseException",
        "an account in no organization",
    )
    .await;
    emulator.shutdown().await;
}

#[tokio::test]
async fn settings_come_from_the_world_and_a_malformed_one_names_its_field() {
    let folder = tempfile::tempdir().expect("a temporary folder");
    let file = folder.path().join("world.yaml");
    std::fs::write(&file, "realistic: true\npropagationDelay: 300ms\n").expect("write the world");
    let world = WorldConfig::from_file(&file).expect("a valid world");
    let realism = world.realism();
    assert_eq!(realism.propagation_delay, Duration::from_millis(300));
    assert!(realism.single_administrator);

    std::fs::write(&file, "realistic: true\npropagationDelay: 3 seconds please\n").expect("write the world");
    let error = WorldConfig::from_file(&file).expect_err("a malformed delay");
    assert!(error.contains("propagationDelay"), "{error}");

    // The control endpoint refuses it the same way, and takes a good one.
    let emulator = start_emulator_with(WorldConfig::default()).await;
    let url = emulator.endpoint_url();
    let answer = http(
        &url,
        "PATCH",
        "/_emulator/world",
        Some(r#"{"propagationDelay": "soon"}"#),
    )
    .await;
    assert_eq!(answer.status, 400, "{}", answer.body);
    assert!(answer.body.contains("propagationDelay"), "{}", answer.body);
    let answer = http(
        &url,
        "PATCH",
        "/_emulator/world",
        Some(r#"{"realistic": true, "propagationDelay": "2s"}"#),
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let world = http(&url, "GET", "/_emulator/world", None).await.json();
    assert_eq!(world["realistic"], true);
    assert_eq!(world["propagationDelay"], "2s");
    emulator.shutdown().await;
}
