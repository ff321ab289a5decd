//! IAM policy documents: parsing (refusing what the emulator cannot evaluate, naming the
//! statement) and evaluation of identity policies and trust policies.
//!
//! Evaluation follows the IAM User Guide's "Policy evaluation logic" for one account's identity
//! policies: an explicit `Deny` wins, else an `Allow` that matches allows, else the request is
//! implicitly denied. `Action`/`NotAction` match case-insensitively (service prefixes and action
//! names are case-insensitive), `Resource` case-sensitively, both with the `*` and `?`
//! wildcards. Conditions: only the `StringEquals` operator (on any key), whose keys are read from
//! the request's context ([`RequestContext`]: `sts:ExternalId` for AssumeRole,
//! `organizations:ServicePrincipal`, `iam:AWSServiceName`); a key the request does not carry
//! makes the condition false, as the IAM User Guide says for every operator but the `...IfExists`
//! ones. Any other operator is refused when the file is loaded, so a policy is never evaluated
//! more kindly than AWS would.

use serde_json::Value;

/// One parsed policy document.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyDocument {
    pub statements: Vec<Statement>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Effect {
    Allow,
    Deny,
}

/// The actions a statement names: `Action` (these) or `NotAction` (all but these).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Actions {
    Listed(Vec<String>),
    AllBut(Vec<String>),
}

/// Who a trust-policy statement lets in (`Principal`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TrustedPrincipal {
    /// `"*"` or `{"AWS": "*"}`.
    Anyone,
    /// `{"AWS": "<account>"}` or `{"AWS": "arn:<partition>:iam::<account>:root"}`: any principal of
    /// the account (whose own policies allow the call).
    Account(String),
    /// `{"AWS": "arn:<partition>:iam::<account>:role/<path/>name"}`: sessions of that role.
    Role { account: String, name: String },
    /// A service or federated principal: never an AWS caller of the emulator.
    Other(String),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Statement {
    /// `Sid`, else `Statement[<index>]`, for messages.
    pub name: String,
    pub effect: Effect,
    pub actions: Actions,
    /// `Resource` patterns; empty in trust policies (which name none).
    pub resources: Vec<String>,
    /// `Principal`, in trust policies.
    pub principals: Vec<TrustedPrincipal>,
    /// `Condition: {StringEquals: {<key>: ..}}`: all must hold.
    pub conditions: Vec<StringEquals>,
}

/// One `StringEquals` condition: the request's value of `key` must be one of `values` (exactly:
/// values are case-sensitive).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StringEquals {
    /// The condition key, lowercased: IAM's condition key names are case-insensitive.
    pub key: String,
    pub values: Vec<String>,
}

/// The condition keys a request carries, with their values.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RequestContext {
    keys: Vec<(String, String)>,
}

impl RequestContext {
    /// The context with `key` set to `value`.
    pub fn with(mut self, key: &str, value: &str) -> RequestContext {
        self.keys.push((key.to_ascii_lowercase(), value.to_owned()));
        self
    }

    /// An AssumeRole request's context: `sts:ExternalId` when the caller gave one.
    pub fn assuming(external_id: Option<&str>) -> RequestContext {
        match external_id {
            Some(id) => RequestContext::default().with("sts:ExternalId", id),
            None => RequestContext::default(),
        }
    }

    fn value(&self, key: &str) -> Option<&str> {
        self.keys.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }
}

impl StringEquals {
    fn holds(&self, context: &RequestContext) -> bool {
        context
            .value(&self.key)
            .is_some_and(|given| self.values.iter().any(|wanted| wanted == given))
    }
}

/// Which kind of document a file holds: they differ in what a statement must and may carry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A permissions policy: `Resource` required, no `Principal`.
    Identity,
    /// A role's trust policy: `Principal` required, no `Resource`.
    Trust,
}

