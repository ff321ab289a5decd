//! The Rust-side checks of the contract's field constraints ([`super::constraints`]).
//!
//! They exist for inputs that never pass an API server: files given to
//! `plan -f` / `sync -f`, and objects stored before a stricter schema was installed.

use std::collections::BTreeSet;
use std::fmt;
use std::sync::LazyLock;

use regex::Regex;

pub use super::constraints::parse_duration;
use super::constraints::*;
use super::graph::{DetectiveGraphSpec, OrganizationMembersSpec};
use super::graph_set::{
    DetectiveGraphSet, DetectiveGraphSetSpec, TEMPLATE_GRAPH_ARN_MESSAGE, TEMPLATE_REGION_MESSAGE, TemplateMetadata,
    child_name_message,
};
use super::membership::DetectiveMembershipSpec;
use super::organization_admin::DetectiveOrganizationAdminSpec;
use super::role::AssumeRoleSpec;

static ACCOUNT_ID: LazyLock<Regex> = LazyLock::new(|| compiled(ACCOUNT_ID_PATTERN));
static EMAIL: LazyLock<Regex> = LazyLock::new(|| compiled(EMAIL_PATTERN));
static REGION: LazyLock<Regex> = LazyLock::new(|| compiled(REGION_PATTERN));
static GRAPH_ARN: LazyLock<Regex> = LazyLock::new(|| compiled(GRAPH_ARN_PATTERN));
static ROLE_ARN: LazyLock<Regex> = LazyLock::new(|| compiled(ROLE_ARN_PATTERN));
static ROLE_NAME: LazyLock<Regex> = LazyLock::new(|| compiled(ROLE_NAME_PATTERN));
static EXTERNAL_ID: LazyLock<Regex> = LazyLock::new(|| compiled(EXTERNAL_ID_PATTERN));
static SESSION_NAME: LazyLock<Regex> = LazyLock::new(|| compiled(SESSION_NAME_PATTERN));
static DURATION: LazyLock<Regex> = LazyLock::new(|| compiled(DURATION_PATTERN));
static TAG_KEY: LazyLock<Regex> = LazyLock::new(|| compiled(TAG_KEY_PATTERN));
static PARENT_ID: LazyLock<Regex> = LazyLock::new(|| compiled(PARENT_ID_PATTERN));
static LABEL_VALUE: LazyLock<Regex> = LazyLock::new(|| compiled(LABEL_VALUE_PATTERN));
static QUALIFIED_NAME: LazyLock<Regex> = LazyLock::new(|| compiled(QUALIFIED_NAME_PATTERN));

/// Whether `value` is an e-mail address Detective accepts.
pub fn is_email(value: &str) -> bool {
    value.chars().count() <= EMAIL_MAX_LENGTH && EMAIL.is_match(value)
}

/// One violated constraint, named by its path in the object (`spec.members[3].accountId`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

/// Every violated constraint of one object; empty means valid.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FieldErrors(pub Vec<FieldError>);

impl FieldErrors {
    fn push(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.0.push(FieldError {
            field: field.into(),
            message: message.into(),
        });
    }

    fn check_pattern(&mut self, field: impl Into<String>, value: &str, re: &Regex, what: &str) {
        if !re.is_match(value) {
            self.push(field, format!("{value:?} is not {what} (pattern {})", re.as_str()));
        }
    }

    /// A pattern and a length limit (in characters, as the API server counts `maxLength`).
    fn check_bounded(&mut self, field: &str, value: &str, (re, max_length): (&Regex, usize), what: &str) {
        self.check_pattern(field, value, re, what);
        if value.chars().count() > max_length {
            self.push(field, format!("at most {max_length} characters"));
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn into_result(self) -> Result<(), FieldErrors> {
        if self.0.is_empty() { Ok(()) } else { Err(self) }
    }
}

impl fmt::Display for FieldErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, error) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{error}")?;
        }
        Ok(())
    }
}

