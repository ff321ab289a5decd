//! The emulator's state behind one lock: the service model, the world, faults, call counts and
//! the clock. The HTTP side ([`crate::server`]), the control endpoints ([`crate::control`]) and
//! the in-process API ([`crate::Emulator`]) all act on it; it depends on none of them.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use super::faults::{Fault, FaultTable, TokenBucket};
use super::model::{Graph, GraphSnapshot, ServiceState};
use super::prng::SplitMix64;
use super::state_file;
use super::world::{World, WorldConfig, WorldPatch};

pub(crate) struct Shared {
    inner: Mutex<Inner>,
    state_file: Option<PathBuf>,
    /// From [`EmulatorConfig::default_account`](super::EmulatorConfig); the world model's
    /// `defaultAccount` takes precedence.
    default_account: String,
}

pub(crate) struct Inner {
    pub state: ServiceState,
    pub world: World,
    pub faults: FaultTable,
    /// The realistic profile's Organizations rate limit (`organizationsRateLimit`): one bucket
    /// per calling account.
    pub organizations_buckets: BTreeMap<String, TokenBucket>,
    pub calls: BTreeMap<String, u64>,
    /// Calls answered by an injected error fault, per operation (a subset of `calls`).
    pub faulted: BTreeMap<String, u64>,
    /// Calls refused by IAM enforcement (AccessDenied), per operation (a subset of `calls`).
    pub refused: BTreeMap<String, u64>,
    /// Calls being answered now, per operation (injected latency included).
    in_flight: BTreeMap<String, u64>,
    /// The most calls of each operation ever answered at the same time since the last reset.
    peak_in_flight: BTreeMap<String, u64>,
    pub rng: SplitMix64,
}

/// One call being answered: counted in flight from [`Shared::enter`] until dropped.
pub(crate) struct InFlight<'a> {
    shared: &'a Shared,
    operation: String,
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        let mut inner = self.shared.lock();
        if let Some(count) = inner.in_flight.get_mut(&self.operation) {
            *count = count.saturating_sub(1);
        }
    }
}

impl Inner {
    /// Replays the lazy transitions due by the emulator clock's now ([`ServiceState::settle`]),
    /// as every look at the service must first; answers that instant.
    pub fn settle_now(&mut self) -> i64 {
        let now_ms = self.state.now_ms();
        self.state.settle(&self.world, now_ms);
        now_ms
    }
}

impl Shared {
    pub fn new(
        state: ServiceState,
        world: WorldConfig,
        default_account: String,
        state_file: Option<PathBuf>,
    ) -> Shared {
        let mut world = world;
        world.complete(&WorldConfig::default(), super::wire::jiff_timestamp(state.now_ms()));
        Shared {
            inner: Mutex::new(Inner {
                state,
                world: World::new(world),
                faults: FaultTable::default(),
                organizations_buckets: BTreeMap::new(),
                calls: BTreeMap::new(),
                faulted: BTreeMap::new(),
                refused: BTreeMap::new(),
                in_flight: BTreeMap::new(),
                peak_in_flight: BTreeMap::new(),
                rng: SplitMix64::from_time(),
            }),
            state_file,
            default_account,
        }
    }

    /// The lock is never held across an await, and a panic while holding it leaves the state
    /// as consistent as any single operation does, so a poisoned lock is simply taken over.
    pub fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn persist(&self, inner: &Inner) {
        if let Some(path) = &self.state_file
            && let Err(err) = state_file::save(path, inner.world.config(), &inner.state)
        {
            tracing::error!(path = %path.display(), error = %err, "cannot write the emulator state file");
        }
    }

    pub fn calls(&self) -> BTreeMap<String, u64> {
        self.lock().calls.clone()
    }

    pub fn faulted_calls(&self) -> BTreeMap<String, u64> {
        self.lock().faulted.clone()
    }

    pub fn refused_calls(&self) -> BTreeMap<String, u64> {
        self.lock().refused.clone()
    }

    /// The most calls of each operation answered at the same time since the last reset.
    pub fn peak_in_flight(&self) -> BTreeMap<String, u64> {
        self.lock().peak_in_flight.clone()
    }

