//! The kinds a process reconciles (`--kinds`): one variant per kind, named as the flag takes it.

use clap::ValueEnum;

/// A kind the operator can reconcile.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, ValueEnum)]
pub enum Kind {
    /// `DetectiveGraph`.
    #[value(name = "graph")]
    Graph,
    /// `DetectiveMembership`.
    #[value(name = "membership")]
    Membership,
    /// `DetectiveOrganizationAdmin`.
    #[value(name = "organizationadmin")]
    OrganizationAdmin,
    /// `DetectiveGraphSet` (it writes DetectiveGraphs: the process that runs it needs no AWS
    /// credentials).
    #[value(name = "graphset")]
    GraphSet,
}

impl Kind {
    /// The kinds a process reconciles: the ones named, each once, or every kind when none is.
    pub fn selected(named: &[Kind]) -> Vec<Kind> {
        let mut kinds = if named.is_empty() {
            Kind::value_variants().to_vec()
        } else {
            named.to_vec()
        };
        kinds.sort_unstable();
        kinds.dedup();
        kinds
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn none_named_is_every_kind_and_a_kind_named_twice_runs_once() {
        assert_eq!(
            Kind::selected(&[]),
            [Kind::Graph, Kind::Membership, Kind::OrganizationAdmin, Kind::GraphSet]
        );
        assert_eq!(
            Kind::selected(&[Kind::OrganizationAdmin, Kind::Graph, Kind::OrganizationAdmin]),
            [Kind::Graph, Kind::OrganizationAdmin]
        );
    }
}
