//! The operator's user holds exactly the RBAC the Helm chart ships (see `harness::rbac`): what it
//! needs, and nothing that would let it read Secrets. Every other scenario runs the operator as
//! this user, which proves the rules are sufficient; this one proves they are narrow.

use crate::harness::control_plane::OPERATOR_USER;
use crate::harness::{Env, kubectl, rbac};

/// `kubectl auth can-i --as <operator user>`: "yes" or "no".
async fn can_i(env: &Env, args: &[&str]) -> bool {
    let mut all = vec!["auth", "can-i", "--as", OPERATOR_USER];
    all.extend_from_slice(args);
    let out = kubectl(&env.plane.admin_kubeconfig, &all, None).await;
    match out.stdout.trim() {
        "yes" => true,
        "no" => false,
        other => panic!("kubectl auth can-i {args:?}: {other:?} {}", out.stderr),
    }
}

/// Scenario 7: what the chart grants the operator, and what it does not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operator_rbac_is_what_the_chart_grants() {
    let Some(env) = Env::new("rbac").await else { return };
    rbac::bind_in_namespace(&env).await;
    let chart = rbac::chart_rbac(env.plane);
    let ns = env.ns.as_str();

    // What it needs, in every namespace.
    const GRAPHS: &str = "detectivegraphs.detective.operator.dev";
    const MEMBERSHIPS: &str = "detectivememberships.detective.operator.dev";
    const SETS: &str = "detectivegraphsets.detective.operator.dev";
    for (verb, resource) in [
        ("list", GRAPHS),
        ("watch", GRAPHS),
        ("watch", MEMBERSHIPS),
        ("patch", GRAPHS),
        ("create", GRAPHS),
        ("delete", GRAPHS),
        ("watch", SETS),
        ("list", SETS),
        ("create", "events.events.k8s.io"),
        ("patch", "events.events.k8s.io"),
    ] {
        assert!(
            can_i(&env, &[verb, resource, "--all-namespaces"]).await,
            "the operator can {verb} {resource}"
        );
    }
    for resource in [
        GRAPHS,
        MEMBERSHIPS,
        SETS,
        "detectiveorganizationadmins.detective.operator.dev",
    ] {
        assert!(
            can_i(&env, &["patch", resource, "--subresource=status", "-n", ns]).await,
            "the operator can patch {resource}/status"
        );
    }
    assert!(
        can_i(&env, &["update", SETS, "--subresource=finalizers", "-n", ns]).await,
        "the operator can update {SETS}/finalizers (blockOwnerDeletion on its children)"
    );
    // Leader election needs its Lease: the chart's Role must name it.
    let lease = chart
        .lease_name
        .as_ref()
        .expect("the chart's lease Role names its Lease in resourceNames");
    let named_lease = format!("leases.coordination.k8s.io/{lease}");
    for (verb, resource) in [
        ("create", "leases.coordination.k8s.io"),
        ("get", named_lease.as_str()),
        ("patch", named_lease.as_str()),
    ] {
        assert!(
            can_i(&env, &[verb, resource, "-n", ns]).await,
            "the operator can {verb} {resource} in its namespace"
        );
    }
    // The lease Role is namespaced: no leases elsewhere.
    assert!(!can_i(&env, &["create", "leases.coordination.k8s.io", "-n", "kube-system"]).await);

    // What it must not do.
    for (verb, resource) in [
        ("get", "secrets"),
        ("list", "secrets"),
        ("watch", "secrets"),
        ("get", "configmaps"),
        ("create", "pods"),
        // It writes the children of a DetectiveGraphSet, never the set itself.
        ("delete", SETS),
        ("create", SETS),
        ("patch", SETS),
        ("delete", MEMBERSHIPS),
        ("create", MEMBERSHIPS),
        ("update", "customresourcedefinitions.apiextensions.k8s.io"),
        ("create", "clusterrolebindings.rbac.authorization.k8s.io"),
        ("impersonate", "users"),
    ] {
        assert!(
            !can_i(&env, &[verb, resource, "--all-namespaces"]).await,
            "the operator must not {verb} {resource}"
        );
    }

    // And with its own token, not by impersonation: Forbidden.
    env.kubectl(&["create", "secret", "generic", "credentials", "--from-literal=key=value"])
        .await
        .ok();
    for args in [
        vec!["get", "secret", "credentials", "-n", ns],
        vec!["get", "secrets", "--all-namespaces"],
    ] {
        let out = kubectl(&env.plane.operator_kubeconfig, &args, None).await;
        assert!(
            !out.success,
            "{args:?} succeeded with the operator's token: {}",
            out.stdout
        );
        assert!(out.stderr.contains("Forbidden"), "{args:?}: {}", out.stderr);
        assert!(out.stderr.contains(OPERATOR_USER), "{args:?}: {}", out.stderr);
    }
    let out = kubectl(
        &env.plane.operator_kubeconfig,
        &["get", "detectivegraphs", "-n", ns],
        None,
    )
    .await;
    assert!(
        out.success,
        "the operator's token lists DetectiveGraphs: {}",
        out.stderr
    );
}
