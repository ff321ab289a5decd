//! A graph's data source packages: ListDatasourcePackages, UpdateDatasourcePackages, and the
//! ingest history of each account (BatchGetGraphMemberDatasources for the administrator,
//! BatchGetMembershipDatasources for a member).

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use super::output::{batch_read, split_batch};
use super::{Context, Reply};
use crate::model::{Graph, Member, MemberStatus};
use crate::paging::{self, with_next_token};
use crate::validate::{self, DATASOURCE_PACKAGES, RequestBody};
use crate::wire::{self, ApiError};

pub(super) fn list_datasource_packages(ctx: &mut Context<'_>, body: &RequestBody) -> Result<Reply, ApiError> {
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

pub(super) fn update_datasource_packages(ctx: &mut Context<'_>, body: &RequestBody) -> Result<Reply, ApiError> {
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
            .or_insert_with(|| crate::model::PackageState {
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

pub(super) fn graph_member_datasources(ctx: &mut Context<'_>, body: &RequestBody) -> Result<Reply, ApiError> {
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

pub(super) fn membership_datasources(ctx: &mut Context<'_>, body: &RequestBody) -> Result<Reply, ApiError> {
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

/// [`ingest_history`] of a member: its data flows from when it was enabled, while it is, and
/// stops when its account is no longer ACTIVE in its organization.
fn member_ingest_history(graph: &Graph, member: &Member) -> Value {
    let flowing_since =
        (member.status == MemberStatus::Enabled).then_some(member.enabled_ms.unwrap_or(member.updated_ms));
    let mut history = ingest_history(graph, flowing_since, member.updated_ms);
    if let (Some(stopped_ms), Value::Object(packages), Some(_)) =
        (member.ingest_stopped_ms, &mut history, flowing_since)
    {
        for changes in packages.values_mut().filter_map(Value::as_object_mut) {
            changes.insert("STOPPED".to_owned(), json!({"Timestamp": wire::timestamp(stopped_ms)}));
        }
    }
    history
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
