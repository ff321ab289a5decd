//! The restJson1 binding of each Detective operation (method + path), as generated into
//! `aws-sdk-detective` 1.120. One table, so routing, call counting and fault matching all agree
//! on operation names.

macro_rules! operations {
    ($($name:ident = $method:literal $path:literal, $kind:ident;)*) => {
        /// A Detective API operation the emulator recognizes.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub(crate) enum Operation {
            $($name,)*
        }

        impl Operation {
            pub const ALL: &'static [Operation] = &[$(Operation::$name,)*];

            /// The operation name as in the API reference (`CreateMembers`).
            pub fn name(self) -> &'static str {
                match self {
                    $(Operation::$name => stringify!($name),)*
                }
            }

            fn binding(self) -> (&'static str, &'static str) {
                match self {
                    $(Operation::$name => ($method, $path),)*
                }
            }

            pub fn kind(self) -> Kind {
                match self {
                    $(Operation::$name => Kind::$kind,)*
                }
            }
        }
    };
}

/// Whether an operation can change the service state (and so must be persisted), only reads,
/// or is outside what the emulator models.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Read,
    Write,
    NotImplemented,
}

operations! {
    AcceptInvitation = "PUT" "/invitation", Write;
    BatchGetGraphMemberDatasources = "POST" "/graph/datasources/get", Read;
    BatchGetMembershipDatasources = "POST" "/membership/datasources/get", Read;
    CreateGraph = "POST" "/graph", Write;
    CreateMembers = "POST" "/graph/members", Write;
    DeleteGraph = "POST" "/graph/removal", Write;
    DeleteMembers = "POST" "/graph/members/removal", Write;
    DescribeOrganizationConfiguration = "POST" "/orgs/describeOrganizationConfiguration", Read;
    DisableOrganizationAdminAccount = "POST" "/orgs/disableAdminAccount", Write;
    DisassociateMembership = "POST" "/membership/removal", Write;
    EnableOrganizationAdminAccount = "POST" "/orgs/enableAdminAccount", Write;
    GetInvestigation = "POST" "/investigations/getInvestigation", NotImplemented;
    GetMembers = "POST" "/graph/members/get", Read;
    ListDatasourcePackages = "POST" "/graph/datasources/list", Read;
    ListGraphs = "POST" "/graphs/list", Read;
    ListIndicators = "POST" "/investigations/listIndicators", NotImplemented;
    ListInvestigations = "POST" "/investigations/listInvestigations", NotImplemented;
    ListInvitations = "POST" "/invitations/list", Read;
    ListMembers = "POST" "/graph/members/list", Read;
    ListOrganizationAdminAccounts = "POST" "/orgs/adminAccountslist", Read;
    ListTagsForResource = "GET" "/tags/", Read;
    RejectInvitation = "POST" "/invitation/removal", Write;
    StartInvestigation = "POST" "/investigations/startInvestigation", NotImplemented;
    StartMonitoringMember = "POST" "/graph/member/monitoringstate", Write;
    TagResource = "POST" "/tags/", Write;
    UntagResource = "DELETE" "/tags/", Write;
    UpdateDatasourcePackages = "POST" "/graph/datasources/update", Write;
    UpdateInvestigationState = "POST" "/investigations/updateInvestigationState", NotImplemented;
    UpdateOrganizationConfiguration = "POST" "/orgs/updateOrganizationConfiguration", Write;
}

/// The operation a request is for, plus the (still percent-encoded) `{ResourceArn}` label of
/// the tagging operations.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Route {
    pub operation: Operation,
    pub resource_label: Option<String>,
}

impl Operation {
    pub fn from_name(name: &str) -> Option<Operation> {
        Operation::ALL.iter().copied().find(|op| op.name() == name)
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
            let (bound_method, bound_path) = operation.binding();
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