/// A caller, as an identity or trust policy sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Principal {
    /// The account's own credentials (the emulator's access key that is the account id).
    Root { account: String },
    /// A session of an assumed role.
    AssumedRole {
        account: String,
        role: String,
        session: String,
    },
}

impl Principal {
    pub fn account(&self) -> &str {
        match self {
            Self::Root { account } | Self::AssumedRole { account, .. } => account,
        }
    }

    /// The ARN AWS names the caller by in an AccessDenied message.
    pub fn arn(&self) -> String {
        self.arn_in("aws")
    }

    /// [`Principal::arn`] in ARN partition `partition` (`aws-us-gov` in GovCloud).
    pub fn arn_in(&self, partition: &str) -> String {
        match self {
            Self::Root { account } => format!("arn:{partition}:iam::{account}:root"),
            Self::AssumedRole { account, role, session } => {
                format!("arn:{partition}:sts::{account}:assumed-role/{role}/{session}")
            }
        }
    }
}

impl PolicyDocument {
    /// Parses a policy document of `kind`; the error names the statement.
    pub fn parse(text: &str, kind: Kind) -> Result<PolicyDocument, String> {
        let value: Value = serde_json::from_str(text).map_err(|err| format!("not JSON: {err}"))?;
        let object = value.as_object().ok_or("a policy document must be a JSON object")?;
        if let Some(version) = object.get("Version")
            && version != "2012-10-17"
            && version != "2008-10-17"
        {
            return Err(format!("Version {version} is not an IAM policy language version"));
        }
        let statements = match object.get("Statement") {
            Some(Value::Array(statements)) => statements.iter().collect(),
            Some(statement @ Value::Object(_)) => vec![statement],
            _ => return Err("Statement: must be an object or a list of objects".into()),
        };
        let statements = statements
            .into_iter()
            .enumerate()
            .map(|(index, statement)| Statement::parse(statement, index, kind))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(PolicyDocument { statements })
    }

    /// The statements of this document that decide `action` on `resource` in `context`.
    fn matching<'a>(
        &'a self,
        action: &'a str,
        resource: &'a str,
        context: &'a RequestContext,
    ) -> impl Iterator<Item = &'a Statement> + 'a {
        self.statements.iter().filter(move |s| {
            s.actions.cover(action)
                && s.resources.iter().any(|r| wildcard_match(r, resource, false))
                && s.conditions_hold(context)
        })
    }
}

/// An explicit Deny among `statements` wins, else any Allow allows.
fn decide<'a>(statements: impl Iterator<Item = &'a Statement>) -> bool {
    let mut allowed = false;
    for statement in statements {
        match statement.effect {
            Effect::Deny => return false,
            Effect::Allow => allowed = true,
        }
    }
    allowed
}

/// Whether identity policies `documents` allow `action` on `resource` for a request carrying
/// `context`.
pub fn allows(documents: &[PolicyDocument], action: &str, resource: &str, context: &RequestContext) -> bool {
    decide(documents.iter().flat_map(|d| d.matching(action, resource, context)))
}

/// Whether trust policy `trust` lets `caller` assume the role (`sts:AssumeRole`) with
/// `external_id` (the request's `sts:ExternalId`).
pub fn trusts(trust: &PolicyDocument, caller: &Principal, external_id: Option<&str>) -> bool {
    let context = RequestContext::assuming(external_id);
    decide(trust.statements.iter().filter(|s| {
        s.actions.cover("sts:AssumeRole")
            && s.principals.iter().any(|p| p.admits(caller))
            && s.conditions_hold(&context)
    }))
}

