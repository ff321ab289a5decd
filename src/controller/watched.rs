//! What the watches, the decoding of watched objects and the metrics need of a kind: its
//! [`Watched`] trait, apart from both so that neither has to import the other for it.

/// A kind the operator watches: what its watch, decoding and metrics need of it.
pub trait Watched:
    kube::Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
    + Clone
    + serde::de::DeserializeOwned
    + std::fmt::Debug
    + Send
    + Sync
    + 'static
{
    /// The `kind` label of the metrics.
    const KIND: &'static str;
}

/// Every reconciled kind is watched.
impl<K: super::reconciler::Managed> Watched for K {
    const KIND: &'static str = <K as super::reconciler::Managed>::KIND;
}
