//! Bad input is refused at `kubectl apply` time, by the CRDs' OpenAPI schema and CEL rules, with
//! a message that names the field. No operator runs here: the API server alone must refuse.

use std::time::Duration;

use futures::StreamExt;

use crate::harness::{Env, eventually};

/// How the case is sent.
#[derive(Clone, Copy, Debug)]
enum Mode {
    /// `kubectl apply` (client-side apply; kubectl's default `--validate=strict`).
    Apply,
    /// `kubectl apply --server-side`.
    ServerSide,
    /// `kubectl apply --validate=strict`, named explicitly.
    Strict,
}

struct Case {
    name: &'static str,
    mode: Mode,
    /// For updates: the valid object applied first.
    before: Option<String>,
    yaml: String,
    /// What stderr must contain: the field path (and a word of the reason where useful).
    expect: Vec<&'static str>,
}

const GRAPH_ARN: &str = "arn:aws:detective:us-east-1:123456789012:graph:0123456789abcdef0123456789abcdef";
const OTHER_GRAPH_ARN: &str = "arn:aws:detective:us-east-1:123456789012:graph:fedcba9876543210fedcba9876543210";

fn graph(name: &str, spec: &str) -> String {
    let spec: String = spec.lines().map(|l| format!("  {l}\n")).collect();
    format!(
        "apiVersion: detective.operator.dev/v1alpha1\nkind: DetectiveGraph\nmetadata:\n  name: {name}\nspec:\n{spec}"
    )
}

fn membership(name: &str, spec: &str) -> String {
    let spec: String = spec.lines().map(|l| format!("  {l}\n")).collect();
    format!(
        "apiVersion: detective.operator.dev/v1alpha1\nkind: DetectiveMembership\nmetadata:\n  name: {name}\n\
         spec:\n{spec}"
    )
}

const ONE_MEMBER: &str = "members:\n- accountId: \"111111111111\"\n  emailAddress: a@example.com";

