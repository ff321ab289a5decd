//! Packaging: the Helm chart (charts/detective-operator), the plain manifests (deploy/), the
//! container image recipe (deploy/Dockerfile), the IAM policies (examples/iam/) and the GitOps recipes
//! (examples/gitops/), checked the way users consume them: `helm lint` and `helm template` with
//! the pinned helm of tests/e2e/setup-helm.sh, the rendered objects parsed and inspected.
//!
//! Without helm (the setup script failed) the helm tests print a loud message and pass, unless
//! `CI` is set: then they fail. The Argo CD health check runs only when a Lua interpreter is
//! installed (`lua5.1`, as in Argo CD's gopher-lua, or `lua`). The alert and dashboard tests need
//! `promtool` (Debian's `prometheus` package; `.ci/run` installs it): without it they print a loud
//! message and pass, unless `CI` is set.
//!
//! This file holds what every concern reads with: the repository's files, YAML and JSON parsing,
//! and the chart's release coordinates. The pinned helm is [`helm`], the queries of rendered
//! objects [`rendered`]; each other module checks one concern.

use std::path::{Path, PathBuf};

use serde_json::Value;

#[path = "../observability/mod.rs"]
mod observability;
#[path = "../e2e/harness/prerequisite.rs"]
mod prerequisite;

mod helm;
mod rendered;

mod alerts;
mod chart;
mod crds;
mod deploy;
mod deployment;
mod docs;
mod gitops;
mod iam;
mod image;
mod rbac;

const CHART: &str = "charts/detective-operator";
const RELEASE: &str = "detective-operator";
const NAMESPACE: &str = "detective-operator";
const ALL_ENABLED: &str = "charts/detective-operator/ci/all-enabled-values.yaml";
const REGENERATE: &str = "run `deploy/render.sh` (it regenerates charts/detective-operator/templates/crds/ from crds/ \
                          and deploy/detective-operator.yaml from the chart) and commit the result";

fn repo(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(relative)
}

fn read(relative: &str) -> String {
    std::fs::read_to_string(repo(relative)).unwrap_or_else(|e| panic!("{relative}: {e}"))
}

fn yaml_documents(text: &str, what: &str) -> Vec<Value> {
    let documents: Vec<Value> =
        serde_saphyr::from_multiple(text).unwrap_or_else(|e| panic!("{what} is not valid YAML: {e}\n{text}"));
    documents.into_iter().filter(|d| !d.is_null()).collect()
}

fn json_file(relative: &str) -> Value {
    serde_json::from_str(&read(relative)).unwrap_or_else(|e| panic!("{relative} is not valid JSON: {e}"))
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .map(|items| items.iter().filter_map(|i| i.as_str().map(str::to_owned)).collect())
        .unwrap_or_default()
}
