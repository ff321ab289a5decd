//! The realistic profile's Organizations listings lag behind the world, through the real
//! `aws-sdk-organizations` and `aws-sdk-detective` clients: an account moved between OUs or
//! joining the organization shows in ListAccounts, ListAccountsForParent, ListChildren and
//! ListParents only after `propagationDelay` (the default profile shows it at once); a CLOSED
//! account stays listed for 90 days after its closure, then goes; an account that is not ACTIVE
//! cannot call AWS. Delays are crossed with the emulator clock, never slept.

mod fixtures;

use std::time::Duration;

use aws_sdk_organizations::types::ChildType;
use detective_emulator::{AccountState, Emulator, OrganizationSeed, REALISTIC_PROPAGATION_DELAY, WorldConfig};
use fixtures::{assert_refused, change_account, detective_client, organizations_client, query_call, start_emulator_as};

const ORGANIZATION: &str = "o-orglag00001";
const MANAGEMENT: &str = "940000000000";
/// Seeded in the first OU.
const FIRST: &str = "940000000001";
/// Seeded in the second OU.
const SECOND: &str = "940000000002";
/// Seeded in the first OU.
const THIRD: &str = "940000000003";
/// Not in the organization until it joins.
const JOINING: &str = "940000000009";
const ROOT: &str = "r-orglag00001";
const REGION: &str = "us-east-1";
/// How long before a listing is due a test looks at it: the emulator clock runs with the wall
/// clock, and the calls between a change and the look take some of it.
const MARGIN: Duration = Duration::from_secs(1);

fn seed() -> OrganizationSeed {
    // Two OUs under the root; the accounts alternate between them.
    OrganizationSeed::new(ORGANIZATION, MANAGEMENT, 2, 3, FIRST)
}

fn unit(index: u32) -> String {
    seed().unit_id(index)
}

/// An emulator holding the seeded organization, with `world`'s settings (Organizations'
/// rate limit off: the tests count listings, not throttles); unsigned calls act as `caller`.
async fn organization(world: WorldConfig, caller: &str) -> Emulator {
    let emulator = start_emulator_as(
        caller,
        WorldConfig {
            organizations_rate_limit: Some(0),
            ..world
        },
    )
    .await;
    emulator.seed_organization(&seed());
    emulator
}

async fn move_to(emulator: &Emulator, account_id: &str, parent: &str) {
    change_account(emulator, account_id, |account| {
        account.organization = Some(ORGANIZATION.to_owned());
        account.parent_id = Some(parent.to_owned());
    })
    .await;
}

/// What the membership listings say, as one value: the accounts of the root and of each OU
/// (ListAccountsForParent), the account children of each OU (ListChildren), each account's
/// parent (ListParents, `-` when the account is not found) and every account with its path
/// (ListAccounts).
#[derive(Debug, PartialEq, Eq)]
struct Listings {
    under: Vec<(String, Vec<String>)>,
    children: Vec<(String, Vec<String>)>,
    parents: Vec<(String, String)>,
    accounts: Vec<(String, Vec<String>)>,
}

async fn listings(emulator: &Emulator) -> Listings {
    let client = organizations_client(&emulator.endpoint_url(), MANAGEMENT);
    let parents_listed = [ROOT.to_owned(), unit(0), unit(1)];
    let mut under = Vec::new();
    let mut children = Vec::new();
    for parent in &parents_listed {
        let pages = client
            .list_accounts_for_parent()
            .parent_id(parent)
            .into_paginator()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await
            .expect("ListAccountsForParent");
        let ids = pages.iter().flat_map(|p| p.accounts()).filter_map(|a| a.id());
        under.push((parent.clone(), ids.map(str::to_owned).collect()));
        let pages = client
            .list_children()
            .parent_id(parent)
            .child_type(ChildType::Account)
            .into_paginator()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await
            .expect("ListChildren");
        let ids = pages.iter().flat_map(|p| p.children()).filter_map(|c| c.id());
        children.push((parent.clone(), ids.map(str::to_owned).collect()));
    }
    let mut parents = Vec::new();
    for account in [FIRST, SECOND, THIRD, JOINING] {
        let parent = match client.list_parents().child_id(account).send().await {
            Ok(answer) => answer.parents().iter().filter_map(|p| p.id()).collect(),
            Err(err) => {
                let code = aws_sdk_organizations::error::ProvideErrorMetadata::code(&err);
                assert_eq!(code, Some("ChildNotFoundException"), "{err:?}");
                "-".to_owned()
            }
        };
        parents.push((account.to_owned(), parent));
    }
    let pages = client
        .list_accounts()
        .into_paginator()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .expect("ListAccounts");
    let accounts = pages
        .iter()
        .flat_map(|p| p.accounts())
        .map(|a| (a.id().unwrap_or_default().to_owned(), a.paths().to_vec()))
        .collect();
    Listings {
        under,
        children,
        parents,
        accounts,
    }
}

