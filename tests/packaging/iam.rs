//! The IAM policies of examples/iam: they parse, and grant no more than the operator calls.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use crate::{NAMESPACE, RELEASE, json_file, read, repo, strings};

fn statements(policy: &Value, what: &str) -> Vec<Value> {
    assert_eq!(policy["Version"], "2012-10-17", "{what}: policy language version");
    let statements = policy["Statement"]
        .as_array()
        .unwrap_or_else(|| panic!("{what}: Statement"));
    for statement in statements {
        assert_eq!(statement["Effect"], "Allow", "{what}: only Allow statements");
    }
    statements.clone()
}

/// Every action the statements allow.
fn actions_of(statements: &[Value]) -> BTreeSet<String> {
    statements.iter().flat_map(|s| one_or_many(&s["Action"])).collect()
}

/// Detective's `operations`, as a policy names them.
fn detective_actions(operations: &[&str]) -> BTreeSet<String> {
    operations.iter().map(|a| format!("detective:{a}")).collect()
}

/// A string or a list of strings.
fn one_or_many(value: &Value) -> Vec<String> {
    match value {
        Value::String(s) => vec![s.clone()],
        other => strings(other),
    }
}

#[test]
fn iam_policies_parse_and_grant_least_privilege() {
    let dir = repo("examples/iam");
    let mut files = 0;
    for entry in std::fs::read_dir(&dir).expect("examples/iam") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "json") {
            let name = format!("examples/iam/{}", path.file_name().expect("name").to_string_lossy());
            let policy = json_file(&name);
            for statement in statements(&policy, &name) {
                for action in one_or_many(&statement["Action"]) {
                    assert!(!action.contains('*'), "{name}: wildcard action {action}");
                }
            }
            files += 1;
        }
    }
    assert!(files >= 5, "examples/iam holds the policies");

    // The administrator role: exactly the Detective calls a DetectiveGraph makes.
    let admin = statements(
        &json_file("examples/iam/administrator-policy.json"),
        "administrator policy",
    );
    let expected = detective_actions(&[
        "ListGraphs",
        "CreateGraph",
        "DeleteGraph",
        "ListMembers",
        "CreateMembers",
        "DeleteMembers",
        "StartMonitoringMember",
        "TagResource",
        "UntagResource",
        "ListTagsForResource",
        "ListDatasourcePackages",
        "UpdateDatasourcePackages",
    ]);
    assert_eq!(actions_of(&admin), expected, "administrator-policy.json actions");
    for statement in &admin {
        let resources = one_or_many(&statement["Resource"]);
        let actions = one_or_many(&statement["Action"]);
        if resources.iter().any(|r| r == "*") {
            let unscoped: BTreeSet<String> = actions.into_iter().collect();
            let allowed: BTreeSet<String> =
                ["detective:ListGraphs".to_owned(), "detective:CreateGraph".to_owned()].into();
            assert!(
                unscoped.is_subset(&allowed),
                "only ListGraphs and CreateGraph need Resource \"*\": {unscoped:?}"
            );
        } else {
            for resource in resources {
                assert!(
                    resource.starts_with("arn:aws:detective:") && resource.contains(":graph:"),
                    "graph-scoped actions name graph ARNs: {resource}"
                );
            }
        }
    }

    // The member account's accept role, and its trust: the operator's role, with an external id.
    let member = statements(&json_file("examples/iam/member-accept-role-policy.json"), "accept role");
    let expected = detective_actions(&[
        "AcceptInvitation",
        "ListInvitations",
        "RejectInvitation",
        "DisassociateMembership",
        "BatchGetMembershipDatasources",
    ]);
    assert_eq!(actions_of(&member), expected, "member-accept-role-policy.json actions");
    let trust = statements(
        &json_file("examples/iam/member-accept-role-trust-policy.json"),
        "accept role trust",
    );
    assert_eq!(trust[0]["Action"], "sts:AssumeRole");
    assert!(
        trust[0]["Principal"]["AWS"]
            .as_str()
            .is_some_and(|p| p.contains(":role/"))
    );
    assert!(
        trust[0]["Condition"]["StringEquals"]["sts:ExternalId"].is_string(),
        "the accept role requires an external id"
    );

    // IRSA: the chart's service account in the release namespace, and STS as the audience.
    let irsa = statements(&json_file("examples/iam/irsa-trust-policy.json"), "IRSA trust");
    assert_eq!(irsa[0]["Action"], "sts:AssumeRoleWithWebIdentity");
    assert!(
        irsa[0]["Principal"]["Federated"]
            .as_str()
            .is_some_and(|p| p.contains(":oidc-provider/"))
    );
    let conditions = irsa[0]["Condition"]["StringEquals"].as_object().expect("StringEquals");
    let value_of = |suffix: &str| {
        conditions
            .iter()
            .find(|(k, _)| k.ends_with(suffix))
            .map(|(_, v)| v.clone())
    };
    assert_eq!(
        value_of(":sub"),
        Some(json!(format!("system:serviceaccount:{NAMESPACE}:{RELEASE}"))),
        "the IRSA trust names the service account the chart creates with its defaults"
    );
    assert_eq!(value_of(":aud"), Some(json!("sts.amazonaws.com")));

    // EKS Pod Identity.
    let pod_identity = statements(
        &json_file("examples/iam/pod-identity-trust-policy.json"),
        "Pod Identity",
    );
    assert_eq!(pod_identity[0]["Principal"]["Service"], "pods.eks.amazonaws.com");
    let actions: BTreeSet<String> = one_or_many(&pod_identity[0]["Action"]).into_iter().collect();
    assert_eq!(
        actions,
        BTreeSet::from(["sts:AssumeRole".to_owned(), "sts:TagSession".to_owned()])
    );
    let readme = read("examples/iam/README.md");
    assert!(readme.contains("aws eks create-pod-identity-association"));
}
