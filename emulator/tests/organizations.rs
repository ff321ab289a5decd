//! AWS Organizations in the emulator, driven by the real `aws-sdk-organizations` client (and
//! `aws-sdk-detective` for Detective's organization operations): the OU tree, the page limit and
//! the empty-page quirk, who may call, world edits seen by the next listing, and what Detective
//! does when accounts join or leave the organization.

mod fixtures;

use std::time::Instant;

use aws_sdk_organizations::operation::list_accounts::ListAccountsError;
use aws_sdk_organizations::operation::list_accounts_for_parent::ListAccountsForParentError;
use aws_sdk_organizations::types::{AccountState, AccountStatus, ChildType, InvalidInputExceptionReason, ParentType};
use detective_emulator::{
    AccountConfig, AccountState as WorldAccountState, Emulator, Fault, InvitationType, MemberStatus,
    OrganizationConfig, OrganizationSeed, OrganizationalUnitConfig, WorldConfig, WorldPatch,
};
use fixtures::{
    REGION, assert_refused, create_graph, detective_client, http, organizations_client, start_emulator,
    start_emulator_with,
};

const ORGANIZATION: &str = "o-exampleorg01";
const ROOT: &str = "r-exampleorg01";
const PRODUCTION: &str = "ou-exampleorg01-00000001";
const WEB: &str = "ou-exampleorg01-00000002";
const SANDBOX: &str = "ou-exampleorg01-00000003";
const MANAGEMENT: &str = "900000000000";
/// Will be the delegated Detective administrator.
const SECURITY: &str = "900000000001";
const WEB_1: &str = "900000000011";
const WEB_2: &str = "900000000012";
const SANDBOX_1: &str = "900000000021";
/// Delegated administrator of some other service, declared in the world.
const AUDIT: &str = "900000000031";
const OUTSIDER: &str = "333333333333";

fn unit(id: &str, name: &str, parent: Option<&str>) -> OrganizationalUnitConfig {
    OrganizationalUnitConfig {
        id: id.to_owned(),
        name: name.to_owned(),
        parent_id: parent.map(str::to_owned),
    }
}

fn member(id: &str, parent: Option<&str>) -> AccountConfig {
    AccountConfig {
        organization: Some(ORGANIZATION.to_owned()),
        parent_id: parent.map(str::to_owned),
        name: Some(format!("name-{id}")),
        ..AccountConfig::new(id, format!("root+{id}@example.com"))
    }
}

/// Root ─ Production ─ Web (WEB_1, WEB_2); Root ─ Sandbox (SANDBOX_1); SECURITY and AUDIT in
/// the root; the management account implied by the organization.
fn organization() -> OrganizationConfig {
    OrganizationConfig {
        id: ORGANIZATION.to_owned(),
        management_account: MANAGEMENT.to_owned(),
        root_id: None,
        organizational_units: vec![
            unit(WEB, "Web", Some(PRODUCTION)),
            unit(PRODUCTION, "Production", None),
            unit(SANDBOX, "Sandbox", Some(ROOT)),
        ],
        delegated_administrators: vec![AUDIT.to_owned()],
        empty_first_pages: false,
        page_size_limit: None,
    }
}

fn small_world() -> WorldConfig {
    WorldConfig {
        organizations: vec![organization()],
        accounts: vec![
            member(SECURITY, None),
            member(WEB_1, Some(WEB)),
            member(WEB_2, Some(WEB)),
            member(SANDBOX_1, Some(SANDBOX)),
            member(AUDIT, None),
            AccountConfig::new(OUTSIDER, "outsider@example.com"),
        ],
        ..WorldConfig::default()
    }
}

async fn accounts_under(client: &aws_sdk_organizations::Client, parent: &str) -> Vec<String> {
    let pages: Vec<_> = client
        .list_accounts_for_parent()
        .parent_id(parent)
        .into_paginator()
        .send()
        .collect::<Vec<_>>()
        .await;
    pages
        .into_iter()
        .flat_map(|page| page.expect("ListAccountsForParent").accounts.unwrap_or_default())
        .map(|account| account.id.expect("Id"))
        .collect()
}

