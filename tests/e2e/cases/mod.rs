//! The e2e scenarios, one module per area. Each test starts with [`Env::new`] (its own
//! namespace) and returns early when the prerequisites are missing outside CI.
//!
//! [`Env::new`]: crate::harness::Env::new

mod admission;
mod agreement;
mod chaos;
mod crds;
mod datasource_packages;
mod deletion;
mod graph;
mod graph_set;
mod helm;
mod image;
mod leader;
mod membership;
mod observability;
mod observe_only;
mod operator;
mod organization_admin;
// It seeds the demo organization, which is compiled in with the emulator (the default feature).
#[cfg(feature = "emulator")]
mod organization_members;
mod rbac;
mod regions;
mod reporting;
mod restart;
mod sharding;
mod undecodable;
