//! The GitOps recipes of examples/gitops: the Argo CD health check (run with Lua when one is
//! installed) and the Flux Kustomization and HelmRelease.

use std::process::{Command, Stdio};

use serde_json::{Value, json};

use crate::helm::helm_or_skip;
use crate::rendered::{of_kind, one};
use crate::{CHART, prerequisite, read, yaml_documents};

const ARGOCD_KEYS: [&str; 4] = [
    "resource.customizations.health.detective.operator.dev_DetectiveGraph",
    "resource.customizations.health.detective.operator.dev_DetectiveGraphSet",
    "resource.customizations.health.detective.operator.dev_DetectiveMembership",
    "resource.customizations.health.detective.operator.dev_DetectiveOrganizationAdmin",
];

#[test]
fn argocd_config_map_embeds_the_health_check_for_every_kind() {
    let script = read("examples/gitops/argocd/health.lua");
    let config = &yaml_documents(&read("examples/gitops/argocd/argocd-cm.yaml"), "argocd-cm.yaml")[0];
    assert_eq!(config["kind"], "ConfigMap");
    assert_eq!(config["metadata"]["name"], "argocd-cm");
    for key in ARGOCD_KEYS {
        assert!(
            config["data"][key].as_str() == Some(script.as_str()),
            "argocd-cm.yaml {key} holds examples/gitops/argocd/health.lua verbatim"
        );
    }
    for needle in [
        "observedGeneration",
        "\"Stalled\"",
        "\"Ready\"",
        "\"Reconciling\"",
        "Degraded",
    ] {
        assert!(script.contains(needle), "health.lua reads {needle}");
    }
}

