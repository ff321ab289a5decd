//! A `DetectiveGraph` kept as declared: the example becomes Ready, spec edits converge, members
//! accepting and drift made outside the operator show up in status and are repaired. The
//! operator runs as the chart-RBAC-bound user in all of them.

use std::collections::BTreeSet;
use std::time::Duration;

use detective_emulator::MemberStatus;

use crate::fixtures::{accept_invitation, detective_client};
use crate::harness::{
    ADMIN, Env, OperatorOptions, REGION, accepting_world, emulator, eventually, graph_manifest, has_condition, ids,
    is_ready, member_status, repo_path,
};

const EXAMPLE_MEMBERS: [&str; 5] = [
    "111111111111",
    "222222222222",
    "333333333333",
    "444444444444",
    "555555555555",
];

/// Scenario 1: `examples/graph.yaml` with every account accepting → `kubectl wait
/// --for=condition=Ready` succeeds; status (summary, members, inventory) agrees with the
/// emulator; the graph carries the declared tags; `kubectl get dg` prints the printer columns;
/// the batch events were published.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn example_graph_becomes_ready() {
    let Some(env) = Env::new("ready").await else { return };
    // An invitation graph in AWS as it is (the realistic profile).
    let emulator = emulator(detective_emulator::WorldConfig {
        realistic: true,
        ..accepting_world(EXAMPLE_MEMBERS)
    })
    .await;
    let _operator = env
        .operator(OperatorOptions::new("operator", ADMIN, &emulator.endpoint_url()))
        .await;

    let example = std::fs::read_to_string(repo_path("examples/graph.yaml")).expect("examples/graph.yaml");
    env.apply(&env.in_namespace(&example)).await;
    let wait = env
        .kubectl(&["wait", "--for=condition=Ready", "dg/org-graph", "--timeout=60s"])
        .await;
    assert!(
        wait.success,
        "kubectl wait --for=condition=Ready failed: {}",
        wait.stderr
    );

    let graph = env.graph("org-graph").await.expect("org-graph exists");
    is_ready(&graph).unwrap();
    has_condition(&graph, "Reconciling", "False").unwrap();
    has_condition(&graph, "Stalled", "False").unwrap();
    has_condition(&graph, "MembersHealthy", "True").unwrap();
    let status = &graph["status"];
    let arn = status["graphArn"].as_str().expect("status.graphArn");
    assert_eq!(status["graphCreated"], true, "the operator created the graph");

    // The emulator's view and status agree, member by member.
    let graphs = emulator.graphs();
    assert_eq!(graphs.len(), 1, "exactly one graph: {graphs:?}");
    assert_eq!(graphs[0].arn, arn);
    let declared: BTreeSet<String> = EXAMPLE_MEMBERS.iter().map(|s| s.to_string()).collect();
    let members = emulator.members(arn);
    let in_aws: BTreeSet<String> = members.iter().map(|m| m.account_id.clone()).collect();
    assert_eq!(in_aws, declared);
    for member in &members {
        assert_eq!(member.status, MemberStatus::Enabled, "{member:?}");
        let reported = member_status(&graph, &member.account_id).expect("member in status");
        assert_eq!(reported["status"], member.status.as_str(), "{reported}");
        assert_eq!(reported["declared"], true);
    }
    let summary = &status["summary"];
    assert_eq!(summary["desired"], 5, "{summary}");
    assert_eq!(summary["enabled"], 5, "{summary}");
    for zero in [
        "missing",
        "undeclared",
        "invited",
        "verificationInProgress",
        "verificationFailed",
        "acceptedButDisabled",
    ] {
        assert_eq!(summary[zero], 0, "summary.{zero}: {summary}");
    }
    assert_eq!(ids(&status["inventory"]), declared, "status.inventory");
    let tags = &graphs[0].tags;
    assert_eq!(tags.get("team").map(String::as_str), Some("security"), "{tags:?}");
    assert_eq!(
        tags.get("managed-by").map(String::as_str),
        Some("detective-operator"),
        "{tags:?}"
    );

    // The printer columns.
    let table = env.kubectl(&["get", "dg"]).await.ok();
    let mut lines = table.lines();
    let header: Vec<&str> = lines.next().expect("header").split_whitespace().collect();
    assert_eq!(
        header,
        ["NAME", "GRAPH", "ENABLED", "DESIRED", "READY", "AGE"],
        "{table}"
    );
    let row: Vec<&str> = lines.next().expect("a row").split_whitespace().collect();
    assert_eq!(&row[..5], ["org-graph", arn, "5", "5", "True"], "{table}");
    let wide = env
        .kubectl(&["get", "detectivegraph", "org-graph", "-o", "wide"])
        .await
        .ok();
    assert!(wide.lines().next().is_some_and(|h| h.contains("STATUS")), "{wide}");

    // Aggregated events, one per batch kind.
    let reasons = env.event_reasons("org-graph").await;
    for reason in ["GraphCreated", "MembersInvited"] {
        assert!(
            reasons.iter().any(|r| r == reason),
            "no {reason} event; events: {reasons:?}"
        );
    }
}

