//! The reconciler's requests to the Kubernetes API (a mocked API server that records them) while
//! the AWS side is the real SDK against the emulator.

#[path = "../emulator/tests/fixtures/mod.rs"]
mod fixtures;
mod support;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use detective_emulator::{AccountConfig, Emulator, Fault, RoleConfig, WorldConfig};
use detective_operator::api::{
    DetectiveGraph, DetectiveGraphSpec, DetectiveGraphStatus, DetectiveMembership, GraphDeletionPolicy,
};
use detective_operator::aws::AwsAccess;
use detective_operator::controller::backoff::Backoff;
use detective_operator::controller::{self, Context, FINALIZER};
use detective_operator::metrics::Metrics;
use http::{Request, Response};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::Client;
use kube::client::Body;
use kube::runtime::controller::Action;
use kube::runtime::events::{Recorder, Reporter};
use kube::runtime::reflector::{self, Store};
use kube::runtime::watcher;
use serde_json::{Value, json};

use support::metrics::Readings;
use support::{emulator_access, emulator_access_as_role};

const ADMIN: &str = "123456789012";

/// One request the reconciler sent.
#[derive(Clone, Debug)]
struct Recorded {
    method: String,
    path: String,
    query: String,
    content_type: String,
    body: Value,
}

/// A Kubernetes API stand-in: answers every request plausibly and records it.
fn mock_api_server(object: impl serde::Serialize + Send + 'static) -> (Client, Arc<Mutex<Vec<Recorded>>>) {
    mock_api_server_failing_status(object, Vec::new())
}

/// As [`mock_api_server`], but the first status writes are answered with these HTTP codes (and
/// the API server's `Status` body for them), one code per write.
fn mock_api_server_failing_status(
    object: impl serde::Serialize + Send + 'static,
    failures: Vec<u16>,
) -> (Client, Arc<Mutex<Vec<Recorded>>>) {
    let mut failures = failures.into_iter();
    let (service, mut handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
    let recorded = Arc::new(Mutex::new(Vec::new()));
    let log = recorded.clone();
    tokio::spawn(async move {
        while let Some((request, send)) = handle.next_request().await {
            let (parts, body) = request.into_parts();
            let bytes = body.collect_bytes().await.unwrap();
            let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
            log.lock().unwrap().push(Recorded {
                method: parts.method.to_string(),
                path: parts.uri.path().to_owned(),
                query: parts.uri.query().unwrap_or_default().to_owned(),
                content_type: parts
                    .headers
                    .get("content-type")
                    .map(|v| v.to_str().unwrap().to_owned())
                    .unwrap_or_default(),
                body: body.clone(),
            });
            let failure = if parts.uri.path().ends_with("/status") {
                failures.next()
            } else {
                None
            };
            // Events echo back; everything else answers with the object, as a PATCH would.
            let (code, answer) = match failure {
                Some(code) => (code, api_status(code)),
                None if parts.uri.path().contains("/events") => (200, body),
                None => (200, serde_json::to_value(&object).unwrap()),
            };
            send.send_response(
                Response::builder()
                    .status(code)
                    .body(Body::from(serde_json::to_vec(&answer).unwrap()))
                    .unwrap(),
            );
        }
    });
    (Client::new(service, "default"), recorded)
}

/// The body the API server sends with a failure.
fn api_status(code: u16) -> Value {
    let (reason, message) = match code {
        409 => (
            "Conflict",
            "Operation cannot be fulfilled on detectivegraphs.detective.operator.dev \"org\": the object has been modified; please apply your changes to the latest version and try again",
        ),
        _ => (
            "InternalError",
            "Internal error occurred: etcdserver: request timed out",
        ),
    };
    json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
           "message": message, "reason": reason, "code": code})
}

fn spec(ids: &[&str]) -> DetectiveGraphSpec {
    serde_json::from_value(json!({
        "region": "us-east-1",
        "members": ids.iter().map(|id| json!({"accountId": id, "emailAddress": format!("root+{id}@example.com")})).collect::<Vec<_>>(),
    }))
    .unwrap()
}

fn resource(name: &str, spec: DetectiveGraphSpec, finalizer: bool) -> DetectiveGraph {
    let mut graph = DetectiveGraph::new(name, spec);
    graph.metadata.namespace = Some("security".into());
    graph.metadata.generation = Some(1);
    graph.metadata.uid = Some(format!("uid-{name}"));
    graph.metadata.creation_timestamp = Some(Time(Timestamp::from_second(1_700_000_000).unwrap()));
    if finalizer {
        graph.metadata.finalizers = Some(vec![FINALIZER.to_owned()]);
    }
    graph
}

async fn context(client: Client, emulator: &Emulator, store: Store<DetectiveGraph>) -> Arc<Context> {
    context_as(ADMIN, client, emulator, store).await
}

