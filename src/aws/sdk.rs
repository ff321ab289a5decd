//! The adapter: [`Detective`] on `aws-sdk-detective`. Every Detective call the operator makes
//! is here, with the list operations' pages.

use std::collections::BTreeMap;
use std::sync::Arc;

use aws_sdk_detective::Client;
use aws_sdk_detective::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_detective::types::{
    Account, DatasourcePackage, DatasourcePackageIngestState, InvitationType as SdkInvitationType, MemberDetail,
};
use k8s_openapi::jiff::Timestamp;

use super::AwsError;
use super::credentials::RoleIdentity;
use super::port::{
    CreateOutcome, DeleteOutcome, Detective, GraphSummary, Invitation, MembershipIngest, OrganizationAdmin,
    OrganizationAdmins, PackageIngest, PackageStates,
};
use crate::member::{InvitationSettings, InvitationType, Invitee, MemberStatus, ObservedMember, UnprocessedAccount};
use crate::metrics::Metrics;

/// The largest page the list operations allow: 1,200 members in 6 ListMembers calls.
const PAGE_SIZE: i32 = 200;

/// The Detective port on one SDK client (one Region) as one principal: the operator's own, or a
/// role whose credentials each call carries.
#[derive(Clone, Debug)]
pub struct SdkDetective {
    client: Client,
    role: Option<RoleIdentity>,
    /// Where calls are counted.
    metrics: Arc<Metrics>,
}

impl SdkDetective {
    pub(super) fn new(client: Client, role: Option<RoleIdentity>, metrics: Arc<Metrics>) -> Self {
        Self { client, role, metrics }
    }
}

/// Sends `$request` as `$self`'s principal: a role's credentials ride with the call, so that one
/// client per Region serves every role.
macro_rules! sent {
    ($self:ident, $request:expr) => {
        match &$self.role {
            Some(role) => {
                $request
                    .customize()
                    .config_override(role.detective_override())
                    .send()
                    .await
            }
            None => $request.send().await,
        }
    };
}

/// Every page of `$request` ([`PAGE_SIZE`] items a page), each [`sent!`] and traced as
/// `$operation`, gathering what `$items` takes from each page. By hand: the SDK's paginators
/// take no per-call configuration.
macro_rules! every_page {
    ($self:ident, $operation:expr, $request:expr, |$page:ident| $items:expr) => {{
        let mut items = Default::default();
        let mut token: Option<String> = None;
        loop {
            let request = $request.clone().max_results(PAGE_SIZE).set_next_token(token.take());
            let $page = $self.traced($operation, sent!($self, request))?;
            let next = $page.next_token().filter(|t| !t.is_empty()).map(str::to_owned);
            Extend::extend(&mut items, $items);
            match next {
                Some(next) => token = Some(next),
                None => break,
            }
        }
        Ok(items)
    }};
}

fn timestamp(value: Option<&aws_smithy_types::DateTime>) -> Option<Timestamp> {
    value.and_then(|t| Timestamp::new(t.secs(), i32::try_from(t.subsec_nanos()).ok()?).ok())
}

fn observed(detail: &MemberDetail) -> ObservedMember {
    ObservedMember {
        account_id: detail.account_id().unwrap_or_default().to_owned(),
        email_address: detail.email_address().map(str::to_owned),
        status: MemberStatus::parse(detail.status().map(|s| s.as_str()).unwrap_or("UNKNOWN")),
        disabled_reason: detail.disabled_reason().map(|r| r.as_str().to_owned()),
        invitation_type: match detail.invitation_type() {
            Some(SdkInvitationType::Organization) => InvitationType::Organization,
            _ => InvitationType::Invitation,
        },
        invited_time: timestamp(detail.invited_time()),
        updated_time: timestamp(detail.updated_time()),
        ingest: detail
            .datasource_package_ingest_states()
            .into_iter()
            .flatten()
            .map(|(package, state)| (package.as_str().to_owned(), ingest(state)))
            .collect(),
    }
}

fn ingest(state: &DatasourcePackageIngestState) -> PackageIngest {
    PackageIngest::parse(state.as_str())
}

fn unprocessed(items: &[aws_sdk_detective::types::UnprocessedAccount]) -> Vec<UnprocessedAccount> {
    items
        .iter()
        .map(|u| UnprocessedAccount {
            account_id: u.account_id().unwrap_or_default().to_owned(),
            reason: super::error::redact_emails(u.reason().unwrap_or_default()),
        })
        .collect()
}

