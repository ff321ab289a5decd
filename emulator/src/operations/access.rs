//! Graph lookup and access rules: a graph is found only in its own Region, and each operation
//! is the administrator's, an invited member's, or the organization management account's.

use super::Context;
use crate::model::Graph;
use crate::wire::ApiError;

impl Context<'_> {
    /// The graph `arn` names, if it exists in the Region the request was sent to: graphs are
    /// regional, so another Region's endpoint does not know it.
    pub(super) fn graph(&self, arn: &str) -> Result<&Graph, ApiError> {
        self.state
            .graphs
            .get(arn)
            .filter(|graph| graph.region == self.region)
            .ok_or_else(|| graph_not_found(arn, self.region))
    }

    pub(super) fn graph_mut(&mut self, arn: &str) -> Result<&mut Graph, ApiError> {
        let region = self.region;
        self.state
            .graphs
            .get_mut(arn)
            .filter(|graph| graph.region == region)
            .ok_or_else(|| graph_not_found(arn, region))
    }

    /// A graph for an administrator-only operation.
    pub(super) fn admin_graph(&self, arn: &str) -> Result<&Graph, ApiError> {
        let graph = self.graph(arn)?;
        ensure_administrator(graph, self.caller)?;
        Ok(graph)
    }

    pub(super) fn admin_graph_mut(&mut self, arn: &str) -> Result<&mut Graph, ApiError> {
        let caller = self.caller;
        let graph = self.graph_mut(arn)?;
        ensure_administrator(graph, caller)?;
        Ok(graph)
    }

    /// A graph and the caller's membership in it, for the member-only operations.
    pub(super) fn membership_mut(&mut self, arn: &str) -> Result<(&mut Graph, String), ApiError> {
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
    pub(super) fn organization_of(&self, graph: &Graph) -> Option<String> {
        self.state
            .delegated_organization(&graph.administrator_id, &graph.region)
            .map(str::to_owned)
    }

    /// As [`Context::organization_of`], once the delegation has taken effect (after the
    /// propagation delay): what the organization configuration operations require.
    pub(super) fn effective_organization_of(&self, graph: &Graph) -> Option<String> {
        self.state
            .effective_organization(&graph.administrator_id, &graph.region, self.now_ms)
            .map(str::to_owned)
    }

    /// The organization whose management account the caller is, and that account: only the
    /// management account may name, remove and list the organization's Detective
    /// administrators. A caller in no organization gets the ValidationException the service
    /// answers with (Terraform's provider reads "account is not a member of an organization" in
    /// it as "no administrator").
    pub(super) fn managed_organization(&self) -> Result<(String, String), ApiError> {
        match self.world.organization_of(self.caller) {
            Some(organization) if organization.management_account.as_deref() == Some(self.caller) => {
                Ok((organization.id.clone(), self.caller.to_owned()))
            }
            Some(organization) => Err(ApiError::access_denied(format!(
                "Account {} is not the management account of organization {}; only its \
                 management account can perform this operation",
                self.caller, organization.id
            ))),
            None => Err(ApiError::invalid_request(
                "The request failed because the account is not a member of an organization",
            )),
        }
    }
}

pub(super) fn graph_not_found(arn: &str, region: &str) -> ApiError {
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