fn cases() -> Vec<Case> {
    let create = |name: &'static str, mode: Mode, yaml: String, expect: Vec<&'static str>| Case {
        name,
        mode,
        before: None,
        yaml,
        expect,
    };
    let update = |name: &'static str, mode: Mode, before: String, yaml: String, expect: Vec<&'static str>| Case {
        name,
        mode,
        before: Some(before),
        yaml,
        expect,
    };
    let many_members: String = (0..1201)
        .map(|i| {
            format!(
                "- accountId: \"{:012}\"\n  emailAddress: m{i}@example.com\n",
                200_000_000_000u64 + i
            )
        })
        .collect();
    let many_tags: String = (0..51).map(|i| format!("  t{i}: v\n")).collect();
    vec![
        create(
            "bad-account-id",
            Mode::Apply,
            graph(
                "bad-account-id",
                "members:\n- accountId: \"12345\"\n  emailAddress: a@example.com",
            ),
            vec!["spec.members[0].accountId"],
        ),
        create(
            "letters-in-account-id",
            Mode::ServerSide,
            graph(
                "letters-in-account-id",
                "members:\n- accountId: \"11111111111a\"\n  emailAddress: a@example.com",
            ),
            vec!["spec.members[0].accountId"],
        ),
        create(
            "bad-email",
            Mode::Apply,
            graph(
                "bad-email",
                "members:\n- accountId: \"111111111111\"\n  emailAddress: not-an-e-mail",
            ),
            vec!["spec.members[0].emailAddress"],
        ),
        create(
            "long-email",
            Mode::Apply,
            graph(
                "long-email",
                &format!(
                    "members:\n- accountId: \"111111111111\"\n  emailAddress: {}@example.com",
                    "a".repeat(60)
                ),
            ),
            vec!["spec.members[0].emailAddress"],
        ),
        create(
            "missing-email",
            Mode::ServerSide,
            graph("missing-email", "members:\n- accountId: \"111111111111\""),
            vec!["spec.members[0].emailAddress", "Required"],
        ),
        create(
            "duplicate-account",
            Mode::Apply,
            graph(
                "duplicate-account",
                "members:\n- accountId: \"111111111111\"\n  emailAddress: a@example.com\n\
                 - accountId: \"111111111111\"\n  emailAddress: b@example.com",
            ),
            vec!["spec.members[1]", "Duplicate value"],
        ),
        create(
            "too-many-members",
            Mode::ServerSide,
            graph("too-many-members", &format!("members:\n{many_members}")),
            vec!["spec.members", "1201", "1200"],
        ),
        create(
            "bad-graph-arn",
            Mode::Apply,
            graph(
                "bad-graph-arn",
                "graphArn: arn:aws:detective:us-east-1:123456789012:graph:xyz",
            ),
            vec!["spec.graphArn"],
        ),
        create(
            "bad-role-arn",
            Mode::Apply,
            graph("bad-role-arn", "assumeRoleArn: arn:aws:iam::123:role/x"),
            vec!["spec.assumeRoleArn"],
        ),
        create(
            "external-id-without-role",
            Mode::Apply,
            graph("external-id-without-role", "externalId: some-external-id"),
            vec!["spec.externalId", "only used together with assumeRoleArn"],
        ),
        create(
            "unknown-pruning",
            Mode::Apply,
            graph("unknown-pruning", "pruning: Sometimes"),
            vec!["spec.pruning", "Unsupported value"],
        ),
        create(
            "unknown-deletion-policy",
            Mode::ServerSide,
            graph("unknown-deletion-policy", "deletionPolicy: Orphan"),
            vec!["spec.deletionPolicy", "Unsupported value"],
        ),
        create(
            "long-invitation-message",
            Mode::Apply,
            graph(
                "long-invitation-message",
                &format!("invitation:\n  message: \"{}\"", "m".repeat(1001)),
            ),
            vec!["spec.invitation.message", "Too long"],
        ),
        create(
            "empty-invitation-message",
            Mode::Apply,
            graph("empty-invitation-message", "invitation:\n  message: \"\""),
            vec!["spec.invitation.message"],
        ),
        create(
            "aws-tag-key",
            Mode::Apply,
            graph("aws-tag-key", "tags:\n  aws:owner: me"),
            vec!["spec.tags", "must not start with 'aws:'"],
        ),
        // Detective's tag-key pattern `^(?!aws:)[a-zA-Z+-=._:/]+$`, at the edges of its
        // `+-=` range (0x2B..=0x3D) and outside its class; the admitted side is
        // `tag_keys_inside_the_service_pattern_are_admitted`.
        create(
            "tag-key-with-space",
            Mode::Apply,
            graph("tag-key-with-space", "tags:\n  cost center: finance"),
            vec!["spec.tags", "tag keys must match"],
        ),
        create(
            "tag-key-below-range",
            Mode::ServerSide,
            graph("tag-key-below-range", "tags:\n  \"a*\": v"),
            vec!["spec.tags", "tag keys must match"],
        ),
        create(
            "tag-key-above-range",
            Mode::Apply,
            graph("tag-key-above-range", "tags:\n  \"a>\": v"),
            vec!["spec.tags", "tag keys must match"],
        ),
        create(
            "tag-key-exclamation",
            Mode::Apply,
            graph("tag-key-exclamation", "tags:\n  \"hello!\": v"),
            vec!["spec.tags", "tag keys must match"],
        ),
        create(
            "tag-key-non-ascii",
            Mode::Apply,
            graph("tag-key-non-ascii", "tags:\n  caf\u{e9}: v"),
            vec!["spec.tags", "tag keys must match"],
        ),
        create(
            "tag-key-too-long",
            Mode::Apply,
            graph("tag-key-too-long", &format!("tags:\n  {}: v", "k".repeat(129))),
            vec!["spec.tags", "tag keys must be 1 to 128 characters"],
        ),
        create(
            "too-many-tags",
            Mode::ServerSide,
            graph("too-many-tags", &format!("tags:\n{many_tags}")),
            vec!["spec.tags", "Too many"],
        ),
        create(
            "long-tag-value",
            Mode::Apply,
            graph("long-tag-value", &format!("tags:\n  team: \"{}\"", "v".repeat(257))),
            vec!["spec.tags.team", "Too long"],
        ),
        create(
            "negative-max-deletions",
            Mode::Apply,
            graph("negative-max-deletions", "deletionGuard:\n  maxDeletions: -1"),
            vec!["spec.deletionGuard.maxDeletions"],
        ),
        create(
            "max-deletions-above-quota",
            Mode::ServerSide,
            graph("max-deletions-above-quota", "deletionGuard:\n  maxDeletions: 1201"),
            vec!["spec.deletionGuard.maxDeletions"],
        ),
        create(
            "bad-resync-interval",
            Mode::Apply,
            graph("bad-resync-interval", "resyncInterval: 5 minutes"),
            vec!["spec.resyncInterval"],
        ),
        create(
            "bad-region",
            Mode::Apply,
            graph("bad-region", "region: US-EAST-1"),
            vec!["spec.region"],
        ),
        create(
            "graph-arn-in-another-region",
            Mode::Apply,
            graph(
                "graph-arn-in-another-region",
                &format!("region: eu-west-1\ngraphArn: {GRAPH_ARN}"),
            ),
            vec!["spec.graphArn", "different Region"],
        ),
        create(
            "unknown-field",
            Mode::Strict,
            graph("unknown-field", "memberz: []"),
            vec!["unknown field \"spec.memberz\""],
        ),
        create(
            "wrong-type",
            Mode::Apply,
            graph("wrong-type", "suspend: \"yes\""),
            vec!["spec.suspend"],
        ),
        create(
            "bad-accept-role-name",
            Mode::Apply,
            graph(
                "bad-accept-role-name",
                "acceptInvitations:\n  roleName: \"no spaces please\"",
            ),
            vec!["spec.acceptInvitations.roleName"],
        ),
        update(
            "region-changed",
            Mode::Apply,
            graph("region-changed", &format!("region: us-east-1\n{ONE_MEMBER}")),
            graph("region-changed", &format!("region: us-west-2\n{ONE_MEMBER}")),
            vec!["spec.region", "immutable"],
        ),
        update(
            "region-removed",
            Mode::ServerSide,
            graph("region-removed", &format!("region: us-east-1\n{ONE_MEMBER}")),
            graph("region-removed", ONE_MEMBER),
            vec!["spec.region", "immutable"],
        ),
        update(
            "graph-arn-changed",
            Mode::Apply,
            graph("graph-arn-changed", &format!("graphArn: {GRAPH_ARN}")),
            graph("graph-arn-changed", &format!("graphArn: {OTHER_GRAPH_ARN}")),
            vec!["spec.graphArn", "immutable"],
        ),
        create(
            "membership-without-graph-arn",
            Mode::Apply,
            membership("membership-without-graph-arn", "state: Accepted"),
            vec!["spec.graphArn", "Required"],
        ),
        create(
            "membership-unknown-state",
            Mode::Apply,
            membership(
                "membership-unknown-state",
                &format!("graphArn: {GRAPH_ARN}\nstate: Maybe"),
            ),
            vec!["spec.state", "Unsupported value"],
        ),
        create(
            "membership-unknown-deletion-policy",
            Mode::ServerSide,
            membership(
                "membership-unknown-deletion-policy",
                &format!("graphArn: {GRAPH_ARN}\ndeletionPolicy: Delete"),
            ),
            vec!["spec.deletionPolicy", "Unsupported value"],
        ),
        create(
            "membership-external-id-without-role",
            Mode::Apply,
            membership(
                "membership-external-id-without-role",
                &format!("graphArn: {GRAPH_ARN}\nexternalId: some-external-id"),
            ),
            vec!["spec.externalId"],
        ),
        create(
            "membership-region-mismatch",
            Mode::Apply,
            membership(
                "membership-region-mismatch",
                &format!("graphArn: {GRAPH_ARN}\nregion: eu-west-1"),
            ),
            vec!["spec.graphArn", "different Region"],
        ),
        create(
            "membership-bad-role-arn",
            Mode::Apply,
            membership(
                "membership-bad-role-arn",
                &format!("graphArn: {GRAPH_ARN}\nassumeRoleArn: arn:aws:iam::111111111111:user/bob"),
            ),
            vec!["spec.assumeRoleArn"],
        ),
        update(
            "membership-graph-arn-changed",
            Mode::Apply,
            membership("membership-graph-arn-changed", &format!("graphArn: {GRAPH_ARN}")),
            membership("membership-graph-arn-changed", &format!("graphArn: {OTHER_GRAPH_ARN}")),
            vec!["spec.graphArn", "immutable"],
        ),
        update(
            "membership-region-changed",
            Mode::ServerSide,
            membership(
                "membership-region-changed",
                &format!("graphArn: {GRAPH_ARN}\nregion: us-east-1"),
            ),
            membership("membership-region-changed", &format!("graphArn: {GRAPH_ARN}")),
            vec!["spec.region", "immutable"],
        ),
    ]
}

