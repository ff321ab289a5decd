//! Behavior graphs: CreateGraph, ListGraphs, DeleteGraph.

use serde_json::json;

use super::{Context, Reply};
use crate::model::Graph;
use crate::paging::{self, with_next_token};
use crate::validate::RequestBody;
use crate::wire::{self, ApiError};

pub(super) fn create_graph(ctx: &mut Context<'_>, body: &RequestBody) -> Result<Reply, ApiError> {
    let tags = body.tags("Tags", false)?;
    // One graph per administrator account and Region: asking again returns the same ARN (and
    // leaves that graph's tags alone; tags are changed with TagResource).
    if let Some(graph) = ctx.state.graph_of(ctx.caller, ctx.region) {
        return Ok(Reply::Json(json!({"GraphArn": graph.arn})));
    }
    let arn = Graph::new_arn(ctx.region, ctx.caller, ctx.rng);
    let mut graph = Graph::new(arn.clone(), ctx.region, ctx.caller, ctx.now_ms);
    graph.tags = tags.unwrap_or_default();
    ctx.state.graphs.insert(arn.clone(), graph);
    Ok(Reply::Json(json!({"GraphArn": arn})))
}

pub(super) fn list_graphs(ctx: &mut Context<'_>, body: &RequestBody) -> Result<Reply, ApiError> {
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

pub(super) fn delete_graph(ctx: &mut Context<'_>, body: &RequestBody) -> Result<Reply, ApiError> {
    let arn = body.graph_arn("GraphArn")?;
    ctx.admin_graph(arn)?;
    // Members go with the graph, which removes it from every member's ListInvitations.
    ctx.state.graphs.remove(arn);
    Ok(Reply::Empty(200))
}
