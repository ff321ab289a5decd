//! The chart's RBAC: exactly the grants the operator uses, cluster-wide or in one namespace.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use crate::helm::helm_or_skip;
use crate::rendered::{args, of_kind, one};
use crate::{NAMESPACE, RELEASE, strings};

/// (apiGroup, resource, verb, resourceNames) for every grant of a set of rules; panics on a
/// wildcard or on non-resource URLs.
fn grants(rules: &Value, what: &str) -> BTreeSet<(String, String, String, Vec<String>)> {
    let mut out = BTreeSet::new();
    for rule in rules.as_array().unwrap_or_else(|| panic!("{what}: rules")) {
        assert!(rule["nonResourceURLs"].is_null(), "{what}: nonResourceURLs in {rule}");
        let names = strings(&rule["resourceNames"]);
        for group in strings(&rule["apiGroups"]) {
            for resource in strings(&rule["resources"]) {
                for verb in strings(&rule["verbs"]) {
                    for field in [&group, &resource, &verb] {
                        assert!(!field.contains('*'), "{what}: wildcard in {rule}");
                    }
                    out.insert((group.clone(), resource.clone(), verb.clone(), names.clone()));
                }
            }
        }
    }
    out
}

fn grant(group: &str, resource: &str, verbs: &[&str], names: &[&str]) -> Vec<(String, String, String, Vec<String>)> {
    verbs
        .iter()
        .map(|verb| {
            (
                group.to_owned(),
                resource.to_owned(),
                (*verb).to_owned(),
                names.iter().map(|n| (*n).to_owned()).collect(),
            )
        })
        .collect()
}

/// Exactly what the controller does: list/watch/get and JSON-patch (finalizers) its resources,
/// server-side-apply their status, and record events.k8s.io Events; for a DetectiveGraphSet,
/// read the sets and create, apply, release and delete their child DetectiveGraphs.
fn operator_grants() -> BTreeSet<(String, String, String, Vec<String>)> {
    let group = "detective.operator.dev";
    [
        grant(group, "detectivegraphs", &["get", "list", "watch", "patch"], &[]),
        grant(group, "detectivememberships", &["get", "list", "watch", "patch"], &[]),
        grant(
            group,
            "detectiveorganizationadmins",
            &["get", "list", "watch", "patch"],
            &[],
        ),
        grant(group, "detectivegraphs", &["create", "delete"], &[]),
        grant(group, "detectivegraphsets", &["get", "list", "watch"], &[]),
        grant(group, "detectivegraphsets/finalizers", &["update"], &[]),
        grant(group, "detectivegraphsets/status", &["patch"], &[]),
        grant(group, "detectivegraphs/status", &["patch"], &[]),
        grant(group, "detectivememberships/status", &["patch"], &[]),
        grant(group, "detectiveorganizationadmins/status", &["patch"], &[]),
        grant("events.k8s.io", "events", &["create", "patch"], &[]),
    ]
    .into_iter()
    .flatten()
    .collect()
}

fn assert_binds(binding: &Value, role_kind: &str, role: &Value, account: &Value) {
    assert_eq!(binding["roleRef"]["kind"], role_kind);
    assert_eq!(binding["roleRef"]["name"], role["metadata"]["name"]);
    assert_eq!(
        binding["subjects"],
        json!([{
            "kind": "ServiceAccount",
            "name": account["metadata"]["name"],
            "namespace": account["metadata"]["namespace"],
        }])
    );
}

#[test]
fn cluster_role_grants_exactly_what_the_operator_uses() {
    let helm = helm_or_skip!();
    let objects = helm.template(&[]);
    let account = one(&objects, "ServiceAccount");
    let cluster_role = one(&objects, "ClusterRole");
    let granted = grants(&cluster_role["rules"], "ClusterRole");
    assert_eq!(granted, operator_grants(), "the ClusterRole's rules");
    assert!(
        !granted.iter().any(|(_, resource, _, _)| resource == "secrets"),
        "no access to Secrets"
    );
    assert_binds(
        one(&objects, "ClusterRoleBinding"),
        "ClusterRole",
        cluster_role,
        account,
    );

    // The Lease, in the release namespace: create, then get/patch of this one Lease only
    // (kube-lease-manager makes no other call).
    let lease_role = one(&objects, "Role");
    assert_eq!(lease_role["metadata"]["namespace"], NAMESPACE);
    let lease_name = args(one(&objects, "Deployment"))
        .iter()
        .find_map(|a| a.strip_prefix("--lease-name=").map(str::to_owned))
        .expect("--lease-name");
    let expected: BTreeSet<_> = [
        grant("coordination.k8s.io", "leases", &["create"], &[]),
        grant("coordination.k8s.io", "leases", &["get", "patch"], &[&lease_name]),
    ]
    .into_iter()
    .flatten()
    .collect();
    assert_eq!(grants(&lease_role["rules"], "lease Role"), expected);
    let lease_binding = one(&objects, "RoleBinding");
    assert_eq!(lease_binding["metadata"]["namespace"], NAMESPACE);
    assert_binds(lease_binding, "Role", lease_role, account);
}

#[test]
fn namespaced_mode_renders_a_role_and_no_cluster_role() {
    let helm = helm_or_skip!();
    for (watch, values) in [
        (
            "security",
            vec!["--set", "rbac.namespaced=true", "--set", "rbac.watchNamespace=security"],
        ),
        (NAMESPACE, vec!["--set", "rbac.namespaced=true"]),
    ] {
        let objects = helm.template(&values);
        for kind in ["ClusterRole", "ClusterRoleBinding"] {
            assert!(of_kind(&objects, kind).is_empty(), "namespaced mode: no {kind}");
        }
        let account = one(&objects, "ServiceAccount");
        let role = of_kind(&objects, "Role")
            .into_iter()
            .find(|r| r["metadata"]["name"] == RELEASE)
            .expect("the operator's Role");
        assert_eq!(role["metadata"]["namespace"], watch);
        assert_eq!(grants(&role["rules"], "Role"), operator_grants());
        let binding = of_kind(&objects, "RoleBinding")
            .into_iter()
            .find(|r| r["metadata"]["name"] == RELEASE)
            .expect("the operator's RoleBinding");
        assert_eq!(binding["metadata"]["namespace"], watch);
        assert_binds(binding, "Role", role, account);
        assert!(
            args(one(&objects, "Deployment")).contains(&format!("--namespace={watch}")),
            "the operator watches {watch} only"
        );
    }
    let cluster_wide = helm.template(&[]);
    assert!(
        !args(one(&cluster_wide, "Deployment"))
            .iter()
            .any(|a| a.starts_with("--namespace")),
        "cluster-wide mode watches every namespace"
    );
}