/// Scenario 2: members added and removed in the spec converge (`pruning: Managed` removes what
/// `status.inventory` holds); `status.observedGeneration` follows `metadata.generation`; a new
/// invitation message re-invites nobody.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spec_edits_converge() {
    let Some(env) = Env::new("edits").await else { return };
    let accounts = ["210000000001", "210000000002", "210000000003", "210000000004"];
    let emulator = emulator(accepting_world(accounts)).await;
    let _operator = env
        .operator(OperatorOptions::new("operator", ADMIN, &emulator.endpoint_url()))
        .await;
    let ns = env.ns.clone();
    // The graph "edits" with three of the accounts (by index), all at one address, and `message`.
    let manifest = |members: [usize; 3], message: &str| {
        graph_manifest(
            "edits",
            &ns,
            &members.map(|i| (accounts[i], "ops@example.com")),
            &format!("region: {REGION}\ninvitation:\n  message: \"{message}\""),
        )
    };

    env.apply(&manifest([0, 1, 2], "hello")).await;
    let first = env
        .wait_graph("edits", Duration::from_secs(60), "Ready", is_ready)
        .await;
    assert_eq!(first["metadata"]["generation"], 1);
    let arn = first["status"]["graphArn"].as_str().expect("graphArn").to_owned();

    // Remove the third, add the fourth.
    env.apply(&manifest([0, 1, 3], "hello")).await;
    let want: BTreeSet<String> = [accounts[0], accounts[1], accounts[3]].map(String::from).into();
    let edited = env
        .wait_graph(
            "edits",
            Duration::from_secs(60),
            "Ready for the edited member list",
            |g| {
                is_ready(g)?;
                let inventory = ids(&g["status"]["inventory"]);
                if inventory != want {
                    return Err(format!("inventory {inventory:?}"));
                }
                Ok(())
            },
        )
        .await;
    assert_eq!(edited["metadata"]["generation"], 2);
    assert_eq!(edited["status"]["observedGeneration"], 2);
    assert_eq!(edited["status"]["summary"]["desired"], 3);
    assert_eq!(edited["status"]["summary"]["enabled"], 3);
    let in_aws: BTreeSet<String> = emulator.members(&arn).into_iter().map(|m| m.account_id).collect();
    assert_eq!(in_aws, want, "the removed account left the graph, the added one joined");
    assert!(
        member_status(&edited, accounts[2]).is_none(),
        "the removed account is gone from status"
    );

    // A new message only: converges (generation 3) without any membership write.
    emulator.reset_calls();
    env.apply(&manifest([0, 1, 3], "a new message")).await;
    let third = env
        .wait_graph("edits", Duration::from_secs(30), "Ready for generation 3", is_ready)
        .await;
    assert_eq!(third["status"]["observedGeneration"], 3);
    let calls = emulator.calls();
    for write in ["CreateMembers", "DeleteMembers"] {
        assert!(
            !calls.contains_key(write),
            "a new invitation message must not {write}: {calls:?}"
        );
    }
    assert!(calls.contains_key("ListMembers"), "the edit was reconciled: {calls:?}");
}

