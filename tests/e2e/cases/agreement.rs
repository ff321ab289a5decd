//! The CLI and the API server agree on every input.
//!
//! `plan -f`/`sync -f` validate a document in Rust ([`graph_from_document`],
//! [`organization_admin_from_document`]); the cluster validates it with the CRD's OpenAPI schema
//! and CEL rules. This case generates specs of every kind the operator serves around every
//! constraint's edges (lengths, patterns, list sizes, sets, enums, types, nulls, cross-field
//! rules), sends each to the real API server as a server-side dry-run create with strict field
//! validation, runs the Rust validation on the same document, and fails on any disagreement.
//!
//! The kinds are a table ([`subjects`]): one entry per kind, with its generator and its Rust
//! check. [`every_kind_and_every_spec_field_is_generated`] fails when a kind of the operator has
//! no entry, or when a field of a kind's schema is never generated; the e2e case fails when a
//! field is never refused by the API server (the generator does not reach its edges).
//!
//! What "names the same field" means: both sides name fields by their path from the object's
//! root, `spec.members[3].accountId`, with map entries written `spec.tags[key]` (the API server
//! writes `spec.tags.key` for a map value; that is rewritten). The API server reports every
//! violated constraint; the Rust validation too, except when the document does not even
//! deserialize (a wrong type, an unknown enum value or field, a missing required field), where
//! serde stops at the first; and except when the API server leaves rules unchecked because the
//! object already broke the schema (it says so in a cause of its own, field `<nil>`). So: when
//! both report everything, the two sets of fields must be equal; when the Rust side refuses while
//! deserializing, its one field must be among the API server's; when the API server left rules
//! unchecked, its fields must be among the Rust side's. A `field: null` is dropped before the Rust
//! side reads the document, as the API server drops it.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::RangeInclusive;

use futures::StreamExt;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::CustomResourceExt;
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use serde_json::{Map, Value, json};

use detective_operator::api::{
    DetectiveGraph, DetectiveGraphSet, DetectiveMembership, DetectiveOrganizationAdmin, GROUP, VERSION,
};
use detective_operator::cli::crd::definitions;
use detective_operator::cli::manifest::{
    DocumentError, drop_nulls, graph_from_document, graph_set_from_document, organization_admin_from_document,
};

use crate::harness::Env;

/// Fixed, so that CI sends the same inputs on every run.
const SEED: [u8; 32] = *b"detective-operator-agreement-v01";
/// Requests in flight at once.
const IN_FLIGHT: usize = 16;

const HEX32: &str = "0123456789abcdef0123456789abcdef";

fn graph_arn(partition: &str, region: &str) -> String {
    format!("arn:{partition}:detective:{region}:123456789012:graph:{HEX32}")
}

/// A Region name of exactly `length` characters that matches the Region pattern.
fn long_region(length: usize) -> String {
    format!("us-{}-1", "a".repeat(length - 5))
}

fn strings(values: impl IntoIterator<Item = String>) -> Vec<Value> {
    values.into_iter().map(Value::String).collect()
}

/// One of `values`.
fn pick(values: Vec<Value>) -> BoxedStrategy<Value> {
    proptest::sample::select(values).boxed()
}

/// Absent (`None`) for a quarter of the inputs, else a value of `field`.
fn optional(field: BoxedStrategy<Value>) -> BoxedStrategy<Option<Value>> {
    prop_oneof![1 => Just(None), 3 => field.prop_map(Some)].boxed()
}

/// Mostly `usual` values, sometimes one from the `edges`.
fn around(usual: Vec<Value>, edges: Vec<Value>) -> BoxedStrategy<Value> {
    prop_oneof![6 => pick(usual), 1 => pick(edges)].boxed()
}

/// A text of at most `limit` characters: mostly `usual`, sometimes the empty text, text at and one
/// past the limit (in one- and in two-byte characters), null, or one of the `more` edges.
fn text_up_to(limit: usize, usual: &str, more: &[&str]) -> BoxedStrategy<Value> {
    let mut edges = vec![json!(""), json!(null)];
    for c in ["a", "é"] {
        edges.extend([json!(c.repeat(limit)), json!(c.repeat(limit + 1))]);
    }
    edges.extend(more.iter().map(|edge| json!(edge)));
    around(vec![json!(usual)], edges)
}

fn region() -> BoxedStrategy<Value> {
    around(
        strings(["us-east-1", "eu-west-1", "us-gov-west-1"].map(String::from)),
        region_edges(),
    )
}

fn graph_arn_value() -> BoxedStrategy<Value> {
    // The ARN is 70 characters plus its Region; a 58-character Region makes it 128 (the limit).
    around(
        strings([
            graph_arn("aws", "us-east-1"),
            graph_arn("aws", "eu-west-1"),
            graph_arn("aws-us-gov", "us-gov-west-1"),
        ]),
        strings([
            graph_arn("aws", "US-EAST-1"),
            graph_arn("aws-cn", "cn-north-1"),
            graph_arn("aws-abcdefghijk", "us-east-1"),
            graph_arn("aws", &long_region(58)),
            graph_arn("aws", &long_region(59)),
            graph_arn("aws", "us-east-1").to_uppercase(),
            graph_arn("aws", "us-east-1").replace(HEX32, &HEX32[1..]),
            graph_arn("aws", "us-east-1").replace("123456789012", "12345678901"),
            graph_arn("aws", "us-east-1").replace(":graph:", ":graphs:"),
            String::new(),
        ]),
    )
}

