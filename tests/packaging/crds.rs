//! The chart's CRD templates: crds/ wrapped in the `crds.enabled` guard, with the keep annotation.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_json::{Value, json};

use crate::helm::helm_or_skip;
use crate::rendered::of_kind;
use crate::{REGENERATE, repo, yaml_documents};

const KEEP_ANNOTATION: [&str; 4] = [
    "  {{- if .Values.crds.keep }}",
    "  annotations:",
    "    helm.sh/resource-policy: keep",
    "  {{- end }}",
];

fn crd_files() -> Vec<(String, PathBuf)> {
    let mut files: Vec<(String, PathBuf)> = std::fs::read_dir(repo("crds"))
        .expect("crds/")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .map(|p| {
            let name = p.file_name().expect("file name").to_string_lossy().into_owned();
            let short = name.strip_prefix("detective.operator.dev_").unwrap_or(&name).to_owned();
            (short, p)
        })
        .collect();
    files.sort();
    files
}

#[test]
fn chart_crd_templates_are_crds_dir_wrapped_and_annotated() {
    let templates = repo("charts/detective-operator/templates/crds");
    let mut present: Vec<String> = std::fs::read_dir(&templates)
        .expect("charts/detective-operator/templates/crds")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    present.sort();
    let expected: Vec<String> = crd_files().into_iter().map(|(short, _)| short).collect();
    assert_eq!(present, expected, "one chart template per file of crds/: {REGENERATE}");

    for (short, source) in crd_files() {
        let crd = std::fs::read_to_string(&source).expect("crds/ file");
        let template = std::fs::read_to_string(templates.join(&short)).expect("template");
        let mut lines: Vec<&str> = template.lines().collect();
        assert!(
            lines.len() > 3 && lines[0].starts_with("{{- /*") && lines[1] == "{{- if .Values.crds.enabled }}",
            "templates/crds/{short} starts with the generated-file comment and the crds.enabled guard: {REGENERATE}"
        );
        assert_eq!(
            lines.last(),
            Some(&"{{- end }}"),
            "templates/crds/{short} ends the guard"
        );
        lines.drain(..2);
        lines.pop();
        let metadata = lines.iter().position(|l| *l == "metadata:").expect("metadata:");
        assert_eq!(
            lines[metadata + 1..metadata + 1 + KEEP_ANNOTATION.len()],
            KEEP_ANNOTATION,
            "templates/crds/{short}: the keep annotation follows metadata: ({REGENERATE})"
        );
        lines.drain(metadata + 1..metadata + 1 + KEEP_ANNOTATION.len());
        let unwrapped = lines.join("\n") + "\n";
        assert!(
            unwrapped == crd,
            "templates/crds/{short} differs from crds/ (beyond the wrapper and the annotation): {REGENERATE}"
        );
    }
}

#[test]
fn chart_renders_the_crds_of_crds_dir_with_the_keep_annotation() {
    let helm = helm_or_skip!();
    let expected: Vec<Value> = crd_files()
        .iter()
        .map(|(_, path)| yaml_documents(&std::fs::read_to_string(path).expect("crds/"), "crds/")[0].clone())
        .collect();
    let objects = helm.template(&[]);
    let mut rendered: Vec<Value> = of_kind(&objects, "CustomResourceDefinition")
        .into_iter()
        .cloned()
        .collect();
    assert_eq!(rendered.len(), expected.len(), "every CRD is rendered");
    for crd in &mut rendered {
        let metadata = crd["metadata"].as_object_mut().expect("metadata");
        assert_eq!(
            metadata.remove("annotations"),
            Some(json!({"helm.sh/resource-policy": "keep"})),
            "helm uninstall keeps the CRDs"
        );
    }
    let by_name = |crds: &[Value]| -> BTreeMap<String, Value> {
        crds.iter()
            .map(|c| (c["metadata"]["name"].as_str().expect("name").to_owned(), c.clone()))
            .collect()
    };
    assert!(
        by_name(&rendered) == by_name(&expected),
        "the chart renders crds/ unchanged but for the annotation: {REGENERATE}"
    );

    let without = helm.template(&["--set", "crds.enabled=false"]);
    assert!(
        of_kind(&without, "CustomResourceDefinition").is_empty(),
        "crds.enabled=false renders no CRD"
    );
    let unkept = helm.template(&["--set", "crds.keep=false"]);
    for crd in of_kind(&unkept, "CustomResourceDefinition") {
        assert!(
            crd["metadata"]["annotations"].is_null(),
            "crds.keep=false: no keep annotation"
        );
    }
}
