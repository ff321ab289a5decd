//! The management-account side on the real API server, under the chart's RBAC: a
//! `DetectiveOrganizationAdmin` delegates an account in two Regions (once each, through the
//! propagation delay) and is Ready; deletion with `Retain` leaves AWS untouched, with `Disable`
//! disables only the declared Regions; admission refuses bad or repeated Regions and bad account
//! ids, naming the field.
//! On the realistic profile: AccessDenied and its retry at `resyncInterval`, an outage, `suspend`,
//! `regionRemoval: Disable`, the organization-wide administrator conflict, the orphan annotation,
//! and the events of each.

use std::collections::BTreeMap;
use std::time::Duration;

use detective_emulator::OrganizationSeed;
use detective_operator::cli::manifest::organization_admin_from_document;
use kube::api::{Api, DynamicObject};
use serde_json::Value;

use crate::harness::{Env, OperatorOptions, eventually, has_condition, resource, try_get};
use crate::support::delegations;

const MANAGEMENT: &str = "270000000000";
const SECURITY: &str = "270000000001";
/// An account of the organization other than the delegated one.
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
async fn organization_admin_delegates_once_per_region_and_honours_deletion_policies() {
    let Some(env) = Env::new("orgadmin").await else { return };
    // AWS as it is: each delegation shows in ListOrganizationAdminAccounts only after the
    // propagation delay, one administrator for the organization, strict Regions.
    let emulator = crate::harness::emulator(detective_emulator::WorldConfig::realistic()).await;
    emulator.seed_organization(&OrganizationSeed::new("o-e2eorgadmin", MANAGEMENT, 2, 3, SECURITY));
    let url = emulator.endpoint_url();
    let _operator = env.operator(OperatorOptions::new("operator", MANAGEMENT, &url)).await;

    // Delegated in two Regions: Pending while the delegation propagates, then Ready, with one
    // Enable per Region (never a second while it does not show).
    env.apply(&admin(
        "delegation",
        &env.ns,
        &format!("accountId: \"{SECURITY}\"\nregions: [us-east-1, eu-west-1]"),
    ))
    .await;
    // Pending lasts until the next look after the delay (seconds): long enough to be seen.
    wait_admin(&env, "delegation", "Pending while the delegation propagates", |o| {
        let pending = region_states(o).iter().any(|(_, state)| state == "Pending");
        match (pending, has_condition(o, "Reconciling", "True")) {
            (true, Ok(())) => Ok(()),
            other => Err(format!("(a Region Pending, Reconciling) = {other:?}")),
        }
    })
    .await;
    let object = wait_admin(&env, "delegation", "Ready", |o| has_condition(o, "Ready", "True")).await;
    assert_eq!(
        region_states(&object),
        states(&[("us-east-1", "Delegated"), ("eu-west-1", "Delegated")])
    );
    assert_eq!(emulator.calls().get("EnableOrganizationAdminAccount"), Some(&2));
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
    let both = delegated(&[("eu-west-1", SECURITY), ("us-east-1", SECURITY)]);
    assert_eq!(delegations(&emulator), both);

    // deletionPolicy: Retain: the resource goes, AWS stays as it was, with no Disable call.
    env.kubectl(&["delete", "doa", "delegation", "--wait=false"]).await.ok();
    env.wait_gone(&admins(&env), "delegation", Duration::from_secs(60))
        .await;
    assert_eq!(delegations(&emulator), both, "Retain leaves every delegation");
    assert_eq!(emulator.calls().get(DISABLE), None);

    // deletionPolicy: Disable: eu-west-1 is adopted (no Enable), ap-southeast-2 delegated; on
    // deletion only the declared Regions are disabled, us-east-1 is left as it is.
    env.apply(&admin(
        "partial",
        &env.ns,
        &format!("accountId: \"{SECURITY}\"\nregions: [eu-west-1, ap-southeast-2]\ndeletionPolicy: Disable"),
    ))
    .await;
    wait_admin(&env, "partial", "Ready", |o| has_condition(o, "Ready", "True")).await;
    assert_eq!(emulator.calls().get("EnableOrganizationAdminAccount"), Some(&3));
    env.kubectl(&["delete", "doa", "partial", "--wait=false"]).await.ok();
    env.wait_gone(&admins(&env), "partial", Duration::from_secs(60)).await;
    assert_eq!(
        delegations(&emulator),
        delegated(&[("us-east-1", SECURITY)]),
        "the declared Regions disabled, the undeclared one untouched"
    );
    assert_eq!(emulator.calls().get(DISABLE), Some(&2));
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

/// How often each reason was told about `name`: an Event counts once, or as many times as its
/// series says (the recorder folds repeats of one event into a series).
async fn event_reasons(env: &Env, name: &str) -> BTreeMap<String, u64> {
    let mut reasons = BTreeMap::new();
    for event in env.events_about(name).await {
        if let Some(reason) = event["reason"].as_str() {
            let told = event["series"]["count"].as_u64().unwrap_or(1);
            *reasons.entry(reason.to_owned()).or_insert(0) += told;
        }
    }
    reasons
}

/// Sets `reconcile.fluxcd.io/requestedAt` on the resource: a reconcile at once.
async fn request_reconcile(env: &Env, name: &str, requested: &str) {
    let annotation = format!("reconcile.fluxcd.io/requestedAt={requested}");
    let out = env
        .kubectl(&["annotate", "--overwrite", &format!("doa/{name}"), &annotation])
        .await;
    assert!(out.success, "{}", out.stderr);
}

fn condition_reason(object: &Value, kind: &str) -> Option<String> {
    object["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == kind && c["status"] == "True")
        .and_then(|c| c["reason"].as_str().map(str::to_owned))
}

/// The lifecycle of one `DetectiveOrganizationAdmin` on the realistic profile (one administrator
/// for the organization), acting through a role of the management account:
/// - the role does not trust the operator yet: Stalled `AccessDenied` naming it, retried at
///   `resyncInterval` (not in a fast loop), Ready once the trust is fixed, with an
///   AdministratorDelegated event per Region;
/// - an AWS outage: Reconciling, never Stalled, Ready when it ends;
/// - `suspend`: a Region added meanwhile is not delegated until `suspend` is false again;
/// - `regionRemoval: Disable`: a removed Region is disabled, with a DelegationDisabled event;
/// - a second resource naming another account: Stalled `AdministratorConflict` naming the
///   registered administrator, no Enable, the event told once however often it is reconciled;
/// - the orphan annotation: deletion with `deletionPolicy: Disable` leaves AWS untouched.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn organization_admin_access_denied_outage_suspend_conflict_and_orphan() {
    const ROLE: &str = "DetectiveOrganizationAdmin";
    const RESYNC_SECONDS: u64 = 15;
    let Some(env) = Env::new("orgadmin-life").await else {
        return;
    };
    let emulator = crate::harness::emulator(detective_emulator::WorldConfig::realistic()).await;
    let organization = "o-e2eorglife1";
    emulator.seed_organization(&OrganizationSeed::new(organization, MANAGEMENT, 2, 3, SECURITY));
    let role_trusting = |account: &str| detective_emulator::WorldPatch {
        accounts: vec![detective_emulator::AccountConfig {
            organization: Some(organization.into()),
            roles: Some(vec![detective_emulator::RoleConfig {
                name: ROLE.into(),
                trusted_accounts: vec![account.into()],
                policy_files: vec![
                    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                        .join("examples/iam/organization-admin-policy.json"),
                ],
                ..detective_emulator::RoleConfig::default()
            }]),
            ..detective_emulator::AccountConfig::new(MANAGEMENT, "")
        }],
        ..detective_emulator::WorldPatch::default()
    };
    // The management role trusts some other account only: the operator may not assume it.
    emulator.merge_world(role_trusting(OTHER));
    let url = emulator.endpoint_url();
    let operator = env.operator(OperatorOptions::new("operator", MANAGEMENT, &url)).await;
    let role_arn = format!("arn:aws:iam::{MANAGEMENT}:role/{ROLE}");
    let spec = |regions: &str, suspend: bool| {
        format!(
            "accountId: \"{SECURITY}\"\nregions: [{regions}]\nassumeRoleArn: {role_arn}\nregionRemoval: Disable\n\
             deletionPolicy: Disable\nresyncInterval: {RESYNC_SECONDS}s\nsuspend: {suspend}"
        )
    };
    env.apply(&admin("life", &env.ns, &spec("us-east-1, eu-west-1", false)))
        .await;

    // AccessDenied: Stalled naming the role; the next attempt comes at resyncInterval.
    let denied = wait_admin(&env, "life", "Stalled AccessDenied", |o| {
        match condition_reason(o, "Stalled").as_deref() {
            Some("AccessDenied") => Ok(()),
            other => Err(format!("Stalled: {other:?}")),
        }
    })
    .await;
    assert!(denied["status"].to_string().contains(&role_arn), "{}", denied["status"]);
    let refused = || emulator.refused_calls().get("AssumeRole").copied().unwrap_or(0);
    let first = refused();
    let seen = std::time::Instant::now();
    eventually(Duration::from_secs(60), "the retry at resyncInterval", || async {
        (refused() > first)
            .then_some(())
            .ok_or_else(|| "not retried yet".to_owned())
    })
    .await;
    // A lower bound only (a slow machine only makes it later): a backoff retry would come
    // within a few seconds.
    assert!(
        seen.elapsed() >= Duration::from_secs(RESYNC_SECONDS - 5),
        "retried after {:?}, before resyncInterval",
        seen.elapsed()
    );
    assert!(!emulator.calls().contains_key("EnableOrganizationAdminAccount"));
    emulator.merge_world(role_trusting(MANAGEMENT));
    let ready = wait_admin(&env, "life", "Ready once the role trusts the operator", |o| {
        has_condition(o, "Ready", "True")
    })
    .await;
    assert_eq!(
        region_states(&ready),
        states(&[("us-east-1", "Delegated"), ("eu-west-1", "Delegated")])
    );
    let reasons = event_reasons(&env, "life").await;
    assert_eq!(reasons.get("AdministratorDelegated"), Some(&2), "{reasons:?}");
    assert!(reasons.contains_key("AccessDenied"), "{reasons:?}");

    // An outage: every call fails with 500 (the SDK retries, then the operator's backoff):
    // Reconciling, never Stalled; Ready again when it ends.
    emulator.inject_fault(detective_emulator::Fault::internal_error());
    request_reconcile(&env, "life", "2026-12-06T01:00:00Z").await;
    wait_admin(&env, "life", "Reconciling during the outage", |o| {
        match (condition_reason(o, "Reconciling"), condition_reason(o, "Stalled")) {
            (Some(_), None) if o["status"]["lastHandledReconcileAt"] == "2026-12-06T01:00:00Z" => Ok(()),
            other => Err(format!("(Reconciling, Stalled) = {other:?}")),
        }
    })
    .await;
    emulator.clear_faults();
    wait_admin(&env, "life", "Ready after the outage", |o| {
        has_condition(o, "Ready", "True")
    })
    .await;

    // suspend: a Region added meanwhile is not touched until it is false again. Each reconcile
    // of a suspended resource logs that it makes no AWS call (and writes no status).
    let skipped = || operator.log().matches("suspended: no AWS call").count();
    let wait_skipped = |at_least: usize| {
        eventually(Duration::from_secs(30), "a suspended reconcile", move || async move {
            match skipped() {
                count if count >= at_least => Ok(count),
                count => Err(format!("{count} suspended reconciles")),
            }
        })
    };
    env.apply(&admin("life", &env.ns, &spec("us-east-1, eu-west-1", true)))
        .await;
    let count = wait_skipped(1).await;
    emulator.reset_calls();
    env.apply(&admin(
        "life",
        &env.ns,
        &spec("us-east-1, eu-west-1, ap-southeast-2", true),
    ))
    .await;
    let count = wait_skipped(count + 1).await;
    request_reconcile(&env, "life", "2026-12-06T01:05:00Z").await;
    wait_skipped(count + 1).await;
    assert_eq!(emulator.calls(), BTreeMap::new(), "suspended: no AWS call");
    assert!(!delegations(&emulator).contains_key("ap-southeast-2"));
    env.apply(&admin(
        "life",
        &env.ns,
        &spec("us-east-1, eu-west-1, ap-southeast-2", false),
    ))
    .await;
    let resumed = wait_admin(&env, "life", "three Regions delegated", |o| {
        (has_condition(o, "Ready", "True").is_ok() && o["status"]["delegatedRegions"] == 3)
            .then_some(())
            .ok_or_else(|| "not yet".to_owned())
    })
    .await;
    assert_eq!(
        resumed["status"]["observedGeneration"],
        resumed["metadata"]["generation"]
    );

    // regionRemoval: Disable: ap-southeast-2 removed from the list is disabled.
    env.apply(&admin("life", &env.ns, &spec("us-east-1, eu-west-1", false)))
        .await;
    eventually(Duration::from_secs(60), "ap-southeast-2 disabled", || async {
        let regions = delegations(&emulator);
        (!regions.contains_key("ap-southeast-2"))
            .then_some(())
            .ok_or_else(|| format!("{regions:?}"))
    })
    .await;
    eventually(Duration::from_secs(30), "the DelegationDisabled event", || async {
        let reasons = event_reasons(&env, "life").await;
        (reasons.get("DelegationDisabled") == Some(&1))
            .then_some(())
            .ok_or_else(|| format!("{reasons:?}"))
    })
    .await;

    // Another account named while Organizations has SECURITY registered: Stalled
    // AdministratorConflict naming it, no Enable; the event once over three reconciles.
    let enables = emulator.calls().get("EnableOrganizationAdminAccount").copied();
    env.apply(&admin(
        "rival",
        &env.ns,
        &format!("accountId: \"{OTHER}\"\nregions: [us-east-1]"),
    ))
    .await;
    let rival = wait_admin(
        &env,
        "rival",
        "Stalled AdministratorConflict",
        |o| match condition_reason(o, "Stalled").as_deref() {
            Some("AdministratorConflict") => Ok(()),
            other => Err(format!("Stalled: {other:?}")),
        },
    )
    .await;
    assert!(rival["status"].to_string().contains(SECURITY), "{}", rival["status"]);
    for requested in ["2026-12-06T01:10:00Z", "2026-12-06T01:15:00Z"] {
        request_reconcile(&env, "rival", requested).await;
        wait_admin(&env, "rival", "the requested reconcile", |o| {
            (o["status"]["lastHandledReconcileAt"] == requested)
                .then_some(())
                .ok_or_else(|| "not handled yet".to_owned())
        })
        .await;
    }
    let reasons = event_reasons(&env, "rival").await;
    assert_eq!(reasons.get("AdministratorConflict"), Some(&1), "{reasons:?}");
    assert_eq!(emulator.calls().get("EnableOrganizationAdminAccount").copied(), enables);

    // The orphan annotation: deleting `life` (deletionPolicy: Disable) leaves AWS as it is.
    let before = delegations(&emulator);
    let out = env
        .kubectl(&["annotate", "doa/life", "detective.operator.dev/orphan=true"])
        .await;
    assert!(out.success, "{}", out.stderr);
    env.kubectl(&["delete", "doa", "life", "--wait=false"]).await.ok();
    env.wait_gone(&admins(&env), "life", Duration::from_secs(60)).await;
    assert_eq!(delegations(&emulator), before, "orphaned: nothing disabled");
    assert_eq!(before.len(), 2, "{before:?}");
}
