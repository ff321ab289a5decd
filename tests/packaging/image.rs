//! The container image recipe (deploy/Dockerfile, deploy/build-image.sh; the image itself is built
//! and run by the e2e suite: tests/e2e/cases/image.rs).

use crate::{read, yaml_documents};

#[test]
fn dockerfile_is_one_scratch_stage_running_the_operator_as_non_root() {
    let dockerfile = read("deploy/Dockerfile");
    let instructions: Vec<&str> = dockerfile
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    let froms: Vec<&&str> = instructions.iter().filter(|l| l.starts_with("FROM ")).collect();
    assert_eq!(
        froms,
        [&"FROM scratch"],
        "one stage on an empty base: nothing to pull, what CI builds is what users build"
    );
    assert!(instructions.contains(&"USER 65532:65532"), "runs as UID/GID 65532");
    assert!(
        instructions
            .iter()
            .any(|l| l.starts_with("ENTRYPOINT [") && l.contains("detective-operator\"]")),
        "entrypoint: the operator binary"
    );
    assert!(instructions.contains(&"CMD [\"run\"]"), "default command: run");
    // Its OCI labels; and the build script builds exactly this: the static operator without the
    // emulator.
    let script = read("deploy/build-image.sh");
    for (file, text, expected) in [
        ("deploy/Dockerfile", &dockerfile, "org.opencontainers.image.source="),
        ("deploy/Dockerfile", &dockerfile, "org.opencontainers.image.version="),
        ("deploy/Dockerfile", &dockerfile, "org.opencontainers.image.revision="),
        (
            "deploy/build-image.sh",
            &script,
            "cargo auditable build --profile image --locked",
        ),
        ("deploy/build-image.sh", &script, "--no-default-features"),
        ("deploy/build-image.sh", &script, "target-feature=+crt-static"),
        ("deploy/build-image.sh", &script, "deploy/Dockerfile"),
    ] {
        assert!(text.contains(expected), "{file} lacks {expected}");
    }

    // The chart runs the image as the same user.
    let values = &yaml_documents(&read("charts/detective-operator/values.yaml"), "values.yaml")[0];
    assert_eq!(values["podSecurityContext"]["runAsUser"], 65532);
    assert_eq!(values["securityContext"]["runAsUser"], 65532);
}
