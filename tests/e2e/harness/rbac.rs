//! The operator's identity: a token user bound to exactly the RBAC the Helm chart ships.
//!
//! `helm template` renders `charts/detective-operator` (helm from tests/e2e/setup-helm.sh); its
//! ClusterRole(s) are applied as rendered and bound to [`OPERATOR_USER`] cluster-wide (on each
//! control plane: the shared one, and any test's own), and its
//! Role(s) (the lease Role) are applied into each test namespace, which plays the operator's own
//! namespace, and bound there. Nothing else is granted, so every scenario that runs the operator
//! as this user proves the chart's RBAC is enough, and `rbac_*` tests prove it is not more.

use std::process::Command;
use std::sync::OnceLock;

use serde_json::{Value, json};

use super::control_plane::OPERATOR_USER;
use super::{ControlPlane, Env, kubectl, repo_path, run_checked};

/// The chart's RBAC, rendered once per test binary.
pub struct ChartRbac {
    /// The Roles, namespace stripped (applied into each test namespace).
    pub roles: Vec<Value>,
    /// The Lease the Roles allow (their `resourceNames` for leases), if they name one.
    pub lease_name: Option<String>,
    /// The ClusterRoles and their bindings to the operator user, as one `List` to apply.
    cluster_wide: String,
}

pub const CHART: &str = "charts/detective-operator";

/// Renders the chart (once per test binary) and binds its ClusterRoles to the operator user
/// (once per control plane). Panics when the chart cannot be rendered (it is part of the
/// repository) or the binding fails.
pub fn chart_rbac(plane: &ControlPlane) -> &'static ChartRbac {
    static RBAC: OnceLock<Result<ChartRbac, String>> = OnceLock::new();
    let rbac = match RBAC.get_or_init(|| render(plane)) {
        Ok(rbac) => rbac,
        Err(error) => panic!("the Helm chart's RBAC is needed to run the operator: {error}"),
    };
    if let Err(error) = plane.cluster_rbac.get_or_init(|| bind_cluster_wide(plane, rbac)) {
        panic!("the Helm chart's RBAC is needed to run the operator: {error}");
    }
    rbac
}

fn render(plane: &ControlPlane) -> Result<ChartRbac, String> {
    let chart = repo_path(CHART);
    if !chart.join("templates").is_dir() {
        return Err(format!("{CHART}/templates does not exist"));
    }
    let home = plane.root.join("helm");
    let rendered = run_checked(
        Command::new(&plane.helm)
            .args(["template", "e2e"])
            .arg(&chart)
            .args(["--namespace", "e2e-release"])
            .env("HELM_CACHE_HOME", home.join("cache"))
            .env("HELM_CONFIG_HOME", home.join("config"))
            .env("HELM_DATA_HOME", home.join("data")),
    )?;
    let documents: Vec<Value> =
        serde_saphyr::from_multiple(&rendered).map_err(|e| format!("helm template output is not YAML: {e}"))?;
    let of_kind = |kind: &str| -> Vec<Value> {
        documents
            .iter()
            .filter(|d| d["kind"] == kind)
            .cloned()
            .map(|mut d| {
                if let Some(meta) = d["metadata"].as_object_mut() {
                    meta.remove("namespace");
                }
                d
            })
            .collect()
    };
    let cluster_roles = of_kind("ClusterRole");
    let roles = of_kind("Role");
    if cluster_roles.is_empty() {
        return Err(format!("`helm template {CHART}` renders no ClusterRole:\n{rendered}"));
    }
    let mut items = cluster_roles.clone();
    for role in &cluster_roles {
        let name = role["metadata"]["name"].as_str().unwrap_or_default();
        items.push(json!({
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": {"name": format!("{OPERATOR_USER}-{name}")},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": name},
            "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": OPERATOR_USER}],
        }));
    }
    let cluster_wide = json!({"apiVersion": "v1", "kind": "List", "items": items}).to_string();
    let lease_name = roles
        .iter()
        .flat_map(|role| role["rules"].as_array().cloned().unwrap_or_default())
        .filter(|rule| {
            rule["resources"]
                .as_array()
                .is_some_and(|r| r.iter().any(|r| r == "leases"))
        })
        .find_map(|rule| rule["resourceNames"][0].as_str().map(str::to_owned));
    Ok(ChartRbac {
        roles,
        lease_name,
        cluster_wide,
    })
}

/// Applies the chart's ClusterRoles and binds them to the operator user.
fn bind_cluster_wide(plane: &ControlPlane, rbac: &ChartRbac) -> Result<(), String> {
    let mut apply = Command::new("kubectl");
    apply
        .arg("--kubeconfig")
        .arg(&plane.admin_kubeconfig)
        .args(["apply", "-f", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = apply.spawn().map_err(|e| e.to_string())?;
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().expect("stdin");
        stdin
            .write_all(rbac.cluster_wide.as_bytes())
            .map_err(|e| e.to_string())?;
    }
    let output = child.wait_with_output().map_err(|e| e.to_string())?;
    if !output.status.success() {
        return Err(format!(
            "applying the chart's ClusterRoles failed: {}",
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    Ok(())
}

/// Applies the chart's Roles into the test namespace and binds them to the operator user.
pub async fn bind_in_namespace(env: &Env) {
    let rbac = chart_rbac(env.plane);
    let mut items = Vec::new();
    for role in &rbac.roles {
        let name = role["metadata"]["name"].as_str().unwrap_or_default();
        let mut role = role.clone();
        role["metadata"]["namespace"] = json!(env.ns);
        items.push(role);
        items.push(json!({
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": {"name": format!("{OPERATOR_USER}-{name}"), "namespace": env.ns},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name},
            "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": OPERATOR_USER}],
        }));
    }
    if items.is_empty() {
        return;
    }
    let list = json!({"apiVersion": "v1", "kind": "List", "items": items}).to_string();
    kubectl(&env.plane.admin_kubeconfig, &["apply", "-f", "-"], Some(&list))
        .await
        .ok();
}

/// The Lease the chart's Role lets the operator use.
pub fn lease_name(env: &Env) -> String {
    chart_rbac(env.plane)
        .lease_name
        .clone()
        .expect("the chart's lease Role names its Lease in resourceNames")
}
