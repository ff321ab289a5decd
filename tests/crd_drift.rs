//! `crds/` is generated from the Rust types and checked in; this fails when the two differ.
//! Regenerate with `cargo run -- crd --output-dir crds`.

use std::collections::BTreeSet;
use std::path::Path;

use detective_operator::cli::crd;

#[test]
fn checked_in_crds_match_the_rust_types() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("crds");
    let mut expected_files = BTreeSet::new();
    for definition in crd::definitions() {
        let name = crd::file_name(&definition);
        let generated = crd::to_yaml(&definition);
        let checked_in = std::fs::read_to_string(dir.join(&name))
            .unwrap_or_else(|e| panic!("crds/{name} is missing ({e}): run `cargo run -- crd --output-dir crds`"));
        assert!(
            checked_in == generated,
            "crds/{name} differs from the Rust types: run `cargo run -- crd --output-dir crds` and commit the result"
        );
        expected_files.insert(name);
    }
    let present: BTreeSet<String> = std::fs::read_dir(&dir)
        .expect("crds/ exists")
        .map(|e| e.expect("readable entry").file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(present, expected_files, "crds/ holds exactly the generated CRDs");
}

#[test]
fn crd_command_prints_every_crd_as_multi_document_yaml() {
    let rendered = crd::render();
    let documents: Vec<serde_json::Value> = serde_saphyr::from_multiple(&rendered).expect("valid YAML");
    let names: Vec<&str> = documents
        .iter()
        .filter_map(|d| d.pointer("/metadata/name").and_then(|n| n.as_str()))
        .collect();
    assert_eq!(
        names,
        vec![
            "detectivegraphs.detective.operator.dev",
            "detectivegraphsets.detective.operator.dev",
            "detectivememberships.detective.operator.dev",
            "detectiveorganizationadmins.detective.operator.dev"
        ]
    );
}
