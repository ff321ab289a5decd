//! The realistic profile: what AWS does that the default profile leaves out so that unit-level
//! tests stay instant and simple. One switch (`realistic: true` in the world, `--realistic`)
//! turns every part on at its realistic default; each part also has its own setting in the
//! world, which wins over the switch either way. The table of what is modelled, with sources, is
//! in `docs/emulator.md` ("The realistic profile").
//!
//! A part added later brings its field in [`WorldConfig`](super::WorldConfig) and
//! [`WorldPatch`](super::WorldPatch), its realistic default here, and its line in
//! [`WorldConfig::realism`](super::WorldConfig::realism).

use std::time::Duration;

use serde::{Deserialize, Deserializer, Serializer};

/// `propagationDelay` when the realistic profile is on and the world sets none.
pub const REALISTIC_PROPAGATION_DELAY: Duration = Duration::from_secs(3);

/// `verificationDelay` when the realistic profile is on and the world sets none.
pub const REALISTIC_VERIFICATION_DELAY: Duration = Duration::from_secs(2);

/// `organizationsRateLimit` when the realistic profile is on and the world sets none: AWS
/// documents no figure for Organizations' request rate, so this is a choice (unverified), low
/// enough that a listing of a few hundred accounts meets it, as peers report.
pub const REALISTIC_ORGANIZATIONS_RATE_LIMIT: u32 = 5;

/// The settings in force, resolved from the world: each part's own setting, else the profile's
/// default for it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Realism {
    /// How long a change to the organization's Detective administrator
    /// (Enable/DisableOrganizationAdminAccount) and to an organization configuration's
    /// AutoEnable takes to show (`propagationDelay`).
    pub propagation_delay: Duration,
    /// One Detective administrator for the organization (`singleAdministrator`): once AWS
    /// Organizations has a delegated administrator for Detective, only that account or the
    /// management account may be named, in any Region.
    pub single_administrator: bool,
    /// Detective only in its 23 Regions, opt-in ones only for accounts that enabled them
    /// (`strictRegions`; [`crate::regions`]).
    pub strict_regions: bool,
    /// IAM enforced for assumed roles (`enforceIam`, which the profile turns on and cannot turn
    /// off: set the profile's other parts alone to run without it).
    pub enforce_iam: bool,
    /// How long CreateMembers keeps an account of the organization VERIFICATION_IN_PROGRESS
    /// before it is ENABLED or ACCEPTED_BUT_DISABLED (`verificationDelay`).
    pub verification_delay: Duration,
    /// Organizations answers accounts without the retired `Status` field, `State` only
    /// (`omitAccountStatus`).
    pub omit_account_status: bool,
    /// Organizations answers accounts with `Paths` and OUs with `Path` (`accountPaths`).
    pub account_paths: bool,
    /// Organizations calls a second per calling account beyond which it answers
    /// TooManyRequestsException (`organizationsRateLimit`; `None`: no limit).
    pub organizations_rate_limit: Option<u32>,
    /// Calls signed with the credentials of an account that is not ACTIVE in its organization
    /// are refused (`refuseInactiveCallers`).
    pub refuse_inactive_callers: bool,
}

impl Realism {
    /// [`Realism::propagation_delay`] in the clock's milliseconds.
    pub fn propagation_delay_ms(&self) -> i64 {
        millis(self.propagation_delay)
    }

    /// [`Realism::verification_delay`] in the clock's milliseconds.
    pub fn verification_delay_ms(&self) -> i64 {
        millis(self.verification_delay)
    }
}

/// A delay setting in force: its own value, else the profile's default (none by default).
pub(crate) fn delay(setting: Option<Duration>, realistic: bool, realistic_default: Duration) -> Duration {
    setting.unwrap_or(if realistic { realistic_default } else { Duration::ZERO })
}

fn millis(delay: Duration) -> i64 {
    i64::try_from(delay.as_millis()).unwrap_or(i64::MAX)
}

/// A delay setting of the world, written as a duration (`"3s"`, `"300ms"`, `"1m 30s"` or ISO 8601
/// `"PT3S"`). A malformed or negative one is refused naming the field, so that a typo fails the
/// start rather than silently meaning "no delay".
fn parse_delay(field: &str, text: &str) -> Result<Duration, String> {
    let parsed: jiff::SignedDuration = text
        .trim()
        .parse()
        .map_err(|_| format!("{field}: {text:?} is not a duration (write e.g. \"3s\" or \"300ms\")"))?;
    Duration::try_from(parsed).map_err(|_| format!("{field}: {text:?} must not be negative"))
}

/// `"3s"`, `"300ms"`: how [`parse_delay`] reads it back.
fn format_delay(delay: Duration) -> String {
    match jiff::SignedDuration::try_from(delay) {
        Ok(delay) => format!("{delay:#}"),
        Err(_) => format!("{}ms", delay.as_millis()),
    }
}

/// `#[serde(with = ...)]` modules for the delay fields, each naming its field in errors.
macro_rules! delay_field {
    ($module:ident, $field:literal) => {
        pub(crate) mod $module {
            use super::*;

            pub fn serialize<S: Serializer>(delay: &Option<Duration>, serializer: S) -> Result<S::Ok, S::Error> {
                match delay {
                    Some(delay) => serializer.serialize_str(&format_delay(*delay)),
                    None => serializer.serialize_none(),
                }
            }

            pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Duration>, D::Error> {
                match Option::<String>::deserialize(deserializer)? {
                    Some(text) => parse_delay($field, &text)
                        .map(Some)
                        .map_err(serde::de::Error::custom),
                    None => Ok(None),
                }
            }
        }
    };
}

delay_field!(propagation_delay, "propagationDelay");
delay_field!(verification_delay, "verificationDelay");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_are_durations_and_a_bad_one_names_its_field() {
        assert_eq!(parse_delay("d", "3s"), Ok(Duration::from_secs(3)));
        assert_eq!(parse_delay("d", "300ms"), Ok(Duration::from_millis(300)));
        assert_eq!(parse_delay("d", "PT1M"), Ok(Duration::from_secs(60)));
        for bad in ["3", "three seconds", "3x", ""] {
            let error = parse_delay("propagationDelay", bad).expect_err(bad);
            assert!(error.starts_with("propagationDelay: "), "{error}");
        }
        let error = parse_delay("propagationDelay", "-3s").expect_err("negative");
        assert!(error.contains("negative"), "{error}");
        for delay in [
            Duration::from_secs(3),
            Duration::from_millis(300),
            Duration::from_secs(90),
        ] {
            assert_eq!(parse_delay("d", &format_delay(delay)), Ok(delay));
        }
        assert_eq!(format_delay(Duration::from_secs(3)), "3s");
    }
}