async fn apply(env: &Env, mode: Mode, yaml: &str) -> crate::harness::Output {
    let args: &[&str] = match mode {
        Mode::Apply => &["apply"],
        Mode::ServerSide => &["apply", "--server-side"],
        Mode::Strict => &["apply", "--validate=strict"],
    };
    env.kubectl_stdin(args, yaml).await
}

/// A table of malformed resources (and forbidden updates), each refused by `kubectl apply`
/// with the offending field's path in the error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_resources_are_refused_with_the_field_named() {
    let Some(env) = Env::new("admission").await else { return };
    let cases = cases();
    assert!(cases.len() >= 20, "the table keeps at least 20 cases");

    let results: Vec<Result<(), String>> = futures::stream::iter(cases.iter())
        .map(|case| {
            let env = &env;
            async move {
                if let Some(before) = &case.before {
                    let out = apply(env, case.mode, before).await;
                    if !out.success {
                        return Err(format!("{}: the valid object was refused: {}", case.name, out.stderr));
                    }
                }
                let out = apply(env, case.mode, &case.yaml).await;
                if out.success {
                    return Err(format!(
                        "{} ({:?}): accepted, expected a refusal\n{}",
                        case.name, case.mode, out.stdout
                    ));
                }
                let missing: Vec<&&str> = case.expect.iter().filter(|e| !out.stderr.contains(**e)).collect();
                if !missing.is_empty() {
                    return Err(format!(
                        "{} ({:?}): refused, but the message lacks {missing:?}:\n{}",
                        case.name, case.mode, out.stderr
                    ));
                }
                Ok(())
            }
        })
        .buffer_unordered(4)
        .collect()
        .await;
    let failures: Vec<String> = results.into_iter().filter_map(Result::err).collect();
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n\n")
    );

    // Nothing refused was stored; the update cases kept their valid objects unchanged.
    let expected_left: Vec<&str> = cases.iter().filter(|c| c.before.is_some()).map(|c| c.name).collect();
    let listed = eventually(Duration::from_secs(10), "the stored objects", || async {
        let out = env
            .kubectl(&[
                "get",
                "detectivegraphs,detectivememberships",
                "-o",
                "jsonpath={range .items[*]}{.metadata.name}{\"\\n\"}{end}",
            ])
            .await;
        if out.success { Ok(out.stdout) } else { Err(out.stderr) }
    })
    .await;
    let mut stored: Vec<&str> = listed.lines().collect();
    stored.sort();
    let mut expected = expected_left.clone();
    expected.sort();
    assert_eq!(stored, expected, "only the valid objects of the update cases exist");
    let region = env
        .kubectl(&["get", "dg", "region-changed", "-o", "jsonpath={.spec.region}"])
        .await
        .ok();
    assert_eq!(region, "us-east-1", "the refused update left the object as it was");
}

