//! The restJson1 binding of each Detective operation (method + path), as generated into
//! `aws-sdk-detective` 1.120. One table, so routing, call counting and fault matching all agree
//! on operation names.

use super::operation_enum::operations;

/// Whether an operation can change the service state (and so must be persisted), only reads,
/// or is outside what the emulator models.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Read,
    Write,
    NotImplemented,
}

operations! {
    /// A Detective API operation the emulator recognizes.
    pub(crate) enum Operation =>
    /// The operation's restJson1 method and path, as the SDK sends it, and its [`Kind`].
    fn binding(self) -> (&'static str, &'static str, Kind) {
        AcceptInvitation => ("PUT", "/invitation", Kind::Write),
        BatchGetGraphMemberDatasources => ("POST", "/graph/datasources/get", Kind::Read),
        BatchGetMembershipDatasources => ("POST", "/membership/datasources/get", Kind::Read),
        CreateGraph => ("POST", "/graph", Kind::Write),
        CreateMembers => ("POST", "/graph/members", Kind::Write),
        DeleteGraph => ("POST", "/graph/removal", Kind::Write),
        DeleteMembers => ("POST", "/graph/members/removal", Kind::Write),
        DescribeOrganizationConfiguration => ("POST", "/orgs/describeOrganizationConfiguration", Kind::Read),
        DisableOrganizationAdminAccount => ("POST", "/orgs/disableAdminAccount", Kind::Write),
        DisassociateMembership => ("POST", "/membership/removal", Kind::Write),
        EnableOrganizationAdminAccount => ("POST", "/orgs/enableAdminAccount", Kind::Write),
        GetInvestigation => ("POST", "/investigations/getInvestigation", Kind::NotImplemented),
        GetMembers => ("POST", "/graph/members/get", Kind::Read),
        ListDatasourcePackages => ("POST", "/graph/datasources/list", Kind::Read),
        ListGraphs => ("POST", "/graphs/list", Kind::Read),
        ListIndicators => ("POST", "/investigations/listIndicators", Kind::NotImplemented),
        ListInvestigations => ("POST", "/investigations/listInvestigations", Kind::NotImplemented),
        ListInvitations => ("POST", "/invitations/list", Kind::Read),
        ListMembers => ("POST", "/graph/members/list", Kind::Read),
        ListOrganizationAdminAccounts => ("POST", "/orgs/adminAccountslist", Kind::Read),
        ListTagsForResource => ("GET", "/tags/", Kind::Read),
        RejectInvitation => ("POST", "/invitation/removal", Kind::Write),
        StartInvestigation => ("POST", "/investigations/startInvestigation", Kind::NotImplemented),
        StartMonitoringMember => ("POST", "/graph/member/monitoringstate", Kind::Write),
        TagResource => ("POST", "/tags/", Kind::Write),
        UntagResource => ("DELETE", "/tags/", Kind::Write),
        UpdateDatasourcePackages => ("POST", "/graph/datasources/update", Kind::Write),
        UpdateInvestigationState => ("POST", "/investigations/updateInvestigationState", Kind::NotImplemented),
        UpdateOrganizationConfiguration => ("POST", "/orgs/updateOrganizationConfiguration", Kind::Write),
    }
}

/// The operation a request is for, plus the (still percent-encoded) `{ResourceArn}` label of
/// the tagging operations.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Route {
    pub operation: Operation,
    pub resource_label: Option<String>,
}

impl Operation {
    pub fn kind(self) -> Kind {
        let (_, _, kind) = self.binding();
        kind
    }

    /// Matches a request line. Paths ending in `/` in the table take one non-empty label.
    pub fn route(method: &str, path: &str) -> Option<Route> {
        // Clients may add a trailing slash; the label-less bindings never end in one.
        let path = if path.len() > 1 {
            path.strip_suffix('/').unwrap_or(path)
        } else {
            path
        };
        Operation::ALL.iter().find_map(|&operation| {
            let (bound_method, bound_path, _) = operation.binding();
            if bound_method != method {
                return None;
            }
            if bound_path.ends_with('/') {
                let label = path.strip_prefix(bound_path)?;
                (!label.is_empty() && !label.contains('/')).then(|| Route {
                    operation,
                    resource_label: Some(label.to_owned()),
                })
            } else {
                (bound_path == path).then_some(Route {
                    operation,
                    resource_label: None,
                })
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_match_the_sdk_bindings() {
        let route = |method, path| Operation::route(method, path).map(|route| route.operation);
        assert_eq!(route("POST", "/graph"), Some(Operation::CreateGraph));
        assert_eq!(route("POST", "/graph/members"), Some(Operation::CreateMembers));
        assert_eq!(route("PUT", "/invitation"), Some(Operation::AcceptInvitation));
        assert_eq!(route("GET", "/invitation"), None);
        assert_eq!(route("POST", "/graphs/list/"), Some(Operation::ListGraphs));
        let tags = Operation::route("DELETE", "/tags/arn%3Aaws").expect("untag");
        assert_eq!(tags.operation, Operation::UntagResource);
        assert_eq!(tags.resource_label.as_deref(), Some("arn%3Aaws"));
        assert_eq!(route("GET", "/tags/"), None);
        assert_eq!(route("POST", "/nope"), None);
        assert_eq!(Operation::ALL.len(), 29);
        assert_eq!(Operation::from_name("ListMembers"), Some(Operation::ListMembers));
    }
}
