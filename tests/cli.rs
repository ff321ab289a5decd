//! The `plan` and `sync` commands, run as the real binary against the emulator over HTTP.

#[path = "../emulator/tests/fixtures/mod.rs"]
mod fixtures;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Output;

use detective_emulator::{AccountConfig, Emulator, MemberStatus, WorldConfig};

const ADMIN: &str = "123456789012";

/// Runs `detective-operator ARGS` as the administrator against `emulator`.
async fn operator(emulator: &Emulator, args: &[&str]) -> Output {
    let mut command = administrator();
    command.args(args).args(["--endpoint-url", &emulator.endpoint_url()]);
    command.output().await.expect("the binary runs")
}

/// The binary with the administrator's credentials in a clean AWS environment.
fn administrator() -> tokio::process::Command {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_detective-operator"));
    command
        .env("AWS_ACCESS_KEY_ID", ADMIN)
        .env("AWS_SECRET_ACCESS_KEY", "emulator-secret")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", "/nonexistent")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_SESSION_TOKEN")
        .env_remove("AWS_ENDPOINT_URL")
        .env_remove("AWS_ENDPOINT_URL_DETECTIVE")
        .env_remove("RUST_LOG");
    command
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn members_yaml(ids: &[u64]) -> String {
    ids.iter()
        .map(|id| format!("    - accountId: \"{id:012}\"\n      emailAddress: root+{id}@example.com\n"))
        .collect()
}

fn graph_yaml(ids: &[u64], extra_spec: &str) -> String {
    format!(
        "apiVersion: detective.operator.dev/v1alpha1\nkind: DetectiveGraph\nmetadata:\n  name: org\n  namespace: security\nspec:\n  region: us-east-1\n{extra_spec}  members:\n{}",
        members_yaml(ids)
    )
}

fn write(dir: &Path, name: &str, contents: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, contents).unwrap();
    path
}

async fn emulator() -> Emulator {
    fixtures::start_emulator().await
}

fn writes(calls: &BTreeMap<String, u64>) -> Vec<String> {
    const READS: [&str; 5] = [
        "ListGraphs",
        "ListMembers",
        "GetMembers",
        "ListTagsForResource",
        "ListInvitations",
    ];
    calls
        .keys()
        .filter(|op| !READS.contains(&op.as_str()))
        .cloned()
        .collect()
}

/// The resources `sync` printed, with the status the next command reads back.
fn synced(output: &Output) -> String {
    assert!(output.status.success(), "sync failed: {}", text(&output.stderr));
    text(&output.stdout)
}

#[tokio::test]
async fn plan_on_an_empty_graph_lists_every_member_and_writes_nothing() {
    let emulator = emulator().await;
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "graph.yaml", &graph_yaml(&[101, 102, 103], ""));

    let output = operator(
        &emulator,
        &["plan", "-f", file.to_str().unwrap(), "--detailed-exitcode"],
    )
    .await;
    assert_eq!(
        output.status.code(),
        Some(2),
        "changes → 2; stderr: {}",
        text(&output.stderr)
    );
    let stdout = text(&output.stdout);
    assert!(
        stdout.contains("+ invite 3: 000000000101, 000000000102, 000000000103"),
        "{stdout}"
    );
    assert!(stdout.contains("create one"), "the graph would be created: {stdout}");
    assert!(
        !stdout.contains("@example.com"),
        "plans name accounts, never e-mails: {stdout}"
    );

    let json = operator(&emulator, &["plan", "-f", file.to_str().unwrap(), "-o", "json"]).await;
    assert_eq!(
        json.status.code(),
        Some(0),
        "without --detailed-exitcode changes exit 0"
    );
    let reports: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(reports[0]["invite"].as_array().unwrap().len(), 3);
    assert_eq!(reports[0]["graph"], "create");
    assert_eq!(reports[0]["changes"], true);

    let calls = emulator.calls();
    assert!(writes(&calls).is_empty(), "plan is read-only: {calls:?}");
    assert_eq!(calls.get("ListGraphs"), Some(&2));
}

#[tokio::test]
async fn sync_converges_and_the_next_plan_is_empty() {
    let emulator = emulator().await;
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "graph.yaml", &graph_yaml(&[101, 102, 103], ""));

    let output = operator(&emulator, &["sync", "-f", file.to_str().unwrap()]).await;
    let after = synced(&output);
    let graphs = emulator.graphs();
    assert_eq!(graphs.len(), 1);
    let members = emulator.members(&graphs[0].arn);
    assert_eq!(members.len(), 3);
    assert!(members.iter().all(|m| m.status == MemberStatus::Invited), "{members:?}");
    assert!(after.contains(&graphs[0].arn), "status carries the graph: {after}");
    assert!(after.contains("invited: 3"), "{after}");

    // The printed resource carries its status (graph ARN, inventory): plan it again as-is.
    let again = write(dir.path(), "synced.yaml", &after);
    emulator.reset_calls();
    let plan = operator(
        &emulator,
        &["plan", "-f", again.to_str().unwrap(), "--detailed-exitcode"],
    )
    .await;
    assert_eq!(
        plan.status.code(),
        Some(0),
        "{}{}",
        text(&plan.stdout),
        text(&plan.stderr)
    );
    assert!(text(&plan.stdout).contains("Plan: 0 to invite, 0 to re-invite, 0 to remove"));
    assert_eq!(emulator.calls(), BTreeMap::from([("ListMembers".to_owned(), 1)]));
}