/// The listings of an organization whose accounts sit where `placed` says (account, parent).
fn expected(placed: &[(&str, String)]) -> Listings {
    let parents_listed = [ROOT.to_owned(), unit(0), unit(1)];
    let under: Vec<(String, Vec<String>)> = parents_listed
        .iter()
        .map(|parent| {
            let ids = placed.iter().filter(|(_, p)| p == parent).map(|(a, _)| (*a).to_owned());
            (parent.clone(), ids.collect())
        })
        .collect();
    let path = |parent: &str| match parent {
        ROOT => format!("{ORGANIZATION}/{ROOT}/"),
        unit => format!("{ORGANIZATION}/{ROOT}/{unit}/"),
    };
    let parents = [FIRST, SECOND, THIRD, JOINING]
        .iter()
        .map(|account| {
            let parent = placed.iter().find(|(a, _)| a == account).map(|(_, p)| p.clone());
            ((*account).to_owned(), parent.unwrap_or_else(|| "-".to_owned()))
        })
        .collect();
    Listings {
        children: under.clone(),
        under,
        parents,
        accounts: placed
            .iter()
            .map(|(account, parent)| ((*account).to_owned(), vec![format!("{}{account}/", path(parent))]))
            .collect(),
    }
}

/// Where the seed places its accounts (in account-id order, the management account first).
fn seeded() -> Vec<(&'static str, String)> {
    vec![
        (MANAGEMENT, ROOT.to_owned()),
        (FIRST, unit(0)),
        (SECOND, unit(1)),
        (THIRD, unit(0)),
    ]
}

#[tokio::test]
async fn moved_and_joining_accounts_show_in_the_listings_after_the_propagation_delay() {
    let emulator = organization(WorldConfig::realistic(), MANAGEMENT).await;
    // The organization appeared whole: no change within it is pending.
    assert_eq!(listings(&emulator).await, expected(&seeded()));

    move_to(&emulator, FIRST, &unit(1)).await;
    move_to(&emulator, JOINING, &unit(1)).await;
    let after = {
        let mut placed = seeded();
        placed[1].1 = unit(1);
        placed.push((JOINING, unit(1)));
        placed
    };
    assert_eq!(
        listings(&emulator).await,
        expected(&seeded()),
        "right after the changes"
    );
    emulator.advance_clock(REALISTIC_PROPAGATION_DELAY - MARGIN);
    assert_eq!(
        listings(&emulator).await,
        expected(&seeded()),
        "a second before the delay"
    );
    emulator.advance_clock(MARGIN);
    assert_eq!(listings(&emulator).await, expected(&after), "once the delay has passed");
    let joined = organizations_client(&emulator.endpoint_url(), MANAGEMENT)
        .describe_account()
        .account_id(JOINING)
        .send()
        .await
        .expect("DescribeAccount of the account that joined");
    assert_eq!(joined.account().and_then(|a| a.id()), Some(JOINING));

    // Two moves a second apart: the first placement, then the second, then the third.
    move_to(&emulator, THIRD, &unit(1)).await;
    emulator.advance_clock(Duration::from_secs(1));
    move_to(&emulator, THIRD, ROOT).await;
    let third_at = |parent: String| {
        let mut placed = after.clone();
        placed[3].1 = parent;
        placed
    };
    assert_eq!(listings(&emulator).await, expected(&third_at(unit(0))));
    emulator.advance_clock(REALISTIC_PROPAGATION_DELAY - Duration::from_secs(1));
    assert_eq!(listings(&emulator).await, expected(&third_at(unit(1))));
    emulator.advance_clock(Duration::from_secs(1));
    assert_eq!(listings(&emulator).await, expected(&third_at(ROOT.to_owned())));
    emulator.shutdown().await;
}

#[tokio::test]
async fn without_a_propagation_delay_changes_show_at_once() {
    let with_paths = WorldConfig {
        account_paths: Some(true),
        ..WorldConfig::default()
    };
    let emulator = organization(with_paths, MANAGEMENT).await;
    move_to(&emulator, FIRST, &unit(1)).await;
    move_to(&emulator, JOINING, ROOT).await;
    let mut placed = seeded();
    placed[1].1 = unit(1);
    placed.push((JOINING, ROOT.to_owned()));
    assert_eq!(listings(&emulator).await, expected(&placed));
    emulator.shutdown().await;
}

