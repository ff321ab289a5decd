//! A graph's tags: TagResource, UntagResource, ListTagsForResource (the graph ARN is the
//! `{ResourceArn}` label of the path, the keys to remove are query parameters).

use serde_json::json;

use super::{Context, Reply, Request};
use crate::model::Graph;
use crate::validate::{self, RequestBody};
use crate::wire::ApiError;

fn tagged_graph<'c>(ctx: &'c mut Context<'_>, request: &Request<'_>) -> Result<&'c mut Graph, ApiError> {
    let arn = request
        .resource_arn
        .ok_or_else(|| ApiError::validation("ResourceArn", "member must not be null"))?;
    validate::parse_graph_arn(arn).ok_or_else(|| ApiError::invalid_graph_arn("ResourceArn"))?;
    ctx.admin_graph_mut(arn)
}

pub(super) fn tag_resource(
    ctx: &mut Context<'_>,
    request: &Request<'_>,
    body: &RequestBody,
) -> Result<Reply, ApiError> {
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

pub(super) fn untag_resource(ctx: &mut Context<'_>, request: &Request<'_>) -> Result<Reply, ApiError> {
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

pub(super) fn list_tags_for_resource(ctx: &mut Context<'_>, request: &Request<'_>) -> Result<Reply, ApiError> {
    let graph = tagged_graph(ctx, request)?;
    Ok(Reply::Json(json!({"Tags": graph.tags})))
}