impl SdkDetective {
    /// One call's (or page's) result, classified, counted and logged ([`super::traced`]).
    fn traced<T, E, R>(&self, operation: &'static str, sent: Result<T, SdkError<E, R>>) -> Result<T, AwsError>
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
        R: std::fmt::Debug + Send + Sync + 'static,
    {
        let region = self.client.config().region().map(|r| r.as_ref());
        super::traced::traced(&self.metrics, "Detective", region, operation, sent)
    }
}

impl Detective for SdkDetective {
    async fn list_graphs(&self) -> Result<Vec<GraphSummary>, AwsError> {
        every_page!(self, "ListGraphs", self.client.list_graphs(), |page| {
            page.graph_list().iter().map(|g| GraphSummary {
                arn: g.arn().unwrap_or_default().to_owned(),
                created_time: timestamp(g.created_time()),
            })
        })
    }

    async fn create_graph(&self, tags: &BTreeMap<String, String>) -> Result<String, AwsError> {
        let mut request = self.client.create_graph();
        if !tags.is_empty() {
            request = request.set_tags(Some(tags.clone().into_iter().collect()));
        }
        let output = self.traced("CreateGraph", sent!(self, request))?;
        output.graph_arn().map(str::to_owned).ok_or_else(|| {
            AwsError::new(
                "CreateGraph",
                super::ErrorKind::Other,
                "MissingGraphArn",
                "the response carries no GraphArn",
            )
        })
    }

    async fn delete_graph(&self, graph_arn: &str) -> Result<(), AwsError> {
        let request = self.client.delete_graph().graph_arn(graph_arn);
        self.traced("DeleteGraph", sent!(self, request).map(drop))
    }

    async fn list_members(&self, graph_arn: &str) -> Result<Vec<ObservedMember>, AwsError> {
        let request = self.client.list_members().graph_arn(graph_arn);
        every_page!(self, "ListMembers", request, |page| page
            .member_details()
            .iter()
            .map(observed))
    }

