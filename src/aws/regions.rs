//! The Regions Amazon Detective is in, as the AWS SDKs' endpoint data (botocore, 2026-08) and
//! the General Reference page "Amazon Detective endpoints and quotas" list them. Admission does
//! not check a Region against this list (a new Region must not need a release); the operator uses
//! it to tell a Region without Detective, or an opt-in Region the account has not enabled, from
//! an outage, and `plan` warns about a Region outside it.

/// Every Region with a Detective endpoint.
pub const DETECTIVE_REGIONS: [&str; 23] = [
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

/// The opt-in Regions among them: an account must enable them before it can call there
/// (otherwise every call fails with UnrecognizedClientException).
pub const OPT_IN_REGIONS: [&str; 5] = ["af-south-1", "ap-east-1", "eu-south-1", "il-central-1", "me-south-1"];

/// Whether Detective is known to be in `region`.
pub fn has_detective(region: &str) -> bool {
    DETECTIVE_REGIONS.contains(&region)
}

/// Whether `region` is an opt-in Region Detective is in.
pub fn is_opt_in(region: &str) -> bool {
    OPT_IN_REGIONS.contains(&region)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_opt_in_regions_are_detective_regions_and_the_lists_hold_no_duplicate() {
        assert!(OPT_IN_REGIONS.iter().all(|r| has_detective(r)));
        let mut sorted = DETECTIVE_REGIONS.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), DETECTIVE_REGIONS.len());
        assert!(!has_detective("ap-northeast-3"), "no Detective in Osaka");
        assert!(!has_detective("cn-north-1"));
        assert!(is_opt_in("il-central-1") && !is_opt_in("eu-west-1"));
    }
}
