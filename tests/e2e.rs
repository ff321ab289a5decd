//! End-to-end tests: the `detective-operator` binary against a real kube-apiserver + etcd, the
//! Detective emulator in-process, kubectl and helm used the way users use them.
//!
//! One control plane per test binary (started by the first test, gone when the binary exits),
//! one namespace, emulator and operator process per test, so tests run in parallel. How to run
//! them and what they need: tests/e2e/README.md.

#[path = "../emulator/tests/fixtures/mod.rs"]
mod fixtures;

#[path = "e2e/harness/mod.rs"]
mod harness;

#[path = "e2e/cases/mod.rs"]
mod cases;

#[path = "observability/mod.rs"]
mod observability;

mod support;
