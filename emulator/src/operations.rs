//! One function per Detective operation: validate the whole input first (a refused request
//! changes nothing), check who may call it, apply it to the service model, and build the output
//! members exactly as the SDK deserializes them.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value, json};

use super::model::{
    Delegation, Graph, InvitationType, MEMBER_QUOTA, Member, MemberStatus, PendingVerification, ServiceState,
};
use super::paging;
use super::prng::SplitMix64;
use super::routes::Operation;
use super::validate::{self, DATASOURCE_PACKAGES, RequestBody};
use super::wire::{self, ApiError};
use super::world::World;

/// Everything an operation may read or change, and who is calling from where.
pub(crate) struct Context<'a> {
    pub state: &'a mut ServiceState,
    pub world: &'a World,
    pub rng: &'a mut SplitMix64,
    pub caller: &'a str,
    pub region: &'a str,
    pub now_ms: i64,
}

/// The parts of an HTTP request an operation reads.
pub(crate) struct Request<'a> {
    pub body: &'a [u8],
    /// Percent-decoded `{ResourceArn}` of the tagging operations.
    pub resource_arn: Option<&'a str>,
    /// Percent-decoded query parameters, in order.
    pub query: &'a [(String, String)],
}

/// A successful answer.
#[derive(Debug)]
pub(crate) enum Reply {
    Json(Value),
    /// No output members: 200 for most operations, 204 for the tagging writes.
    Empty(u16),
}

pub(crate) fn handle(operation: Operation, ctx: &mut Context<'_>, request: &Request<'_>) -> Result<Reply, ApiError> {
    let body = RequestBody::parse(request.body)?;
    match operation {
        Operation::CreateGraph => create_graph(ctx, &body),
        Operation::ListGraphs => list_graphs(ctx, &body),
        Operation::DeleteGraph => delete_graph(ctx, &body),
        Operation::CreateMembers => create_members(ctx, &body),
        Operation::DeleteMembers => delete_members(ctx, &body),
        Operation::GetMembers => get_members(ctx, &body),
        Operation::ListMembers => list_members(ctx, &body),
        Operation::StartMonitoringMember => start_monitoring_member(ctx, &body),
        Operation::AcceptInvitation => accept_invitation(ctx, &body),
        Operation::RejectInvitation => reject_invitation(ctx, &body),
        Operation::DisassociateMembership => disassociate_membership(ctx, &body),
        Operation::ListInvitations => list_invitations(ctx, &body),
        Operation::TagResource => tag_resource(ctx, request, &body),
        Operation::UntagResource => untag_resource(ctx, request),
        Operation::ListTagsForResource => list_tags_for_resource(ctx, request),
        Operation::EnableOrganizationAdminAccount => enable_organization_admin(ctx, &body),
        Operation::DisableOrganizationAdminAccount => disable_organization_admin(ctx),
        Operation::ListOrganizationAdminAccounts => list_organization_admins(ctx, &body),
        Operation::DescribeOrganizationConfiguration => describe_organization_configuration(ctx, &body),
        Operation::UpdateOrganizationConfiguration => update_organization_configuration(ctx, &body),
        Operation::ListDatasourcePackages => list_datasource_packages(ctx, &body),
        Operation::UpdateDatasourcePackages => update_datasource_packages(ctx, &body),
        Operation::BatchGetGraphMemberDatasources => graph_member_datasources(ctx, &body),
        Operation::BatchGetMembershipDatasources => membership_datasources(ctx, &body),
        Operation::GetInvestigation
        | Operation::ListIndicators
        | Operation::ListInvestigations
        | Operation::StartInvestigation
        | Operation::UpdateInvestigationState => Err(ApiError::not_implemented(operation.name())),
    }
}

// ---------------------------------------------------------------------------------------------
// Graph lookup and access rules