impl std::error::Error for FieldErrors {}

impl DetectiveGraphSpec {
    /// Checks every constraint of the schema (and its CEL rules that need no previous object).
    pub fn validate(&self) -> Result<(), FieldErrors> {
        let mut errors = FieldErrors::default();
        check_graph_and_region(&mut errors, self.graph_arn.as_deref(), self.region.as_deref());
        check_role(&mut errors, "spec", &self.assume_role);
        check_tags(&mut errors, &self.tags);
        check_datasource_packages(&mut errors, self.datasource_packages.as_deref().unwrap_or_default());
        if self.members.len() > MAX_MEMBERS {
            errors.push(
                "spec.members",
                format!(
                    "{} members declared; a behavior graph holds at most {MAX_MEMBERS}",
                    self.members.len()
                ),
            );
        }
        for (i, member) in self.members.iter().enumerate() {
            let field = format!("spec.members[{i}]");
            errors.check_pattern(
                format!("{field}.accountId"),
                &member.account_id,
                &ACCOUNT_ID,
                "a 12-digit AWS account id",
            );
            if !is_email(&member.email_address) {
                // The address itself is not repeated: e-mail addresses stay out of messages
                // that end up in logs and events.
                errors.push(
                    format!("{field}.emailAddress"),
                    format!(
                        "not a valid root e-mail address (at most {EMAIL_MAX_LENGTH} characters, pattern {EMAIL_PATTERN})"
                    ),
                );
            }
        }
        for (i, account_id) in repeated(self.members.iter().map(|m| &m.account_id)) {
            errors.push(
                format!("spec.members[{i}]"),
                format!("duplicate account id {account_id:?}"),
            );
        }
        if let Some(message) = &self.invitation.message {
            let length = message.chars().count();
            if length == 0 || length > MESSAGE_MAX_LENGTH {
                errors.push(
                    "spec.invitation.message",
                    format!("must be 1 to {MESSAGE_MAX_LENGTH} characters, got {length}"),
                );
            }
        }
        if let Some(accept) = &self.accept_invitations {
            errors.check_pattern(
                "spec.acceptInvitations.roleName",
                &accept.role_name,
                &ROLE_NAME,
                "an IAM role name",
            );
            if let Some(external_id) = &accept.external_id {
                check_external_id(&mut errors, "spec.acceptInvitations.externalId", external_id);
            }
            if let Some(session) = &accept.session_name {
                errors.check_pattern(
                    "spec.acceptInvitations.sessionName",
                    session,
                    &SESSION_NAME,
                    "an STS role session name",
                );
            }
        }
        if !(0..=MAX_DELETIONS_LIMIT).contains(&self.deletion_guard.max_deletions) {
            errors.push(
                "spec.deletionGuard.maxDeletions",
                format!("must be 0 to {MAX_DELETIONS_LIMIT}"),
            );
        }
        check_interval(&mut errors, "spec.resyncInterval", &self.resync_interval);
        if let Some(organization) = self.members_from.as_ref().and_then(|from| from.organization.as_ref()) {
            check_organization_members(&mut errors, organization);
        }
        errors.into_result()
    }
}

