//! A stored object that does not decode — written under an older, looser schema, as the API
//! server keeps it — is reported (log, Warning Event, metric) and skipped; the other objects of
//! its kind keep being reconciled, at the initial list and on later watch events.

use std::time::Duration;

use crate::harness::{ADMIN, Env, OperatorOptions, accepting_world, emulator, eventually, graph_manifest, is_ready};

const SKIPPED: &str = "detective_operator_objects_skipped_total";

/// A DetectiveGraph whose `spec.members` is `members` (no longer a list of members).
fn undecodable(env: &Env, name: &str, members: &str) -> String {
    format!(
        "apiVersion: detective.operator.dev/v1alpha1\nkind: DetectiveGraph\nmetadata:\n  name: {name}\n  \
         namespace: {}\nspec:\n  members: {members}\n",
        env.ns
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_object_that_does_not_decode_is_reported_and_the_others_are_reconciled() {
    // Its own control plane: the test loosens the DetectiveGraph schema for everyone on it.
    let Some(env) = Env::dedicated("undecodable").await else {
        return;
    };
    // An older schema that took any spec.
    let loosen = r#"[{"op": "replace", "path": "/spec/versions/0/schema/openAPIV3Schema/properties/spec",
                      "value": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}]"#;
    let patched = env
        .kubectl(&[
            "patch",
            "crd",
            "detectivegraphs.detective.operator.dev",
            "--type=json",
            "-p",
            loosen,
        ])
        .await;
    assert!(patched.success, "loosen the schema: {}", patched.stderr);
    // Until the API server serves the new schema, it refuses the object.
    let stored_before = undecodable(&env, "bad-before", "everyone");
    eventually(
        Duration::from_secs(30),
        "the looser schema takes bad-before",
        || async {
            let out = env.kubectl_stdin(&["apply"], &stored_before).await;
            if out.success { Ok(()) } else { Err(out.stderr) }
        },
    )
    .await;

    let emulator = emulator(accepting_world(["111111111111", "222222222222"])).await;
    // Ready: the initial list went through despite bad-before.
    let operator = env
        .operator(OperatorOptions::new("operator", ADMIN, &emulator.endpoint_url()))
        .await;
    let member = |id: &'static str| {
        (
            id,
            if id.starts_with('1') {
                "root+1@example.com"
            } else {
                "root+2@example.com"
            },
        )
    };
    let good = |members: &[(&str, &str)]| graph_manifest("good", &env.ns, members, "region: us-east-1");
    env.apply(&good(&[member("111111111111")])).await;
    env.wait_graph("good", Duration::from_secs(60), "Ready", is_ready).await;

    // A bad object arriving on the watch does not stop it either: the next edit is reconciled.
    env.apply(&undecodable(&env, "bad-after", "7")).await;
    env.apply(&good(&[member("111111111111"), member("222222222222")]))
        .await;
    env.wait_graph("good", Duration::from_secs(60), "both members, Ready", |graph| {
        is_ready(graph)?;
        match graph["status"]["summary"]["enabled"].as_i64() {
            Some(2) => Ok(()),
            enabled => Err(format!("{enabled:?} enabled")),
        }
    })
    .await;

    for name in ["bad-before", "bad-after"] {
        eventually(
            Duration::from_secs(30),
            &format!("a Warning Undecodable on {name}"),
            || async {
                let events = env.events_about(name).await;
                match events.iter().find(|e| e["reason"] == "Undecodable") {
                    Some(event) if event["type"] == "Warning" => Ok(()),
                    _ => Err(format!("events: {events:?}")),
                }
            },
        )
        .await;
        let object = env.graph(name).await.expect("still stored");
        assert!(object["metadata"]["finalizers"].is_null(), "untouched: {object}");
        assert!(object["status"].is_null(), "untouched: {object}");
    }
    assert_eq!(operator.counter(SKIPPED).await, 2.0, "each skipped object counted once");
    let log = operator.log();
    assert!(
        log.lines()
            .filter(|l| l.contains("skipping an object that does not decode"))
            .count()
            == 2,
        "each logged once:\n{log}"
    );
    drop(operator);
    env.plane.stop();
}
