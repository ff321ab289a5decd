//! The chart's alerts (templates/prometheusrule.yaml) and Grafana dashboard (dashboards/,
//! templates/grafana-dashboard.yaml): rendered by their switches, checked with promtool, linked to
//! their runbooks and to the metrics README.md documents.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};

use crate::helm::helm_or_skip;
use crate::rendered::{of_kind, one};
use crate::{ALL_ENABLED, NAMESPACE, json_file, observability, prerequisite, read, repo, yaml_documents};

const DASHBOARD: &str = "charts/detective-operator/dashboards/detective-operator.json";
const ALERT_TESTS: &str = "tests/observability/alerts.test.yaml";

/// `promtool`, or `None` after a loud message (a failure instead when `CI` is set).
fn promtool() -> Option<PathBuf> {
    let bin = std::env::var_os("PROMTOOL").map_or_else(|| PathBuf::from("promtool"), PathBuf::from);
    match Command::new(&bin).arg("--version").output() {
        Ok(output) if output.status.success() => Some(bin),
        result => {
            let reason = match result {
                Ok(output) => format!("`{} --version` failed ({})", bin.display(), output.status),
                Err(e) => format!("{}: {e}", bin.display()),
            };
            prerequisite::fail_or_skip(
                "alert/dashboard test",
                &format!("no promtool ({reason})"),
                "install Debian's `prometheus` package (or set PROMTOOL)",
            );
            None
        }
    }
}

