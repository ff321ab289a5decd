//! `DetectiveGraphSet`: one declaration for every Region: a graph template and the Regions it
//! stands for. The operator keeps one child `DetectiveGraph` per Region, as a ReplicaSet keeps
//! its Pods.

use std::collections::BTreeMap;

use kube::{CustomResource, KubeSchema};
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Serialize};

use super::constraints::{
    CHILD_NAME_MAX_LENGTH, LABEL_VALUE_MAX_LENGTH, LABEL_VALUE_PATTERN, MAX_REGIONS, MAX_TEMPLATE_METADATA,
    QUALIFIED_NAME_PATTERN, REGION_MAX_LENGTH, REGION_PATTERN, cel_rule,
};
use super::graph::DetectiveGraphSpec;
use super::sync_status::SyncStatus;

/// Why a template's `spec.region` is refused (at admission and by the command line).
pub const TEMPLATE_REGION_MESSAGE: &str =
    "region is not set in a template: each child's Region comes from spec.regions";
/// Why a template's `spec.graphArn` is refused.
pub const TEMPLATE_GRAPH_ARN_MESSAGE: &str =
    "graphArn is not set in a template: each child adopts or creates the graph of its own Region";

/// The label each child carries: the name of the set that owns it.
pub const GRAPH_SET_LABEL: &str = "detective.operator.dev/graph-set";

/// One behavior graph per declared Region, from one template.
///
/// The operator keeps exactly one `DetectiveGraph` per Region in `regions`, named
/// `<set>-<region>`, with the template's spec and `region`, owned by the set (deleting the set
/// deletes them through the garbage collector; each child's `deletionPolicy` then applies) and
/// labelled `detective.operator.dev/graph-set: <set>`. It writes them with server-side apply: a
/// child edited by hand is put back. A `DetectiveGraph` of that name that the set does not own
/// is never taken over: the set is Stalled naming it. Its status rolls the children's up.
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "detective.operator.dev",
    version = "v1alpha1",
    kind = "DetectiveGraphSet",
    plural = "detectivegraphsets",
    singular = "detectivegraphset",
    shortname = "dgs",
    category = "detective",
    namespaced,
    doc = "A DetectiveGraphSet: one DetectiveGraph per declared Region, from one template.",
    status = "DetectiveGraphSetStatus",
    derive = "PartialEq",
    // At the root, where the name is: it names no field path, so the message names the field.
    validation = Rule::new(format!(
        "self.spec.regions.all(r, size(self.metadata.name) + 1 + size(r) <= {CHILD_NAME_MAX_LENGTH})"
    ))
    .message(Message::Message(format!("metadata.name: {}", child_name_message())))
    .reason(Reason::FieldValueInvalid),
    printcolumn = r#"{"name": "Ready", "type": "string", "description": "Regions whose graph is Ready, of those declared", "jsonPath": ".status.ready"}"#,
    printcolumn = r#"{"name": "Status", "type": "string", "priority": 1, "jsonPath": ".status.conditions[?(@.type==\"Ready\")].message"}"#,
    printcolumn = r#"{"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct DetectiveGraphSetSpec {
    /// The Regions to keep a behavior graph in, e.g. `[us-east-1, eu-west-1]`: 1 to 64, each once.
    /// One child `DetectiveGraph` per Region, named `<set>-<region>`.
    #[schemars(length(min = 1, max = MAX_REGIONS), inner(regex(pattern = REGION_PATTERN), length(max = REGION_MAX_LENGTH)))]
    #[x_kube(merge_strategy = ListMerge::Set)]
    pub regions: Vec<String>,

    /// What removing a Region from `regions` does to its child: `Retain` (default) leaves it,
    /// no longer owned by the set (owner reference and label removed), so nothing changes in
    /// AWS; `Delete` deletes it, and its own `deletionPolicy` applies.
    #[serde(default)]
    pub region_removal: RegionRemoval,

    /// What every child is made of.
    pub template: GraphTemplate,
}

/// A child `DetectiveGraph` as the set declares it.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[x_kube(
    validation = cel_rule("!has(self.spec.region)", TEMPLATE_REGION_MESSAGE, ".spec.region", Reason::FieldValueForbidden),
    validation = cel_rule("!has(self.spec.graphArn)", TEMPLATE_GRAPH_ARN_MESSAGE, ".spec.graphArn", Reason::FieldValueForbidden),
)]
#[serde(rename_all = "camelCase")]
pub struct GraphTemplate {
    /// Labels and annotations of every child.
    #[serde(default)]
    pub metadata: TemplateMetadata,

