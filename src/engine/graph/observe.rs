//! Observe: find (or, when applying, create) the graph and read its members and tags.

use tracing::{info, warn};

use super::{GraphObservation, GraphSource, GraphWrite};
use crate::api::{DetectiveGraphSpec, DetectiveGraphStatus};
use crate::aws::Detective;
use crate::engine::{Mode, SyncError};
use crate::member::ObservedMember;

/// Finds (or, when applying, creates) the graph and reads its members.
pub async fn observe<D: Detective>(
    detective: &D,
    spec: &DetectiveGraphSpec,
    previous: &DetectiveGraphStatus,
    mode: Mode,
    progress: &(dyn Fn(&GraphWrite) + Send + Sync),
) -> Result<GraphObservation, SyncError> {
    let known = spec.graph_arn.clone().or_else(|| previous.graph_arn.clone());
    let (graph_arn, source) = match known {
        Some(arn) => (Some(arn), GraphSource::Declared),
        None => match detective.list_graphs().await?.into_iter().next() {
            Some(graph) => (Some(graph.arn), GraphSource::Discovered),
            None if mode == Mode::DryRun => (None, GraphSource::WouldCreate),
            None => {
                let arn = detective.create_graph(&spec.tags).await?;
                info!(graph = %arn, "created behavior graph");
                progress(&GraphWrite::GraphCreated(arn.clone()));
                (Some(arn), GraphSource::Created)
            }
        },
    };
    let (members, tags, packages) = match &graph_arn {
        Some(arn) => {
            let members = detective.list_members(arn).await?;
            let tags = if spec.tags.is_empty() || source == GraphSource::Created {
                None
            } else {
                Some(detective.list_tags(arn).await?)
            };
            // Read only when declared, so that a graph without the field makes the same calls.
            let packages = match spec.datasource_packages {
                Some(_) => Some(detective.list_datasource_packages(arn).await?),
                None => None,
            };
            (members, tags, packages)
        }
        None => (Vec::new(), None, None),
    };
    Ok(GraphObservation {
        graph_arn,
        source,
        members,
        tags,
        packages,
    })
}

/// Replaces `members` with a fresh read; on failure keeps the state predicted from responses.
pub async fn reread<D: Detective>(detective: &D, graph_arn: &str, members: &mut Vec<ObservedMember>) {
    match detective.list_members(graph_arn).await {
        Ok(fresh) => *members = fresh,
        Err(error) => warn!(%error, "could not read members back after applying; reporting the predicted state"),
    }
}
