//! Leader election over a `coordination.k8s.io/v1` Lease: only the holder reconciles, so status
//! is written by one replica at a time.

use std::time::Duration;

use kube::Client;
use kube_lease_manager::{LeaseManager, LeaseManagerBuilder};
use tokio::sync::watch;

/// How long a holder's claim lasts without renewal, and how early it renews.
const LEASE_DURATION_SECONDS: u64 = 15;
const LEASE_GRACE_SECONDS: u64 = 5;

/// A running election: `is_leader` follows the lease.
pub struct Election {
    pub is_leader: watch::Receiver<bool>,
    task: tokio::task::JoinHandle<Result<LeaseManager, kube_lease_manager::LeaseManagerError>>,
}

/// The Lease could not be joined.
#[derive(Debug, thiserror::Error)]
#[error("leader election on Lease {lease}: {source}")]
pub struct ElectionError {
    /// `namespace/name`.
    pub lease: String,
    #[source]
    pub source: kube_lease_manager::LeaseManagerError,
}

impl Election {
    /// Joins the election for `lease_name` in `namespace` as `identity`.
    pub async fn join(
        client: Client,
        lease_name: &str,
        namespace: &str,
        identity: &str,
    ) -> Result<Self, ElectionError> {
        let manager = LeaseManagerBuilder::new(client, lease_name)
            .with_namespace(namespace)
            .with_identity(identity)
            .with_duration(LEASE_DURATION_SECONDS)
            .with_grace(LEASE_GRACE_SECONDS)
            .with_field_manager(format!("{}-lease", super::status::FIELD_MANAGER))
            .build()
            .await
            .map_err(|source| ElectionError {
                lease: format!("{namespace}/{lease_name}"),
                source,
            })?;
        let (is_leader, task) = manager.watch().await;
        Ok(Self { is_leader, task })
    }

    /// Waits until this replica holds the lease (or the election ended).
    pub async fn acquired(&mut self) -> bool {
        self.is_leader.wait_for(|leader| *leader).await.is_ok()
    }

    /// Resolves when the lease is lost.
    pub fn lost(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        let mut receiver = self.is_leader.clone();
        async move {
            let _ = receiver.wait_for(|leader| !*leader).await;
        }
    }

    /// Gives the lease up on shutdown. A standby takes it at its next acquisition attempt, which
    /// kube-lease-manager schedules at the old holder's expiry: at most the lease duration (15 s)
    /// after the leader stopped, without a crash's wait for a stale renewal.
    pub async fn release(self) {
        drop(self.is_leader);
        match tokio::time::timeout(Duration::from_secs(5), self.task).await {
            Ok(Ok(Ok(manager))) => {
                if let Err(error) = manager.release().await {
                    tracing::warn!(%error, "could not release the lease");
                }
            }
            _ => tracing::warn!("the lease task did not end in time; the lease expires on its own"),
        }
    }
}
