//! A `DetectiveGraphSet`'s step, pure (no client, no clock): which child `DetectiveGraph` each
//! declared Region should have and what to do about the children seen ([`children`]), and the
//! status the children's own statuses roll up to ([`rollup`]). The controller
//! (`controller::graph_set`) reads the children, applies the actions and writes the status; the
//! command line expands a set into its children's graphs with [`children::child_graphs`].

pub mod children;
pub mod rollup;

pub use children::{ChildAction, ChildView, child_graphs, decide, desired_child};
pub use rollup::{CHILD_CONFLICT, RegionProgress, report, was_in_conflict};