impl Context<'_> {
    /// The graph `arn` names, if it exists in the Region the request was sent to: graphs are
    /// regional, so another Region's endpoint does not know it.
    fn graph(&self, arn: &str) -> Result<&Graph, ApiError> {
        self.state
            .graphs
            .get(arn)
            .filter(|graph| graph.region == self.region)
            .ok_or_else(|| graph_not_found(arn, self.region))
    }

    fn graph_mut(&mut self, arn: &str) -> Result<&mut Graph, ApiError> {
        let region = self.region;
        self.state
            .graphs
            .get_mut(arn)
            .filter(|graph| graph.region == region)
            .ok_or_else(|| graph_not_found(arn, region))
    }

    /// A graph for an administrator-only operation.
    fn admin_graph(&self, arn: &str) -> Result<&Graph, ApiError> {
        let graph = self.graph(arn)?;
        ensure_administrator(graph, self.caller)?;
        Ok(graph)
    }

    fn admin_graph_mut(&mut self, arn: &str) -> Result<&mut Graph, ApiError> {
        let caller = self.caller;
        let graph = self.graph_mut(arn)?;
        ensure_administrator(graph, caller)?;
        Ok(graph)
    }

    /// A graph and the caller's membership in it, for the member-only operations.
    fn membership_mut(&mut self, arn: &str) -> Result<(&mut Graph, String), ApiError> {
        let caller = self.caller.to_owned();
        let graph = self.graph_mut(arn)?;
        if graph.administrator_id == caller {
            return Err(ApiError::access_denied(format!(
                "Account {caller} is the administrator of behavior graph {arn}; only an invited \
                 member account can perform this operation"
            )));
        }
        if !graph.members.contains_key(&caller) {
            return Err(ApiError::not_found(format!(
                "Account {caller} has no invitation to or membership in behavior graph {arn}"
            )));
        }
        Ok((graph, caller))
    }

    /// The organization of a graph whose administrator is the organization's delegated
    /// Detective administrator (the "organization behavior graph").
    fn organization_of(&self, graph: &Graph) -> Option<String> {
        self.state
            .delegated_organization(&graph.administrator_id, &graph.region)
            .map(str::to_owned)
    }

    /// The organization whose management account the caller is: only the management account
    /// may name, remove and list the organization's Detective administrators.
    fn managed_organization(&self) -> Result<String, ApiError> {
        match self.world.organization_of(self.caller) {
            Some(organization) if organization.management_account.as_deref() == Some(self.caller) => {
                Ok(organization.id.clone())
            }
            Some(organization) => Err(ApiError::access_denied(format!(
                "Account {} is not the management account of organization {}; only its \
                 management account can perform this operation",
                self.caller, organization.id
            ))),
            None => Err(ApiError::access_denied(format!(
                "Account {} is not the management account of an organization (it belongs to none)",
                self.caller
            ))),
        }
    }

    fn new_graph_arn(&mut self) -> String {
        format!(
            "arn:aws:detective:{}:{}:graph:{}",
            self.region,
            self.caller,
            self.rng.hex(32)
        )
    }
}

fn graph_not_found(arn: &str, region: &str) -> ApiError {
    ApiError::not_found(format!(
        "The request refers to a nonexistent resource: behavior graph {arn} does not exist in {region}"
    ))
}

fn ensure_administrator(graph: &Graph, caller: &str) -> Result<(), ApiError> {
    if graph.administrator_id == caller {
        Ok(())
    } else {
        Err(ApiError::access_denied(format!(
            "Account {caller} is not the administrator account of behavior graph {}; only \
             account {} can perform this operation",
            graph.arn, graph.administrator_id
        )))
    }
}

// ---------------------------------------------------------------------------------------------
// Output shapes

fn member_detail(graph: &Graph, member: &Member) -> Value {
    let enabled = member.status == MemberStatus::Enabled;
    let ingest_states: Map<String, Value> = graph
        .packages
        .iter()
        .map(|(package, state)| {
            let state = if enabled { state.state.as_str() } else { "DISABLED" };
            (package.clone(), json!(state))
        })
        .collect();
    let mut detail = json!({
        "AccountId": member.account_id,
        "GraphArn": graph.arn,
        "AdministratorId": graph.administrator_id,
        "MasterId": graph.administrator_id,
        "Status": member.status.as_str(),
        "InvitedTime": wire::timestamp(member.invited_ms),
        "UpdatedTime": wire::timestamp(member.updated_ms),
        "InvitationType": member.invitation_type.as_str(),
        "DatasourcePackageIngestStates": ingest_states,
    });
    let Value::Object(fields) = &mut detail else {
        return detail;
    };
    if !member.email_address.is_empty() {
        fields.insert("EmailAddress".into(), json!(member.email_address));
    }
    if let Some(reason) = member.disabled_reason {
        fields.insert("DisabledReason".into(), json!(reason.as_str()));
    }
    if enabled {
        // The emulator ingests no data: volumes are reported, as zero, only for members whose
        // data would flow. Note `VolumeUsageUpdateTime` here vs `UpdatedTime` above.
        let since = wire::timestamp(member.enabled_ms.unwrap_or(member.updated_ms));
        let usage: Map<String, Value> = graph
            .packages
            .iter()
            .filter(|(_, state)| state.state == "STARTED")
            .map(|(package, _)| {
                (
                    package.clone(),
                    json!({"VolumeUsageInBytes": 0, "VolumeUsageUpdateTime": since}),
                )
            })
            .collect();
        fields.insert("VolumeUsageByDatasourcePackage".into(), Value::Object(usage));
        fields.insert("VolumeUsageInBytes".into(), json!(0));
        fields.insert("VolumeUsageUpdatedTime".into(), json!(since));
    }
    detail
}

