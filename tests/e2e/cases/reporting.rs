//! What the operator tells about its work besides status: the metrics on `/metrics`, the
//! Kubernetes events, and logs that keep e-mail addresses at debug level.

use std::time::Duration;

use detective_emulator::{AccountConfig, WorldConfig};
use serde_json::Value;

use crate::fixtures::{accept_invitation, detective_client};
use crate::harness::{
    ADMIN, Env, Operator, OperatorOptions, REGION, condition, emulator, eventually, graph_manifest, member_status,
    stalled_by,
};

const ENROLLED: &str = "290000000001";
const MISTYPED: &str = "290000000002";
/// An address the CRD's pattern admits (RE2's `.` matches a carriage return) and Detective's
/// refuses (Java's does not): CreateMembers answers a ValidationException quoting it, as the
/// service does, so the operator has an address in hand that it must mask.
const REFUSED: (&str, &str) = ("290000000003", r#""root\rrefused@example.com""#);

/// The value of one sample of `/metrics` whose line starts with `series` (`None` when absent).
async fn sample(operator: &Operator, series: &str) -> Option<f64> {
    let (status, body) = operator.get("/metrics").await;
    assert_eq!(status, 200, "/metrics: {body}");
    body.lines()
        .find(|line| line.starts_with(series))
        .and_then(|line| line.rsplit(' ').next()?.parse().ok())
}

/// The README's promises about metrics (`reconciles_total`, `graph_members`,
/// `deletion_guard_trips_total`), events (TagsUpdated, VerificationFailed, MembersEnabled,
/// DeletionGuard), and e-mail addresses (never in events, status or logs above debug).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_events_and_logs_tell_what_happened() {
    let Some(env) = Env::new("observe").await else { return };
    let emulator = emulator(WorldConfig {
        accounts: vec![AccountConfig {
            account_id: MISTYPED.into(),
            email: "root-mistyped@example.com".into(),
            ..AccountConfig::default()
        }],
        ..WorldConfig::default()
    })
    .await;
    let operator = env
        .operator(OperatorOptions::new("operator", ADMIN, &emulator.endpoint_url()))
        .await;
    let members = [
        (ENROLLED, "root-enrolled@example.com"),
        (MISTYPED, "root-typo@example.com"),
    ];
    let spec = |tags: &str, guard: &str| {
        format!("region: {REGION}\ntags:\n  team: {tags}\ndeletionGuard:\n  maxDeletions: {guard}")
    };
    env.apply(&graph_manifest("watched", &env.ns, &members, &spec("security", "0")))
        .await;
    let statuses = |wanted: [(&'static str, &'static str); 2]| {
        move |g: &Value| {
            for (account, want) in wanted {
                let status = member_status(g, account).map(|m| m["status"].clone());
                if status != Some(want.into()) {
                    return Err(format!("{account}: {status:?}"));
                }
            }
            Ok(())
        }
    };
    let graph = env
        .wait_graph(
            "watched",
            Duration::from_secs(90),
            "INVITED and VERIFICATION_FAILED",
            statuses([(ENROLLED, "INVITED"), (MISTYPED, "VERIFICATION_FAILED")]),
        )
        .await;
    let arn = graph["status"]["graphArn"].as_str().expect("graphArn").to_owned();
    // The member accepts in AWS: a transition the operator sees and tells (MembersEnabled).
    accept_invitation(&detective_client(&emulator.endpoint_url(), ENROLLED, REGION), &arn).await;
    env.wait_graph(
        "watched",
        Duration::from_secs(120),
        "ENABLED and VERIFICATION_FAILED",
        statuses([(ENROLLED, "ENABLED"), (MISTYPED, "VERIFICATION_FAILED")]),
    )
    .await;

    // graph_members: one gauge per status of the graph; reconciles_total counts reconciles.
    let gauge = |status: &str| {
        format!(
            "detective_operator_graph_members{{namespace=\"{}\",name=\"watched\",status=\"{status}\"}}",
            env.ns
        )
    };
    eventually(Duration::from_secs(60), "graph_members per status", || async {
        let enabled = sample(&operator, &gauge("ENABLED")).await;
        let failed = sample(&operator, &gauge("VERIFICATION_FAILED")).await;
        match (enabled, failed) {
            (Some(1.0), Some(1.0)) => Ok(()),
            other => Err(format!("(ENABLED, VERIFICATION_FAILED) = {other:?}")),
        }
    })
    .await;

    // A tag change in the spec is made in AWS and told as TagsUpdated.
    env.apply(&graph_manifest("watched", &env.ns, &members, &spec("platform", "0")))
        .await;
    let admin = detective_client(&emulator.endpoint_url(), ADMIN, REGION);
    eventually(Duration::from_secs(60), "the new tag in AWS", || async {
        let tags = admin
            .list_tags_for_resource()
            .resource_arn(&arn)
            .send()
            .await
            .map_err(|e| e.to_string())?
            .tags
            .unwrap_or_default();
        match tags.get("team").map(String::as_str) {
            Some("platform") => Ok(()),
            other => Err(format!("team={other:?}")),
        }
    })
    .await;

    // Detective refuses a declared address and quotes it: Stalled with the message masked, in
    // status here and in events and logs below.
    env.apply(&graph_manifest(
        "watched",
        &env.ns,
        &[members[0], members[1], REFUSED],
        &spec("platform", "0"),
    ))
    .await;
    let refused = env
        .wait_graph(
            "watched",
            Duration::from_secs(60),
            "Stalled by Detective's validation",
            stalled_by("AwsValidation"),
        )
        .await;
    let message = condition(&refused, "Stalled").expect("Stalled")["message"].to_string();
    assert!(
        message.contains("<e-mail>") && !message.contains("@example.com"),
        "Detective's quote of the address, masked: {message}"
    );

    // Dropping a managed member with maxDeletions 0 trips the guard: nothing removed, Stalled,
    // a DeletionGuard event and the trip counted.
    env.apply(&graph_manifest(
        "watched",
        &env.ns,
        &members[1..],
        &spec("platform", "0"),
    ))
    .await;
    env.wait_graph(
        "watched",
        Duration::from_secs(60),
        "Stalled by the deletion guard",
        stalled_by("DeletionGuard"),
    )
    .await;
    assert_eq!(emulator.members(&arn).len(), 2, "the guard removed nothing");
    let trips = format!(
        "detective_operator_deletion_guard_trips_total{{namespace=\"{}\",name=\"watched\"}}",
        env.ns
    );
    // reconciles_total counts each reconcile under its kind and result.
    let reconciles =
        |result: &str| format!("detective_operator_reconciles_total{{kind=\"DetectiveGraph\",result=\"{result}\"}}");
    eventually(Duration::from_secs(30), "the guard trip counted", || async {
        match (
            sample(&operator, &trips).await,
            sample(&operator, &reconciles("stalled")).await,
        ) {
            (Some(trips), Some(stalled)) if trips >= 1.0 && stalled >= 2.0 => Ok(()),
            other => Err(format!("(guard trips, stalled reconciles) = {other:?}")),
        }
    })
    .await;

    let events = eventually(Duration::from_secs(30), "the events", || async {
        let events = env.events_about("watched").await;
        let reasons: Vec<String> = events
            .iter()
            .filter_map(|e| e["reason"].as_str().map(str::to_owned))
            .collect();
        let events = Value::from(events).to_string();
        let missing: Vec<&str> = [
            "GraphCreated",
            "MembersInvited",
            "TagsUpdated",
            "VerificationFailed",
            "MembersEnabled",
            "AwsValidation",
            "DeletionGuard",
        ]
        .into_iter()
        .filter(|r| !reasons.iter().any(|seen| seen == r))
        .collect();
        if missing.is_empty() {
            Ok(events)
        } else {
            Err(format!("missing {missing:?} in {reasons:?}"))
        }
    })
    .await;
    assert!(
        !events.contains("@example.com"),
        "an e-mail address in an event: {events}"
    );
    let status = env.graph("watched").await.expect("graph")["status"].to_string();
    assert!(
        !status.contains("@example.com"),
        "an e-mail address in status: {status}"
    );
    // Logs at info and above never carry an address (the harness logs the operator at debug),
    // not even the one Detective quoted (the pattern it quotes along has an `@` of its own).
    let log = operator.log();
    let shown: Vec<&str> = log
        .lines()
        .filter(|line| [" INFO ", " WARN ", " ERROR "].iter().any(|level| line.contains(level)))
        .filter(|line| line.contains("@example.com"))
        .collect();
    assert!(log.contains(" INFO "), "the log has info lines:\n{log}");
    assert!(
        log.lines()
            .any(|line| (line.contains(" WARN ") || line.contains(" ERROR ")) && line.contains("<e-mail>")),
        "the refusal is logged, masked:\n{log}"
    );
    assert!(shown.is_empty(), "e-mail addresses above debug:\n{}", shown.join("\n"));
}