    /// The `DetectiveGraph` spec of every child, without `region` and `graphArn`; the same rules
    /// apply as to a `DetectiveGraph`.
    pub spec: DetectiveGraphSpec,
}

/// The metadata every child carries besides what the set writes (its name, owner reference and
/// the `detective.operator.dev/graph-set` label, which wins over a template label of that key).
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct TemplateMetadata {
    /// Labels of every child (keys and values as Kubernetes labels take them).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schemars(schema_with = "labels_schema")]
    pub labels: BTreeMap<String, String>,

    /// Annotations of every child.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schemars(schema_with = "annotations_schema")]
    pub annotations: BTreeMap<String, String>,
}

/// What removing a Region from `regions` does to its child.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RegionRemoval {
    /// Leave the child, no longer owned by the set: nothing changes in AWS.
    #[default]
    Retain,
    /// Delete the child; its own `deletionPolicy` applies.
    Delete,
}

/// What the operator last saw of the children.
#[serde_with::skip_serializing_none]
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
#[schemars(transform = SyncStatus::described(
    "kstatus conditions over every Region: `Ready` (every child Ready for its current generation), `Reconciling`, `Stalled` (a child Stalled, or a name taken by another resource).",
    "When the children were last written and read."
))]
pub struct DetectiveGraphSetStatus {
    #[serde(flatten)]
    pub sync: SyncStatus,

    /// One entry per declared Region: its child and how it stands.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[x_kube(merge_strategy = ListMerge::Map(vec!["region".into()]))]
    pub regions: Vec<RegionGraph>,

    /// Declared Regions whose child is Ready for its current generation.
    #[serde(default)]
    pub ready_regions: i32,

    /// Regions in `spec.regions`.
    #[serde(default)]
    pub declared_regions: i32,

    /// `readyRegions/declaredRegions`, as `kubectl get dgs` shows it (e.g. `4/5`).
    pub ready: Option<String>,
}

/// One Region's child, as its own status reports it.
#[serde_with::skip_serializing_none]
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct RegionGraph {
    pub region: String,
    /// The child `DetectiveGraph`'s name.
    pub name: String,
    /// Whether the child is Ready for its current generation.
    pub ready: bool,
    /// The child's Stalled reason (or `ChildConflict`: the name is taken by a resource the set
    /// does not own), when it is stalled.
    pub stalled_reason: Option<String>,
    /// Why the Region is not Ready, when it is not.
    pub message: Option<String>,
    /// The child's behavior graph.
    pub graph_arn: Option<String>,
    /// Members declared (`status.summary.desired` of the child).
    pub desired: Option<i32>,
    /// Members contributing data.
    pub enabled: Option<i32>,
    /// Members on their way: invited, being verified, or accepted but not enabled yet.
    pub pending: Option<i32>,
    /// Members that failed verification.
    pub failed: Option<i32>,
}

/// Label keys and values as the API server takes them; one CEL rule for the keys (a map's keys
/// have no schema of their own).
fn labels_schema(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "object",
        "maxProperties": MAX_TEMPLATE_METADATA,
        "additionalProperties": {
            "type": "string",
            "pattern": LABEL_VALUE_PATTERN,
            "maxLength": LABEL_VALUE_MAX_LENGTH,
        },
        "x-kubernetes-validations": [qualified_name_keys("label")],
    })
}

fn annotations_schema(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "object",
        "maxProperties": MAX_TEMPLATE_METADATA,
        "additionalProperties": { "type": "string" },
        "x-kubernetes-validations": [qualified_name_keys("annotation")],
    })
}

fn qualified_name_keys(what: &str) -> serde_json::Value {
    serde_json::json!({
        "rule": format!("self.all(k, k.matches('{QUALIFIED_NAME_PATTERN}'))"),
        "message": format!("{what} keys must be qualified names matching {QUALIFIED_NAME_PATTERN}"),
    })
}

impl DetectiveGraphSet {
    /// `namespace/name`, for logs and messages.
    pub fn key(&self) -> String {
        super::key_of(&self.metadata)
    }

    /// The name of the child in `region`.
    pub fn child_name(&self, region: &str) -> String {
        child_name(self.metadata.name.as_deref().unwrap_or_default(), region)
    }
}

/// Why a set's name is refused when a child's name would be too long (the API server's message
/// and the command line's).
pub fn child_name_message() -> String {
    format!("the set's name, '-' and each Region form its children's names, at most {CHILD_NAME_MAX_LENGTH} characters")
}

/// The name of set `set`'s child in `region`: `<set>-<region>`.
pub fn child_name(set: &str, region: &str) -> String {
    format!("{set}-{region}")
}
