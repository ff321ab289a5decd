//! The e2e harness: a shared control plane ([`control_plane`]), one namespace per test ([`Env`]),
//! the operator as a real process ([`operator`]) bound to the Helm chart's RBAC ([`rbac`]), and
//! polling helpers. Nothing here sleeps for a fixed time: every wait polls with a deadline.

pub mod container;
pub mod control_plane;
pub mod gate;
pub mod operator;
pub mod prerequisite;
pub mod process;
pub mod rbac;
pub mod tls;

use std::future::Future;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use detective_emulator::{AccountConfig, Emulator, WorldConfig};
use kube::api::{Api, ApiResource, DynamicObject};
use kube::config::{KubeConfigOptions, Kubeconfig};
use serde_json::Value;

pub use control_plane::ControlPlane;
pub use operator::{Operator, OperatorOptions};

/// The administrator account the operators act as (not one of the example's member accounts).
pub const ADMIN: &str = "123456789012";
/// The Region of the examples.
pub const REGION: &str = "us-east-1";

/// A path inside the repository.
pub fn repo_path(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(relative)
}

/// A missing prerequisite of the e2e tests: fatal under CI (`CI` set), a loud skip otherwise.
pub fn fail_or_skip(reason: &str) {
    prerequisite::fail_or_skip("e2e test", reason, "tests/e2e/README.md says what the e2e tests need");
}

