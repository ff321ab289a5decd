//! The AWS Organizations port: the organization reads `spec.membersFrom.organization` needs, and
//! those `DetectiveOrganizationAdmin` makes to learn the organization's one Detective
//! administrator (its delegated administrator for Detective), and its adapter on
//! `aws-sdk-organizations` (the same SDK family as the Detective client, so the
//! shared HTTP client, credentials, retries and error classification are the same).
//!
//! Organizations is a global service: one endpoint per partition (`organizations.us-east-1.
//! amazonaws.com` in `aws`), signed for that partition's home Region. [`home_region`] picks it
//! from the graph's Region; an endpoint override follows the SDK's own variables
//! (`AWS_ENDPOINT_URL_ORGANIZATIONS`, `AWS_ENDPOINT_URL`).

use std::future::Future;
use std::sync::Arc;

use aws_sdk_organizations::Client;
use aws_sdk_organizations::types::{Account, AccountState, DelegatedAdministrator, OrganizationalUnit, Root};

use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use super::AwsError;
use super::traced::all_pages;
use crate::metrics::Metrics;

/// The Organizations page limit (MaxResults is 1–20).
const PAGE_SIZE: i32 = 20;

/// Detective's service principal in AWS Organizations: EnableOrganizationAdminAccount registers
/// the organization's Detective administrator as the delegated administrator for it.
pub const DETECTIVE_SERVICE_PRINCIPAL: &str = "detective.amazonaws.com";

/// One account of the organization, as the listing operations report it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OrganizationAccount {
    pub account_id: String,
    /// The account's root e-mail (what Detective's CreateMembers needs).
    pub email_address: String,
    /// `State` is ACTIVE: not PENDING_ACTIVATION, SUSPENDED, PENDING_CLOSURE or CLOSED. The
    /// retired `Status` is never read: an account without `State` is not active.
    pub active: bool,
    /// Where the account sits (`Paths`: `o-…/r-…/ou-…/…/<account id>/`), or `None` when the
    /// answer has no such field (Organizations before it had one).
    pub paths: Option<Vec<String>>,
}

impl OrganizationAccount {
    /// Whether one of its paths runs through `parent_id` (a root or an OU id).
    pub fn is_under(&self, parent_id: &str) -> bool {
        self.paths
            .iter()
            .flatten()
            .any(|path| path.split('/').any(|part| part == parent_id))
    }
}

/// The Organizations reads the operator makes, as one principal.
pub trait Organizations: Send + Sync {
    /// The organization's roots (one in practice).
    fn list_roots(&self) -> impl Future<Output = Result<Vec<String>, AwsError>> + Send;
    /// Every account of the organization (ListAccounts, all pages).
    fn list_accounts(&self) -> impl Future<Output = Result<Vec<OrganizationAccount>, AwsError>> + Send;
    /// Every account of the organization with its `Paths` (ListAccounts, all pages), or `None`
    /// as soon as the first page that holds accounts has none with `Paths`: the listing stops
    /// there, one call spent, and the caller walks the OUs instead.
    fn list_accounts_with_paths(
        &self,
    ) -> impl Future<Output = Result<Option<Vec<OrganizationAccount>>, AwsError>> + Send;
    /// The accounts directly under a root or OU, not those of its child OUs (all pages).
    fn list_accounts_for_parent(
        &self,
        parent_id: &str,
    ) -> impl Future<Output = Result<Vec<OrganizationAccount>, AwsError>> + Send;
    /// The OUs directly under a root or OU (all pages).
    fn list_organizational_units_for_parent(
        &self,
        parent_id: &str,
    ) -> impl Future<Output = Result<Vec<String>, AwsError>> + Send;
    /// The accounts registered as the organization's delegated administrators for
    /// `service_principal` (ListDelegatedAdministrators, all pages).
    fn delegated_administrators(
        &self,
        service_principal: &str,
    ) -> impl Future<Output = Result<Vec<String>, AwsError>> + Send;
    /// The organization's management account (DescribeOrganization), when it is told.
    fn management_account(&self) -> impl Future<Output = Result<Option<String>, AwsError>> + Send;
}

/// Organizations as a principal, for the engine: the AWS access gives one per (Region, role).
pub trait ReachOrganizations: Send + Sync {
    type Client: Organizations;
    /// The Organizations client of the partition of `region` (else the operator's default
    /// Region), as `role` when given.
    fn organizations(
        &self,
        region: Option<&str>,
        role: Option<&super::RoleToAssume>,
    ) -> impl Future<Output = Result<Self::Client, AwsError>> + Send;
}

