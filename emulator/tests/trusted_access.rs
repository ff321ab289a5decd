//! Trusted access through the real `aws-sdk-organizations` client: the management account grants
//! and withdraws it, the delegated administrator lists it, other accounts are refused; and
//! Detective's EnableOrganizationAdminAccount grants it too, so that both ways in are one state.
//! DeregisterDelegatedAdministrator (the Security Reference Architecture's teardown) removes the
//! registration that EnableOrganizationAdminAccount made.

mod fixtures;

use detective_emulator::OrganizationSeed;
use fixtures::{assert_refused, detective_client, organizations_client, start_emulator};

const MANAGEMENT: &str = "900000000000";
const SECURITY: &str = "900000000001";
const MEMBER: &str = "900000000002";
const OUTSIDER: &str = "555555555555";
const DETECTIVE: &str = "detective.amazonaws.com";

async fn trusted(client: &aws_sdk_organizations::Client) -> Vec<String> {
    client
        .list_aws_service_access_for_organization()
        .send()
        .await
        .expect("ListAWSServiceAccessForOrganization")
        .enabled_service_principals()
        .iter()
        .map(|enabled| {
            assert!(enabled.date_enabled().is_some(), "{enabled:?}");
            enabled.service_principal().unwrap_or_default().to_owned()
        })
        .collect()
}

#[tokio::test]
async fn the_management_account_grants_and_withdraws_trusted_access() {
    let emulator = start_emulator().await;
    emulator.seed_organization(&OrganizationSeed::new("o-trusted001", MANAGEMENT, 0, 2, SECURITY));
    let url = emulator.endpoint_url();
    let management = organizations_client(&url, MANAGEMENT);
    assert!(trusted(&management).await.is_empty(), "nothing is trusted at first");

    for _ in 0..2 {
        management
            .enable_aws_service_access()
            .service_principal(DETECTIVE)
            .send()
            .await
            .expect("EnableAWSServiceAccess (again: no change)");
    }
    management
        .enable_aws_service_access()
        .service_principal("guardduty.amazonaws.com")
        .send()
        .await
        .expect("EnableAWSServiceAccess for another service");
    assert_eq!(
        trusted(&management).await,
        [DETECTIVE, "guardduty.amazonaws.com"],
        "listed once each, in service-principal order"
    );

    let member = organizations_client(&url, MEMBER);
    let refused = member.enable_aws_service_access().service_principal(DETECTIVE).send();
    assert_refused(refused, "AccessDeniedException", "a member account enabling").await;
    let refused = member.list_aws_service_access_for_organization().send();
    assert_refused(refused, "AccessDeniedException", "a member account listing").await;
    let outsider = organizations_client(&url, OUTSIDER);
    let refused = outsider.list_aws_service_access_for_organization().send();
    assert_refused(
        refused,
        "AWSOrganizationsNotInUseException",
        "an account in no organization",
    )
    .await;
    let refused = management
        .enable_aws_service_access()
        .service_principal("not valid")
        .send();
    assert_refused(refused, "InvalidInputException", "a malformed service principal").await;

    management
        .disable_aws_service_access()
        .service_principal(DETECTIVE)
        .send()
        .await
        .expect("DisableAWSServiceAccess");
    assert_eq!(trusted(&management).await, ["guardduty.amazonaws.com"]);
    emulator.shutdown().await;
}

/// EnableOrganizationAdminAccount enables Detective's trusted access on the caller's behalf: the
/// Organizations listing shows it afterwards (and the new delegated administrator may list it).
#[tokio::test]
async fn delegating_the_detective_administrator_grants_detective_trusted_access() {
    let emulator = start_emulator().await;
    emulator.seed_organization(&OrganizationSeed::new("o-trusted002", MANAGEMENT, 0, 2, SECURITY));
    let url = emulator.endpoint_url();
    detective_client(&url, MANAGEMENT, "us-east-1")
        .enable_organization_admin_account()
        .account_id(SECURITY)
        .send()
        .await
        .expect("EnableOrganizationAdminAccount");
    assert_eq!(trusted(&organizations_client(&url, MANAGEMENT)).await, [DETECTIVE]);
    assert_eq!(
        trusted(&organizations_client(&url, SECURITY)).await,
        [DETECTIVE],
        "the delegated administrator may list it"
    );
    let state = fixtures::http(&url, "GET", "/_emulator/state", None).await.json();
    let roles = state["serviceLinkedRoles"]
        .as_array()
        .expect("serviceLinkedRoles in the state");
    assert_eq!(roles.len(), 1, "{roles:?}");
    assert_eq!(
        roles[0]["accountId"], MANAGEMENT,
        "the role is the management account's"
    );
    assert_eq!(roles[0]["roleName"], "AWSServiceRoleForDetective");

    let management = organizations_client(&url, MANAGEMENT);
    let deregister = || {
        management
            .deregister_delegated_administrator()
            .account_id(SECURITY)
            .service_principal(DETECTIVE)
            .send()
    };
    let refused = organizations_client(&url, SECURITY)
        .deregister_delegated_administrator()
        .account_id(SECURITY)
        .service_principal(DETECTIVE)
        .send();
    assert_refused(
        refused,
        "AccessDeniedException",
        "only the management account deregisters",
    )
    .await;
    deregister().await.expect("DeregisterDelegatedAdministrator");
    let listed = management
        .list_delegated_administrators()
        .service_principal(DETECTIVE)
        .send()
        .await
        .expect("ListDelegatedAdministrators");
    assert!(listed.delegated_administrators().is_empty(), "{listed:?}");
    assert_refused(deregister(), "AccountNotRegisteredException", "deregistering again").await;
    emulator.shutdown().await;
}
