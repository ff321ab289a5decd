//! Which IAM action and resource each call is authorized on, after the Service Authorization
//! Reference ("Actions, resources, and condition keys for Amazon Detective", "… for AWS
//! Organizations", "… for AWS Security Token Service"):
//!
//! - Detective: the action is `detective:<Operation>`. Operations that act on a behavior graph
//!   (the `Graph` resource type: members, invitations as the member, tags, datasource packages,
//!   the organization configuration) are authorized on the graph's ARN; the others
//!   (CreateGraph, ListGraphs, ListInvitations, the organization-admin calls) on `*`.
//!   BatchGetMembershipDatasources names several graphs: each must be allowed.
//! - Organizations: `organizations:<Operation>` on `*` for the reads the emulator serves (the
//!   reference lists no resource type for them).
//! - STS: `sts:AssumeRole` on the role's ARN.

use serde_json::Value;

/// The resources a Detective call is authorized on: its `{ResourceArn}` label, else the graph
/// ARN(s) of its body, else `*`.
pub fn detective_resources(resource_label: Option<&str>, body: &[u8]) -> Vec<String> {
    if let Some(arn) = resource_label {
        return vec![arn.to_owned()];
    }
    let body: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    if let Some(arn) = body.get("GraphArn").and_then(Value::as_str) {
        return vec![arn.to_owned()];
    }
    if let Some(arns) = body.get("GraphArns").and_then(Value::as_array) {
        let arns: Vec<String> = arns.iter().filter_map(Value::as_str).map(str::to_owned).collect();
        if !arns.is_empty() {
            return arns;
        }
    }
    vec!["*".to_owned()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn graph_operations_are_authorized_on_their_graphs_and_the_rest_on_star() {
        let arn = "arn:aws:detective:us-east-1:111122223333:graph:0123456789abcdef0123456789abcdef";
        assert_eq!(detective_resources(Some(arn), b""), [arn]);
        let body = format!(r#"{{"GraphArn": "{arn}", "MaxResults": 200}}"#);
        assert_eq!(detective_resources(None, body.as_bytes()), [arn]);
        let batch = format!(r#"{{"GraphArns": ["{arn}", "{arn}2"]}}"#);
        assert_eq!(detective_resources(None, batch.as_bytes()).len(), 2);
        assert_eq!(detective_resources(None, b"{}"), ["*"]);
        assert_eq!(detective_resources(None, b""), ["*"]);
    }
}
