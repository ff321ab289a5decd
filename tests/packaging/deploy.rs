//! deploy/detective-operator.yaml: a fresh render of the chart behind a restricted Namespace.

use std::process::Command;

use crate::helm::helm_or_skip;
use crate::{CHART, NAMESPACE, REGENERATE, RELEASE, read, repo, yaml_documents};

#[test]
fn plain_manifest_is_a_fresh_render_of_the_chart() {
    let helm = helm_or_skip!();
    let checked_in = read("deploy/detective-operator.yaml");
    let output = Command::new(repo("deploy/render.sh"))
        .arg("--print-manifest")
        .env("HELM", &helm.bin)
        .env("HELM_CACHE_HOME", helm.home.path().join("cache"))
        .env("HELM_CONFIG_HOME", helm.home.path().join("config"))
        .env("HELM_DATA_HOME", helm.home.path().join("data"))
        .output()
        .expect("deploy/render.sh runs");
    assert!(
        output.status.success(),
        "deploy/render.sh --print-manifest failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let fresh = String::from_utf8(output.stdout).expect("UTF-8");
    assert!(
        checked_in == fresh,
        "deploy/detective-operator.yaml is out of date with the chart: {REGENERATE}"
    );

    // And it is what the brief says: a Namespace, then the chart with default values.
    let documents = yaml_documents(&checked_in, "deploy/detective-operator.yaml");
    let namespace = &documents[0];
    assert_eq!(namespace["kind"], "Namespace");
    assert_eq!(namespace["metadata"]["name"], NAMESPACE);
    assert_eq!(
        namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"], "restricted",
        "the namespace enforces the restricted Pod Security profile"
    );
    assert!(
        documents[1..] == helm.template(&[])[..],
        "deploy/detective-operator.yaml is the Namespace + `helm template {RELEASE} {CHART} --namespace {NAMESPACE}`"
    );
}
