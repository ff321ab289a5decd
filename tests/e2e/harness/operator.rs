//! The operator under test: its real binary (`detective-operator run`), a process of its own
//! with a clean environment, logging to a file that is printed when the test fails.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::Duration;

use super::process::{self, SIGTERM};
use super::{Env, eventually, tail};

/// What the operator logs (at info, with the `kind`) when one watch has listed everything, before
/// readiness may turn.
pub const INITIAL_LIST_DONE: &str = "initial list done";

/// Allocator and runtime settings the scale benchmark compares; the operator runs with a cleared
/// environment, so each reaches it only when the test's environment has `OPERATOR_<name>`.
const PASSED_THROUGH: [&str; 3] = ["LD_PRELOAD", "MALLOC_ARENA_MAX", "TOKIO_WORKER_THREADS"];

/// How to start one operator process.
#[derive(Clone, Debug)]
pub struct OperatorOptions {
    /// Names the log file and the election identity.
    pub name: String,
    /// The AWS account it acts as (the emulator reads a 12-digit access key id as the caller).
    pub account: String,
    /// The emulator, as `AWS_ENDPOINT_URL` (so STS goes there too).
    pub endpoint: String,
    /// `Some(lease name)`: `--leader-elect=true --lease-name NAME`; `None`: `--leader-elect=false`.
    pub lease: Option<String>,
    /// Its `RUST_LOG` (the tests log at debug; the scale benchmark sets its own). Empty: no
    /// `RUST_LOG` at all, so the binary's own default level applies, as in a plain deployment
    /// ([`OperatorOptions::default_log_level`]).
    pub log_filter: String,
    /// Another kubeconfig for the operator user (e.g. one through an [`ApiGate`]).
    ///
    /// [`ApiGate`]: super::gate::ApiGate
    pub kubeconfig: Option<PathBuf>,
    /// More flags of `run`, e.g. `--kinds` or `--watch-label-selector`.
    pub args: Vec<String>,
}

impl OperatorOptions {
    pub fn new(name: &str, account: &str, endpoint: &str) -> Self {
        OperatorOptions {
            name: name.to_owned(),
            account: account.to_owned(),
            endpoint: endpoint.to_owned(),
            lease: None,
            log_filter: "info,detective_operator=debug,kube_runtime::controller=debug".to_owned(),
            kubeconfig: None,
            args: Vec::new(),
        }
    }

    /// Adds flags of `run`.
    pub fn args(mut self, args: &[&str]) -> Self {
        self.args.extend(args.iter().map(|a| (*a).to_owned()));
        self
    }

    /// Logs at the level the operator picks without `RUST_LOG`, so that what a test reads in
    /// the log is what a deployment that sets nothing would write.
    pub fn default_log_level(mut self) -> Self {
        self.log_filter.clear();
        self
    }

    pub fn kubeconfig(mut self, path: PathBuf) -> Self {
        self.kubeconfig = Some(path);
        self
    }

    pub fn leader_elect(mut self, lease: &str) -> Self {
        self.lease = Some(lease.to_owned());
        self
    }
}

/// A running operator; killed (SIGKILL) when dropped, its log printed if the test is failing.
pub struct Operator {
    pub name: String,
    pub log_path: PathBuf,
    pub admin: SocketAddr,
    child: Option<Child>,
}

impl Operator {
    /// Starts the process and waits until it is ready (`/readyz` answers 200).
    pub async fn start(env: &Env, options: OperatorOptions) -> Operator {
        let operator = Operator::spawn(env, options).await;
        // Ready when /readyz says so: both watches have listed their objects.
        eventually(Duration::from_secs(30), "the operator's /readyz", || async {
            if let Some(exited) = operator.exited() {
                return Err(exited);
            }
            match operator.get("/readyz").await {
                (200, _) => Ok(()),
                (status, body) => Err(format!("{status} {body}")),
            }
        })
        .await;
        operator
    }

