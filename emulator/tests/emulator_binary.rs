//! The `detective-emulator` binary: starts on a port it reports, reads a world file, and keeps
//! its state across a restart with `--state-file`.

mod fixtures;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use aws_sdk_detective::types::MemberStatus;
use fixtures::{
    ADMIN, REGION, accept_invitation, create_graph, create_members, create_tagged_graph, detective_client, http,
    invite, listed_members, member_detail, tags_of,
};

const MEMBER: &str = "222222222222";
const OTHER: &str = "333333333333";

/// A running emulator process, killed when dropped so a failing test leaves nothing behind.
struct Running {
    child: Child,
    url: String,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn spawn(args: &[&str]) -> Running {
    let mut child = Command::new(env!("CARGO_BIN_EXE_detective-emulator"))
        .args(["--listen", "127.0.0.1:0"])
        .args(args)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn detective-emulator");
    let stdout = child.stdout.take().expect("stdout");
    let mut first_line = String::new();
    BufReader::new(stdout)
        .read_line(&mut first_line)
        .expect("read the first line");
    let url = first_line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {first_line:?}"))
        .to_owned();
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    Running { child, url }
}

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).expect("write test file");
}

#[tokio::test]
async fn binary_reports_its_address_and_serves_the_configured_world() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = dir.path().join("world.yaml");
    write(
        &config,
        "verificationDelayMs: 0\naccounts:\n  - accountId: '222222222222'\n    email: root@example.com\n    guardDutyEnrolled: false\n",
    );
    let emulator = spawn(&["--config", config.to_str().expect("UTF-8 path")]);

    let health = http(&emulator.url, "GET", "/_emulator/health", None).await;
    assert_eq!(health.status, 200);
    let world = http(&emulator.url, "GET", "/_emulator/world", None).await.json();
    assert_eq!(world["accounts"][0]["accountId"], MEMBER);
    assert_eq!(world["accounts"][0]["guardDutyEnrolled"], false);

    let admin = detective_client(&emulator.url, ADMIN, REGION);
    let graph = create_graph(&admin).await;
    invite(&admin, &graph, MEMBER, "wrong@example.com").await;
    let detail = member_detail(&admin, &graph, MEMBER).await;
    assert_eq!(
        detail.status(),
        Some(&MemberStatus::VerificationFailed),
        "the config file's root e-mail is in force"
    );
}

#[tokio::test]
async fn state_file_survives_a_restart() {
    let dir = tempfile::tempdir().expect("temp dir");
    let state = dir.path().join("state.json");
    let state_arg = state.to_str().expect("UTF-8 path");
    let config = dir.path().join("world.json");
    write(
        &config,
        r#"{"accounts":[{"accountId":"333333333333","email":"other@example.com","guardDutyEnrolled":false}]}"#,
    );

    let first = spawn(&[
        "--state-file",
        state_arg,
        "--config",
        config.to_str().expect("UTF-8 path"),
    ]);
    let admin = detective_client(&first.url, ADMIN, REGION);
    let graph = create_tagged_graph(&admin, &[("team", "security")]).await;
    create_members(
        &admin,
        &graph,
        &[(MEMBER, "member@example.com"), (OTHER, "other@example.com")],
    )
    .await;
    for id in [MEMBER, OTHER] {
        accept_invitation(&detective_client(&first.url, id, REGION), &graph).await;
    }
    // Killed, not shut down: the file is written after every change.
    drop(first);
    assert!(state.exists());

    // `spawn` checked the address; what the restarted process serves is checked below.
    let second = spawn(&["--state-file", state_arg]);
    let admin = detective_client(&second.url, ADMIN, REGION);
    let graphs = admin.list_graphs().send().await.expect("ListGraphs");
    assert_eq!(graphs.graph_list().len(), 1);
    assert_eq!(graphs.graph_list()[0].arn(), Some(graph.as_str()));
    let members = listed_members(&admin, &graph).await;
    let statuses: Vec<(&str, Option<&MemberStatus>)> = members
        .iter()
        .map(|m| (m.account_id().unwrap_or_default(), m.status()))
        .collect();
    assert_eq!(
        statuses,
        [
            (MEMBER, Some(&MemberStatus::Enabled)),
            (OTHER, Some(&MemberStatus::AcceptedButDisabled)),
        ]
    );
    let tags = tags_of(&admin, &graph).await;
    assert_eq!(tags.get("team").map(String::as_str), Some("security"));
    // The world came back too (no --config this time).
    let world = http(&second.url, "GET", "/_emulator/world", None).await.json();
    assert_eq!(world["accounts"][0]["accountId"], OTHER);
    // CreateGraph is still idempotent across the restart.
    let again = admin
        .create_graph()
        .send()
        .await
        .expect("CreateGraph")
        .graph_arn()
        .map(str::to_owned);
    assert_eq!(again.as_deref(), Some(graph.as_str()));
}

/// Starts the binary with the world file `world`, which it must refuse (exit at once, never
/// claim to listen), and returns its stderr.
fn refused_world(world: &str) -> String {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = dir.path().join("world.yaml");
    write(&config, world);
    let mut child = Command::new(env!("CARGO_BIN_EXE_detective-emulator"))
        .args(["--listen", "127.0.0.1:0", "--config"])
        .arg(&config)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn detective-emulator");
    // A world it accepts would have it serve until killed: it gets a few seconds to refuse.
    let deadline = Instant::now() + Duration::from_secs(10);
    while child.try_wait().expect("poll the emulator").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the emulator started with this world:\n{world}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let output = child.wait_with_output().expect("the emulator's output");
    assert!(!output.status.success());
    assert!(output.stdout.is_empty(), "never claimed to listen");
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn binary_refuses_an_invalid_world_naming_the_field() {
    let stderr = refused_world("accounts:\n  - accountId: '1234'\n");
    assert!(stderr.contains("accounts[0].accountId"), "{stderr}");
}

#[tokio::test]
async fn faults_and_a_rate_limit_can_be_set_from_the_command_line() {
    let running = spawn(&[
        "--rate-limit",
        "5",
        "--fault",
        r#"{"operation":"ListMembers","kind":"latency","latencyMs":10}"#,
    ]);
    let faults = http(&running.url, "GET", "/_emulator/faults", None).await.json();
    assert_eq!(
        faults,
        serde_json::json!([
            {"operation": "ListMembers", "kind": "latency", "latencyMs": 10},
            {"kind": "throttle", "requestsPerSecond": 5}
        ])
    );
    let output = Command::new(env!("CARGO_BIN_EXE_detective-emulator"))
        .args([
            "--listen",
            "127.0.0.1:0",
            "--fault",
            r#"{"kind":"throttle","requestsPerSecond":0}"#,
        ])
        .output()
        .expect("run detective-emulator");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("requestsPerSecond"), "{stderr}");
}

#[tokio::test]
async fn realistic_turns_the_profile_on_and_a_malformed_setting_is_refused() {
    let running = spawn(&["--realistic"]);
    let world = http(&running.url, "GET", "/_emulator/world", None).await.json();
    assert_eq!(world["realistic"], true);

    let stderr = refused_world("realistic: true\npropagationDelay: 3x\n");
    assert!(stderr.contains("propagationDelay"), "{stderr}");
}
