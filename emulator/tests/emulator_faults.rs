//! Fault injection seen through the real SDK: retried throttling, server errors beyond the retry
//! budget, latency, seeded rates, and the control endpoint that sets them.

mod fixtures;

use std::time::{Duration, Instant};

use aws_sdk_detective::config::retry::RetryConfig;
use aws_sdk_detective::error::ProvideErrorMetadata;
use detective_emulator::Fault;
use fixtures::{
    ADMIN, REGION, account, admin_emulator, admin_graph, assert_refused, create_graph, detective_client_with_retry,
    http, listed_members, start_emulator,
};

#[tokio::test]
async fn throttling_is_retried_by_the_sdk_and_every_attempt_is_counted() {
    let (emulator, _, admin) = admin_emulator().await;
    emulator.inject_fault(Fault::throttle().on("ListGraphs").times(2));

    admin.list_graphs().send().await.expect("third attempt succeeds");
    assert_eq!(emulator.calls().get("ListGraphs"), Some(&3));
    assert!(emulator.faults().is_empty(), "the fault is spent");
    emulator.shutdown().await;
}

#[tokio::test]
async fn server_errors_beyond_the_retry_budget_surface_then_calls_recover() {
    let (emulator, admin, graph) = admin_graph().await;
    // The SDK's standard mode makes 3 attempts: 3 failures exhaust it.
    emulator.inject_fault(Fault::internal_error().on("ListMembers").times(3));

    assert_refused(
        admin.list_members().graph_arn(&graph).send(),
        "InternalServerException",
        "every attempt fails",
    )
    .await;
    assert_eq!(emulator.calls().get("ListMembers"), Some(&3));

    // The fault is spent: the next call succeeds.
    listed_members(&admin, &graph).await;
    assert_eq!(emulator.calls().get("ListMembers"), Some(&4));
    emulator.shutdown().await;
}

#[tokio::test]
async fn a_faulted_write_changes_nothing() {
    let (emulator, admin, graph) = admin_graph().await;
    emulator.inject_fault(Fault::internal_error().on("CreateMembers"));
    assert_refused(
        admin
            .create_members()
            .graph_arn(&graph)
            .accounts(account("222222222222", "member@example.com"))
            .send(),
        "InternalServerException",
        "always failing",
    )
    .await;
    assert!(emulator.members(&graph).is_empty());
    emulator.clear_faults();
    assert!(emulator.faults().is_empty());
    emulator.shutdown().await;
}

