//! Input constraints of the Detective API model. The SDK checks nothing client-side (it sends
//! `AccountIds: ["12"]` as is), so the service is where a malformed request is refused; every
//! refusal here is a ValidationException whose message names the offending member.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::wire::ApiError;

pub(crate) const MAX_RESULTS_LIMIT: i64 = 200;
/// Page size when a request sets no MaxResults. The service does not document its default
/// (unverified); 100 is chosen so a client that forgets MaxResults needs visibly more pages.
pub(crate) const DEFAULT_MAX_RESULTS: usize = 100;
pub(crate) const DATASOURCE_PACKAGES: [&str; 3] = ["ASFF_SECURITYHUB_FINDING", "DETECTIVE_CORE", "EKS_AUDIT"];

/// `^[0-9]+$`, exactly 12 characters.
pub(crate) fn is_account_id(value: &str) -> bool {
    value.len() == 12 && value.bytes().all(|byte| byte.is_ascii_digit())
}

/// An account id member: [`is_account_id`], or a ValidationException naming `field`.
fn check_account_id(field: &str, value: &str) -> Result<(), ApiError> {
    if is_account_id(value) {
        Ok(())
    } else {
        Err(ApiError::validation(field, "must be exactly 12 digits"))
    }
}

/// The documented EmailAddress constraint: 1–64 characters matching
/// `^.+@(?:(?:(?!-)[A-Za-z0-9-]{1,62})?[A-Za-z0-9]{1}\.)+[A-Za-z]{2,63}$`.
///
/// Written by hand because the `regex` crate has no look-ahead. Reading of the pattern: the
/// domain part cannot contain `@`, so the split is at the last `@`; the local part is any
/// non-empty run without line terminators (`.`); the domain is one or more labels, each 1–63
/// letters, digits or hyphens that neither starts nor ends with a hyphen, each followed by a
/// dot, and a final 2–63 letter top-level label.
pub(crate) fn is_email(value: &str) -> bool {
    let length = value.chars().count();
    if !(1..=64).contains(&length) {
        return false;
    }
    let Some((local, domain)) = value.rsplit_once('@') else {
        return false;
    };
    if local.is_empty() || local.chars().any(is_line_terminator) {
        return false;
    }
    let Some((labels, top_level)) = domain.rsplit_once('.') else {
        return false;
    };
    (2..=63).contains(&top_level.len())
        && top_level.bytes().all(|byte| byte.is_ascii_alphabetic())
        && labels.split('.').all(is_domain_label)
}

fn is_domain_label(label: &str) -> bool {
    let bytes = label.as_bytes();
    match (bytes.first(), bytes.last()) {
        (Some(first), Some(last)) => {
            bytes.len() <= 63
                && *first != b'-'
                && last.is_ascii_alphanumeric()
                && bytes.iter().all(|byte| byte.is_ascii_alphanumeric() || *byte == b'-')
        }
        _ => false,
    }
}

/// Characters Java's `.` does not match (the service model's patterns are Java regexes).
fn is_line_terminator(c: char) -> bool {
    matches!(c, '\n' | '\r' | '\u{85}' | '\u{2028}' | '\u{2029}')
}

/// The parts of a well-formed graph ARN that the service routes on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct GraphArn<'a> {
    pub region: &'a str,
    pub account_id: &'a str,
}

/// `^arn:aws[-\w]{0,10}?:detective:[-\w]{2,20}?:\d{12}?:graph:[abcdef\d]{32}?$`
pub(crate) fn parse_graph_arn(value: &str) -> Option<GraphArn<'_>> {
    let word = |byte: u8| byte.is_ascii_alphanumeric() || byte == b'_' || byte == b'-';
    let mut parts = value.split(':');
    let (arn, partition, service, region, account_id, resource, id) = (
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
    );
    let well_formed = parts.next().is_none()
        && arn == "arn"
        && partition
            .strip_prefix("aws")
            .is_some_and(|rest| rest.len() <= 10 && rest.bytes().all(word))
        && service == "detective"
        && (2..=20).contains(&region.len())
        && region.bytes().all(word)
        && is_account_id(account_id)
        && resource == "graph"
        && id.len() == 32
        && id
            .bytes()
            .all(|byte| byte.is_ascii_digit() || (b'a'..=b'f').contains(&byte));
    well_formed.then_some(GraphArn { region, account_id })
}

/// Tag key, as Detective's pattern `^(?!aws:)[a-zA-Z+-=._:/]+$` and its 1–128 length bound
/// define it. The pattern's `+-=` is a character range (0x2B..=0x3D: `+ , - . / 0-9 : ; < =`), so
/// digits, `,`, `;` and `<` are allowed, while a space, `!` or a non-ASCII letter is not.
pub(crate) fn check_tag_key(field: &str, key: &str) -> Result<(), ApiError> {
    let length = key.chars().count();
    if !(1..=128).contains(&length) {
        return Err(ApiError::validation(field, "tag keys must be 1 to 128 characters long"));
    }
    if key.starts_with("aws:") {
        return Err(ApiError::validation(
            field,
            "tag keys must not start with the reserved prefix 'aws:'",
        ));
    }
    let in_class = |c: char| c.is_ascii_alphabetic() || ('+'..='=').contains(&c) || matches!(c, '.' | '_' | ':' | '/');
    if !key.chars().all(in_class) {
        return Err(ApiError::validation(
            field,
            "Member must satisfy regular expression pattern: ^(?!aws:)[a-zA-Z+-=._:/]+$",
        ));
    }
    Ok(())
}

