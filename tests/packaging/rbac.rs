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
    grants_for(&[
        "detectivegraphs",
        "detectivememberships",
        "detectiveorganizationadmins",
        "detectivegraphsets",
    ])
}

/// [`operator_grants`] for a process that reconciles only the kinds of these `resources`.
fn grants_for(resources: &[&str]) -> BTreeSet<(String, String, String, Vec<String>)> {
    let group = "detective.operator.dev";
    let mut granted: BTreeSet<_> = grant("events.k8s.io", "events", &["create", "patch"], &[])
        .into_iter()
        .collect();
    for resource in resources {
        // A DetectiveGraphSet has no finalizer: it is never patched.
        let verbs: &[&str] = if *resource == "detectivegraphsets" {
            &["get", "list", "watch"]
        } else {
            &["get", "list", "watch", "patch"]
        };
        granted.extend(grant(group, resource, verbs, &[]));
        granted.extend(grant(group, &format!("{resource}/status"), &["patch"], &[]));
    }
    if resources.contains(&"detectivegraphsets") {
        let children = ["get", "list", "watch", "create", "patch", "delete"];
        granted.extend(grant(group, "detectivegraphs", &children, &[]));
        granted.extend(grant(group, "detectivegraphsets/finalizers", &["update"], &[]));
    }
    granted
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

/// Deployments split by kind (`deployments`) and by shard (`shards`): one Deployment per pair,
/// each with the kinds and label selector it was given; one service account per entry of
/// `deployments`, with its own IAM role, bound to a ClusterRole over its kinds only and to a
/// lease Role naming exactly the Leases of its Deployments.
#[test]
fn kind_split_and_sharded_deployments_each_get_least_privilege() {
    let helm = helm_or_skip!();
    let values = helm.write_values(
        "split.yaml",
        r#"
deployments:
  - name: graphs
    kinds: [graph, membership]
    serviceAccount:
      annotations:
        eks.amazonaws.com/role-arn: arn:aws:iam::111122223333:role/detective-graphs
  - name: organization
    kinds: [organizationadmin]
    serviceAccount:
      annotations:
        eks.amazonaws.com/role-arn: arn:aws:iam::999999999999:role/detective-organization
shards:
  - name: shard-0
    selector: detective.operator.dev/shard=0
  - name: shard-1
    selector: detective.operator.dev/shard in (1,2)
"#,
    );
    let objects = helm.template(&["-f", &values]);
    let named = |kind: &str, name: &str| -> Value {
        of_kind(&objects, kind)
            .into_iter()
            .find(|o| o["metadata"]["name"] == name)
            .unwrap_or_else(|| panic!("no {kind} {name}"))
            .clone()
    };
    let split = [
        (
            "graphs",
            "graph,membership",
            vec!["detectivegraphs", "detectivememberships"],
            "111122223333",
        ),
        (
            "organization",
            "organizationadmin",
            vec!["detectiveorganizationadmins"],
            "999999999999",
        ),
    ];
    let shards = [
        ("shard-0", "detective.operator.dev/shard=0"),
        ("shard-1", "detective.operator.dev/shard in (1,2)"),
    ];
    assert_eq!(of_kind(&objects, "Deployment").len(), split.len() * shards.len());
    assert_eq!(of_kind(&objects, "ServiceAccount").len(), split.len());
    let mut selectors = BTreeSet::new();
    for (part, kinds, resources, account_id) in &split {
        let name = format!("{RELEASE}-{part}");
        let account = named("ServiceAccount", &name);
        assert_eq!(
            account["metadata"]["annotations"]["eks.amazonaws.com/role-arn"],
            format!("arn:aws:iam::{account_id}:role/detective-{part}"),
            "{name}: its own IAM role"
        );
        let cluster_role = named("ClusterRole", &name);
        assert_eq!(
            grants(&cluster_role["rules"], &name),
            grants_for(resources),
            "{name}: its kinds only"
        );
        assert_binds(
            &named("ClusterRoleBinding", &name),
            "ClusterRole",
            &cluster_role,
            &account,
        );

        let mut leases = Vec::new();
        for (shard, selector) in &shards {
            let deployment = named("Deployment", &format!("{name}-{shard}"));
            assert_eq!(deployment["spec"]["template"]["spec"]["serviceAccountName"], name);
            let args = args(&deployment);
            assert!(args.contains(&format!("--kinds={kinds}")), "{args:?}");
            assert!(args.contains(&format!("--watch-label-selector={selector}")), "{args:?}");
            let lease = args
                .iter()
                .find_map(|a| a.strip_prefix("--lease-name=").map(str::to_owned))
                .expect("--lease-name");
            assert_eq!(lease, format!("{name}-{shard}"), "a Lease per Deployment");
            leases.push(lease);
            let selector = deployment["spec"]["selector"]["matchLabels"].to_string();
            assert_eq!(
                deployment["spec"]["template"]["metadata"]["labels"]["detective.operator.dev/controller"],
                deployment["spec"]["selector"]["matchLabels"]["detective.operator.dev/controller"]
            );
            assert!(
                selectors.insert(selector.clone()),
                "Deployments select disjoint pods: {selector}"
            );
        }
        let lease_role = named("Role", &format!("{name}-leader-election"));
        let leases: Vec<&str> = leases.iter().map(String::as_str).collect();
        let expected: BTreeSet<_> = [
            grant("coordination.k8s.io", "leases", &["create"], &[]),
            grant("coordination.k8s.io", "leases", &["get", "patch"], &leases),
        ]
        .into_iter()
        .flatten()
        .collect();
        assert_eq!(
            grants(&lease_role["rules"], "lease Role"),
            expected,
            "{name}: its Leases only"
        );
        assert_binds(
            &named("RoleBinding", &format!("{name}-leader-election")),
            "Role",
            &lease_role,
            &account,
        );
    }

    // Shards alone: the one service account and RBAC, a Deployment and Lease per shard.
    let sharded = helm.template(&[
        "--set",
        "shards[0].name=a",
        "--set",
        "shards[0].selector=detective.operator.dev/shard=0",
    ]);
    let deployment = one(&sharded, "Deployment");
    assert_eq!(deployment["metadata"]["name"], format!("{RELEASE}-a"));
    assert!(args(deployment).contains(&format!("--lease-name={RELEASE}-a")));
    assert!(!args(deployment).iter().any(|a| a.starts_with("--kinds")), "every kind");
    assert_eq!(
        grants(&one(&sharded, "ClusterRole")["rules"], "ClusterRole"),
        operator_grants()
    );
}

/// A kind in two Deployments, a kind that does not exist and a name that cannot be part of an
/// object's name are refused, each naming what is wrong.
#[test]
fn a_kind_in_two_deployments_or_an_unknown_one_is_refused() {
    let helm = helm_or_skip!();
    let twice = helm.write_values(
        "twice.yaml",
        "deployments:\n  - {name: a, kinds: [graph]}\n  - {name: b, kinds: [membership, graph]}\n",
    );
    let error = helm.template_error(&["-f", &twice]);
    assert!(error.contains("kind \"graph\" is in both a and b"), "{error}");
    let unknown = helm.write_values("unknown.yaml", "deployments:\n  - {name: a, kinds: [graphs]}\n");
    let error = helm.template_error(&["-f", &unknown]);
    assert!(
        error.contains("deployments.0.kinds.0") && error.contains("\"organizationadmin\""),
        "names the value and lists the kinds: {error}"
    );
    let bad_name = helm.write_values("name.yaml", "shards:\n  - {name: Shard_0, selector: a=b}\n");
    let error = helm.template_error(&["-f", &bad_name]);
    assert!(error.contains("shards") && error.contains("name"), "{error}");
}