impl TrustedPrincipal {
    fn parse(text: &str) -> TrustedPrincipal {
        if text == "*" {
            return Self::Anyone;
        }
        if text.len() == 12 && text.bytes().all(|b| b.is_ascii_digit()) {
            return Self::Account(text.to_owned());
        }
        // arn:<partition>:iam::<account>:root | arn:<partition>:iam::<account>:role/<path/>name
        let parts: Vec<&str> = text.splitn(6, ':').collect();
        match parts.as_slice() {
            ["arn", _, "iam", "", account, "root"] => Self::Account((*account).to_owned()),
            ["arn", _, "iam", "", account, resource] if resource.starts_with("role/") => Self::Role {
                account: (*account).to_owned(),
                name: resource.rsplit('/').next().unwrap_or_default().to_owned(),
            },
            _ => Self::Other(text.to_owned()),
        }
    }

    fn admits(&self, caller: &Principal) -> bool {
        match (self, caller) {
            (Self::Anyone, _) => true,
            (Self::Account(account), caller) => caller.account() == account,
            (Self::Role { account, name }, Principal::AssumedRole { account: a, role, .. }) => {
                a == account && role == name
            }
            (Self::Role { .. } | Self::Other(_), _) => false,
        }
    }
}

impl Actions {
    fn cover(&self, action: &str) -> bool {
        let any = |patterns: &[String]| patterns.iter().any(|p| wildcard_match(p, action, true));
        match self {
            Self::Listed(patterns) => any(patterns),
            Self::AllBut(patterns) => !any(patterns),
        }
    }
}

impl Statement {
    fn conditions_hold(&self, context: &RequestContext) -> bool {
        self.conditions.iter().all(|condition| condition.holds(context))
    }

    fn parse(value: &Value, index: usize, kind: Kind) -> Result<Statement, String> {
        let object = value
            .as_object()
            .ok_or_else(|| format!("Statement[{index}]: must be an object"))?;
        let name = match object.get("Sid").and_then(Value::as_str) {
            Some(sid) => format!("Statement[{index}] ({sid})"),
            None => format!("Statement[{index}]"),
        };
        let fail = |message: String| format!("{name}: {message}");
        for key in object.keys() {
            let known = matches!(
                key.as_str(),
                "Sid" | "Effect" | "Action" | "NotAction" | "Resource" | "Principal" | "Condition"
            );
            if !known {
                return Err(fail(format!(
                    "{key} is not supported by the emulator's IAM (it would be evaluated more kindly than AWS does)"
                )));
            }
        }
        let effect = match object.get("Effect").and_then(Value::as_str) {
            Some("Allow") => Effect::Allow,
            Some("Deny") => Effect::Deny,
            _ => return Err(fail("Effect: must be \"Allow\" or \"Deny\"".into())),
        };
        let actions = match (object.get("Action"), object.get("NotAction")) {
            (Some(listed), None) => Actions::Listed(strings(listed).map_err(|m| fail(format!("Action: {m}")))?),
            (None, Some(excepted)) => Actions::AllBut(strings(excepted).map_err(|m| fail(format!("NotAction: {m}")))?),
            _ => return Err(fail("exactly one of Action and NotAction is required".into())),
        };
        if let Actions::Listed(names) | Actions::AllBut(names) = &actions
            && let Some(bad) = names.iter().find(|a| *a != "*" && !a.contains(':'))
        {
            return Err(fail(format!("action {bad:?} has no service prefix (service:Action)")));
        }
        let resources = match (kind, object.get("Resource")) {
            (Kind::Identity, Some(resource)) => strings(resource).map_err(|m| fail(format!("Resource: {m}")))?,
            (Kind::Identity, None) => return Err(fail("Resource: required in a permissions policy".into())),
            (Kind::Trust, None) => Vec::new(),
            (Kind::Trust, Some(_)) => return Err(fail("Resource: a trust policy names no resource".into())),
        };
        let principals = match (kind, object.get("Principal")) {
            (Kind::Trust, Some(principal)) => principals(principal).map_err(|m| fail(format!("Principal: {m}")))?,
            (Kind::Trust, None) => return Err(fail("Principal: required in a trust policy".into())),
            (Kind::Identity, None) => Vec::new(),
            (Kind::Identity, Some(_)) => {
                return Err(fail("Principal: a permissions policy names no principal".into()));
            }
        };
        let conditions = match object.get("Condition") {
            None => Vec::new(),
            Some(condition) => conditions(condition).map_err(|m| fail(format!("Condition: {m}")))?,
        };
        Ok(Statement {
            name,
            effect,
            actions,
            resources,
            principals,
            conditions,
        })
    }
}