/// A context whose AWS calls are made as `account`.
async fn context_as(account: &str, client: Client, emulator: &Emulator, store: Store<DetectiveGraph>) -> Arc<Context> {
    let access = emulator_access(&emulator.endpoint_url(), account, "us-east-1").await;
    context_with(access, client, store)
}

/// A context whose AWS calls go through `access`, counted into the context's metrics.
fn context_with(access: AwsAccess, client: Client, store: Store<DetectiveGraph>) -> Arc<Context> {
    let metrics = Arc::new(Metrics::new());
    Arc::new(Context {
        client: client.clone(),
        aws: Arc::new(access.with_metrics(metrics.clone())),
        recorder: Recorder::new(
            client,
            Reporter {
                controller: "detective-operator".into(),
                instance: None,
            },
        ),
        graphs: store,
        backoff: Backoff::default(),
        metrics,
        unwritten: Default::default(),
        shared_listings: Default::default(),
    })
}

/// The condition of this type in a written status.
fn condition<'a>(status: &'a Value, type_: &str) -> &'a Value {
    status["conditions"]
        .as_array()
        .and_then(|conditions| conditions.iter().find(|c| c["type"] == type_))
        .unwrap_or_else(|| panic!("no {type_} condition: {status}"))
}

async fn emulator() -> Emulator {
    fixtures::start_emulator().await
}

fn empty_store() -> Store<DetectiveGraph> {
    reflector::store().0
}

const GRAPHS: &str = "/apis/detective.operator.dev/v1alpha1/namespaces/security/detectivegraphs";

#[tokio::test]
async fn the_first_reconcile_only_adds_the_finalizer() {
    let emulator = emulator().await;
    let object = resource("org", spec(&["000000000101"]), false);
    let (client, recorded) = mock_api_server(object.clone());
    let ctx = context(client, &emulator, empty_store()).await;

    let action = controller::reconcile(Arc::new(object), ctx.clone()).await.unwrap();
    assert_eq!(action, Action::await_change());
    let requests = recorded.lock().unwrap().clone();
    assert_eq!(requests.len(), 1, "{requests:#?}");
    assert_eq!(requests[0].method, "PATCH");
    assert_eq!(requests[0].path, format!("{GRAPHS}/org"));
    assert_eq!(requests[0].content_type, "application/json-patch+json");
    assert!(requests[0].body.to_string().contains(FINALIZER), "{}", requests[0].body);
    assert!(
        emulator.calls().is_empty(),
        "no AWS call before the finalizer is in place"
    );
    assert!(
        !ctx.metrics.encode().contains("detective_operator_reconciles_total{"),
        "adding the finalizer is not a reconcile worth counting"
    );
}

#[tokio::test]
async fn a_reconcile_applies_the_plan_then_writes_status_and_aggregated_events() {
    let emulator = emulator().await;
    let object = resource("org", spec(&["000000000101", "000000000102", "000000000103"]), true);
    let (client, recorded) = mock_api_server(object.clone());
    let ctx = context(client, &emulator, empty_store()).await;

    let action = controller::reconcile(Arc::new(object.clone()), ctx.clone())
        .await
        .unwrap();
    assert_ne!(action, Action::await_change(), "a resync is scheduled");
    let requests = recorded.lock().unwrap().clone();
    let status_patch = requests
        .iter()
        .find(|r| r.path == format!("{GRAPHS}/org/status"))
        .expect("status written");
    assert_eq!(status_patch.method, "PATCH");
    assert_eq!(status_patch.content_type, "application/apply-patch+yaml");
    assert!(
        status_patch.query.contains("fieldManager=detective-operator"),
        "{}",
        status_patch.query
    );
    assert!(status_patch.query.contains("force=true"));
    assert_eq!(status_patch.body["kind"], "DetectiveGraph");
    let status = &status_patch.body["status"];
    assert_eq!(status["summary"]["desired"], 3);
    assert_eq!(status["summary"]["invited"], 3);
    assert_eq!(status["observedGeneration"], 1);
    assert_eq!(status["inventory"].as_array().unwrap().len(), 3);

    let events: Vec<&Recorded> = requests.iter().filter(|r| r.path.contains("/events")).collect();
    let reasons: Vec<&str> = events.iter().map(|e| e.body["reason"].as_str().unwrap()).collect();
    assert_eq!(
        reasons,
        vec!["GraphCreated", "MembersInvited"],
        "one event per kind, not per member"
    );
    assert!(
        events[1].body["note"]
            .as_str()
            .unwrap()
            .contains("invited 3 accounts in 1 CreateMembers calls")
    );
    let text = serde_json::to_string(&requests.iter().map(|r| &r.body).collect::<Vec<_>>()).unwrap();
    assert!(!text.contains("@example.com"), "no e-mail leaves in status or events");

    let metrics = &ctx.metrics;
    assert_eq!(metrics.reconciles("DetectiveGraph", "progressing"), 1);
    assert_eq!(metrics.reconciles("DetectiveGraph", "error"), 0);
    assert_eq!(metrics.members("security", "org", "INVITED"), Some(3));
    assert_eq!(
        metrics.condition("DetectiveGraph", "security", "org", "Ready", "False"),
        Some(1)
    );
    assert_eq!(
        metrics.condition("DetectiveGraph", "security", "org", "Ready", "True"),
        Some(0)
    );
    assert_eq!(
        metrics.condition("DetectiveGraph", "security", "org", "Reconciling", "True"),
        Some(1)
    );
    assert!(
        metrics
            .last_successful_sync("DetectiveGraph", "security", "org")
            .is_some()
    );
    assert_eq!(
        metrics.aws_calls("CreateMembers", "ok"),
        1,
        "the AWS adapter counts into the same registry"
    );

    // The next reconcile of the object carrying that status changes nothing: no request at all.
    let mut synced = object;
    synced.status = Some(serde_json::from_value::<DetectiveGraphStatus>(status.clone()).unwrap());
    recorded.lock().unwrap().clear();
    emulator.reset_calls();
    controller::reconcile(Arc::new(synced), ctx).await.unwrap();
    assert!(recorded.lock().unwrap().is_empty(), "{:#?}", recorded.lock().unwrap());
    let calls = emulator.calls();
    assert_eq!(calls.keys().collect::<Vec<_>>(), vec!["ListMembers"], "{calls:?}");
}

