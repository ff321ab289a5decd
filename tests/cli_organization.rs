//! `plan` and `sync` of the organization's resources, run as the binary against its embedded
//! emulator (the demo world's organization). A `DetectiveOrganizationAdmin`: the per-Region plan,
//! the delegation it makes, and bad input refused before any call with the field named. The
//! administrator's `DetectiveGraph`: the demo delegates it first on its own, and the plan tells
//! the accounts it enables (the organization's) from those it invites.

#[path = "../emulator/tests/fixtures/mod.rs"]
mod fixtures;
mod support;

use std::process::Output;

use detective_emulator::{Fault, OrganizationSeed};

const EXAMPLE: &str = "examples/organization/admin.yaml";

async fn detective_operator(args: &[&str], stdin: Option<&str>) -> Output {
    run(
        tokio::process::Command::new(env!("CARGO_BIN_EXE_detective-operator")).args(args),
        stdin,
    )
    .await
}

/// Runs `command` with `stdin` as its input.
async fn run(command: &mut tokio::process::Command, stdin: Option<&str>) -> Output {
    use tokio::io::AsyncWriteExt;
    let mut child = command
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("the binary starts");
    let mut input = child.stdin.take().expect("stdin");
    input
        .write_all(stdin.unwrap_or_default().as_bytes())
        .await
        .expect("stdin written");
    drop(input);
    child.wait_with_output().await.expect("the binary ends")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[tokio::test]
async fn plan_shows_each_region_and_changes_nothing() {
    let output = detective_operator(&["plan", "--emulator", "-f", EXAMPLE, "--detailed-exitcode"], None).await;
    let stdout = text(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(2),
        "changes: {stdout}{}",
        text(&output.stderr)
    );
    for region in ["us-east-1", "eu-west-1", "ap-southeast-2"] {
        assert!(
            stdout.contains(&format!("+ {region}: enable (administrator now: none)")),
            "{stdout}"
        );
    }
    assert!(stdout.contains("Plan: 3 Regions to delegate, 0 to disable"), "{stdout}");

    let json = detective_operator(&["plan", "--emulator", "-f", EXAMPLE, "-o", "json"], None).await;
    let plans: serde_json::Value = serde_json::from_slice(&json.stdout).expect("JSON plans");
    assert_eq!(plans[0]["kind"], "DetectiveOrganizationAdmin");
    assert_eq!(plans[0]["regions"][1]["action"], "enable");
    assert_eq!(plans[0]["changes"], true);
}

#[tokio::test]
async fn sync_delegates_every_region_and_reports_ready() {
    let output = detective_operator(&["sync", "--emulator", "-f", EXAMPLE, "-o", "json"], None).await;
    let stderr = text(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let admin: serde_json::Value = serde_json::from_slice(&output.stdout).expect("the resource as JSON");
    let status = &admin["status"];
    assert_eq!(status["delegatedRegions"], 3, "{status}");
    let ready = status["conditions"]
        .as_array()
        .expect("conditions")
        .iter()
        .find(|c| c["type"] == "Ready")
        .expect("Ready");
    assert_eq!(ready["status"], "True");
    for entry in status["regions"].as_array().expect("regions") {
        assert_eq!(entry["state"], "Delegated");
        assert_eq!(entry["administratorAccountId"], "123456789012");
    }
    assert!(
        stderr.contains("EnableOrganizationAdminAccount 3, ") && stderr.contains("ListOrganizationAdminAccounts"),
        "one Enable per Region: {stderr}"
    );
}

#[tokio::test]
async fn bad_input_is_refused_before_any_call_naming_the_field() {
    let example = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/organization/admin.yaml"))
        .expect("the example");
    let cases = [
        ("- eu-west-1", "- us-east-1", "spec.regions[1]"),
        ("- eu-west-1", "- Europe", "spec.regions[1]"),
        ("accountId: \"123456789012\"", "accountId: \"1234\"", "spec.accountId"),
        ("regionRemoval: Retain", "regionRemoval: Delete", "spec.regionRemoval"),
    ];
    for (from, to, field) in cases {
        let broken = example.replacen(from, to, 1);
        assert_ne!(broken, example, "{from} is in the example");
        for command in ["plan", "sync"] {
            let output = detective_operator(&[command, "--emulator", "-f", "-"], Some(&broken)).await;
            let stderr = text(&output.stderr);
            assert_eq!(output.status.code(), Some(1), "{command} {to}: {stderr}");
            assert!(
                stderr.contains("stdin, document 1") && stderr.contains(field),
                "{command} {to}: {stderr}"
            );
            assert!(!stderr.contains("Detective calls made"), "no call: {stderr}");
        }
    }
}

/// (input, stdin, lines the plan prints, lines it must not print)
type PlanCase<'a> = (&'a str, Option<&'a str>, &'a [&'a str], &'a [&'a str]);

/// The plan of a graph tells what CreateMembers will do: enable the organization's accounts
/// (those `membersFrom.organization` resolves, or members the status shows with InvitationType
/// ORGANIZATION), invite the others.
#[tokio::test]
async fn plan_enables_the_organization_accounts_and_invites_the_others() {
    // The set stands for one graph per Region: two plans, each saying the same.
    let organization_graph = "examples/organization/graph-set.yaml";
    // A member enabled as an organization account, removed since (the status is a sync's).
    let removed_member = "apiVersion: detective.operator.dev/v1alpha1
kind: DetectiveGraph
metadata: {name: organization, namespace: security}
spec:
  region: us-east-1
  organization: {autoEnable: true}
  members: [{accountId: '610000000001', emailAddress: aws+shop-prod@example.com}]
status:
  members: [{accountId: '610000000001', status: ENABLED, invitationType: ORGANIZATION, declared: true}]
";
    let note = "an account of the organization among those to invite is enabled instead";
    let cases: [PlanCase; 3] = [
        (
            organization_graph,
            None,
            &[
                "+ enable (accounts of the organization, no invitation) 4: 610000000001, 610000000002, 620000000001, 630000000001\n",
                "+ invite 1: 640000000001\n",
                note,
                "Plan: 4 to enable, 1 to invite, 0 to re-invite",
            ],
            &[],
        ),
        (
            "-",
            Some(removed_member),
            &[
                "+ enable (accounts of the organization, no invitation) 1: 610000000001\n",
                "Plan: 1 to enable, 0 to invite",
            ],
            &["+ invite", note],
        ),
        (
            "examples/graph.yaml",
            None,
            &[
                "+ invite 5: 111111111111, 222222222222, 333333333333, 444444444444, 555555555555\n",
                "Plan: 5 to invite",
            ],
            &["enable", note],
        ),
    ];
    for (file, stdin, says, never) in cases {
        let output = detective_operator(&["plan", "--emulator", "-f", file], stdin).await;
        let stdout = text(&output.stdout);
        assert!(output.status.success(), "{file}: {stdout}{}", text(&output.stderr));
        for line in says {
            assert!(stdout.contains(line), "{file}: {line:?} in {stdout}");
        }
        for line in never {
            assert!(!stdout.contains(line), "{file}: no {line:?} in {stdout}");
        }
    }

    let json = detective_operator(&["plan", "--emulator", "-f", organization_graph, "-o", "json"], None).await;
    let plans: serde_json::Value = serde_json::from_slice(&json.stdout).expect("JSON plans");
    assert_eq!(plans[0]["enable"].as_array().map(Vec::len), Some(4), "{plans}");
    assert_eq!(plans[0]["invite"], serde_json::json!(["640000000001"]));
    assert_eq!(
        (&plans[0]["changes"], &plans[0]["error"]),
        (&serde_json::json!(true), &serde_json::Value::Null)
    );
}

/// A set of organization graphs with no `DetectiveOrganizationAdmin`: the demo's management
/// account has delegated the demo administrator first (its own `DetectiveOrganizationAdmin`,
/// through the engine), so each Region's graph converges on its own; that setup's calls are not
/// counted with the document's.
#[tokio::test]
async fn sync_of_an_organization_graph_set_alone_finds_its_administrator_delegated() {
    let output = detective_operator(
        &[
            "sync",
            "--emulator",
            "-f",
            "examples/organization/graph-set.yaml",
            "-o",
            "json",
        ],
        None,
    )
    .await;
    let stderr = text(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let list: serde_json::Value = serde_json::from_slice(&output.stdout).expect("the resources as JSON");
    let graphs = list["items"].as_array().expect("a List");
    let names: Vec<&str> = graphs.iter().filter_map(|g| g["metadata"]["name"].as_str()).collect();
    assert_eq!(
        names,
        ["organization-us-east-1", "organization-eu-west-1"],
        "one graph per Region"
    );
    for graph in graphs {
        assert_eq!(graph["kind"], "DetectiveGraph");
        assert_eq!(
            graph["metadata"]["labels"]["detective.operator.dev/graph-set"],
            "organization"
        );
        let members = graph["status"]["members"].as_array().expect("members");
        assert_eq!(members.len(), 5, "{graph}");
        for member in members {
            assert_eq!(
                (&member["status"], &member["invitationType"]),
                (&"ENABLED".into(), &"ORGANIZATION".into())
            );
        }
        assert_eq!(graph["status"]["organization"]["autoEnable"], true);
    }
    let calls = stderr
        .lines()
        .find(|l| l.starts_with("Detective calls made:"))
        .expect("the calls");
    assert!(
        calls.contains("CreateMembers 2"),
        "one CreateMembers per Region: {calls}"
    );
    assert_eq!(
        stderr
            .matches("applied: enabled 5 accounts of the organization (0 not processed)")
            .count(),
        2,
        "organization accounts are enabled, not invited, in each Region: {stderr}"
    );
    assert!(
        !calls.contains("OrganizationAdminAccount"),
        "the setup is not counted: {calls}"
    );
}

const MANAGEMENT: &str = "900000000000";
const SECURITY: &str = "900000000001";
const OTHER: &str = "900000000002";

/// `plan -f - ARGS` of `document` as the organization's management account against `emulator`.
async fn plan_as_management(emulator: &detective_emulator::Emulator, document: &str, args: &[&str]) -> Output {
    let mut command = support::binary::operator_as(MANAGEMENT);
    command
        .args(["plan", "-f", "-", "--endpoint-url", &emulator.endpoint_url()])
        // `--endpoint-url` redirects Detective only; the delegation is read in Organizations too.
        .env("AWS_ENDPOINT_URL_ORGANIZATIONS", emulator.endpoint_url())
        .args(args);
    run(&mut command, Some(document)).await
}

/// `plan` of a `DetectiveOrganizationAdmin` whose Regions are in every state: delegated to the
/// declared account (keep), to another account (conflict), removed from `regions` and still
/// delegated to it (keep, retained), removed and delegated to no one (forget), and, with the
/// first Region's read failing on every attempt, an error. A conflict or an error fails the plan
/// with exit code 1, `--detailed-exitcode` or not.
#[tokio::test]
async fn plan_shows_keep_forget_conflict_and_error_and_exits_1_on_a_conflict() {
    let emulator = fixtures::start_emulator().await;
    emulator.seed_organization(&OrganizationSeed::new("o-planstate01", MANAGEMENT, 2, 4, SECURITY));
    for (account, region) in [
        (SECURITY, "us-east-1"),
        (OTHER, "eu-west-1"),
        (SECURITY, "ap-southeast-2"),
    ] {
        fixtures::delegate(&emulator.endpoint_url(), MANAGEMENT, account, region).await;
    }
    emulator.reset_calls();
    // The status a previous sync left: two Regions since removed from the spec.
    let document = format!(
        "apiVersion: detective.operator.dev/v1alpha1
kind: DetectiveOrganizationAdmin
metadata: {{name: organization, namespace: security}}
spec:
  accountId: \"{SECURITY}\"
  regions: [us-east-1, eu-west-1]
status:
  regions:
  - {{region: ap-southeast-2, administratorAccountId: \"{SECURITY}\", state: Retained}}
  - {{region: ap-northeast-1, administratorAccountId: \"{SECURITY}\", state: Retained}}
"
    );
    let lines = [
        format!("  = us-east-1: keep (administrator now: {SECURITY})\n"),
        format!(
            "  ! eu-west-1: conflict (administrator now: {OTHER}): account {OTHER} is the organization's Detective administrator; it is never replaced\n"
        ),
        format!(
            "  = ap-southeast-2: keep (administrator now: {SECURITY}): removed from spec.regions; kept (regionRemoval: Retain)\n"
        ),
        "  = ap-northeast-1: forget (administrator now: none)\n".to_owned(),
        "Plan: 0 Regions to delegate, 0 to disable, 1 administered by another account.\n".to_owned(),
    ];
    for args in [&["--detailed-exitcode"][..], &[]] {
        let output = plan_as_management(&emulator, &document, args).await;
        let stdout = text(&output.stdout);
        assert_eq!(
            output.status.code(),
            Some(1),
            "{args:?}: {stdout}{}",
            text(&output.stderr)
        );
        for line in &lines {
            assert!(stdout.contains(line.as_str()), "{args:?}: {line:?} in {stdout}");
        }
    }
    let json = plan_as_management(&emulator, &document, &["-o", "json"]).await;
    let plans: serde_json::Value = serde_json::from_slice(&json.stdout).expect("JSON plans");
    let actions: Vec<&str> = plans[0]["regions"]
        .as_array()
        .expect("regions")
        .iter()
        .filter_map(|r| r["action"].as_str())
        .collect();
    assert_eq!(actions, ["keep", "conflict", "keep", "forget"], "{plans}");
    assert!(
        plans[0]["refused"].as_str().is_some_and(|r| r.contains("eu-west-1")),
        "{plans}"
    );
    let writes: Vec<String> = emulator
        .calls()
        .into_keys()
        .filter(|op| !op.starts_with("List") && !op.starts_with("Describe"))
        .collect();
    assert!(writes.is_empty(), "plan only reads: {writes:?}");

    // The operator's SDK makes 5 attempts: the first Region's read fails, the others answer.
    emulator.inject_fault(Fault::internal_error().on("ListOrganizationAdminAccounts").times(5));
    let output = plan_as_management(&emulator, &document, &[]).await;
    let stdout = text(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stdout}{}", text(&output.stderr));
    assert!(
        stdout.contains("  ! us-east-1: error (administrator now: none): ") && stdout.contains(&lines[1]),
        "{stdout}"
    );
    assert!(emulator.faults().is_empty(), "every injected failure was met");
    emulator.shutdown().await;
}
