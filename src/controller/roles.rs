//! The roles the objects of this process name, and letting go of the others: once no object in
//! the watch caches names a role (the last one was deleted, changed its role, or moved to another
//! shard), its credentials are dropped from [`AwsAccess`].
//!
//! Mark and sweep against the watch caches: whenever a watch changes its cache (an object
//! applied or gone, a relist), the roles every cached object names are gathered and the others'
//! credentials dropped. The caches are the truth of what this process holds, whatever the path an
//! object took out of them (a relist after a lost watch replaces the cache without telling of
//! each object that went), and no use of a role has to carry which object it is for. A role
//! reached without being named, as an invited member's role that accepts its invitation
//! (`spec.acceptInvitations`), is used once and dropped at the next sweep.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kube::runtime::reflector::Store;
use tokio::sync::{Notify, watch};
use tracing::debug;

use crate::api::{DeclaredRole, DetectiveGraph, DetectiveMembership, DetectiveOrganizationAdmin};
use crate::aws::{AwsAccess, RoleToAssume};
use crate::http_server::Readiness;

/// At most one sweep in this long: a burst of changes (1,000 status writes) costs one sweep.
const SWEEP_AT_MOST_EVERY: Duration = Duration::from_secs(1);

/// A kind whose objects name roles to act through.
pub trait NamesRoles {
    /// Every role the object names.
    fn named_roles(&self) -> impl Iterator<Item = DeclaredRole<'_>>;
}

impl NamesRoles for DetectiveGraph {
    /// Its administrator's role, and the role that lists its organization's accounts
    /// (`membersFrom.organization.assumeRoleArn`).
    fn named_roles(&self) -> impl Iterator<Item = DeclaredRole<'_>> {
        let organization = self
            .spec
            .members_from
            .as_ref()
            .and_then(|from| from.organization.as_ref());
        self.spec
            .role()
            .into_iter()
            .chain(organization.and_then(|organization| organization.role()))
    }
}

impl NamesRoles for DetectiveMembership {
    fn named_roles(&self) -> impl Iterator<Item = DeclaredRole<'_>> {
        self.spec.role().into_iter()
    }
}

impl NamesRoles for DetectiveOrganizationAdmin {
    fn named_roles(&self) -> impl Iterator<Item = DeclaredRole<'_>> {
        self.spec.role().into_iter()
    }
}

/// Adds the roles every object of one watch cache names.
type NamedIn = Box<dyn Fn(&mut HashSet<RoleToAssume>) + Send + Sync>;

/// The watch caches of the kinds this process reconciles, read for the roles their objects name.
#[derive(Clone, Default)]
pub struct HeldRoles {
    caches: Arc<Mutex<Vec<NamedIn>>>,
}

impl HeldRoles {
    /// Counts the roles the objects of `cache` name.
    pub fn hold<K: NamesRoles + kube::Resource<DynamicType = ()> + Send + Sync + Clone + 'static>(
        &self,
        cache: Store<K>,
    ) {
        let named_in = move |roles: &mut HashSet<RoleToAssume>| {
            for object in cache.state() {
                roles.extend(object.named_roles().map(RoleToAssume::from));
            }
        };
        self.caches.lock().expect("caches lock").push(Box::new(named_in));
    }

    /// Every role an object in the caches names, each once.
    pub fn named(&self) -> HashSet<RoleToAssume> {
        let mut roles = HashSet::new();
        for named_in in self.caches.lock().expect("caches lock").iter() {
            named_in(&mut roles);
        }
        roles
    }

    /// Drops the credentials of every role no cached object names; returns how many it dropped.
    pub fn release_unnamed(&self, aws: &AwsAccess) -> usize {
        let dropped = aws.retain_roles(|| self.named());
        if dropped > 0 {
            debug!(dropped, "dropped the credentials of roles no object names any more");
        }
        dropped
    }

    /// Sweeps ([`HeldRoles::release_unnamed`]) after each change `changed` tells of, once
    /// every watch has listed (`ready`: before, a cache still filling would name too few roles),
    /// until `stop`.
    pub async fn release_on_change(
        self,
        aws: Arc<AwsAccess>,
        changed: Arc<Notify>,
        ready: Readiness,
        mut stop: watch::Receiver<bool>,
    ) {
        loop {
            tokio::select! {
                () = changed.notified() => {}
                _ = stop.wait_for(|stop| *stop) => return,
            }
            if ready.get() {
                self.release_unnamed(&aws);
            }
            // Changes meanwhile leave one notification behind: one more sweep after the pause.
            tokio::select! {
                () = tokio::time::sleep(SWEEP_AT_MOST_EVERY) => {}
                _ = stop.wait_for(|stop| *stop) => return,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use kube::runtime::reflector;
    use kube::runtime::watcher::Event;

    use super::*;

    fn graph(name: &str, role: &str, organization_role: Option<&str>) -> DetectiveGraph {
        let mut spec = serde_json::json!({"assumeRoleArn": role, "externalId": "shared", "members": []});
        if let Some(organization_role) = organization_role {
            spec["membersFrom"] = serde_json::json!({"organization": {"assumeRoleArn": organization_role}});
        }
        serde_json::from_value(serde_json::json!({
            "apiVersion": "detective.operator.dev/v1alpha1",
            "kind": "DetectiveGraph",
            "metadata": {"name": name, "namespace": "ns"},
            "spec": spec,
        }))
        .expect("a DetectiveGraph")
    }

    fn arns(roles: &HashSet<RoleToAssume>) -> Vec<&str> {
        let mut arns: Vec<&str> = roles.iter().map(|r| r.role_arn.as_str()).collect();
        arns.sort_unstable();
        arns
    }

    #[test]
    fn the_roles_named_are_those_of_the_objects_cached_now() {
        let (store, mut writer) = reflector::store::<DetectiveGraph>();
        let held = HeldRoles::default();
        held.hold(store);
        let (a, b, c) = (
            "arn:aws:iam::1:role/a",
            "arn:aws:iam::2:role/b",
            "arn:aws:iam::3:role/c",
        );
        let graphs = [graph("one", a, None), graph("two", a, None), graph("three", b, Some(c))];
        for graph in &graphs {
            writer.apply_watcher_event(&Event::Apply(graph.clone()));
        }
        assert_eq!(arns(&held.named()), [a, b, c]);
        // Each role with its own external id: the graph's, none for the organization's.
        let external_id = |arn: &str| {
            held.named()
                .into_iter()
                .find(|r| r.role_arn == arn)
                .and_then(|r| r.external_id)
        };
        assert_eq!(external_id(b), Some("shared".to_owned()));
        assert_eq!(external_id(c), None);

        writer.apply_watcher_event(&Event::Delete(graphs[2].clone()));
        writer.apply_watcher_event(&Event::Delete(graphs[0].clone()));
        assert_eq!(arns(&held.named()), [a], "graph two still names a");
        writer.apply_watcher_event(&Event::Apply(graph("two", b, None)));
        assert_eq!(arns(&held.named()), [b], "graph two changed its role");
    }
}