#[tokio::test]
async fn removed_members_are_planned_for_deletion_by_pruning_mode() {
    let emulator = emulator().await;
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "graph.yaml", &graph_yaml(&[101, 102, 103, 104], ""));
    let after = synced(&operator(&emulator, &["sync", "-f", file.to_str().unwrap()]).await);
    // Someone else invited 999 by hand: not in this resource's inventory.
    let graph_arn = emulator.graphs()[0].arn.clone();
    let admin = fixtures::detective_client(&emulator.endpoint_url(), ADMIN, "us-east-1");
    fixtures::invite(&admin, &graph_arn, "000000000999", "other@example.com").await;

    let plan_for = |pruning: &str| {
        // Keep the status sync printed (inventory 101-104), drop 103 and 104 from the spec.
        after
            .replace(
                "  - accountId: \"000000000103\"\n    emailAddress: root+103@example.com\n  - accountId: \"000000000104\"\n    emailAddress: root+104@example.com\n",
                "",
            )
            .replace("pruning: Managed", &format!("pruning: {pruning}"))
    };
    assert_ne!(plan_for("Managed"), after, "the edit applies to sync's output");

    let managed = write(dir.path(), "managed.yaml", &plan_for("Managed"));
    let output = operator(&emulator, &["plan", "-f", managed.to_str().unwrap(), "-o", "json"]).await;
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report[0]["remove"], serde_json::json!(["000000000103", "000000000104"]));
    assert_eq!(report[0]["kept"][0]["accountId"], "000000000999");

    let authoritative = write(dir.path(), "authoritative.yaml", &plan_for("Authoritative"));
    let output = operator(
        &emulator,
        &["plan", "-f", authoritative.to_str().unwrap(), "-o", "json"],
    )
    .await;
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(
        report[0]["remove"],
        serde_json::json!(["000000000103", "000000000104", "000000000999"])
    );

    let disabled = write(dir.path(), "disabled.yaml", &plan_for("Disabled"));
    let output = operator(&emulator, &["plan", "-f", disabled.to_str().unwrap(), "-o", "json"]).await;
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report[0]["remove"], serde_json::json!([]));
    assert_eq!(report[0]["kept"].as_array().unwrap().len(), 3);

    // Applying the Managed plan removes exactly the two.
    let output = operator(&emulator, &["sync", "-f", managed.to_str().unwrap()]).await;
    synced(&output);
    let left: Vec<String> = emulator.members(&graph_arn).into_iter().map(|m| m.account_id).collect();
    assert_eq!(left, vec!["000000000101", "000000000102", "000000000999"]);
}

#[tokio::test]
async fn a_plan_over_the_deletion_guard_is_refused_and_nothing_is_deleted() {
    let emulator = emulator().await;
    let dir = tempfile::tempdir().unwrap();
    let ids: Vec<u64> = (100..110).collect();
    let file = write(
        dir.path(),
        "graph.yaml",
        &graph_yaml(&ids, "  deletionGuard:\n    maxDeletions: 3\n"),
    );
    let after = synced(&operator(&emulator, &["sync", "-f", file.to_str().unwrap()]).await);
    let emptied = after.split("  members:\n").next().unwrap().to_owned()
        + "  members: []\n"
        + after
            .split("  invitation:")
            .nth(1)
            .map(|rest| format!("  invitation:{rest}"))
            .as_deref()
            .unwrap();
    let emptied = write(dir.path(), "emptied.yaml", &emptied);

    let plan = operator(
        &emulator,
        &["plan", "-f", emptied.to_str().unwrap(), "--detailed-exitcode"],
    )
    .await;
    assert_eq!(plan.status.code(), Some(1), "{}", text(&plan.stdout));
    assert!(
        text(&plan.stdout).contains("deletion guard: REFUSED"),
        "{}",
        text(&plan.stdout)
    );
    assert!(
        text(&plan.stdout).contains("removes 10 members"),
        "{}",
        text(&plan.stdout)
    );

    emulator.reset_calls();
    let sync = operator(&emulator, &["sync", "-f", emptied.to_str().unwrap()]).await;
    assert_eq!(sync.status.code(), Some(1), "a Stalled resource fails the command");
    assert!(
        text(&sync.stdout).contains("reason: DeletionGuard"),
        "{}",
        text(&sync.stdout)
    );
    assert!(
        writes(&emulator.calls()).is_empty(),
        "nothing written: {:?}",
        emulator.calls()
    );
    assert_eq!(emulator.members(&emulator.graphs()[0].arn).len(), 10);
}