/// A string or a list of strings.
fn strings(value: &Value) -> Result<Vec<String>, String> {
    match value {
        Value::String(text) => Ok(vec![text.clone()]),
        Value::Array(items) if !items.is_empty() => items
            .iter()
            .map(|item| {
                item.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| "must hold only strings".to_owned())
            })
            .collect(),
        _ => Err("must be a string or a non-empty list of strings".into()),
    }
}

fn principals(value: &Value) -> Result<Vec<TrustedPrincipal>, String> {
    match value {
        Value::String(star) if star == "*" => Ok(vec![TrustedPrincipal::Anyone]),
        Value::Object(kinds) => {
            let mut found = Vec::new();
            for (kind, names) in kinds {
                for name in strings(names)? {
                    found.push(match kind.as_str() {
                        "AWS" => TrustedPrincipal::parse(&name),
                        "Service" | "Federated" | "CanonicalUser" => TrustedPrincipal::Other(name),
                        other => return Err(format!("{other} is not a principal type")),
                    });
                }
            }
            Ok(found)
        }
        _ => Err("must be \"*\" or an object of principal types".into()),
    }
}

/// `{"StringEquals": {<key>: "..." | [..], ..}}`, and no other operator.
fn conditions(value: &Value) -> Result<Vec<StringEquals>, String> {
    let operators = value.as_object().ok_or("must be an object")?;
    let mut found = Vec::new();
    for (operator, keys) in operators {
        if operator != "StringEquals" {
            return Err(format!(
                "{operator}: the emulator evaluates only the StringEquals operator (it would evaluate \
                 {operator} more kindly than AWS does)"
            ));
        }
        let keys = keys
            .as_object()
            .ok_or_else(|| format!("{operator}: must be an object of condition keys"))?;
        for (key, values) in keys {
            if !key.contains(':') {
                return Err(format!(
                    "{operator} {key}: a condition key has a service prefix (service:key)"
                ));
            }
            found.push(StringEquals {
                key: key.to_ascii_lowercase(),
                values: strings(values).map_err(|m| format!("{operator} {key}: {m}"))?,
            });
        }
    }
    if found.is_empty() {
        return Err("names no condition".into());
    }
    Ok(found)
}

