//! The Detective organization administrator operations are per Region, through the real
//! `aws-sdk-detective` client: a delegation in one Region is none in another, disabling one
//! Region's deletes that Region's organization graph only, and a caller in no organization is
//! refused with the service's ValidationException.

mod fixtures;

use aws_sdk_detective::error::ProvideErrorMetadata;
use detective_emulator::OrganizationSeed;
use fixtures::{assert_refused, detective_client, start_emulator};

const MANAGEMENT: &str = "900000000000";
const SECURITY: &str = "900000000001";
const OUTSIDER: &str = "555555555555";
const EAST: &str = "us-east-1";
const WEST: &str = "eu-west-1";

async fn administrators(client: &aws_sdk_detective::Client) -> Vec<(String, Option<String>)> {
    fixtures::organization_admins(client)
        .await
        .iter()
        .map(|a| {
            (
                a.account_id().unwrap_or_default().to_owned(),
                a.graph_arn().map(str::to_owned),
            )
        })
        .collect()
}

#[tokio::test]
async fn delegations_are_per_region() {
    let emulator = start_emulator().await;
    emulator.seed_organization(&OrganizationSeed::new("o-regions0001", MANAGEMENT, 0, 2, SECURITY));
    let url = emulator.endpoint_url();
    let east = detective_client(&url, MANAGEMENT, EAST);
    let west = detective_client(&url, MANAGEMENT, WEST);

    east.enable_organization_admin_account()
        .account_id(SECURITY)
        .send()
        .await
        .expect("EnableOrganizationAdminAccount in us-east-1");
    let in_east = administrators(&east).await;
    assert_eq!(in_east.len(), 1);
    assert_eq!(in_east[0].0, SECURITY);
    let east_graph = in_east[0].1.clone().expect("the delegated administrator's graph ARN");
    assert!(east_graph.contains(":us-east-1:"), "{east_graph}");
    assert!(
        administrators(&west).await.is_empty(),
        "a delegation in us-east-1 is none in eu-west-1"
    );

    west.enable_organization_admin_account()
        .account_id(SECURITY)
        .send()
        .await
        .expect("EnableOrganizationAdminAccount in eu-west-1");
    assert_eq!(emulator.graphs().len(), 2, "one organization graph per Region");

    west.disable_organization_admin_account()
        .send()
        .await
        .expect("DisableOrganizationAdminAccount in eu-west-1");
    assert!(administrators(&west).await.is_empty());
    assert_eq!(administrators(&east).await, in_east, "us-east-1 keeps its delegation");
    let graphs: Vec<String> = emulator.graphs().into_iter().map(|g| g.arn).collect();
    assert_eq!(graphs, [east_graph], "only eu-west-1's organization graph is deleted");
    emulator.shutdown().await;
}

/// The service answers a caller in no organization with a ValidationException saying so
/// (Terraform's provider reads "account is not a member of an organization" as "none").
#[tokio::test]
async fn a_caller_in_no_organization_is_refused() {
    let emulator = start_emulator().await;
    let outsider = detective_client(&emulator.endpoint_url(), OUTSIDER, EAST);
    let error = assert_refused(
        outsider.list_organization_admin_accounts().send(),
        "ValidationException",
        "an account in no organization",
    )
    .await;
    let message = error.message().unwrap_or_default();
    assert!(
        message.contains("account is not a member of an organization"),
        "{message}"
    );
    for refused in [
        assert_refused(
            outsider.enable_organization_admin_account().account_id(OUTSIDER).send(),
            "ValidationException",
            "Enable",
        )
        .await
        .message()
        .map(str::to_owned),
        assert_refused(
            outsider.disable_organization_admin_account().send(),
            "ValidationException",
            "Disable",
        )
        .await
        .message()
        .map(str::to_owned),
    ] {
        assert_eq!(refused.as_deref(), Some(message));
    }
    emulator.shutdown().await;
}
