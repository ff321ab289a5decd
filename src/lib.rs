//! detective-operator: keeps Amazon Detective behavior-graph membership exactly as declared.
//!
//! The reconcile is one pipeline, pure in the middle:
//! observe ([`aws`] reads) → plan (pure) → apply ([`aws`] writes) → report (status),
//! run by [`engine`] for both the controller and the command line.

pub mod api;
pub mod aws;
pub mod cli;
pub mod controller;
pub mod engine;
pub mod graph_arn;
pub mod http_server;
pub mod member;
pub mod metrics;
pub mod telemetry;
