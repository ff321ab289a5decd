//! Teardown: what deleting a `DetectiveGraph` with `deletionPolicy: Delete` does in AWS.

use tracing::info;

use super::decide::BATCH_SIZE;
use crate::aws::{AwsError, Detective, ErrorKind};

/// Removes `inventory` from the graph (in batches of 50), then the graph itself when
/// `delete_graph`. A graph that is already gone counts as torn down.
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
