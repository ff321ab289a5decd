//! The CRDs exactly as shipped in `crds/` are accepted by a real API server.

use crate::harness::{Env, repo_path};

/// `kubectl apply --server-side --dry-run=server -f crds/`: the API server validates the CRDs
/// (OpenAPI schema, CEL rules, and regular expressions, which Go's RE2 parses: e.g. a repeat
/// count above 1000 is refused) as shipped. The harness installed the same files; this names
/// the check on its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shipped_crds_are_accepted_by_the_api_server() {
    let Some(env) = Env::new("crds").await else { return };
    let crds = repo_path("crds");
    let crds = crds.to_str().expect("UTF-8 path");
    let out = env
        .kubectl(&["apply", "--server-side", "--dry-run=server", "-f", crds])
        .await;
    assert!(out.success, "kube-apiserver refuses the CRDs in crds/:\n{}", out.stderr);
    let established = env
        .kubectl(&["get", "crd", "-o", "jsonpath={range .items[*]}{.metadata.name}={.status.conditions[?(@.type==\"Established\")].status}{\"\\n\"}{end}"])
        .await
        .ok();
    for crd in [
        "detectivegraphs.detective.operator.dev",
        "detectivememberships.detective.operator.dev",
        "detectiveorganizationadmins.detective.operator.dev",
    ] {
        assert!(
            established.lines().any(|l| l == format!("{crd}=True")),
            "{crd} not Established:\n{established}"
        );
    }
}
