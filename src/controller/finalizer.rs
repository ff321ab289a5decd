//! What deleting a `DetectiveGraph` does in AWS (`spec.deletionPolicy`), before the finalizer goes.
//!
//! `Retain` releases the graph untouched. `Delete` removes the members in `status.inventory` (in
//! batches of 50) and deletes the graph if this resource created it. When AWS cannot be reached
//! the finalizer stays and the cleanup is retried with backoff; the annotation
//! `detective.operator.dev/orphan: "true"` skips the AWS side so that a namespace can always be
//! deleted.

use std::sync::Arc;

use kube::ResourceExt;
use kube::runtime::controller::Action;
use tracing::info;

use super::{Context, Error};
use crate::api::{DetectiveGraph, GraphDeletionPolicy};
use crate::aws::{AwsError, Detective, ErrorKind, RoleToAssume};
use crate::plan::BATCH_SIZE;

/// The annotation that releases a resource without touching AWS.
pub const ORPHAN_ANNOTATION: &str = "detective.operator.dev/orphan";

/// Applies the deletion policy; `Ok` lets the finalizer be removed.
pub async fn cleanup(graph: Arc<DetectiveGraph>, ctx: &Context) -> Result<Action, Error> {
    let orphaned = graph.annotations().get(ORPHAN_ANNOTATION).is_some_and(|v| v == "true");
    let status = graph.status.clone().unwrap_or_default();
    let graph_arn = match (&status.graph_arn, graph.spec.deletion_policy, orphaned) {
        (_, _, true) => {
            info!("orphan annotation set: releasing without touching AWS");
            return Ok(Action::await_change());
        }
        (_, GraphDeletionPolicy::Retain, _) | (None, _, _) => {
            info!("deletionPolicy Retain: the graph and its members stay in AWS");
            return Ok(Action::await_change());
        }
        (Some(arn), GraphDeletionPolicy::Delete, _) => arn.clone(),
    };
    let detective = ctx
        .aws
        .detective(
            graph.spec.region.as_deref(),
            RoleToAssume::declared(graph.spec.assume_role_arn.as_ref(), graph.spec.external_id.as_ref()).as_ref(),
        )
        .await
        .map_err(|e| Error::Retryable(e.to_string()))?;
    delete_managed(&detective, &graph_arn, &status.inventory, status.graph_created)
        .await
        .map_err(|e| Error::Retryable(format!("cleanup of {graph_arn}: {e}")))?;
    Ok(Action::await_change())
}

/// Removes `inventory` from the graph, then the graph itself when `delete_graph`. A graph that
/// is already gone counts as cleaned up.
pub async fn delete_managed<D: Detective>(
    detective: &D,
    graph_arn: &str,
    inventory: &[String],
    delete_graph: bool,
) -> Result<(), AwsError> {
    let gone = |e: &AwsError| e.kind == ErrorKind::NotFound;
    for batch in inventory.chunks(BATCH_SIZE) {
        match detective.delete_members(graph_arn, batch).await {
            Ok(outcome) => info!(removed = outcome.deleted.len(), "removed managed members"),
            Err(error) if gone(&error) => return Ok(()),
            Err(error) => return Err(error),
        }
    }
    if delete_graph {
        match detective.delete_graph(graph_arn).await {
            Ok(()) => info!(graph = graph_arn, "deleted the behavior graph this resource created"),
            Err(error) if gone(&error) => {}
            Err(error) => return Err(error),
        }
    }
    Ok(())
}