fn unprocessed(account_id: &str, reason: &str) -> Value {
    json!({"AccountId": account_id, "Reason": reason})
}

/// The reason of an account a graph call cannot find among the graph's members.
const NOT_A_MEMBER: &str = "The account is not a member of the behavior graph";

/// The answer of a call on a batch of accounts: what it did under `key`, and the accounts it
/// left unprocessed.
fn batch_answer(key: &str, done: Value, unprocessed_accounts: Vec<Value>) -> Reply {
    let mut answer = Map::new();
    answer.insert(key.to_owned(), done);
    answer.insert("UnprocessedAccounts".to_owned(), Value::Array(unprocessed_accounts));
    Reply::Json(Value::Object(answer))
}

/// A read of a batch of accounts: for each distinct account, what `found` answers under `key`,
/// or the account unprocessed as not a member when it answers nothing.
fn batch_read<'a>(key: &str, account_ids: Vec<&'a str>, found: impl FnMut(&'a str) -> Option<Value>) -> Reply {
    let (answers, unprocessed_accounts) = split_batch(account_ids, found, |id| unprocessed(id, NOT_A_MEMBER));
    batch_answer(key, Value::Array(answers), unprocessed_accounts)
}

/// Each distinct id of a batch read (accounts or graphs), split into what `found` answers and
/// what `not_found` says of the ids it answers nothing for.
fn split_batch<'a>(
    ids: Vec<&'a str>,
    mut found: impl FnMut(&'a str) -> Option<Value>,
    not_found: impl Fn(&'a str) -> Value,
) -> (Vec<Value>, Vec<Value>) {
    let mut answers = Vec::new();
    let mut unprocessed = Vec::new();
    let mut seen = BTreeSet::new();
    for id in ids {
        if !seen.insert(id) {
            continue;
        }
        match found(id) {
            Some(answer) => answers.push(answer),
            None => unprocessed.push(not_found(id)),
        }
    }
    (answers, unprocessed)
}

/// [`ingest_history`] of a member: its data flows from when it was enabled, while it is.
fn member_ingest_history(graph: &Graph, member: &Member) -> Value {
    let flowing_since =
        (member.status == MemberStatus::Enabled).then_some(member.enabled_ms.unwrap_or(member.updated_ms));
    ingest_history(graph, flowing_since, member.updated_ms)
}

/// `DatasourcePackageIngestHistory` of one account in one graph: the graph's package history,
/// seen from when the account's data started to flow.
fn ingest_history(graph: &Graph, flowing_since: Option<i64>, disabled_since: i64) -> Value {
    let history: Map<String, Value> = graph
        .packages
        .iter()
        .map(|(package, state)| {
            let changes: Map<String, Value> = match flowing_since {
                Some(since) => state
                    .last_change_ms
                    .iter()
                    .map(|(name, at)| {
                        let at = (*at).max(since);
                        (name.clone(), json!({"Timestamp": wire::timestamp(at)}))
                    })
                    .collect(),
                None => Map::from_iter([(
                    "DISABLED".to_owned(),
                    json!({"Timestamp": wire::timestamp(disabled_since)}),
                )]),
            };
            (package.clone(), Value::Object(changes))
        })
        .collect();
    Value::Object(history)
}

fn with_next_token(mut body: Value, next_token: Option<String>) -> Value {
    if let (Value::Object(fields), Some(token)) = (&mut body, next_token) {
        fields.insert("NextToken".into(), json!(token));
    }
    body
}

// ---------------------------------------------------------------------------------------------
// Graphs

fn create_graph(ctx: &mut Context<'_>, body: &RequestBody) -> Result<Reply, ApiError> {
    let tags = body.tags("Tags", false)?;
    // One graph per administrator account and Region: asking again returns the same ARN (and
    // leaves that graph's tags alone; tags are changed with TagResource).
    if let Some(graph) = ctx.state.graph_of(ctx.caller, ctx.region) {
        return Ok(Reply::Json(json!({"GraphArn": graph.arn})));
    }
    let arn = ctx.new_graph_arn();
    let mut graph = Graph::new(arn.clone(), ctx.region, ctx.caller, ctx.now_ms);
    graph.tags = tags.unwrap_or_default();
    ctx.state.graphs.insert(arn.clone(), graph);
    Ok(Reply::Json(json!({"GraphArn": arn})))
}

fn list_graphs(ctx: &mut Context<'_>, body: &RequestBody) -> Result<Reply, ApiError> {
    let max_results = body.max_results()?;
    let scope = format!("ListGraphs:{}:{}", ctx.caller, ctx.region);
    let after = paging::resume_after(&scope, body.next_token()?)?;
    let graphs = ctx
        .state
        .graphs
        .values()
        .filter(|graph| graph.administrator_id == ctx.caller && graph.region == ctx.region)
        .map(|graph| {
            (
                graph.arn.clone(),
                json!({"Arn": graph.arn, "CreatedTime": wire::timestamp(graph.created_ms)}),
            )
        });
    let (page, next) = paging::page(&scope, graphs, after.as_deref(), max_results);
    Ok(Reply::Json(with_next_token(json!({"GraphList": page}), next)))
}

fn delete_graph(ctx: &mut Context<'_>, body: &RequestBody) -> Result<Reply, ApiError> {
    let arn = body.graph_arn("GraphArn")?;
    ctx.admin_graph(arn)?;
    // Members go with the graph, which removes it from every member's ListInvitations.
    ctx.state.graphs.remove(arn);
    Ok(Reply::Empty(200))
}

// ---------------------------------------------------------------------------------------------
// Members (administrator side)

fn create_members(ctx: &mut Context<'_>, body: &RequestBody) -> Result<Reply, ApiError> {
    let arn = body.graph_arn("GraphArn")?;
    if let Some(message) = body.optional_str("Message")?
        && !(1..=1000).contains(&message.chars().count())
    {
        return Err(ApiError::validation("Message", "must be 1 to 1000 characters long"));
    }
    body.optional_bool("DisableEmailNotification")?;
    let accounts = body.accounts()?;

    let graph = ctx.admin_graph(arn)?;
    let organization = ctx.organization_of(graph);
    let mut accepted: Vec<(&str, &str)> = Vec::new();
    let mut unprocessed_accounts = Vec::new();
    let mut seen = BTreeSet::new();
    for &(account_id, email) in &accounts {
        if account_id == graph.administrator_id {
            unprocessed_accounts.push(unprocessed(
                account_id,
                "The administrator account cannot be invited as a member of its own behavior graph",
            ));
        } else if graph.members.contains_key(account_id) {
            unprocessed_accounts.push(unprocessed(
                account_id,
                "The account is already a member of the behavior graph",
            ));
        } else if !seen.insert(account_id) {
            unprocessed_accounts.push(unprocessed(
                account_id,
                "The account is listed more than once in the request",
            ));
        } else {
            accepted.push((account_id, email));
        }
    }
    if graph.members.len() + accepted.len() > MEMBER_QUOTA {
        return Err(ApiError::quota_exceeded(
            format!(
                "Adding {} member accounts would exceed the quota of {MEMBER_QUOTA} member \
                 accounts per behavior graph ({} are members)",
                accepted.len(),
                graph.members.len()
            ),
            &["Member"],
        ));
    }

    let world = ctx.world;
    let now_ms = ctx.now_ms;
    let due_ms = now_ms.saturating_add(i64::try_from(world.verification_delay_ms()).unwrap_or(i64::MAX));
    let graph = ctx.admin_graph_mut(arn)?;
    for (account_id, _) in &accounts {
        *graph
            .create_members_requests
            .entry((*account_id).to_owned())
            .or_default() += 1;
    }
    let mut created = Vec::with_capacity(accepted.len());
    for (account_id, email) in accepted {
        let facts = world.account(account_id);
        let in_organization = organization.is_some() && facts.organization == organization.as_deref();
        let mut member = Member {
            account_id: account_id.to_owned(),
            email_address: email.to_owned(),
            status: MemberStatus::VerificationInProgress,
            disabled_reason: None,
            invitation_type: InvitationType::Invitation,
            invited_ms: now_ms,
            updated_ms: now_ms,
            enabled_ms: None,
            verification: None,
        };
        if in_organization {
            // Organization accounts skip verification and invitation altogether.
            member.invitation_type = InvitationType::Organization;
            member.enable(facts, now_ms);
        } else {
            member.verification = Some(PendingVerification {
                due_ms,
                passes: facts.email.is_none_or(|root| root.eq_ignore_ascii_case(email)),
            });
        }
        created.push(member_detail(graph, &member));
        graph.members.insert(account_id.to_owned(), member);
    }
    Ok(batch_answer("Members", Value::Array(created), unprocessed_accounts))
}

fn delete_members(ctx: &mut Context<'_>, body: &RequestBody) -> Result<Reply, ApiError> {
    let arn = body.graph_arn("GraphArn")?;
    let account_ids = body.account_id_list("AccountIds", 1, 50)?;
    let graph = ctx.admin_graph_mut(arn)?;
    let mut deleted = Vec::new();
    let mut unprocessed_accounts = Vec::new();
    for account_id in account_ids {
        if account_id == graph.administrator_id {
            unprocessed_accounts.push(unprocessed(
                account_id,
                "The administrator account cannot be removed from its own behavior graph; \
                 use DeleteGraph",
            ));
        } else if graph.members.remove(account_id).is_some() {
            deleted.push(account_id);
        } else if !deleted.contains(&account_id) {
            unprocessed_accounts.push(unprocessed(account_id, NOT_A_MEMBER));
        }
    }
    Ok(batch_answer("AccountIds", json!(deleted), unprocessed_accounts))
}

fn get_members(ctx: &mut Context<'_>, body: &RequestBody) -> Result<Reply, ApiError> {
    let arn = body.graph_arn("GraphArn")?;
    let account_ids = body.account_id_list("AccountIds", 1, 50)?;
    let graph = ctx.admin_graph(arn)?;
    Ok(batch_read("MemberDetails", account_ids, |account_id| {
        graph.members.get(account_id).map(|member| member_detail(graph, member))
    }))
}

fn list_members(ctx: &mut Context<'_>, body: &RequestBody) -> Result<Reply, ApiError> {
    let arn = body.graph_arn("GraphArn")?;
    let max_results = body.max_results()?;
    let scope = format!("ListMembers:{arn}");
    let after = paging::resume_after(&scope, body.next_token()?)?;
    let graph = ctx.admin_graph(arn)?;
    let members = graph
        .members
        .values()
        .map(|member| (member.account_id.clone(), member_detail(graph, member)));
    let (page, next) = paging::page(&scope, members, after.as_deref(), max_results);
    Ok(Reply::Json(with_next_token(json!({"MemberDetails": page}), next)))
}

fn start_monitoring_member(ctx: &mut Context<'_>, body: &RequestBody) -> Result<Reply, ApiError> {
    let arn = body.graph_arn("GraphArn")?;
    let account_id = body.account_id("AccountId")?;
    let world = ctx.world;
    let now_ms = ctx.now_ms;
    let graph = ctx.admin_graph_mut(arn)?;
    let member = graph
        .members
        .get_mut(account_id)
        .ok_or_else(|| ApiError::not_found(format!("Account {account_id} is not a member of behavior graph {arn}")))?;
    if member.status != MemberStatus::AcceptedButDisabled {
        return Err(ApiError::conflict(format!(
            "Member account {account_id} has status {}; StartMonitoringMember requires \
             ACCEPTED_BUT_DISABLED",
            member.status
        )));
    }
    // Enabled if the cause is gone, otherwise it stays disabled (possibly for a new reason).
    member.enable(world.account(account_id), now_ms);
    Ok(Reply::Empty(200))
}

// ---------------------------------------------------------------------------------------------
// Membership (member side)

fn accept_invitation(ctx: &mut Context<'_>, body: &RequestBody) -> Result<Reply, ApiError> {
    let arn = body.graph_arn("GraphArn")?;
    let world = ctx.world;
    let now_ms = ctx.now_ms;
    let (graph, caller) = ctx.membership_mut(arn)?;
    let Some(member) = graph.members.get_mut(&caller) else {
        return Err(graph_not_found(arn, &graph.region));
    };
    if member.status != MemberStatus::Invited {
        return Err(ApiError::conflict(format!(
            "The invitation cannot be accepted: account {caller} has status {} in behavior \
             graph {arn} (AcceptInvitation requires INVITED)",
            member.status
        )));
    }
    member.enable(world.account(&caller), now_ms);
    Ok(Reply::Empty(200))
}

fn reject_invitation(ctx: &mut Context<'_>, body: &RequestBody) -> Result<Reply, ApiError> {
    let arn = body.graph_arn("GraphArn")?;
    let (graph, caller) = ctx.membership_mut(arn)?;
    let status = graph.members.get(&caller).map(|member| member.status);
    if status != Some(MemberStatus::Invited) {
        return Err(ApiError::conflict(format!(
            "The invitation cannot be rejected: account {caller} has status {} in behavior \
             graph {arn} (RejectInvitation requires INVITED)",
            status.map_or("none", MemberStatus::as_str)
        )));
    }
    graph.members.remove(&caller);
    Ok(Reply::Empty(200))
}

fn disassociate_membership(ctx: &mut Context<'_>, body: &RequestBody) -> Result<Reply, ApiError> {
    let arn = body.graph_arn("GraphArn")?;
    let (graph, caller) = ctx.membership_mut(arn)?;
    let Some(member) = graph.members.get(&caller) else {
        return Err(graph_not_found(arn, &graph.region));
    };
    if member.invitation_type == InvitationType::Organization {
        return Err(ApiError::conflict(format!(
            "Account {caller} is an organization account of behavior graph {arn}; organization \
             accounts cannot disassociate, the Detective administrator account must remove them"
        )));
    }
    if member.status != MemberStatus::Enabled {
        return Err(ApiError::conflict(format!(
            "Account {caller} has status {} in behavior graph {arn}; DisassociateMembership \
             requires ENABLED",
            member.status
        )));
    }
    graph.members.remove(&caller);
    Ok(Reply::Empty(200))
}

fn list_invitations(ctx: &mut Context<'_>, body: &RequestBody) -> Result<Reply, ApiError> {
    let max_results = body.max_results()?;
    let scope = format!("ListInvitations:{}:{}", ctx.caller, ctx.region);
    let after = paging::resume_after(&scope, body.next_token()?)?;
    // Open and accepted invitations only: not verification states (no invitation was sent yet,
    // or ever), and not organization memberships (there was no invitation).
    let invitations = ctx
        .state
        .graphs
        .values()
        .filter(|graph| graph.region == ctx.region)
        .filter_map(|graph| {
            let member = graph.members.get(ctx.caller)?;
            let listed = member.invitation_type == InvitationType::Invitation
                && matches!(
                    member.status,
                    MemberStatus::Invited | MemberStatus::Enabled | MemberStatus::AcceptedButDisabled
                );
            listed.then(|| (graph.arn.clone(), member_detail(graph, member)))
        });
    let (page, next) = paging::page(&scope, invitations, after.as_deref(), max_results);
    Ok(Reply::Json(with_next_token(json!({"Invitations": page}), next)))
}

// ---------------------------------------------------------------------------------------------
// Tags

fn tagged_graph<'c>(ctx: &'c mut Context<'_>, request: &Request<'_>) -> Result<&'c mut Graph, ApiError> {
    let arn = request
        .resource_arn
        .ok_or_else(|| ApiError::validation("ResourceArn", "member must not be null"))?;
    validate::parse_graph_arn(arn).ok_or_else(|| ApiError::invalid_graph_arn("ResourceArn"))?;
    ctx.admin_graph_mut(arn)
}

