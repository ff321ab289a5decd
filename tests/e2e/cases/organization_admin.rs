//! The management-account side on the real API server, under the chart's RBAC: a
//! `DetectiveOrganizationAdmin` delegates an account in two Regions and is Ready; another account
//! administering a Region stalls the resource naming it, and is left alone; deletion with
//! `Retain` leaves AWS untouched, with `Disable` disables only the declared account's own
//! delegations; admission refuses bad or repeated Regions and bad account ids, naming the field.

use std::collections::BTreeMap;
use std::time::Duration;

use detective_emulator::OrganizationSeed;
use detective_operator::cli::manifest::organization_admin_from_document;
use kube::api::{Api, DynamicObject};
use serde_json::Value;

use crate::fixtures::delegate;
use crate::harness::{Env, OperatorOptions, eventually, has_condition, resource, try_get};
use crate::support::delegations;

const MANAGEMENT: &str = "270000000000";
const SECURITY: &str = "270000000001";
const OTHER: &str = "270000000002";
const DISABLE: &str = "DisableOrganizationAdminAccount";

fn admin(name: &str, ns: &str, spec: &str) -> String {
    let spec: String = spec.lines().map(|l| format!("  {l}\n")).collect();
    format!(
        "apiVersion: detective.operator.dev/v1alpha1\nkind: DetectiveOrganizationAdmin\nmetadata:\n  name: {name}\n  \
         namespace: {ns}\nspec:\n{spec}"
    )
}

fn admins(env: &Env) -> Api<DynamicObject> {
    Api::namespaced_with(
        env.client.clone(),
        &env.ns,
        &resource("DetectiveOrganizationAdmin", "detectiveorganizationadmins"),
    )
}

fn delegated(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(r, a)| ((*r).to_owned(), (*a).to_owned())).collect()
}

/// Waits until the resource `name` passes `check`.
async fn wait_admin(env: &Env, name: &str, what: &str, check: impl Fn(&Value) -> Result<(), String>) -> Value {
    let api = admins(env);
    eventually(Duration::from_secs(60), &format!("{name}: {what}"), || async {
        let object = try_get(&api, name).await?.ok_or("not found")?;
        check(&object).map_err(|e| format!("{e}; status: {}", object["status"]))?;
        Ok(object)
    })
    .await
}