    async fn create_members(
        &self,
        graph_arn: &str,
        invitees: &[Invitee],
        invitation: &InvitationSettings,
    ) -> Result<CreateOutcome, AwsError> {
        let accounts = invitees
            .iter()
            .map(|invitee| {
                Account::builder()
                    .account_id(&invitee.account_id)
                    .email_address(&invitee.email_address)
                    .build()
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| AwsError::new("CreateMembers", super::ErrorKind::Invalid, "BuildError", e.to_string()))?;
        let request = self
            .client
            .create_members()
            .graph_arn(graph_arn)
            .set_message(invitation.message.clone())
            .disable_email_notification(invitation.disable_email_notification)
            .set_accounts(Some(accounts));
        let output = self.traced("CreateMembers", sent!(self, request))?;
        Ok(CreateOutcome {
            members: output.members().iter().map(observed).collect(),
            unprocessed: unprocessed(output.unprocessed_accounts()),
        })
    }

    async fn delete_members(&self, graph_arn: &str, account_ids: &[String]) -> Result<DeleteOutcome, AwsError> {
        let request = self
            .client
            .delete_members()
            .graph_arn(graph_arn)
            .set_account_ids(Some(account_ids.to_vec()));
        let output = self.traced("DeleteMembers", sent!(self, request))?;
        Ok(DeleteOutcome {
            deleted: output.account_ids().to_vec(),
            unprocessed: unprocessed(output.unprocessed_accounts()),
        })
    }

    async fn start_monitoring_member(&self, graph_arn: &str, account_id: &str) -> Result<(), AwsError> {
        let request = self
            .client
            .start_monitoring_member()
            .graph_arn(graph_arn)
            .account_id(account_id);
        self.traced("StartMonitoringMember", sent!(self, request).map(drop))
    }

    async fn list_tags(&self, graph_arn: &str) -> Result<BTreeMap<String, String>, AwsError> {
        let request = self.client.list_tags_for_resource().resource_arn(graph_arn);
        let output = self.traced("ListTagsForResource", sent!(self, request))?;
        Ok(output.tags().cloned().unwrap_or_default().into_iter().collect())
    }

    async fn list_datasource_packages(&self, graph_arn: &str) -> Result<PackageStates, AwsError> {
        let request = self.client.list_datasource_packages().graph_arn(graph_arn);
        every_page!(self, "ListDatasourcePackages", request, |page| {
            page.datasource_packages()
                .into_iter()
                .flatten()
                .map(|(package, detail)| {
                    let state = detail
                        .datasource_package_ingest_state()
                        .map_or(PackageIngest::Unknown, ingest);
                    (package.as_str().to_owned(), state)
                })
        })
    }

    async fn update_datasource_packages(&self, graph_arn: &str, packages: &[String]) -> Result<(), AwsError> {
        let request = self
            .client
            .update_datasource_packages()
            .graph_arn(graph_arn)
            .set_datasource_packages(Some(
                packages.iter().map(|p| DatasourcePackage::from(p.as_str())).collect(),
            ));
        self.traced("UpdateDatasourcePackages", sent!(self, request).map(drop))
    }

    async fn membership_datasources(&self, graph_arn: &str) -> Result<Option<MembershipIngest>, AwsError> {
        let request = self.client.batch_get_membership_datasources().graph_arns(graph_arn);
        let output = self.traced("BatchGetMembershipDatasources", sent!(self, request))?;
        let Some(found) = output
            .membership_datasources()
            .iter()
            .find(|d| d.graph_arn() == Some(graph_arn))
        else {
            return Ok(None);
        };
        // The history holds when each package last entered each state: the latest is its state now.
        let current = found
            .datasource_package_ingest_history()
            .into_iter()
            .flatten()
            .filter_map(|(package, history)| {
                let (state, since) = history
                    .iter()
                    .map(|(state, at)| (ingest(state), timestamp(at.timestamp())))
                    .max_by_key(|(_, since)| *since)?;
                Some((package.as_str().to_owned(), (state, since)))
            })
            .collect();
        Ok(Some(current))
    }

    async fn tag_resource(&self, graph_arn: &str, tags: &BTreeMap<String, String>) -> Result<(), AwsError> {
        let request = self
            .client
            .tag_resource()
            .resource_arn(graph_arn)
            .set_tags(Some(tags.clone().into_iter().collect()));
        self.traced("TagResource", sent!(self, request).map(drop))
    }

    async fn untag_resource(&self, graph_arn: &str, keys: &[String]) -> Result<(), AwsError> {
        let request = self
            .client
            .untag_resource()
            .resource_arn(graph_arn)
            .set_tag_keys(Some(keys.to_vec()));
        self.traced("UntagResource", sent!(self, request).map(drop))
    }

    async fn list_invitations(&self) -> Result<Vec<Invitation>, AwsError> {
        every_page!(self, "ListInvitations", self.client.list_invitations(), |page| {
            page.invitations().iter().map(|detail| Invitation {
                graph_arn: detail.graph_arn().unwrap_or_default().to_owned(),
                administrator_account_id: detail.administrator_id().map(str::to_owned),
                member: observed(detail),
            })
        })
    }

    async fn accept_invitation(&self, graph_arn: &str) -> Result<(), AwsError> {
        let request = self.client.accept_invitation().graph_arn(graph_arn);
        self.traced("AcceptInvitation", sent!(self, request).map(drop))
    }

    async fn reject_invitation(&self, graph_arn: &str) -> Result<(), AwsError> {
        let request = self.client.reject_invitation().graph_arn(graph_arn);
        self.traced("RejectInvitation", sent!(self, request).map(drop))
    }

    async fn disassociate_membership(&self, graph_arn: &str) -> Result<(), AwsError> {
        let request = self.client.disassociate_membership().graph_arn(graph_arn);
        self.traced("DisassociateMembership", sent!(self, request).map(drop))
    }

    async fn describe_organization_configuration(&self, graph_arn: &str) -> Result<bool, AwsError> {
        let request = self.client.describe_organization_configuration().graph_arn(graph_arn);
        let output = self.traced("DescribeOrganizationConfiguration", sent!(self, request))?;
        Ok(output.auto_enable())
    }

    async fn update_organization_configuration(&self, graph_arn: &str, auto_enable: bool) -> Result<(), AwsError> {
        let request = self
            .client
            .update_organization_configuration()
            .graph_arn(graph_arn)
            .auto_enable(auto_enable);
        self.traced("UpdateOrganizationConfiguration", sent!(self, request).map(drop))
    }
}

impl OrganizationAdmins for SdkDetective {
    async fn list_organization_admin_accounts(&self) -> Result<Vec<OrganizationAdmin>, AwsError> {
        const OPERATION: &str = "ListOrganizationAdminAccounts";
        let request = self.client.list_organization_admin_accounts();
        every_page!(self, OPERATION, request, |page| {
            page.administrators().iter().map(|admin| OrganizationAdmin {
                account_id: admin.account_id().unwrap_or_default().to_owned(),
                graph_arn: admin.graph_arn().map(str::to_owned),
                delegation_time: timestamp(admin.delegation_time()),
            })
        })
    }

    async fn enable_organization_admin_account(&self, account_id: &str) -> Result<(), AwsError> {
        const OPERATION: &str = "EnableOrganizationAdminAccount";
        let request = self.client.enable_organization_admin_account().account_id(account_id);
        self.traced(OPERATION, sent!(self, request).map(drop))
    }

    async fn disable_organization_admin_account(&self) -> Result<(), AwsError> {
        const OPERATION: &str = "DisableOrganizationAdminAccount";
        let request = self.client.disable_organization_admin_account();
        self.traced(OPERATION, sent!(self, request).map(drop))
    }
}