#[tokio::test]
async fn deleting_with_policy_delete_removes_the_inventory_keeps_an_adopted_graph_then_the_finalizer() {
    let emulator = emulator().await;
    let admin = fixtures::detective_client(&emulator.endpoint_url(), ADMIN, "us-east-1");
    let graph_arn = fixtures::create_graph(&admin).await;
    for id in ["000000000101", "000000000102", "000000000999"] {
        fixtures::invite(&admin, &graph_arn, id, "root@example.com").await;
    }
    let mut object = resource("org", spec(&["000000000101", "000000000102"]), true);
    object.spec.deletion_policy = GraphDeletionPolicy::Delete;
    object.metadata.deletion_timestamp = Some(Time(Timestamp::now()));
    object.status = Some(DetectiveGraphStatus {
        graph_arn: Some(graph_arn.clone()),
        inventory: vec!["000000000101".into(), "000000000102".into()],
        graph_created: false,
        ..Default::default()
    });
    let (client, recorded) = mock_api_server(object.clone());
    let ctx = context(client, &emulator, empty_store()).await;

    controller::reconcile(Arc::new(object), ctx).await.unwrap();
    assert!(
        emulator.graphs().iter().any(|g| g.arn == graph_arn),
        "an adopted graph (graphCreated false) is not deleted"
    );
    let left: Vec<String> = emulator.members(&graph_arn).into_iter().map(|m| m.account_id).collect();
    assert_eq!(
        left,
        vec!["000000000999"],
        "only the inventory is removed; the graph was adopted, so it stays"
    );
    let requests = recorded.lock().unwrap().clone();
    assert_eq!(requests.len(), 1, "{requests:#?}");
    assert_eq!(requests[0].content_type, "application/json-patch+json");
    assert!(requests[0].body.to_string().contains("remove"), "{}", requests[0].body);
}

#[tokio::test]
async fn a_second_resource_on_the_same_graph_is_stalled_naming_the_first() {
    let emulator = emulator().await;
    let graph_arn = fixtures::detective_client(&emulator.endpoint_url(), ADMIN, "us-east-1")
        .create_graph()
        .send()
        .await
        .unwrap()
        .graph_arn
        .unwrap();
    let mut first = resource("first", spec(&["000000000101"]), true);
    first.status = Some(DetectiveGraphStatus {
        graph_arn: Some(graph_arn.clone()),
        ..Default::default()
    });
    let second = resource("second", spec(&["000000000102"]), true);
    let (reader, mut writer) = reflector::store();
    writer.apply_watcher_event(&watcher::Event::Apply(first));
    writer.apply_watcher_event(&watcher::Event::Apply(second.clone()));
    let (client, recorded) = mock_api_server(second.clone());
    let ctx = context(client, &emulator, reader).await;

    controller::reconcile(Arc::new(second), ctx).await.unwrap();
    let requests = recorded.lock().unwrap().clone();
    let status = &requests
        .iter()
        .find(|r| r.path.ends_with("/second/status"))
        .expect("status written")
        .body["status"];
    let stalled = condition(status, "Stalled");
    assert_eq!(stalled["status"], "True");
    assert_eq!(stalled["reason"], "GraphClaimed");
    assert!(
        stalled["message"].as_str().unwrap().contains("security/first"),
        "{stalled}"
    );
    assert!(status.get("graphArn").is_none(), "the loser does not record the graph");
    assert!(emulator.members(&graph_arn).is_empty(), "nothing invited by the loser");
}

