//! The organization listings one operator process shares between its graphs: graphs that ask
//! the same `spec.membersFrom.organization` question as the same reader (the graphs of a
//! `DetectiveGraphSet`, one per Region) get one listing per `refreshInterval` instead of one
//! each. For 1,200 accounts in 17 Regions a refresh is ⌈1,201/20⌉ = 61 ListAccounts calls, not
//! 17 × 61.
//!
//! - **Keyed by what was asked and by whom** ([`ListingRequest`]): the roots and OUs, the
//!   exclusions, the reader (the role assumed, with its external id, or the operator's own
//!   identity) and the Organizations endpoint (the partition's home Region). A listing made by
//!   one reader is never given to another.
//! - **One listing in flight per request.** Reconciles asking the same thing while it is listed
//!   wait for it and share its result, a failure included (a throttled listing is not repeated
//!   by every waiter at once).
//! - **Fresh for the asker's own interval.** A finished listing is reused while it is younger
//!   than the asking graph's `refreshInterval`; the graph records the listing's time as its
//!   refresh time, so the graphs sharing it refresh together.
//! - **In memory only.** Each graph still records its resolved set in its own status, so a
//!   restarted operator needs no listing inside the interval; the share only saves the listings
//!   of graphs that are due anyway.
//!
//! The share knows nothing of what a listing holds (it is generic in it), so the members step
//! ([`super::graph::members_from`]) stays its only user.

use std::collections::{BTreeSet, HashMap};
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use k8s_openapi::jiff::{SignedDuration, Timestamp};

use crate::api::DeclaredRole;
use crate::api::constraints::MAX_INTERVAL;
use crate::aws::AwsError;
use crate::metrics::Metrics;

/// What a graph asks of the organization, and as whom: graphs asking the same share a listing.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ListingRequest {
    /// The roots and OUs asked for, each once (none: the whole organization).
    units: BTreeSet<String>,
    /// The accounts left out (`excludeAccounts`).
    excluded: BTreeSet<String>,
    /// The role that lists (its ARN and external id), or `None`: the operator's own identity.
    reader: Option<(String, Option<String>)>,
    /// The Region whose partition's Organizations endpoint is asked (its home Region), or
    /// `None`: the operator's default Region's.
    endpoint_region: Option<String>,
}

impl ListingRequest {
    pub fn new(
        units: &[String],
        excluded: &[String],
        reader: Option<DeclaredRole<'_>>,
        endpoint_region: Option<&str>,
    ) -> Self {
        Self {
            units: units.iter().cloned().collect(),
            excluded: excluded.iter().cloned().collect(),
            reader: reader.map(|role| (role.role_arn.to_owned(), role.external_id.map(str::to_owned))),
            endpoint_region: endpoint_region.map(str::to_owned),
        }
    }
}

/// A listing as the share hands it out.
#[derive(Debug)]
pub struct SharedListing<L> {
    pub listing: Arc<L>,
    /// When it was made (the `now` of the reconcile that made it).
    pub listed_at: Timestamp,
    /// Whether another reconcile made it (this one made no call).
    pub shared: bool,
}

/// The listings of one process, per [`ListingRequest`].
#[derive(Debug)]
pub struct OrganizationListings<L> {
    slots: Mutex<HashMap<ListingRequest, Arc<Slot<L>>>>,
    /// Where each listing handed out is counted (`organization_listings_total`), if anywhere.
    metrics: Option<Arc<Metrics>>,
}

impl<L> Default for OrganizationListings<L> {
    fn default() -> Self {
        Self {
            slots: Mutex::new(HashMap::new()),
            metrics: None,
        }
    }
}

impl<L> OrganizationListings<L> {
    /// A share that counts in `metrics` each listing it hands out, made or shared.
    pub fn counted_in(metrics: Arc<Metrics>) -> Self {
        Self {
            metrics: Some(metrics),
            ..Self::default()
        }
    }
}

/// One request's listing: the last outcome, behind the lock a listing in flight holds.
#[derive(Debug)]
struct Slot<L> {
    last: tokio::sync::Mutex<Option<Outcome<L>>>,
    /// Listings finished (counted under `last`'s lock): a waiter that saw fewer on arrival
    /// knows the last outcome came from a listing that was in flight while it waited.
    finished: AtomicU64,
}

#[derive(Debug)]
struct Outcome<L> {
    result: Result<Arc<L>, AwsError>,
    at: Timestamp,
}

impl<L> OrganizationListings<L> {
    /// The listing `request` asks for, at `now`: the one in flight for it when there is one,
    /// else one made within `fresh_for` of `now`, else a new one made by `list`.
    pub async fn listing<F, Fut>(
        &self,
        request: ListingRequest,
        now: Timestamp,
        fresh_for: Duration,
        list: F,
    ) -> Result<SharedListing<L>, AwsError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<L, AwsError>>,
    {
        let slot = self.slot(request, now);
        let seen = slot.finished.load(Ordering::Acquire);
        let mut last = slot.last.lock().await;
        if let Some(outcome) = last.as_ref() {
            let in_flight_on_arrival = slot.finished.load(Ordering::Acquire) > seen;
            let fresh = outcome.result.is_ok() && younger_than(outcome.at, now, fresh_for);
            if in_flight_on_arrival || fresh {
                return outcome.result.clone().map(|listing| {
                    self.counted(SharedListing {
                        listing,
                        listed_at: outcome.at,
                        shared: true,
                    })
                });
            }
        }
        let result = list().await.map(Arc::new);
        *last = Some(Outcome {
            result: result.clone(),
            at: now,
        });
        slot.finished.fetch_add(1, Ordering::Release);
        result.map(|listing| {
            self.counted(SharedListing {
                listing,
                listed_at: now,
                shared: false,
            })
        })
    }

