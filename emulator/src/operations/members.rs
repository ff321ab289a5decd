//! The administrator's side of membership: CreateMembers (verification, then an invitation, or
//! for organization accounts ENABLED after `verificationDelay`; the member quota), DeleteMembers, GetMembers, ListMembers,
//! StartMonitoringMember.
//!
//! In AWS GovCloud (US) Detective does not validate the member's e-mail address nor send
//! invitation e-mails ([`crate::regions::is_gov_cloud`]): an invited account passes
//! verification whatever address it was given (still after the verification delay: whether
//! GovCloud shows VERIFICATION_IN_PROGRESS at all is undocumented, and passing through it is the
//! stricter reading).

use std::collections::BTreeSet;

use serde_json::{Value, json};

use super::output::{NOT_A_MEMBER, batch_answer, batch_read, member_detail, unprocessed};
use super::{Context, Reply};
use crate::model::{InvitationType, MEMBER_QUOTA, Member, MemberStatus, PendingVerification};
use crate::paging::{self, with_next_token};
use crate::regions;
use crate::validate::RequestBody;
use crate::wire::ApiError;

pub(super) fn create_members(ctx: &mut Context<'_>, body: &RequestBody) -> Result<Reply, ApiError> {
    let arn = body.graph_arn("GraphArn")?;
    if let Some(message) = body.optional_str("Message")?
        && !(1..=1000).contains(&message.chars().count())
    {
        return Err(ApiError::validation("Message", "must be 1 to 1000 characters long"));
    }
    let disable_email_notification = body.optional_bool("DisableEmailNotification")?;
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
    let validates_email = !regions::is_gov_cloud(ctx.region);
    let now_ms = ctx.now_ms;
    let due_ms = now_ms.saturating_add(i64::try_from(world.verification_delay_ms()).unwrap_or(i64::MAX));
    let organization_due_ms = now_ms.saturating_add(world.realism().verification_delay_ms());
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
        let mut member = Member::new(
            account_id,
            email,
            MemberStatus::VerificationInProgress,
            InvitationType::Invitation,
            now_ms,
        );
        member.disable_email_notification = disable_email_notification;
        if in_organization {
            // Organization accounts are not invited; they pass through verification for the
            // realistic profile's `verificationDelay` (at once in the default profile).
            member.invitation_type = InvitationType::Organization;
            if organization_due_ms > now_ms {
                member.verification = Some(PendingVerification {
                    due_ms: organization_due_ms,
                    passes: true,
                });
            } else {
                member.enable(facts, now_ms);
            }
        } else {
            member.verification = Some(PendingVerification {
                due_ms,
                passes: !validates_email || facts.email.is_none_or(|root| root.eq_ignore_ascii_case(email)),
            });
        }
        created.push(member_detail(graph, &member));
        graph.members.insert(account_id.to_owned(), member);
    }
    Ok(batch_answer("Members", Value::Array(created), unprocessed_accounts))
}

pub(super) fn delete_members(ctx: &mut Context<'_>, body: &RequestBody) -> Result<Reply, ApiError> {
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

pub(super) fn get_members(ctx: &mut Context<'_>, body: &RequestBody) -> Result<Reply, ApiError> {
    let arn = body.graph_arn("GraphArn")?;
    let account_ids = body.account_id_list("AccountIds", 1, 50)?;
    let graph = ctx.admin_graph(arn)?;
    Ok(batch_read("MemberDetails", account_ids, |account_id| {
        graph.members.get(account_id).map(|member| member_detail(graph, member))
    }))
}

pub(super) fn list_members(ctx: &mut Context<'_>, body: &RequestBody) -> Result<Reply, ApiError> {
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

pub(super) fn start_monitoring_member(ctx: &mut Context<'_>, body: &RequestBody) -> Result<Reply, ApiError> {
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
