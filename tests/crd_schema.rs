//! The generated CRDs carry the validation the API server enforces at `kubectl apply` time.

use detective_operator::api::{DetectiveGraph, DetectiveMembership};
use kube::CustomResourceExt;
use serde_json::Value;

fn schema_of(
    crd: k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition,
) -> (Value, Value) {
    let value = serde_json::to_value(&crd).unwrap();
    let version = value.pointer("/spec/versions/0").unwrap().clone();
    (value, version)
}

/// A schema's `pattern` (or any string) found at `at`.
fn pattern(value: &Value) -> &str {
    value.as_str().unwrap_or_else(|| panic!("not a string: {value}"))
}

fn at<'a>(value: &'a Value, pointer: &str) -> &'a Value {
    value
        .pointer(pointer)
        .unwrap_or_else(|| panic!("no {pointer} in the schema"))
}

const SPEC: &str = "/schema/openAPIV3Schema/properties/spec";

#[test]
fn graph_crd_names_scope_and_columns() {
    let (crd, version) = schema_of(DetectiveGraph::crd());
    assert_eq!(at(&crd, "/spec/group"), "detective.operator.dev");
    assert_eq!(at(&crd, "/spec/scope"), "Namespaced");
    assert_eq!(at(&crd, "/spec/names/shortNames"), &serde_json::json!(["dg"]));
    assert_eq!(at(&crd, "/spec/names/categories"), &serde_json::json!(["detective"]));
    assert_eq!(at(&version, "/name"), "v1alpha1");
    assert_eq!(at(&version, "/subresources/status"), &serde_json::json!({}));
    let columns: Vec<&str> = at(&version, "/additionalPrinterColumns")
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(columns, vec!["Graph", "Enabled", "Desired", "Ready", "Status", "Age"]);
}

#[test]
fn graph_spec_field_validation() {
    let (_, version) = schema_of(DetectiveGraph::crd());
    let spec = at(&version, SPEC);
    let members = at(spec, "/properties/members");
    assert_eq!(members["maxItems"], 1200);
    assert_eq!(members["x-kubernetes-list-type"], "map");
    assert_eq!(members["x-kubernetes-list-map-keys"], serde_json::json!(["accountId"]));
    assert_eq!(at(members, "/items/properties/accountId/pattern"), "^[0-9]{12}$");
    assert!(pattern(at(members, "/items/properties/emailAddress/pattern")).contains('@'));
    assert_eq!(at(members, "/items/properties/emailAddress/maxLength"), 64);
    assert_eq!(
        at(members, "/items/required"),
        &serde_json::json!(["accountId", "emailAddress"])
    );
    assert!(at(spec, "/properties/region/pattern").is_string());
    assert!(pattern(at(spec, "/properties/graphArn/pattern")).contains(":graph:"));
    assert!(pattern(at(spec, "/properties/assumeRoleArn/pattern")).contains(":role/"));
    assert_eq!(at(spec, "/properties/invitation/properties/message/minLength"), 1);
    assert_eq!(at(spec, "/properties/invitation/properties/message/maxLength"), 1000);
    assert_eq!(at(spec, "/properties/tags/maxProperties"), 50);
    assert_eq!(at(spec, "/properties/tags/additionalProperties/maxLength"), 256);
    let tag_rules: Vec<&str> = at(spec, "/properties/tags/x-kubernetes-validations")
        .as_array()
        .unwrap()
        .iter()
        .map(|rule| rule["rule"].as_str().unwrap())
        .collect();
    assert_eq!(
        tag_rules,
        [
            "self.all(k, size(k) >= 1 && size(k) <= 128)",
            "self.all(k, !k.startsWith('aws:'))",
            "self.all(k, k.matches('^[a-zA-Z+-=._:/]+$'))",
        ],
        "the service's tag-key pattern, its look-ahead as a separate rule"
    );
    assert_eq!(
        at(spec, "/properties/pruning/enum"),
        &serde_json::json!(["Managed", "Authoritative", "Disabled"])
    );
    assert_eq!(
        at(spec, "/properties/deletionPolicy/enum"),
        &serde_json::json!(["Retain", "Delete"])
    );
    assert_eq!(
        at(spec, "/properties/deletionGuard/properties/maxDeletions/default"),
        10
    );
    assert_eq!(at(spec, "/properties/monitoring/properties/autoStart/default"), true);
}

