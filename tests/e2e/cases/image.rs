//! The container image (`deploy/build-image.sh`) run as a cluster runs it: host network, the
//! kubeconfig mounted read-only, read-only root file system, UID 65532, every capability dropped,
//! no privilege escalation. It reaches the emulator over HTTPS (by name: `localhost`) and trusts
//! only the CA bundle at the image's standard path, where a test CA is mounted.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use detective_emulator::{Emulator, EmulatorConfig, TlsFiles, WorldConfig};

use crate::harness::container::{self, Container};
use crate::harness::operator::admin_address_in;
use crate::harness::rbac::{self, lease_name};
use crate::harness::tls::{self, TestPki};
use crate::harness::{
    ADMIN, Env, REGION, accepting_world, condition, eventually, graph_manifest, http_get, is_ready, ready_says,
    run_checked,
};

/// Where the image's CA bundle is (deploy/Dockerfile; `SSL_CERT_FILE` points there).
const TRUST_PATH: &str = "/etc/ssl/certs/ca-certificates.crt";
const KUBECONFIG: &str = "/var/run/detective-operator/kubeconfig";
/// What the emulator logs when it starts: present in a binary that embeds it.
const EMULATOR_LOG_LINE: &[u8] = b"detective emulator listening";
/// The image's size target, uncompressed (`docker image inspect .Size`), in bytes.
const IMAGE_SIZE_LIMIT: u64 = 25_000_000;
const MEMBERS: [(&str, &str); 2] = [
    ("111111111111", "aws-prod@example.com"),
    ("222222222222", "aws-staging@example.com"),
];

/// An emulator serving HTTPS with `pki`'s server certificate.
async fn https_emulator(pki: &TestPki, world: WorldConfig) -> Emulator {
    Emulator::start(EmulatorConfig {
        default_account: ADMIN.to_owned(),
        world,
        tls: Some(TlsFiles {
            certificate_chain: pki.certificate.clone(),
            private_key: pki.key.clone(),
        }),
        ..EmulatorConfig::default()
    })
    .await
    .expect("HTTPS emulator starts")
}

/// The operator user's kubeconfig with the API server's CA inlined, readable by UID 65532.
async fn container_kubeconfig(env: &Env) -> PathBuf {
    let flattened = crate::harness::kubectl(
        &env.plane.operator_kubeconfig,
        &["config", "view", "--raw", "--flatten", "--minify"],
        None,
    )
    .await
    .ok();
    let path = env.dir.join("image.kubeconfig");
    std::fs::write(&path, flattened).expect("write kubeconfig");
    tls::set_readable(&path).expect("kubeconfig mode");
    path
}

/// Starts the image as the operator user, trusting only `ca`, against `endpoint`; `extra`
/// arguments go to `detective-operator run`.
fn run_image(env: &Env, image: &str, kubeconfig: &Path, ca: &Path, endpoint: &str, extra: &[&str]) -> Container {
    let mount = |source: &Path, target: &str| format!("type=bind,source={},target={target},readonly", source.display());
    let options: Vec<String> = [
        "--network=host",
        "--read-only",
        "--user=65532:65532",
        "--cap-drop=ALL",
        "--security-opt=no-new-privileges",
    ]
    .iter()
    .map(|o| o.to_string())
    .chain([
        "--mount".into(),
        mount(kubeconfig, KUBECONFIG),
        "--mount".into(),
        mount(ca, TRUST_PATH),
    ])
    .chain(
        [
            format!("AWS_ACCESS_KEY_ID={ADMIN}"),
            "AWS_SECRET_ACCESS_KEY=x".into(),
            format!("AWS_REGION={REGION}"),
            format!("AWS_ENDPOINT_URL={endpoint}"),
            "AWS_EC2_METADATA_DISABLED=true".into(),
            "RUST_LOG=info,detective_operator=debug".into(),
            "NO_COLOR=1".into(),
        ]
        .into_iter()
        .flat_map(|variable| ["--env".to_owned(), variable]),
    )
    .collect();
    let mut args: Vec<String> = [
        "run",
        "--kubeconfig",
        KUBECONFIG,
        "--admin-address",
        "127.0.0.1:0",
        "--namespace",
        &env.ns,
        "--lease-namespace",
        &env.ns,
    ]
    .iter()
    .map(|a| a.to_string())
    .collect();
    args.extend(extra.iter().map(|a| a.to_string()));
    Container::run(&env.ns, &options, image, &args)
}

