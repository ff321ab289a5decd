//! The chart installs, upgrades and uninstalls into a real API server, the way users run Helm.

use std::process::Command;

use crate::harness::{Env, repo_path, run_checked};

/// `helm` against the control plane as the admin user, with its caches in the test's directory.
fn helm(env: &Env, args: &[&str]) -> Result<String, String> {
    let home = env.dir.join("helm");
    run_checked(
        Command::new(&env.plane.helm)
            .args(args)
            .arg("--kubeconfig")
            .arg(&env.plane.admin_kubeconfig)
            .env("HELM_CACHE_HOME", home.join("cache"))
            .env("HELM_CONFIG_HOME", home.join("config"))
            .env("HELM_DATA_HOME", home.join("data")),
    )
}

/// One field of the release's Deployment (`kubectl get deployment -o jsonpath=...`).
async fn deployment(env: &Env, field: &str) -> String {
    env.kubectl(&["get", "deployment", "-o", &format!("jsonpath={{.items[0].{field}}}")])
        .await
        .ok()
}

/// The release's annotation on a CRD (empty when Helm does not own it).
async fn crd_release(env: &Env, crd: &str) -> String {
    env.kubectl(&[
        "get",
        "crd",
        crd,
        "-o",
        "jsonpath={.metadata.annotations.meta\\.helm\\.sh/release-name}",
    ])
    .await
    .ok()
}

const CRDS: [&str; 4] = [
    "detectivegraphs.detective.operator.dev",
    "detectivegraphsets.detective.operator.dev",
    "detectivememberships.detective.operator.dev",
    "detectiveorganizationadmins.detective.operator.dev",
];

/// `helm install` with the chart's own CRDs, `helm upgrade` with more replicas (leader election
/// then on), `helm uninstall`, which must leave the CRDs (and so every resource) in place.
///
/// The harness installed `crds/` before any test, as a cluster's administrator would; the chart
/// takes them over (`--take-ownership`, the same content), which is what uninstall is then
/// checked against: CRDs the release owned.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_chart_installs_upgrades_and_uninstalls() {
    let Some(env) = Env::new("helm").await else { return };
    let chart = repo_path("charts/detective-operator");
    let chart = chart.to_str().expect("UTF-8 path");
    let release = format!("op-{}", env.ns);
    // `helm install` / `helm upgrade` of the release, with one value set.
    let release_with = |verb: &str, value: &str| {
        let done = helm(
            &env,
            &[
                verb,
                release.as_str(),
                chart,
                "--namespace",
                env.ns.as_str(),
                "--take-ownership",
                "--set",
                value,
            ],
        );
        assert!(done.is_ok(), "helm {verb}: {done:?}");
    };

    release_with("install", "aws.region=eu-west-1");
    let args = deployment(&env, "spec.template.spec.containers[0].args").await;
    assert!(args.contains("run"), "the Deployment runs the operator: {args}");
    let role = env.kubectl(&["get", "clusterrole", "-o", "name"]).await.ok();
    assert!(role.contains(&release), "a ClusterRole for the release: {role}");
    let account = env.kubectl(&["get", "serviceaccount", "-o", "name"]).await.ok();
    assert!(account.contains("detective-operator"), "{account}");
    for crd in CRDS {
        assert_eq!(crd_release(&env, crd).await, release, "the release installed {crd}");
    }

    release_with("upgrade", "replicas=2");
    assert_eq!(deployment(&env, "spec.replicas").await.trim(), "2");
    let args = deployment(&env, "spec.template.spec.containers[0].args").await;
    assert!(args.contains("--leader-elect=true"), "{args}");

    let removed = helm(&env, &["uninstall", release.as_str(), "--namespace", env.ns.as_str()]);
    assert!(removed.is_ok(), "helm uninstall: {removed:?}");
    let left = env.kubectl(&["get", "deployment", "-o", "name"]).await.ok();
    assert!(left.trim().is_empty(), "the Deployment is gone: {left}");
    for crd in CRDS {
        let kept = env.kubectl(&["get", "crd", crd, "-o", "name"]).await;
        assert!(kept.success, "uninstall leaves the CRD {crd}: {}", kept.stderr);
    }
}