#[test]
fn graph_spec_cel_rules_make_region_and_graph_immutable() {
    let (_, version) = schema_of(DetectiveGraph::crd());
    let rules: Vec<(String, String)> = at(&version, &format!("{SPEC}/x-kubernetes-validations"))
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["rule"].as_str().unwrap().to_owned(),
                r["fieldPath"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    assert!(
        rules
            .iter()
            .any(|(rule, path)| rule.contains("oldSelf.region") && path == ".region")
    );
    assert!(
        rules
            .iter()
            .any(|(rule, path)| rule.contains("oldSelf.graphArn") && path == ".graphArn")
    );
    assert!(rules.iter().any(|(rule, _)| rule.contains("has(self.assumeRoleArn)")));
}

#[test]
fn status_conditions_are_a_list_map_keyed_by_type() {
    for (_, version) in [schema_of(DetectiveGraph::crd()), schema_of(DetectiveMembership::crd())] {
        let conditions = at(
            &version,
            "/schema/openAPIV3Schema/properties/status/properties/conditions",
        );
        assert_eq!(conditions["x-kubernetes-list-type"], "map");
        assert_eq!(conditions["x-kubernetes-list-map-keys"], serde_json::json!(["type"]));
    }
}

#[test]
fn membership_spec_validation() {
    let (crd, version) = schema_of(DetectiveMembership::crd());
    assert_eq!(at(&crd, "/spec/names/shortNames"), &serde_json::json!(["dm"]));
    let spec = at(&version, SPEC);
    assert_eq!(at(spec, "/required"), &serde_json::json!(["graphArn"]));
    assert_eq!(
        at(spec, "/properties/state/enum"),
        &serde_json::json!(["Accepted", "Rejected"])
    );
    assert_eq!(
        at(spec, "/properties/deletionPolicy/enum"),
        &serde_json::json!(["Retain", "Disassociate"])
    );
    assert_eq!(
        at(spec, "/properties/graphArn/x-kubernetes-validations/0/rule"),
        "self == oldSelf"
    );
}

/// Every `pattern` compiles under the API server's rules: Go's RE2 refuses a repetition count
/// above 1,000 (the `regex` crate accepts it, so only this test notices before a cluster does).
#[test]
fn every_pattern_stays_within_the_api_servers_repetition_limit() {
    fn patterns(value: &Value, found: &mut Vec<String>) {
        match value {
            Value::Object(map) => {
                for (key, child) in map {
                    match (key.as_str(), child) {
                        ("pattern", Value::String(pattern)) => found.push(pattern.clone()),
                        _ => patterns(child, found),
                    }
                }
            }
            Value::Array(items) => items.iter().for_each(|item| patterns(item, found)),
            _ => {}
        }
    }
    let mut found = Vec::new();
    for crd in detective_operator::cli::crd::definitions() {
        patterns(&serde_json::to_value(&crd).unwrap(), &mut found);
    }
    assert!(found.len() >= 10, "{found:?}");
    let counts = regex::Regex::new(r"\{(\d+)(?:,(\d*))?\}").unwrap();
    for pattern in &found {
        for bounds in counts.captures_iter(pattern) {
            for bound in [bounds.get(1), bounds.get(2)].into_iter().flatten() {
                if let Ok(n) = bound.as_str().parse::<u32>() {
                    assert!(
                        n <= 1000,
                        "{pattern}: repetition {n} > 1000 is refused by the API server"
                    );
                }
            }
        }
    }
}
