//! One etcd + kube-apiserver per test binary (envtest-style: no controller-manager, no nodes),
//! token-authenticated, with the CRDs installed.
//!
//! Started by the first test that asks for it and shared by all tests of the binary; the
//! processes die with the test process and the temporary root is removed after it (see
//! [`process`](super::process)). A test that disturbs the API server itself (the chaos test
//! restarts it) starts one of its own with [`ControlPlane::dedicated`], so the tests running in
//! parallel on the shared one see nothing of it.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use super::prerequisite::setup_script;
use super::process::{self, Guarded, Janitor};
use super::{fail_or_skip, repo_path, run_checked};

/// The admin user: `system:masters`, used for setup, kubectl as a user, and assertions.
pub const ADMIN_TOKEN: &str = "e2e-admin-token";
/// The operator's user: no group, only what the Helm chart's RBAC grants it.
pub const OPERATOR_USER: &str = "e2e-operator";
pub const OPERATOR_TOKEN: &str = "e2e-operator-token";

/// Why there is no control plane.
enum StartError {
    /// A tool is missing: skipped outside CI.
    Prerequisite(String),
    /// It should have worked: always a failure.
    Failed(String),
}

/// A running control plane.
pub struct ControlPlane {
    /// Temporary root: control-plane data, kubeconfigs, per-test directories.
    pub root: PathBuf,
    /// `https://127.0.0.1:PORT`.
    pub server: String,
    /// Kubeconfig of the admin user.
    pub admin_kubeconfig: PathBuf,
    /// Kubeconfig of the operator user.
    pub operator_kubeconfig: PathBuf,
    /// `helm` (from tests/e2e/setup-helm.sh).
    pub helm: PathBuf,
    /// etcd's data, the API server's certificates, both logs.
    data: PathBuf,
    /// How the API server was started, to start it again on the same port and certificates.
    apiserver: ApiServerLaunch,
    /// kube-apiserver, then etcd (dropped, so stopped, in this order).
    processes: Mutex<Vec<Guarded>>,
    /// The chart's ClusterRoles bound to the operator user on this control plane
    /// ([`rbac`](super::rbac)).
    pub(super) cluster_rbac: OnceLock<Result<(), String>>,
    _janitor: Janitor,
}