fn role_arn() -> BoxedStrategy<Value> {
    let role = |name: &str| format!("arn:aws:iam::123456789012:role/{name}");
    around(
        strings([role("detective-admin"), role("path/to/admin")]),
        strings([
            role(&"a".repeat(512)),
            role(&"a".repeat(513)),
            role(""),
            role("a b"),
            "arn:aws:iam::123456789012:user/x".into(),
            "arn:aws:iam::12345678901:role/x".into(),
            "arn:aws-us-gov:iam::123456789012:role/x".into(),
        ]),
    )
}

fn external_id() -> BoxedStrategy<Value> {
    around(
        strings(["ext-1", "a1:b/c=d"].map(String::from)),
        strings([
            "ab".into(),
            "a".into(),
            String::new(),
            "a b".into(),
            "é1".into(),
            "a".repeat(1224),
            "a".repeat(1225),
        ]),
    )
}

fn resync_interval() -> BoxedStrategy<Value> {
    around(
        strings(["5m", "30s", "1h30m"].map(String::from)),
        strings(
            [
                "500ms",
                "0s",
                "1m1m",
                "5",
                "5 m",
                "",
                "1d",
                "1.5h",
                "-5m",
                "5M",
                "4294967295s",
                "4294967296s",
                "2562047h",
                "9999999999h",
            ]
            .map(String::from)
            .into_iter()
            .chain([format!("{}ms", "0".repeat(30)), format!("{}ms", "0".repeat(31))]),
        ),
    )
}

fn boolean() -> BoxedStrategy<Value> {
    around(
        vec![json!(true), json!(false)],
        vec![json!("true"), json!(null), json!(1)],
    )
}

fn account_id() -> BoxedStrategy<Value> {
    prop_oneof![
        8 => "[0-9]{12}".prop_map(Value::String),
        1 => pick(vec![
            json!("12345678901"),
            json!("1234567890123"),
            json!("000000000000"),
            json!("12345678901a"),
            json!(" 123456789012"),
            json!("123456789012\n"),
            json!(""),
            json!("１２３４５６７８９０１２"),
            json!(123456789012u64),
            json!(null),
        ]),
    ]
    .boxed()
}

fn email() -> BoxedStrategy<Value> {
    let domain = "@example.com";
    around(
        strings(["a@example.com", "first.last+tag@sub.example.co"].map(String::from)),
        strings([
            format!("{}{domain}", "a".repeat(64 - domain.len())),
            format!("{}{domain}", "a".repeat(65 - domain.len())),
            format!("{}{domain}", "ü".repeat(64 - domain.len())),
            "a@b.co".into(),
            "a@example.c".into(),
            "a@-x.com".into(),
            "a@x-.com".into(),
            "a@x..com".into(),
            "a@.com".into(),
            "@x.com".into(),
            "a@@x.com".into(),
            "a b@x.com".into(),
            "a@x.com ".into(),
            "a@x.com\n".into(),
            "a@x.COM".into(),
            "a@1.2.3.4".into(),
            String::new(),
        ]),
    )
}

fn member() -> BoxedStrategy<Value> {
    (account_id(), email(), 0..40u8)
        .prop_map(|(id, email, shape)| match shape {
            // Rarely a required field is missing, or an unknown one is present.
            0 => json!({ "accountId": id }),
            1 => json!({ "emailAddress": email }),
            2 => json!({ "accountId": id, "emailAddress": email, "email": "x" }),
            _ => json!({ "accountId": id, "emailAddress": email }),
        })
        .boxed()
}

/// `count` well-formed, distinct members (for the list-size edges).
fn many_members(count: usize) -> Vec<Value> {
    (0..count)
        .map(|i| json!({ "accountId": format!("{:012}", 200_000_000_000u64 + i as u64), "emailAddress": format!("m{i}@example.com") }))
        .collect()
}

fn members() -> BoxedStrategy<Value> {
    let small = (proptest::collection::vec(member(), 0..4), 0..6u8).prop_map(|(mut list, duplicate)| {
        // Sometimes the last member repeats the first one's account id.
        if duplicate == 0 && list.len() >= 2 {
            let first = list[0]["accountId"].clone();
            if let Some(last) = list.last_mut().and_then(Value::as_object_mut) {
                last.insert("accountId".into(), first);
            }
        }
        Value::Array(list)
    });
    prop_oneof![
        40 => small,
        1 => Just(Value::Array(many_members(1200))),
        1 => Just(Value::Array(many_members(1201))),
    ]
    .boxed()
}

fn tags() -> BoxedStrategy<Value> {
    // Keys stay plain (`t0`..): tag-key rules are not this test's subject.
    map_of("t", vec![0, 1, 3, 50, 51], text_up_to(256, "v", &[]))
}

