//! The pinned helm of tests/e2e/setup-helm.sh, run with a private home per test, and the
//! `helm template` renders the other modules inspect.

use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::OnceLock;

use serde_json::Value;

use crate::{ALL_ENABLED, CHART, NAMESPACE, RELEASE, prerequisite, repo, yaml_documents};

/// The pinned helm, and a private HELM_{CACHE,CONFIG,DATA}_HOME for this test.
pub struct Helm {
    pub bin: PathBuf,
    pub home: tempfile::TempDir,
}

/// Runs tests/e2e/setup-helm.sh once per test binary.
fn helm_bin() -> &'static Result<PathBuf, String> {
    static BIN: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    BIN.get_or_init(|| {
        let home = tempfile::tempdir().map_err(|e| e.to_string())?;
        let dir = prerequisite::setup_script(
            "tests/e2e/setup-helm.sh",
            &[
                ("HELM_CACHE_HOME", home.path().join("cache")),
                ("HELM_CONFIG_HOME", home.path().join("config")),
                ("HELM_DATA_HOME", home.path().join("data")),
            ],
        )?;
        let bin = dir.join("helm");
        if !bin.is_file() {
            return Err(format!(
                "tests/e2e/setup-helm.sh printed {}, which holds no helm",
                dir.display()
            ));
        }
        Ok(bin)
    })
}

/// helm, or `None` after a loud message (a failure instead when `CI` is set).
pub fn helm() -> Option<Helm> {
    match helm_bin() {
        Ok(bin) => Some(Helm {
            bin: bin.clone(),
            home: tempfile::tempdir().expect("temporary directory"),
        }),
        Err(reason) => {
            prerequisite::fail_or_skip(
                "packaging test",
                &format!("no helm ({reason})"),
                "run tests/e2e/setup-helm.sh (see tests/e2e/README.md)",
            );
            None
        }
    }
}

/// helm, or a return from the test after [`helm`]'s message.
macro_rules! helm_or_skip {
    () => {
        match $crate::helm::helm() {
            Some(helm) => helm,
            None => return,
        }
    };
}
pub(crate) use helm_or_skip;

impl Helm {
    fn command(&self) -> Command {
        let mut command = Command::new(&self.bin);
        command
            .current_dir(repo(""))
            .env("HELM_CACHE_HOME", self.home.path().join("cache"))
            .env("HELM_CONFIG_HOME", self.home.path().join("config"))
            .env("HELM_DATA_HOME", self.home.path().join("data"));
        command
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.command()
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("helm {args:?}: {e}"))
    }

    /// `helm template detective-operator CHART --namespace detective-operator ARGS...`, which
    /// must succeed; its output as text.
    pub fn template_text(&self, args: &[&str]) -> String {
        let mut all = vec!["template", RELEASE, CHART, "--namespace", NAMESPACE];
        all.extend_from_slice(args);
        let output = self.run(&all);
        assert!(
            output.status.success(),
            "helm {all:?} failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).expect("helm prints UTF-8")
    }

    /// The rendered objects.
    pub fn template(&self, args: &[&str]) -> Vec<Value> {
        yaml_documents(&self.template_text(args), &format!("helm template {args:?}"))
    }

    /// The chart rendered with its default values and with the all-enabled values, each named.
    pub fn both_value_sets(&self) -> [(&'static str, Vec<Value>); 2] {
        [
            ("default values", self.template(&[])),
            ("all-enabled values", self.template(&["--values", ALL_ENABLED])),
        ]
    }

    /// `helm template` that must fail; its stderr.
    pub fn template_error(&self, args: &[&str]) -> String {
        let mut all = vec!["template", RELEASE, CHART, "--namespace", NAMESPACE];
        all.extend_from_slice(args);
        let output = self.run(&all);
        assert!(
            !output.status.success(),
            "helm {all:?} should have failed, but rendered:\n{}",
            String::from_utf8_lossy(&output.stdout)
        );
        String::from_utf8_lossy(&output.stderr).into_owned()
    }

    pub fn write_values(&self, name: &str, yaml: &str) -> String {
        let path = self.home.path().join(name);
        std::fs::write(&path, yaml).expect("write a values file");
        path.to_string_lossy().into_owned()
    }
}
