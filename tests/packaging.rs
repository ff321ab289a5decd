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

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

#[path = "observability/mod.rs"]
mod observability;
#[path = "e2e/harness/prerequisite.rs"]
mod prerequisite;

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

// ---------------------------------------------------------------------------------------------
// helm

/// The pinned helm, and a private HELM_{CACHE,CONFIG,DATA}_HOME for this test.
struct Helm {
    bin: PathBuf,
    home: tempfile::TempDir,
}

/// Runs tests/e2e/setup-helm.sh once per test binary.
fn helm_bin() -> &'static Result<PathBuf, String> {
    static BIN: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    BIN.get_or_init(|| {
        let home = tempfile::tempdir().map_err(|e| e.to_string())?;
        let dir = prerequisite::setup_script(
            "tests/e2e/setup-helm.sh",
            &[
                ("HELM_CACHE_HOME", home.path().join("cache")),
                ("HELM_CONFIG_HOME", home.path().join("config")),
                ("HELM_DATA_HOME", home.path().join("data")),
            ],
        )?;
        let bin = dir.join("helm");
        if !bin.is_file() {
            return Err(format!(
                "tests/e2e/setup-helm.sh printed {}, which holds no helm",
                dir.display()
            ));
        }
        Ok(bin)
    })
}

/// helm, or `None` after a loud message (a failure instead when `CI` is set).
fn helm() -> Option<Helm> {
    match helm_bin() {
        Ok(bin) => Some(Helm {
            bin: bin.clone(),
            home: tempfile::tempdir().expect("temporary directory"),
        }),
        Err(reason) => {
            prerequisite::fail_or_skip(
                "packaging test",
                &format!("no helm ({reason})"),
                "run tests/e2e/setup-helm.sh (see tests/e2e/README.md)",
            );
            None
        }
    }
}

macro_rules! helm_or_skip {
    () => {
        match helm() {
            Some(helm) => helm,
            None => return,
        }
    };
}

impl Helm {
    fn command(&self) -> Command {
        let mut command = Command::new(&self.bin);
        command
            .current_dir(repo(""))
            .env("HELM_CACHE_HOME", self.home.path().join("cache"))
            .env("HELM_CONFIG_HOME", self.home.path().join("config"))
            .env("HELM_DATA_HOME", self.home.path().join("data"));
        command
    }

    fn run(&self, args: &[&str]) -> Output {
        self.command()
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("helm {args:?}: {e}"))
    }

    /// `helm template detective-operator CHART --namespace detective-operator ARGS...`, which
    /// must succeed; its output as text.
    fn template_text(&self, args: &[&str]) -> String {
        let mut all = vec!["template", RELEASE, CHART, "--namespace", NAMESPACE];
        all.extend_from_slice(args);
        let output = self.run(&all);
        assert!(
            output.status.success(),
            "helm {all:?} failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).expect("helm prints UTF-8")
    }

    /// The rendered objects.
    fn template(&self, args: &[&str]) -> Vec<Value> {
        yaml_documents(&self.template_text(args), &format!("helm template {args:?}"))
    }

    /// The chart rendered with its default values and with the all-enabled values, each named.
    fn both_value_sets(&self) -> [(&'static str, Vec<Value>); 2] {
        [
            ("default values", self.template(&[])),
            ("all-enabled values", self.template(&["--values", ALL_ENABLED])),
        ]
    }

    /// `helm template` that must fail; its stderr.
    fn template_error(&self, args: &[&str]) -> String {
        let mut all = vec!["template", RELEASE, CHART, "--namespace", NAMESPACE];
        all.extend_from_slice(args);
        let output = self.run(&all);
        assert!(
            !output.status.success(),
            "helm {all:?} should have failed, but rendered:\n{}",
            String::from_utf8_lossy(&output.stdout)
        );
        String::from_utf8_lossy(&output.stderr).into_owned()
    }

    fn write_values(&self, name: &str, yaml: &str) -> String {
        let path = self.home.path().join(name);
        std::fs::write(&path, yaml).expect("write a values file");
        path.to_string_lossy().into_owned()
    }
}

fn of_kind<'a>(objects: &'a [Value], kind: &str) -> Vec<&'a Value> {
    objects.iter().filter(|o| o["kind"] == kind).collect()
}

fn one<'a>(objects: &'a [Value], kind: &str) -> &'a Value {
    let found = of_kind(objects, kind);
    assert_eq!(found.len(), 1, "expected exactly one {kind}, found {}", found.len());
    found[0]
}

fn kinds(objects: &[Value]) -> BTreeSet<String> {
    objects
        .iter()
        .map(|o| o["kind"].as_str().unwrap_or_default().to_owned())
        .collect()
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .map(|items| items.iter().filter_map(|i| i.as_str().map(str::to_owned)).collect())
        .unwrap_or_default()
}

fn container(deployment: &Value) -> &Value {
    let containers = deployment["spec"]["template"]["spec"]["containers"]
        .as_array()
        .expect("the Deployment has containers");
    assert_eq!(containers.len(), 1, "one container: the operator");
    &containers[0]
}

fn args(deployment: &Value) -> Vec<String> {
    strings(&container(deployment)["args"])
}

// ---------------------------------------------------------------------------------------------
// The chart as a whole

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

// ---------------------------------------------------------------------------------------------
// The Deployment: restricted Pod Security, probes, identity

