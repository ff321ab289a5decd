//! The peers' calls through boto3: AWS's Security Reference Architecture Detective solution,
//! replayed call for call by `tests/boto3/test_sra_detective.py` against an emulator started
//! here (STS, Organizations trusted access, IAM's service-linked role, the Detective
//! organization setup, the teardown; IAM enforcement of the IAM calls).
//!
//! The Python comes from `DETECTIVE_OPERATOR_BOTO3_PYTHON`, a venv with the pinned boto3 that
//! `tests/boto3/setup-venv.sh` makes (`.ci/run` exports it). Without it the test fails under CI
//! and is skipped, loudly, elsewhere.

#[allow(dead_code)]
#[path = "../../tests/e2e/harness/prerequisite.rs"]
mod prerequisite;

use std::path::{Path, PathBuf};
use std::process::Command;

use detective_emulator::{Emulator, EmulatorConfig};

const PYTHON_VARIABLE: &str = "DETECTIVE_OPERATOR_BOTO3_PYTHON";

/// The venv's python, or why there is none.
fn boto3_python() -> Result<PathBuf, String> {
    let python = std::env::var_os(PYTHON_VARIABLE).ok_or_else(|| format!("{PYTHON_VARIABLE} is not set"))?;
    let python = PathBuf::from(python);
    if python.is_file() {
        Ok(python)
    } else {
        Err(format!("{PYTHON_VARIABLE}={} is not a file", python.display()))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_security_reference_architecture_runs_unchanged_through_boto3() {
    let python = match boto3_python() {
        Ok(python) => python,
        Err(reason) => {
            prerequisite::fail_or_skip(
                "boto3 tests",
                &reason,
                &format!("run `export {PYTHON_VARIABLE}=$(tests/boto3/setup-venv.sh | tail -1)` first"),
            );
            return;
        }
    };
    let emulator = Emulator::start(EmulatorConfig::default())
        .await
        .expect("the emulator starts");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/boto3/test_sra_detective.py");
    let endpoint = emulator.endpoint_url();
    let output = tokio::task::spawn_blocking(move || {
        let mut command = Command::new(&python);
        // Only what the test gives boto3: no profile, no ambient credentials, no instance metadata.
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("AWS_") {
                command.env_remove(name);
            }
        }
        command
            .arg(&script)
            .env("EMULATOR_ENDPOINT", endpoint)
            .env("AWS_CONFIG_FILE", "/dev/null")
            .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .output()
    })
    .await
    .expect("the python process is waited for")
    .expect("python runs");
    let report = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the boto3 tests failed ({}):\n{report}",
        output.status
    );
    assert!(report.contains("\nOK"), "unittest reported no success:\n{report}");
    eprintln!("{report}");
    emulator.shutdown().await;
}