/// The admitted side of the tag-key cases: the edges of the pattern's range, characters inside
/// it, keys the reserved prefix does not cover, and the length and count bounds exactly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tag_keys_inside_the_service_pattern_are_admitted() {
    let Some(env) = Env::new("admission-tags").await else {
        return;
    };
    let edges = [
        "\"+\": first of the range".to_owned(),
        "\"=\": last of the range".to_owned(),
        "\"a,b;c<d\": inside the range".to_owned(),
        "cost-center/0.x_y:z: digits".to_owned(),
        "aws: no colon".to_owned(),
        "\"AWS:x\": other case".to_owned(),
        format!("{}: 128 characters", "k".repeat(128)),
        format!("value: \"{}\"", "v".repeat(256)),
    ];
    let filler = (edges.len()..50).map(|i| format!("t{i}: v"));
    let tags: String = edges
        .iter()
        .cloned()
        .chain(filler)
        .map(|t| format!("  {t}\n"))
        .collect();
    assert_eq!(tags.lines().count(), 50, "exactly the most tags a graph may carry");
    for (mode, name) in [(Mode::Apply, "edges"), (Mode::ServerSide, "edges-server-side")] {
        let out = apply(&env, mode, &graph(name, &format!("tags:\n{tags}"))).await;
        assert!(out.success, "{name} ({mode:?}) was refused: {}", out.stderr);
    }
    let stored = env
        .kubectl(&["get", "dg", "edges", "-o", "jsonpath={.spec.tags.aws}"])
        .await
        .ok();
    assert_eq!(stored, "no colon", "the object was stored as sent");
}
