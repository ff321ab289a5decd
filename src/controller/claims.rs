//! Which resource owns a behavior graph when several point at it. Pure: no client, no clock.
//!
//! Two `DetectiveGraph`s managing one graph would undo each other's work. Every replica and every
//! reconcile must pick the same owner without coordination, so the rule only reads what all of
//! them see: the resource that already recorded the graph in its status wins; among several (or
//! none yet), the oldest resource, then the lowest `namespace/name`.

use k8s_openapi::jiff::Timestamp;

/// One resource's relation to graphs, as the watch cache shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Claimant {
    /// `namespace/name`.
    pub key: String,
    /// The graph recorded in `status.graphArn`.
    pub recorded: Option<String>,
    /// The graph named in `spec.graphArn`.
    pub declared: Option<String>,
    pub created: Option<Timestamp>,
    /// Being deleted: it lets go of its graph.
    pub deleting: bool,
}

/// The owner of `graph_arn` among `claimants` (which include the asking resource, `me`), or
/// `None` when `me` owns it.
pub fn other_owner(graph_arn: &str, me: &str, claimants: &[Claimant]) -> Option<String> {
    let claims = |c: &&Claimant| {
        c.key == me
            || (!c.deleting && (c.recorded.as_deref() == Some(graph_arn) || c.declared.as_deref() == Some(graph_arn)))
    };
    let recorded = |c: &Claimant| c.key != me && c.recorded.as_deref() == Some(graph_arn);
    let mut candidates: Vec<&Claimant> = claimants.iter().filter(claims).collect();
    // A resource that recorded the graph has been managing it: it outranks newcomers.
    candidates.sort_by(|a, b| {
        let a_rank = !(recorded(a) || (a.key == me && a.recorded.as_deref() == Some(graph_arn)));
        let b_rank = !(recorded(b) || (b.key == me && b.recorded.as_deref() == Some(graph_arn)));
        (a_rank, a.created, &a.key).cmp(&(b_rank, b.created, &b.key))
    });
    match candidates.first() {
        Some(owner) if owner.key != me => Some(owner.key.clone()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GRAPH: &str = "arn:aws:detective:us-east-1:123456789012:graph:0123456789abcdef0123456789abcdef";

    fn claimant(key: &str, recorded: bool, created: i64) -> Claimant {
        Claimant {
            key: key.into(),
            recorded: recorded.then(|| GRAPH.to_owned()),
            declared: None,
            created: Some(Timestamp::from_second(created).unwrap()),
            deleting: false,
        }
    }

    #[test]
    fn alone_i_own_it() {
        assert_eq!(other_owner(GRAPH, "ns/a", &[claimant("ns/a", false, 1)]), None);
    }

    #[test]
    fn the_recorded_owner_wins_over_an_older_newcomer() {
        let all = [claimant("ns/old", false, 1), claimant("ns/owner", true, 5)];
        assert_eq!(other_owner(GRAPH, "ns/old", &all), Some("ns/owner".into()));
        assert_eq!(other_owner(GRAPH, "ns/owner", &all), None);
    }

    #[test]
    fn both_sides_agree_on_the_owner() {
        let all = [claimant("ns/a", true, 1), claimant("ns/b", true, 2)];
        assert_eq!(other_owner(GRAPH, "ns/b", &all), Some("ns/a".into()));
        assert_eq!(other_owner(GRAPH, "ns/a", &all), None);
    }

    #[test]
    fn a_deleting_owner_lets_go() {
        let mut owner = claimant("ns/a", true, 1);
        owner.deleting = true;
        assert_eq!(other_owner(GRAPH, "ns/b", &[owner, claimant("ns/b", false, 2)]), None);
    }

    #[test]
    fn a_declared_arn_counts_as_a_claim() {
        let mut declared = claimant("ns/a", false, 1);
        declared.declared = Some(GRAPH.into());
        assert_eq!(
            other_owner(GRAPH, "ns/b", &[declared, claimant("ns/b", false, 2)]),
            Some("ns/a".into())
        );
    }
}