#[tokio::test]
async fn suspended_resources_make_no_call() {
    let emulator = emulator().await;
    let mut object = resource("org", spec(&["000000000101"]), true);
    object.spec.suspend = true;
    let (client, recorded) = mock_api_server(object.clone());
    let ctx = context(client, &emulator, empty_store()).await;
    assert_eq!(
        controller::reconcile(Arc::new(object), ctx).await.unwrap(),
        Action::await_change()
    );
    assert!(recorded.lock().unwrap().is_empty());
    assert!(emulator.calls().is_empty());
}

#[tokio::test]
async fn a_throttled_aws_is_retried_with_backoff_not_stalled() {
    use detective_emulator::Fault;
    let emulator = emulator().await;
    emulator.inject_fault(Fault::throttle().on("ListGraphs").times(50));
    let object = resource("org", spec(&["000000000101"]), true);
    let (client, recorded) = mock_api_server(object.clone());
    let ctx = context(client, &emulator, empty_store()).await;
    let error = controller::reconcile(Arc::new(object.clone()), ctx.clone())
        .await
        .unwrap_err();
    assert!(error.to_string().contains("ListGraphs"), "{error}");
    let first = controller::error_policy(Arc::new(object.clone()), &error, ctx.clone());
    let second = controller::error_policy(Arc::new(object), &error, ctx.clone());
    assert_eq!(first, Action::requeue(std::time::Duration::from_secs(5)));
    assert_eq!(second, Action::requeue(std::time::Duration::from_secs(10)));
    assert_eq!(
        ctx.metrics.reconciles("DetectiveGraph", "error"),
        1,
        "a retryable failure is counted once"
    );
    assert_eq!(
        ctx.metrics
            .encode()
            .matches("detective_operator_reconciles_total{")
            .count(),
        1,
        "and under no other result"
    );
    assert_eq!(
        ctx.metrics.last_successful_sync("DetectiveGraph", "security", "org"),
        None
    );
    assert_eq!(
        ctx.metrics
            .condition("DetectiveGraph", "security", "org", "Reconciling", "True"),
        Some(1)
    );
    let requests = recorded.lock().unwrap().clone();
    let status = &requests.iter().find(|r| r.path.ends_with("/status")).unwrap().body["status"];
    assert_eq!(condition(status, "Stalled")["status"], "False");
    assert_eq!(condition(status, "Reconciling")["status"], "True");
    assert_eq!(condition(status, "Ready")["reason"], "Throttled");
}

#[tokio::test]
async fn a_failed_status_write_is_retried_with_backoff_and_its_status_is_written_next_time() {
    for code in [409, 500] {
        let emulator = emulator().await;
        let mut object = resource("org", spec(&["000000000101"]), true);
        object.spec.deletion_policy = GraphDeletionPolicy::Delete;
        let (client, recorded) = mock_api_server_failing_status(object.clone(), vec![code]);
        let ctx = context(client, &emulator, empty_store()).await;

        let error = controller::reconcile(Arc::new(object.clone()), ctx.clone())
            .await
            .unwrap_err();
        assert!(error.to_string().contains("Kubernetes API"), "{code}: {error}");
        assert_eq!(
            controller::error_policy(Arc::new(object.clone()), &error, ctx.clone()),
            Action::requeue(std::time::Duration::from_secs(5)),
            "{code}: retried with backoff"
        );
        assert_eq!(ctx.metrics.reconciles("DetectiveGraph", "error"), 1, "{code}");
        assert_eq!(ctx.metrics.reconciles("DetectiveGraph", "progressing"), 0, "{code}");
        assert_eq!(
            ctx.metrics.last_successful_sync("DetectiveGraph", "security", "org"),
            None,
            "{code}"
        );
        let graph_arn = emulator.graphs()[0].arn.clone();
        assert_eq!(emulator.members(&graph_arn).len(), 1, "{code}: the AWS writes happened");
        let reasons = |requests: &[Recorded]| -> Vec<String> {
            requests
                .iter()
                .filter(|r| r.path.contains("/events"))
                .map(|r| r.body["reason"].as_str().unwrap().to_owned())
                .collect()
        };
        assert_eq!(
            reasons(&recorded.lock().unwrap()),
            ["GraphCreated", "MembersInvited"],
            "{code}: the writes that landed are told although the status write failed"
        );

        // The object is unchanged (the write failed): the next reconcile starts from the status
        // the first one computed, and writes it.
        recorded.lock().unwrap().clear();
        emulator.reset_calls();
        controller::reconcile(Arc::new(object.clone()), ctx.clone())
            .await
            .unwrap();
        let requests = recorded.lock().unwrap().clone();
        let status = &requests
            .iter()
            .find(|r| r.path == format!("{GRAPHS}/org/status"))
            .unwrap_or_else(|| panic!("{code}: status written: {requests:#?}"))
            .body["status"];
        assert_eq!(status["graphArn"], graph_arn.as_str(), "{code}");
        assert_eq!(
            status["graphCreated"], true,
            "{code}: the operator created the graph, so deletionPolicy Delete deletes it"
        );
        assert_eq!(status["inventory"], json!(["000000000101"]), "{code}");
        assert!(
            reasons(&requests).is_empty(),
            "{code}: nothing told twice: {requests:#?}"
        );
        let calls = emulator.calls();
        assert_eq!(
            calls.keys().collect::<Vec<_>>(),
            vec!["ListMembers"],
            "{code}: no ListGraphs, no second invitation: {calls:?}"
        );
        assert_eq!(ctx.metrics.reconciles("DetectiveGraph", "progressing"), 1, "{code}");
    }
}