/// A request body as a JSON object, with typed accessors that turn every wrong shape into a
/// ValidationException naming the member instead of a panic or a serde message.
#[derive(Debug, Default)]
pub(crate) struct RequestBody {
    members: Map<String, Value>,
}

impl RequestBody {
    /// An empty body is `{}`: several operations send none.
    pub fn parse(bytes: &[u8]) -> Result<RequestBody, ApiError> {
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(RequestBody::default());
        }
        match serde_json::from_slice::<Value>(bytes) {
            Ok(Value::Object(members)) => Ok(RequestBody { members }),
            Ok(_) => Err(ApiError::malformed_body("expected a JSON object")),
            Err(err) => Err(ApiError::malformed_body(err)),
        }
    }

    fn get(&self, field: &str) -> Option<&Value> {
        self.members.get(field).filter(|value| !value.is_null())
    }

    pub fn optional_str(&self, field: &str) -> Result<Option<&str>, ApiError> {
        match self.get(field) {
            None => Ok(None),
            Some(Value::String(text)) => Ok(Some(text)),
            Some(_) => Err(ApiError::validation(field, "must be a string")),
        }
    }

    pub fn required_str(&self, field: &str) -> Result<&str, ApiError> {
        self.optional_str(field)?
            .ok_or_else(|| ApiError::validation(field, "member must not be null"))
    }

    pub fn optional_bool(&self, field: &str) -> Result<Option<bool>, ApiError> {
        match self.get(field) {
            None => Ok(None),
            Some(Value::Bool(flag)) => Ok(Some(*flag)),
            Some(_) => Err(ApiError::validation(field, "must be a boolean")),
        }
    }

    /// Required GraphArn-like member: missing or wrongly typed is INVALID_REQUEST_BODY,
    /// present but malformed is INVALID_GRAPH_ARN.
    pub fn graph_arn(&self, field: &str) -> Result<&str, ApiError> {
        let value = self.required_str(field)?;
        parse_graph_arn(value).ok_or_else(|| ApiError::invalid_graph_arn(field))?;
        Ok(value)
    }

    pub fn account_id(&self, field: &str) -> Result<&str, ApiError> {
        let value = self.required_str(field)?;
        check_account_id(field, value)?;
        Ok(value)
    }

    /// MaxResults: 1–200, defaulting to [`DEFAULT_MAX_RESULTS`].
    pub fn max_results(&self) -> Result<usize, ApiError> {
        match self.get("MaxResults") {
            None => Ok(DEFAULT_MAX_RESULTS),
            Some(value) => match value.as_i64() {
                Some(count @ 1..=MAX_RESULTS_LIMIT) => Ok(count as usize),
                _ => Err(ApiError::validation(
                    "MaxResults",
                    "must be an integer between 1 and 200",
                )),
            },
        }
    }

    /// NextToken: 1–1024 characters when present (its content is checked by the paging code).
    pub fn next_token(&self) -> Result<Option<&str>, ApiError> {
        let token = self.optional_str("NextToken")?;
        if let Some(token) = token
            && !(1..=1024).contains(&token.chars().count())
        {
            return Err(ApiError::validation("NextToken", "must be 1 to 1024 characters long"));
        }
        Ok(token)
    }

    fn list(&self, field: &str, min: usize, max: usize) -> Result<&[Value], ApiError> {
        let items = match self.get(field) {
            None => return Err(ApiError::validation(field, "member must not be null")),
            Some(Value::Array(items)) => items,
            Some(_) => return Err(ApiError::validation(field, "must be a list")),
        };
        if !(min..=max).contains(&items.len()) {
            return Err(ApiError::validation(
                field,
                format!("must contain between {min} and {max} items (got {})", items.len()),
            ));
        }
        Ok(items)
    }

    pub fn string_list(&self, field: &str, min: usize, max: usize) -> Result<Vec<&str>, ApiError> {
        self.list(field, min, max)?
            .iter()
            .enumerate()
            .map(|(index, item)| {
                item.as_str()
                    .ok_or_else(|| ApiError::validation(&format!("{field}[{index}]"), "must be a string"))
            })
            .collect()
    }

    pub fn account_id_list(&self, field: &str, min: usize, max: usize) -> Result<Vec<&str>, ApiError> {
        let ids = self.string_list(field, min, max)?;
        for (index, id) in ids.iter().enumerate() {
            check_account_id(&format!("{field}[{index}]"), id)?;
        }
        Ok(ids)
    }

    /// CreateMembers `Accounts`: 1–50 `{AccountId, EmailAddress}`.
    pub fn accounts(&self) -> Result<Vec<(&str, &str)>, ApiError> {
        let items = self.list("Accounts", 1, 50)?;
        let mut accounts = Vec::with_capacity(items.len());
        for (index, item) in items.iter().enumerate() {
            let Value::Object(account) = item else {
                return Err(ApiError::validation(
                    &format!("Accounts[{index}]"),
                    "must be an object with AccountId and EmailAddress",
                ));
            };
            let member = |name: &str| -> Result<&str, ApiError> {
                let field = format!("Accounts[{index}].{name}");
                match account.get(name) {
                    Some(Value::String(text)) => Ok(text.as_str()),
                    None | Some(Value::Null) => Err(ApiError::validation(&field, "member must not be null")),
                    Some(_) => Err(ApiError::validation(&field, "must be a string")),
                }
            };
            let account_id = member("AccountId")?;
            check_account_id(&format!("Accounts[{index}].AccountId"), account_id)?;
            let email = member("EmailAddress")?;
            if !is_email(email) {
                return Err(ApiError::validation_of(
                    &format!("Accounts[{index}].EmailAddress"),
                    email,
                    "must be an e-mail address of 1 to 64 characters matching \
                     ^.+@(?:(?:(?!-)[A-Za-z0-9-]{1,62})?[A-Za-z0-9]{1}\\.)+[A-Za-z]{2,63}$",
                ));
            }
            accounts.push((account_id, email));
        }
        Ok(accounts)
    }

    /// A tag map (`Tags`): 1–50 entries, keys per [`check_tag_key`], values at most 256
    /// characters. `None` when absent and `required` is false.
    pub fn tags(&self, field: &str, required: bool) -> Result<Option<BTreeMap<String, String>>, ApiError> {
        let map = match self.get(field) {
            None if required => return Err(ApiError::validation(field, "member must not be null")),
            None => return Ok(None),
            Some(Value::Object(map)) => map,
            Some(_) => {
                return Err(ApiError::validation(field, "must be a map of tag keys to tag values"));
            }
        };
        if !(1..=50).contains(&map.len()) {
            return Err(ApiError::validation(
                field,
                format!("must contain between 1 and 50 tags (got {})", map.len()),
            ));
        }
        let mut tags = BTreeMap::new();
        for (key, value) in map {
            check_tag_key(&format!("{field}.{key}"), key)?;
            let Value::String(value) = value else {
                return Err(ApiError::validation(
                    &format!("{field}.{key}"),
                    "tag values must be strings",
                ));
            };
            if value.chars().count() > 256 {
                return Err(ApiError::validation(
                    &format!("{field}.{key}"),
                    "tag values must be at most 256 characters long",
                ));
            }
            tags.insert(key.clone(), value.clone());
        }
        Ok(Some(tags))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_follow_the_documented_pattern() {
        let cases: Vec<serde_json::Value> =
            serde_saphyr::from_str(include_str!("../tests/data/root_emails.yaml")).expect("a YAML list");
        assert!(cases.len() > 20, "the whole table was read");
        for case in &cases {
            let address = case["address"].as_str().expect("an address");
            assert_eq!(
                Some(is_email(address)),
                case["detective"].as_bool(),
                "{address:?}: {}",
                case["why"]
            );
        }
    }

    #[test]
    fn graph_arns_follow_the_documented_pattern() {
        let valid = "arn:aws:detective:us-east-1:111122223333:graph:0123456789abcdef0123456789abcdef";
        assert_eq!(
            parse_graph_arn(valid),
            Some(GraphArn {
                region: "us-east-1",
                account_id: "111122223333"
            })
        );
        assert!(
            parse_graph_arn(
                "arn:aws-us-gov:detective:us-gov-west-1:111122223333:graph:0123456789abcdef0123456789abcdef"
            )
            .is_some()
        );
        for invalid in [
            "",
            "arn:aws:detective:us-east-1:111122223333:graph:0123456789ABCDEF0123456789abcdef",
            "arn:aws:detective:us-east-1:11112222333:graph:0123456789abcdef0123456789abcdef",
            "arn:aws:guardduty:us-east-1:111122223333:graph:0123456789abcdef0123456789abcdef",
            "arn:aws:detective:us-east-1:111122223333:graph:0123456789abcdef0123456789abcde",
            "arn:aws:detective:us-east-1:111122223333:graph:0123456789abcdef0123456789abcdef:x",
            "arn:aws:detective:u:111122223333:graph:0123456789abcdef0123456789abcdef",
        ] {
            assert!(parse_graph_arn(invalid).is_none(), "{invalid} should be invalid");
        }
    }

    #[test]
    fn body_accessors_name_the_field() {
        let body = RequestBody::parse(br#"{"AccountIds":["123456789012","12"],"MaxResults":0}"#).expect("object");
        let err = body.account_id_list("AccountIds", 1, 50).expect_err("bad id");
        assert!(err.message.contains("AccountIds[1]"), "{}", err.message);
        let err = body.max_results().expect_err("zero");
        assert!(err.message.contains("MaxResults"));
        assert!(RequestBody::parse(b"").is_ok());
        assert!(RequestBody::parse(b"[1]").is_err());
        assert!(RequestBody::parse(b"{").is_err());
    }
}
