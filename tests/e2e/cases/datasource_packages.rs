//! `spec.datasourcePackages` on a real API server: a graph made before Detective started the
//! optional packages by default gets the declared one started and reports each member's ingest
//! state; a package started outside the operator and not declared is told by exactly one Event
//! however many resyncs see it; unknown and repeated package names are refused at `kubectl
//! apply` naming the field, and `kubectl explain` documents it.

use std::time::Duration;

use serde_json::Value;

use crate::fixtures::detective_client;
use crate::harness::{
    ADMIN, Env, OperatorOptions, REGION, accepting_world, emulator, eventually, graph_manifest, ready_says,
};

const ACCOUNTS: [&str; 2] = ["295000000001", "295000000002"];

/// The `status.datasourcePackages[]` entry of `package`.
fn package<'a>(graph: &'a Value, package: &str) -> Option<&'a Value> {
    graph["status"]["datasourcePackages"]
        .as_array()?
        .iter()
        .find(|p| p["package"] == package)
}

/// The events about DetectiveGraph `name` with `reason`.
async fn events(env: &Env, name: &str, reason: &str) -> Vec<Value> {
    let events = env.events_about(name).await;
    events.into_iter().filter(|e| e["reason"] == reason).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_declared_package_is_started_and_an_undeclared_one_is_told_once() {
    let Some(env) = Env::new("packages").await else { return };
    let emulator = emulator(accepting_world(ACCOUNTS)).await;
    // The administrator's graph dates from January 2022: only the core package is started.
    let arn = emulator.create_graph_at(ADMIN, REGION, "2022-01-01T00:00:00Z".parse().expect("a time"));
    let _operator = env
        .operator(OperatorOptions::new("operator", ADMIN, &emulator.endpoint_url()))
        .await;
    let members: Vec<(&str, String)> = ACCOUNTS
        .iter()
        .map(|id| (*id, format!("root+{id}@example.com")))
        .collect();
    let members: Vec<(&str, &str)> = members.iter().map(|(id, email)| (*id, email.as_str())).collect();
    let spec = format!("region: {REGION}\nresyncInterval: 5s\ndatasourcePackages: [EKS_AUDIT]");
    env.apply(&graph_manifest("packages", &env.ns, &members, &spec)).await;

    let graph = env
        .wait_graph(
            "packages",
            Duration::from_secs(90),
            "Ready with EKS_AUDIT started and ingested by both members",
            |g| {
                crate::harness::is_ready(g)?;
                let eks = package(g, "EKS_AUDIT").ok_or("no EKS_AUDIT entry")?;
                if eks["state"] == "STARTED" && eks["declared"] == true && eks["ingestingMembers"] == 2 {
                    Ok(())
                } else {
                    Err(format!("EKS_AUDIT: {eks}"))
                }
            },
        )
        .await;
    assert_eq!(
        graph["status"]["graphArn"],
        arn.as_str(),
        "the existing graph is adopted"
    );
    let packages = emulator
        .graphs()
        .into_iter()
        .find(|g| g.arn == arn)
        .expect("the graph")
        .datasource_packages;
    assert_eq!(packages.get("EKS_AUDIT").map(String::as_str), Some("STARTED"));
    assert_eq!(
        packages.get("ASFF_SECURITYHUB_FINDING").map(String::as_str),
        Some("STOPPED"),
        "an undeclared package is not started"
    );
    for account in ACCOUNTS {
        let member = crate::harness::member_status(&graph, account).expect("the member in status");
        assert_eq!(
            member["notIngesting"],
            serde_json::json!(["ASFF_SECURITYHUB_FINDING"]),
            "{member}"
        );
    }
    assert_eq!(
        events(&env, "packages", "DatasourcePackagesStarted").await.len(),
        1,
        "the start is told"
    );

    // Someone starts Security Hub findings in the console. The operator cannot stop it: it tells
    // it in Ready's message and one Event, and keeps telling it in status only.
    detective_client(&emulator.endpoint_url(), ADMIN, REGION)
        .update_datasource_packages()
        .graph_arn(&arn)
        .datasource_packages(aws_sdk_detective::types::DatasourcePackage::AsffSecurityhubFinding)
        .send()
        .await
        .expect("UpdateDatasourcePackages as the administrator");
    env.wait_graph(
        "packages",
        Duration::from_secs(60),
        "the undeclared package in Ready's message",
        |g| {
            ready_says(g, "True", &["ASFF_SECURITYHUB_FINDING", "Detective console"])?;
            let asff = package(g, "ASFF_SECURITYHUB_FINDING").ok_or("no ASFF entry")?;
            if asff["declared"] == false && asff["state"] == "STARTED" {
                Ok(())
            } else {
                Err(format!("ASFF: {asff}"))
            }
        },
    )
    .await;
    let resyncs_before = emulator.calls().get("ListDatasourcePackages").copied().unwrap_or(0);
    // Several 5 s resyncs later (waited for by the reads they make, the third one starting after
    // two whole resyncs): still one Event, never a second UpdateDatasourcePackages.
    eventually(
        Duration::from_secs(90),
        "three more reads of the graph's packages",
        || async {
            match emulator.calls().get("ListDatasourcePackages").copied().unwrap_or(0) - resyncs_before {
                reads if reads >= 3 => Ok(()),
                reads => Err(format!("read again {reads} times")),
            }
        },
    )
    .await;
    let told = events(&env, "packages", "UndeclaredDatasourcePackages").await;
    assert_eq!(told.len(), 1, "{told:?}");
    assert_eq!(told[0]["type"], "Warning");
    assert!(told[0]["series"].is_null(), "published once, not repeated: {}", told[0]);
    assert!(
        told[0]["note"]
            .as_str()
            .is_some_and(|n| n.contains("ASFF_SECURITYHUB_FINDING") && n.contains("Detective console")),
        "{}",
        told[0]
    );
    assert_eq!(
        emulator.calls().get("UpdateDatasourcePackages"),
        Some(&2),
        "the operator's start and the console's; nothing retried"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_or_repeated_packages_are_refused_at_admission() {
    let Some(env) = Env::new("packages-admission").await else {
        return;
    };
    // (name, packages, the reason in the message). Client-side apply names the entry
    // (`spec.datasourcePackages[1]: Duplicate value`); server-side apply refuses a repeated set
    // item before validation (`.spec.datasourcePackages: duplicate entries for key`).
    let cases = [
        ("unknown", "[S3_DATA_EVENTS]", "unsupported value"),
        ("core", "[DETECTIVE_CORE]", "unsupported value"),
        ("repeated", "[EKS_AUDIT, EKS_AUDIT]", "duplicate"),
    ];
    for (name, packages, reason) in cases {
        let yaml = graph_manifest(name, &env.ns, &[], &format!("datasourcePackages: {packages}"));
        for args in [&["apply"][..], &["apply", "--server-side"][..]] {
            let out = env.kubectl_stdin(args, &yaml).await;
            assert!(!out.success, "{name} ({args:?}) was admitted");
            assert!(
                out.stderr.contains("spec.datasourcePackages") && out.stderr.to_lowercase().contains(reason),
                "{name} ({args:?}): {}",
                out.stderr
            );
        }
    }
    let both = graph_manifest(
        "both",
        &env.ns,
        &[],
        "datasourcePackages: [ASFF_SECURITYHUB_FINDING, EKS_AUDIT]",
    );
    env.apply(&both).await;
    let explained = env
        .kubectl(&["explain", "detectivegraph.spec.datasourcePackages"])
        .await
        .ok();
    for word in [
        "EKS_AUDIT",
        "ASFF_SECURITYHUB_FINDING",
        "UpdateDatasourcePackages",
        "Detective console",
    ] {
        assert!(explained.contains(word), "kubectl explain lacks {word}:\n{explained}");
    }
}

/// The largest `DetectiveGraph` as the API server stores it: 1,200 members declared with
/// 64-character e-mail addresses through `kubectl apply` (which also keeps the whole object in
/// its last-applied annotation), every one of them accepted but too big to monitor, so that the
/// status the operator itself writes has every member entry filled (reason, attempts, every
/// package not ingested). Prints the stored size with `managedFields` and asserts it is under
/// the 1.5 MiB object limit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_largest_graph_fits_the_object_limit() {
    const OBJECT_LIMIT: usize = 1_572_864;
    let Some(env) = Env::new("packages-size").await else {
        return;
    };
    let accounts: Vec<String> = (0..1200).map(|i| format!("{:012}", 296_000_000_000u64 + i)).collect();
    // 30 + 4 + 1 + 17 + 12 = 64 characters: the longest e-mail Detective accepts.
    let emails: Vec<String> = (0..1200)
        .map(|i| format!("{}{i:04}@{}.example.com", "r".repeat(30), "d".repeat(17)))
        .collect();
    let members: Vec<(&str, &str)> = accounts
        .iter()
        .map(String::as_str)
        .zip(emails.iter().map(String::as_str))
        .collect();
    let mut world = accepting_world(accounts.iter().map(String::as_str));
    for account in &mut world.accounts {
        account.volume_too_high = true;
    }
    let emulator = emulator(world).await;
    let _operator = env
        .operator(OperatorOptions::new("operator", ADMIN, &emulator.endpoint_url()))
        .await;
    let spec = format!("region: {REGION}\ndatasourcePackages: [EKS_AUDIT, ASFF_SECURITYHUB_FINDING]");
    env.apply(&graph_manifest("largest", &env.ns, &members, &spec)).await;

    // Every member's entry at its fullest: ACCEPTED_BUT_DISABLED with its reason, a
    // StartMonitoringMember attempt and its time, and the packages it does not ingest. (A
    // `lastError` is only kept for an account CreateMembers did not process, which is never
    // also accepted.)
    let graph = eventually(Duration::from_secs(240), "1,200 full member entries", || async {
        let graph = env.graph("largest").await.ok_or("no graph")?;
        let full = graph["status"]["members"].as_array().map_or(0, |members| {
            members
                .iter()
                .filter(|m| {
                    m["status"] == "ACCEPTED_BUT_DISABLED"
                        && m["disabledReason"] == "VOLUME_TOO_HIGH"
                        && m["attempts"].as_u64() >= Some(1)
                        && m["lastAttemptTime"].is_string()
                        && m["notIngesting"].as_array().is_some_and(|p| !p.is_empty())
                })
                .count()
        });
        if full == 1200 {
            Ok(graph)
        } else {
            Err(format!("{full} full entries"))
        }
    })
    .await;
    let status = &graph["status"];
    let status_size = status.to_string().len();
    let stored = env
        .kubectl(&["get", "dg", "largest", "-o", "json", "--show-managed-fields"])
        .await
        .ok();
    let object: Value = serde_json::from_str(&stored).expect("the object");
    assert_eq!(object["status"]["members"].as_array().map(Vec::len), Some(1200));
    let managed = object["metadata"]["managedFields"].to_string().len();
    let compact = object.to_string().len();
    println!(
        "largest DetectiveGraph as stored: {compact} bytes ({:.1} % of the 1.5 MiB object limit): status {status_size}, \
         managedFields {managed}, last-applied annotation {}",
        compact as f64 * 100.0 / OBJECT_LIMIT as f64,
        object["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"]
            .as_str()
            .map_or(0, str::len)
    );
    assert!(
        status_size * 2 < OBJECT_LIMIT,
        "the status alone is {status_size} bytes"
    );
    assert!(compact < OBJECT_LIMIT, "{compact} bytes");
}