const MEMBER: &str = "111111111111";
const MEMBERSHIPS: &str = "/apis/detective.operator.dev/v1alpha1/namespaces/security/detectivememberships";

/// A graph of `ADMIN` that has invited `MEMBER`; its ARN.
async fn invited_member(emulator: &Emulator) -> String {
    let admin = fixtures::detective_client(&emulator.endpoint_url(), ADMIN, "us-east-1");
    let graph_arn = fixtures::create_graph(&admin).await;
    fixtures::invite(&admin, &graph_arn, MEMBER, "member@example.com").await;
    graph_arn
}

fn membership(graph_arn: &str, extra: Value) -> DetectiveMembership {
    let mut spec = json!({"graphArn": graph_arn, "state": "Accepted", "deletionPolicy": "Disassociate"});
    spec.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    let mut object = DetectiveMembership::new("joined", serde_json::from_value(spec).unwrap());
    object.metadata.namespace = Some("security".into());
    object.metadata.generation = Some(1);
    object.metadata.uid = Some("uid-joined".into());
    object.metadata.finalizers = Some(vec![FINALIZER.to_owned()]);
    object
}

fn member_status(emulator: &Emulator, graph_arn: &str) -> Option<String> {
    emulator
        .members(graph_arn)
        .into_iter()
        .find(|m| m.account_id == MEMBER)
        .map(|m| m.status.to_string())
}

#[tokio::test]
async fn a_suspended_membership_makes_no_call_until_resumed() {
    let emulator = emulator().await;
    let graph_arn = invited_member(&emulator).await;
    emulator.reset_calls();
    let suspended = membership(&graph_arn, json!({"suspend": true}));
    let (client, recorded) = mock_api_server(suspended.clone());
    let ctx = context_as(MEMBER, client, &emulator, empty_store()).await;

    for _ in 0..2 {
        assert_eq!(
            controller::reconcile(Arc::new(suspended.clone()), ctx.clone())
                .await
                .unwrap(),
            Action::await_change()
        );
    }
    assert!(emulator.calls().is_empty(), "{:?}", emulator.calls());
    assert!(recorded.lock().unwrap().is_empty(), "{:#?}", recorded.lock().unwrap());
    assert_eq!(ctx.metrics.reconciles("DetectiveMembership", "suspended"), 2);
    assert_eq!(member_status(&emulator, &graph_arn).as_deref(), Some("INVITED"));

    let resumed = membership(&graph_arn, json!({"suspend": false}));
    controller::reconcile(Arc::new(resumed), ctx.clone()).await.unwrap();
    let calls = emulator.calls();
    assert_eq!(calls.get("AcceptInvitation"), Some(&1), "{calls:?}");
    assert_eq!(member_status(&emulator, &graph_arn).as_deref(), Some("ENABLED"));
    let requests = recorded.lock().unwrap().clone();
    let status = &requests
        .iter()
        .find(|r| r.path == format!("{MEMBERSHIPS}/joined/status"))
        .expect("status written once resumed")
        .body["status"];
    assert_eq!(status["invitation"]["status"], "ENABLED", "{status}");
}