    /// Starts the process and waits only for its admin server, not for readiness.
    pub async fn spawn(env: &Env, options: OperatorOptions) -> Operator {
        let log_path = env.dir.join(format!("operator-{}.log", options.name));
        let log = std::fs::File::create(&log_path).expect("operator log file");
        let mut command = Command::new(env!("CARGO_BIN_EXE_detective-operator"));
        command
            .arg("run")
            .arg("--kubeconfig")
            .arg(options.kubeconfig.as_ref().unwrap_or(&env.plane.operator_kubeconfig))
            // Port 0: the bound address is read back from the log.
            .args(["--admin-address", "127.0.0.1:0", "--lease-namespace", &env.ns]);
        match &options.lease {
            Some(lease) => command
                .args(["--leader-elect=true", "--lease-name", lease, "--identity"])
                .arg(&options.name),
            None => command.arg("--leader-elect=false"),
        };
        // Only this test's namespace: other tests' resources belong to their own operators.
        command.args(["--namespace", &env.ns]).args(&options.args);
        let missing = env.dir.join("no-such-aws-file");
        command
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("AWS_ACCESS_KEY_ID", &options.account)
            .env("AWS_SECRET_ACCESS_KEY", "x")
            .env("AWS_REGION", super::REGION)
            .env("AWS_ENDPOINT_URL", &options.endpoint)
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_CONFIG_FILE", &missing)
            .env("AWS_SHARED_CREDENTIALS_FILE", &missing)
            .env("RUST_BACKTRACE", "1")
            .env("NO_COLOR", "1")
            // Memory experiments (the scale benchmark): `OPERATOR_LD_PRELOAD` etc. reach the
            // operator without the prefix, and so without changing the test process itself.
            .envs(
                PASSED_THROUGH
                    .iter()
                    .filter_map(|name| Some((name, std::env::var_os(format!("OPERATOR_{name}"))?))),
            )
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log handle"))
            .stderr(log);
        if !options.log_filter.is_empty() {
            command.env("RUST_LOG", &options.log_filter);
        }
        let child = process::spawn(command).expect("start detective-operator");
        let mut operator = Operator {
            name: options.name.clone(),
            log_path,
            admin: SocketAddr::from(([127, 0, 0, 1], 0)),
            child: Some(child),
        };
        operator.admin = eventually(Duration::from_secs(30), "the operator's admin address", || {
            let result = operator.exited().map_or_else(|| operator.admin_address(), Err);
            async move { result }
        })
        .await;
        operator
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    /// The whole log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    /// `Some(message)` when the process has exited.
    fn exited(&self) -> Option<String> {
        // try_wait needs `&mut self`, which the polling closures cannot lend: look at /proc
        // instead, where an exited child not yet reaped is a zombie.
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid())).ok()?;
        let state = stat.rsplit(") ").next()?.chars().next()?;
        (state == 'Z').then(|| format!("operator {} exited:\n{}", self.name, tail(&self.log(), 40)))
    }

    fn admin_address(&self) -> Result<SocketAddr, String> {
        admin_address_in(&self.log())
    }

    /// GET on the admin server: (status, body); status 0 when unreachable.
    pub async fn get(&self, path: &str) -> (u16, String) {
        let endpoint = format!("http://{}", self.admin);
        match tokio::time::timeout(Duration::from_secs(5), super::http_get(&endpoint, path)).await {
            Ok(Some(answer)) => answer,
            _ => (0, "admin server unreachable".into()),
        }
    }

    /// Sum of a counter family from /metrics (all label sets), e.g.
    /// `detective_operator_aws_calls_total`.
    /// Panics when `/metrics` does not answer with a complete OpenMetrics text, so that an
    /// unreachable endpoint never reads as zero.
    pub async fn counter(&self, family: &str) -> f64 {
        let (status, body) = self.get("/metrics").await;
        assert_eq!(status, 200, "operator {} /metrics: {body}", self.name);
        // A whole OpenMetrics answer: an empty family prints no line, so zero is then honest.
        assert!(
            body.trim_end().ends_with("# EOF"),
            "operator {} /metrics: {body}",
            self.name
        );
        body.lines()
            .filter(|l| l.starts_with(family) && !l.starts_with('#'))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    }

    /// SIGKILL: no cleanup, the lease (if held) must expire.
    pub fn kill(&mut self) {
        if let Some(child) = self.child.as_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGTERM and wait (at most `grace`) for a clean exit.
    pub fn terminate(&mut self, grace: Duration) -> Option<ExitStatus> {
        let child = self.child.as_mut()?;
        process::signal(child.id(), SIGTERM);
        process::wait_timeout(child, grace)
    }
}

/// The admin server's address, from the operator's `admin server listening address=...` line.
pub fn admin_address_in(log: &str) -> Result<SocketAddr, String> {
    let line = log
        .lines()
        .find(|l| l.contains("admin server listening"))
        .ok_or("no `admin server listening` line yet")?;
    let address = line
        .split_whitespace()
        .find_map(|word| word.strip_prefix("address="))
        .ok_or_else(|| format!("no address= in {line:?}"))?;
    address.parse().map_err(|e| format!("{address}: {e}"))
}

impl Drop for Operator {
    fn drop(&mut self) {
        self.kill();
        if std::thread::panicking() {
            eprintln!(
                "---- operator {} log ({}) ----\n{}\n---- end of operator {} log ----",
                self.name,
                self.log_path.display(),
                tail(&self.log(), 300),
                self.name
            );
        }
    }
}
