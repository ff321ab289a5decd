//! The `plan` and `sync` commands, run as the real binary against the emulator over HTTP.

#[path = "../emulator/tests/fixtures/mod.rs"]
mod fixtures;
mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Output;

use detective_emulator::{AccountConfig, Emulator, MemberStatus};
use k8s_openapi::jiff::{SignedDuration, Timestamp};

const ADMIN: &str = "123456789012";

/// Runs `detective-operator ARGS` as the administrator against `emulator`.
async fn operator(emulator: &Emulator, args: &[&str]) -> Output {
    let mut command = administrator();
    command.args(args).args(["--endpoint-url", &emulator.endpoint_url()]);
    command.output().await.expect("the binary runs")
}

/// `plan -f FILE` with `flags`.
async fn plan(emulator: &Emulator, file: &Path, flags: &[&str]) -> Output {
    let file = file.to_str().expect("a UTF-8 path");
    operator(emulator, &[&["plan", "-f", file][..], flags].concat()).await
}

/// The binary with the administrator's credentials in a clean AWS environment.
fn administrator() -> tokio::process::Command {
    support::binary::operator_as(ADMIN)
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn members_yaml(ids: &[u64]) -> String {
    ids.iter()
        .map(|id| format!("    - accountId: \"{id:012}\"\n      emailAddress: root+{id}@example.com\n"))
        .collect()
}

/// `graph.yaml` of [`graph_yaml`] in a new temporary directory (kept as long as the handle).
fn graph_file(ids: &[u64], extra_spec: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "graph.yaml", &graph_yaml(ids, extra_spec));
    (dir, file)
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
    let (_dir, file) = graph_file(&[101, 102, 103], "");

    let output = plan(&emulator, &file, &["--detailed-exitcode"]).await;
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

    let json = plan(&emulator, &file, &["-o", "json"]).await;
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
    let (dir, file) = graph_file(&[101, 102, 103], "");

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
    let plan = plan(&emulator, &again, &["--detailed-exitcode"]).await;
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

/// `invitation.disableEmailNotification` reaches CreateMembers as declared, `true` or `false`
/// (absent: `false`); the emulator keeps what each member's CreateMembers call sent.
#[tokio::test]
async fn invitation_disable_email_notification_reaches_create_members() {
    let cases = [
        ("  invitation: {disableEmailNotification: true}\n", true),
        ("  invitation: {disableEmailNotification: false}\n", false),
        ("", false),
    ];
    for (invitation, sent) in cases {
        let emulator = emulator().await;
        let (_dir, file) = graph_file(&[101, 102], invitation);
        synced(&operator(&emulator, &["sync", "-f", file.to_str().unwrap()]).await);
        let graphs = emulator.graphs();
        let recorded: Vec<Option<bool>> = graphs[0].members.iter().map(|m| m.disable_email_notification).collect();
        assert_eq!(recorded, [Some(sent); 2], "{invitation:?}");
        emulator.shutdown().await;
    }
}

#[tokio::test]
async fn removed_members_are_planned_for_deletion_by_pruning_mode() {
    let emulator = emulator().await;
    let (dir, file) = graph_file(&[101, 102, 103, 104], "");
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
    let output = plan(&emulator, &managed, &["-o", "json"]).await;
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report[0]["remove"], serde_json::json!(["000000000103", "000000000104"]));
    assert_eq!(report[0]["kept"][0]["accountId"], "000000000999");

    let authoritative = write(dir.path(), "authoritative.yaml", &plan_for("Authoritative"));
    let output = plan(&emulator, &authoritative, &["-o", "json"]).await;
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(
        report[0]["remove"],
        serde_json::json!(["000000000103", "000000000104", "000000000999"])
    );

    let disabled = write(dir.path(), "disabled.yaml", &plan_for("Disabled"));
    let output = plan(&emulator, &disabled, &["-o", "json"]).await;
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

    let plan = plan(&emulator, &emptied, &["--detailed-exitcode"]).await;
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
    let (_dir, file) = graph_file(&[101], "");
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
#[cfg(feature = "emulator")]
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

// `--emulator`: the embedded emulator is a default feature.
#[cfg(feature = "emulator")]
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

// `--emulator`: the embedded emulator is a default feature.
#[cfg(feature = "emulator")]
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

/// The image's build (`--no-default-features`) keeps the `--emulator` flag and refuses it, saying
/// how to get it, before any AWS call.
#[cfg(not(feature = "emulator"))]
#[tokio::test]
async fn emulator_flag_is_refused_by_a_build_without_the_emulator() {
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/graph.yaml");
    for command in ["plan", "sync"] {
        let output = administrator()
            .args([command, "--emulator", "-f", example.to_str().unwrap()])
            .output()
            .await
            .expect("the binary runs");
        let stderr = text(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{command}: {stderr}");
        assert!(
            stderr.contains("built without the `emulator` feature"),
            "{command}: {stderr}"
        );
        assert!(output.stdout.is_empty(), "{command}: {}", text(&output.stdout));
    }
}

// The demo world is compiled in with the emulator (the default feature), not in the image.
#[cfg(feature = "emulator")]
#[tokio::test]
async fn the_demo_world_gives_each_example_account_its_story() {
    // The world `--emulator` seeds matches the accounts examples/graph.yaml declares...
    let world = detective_operator::cli::demo::world();
    let example = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/graph.yaml")).unwrap();
    for AccountConfig { account_id, .. } in &world.accounts {
        assert!(
            example.contains(account_id.as_str()),
            "{account_id} not in examples/graph.yaml"
        );
    }
    // ...and one sync lands each where the README says: two ENABLED, one ACCEPTED_BUT_DISABLED
    // for want of GuardDuty, one VERIFICATION_FAILED (wrong root e-mail), one INVITED.
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/graph.yaml");
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_detective-operator"))
        .args(["sync", "--emulator", "-o", "json", "-f", example.to_str().unwrap()])
        .env_remove("AWS_ENDPOINT_URL")
        .env_remove("AWS_ENDPOINT_URL_DETECTIVE")
        .output()
        .await
        .unwrap();
    assert!(output.status.success(), "{}", text(&output.stderr));
    let graph: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let stories = [
        ("111111111111", "ENABLED", None),
        ("222222222222", "ENABLED", None),
        ("333333333333", "ACCEPTED_BUT_DISABLED", Some("VOLUME_UNKNOWN")),
        ("444444444444", "VERIFICATION_FAILED", None),
        ("555555555555", "INVITED", None),
    ];
    for (account, status, disabled_reason) in stories {
        let member = member_in(&graph, account);
        assert_eq!(member["status"], status, "{account}: {member}");
        assert_eq!(
            member["disabledReason"].as_str(),
            disabled_reason,
            "{account}: {member}"
        );
    }
}

/// `status.members[]` entry of `account` in a resource `sync -o json` printed.
fn member_in<'a>(graph: &'a serde_json::Value, account: &str) -> &'a serde_json::Value {
    graph["status"]["members"]
        .as_array()
        .and_then(|members| members.iter().find(|m| m["accountId"] == account))
        .unwrap_or_else(|| panic!("{account} not in status.members: {}", graph["status"]))
}