/// The Region an Organizations client of a graph in `region` is configured with: the home Region
/// of the partition, where the global endpoint lives and requests are signed. The isolated
/// partitions (`us-iso-*`, `eu-isoe-*`, `eusc-*`, ...) keep the graph's Region, which the SDK's
/// endpoint rules resolve within the partition.
pub fn home_region(region: &str) -> &str {
    if region.starts_with("cn-") {
        "cn-northwest-1"
    } else if region.starts_with("us-gov-") {
        "us-gov-west-1"
    } else if region.contains("-iso") || region.starts_with("eusc-") {
        region
    } else {
        "us-east-1"
    }
}

/// The port on one SDK client.
#[derive(Clone, Debug)]
pub struct SdkOrganizations {
    client: Client,
    metrics: Arc<Metrics>,
}

impl SdkOrganizations {
    pub fn new(client: Client, metrics: Arc<Metrics>) -> Self {
        Self { client, metrics }
    }

    /// One page's result, classified, counted and logged ([`super::traced`]).
    fn traced<T, E, R>(&self, operation: &'static str, page: Result<T, SdkError<E, R>>) -> Result<T, AwsError>
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
        R: std::fmt::Debug + Send + Sync + 'static,
    {
        // A global service: no Region to blame.
        super::traced::traced(&self.metrics, "Organizations", None, operation, page)
    }
}

fn account(account: &Account) -> OrganizationAccount {
    OrganizationAccount {
        account_id: account.id().unwrap_or_default().to_owned(),
        email_address: account.email().unwrap_or_default().to_owned(),
        active: account.state() == Some(&AccountState::Active),
        paths: account.paths.clone(),
    }
}

impl Organizations for SdkOrganizations {
    async fn list_roots(&self) -> Result<Vec<String>, AwsError> {
        let request = self.client.list_roots();
        all_pages!(self, "ListRoots", request, |page| ids(page.roots(), Root::id))
    }

    async fn list_accounts(&self) -> Result<Vec<OrganizationAccount>, AwsError> {
        let request = self.client.list_accounts();
        all_pages!(self, "ListAccounts", request, |page| accounts(page.accounts()))
    }

    async fn list_accounts_with_paths(&self) -> Result<Option<Vec<OrganizationAccount>>, AwsError> {
        let mut pages = self.client.list_accounts().into_paginator().page_size(PAGE_SIZE).send();
        let mut found = Vec::new();
        while let Some(page) = pages.next().await {
            let page = self.traced("ListAccounts", page)?;
            // A page may be empty with more to come: the first page with accounts decides.
            if found.is_empty() && !page.accounts().is_empty() && page.accounts().iter().all(|a| a.paths.is_none()) {
                return Ok(None);
            }
            found.extend(accounts(page.accounts()));
        }
        Ok(Some(found))
    }

    async fn list_accounts_for_parent(&self, parent_id: &str) -> Result<Vec<OrganizationAccount>, AwsError> {
        let request = self.client.list_accounts_for_parent().parent_id(parent_id);
        all_pages!(self, "ListAccountsForParent", request, |page| accounts(page.accounts()))
    }

    async fn list_organizational_units_for_parent(&self, parent_id: &str) -> Result<Vec<String>, AwsError> {
        let request = self.client.list_organizational_units_for_parent().parent_id(parent_id);
        all_pages!(self, "ListOrganizationalUnitsForParent", request, |page| {
            ids(page.organizational_units(), OrganizationalUnit::id)
        })
    }

    async fn delegated_administrators(&self, service_principal: &str) -> Result<Vec<String>, AwsError> {
        let request = self
            .client
            .list_delegated_administrators()
            .service_principal(service_principal);
        all_pages!(self, "ListDelegatedAdministrators", request, |page| {
            ids(page.delegated_administrators(), DelegatedAdministrator::id)
        })
    }

    async fn management_account(&self) -> Result<Option<String>, AwsError> {
        let output = self.traced("DescribeOrganization", self.client.describe_organization().send().await)?;
        Ok(output
            .organization()
            .and_then(|organization| organization.master_account_id())
            .map(str::to_owned))
    }
}

/// A page's accounts.
fn accounts(items: &[Account]) -> impl Iterator<Item = OrganizationAccount> + '_ {
    items.iter().map(account)
}

/// The ids of a page's roots or OUs (an entry without one is skipped).
fn ids<T>(items: &[T], id: fn(&T) -> Option<&str>) -> impl Iterator<Item = String> + '_ {
    items.iter().filter_map(move |item| id(item).map(str::to_owned))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_global_endpoint_of_each_partition() {
        assert_eq!(home_region("eu-west-1"), "us-east-1");
        assert_eq!(home_region("cn-north-1"), "cn-northwest-1");
        assert_eq!(home_region("us-gov-east-1"), "us-gov-west-1");
        assert_eq!(home_region("us-isob-east-1"), "us-isob-east-1");
    }
}