#[tokio::test]
async fn an_orphaned_membership_goes_without_a_call_and_a_plain_one_disassociates() {
    let emulator = emulator().await;
    let graph_arn = invited_member(&emulator).await;
    fixtures::detective_client(&emulator.endpoint_url(), MEMBER, "us-east-1")
        .accept_invitation()
        .graph_arn(&graph_arn)
        .send()
        .await
        .unwrap();
    let mut deleting = membership(&graph_arn, json!({}));
    deleting.metadata.deletion_timestamp = Some(Time(Timestamp::now()));
    let mut orphaned = deleting.clone();
    orphaned
        .metadata
        .annotations
        .get_or_insert_default()
        .insert(controller::ORPHAN_ANNOTATION.to_owned(), "true".to_owned());

    emulator.reset_calls();
    let (client, recorded) = mock_api_server(orphaned.clone());
    let ctx = context_as(MEMBER, client, &emulator, empty_store()).await;
    controller::reconcile(Arc::new(orphaned), ctx.clone()).await.unwrap();
    assert!(
        emulator.calls().is_empty(),
        "the orphan annotation releases without touching AWS: {:?}",
        emulator.calls()
    );
    assert_eq!(member_status(&emulator, &graph_arn).as_deref(), Some("ENABLED"));
    let requests = recorded.lock().unwrap().clone();
    assert_eq!(requests.len(), 1, "{requests:#?}");
    assert_eq!(requests[0].path, format!("{MEMBERSHIPS}/joined"));
    assert!(
        requests[0].body.to_string().contains("remove"),
        "the finalizer goes: {}",
        requests[0].body
    );
    assert_eq!(ctx.metrics.reconciles("DetectiveMembership", "deleted"), 1);

    // Without the annotation the same deletion leaves the graph.
    let (client, _) = mock_api_server(deleting.clone());
    let ctx = context_as(MEMBER, client, &emulator, empty_store()).await;
    controller::reconcile(Arc::new(deleting), ctx).await.unwrap();
    assert_eq!(
        emulator.calls().get("DisassociateMembership"),
        Some(&1),
        "{:?}",
        emulator.calls()
    );
    assert_eq!(member_status(&emulator, &graph_arn), None);
}

#[tokio::test]
async fn an_organization_member_stays_cannot_leave_until_orphaned() {
    let (emulator, graph_arn) = fixtures::organization_graph("900000000001", ADMIN, &[MEMBER]).await;
    let mut deleting = membership(&graph_arn, json!({}));
    deleting.metadata.deletion_timestamp = Some(Time(Timestamp::now()));
    let (client, recorded) = mock_api_server(deleting.clone());
    let ctx = context_as(MEMBER, client, &emulator, empty_store()).await;

    let error = controller::reconcile(Arc::new(deleting.clone()), ctx.clone())
        .await
        .unwrap_err();
    assert!(error.to_string().contains("organization member"), "{error}");
    let requests = recorded.lock().unwrap().clone();
    assert!(
        !requests.iter().any(|r| r.body.to_string().contains("\"remove\"")),
        "the finalizer stays: {requests:#?}"
    );
    let status = &requests
        .iter()
        .find(|r| r.path == format!("{MEMBERSHIPS}/joined/status"))
        .expect("the refusal is told in status")
        .body["status"];
    let stalled = condition(status, "Stalled");
    assert_eq!(stalled["status"], "True", "{status}");
    assert_eq!(stalled["reason"], "CannotLeave", "{status}");
    assert!(
        stalled["message"]
            .as_str()
            .unwrap()
            .contains(controller::ORPHAN_ANNOTATION),
        "{stalled}"
    );
    assert_eq!(member_status(&emulator, &graph_arn).as_deref(), Some("ENABLED"));

    // The orphan annotation lets it go, without a call.
    deleting
        .metadata
        .annotations
        .get_or_insert_default()
        .insert(controller::ORPHAN_ANNOTATION.to_owned(), "true".to_owned());
    emulator.reset_calls();
    recorded.lock().unwrap().clear();
    controller::reconcile(Arc::new(deleting), ctx).await.unwrap();
    assert!(emulator.calls().is_empty(), "{:?}", emulator.calls());
    assert!(recorded.lock().unwrap()[0].body.to_string().contains("remove"));
    assert_eq!(member_status(&emulator, &graph_arn).as_deref(), Some("ENABLED"));
}

/// The metrics of one reconcile of `object` by a fresh context on `emulator` (a mocked API
/// server answering with `object`, a store holding `store`).
async fn metrics_of_one_reconcile(
    emulator: &Emulator,
    object: DetectiveGraph,
    store: Store<DetectiveGraph>,
) -> Arc<Metrics> {
    let (client, _) = mock_api_server(object.clone());
    let ctx = context(client, emulator, store).await;
    let _ = controller::reconcile(Arc::new(object), ctx.clone()).await;
    ctx.metrics.clone()
}