/// `promtool ARGS` in `dir`, which must succeed; its output.
fn run_promtool(promtool: &Path, dir: &Path, args: &[&str]) -> String {
    let output = Command::new(promtool)
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("promtool {args:?}: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "promtool {args:?} failed:\n{text}");
    text
}

/// GitHub's anchor of a Markdown heading.
fn anchor(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || *c == ' ' || *c == '-' || *c == '_')
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

#[test]
fn alerts_and_dashboard_are_off_by_default_and_rendered_by_their_switches() {
    let helm = helm_or_skip!();
    let objects = helm.template(&[]);
    // The dashboard is the chart's only ConfigMap.
    for kind in ["PrometheusRule", "ConfigMap"] {
        assert!(of_kind(&objects, kind).is_empty(), "no {kind} by default");
    }

    let objects = helm.template(&observability::SWITCHES_ON);
    let rule = one(&objects, "PrometheusRule");
    assert_eq!(rule["apiVersion"], "monitoring.coreos.com/v1");
    assert_eq!(rule["metadata"]["namespace"], NAMESPACE);
    assert_eq!(
        rule["metadata"]["labels"]["app.kubernetes.io/name"],
        "detective-operator"
    );
    let config_map = one(&objects, "ConfigMap");
    assert_eq!(config_map["metadata"]["namespace"], NAMESPACE);
    assert_eq!(
        config_map["metadata"]["labels"]["grafana_dashboard"], "1",
        "the label the Grafana sidecar reads by default"
    );
    assert_eq!(
        observability::rendered_dashboard(&objects).unwrap(),
        json_file(DASHBOARD),
        "the ConfigMap embeds dashboards/detective-operator.json as it is"
    );
    let absent = observability::rules(&objects)
        .unwrap()
        .into_iter()
        .find(|r| r["alert"] == "DetectiveOperatorAbsent")
        .expect("DetectiveOperatorAbsent");
    assert_eq!(
        absent["expr"], "absent(up{job=\"detective-operator\"} == 1)",
        "the default job is the Service's name"
    );

    // Every knob of ci/all-enabled-values.yaml lands where prometheus-operator and Grafana read it.
    let objects = helm.template(&["--values", ALL_ENABLED]);
    let rule = one(&objects, "PrometheusRule");
    assert_eq!(rule["metadata"]["namespace"], "monitoring");
    assert_eq!(
        rule["metadata"]["labels"]["release"], "prometheus",
        "additionalLabels, for a ruleSelector"
    );
    let rules = observability::rules(&objects).unwrap();
    for rule in &rules {
        assert_eq!(rule["labels"]["team"], "security", "alertLabels on {}", rule["alert"]);
        assert!(
            rule["annotations"]["runbook_url"]
                .as_str()
                .is_some_and(|u| u
                    .starts_with("https://git.example.com/security/detective-operator/blob/main/docs/runbooks.md#")),
            "runbookBaseUrl in {rule}"
        );
    }
    let by_name = |name: &str| rules.iter().find(|r| r["alert"] == name).expect(name);
    assert_eq!(by_name("DetectiveResourceStalled")["for"], "30m");
    assert!(
        by_name("DetectiveOperatorAwsErrors")["expr"]
            .as_str()
            .is_some_and(|e| e.trim_end().ends_with("> 0.5")),
        "awsErrorRatio"
    );
    assert_eq!(
        by_name("DetectiveOperatorAbsent")["expr"],
        "absent(up{job=\"detective-operator-metrics\"} == 1)"
    );
    let config_map = one(&objects, "ConfigMap");
    assert_eq!(config_map["metadata"]["namespace"], "monitoring");
    assert_eq!(config_map["metadata"]["labels"]["grafana_dashboard_security"], "true");
    assert_eq!(config_map["metadata"]["annotations"]["grafana_folder"], "Security");
}

#[test]
fn values_schema_rejects_bad_alert_thresholds_and_dashboard_labels() {
    let helm = helm_or_skip!();
    for (set, key, expected) in [
        ("prometheusRule.thresholds.stalledFor=15", "stalledFor", "Invalid type"),
        (
            "prometheusRule.thresholds.graphNotReadyFor=1hour",
            "graphNotReadyFor",
            "pattern",
        ),
        (
            "prometheusRule.thresholds.awsErrorRatio=high",
            "awsErrorRatio",
            "schema",
        ),
        (
            "prometheusRule.thresholds.reconcileErrorRatio=2",
            "reconcileErrorRatio",
            "schema",
        ),
        ("prometheusRule.thresholds.absentFor=", "absentFor", "pattern"),
        ("prometheusRule.threshold.stalledFor=1h", "threshold", "not allowed"),
        (
            "prometheusRule.additionalLabels.release=true",
            "release",
            "Invalid type",
        ),
        ("grafanaDashboard.labelValue=1", "labelValue", "Invalid type"),
    ] {
        let error = helm.template_error(&["--set", set]);
        assert!(
            error.contains("values don't meet the specifications of the schema")
                && error.contains(key)
                && error.contains(expected),
            "--set {set} is refused by values.schema.json naming {key} ({expected}):\n{error}"
        );
    }
    // A ratio given on the command line arrives as a string (helm --set only types integers and
    // booleans): a decimal string is accepted and rendered as the number.
    let objects = helm.template(&[
        "--set",
        "prometheusRule.enabled=true",
        "--set",
        "prometheusRule.thresholds.awsErrorRatio=0.05",
    ]);
    let rules = observability::rules(&objects).unwrap();
    let aws = rules
        .iter()
        .find(|r| r["alert"] == "DetectiveOperatorAwsErrors")
        .unwrap();
    assert!(aws["expr"].as_str().unwrap().trim_end().ends_with("> 0.05"), "{aws}");
}

#[test]
fn every_alert_names_its_resource_and_links_its_runbook_section() {
    let helm = helm_or_skip!();
    let objects = helm.template(&["--set", "prometheusRule.enabled=true"]);
    let rules = observability::rules(&objects).unwrap();
    let runbooks = read("docs/runbooks.md");
    let sections: BTreeSet<String> = runbooks
        .lines()
        .filter_map(|l| l.strip_prefix("## "))
        .map(anchor)
        .collect();
    let mut alerts = BTreeSet::new();
    for rule in &rules {
        let name = rule["alert"].as_str().expect("every rule is an alert");
        alerts.insert(name.to_lowercase());
        let annotations = &rule["annotations"];
        for key in ["summary", "description", "runbook_url"] {
            assert!(
                annotations[key].as_str().is_some_and(|v| !v.trim().is_empty()),
                "{name} has a {key}"
            );
        }
        let description = annotations["description"].as_str().unwrap_or_default();
        let names_resource = ["$labels.name", "$labels.operation", "$labels.kind"]
            .iter()
            .any(|label| description.contains(label))
            || description.contains("\"detective-operator\"");
        assert!(
            names_resource,
            "{name}'s description names what it is about: {description}"
        );
        assert!(
            ["warning", "critical"].contains(&rule["labels"]["severity"].as_str().unwrap_or_default()),
            "{name} has a severity"
        );
        let url = annotations["runbook_url"].as_str().unwrap_or_default();
        let (base, section) = url.split_once('#').unwrap_or((url, ""));
        assert_eq!(base, "docs/runbooks.md", "{name}: the default runbookBaseUrl");
        assert!(
            sections.contains(section),
            "{name}'s runbook_url points at #{section}, which is not a section of docs/runbooks.md ({sections:?})"
        );
    }
    assert_eq!(alerts.len(), 9, "the nine alerts of the chart: {alerts:?}");
    let unused: Vec<&String> = sections.iter().filter(|s| !alerts.contains(*s)).collect();
    assert!(unused.is_empty(), "docs/runbooks.md sections for no alert: {unused:?}");
}

#[test]
fn rendered_alert_rules_pass_promtool_check_and_unit_tests() {
    let helm = helm_or_skip!();
    let Some(promtool) = promtool() else { return };
    let objects = helm.template(&["--set", "prometheusRule.enabled=true"]);
    let dir = tempfile::tempdir().expect("temporary directory");
    std::fs::write(
        dir.path().join("rules.yaml"),
        observability::rules_file(&objects).unwrap(),
    )
    .expect("write rules.yaml");
    std::fs::copy(repo(ALERT_TESTS), dir.path().join("alerts.test.yaml")).expect("copy the unit tests");
    let checked = run_promtool(&promtool, dir.path(), &["check", "rules", "rules.yaml"]);
    assert!(checked.contains("SUCCESS: 9 rules found"), "{checked}");
    let tested = run_promtool(&promtool, dir.path(), &["test", "rules", "alerts.test.yaml"]);
    assert!(tested.contains("SUCCESS"), "{tested}");

    // The unit tests cover every alert both ways: firing on a series that should trip it, and
    // silent (exp_alerts: []) where it should not.
    let tests = &yaml_documents(&read(ALERT_TESTS), ALERT_TESTS)[0];
    let mut fires = BTreeSet::new();
    let mut silent = BTreeSet::new();
    for case in tests["tests"].as_array().into_iter().flatten() {
        for check in case["alert_rule_test"].as_array().into_iter().flatten() {
            let name = check["alertname"].as_str().unwrap_or_default().to_owned();
            match check["exp_alerts"].as_array().map(Vec::len) {
                Some(0) => silent.insert(name),
                Some(_) => fires.insert(name),
                None => panic!("{ALERT_TESTS}: {name} without exp_alerts"),
            };
        }
    }
    for rule in observability::rules(&objects).unwrap() {
        let name = rule["alert"].as_str().unwrap_or_default();
        assert!(fires.contains(name), "{ALERT_TESTS} has no case where {name} fires");
        assert!(
            silent.contains(name),
            "{ALERT_TESTS} has no case where {name} stays silent"
        );
    }
}

#[test]
fn dashboard_queries_parse_and_use_its_variables() {
    let dashboard = json_file(DASHBOARD);
    let variables: BTreeSet<&str> = dashboard["templating"]["list"]
        .as_array()
        .expect("templating.list")
        .iter()
        .filter_map(|v| v["name"].as_str())
        .collect();
    assert_eq!(variables, BTreeSet::from(["datasource", "namespace", "resource"]));
    let queries = observability::dashboard_queries(&dashboard);
    let titles: Vec<&str> = dashboard["panels"]
        .as_array()
        .expect("panels")
        .iter()
        .filter(|p| p["type"] != "row")
        .map(|p| {
            assert_eq!(
                p["datasource"]["uid"], "${datasource}",
                "panel {} uses the datasource variable",
                p["title"]
            );
            p["title"].as_str().unwrap_or_default()
        })
        .collect();
    for wanted in [
        "Members by status per graph",
        "Ready per resource",
        "Stalled per resource",
        "Reconciles by result",
        "Reconcile duration p95",
        "AWS calls by operation and outcome",
        "Deletion-guard trips",
    ] {
        assert!(titles.contains(&wanted), "a panel {wanted:?} in {titles:?}");
    }
    for (place, query) in &queries {
        let per_resource = [
            "graph_members",
            "resource_condition",
            "deletion_guard",
            "last_successful_sync",
        ]
        .iter()
        .any(|m| query.contains(m));
        if per_resource && place.starts_with("panel") {
            assert!(
                query.contains("namespace=~\"$namespace\"") && query.contains("name=~\"$resource\""),
                "{place} filters by the namespace and resource variables: {query}"
            );
        }
    }

    // Every query, variables substituted, parses: promtool checks them as recording rules.
    let Some(promtool) = promtool() else { return };
    let rules: Vec<Value> = queries
        .iter()
        .enumerate()
        .map(|(i, (_, query))| json!({"record": format!("dashboard:query_{i}"), "expr": observability::substitute_variables(query)}))
        .collect();
    let dir = tempfile::tempdir().expect("temporary directory");
    std::fs::write(
        dir.path().join("dashboard.yaml"),
        json!({"groups": [{"name": "dashboard", "rules": rules}]}).to_string(),
    )
    .expect("write dashboard.yaml");
    let checked = run_promtool(&promtool, dir.path(), &["check", "rules", "dashboard.yaml"]);
    assert!(
        checked.contains(&format!("SUCCESS: {} rules found", queries.len())),
        "{checked}"
    );
}

#[test]
fn alerts_and_dashboard_use_only_documented_operator_metrics() {
    let helm = helm_or_skip!();
    let objects = helm.template(&observability::SWITCHES_ON);
    let referenced = observability::referenced_names(
        &observability::rules(&objects).unwrap(),
        &observability::rendered_dashboard(&objects).unwrap(),
    );
    let readme = read("README.md");
    let observability_section = readme
        .split("\n## Observability")
        .nth(1)
        .and_then(|rest| rest.split("\n## ").next())
        .expect("README.md has an Observability section");
    for (name, place) in &referenced {
        if observability::SCRAPE_SERIES.contains(&name.as_str()) {
            continue;
        }
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|s| name.strip_suffix(s))
            .unwrap_or(name);
        assert!(
            family.starts_with("detective_operator_") && observability_section.contains(&format!("`{family}")),
            "{place} uses {name}, which README.md's Observability section does not list as an operator metric"
        );
    }
    // (That the operator really exports them: the e2e case observability::metrics_referenced_by_alerts_and_dashboard_are_exported.)
}