    /// `handed`, counted in the metrics (when the share has them).
    fn counted(&self, handed: SharedListing<L>) -> SharedListing<L> {
        if let Some(metrics) = &self.metrics {
            metrics.organization_listing(handed.shared);
        }
        handed
    }

    /// The slot of `request`, made when missing. Slots no reconcile holds whose last listing is
    /// older than any `refreshInterval` can be are dropped on the way (a spec that changed its
    /// units leaves its old request behind).
    fn slot(&self, request: ListingRequest, now: Timestamp) -> Arc<Slot<L>> {
        let mut slots = self.slots.lock().expect("listing share lock");
        slots.retain(|_, slot| {
            Arc::strong_count(slot) > 1
                || slot.last.try_lock().map_or(true, |last| {
                    last.as_ref().is_none_or(|o| younger_than(o.at, now, MAX_INTERVAL))
                })
        });
        slots
            .entry(request)
            .or_insert_with(|| {
                Arc::new(Slot {
                    last: tokio::sync::Mutex::new(None),
                    finished: AtomicU64::new(0),
                })
            })
            .clone()
    }
}

/// Whether `at` is less than `interval` before `now` (a zero interval: never).
fn younger_than(at: Timestamp, now: Timestamp, interval: Duration) -> bool {
    let interval = SignedDuration::try_from(interval).unwrap_or(SignedDuration::MAX);
    now.duration_since(at) < interval
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;

    use super::*;
    use crate::aws::ErrorKind;

    const MINUTE: Duration = Duration::from_secs(60);

    fn request(reader: Option<&str>) -> ListingRequest {
        let role = reader.map(|role_arn| DeclaredRole {
            role_arn,
            external_id: None,
        });
        ListingRequest::new(&[], &[], role, Some("us-east-1"))
    }

    /// Lists `value`, counting the calls in `calls`.
    async fn counted(calls: &AtomicUsize, value: u32) -> Result<u32, AwsError> {
        calls.fetch_add(1, Ordering::SeqCst);
        tokio::task::yield_now().await;
        Ok(value)
    }

    #[tokio::test]
    async fn one_listing_per_interval_and_request_and_reader() {
        let share = OrganizationListings::default();
        let calls = AtomicUsize::new(0);
        let now = Timestamp::now();
        let first = share
            .listing(request(None), now, 10 * MINUTE, || counted(&calls, 1))
            .await;
        assert!(!first.expect("listed").shared);
        let later = now + SignedDuration::from_mins(9);
        let again = share
            .listing(request(None), later, 10 * MINUTE, || counted(&calls, 2))
            .await;
        let again = again.expect("shared");
        assert_eq!((*again.listing, again.listed_at, again.shared), (1, now, true));
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        // Another reader, or an asker whose interval is shorter, lists.
        let role = share.listing(
            request(Some("arn:aws:iam::111122223333:role/r")),
            later,
            10 * MINUTE,
            || counted(&calls, 3),
        );
        assert_eq!(*role.await.expect("listed").listing, 3);
        let short = share
            .listing(request(None), later, 5 * MINUTE, || counted(&calls, 4))
            .await;
        assert_eq!(*short.expect("listed").listing, 4);
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn each_listing_handed_out_is_counted_as_listed_or_shared() {
        let metrics = Arc::new(Metrics::new());
        let share = OrganizationListings::counted_in(metrics.clone());
        let calls = AtomicUsize::new(0);
        let now = Timestamp::now();
        for _ in 0..3 {
            share
                .listing(request(None), now, 10 * MINUTE, || counted(&calls, 1))
                .await
                .expect("listed or shared");
        }
        let text = metrics.encode();
        assert!(
            text.contains("detective_operator_organization_listings_total{source=\"listed\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("detective_operator_organization_listings_total{source=\"shared\"} 2"),
            "{text}"
        );
    }

    #[tokio::test]
    async fn concurrent_askers_wait_for_the_listing_in_flight_and_share_its_failure() {
        let share = OrganizationListings::<u32>::default();
        let calls = AtomicUsize::new(0);
        let now = Timestamp::now();
        let failing = || async {
            calls.fetch_add(1, Ordering::SeqCst);
            tokio::task::yield_now().await;
            Err(AwsError::new(
                "ListAccounts",
                ErrorKind::Throttled,
                "TooManyRequestsException",
                "slow down",
            ))
        };
        let asks = (0..17).map(|_| share.listing(request(None), now, 10 * MINUTE, failing));
        let results = futures::future::join_all(asks).await;
        assert!(results.iter().all(Result::is_err));
        assert_eq!(calls.load(Ordering::SeqCst), 1, "one listing for 17 concurrent askers");
        // A failure is not kept for later askers.
        let after = share
            .listing(request(None), now, 10 * MINUTE, || counted(&calls, 5))
            .await;
        assert_eq!(*after.expect("listed").listing, 5);
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }
}
