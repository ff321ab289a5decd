//! `plan` and `sync` of a `DetectiveOrganizationAdmin`, run as the binary against its embedded
//! emulator (the demo world's organization): the per-Region plan, the delegation it makes, and
//! bad input refused before any call with the field named.

use std::process::Output;

const EXAMPLE: &str = "examples/organization/admin.yaml";

async fn detective_operator(args: &[&str], stdin: Option<&str>) -> Output {
    use tokio::io::AsyncWriteExt;
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_detective-operator"))
        .args(args)
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
        stderr.contains("EnableOrganizationAdminAccount 3, ListOrganizationAdminAccounts"),
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
