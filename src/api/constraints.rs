//! Field constraints of the contract, stated once: patterns and limits, the CEL rules the specs'
//! `#[x_kube]` attributes build ([`cel_rule`]) and the bounded `resyncInterval` ([`Interval`]).
//!
//! The patterns are written in the RE2 subset that both the API server (Go `regexp`) and the
//! `regex` crate understand, so the CRD schema (`graph.rs`, `membership.rs`) and the Rust-side
//! checks (`validation.rs`) read the same constants. It imports nothing from `api`; the graph ARN's
//! rule it hands on from [`crate::graph_arn`], where the type that reads ARNs states it.

use std::borrow::Cow;
use std::sync::LazyLock;
use std::time::Duration;

use kube::core::{Reason, Rule};
use regex::Regex;
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Serialize};

/// The most member accounts one behavior graph can hold (a Detective quota).
pub const MAX_MEMBERS: usize = 1200;

/// An AWS account id: exactly twelve digits.
pub const ACCOUNT_ID_PATTERN: &str = r"^[0-9]{12}$";
/// The root e-mail pattern Detective documents, with its look-ahead `(?!-)` rewritten as
/// "a label starts with an alphanumeric" so that RE2 (which has no look-around) accepts it.
pub const EMAIL_PATTERN: &str = r"^.+@(?:(?:[A-Za-z0-9][A-Za-z0-9-]{0,61})?[A-Za-z0-9]\.)+[A-Za-z]{2,63}$";
/// The longest root e-mail address Detective accepts.
pub const EMAIL_MAX_LENGTH: usize = 64;
/// An AWS Region name such as `us-east-1` or `us-gov-west-1`.
pub const REGION_PATTERN: &str = r"^[a-z]{2}(?:-[a-z]+)+-[0-9]+$";
pub const REGION_MAX_LENGTH: usize = 32;
/// The most Regions one `DetectiveOrganizationAdmin` or `DetectiveGraphSet` declares (AWS has
/// fewer than 40).
pub const MAX_REGIONS: usize = 64;
/// The longest name of a `DetectiveGraphSet`'s child (`<set>-<region>`): a DNS label, so that
/// the set's name fits the children's `detective.operator.dev/graph-set` label value as well.
pub const CHILD_NAME_MAX_LENGTH: usize = 63;
/// A Kubernetes label value (at most [`LABEL_VALUE_MAX_LENGTH`] characters).
pub const LABEL_VALUE_PATTERN: &str = r"^(?:(?:[A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$";
pub const LABEL_VALUE_MAX_LENGTH: usize = 63;
/// A Kubernetes label or annotation key: an optional DNS-subdomain prefix and `/`, then a name
/// of at most 63 characters.
pub const QUALIFIED_NAME_PATTERN: &str =
    r"^(?:[a-z0-9](?:[-a-z0-9.]{0,251}[a-z0-9])?/)?[A-Za-z0-9](?:[-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$";
/// The most labels, and the most annotations, a `DetectiveGraphSet`'s template gives its children.
pub const MAX_TEMPLATE_METADATA: usize = 64;
// A behavior graph ARN: stated with the type that reads it, below the API.
pub use crate::graph_arn::{GRAPH_ARN_MAX_LENGTH, GRAPH_ARN_PATTERN};
/// An IAM role ARN (the role path may contain slashes).
pub const ROLE_ARN_PATTERN: &str = r"^arn:aws[-a-z]{0,10}:iam::[0-9]{12}:role/[A-Za-z0-9_+=,.@/-]{1,512}$";
pub const ROLE_ARN_MAX_LENGTH: usize = 2048;
/// An IAM role name.
pub const ROLE_NAME_PATTERN: &str = r"^[A-Za-z0-9_+=,.@-]{1,64}$";
/// An STS external id (2 to [`EXTERNAL_ID_MAX_LENGTH`] characters: the length is a separate
/// constraint because the API server's regular expressions repeat at most 1,000 times).
pub const EXTERNAL_ID_PATTERN: &str = r"^[A-Za-z0-9_+=,.@:/-]{2,}$";
pub const EXTERNAL_ID_MAX_LENGTH: usize = 1224;
/// An STS role session name.
pub const SESSION_NAME_PATTERN: &str = r"^[A-Za-z0-9_+=,.@-]{2,64}$";
/// A duration as Kubernetes and Flux users write it: `30s`, `5m`, `1h30m`.
pub const DURATION_PATTERN: &str = r"^(?:[0-9]+(?:ms|s|m|h))+$";
pub const DURATION_MAX_LENGTH: usize = 32;
/// The most members one sync may be allowed to remove (`deletionGuard.maxDeletions`).
pub const MAX_DELETIONS_LIMIT: i32 = 1200;
/// Invitation message bounds, as CreateMembers enforces them.
pub const MESSAGE_MAX_LENGTH: usize = 1000;
/// Tag bounds, as TagResource enforces them.
pub const MAX_TAGS: usize = 50;
pub const TAG_KEY_MAX_LENGTH: usize = 128;
pub const TAG_VALUE_MAX_LENGTH: usize = 256;
/// The characters of a tag key. Detective's pattern is `^(?!aws:)[a-zA-Z+-=._:/]+$`: its `+-=` is
/// a range (`+ , - . / 0-9 : ; < =`), kept here as written so both sides read the same class.
/// The look-ahead is [`TAG_KEY_RESERVED_PREFIX`], checked on its own because RE2 has no look-around.
pub const TAG_KEY_PATTERN: &str = r"^[a-zA-Z+-=._:/]+$";
/// The prefix AWS reserves for its own tag keys (case-sensitive: `AWS:x` is an ordinary key).
pub const TAG_KEY_RESERVED_PREFIX: &str = "aws:";

