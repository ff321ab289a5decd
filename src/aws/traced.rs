//! The one place an SDK call's result enters the operator: its error classified
//! ([`AwsError::from_sdk`]), its outcome counted by operation and logged at debug (request details
//! can carry e-mail addresses, so never above debug). Both SDK adapters go through it.

use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use super::AwsError;
use crate::metrics::Metrics;

/// `sent` (one call, or one page of a paginated call) of `service`'s `operation`, counted; a
/// regional service's failure is classified as met in its `region` ([`AwsError::in_region`]).
pub(super) fn traced<T, E, R>(
    metrics: &Metrics,
    service: &'static str,
    region: Option<&str>,
    operation: &'static str,
    sent: Result<T, SdkError<E, R>>,
) -> Result<T, AwsError>
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    let result = sent.map_err(|e| {
        let error = AwsError::from_sdk(operation, e);
        match region {
            Some(region) => error.in_region(region),
            None => error,
        }
    });
    let outcome = match &result {
        Ok(_) => {
            tracing::debug!(service, operation, "AWS call succeeded");
            "ok"
        }
        Err(error) => {
            tracing::debug!(service, operation, kind = error.kind.as_str(), code = %error.code, "AWS call failed");
            error.kind.label()
        }
    };
    metrics.observe_aws_call(operation, outcome);
    result
}

/// Sends `$request` page by page (the invoking module's `PAGE_SIZE` items a page) and gathers
/// what `$items` takes from each page into the function's collection; every page goes through
/// `$self.traced` as `$operation`.
macro_rules! all_pages {
    ($self:ident, $operation:expr, $request:expr, |$page:ident| $items:expr) => {{
        let mut pages = $request.into_paginator().page_size(PAGE_SIZE).send();
        let mut items = Default::default();
        while let Some(page) = pages.next().await {
            let $page = $self.traced($operation, page)?;
            Extend::extend(&mut items, $items);
        }
        Ok(items)
    }};
}

pub(super) use all_pages;