/// A map of one of `counts` entries with plain keys (`<prefix>0`, `<prefix>1`..) and the value
/// `v`, but the first entry's, which is from `values` (where the edges are).
fn map_of(prefix: &'static str, counts: Vec<usize>, values: BoxedStrategy<Value>) -> BoxedStrategy<Value> {
    (proptest::sample::select(counts), values)
        .prop_map(move |(count, edge)| {
            let mut entries = Map::new();
            for i in 0..count {
                entries.insert(format!("{prefix}{i}"), json!("v"));
            }
            if count > 0 {
                entries.insert(format!("{prefix}0"), edge);
            }
            Value::Object(entries)
        })
        .boxed()
}

fn invitation() -> BoxedStrategy<Value> {
    let message = text_up_to(1000, "Please join our behavior graph", &["\n"]);
    (optional(message), optional(boolean()))
        .prop_map(|(message, disable)| object([("message", message), ("disableEmailNotification", disable)]))
        .boxed()
}

fn accept_invitations() -> BoxedStrategy<Value> {
    let role_name = around(
        strings(["DetectiveAccept".into(), "role+=,.@_-".into()]),
        strings([
            "a".repeat(64),
            "a".repeat(65),
            String::new(),
            "a/b".into(),
            "a b".into(),
        ]),
    );
    let session = around(
        strings(["detective-operator".into()]),
        strings(["ab".into(), "a".into(), "a".repeat(64), "a".repeat(65), "a:b".into()]),
    );
    let required_role_name = prop_oneof![1 => Just(None), 9 => role_name.prop_map(Some)];
    (required_role_name, optional(external_id()), optional(session))
        .prop_map(|(role_name, external_id, session)| {
            object([
                ("roleName", role_name),
                ("externalId", external_id),
                ("sessionName", session),
            ])
        })
        .boxed()
}

fn enumeration(valid: &[&str], invalid: &[&str]) -> BoxedStrategy<Value> {
    around(
        strings(valid.iter().map(|v| v.to_string())),
        strings(invalid.iter().map(|v| v.to_string()))
            .into_iter()
            .chain([json!(1)])
            .collect(),
    )
}

fn max_deletions() -> BoxedStrategy<Value> {
    around(
        vec![json!(10), json!(0)],
        vec![
            json!(-1),
            json!(1200),
            json!(1201),
            json!("5"),
            json!(2.5),
            json!(2147483648u64),
            json!(null),
        ],
    )
}

/// An object of the present fields.
fn object<const N: usize>(fields: [(&str, Option<Value>); N]) -> Value {
    Value::Object(
        fields
            .into_iter()
            .filter_map(|(key, value)| value.map(|v| (key.to_owned(), v)))
            .collect(),
    )
}

/// Present for a fifth of the inputs: for fields whose edges would otherwise refuse too many.
fn rarely(field: BoxedStrategy<Value>) -> BoxedStrategy<Option<Value>> {
    prop_oneof![4 => Just(None), 1 => field.prop_map(Some)].boxed()
}

/// Absent for one input in twenty: a required field.
fn required(field: BoxedStrategy<Value>) -> BoxedStrategy<Option<Value>> {
    prop_oneof![1 => Just(None), 19 => field.prop_map(Some)].boxed()
}

/// `object` with the misspelt field `name` added for one input in `one_in` (strict field
/// validation refuses it; the CLI too).
fn misspelt(object: BoxedStrategy<Value>, name: &'static str, value: Value, one_in: u8) -> BoxedStrategy<Value> {
    (object, 0..one_in)
        .prop_map(move |(mut object, draw)| {
            if draw == 0 {
                object[name] = value.clone();
            }
            object
        })
        .boxed()
}

/// A set (`x-kubernetes-list-type: set`): a few distinct entries of `pool` (`sizes` of them),
/// sometimes with an entry from `entry_edges` among them, sometimes its first entry repeated at
/// the end; rarely one of the `list_edges` (sizes at and past the limit, not a list).
fn set_of(
    pool: Vec<Value>,
    sizes: RangeInclusive<usize>,
    entry_edges: Vec<Value>,
    list_edges: Vec<Value>,
) -> BoxedStrategy<Value> {
    let edge = prop_oneof![3 => Just(None), 1 => pick(entry_edges).prop_map(Some)];
    let listed = (
        proptest::sample::subsequence(pool, sizes),
        edge,
        any::<Index>(),
        0..10u8,
    )
        .prop_map(|(mut list, edge, at, duplicate)| {
            if let Some(edge) = edge {
                list.insert(at.index(list.len() + 1), edge);
            }
            if duplicate == 0
                && let Some(first) = list.first().cloned()
            {
                list.push(first);
            }
            Value::Array(list)
        });
    prop_oneof![15 => listed, 1 => pick(list_edges)].boxed()
}

/// `count` distinct values made by `entry` from their index.
fn distinct(count: usize, entry: impl Fn(usize) -> String) -> Value {
    Value::Array((0..count).map(|i| Value::String(entry(i))).collect())
}