/// The checks of the Pod Security Standards' "restricted" profile (plus a read-only root file
/// system), on a rendered Deployment.
fn assert_restricted(deployment: &Value, what: &str) {
    let pod = &deployment["spec"]["template"]["spec"];
    for host in ["hostNetwork", "hostPID", "hostIPC", "hostUsers"] {
        assert!(pod[host] != json!(true), "{what}: {host} must not be set");
    }
    let allowed_volumes = [
        "configMap",
        "csi",
        "downwardAPI",
        "emptyDir",
        "ephemeral",
        "persistentVolumeClaim",
        "projected",
        "secret",
    ];
    for volume in pod["volumes"].as_array().into_iter().flatten() {
        let kinds: Vec<&String> = volume
            .as_object()
            .expect("volume")
            .keys()
            .filter(|k| *k != "name")
            .collect();
        assert!(
            kinds.iter().all(|k| allowed_volumes.contains(&k.as_str())),
            "{what}: volume {volume} is not allowed by the restricted profile"
        );
    }
    let pod_context = &pod["securityContext"];
    assert_eq!(pod_context["runAsNonRoot"], true, "{what}: pod runAsNonRoot");
    assert!(
        pod_context["runAsUser"].as_i64().is_some_and(|uid| uid != 0),
        "{what}: pod runAsUser must be a non-root UID"
    );
    assert_eq!(pod_context["runAsUser"], 65532, "{what}: the image's UID");
    assert_eq!(
        pod_context["seccompProfile"]["type"], "RuntimeDefault",
        "{what}: pod seccomp"
    );
    assert!(pod_context["sysctls"].is_null(), "{what}: no sysctls");

    let mut containers: Vec<&Value> = pod["containers"].as_array().expect("containers").iter().collect();
    containers.extend(pod["initContainers"].as_array().into_iter().flatten());
    for c in containers {
        let name = &c["name"];
        let context = &c["securityContext"];
        assert_eq!(
            context["allowPrivilegeEscalation"], false,
            "{what}/{name}: allowPrivilegeEscalation"
        );
        assert!(context["privileged"] != json!(true), "{what}/{name}: privileged");
        assert_eq!(
            strings(&context["capabilities"]["drop"]),
            ["ALL"],
            "{what}/{name}: drop ALL"
        );
        assert!(
            strings(&context["capabilities"]["add"]).is_empty(),
            "{what}/{name}: no added capabilities"
        );
        assert_eq!(context["readOnlyRootFilesystem"], true, "{what}/{name}: read-only root");
        assert!(context["runAsNonRoot"] != json!(false), "{what}/{name}: runAsNonRoot");
        assert!(context["runAsUser"] != json!(0), "{what}/{name}: runAsUser 0");
        let seccomp = context["seccompProfile"]["type"].as_str().unwrap_or("RuntimeDefault");
        assert!(
            ["RuntimeDefault", "Localhost"].contains(&seccomp),
            "{what}/{name}: seccomp {seccomp}"
        );
        assert!(context["procMount"].is_null(), "{what}/{name}: procMount");
        for port in c["ports"].as_array().into_iter().flatten() {
            assert!(port["hostPort"].is_null(), "{what}/{name}: hostPort {port}");
        }
    }
}

#[test]
fn deployment_passes_the_restricted_pod_security_profile() {
    let helm = helm_or_skip!();
    for (what, objects) in helm.both_value_sets() {
        assert_restricted(one(&objects, "Deployment"), what);
    }
}

#[test]
fn deployment_probes_identity_and_service_account_fit_the_binary() {
    let helm = helm_or_skip!();
    let objects = helm.template(&[]);
    let deployment = one(&objects, "Deployment");
    let pod = &deployment["spec"]["template"]["spec"];
    let c = container(deployment);
    assert_eq!(c["ports"][0]["name"], "admin");
    assert_eq!(c["ports"][0]["containerPort"], 8080);
    assert!(args(deployment).contains(&"--admin-address=0.0.0.0:8080".to_owned()));
    assert_eq!(c["livenessProbe"]["httpGet"]["path"], "/healthz");
    assert_eq!(c["livenessProbe"]["httpGet"]["port"], "admin");
    assert_eq!(c["readinessProbe"]["httpGet"]["path"], "/readyz");
    assert_eq!(c["readinessProbe"]["httpGet"]["port"], "admin");
    assert!(c["resources"]["requests"]["memory"].is_string() && c["resources"]["limits"]["memory"].is_string());

    // The downward API gives the Lease namespace and the replica's identity.
    let field_of = |name: &str| {
        c["env"]
            .as_array()
            .and_then(|vars| vars.iter().find(|v| v["name"] == name))
            .map(|v| v["valueFrom"]["fieldRef"]["fieldPath"].clone())
    };
    assert_eq!(field_of("POD_NAMESPACE"), Some(json!("metadata.namespace")));
    assert_eq!(field_of("POD_NAME"), Some(json!("metadata.name")));

    let account = one(&objects, "ServiceAccount");
    assert_eq!(pod["serviceAccountName"], account["metadata"]["name"]);
    assert_eq!(
        pod["automountServiceAccountToken"], true,
        "the operator needs its token"
    );
    assert_eq!(
        account["automountServiceAccountToken"], false,
        "other pods using the account get no token"
    );
}