/// `spec.membersFrom.organization`: root and OU ids, excluded account ids (each list without
/// repeats, as the schema's `set` lists), the role fields and the refresh interval.
fn check_organization_members(errors: &mut FieldErrors, spec: &OrganizationMembersSpec) {
    const AT: &str = "spec.membersFrom.organization";
    let lists = [
        (
            "organizationalUnits",
            &spec.organizational_units,
            &*PARENT_ID,
            "a root (r-...) or OU (ou-...-...) id",
            MAX_ORGANIZATIONAL_UNITS,
        ),
        (
            "excludeAccounts",
            &spec.exclude_accounts,
            &*ACCOUNT_ID,
            "a 12-digit AWS account id",
            MAX_MEMBERS,
        ),
    ];
    for (name, values, pattern, what, max) in lists {
        if values.len() > max {
            errors.push(
                format!("{AT}.{name}"),
                format!("{} entries; at most {max}", values.len()),
            );
        }
        for (i, value) in values.iter().enumerate() {
            errors.check_pattern(format!("{AT}.{name}[{i}]"), value, pattern, what);
        }
        for (i, value) in repeated(values) {
            errors.push(format!("{AT}.{name}[{i}]"), format!("duplicate entry {value:?}"));
        }
    }
    check_role(errors, AT, &spec.assume_role);
    check_interval(errors, &format!("{AT}.refreshInterval"), &spec.refresh_interval);
}

impl DetectiveMembershipSpec {
    /// Checks every constraint of the schema (and its CEL rules that need no previous object).
    pub fn validate(&self) -> Result<(), FieldErrors> {
        let mut errors = FieldErrors::default();
        check_graph_and_region(&mut errors, Some(&self.graph_arn), self.region.as_deref());
        check_role_and_resync(&mut errors, &self.assume_role, &self.resync_interval);
        errors.into_result()
    }
}

impl DetectiveOrganizationAdminSpec {
    /// Checks every constraint of the schema (and its CEL rule).
    pub fn validate(&self) -> Result<(), FieldErrors> {
        let mut errors = FieldErrors::default();
        errors.check_pattern(
            "spec.accountId",
            &self.account_id,
            &ACCOUNT_ID,
            "a 12-digit AWS account id",
        );
        check_regions(&mut errors, &self.regions);
        check_role_and_resync(&mut errors, &self.assume_role, &self.resync_interval);
        errors.into_result()
    }
}

/// `spec.regions` of the kinds that span Regions: 1 to [`MAX_REGIONS`] Region names, each once.
fn check_regions(errors: &mut FieldErrors, regions: &[String]) {
    if regions.is_empty() || regions.len() > MAX_REGIONS {
        errors.push(
            "spec.regions",
            format!("declare 1 to {MAX_REGIONS} Regions, got {}", regions.len()),
        );
    }
    for (i, region) in regions.iter().enumerate() {
        let field = format!("spec.regions[{i}]");
        errors.check_bounded(&field, region, (&REGION, REGION_MAX_LENGTH), "an AWS Region name");
    }
    for (i, region) in repeated(regions) {
        errors.push(format!("spec.regions[{i}]"), format!("duplicate Region {region:?}"));
    }
}

impl DetectiveGraphSet {
    /// Checks every constraint of the schema and its CEL rules: the set's spec, and its name
    /// with each Region (the children's names).
    pub fn validate(&self) -> Result<(), FieldErrors> {
        let mut errors = self.spec.validate().err().unwrap_or_default();
        let name = self.metadata.name.as_deref().unwrap_or_default();
        let longest = self.spec.regions.iter().map(|r| r.chars().count()).max().unwrap_or(0);
        if !self.spec.regions.is_empty() && name.chars().count() + 1 + longest > CHILD_NAME_MAX_LENGTH {
            errors.push("metadata.name", child_name_message());
        }
        errors.into_result()
    }
}

impl DetectiveGraphSetSpec {
    /// Checks every constraint of the schema (and its CEL rules that need no previous object and
    /// no name): the Regions, the template's metadata, and the template's spec as a
    /// `DetectiveGraph` spec, its fields named `spec.template.spec.*`, without `region` and
    /// `graphArn`.
    pub fn validate(&self) -> Result<(), FieldErrors> {
        const AT: &str = "spec.template.spec";
        let mut errors = FieldErrors::default();
        check_regions(&mut errors, &self.regions);
        check_template_metadata(&mut errors, &self.template.metadata);
        let spec = &self.template.spec;
        if let Err(graph) = spec.validate() {
            errors.0.extend(graph.0.into_iter().map(|error| FieldError {
                field: match error.field.strip_prefix("spec") {
                    Some(rest) => format!("{AT}{rest}"),
                    None => error.field,
                },
                message: error.message,
            }));
        }
        if spec.region.is_some() {
            errors.push(format!("{AT}.region"), TEMPLATE_REGION_MESSAGE);
        }
        if spec.graph_arn.is_some() {
            errors.push(format!("{AT}.graphArn"), TEMPLATE_GRAPH_ARN_MESSAGE);
        }
        errors.into_result()
    }
}