/// A condition of a resource `sync -o json` printed: (status, reason).
fn condition_of(graph: &serde_json::Value, kind: &str) -> (String, String) {
    let found = graph["status"]["conditions"]
        .as_array()
        .and_then(|conditions| conditions.iter().find(|c| c["type"] == kind))
        .unwrap_or_else(|| panic!("no {kind} condition: {}", graph["status"]));
    (
        found["status"].as_str().unwrap_or_default().to_owned(),
        found["reason"].as_str().unwrap_or_default().to_owned(),
    )
}

/// `sync -o json -f FILE ARGS` as the administrator: (exit code, resource, stderr).
async fn sync_json(emulator: &Emulator, file: &Path, args: &[&str]) -> (Option<i32>, serde_json::Value, String) {
    let mut all = vec!["sync", "-o", "json", "-f", file.to_str().unwrap()];
    all.extend_from_slice(args);
    let output = operator(emulator, &all).await;
    let stderr = text(&output.stderr);
    let graph =
        serde_json::from_slice(&output.stdout).unwrap_or_else(|e| panic!("{e}: {}\n{stderr}", text(&output.stdout)));
    (output.status.code(), graph, stderr)
}

#[tokio::test]
async fn sync_wait_keeps_reconciling_until_the_resource_is_ready() {
    // Neither accepts on its own: the test accepts for them once `--wait` has looked.
    let emulator = fixtures::start_emulator_with(fixtures::world_of(vec![
        AccountConfig::new("000000000301", ""),
        AccountConfig::new("000000000302", ""),
    ]))
    .await;
    let (_dir, file) = graph_file(&[301, 302], "");

    let (code, once, stderr) = sync_json(&emulator, &file, &[]).await;
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(
        condition_of(&once, "Ready").0,
        "False",
        "invitations still pending: {}",
        once["status"]
    );
    let graph_arn = once["status"]["graphArn"].as_str().expect("a graph ARN").to_owned();

    emulator.reset_calls();
    let accept_after_a_look = async {
        // The waiting sync's first reconcile has read the members (both INVITED) before anyone
        // accepts, so Ready can only come from a later reconcile.
        while emulator.calls().get("ListMembers").copied().unwrap_or(0) == 0 {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        for member in ["000000000301", "000000000302"] {
            let client = fixtures::detective_client(&emulator.endpoint_url(), member, "us-east-1");
            fixtures::accept_invitation(&client, &graph_arn).await;
        }
    };
    let ((code, waited, stderr), ()) =
        tokio::join!(sync_json(&emulator, &file, &["--wait", "300s"]), accept_after_a_look);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(condition_of(&waited, "Ready").0, "True", "{}", waited["status"]);
    assert_eq!(waited["status"]["summary"]["enabled"], 2, "{}", waited["status"]);
    assert!(
        emulator.calls().get("ListMembers").copied().unwrap_or(0) >= 2,
        "read again after the acceptance: {:?}",
        emulator.calls()
    );
}

/// The service refuses a tag key outside `^(?!aws:)[a-zA-Z+-=._:/]+$`; plan and sync refuse it
/// first, naming the key, before any call (a graph half-converged by a refused TagResource would not).
#[tokio::test]
async fn a_tag_key_outside_the_service_pattern_is_refused_before_any_call() {
    let emulator = emulator().await;
    let (_dir, file) = graph_file(&[101], "  tags:\n    \"a,b;c<d=\": fine\n    cost center: finance\n");
    for command in ["plan", "sync"] {
        let output = operator(&emulator, &[command, "-f", file.to_str().unwrap()]).await;
        assert_eq!(output.status.code(), Some(1));
        let stderr = text(&output.stderr);
        assert!(stderr.contains("spec.tags[cost center]"), "{stderr}");
        assert!(
            !stderr.contains("spec.tags[a,b;c<d=]"),
            "keys inside the range are valid: {stderr}"
        );
    }
    assert!(emulator.calls().is_empty(), "no call at all: {:?}", emulator.calls());
}

#[tokio::test]
async fn declared_tags_are_made_so_and_an_empty_map_leaves_them_alone() {
    let emulator = emulator().await;
    let admin = fixtures::detective_client(&emulator.endpoint_url(), ADMIN, "us-east-1");
    let graph_arn = admin
        .create_graph()
        .tags("team", "blue")
        .tags("old", "x")
        .send()
        .await
        .unwrap()
        .graph_arn
        .unwrap();
    let tags = || async {
        admin
            .list_tags_for_resource()
            .resource_arn(&graph_arn)
            .send()
            .await
            .unwrap()
            .tags
            .unwrap_or_default()
            .into_iter()
            .collect::<BTreeMap<String, String>>()
    };
    let dir = tempfile::tempdir().unwrap();
    let tagged = write(
        dir.path(),
        "tagged.yaml",
        &graph_yaml(&[101], "  tags:\n    team: security\n    env: prod\n"),
    );
    let (code, _, stderr) = sync_json(&emulator, &tagged, &[]).await;
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(
        tags().await,
        BTreeMap::from([("env".into(), "prod".into()), ("team".into(), "security".into())]),
        "declared tags are authoritative"
    );
    let calls = emulator.calls();
    assert!(
        calls.contains_key("TagResource") && calls.contains_key("UntagResource"),
        "{calls:?}"
    );

    // No tags declared: whatever the graph carries stays, and no tag call is made.
    admin
        .tag_resource()
        .resource_arn(&graph_arn)
        .tags("by-hand", "y")
        .send()
        .await
        .unwrap();
    let before = tags().await;
    let untagged = write(dir.path(), "untagged.yaml", &graph_yaml(&[101], ""));
    emulator.reset_calls();
    let (code, _, stderr) = sync_json(&emulator, &untagged, &[]).await;
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(tags().await, before, "an empty map leaves the tags alone");
    let calls = emulator.calls();
    assert!(
        !calls.contains_key("TagResource") && !calls.contains_key("UntagResource"),
        "{calls:?}"
    );
}

#[tokio::test]
async fn a_member_that_failed_verification_is_reinvited_once_its_email_is_corrected() {
    let emulator = fixtures::start_emulator_with(fixtures::world_of(vec![AccountConfig {
        account_id: "000000000401".into(),
        email: "root+401@example.com".into(),
        ..AccountConfig::default()
    }]))
    .await;
    let dir = tempfile::tempdir().unwrap();
    let correct = graph_yaml(&[401], "");
    let wrong = write(
        dir.path(),
        "wrong.yaml",
        &correct.replace("root+401@example.com", "typo@example.com"),
    );
    let (code, graph, stderr) = sync_json(&emulator, &wrong, &[]).await;
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(member_in(&graph, "000000000401")["status"], "VERIFICATION_FAILED");

    // The same wrong e-mail again: no new invitation.
    emulator.reset_calls();
    sync_json(&emulator, &wrong, &[]).await;
    assert!(writes(&emulator.calls()).is_empty(), "{:?}", emulator.calls());

    let corrected = write(dir.path(), "corrected.yaml", &correct);
    emulator.reset_calls();
    let (code, graph, stderr) = sync_json(&emulator, &corrected, &[]).await;
    assert_eq!(code, Some(0), "{stderr}");
    let calls = emulator.calls();
    assert_eq!(calls.get("DeleteMembers"), Some(&1), "{calls:?}");
    assert_eq!(calls.get("CreateMembers"), Some(&1), "{calls:?}");
    assert_eq!(
        member_in(&graph, "000000000401")["status"],
        "INVITED",
        "{}",
        graph["status"]
    );
}

/// The attempts a sync records travel through the status it prints: the next sync, once the
/// backoff has elapsed since `lastAttemptTime` (the clock moved by rewriting it), retries
/// StartMonitoringMember and counts the second attempt. The backoff holding is
/// `tests/auto_accept.rs`'s, at explicit times.
#[tokio::test]
async fn monitoring_is_started_for_accepted_but_disabled_members_with_backoff() {
    // Accepts at once but is not enrolled in GuardDuty: it stays ACCEPTED_BUT_DISABLED.
    let emulator = fixtures::start_emulator_with(fixtures::world_of(vec![AccountConfig {
        account_id: "000000000501".into(),
        auto_accept_after_ms: Some(0),
        guard_duty_enrolled: false,
        ..AccountConfig::default()
    }]))
    .await;
    let (dir, file) = graph_file(&[501], "");
    // The first sync invites; a next one, reading the status the previous one printed (as the
    // controller does), starts monitoring.
    let (_, mut graph, _) = sync_json(&emulator, &file, &[]).await;
    for _ in 0..2 {
        if member_in(&graph, "000000000501")["attempts"] == 1 {
            break;
        }
        let synced = write(dir.path(), "synced.json", &graph.to_string());
        graph = sync_json(&emulator, &synced, &[]).await.1;
    }
    assert_eq!(emulator.calls().get("StartMonitoringMember"), Some(&1));
    let member = member_in(&graph, "000000000501").clone();
    assert_eq!(member["attempts"], 1, "{member}");

    // The last attempt moved back past the first backoff (1 minute).
    let last: Timestamp = member["lastAttemptTime"]
        .as_str()
        .unwrap_or_else(|| panic!("no lastAttemptTime: {member}"))
        .parse()
        .expect("an RFC 3339 time");
    let moved = last - SignedDuration::from_secs(61);
    let entry = graph["status"]["members"]
        .as_array_mut()
        .and_then(|members| members.iter_mut().find(|m| m["accountId"] == "000000000501"))
        .expect("the member's entry");
    entry["lastAttemptTime"] = moved.to_string().into();
    let synced = write(dir.path(), "synced.json", &graph.to_string());
    emulator.reset_calls();
    let (_, next, stderr) = sync_json(&emulator, &synced, &[]).await;
    assert_eq!(
        emulator.calls().get("StartMonitoringMember"),
        Some(&1),
        "retried once the backoff elapsed: {stderr}"
    );
    let member = member_in(&next, "000000000501");
    assert_eq!(member["status"], "ACCEPTED_BUT_DISABLED", "{member}");
    assert_eq!(member["attempts"], 2, "{member}");
    assert_ne!(member["lastAttemptTime"], moved.to_string().as_str(), "{member}");
}

#[tokio::test]
async fn a_graph_named_by_arn_is_adopted_and_a_missing_or_foreign_one_stalls() {
    let emulator = emulator().await;
    let admin = fixtures::detective_client(&emulator.endpoint_url(), ADMIN, "us-east-1");
    let existing = fixtures::create_graph(&admin).await;
    let dir = tempfile::tempdir().unwrap();
    let named = |name: &str, arn: &str| write(dir.path(), name, &graph_yaml(&[101], &format!("  graphArn: {arn}\n")));

    emulator.reset_calls();
    let (code, graph, stderr) = sync_json(&emulator, &named("adopt.yaml", &existing), &[]).await;
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(graph["status"]["graphArn"], existing.as_str());
    assert_ne!(graph["status"]["graphCreated"], true, "an adopted graph is not created");
    assert!(!emulator.calls().contains_key("CreateGraph"), "{:?}", emulator.calls());
    assert_eq!(emulator.members(&existing).len(), 1);

    let missing = format!("arn:aws:detective:us-east-1:{ADMIN}:graph:{}", "0".repeat(32));
    let (code, graph, stderr) = sync_json(&emulator, &named("missing.yaml", &missing), &[]).await;
    assert_eq!(code, Some(1), "{stderr}");
    assert_eq!(condition_of(&graph, "Stalled"), ("True".into(), "GraphNotFound".into()));

    let other = fixtures::create_graph(&fixtures::detective_client(
        &emulator.endpoint_url(),
        "210987654321",
        "us-east-1",
    ))
    .await;
    let (code, graph, stderr) = sync_json(&emulator, &named("foreign.yaml", &other), &[]).await;
    assert_eq!(code, Some(1), "{stderr}");
    assert_eq!(condition_of(&graph, "Stalled"), ("True".into(), "AccessDenied".into()));
}

#[tokio::test]
async fn members_beyond_the_graphs_quota_stall_with_quota_exceeded() {
    // 1,200 declared (the most a spec may declare) on a graph that already holds 60 others.
    let emulator = emulator().await;
    let admin = fixtures::detective_client(&emulator.endpoint_url(), ADMIN, "us-east-1");
    let graph_arn = fixtures::create_graph(&admin).await;
    let others: Vec<(String, String)> = (900..960)
        .map(|i| (format!("{i:012}"), format!("other+{i}@example.com")))
        .collect();
    let others: Vec<(&str, &str)> = others.iter().map(|(id, email)| (id.as_str(), email.as_str())).collect();
    for batch in others.chunks(50) {
        fixtures::create_members(&admin, &graph_arn, batch).await;
    }
    emulator.reset_calls();
    let dir = tempfile::tempdir().unwrap();
    let ids: Vec<u64> = (0..1200).map(|i| 300_000_000_000 + i).collect();
    let file = write(dir.path(), "large.yaml", &graph_yaml(&ids, ""));
    let (code, graph, stderr) = sync_json(&emulator, &file, &[]).await;
    assert_eq!(code, Some(1), "{stderr}");
    assert_eq!(condition_of(&graph, "Stalled"), ("True".into(), "QuotaExceeded".into()));
    // Batches of 50: the first 22 land (60 + 1,100 members), the 23rd is refused, and the
    // operator stops there: no retry of the refused batch, no 24th batch.
    let calls = emulator.calls();
    assert_eq!(calls.get("CreateMembers"), Some(&23), "{calls:?}");
    assert_eq!(emulator.members(&graph_arn).len(), 1160);
}

#[tokio::test]
async fn assume_role_arn_acts_in_the_roles_account() {
    let emulator = emulator().await;
    let (_dir, file) = graph_file(
        &[101],
        "  assumeRoleArn: arn:aws:iam::444455556666:role/detective-admin\n",
    );
    // AWS_ENDPOINT_URL, not --endpoint-url (Detective only): STS must reach the emulator too.
    let output = administrator()
        .args(["sync", "-o", "json", "-f", file.to_str().unwrap()])
        .env("AWS_ENDPOINT_URL", emulator.endpoint_url())
        .output()
        .await
        .unwrap();
    assert!(output.status.success(), "{}", text(&output.stderr));
    let graph: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let arn = graph["status"]["graphArn"].as_str().unwrap();
    assert!(
        arn.contains(":444455556666:graph:"),
        "the graph is the role account's: {arn}"
    );
    assert!(emulator.calls().contains_key("AssumeRole"), "{:?}", emulator.calls());
    assert_eq!(emulator.members(arn).len(), 1);
}

// `--emulator`: the embedded emulator is a default feature.
#[cfg(feature = "emulator")]
#[tokio::test]
async fn log_format_json_writes_json_lines_without_emails_above_debug() {
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/graph.yaml");
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_detective-operator"))
        .args([
            "--log-format",
            "json",
            "sync",
            "--emulator",
            "-f",
            example.to_str().unwrap(),
        ])
        .env("RUST_LOG", "info")
        .env_remove("AWS_ENDPOINT_URL")
        .env_remove("AWS_ENDPOINT_URL_DETECTIVE")
        .output()
        .await
        .unwrap();
    let stderr = text(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let logs: Vec<serde_json::Value> = stderr
        .lines()
        .filter(|line| line.starts_with('{'))
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect();
    assert!(!logs.is_empty(), "no JSON log line at info: {stderr}");
    for log in &logs {
        assert!(log["level"].is_string() && log["message"].is_string(), "{log}");
    }
    assert!(
        !stderr.contains("@example.com"),
        "an e-mail address on stderr at info: {stderr}"
    );
}

/// Admission takes any Region name (a Region added later must work), but `plan` warns about one
/// Detective is not known to be in, naming the document, and plans the others as usual.
#[tokio::test]
async fn plan_warns_about_a_region_detective_is_not_known_to_be_in() {
    let emulator = fixtures::start_emulator().await;
    let dir = tempfile::tempdir().unwrap();
    let osaka = graph_yaml(&[1], "").replace("region: us-east-1", "region: ap-northeast-3");
    let file = write(
        dir.path(),
        "graphs.yaml",
        &format!("{osaka}---\n{}", graph_yaml(&[2], "")),
    );
    let output = plan(&emulator, &file, &[]).await;
    let stderr = text(&output.stderr);
    let warnings: Vec<&str> = stderr.lines().filter(|l| l.starts_with("warning:")).collect();
    assert_eq!(warnings.len(), 1, "{stderr}");
    assert!(
        warnings[0].contains("graphs.yaml") && warnings[0].contains("ap-northeast-3 is not a Region Amazon Detective"),
        "{stderr}"
    );
    assert!(!warnings[0].contains("us-east-1 is not"), "{stderr}");
}

/// `run` refuses, before anything else, a kind it does not know (listing those it does) and a
/// label selector it cannot read, each naming its flag; the environment variables are checked
/// the same way.
#[tokio::test]
async fn run_refuses_an_unknown_kind_and_a_malformed_selector_naming_the_flag() {
    let run = |args: &[&str], env: &[(&str, &str)]| {
        let mut command = administrator();
        // A kubeconfig that cannot be read: a flag let through fails fast, with another code.
        command
            .args(["run", "--kubeconfig", "/nonexistent/kubeconfig"])
            .args(args)
            .envs(env.iter().copied());
        async move { command.output().await.expect("the binary runs") }
    };
    for output in [
        run(&["--kinds", "graph,graphs"], &[]).await,
        run(&[], &[("KINDS", "membership,graphs")]).await,
    ] {
        let stderr = text(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains("'graphs'") && stderr.contains("--kinds"), "{stderr}");
        assert!(
            stderr.contains("graph, membership, organizationadmin"),
            "lists the kinds: {stderr}"
        );
    }
    for output in [
        run(&["--watch-label-selector", "detective.operator.dev/shard in 0"], &[]).await,
        run(&[], &[("WATCH_LABEL_SELECTOR", "detective.operator.dev/shard in 0")]).await,
    ] {
        let stderr = text(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains("--watch-label-selector"), "{stderr}");
        assert!(stderr.contains("(v1,v2)"), "says why: {stderr}");
    }
}
