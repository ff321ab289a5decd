//! The chart as a whole: its version, `helm lint`, what the default and the all-enabled values
//! render, and the values schema.

use std::collections::BTreeSet;
use std::path::PathBuf;

use serde_json::json;

use crate::helm::helm_or_skip;
use crate::rendered::{args, container, kinds, of_kind, one};
use crate::{ALL_ENABLED, CHART, NAMESPACE, read, repo, strings, yaml_documents};

#[test]
fn chart_app_version_is_the_crate_version() {
    let chart = &yaml_documents(&read("charts/detective-operator/Chart.yaml"), "Chart.yaml")[0];
    assert_eq!(chart["apiVersion"], "v2");
    assert_eq!(chart["name"], "detective-operator");
    assert_eq!(
        chart["appVersion"],
        env!("CARGO_PKG_VERSION"),
        "Chart.yaml appVersion must be the Cargo package version (the default image tag)"
    );
    assert!(chart["version"].as_str().is_some_and(|v| !v.is_empty()));
}

#[test]
fn helm_lint_passes_with_default_and_every_ci_values_file() {
    let helm = helm_or_skip!();
    let ci_dir = repo("charts/detective-operator/ci");
    let mut values_files: Vec<PathBuf> = std::fs::read_dir(&ci_dir)
        .expect("charts/detective-operator/ci exists")
        .map(|e| e.expect("readable entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    values_files.sort();
    assert!(
        values_files.iter().any(|p| p.ends_with("all-enabled-values.yaml")),
        "ci/all-enabled-values.yaml switches every optional block on"
    );
    let mut runs: Vec<Vec<String>> = vec![vec![]];
    runs.extend(
        values_files
            .iter()
            .map(|p| vec!["--values".into(), p.to_string_lossy().into_owned()]),
    );
    for extra in runs {
        let mut lint = vec!["lint", "--strict", CHART];
        lint.extend(extra.iter().map(String::as_str));
        let output = helm.run(&lint);
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success() && stdout.contains("0 chart(s) failed"),
            "helm {lint:?}:\n{stdout}{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

#[test]
fn default_values_render_the_operator_and_nothing_optional() {
    let helm = helm_or_skip!();
    let objects = helm.template(&[]);
    let expected: BTreeSet<String> = [
        "ServiceAccount",
        "CustomResourceDefinition",
        "ClusterRole",
        "ClusterRoleBinding",
        "Role",
        "RoleBinding",
        "Service",
        "Deployment",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    assert_eq!(kinds(&objects), expected, "default render");
    for object in &objects {
        let kind = object["kind"].as_str().unwrap_or_default();
        let cluster_scoped = ["CustomResourceDefinition", "ClusterRole", "ClusterRoleBinding"].contains(&kind);
        assert_eq!(
            object["metadata"]["namespace"].as_str(),
            (!cluster_scoped).then_some(NAMESPACE),
            "{kind} {}: namespaced objects go to the release namespace",
            object["metadata"]["name"]
        );
        if kind != "CustomResourceDefinition" {
            // (The CRDs are crds/ verbatim but for the keep annotation.)
            assert_eq!(
                object["metadata"]["labels"]["app.kubernetes.io/name"],
                "detective-operator"
            );
        }
    }

    let deployment = one(&objects, "Deployment");
    assert_eq!(deployment["spec"]["replicas"], 1);
    assert_eq!(
        container(deployment)["image"],
        format!("detective-operator:{}", env!("CARGO_PKG_VERSION"))
    );
    assert_eq!(
        args(deployment),
        [
            "run",
            "--admin-address=0.0.0.0:8080",
            "--leader-elect=true",
            "--lease-name=detective-operator",
            "--concurrency=4",
            "--log-format=json",
        ]
    );
    let service = one(&objects, "Service");
    assert_eq!(service["spec"]["ports"][0]["name"], "metrics");
    assert_eq!(service["spec"]["ports"][0]["targetPort"], "admin");
    assert_eq!(
        service["spec"]["selector"], deployment["spec"]["selector"]["matchLabels"],
        "the metrics Service selects the operator's pods"
    );
}

#[test]
fn all_enabled_values_render_every_optional_object() {
    let helm = helm_or_skip!();
    let objects = helm.template(&["--values", ALL_ENABLED]);
    for kind in ["ServiceMonitor", "PodDisruptionBudget", "NetworkPolicy"] {
        assert_eq!(of_kind(&objects, kind).len(), 1, "{kind} with {ALL_ENABLED}");
    }
    let deployment = one(&objects, "Deployment");
    let selector = &deployment["spec"]["selector"]["matchLabels"];
    assert_eq!(
        one(&objects, "ServiceMonitor")["spec"]["selector"]["matchLabels"],
        *selector
    );
    assert_eq!(
        one(&objects, "PodDisruptionBudget")["spec"]["selector"]["matchLabels"],
        *selector
    );
    let policy = one(&objects, "NetworkPolicy");
    assert_eq!(policy["spec"]["podSelector"]["matchLabels"], *selector);
    assert_eq!(strings(&policy["spec"]["policyTypes"]), ["Ingress", "Egress"]);

    assert_eq!(deployment["spec"]["replicas"], 2);
    let args = args(deployment);
    for expected in [
        "--leader-elect=true",
        "--lease-name=detective-operator-ci",
        "--endpoint-url=https://detective.us-east-1.amazonaws.com",
        "--log-format=text",
        "--concurrency=8",
    ] {
        assert!(args.iter().any(|a| a == expected), "{expected} in {args:?}");
    }
    let env = &container(deployment)["env"];
    let env_value = |name: &str| {
        env.as_array()
            .and_then(|vars| vars.iter().find(|v| v["name"] == name))
            .map(|v| v["value"].clone())
    };
    assert_eq!(env_value("AWS_REGION"), Some(json!("us-east-1")));
    assert_eq!(env_value("AWS_STS_REGIONAL_ENDPOINTS"), Some(json!("regional")));
    assert_eq!(env_value("RUST_LOG"), Some(json!("info,detective_operator=debug")));
    assert!(
        container(deployment)["image"]
            .as_str()
            .is_some_and(|i| i.ends_with("@sha256:0000000000000000000000000000000000000000000000000000000000000000")),
        "a digest takes precedence over the tag"
    );
    assert_eq!(
        one(&objects, "ServiceAccount")["metadata"]["annotations"]["eks.amazonaws.com/role-arn"],
        "arn:aws:iam::111122223333:role/detective-operator"
    );
    // The lease Role follows the lease name.
    let lease_role = of_kind(&objects, "Role")
        .into_iter()
        .find(|r| r["metadata"]["name"] == "detective-operator-leader-election")
        .expect("the lease Role");
    assert_eq!(
        strings(&lease_role["rules"][1]["resourceNames"]),
        ["detective-operator-ci"]
    );
}

#[test]
fn values_schema_rejects_wrong_types_and_unknown_keys_naming_them() {
    let helm = helm_or_skip!();
    let wrong_type = helm.write_values("wrong-type.yaml", "replicas: \"two\"\n");
    let error = helm.template_error(&["--values", &wrong_type]);
    assert!(
        error.contains("replicas") && error.contains("Invalid type"),
        "replicas: \"two\" is refused naming the key:\n{error}"
    );

    let typo = helm.write_values("typo.yaml", "replica: 2\n");
    let error = helm.template_error(&["--values", &typo]);
    assert!(
        error.contains("replica ") && error.contains("not allowed"),
        "an unknown top-level key is refused naming it:\n{error}"
    );

    for (set, key) in [
        ("image.tga=latest", "tga"),
        ("serviceMonitor.enable=true", "enable"),
        ("logging.format=yaml", "logging.format"),
        ("aws.region=US East", "aws.region"),
        (
            "podDisruptionBudget.minAvailable=half",
            "podDisruptionBudget.minAvailable",
        ),
    ] {
        let error = helm.template_error(&["--set", set]);
        assert!(
            error.contains("values don't meet the specifications of the schema") && error.contains(key),
            "--set {set} is refused by values.schema.json naming {key}:\n{error}"
        );
    }
}

#[test]
fn more_than_one_replica_requires_leader_election() {
    let helm = helm_or_skip!();
    let error = helm.template_error(&["--set", "replicas=2", "--set", "leaderElection.enabled=false"]);
    assert!(error.contains("leaderElection.enabled"), "{error}");

    // One replica without leader election: no Lease, no lease Role.
    let objects = helm.template(&["--set", "leaderElection.enabled=false"]);
    let deployment = one(&objects, "Deployment");
    assert!(args(deployment).contains(&"--leader-elect=false".to_owned()));
    assert!(!args(deployment).iter().any(|a| a.starts_with("--lease-name")));
    assert!(
        of_kind(&objects, "Role").is_empty(),
        "no lease Role without leader election"
    );
}