impl ControlPlane {
    /// The shared control plane, started on first use; `None` when the tests must be skipped
    /// (tools missing and `CI` unset). Panics when `CI` is set and a tool is missing.
    pub fn get() -> Option<&'static ControlPlane> {
        static PLANE: OnceLock<Result<ControlPlane, StartError>> = OnceLock::new();
        match PLANE.get_or_init(ControlPlane::start) {
            Ok(plane) => Some(plane),
            Err(StartError::Prerequisite(reason)) => {
                fail_or_skip(reason);
                None
            }
            Err(StartError::Failed(reason)) => panic!("{reason}"),
        }
    }

    /// A control plane of the caller's own, started now (`None` as for [`ControlPlane::get`]).
    /// It is leaked so that [`Env`](super::Env) can borrow it like the shared one; its processes
    /// die with the test binary, or earlier with [`ControlPlane::stop`].
    pub fn dedicated() -> Option<&'static ControlPlane> {
        match ControlPlane::start() {
            Ok(plane) => Some(Box::leak(Box::new(plane))),
            Err(StartError::Prerequisite(reason)) => {
                fail_or_skip(&reason);
                None
            }
            Err(StartError::Failed(reason)) => panic!("{reason}"),
        }
    }

    /// Stops kube-apiserver (SIGTERM, as a rolling restart does) and starts it again with the
    /// same flags, port and serving certificate, on the same etcd, whose data stays; returns once
    /// `/readyz` answers 200 again. Clients keep their kubeconfig and must reconnect.
    pub fn restart_apiserver(&self) -> Result<(), String> {
        let mut processes = self.processes.lock().expect("process list");
        process::stop(processes[0].child(), Duration::from_secs(5));
        processes[0] = self.apiserver.spawn()?;
        wait_ready(&mut processes, &self.data, &self.server)
    }

    /// Stops kube-apiserver, then etcd (a dedicated control plane the test is done with).
    pub fn stop(&self) {
        for process in self.processes.lock().expect("process list").iter_mut() {
            process::stop(process.child(), Duration::from_secs(5));
        }
    }

    /// `Err` with the end of its log when kube-apiserver or etcd has exited.
    pub fn check_alive(&self) -> Result<(), String> {
        let mut processes = self.processes.lock().expect("process list");
        for (process, log) in processes.iter_mut().zip(["apiserver.log", "etcd.log"]) {
            if let Ok(Some(status)) = process.child().try_wait() {
                let text = std::fs::read_to_string(self.data.join(log)).unwrap_or_default();
                return Err(format!("{log}: exited with {status}:\n{}", super::tail(&text, 30)));
            }
        }
        Ok(())
    }

    fn start() -> Result<ControlPlane, StartError> {
        let prerequisite = StartError::Prerequisite;
        let bin_dir = setup_script("tests/e2e/setup-apiserver.sh", &[]).map_err(prerequisite)?;
        let helm = setup_script("tests/e2e/setup-helm.sh", &[])
            .map_err(prerequisite)?
            .join("helm");
        for (tool, version) in [("kubectl", ["version", "--client"]), ("openssl", ["version", "-v"])] {
            let found = Command::new(tool)
                .args(version)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
            if !found {
                return Err(prerequisite(format!("`{tool}` is not on PATH")));
            }
        }
        ControlPlane::start_with(bin_dir, helm).map_err(StartError::Failed)
    }

    fn start_with(bin_dir: PathBuf, helm: PathBuf) -> Result<ControlPlane, String> {
        let started = Instant::now();
        let root = tempfile::Builder::new()
            .prefix("detective-e2e-")
            .tempdir()
            .map_err(|e| format!("temporary directory: {e}"))?
            .keep();
        let janitor = Janitor::watch(&root).map_err(|e| format!("janitor: {e}"))?;
        let plane_dir = root.join("control-plane");
        std::fs::create_dir_all(&plane_dir).map_err(|e| e.to_string())?;
        run_checked(
            Command::new("openssl")
                .args(["genrsa", "-out"])
                .arg(plane_dir.join("sa.key"))
                .arg("2048"),
        )?;
        run_checked(
            Command::new("openssl")
                .args(["rsa", "-in"])
                .arg(plane_dir.join("sa.key"))
                .arg("-pubout")
                .arg("-out")
                .arg(plane_dir.join("sa.pub")),
        )?;
        std::fs::write(
            plane_dir.join("tokens.csv"),
            format!(
                "{ADMIN_TOKEN},e2e-admin,e2e-admin,\"system:masters\"\n{OPERATOR_TOKEN},{OPERATOR_USER},{OPERATOR_USER}\n"
            ),
        )
        .map_err(|e| e.to_string())?;

        // Free ports are picked, then bound by etcd and the API server: another process may take
        // one in between, so a failed start is retried with new ports.
        let mut last_error = String::new();
        for attempt in 1..=3 {
            let data = plane_dir.join(format!("attempt-{attempt}"));
            match start_processes(&bin_dir, &plane_dir, &data) {
                Ok((apiserver, processes)) => {
                    let server = apiserver.server();
                    let ca_file = data.join("certs/apiserver.crt");
                    let admin_kubeconfig = plane_dir.join("admin.kubeconfig");
                    let operator_kubeconfig = plane_dir.join("operator.kubeconfig");
                    write_kubeconfig(&admin_kubeconfig, &server, &ca_file, "e2e-admin", ADMIN_TOKEN)?;
                    write_kubeconfig(&operator_kubeconfig, &server, &ca_file, OPERATOR_USER, OPERATOR_TOKEN)?;
                    install_crds(&admin_kubeconfig)?;
                    let plane = ControlPlane {
                        root: root.clone(),
                        server,
                        admin_kubeconfig,
                        operator_kubeconfig,
                        helm: helm.clone(),
                        data: data.clone(),
                        apiserver,
                        processes: Mutex::new(processes),
                        cluster_rbac: OnceLock::new(),
                        _janitor: janitor,
                    };
                    eprintln!(
                        "e2e: control plane at {} ready in {:.1?}",
                        plane.server,
                        started.elapsed()
                    );
                    return Ok(plane);
                }
                Err(error) => {
                    last_error = error;
                    eprintln!("e2e: control plane attempt {attempt} failed: {last_error}");
                }
            }
        }
        Err(format!("the control plane did not start: {last_error}"))
    }
}