fn region_edges() -> Vec<Value> {
    vec![
        json!("US-EAST-1"),
        json!("us-east"),
        json!("useast-1"),
        json!("us-east-1 "),
        json!("us-east-1\n"),
        json!(""),
        json!(long_region(32)),
        json!(long_region(33)),
        json!(null),
        json!(1),
    ]
}

/// A `DetectiveOrganizationAdmin`'s `regions`: 1 to 64 distinct Region names.
fn regions() -> BoxedStrategy<Value> {
    let pool = [
        "us-east-1",
        "us-east-2",
        "us-west-2",
        "eu-west-1",
        "eu-central-1",
        "ap-southeast-2",
        "sa-east-1",
        "us-gov-west-1",
    ];
    set_of(
        strings(pool.map(String::from)),
        1..=3,
        region_edges(),
        vec![
            json!([]),
            distinct(64, |i| format!("us-east-{i}")),
            distinct(65, |i| format!("us-east-{i}")),
            json!("us-east-1"),
            json!(null),
        ],
    )
}

/// `membersFrom.organization.organizationalUnits`: roots (`r-` and 4 to 32 characters) and OUs
/// (`ou-`, 4 to 32, `-`, 8 to 32), at most 100.
fn organizational_units() -> BoxedStrategy<Value> {
    let root = |length: usize| format!("r-{}", "a".repeat(length));
    let unit = |root: usize, unit: usize| format!("ou-{}-{}", "b".repeat(root), "c".repeat(unit));
    let pool = strings([
        "r-abcd".into(),
        "r-0a1b2c".into(),
        "ou-abcd-abcdefgh".into(),
        "ou-ab12-0123abcd".into(),
        root(32),
        unit(32, 32),
    ]);
    let mut edges = strings([
        root(3),
        root(33),
        unit(3, 8),
        unit(4, 7),
        unit(33, 8),
        unit(4, 33),
        "R-abcd".into(),
        "r-ABCD".into(),
        "ou-abcd".into(),
        "ou-abcd-abcdefgh-x".into(),
        "r-abcd ".into(),
        "123456789012".into(),
        String::new(),
    ]);
    edges.extend([json!(null), json!(1)]);
    set_of(
        pool,
        0..=3,
        edges,
        vec![
            distinct(100, |i| format!("ou-abcd-{i:08}")),
            distinct(101, |i| format!("ou-abcd-{i:08}")),
            json!("r-abcd"),
        ],
    )
}

/// `membersFrom.organization.excludeAccounts`: account ids, at most 1,200.
fn exclude_accounts() -> BoxedStrategy<Value> {
    let pool = strings((0..6).map(|i| format!("{:012}", 400_000_000_000u64 + i)));
    let edges = vec![
        json!("12345678901"),
        json!("1234567890123"),
        json!("12345678901a"),
        json!(""),
        json!(123456789012u64),
        json!(null),
    ];
    let account = |i: usize| format!("{:012}", 300_000_000_000u64 + i as u64);
    set_of(
        pool,
        0..=3,
        edges,
        vec![distinct(1200, account), distinct(1201, account), json!("123456789012")],
    )
}

/// `datasourcePackages`: a set of the optional packages.
fn datasource_packages() -> BoxedStrategy<Value> {
    set_of(
        strings(["EKS_AUDIT", "ASFF_SECURITYHUB_FINDING"].map(String::from)),
        0..=2,
        vec![
            json!("DETECTIVE_CORE"),
            json!("eks_audit"),
            json!("EKS-AUDIT"),
            json!(""),
            json!(null),
            json!(1),
        ],
        vec![json!("EKS_AUDIT"), json!({})],
    )
}

/// `organization`: the graph's `autoEnable`, or rarely a misspelt field.
fn graph_organization() -> BoxedStrategy<Value> {
    let organization = optional(boolean())
        .prop_map(|auto_enable| object([("autoEnable", auto_enable)]))
        .boxed();
    misspelt(organization, "autoenable", json!(true), 20)
}

/// `membersFrom`: the organization's accounts, listed through a role or not.
fn members_from() -> BoxedStrategy<Value> {
    let organization = (
        optional(organizational_units()),
        optional(exclude_accounts()),
        optional(role_arn()),
        rarely(external_id()),
        optional(resync_interval()),
    )
        .prop_map(|(units, excluded, role, external_id, refresh)| {
            object([
                ("organizationalUnits", units),
                ("excludeAccounts", excluded),
                ("assumeRoleArn", role),
                ("externalId", external_id),
                ("refreshInterval", refresh),
            ])
        });
    prop_oneof![
        1 => Just(json!({})),
        1 => Just(json!({ "organization": null })),
        1 => Just(json!({ "organization": [] })),
        20 => organization.prop_map(|organization| json!({ "organization": organization })),
    ]
    .boxed()
}

fn graph_spec() -> BoxedStrategy<Value> {
    graph_spec_with(optional(region()), optional(graph_arn_value()))
}