/// Scenario 3: members accepting in AWS (AcceptInvitation as the member account) show up in
/// status through the requeue for pending invitations, without any Kubernetes event.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn member_acceptance_shows_in_status() {
    let Some(env) = Env::new("accept").await else { return };
    let accounts = ["220000000001", "220000000002"];
    // Default world: invited accounts stay INVITED until they accept.
    let emulator = emulator(Default::default()).await;
    let _operator = env
        .operator(OperatorOptions::new("operator", ADMIN, &emulator.endpoint_url()))
        .await;
    env.apply(&graph_manifest(
        "accept",
        &env.ns,
        &[(accounts[0], "a@example.com"), (accounts[1], "b@example.com")],
        "region: us-east-1",
    ))
    .await;
    let invited = env
        .wait_graph("accept", Duration::from_secs(60), "both members INVITED", |g| {
            for account in accounts {
                let status = member_status(g, account).map(|m| m["status"].clone());
                if status != Some("INVITED".into()) {
                    return Err(format!("{account}: {status:?}"));
                }
            }
            has_condition(g, "Ready", "False")?;
            has_condition(g, "Reconciling", "True")
        })
        .await;
    let arn = invited["status"]["graphArn"].as_str().expect("graphArn").to_owned();

    accept_invitation(&detective_client(&emulator.endpoint_url(), accounts[0], REGION), &arn).await;
    // Only the requeue for members waiting in INVITED (a quarter of the invitation's age, at
    // least 10 s) brings the operator back: no Kubernetes event. The ceilings are generous (a
    // loaded machine ages the invitations) and far below the 5 min resync that would otherwise
    // be the first look.
    env.wait_graph("accept", Duration::from_secs(120), "the first member ENABLED", |g| {
        let status = member_status(g, accounts[0]).map(|m| m["status"].clone());
        if status != Some("ENABLED".into()) {
            return Err(format!("{}: {status:?}", accounts[0]));
        }
        has_condition(g, "Ready", "False")
    })
    .await;

    accept_invitation(&detective_client(&emulator.endpoint_url(), accounts[1], REGION), &arn).await;
    let ready = env
        .wait_graph(
            "accept",
            Duration::from_secs(120),
            "Ready with both members ENABLED",
            is_ready,
        )
        .await;
    assert_eq!(ready["status"]["summary"]["enabled"], 2);
}