/// The administrator's only role may read but not write (the example read-only policy), under
/// the emulator's IAM enforcement; the access of an operator running as that role.
async fn read_only_access(emulator: &Emulator) -> AwsAccess {
    let policy = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/iam/plan-readonly-policy.json");
    let mut administrator = AccountConfig::new(ADMIN, "");
    administrator.roles = Some(vec![RoleConfig {
        name: "detective-operator".into(),
        policy_files: vec![policy],
        ..RoleConfig::default()
    }]);
    emulator.set_world(WorldConfig {
        accounts: vec![administrator],
        enforce_iam: true,
        ..WorldConfig::default()
    });
    emulator_access_as_role(&emulator.endpoint_url(), ADMIN, "detective-operator", "us-east-1").await
}

#[tokio::test]
async fn aws_calls_are_counted_by_the_kind_of_their_failure_once_per_call() {
    // Retried by the SDK, then given up: counted once, not once per attempt.
    for (fault, outcome) in [
        (Fault::throttle().on("ListGraphs"), "throttled"),
        (Fault::internal_error().on("ListGraphs"), "unavailable"),
    ] {
        let emulator = fixtures::start_emulator().await;
        emulator.inject_fault(fault);
        let metrics = metrics_of_one_reconcile(&emulator, resource("org", spec(&[]), true), empty_store()).await;
        let attempts = emulator.calls()["ListGraphs"];
        assert!(attempts > 1, "{outcome}: the SDK retried ({attempts} attempts)");
        assert_eq!(
            metrics.aws_calls("ListGraphs", outcome),
            1,
            "{outcome}: {}",
            metrics.encode()
        );
        assert_eq!(metrics.aws_calls("ListGraphs", "ok"), 0, "{outcome}");
    }

    // A graph that does not exist (any more): the service's ResourceNotFoundException.
    let emulator = fixtures::start_emulator().await;
    let mut gone = spec(&["000000000101"]);
    gone.graph_arn = Some(format!("arn:aws:detective:us-east-1:{ADMIN}:graph:{}", "0".repeat(32)));
    let metrics = metrics_of_one_reconcile(&emulator, resource("org", gone, true), empty_store()).await;
    assert_eq!(emulator.calls(), BTreeMap::from([("ListMembers".to_owned(), 1)]));
    assert_eq!(metrics.aws_calls("ListMembers", "not_found"), 1, "{}", metrics.encode());

    // A role whose policy does not allow the write: IAM's AccessDenied.
    let emulator = fixtures::start_emulator().await;
    let access = read_only_access(&emulator).await;
    let object = resource("org", spec(&["000000000101"]), true);
    let (client, _) = mock_api_server(object.clone());
    let ctx = context_with(access, client, empty_store());
    controller::reconcile(Arc::new(object), ctx.clone()).await.unwrap();
    assert_eq!(emulator.refused_calls().get("CreateGraph"), Some(&1));
    assert_eq!(
        ctx.metrics.aws_calls("CreateGraph", "access_denied"),
        1,
        "{}",
        ctx.metrics.encode()
    );
    assert_eq!(ctx.metrics.aws_calls("ListGraphs", "ok"), 1, "the read was allowed");
}

/// Counted once under `result` and under no other, its wall time observed once under the same
/// labels.
fn assert_counted_once(metrics: &Metrics, result: &str) {
    let kind = "DetectiveGraph";
    assert_eq!(
        metrics.reconcile_results(kind),
        BTreeMap::from([(result.to_owned(), 1)]),
        "{result}: {}",
        metrics.encode()
    );
    let durations = metrics
        .reconcile_durations(kind, result)
        .unwrap_or_else(|| panic!("{result}: no wall time observed: {}", metrics.encode()));
    assert_eq!(durations.count, 1, "{result}: {durations:?}");
    assert_eq!(durations.at_most(f64::INFINITY), 1, "{result}: {durations:?}");
}