/// A graph spec whose `region` and `graphArn` come from these generators (a set's template
/// refuses both, so it has them rarely).
fn graph_spec_with(
    region: BoxedStrategy<Option<Value>>,
    graph_arn: BoxedStrategy<Option<Value>>,
) -> BoxedStrategy<Value> {
    let identity = (
        region,
        graph_arn,
        optional(role_arn()),
        optional(external_id()),
        optional(tags()),
        optional(members()),
    );
    let behavior = (
        optional(invitation()),
        optional(
            optional(boolean())
                .prop_map(|auto| object([("autoStart", auto)]))
                .boxed(),
        ),
        optional(accept_invitations()),
        optional(enumeration(
            &["Managed", "Authoritative", "Disabled"],
            &["managed", "MANAGED", "Aggressive", ""],
        )),
        optional(
            optional(max_deletions())
                .prop_map(|max| object([("maxDeletions", max)]))
                .boxed(),
        ),
        optional(enumeration(&["Retain", "Delete"], &["retain", "Orphan"])),
        optional(resync_interval()),
        optional(boolean()),
    );
    let organization = (
        rarely(datasource_packages()),
        rarely(graph_organization()),
        // A third of the graphs: its lists have the most edges to reach.
        prop_oneof![2 => Just(None), 1 => members_from().prop_map(Some)],
        management_policy(),
    );
    let spec = (identity, behavior, organization).prop_map(
        |(
            (region, graph_arn, role, external_id, tags, members),
            (invitation, monitoring, accept, pruning, guard, deletion, resync, suspend),
            (packages, organization, members_from, management),
        )| {
            object([
                ("region", region),
                ("graphArn", graph_arn),
                ("assumeRoleArn", role),
                ("externalId", external_id),
                ("tags", tags),
                ("members", members),
                ("invitation", invitation),
                ("monitoring", monitoring),
                ("acceptInvitations", accept),
                ("pruning", pruning),
                ("deletionGuard", guard),
                ("deletionPolicy", deletion),
                ("resyncInterval", resync),
                ("suspend", suspend),
                ("managementPolicy", management),
                ("datasourcePackages", packages),
                ("organization", organization),
                ("membersFrom", members_from),
            ])
        },
    );
    misspelt(spec.boxed(), "prunning", json!("Disabled"), 60)
}

/// `spec.managementPolicy`, which every kind with AWS writes has: absent, either value, or a
/// near miss.
fn management_policy() -> BoxedStrategy<Option<Value>> {
    optional(enumeration(&["Manage", "Observe"], &["observe", "ReadOnly", ""]))
}

fn membership_spec() -> BoxedStrategy<Value> {
    (
        required(graph_arn_value()),
        optional(region()),
        optional(role_arn()),
        optional(external_id()),
        optional(enumeration(&["Accepted", "Rejected"], &["accepted", "Pending"])),
        optional(enumeration(&["Retain", "Disassociate"], &["Delete", "retain"])),
        optional(resync_interval()),
        optional(boolean()),
        management_policy(),
    )
        .prop_map(
            |(graph_arn, region, role, external_id, state, deletion, resync, suspend, management)| {
                object([
                    ("graphArn", graph_arn),
                    ("region", region),
                    ("assumeRoleArn", role),
                    ("externalId", external_id),
                    ("state", state),
                    ("deletionPolicy", deletion),
                    ("resyncInterval", resync),
                    ("suspend", suspend),
                    ("managementPolicy", management),
                ])
            },
        )
        .boxed()
}

fn organization_admin_spec() -> BoxedStrategy<Value> {
    let removal = || enumeration(&["Retain", "Disable"], &["Delete", "retain", "Disabled"]);
    let spec = (
        required(account_id()),
        required(regions()),
        optional(role_arn()),
        rarely(external_id()),
        optional(removal()),
        optional(removal()),
        optional(resync_interval()),
        optional(boolean()),
        management_policy(),
    )
        .prop_map(
            |(account_id, regions, role, external_id, region_removal, deletion, resync, suspend, management)| {
                object([
                    ("accountId", account_id),
                    ("regions", regions),
                    ("assumeRoleArn", role),
                    ("externalId", external_id),
                    ("regionRemoval", region_removal),
                    ("deletionPolicy", deletion),
                    ("resyncInterval", resync),
                    ("suspend", suspend),
                    ("managementPolicy", management),
                ])
            },
        );
    misspelt(spec.boxed(), "region", json!("us-east-1"), 60)
}

/// A `DetectiveGraphSet`'s template metadata: labels (values around the label-value rules) and
/// annotations, 0, 1, 64 or 65 of each. Keys stay plain, as the tags' do.
fn template_metadata() -> BoxedStrategy<Value> {
    let entries = |values| map_of("k", vec![0, 1, 2, 64, 65], values);
    let label_values = text_up_to(63, "security", &["not a label", "-x", "x_"]);
    let annotation_values = around(vec![json!("owned by security")], vec![json!(1), json!(""), json!(null)]);
    (optional(entries(label_values)), optional(entries(annotation_values)))
        .prop_map(|(labels, annotations)| object([("labels", labels), ("annotations", annotations)]))
        .boxed()
}