/// A Lua table constructor for a JSON value.
fn lua_literal(value: &Value) -> String {
    match value {
        Value::Null => "nil".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => format!("{s:?}"),
        Value::Array(items) => format!("{{{}}}", items.iter().map(lua_literal).collect::<Vec<_>>().join(", ")),
        Value::Object(map) => format!(
            "{{{}}}",
            map.iter()
                .map(|(k, v)| format!("[{k:?}] = {}", lua_literal(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

fn lua_interpreter() -> Option<&'static str> {
    ["lua5.1", "lua"].into_iter().find(|lua| {
        Command::new(lua)
            .arg("-v")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok()
    })
}

/// Runs health.lua on `obj` the way Argo CD does (the script's chunk with `obj` in scope).
fn argocd_health(lua: &str, script: &str, obj: &Value) -> (String, String) {
    let program = format!(
        "obj = {}\nlocal hs = (function()\n{script}\nend)()\nio.write(hs.status, \"\\n\", hs.message or \"\", \"\\n\")\n",
        lua_literal(obj)
    );
    let output = Command::new(lua).arg("-e").arg(&program).output().expect("lua runs");
    assert!(
        output.status.success(),
        "health.lua failed on {obj}:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    let mut lines = stdout.lines();
    (
        lines.next().unwrap_or_default().to_owned(),
        lines.next().unwrap_or_default().to_owned(),
    )
}

#[test]
fn argocd_health_check_maps_kstatus_conditions() {
    let Some(lua) = lua_interpreter() else {
        prerequisite::fail_or_skip(
            "argocd_health_check_maps_kstatus_conditions",
            "no Lua interpreter (lua5.1 or lua)",
            "apt-get install lua5.1 to run it (.ci/run does)",
        );
        return;
    };
    let script = read("examples/gitops/argocd/health.lua");
    let condition = |type_: &str, status: &str, message: &str| json!({"type": type_, "status": status, "reason": "R", "message": message, "observedGeneration": 2});
    let graph = |generation: i64, spec: Value, status: Value| {
        json!({
            "apiVersion": "detective.operator.dev/v1alpha1",
            "kind": "DetectiveGraph",
            "metadata": {"name": "org-graph", "namespace": "security", "generation": generation},
            "spec": spec,
            "status": status,
        })
    };
    let members = json!({"members": [{"accountId": "111111111111", "emailAddress": "a@example.com"}]});
    // A status about generation 2 with the three kstatus conditions; an empty message is False.
    let kstatus = |ready: (&str, &str), reconciling: &str, stalled: &str| {
        let flag = |message: &str| if message.is_empty() { "False" } else { "True" };
        let conditions = [
            condition("Ready", ready.0, ready.1),
            condition("Reconciling", flag(reconciling), reconciling),
            condition("Stalled", flag(stalled), stalled),
        ];
        graph(
            2,
            members.clone(),
            json!({"observedGeneration": 2, "conditions": conditions}),
        )
    };
    let guard = "the deletion guard refused 12 removals";
    let cases = [
        (
            "no status yet",
            json!({"apiVersion": "detective.operator.dev/v1alpha1", "kind": "DetectiveGraph",
                   "metadata": {"name": "g", "generation": 1}, "spec": members}),
            "Progressing",
            "",
        ),
        (
            "ready",
            kstatus(("True", "1 of 1 members enabled"), "", ""),
            "Healthy",
            "1 of 1 members enabled",
        ),
        (
            "ready but about an older spec",
            graph(
                3,
                members.clone(),
                json!({"observedGeneration": 2, "conditions": [condition("Ready", "True", "ok")]}),
            ),
            "Progressing",
            "generation 3",
        ),
        (
            "stalled",
            kstatus(("False", guard), "", guard),
            "Degraded",
            "deletion guard",
        ),
        (
            "reconciling",
            kstatus(("False", "2 invitations pending"), "2 invitations pending", ""),
            "Progressing",
            "invitations pending",
        ),
        (
            "not ready with nothing in flight",
            kstatus(("False", "verification failed: 111111111111"), "", ""),
            "Degraded",
            "verification failed",
        ),
        (
            "suspended",
            graph(
                2,
                json!({"suspend": true, "members": []}),
                json!({"observedGeneration": 1}),
            ),
            "Suspended",
            "suspend",
        ),
    ];
    for (what, obj, status, message) in cases {
        let (got_status, got_message) = argocd_health(lua, &script, &obj);
        assert_eq!(got_status, status, "{what}: health status ({got_message})");
        assert!(
            got_message.contains(message),
            "{what}: message {got_message:?} mentions {message:?}"
        );
    }
}

#[test]
fn flux_kustomization_waits_for_graph_health_after_the_operator() {
    let documents = yaml_documents(
        &read("examples/gitops/flux/kustomization.yaml"),
        "flux/kustomization.yaml",
    );
    let kustomizations: Vec<&Value> = documents
        .iter()
        .filter(|d| d["kind"] == "Kustomization" && d["apiVersion"] == "kustomize.toolkit.fluxcd.io/v1")
        .collect();
    let operator = kustomizations
        .iter()
        .find(|k| k["metadata"]["name"] == "detective-operator")
        .expect("a Kustomization for the operator");
    assert_eq!(
        operator["spec"]["wait"], true,
        "the operator's Kustomization waits for it"
    );
    let graphs = kustomizations
        .iter()
        .find(|k| !k["spec"]["healthChecks"].is_null())
        .expect("a Kustomization with healthChecks for the graphs");
    assert_eq!(graphs["spec"]["dependsOn"], json!([{"name": "detective-operator"}]));
    let check = &graphs["spec"]["healthChecks"][0];
    assert_eq!(check["apiVersion"], "detective.operator.dev/v1alpha1");
    assert_eq!(check["kind"], "DetectiveGraph");
    assert!(check["name"].is_string() && check["namespace"].is_string());
    assert!(
        graphs["spec"]["timeout"].is_string(),
        "a timeout long enough for invitations"
    );
}

#[test]
fn flux_helm_release_uses_this_chart_with_values_it_accepts() {
    let documents = yaml_documents(&read("examples/gitops/flux/helmrelease.yaml"), "flux/helmrelease.yaml");
    let release = documents
        .iter()
        .find(|d| d["kind"] == "HelmRelease")
        .expect("a HelmRelease");
    assert_eq!(release["apiVersion"], "helm.toolkit.fluxcd.io/v2");
    let chart = release["spec"]["chart"]["spec"]["chart"].as_str().expect("chart path");
    assert_eq!(chart.trim_start_matches("./"), CHART);
    let source = &release["spec"]["chart"]["spec"]["sourceRef"];
    assert!(
        documents
            .iter()
            .any(|d| d["kind"] == source["kind"] && d["metadata"]["name"] == source["name"]),
        "the HelmRelease's source is defined beside it"
    );

    // Its values pass the chart's schema and render.
    let helm = helm_or_skip!();
    let values = serde_json::to_string(&release["spec"]["values"]).expect("values");
    let file = helm.write_values("helmrelease-values.json", &values);
    let objects = helm.template(&["--values", &file]);
    assert_eq!(one(&objects, "Deployment")["spec"]["replicas"], 2);
    assert_eq!(of_kind(&objects, "PodDisruptionBudget").len(), 1);
}