/// `spec.template.metadata`: label keys and values, annotation keys, as Kubernetes takes them.
fn check_template_metadata(errors: &mut FieldErrors, metadata: &TemplateMetadata) {
    const AT: &str = "spec.template.metadata";
    for (name, entries) in [("labels", &metadata.labels), ("annotations", &metadata.annotations)] {
        if entries.len() > MAX_TEMPLATE_METADATA {
            errors.push(
                format!("{AT}.{name}"),
                format!("{} entries; at most {MAX_TEMPLATE_METADATA}", entries.len()),
            );
        }
        for key in entries.keys().filter(|key| !QUALIFIED_NAME.is_match(key)) {
            errors.push(
                format!("{AT}.{name}[{key}]"),
                format!("keys must be qualified names matching {QUALIFIED_NAME_PATTERN}"),
            );
        }
    }
    for (key, value) in &metadata.labels {
        errors.check_bounded(
            &format!("{AT}.labels[{key}]"),
            value,
            (&LABEL_VALUE, LABEL_VALUE_MAX_LENGTH),
            "a label value",
        );
    }
}

/// What the member-side and management-side kinds share: `spec.assumeRoleArn`,
/// `spec.externalId` and `spec.resyncInterval`.
fn check_role_and_resync(errors: &mut FieldErrors, role: &AssumeRoleSpec, resync: &Interval) {
    check_role(errors, "spec", role);
    check_interval(errors, "spec.resyncInterval", resync);
}

fn check_external_id(errors: &mut FieldErrors, field: &str, value: &str) {
    errors.check_pattern(field, value, &EXTERNAL_ID, "an STS external id");
    if value.chars().count() > EXTERNAL_ID_MAX_LENGTH {
        errors.push(field, format!("at most {EXTERNAL_ID_MAX_LENGTH} characters"));
    }
}

/// `graphArn` and `region`, each well-formed, and the ARN in the Region when both are given
/// (the CEL rule compares them even when the ARN is malformed, and so does this).
fn check_graph_and_region(errors: &mut FieldErrors, graph_arn: Option<&str>, region: Option<&str>) {
    if let Some(region) = region {
        errors.check_bounded(
            "spec.region",
            region,
            (&REGION, REGION_MAX_LENGTH),
            "an AWS Region name",
        );
    }
    if let Some(arn) = graph_arn {
        errors.check_bounded(
            "spec.graphArn",
            arn,
            (&GRAPH_ARN, GRAPH_ARN_MAX_LENGTH),
            "a behavior graph ARN",
        );
        if let Some(region) = region
            && !arn.contains(&format!(":detective:{region}:"))
        {
            errors.push(
                "spec.graphArn",
                format!("the graph ARN is not in spec.region {region:?}"),
            );
        }
    }
}

/// The schema's check of a duration: its form and length. Whether it is well-formed.
fn check_duration(errors: &mut FieldErrors, field: &str, value: &str) -> bool {
    let well_formed = DURATION.is_match(value) && value.chars().count() <= DURATION_MAX_LENGTH;
    if !well_formed {
        errors.push(
            field,
            format!("{value:?} is not a duration such as 30s, 5m or 1h30m (at most {DURATION_MAX_LENGTH} characters)"),
        );
    }
    well_formed
}