fn region_states(object: &Value) -> Vec<(String, String)> {
    object["status"]["regions"]
        .as_array()
        .map(|regions| {
            regions
                .iter()
                .map(|r| {
                    (
                        r["region"].as_str().unwrap_or_default().to_owned(),
                        r["state"].as_str().unwrap_or_default().to_owned(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

fn states(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs.iter().map(|(r, s)| ((*r).to_owned(), (*s).to_owned())).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn organization_admin_delegates_stalls_on_another_administrator_and_honours_deletion_policies() {
    let Some(env) = Env::new("orgadmin").await else { return };
    // AWS as it is (the delegation propagates, strict Regions), but for one rule: the case makes
    // another administrator behind the operator's back in one Region, which the realistic
    // profile's one-administrator rule (tested in tests/realistic_delegation.rs) would refuse.
    let emulator = crate::harness::emulator(detective_emulator::WorldConfig {
        single_administrator: Some(false),
        ..detective_emulator::WorldConfig::realistic()
    })
    .await;
    emulator.seed_organization(&OrganizationSeed::new("o-e2eorgadmin", MANAGEMENT, 2, 3, SECURITY));
    let url = emulator.endpoint_url();
    let _operator = env.operator(OperatorOptions::new("operator", MANAGEMENT, &url)).await;

    // Delegated in two Regions, and Ready.
    env.apply(&admin(
        "delegation",
        &env.ns,
        &format!("accountId: \"{SECURITY}\"\nregions: [us-east-1, eu-west-1]"),
    ))
    .await;
    env.kubectl(&["wait", "--for=condition=Ready", "doa/delegation", "--timeout=60s"])
        .await
        .ok();
    let object = wait_admin(&env, "delegation", "Ready", |o| has_condition(o, "Ready", "True")).await;
    assert_eq!(
        region_states(&object),
        states(&[("us-east-1", "Delegated"), ("eu-west-1", "Delegated")])
    );
    for entry in object["status"]["regions"].as_array().expect("regions") {
        assert_eq!(entry["administratorAccountId"], SECURITY);
        assert!(
            entry["graphArn"].as_str().is_some_and(|a| a.contains(SECURITY)),
            "{entry}"
        );
        assert!(entry["delegationTime"].is_string(), "{entry}");
    }
    assert_eq!(object["status"]["observedGeneration"], object["metadata"]["generation"]);
    let table = env.kubectl(&["get", "doa"]).await.ok();
    let header: Vec<&str> = table.lines().next().unwrap_or_default().split_whitespace().collect();
    assert_eq!(
        header,
        ["NAME", "ACCOUNT", "DELEGATED", "DECLARED", "READY", "AGE"],
        "{table}"
    );
    assert!(table.contains(&format!("{SECURITY}   2")), "{table}");

    // Another account administers one of the Regions (the default profile lets it: the realistic
    // one would refuse it), so it is the organization's administrator too: the resource is Stalled
    // naming it, the Region it administers is in conflict, ours stays; nothing replaces it.
    delegate(&url, MANAGEMENT, OTHER, "ap-southeast-2").await;
    env.apply(&admin(
        "contested",
        &env.ns,
        &format!("accountId: \"{SECURITY}\"\nregions: [eu-west-1, ap-southeast-2]"),
    ))
    .await;
    let contested = wait_admin(&env, "contested", "Stalled", |o| has_condition(o, "Stalled", "True")).await;
    let stalled = contested["status"]["conditions"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["type"] == "Stalled"))
        .expect("Stalled");
    assert_eq!(stalled["reason"], "AdministratorConflict");
    let message = stalled["message"].as_str().unwrap_or_default();
    assert!(
        message.contains(OTHER) && message.contains("ap-southeast-2"),
        "{message}"
    );
    assert_eq!(
        region_states(&contested),
        states(&[("eu-west-1", "Delegated"), ("ap-southeast-2", "Conflict")])
    );
    let everyone = delegated(&[
        ("ap-southeast-2", OTHER),
        ("eu-west-1", SECURITY),
        ("us-east-1", SECURITY),
    ]);
    assert_eq!(delegations(&emulator), everyone);

    // deletionPolicy: Retain: the resource goes, AWS stays as it was, with no Disable call.
    env.kubectl(&["delete", "doa", "delegation", "--wait=false"]).await.ok();
    env.wait_gone(&admins(&env), "delegation", Duration::from_secs(60))
        .await;
    assert_eq!(delegations(&emulator), everyone, "Retain leaves every delegation");
    assert_eq!(emulator.calls().get(DISABLE), None);

    // deletionPolicy: Disable: only the declared account's own delegation in the declared Regions.
    env.apply(&admin(
        "contested",
        &env.ns,
        &format!("accountId: \"{SECURITY}\"\nregions: [eu-west-1, ap-southeast-2]\ndeletionPolicy: Disable"),
    ))
    .await;
    wait_admin(&env, "contested", "the new generation observed", |o| {
        (o["status"]["observedGeneration"] == o["metadata"]["generation"])
            .then_some(())
            .ok_or_else(|| "not observed yet".to_owned())
    })
    .await;
    env.kubectl(&["delete", "doa", "contested", "--wait=false"]).await.ok();
    env.wait_gone(&admins(&env), "contested", Duration::from_secs(60)).await;
    assert_eq!(
        delegations(&emulator),
        delegated(&[("ap-southeast-2", OTHER), ("us-east-1", SECURITY)]),
        "eu-west-1 disabled; the other account's Region and the undeclared one untouched"
    );
    assert_eq!(emulator.calls().get(DISABLE), Some(&1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_organization_admins_are_refused_with_the_field_named() {
    let Some(env) = Env::new("orgadmin-admission").await else {
        return;
    };
    let valid = "accountId: \"123456789012\"\nregions: [us-east-1]";
    let cases = [
        // Client-side apply names the entry (`spec.regions[1]: Duplicate value`), server-side
        // apply the list (`.spec.regions: duplicate entries for key [="us-east-1"]`).
        (
            "accountId: \"123456789012\"\nregions: [us-east-1, us-east-1]",
            "spec.regions",
        ),
        (
            "accountId: \"123456789012\"\nregions: [us-east-1, Europe]",
            "spec.regions[1]",
        ),
        ("accountId: \"123456789012\"\nregions: []", "spec.regions"),
        ("accountId: \"1234\"\nregions: [us-east-1]", "spec.accountId"),
        (&format!("{valid}\nexternalId: abc"), "spec.externalId"),
        (&format!("{valid}\nregionRemoval: Delete"), "spec.regionRemoval"),
        (&format!("{valid}\ndeletionPolicy: Delete"), "spec.deletionPolicy"),
    ];
    for (index, (spec, field)) in cases.iter().enumerate() {
        let yaml = admin(&format!("bad-{index}"), &env.ns, spec);
        // `plan -f` / `sync -f` refuse the same input, naming the same field.
        let document: Value = serde_saphyr::from_str(&yaml).expect("YAML");
        let refused = organization_admin_from_document(document).expect_err("the CLI refuses it too");
        assert!(
            refused.fields().iter().any(|f| f.starts_with(field)),
            "the CLI names {:?} for {spec}, the API server {field}",
            refused.fields()
        );
        for args in [&["apply"][..], &["apply", "--server-side"][..]] {
            let out = env.kubectl_stdin(args, &yaml).await;
            assert!(!out.success, "{args:?} accepted:\n{yaml}");
            assert!(
                out.stderr.contains(field),
                "{args:?} {spec}: the message lacks {field}:\n{}",
                out.stderr
            );
        }
    }
    let listed = env.kubectl(&["get", "doa", "-o", "name"]).await.ok();
    assert!(listed.trim().is_empty(), "nothing refused is stored: {listed}");
    env.apply(&admin("good", &env.ns, valid)).await;
}