/// Polls (every 20 ms, to measure start-up) until `/readyz` answers 200; the admin address.
async fn wait_ready(container: &Container) -> std::net::SocketAddr {
    let admin = eventually(
        Duration::from_secs(30),
        "the admin address in the container's log",
        || async { admin_address_in(&container.logs()) },
    )
    .await;
    let endpoint = format!("http://{admin}");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some((200, _)) = http_get(&endpoint, "/readyz").await {
            return admin;
        }
        assert!(
            Instant::now() < deadline,
            "/readyz never answered 200; state {}",
            container.inspect("{{.State.Status}}")
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A figure for CI's log and the README, written past libtest's capture.
/// The operator's image and a test environment, or `None` (skipped loudly) without either.
async fn image_and_env(name: &str) -> Option<(String, Env)> {
    let image = container::image_or_skip()?;
    Some((image, Env::new(name).await?))
}

fn figure(line: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "FIGURE image: {line}");
}

/// The image holds the static, stripped operator with its dependency list and the CA bundle,
/// nothing else; it runs as 65532 with `run` as its command and carries the OCI labels.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn image_holds_only_the_static_operator_and_the_ca_bundle() {
    let Some(image) = container::image_or_skip() else {
        return;
    };
    let scratch = tempfile::tempdir().expect("tempdir");
    let files = container::image_files(&image, scratch.path());
    let regular: Vec<&String> = files.iter().filter(|f| !f.ends_with('/')).collect();
    assert_eq!(
        regular,
        ["etc/ssl/certs/ca-certificates.crt", "usr/local/bin/detective-operator"],
        "the image's files (no shell, nothing else): {files:?}"
    );

    let binary = scratch.path().join("usr/local/bin/detective-operator");
    let readelf = |flag: &str| {
        run_checked(Command::new("readelf").arg(flag).arg("-W").arg(&binary)).unwrap_or_else(|e| panic!("{e}"))
    };
    assert!(
        !readelf("-l").contains("program interpreter"),
        "statically linked: no interpreter"
    );
    assert!(
        !readelf("-d").contains("(NEEDED)"),
        "statically linked: no shared library"
    );
    let sections = readelf("-S");
    assert!(
        sections.contains(".dep-v0"),
        "cargo auditable's dependency list:\n{sections}"
    );
    assert!(!sections.contains(".symtab"), "stripped:\n{sections}");
    // The emulator is left out (the `emulator` feature is off): none of its code, so none of
    // the text it logs, is in the binary.
    let bytes = std::fs::read(&binary).expect("read the binary");
    assert!(
        !bytes.windows(EMULATOR_LOG_LINE.len()).any(|w| w == EMULATOR_LOG_LINE),
        "the image's operator is built without the emulator (--no-default-features)"
    );

    let bundle = std::fs::read_to_string(scratch.path().join("etc/ssl/certs/ca-certificates.crt")).expect("bundle");
    assert!(
        bundle.matches("BEGIN CERTIFICATE").count() > 50,
        "a full public CA bundle"
    );

    let config: serde_json::Value = serde_json::from_str(&container::engine(&[
        "image",
        "inspect",
        "--format",
        "{{json .Config}}",
        &image,
    ]))
    .expect("image config JSON");
    assert_eq!(config["User"], "65532:65532");
    assert_eq!(
        config["Entrypoint"],
        serde_json::json!(["/usr/local/bin/detective-operator"])
    );
    assert_eq!(config["Cmd"], serde_json::json!(["run"]));
    let labels = &config["Labels"];
    assert_eq!(labels["org.opencontainers.image.version"], env!("CARGO_PKG_VERSION"));
    for label in ["org.opencontainers.image.revision", "org.opencontainers.image.source"] {
        assert!(
            labels[label].as_str().is_some_and(|v| !v.is_empty()),
            "{label} is set: {labels}"
        );
    }

    let size: u64 = container::engine(&["image", "inspect", "--format", "{{.Size}}", &image])
        .trim()
        .parse()
        .expect("size");
    figure(&format!(
        "{image} is {:.1} MiB ({size} bytes) uncompressed",
        size as f64 / 1048576.0
    ));
    assert!(
        size <= IMAGE_SIZE_LIMIT,
        "{image} is {size} bytes uncompressed, over the {IMAGE_SIZE_LIMIT}-byte target"
    );
}