/// A `resyncInterval` or `refreshInterval`: a duration, of at most [`MAX_INTERVAL`] (the
/// schema's CEL rule; a value too large to represent is more than that too).
fn check_interval(errors: &mut FieldErrors, field: &str, interval: &Interval) {
    if check_duration(errors, field, interval.as_str()) && interval.declared().is_none() {
        errors.push(
            field,
            format!("{:?} must be at most {MAX_INTERVAL_TEXT}", interval.as_str()),
        );
    }
}

fn check_role(errors: &mut FieldErrors, at: &str, role: &AssumeRoleSpec) {
    if let Some(arn) = &role.assume_role_arn {
        errors.check_bounded(
            &format!("{at}.assumeRoleArn"),
            arn,
            (&ROLE_ARN, ROLE_ARN_MAX_LENGTH),
            "an IAM role ARN",
        );
    }
    if let Some(external_id) = &role.external_id {
        check_external_id(errors, &format!("{at}.externalId"), external_id);
        if role.assume_role_arn.is_none() {
            errors.push(format!("{at}.externalId"), "is only used together with assumeRoleArn");
        }
    }
}

fn check_tags(errors: &mut FieldErrors, tags: &std::collections::BTreeMap<String, String>) {
    if tags.len() > MAX_TAGS {
        errors.push("spec.tags", format!("{} tags; at most {MAX_TAGS}", tags.len()));
    }
    for (key, value) in tags {
        if let Some(reason) = tag_key_violation(key) {
            errors.push(format!("spec.tags[{key}]"), reason);
        }
        if value.chars().count() > TAG_VALUE_MAX_LENGTH {
            errors.push(
                format!("spec.tags[{key}]"),
                format!("tag values are at most {TAG_VALUE_MAX_LENGTH} characters"),
            );
        }
    }
}

/// `spec.datasourcePackages` is a set (`x-kubernetes-list-type: set`): a repeated package is
/// named by its entry, as the API server names it. Unknown names are refused when the document
/// is read (the enum).
fn check_datasource_packages(errors: &mut FieldErrors, packages: &[super::graph::DatasourcePackage]) {
    for (i, package) in repeated(packages) {
        errors.push(
            format!("spec.datasourcePackages[{i}]"),
            format!("duplicate value {:?}", package.as_str()),
        );
    }
}

/// The entries of a list (a list-map's keys, or a set) that repeat an earlier one, with their
/// index: the API server names a repeated entry by its own index.
fn repeated<T: Ord>(entries: impl IntoIterator<Item = T>) -> Vec<(usize, T)> {
    let mut seen = BTreeSet::new();
    let mut repeated = Vec::new();
    for (i, entry) in entries.into_iter().enumerate() {
        if seen.contains(&entry) {
            repeated.push((i, entry));
        } else {
            seen.insert(entry);
        }
    }
    repeated
}