#[tokio::test]
async fn latency_injection_is_observable() {
    let (emulator, _, admin) = admin_emulator().await;
    // A delayed call takes at least the delay (a lower bound: a busy machine only adds to it).
    let delay = Duration::from_millis(300);
    emulator.inject_fault(Fault::latency(delay).on("ListGraphs"));
    let started = Instant::now();
    admin.list_graphs().send().await.expect("ListGraphs");
    assert!(started.elapsed() >= delay, "{:?}", started.elapsed());
    emulator.clear_faults();

    // Scoped and cleared: while one ListGraphs is held for two minutes, another operation and,
    // once the fault is cleared, another ListGraphs are answered first. No upper bound on time:
    // the held call is the yardstick (were they delayed too, it would answer before them).
    emulator.reset_calls();
    emulator.inject_fault(Fault::latency(Duration::from_secs(120)).on("ListGraphs"));
    let mut held = tokio::spawn({
        let admin = admin.clone();
        async move { admin.list_graphs().send().await.map(drop) }
    });
    while !emulator.calls().contains_key("ListGraphs") {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    tokio::select! {
        biased;
        _ = &mut held => panic!("the held ListGraphs answered before CreateGraph: CreateGraph was delayed"),
        _ = create_graph(&admin) => {}
    }
    emulator.clear_faults();
    tokio::select! {
        biased;
        _ = &mut held => panic!("the held ListGraphs answered first: the cleared fault still delays"),
        listed = admin.list_graphs().send() => { listed.expect("ListGraphs"); }
    }
    held.abort();
    emulator.shutdown().await;
}

#[tokio::test]
async fn rate_faults_replay_identically_for_a_seed() {
    let emulator = start_emulator().await;
    let client = detective_client_with_retry(&emulator.endpoint_url(), ADMIN, REGION, RetryConfig::disabled());
    let mut runs = Vec::new();
    for _ in 0..2 {
        emulator.clear_faults();
        emulator.inject_fault(Fault::internal_error().on("ListGraphs").with_rate(0.5, 42));
        let mut outcomes = Vec::new();
        for _ in 0..40 {
            outcomes.push(client.list_graphs().send().await.is_ok());
        }
        runs.push(outcomes);
    }
    assert_eq!(runs[0], runs[1], "same seed, same failures");
    let failures = runs[0].iter().filter(|ok| !**ok).count();
    assert!((8..=32).contains(&failures), "{failures} of 40 failed");
    emulator.shutdown().await;
}

#[tokio::test]
async fn throttling_answers_with_the_wire_shape_the_sdk_retries() {
    let emulator = start_emulator().await;
    let url = emulator.endpoint_url();
    emulator.inject_fault(Fault::throttle().times(1));
    let throttled = http(&url, "POST", "/graphs/list", Some("{}")).await;
    assert_eq!(throttled.status, 429);
    assert_eq!(throttled.header("x-amzn-ErrorType"), Some("TooManyRequestsException"));
    assert!(throttled.header("x-amzn-RequestId").is_some());
    assert!(throttled.json()["Message"].is_string());
    let next = http(&url, "POST", "/graphs/list", Some("{}")).await;
    assert_eq!(next.status, 200);
    emulator.shutdown().await;
}

#[tokio::test]
async fn faults_can_be_set_and_cleared_over_http() {
    let emulator = start_emulator().await;
    let url = emulator.endpoint_url();
    let client = detective_client_with_retry(&url, ADMIN, REGION, RetryConfig::disabled());

    let added = http(
        &url,
        "POST",
        "/_emulator/faults",
        Some(r#"[{"operation":"ListGraphs","kind":"internalError","count":1},{"kind":"latency","latencyMs":1}]"#),
    )
    .await;
    assert_eq!(added.status, 200, "{}", added.body);
    assert_eq!(added.json().as_array().map(Vec::len), Some(2));
    assert_refused(client.list_graphs().send(), "InternalServerException", "injected").await;
    client.list_graphs().send().await.expect("count was 1");
    let listed = http(&url, "GET", "/_emulator/faults", None).await.json();
    assert_eq!(listed, serde_json::json!([{"kind": "latency", "latencyMs": 1}]));

    let refused = http(
        &url,
        "POST",
        "/_emulator/faults",
        Some(r#"{"operation":"ListGraph","kind":"throttle"}"#),
    )
    .await;
    assert_eq!(refused.status, 400);
    assert!(refused.body.contains("ListGraph"), "{}", refused.body);

    let cleared = http(&url, "DELETE", "/_emulator/faults", None).await;
    assert_eq!(cleared.status, 200);
    assert!(emulator.faults().is_empty());
    emulator.shutdown().await;
}

#[tokio::test]
#[should_panic(expected = "invalid emulator fault")]
async fn a_misspelled_operation_fails_the_test_loudly() {
    let emulator = start_emulator().await;
    emulator.inject_fault(Fault::throttle().on("ListMember"));
}

#[tokio::test]
async fn a_rate_limit_throttles_each_account_and_region_beyond_its_pace() {
    let emulator = start_emulator().await;
    let url = emulator.endpoint_url();
    let admin = detective_client_with_retry(&url, ADMIN, REGION, RetryConfig::disabled());
    let elsewhere = detective_client_with_retry(&url, ADMIN, "eu-west-1", RetryConfig::disabled());
    let other = detective_client_with_retry(&url, "222222222222", REGION, RetryConfig::disabled());
    emulator.inject_fault(Fault::rate_limit(5));

    // Twenty calls at once: the burst of five passes, and one more for every 200 ms the calls
    // took (a token comes back at that pace); the rest answer 429.
    let started = Instant::now();
    let answers = futures::future::join_all((0..20).map(|_| admin.list_graphs().send())).await;
    let refilled = (started.elapsed().as_secs_f64() * 5.0).ceil() as usize;
    let refused: Vec<Option<String>> = answers
        .into_iter()
        .filter_map(|answer| answer.err().map(|err| err.code().map(str::to_owned)))
        .collect();
    let passed = 20 - refused.len();
    assert!(
        (5..=5 + refilled).contains(&passed),
        "{passed} passed, {refilled} tokens refilled"
    );
    assert!(
        refused
            .iter()
            .all(|code| code.as_deref() == Some("TooManyRequestsException")),
        "{refused:?}"
    );
    assert_eq!(
        emulator.faulted_calls().get("ListGraphs").copied(),
        Some(refused.len() as u64)
    );
    let faulted = http(&url, "GET", "/_emulator/calls/faulted", None).await.json();
    assert_eq!(faulted["ListGraphs"], refused.len());
    elsewhere
        .list_graphs()
        .send()
        .await
        .expect("another Region has its own bucket");
    other
        .list_graphs()
        .send()
        .await
        .expect("another account has its own bucket");
    assert_eq!(
        emulator.faults(),
        vec![Fault::rate_limit(5)],
        "the limit stays in force"
    );
    emulator.shutdown().await;
}

#[tokio::test]
async fn the_sdk_adaptive_mode_absorbs_a_rate_limit() {
    let emulator = start_emulator().await;
    let url = emulator.endpoint_url();
    let admin = detective_client_with_retry(
        &url,
        ADMIN,
        REGION,
        RetryConfig::adaptive()
            .with_max_attempts(5)
            .with_initial_backoff(Duration::from_millis(50)),
    );
    let added = http(
        &url,
        "POST",
        "/_emulator/faults",
        Some(r#"{"kind":"throttle","requestsPerSecond":20}"#),
    )
    .await;
    assert_eq!(added.status, 200, "{}", added.body);

    for call in 0..60 {
        admin
            .list_graphs()
            .send()
            .await
            .unwrap_or_else(|err| panic!("call {call} surfaced {:?}", err.code()));
    }
    let attempts = emulator.calls()["ListGraphs"];
    let throttled = emulator.faulted_calls().get("ListGraphs").copied().unwrap_or(0);
    assert_eq!(attempts, 60 + throttled, "every throttled attempt was retried");
    emulator.shutdown().await;
}

/// The per-account CreateMembers count a chaos test relies on: every processed call that names
/// an account counts (unprocessed included), a removal does not reset it, and a call refused by
/// an injected fault never reaches the graph.
#[tokio::test]
async fn create_members_requests_are_counted_per_account() {
    const FIRST: &str = "111100000001";
    const SECOND: &str = "111100000002";
    let (emulator, url, admin) = admin_emulator().await;
    let graph = create_graph(&admin).await;
    let requests = || emulator.graphs()[0].create_members_requests.clone();
    assert!(requests().is_empty());

    fixtures::create_members(&admin, &graph, &[(FIRST, "a@example.com"), (SECOND, "b@example.com")]).await;
    let again = fixtures::create_members(&admin, &graph, &[(FIRST, "a@example.com")]).await;
    assert_eq!(again.unprocessed_accounts().len(), 1, "already a member");
    admin
        .delete_members()
        .graph_arn(&graph)
        .account_ids(FIRST)
        .send()
        .await
        .expect("DeleteMembers");
    fixtures::create_members(&admin, &graph, &[(FIRST, "a@example.com")]).await;
    let faulted = detective_client_with_retry(&url, ADMIN, REGION, RetryConfig::disabled());
    emulator.inject_fault(Fault::internal_error().on("CreateMembers").times(1));
    faulted
        .create_members()
        .graph_arn(&graph)
        .accounts(account(SECOND, "b@example.com"))
        .send()
        .await
        .expect_err("the injected 500");

    let expected = [(FIRST.to_owned(), 3), (SECOND.to_owned(), 1)].into();
    assert_eq!(requests(), expected);
    let state = http(&url, "GET", "/_emulator/state", None).await.json();
    assert_eq!(state["graphs"][0]["createMembersRequests"][FIRST], 3);
    emulator.shutdown().await;
}