/// Applies `crds/` as shipped (server-side) and waits until both are Established.
fn install_crds(kubeconfig: &Path) -> Result<(), String> {
    let crds = repo_path("crds");
    for args in [
        &["apply", "--server-side", "-f"][..],
        &["wait", "--for=condition=Established", "--timeout=60s", "-f"][..],
    ] {
        run_checked(
            Command::new("kubectl")
                .arg("--kubeconfig")
                .arg(kubeconfig)
                .args(args)
                .arg(&crds),
        )
        .map_err(|e| format!("installing crds/: {e}"))?;
    }
    Ok(())
}

/// Three distinct free loopback ports (held together while picked, so they differ).
fn free_ports() -> Result<(u16, u16, u16), String> {
    let bind = || TcpListener::bind("127.0.0.1:0").map_err(|e| format!("free port: {e}"));
    let (a, b, c) = (bind()?, bind()?, bind()?);
    let port = |l: &TcpListener| l.local_addr().map(|a| a.port()).map_err(|e| e.to_string());
    Ok((port(&a)?, port(&b)?, port(&c)?))
}

/// A log file that a restarted process appends to.
fn log_file(data: &Path, name: &str) -> Result<Stdio, String> {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(data.join(name))
        .map(Stdio::from)
        .map_err(|e| format!("{name}: {e}"))
}

/// What kube-apiserver is started with (kept to start it again).
struct ApiServerLaunch {
    bin: PathBuf,
    plane: PathBuf,
    data: PathBuf,
    etcd_url: String,
    port: u16,
}

impl ApiServerLaunch {
    /// `https://127.0.0.1:PORT`.
    fn server(&self) -> String {
        format!("https://127.0.0.1:{}", self.port)
    }

    /// Starts kube-apiserver with the flags of tests/e2e/README.md; it logs to `apiserver.log`.
    fn spawn(&self) -> Result<Guarded, String> {
        let server = self.server();
        let mut apiserver = Command::new(self.bin.join("kube-apiserver"));
        apiserver
            .arg(format!("--etcd-servers={}", self.etcd_url))
            .arg(format!("--cert-dir={}", self.data.join("certs").display()))
            .arg(format!("--secure-port={}", self.port))
            .args([
                "--bind-address=127.0.0.1",
                "--advertise-address=127.0.0.1",
                "--service-cluster-ip-range=10.0.0.0/24",
                "--allow-privileged=true",
                "--disable-admission-plugins=ServiceAccount",
                "--authorization-mode=RBAC",
                "--endpoint-reconciler-type=none",
            ])
            .arg(format!("--service-account-issuer={server}/"))
            .arg(format!(
                "--service-account-key-file={}",
                self.plane.join("sa.pub").display()
            ))
            .arg(format!(
                "--service-account-signing-key-file={}",
                self.plane.join("sa.key").display()
            ))
            .arg(format!("--token-auth-file={}", self.plane.join("tokens.csv").display()))
            .stdin(Stdio::null())
            .stdout(log_file(&self.data, "apiserver.log")?)
            .stderr(log_file(&self.data, "apiserver.log")?);
        let child = process::spawn(apiserver).map_err(|e| format!("kube-apiserver: {e}"))?;
        Ok(Guarded(Some(child)))
    }
}