/// Runs a command to completion; its stdout, or an error naming the command with its stderr.
pub fn run_checked(command: &mut Command) -> Result<String, String> {
    let output = command.output().map_err(|e| format!("{command:?}: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "{command:?} failed ({}):\n{}{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// What a kubectl invocation printed.
#[derive(Debug)]
pub struct Output {
    pub success: bool,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    #[track_caller]
    pub fn ok(self) -> String {
        assert!(self.success, "kubectl failed:\n{}{}", self.stdout, self.stderr);
        self.stdout
    }
}

/// Runs kubectl with `kubeconfig`, optionally feeding `stdin`.
pub async fn kubectl(kubeconfig: &Path, args: &[&str], stdin: Option<&str>) -> Output {
    use tokio::io::AsyncWriteExt;
    let mut command = tokio::process::Command::new("kubectl");
    command
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args(args)
        .stdin(if stdin.is_some() {
            std::process::Stdio::piped()
        } else {
            std::process::Stdio::null()
        })
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true);
    let mut child = command.spawn().expect("kubectl runs");
    if let Some(text) = stdin {
        let mut pipe = child.stdin.take().expect("stdin");
        pipe.write_all(text.as_bytes()).await.expect("write kubectl stdin");
        drop(pipe);
    }
    let output = child.wait_with_output().await.expect("kubectl output");
    Output {
        success: output.status.success(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// `GET path` over HTTP/1.0 (so the answer is never chunked): `(status, body)`, `None` when
/// the server cannot be reached.
pub async fn http_get(endpoint: &str, path: &str) -> Option<(u16, String)> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let authority = endpoint.strip_prefix("http://")?;
    let mut stream = tokio::net::TcpStream::connect(authority).await.ok()?;
    let request = format!("GET {path} HTTP/1.0\r\nHost: {authority}\r\n\r\n");
    stream.write_all(request.as_bytes()).await.ok()?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.ok()?;
    let raw = String::from_utf8_lossy(&raw);
    let (head, body) = raw.split_once("\r\n\r\n")?;
    let status = head.split_whitespace().nth(1)?.parse().ok()?;
    Some((status, body.to_owned()))
}

/// Polls `check` every 250 ms until it returns `Ok` or `timeout` passes; then panics with
/// `what` and the last error.
pub async fn eventually<T, F, Fut>(timeout: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, String>>,
{
    let started = Instant::now();
    loop {
        match check().await {
            Ok(value) => return value,
            Err(last) if started.elapsed() > timeout => {
                panic!("timed out after {timeout:?} waiting for {what}; last seen: {last}")
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(250)).await,
        }
    }
}

/// An emulator on a free loopback port whose default caller is [`ADMIN`].
pub async fn emulator(world: WorldConfig) -> Emulator {
    crate::fixtures::start_emulator_as(ADMIN, world).await
}

/// A world where each of `accounts` accepts its invitation at once and is GuardDuty-enrolled,
/// so it reaches ENABLED on the read after its invitation.
pub fn accepting_world<'a>(accounts: impl IntoIterator<Item = &'a str>) -> WorldConfig {
    WorldConfig {
        accounts: accounts
            .into_iter()
            .map(|id| AccountConfig {
                account_id: id.to_owned(),
                guard_duty_enrolled: true,
                auto_accept_after_ms: Some(0),
                ..AccountConfig::default()
            })
            .collect(),
        ..WorldConfig::default()
    }
}

/// One test's namespace on the shared control plane, a working directory, and an admin client.
pub struct Env {
    pub plane: &'static ControlPlane,
    pub ns: String,
    pub dir: PathBuf,
    pub client: kube::Client,
    _dir: tempfile::TempDir,
}

impl Env {
    /// A fresh namespace `<prefix>-<n>` on the shared control plane; `None` when the e2e
    /// prerequisites are missing outside CI.
    pub async fn new(prefix: &str) -> Option<Env> {
        let plane = ControlPlane::get()?;
        if let Err(died) = plane.check_alive() {
            panic!("the shared control plane is down: {died}");
        }
        Some(Env::on(plane, prefix).await)
    }

    /// Like [`Env::new`], on a control plane of the test's own ([`ControlPlane::dedicated`]),
    /// which the test may restart; [`ControlPlane::stop`] it when done.
    pub async fn dedicated(prefix: &str) -> Option<Env> {
        Some(Env::on(ControlPlane::dedicated()?, prefix).await)
    }

    async fn on(plane: &'static ControlPlane, prefix: &str) -> Env {
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        static NEXT: AtomicUsize = AtomicUsize::new(1);
        let ns = format!("{prefix}-{}", NEXT.fetch_add(1, Ordering::Relaxed));
        let tests = plane.root.join("tests");
        std::fs::create_dir_all(&tests).expect("tests dir");
        let dir = tempfile::Builder::new()
            .prefix(&format!("{ns}-"))
            .tempdir_in(&tests)
            .expect("test dir");
        kubectl(&plane.admin_kubeconfig, &["create", "namespace", &ns], None)
            .await
            .ok();
        let kubeconfig = Kubeconfig::read_from(&plane.admin_kubeconfig).expect("admin kubeconfig");
        let config = kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
            .await
            .expect("admin kube config");
        let client = kube::Client::try_from(config).expect("admin client");
        Env {
            plane,
            ns,
            dir: dir.path().to_owned(),
            client,
            _dir: dir,
        }
    }

    /// The events (events.k8s.io) about the object `name` in this namespace.
    pub async fn events_about(&self, name: &str) -> Vec<Value> {
        let out = self.kubectl(&["get", "events.events.k8s.io", "-o", "json"]).await.ok();
        let list: Value = serde_json::from_str(&out).expect("events JSON");
        list["items"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|event| event["regarding"]["name"] == name)
            .cloned()
            .collect()
    }

    /// The reasons of the events about the object `name`, in the order they were listed.
    pub async fn event_reasons(&self, name: &str) -> Vec<String> {
        let events = self.events_about(name).await;
        events
            .iter()
            .filter_map(|event| event["reason"].as_str().map(str::to_owned))
            .collect()
    }

    /// kubectl as the admin user, in this namespace.
    pub async fn kubectl(&self, args: &[&str]) -> Output {
        let mut all = vec!["--namespace", self.ns.as_str()];
        all.extend_from_slice(args);
        kubectl(&self.plane.admin_kubeconfig, &all, None).await
    }

    /// `kubectl <args> -f -` as the admin user, in this namespace, with `yaml` on stdin.
    pub async fn kubectl_stdin(&self, args: &[&str], yaml: &str) -> Output {
        let mut all = vec!["--namespace", self.ns.as_str()];
        all.extend_from_slice(args);
        all.extend_from_slice(&["-f", "-"]);
        kubectl(&self.plane.admin_kubeconfig, &all, Some(yaml)).await
    }

    /// `kubectl apply -f -`, which must succeed.
    #[track_caller]
    pub fn apply<'a>(&'a self, yaml: &'a str) -> impl Future<Output = ()> + 'a {
        let caller = std::panic::Location::caller();
        async move {
            let out = self.kubectl_stdin(&["apply"], yaml).await;
            assert!(out.success, "{caller}: kubectl apply failed:\n{}", out.stderr);
        }
    }

    /// Rewrites the `namespace:` of a manifest to this test's namespace.
    pub fn in_namespace(&self, yaml: &str) -> String {
        yaml.lines()
            .map(|line| match line.strip_prefix("  namespace: ") {
                Some(_) => format!("  namespace: {}", self.ns),
                None => line.to_owned(),
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    pub fn graphs(&self) -> Api<DynamicObject> {
        Api::namespaced_with(
            self.client.clone(),
            &self.ns,
            &resource("DetectiveGraph", "detectivegraphs"),
        )
    }

    pub fn memberships(&self) -> Api<DynamicObject> {
        Api::namespaced_with(
            self.client.clone(),
            &self.ns,
            &resource("DetectiveMembership", "detectivememberships"),
        )
    }

    /// A DetectiveGraph as JSON, or `None` when it does not exist.
    pub async fn graph(&self, name: &str) -> Option<Value> {
        get(&self.graphs(), name).await
    }

    /// Waits until the DetectiveGraph `name` satisfies `check` (an `Err` says what is still
    /// missing); returns the object.
    pub async fn wait_graph(
        &self,
        name: &str,
        timeout: Duration,
        what: &str,
        check: impl Fn(&Value) -> Result<(), String>,
    ) -> Value {
        let api = self.graphs();
        eventually(
            timeout,
            &format!("DetectiveGraph {}/{name}: {what}", self.ns),
            || async {
                let object = try_get(&api, name).await?.ok_or("not found")?;
                check(&object).map_err(|e| format!("{e}; status: {}", brief_status(&object)))?;
                Ok(object)
            },
        )
        .await
    }

    /// Waits until the resource is gone from the API server.
    pub async fn wait_gone(&self, api: &Api<DynamicObject>, name: &str, timeout: Duration) {
        eventually(timeout, &format!("{}/{name} to be gone", self.ns), || async {
            match try_get(api, name).await? {
                None => Ok(()),
                Some(object) => Err(format!(
                    "still there: finalizers {}, deletionTimestamp {}",
                    object["metadata"]["finalizers"], object["metadata"]["deletionTimestamp"]
                )),
            }
        })
        .await
    }

    /// The Lease's `spec.holderIdentity`; `Err` when the Lease is missing or names no holder.
    pub async fn lease_holder(&self, lease: &str) -> Result<String, String> {
        let out = self
            .kubectl(&["get", "lease", lease, "-o", "jsonpath={.spec.holderIdentity}"])
            .await;
        match (out.success, out.stdout.trim()) {
            (true, id) if !id.is_empty() => Ok(id.to_owned()),
            _ => Err(format!("no holder: {}{}", out.stdout, out.stderr)),
        }
    }

    /// Starts the operator as the operator user (bound to the chart's RBAC), watching this
    /// namespace; waits until it is ready.
    pub async fn operator(&self, options: OperatorOptions) -> Operator {
        rbac::bind_in_namespace(self).await;
        Operator::start(self, options).await
    }

    /// Like [`Env::operator`], but returns once the admin server listens, ready or not.
    pub async fn operator_unready(&self, options: OperatorOptions) -> Operator {
        rbac::bind_in_namespace(self).await;
        Operator::spawn(self, options).await
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            return;
        }
        // What the API server holds, for the failure report (blocking is fine here).
        let output = Command::new("kubectl")
            .arg("--kubeconfig")
            .arg(&self.plane.admin_kubeconfig)
            .args([
                "--namespace",
                &self.ns,
                "get",
                "detectivegraphs,detectivememberships,detectiveorganizationadmins,leases,events",
                "-o",
                "yaml",
            ])
            .output();
        if let Ok(output) = output {
            let text = String::from_utf8_lossy(&output.stdout);
            eprintln!(
                "---- namespace {} (kubectl get dg,dm,doa,leases,events -o yaml) ----",
                self.ns
            );
            eprintln!("{}", tail(&text, 400));
            eprintln!("{}", String::from_utf8_lossy(&output.stderr));
        }
    }
}

/// The last `lines` lines of `text`.
pub fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    let skip = all.len().saturating_sub(lines);
    let mut out = String::new();
    if skip > 0 {
        out.push_str(&format!("[... {skip} lines omitted ...]\n"));
    }
    out.push_str(&all[skip..].join("\n"));
    out
}

pub fn resource(kind: &str, plural: &str) -> ApiResource {
    ApiResource {
        group: "detective.operator.dev".into(),
        version: "v1alpha1".into(),
        api_version: "detective.operator.dev/v1alpha1".into(),
        kind: kind.into(),
        plural: plural.into(),
    }
}

/// GET as JSON; `None` on 404 (other errors panic).
pub async fn get(api: &Api<DynamicObject>, name: &str) -> Option<Value> {
    try_get(api, name).await.unwrap_or_else(|error| panic!("{error}"))
}

/// GET as JSON; `Ok(None)` on 404, `Err` on any other error (for polling loops, which retry).
pub async fn try_get(api: &Api<DynamicObject>, name: &str) -> Result<Option<Value>, String> {
    match api.get_opt(name).await {
        Ok(object) => Ok(object.map(|o| serde_json::to_value(o).expect("object to JSON"))),
        Err(error) => Err(format!("GET {name}: {error}")),
    }
}

/// A condition of an object's status (`None` when absent).
pub fn condition<'a>(object: &'a Value, kind: &str) -> Option<&'a Value> {
    object["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == kind)
}

/// `Ok` when condition `kind` is `status` and was computed for the object's current generation.
pub fn has_condition(object: &Value, kind: &str, status: &str) -> Result<(), String> {
    let generation = &object["metadata"]["generation"];
    match condition(object, kind) {
        Some(c) if c["status"] == status && &c["observedGeneration"] == generation => Ok(()),
        Some(c) => Err(format!(
            "{kind}={} ({}: {}) for generation {}, current {generation}",
            c["status"], c["reason"], c["message"], c["observedGeneration"]
        )),
        None => Err(format!("no {kind} condition")),
    }
}

/// `Ok` when the Ready condition is `status` and its message says each of `words`.
pub fn ready_says(object: &Value, status: &str, words: &[&str]) -> Result<(), String> {
    let ready = condition(object, "Ready").ok_or("no Ready condition")?;
    let message = ready["message"].as_str().unwrap_or_default();
    if ready["status"] == status && words.iter().all(|word| message.contains(word)) {
        Ok(())
    } else {
        Err(format!("Ready {}: {message}", ready["status"]))
    }
}

/// The strings of a JSON list (e.g. `status.inventory`) as a set; none when it is not a list.
pub fn ids(list: &Value) -> std::collections::BTreeSet<String> {
    list.as_array()
        .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect())
        .unwrap_or_default()
}

/// `Ok` when the status is Ready for the current generation (and `status.observedGeneration`
/// follows `metadata.generation`).
pub fn is_ready(object: &Value) -> Result<(), String> {
    let generation = &object["metadata"]["generation"];
    if &object["status"]["observedGeneration"] != generation {
        return Err(format!(
            "observedGeneration {} != generation {generation}",
            object["status"]["observedGeneration"]
        ));
    }
    has_condition(object, "Ready", "True")
}

/// A `wait_graph` check: Stalled for `reason`.
pub fn stalled_by(reason: &'static str) -> impl Fn(&Value) -> Result<(), String> {
    move |g| match condition(g, "Stalled") {
        Some(c) if c["status"] == "True" && c["reason"] == reason => Ok(()),
        other => Err(format!("Stalled: {other:?}")),
    }
}

/// The status of one member in `status.members`.
pub fn member_status<'a>(object: &'a Value, account: &str) -> Option<&'a Value> {
    object["status"]["members"]
        .as_array()?
        .iter()
        .find(|m| m["accountId"] == account)
}

/// Conditions and summary in one line, for error messages.
pub fn brief_status(object: &Value) -> String {
    let conditions: Vec<String> = object["status"]["conditions"]
        .as_array()
        .map(|cs| {
            cs.iter()
                .map(|c| format!("{}={} ({}: {})", c["type"], c["status"], c["reason"], c["message"]))
                .collect()
        })
        .unwrap_or_default();
    format!(
        "generation {} observed {}; {}; summary {}",
        object["metadata"]["generation"],
        object["status"]["observedGeneration"],
        conditions.join(", "),
        object["status"]["summary"]
    )
}

/// A `DetectiveGraph` manifest with `members` (id, e-mail) and extra `spec` lines.
pub fn graph_manifest(name: &str, ns: &str, members: &[(&str, &str)], extra_spec: &str) -> String {
    let mut yaml = format!(
        "apiVersion: detective.operator.dev/v1alpha1\nkind: DetectiveGraph\nmetadata:\n  name: {name}\n  \
         namespace: {ns}\nspec:\n"
    );
    for line in extra_spec.lines().filter(|l| !l.trim().is_empty()) {
        yaml.push_str(&format!("  {line}\n"));
    }
    yaml.push_str("  members:\n");
    if members.is_empty() {
        yaml.truncate(yaml.len() - 1);
        yaml.push_str(" []\n");
    }
    for (id, email) in members {
        yaml.push_str(&format!("    - accountId: \"{id}\"\n      emailAddress: {email}\n"));
    }
    yaml
}
