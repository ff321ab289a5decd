//! `managementPolicy: Observe` on the real API server, for the kinds beside the graph: a
//! `DetectiveMembership` with an open invitation and a `DetectiveOrganizationAdmin` with a Region
//! to delegate are read and reported (`status.pendingChanges`, `InSync` False, Ready as
//! observed, one `PlanChanged` Event) with no AWS write; switched to `Manage` with `kubectl
//! patch`, the next reconcile applies exactly that plan.

use std::time::Duration;

use detective_emulator::{Emulator, OrganizationSeed};
use kube::api::{Api, DynamicObject};
use serde_json::{Value, json};

use crate::fixtures::{create_graph, detective_client, invite};
use crate::harness::{
    ADMIN, Env, Operator, OperatorOptions, REGION, emulator, eventually, has_condition, resource, try_get,
};
use crate::support::{delegations, write_calls};

const MEMBER: &str = "280000000001";
const MANAGEMENT: &str = "280000000000";
const SECURITY: &str = "280000000002";

/// The AWS write calls the emulator answered so far.
fn writes(emulator: &Emulator) -> Vec<(String, u64)> {
    write_calls(emulator).into_iter().collect()
}

/// Starts the operator as `account` and applies the resource `kind`/`name` with `spec` (YAML
/// lines) under `managementPolicy: Observe`.
async fn observe(env: &Env, emulator: &Emulator, account: &str, kind: &str, name: &str, spec: &str) -> Operator {
    let operator = env
        .operator(OperatorOptions::new("operator", account, &emulator.endpoint_url()))
        .await;
    let spec: String = spec.lines().map(|line| format!("  {line}\n")).collect();
    env.apply(&format!(
        "apiVersion: detective.operator.dev/v1alpha1\nkind: {kind}\nmetadata:\n  name: {name}\n  namespace: {ns}\n\
         spec:\n{spec}  managementPolicy: Observe\n",
        ns = env.ns
    ))
    .await;
    operator
}

/// Waits until `name` is observed with exactly `plan` (its `pendingChanges.actions`) pending:
/// Ready `Observed` and `InSync` False for its generation.
async fn observed(api: &Api<DynamicObject>, name: &str, plan: Value) -> Value {
    eventually(Duration::from_secs(60), &format!("{name} observed"), || async {
        let object = try_get(api, name).await?.ok_or("not found")?;
        let status = &object["status"];
        has_condition(&object, "Ready", "True")?;
        has_condition(&object, "InSync", "False")?;
        let ready = crate::harness::condition(&object, "Ready").map(|c| c["reason"].clone());
        if ready != Some(json!("Observed")) || status["pendingChanges"]["actions"] != plan {
            return Err(format!("Ready {ready:?}; status {status}"));
        }
        Ok(object)
    })
    .await
}

/// Waits until `name` is in sync under `Manage` for its generation (no plan published), and
/// passes `check`.
async fn managed(api: &Api<DynamicObject>, name: &str, check: impl Fn(&Value) -> Result<(), String>) -> Value {
    eventually(Duration::from_secs(60), &format!("{name} applied"), || async {
        let object = try_get(api, name).await?.ok_or("not found")?;
        has_condition(&object, "Ready", "True")?;
        has_condition(&object, "InSync", "True")?;
        if !object["status"]["pendingChanges"].is_null() {
            return Err(format!("a plan under Manage: {}", object["status"]));
        }
        check(&object)?;
        Ok(object)
    })
    .await
}

/// The one `PlanChanged` Event about `name` (published right after the status is written: waited
/// for), and its note.
async fn plan_changed(env: &Env, name: &str) -> String {
    eventually(
        Duration::from_secs(30),
        &format!("one PlanChanged event about {name}"),
        || async {
            let events = env.events_about(name).await;
            let told: Vec<&Value> = events.iter().filter(|e| e["reason"] == "PlanChanged").collect();
            match told.as_slice() {
                [one] => Ok(one["note"].as_str().unwrap_or_default().to_owned()),
                _ => Err(format!("{} PlanChanged events: {events:?}", told.len())),
            }
        },
    )
    .await
}

async fn manage(env: &Env, kind: &str, name: &str) {
    let patch = r#"{"spec":{"managementPolicy":"Manage"}}"#;
    env.kubectl(&["patch", kind, name, "--type", "merge", "-p", patch])
        .await
        .ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_observed_membership_reports_its_answer_and_gives_it_once_managed() {
    let Some(env) = Env::new("observe-dm").await else {
        return;
    };
    let emulator = emulator(Default::default()).await;
    let url = emulator.endpoint_url();
    let admin = detective_client(&url, ADMIN, REGION);
    let arn = create_graph(&admin).await;
    invite(&admin, &arn, MEMBER, "member@example.com").await;
    emulator.reset_calls();

    let spec = format!("graphArn: {arn}\nstate: Accepted");
    let _operator = observe(&env, &emulator, MEMBER, "DetectiveMembership", "invited", &spec).await;
    let api = env.memberships();
    let object = observed(
        &api,
        "invited",
        json!([{"action": "accept", "count": 1, "first": [arn]}]),
    )
    .await;
    assert_eq!(object["status"]["invitation"]["status"], "INVITED");
    assert!(plan_changed(&env, "invited").await.contains("accept 1"));
    assert_eq!(writes(&emulator), Vec::new(), "Observe makes no AWS write");
    let member = emulator.members(&arn).into_iter().find(|m| m.account_id == MEMBER);
    assert_eq!(member.map(|m| m.status.as_str()), Some("INVITED"));

    manage(&env, "dm", "invited").await;
    managed(&api, "invited", |o| match &o["status"]["invitation"]["status"] {
        status if status == "ENABLED" => Ok(()),
        status => Err(format!("invitation {status}")),
    })
    .await;
    assert_eq!(writes(&emulator), [("AcceptInvitation".to_owned(), 1)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_observed_organization_admin_reports_the_regions_and_delegates_them_once_managed() {
    let Some(env) = Env::new("observe-doa").await else {
        return;
    };
    let emulator = emulator(Default::default()).await;
    emulator.seed_organization(&OrganizationSeed::new("o-e2eobserve1", MANAGEMENT, 2, 3, SECURITY));

    let spec = format!("accountId: \"{SECURITY}\"\nregions: [us-east-1, eu-west-1]");
    let _operator = observe(
        &env,
        &emulator,
        MANAGEMENT,
        "DetectiveOrganizationAdmin",
        "organization",
        &spec,
    )
    .await;
    let api = Api::namespaced_with(
        env.client.clone(),
        &env.ns,
        &resource("DetectiveOrganizationAdmin", "detectiveorganizationadmins"),
    );
    let plan = json!([{"action": "enable", "count": 2, "first": ["us-east-1", "eu-west-1"]}]);
    observed(&api, "organization", plan).await;
    assert!(plan_changed(&env, "organization").await.contains("enable 2"));
    assert_eq!(writes(&emulator), Vec::new(), "Observe makes no AWS write");
    assert!(delegations(&emulator).is_empty());

    manage(&env, "doa", "organization").await;
    managed(&api, "organization", |o| match &o["status"]["delegatedRegions"] {
        count if count == 2 => Ok(()),
        count => Err(format!("{count} Regions delegated")),
    })
    .await;
    assert_eq!(writes(&emulator), [("EnableOrganizationAdminAccount".to_owned(), 2)]);
    assert_eq!(delegations(&emulator).len(), 2);
}
