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
    name: String,
    mode: Mode,
    /// For updates: the valid object applied first.
    before: Option<String>,
    yaml: String,
    /// What stderr must contain: the field path (and a word of the reason where useful).
    expect: Vec<String>,
}

fn resource(kind: &str, name: &str, spec: &str) -> String {
    let spec: String = spec.lines().map(|l| format!("  {l}\n")).collect();
    format!("apiVersion: detective.operator.dev/v1alpha1\nkind: {kind}\nmetadata:\n  name: {name}\nspec:\n{spec}")
}

fn graph(name: &str, spec: &str) -> String {
    resource("DetectiveGraph", name, spec)
}

/// `spec` with each `{c*N}` replaced by the character c repeated N times.
fn expand_repeats(spec: &str) -> String {
    let mut expanded = String::new();
    let mut rest = spec;
    while let Some(start) = rest.find('{') {
        let end = start + rest[start..].find('}').expect("a closing brace");
        let (c, n) = rest[start + 1..end].split_once('*').expect("{c*N}");
        expanded.push_str(&rest[..start]);
        expanded.push_str(&c.repeat(n.parse().expect("a count")));
        rest = &rest[end + 1..];
    }
    expanded + rest
}

/// The cases of admission_cases.yaml (that file says what a case holds), and the two that are
/// longer than a table row: one member and one tag more than a graph may carry.
fn cases() -> Vec<Case> {
    let table: Vec<serde_json::Value> =
        serde_saphyr::from_str(include_str!("admission_cases.yaml")).expect("admission_cases.yaml is valid YAML");
    let mut cases: Vec<Case> = table
        .iter()
        .map(|case| {
            let field = |key: &str| case[key].as_str().map(str::to_owned);
            let name = field("name").expect("a name");
            let kind = match field("kind").as_deref() {
                None => "DetectiveGraph",
                Some("membership") => "DetectiveMembership",
                Some("set") => "DetectiveGraphSet",
                Some(other) => panic!("{name}: unknown kind {other}"),
            };
            let mode = match field("mode").as_deref() {
                Some("apply") => Mode::Apply,
                Some("server-side") => Mode::ServerSide,
                Some("strict") => Mode::Strict,
                other => panic!("{name}: unknown mode {other:?}"),
            };
            let spec = |key: &str| field(key).map(|spec| resource(kind, &name, &expand_repeats(&spec)));
            let expect = case["expect"].as_array().unwrap_or_else(|| panic!("{name}: expect"));
            Case {
                mode,
                before: spec("before"),
                yaml: spec("spec").unwrap_or_else(|| panic!("{name}: spec")),
                expect: expect.iter().filter_map(|e| e.as_str().map(str::to_owned)).collect(),
                name,
            }
        })
        .collect();
    let many_members: String = (0..1201)
        .map(|i| {
            format!(
                "- accountId: \"{:012}\"\n  emailAddress: m{i}@example.com\n",
                200_000_000_000u64 + i
            )
        })
        .collect();
    let many_tags: String = (0..51).map(|i| format!("  t{i}: v\n")).collect();
    for (name, spec, expect) in [
        (
            "too-many-members",
            format!("members:\n{many_members}"),
            ["spec.members", "1201", "1200"].as_slice(),
        ),
        (
            "too-many-tags",
            format!("tags:\n{many_tags}"),
            &["spec.tags", "Too many"],
        ),
    ] {
        cases.push(Case {
            name: name.to_owned(),
            mode: Mode::ServerSide,
            before: None,
            yaml: graph(name, &spec),
            expect: expect.iter().map(|e| e.to_string()).collect(),
        });
    }
    cases
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
    assert_eq!(cases.len(), 55, "the table keeps its 55 cases");

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
                let missing: Vec<&String> = case
                    .expect
                    .iter()
                    .filter(|e| !out.stderr.contains(e.as_str()))
                    .collect();
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
    let expected_left: Vec<&str> = cases
        .iter()
        .filter(|c| c.before.is_some())
        .map(|c| c.name.as_str())
        .collect();
    let listed = eventually(Duration::from_secs(10), "the stored objects", || async {
        let out = env
            .kubectl(&[
                "get",
                "detectivegraphs,detectivememberships,detectivegraphsets",
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