#[tokio::test]
async fn the_management_account_walks_roots_units_and_accounts() {
    let emulator = start_emulator_with(small_world()).await;
    let client = organizations_client(&emulator.endpoint_url(), MANAGEMENT);

    let described = client
        .describe_organization()
        .send()
        .await
        .expect("DescribeOrganization");
    let organization = described.organization().expect("Organization");
    assert_eq!(organization.id(), Some(ORGANIZATION));
    assert_eq!(organization.master_account_id(), Some(MANAGEMENT));
    assert_eq!(
        organization.arn(),
        Some(format!("arn:aws:organizations::{MANAGEMENT}:organization/{ORGANIZATION}").as_str())
    );

    let roots = client.list_roots().send().await.expect("ListRoots");
    assert_eq!(roots.roots().len(), 1);
    assert_eq!(roots.roots()[0].id(), Some(ROOT));
    assert!(roots.next_token().is_none());

    let top = client
        .list_organizational_units_for_parent()
        .parent_id(ROOT)
        .send()
        .await
        .expect("ListOrganizationalUnitsForParent");
    let names: Vec<_> = top
        .organizational_units()
        .iter()
        .map(|unit| (unit.id().unwrap_or_default(), unit.name().unwrap_or_default()))
        .collect();
    assert_eq!(names, vec![(PRODUCTION, "Production"), (SANDBOX, "Sandbox")]);
    let nested = client
        .list_organizational_units_for_parent()
        .parent_id(PRODUCTION)
        .send()
        .await
        .expect("ListOrganizationalUnitsForParent");
    assert_eq!(nested.organizational_units()[0].id(), Some(WEB));

    // An OU's own accounts only; the root's are those in no OU, the management account among them.
    assert_eq!(accounts_under(&client, WEB).await, vec![WEB_1, WEB_2]);
    assert!(accounts_under(&client, PRODUCTION).await.is_empty());
    assert_eq!(accounts_under(&client, ROOT).await, vec![MANAGEMENT, SECURITY, AUDIT]);

    let listed = client.list_accounts().send().await.expect("ListAccounts");
    assert_eq!(listed.accounts().len(), 6);
    let web_1 = listed
        .accounts()
        .iter()
        .find(|account| account.id() == Some(WEB_1))
        .expect("listed");
    assert_eq!(web_1.email(), Some(format!("root+{WEB_1}@example.com").as_str()));
    assert_eq!(web_1.name(), Some(format!("name-{WEB_1}").as_str()));
    assert_eq!(web_1.state(), Some(&AccountState::Active));
    assert_eq!(web_1.status(), Some(&AccountStatus::Active));
    assert!(web_1.joined_timestamp().is_some());
    assert_eq!(
        web_1.arn(),
        Some(format!("arn:aws:organizations::{MANAGEMENT}:account/{ORGANIZATION}/{WEB_1}").as_str())
    );

    let children = client
        .list_children()
        .parent_id(ROOT)
        .child_type(ChildType::OrganizationalUnit)
        .send()
        .await
        .expect("ListChildren");
    assert_eq!(children.children().len(), 2);
    let unit = client
        .describe_organizational_unit()
        .organizational_unit_id(WEB)
        .send()
        .await
        .expect("DescribeOrganizationalUnit");
    assert_eq!(unit.organizational_unit().and_then(|unit| unit.name()), Some("Web"));
    let parents = client.list_parents().child_id(WEB_1).send().await.expect("ListParents");
    assert_eq!(parents.parents()[0].id(), Some(WEB));
    assert_eq!(parents.parents()[0].r#type(), Some(&ParentType::OrganizationalUnit));
    let account = client
        .describe_account()
        .account_id(SANDBOX_1)
        .send()
        .await
        .expect("DescribeAccount");
    assert_eq!(account.account().and_then(|account| account.id()), Some(SANDBOX_1));

    // Bad ids and unknown parents.
    let err = client
        .list_accounts_for_parent()
        .parent_id("ou-nope")
        .send()
        .await
        .expect_err("malformed ParentId");
    match err.into_service_error() {
        ListAccountsForParentError::InvalidInputException(err) => {
            assert_eq!(err.reason(), Some(&InvalidInputExceptionReason::InvalidPattern));
        }
        other => panic!("expected InvalidInputException, got {other:?}"),
    }
    assert_refused(
        client
            .list_accounts_for_parent()
            .parent_id("ou-exampleorg01-99999999")
            .send(),
        "ParentNotFoundException",
        "unknown OU",
    )
    .await;
    assert_refused(
        client
            .describe_organizational_unit()
            .organizational_unit_id("ou-exampleorg01-99999999")
            .send(),
        "OrganizationalUnitNotFoundException",
        "unknown OU",
    )
    .await;
    emulator.shutdown().await;
}

#[tokio::test]
async fn pages_hold_at_most_20_accounts_and_21_is_refused() {
    let emulator = start_emulator().await;
    // 45 members and the management account, all in the root.
    emulator.seed_organization(&OrganizationSeed::new(
        "o-pages00001",
        MANAGEMENT,
        0,
        45,
        "900000000001",
    ));
    let client = organizations_client(&emulator.endpoint_url(), MANAGEMENT);

    let sizes: Vec<usize> = client
        .list_accounts()
        .max_results(20)
        .into_paginator()
        .send()
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .map(|page| page.expect("ListAccounts").accounts().len())
        .collect();
    assert_eq!(sizes, vec![20, 20, 6]);
    let default_page = client.list_accounts().send().await.expect("ListAccounts");
    assert_eq!(default_page.accounts().len(), 20, "no MaxResults: pages of 20");

    for (max_results, reason) in [
        (21, InvalidInputExceptionReason::MaxValueExceeded),
        (0, InvalidInputExceptionReason::MinValueExceeded),
    ] {
        let err = client
            .list_accounts()
            .max_results(max_results)
            .send()
            .await
            .expect_err("MaxResults out of range");
        match err.into_service_error() {
            ListAccountsError::InvalidInputException(err) => assert_eq!(err.reason(), Some(&reason)),
            other => panic!("expected InvalidInputException, got {other:?}"),
        }
    }
    let err = client
        .list_accounts()
        .next_token("not-a-token")
        .send()
        .await
        .expect_err("forged NextToken");
    match err.into_service_error() {
        ListAccountsError::InvalidInputException(err) => {
            assert_eq!(err.reason(), Some(&InvalidInputExceptionReason::InvalidPaginationToken));
        }
        other => panic!("expected InvalidInputException, got {other:?}"),
    }
    emulator.shutdown().await;
}

#[tokio::test]
async fn a_paginator_survives_an_empty_page_with_a_next_token() {
    let mut world = small_world();
    world.organizations[0].empty_first_pages = true;
    world.organizations[0].page_size_limit = Some(1);
    let emulator = start_emulator_with(world).await;
    let client = organizations_client(&emulator.endpoint_url(), MANAGEMENT);

    let first = client
        .list_accounts_for_parent()
        .parent_id(WEB)
        .max_results(20)
        .send()
        .await
        .expect("ListAccountsForParent");
    assert!(first.accounts().is_empty(), "the first page is empty");
    assert!(first.next_token().is_some(), "... and says there is more");
    let second = client
        .list_accounts_for_parent()
        .parent_id(WEB)
        .max_results(20)
        .next_token(first.next_token().unwrap_or_default())
        .send()
        .await
        .expect("ListAccountsForParent");
    assert_eq!(second.accounts().len(), 1, "a page may hold fewer than MaxResults");

    emulator.reset_calls();
    assert_eq!(accounts_under(&client, WEB).await, vec![WEB_1, WEB_2]);
    assert_eq!(
        emulator.calls().get("ListAccountsForParent"),
        Some(&3),
        "empty page, then one per account"
    );
    // A parent with nothing to list answers one empty page without a token.
    assert!(accounts_under(&client, PRODUCTION).await.is_empty());
    emulator.shutdown().await;
}

#[tokio::test]
async fn only_the_management_account_and_delegated_administrators_may_list() {
    let emulator = start_emulator_with(small_world()).await;
    let url = emulator.endpoint_url();

    // Any account of the organization may describe it, an ordinary member not list it.
    let ordinary = organizations_client(&url, WEB_1);
    let described = ordinary
        .describe_organization()
        .send()
        .await
        .expect("DescribeOrganization");
    assert_eq!(described.organization().and_then(|o| o.id()), Some(ORGANIZATION));
    assert_refused(ordinary.list_roots().send(), "AccessDeniedException", "ordinary member").await;
    assert_refused(
        ordinary.list_accounts().send(),
        "AccessDeniedException",
        "ordinary member",
    )
    .await;

    // An account in no organization.
    assert_refused(
        organizations_client(&url, OUTSIDER).list_accounts().send(),
        "AWSOrganizationsNotInUseException",
        "not in an organization",
    )
    .await;

    // A delegated administrator of another service.
    organizations_client(&url, AUDIT)
        .list_accounts()
        .send()
        .await
        .expect("delegated administrator lists");

    // The Detective administrator qualifies once the management account delegated it.
    let security = organizations_client(&url, SECURITY);
    assert_refused(
        security.list_roots().send(),
        "AccessDeniedException",
        "not yet delegated",
    )
    .await;
    fixtures::enable_organization_admin(&detective_client(&url, MANAGEMENT, REGION), SECURITY).await;
    security
        .list_roots()
        .send()
        .await
        .expect("Detective administrator lists");
    emulator.shutdown().await;
}

#[tokio::test]
async fn world_edits_show_in_the_next_listing() {
    let emulator = start_emulator_with(small_world()).await;
    let url = emulator.endpoint_url();
    let client = organizations_client(&url, MANAGEMENT);
    assert_eq!(accounts_under(&client, WEB).await, vec![WEB_1, WEB_2]);

    // Move WEB_2 to Sandbox and suspend SANDBOX_1 through the control endpoint.
    let patch = serde_json::json!({"accounts": [
        {"accountId": WEB_2, "email": "root+web2@example.com", "organization": ORGANIZATION, "parentId": SANDBOX},
        {"accountId": SANDBOX_1, "organization": ORGANIZATION, "parentId": SANDBOX, "state": "SUSPENDED"},
    ]});
    let answer = http(&url, "PATCH", "/_emulator/world", Some(&patch.to_string())).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(accounts_under(&client, WEB).await, vec![WEB_1]);
    assert_eq!(accounts_under(&client, SANDBOX).await, vec![WEB_2, SANDBOX_1]);
    let sandbox = client
        .list_accounts_for_parent()
        .parent_id(SANDBOX)
        .send()
        .await
        .expect("ListAccountsForParent");
    let suspended = sandbox
        .accounts()
        .iter()
        .find(|account| account.id() == Some(SANDBOX_1))
        .expect("suspended accounts are listed");
    assert_eq!(suspended.state(), Some(&AccountState::Suspended));
    assert_eq!(suspended.status(), Some(&AccountStatus::Suspended));

    // A new account joins the Web OU; its join time is the emulator clock.
    let before = emulator.now();
    emulator.merge_world(WorldPatch {
        accounts: vec![member("900000000013", Some(WEB))],
        ..WorldPatch::default()
    });
    let joined = client
        .describe_account()
        .account_id("900000000013")
        .send()
        .await
        .expect("DescribeAccount")
        .account
        .and_then(|account| account.joined_timestamp)
        .expect("JoinedTimestamp");
    assert!(joined.secs() >= before.as_second(), "joined {joined} before {before}");
    assert_eq!(accounts_under(&client, WEB).await, vec![WEB_1, "900000000013"]);

    // A parent outside the organization is refused, naming the field.
    let bad = serde_json::json!({"accounts": [
        {"accountId": WEB_1, "organization": ORGANIZATION, "parentId": "ou-otherorg-00000001"},
    ]});
    let answer = http(&url, "PATCH", "/_emulator/world", Some(&bad.to_string())).await;
    assert_eq!(answer.status, 400, "{}", answer.body);
    assert!(answer.body.contains("parentId"), "{}", answer.body);
    assert_eq!(
        accounts_under(&client, WEB).await,
        vec![WEB_1, "900000000013"],
        "unchanged"
    );
    emulator.shutdown().await;
}

#[tokio::test]
async fn detective_organization_administration_is_for_the_management_account() {
    let emulator = start_emulator_with(small_world()).await;
    let url = emulator.endpoint_url();
    let management = detective_client(&url, MANAGEMENT, REGION);
    let member = detective_client(&url, WEB_1, REGION);

    assert_refused(
        member.enable_organization_admin_account().account_id(SECURITY).send(),
        "AccessDeniedException",
        "a member account",
    )
    .await;
    assert_refused(
        member.list_organization_admin_accounts().send(),
        "AccessDeniedException",
        "a member account",
    )
    .await;

    fixtures::enable_organization_admin(&management, SECURITY).await;
    let admins = fixtures::organization_admins(&management).await;
    let graph = admins[0].graph_arn().expect("GraphArn").to_owned();

    // The organization configuration belongs to the delegated administrator, not the management account.
    assert_refused(
        management
            .describe_organization_configuration()
            .graph_arn(&graph)
            .send(),
        "AccessDeniedException",
        "management account",
    )
    .await;
    let security = detective_client(&url, SECURITY, REGION);
    security
        .describe_organization_configuration()
        .graph_arn(&graph)
        .send()
        .await
        .expect("DescribeOrganizationConfiguration by the delegated administrator");

    // Even the delegated administrator cannot remove itself; a member cannot either.
    for client in [&member, &security] {
        assert_refused(
            client.disable_organization_admin_account().send(),
            "AccessDeniedException",
            "not the management account",
        )
        .await;
    }
    assert_eq!(emulator.graphs().len(), 1, "the organization graph is still there");
    management
        .disable_organization_admin_account()
        .send()
        .await
        .expect("DisableOrganizationAdminAccount");
    assert!(
        emulator.graphs().is_empty(),
        "disabling deletes the organization graph in the Region"
    );
    emulator.shutdown().await;
}

#[tokio::test]
async fn accounts_that_join_are_auto_enabled_and_accounts_that_leave_are_removed() {
    let emulator = start_emulator_with(small_world()).await;
    let url = emulator.endpoint_url();
    fixtures::enable_organization_admin(&detective_client(&url, MANAGEMENT, REGION), SECURITY).await;
    let security = detective_client(&url, SECURITY, REGION);
    let graph = create_graph(&security).await;
    fixtures::create_members(&security, &graph, &[(WEB_1, &format!("root+{WEB_1}@example.com"))]).await;
    fixtures::invite(&security, &graph, OUTSIDER, "outsider@example.com").await;
    security
        .update_organization_configuration()
        .graph_arn(&graph)
        .auto_enable(true)
        .send()
        .await
        .expect("UpdateOrganizationConfiguration");

    // Two accounts join: one enrolled in GuardDuty, one not.
    let not_enrolled = AccountConfig {
        guard_duty_enrolled: false,
        ..member("900000000041", Some(SANDBOX))
    };
    emulator.merge_world(WorldPatch {
        accounts: vec![member("900000000040", Some(WEB)), not_enrolled],
        ..WorldPatch::default()
    });
    let members = emulator.members(&graph);
    let find = |id: &str| members.iter().find(|m| m.account_id == id).cloned();
    let joined = find("900000000040").expect("auto-enabled");
    assert_eq!(joined.status, MemberStatus::Enabled);
    assert_eq!(joined.invitation_type, InvitationType::Organization);
    let disabled = find("900000000041").expect("auto-enabled");
    assert_eq!(disabled.status, MemberStatus::AcceptedButDisabled);
    assert_eq!(disabled.invitation_type, InvitationType::Organization);
    assert!(
        find(SANDBOX_1).is_none(),
        "accounts already in the organization are not swept in"
    );

    // A suspended account that joins is not enabled.
    emulator.merge_world(WorldPatch {
        accounts: vec![AccountConfig {
            state: WorldAccountState::Suspended,
            ..member("900000000042", None)
        }],
        ..WorldPatch::default()
    });
    assert!(emulator.members(&graph).iter().all(|m| m.account_id != "900000000042"));

    // WEB_1 and 900000000040 leave the organization: AWS removes them; the invited outsider stays.
    emulator.merge_world(WorldPatch {
        accounts: vec![AccountConfig::new(WEB_1, ""), AccountConfig::new("900000000040", "")],
        ..WorldPatch::default()
    });
    let remaining: Vec<String> = emulator.members(&graph).into_iter().map(|m| m.account_id).collect();
    assert_eq!(remaining, vec![OUTSIDER.to_owned(), "900000000041".to_owned()]);
    emulator.shutdown().await;
}

#[tokio::test]
async fn organizations_calls_are_counted_and_can_be_faulted() {
    let emulator = start_emulator_with(small_world()).await;
    let client = organizations_client(&emulator.endpoint_url(), MANAGEMENT);
    emulator.inject_fault(Fault::throttle().on("ListAccounts").times(2));
    client
        .list_accounts()
        .send()
        .await
        .expect("succeeds on the third attempt");
    assert_eq!(emulator.calls().get("ListAccounts"), Some(&3));
    emulator.shutdown().await;
}

/// A 1,200-account organization in 40 OUs for benchmarks: seeding it is one control call, and
/// walking it with the SDK paginators finds every account and OU. Prints the figures.
#[tokio::test]
async fn an_organization_of_1200_accounts_in_40_units_is_seeded_with_one_call() {
    let emulator: Emulator = start_emulator().await;
    let url = emulator.endpoint_url();
    let seed = serde_json::json!({
        "id": "o-benchmark01",
        "managementAccount": MANAGEMENT,
        "organizationalUnits": 40,
        "accounts": 1200,
        "firstAccountId": "800000000001",
    });
    let started = Instant::now();
    let answer = http(&url, "POST", "/_emulator/world/organization", Some(&seed.to_string())).await;
    let seeding = started.elapsed();
    assert_eq!(answer.status, 200, "{}", answer.body);

    let client = organizations_client(&url, MANAGEMENT);
    let started = Instant::now();
    let root = client.list_roots().send().await.expect("ListRoots").roots()[0]
        .id()
        .expect("root id")
        .to_owned();
    let mut parents = vec![root];
    let mut units = 0;
    let mut accounts = 0;
    while let Some(parent) = parents.pop() {
        let pages: Vec<_> = client
            .list_organizational_units_for_parent()
            .parent_id(&parent)
            .into_paginator()
            .send()
            .collect::<Vec<_>>()
            .await;
        for page in pages {
            for unit in page
                .expect("ListOrganizationalUnitsForParent")
                .organizational_units
                .unwrap_or_default()
            {
                units += 1;
                parents.push(unit.id.expect("Id"));
            }
        }
        accounts += accounts_under(&client, &parent).await.len();
    }
    let walking = started.elapsed();
    assert_eq!(units, 40);
    assert_eq!(accounts, 1201, "1,200 members and the management account");
    let calls = emulator.calls();
    let account_pages = calls.get("ListAccountsForParent").copied().unwrap_or_default();
    let unit_pages = calls
        .get("ListOrganizationalUnitsForParent")
        .copied()
        .unwrap_or_default();
    println!(
        "seeded 1,200 accounts in 40 OUs in {seeding:?}; walked in {walking:?} with \
         {account_pages} ListAccountsForParent and {unit_pages} ListOrganizationalUnitsForParent pages"
    );
    emulator.shutdown().await;
}