fn tag_resource(ctx: &mut Context<'_>, request: &Request<'_>, body: &RequestBody) -> Result<Reply, ApiError> {
    let tags = body.tags("Tags", true)?.unwrap_or_default();
    let graph = tagged_graph(ctx, request)?;
    let mut merged = graph.tags.clone();
    merged.extend(tags);
    if merged.len() > 50 {
        return Err(ApiError::validation(
            "Tags",
            format!(
                "a resource can have at most 50 tags (this request would leave {})",
                merged.len()
            ),
        ));
    }
    graph.tags = merged;
    Ok(Reply::Empty(204))
}

fn untag_resource(ctx: &mut Context<'_>, request: &Request<'_>) -> Result<Reply, ApiError> {
    let keys: Vec<&str> = request
        .query
        .iter()
        .filter(|(name, _)| name == "tagKeys")
        .map(|(_, value)| value.as_str())
        .collect();
    if !(1..=50).contains(&keys.len()) {
        return Err(ApiError::validation(
            "TagKeys",
            format!("must contain between 1 and 50 items (got {})", keys.len()),
        ));
    }
    for (index, key) in keys.iter().enumerate() {
        validate::check_tag_key(&format!("TagKeys[{index}]"), key)?;
    }
    let graph = tagged_graph(ctx, request)?;
    for key in keys {
        graph.tags.remove(key);
    }
    Ok(Reply::Empty(204))
}

