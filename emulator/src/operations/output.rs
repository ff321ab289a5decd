//! Output members that several API areas answer with: a member's details, and the answer of a
//! call on a batch of accounts (with its unprocessed entries).

use std::collections::BTreeSet;

use serde_json::{Map, Value, json};

use super::Reply;
use crate::model::{Graph, Member, MemberStatus};
use crate::wire;

pub(super) fn member_detail(graph: &Graph, member: &Member) -> Value {
    let enabled = member.status == MemberStatus::Enabled;
    // An account that is not ACTIVE in its organization stays a member but is not ingested.
    let ingesting = enabled && member.ingest_stopped_ms.is_none();
    let ingest_states: Map<String, Value> = graph
        .packages
        .iter()
        .map(|(package, state)| {
            let state = match (enabled, ingesting) {
                (false, _) => "DISABLED",
                (true, false) => "STOPPED",
                (true, true) => state.state.as_str(),
            };
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
    if ingesting {
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

pub(super) fn unprocessed(account_id: &str, reason: &str) -> Value {
    json!({"AccountId": account_id, "Reason": reason})
}

/// The reason of an account a graph call cannot find among the graph's members.
pub(super) const NOT_A_MEMBER: &str = "The account is not a member of the behavior graph";

/// The answer of a call on a batch of accounts: what it did under `key`, and the accounts it
/// left unprocessed.
pub(super) fn batch_answer(key: &str, done: Value, unprocessed_accounts: Vec<Value>) -> Reply {
    let mut answer = Map::new();
    answer.insert(key.to_owned(), done);
    answer.insert("UnprocessedAccounts".to_owned(), Value::Array(unprocessed_accounts));
    Reply::Json(Value::Object(answer))
}

/// A read of a batch of accounts: for each distinct account, what `found` answers under `key`,
/// or the account unprocessed as not a member when it answers nothing.
pub(super) fn batch_read<'a>(
    key: &str,
    account_ids: Vec<&'a str>,
    found: impl FnMut(&'a str) -> Option<Value>,
) -> Reply {
    let (answers, unprocessed_accounts) = split_batch(account_ids, found, |id| unprocessed(id, NOT_A_MEMBER));
    batch_answer(key, Value::Array(answers), unprocessed_accounts)
}

/// Each distinct id of a batch read (accounts or graphs), split into what `found` answers and
/// what `not_found` says of the ids it answers nothing for.
pub(super) fn split_batch<'a>(
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
