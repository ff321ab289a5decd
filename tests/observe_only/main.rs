//! `spec.managementPolicy: Observe` through the engine and the real SDK against the emulator, one
//! module per kind: a drifted resource reports every change a sync would make
//! (`status.pendingChanges`, `InSync` False, Ready as observed) and AWS receives no write,
//! deletion included; back to `Manage`, the next sync applies exactly that plan and AWS then
//! matches the spec.

#[path = "../../emulator/tests/fixtures/mod.rs"]
mod fixtures;
#[path = "../support/mod.rs"]
mod support;

mod graph;
mod membership;
mod organization_admin;

use detective_emulator::Emulator;
use detective_operator::api::{PendingChanges, SyncStatus};

use support::write_calls;

/// The AWS write calls the emulator answered.
fn writes(emulator: &Emulator) -> Vec<String> {
    write_calls(emulator).into_keys().collect()
}

/// A condition's status and reason.
fn condition(status: &SyncStatus, type_: &str) -> (String, String) {
    let condition = status
        .condition(type_)
        .unwrap_or_else(|| panic!("{type_} in {:?}", status.conditions));
    (condition.status.clone(), condition.reason.clone())
}

/// action → how many, and what the first ones are.
fn actions(pending: &PendingChanges) -> Vec<(&str, i32, Vec<&str>)> {
    pending
        .actions
        .iter()
        .map(|a| (a.action.as_str(), a.count, a.first.iter().map(String::as_str).collect()))
        .collect()
}