fn list_tags_for_resource(ctx: &mut Context<'_>, request: &Request<'_>) -> Result<Reply, ApiError> {
    let graph = tagged_graph(ctx, request)?;
    Ok(Reply::Json(json!({"Tags": graph.tags})))
}

// ---------------------------------------------------------------------------------------------
// Organizations

fn enable_organization_admin(ctx: &mut Context<'_>, body: &RequestBody) -> Result<Reply, ApiError> {
    let account_id = body.account_id("AccountId")?.to_owned();
    let organization = ctx.managed_organization()?;
    if ctx.world.account(&account_id).organization != Some(organization.as_str()) {
        return Err(ApiError::validation(
            "AccountId",
            format!("account {account_id} is not an account of organization {organization}"),
        ));
    }
    let region = ctx.region.to_owned();
    if let Some(current) = ctx
        .state
        .delegations
        .iter()
        .find(|delegation| delegation.organization == organization && delegation.region == region)
    {
        if current.account_id == account_id {
            return Ok(Reply::Empty(200));
        }
        return Err(ApiError::validation(
            "AccountId",
            format!(
                "organization {organization} already has Detective administrator account {} in \
                 {region}; call DisableOrganizationAdminAccount first",
                current.account_id
            ),
        ));
    }
    ctx.state.delegations.push(Delegation {
        organization,
        region: region.clone(),
        account_id: account_id.clone(),
        delegated_ms: ctx.now_ms,
    });
    // The service enables Detective for the new administrator if it has no graph yet.
    if ctx.state.graph_of(&account_id, &region).is_none() {
        let arn = format!("arn:aws:detective:{region}:{account_id}:graph:{}", ctx.rng.hex(32));
        let graph = Graph::new(arn.clone(), &region, &account_id, ctx.now_ms);
        ctx.state.graphs.insert(arn, graph);
    }
    Ok(Reply::Empty(200))
}

