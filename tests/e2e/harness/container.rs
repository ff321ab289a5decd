//! The operator's container image (built by `deploy/build-image.sh`), run by Docker the way a
//! cluster runs it. The tests do not build the image: a static release build takes minutes, and
//! `.ci/run` builds it with the same script users run, just before the tests.

use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use super::{fail_or_skip, run_checked, tail};

/// The container engine (docker.io's `dockerd`, started by `.ci/run`).
pub const ENGINE: &str = "docker";

/// The image under test: `DETECTIVE_OPERATOR_IMAGE`, else what `deploy/build-image.sh` builds
/// by default and the chart names by default, `detective-operator:<version>`.
pub fn image_name() -> String {
    std::env::var("DETECTIVE_OPERATOR_IMAGE")
        .unwrap_or_else(|_| format!("detective-operator:{}", env!("CARGO_PKG_VERSION")))
}

/// The image, when the engine answers and has it; otherwise a loud skip (a failure under CI).
pub fn image_or_skip() -> Option<String> {
    let image = image_name();
    let check = run_checked(Command::new(ENGINE).args(["image", "inspect", "--format", "{{.Id}}", &image]));
    match check {
        Ok(_) => Some(image),
        Err(error) => {
            fail_or_skip(&format!(
                "no container image {image} ({error}); build it with deploy/build-image.sh \
                 (needs a running {ENGINE} daemon)"
            ));
            None
        }
    }
}

/// `docker <args>`, which must succeed; its stdout.
pub fn engine(args: &[&str]) -> String {
    run_checked(Command::new(ENGINE).args(args)).unwrap_or_else(|error| panic!("{error}"))
}

/// A container, removed (`docker rm -f`) when dropped; its log printed if the test is failing.
pub struct Container {
    pub name: String,
}

impl Container {
    /// `docker run --detach --name <unique> <options> <image> <args>`.
    pub fn run(prefix: &str, options: &[String], image: &str, args: &[String]) -> Container {
        static NEXT: AtomicUsize = AtomicUsize::new(1);
        let name = format!(
            "detective-e2e-{prefix}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let mut command = Command::new(ENGINE);
        command
            .args(["run", "--detach", "--name", &name])
            .args(options)
            .arg(image)
            .args(args);
        // Named before it runs, so that a failed start is cleaned up too.
        let container = Container { name };
        run_checked(&mut command).unwrap_or_else(|error| panic!("{error}"));
        container
    }

    /// What the container wrote to stdout and stderr so far.
    pub fn logs(&self) -> String {
        match Command::new(ENGINE).args(["logs", &self.name]).output() {
            Ok(output) => format!(
                "{}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            ),
            Err(error) => format!("{ENGINE} logs {}: {error}", self.name),
        }
    }

    /// `docker inspect --format FORMAT`, trimmed.
    pub fn inspect(&self, format: &str) -> String {
        engine(&["inspect", "--format", format, &self.name]).trim().to_owned()
    }

    /// `docker stop --time GRACE` (SIGTERM, then SIGKILL after the grace period); the exit code.
    pub fn stop(&self, grace: Duration) -> i64 {
        engine(&["stop", "--time", &grace.as_secs().to_string(), &self.name]);
        let code = self.inspect("{{.State.ExitCode}}");
        code.parse().unwrap_or_else(|e| panic!("exit code {code:?}: {e}"))
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "---- container {} log ----\n{}\n---- end of container {} log ----",
                self.name,
                tail(&self.logs(), 300),
                self.name
            );
        }
        let _ = Command::new(ENGINE).args(["rm", "--force", &self.name]).output();
    }
}

/// The files of an image, from its layers (`docker save`): paths without a leading `/`,
/// directories ending in `/`. The layers are also unpacked into `scratch`, to look at the files.
pub fn image_files(image: &str, scratch: &Path) -> Vec<String> {
    let archive = scratch.join("image.tar");
    engine(&["save", "--output", &archive.to_string_lossy(), image]);
    let unpacked = scratch.join("image");
    std::fs::create_dir_all(&unpacked).expect("unpack dir");
    run_checked(Command::new("tar").arg("-xf").arg(&archive).arg("-C").arg(&unpacked))
        .unwrap_or_else(|error| panic!("{error}"));
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(unpacked.join("manifest.json")).expect("manifest.json"))
            .expect("manifest.json is JSON");
    let layers = manifest[0]["Layers"].as_array().expect("Layers").clone();
    let mut files = Vec::new();
    for layer in layers {
        let layer = unpacked.join(layer.as_str().expect("layer path"));
        let listing = run_checked(Command::new("tar").arg("-tf").arg(&layer)).unwrap_or_else(|error| panic!("{error}"));
        files.extend(listing.lines().map(|l| l.trim_start_matches("./").to_owned()));
        run_checked(Command::new("tar").arg("-xf").arg(&layer).arg("-C").arg(scratch))
            .unwrap_or_else(|error| panic!("{error}"));
    }
    files.retain(|f| !f.is_empty());
    files.sort();
    files
}
