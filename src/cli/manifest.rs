//! Reading `DetectiveGraph`, `DetectiveGraphSet` and `DetectiveOrganizationAdmin` documents from
//! files, directories or stdin, as `kubectl apply -f` does. A `DetectiveGraphSet` is read as the
//! graphs it stands for: one per Region, named and declared as the controller makes its children.
//!
//! Every document is parsed and validated before anything else happens, so a malformed input
//! makes no AWS call. A document may carry a `status` (e.g. `kubectl get dg NAME -o yaml`): its
//! graph ARN and inventory are then used, exactly as the controller would.

use std::io::Read;
use std::path::{Path, PathBuf};

use kube::CustomResourceExt;
use serde::de::DeserializeOwned;

use crate::api::validation::FieldErrors;
use crate::api::{DetectiveGraph, DetectiveGraphSet, DetectiveOrganizationAdmin, GROUP, key_of};
use crate::engine::graph_set::child_graphs;

/// Where a document came from, for messages: `examples/graph.yaml, document 2 (security/org)`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Origin {
    pub file: String,
    /// 1-based position among the file's documents.
    pub document: usize,
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}, document {}", self.file, self.document)
    }
}

/// A parsed and validated `DetectiveGraph` (or one Region's graph of a `DetectiveGraphSet`).
#[derive(Clone, Debug)]
pub struct GraphDocument {
    pub origin: Origin,
    pub graph: DetectiveGraph,
}

/// A parsed and validated `DetectiveOrganizationAdmin`.
#[derive(Clone, Debug)]
pub struct OrganizationAdminDocument {
    pub origin: Origin,
    pub admin: DetectiveOrganizationAdmin,
}

/// Every document the commands act on, and the ones of other kinds they skip.
#[derive(Clone, Debug, Default)]
pub struct Manifests {
    pub graphs: Vec<GraphDocument>,
    pub organization_admins: Vec<OrganizationAdminDocument>,
    /// `origin: kind apiVersion` of each skipped document.
    pub skipped: Vec<String>,
}

impl Manifests {
    /// One warning per declared Region that Detective is not known to be in (admission does not
    /// refuse them: a Region added after this release must work), naming the document.
    pub fn unknown_region_warnings(&self) -> Vec<String> {
        let graphs = self
            .graphs
            .iter()
            .filter_map(|d| d.graph.spec.region.as_deref().map(|region| (&d.origin, region)));
        let admins = self.organization_admins.iter().flat_map(|d| {
            d.admin
                .spec
                .regions
                .iter()
                .map(move |region| (&d.origin, region.as_str()))
        });
        graphs
            .chain(admins)
            .filter(|(_, region)| !crate::aws::regions::has_detective(region))
            .map(|(origin, region)| {
                format!(
                    "{origin}: {region} is not a Region Amazon Detective is known to be in ({}); \
                     its calls will fail unless Detective has arrived there since",
                    crate::aws::regions::DETECTIVE_REGIONS.join(", ")
                )
            })
            .collect()
    }
}

impl GraphDocument {
    /// Whether the resource uses `spec.organization` or `spec.membersFrom`.
    pub fn uses_organization(&self) -> bool {
        self.graph.spec.organization.is_some() || self.graph.spec.members_from.is_some()
    }
}

impl Manifests {
    /// Whether a graph uses `spec.organization` or `spec.membersFrom` (the embedded emulator's
    /// management account then runs the demo's `DetectiveOrganizationAdmin` first).
    pub fn use_organization(&self) -> bool {
        self.graphs.iter().any(GraphDocument::uses_organization)
    }
}

/// Why the input could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error("{file}: {source}")]
    Read { file: String, source: std::io::Error },
    #[error("{file}: not valid YAML: {message}")]
    Yaml { file: String, message: String },
    #[error("{origin}: {message}")]
    Invalid { origin: Origin, message: String },
    #[error("no DetectiveGraph, DetectiveGraphSet or DetectiveOrganizationAdmin document found in {0}")]
    Empty(String),
}