/// The image runs the operator against the API server and the emulator over HTTPS: ready,
/// a graph Ready, `/metrics`, and on SIGTERM (`docker stop`) a clean exit that releases the Lease.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn image_reconciles_over_tls_and_stops_cleanly() {
    let Some((image, env)) = image_and_env("image").await else {
        return;
    };
    let pki = tls::issue(&env.dir, "trusted").expect("test certificates");
    let emulator = https_emulator(&pki, accepting_world(MEMBERS.map(|(id, _)| id))).await;
    // By name: the static binary resolves it (from the /etc/hosts the engine provides).
    let endpoint = format!("https://localhost:{}", emulator.local_addr().port());
    rbac::bind_in_namespace(&env).await;
    let kubeconfig = container_kubeconfig(&env).await;
    let lease = lease_name(&env);

    let started = Instant::now();
    let container = run_image(
        &env,
        &image,
        &kubeconfig,
        &pki.ca,
        &endpoint,
        &["--leader-elect=true", "--lease-name", &lease, "--identity", "image"],
    );
    let admin = wait_ready(&container).await;
    figure(&format!(
        "/readyz answered 200 {} ms after `docker run`",
        started.elapsed().as_millis()
    ));

    env.apply(&graph_manifest("image-graph", &env.ns, &MEMBERS, "")).await;
    env.wait_graph("image-graph", Duration::from_secs(60), "Ready", is_ready)
        .await;
    let calls = emulator.calls();
    assert!(
        calls.get("CreateMembers").copied().unwrap_or(0) >= 1,
        "the members were invited over HTTPS: {calls:?}"
    );
    let holder = env.lease_holder(&lease).await.expect("a Lease holder");
    assert!(holder.starts_with("image"), "the container holds the Lease: {holder}");

    let endpoint = format!("http://{admin}");
    let (status, metrics) = http_get(&endpoint, "/metrics").await.expect("/metrics answers");
    assert_eq!(status, 200);
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("detective_operator_aws_calls_total{") && l.contains("outcome=\"ok\"")),
        "AWS calls counted in /metrics:\n{metrics}"
    );

    // Stopped by SIGTERM, not by the SIGKILL after the grace period (that would exit 137): the
    // exit code and the operator's own word say so, no clock needed.
    let exit_code = container.stop(Duration::from_secs(30));
    let logs = container.logs();
    assert_eq!(exit_code, 0, "a clean exit on SIGTERM:\n{logs}");
    assert!(
        logs.contains("termination signal: finishing in-flight reconciles"),
        "it stopped on SIGTERM:\n{logs}"
    );
    let after = env.lease_holder(&lease).await;
    assert!(after.is_err(), "the Lease was released on SIGTERM: holder {after:?}");
}

/// With a server certificate from another CA, the image's TLS to "AWS" is refused: no request
/// reaches the emulator and the Ready condition names the certificate error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn image_refuses_a_certificate_from_another_ca() {
    let Some((image, env)) = image_and_env("image-ca").await else {
        return;
    };
    let trusted = tls::issue(&env.dir, "trusted").expect("test certificates");
    let other = tls::issue(&env.dir, "other").expect("other certificates");
    let emulator = https_emulator(&other, accepting_world(MEMBERS.map(|(id, _)| id))).await;
    let endpoint = format!("https://localhost:{}", emulator.local_addr().port());
    rbac::bind_in_namespace(&env).await;
    let kubeconfig = container_kubeconfig(&env).await;

    let container = run_image(
        &env,
        &image,
        &kubeconfig,
        &trusted.ca,
        &endpoint,
        &["--leader-elect=false"],
    );
    wait_ready(&container).await;
    env.apply(&graph_manifest("image-graph", &env.ns, &MEMBERS, "")).await;

    // The handshake error names the cause, in the status users read.
    let graph = env
        .wait_graph(
            "image-graph",
            Duration::from_secs(60),
            "the certificate error in the Ready condition",
            |graph| ready_says(graph, "False", &["invalid peer certificate: UnknownIssuer"]),
        )
        .await;
    assert_eq!(condition(&graph, "Ready").expect("Ready")["reason"], "AwsUnavailable");
    assert!(
        emulator.calls().is_empty(),
        "no request got through the refused TLS handshake: {:?}",
        emulator.calls()
    );
}
