//! The tools a test needs from outside the repository: provided by a setup script of tests/e2e
//! (kube-apiserver, etcd, helm), or missing. Plain std, so that tests outside the e2e suite
//! (tests/packaging/) include this file alone with `#[path]`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Runs a setup script of the repository with `envs` set, and returns the bin directory it prints
/// last.
pub fn setup_script(script: &str, envs: &[(&str, PathBuf)]) -> Result<PathBuf, String> {
    let output = Command::new(Path::new(env!("CARGO_MANIFEST_DIR")).join(script))
        .envs(envs.iter().map(|(key, value)| (key, value)))
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("{script}: {e}"))?;
    if !output.status.success() {
        return Err(format!("{script} failed ({})", output.status));
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let dir = stdout
        .lines()
        .last()
        .map(PathBuf::from)
        .ok_or_else(|| format!("{script} printed no bin directory"))?;
    if !dir.is_dir() {
        return Err(format!("{script} printed {}, which is not a directory", dir.display()));
    }
    Ok(dir)
}

/// The one rule for a missing tool: a failure under CI (`CI` set), a loud skip otherwise.
/// `tests` names what is skipped, `remedy` says how to get the tool.
pub fn fail_or_skip(tests: &str, reason: &str, remedy: &str) {
    if std::env::var_os("CI").is_some() {
        panic!("{tests}: a prerequisite is missing and CI is set: {reason}");
    }
    // Written past libtest's output capture, so that a skipped (passing) test is still seen.
    let _ = writeln!(
        std::io::stderr(),
        "\n*** {tests} SKIPPED: {reason}\n*** {remedy}; with CI set this is a failure ***\n"
    );
}