/// Starts etcd and kube-apiserver with the flags of tests/e2e/README.md and waits for /readyz.
fn start_processes(bin: &Path, plane: &Path, data: &Path) -> Result<(ApiServerLaunch, Vec<Guarded>), String> {
    let (etcd_port, peer_port, api_port) = free_ports()?;
    std::fs::create_dir_all(data).map_err(|e| e.to_string())?;
    let etcd_url = format!("http://127.0.0.1:{etcd_port}");
    let peer_url = format!("http://127.0.0.1:{peer_port}");
    let mut etcd = Command::new(bin.join("etcd"));
    etcd.arg("--name=default")
        .arg("--data-dir")
        .arg(data.join("etcd"))
        .arg(format!("--listen-client-urls={etcd_url}"))
        .arg(format!("--advertise-client-urls={etcd_url}"))
        .arg(format!("--listen-peer-urls={peer_url}"))
        .arg(format!("--initial-advertise-peer-urls={peer_url}"))
        .arg(format!("--initial-cluster=default={peer_url}"))
        .args(["--unsafe-no-fsync", "--log-level=warn"])
        .stdin(Stdio::null())
        .stdout(log_file(data, "etcd.log")?)
        .stderr(log_file(data, "etcd.log")?);
    let etcd = Guarded(Some(process::spawn(etcd).map_err(|e| format!("etcd: {e}"))?));
    let launch = ApiServerLaunch {
        bin: bin.to_owned(),
        plane: plane.to_owned(),
        data: data.to_owned(),
        etcd_url,
        port: api_port,
    };
    // Stopped in this order when dropped: the API server first, then etcd.
    let mut processes = vec![launch.spawn()?, etcd];
    match wait_ready(&mut processes, data, &launch.server()) {
        Ok(()) => Ok((launch, processes)),
        Err(error) => {
            for p in &mut processes {
                process::stop(p.child(), Duration::from_secs(3));
            }
            Err(error)
        }
    }
}

/// Waits (at most 90 s) until kube-apiserver's `/readyz` answers 200; `Err` with the end of
/// its log when kube-apiserver or etcd (`processes`, in that order) exits meanwhile.
fn wait_ready(processes: &mut [Guarded], data: &Path, server: &str) -> Result<(), String> {
    let probe_config = data.join("probe.kubeconfig");
    let ca = data.join("certs/apiserver.crt");
    write_kubeconfig(&probe_config, server, &ca, "e2e-admin", ADMIN_TOKEN)?;
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        for (process, name) in processes.iter_mut().zip(["apiserver.log", "etcd.log"]) {
            if let Ok(Some(status)) = process.child().try_wait() {
                let log = std::fs::read_to_string(data.join(name)).unwrap_or_default();
                return Err(format!("{name}: exited with {status}:\n{}", super::tail(&log, 15)));
            }
        }
        if ca.exists()
            && Command::new("kubectl")
                .arg("--kubeconfig")
                .arg(&probe_config)
                .args(["get", "--raw", "/readyz", "--request-timeout=2s"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err("kube-apiserver was not ready after 90s".into());
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn write_kubeconfig(path: &Path, server: &str, ca: &Path, user: &str, token: &str) -> Result<(), String> {
    let text = format!(
        "apiVersion: v1
kind: Config
clusters:
- name: e2e
  cluster:
    server: {server}
    certificate-authority: {ca}
users:
- name: {user}
  user:
    token: {token}
contexts:
- name: e2e
  context:
    cluster: e2e
    user: {user}
    namespace: default
current-context: e2e
",
        ca = ca.display()
    );
    std::fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()))
}