/// IAM's wildcard match: `*` any run of characters, `?` one character.
pub fn wildcard_match(pattern: &str, text: &str, ignore_case: bool) -> bool {
    let fold = |c: char| if ignore_case { c.to_ascii_lowercase() } else { c };
    let pattern: Vec<char> = pattern.chars().map(fold).collect();
    let text: Vec<char> = text.chars().map(fold).collect();
    // Iterative glob matching with backtracking to the last `*`.
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pattern.len() && (pattern[p] == '?' || pattern[p] == text[t]) {
            p += 1;
            t += 1;
        } else if p < pattern.len() && pattern[p] == '*' {
            star = Some((p, t));
            p += 1;
        } else if let Some((star_p, star_t)) = star {
            p = star_p + 1;
            t = star_t + 1;
            star = Some((star_p, star_t + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|c| *c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    const GRAPH: &str = "arn:aws:detective:us-east-1:111122223333:graph:0123456789abcdef0123456789abcdef";

    fn identity(text: &str) -> PolicyDocument {
        PolicyDocument::parse(text, Kind::Identity).expect("a valid policy")
    }

    #[test]
    fn wildcards_match_as_iam_does() {
        assert!(wildcard_match("detective:List*", "detective:ListMembers", true));
        assert!(wildcard_match("Detective:listmembers", "detective:ListMembers", true));
        assert!(!wildcard_match("detective:List*", "detective:CreateMembers", true));
        assert!(wildcard_match("detective:?istMembers", "detective:ListMembers", true));
        assert!(wildcard_match("arn:aws:detective:*:111122223333:graph:*", GRAPH, false));
        assert!(!wildcard_match(
            "arn:aws:detective:*:444455556666:graph:*",
            GRAPH,
            false
        ));
        assert!(
            !wildcard_match("ARN:aws:detective:*", GRAPH, false),
            "resources are case-sensitive"
        );
        assert!(wildcard_match("*", "", false));
        assert!(wildcard_match("a*b*c", "aXXbYYc", false));
        assert!(!wildcard_match("a*b*c", "aXXbYY", false));
    }

    #[test]
    fn an_explicit_deny_wins_and_nothing_is_allowed_unless_said() {
        let policy = identity(
            r#"{"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Action": "detective:*", "Resource": "*"},
                {"Sid": "NoDeletes", "Effect": "Deny", "Action": ["detective:Delete*"], "Resource": "*"}
            ]}"#,
        );
        let documents = [policy];
        let none = RequestContext::default();
        assert!(allows(&documents, "detective:ListMembers", GRAPH, &none));
        assert!(!allows(&documents, "detective:DeleteMembers", GRAPH, &none));
        assert!(!allows(&documents, "organizations:ListAccounts", "*", &none));
        assert!(
            !allows(&[], "detective:ListMembers", GRAPH, &none),
            "no policy, no permission"
        );
    }

    #[test]
    fn not_action_allows_everything_else() {
        let documents = [identity(
            r#"{"Statement": {"Effect": "Allow", "NotAction": "detective:CreateGraph", "Resource": "*"}}"#,
        )];
        let none = RequestContext::default();
        assert!(allows(&documents, "detective:ListGraphs", "*", &none));
        assert!(!allows(&documents, "detective:CreateGraph", "*", &none));
    }

    #[test]
    fn string_equals_holds_only_for_a_request_carrying_the_key_with_a_listed_value() {
        let documents = [identity(
            r#"{"Statement": {"Effect": "Allow", "Action": "organizations:RegisterDelegatedAdministrator",
                "Resource": "*",
                "Condition": {"StringEquals": {"Organizations:ServicePrincipal": ["detective.amazonaws.com"]}}}}"#,
        )];
        let action = "organizations:RegisterDelegatedAdministrator";
        let detective = RequestContext::default().with("organizations:ServicePrincipal", "detective.amazonaws.com");
        assert!(
            allows(&documents, action, "*", &detective),
            "key names are case-insensitive"
        );
        let guardduty = RequestContext::default().with("organizations:ServicePrincipal", "guardduty.amazonaws.com");
        assert!(!allows(&documents, action, "*", &guardduty));
        let shouting = RequestContext::default().with("organizations:ServicePrincipal", "DETECTIVE.amazonaws.com");
        assert!(!allows(&documents, action, "*", &shouting), "values are case-sensitive");
        assert!(
            !allows(&documents, action, "*", &RequestContext::default()),
            "a key the request lacks fails the condition"
        );
        let both = identity(
            r#"{"Statement": {"Effect": "Allow", "Action": "iam:CreateServiceLinkedRole", "Resource": "*",
                "Condition": {"StringEquals": {"iam:AWSServiceName": "detective.amazonaws.com", "aws:RequestedRegion": "us-east-1"}}}}"#,
        );
        let named = RequestContext::default().with("iam:AWSServiceName", "detective.amazonaws.com");
        assert!(
            !allows(std::slice::from_ref(&both), "iam:CreateServiceLinkedRole", "*", &named),
            "every key must hold"
        );
        let in_region = named.with("aws:RequestedRegion", "us-east-1");
        assert!(allows(&[both], "iam:CreateServiceLinkedRole", "*", &in_region));
    }

    #[test]
    fn malformed_documents_are_refused_naming_the_statement() {
        let refused = |text: &str, kind| PolicyDocument::parse(text, kind).expect_err(text);
        let error = refused(
            r#"{"Statement": [{"Effect": "Allow", "Action": "detective:ListGraphs", "Resource": "*"},
                               {"Sid": "Broken", "Effect": "Permit", "Action": "detective:ListGraphs", "Resource": "*"}]}"#,
            Kind::Identity,
        );
        assert!(error.starts_with("Statement[1] (Broken): Effect"), "{error}");
        let cases = [
            (
                r#"{"Statement": [{"Effect": "Allow", "Action": "x", "Resource": "*"}]}"#,
                Kind::Identity,
                "service prefix",
            ),
            (
                r#"{"Statement": [{"Effect": "Allow", "Action": "s:A"}]}"#,
                Kind::Identity,
                "Resource: required",
            ),
            (
                r#"{"Statement": [{"Effect": "Allow", "Action": "s:A", "Resource": "*", "NotResource": "x"}]}"#,
                Kind::Identity,
                "NotResource is not supported",
            ),
            (
                r#"{"Statement": [{"Effect": "Allow", "Action": "s:A", "Resource": "*", "Condition": {"Bool": {"aws:SecureTransport": "true"}}}]}"#,
                Kind::Identity,
                "Condition: Bool: the emulator evaluates only the StringEquals operator",
            ),
            (
                r#"{"Statement": [{"Effect": "Allow", "Action": "s:A", "Resource": "*", "Condition": {"StringEqualsIfExists": {"s:k": "v"}}}]}"#,
                Kind::Identity,
                "Condition: StringEqualsIfExists",
            ),
            (
                r#"{"Statement": [{"Effect": "Allow", "Action": "s:A", "Resource": "*", "Condition": {"StringEquals": {"k": "v"}}}]}"#,
                Kind::Identity,
                "Condition: StringEquals k: a condition key has a service prefix",
            ),
            (
                r#"{"Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole"}]}"#,
                Kind::Trust,
                "Principal: required",
            ),
            ("[]", Kind::Identity, "JSON object"),
        ];
        for (text, kind, said) in cases {
            let error = refused(text, kind);
            assert!(error.contains(said), "{text}: {error}");
        }
    }

    #[test]
    fn trust_policies_admit_their_principals_with_the_external_id() {
        let trust = PolicyDocument::parse(
            r#"{"Version": "2012-10-17", "Statement": [{
                "Effect": "Allow",
                "Principal": {"AWS": "arn:aws:iam::111122223333:role/detective-operator"},
                "Action": "sts:AssumeRole",
                "Condition": {"StringEquals": {"sts:ExternalId": "detective-operator-7f3c9a"}}
            }]}"#,
            Kind::Trust,
        )
        .expect("a trust policy");
        let operator = Principal::AssumedRole {
            account: "111122223333".into(),
            role: "detective-operator".into(),
            session: "s".into(),
        };
        assert!(trusts(&trust, &operator, Some("detective-operator-7f3c9a")));
        assert!(!trusts(&trust, &operator, Some("wrong")));
        assert!(!trusts(&trust, &operator, None));
        let root = Principal::Root {
            account: "111122223333".into(),
        };
        assert!(
            !trusts(&trust, &root, Some("detective-operator-7f3c9a")),
            "the role only, not its account"
        );
        let account_wide = PolicyDocument::parse(
            r#"{"Statement": {"Effect": "Allow", "Principal": {"AWS": "111122223333"}, "Action": "sts:AssumeRole"}}"#,
            Kind::Trust,
        )
        .expect("a trust policy");
        assert!(trusts(&account_wide, &root, None));
        assert!(trusts(&account_wide, &operator, None));
        assert_eq!(
            operator.arn(),
            "arn:aws:sts::111122223333:assumed-role/detective-operator/s"
        );
    }
}
