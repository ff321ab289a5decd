//! The `/_emulator/` control endpoints over plain HTTP, checked against what the SDK then sees.

mod fixtures;

use aws_sdk_detective::types::MemberStatus;
use fixtures::{
    ADMIN, HttpResponse, REGION, admin_emulator, create_graph, detective_client, http, invite, member_detail,
    start_emulator,
};
use serde_json::json;

const MEMBER: &str = "222222222222";

/// Replaces (`PUT`) or merges (`PATCH`) the world through the control API.
async fn send_world(url: &str, method: &str, body: &str) -> HttpResponse {
    http(url, method, "/_emulator/world", Some(body)).await
}

async fn graph_with_member(client: &aws_sdk_detective::Client, email: &str) -> String {
    let graph = create_graph(client).await;
    invite(client, &graph, MEMBER, email).await;
    graph
}

#[tokio::test]
async fn world_can_be_replaced_and_merged() {
    let emulator = start_emulator().await;
    let url = emulator.endpoint_url();

    let put = send_world(
        &url,
        "PUT",
        r#"{"accounts":[{"accountId":"222222222222","email":"root@example.com"}]}"#,
    )
    .await;
    assert_eq!(put.status, 200, "{}", put.body);
    let patched = send_world(&url, "PATCH", r#"{"accounts":[{"accountId":"333333333333","email":"x@example.com","organization":true}],"verificationDelayMs":5}"#).await;
    assert_eq!(patched.status, 200, "{}", patched.body);
    let world = http(&url, "GET", "/_emulator/world", None).await.json();
    assert_eq!(world["accounts"].as_array().map(Vec::len), Some(2));
    assert_eq!(world["accounts"][1]["organization"], "o-emulator");
    assert_eq!(world["accounts"][1]["guardDutyEnrolled"], true);
    assert_eq!(world["verificationDelayMs"], 5);
    assert_eq!(emulator.world().accounts[0].email, "root@example.com");

    let refused = send_world(&url, "PUT", r#"{"accounts":[{"accountId":"12345"}]}"#).await;
    assert_eq!(refused.status, 400);
    assert!(
        refused.json()["message"]
            .as_str()
            .is_some_and(|m| m.contains("accounts[0].accountId"))
    );
    let refused = send_world(&url, "PUT", r#"{"acounts":[]}"#).await;
    assert_eq!(refused.status, 400, "unknown fields are typos, not ignored");

    // The world in force decides verification.
    let admin = detective_client(&url, ADMIN, REGION);
    let graph = graph_with_member(&admin, "not-root@example.com").await;
    emulator.advance_clock(std::time::Duration::from_millis(5));
    assert_eq!(
        emulator.members(&graph)[0].status,
        detective_emulator::MemberStatus::VerificationFailed
    );
    emulator.shutdown().await;
}

#[tokio::test]
async fn state_shows_graphs_and_members_and_can_be_reset() {
    let (emulator, url, admin) = admin_emulator().await;
    let graph = graph_with_member(&admin, "member@example.com").await;

    let state = http(&url, "GET", "/_emulator/state", None).await.json();
    assert_eq!(state["graphs"][0]["arn"], graph.as_str());
    assert_eq!(state["graphs"][0]["administratorId"], ADMIN);
    let member = &state["graphs"][0]["members"][0];
    assert_eq!(member["accountId"], MEMBER);
    assert_eq!(member["status"], "INVITED");
    assert_eq!(member["invitationType"], "INVITATION");
    assert!(state["now"].as_str().is_some_and(|now| now.ends_with('Z')));

    let reset = http(&url, "DELETE", "/_emulator/state", None).await;
    assert_eq!(reset.status, 200);
    let graphs = admin.list_graphs().send().await.expect("ListGraphs");
    assert!(graphs.graph_list().is_empty());
    emulator.shutdown().await;
}

#[tokio::test]
async fn calls_are_listed_and_reset() {
    let (emulator, url, admin) = admin_emulator().await;
    admin.list_graphs().send().await.expect("ListGraphs");
    admin.list_graphs().send().await.expect("ListGraphs");
    admin.list_invitations().send().await.expect("ListInvitations");

    let calls = http(&url, "GET", "/_emulator/calls", None).await.json();
    assert_eq!(calls, json!({"ListGraphs": 2, "ListInvitations": 1}));
    assert_eq!(http(&url, "DELETE", "/_emulator/calls", None).await.status, 200);
    let calls = http(&url, "GET", "/_emulator/calls", None).await.json();
    assert_eq!(calls, json!({}));
    emulator.shutdown().await;
}

#[tokio::test]
async fn the_clock_moves_pending_verifications_forward() {
    let emulator = start_emulator().await;
    let url = emulator.endpoint_url();
    let put = send_world(&url, "PUT", r#"{"verificationDelayMs":600000}"#).await;
    assert_eq!(put.status, 200);
    let admin = detective_client(&url, ADMIN, REGION);
    let graph = graph_with_member(&admin, "member@example.com").await;
    let status = |state: serde_json::Value| state["graphs"][0]["members"][0]["status"].clone();
    assert_eq!(
        status(http(&url, "GET", "/_emulator/state", None).await.json()),
        "VERIFICATION_IN_PROGRESS"
    );
    let before = http(&url, "GET", "/_emulator/clock", None).await.json();
    let advanced = http(&url, "POST", "/_emulator/clock", Some(r#"{"advanceMs":600000}"#)).await;
    assert_eq!(advanced.status, 200);
    assert!(advanced.json()["now"].as_str() > before["now"].as_str());
    let detail = member_detail(&admin, &graph, MEMBER).await;
    assert_eq!(detail.status(), Some(&MemberStatus::Invited));
    emulator.shutdown().await;
}

#[tokio::test]
async fn health_and_unknown_control_paths() {
    let emulator = start_emulator().await;
    let url = emulator.endpoint_url();
    let health = http(&url, "GET", "/_emulator/health", None).await;
    assert_eq!(health.status, 200);
    assert_eq!(health.json(), json!({"status": "ok"}));
    let unknown = http(&url, "GET", "/_emulator/nope", None).await;
    assert_eq!(unknown.status, 404);
    assert!(emulator.calls().is_empty(), "control calls are not AWS calls");
    emulator.shutdown().await;
}