fn graph_set_spec() -> BoxedStrategy<Value> {
    let template = (
        rarely(template_metadata()),
        // A quarter of the templates are plain, so that the set's own fields decide: a graph spec
        // alone is refused nine times in ten.
        required(
            prop_oneof![
                3 => graph_spec_with(rarely(region()), rarely(graph_arn_value())),
                1 => Just(json!({ "members": [{ "accountId": "111111111111", "emailAddress": "a@example.com" }] })),
            ]
            .boxed(),
        ),
    )
        .prop_map(|(metadata, spec)| object([("metadata", metadata), ("spec", spec)]))
        .boxed();
    let spec = (
        required(regions()),
        optional(enumeration(&["Retain", "Delete"], &["retain", "Disable", "Orphan"])),
        required(template),
    )
        .prop_map(|(regions, removal, template)| {
            object([("regions", regions), ("regionRemoval", removal), ("template", template)])
        });
    misspelt(spec.boxed(), "region", json!("us-east-1"), 60)
}

/// One kind under test: its CRD (kind, plural, schema), how many inputs it gets, its spec
/// generator, and the Rust check the CLI runs on a document of it.
struct Subject {
    crd: CustomResourceDefinition,
    inputs: usize,
    spec: BoxedStrategy<Value>,
    /// The CLI's refusal of a whole document, if it refuses it.
    cli: fn(Value) -> Option<DocumentError>,
}

impl Subject {
    fn of<K: CustomResourceExt>(
        inputs: usize,
        spec: BoxedStrategy<Value>,
        cli: fn(Value) -> Option<DocumentError>,
    ) -> Subject {
        Subject {
            crd: K::crd(),
            inputs,
            spec,
            cli,
        }
    }

    fn kind(&self) -> &str {
        &self.crd.spec.names.kind
    }

    fn plural(&self) -> &str {
        &self.crd.spec.names.plural
    }

    /// The schema of `spec`, as JSON.
    fn spec_schema(&self) -> Value {
        let schema = self.crd.spec.versions[0]
            .schema
            .as_ref()
            .and_then(|s| s.open_api_v3_schema.as_ref())
            .expect("every CRD has a schema");
        serde_json::to_value(schema).expect("a schema serializes")["properties"]["spec"].clone()
    }

    /// The fields of the spec that hold a value of their own (no fields below them), as
    /// `spec.members.accountId`: each must be refused for some input.
    fn leaf_fields(&self) -> BTreeSet<String> {
        let mut fields = BTreeMap::new();
        schema_fields(&self.spec_schema(), "spec", &mut fields);
        fields
            .into_iter()
            .filter(|(_, leaf)| *leaf)
            .map(|(field, _)| field)
            .collect()
    }
}

/// Every kind the operator serves, with its generator. A kind added later is one more entry
/// (`every_kind_and_every_spec_field_is_generated` fails until it has one).
fn subjects() -> Vec<Subject> {
    vec![
        Subject::of::<DetectiveGraph>(1200, graph_spec(), |document| graph_from_document(document).err()),
        Subject::of::<DetectiveMembership>(400, membership_spec(), membership_refusal),
        Subject::of::<DetectiveOrganizationAdmin>(400, organization_admin_spec(), |document| {
            organization_admin_from_document(document).err()
        }),
        Subject::of::<DetectiveGraphSet>(1600, graph_set_spec(), |document| {
            graph_set_from_document(document).err()
        }),
    ]
}

/// No command reads a `DetectiveMembership` from a file; its spec goes through the same
/// deserialization and checks.
fn membership_refusal(document: Value) -> Option<DocumentError> {
    match serde_path_to_error::deserialize::<_, DetectiveMembership>(without_nulls(&document)) {
        Err(error) => Some(DocumentError::Malformed(error)),
        Ok(membership) => membership.spec.validate().err().map(|errors| DocumentError::Fields {
            key: String::new(),
            errors,
        }),
    }
}

/// Every field of a schema below `path`, as `spec.members.accountId` (no list indexes, no map
/// keys), with whether it is a leaf: a field with no fields of its own (nor its list's items).
fn schema_fields(schema: &Value, path: &str, fields: &mut BTreeMap<String, bool>) {
    let schema = schema.get("items").unwrap_or(schema);
    let Some(properties) = schema.get("properties").and_then(Value::as_object) else {
        return;
    };
    for (name, child) in properties {
        let field = format!("{path}.{name}");
        let leaf = child.get("items").unwrap_or(child).get("properties").is_none();
        fields.insert(field.clone(), leaf);
        schema_fields(child, &field, fields);
    }
}

/// The schema's fields that `value` gives a value (not null), as [`schema_fields`] names them.
fn present_fields(value: &Value, schema: &Value, path: &str, found: &mut BTreeSet<String>) {
    match value {
        Value::Array(items) => {
            if let Some(item) = schema.get("items") {
                items.iter().for_each(|v| present_fields(v, item, path, found));
            }
        }
        Value::Object(object) => {
            let Some(properties) = schema.get("properties") else {
                return;
            };
            for (name, child) in object {
                if let Some(child_schema) = properties.get(name) {
                    let field = format!("{path}.{name}");
                    if !child.is_null() {
                        found.insert(field.clone());
                    }
                    present_fields(child, child_schema, &field, found);
                }
            }
        }
        _ => {}
    }
}

