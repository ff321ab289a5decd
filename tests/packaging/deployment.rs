//! The chart's Deployment: restricted Pod Security, probes, identity, and arguments the operator
//! binary accepts.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::helm::helm_or_skip;
use crate::rendered::{args, container, one};
use crate::strings;

/// The checks of the Pod Security Standards' "restricted" profile (plus a read-only root file
/// system), on a rendered Deployment.
fn assert_restricted(deployment: &Value, what: &str) {
    let pod = &deployment["spec"]["template"]["spec"];
    for host in ["hostNetwork", "hostPID", "hostIPC", "hostUsers"] {
        assert!(pod[host] != json!(true), "{what}: {host} must not be set");
    }
    let allowed_volumes = [
        "configMap",
        "csi",
        "downwardAPI",
        "emptyDir",
        "ephemeral",
        "persistentVolumeClaim",
        "projected",
        "secret",
    ];
    for volume in pod["volumes"].as_array().into_iter().flatten() {
        let kinds: Vec<&String> = volume
            .as_object()
            .expect("volume")
            .keys()
            .filter(|k| *k != "name")
            .collect();
        assert!(
            kinds.iter().all(|k| allowed_volumes.contains(&k.as_str())),
            "{what}: volume {volume} is not allowed by the restricted profile"
        );
    }
    let pod_context = &pod["securityContext"];
    assert_eq!(pod_context["runAsNonRoot"], true, "{what}: pod runAsNonRoot");
    assert!(
        pod_context["runAsUser"].as_i64().is_some_and(|uid| uid != 0),
        "{what}: pod runAsUser must be a non-root UID"
    );
    assert_eq!(pod_context["runAsUser"], 65532, "{what}: the image's UID");
    assert_eq!(
        pod_context["seccompProfile"]["type"], "RuntimeDefault",
        "{what}: pod seccomp"
    );
    assert!(pod_context["sysctls"].is_null(), "{what}: no sysctls");

    let mut containers: Vec<&Value> = pod["containers"].as_array().expect("containers").iter().collect();
    containers.extend(pod["initContainers"].as_array().into_iter().flatten());
    for c in containers {
        let name = &c["name"];
        let context = &c["securityContext"];
        assert_eq!(
            context["allowPrivilegeEscalation"], false,
            "{what}/{name}: allowPrivilegeEscalation"
        );
        assert!(context["privileged"] != json!(true), "{what}/{name}: privileged");
        assert_eq!(
            strings(&context["capabilities"]["drop"]),
            ["ALL"],
            "{what}/{name}: drop ALL"
        );
        assert!(
            strings(&context["capabilities"]["add"]).is_empty(),
            "{what}/{name}: no added capabilities"
        );
        assert_eq!(context["readOnlyRootFilesystem"], true, "{what}/{name}: read-only root");
        assert!(context["runAsNonRoot"] != json!(false), "{what}/{name}: runAsNonRoot");
        assert!(context["runAsUser"] != json!(0), "{what}/{name}: runAsUser 0");
        let seccomp = context["seccompProfile"]["type"].as_str().unwrap_or("RuntimeDefault");
        assert!(
            ["RuntimeDefault", "Localhost"].contains(&seccomp),
            "{what}/{name}: seccomp {seccomp}"
        );
        assert!(context["procMount"].is_null(), "{what}/{name}: procMount");
        for port in c["ports"].as_array().into_iter().flatten() {
            assert!(port["hostPort"].is_null(), "{what}/{name}: hostPort {port}");
        }
    }
}

#[test]
fn deployment_passes_the_restricted_pod_security_profile() {
    let helm = helm_or_skip!();
    for (what, objects) in helm.both_value_sets() {
        assert_restricted(one(&objects, "Deployment"), what);
    }
}

#[test]
fn deployment_probes_identity_and_service_account_fit_the_binary() {
    let helm = helm_or_skip!();
    let objects = helm.template(&[]);
    let deployment = one(&objects, "Deployment");
    let pod = &deployment["spec"]["template"]["spec"];
    let c = container(deployment);
    assert_eq!(c["ports"][0]["name"], "admin");
    assert_eq!(c["ports"][0]["containerPort"], 8080);
    assert!(args(deployment).contains(&"--admin-address=0.0.0.0:8080".to_owned()));
    assert_eq!(c["livenessProbe"]["httpGet"]["path"], "/healthz");
    assert_eq!(c["livenessProbe"]["httpGet"]["port"], "admin");
    assert_eq!(c["readinessProbe"]["httpGet"]["path"], "/readyz");
    assert_eq!(c["readinessProbe"]["httpGet"]["port"], "admin");
    assert!(c["resources"]["requests"]["memory"].is_string() && c["resources"]["limits"]["memory"].is_string());

    // The downward API gives the Lease namespace and the replica's identity.
    let field_of = |name: &str| {
        c["env"]
            .as_array()
            .and_then(|vars| vars.iter().find(|v| v["name"] == name))
            .map(|v| v["valueFrom"]["fieldRef"]["fieldPath"].clone())
    };
    assert_eq!(field_of("POD_NAMESPACE"), Some(json!("metadata.namespace")));
    assert_eq!(field_of("POD_NAME"), Some(json!("metadata.name")));

    let account = one(&objects, "ServiceAccount");
    assert_eq!(pod["serviceAccountName"], account["metadata"]["name"]);
    assert_eq!(
        pod["automountServiceAccountToken"], true,
        "the operator needs its token"
    );
    assert_eq!(
        account["automountServiceAccountToken"], false,
        "other pods using the account get no token"
    );
}

/// The chart's args (default and all-enabled) are accepted by the operator binary's parser: it
/// gets past argument parsing and fails on the (missing) kubeconfig, not with a usage error.
#[test]
fn rendered_args_are_accepted_by_the_operator_binary() {
    let helm = helm_or_skip!();
    for (what, objects) in helm.both_value_sets() {
        let mut args = args(one(&objects, "Deployment"));
        // Same flag, a port that is always free, should the binary ever bind before failing.
        for arg in &mut args {
            if arg.starts_with("--admin-address=") {
                *arg = "--admin-address=127.0.0.1:0".into();
            }
        }
        let missing = helm.home.path().join("no-such-kubeconfig");
        let mut child = Command::new(env!("CARGO_BIN_EXE_detective-operator"))
            .args(&args)
            .arg("--kubeconfig")
            .arg(&missing)
            .env_remove("KUBECONFIG")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the operator binary runs");
        let deadline = Instant::now() + Duration::from_secs(30);
        while child.try_wait().expect("wait").is_none() {
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("{what}: detective-operator {args:?} did not exit on a missing kubeconfig");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let output = child.wait_with_output().expect("output");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_ne!(
            output.status.code(),
            Some(2),
            "{what}: usage error for {args:?}:\n{stderr}"
        );
        assert!(
            !stderr.contains("Usage:"),
            "{what}: usage error for {args:?}:\n{stderr}"
        );
        assert!(
            stderr.contains("kubeconfig"),
            "{what}: expected the missing kubeconfig to be the failure:\n{stderr}"
        );
    }
}