#[tokio::test]
async fn a_malformed_file_names_file_document_and_field_and_makes_no_call() {
    let emulator = emulator().await;
    let dir = tempfile::tempdir().unwrap();
    let good = graph_yaml(&[101], "");
    let bad = graph_yaml(&[101], "").replace("\"000000000101\"", "\"1234\"");
    let file = write(dir.path(), "graphs.yaml", &format!("{good}---\n{bad}"));
    for command in ["plan", "sync"] {
        let output = operator(&emulator, &[command, "-f", file.to_str().unwrap()]).await;
        assert_eq!(output.status.code(), Some(1));
        let stderr = text(&output.stderr);
        assert!(stderr.contains("graphs.yaml, document 2"), "{stderr}");
        assert!(stderr.contains("spec.members[0].accountId"), "{stderr}");
    }
    assert!(emulator.calls().is_empty(), "no call at all: {:?}", emulator.calls());
}

#[tokio::test]
async fn twelve_hundred_members_converge_within_the_call_budget() {
    let emulator = emulator().await;
    let dir = tempfile::tempdir().unwrap();
    let ids: Vec<u64> = (0..1200).map(|i| 200_000_000_000 + i).collect();
    let file = write(dir.path(), "large.yaml", &graph_yaml(&ids, ""));

    let after = synced(&operator(&emulator, &["sync", "-f", file.to_str().unwrap()]).await);
    let calls = emulator.calls();
    assert!(calls["CreateMembers"] <= 24, "{calls:?}");
    assert!(calls["ListMembers"] <= 7, "{calls:?}");
    assert_eq!(emulator.members(&emulator.graphs()[0].arn).len(), 1200);

    // A no-op sync of the synced resource: ListMembers pages only, no write.
    let again = write(dir.path(), "synced.yaml", &after);
    emulator.reset_calls();
    synced(&operator(&emulator, &["sync", "-f", again.to_str().unwrap()]).await);
    assert_eq!(emulator.calls(), BTreeMap::from([("ListMembers".to_owned(), 6)]));
}

#[tokio::test]
async fn the_standard_endpoint_variables_are_honoured() {
    let emulator = emulator().await;
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "graph.yaml", &graph_yaml(&[101], ""));
    for variable in ["AWS_ENDPOINT_URL_DETECTIVE", "AWS_ENDPOINT_URL"] {
        emulator.reset_calls();
        let output = administrator()
            .args(["plan", "-f", file.to_str().unwrap()])
            .env(variable, emulator.endpoint_url())
            .output()
            .await
            .unwrap();
        assert!(output.status.success(), "{variable}: {}", text(&output.stderr));
        assert_eq!(
            emulator.calls().get("ListGraphs"),
            Some(&1),
            "{variable} reached the emulator"
        );
    }
}

/// `sync --emulator -f EXAMPLE`, as the README's first command runs it.
async fn demo(example: &str) -> Output {
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join(example);
    tokio::process::Command::new(env!("CARGO_BIN_EXE_detective-operator"))
        .args(["sync", "--emulator", "-f", example.to_str().unwrap()])
        .env_remove("AWS_ENDPOINT_URL")
        .env_remove("AWS_ENDPOINT_URL_DETECTIVE")
        .output()
        .await
        .unwrap()
}

#[tokio::test]
async fn the_embedded_demo_runs_without_aws_or_a_cluster() {
    let output = demo("examples/graph.yaml").await;
    let stderr = text(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    for expected in [
        "VERIFICATION_FAILED",
        "ACCEPTED_BUT_DISABLED",
        "ENABLED",
        "INVITED",
        "Detective calls made: ",
    ] {
        assert!(stderr.contains(expected), "{expected} missing from: {stderr}");
    }
    assert!(text(&output.stdout).contains("graphArn: arn:aws:detective:us-east-1:123456789012:graph:"));
}

#[tokio::test]
async fn the_demo_accepts_invitations_as_the_members_through_their_roles() {
    let output = demo("examples/auto-accept.yaml").await;
    let stderr = text(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(
        stderr.contains("accepted 2 invitations as the members (0 failed)"),
        "{stderr}"
    );
    assert!(stderr.contains("AssumeRole 2"), "{stderr}");
    let stdout = text(&output.stdout);
    assert_eq!(stdout.matches("status: ENABLED").count(), 2, "{stdout}");
    assert!(stdout.contains("reason: Synced"), "{stdout}");
}

#[tokio::test]
async fn the_demo_world_gives_each_example_account_its_story() {
    // The world `--emulator` seeds matches the accounts examples/graph.yaml declares.
    let world = detective_operator::cli::demo::world();
    let example = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/graph.yaml")).unwrap();
    for AccountConfig { account_id, .. } in &world.accounts {
        assert!(
            example.contains(account_id.as_str()),
            "{account_id} not in examples/graph.yaml"
        );
    }
    assert!(world != WorldConfig::default());
}