/// A refused field as the schema names it: `spec.members[3].accountId` → `spec.members.accountId`,
/// `spec.tags[team]` → `spec.tags`.
fn without_indexes(field: &str) -> String {
    let mut depth = 0usize;
    field
        .chars()
        .filter(|c| match c {
            '[' => {
                depth += 1;
                false
            }
            ']' => {
                depth = depth.saturating_sub(1);
                false
            }
            _ => depth == 0,
        })
        .collect()
}

/// Every subject's inputs, generated from the fixed seed: (subject's index, document).
fn inputs(subjects: &[Subject], ns: &str) -> Vec<(usize, Value)> {
    let mut runner = TestRunner::new_with_rng(Config::default(), TestRng::from_seed(RngAlgorithm::ChaCha, &SEED));
    let mut inputs = Vec::new();
    for (s, subject) in subjects.iter().enumerate() {
        for _ in 0..subject.inputs {
            let spec = subject
                .spec
                .new_tree(&mut runner)
                .expect("the generators never reject")
                .current();
            let index = inputs.len();
            inputs.push((s, document(subject.kind(), ns, index, spec)));
        }
    }
    inputs
}

/// A side's answer: `None` accepts; `Some(fields)` refuses, naming `fields`.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Verdict {
    refused: Option<BTreeSet<String>>,
    /// The Rust side stopped while deserializing, at its first error; or the API server left
    /// some rules unchecked because of the errors it found (its `<nil>` cause).
    first_only: bool,
    detail: String,
}

/// The CLI's answer: the function `plan -f`/`sync -f` run on every document of the kind.
fn rust_verdict(subject: &Subject, document: &Value) -> Verdict {
    match (subject.cli)(document.clone()) {
        None => Verdict {
            refused: None,
            first_only: false,
            detail: String::new(),
        },
        Some(error) => Verdict {
            refused: Some(error.fields().into_iter().map(|f| common_form(&f)).collect()),
            first_only: !matches!(error, DocumentError::Fields { .. }),
            detail: error.to_string(),
        },
    }
}

fn without_nulls(document: &Value) -> Value {
    let mut document = document.clone();
    drop_nulls(&mut document);
    document
}

/// A field path in the form both sides are compared in: map entries as `spec.tags[key]`.
fn common_form(field: &str) -> String {
    let maps = [
        "spec.tags",
        "spec.template.spec.tags",
        "spec.template.metadata.labels",
        "spec.template.metadata.annotations",
    ];
    for map in maps {
        if let Some(key) = field.strip_prefix(map).and_then(|rest| rest.strip_prefix('.')) {
            return format!("{map}[{key}]");
        }
    }
    field.to_owned()
}

/// The API server's answer to a server-side dry-run create with strict field validation.
async fn server_verdict(client: &kube::Client, ns: &str, plural: &str, document: &Value) -> Verdict {
    let url = format!("/apis/{GROUP}/{VERSION}/namespaces/{ns}/{plural}?dryRun=All&fieldValidation=Strict");
    let request = http::Request::post(url)
        .header("Content-Type", "application/json")
        .body(serde_json::to_vec(document).expect("a JSON document"))
        .expect("a request");
    match client.request::<Value>(request).await {
        Ok(_) => Verdict {
            refused: None,
            first_only: false,
            detail: String::new(),
        },
        Err(kube::Error::Api(status)) => {
            let causes: Vec<_> = status.details.iter().flat_map(|d| d.causes.iter()).collect();
            let unchecked = causes
                .iter()
                .any(|c| c.message.contains("some validation rules were not checked"));
            let mut fields: BTreeSet<String> = causes
                .iter()
                .filter(|c| !c.field.is_empty() && c.field != "<nil>")
                .map(|c| common_form(&c.field))
                .collect();
            // Strict field validation names unknown fields in the message only.
            for part in status.message.split("unknown field \"").skip(1) {
                if let Some(field) = part.split('"').next() {
                    fields.insert(common_form(field));
                }
            }
            Verdict {
                refused: Some(fields),
                first_only: unchecked,
                detail: status.message.clone(),
            }
        }
        Err(other) => panic!("the API server did not answer a dry run: {other}"),
    }
}

/// Why the two verdicts disagree, if they do.
fn disagreement(cli: &Verdict, server: &Verdict) -> Option<String> {
    match (&cli.refused, &server.refused) {
        (None, None) => None,
        (Some(_), None) => Some("the CLI refuses, the API server accepts".into()),
        (None, Some(_)) => Some("the API server refuses, the CLI accepts".into()),
        (Some(rust), Some(api)) => {
            // A side that stopped early names a subset of the other's fields, and at least one:
            // an empty set would agree with anything.
            let same = match (cli.first_only, server.first_only) {
                (true, _) => !rust.is_empty() && rust.is_subset(api),
                (false, true) => !api.is_empty() && api.is_subset(rust),
                (false, false) => rust == api,
            };
            (!same).then(|| format!("the refusals name different fields: CLI {rust:?}, API server {api:?}"))
        }
    }
}