    /// Counts a call of `operation` in flight until the guard is dropped.
    pub fn enter(&self, operation: &str) -> InFlight<'_> {
        let mut inner = self.lock();
        let now = {
            let count = inner.in_flight.entry(operation.to_owned()).or_default();
            *count += 1;
            *count
        };
        let peak = inner.peak_in_flight.entry(operation.to_owned()).or_default();
        *peak = (*peak).max(now);
        InFlight {
            shared: self,
            operation: operation.to_owned(),
        }
    }

    /// Resets the call counts, the faulted-call and the refused-call counts, and the peaks of
    /// calls in flight.
    pub fn reset_calls(&self) {
        let mut inner = self.lock();
        inner.calls.clear();
        inner.faulted.clear();
        inner.refused.clear();
        inner.peak_in_flight.clear();
    }

    pub fn world(&self) -> WorldConfig {
        self.lock().world.config().clone()
    }

    /// Replaces the world model (already validated), completed with what it implies
    /// ([`WorldConfig::complete`]); organization changes take effect in the service.
    pub fn set_world(&self, mut world: WorldConfig) {
        let mut guard = self.lock();
        let inner = &mut *guard;
        let now_ms = inner.settle_now();
        world.complete(inner.world.config(), super::wire::jiff_timestamp(now_ms));
        let after = World::new(world);
        inner.state.apply_organization_changes(&inner.world, &after, now_ms);
        inner.state.apply_account_states(&inner.world, &after, now_ms);
        inner.state.note_placement_changes(&inner.world, &after, now_ms);
        inner.world = after;
        self.persist(inner);
    }

    /// The current world with `patch` applied, validated.
    pub fn merged_world(&self, patch: WorldPatch) -> Result<WorldConfig, String> {
        let mut world = self.world();
        world.merge(patch);
        world.validate()?;
        Ok(world)
    }

    pub fn inject_fault(&self, fault: Fault) {
        self.lock().faults.inject(fault);
    }

    pub fn clear_faults(&self) {
        self.lock().faults.clear();
    }

    pub fn faults(&self) -> Vec<Fault> {
        self.lock().faults.list()
    }

    pub fn graphs(&self) -> Vec<GraphSnapshot> {
        let mut inner = self.lock();
        inner.settle_now();
        inner.state.snapshot()
    }

    pub fn advance_clock(&self, by: Duration) {
        let mut guard = self.lock();
        guard.state.clock_offset_ms = guard
            .state
            .clock_offset_ms
            .saturating_add(i64::try_from(by.as_millis()).unwrap_or(i64::MAX));
        self.persist(&guard);
    }

    pub fn now_ms(&self) -> i64 {
        self.lock().state.now_ms()
    }

    /// Creates `administrator`'s graph in `region` as if it had been created at `created_ms`
    /// (its datasource packages as a graph of that age starts them); the caller's account may
    /// have no graph there yet.
    pub fn seed_graph(&self, administrator: &str, region: &str, created_ms: i64) -> Result<String, String> {
        if !super::validate::is_account_id(administrator) {
            return Err(format!(
                "administratorAccount {administrator:?} is not a 12-digit account id"
            ));
        }
        let mut guard = self.lock();
        let inner = &mut *guard;
        if let Some(graph) = inner.state.graph_of(administrator, region) {
            return Err(format!(
                "account {administrator} already administers {} in {region}",
                graph.arn
            ));
        }
        let arn = Graph::new_arn(region, administrator, &mut inner.rng);
        let graph = Graph::new(arn.clone(), region, administrator, created_ms);
        inner.state.graphs.insert(arn.clone(), graph);
        self.persist(inner);
        Ok(arn)
    }

    /// Forgets every graph, member, delegation and registration; keeps the world, faults and
    /// call counts.
    pub fn reset_state(&self) {
        let mut guard = self.lock();
        let clock_offset_ms = guard.state.clock_offset_ms;
        guard.state = ServiceState {
            clock_offset_ms,
            ..ServiceState::default()
        };
        self.persist(&guard);
    }

    /// The account of a caller whose access key id is not an account id.
    pub fn effective_default_account(&self, inner: &Inner) -> String {
        inner
            .world
            .default_account()
            .unwrap_or(&self.default_account)
            .to_owned()
    }
}