fn disable_organization_admin(ctx: &mut Context<'_>) -> Result<Reply, ApiError> {
    let organization = ctx.managed_organization()?;
    let region = ctx.region.to_owned();
    let Some(position) = ctx
        .state
        .delegations
        .iter()
        .position(|delegation| delegation.organization == organization && delegation.region == region)
    else {
        return Ok(Reply::Empty(200));
    };
    let delegation = ctx.state.delegations.remove(position);
    // Removing the Detective administrator deletes the organization behavior graph.
    ctx.state
        .graphs
        .retain(|_, graph| !(graph.administrator_id == delegation.account_id && graph.region == region));
    Ok(Reply::Empty(200))
}

fn list_organization_admins(ctx: &mut Context<'_>, body: &RequestBody) -> Result<Reply, ApiError> {
    let max_results = body.max_results()?;
    let organization = ctx.managed_organization()?;
    let scope = format!("ListOrganizationAdminAccounts:{organization}:{}", ctx.region);
    let after = paging::resume_after(&scope, body.next_token()?)?;
    let mut admins: Vec<(String, Value)> = ctx
        .state
        .delegations
        .iter()
        .filter(|delegation| delegation.organization == organization && delegation.region == ctx.region)
        .map(|delegation| {
            let mut admin = json!({
                "AccountId": delegation.account_id,
                "DelegationTime": wire::timestamp(delegation.delegated_ms),
            });
            if let (Some(graph), Value::Object(fields)) = (
                ctx.state.graph_of(&delegation.account_id, &delegation.region),
                &mut admin,
            ) {
                fields.insert("GraphArn".into(), json!(graph.arn));
            }
            (delegation.account_id.clone(), admin)
        })
        .collect();
    admins.sort_by(|a, b| a.0.cmp(&b.0));
    let (page, next) = paging::page(&scope, admins, after.as_deref(), max_results);
    Ok(Reply::Json(with_next_token(json!({"Administrators": page}), next)))
}

