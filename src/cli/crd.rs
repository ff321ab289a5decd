//! `detective-operator crd`: the CustomResourceDefinitions, generated from the Rust types.
//!
//! `crds/` holds this output, checked in; `tests/crd_drift.rs` fails when the two differ.

use std::path::Path;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::CustomResourceExt;

use crate::api::{DetectiveGraph, DetectiveGraphSet, DetectiveMembership, DetectiveOrganizationAdmin};

/// Every CRD of the operator.
pub fn definitions() -> Vec<CustomResourceDefinition> {
    vec![
        DetectiveGraph::crd(),
        DetectiveGraphSet::crd(),
        DetectiveMembership::crd(),
        DetectiveOrganizationAdmin::crd(),
    ]
}

/// The file name of a CRD under `crds/`, as `controller-gen` names them: `<group>_<plural>.yaml`.
pub fn file_name(crd: &CustomResourceDefinition) -> String {
    format!("{}_{}.yaml", crd.spec.group, crd.spec.names.plural)
}

/// One CRD as a YAML document.
pub fn to_yaml(crd: &CustomResourceDefinition) -> String {
    serde_saphyr::to_string(crd).expect("a CRD serializes to YAML")
}

/// Every CRD as multi-document YAML, for `kubectl apply -f -`.
pub fn render() -> String {
    definitions()
        .iter()
        .map(|crd| format!("---\n{}", to_yaml(crd)))
        .collect()
}

/// Writes each CRD into `dir` (how `crds/` is regenerated).
pub fn write_all(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    for crd in definitions() {
        std::fs::write(dir.join(file_name(&crd)), to_yaml(&crd))?;
    }
    Ok(())
}

/// `detective-operator crd [--output-dir DIR]`.
pub fn run(args: &super::CrdArgs) -> std::process::ExitCode {
    match &args.output_dir {
        Some(dir) => match write_all(dir) {
            Ok(()) => std::process::ExitCode::SUCCESS,
            Err(error) => {
                eprintln!("error: writing CRDs into {}: {error}", dir.display());
                std::process::ExitCode::FAILURE
            }
        },
        None => {
            print!("{}", render());
            std::process::ExitCode::SUCCESS
        }
    }
}