/// An AWS Organizations root (`r-...`) or OU (`ou-<root>-<unit>`) id, as the Organizations API
/// documents them (`^r-[0-9a-z]{4,32}$`, `^ou-[0-9a-z]{4,32}-[a-z0-9]{8,32}$`).
pub const PARENT_ID_PATTERN: &str = r"^(?:r-[0-9a-z]{4,32}|ou-[0-9a-z]{4,32}-[a-z0-9]{8,32})$";
/// The most roots and OUs `membersFrom.organization` may list (an organization has at most
/// 1,000 OUs by default; listing more than a few dozen means "the whole organization").
pub const MAX_ORGANIZATIONAL_UNITS: usize = 100;
/// The `resyncInterval` of a resource that declares none.
pub const DEFAULT_RESYNC_INTERVAL: Duration = Duration::from_secs(300);
/// The `membersFrom.organization.refreshInterval` of a graph that declares none.
pub const DEFAULT_REFRESH_INTERVAL: Duration = Duration::from_secs(600);
/// The longest `resyncInterval` or `refreshInterval`: drift made outside the operator, and an
/// account that joined the organization, are found within a day at the latest.
pub const MAX_INTERVAL: Duration = Duration::from_secs(24 * 3600);
/// [`MAX_INTERVAL`] as the CRD's CEL rule (`duration('24h')`) and the messages write it.
pub const MAX_INTERVAL_TEXT: &str = "24h";

/// How often something is read again (a `resyncInterval`, or `membersFrom.organization.
/// refreshInterval`), as written (`30s`, `5m`, `1h30m`), from 0 to [`MAX_INTERVAL`]. The schema,
/// the bound and the parsing stated once; each field documents what it reads again and gives its
/// default.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(transparent)]
pub struct Interval(String);

impl Interval {
    /// The default `resyncInterval`.
    pub fn default_resync() -> Self {
        Self("5m".to_owned())
    }

    /// The default `membersFrom.organization.refreshInterval`.
    pub fn default_refresh() -> Self {
        Self("10m".to_owned())
    }

    /// As declared.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The declared interval, when it is well-formed and at most [`MAX_INTERVAL`].
    pub fn declared(&self) -> Option<Duration> {
        parse_duration(&self.0).filter(|interval| *interval <= MAX_INTERVAL)
    }

    /// The interval to wait. One out of range (an object stored before the schema's bound, or a
    /// file given to the CLI) is refused by the resource's validation, which names the field and
    /// stalls the resource; `default` only paces the retries until it is fixed.
    pub fn duration_or(&self, default: Duration) -> Duration {
        self.declared().unwrap_or(default)
    }
}

impl JsonSchema for Interval {
    fn inline_schema() -> bool {
        true
    }

    fn schema_name() -> Cow<'static, str> {
        "Interval".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        // The pattern holds first, so the CEL rule reads only well-formed durations (and says
        // nothing more about a malformed one).
        json_schema!({
            "type": "string",
            "pattern": DURATION_PATTERN,
            "maxLength": DURATION_MAX_LENGTH,
            "x-kubernetes-validations": [{
                "rule": format!(
                    "!self.matches('{DURATION_PATTERN}') || duration(self) <= duration('{MAX_INTERVAL_TEXT}')"
                ),
                "message": format!("must be at most {MAX_INTERVAL_TEXT}"),
            }],
        })
    }
}

/// A CEL rule of the schema (`x-kubernetes-validations`): while `rule` does not hold, the API
/// server refuses the object with `message`, naming `field_path` and `reason`. In a `#[x_kube]`
/// attribute: `validation = cel_rule(..)`.
pub(crate) fn cel_rule(rule: &str, message: &str, field_path: &str, reason: Reason) -> Rule {
    Rule::new(rule).message(message).field_path(field_path).reason(reason)
}

/// The CEL rule that the optional `field` of the object keeps its value once set (it may not be
/// removed either).
pub(crate) fn immutable_once_set(field: &str, message: &str) -> Rule {
    cel_rule(
        &format!("!has(oldSelf.{field}) || (has(self.{field}) && self.{field} == oldSelf.{field})"),
        message,
        &format!(".{field}"),
        Reason::FieldValueInvalid,
    )
}

/// Compiles one of the patterns above.
pub(crate) fn compiled(pattern: &'static str) -> Regex {
    Regex::new(pattern).expect("the contract's patterns are valid regular expressions")
}

static DURATION: LazyLock<Regex> = LazyLock::new(|| compiled(DURATION_PATTERN));

/// Parses a `resyncInterval`-style duration (`90s`, `5m`, `1h30m`, `500ms`).
pub fn parse_duration(value: &str) -> Option<std::time::Duration> {
    if !DURATION.is_match(value) {
        return None;
    }
    let mut total = std::time::Duration::ZERO;
    let mut digits = String::new();
    let mut chars = value.chars().peekable();
    while let Some(c) = chars.next() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        let amount: u64 = digits.parse().ok()?;
        digits.clear();
        let unit = match (c, chars.peek()) {
            ('m', Some('s')) => {
                chars.next();
                std::time::Duration::from_millis(1)
            }
            ('s', _) => std::time::Duration::from_secs(1),
            ('m', _) => std::time::Duration::from_secs(60),
            ('h', _) => std::time::Duration::from_secs(3600),
            _ => return None,
        };
        total = total.checked_add(unit.checked_mul(u32::try_from(amount).ok()?)?)?;
    }
    Some(total)
}
