//! The CRDs exactly as shipped in `crds/` install the way the README tells users to.

use crate::harness::{Env, repo_path};

/// `kubectl apply -f crds/`, client-side as the README's install line has it: the harness
/// installed `crds/` server-side, which keeps no `last-applied-configuration` annotation, so
/// this is the one place a CRD too large for that annotation (256 KiB) would be refused. The
/// files go in under another group (the installed names are taken), so the API server creates
/// each one as new: a dry run with the full validation of a fresh install (OpenAPI schema, CEL
/// rules, and regular expressions, which Go's RE2 parses: e.g. a repeat count above 1000 is
/// refused). The installed CRDs are Established.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shipped_crds_are_accepted_by_the_api_server() {
    let Some(env) = Env::new("crds").await else { return };
    let mut files: Vec<_> = std::fs::read_dir(repo_path("crds"))
        .expect("crds/")
        .map(|entry| entry.expect("a crds/ entry").path())
        .collect();
    files.sort();
    let shipped: Vec<String> = files
        .iter()
        .map(|path| std::fs::read_to_string(path).expect("a CRD file"))
        .collect();
    assert_eq!(shipped.len(), 4, "four CRDs in crds/: {files:?}");
    let renamed = shipped
        .iter()
        .map(|crd| crd.replace("detective.operator.dev", "crdcheck.operator.dev"))
        .collect::<Vec<_>>()
        .join("\n---\n");
    let out = env.kubectl_stdin(&["apply", "--dry-run=server"], &renamed).await;
    assert!(out.success, "kube-apiserver refuses the CRDs in crds/:\n{}", out.stderr);
    for name in [
        "detectivegraphs",
        "detectivegraphsets",
        "detectivememberships",
        "detectiveorganizationadmins",
    ] {
        assert!(
            out.stdout
                .contains(&format!("{name}.crdcheck.operator.dev created (server dry run)")),
            "{name} created: {}",
            out.stdout
        );
    }
    let established = env
        .kubectl(&["get", "crd", "-o", "jsonpath={range .items[*]}{.metadata.name}={.status.conditions[?(@.type==\"Established\")].status}{\"\\n\"}{end}"])
        .await
        .ok();
    for crd in [
        "detectivegraphs.detective.operator.dev",
        "detectivegraphsets.detective.operator.dev",
        "detectivememberships.detective.operator.dev",
        "detectiveorganizationadmins.detective.operator.dev",
    ] {
        assert!(
            established.lines().any(|l| l == format!("{crd}=True")),
            "{crd} not Established:\n{established}"
        );
    }
}