/// Scenario 4: drift made directly in AWS — the administrator deletes a declared member, another
/// member leaves the graph — is found by the resync (`resyncInterval: 5s`) and repaired by
/// inviting both again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drift_is_repaired() {
    let Some(env) = Env::new("drift").await else { return };
    let accounts = ["230000000001", "230000000002", "230000000003"];
    let emulator = emulator(accepting_world(accounts)).await;
    let _operator = env
        .operator(OperatorOptions::new("operator", ADMIN, &emulator.endpoint_url()))
        .await;
    let members: Vec<(&str, &str)> = accounts.iter().map(|a| (*a, "ops@example.com")).collect();
    env.apply(&graph_manifest(
        "drift",
        &env.ns,
        &members,
        "region: us-east-1\nresyncInterval: 5s",
    ))
    .await;
    let ready = env
        .wait_graph("drift", Duration::from_secs(60), "Ready", is_ready)
        .await;
    let arn = ready["status"]["graphArn"].as_str().expect("graphArn").to_owned();
    let first_invited = |account: &str| {
        emulator
            .members(&arn)
            .into_iter()
            .find(|m| m.account_id == account)
            .map(|m| m.invited_time)
    };
    let (deleted, left) = (accounts[0], accounts[1]);
    let before = (first_invited(deleted).unwrap(), first_invited(left).unwrap());
    let calls_before = emulator.calls().get("CreateMembers").copied().unwrap_or(0);

    // Behind the operator's back.
    let admin = detective_client(&emulator.endpoint_url(), ADMIN, REGION);
    let answer = admin
        .delete_members()
        .graph_arn(&arn)
        .account_ids(deleted)
        .send()
        .await
        .expect("DeleteMembers as the administrator");
    assert_eq!(answer.account_ids(), [deleted]);
    detective_client(&emulator.endpoint_url(), left, REGION)
        .disassociate_membership()
        .graph_arn(&arn)
        .send()
        .await
        .expect("DisassociateMembership as the member");
    let remaining: Vec<String> = emulator.members(&arn).into_iter().map(|m| m.account_id).collect();
    assert_eq!(remaining, [accounts[2]], "both drifts are in place");

    // Repaired: both invited again (new invitation times) and accepted; status Ready again and
    // showing the new invitations.
    eventually(
        Duration::from_secs(60),
        "both accounts re-invited and ENABLED",
        || async {
            for (account, old) in [(deleted, before.0), (left, before.1)] {
                let member = emulator.members(&arn).into_iter().find(|m| m.account_id == account);
                match member {
                    Some(m) if m.invited_time > old && m.status == MemberStatus::Enabled => {}
                    other => return Err(format!("{account}: {other:?}")),
                }
            }
            Ok(())
        },
    )
    .await;
    env.wait_graph(
        "drift",
        Duration::from_secs(30),
        "Ready with the new invitations",
        |g| {
            is_ready(g)?;
            for (account, old) in [(deleted, before.0), (left, before.1)] {
                let reported = member_status(g, account).ok_or(format!("{account} not in status"))?;
                let invited: jiff::Timestamp = reported["invitedTime"]
                    .as_str()
                    .ok_or("no invitedTime")?
                    .parse()
                    .map_err(|e| format!("{e}"))?;
                // status times have second precision
                if invited.as_second() <= old.as_second() || reported["status"] != "ENABLED" {
                    return Err(format!("{account}: {reported}"));
                }
            }
            Ok(())
        },
    )
    .await;
    let calls_after = emulator.calls().get("CreateMembers").copied().unwrap_or(0);
    assert!(calls_after > calls_before, "the repair invited again");
    assert_eq!(env.graph("drift").await.unwrap()["metadata"]["generation"], 1);
}

/// Reconcile now: a Ready graph with a one-hour resync is reconciled as soon as its
/// `reconcile.fluxcd.io/requestedAt` annotation changes (what `flux reconcile` sets), reads
/// AWS again, and records the value handled in `status.lastHandledReconcileAt`, as Flux's own
/// resources do.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reconcile_requested_by_annotation_runs_at_once_and_is_recorded() {
    let Some(env) = Env::new("now").await else { return };
    let member = "111111111111";
    let emulator = emulator(accepting_world([member])).await;
    let _operator = env
        .operator(OperatorOptions::new("operator", ADMIN, &emulator.endpoint_url()))
        .await;
    let manifest = graph_manifest(
        "now",
        &env.ns,
        &[(member, "root+1@example.com")],
        &format!("region: {REGION}\nresyncInterval: 1h"),
    );
    env.apply(&manifest).await;
    let wait = env
        .kubectl(&["wait", "--for=condition=Ready", "dg/now", "--timeout=60s"])
        .await;
    assert!(wait.success, "{}", wait.stderr);
    emulator.reset_calls();

    for requested in ["2026-12-05T10:00:00Z", "2026-12-05T10:05:00Z"] {
        let annotation = format!("reconcile.fluxcd.io/requestedAt={requested}");
        let annotate = env.kubectl(&["annotate", "--overwrite", "dg/now", &annotation]).await;
        assert!(annotate.success, "{}", annotate.stderr);
        let reads = eventually(Duration::from_secs(30), "the requested reconcile", || async {
            let graph = env.graph("now").await.ok_or("no graph")?;
            let handled = graph["status"]["lastHandledReconcileAt"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            let reads = emulator.calls().get("ListMembers").copied().unwrap_or(0);
            if handled == requested && reads > 0 {
                Ok(reads)
            } else {
                Err(format!("handled {handled:?}, {reads} ListMembers"))
            }
        })
        .await;
        emulator.reset_calls();
        assert!(reads >= 1, "AWS read again inside the one-hour resync");
    }
}
