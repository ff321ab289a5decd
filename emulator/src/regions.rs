//! Where Detective answers: the 23 Regions of the AWS General Reference page "Amazon Detective
//! endpoints and quotas" (botocore's endpoint data, 2026-08), five of them opt-in. Kept here
//! apart from the operator's own copy on purpose: the emulator models AWS, the operator's list
//! is what the operator believes, and a test must be able to show them disagreeing.
//!
//! With `strictRegions` (the realistic profile), a Detective call signed for any other Region
//! fails the way a client meets a Region without an endpoint: the connection is dropped before
//! an answer (the SDK sees a dispatch failure, as with a name that does not resolve). A call from
//! an account to an opt-in Region it has not enabled (`enabledRegions`) is answered 403
//! UnrecognizedClientException, as AWS answers there ("Enable or disable AWS Regions in your
//! account", AWS Account Management Reference Guide: "you can't use ... resources in a Region
//! that is disabled").

/// Every Region with a Detective endpoint.
const DETECTIVE_REGIONS: [&str; 23] = [
    "af-south-1",
    "ap-east-1",
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-south-1",
    "ap-southeast-1",
    "ap-southeast-2",
    "ca-central-1",
    "eu-central-1",
    "eu-north-1",
    "eu-south-1",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "il-central-1",
    "me-south-1",
    "sa-east-1",
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
    "us-gov-east-1",
    "us-gov-west-1",
];

/// The opt-in Regions among them.
const OPT_IN_REGIONS: [&str; 5] = ["af-south-1", "ap-east-1", "eu-south-1", "il-central-1", "me-south-1"];

/// Why a call cannot be answered in its Region.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RegionRefusal {
    /// No Detective endpoint there: the connection is dropped.
    NoEndpoint,
    /// An opt-in Region the calling account has not enabled.
    NotEnabled,
}

/// What a call from an account that enabled the opt-in Regions `enabled` meets in `region`.
pub(crate) fn refusal(region: &str, enabled: &[String]) -> Option<RegionRefusal> {
    if !DETECTIVE_REGIONS.contains(&region) {
        return Some(RegionRefusal::NoEndpoint);
    }
    let opted_in = enabled.iter().any(|r| r == region);
    (OPT_IN_REGIONS.contains(&region) && !opted_in).then_some(RegionRefusal::NotEnabled)
}

/// Whether `region` is an opt-in Region (for the world's validation of `enabledRegions`).
pub(crate) fn is_opt_in(region: &str) -> bool {
    OPT_IN_REGIONS.contains(&region)
}

/// The ARN partition of `region`: `aws-us-gov` in GovCloud (US), `aws-cn` in China, else `aws`.
pub(crate) fn partition(region: &str) -> &'static str {
    if is_gov_cloud(region) {
        "aws-us-gov"
    } else if region.starts_with("cn-") {
        "aws-cn"
    } else {
        "aws"
    }
}

/// Whether `region` is one of AWS GovCloud (US)'s, where "Detective does not perform this
/// validation [of the member's root user e-mail address] or sends email invitations to member
/// accounts" (Detective User Guide, "Managing invited member accounts in Detective").
pub(crate) fn is_gov_cloud(region: &str) -> bool {
    region.starts_with("us-gov-")
}

/// The message AWS gives with UnrecognizedClientException.
pub(crate) const NOT_ENABLED_MESSAGE: &str = "The security token included in the request is invalid.";

/// Unwinds the task answering the connection without a response: hyper then drops the
/// connection, which is what a client meets where a Region has no endpoint. `resume_unwind`
/// runs no panic hook, so nothing is printed.
pub(crate) fn drop_connection() -> ! {
    std::panic::resume_unwind(Box::new("no Detective endpoint in this Region"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_detective_regions_answer_and_opt_in_ones_only_once_enabled() {
        assert_eq!(refusal("ap-northeast-3", &[]), Some(RegionRefusal::NoEndpoint));
        assert_eq!(refusal("xx-fake-1", &[]), Some(RegionRefusal::NoEndpoint));
        assert_eq!(refusal("us-east-1", &[]), None);
        assert_eq!(refusal("us-gov-west-1", &[]), None);
        assert_eq!(refusal("il-central-1", &[]), Some(RegionRefusal::NotEnabled));
        assert_eq!(refusal("il-central-1", &["il-central-1".to_owned()]), None);
        assert!(OPT_IN_REGIONS.iter().all(|r| DETECTIVE_REGIONS.contains(r)));
    }

    #[test]
    fn govcloud_regions_have_their_own_partition() {
        assert_eq!(partition("us-gov-west-1"), "aws-us-gov");
        assert_eq!(partition("us-gov-east-1"), "aws-us-gov");
        assert_eq!(partition("us-east-1"), "aws");
        assert_eq!(partition("cn-north-1"), "aws-cn");
        assert!(is_gov_cloud("us-gov-east-1") && !is_gov_cloud("us-east-1"));
    }
}