fn document(kind: &str, ns: &str, index: usize, spec: Value) -> Value {
    json!({
        "apiVersion": format!("{GROUP}/{VERSION}"),
        "kind": kind,
        "metadata": { "name": format!("agree-{index}"), "namespace": ns },
        "spec": spec,
    })
}

/// Shortens a document for a failure message (long lists and strings are cut).
fn brief(value: &Value) -> String {
    let text = value["spec"].to_string();
    if text.len() > 600 {
        format!(
            "{}… ({} characters)",
            &text[..text.floor_char_boundary(600)],
            text.len()
        )
    } else {
        text
    }
}

/// Runs without an API server: the table covers every kind, and the inputs every field.
#[test]
fn every_kind_and_every_spec_field_is_generated() {
    let subjects = subjects();
    let kinds: BTreeSet<&str> = subjects.iter().map(Subject::kind).collect();
    let served: BTreeSet<String> = definitions().into_iter().map(|crd| crd.spec.names.kind).collect();
    let missing: Vec<&String> = served.iter().filter(|kind| !kinds.contains(kind.as_str())).collect();
    assert!(
        missing.is_empty(),
        "kinds without a generator in `subjects()`: {missing:?}"
    );
    let inputs = inputs(&subjects, "agree");
    for (s, subject) in subjects.iter().enumerate() {
        let schema = subject.spec_schema();
        let mut fields = BTreeMap::new();
        schema_fields(&schema, "spec", &mut fields);
        let mut present = BTreeSet::new();
        for (_, document) in inputs.iter().filter(|(of, _)| *of == s) {
            present_fields(&document["spec"], &schema, "spec", &mut present);
        }
        let never: Vec<&String> = fields.keys().filter(|field| !present.contains(*field)).collect();
        assert!(
            never.is_empty(),
            "{}: the generator never sets {never:?}",
            subject.kind()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_and_the_api_server_agree_on_every_input() {
    let Some(env) = Env::new("agree").await else { return };

    let subjects = subjects();
    let inputs = inputs(&subjects, &env.ns);
    let verdicts: Vec<(usize, Verdict, Verdict)> = futures::stream::iter(inputs.iter().enumerate())
        .map(|(i, (s, document))| {
            let (client, ns, subject) = (&env.client, env.ns.as_str(), &subjects[*s]);
            async move {
                let server = server_verdict(client, ns, subject.plural(), document).await;
                (i, rust_verdict(subject, document), server)
            }
        })
        .buffer_unordered(IN_FLIGHT)
        .collect()
        .await;

    let mut failures: Vec<String> = verdicts
        .iter()
        .filter_map(|(i, cli, server)| {
            let why = disagreement(cli, server)?;
            let (s, document) = &inputs[*i];
            Some(format!(
                "{} #{i}: {why}\n  spec: {}\n  CLI: {}\n  API server: {}",
                subjects[*s].kind(),
                brief(document),
                cli.detail,
                server.detail
            ))
        })
        .collect();
    failures.sort();
    // Both verdicts must be common, or the generator has drifted away from the edges: a tenth
    // of all inputs each, and a twentieth of each kind's (a graph has the most fields, and so
    // the most ways to be refused).
    let straddles = |refused: usize, of: usize, share: usize| refused >= of / share && of - refused >= of / share;
    let mut report = Vec::new();
    let mut unreached = Vec::new();
    for (s, subject) in subjects.iter().enumerate() {
        let judged: Vec<&Verdict> = verdicts
            .iter()
            .filter(|(i, _, _)| inputs[*i].0 == s)
            .map(|(_, _, server)| server)
            .collect();
        let refused = judged.iter().filter(|server| server.refused.is_some()).count();
        report.push(format!(
            "{} {}: {} accepted, {refused} refused",
            judged.len(),
            subject.kind(),
            judged.len() - refused
        ));
        if !straddles(refused, judged.len(), 20) {
            unreached.push(format!(
                "{}: {refused} of {} inputs refused",
                subject.kind(),
                judged.len()
            ));
        }
        // And every field must be refused at least once: its edges are generated.
        let named: BTreeSet<String> = judged
            .iter()
            .flat_map(|server| server.refused.iter().flatten())
            .map(|field| without_indexes(field))
            .collect();
        let never: Vec<String> = subject.leaf_fields().difference(&named).cloned().collect();
        if !never.is_empty() {
            unreached.push(format!("{}: no input is refused naming {never:?}", subject.kind()));
        }
    }
    let refused = verdicts
        .iter()
        .filter(|(_, _, server)| server.refused.is_some())
        .count();
    if !straddles(refused, inputs.len(), 10) {
        unreached.push(format!("{refused} of {} inputs refused", inputs.len()));
    }
    println!(
        "agreement: {} inputs ({}), {} disagreements",
        inputs.len(),
        report.join("; "),
        failures.len()
    );
    assert!(
        failures.is_empty(),
        "{} of {} inputs were judged differently:\n{}",
        failures.len(),
        inputs.len(),
        failures.join("\n")
    );
    assert!(
        unreached.is_empty(),
        "the generator no longer straddles the edges:\n{}",
        unreached.join("\n")
    );
}