/// The caller's graph `arn`, which must be an organization behavior graph.
fn organization_graph<'c>(ctx: &'c mut Context<'_>, arn: &str) -> Result<&'c mut Graph, ApiError> {
    let graph = ctx.admin_graph(arn)?;
    if ctx.organization_of(graph).is_none() {
        return Err(ApiError::access_denied(format!(
            "Account {} is not the Detective administrator account of an organization; behavior \
             graph {arn} has no organization configuration",
            ctx.caller
        )));
    }
    ctx.admin_graph_mut(arn)
}

fn describe_organization_configuration(ctx: &mut Context<'_>, body: &RequestBody) -> Result<Reply, ApiError> {
    let arn = body.graph_arn("GraphArn")?;
    let graph = organization_graph(ctx, arn)?;
    Ok(Reply::Json(json!({"AutoEnable": graph.auto_enable})))
}

fn update_organization_configuration(ctx: &mut Context<'_>, body: &RequestBody) -> Result<Reply, ApiError> {
    let arn = body.graph_arn("GraphArn")?;
    let auto_enable = body.optional_bool("AutoEnable")?.unwrap_or(false);
    let graph = organization_graph(ctx, arn)?;
    graph.auto_enable = auto_enable;
    Ok(Reply::Empty(200))
}

// ---------------------------------------------------------------------------------------------
// Data source packages

