//! What one reconcile reads of a resource besides AWS: its spec, the status the previous
//! reconcile wrote, and its generation. The member-side and management-side pipelines take it as
//! is; the graph pipeline's `Target` adds the claim check and progress reporting.

use kube::Resource;
use kube::core::object::{HasSpec, HasStatus};

/// A resource's spec, previous status and generation, borrowed for one reconcile.
pub struct ResourceTarget<'a, R: HasSpec + HasStatus> {
    pub spec: &'a R::Spec,
    pub previous: Option<&'a R::Status>,
    pub generation: Option<i64>,
}

impl<'a, R: Resource + HasSpec + HasStatus> ResourceTarget<'a, R> {
    /// A resource's spec, status and generation.
    pub fn of(resource: &'a R) -> Self {
        Self {
            spec: resource.spec(),
            previous: resource.status(),
            generation: resource.meta().generation,
        }
    }
}

// By hand: a derive would ask `R` itself to be `Copy`, and only references are copied.
impl<R: HasSpec + HasStatus> Clone for ResourceTarget<'_, R> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<R: HasSpec + HasStatus> Copy for ResourceTarget<'_, R> {}

impl<R: HasSpec + HasStatus> std::fmt::Debug for ResourceTarget<'_, R>
where
    R::Spec: std::fmt::Debug,
    R::Status: std::fmt::Debug,
{
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResourceTarget")
            .field("spec", self.spec)
            .field("previous", &self.previous)
            .field("generation", &self.generation)
            .finish()
    }
}