/// Reads every `DetectiveGraph`, `DetectiveGraphSet` (as its Regions' graphs) and
/// `DetectiveOrganizationAdmin` in `inputs` (files, directories of `.yaml`/`.yml`/`.json`, `-`).
/// Documents of other kinds are skipped and listed.
pub fn read_manifests(inputs: &[PathBuf]) -> Result<Manifests, ManifestError> {
    let mut manifests = Manifests::default();
    for file in expand(inputs)? {
        let (name, text) = if file == Path::new("-") {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .map_err(|source| ManifestError::Read {
                    file: "stdin".into(),
                    source,
                })?;
            ("stdin".to_owned(), text)
        } else {
            let name = file.display().to_string();
            let text = std::fs::read_to_string(&file).map_err(|source| ManifestError::Read {
                file: name.clone(),
                source,
            })?;
            (name, text)
        };
        parse_documents(&name, &text, &mut manifests)?;
    }
    if manifests.graphs.is_empty() && manifests.organization_admins.is_empty() {
        let names: Vec<String> = inputs.iter().map(|p| p.display().to_string()).collect();
        return Err(ManifestError::Empty(names.join(", ")));
    }
    Ok(manifests)
}

fn expand(inputs: &[PathBuf]) -> Result<Vec<PathBuf>, ManifestError> {
    let mut files = Vec::new();
    for input in inputs {
        if input.is_dir() {
            let entries = std::fs::read_dir(input).map_err(|source| ManifestError::Read {
                file: input.display().to_string(),
                source,
            })?;
            let mut found: Vec<PathBuf> = entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| {
                    p.is_file()
                        && p.extension()
                            .and_then(|e| e.to_str())
                            .is_some_and(|e| matches!(e, "yaml" | "yml" | "json"))
                })
                .collect();
            found.sort();
            files.extend(found);
        } else {
            files.push(input.clone());
        }
    }
    Ok(files)
}

/// Parses one file's documents into `manifests`.
pub fn parse_documents(file: &str, text: &str, manifests: &mut Manifests) -> Result<(), ManifestError> {
    let documents: Vec<serde_json::Value> = serde_saphyr::from_multiple(text).map_err(|e| ManifestError::Yaml {
        file: file.to_owned(),
        message: e.to_string(),
    })?;
    for (index, document) in documents.into_iter().enumerate() {
        let origin = Origin {
            file: file.to_owned(),
            document: index + 1,
        };
        if document.is_null() {
            continue;
        }
        let api_version = document.get("apiVersion").and_then(|v| v.as_str()).unwrap_or_default();
        let kind = document.get("kind").and_then(|v| v.as_str()).unwrap_or_default();
        let invalid = |error: DocumentError| ManifestError::Invalid {
            origin: origin.clone(),
            message: error.to_string(),
        };
        if !api_version.starts_with(&format!("{GROUP}/")) {
            manifests.skipped.push(format!("{origin}: {kind} {api_version}"));
            continue;
        }
        match kind {
            "DetectiveGraph" => {
                let graph = graph_from_document(document).map_err(invalid)?;
                manifests.graphs.push(GraphDocument { origin, graph });
            }
            "DetectiveGraphSet" => {
                let set = graph_set_from_document(document).map_err(invalid)?;
                manifests
                    .graphs
                    .extend(child_graphs(&set).into_iter().map(|graph| GraphDocument {
                        origin: origin.clone(),
                        graph,
                    }));
            }
            "DetectiveOrganizationAdmin" => {
                let admin = organization_admin_from_document(document).map_err(invalid)?;
                manifests
                    .organization_admins
                    .push(OrganizationAdminDocument { origin, admin });
            }
            _ => manifests.skipped.push(format!("{origin}: {kind} {api_version}")),
        }
    }
    Ok(())
}