/// "Any member account that you close will display a SUSPENDED label next to its account name
/// in the AWS Organizations console for up to 90 days after the original closure date. After 90
/// days, the member account will no longer be displayed" (the API says CLOSED).
#[tokio::test]
async fn a_closed_account_is_listed_for_90_days_after_its_closure() {
    let emulator = organization(WorldConfig::realistic(), MANAGEMENT).await;
    change_account(&emulator, SECOND, |account| account.state = AccountState::Closed).await;
    let closed = emulator
        .world()
        .accounts
        .into_iter()
        .find(|a| a.account_id == SECOND)
        .and_then(|a| a.closed_timestamp)
        .expect("the closure is stamped");
    let since = emulator.now().duration_since(closed);
    assert!(
        since >= jiff::SignedDuration::ZERO && since < jiff::SignedDuration::from_mins(1),
        "stamped with the emulator clock: {closed} ({since} ago)"
    );
    let client = organizations_client(&emulator.endpoint_url(), MANAGEMENT);
    let described = client
        .describe_account()
        .account_id(SECOND)
        .send()
        .await
        .expect("DescribeAccount");
    assert_eq!(
        described.account().and_then(|a| a.state()).map(|s| s.as_str()),
        Some("CLOSED")
    );
    let ninety_days = Duration::from_secs(90 * 24 * 3600);
    emulator.advance_clock(ninety_days - MARGIN);
    assert_eq!(
        listings(&emulator).await,
        expected(&seeded()),
        "listed CLOSED until then"
    );
    emulator.advance_clock(MARGIN);
    let gone: Vec<_> = seeded().into_iter().filter(|(a, _)| *a != SECOND).collect();
    assert_eq!(listings(&emulator).await, expected(&gone), "gone after 90 days");
    assert_refused(
        client.describe_account().account_id(SECOND).send(),
        "AccountNotFoundException",
        "DescribeAccount of an account closed 90 days ago",
    )
    .await;
    emulator.shutdown().await;

    // A world declaring an account closed 100 days ago: not listed from the start.
    let emulator = organization(WorldConfig::realistic(), MANAGEMENT).await;
    let long_ago = emulator.now() - jiff::SignedDuration::from_hours(100 * 24);
    change_account(&emulator, SECOND, |account| {
        account.state = AccountState::Closed;
        account.closed_timestamp = Some(long_ago);
    })
    .await;
    assert_eq!(listings(&emulator).await, expected(&gone));
    emulator.shutdown().await;
}

/// Detective, Organizations, STS and IAM refuse the calls of an account that is SUSPENDED or
/// CLOSED in the realistic profile, and serve it again once it is ACTIVE; the default profile
/// serves it.
#[tokio::test]
async fn an_account_that_is_not_active_cannot_call_aws() {
    for (world, refused) in [(WorldConfig::realistic(), true), (WorldConfig::default(), false)] {
        let emulator = organization(world, SECOND).await;
        let url = emulator.endpoint_url();
        for state in [AccountState::Suspended, AccountState::Closed, AccountState::Active] {
            change_account(&emulator, SECOND, |account| account.state = state).await;
            let case = format!("realistic {refused}, {}", state.as_str());
            let expect_refusal = refused && state != AccountState::Active;
            let detective = detective_client(&url, SECOND, REGION).list_graphs().send().await;
            let organizations = organizations_client(&url, SECOND).describe_organization().send().await;
            let identity = query_call(&url, "Action=GetCallerIdentity&Version=2011-06-15").await;
            if expect_refusal {
                let code = aws_sdk_detective::error::ProvideErrorMetadata::code(detective.as_ref().expect_err(&case));
                assert_eq!(code, Some("UnrecognizedClientException"), "{case}");
                let error = organizations.expect_err(&case);
                let code = aws_sdk_organizations::error::ProvideErrorMetadata::code(&error);
                assert_eq!(code, Some("UnrecognizedClientException"), "{case}");
                assert_eq!(identity.status, 403, "{case}: {}", identity.body);
                assert!(
                    identity.body.contains("InvalidClientTokenId"),
                    "{case}: {}",
                    identity.body
                );
            } else {
                detective.expect(&case);
                organizations.expect(&case);
                assert_eq!(identity.status, 200, "{case}: {}", identity.body);
                assert!(identity.body.contains(SECOND), "{case}: {}", identity.body);
            }
        }
        emulator.shutdown().await;
    }
}
