//! The install guide (docs/install.md) against the chart's values.

use serde_json::Value;

use crate::{json_file, read, yaml_documents};

/// Every leaf key of values.yaml (maps are descended into; lists are leaves).
fn value_keys(prefix: &str, value: &Value, out: &mut Vec<String>) {
    match value.as_object() {
        Some(map) if !map.is_empty() && !prefix.ends_with("resources") && !prefix.ends_with("ecurityContext") => {
            for (key, child) in map {
                let path = if prefix.is_empty() {
                    key.clone()
                } else {
                    format!("{prefix}.{key}")
                };
                value_keys(&path, child, out);
            }
        }
        _ => out.push(prefix.to_owned()),
    }
}

#[test]
fn install_guide_documents_every_value() {
    let values = &yaml_documents(&read("charts/detective-operator/values.yaml"), "values.yaml")[0];
    let mut keys = Vec::new();
    value_keys("", values, &mut keys);
    let guide = read("docs/install.md");
    let missing: Vec<&String> = keys.iter().filter(|k| !guide.contains(&format!("`{k}`"))).collect();
    assert!(missing.is_empty(), "docs/install.md's values table lacks {missing:?}");
    // And the schema knows every top-level key (additionalProperties: false would refuse it).
    let schema = json_file("charts/detective-operator/values.schema.json");
    assert_eq!(schema["additionalProperties"], false);
    for key in values.as_object().expect("values").keys() {
        assert!(
            schema["properties"][key].is_object(),
            "values.schema.json describes {key}"
        );
    }
}