/// The chart's args (default and all-enabled) are accepted by the operator binary's parser: it
/// gets past argument parsing and fails on the (missing) kubeconfig, not with a usage error.
#[test]
fn rendered_args_are_accepted_by_the_operator_binary() {
    let helm = helm_or_skip!();
    for (what, objects) in helm.both_value_sets() {
        let mut args = args(one(&objects, "Deployment"));
        // Same flag, a port that is always free, should the binary ever bind before failing.
        for arg in &mut args {
            if arg.starts_with("--admin-address=") {
                *arg = "--admin-address=127.0.0.1:0".into();
            }
        }
        let missing = helm.home.path().join("no-such-kubeconfig");
        let mut child = Command::new(env!("CARGO_BIN_EXE_detective-operator"))
            .args(&args)
            .arg("--kubeconfig")
            .arg(&missing)
            .env_remove("KUBECONFIG")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the operator binary runs");
        let deadline = Instant::now() + Duration::from_secs(30);
        while child.try_wait().expect("wait").is_none() {
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("{what}: detective-operator {args:?} did not exit on a missing kubeconfig");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let output = child.wait_with_output().expect("output");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_ne!(
            output.status.code(),
            Some(2),
            "{what}: usage error for {args:?}:\n{stderr}"
        );
        assert!(
            !stderr.contains("Usage:"),
            "{what}: usage error for {args:?}:\n{stderr}"
        );
        assert!(
            stderr.contains("kubeconfig"),
            "{what}: expected the missing kubeconfig to be the failure:\n{stderr}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// RBAC

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
/// server-side-apply their status, and record events.k8s.io Events.
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

// ---------------------------------------------------------------------------------------------
// CRDs

const KEEP_ANNOTATION: [&str; 4] = [
    "  {{- if .Values.crds.keep }}",
    "  annotations:",
    "    helm.sh/resource-policy: keep",
    "  {{- end }}",
];

fn crd_files() -> Vec<(String, PathBuf)> {
    let mut files: Vec<(String, PathBuf)> = std::fs::read_dir(repo("crds"))
        .expect("crds/")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .map(|p| {
            let name = p.file_name().expect("file name").to_string_lossy().into_owned();
            let short = name.strip_prefix("detective.operator.dev_").unwrap_or(&name).to_owned();
            (short, p)
        })
        .collect();
    files.sort();
    files
}

#[test]
fn chart_crd_templates_are_crds_dir_wrapped_and_annotated() {
    let templates = repo("charts/detective-operator/templates/crds");
    let mut present: Vec<String> = std::fs::read_dir(&templates)
        .expect("charts/detective-operator/templates/crds")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    present.sort();
    let expected: Vec<String> = crd_files().into_iter().map(|(short, _)| short).collect();
    assert_eq!(present, expected, "one chart template per file of crds/: {REGENERATE}");

    for (short, source) in crd_files() {
        let crd = std::fs::read_to_string(&source).expect("crds/ file");
        let template = std::fs::read_to_string(templates.join(&short)).expect("template");
        let mut lines: Vec<&str> = template.lines().collect();
        assert!(
            lines.len() > 3 && lines[0].starts_with("{{- /*") && lines[1] == "{{- if .Values.crds.enabled }}",
            "templates/crds/{short} starts with the generated-file comment and the crds.enabled guard: {REGENERATE}"
        );
        assert_eq!(
            lines.last(),
            Some(&"{{- end }}"),
            "templates/crds/{short} ends the guard"
        );
        lines.drain(..2);
        lines.pop();
        let metadata = lines.iter().position(|l| *l == "metadata:").expect("metadata:");
        assert_eq!(
            lines[metadata + 1..metadata + 1 + KEEP_ANNOTATION.len()],
            KEEP_ANNOTATION,
            "templates/crds/{short}: the keep annotation follows metadata: ({REGENERATE})"
        );
        lines.drain(metadata + 1..metadata + 1 + KEEP_ANNOTATION.len());
        let unwrapped = lines.join("\n") + "\n";
        assert!(
            unwrapped == crd,
            "templates/crds/{short} differs from crds/ (beyond the wrapper and the annotation): {REGENERATE}"
        );
    }
}

#[test]
fn chart_renders_the_crds_of_crds_dir_with_the_keep_annotation() {
    let helm = helm_or_skip!();
    let expected: Vec<Value> = crd_files()
        .iter()
        .map(|(_, path)| yaml_documents(&std::fs::read_to_string(path).expect("crds/"), "crds/")[0].clone())
        .collect();
    let objects = helm.template(&[]);
    let mut rendered: Vec<Value> = of_kind(&objects, "CustomResourceDefinition")
        .into_iter()
        .cloned()
        .collect();
    assert_eq!(rendered.len(), expected.len(), "every CRD is rendered");
    for crd in &mut rendered {
        let metadata = crd["metadata"].as_object_mut().expect("metadata");
        assert_eq!(
            metadata.remove("annotations"),
            Some(json!({"helm.sh/resource-policy": "keep"})),
            "helm uninstall keeps the CRDs"
        );
    }
    let by_name = |crds: &[Value]| -> BTreeMap<String, Value> {
        crds.iter()
            .map(|c| (c["metadata"]["name"].as_str().expect("name").to_owned(), c.clone()))
            .collect()
    };
    assert!(
        by_name(&rendered) == by_name(&expected),
        "the chart renders crds/ unchanged but for the annotation: {REGENERATE}"
    );

    let without = helm.template(&["--set", "crds.enabled=false"]);
    assert!(
        of_kind(&without, "CustomResourceDefinition").is_empty(),
        "crds.enabled=false renders no CRD"
    );
    let unkept = helm.template(&["--set", "crds.keep=false"]);
    for crd in of_kind(&unkept, "CustomResourceDefinition") {
        assert!(
            crd["metadata"]["annotations"].is_null(),
            "crds.keep=false: no keep annotation"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// deploy/

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

// ---------------------------------------------------------------------------------------------
// Container image (deploy/Dockerfile, deploy/build-image.sh; the image itself is built and run
// by the e2e suite: tests/e2e/cases/image.rs)

#[test]
fn dockerfile_is_one_scratch_stage_running_the_operator_as_non_root() {
    let dockerfile = read("deploy/Dockerfile");
    let instructions: Vec<&str> = dockerfile
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    let froms: Vec<&&str> = instructions.iter().filter(|l| l.starts_with("FROM ")).collect();
    assert_eq!(
        froms,
        [&"FROM scratch"],
        "one stage on an empty base: nothing to pull, what CI builds is what users build"
    );
    assert!(instructions.contains(&"USER 65532:65532"), "runs as UID/GID 65532");
    assert!(
        instructions
            .iter()
            .any(|l| l.starts_with("ENTRYPOINT [") && l.contains("detective-operator\"]")),
        "entrypoint: the operator binary"
    );
    assert!(instructions.contains(&"CMD [\"run\"]"), "default command: run");
    // Its OCI labels; and the build script builds exactly this: the static operator without the
    // emulator.
    let script = read("deploy/build-image.sh");
    for (file, text, expected) in [
        ("deploy/Dockerfile", &dockerfile, "org.opencontainers.image.source="),
        ("deploy/Dockerfile", &dockerfile, "org.opencontainers.image.version="),
        ("deploy/Dockerfile", &dockerfile, "org.opencontainers.image.revision="),
        (
            "deploy/build-image.sh",
            &script,
            "cargo auditable build --profile image --locked",
        ),
        ("deploy/build-image.sh", &script, "--no-default-features"),
        ("deploy/build-image.sh", &script, "target-feature=+crt-static"),
        ("deploy/build-image.sh", &script, "deploy/Dockerfile"),
    ] {
        assert!(text.contains(expected), "{file} lacks {expected}");
    }

    // The chart runs the image as the same user.
    let values = &yaml_documents(&read("charts/detective-operator/values.yaml"), "values.yaml")[0];
    assert_eq!(values["podSecurityContext"]["runAsUser"], 65532);
    assert_eq!(values["securityContext"]["runAsUser"], 65532);
}

// ---------------------------------------------------------------------------------------------
// examples/iam

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

// ---------------------------------------------------------------------------------------------
// examples/gitops

const ARGOCD_KEYS: [&str; 3] = [
    "resource.customizations.health.detective.operator.dev_DetectiveGraph",
    "resource.customizations.health.detective.operator.dev_DetectiveMembership",
    "resource.customizations.health.detective.operator.dev_DetectiveOrganizationAdmin",
];

#[test]
fn argocd_config_map_embeds_the_health_check_for_every_kind() {
    let script = read("examples/gitops/argocd/health.lua");
    let config = &yaml_documents(&read("examples/gitops/argocd/argocd-cm.yaml"), "argocd-cm.yaml")[0];
    assert_eq!(config["kind"], "ConfigMap");
    assert_eq!(config["metadata"]["name"], "argocd-cm");
    for key in ARGOCD_KEYS {
        assert!(
            config["data"][key].as_str() == Some(script.as_str()),
            "argocd-cm.yaml {key} holds examples/gitops/argocd/health.lua verbatim"
        );
    }
    for needle in [
        "observedGeneration",
        "\"Stalled\"",
        "\"Ready\"",
        "\"Reconciling\"",
        "Degraded",
    ] {
        assert!(script.contains(needle), "health.lua reads {needle}");
    }
}

/// A Lua table constructor for a JSON value.
fn lua_literal(value: &Value) -> String {
    match value {
        Value::Null => "nil".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => format!("{s:?}"),
        Value::Array(items) => format!("{{{}}}", items.iter().map(lua_literal).collect::<Vec<_>>().join(", ")),
        Value::Object(map) => format!(
            "{{{}}}",
            map.iter()
                .map(|(k, v)| format!("[{k:?}] = {}", lua_literal(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

fn lua_interpreter() -> Option<&'static str> {
    ["lua5.1", "lua"].into_iter().find(|lua| {
        Command::new(lua)
            .arg("-v")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok()
    })
}

/// Runs health.lua on `obj` the way Argo CD does (the script's chunk with `obj` in scope).
fn argocd_health(lua: &str, script: &str, obj: &Value) -> (String, String) {
    let program = format!(
        "obj = {}\nlocal hs = (function()\n{script}\nend)()\nio.write(hs.status, \"\\n\", hs.message or \"\", \"\\n\")\n",
        lua_literal(obj)
    );
    let output = Command::new(lua).arg("-e").arg(&program).output().expect("lua runs");
    assert!(
        output.status.success(),
        "health.lua failed on {obj}:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    let mut lines = stdout.lines();
    (
        lines.next().unwrap_or_default().to_owned(),
        lines.next().unwrap_or_default().to_owned(),
    )
}

#[test]
fn argocd_health_check_maps_kstatus_conditions() {
    let Some(lua) = lua_interpreter() else {
        prerequisite::fail_or_skip(
            "argocd_health_check_maps_kstatus_conditions",
            "no Lua interpreter (lua5.1 or lua)",
            "apt-get install lua5.1 to run it (.ci/run does)",
        );
        return;
    };
    let script = read("examples/gitops/argocd/health.lua");
    let condition = |type_: &str, status: &str, message: &str| json!({"type": type_, "status": status, "reason": "R", "message": message, "observedGeneration": 2});
    let graph = |generation: i64, spec: Value, status: Value| {
        json!({
            "apiVersion": "detective.operator.dev/v1alpha1",
            "kind": "DetectiveGraph",
            "metadata": {"name": "org-graph", "namespace": "security", "generation": generation},
            "spec": spec,
            "status": status,
        })
    };
    let members = json!({"members": [{"accountId": "111111111111", "emailAddress": "a@example.com"}]});
    // A status about generation 2 with the three kstatus conditions; an empty message is False.
    let kstatus = |ready: (&str, &str), reconciling: &str, stalled: &str| {
        let flag = |message: &str| if message.is_empty() { "False" } else { "True" };
        let conditions = [
            condition("Ready", ready.0, ready.1),
            condition("Reconciling", flag(reconciling), reconciling),
            condition("Stalled", flag(stalled), stalled),
        ];
        graph(
            2,
            members.clone(),
            json!({"observedGeneration": 2, "conditions": conditions}),
        )
    };
    let guard = "the deletion guard refused 12 removals";
    let cases = [
        (
            "no status yet",
            json!({"apiVersion": "detective.operator.dev/v1alpha1", "kind": "DetectiveGraph",
                   "metadata": {"name": "g", "generation": 1}, "spec": members}),
            "Progressing",
            "",
        ),
        (
            "ready",
            kstatus(("True", "1 of 1 members enabled"), "", ""),
            "Healthy",
            "1 of 1 members enabled",
        ),
        (
            "ready but about an older spec",
            graph(
                3,
                members.clone(),
                json!({"observedGeneration": 2, "conditions": [condition("Ready", "True", "ok")]}),
            ),
            "Progressing",
            "generation 3",
        ),
        (
            "stalled",
            kstatus(("False", guard), "", guard),
            "Degraded",
            "deletion guard",
        ),
        (
            "reconciling",
            kstatus(("False", "2 invitations pending"), "2 invitations pending", ""),
            "Progressing",
            "invitations pending",
        ),
        (
            "not ready with nothing in flight",
            kstatus(("False", "verification failed: 111111111111"), "", ""),
            "Degraded",
            "verification failed",
        ),
        (
            "suspended",
            graph(
                2,
                json!({"suspend": true, "members": []}),
                json!({"observedGeneration": 1}),
            ),
            "Suspended",
            "suspend",
        ),
    ];
    for (what, obj, status, message) in cases {
        let (got_status, got_message) = argocd_health(lua, &script, &obj);
        assert_eq!(got_status, status, "{what}: health status ({got_message})");
        assert!(
            got_message.contains(message),
            "{what}: message {got_message:?} mentions {message:?}"
        );
    }
}

#[test]
fn flux_kustomization_waits_for_graph_health_after_the_operator() {
    let documents = yaml_documents(
        &read("examples/gitops/flux/kustomization.yaml"),
        "flux/kustomization.yaml",
    );
    let kustomizations: Vec<&Value> = documents
        .iter()
        .filter(|d| d["kind"] == "Kustomization" && d["apiVersion"] == "kustomize.toolkit.fluxcd.io/v1")
        .collect();
    let operator = kustomizations
        .iter()
        .find(|k| k["metadata"]["name"] == "detective-operator")
        .expect("a Kustomization for the operator");
    assert_eq!(
        operator["spec"]["wait"], true,
        "the operator's Kustomization waits for it"
    );
    let graphs = kustomizations
        .iter()
        .find(|k| !k["spec"]["healthChecks"].is_null())
        .expect("a Kustomization with healthChecks for the graphs");
    assert_eq!(graphs["spec"]["dependsOn"], json!([{"name": "detective-operator"}]));
    let check = &graphs["spec"]["healthChecks"][0];
    assert_eq!(check["apiVersion"], "detective.operator.dev/v1alpha1");
    assert_eq!(check["kind"], "DetectiveGraph");
    assert!(check["name"].is_string() && check["namespace"].is_string());
    assert!(
        graphs["spec"]["timeout"].is_string(),
        "a timeout long enough for invitations"
    );
}

#[test]
fn flux_helm_release_uses_this_chart_with_values_it_accepts() {
    let documents = yaml_documents(&read("examples/gitops/flux/helmrelease.yaml"), "flux/helmrelease.yaml");
    let release = documents
        .iter()
        .find(|d| d["kind"] == "HelmRelease")
        .expect("a HelmRelease");
    assert_eq!(release["apiVersion"], "helm.toolkit.fluxcd.io/v2");
    let chart = release["spec"]["chart"]["spec"]["chart"].as_str().expect("chart path");
    assert_eq!(chart.trim_start_matches("./"), CHART);
    let source = &release["spec"]["chart"]["spec"]["sourceRef"];
    assert!(
        documents
            .iter()
            .any(|d| d["kind"] == source["kind"] && d["metadata"]["name"] == source["name"]),
        "the HelmRelease's source is defined beside it"
    );

    // Its values pass the chart's schema and render.
    let helm = helm_or_skip!();
    let values = serde_json::to_string(&release["spec"]["values"]).expect("values");
    let file = helm.write_values("helmrelease-values.json", &values);
    let objects = helm.template(&["--values", &file]);
    assert_eq!(one(&objects, "Deployment")["spec"]["replicas"], 2);
    assert_eq!(of_kind(&objects, "PodDisruptionBudget").len(), 1);
}

// ---------------------------------------------------------------------------------------------
// docs

/// Every leaf key of values.yaml (maps are descended into; lists are leaves).
fn value_keys(prefix: &str, value: &Value, out: &mut Vec<String>) {
    match value.as_object() {
        Some(map) if !map.is_empty() && !prefix.ends_with("resources") && !prefix.ends_with("ecurityContext") => {
            for (key, child) in map {
                let path = if prefix.is_empty() {
                    key.clone()
                } else {
                    format!("{prefix}.{key}")
                };
                value_keys(&path, child, out);
            }
        }
        _ => out.push(prefix.to_owned()),
    }
}

#[test]
fn install_guide_documents_every_value() {
    let values = &yaml_documents(&read("charts/detective-operator/values.yaml"), "values.yaml")[0];
    let mut keys = Vec::new();
    value_keys("", values, &mut keys);
    let guide = read("docs/install.md");
    let missing: Vec<&String> = keys.iter().filter(|k| !guide.contains(&format!("`{k}`"))).collect();
    assert!(missing.is_empty(), "docs/install.md's values table lacks {missing:?}");
    // And the schema knows every top-level key (additionalProperties: false would refuse it).
    let schema = json_file("charts/detective-operator/values.schema.json");
    assert_eq!(schema["additionalProperties"], false);
    for key in values.as_object().expect("values").keys() {
        assert!(
            schema["properties"][key].is_object(),
            "values.schema.json describes {key}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Alerts (templates/prometheusrule.yaml) and the Grafana dashboard (dashboards/, templates/grafana-dashboard.yaml)

const DASHBOARD: &str = "charts/detective-operator/dashboards/detective-operator.json";
const ALERT_TESTS: &str = "tests/observability/alerts.test.yaml";

/// `promtool`, or `None` after a loud message (a failure instead when `CI` is set).
fn promtool() -> Option<PathBuf> {
    let bin = std::env::var_os("PROMTOOL").map_or_else(|| PathBuf::from("promtool"), PathBuf::from);
    match Command::new(&bin).arg("--version").output() {
        Ok(output) if output.status.success() => Some(bin),
        result => {
            let reason = match result {
                Ok(output) => format!("`{} --version` failed ({})", bin.display(), output.status),
                Err(e) => format!("{}: {e}", bin.display()),
            };
            prerequisite::fail_or_skip(
                "alert/dashboard test",
                &format!("no promtool ({reason})"),
                "install Debian's `prometheus` package (or set PROMTOOL)",
            );
            None
        }
    }
}

/// `promtool ARGS` in `dir`, which must succeed; its output.
fn run_promtool(promtool: &Path, dir: &Path, args: &[&str]) -> String {
    let output = Command::new(promtool)
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("promtool {args:?}: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "promtool {args:?} failed:\n{text}");
    text
}

/// GitHub's anchor of a Markdown heading.
fn anchor(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || *c == ' ' || *c == '-' || *c == '_')
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

#[test]
fn alerts_and_dashboard_are_off_by_default_and_rendered_by_their_switches() {
    let helm = helm_or_skip!();
    let objects = helm.template(&[]);
    // The dashboard is the chart's only ConfigMap.
    for kind in ["PrometheusRule", "ConfigMap"] {
        assert!(of_kind(&objects, kind).is_empty(), "no {kind} by default");
    }

    let objects = helm.template(&observability::SWITCHES_ON);
    let rule = one(&objects, "PrometheusRule");
    assert_eq!(rule["apiVersion"], "monitoring.coreos.com/v1");
    assert_eq!(rule["metadata"]["namespace"], NAMESPACE);
    assert_eq!(
        rule["metadata"]["labels"]["app.kubernetes.io/name"],
        "detective-operator"
    );
    let config_map = one(&objects, "ConfigMap");
    assert_eq!(config_map["metadata"]["namespace"], NAMESPACE);
    assert_eq!(
        config_map["metadata"]["labels"]["grafana_dashboard"], "1",
        "the label the Grafana sidecar reads by default"
    );
    assert_eq!(
        observability::rendered_dashboard(&objects).unwrap(),
        json_file(DASHBOARD),
        "the ConfigMap embeds dashboards/detective-operator.json as it is"
    );
    let absent = observability::rules(&objects)
        .unwrap()
        .into_iter()
        .find(|r| r["alert"] == "DetectiveOperatorAbsent")
        .expect("DetectiveOperatorAbsent");
    assert_eq!(
        absent["expr"], "absent(up{job=\"detective-operator\"} == 1)",
        "the default job is the Service's name"
    );

    // Every knob of ci/all-enabled-values.yaml lands where prometheus-operator and Grafana read it.
    let objects = helm.template(&["--values", ALL_ENABLED]);
    let rule = one(&objects, "PrometheusRule");
    assert_eq!(rule["metadata"]["namespace"], "monitoring");
    assert_eq!(
        rule["metadata"]["labels"]["release"], "prometheus",
        "additionalLabels, for a ruleSelector"
    );
    let rules = observability::rules(&objects).unwrap();
    for rule in &rules {
        assert_eq!(rule["labels"]["team"], "security", "alertLabels on {}", rule["alert"]);
        assert!(
            rule["annotations"]["runbook_url"]
                .as_str()
                .is_some_and(|u| u
                    .starts_with("https://git.example.com/security/detective-operator/blob/main/docs/runbooks.md#")),
            "runbookBaseUrl in {rule}"
        );
    }
    let by_name = |name: &str| rules.iter().find(|r| r["alert"] == name).expect(name);
    assert_eq!(by_name("DetectiveResourceStalled")["for"], "30m");
    assert!(
        by_name("DetectiveOperatorAwsErrors")["expr"]
            .as_str()
            .is_some_and(|e| e.trim_end().ends_with("> 0.5")),
        "awsErrorRatio"
    );
    assert_eq!(
        by_name("DetectiveOperatorAbsent")["expr"],
        "absent(up{job=\"detective-operator-metrics\"} == 1)"
    );
    let config_map = one(&objects, "ConfigMap");
    assert_eq!(config_map["metadata"]["namespace"], "monitoring");
    assert_eq!(config_map["metadata"]["labels"]["grafana_dashboard_security"], "true");
    assert_eq!(config_map["metadata"]["annotations"]["grafana_folder"], "Security");
}

#[test]
fn values_schema_rejects_bad_alert_thresholds_and_dashboard_labels() {
    let helm = helm_or_skip!();
    for (set, key, expected) in [
        ("prometheusRule.thresholds.stalledFor=15", "stalledFor", "Invalid type"),
        (
            "prometheusRule.thresholds.graphNotReadyFor=1hour",
            "graphNotReadyFor",
            "pattern",
        ),
        (
            "prometheusRule.thresholds.awsErrorRatio=high",
            "awsErrorRatio",
            "schema",
        ),
        (
            "prometheusRule.thresholds.reconcileErrorRatio=2",
            "reconcileErrorRatio",
            "schema",
        ),
        ("prometheusRule.thresholds.absentFor=", "absentFor", "pattern"),
        ("prometheusRule.threshold.stalledFor=1h", "threshold", "not allowed"),
        (
            "prometheusRule.additionalLabels.release=true",
            "release",
            "Invalid type",
        ),
        ("grafanaDashboard.labelValue=1", "labelValue", "Invalid type"),
    ] {
        let error = helm.template_error(&["--set", set]);
        assert!(
            error.contains("values don't meet the specifications of the schema")
                && error.contains(key)
                && error.contains(expected),
            "--set {set} is refused by values.schema.json naming {key} ({expected}):\n{error}"
        );
    }
    // A ratio given on the command line arrives as a string (helm --set only types integers and
    // booleans): a decimal string is accepted and rendered as the number.
    let objects = helm.template(&[
        "--set",
        "prometheusRule.enabled=true",
        "--set",
        "prometheusRule.thresholds.awsErrorRatio=0.05",
    ]);
    let rules = observability::rules(&objects).unwrap();
    let aws = rules
        .iter()
        .find(|r| r["alert"] == "DetectiveOperatorAwsErrors")
        .unwrap();
    assert!(aws["expr"].as_str().unwrap().trim_end().ends_with("> 0.05"), "{aws}");
}

#[test]
fn every_alert_names_its_resource_and_links_its_runbook_section() {
    let helm = helm_or_skip!();
    let objects = helm.template(&["--set", "prometheusRule.enabled=true"]);
    let rules = observability::rules(&objects).unwrap();
    let runbooks = read("docs/runbooks.md");
    let sections: BTreeSet<String> = runbooks
        .lines()
        .filter_map(|l| l.strip_prefix("## "))
        .map(anchor)
        .collect();
    let mut alerts = BTreeSet::new();
    for rule in &rules {
        let name = rule["alert"].as_str().expect("every rule is an alert");
        alerts.insert(name.to_lowercase());
        let annotations = &rule["annotations"];
        for key in ["summary", "description", "runbook_url"] {
            assert!(
                annotations[key].as_str().is_some_and(|v| !v.trim().is_empty()),
                "{name} has a {key}"
            );
        }
        let description = annotations["description"].as_str().unwrap_or_default();
        let names_resource = ["$labels.name", "$labels.operation", "$labels.kind"]
            .iter()
            .any(|label| description.contains(label))
            || description.contains("\"detective-operator\"");
        assert!(
            names_resource,
            "{name}'s description names what it is about: {description}"
        );
        assert!(
            ["warning", "critical"].contains(&rule["labels"]["severity"].as_str().unwrap_or_default()),
            "{name} has a severity"
        );
        let url = annotations["runbook_url"].as_str().unwrap_or_default();
        let (base, section) = url.split_once('#').unwrap_or((url, ""));
        assert_eq!(base, "docs/runbooks.md", "{name}: the default runbookBaseUrl");
        assert!(
            sections.contains(section),
            "{name}'s runbook_url points at #{section}, which is not a section of docs/runbooks.md ({sections:?})"
        );
    }
    assert_eq!(alerts.len(), 9, "the nine alerts of the chart: {alerts:?}");
    let unused: Vec<&String> = sections.iter().filter(|s| !alerts.contains(*s)).collect();
    assert!(unused.is_empty(), "docs/runbooks.md sections for no alert: {unused:?}");
}

#[test]
fn rendered_alert_rules_pass_promtool_check_and_unit_tests() {
    let helm = helm_or_skip!();
    let Some(promtool) = promtool() else { return };
    let objects = helm.template(&["--set", "prometheusRule.enabled=true"]);
    let dir = tempfile::tempdir().expect("temporary directory");
    std::fs::write(
        dir.path().join("rules.yaml"),
        observability::rules_file(&objects).unwrap(),
    )
    .expect("write rules.yaml");
    std::fs::copy(repo(ALERT_TESTS), dir.path().join("alerts.test.yaml")).expect("copy the unit tests");
    let checked = run_promtool(&promtool, dir.path(), &["check", "rules", "rules.yaml"]);
    assert!(checked.contains("SUCCESS: 9 rules found"), "{checked}");
    let tested = run_promtool(&promtool, dir.path(), &["test", "rules", "alerts.test.yaml"]);
    assert!(tested.contains("SUCCESS"), "{tested}");

    // The unit tests cover every alert both ways: firing on a series that should trip it, and
    // silent (exp_alerts: []) where it should not.
    let tests = &yaml_documents(&read(ALERT_TESTS), ALERT_TESTS)[0];
    let mut fires = BTreeSet::new();
    let mut silent = BTreeSet::new();
    for case in tests["tests"].as_array().into_iter().flatten() {
        for check in case["alert_rule_test"].as_array().into_iter().flatten() {
            let name = check["alertname"].as_str().unwrap_or_default().to_owned();
            match check["exp_alerts"].as_array().map(Vec::len) {
                Some(0) => silent.insert(name),
                Some(_) => fires.insert(name),
                None => panic!("{ALERT_TESTS}: {name} without exp_alerts"),
            };
        }
    }
    for rule in observability::rules(&objects).unwrap() {
        let name = rule["alert"].as_str().unwrap_or_default();
        assert!(fires.contains(name), "{ALERT_TESTS} has no case where {name} fires");
        assert!(
            silent.contains(name),
            "{ALERT_TESTS} has no case where {name} stays silent"
        );
    }
}

#[test]
fn dashboard_queries_parse_and_use_its_variables() {
    let dashboard = json_file(DASHBOARD);
    let variables: BTreeSet<&str> = dashboard["templating"]["list"]
        .as_array()
        .expect("templating.list")
        .iter()
        .filter_map(|v| v["name"].as_str())
        .collect();
    assert_eq!(variables, BTreeSet::from(["datasource", "namespace", "resource"]));
    let queries = observability::dashboard_queries(&dashboard);
    let titles: Vec<&str> = dashboard["panels"]
        .as_array()
        .expect("panels")
        .iter()
        .filter(|p| p["type"] != "row")
        .map(|p| {
            assert_eq!(
                p["datasource"]["uid"], "${datasource}",
                "panel {} uses the datasource variable",
                p["title"]
            );
            p["title"].as_str().unwrap_or_default()
        })
        .collect();
    for wanted in [
        "Members by status per graph",
        "Ready per resource",
        "Stalled per resource",
        "Reconciles by result",
        "Reconcile duration p95",
        "AWS calls by operation and outcome",
        "Deletion-guard trips",
    ] {
        assert!(titles.contains(&wanted), "a panel {wanted:?} in {titles:?}");
    }
    for (place, query) in &queries {
        let per_resource = [
            "graph_members",
            "resource_condition",
            "deletion_guard",
            "last_successful_sync",
        ]
        .iter()
        .any(|m| query.contains(m));
        if per_resource && place.starts_with("panel") {
            assert!(
                query.contains("namespace=~\"$namespace\"") && query.contains("name=~\"$resource\""),
                "{place} filters by the namespace and resource variables: {query}"
            );
        }
    }

    // Every query, variables substituted, parses: promtool checks them as recording rules.
    let Some(promtool) = promtool() else { return };
    let rules: Vec<Value> = queries
        .iter()
        .enumerate()
        .map(|(i, (_, query))| json!({"record": format!("dashboard:query_{i}"), "expr": observability::substitute_variables(query)}))
        .collect();
    let dir = tempfile::tempdir().expect("temporary directory");
    std::fs::write(
        dir.path().join("dashboard.yaml"),
        json!({"groups": [{"name": "dashboard", "rules": rules}]}).to_string(),
    )
    .expect("write dashboard.yaml");
    let checked = run_promtool(&promtool, dir.path(), &["check", "rules", "dashboard.yaml"]);
    assert!(
        checked.contains(&format!("SUCCESS: {} rules found", queries.len())),
        "{checked}"
    );
}

#[test]
fn alerts_and_dashboard_use_only_documented_operator_metrics() {
    let helm = helm_or_skip!();
    let objects = helm.template(&observability::SWITCHES_ON);
    let referenced = observability::referenced_names(
        &observability::rules(&objects).unwrap(),
        &observability::rendered_dashboard(&objects).unwrap(),
    );
    let readme = read("README.md");
    let observability_section = readme
        .split("\n## Observability")
        .nth(1)
        .and_then(|rest| rest.split("\n## ").next())
        .expect("README.md has an Observability section");
    for (name, place) in &referenced {
        if observability::SCRAPE_SERIES.contains(&name.as_str()) {
            continue;
        }
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|s| name.strip_suffix(s))
            .unwrap_or(name);
        assert!(
            family.starts_with("detective_operator_") && observability_section.contains(&format!("`{family}")),
            "{place} uses {name}, which README.md's Observability section does not list as an operator metric"
        );
    }
    // (That the operator really exports them: the e2e case observability::metrics_referenced_by_alerts_and_dashboard_are_exported.)
}