#[tokio::test]
async fn each_reconcile_result_is_counted_once_with_its_wall_time() {
    // Ready: a graph without members, created at once; every ListGraphs answered 300 ms late.
    let emulator = fixtures::start_emulator().await;
    emulator.inject_fault(Fault::latency(Duration::from_millis(300)).on("ListGraphs"));
    let metrics = metrics_of_one_reconcile(&emulator, resource("org", spec(&[]), true), empty_store()).await;
    assert_counted_once(&metrics, "ready");
    let durations = metrics.reconcile_durations("DetectiveGraph", "ready").unwrap();
    assert!(
        durations.sum >= 0.3,
        "the wall time includes the late answer: {durations:?}"
    );
    assert_eq!(durations.at_most(0.25), 0, "{durations:?}");
    assert_eq!(durations.at_most(f64::INFINITY), 1, "{durations:?}");

    // Progressing: members invited, not accepted yet.
    let emulator = fixtures::start_emulator().await;
    let metrics =
        metrics_of_one_reconcile(&emulator, resource("org", spec(&["000000000101"]), true), empty_store()).await;
    assert_counted_once(&metrics, "progressing");

    // Stalled: the graph belongs to another resource.
    let emulator = fixtures::start_emulator().await;
    let graph_arn = fixtures::create_graph(&fixtures::detective_client(
        &emulator.endpoint_url(),
        ADMIN,
        "us-east-1",
    ))
    .await;
    let mut first = resource("first", spec(&[]), true);
    first.status = Some(DetectiveGraphStatus {
        graph_arn: Some(graph_arn),
        ..Default::default()
    });
    let second = resource("second", spec(&["000000000102"]), true);
    let (store, mut writer) = reflector::store();
    writer.apply_watcher_event(&watcher::Event::Apply(first));
    writer.apply_watcher_event(&watcher::Event::Apply(second.clone()));
    let metrics = metrics_of_one_reconcile(&emulator, second, store).await;
    assert_counted_once(&metrics, "stalled");

    // Error: AWS unavailable, retried with backoff.
    let emulator = fixtures::start_emulator().await;
    emulator.inject_fault(Fault::internal_error().on("ListGraphs"));
    let metrics = metrics_of_one_reconcile(&emulator, resource("org", spec(&[]), true), empty_store()).await;
    assert_counted_once(&metrics, "error");

    // Suspended: no call.
    let emulator = fixtures::start_emulator().await;
    let mut suspended = resource("org", spec(&["000000000101"]), true);
    suspended.spec.suspend = true;
    let metrics = metrics_of_one_reconcile(&emulator, suspended, empty_store()).await;
    assert_counted_once(&metrics, "suspended");

    // Deleted: the finalizer released.
    let emulator = fixtures::start_emulator().await;
    let mut deleting = resource("org", spec(&["000000000101"]), true);
    deleting.metadata.deletion_timestamp = Some(Time(Timestamp::now()));
    let metrics = metrics_of_one_reconcile(&emulator, deleting, empty_store()).await;
    assert_counted_once(&metrics, "deleted");
}

#[tokio::test]
async fn a_deleted_graph_takes_its_series_along_through_the_reconciler() {
    let emulator = fixtures::start_emulator().await;
    let (client, recorded) = mock_api_server(resource("org", spec(&[]), true));
    let ctx = context(client, &emulator, empty_store()).await;

    // Two graphs reconciled (in two Regions); `org` then refuses to remove a member past its
    // deletion guard.
    let mut other = resource("other", spec(&["000000000201"]), true);
    other.spec.region = Some("eu-west-1".into());
    controller::reconcile(Arc::new(other), ctx.clone()).await.unwrap();
    let object = resource("org", spec(&["000000000101", "000000000102"]), true);
    controller::reconcile(Arc::new(object.clone()), ctx.clone())
        .await
        .unwrap();
    let status = recorded
        .lock()
        .unwrap()
        .iter()
        .rfind(|r| r.path == format!("{GRAPHS}/org/status"))
        .expect("the status of org written")
        .body["status"]
        .clone();
    let mut guarded = object;
    guarded.spec = spec(&["000000000101"]);
    guarded.spec.deletion_guard.max_deletions = 0;
    guarded.status = Some(serde_json::from_value(status).unwrap());
    controller::reconcile(Arc::new(guarded.clone()), ctx.clone())
        .await
        .unwrap();
    let before = ctx.metrics.resource_samples("security", "org");
    for metric in [
        "detective_operator_resource_condition",
        "detective_operator_graph_members",
        "detective_operator_last_successful_sync_timestamp_seconds",
        "detective_operator_deletion_guard_trips_total",
    ] {
        assert!(
            before.iter().any(|sample| sample.starts_with(metric)),
            "{metric} of org recorded: {before:#?}"
        );
    }
    let others = ctx.metrics.resource_samples("security", "other");

    // A deletion whose teardown fails keeps them: the finalizer stays.
    let mut deleting = guarded;
    deleting.spec.deletion_policy = GraphDeletionPolicy::Delete;
    deleting.metadata.deletion_timestamp = Some(Time(Timestamp::now()));
    emulator.inject_fault(Fault::internal_error().on("DeleteMembers"));
    controller::reconcile(Arc::new(deleting.clone()), ctx.clone())
        .await
        .unwrap_err();
    assert_eq!(ctx.metrics.resource_samples("security", "org"), before);

    // Once the deletion policy is applied, every series of org goes; other's stay.
    emulator.clear_faults();
    controller::reconcile(Arc::new(deleting), ctx.clone()).await.unwrap();
    assert_eq!(ctx.metrics.reconciles("DetectiveGraph", "deleted"), 1);
    assert_eq!(
        ctx.metrics.resource_samples("security", "org"),
        Vec::<String>::new(),
        "{}",
        ctx.metrics.encode()
    );
    assert_eq!(ctx.metrics.resource_samples("security", "other"), others);
}