/// Why a `DetectiveGraph` document is refused; [`DocumentError::fields`] names the fields.
#[derive(Debug, thiserror::Error)]
pub enum DocumentError {
    #[error("apiVersion: {0:?} is not served; use {GROUP}/{VERSION}", VERSION = crate::api::VERSION)]
    Version(String),
    #[error("{0}: unknown field (kubectl apply refuses it too; check the spelling)")]
    UnknownField(String),
    #[error("{}", describe_serde_error(.0))]
    Malformed(#[source] serde_path_to_error::Error<serde_json::Error>),
    #[error("metadata.name: required")]
    MissingName,
    #[error("{key} ({errors})")]
    Fields {
        key: String,
        #[source]
        errors: FieldErrors,
    },
}

impl DocumentError {
    /// The paths of the refused fields, as `spec.members[3].accountId`. A missing required
    /// field is named by its own path (serde names the object that lacks it).
    pub fn fields(&self) -> Vec<String> {
        match self {
            Self::Version(_) => vec!["apiVersion".into()],
            Self::UnknownField(field) => vec![field.clone()],
            Self::Malformed(error) => {
                let path = error.path().to_string();
                let message = error.inner().to_string();
                let missing = message
                    .strip_prefix("missing field `")
                    .and_then(|rest| rest.split('`').next());
                match missing {
                    Some(field) if path == "." || path.is_empty() => vec![field.to_owned()],
                    Some(field) => vec![format!("{path}.{field}")],
                    None => vec![path],
                }
            }
            Self::MissingName => vec!["metadata.name".into()],
            Self::Fields { errors, .. } => errors.0.iter().map(|e| e.field.clone()).collect(),
        }
    }
}

/// One document (of kind `DetectiveGraph`) as `plan -f`/`sync -f` accept it: served version, no
/// unknown field, well-typed, named, and every field constraint of the CRD met.
pub fn graph_from_document(document: serde_json::Value) -> Result<DetectiveGraph, DocumentError> {
    resource_from_document(document, |graph: &DetectiveGraph| graph.spec.validate())
}

/// One `DetectiveGraphSet` document, checked as [`graph_from_document`] checks a graph: its
/// template's spec by the graph's rules, its fields named `spec.template.spec.*`.
pub fn graph_set_from_document(document: serde_json::Value) -> Result<DetectiveGraphSet, DocumentError> {
    resource_from_document(document, DetectiveGraphSet::validate)
}

/// One `DetectiveOrganizationAdmin` document, checked as [`graph_from_document`] checks a graph.
pub fn organization_admin_from_document(
    document: serde_json::Value,
) -> Result<DetectiveOrganizationAdmin, DocumentError> {
    resource_from_document(document, |admin: &DetectiveOrganizationAdmin| admin.spec.validate())
}

/// A document of kind `K`: served version, no field `K`'s CRD does not declare, well-typed,
/// named, and `validate` passed.
fn resource_from_document<K>(
    document: serde_json::Value,
    validate: impl Fn(&K) -> Result<(), FieldErrors>,
) -> Result<K, DocumentError>
where
    K: CustomResourceExt + DeserializeOwned + kube::Resource,
{
    let api_version = document.get("apiVersion").and_then(|v| v.as_str()).unwrap_or_default();
    if api_version != format!("{GROUP}/{}", crate::api::VERSION) {
        return Err(DocumentError::Version(api_version.to_owned()));
    }
    if let Some(field) = first_unknown_field::<K>(&document) {
        return Err(DocumentError::UnknownField(field));
    }
    let mut document = document;
    drop_nulls(&mut document);
    let resource: K = serde_path_to_error::deserialize(document).map_err(DocumentError::Malformed)?;
    if resource.meta().name.as_deref().unwrap_or_default().is_empty() {
        return Err(DocumentError::MissingName);
    }
    validate(&resource).map_err(|errors| DocumentError::Fields {
        key: key_of(resource.meta()),
        errors,
    })?;
    Ok(resource)
}

/// Removes every `field: null` from `document`'s objects, as the API server does before defaulting
/// (none of the schema's fields is nullable): `suspend: null` means "the default", not an error.
pub fn drop_nulls(document: &mut serde_json::Value) {
    match document {
        serde_json::Value::Object(object) => {
            object.retain(|_, value| !value.is_null());
            object.values_mut().for_each(drop_nulls);
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(drop_nulls),
        _ => {}
    }
}

/// The first field of `document` that `K`'s CRD schema does not declare, as `spec.pruningMode`.
/// (serde ignores unknown fields; the API server's strict field validation does not.)
fn first_unknown_field<K: CustomResourceExt>(document: &serde_json::Value) -> Option<String> {
    let crd = K::crd();
    let schema = crd.spec.versions[0]
        .schema
        .as_ref()
        .and_then(|s| s.open_api_v3_schema.as_ref())
        .map(|s| serde_json::to_value(s).unwrap_or_default())?;
    let mut body = document.clone();
    if let Some(object) = body.as_object_mut() {
        // Metadata has its own schema in the API server; apiVersion and kind are checked above.
        for key in ["apiVersion", "kind", "metadata"] {
            object.remove(key);
        }
    }
    unknown_in(&body, &schema, "")
}

fn unknown_in(value: &serde_json::Value, schema: &serde_json::Value, path: &str) -> Option<String> {
    let join = |key: &str| {
        if path.is_empty() {
            key.to_owned()
        } else {
            format!("{path}.{key}")
        }
    };
    match value {
        serde_json::Value::Object(object) => {
            if let Some(properties) = schema.get("properties").and_then(|p| p.as_object()) {
                for (key, child) in object {
                    match properties.get(key) {
                        Some(child_schema) => {
                            if let Some(found) = unknown_in(child, child_schema, &join(key)) {
                                return Some(found);
                            }
                        }
                        None => return Some(join(key)),
                    }
                }
            } else if let Some(values) = schema.get("additionalProperties") {
                for (key, child) in object {
                    if let Some(found) = unknown_in(child, values, &format!("{path}[{key}]")) {
                        return Some(found);
                    }
                }
            }
            None
        }
        serde_json::Value::Array(items) => {
            let item_schema = schema.get("items")?;
            items
                .iter()
                .enumerate()
                .find_map(|(i, item)| unknown_in(item, item_schema, &format!("{path}[{i}]")))
        }
        _ => None,
    }
}

fn describe_serde_error(error: &serde_path_to_error::Error<serde_json::Error>) -> String {
    let path = error.path().to_string();
    // serde_path_to_error names the failing field itself; keep its message but drop serde_json's
    // position suffix, which refers to the converted document rather than the file.
    let message = error.inner().to_string();
    let message = message.split(" at line ").next().unwrap_or(&message).to_owned();
    if path.is_empty() || path == "." {
        message
    } else {
        format!("{path}: {message}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Vec<GraphDocument>, ManifestError> {
        let mut manifests = Manifests::default();
        parse_documents("graph.yaml", text, &mut manifests).map(|_| manifests.graphs)
    }

    const GOOD: &str = "apiVersion: detective.operator.dev/v1alpha1
kind: DetectiveGraph
metadata: {name: org, namespace: security}
spec:
  region: us-east-1
  members:
    - {accountId: '111111111111', emailAddress: a@example.com}
";

    #[test]
    fn reads_multiple_documents_and_skips_other_kinds() {
        let text = format!("{GOOD}---\napiVersion: v1\nkind: ConfigMap\nmetadata: {{name: x}}\n---\n{GOOD}");
        let mut manifests = Manifests::default();
        parse_documents("all.yaml", &text, &mut manifests).unwrap();
        let graphs = &manifests.graphs;
        assert_eq!(graphs.len(), 2);
        assert_eq!(graphs[1].origin.document, 3);
        assert_eq!(manifests.skipped.len(), 1);
        assert_eq!(graphs[0].graph.spec.deletion_guard.max_deletions, 10, "defaults apply");
    }

    #[test]
    fn a_bad_field_is_named_with_file_and_document() {
        let text = format!("{GOOD}---\n{}", GOOD.replace("'111111111111'", "'12'"));
        let error = parse(&text).unwrap_err().to_string();
        assert!(error.contains("graph.yaml, document 2"), "{error}");
        assert!(error.contains("spec.members[0].accountId"), "{error}");
    }

    /// A spec edit and the path its refusal names: a wrong type, unknown fields (at the top and
    /// nested), an unknown enum value.
    #[test]
    fn a_refused_field_is_named_by_its_path() {
        let cases = [
            (
                "region: us-east-1",
                "region: us-east-1\n  deletionGuard: {maxDeletions: lots}",
                "spec.deletionGuard.maxDeletions",
            ),
            (
                "region: us-east-1",
                "region: us-east-1\n  prunning: Disabled",
                "spec.prunning: unknown field",
            ),
            (
                "emailAddress: a@example.com",
                "emailAddress: a@example.com, email: x",
                "spec.members[0].email: unknown field",
            ),
            (
                "region: us-east-1",
                "region: us-east-1\n  pruning: Aggressive",
                "spec.pruning",
            ),
            (
                "region: us-east-1",
                "region: us-east-1\n  externalID: x",
                "spec.externalID: unknown field",
            ),
        ];
        refuses_each_edit(GOOD, &cases);
    }

    /// Each edit `(from, to)` of `document` is refused with a message containing the third.
    fn refuses_each_edit(document: &str, edits: &[(&str, &str, &str)]) {
        for (from, to, says) in edits {
            let text = document.replace(from, to);
            assert_ne!(text, document, "the edit {to:?} applies");
            let error = parse(&text).unwrap_err().to_string();
            assert!(error.contains(says), "{to:?}: {error}");
        }
    }

    #[test]
    fn organization_admins_are_read_and_checked_by_their_own_schema() {
        let admin = "apiVersion: detective.operator.dev/v1alpha1
kind: DetectiveOrganizationAdmin
metadata: {name: org, namespace: security}
spec: {accountId: '111111111111', regions: [us-east-1, eu-west-1]}
";
        let mut manifests = Manifests::default();
        parse_documents("admin.yaml", &format!("{GOOD}---\n{admin}"), &mut manifests).unwrap();
        assert_eq!((manifests.graphs.len(), manifests.organization_admins.len()), (1, 1));
        assert_eq!(
            manifests.organization_admins[0].admin.spec.resync_interval.as_str(),
            "5m",
            "defaults apply"
        );
        for (bad, field) in [
            ("regions: [us-east-1, us-east-1]", "spec.regions[1]"),
            ("regions: [us-east-1], members: []", "spec.members: unknown field"),
        ] {
            let text = admin.replace("regions: [us-east-1, eu-west-1]", bad);
            let error = parse_documents("admin.yaml", &text, &mut Manifests::default())
                .unwrap_err()
                .to_string();
            assert!(
                error.contains("admin.yaml, document 1") && error.contains(field),
                "{error}"
            );
        }
    }

    #[test]
    fn a_graph_set_is_read_as_one_graph_per_region() {
        let set = "apiVersion: detective.operator.dev/v1alpha1
kind: DetectiveGraphSet
metadata: {name: org, namespace: security}
spec:
  regions: [us-east-1, eu-west-1]
  template:
    metadata: {labels: {team: security}}
    spec:
      members:
        - {accountId: '111111111111', emailAddress: a@example.com}
";
        let graphs = parse(set).unwrap();
        let read: Vec<(String, Option<String>, usize)> = graphs
            .iter()
            .map(|d| (d.graph.key(), d.graph.spec.region.clone(), d.graph.spec.members.len()))
            .collect();
        assert_eq!(
            read,
            [
                ("security/org-us-east-1".to_owned(), Some("us-east-1".to_owned()), 1),
                ("security/org-eu-west-1".to_owned(), Some("eu-west-1".to_owned()), 1),
            ]
        );
        assert_eq!(graphs[1].origin.document, 1);
        let cases = [
            (
                "    spec:\n",
                "    spec:\n      region: us-east-1\n",
                "spec.template.spec.region: region is not set in a template",
            ),
            (
                "    spec:\n",
                "    spec:\n      resyncInterval: 25h\n",
                "spec.template.spec.resyncInterval: \"25h\" must be at most 24h",
            ),
            (
                "regions: [us-east-1, eu-west-1]",
                "regions: [us-east-1, us-east-1]",
                "spec.regions[1]: duplicate Region",
            ),
        ];
        refuses_each_edit(set, &cases);
        // A child's name is at most 63 characters: 53 + '-' + `us-east-1`, not one more.
        let named = |length: usize| set.replace("name: org,", &format!("name: {},", "o".repeat(length)));
        assert!(parse(&named(53)).is_ok());
        let error = parse(&named(54)).unwrap_err().to_string();
        assert!(error.contains("metadata.name: the set's name"), "{error}");
    }

    #[test]
    fn a_null_field_means_its_default_as_in_the_api_server() {
        let text = GOOD.replace(
            "region: us-east-1",
            "region: us-east-1\n  suspend: null\n  deletionGuard: {maxDeletions: null}",
        );
        let graphs = parse(&text).unwrap();
        assert!(!graphs[0].graph.spec.suspend);
        assert_eq!(graphs[0].graph.spec.deletion_guard.max_deletions, 10);
    }
}