fn list_datasource_packages(ctx: &mut Context<'_>, body: &RequestBody) -> Result<Reply, ApiError> {
    let arn = body.graph_arn("GraphArn")?;
    let max_results = body.max_results()?;
    let scope = format!("ListDatasourcePackages:{arn}");
    let after = paging::resume_after(&scope, body.next_token()?)?;
    let graph = ctx.admin_graph(arn)?;
    let packages = graph.packages.iter().map(|(package, state)| {
        let changes: Map<String, Value> = state
            .last_change_ms
            .iter()
            .map(|(name, at)| (name.clone(), json!({"Timestamp": wire::timestamp(*at)})))
            .collect();
        (
            package.clone(),
            (
                package.clone(),
                json!({
                    "DatasourcePackageIngestState": state.state,
                    "LastIngestStateChange": changes,
                }),
            ),
        )
    });
    let (page, next) = paging::page(&scope, packages, after.as_deref(), max_results);
    let packages: Map<String, Value> = page.into_iter().collect();
    Ok(Reply::Json(with_next_token(
        json!({"DatasourcePackages": packages}),
        next,
    )))
}

fn update_datasource_packages(ctx: &mut Context<'_>, body: &RequestBody) -> Result<Reply, ApiError> {
    let arn = body.graph_arn("GraphArn")?;
    let packages = body.string_list("DatasourcePackages", 1, 25)?;
    for (index, package) in packages.iter().enumerate() {
        if !DATASOURCE_PACKAGES.contains(package) {
            return Err(ApiError::validation(
                &format!("DatasourcePackages[{index}]"),
                format!("must be one of {}", DATASOURCE_PACKAGES.join(", ")),
            ));
        }
    }
    let now_ms = ctx.now_ms;
    let graph = ctx.admin_graph_mut(arn)?;
    for package in packages {
        let state = graph
            .packages
            .entry(package.to_owned())
            .or_insert_with(|| super::model::PackageState {
                state: "STOPPED".to_owned(),
                last_change_ms: BTreeMap::new(),
            });
        if state.state != "STARTED" {
            state.state = "STARTED".to_owned();
            state.last_change_ms.insert("STARTED".to_owned(), now_ms);
        }
    }
    Ok(Reply::Empty(200))
}

fn graph_member_datasources(ctx: &mut Context<'_>, body: &RequestBody) -> Result<Reply, ApiError> {
    let arn = body.graph_arn("GraphArn")?;
    let account_ids = body.account_id_list("AccountIds", 1, 200)?;
    let graph = ctx.admin_graph(arn)?;
    Ok(batch_read("MemberDatasources", account_ids, |account_id| {
        let history = match graph.members.get(account_id) {
            Some(member) => member_ingest_history(graph, member),
            None if account_id == graph.administrator_id => {
                ingest_history(graph, Some(graph.created_ms), graph.created_ms)
            }
            None => return None,
        };
        Some(json!({
            "AccountId": account_id,
            "GraphArn": graph.arn,
            "DatasourcePackageIngestHistory": history,
        }))
    }))
}

fn membership_datasources(ctx: &mut Context<'_>, body: &RequestBody) -> Result<Reply, ApiError> {
    let arns = body.string_list("GraphArns", 1, 50)?;
    for (index, arn) in arns.iter().enumerate() {
        if validate::parse_graph_arn(arn).is_none() {
            return Err(ApiError::invalid_graph_arn(&format!("GraphArns[{index}]")));
        }
    }
    let ctx = &*ctx;
    let found = |arn: &str| {
        let graph = ctx.graph(arn).ok()?;
        let history = if graph.administrator_id == ctx.caller {
            ingest_history(graph, Some(graph.created_ms), graph.created_ms)
        } else {
            member_ingest_history(graph, graph.members.get(ctx.caller)?)
        };
        Some(json!({
            "AccountId": ctx.caller,
            "GraphArn": arn,
            "DatasourcePackageIngestHistory": history,
        }))
    };
    let not_found = |arn: &str| {
        json!({
            "GraphArn": arn,
            "Reason": format!("Account {} is not a member of this behavior graph in {}", ctx.caller, ctx.region),
        })
    };
    let (datasources, unprocessed_graphs) = split_batch(arns, found, not_found);
    Ok(Reply::Json(json!({
        "MembershipDatasources": datasources,
        "UnprocessedGraphs": unprocessed_graphs,
    })))
}