/// Why Detective would refuse `key` as a tag key, if it would.
fn tag_key_violation(key: &str) -> Option<String> {
    let length = key.chars().count();
    if length == 0 || length > TAG_KEY_MAX_LENGTH {
        Some(format!(
            "tag keys are 1 to {TAG_KEY_MAX_LENGTH} characters, got {length}"
        ))
    } else if key.starts_with(TAG_KEY_RESERVED_PREFIX) {
        Some(format!("tag keys must not start with {TAG_KEY_RESERVED_PREFIX:?}"))
    } else if !TAG_KEY.is_match(key) {
        Some(format!("tag keys must match {TAG_KEY_PATTERN}"))
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The e-mail cases the emulator's model of Detective is tested against: the schema's pattern
    // (and so this check) gives Detective's verdict, but where a case says the schema differs.
    // Every case the check judges otherwise is listed at once.
    #[test]
    fn a_repeated_entry_is_named_by_its_own_index() {
        assert_eq!(repeated(["a", "b", "a", "c", "b", "a"]), [(2, "a"), (4, "b"), (5, "a")]);
        assert!(repeated(Vec::<&str>::new()).is_empty());
    }

    #[test]
    fn email_pattern_matches_the_documented_one() {
        let table = include_str!("../../emulator/tests/data/root_emails.yaml");
        let cases: Vec<serde_json::Value> = serde_saphyr::from_str(table).expect("a YAML list");
        let judged_otherwise: Vec<String> = cases
            .iter()
            .filter(|case| {
                let verdict = case.get("schema").unwrap_or(&case["detective"]).as_bool();
                case["address"].as_str().map(is_email) != verdict
            })
            .map(|case| format!("{}: {}", case["address"], case["why"]))
            .collect();
        assert!(cases.len() > 20 && judged_otherwise.is_empty(), "{judged_otherwise:#?}");
    }

    #[test]
    fn durations_parse_like_kubernetes_users_write_them() {
        use std::time::Duration;
        assert_eq!(parse_duration("30s"), Some(Duration::from_secs(30)));
        assert_eq!(parse_duration("5m"), Some(Duration::from_secs(300)));
        assert_eq!(parse_duration("1h30m"), Some(Duration::from_secs(5400)));
        assert_eq!(parse_duration("250ms"), Some(Duration::from_millis(250)));
        assert_eq!(parse_duration("5"), None);
        assert_eq!(parse_duration("5 m"), None);
        assert_eq!(parse_duration(""), None);
    }

    /// The fields each refusal names, for a spec given as JSON.
    fn refused<T: serde::de::DeserializeOwned>(
        spec: serde_json::Value,
        validate: fn(&T) -> Result<(), FieldErrors>,
    ) -> Vec<String> {
        let spec: T = serde_json::from_value(spec).expect("a well-typed spec");
        validate(&spec)
            .err()
            .map(|e| e.0.into_iter().map(|e| e.field).collect())
            .unwrap_or_default()
    }

    // One case per disagreement with the API server that tests/e2e/cases/agreement.rs found.
    #[test]
    fn the_graph_checks_agree_with_the_crd_schema() {
        let graph = |spec| refused(spec, DetectiveGraphSpec::validate);
        let member = |id: &str| serde_json::json!({ "accountId": id, "emailAddress": "a@example.com" });
        assert_eq!(
            graph(serde_json::json!({ "deletionGuard": { "maxDeletions": 1201 } })),
            ["spec.deletionGuard.maxDeletions"]
        );
        assert!(graph(serde_json::json!({ "deletionGuard": { "maxDeletions": 1200 } })).is_empty());
        let region = |length: usize| format!("us-{}-1", "a".repeat(length - 5));
        assert!(graph(serde_json::json!({ "region": region(32) })).is_empty());
        assert_eq!(graph(serde_json::json!({ "region": region(33) })), ["spec.region"]);
        assert_eq!(
            graph(serde_json::json!({ "members": [member("111111111111"), member("111111111111")] })),
            ["spec.members[1]"],
            "a repeated key is named by its entry, as the API server names it"
        );
        let zeros = |n: usize| format!("{}ms", "0".repeat(n));
        assert!(graph(serde_json::json!({ "resyncInterval": zeros(30) })).is_empty());
        assert_eq!(
            graph(serde_json::json!({ "resyncInterval": zeros(31) })),
            ["spec.resyncInterval"]
        );
    }

    // The schema's CEL rule reads durations as Go does: a value too large to represent is
    // refused like any other above the bound, never taken for the default.
    #[test]
    fn intervals_above_a_day_are_refused_in_every_kind() {
        let arn = "arn:aws:detective:us-east-1:123456789012:graph:0123456789abcdef0123456789abcdef";
        let graph = |interval: &str| {
            refused(
                serde_json::json!({ "resyncInterval": interval }),
                DetectiveGraphSpec::validate,
            )
        };
        let membership = |interval: &str| {
            let spec = serde_json::json!({ "graphArn": arn, "resyncInterval": interval });
            refused(spec, DetectiveMembershipSpec::validate)
        };
        let admin = |interval: &str| {
            let spec = serde_json::json!({ "accountId": "123456789012", "regions": ["us-east-1"], "resyncInterval": interval });
            refused(spec, DetectiveOrganizationAdminSpec::validate)
        };
        let refresh = |interval: &str| {
            let organization = serde_json::json!({ "organizationalUnits": ["r-abcd"], "refreshInterval": interval });
            let spec = serde_json::json!({ "membersFrom": { "organization": organization } });
            refused(spec, DetectiveGraphSpec::validate)
        };
        let cases = [
            ("24h", true, "the bound itself"),
            ("23h59m60s", true, "the bound, written in parts"),
            ("86400000ms", true, "the bound in milliseconds"),
            ("0s", true, "no lower bound"),
            ("24h1ms", false, "just above"),
            ("1441m", false, "above, in minutes"),
            ("100000000h", false, "too large to represent"),
            ("9999999999h", false, "too large even for the digits' type"),
        ];
        for (interval, accepted, why) in cases {
            for (kind, field, fields) in [
                ("graph", "spec.resyncInterval", graph(interval)),
                ("membership", "spec.resyncInterval", membership(interval)),
                ("admin", "spec.resyncInterval", admin(interval)),
                (
                    "refresh",
                    "spec.membersFrom.organization.refreshInterval",
                    refresh(interval),
                ),
            ] {
                let expected: &[&str] = if accepted { &[] } else { &[field] };
                assert_eq!(fields, expected, "{kind} {interval:?}: {why}");
            }
        }
        let spec: DetectiveGraphSpec = serde_json::from_value(serde_json::json!({ "resyncInterval": "25h" })).unwrap();
        let message = spec.validate().expect_err("above the bound").to_string();
        assert_eq!(
            message,
            format!("spec.resyncInterval: \"25h\" must be at most {MAX_INTERVAL_TEXT}")
        );
        assert_eq!(parse_duration(MAX_INTERVAL_TEXT), Some(MAX_INTERVAL));
        // The schema's defaults and the durations the operator falls back to say the same.
        assert_eq!(Interval::default_resync().declared(), Some(DEFAULT_RESYNC_INTERVAL));
        assert_eq!(Interval::default_refresh().declared(), Some(DEFAULT_REFRESH_INTERVAL));
    }

    #[test]
    fn the_membership_checks_agree_with_the_crd_schema() {
        let membership = |spec| refused(spec, DetectiveMembershipSpec::validate);
        let arn = "arn:aws:detective:us-east-1:123456789012:graph:0123456789abcdef0123456789abcdef";
        assert!(membership(serde_json::json!({ "graphArn": arn, "region": "us-east-1" })).is_empty());
        assert_eq!(
            membership(serde_json::json!({ "graphArn": arn, "region": "eu-west-1" })),
            ["spec.graphArn"],
            "the CEL rule: the ARN names the declared Region"
        );
        let long = arn.replace("us-east-1", &format!("us-{}-1", "a".repeat(54)));
        assert_eq!(long.len(), 129);
        assert_eq!(membership(serde_json::json!({ "graphArn": long })), ["spec.graphArn"]);
    }

    #[test]
    fn the_organization_admin_checks_name_the_field() {
        let admin = |spec| refused(spec, DetectiveOrganizationAdminSpec::validate);
        let spec = |regions: serde_json::Value| serde_json::json!({ "accountId": "123456789012", "regions": regions });
        assert!(admin(spec(serde_json::json!(["us-east-1", "eu-west-1"]))).is_empty());
        let cases = [
            (spec(serde_json::json!([])), vec!["spec.regions"]),
            (
                spec(serde_json::json!(["us-east-1", "us-east-1"])),
                vec!["spec.regions[1]"],
            ),
            (
                spec(serde_json::json!(["us-east-1", "US-EAST-1"])),
                vec!["spec.regions[1]"],
            ),
            (
                serde_json::json!({ "accountId": "12345", "regions": ["us-east-1"] }),
                vec!["spec.accountId"],
            ),
            (
                serde_json::json!({ "accountId": "123456789012", "regions": ["us-east-1"], "externalId": "abc" }),
                vec!["spec.externalId"],
            ),
            (
                serde_json::json!({ "accountId": "123456789012", "regions": ["us-east-1"], "resyncInterval": "5" }),
                vec!["spec.resyncInterval"],
            ),
        ];
        for (input, fields) in cases {
            assert_eq!(admin(input.clone()), fields, "{input}");
        }
    }

    #[test]
    fn tag_keys_follow_the_service_pattern_at_its_edges() {
        let admitted = [
            "+",             // 0x2B, the range's first character
            "=",             // 0x3D, its last
            "a,b;c<d",       // inside the range: comma, semicolon, less-than
            "cost-center/0", // digits come from the range as well
            "team.name_x:y",
            "aws",   // the reserved prefix needs its colon
            "AWS:x", // and is case-sensitive
            "xaws:",
        ];
        for key in admitted {
            assert_eq!(tag_key_violation(key), None, "{key:?} is a valid tag key");
        }
        assert_eq!(
            tag_key_violation(&"k".repeat(TAG_KEY_MAX_LENGTH)),
            None,
            "128 characters"
        );
        let refused = [
            ("*", "must match"),           // 0x2A, just below the range
            (">", "must match"),           // 0x3E, just above it
            ("cost center", "must match"), // space
            ("hello!", "must match"),
            ("caf\u{e9}", "must match"), // a non-ASCII letter
            ("team\t", "must match"),
            ("aws:owner", "aws:"),
            ("aws:", "aws:"),
            ("", "1 to 128"),
        ];
        for (key, reason) in refused {
            let violation = tag_key_violation(key).unwrap_or_else(|| panic!("{key:?} must be refused"));
            assert!(violation.contains(reason), "{key:?}: {violation}");
        }
        let long = tag_key_violation(&"k".repeat(TAG_KEY_MAX_LENGTH + 1)).expect("129 characters is refused");
        assert!(long.contains("got 129"), "{long}");
    }

    #[test]
    fn graph_tags_are_checked_for_count_key_and_value() {
        let spec = |tags: Vec<(String, String)>| DetectiveGraphSpec {
            tags: tags.into_iter().collect(),
            ..serde_json::from_value(serde_json::json!({})).expect("an empty spec deserializes")
        };
        let fields = |spec: DetectiveGraphSpec| match spec.validate() {
            Ok(()) => Vec::new(),
            Err(errors) => errors.0.into_iter().map(|e| e.to_string()).collect::<Vec<_>>(),
        };
        let full: Vec<(String, String)> = (0..MAX_TAGS)
            .map(|i| (format!("t{i}"), "v".repeat(TAG_VALUE_MAX_LENGTH)))
            .collect();
        assert_eq!(
            fields(spec(full.clone())),
            Vec::<String>::new(),
            "50 tags of 256-character values"
        );
        let mut over = full;
        over.push(("t50".to_owned(), String::new()));
        let errors = fields(spec(over));
        assert_eq!(errors, vec!["spec.tags: 51 tags; at most 50".to_owned()]);
        let errors = fields(spec(vec![("team".to_owned(), "v".repeat(TAG_VALUE_MAX_LENGTH + 1))]));
        assert_eq!(
            errors,
            vec!["spec.tags[team]: tag values are at most 256 characters".to_owned()]
        );
        let errors = fields(spec(vec![("cost center".to_owned(), "x".to_owned())]));
        assert_eq!(
            errors,
            vec![format!("spec.tags[cost center]: tag keys must match {TAG_KEY_PATTERN}")]
        );
    }
}
