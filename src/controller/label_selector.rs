//! `--watch-label-selector`: the Kubernetes label-selector syntax (as `kubectl get -l` takes it),
//! parsed at start so that a typo fails the process with a message instead of every list and
//! watch failing at the API server. kube has the selector type ([`Selector`]) but no parser for
//! its text.
//!
//! The grammar (k8s.io/apimachinery `labels.Parse`): requirements separated by commas, each one
//! of `key`, `!key`, `key=value`, `key==value`, `key!=value`, `key in (v1,v2)` or
//! `key notin (v1,v2)`. Keys are qualified names (`[prefix/]name`), values label values.

use std::collections::BTreeSet;

use kube::core::{Expression, Selector};

/// Why a label selector was refused.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("{selector:?}: {reason}")]
pub struct SelectorError {
    pub selector: String,
    pub reason: String,
}

/// Parses `text` as a label selector. An empty or blank text selects everything.
pub fn parse(text: &str) -> Result<Selector, SelectorError> {
    let refuse = |reason: String| SelectorError {
        selector: text.to_owned(),
        reason,
    };
    let mut expressions = Vec::new();
    for requirement in split_requirements(text).map_err(refuse)? {
        expressions.push(requirement_of(requirement.trim()).map_err(refuse)?);
    }
    Ok(expressions.into_iter().collect())
}

/// The requirements of `text`: split at the commas outside parentheses.
fn split_requirements(text: &str) -> Result<Vec<&str>, String> {
    if text.trim().is_empty() {
        return Ok(Vec::new());
    }
    let mut requirements = Vec::new();
    let (mut depth, mut start) = (0u32, 0);
    for (index, c) in text.char_indices() {
        match c {
            '(' if depth == 0 => depth = 1,
            '(' => return Err("nested parentheses".into()),
            ')' if depth == 1 => depth = 0,
            ')' => return Err("a ')' without its '('".into()),
            ',' if depth == 0 => {
                requirements.push(&text[start..index]);
                start = index + 1;
            }
            _ => {}
        }
    }
    if depth != 0 {
        return Err("a '(' without its ')'".into());
    }
    requirements.push(&text[start..]);
    Ok(requirements)
}

/// One requirement, trimmed.
fn requirement_of(requirement: &str) -> Result<Expression, String> {
    if requirement.is_empty() {
        return Err("an empty requirement (two commas, or a comma at an end)".into());
    }
    if let Some(key) = requirement.strip_prefix('!') {
        return Ok(Expression::DoesNotExist(key_of(key.trim())?));
    }
    for (operator, build) in [
        ("!=", Expression::NotEqual as fn(String, String) -> Expression),
        ("==", Expression::Equal),
        ("=", Expression::Equal),
    ] {
        if let Some((key, value)) = requirement.split_once(operator) {
            return Ok(build(key_of(key.trim())?, value_of(value.trim())?));
        }
    }
    if let Some((key, rest)) = requirement.split_once(char::is_whitespace) {
        let rest = rest.trim_start();
        let (build, values): (SetExpression, &str) = if let Some(values) = rest.strip_prefix("notin") {
            (Expression::NotIn, values)
        } else if let Some(values) = rest.strip_prefix("in") {
            (Expression::In, values)
        } else {
            return Err(format!(
                "{requirement:?}: expected `in`, `notin`, `=`, `==` or `!=` after the key"
            ));
        };
        return Ok(build(key_of(key)?, set_of(values.trim())?));
    }
    Ok(Expression::Exists(key_of(requirement)?))
}

/// `In` or `NotIn`.
type SetExpression = fn(String, BTreeSet<String>) -> Expression;

/// `(v1,v2)`: at least one value.
fn set_of(text: &str) -> Result<BTreeSet<String>, String> {
    let inner = text
        .strip_prefix('(')
        .and_then(|t| t.strip_suffix(')'))
        .ok_or_else(|| format!("{text:?}: a set of values is written (v1,v2)"))?;
    let values = inner
        .split(',')
        .map(|value| value_of(value.trim()))
        .collect::<Result<BTreeSet<_>, _>>()?;
    if inner.trim().is_empty() {
        return Err("a set of values names at least one".into());
    }
    Ok(values)
}

/// A qualified name: an optional DNS-subdomain prefix and `/`, then a name of at most 63
/// characters.
fn key_of(key: &str) -> Result<String, String> {
    let name = match key.split_once('/') {
        Some((prefix, name)) => {
            if !is_dns_subdomain(prefix) {
                return Err(format!("key {key:?}: the prefix must be a DNS subdomain"));
            }
            name
        }
        None => key,
    };
    if name.is_empty() || !is_label_value(name) {
        return Err(format!(
            "key {key:?}: a name of at most 63 letters, digits, '-', '_' or '.', beginning and ending with a letter or digit"
        ));
    }
    Ok(key.to_owned())
}

/// A label value: empty, or at most 63 letters, digits, `-`, `_`, `.`, beginning and ending
/// with a letter or digit.
fn value_of(value: &str) -> Result<String, String> {
    if !value.is_empty() && !is_label_value(value) {
        return Err(format!(
            "value {value:?}: at most 63 letters, digits, '-', '_' or '.', beginning and ending with a letter or digit"
        ));
    }
    Ok(value.to_owned())
}

fn is_label_value(text: &str) -> bool {
    let alphanumeric_ends =
        text.starts_with(|c: char| c.is_ascii_alphanumeric()) && text.ends_with(|c: char| c.is_ascii_alphanumeric());
    text.len() <= 63
        && alphanumeric_ends
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

fn is_dns_subdomain(text: &str) -> bool {
    text.len() <= 253
        && text.split('.').all(|part| {
            !part.is_empty()
                && part.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
                && part.ends_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
                && part
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use kube::core::SelectorExt;
    use proptest::prelude::*;

    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn every_operator_reads_as_kubectl_reads_it() {
        let selector = parse("detective.operator.dev/shard in (0, 1),tier!=test, !legacy,team==sec,env=prod,owner")
            .expect("a valid selector");
        assert_eq!(
            selector.to_string(),
            "detective.operator.dev/shard in (0,1),tier!=test,!legacy,team=sec,env=prod,owner"
        );
        let matching = labels(&[
            ("detective.operator.dev/shard", "1"),
            ("team", "sec"),
            ("env", "prod"),
            ("owner", "x"),
        ]);
        assert!(selector.matches(&matching));
        let mut other_shard = matching.clone();
        other_shard.insert("detective.operator.dev/shard".into(), "2".into());
        assert!(!selector.matches(&other_shard));
        let notin = parse("detective.operator.dev/shard notin (0)").unwrap();
        assert!(notin.matches(&labels(&[])));
        assert!(!notin.matches(&labels(&[("detective.operator.dev/shard", "0")])));
        assert!(parse("").unwrap().selects_all());
        assert!(parse("  ").unwrap().selects_all());
    }

    #[test]
    fn malformed_selectors_are_refused_saying_why() {
        for (text, reason) in [
            ("a,,b", "empty requirement"),
            ("a,", "empty requirement"),
            ("shard in 0", "(v1,v2)"),
            ("shard in ()", "at least one"),
            ("shard in (0", "without its ')'"),
            ("shard in ((0))", "nested"),
            ("shard) ", "without its '('"),
            ("shard within (0)", "expected `in`"),
            ("-shard=0", "key \"-shard\""),
            ("Example.com/shard=0", "prefix"),
            ("shard=-0", "value \"-0\""),
            ("shard=a b", "value \"a b\""),
            ("!", "key \"\""),
        ] {
            let error = parse(text).expect_err(text);
            assert_eq!(error.selector, text);
            assert!(error.reason.contains(reason), "{text}: {error}");
        }
    }

    fn name() -> impl Strategy<Value = String> {
        "[a-zA-Z0-9]([a-zA-Z0-9._-]{0,20}[a-zA-Z0-9])?"
    }

    fn key() -> impl Strategy<Value = String> {
        (
            proptest::option::of("[a-z0-9]([a-z0-9-]{0,8}[a-z0-9])?(\\.[a-z0-9]{1,8}){0,2}"),
            name(),
        )
            .prop_map(|(prefix, name)| prefix.map_or(name.clone(), |prefix| format!("{prefix}/{name}")))
    }

    fn expression() -> impl Strategy<Value = Expression> {
        let values = || proptest::collection::btree_set(name(), 1..4);
        prop_oneof![
            (key(), values()).prop_map(|(k, v)| Expression::In(k, v)),
            (key(), values()).prop_map(|(k, v)| Expression::NotIn(k, v)),
            (key(), proptest::option::of(name())).prop_map(|(k, v)| Expression::Equal(k, v.unwrap_or_default())),
            (key(), name()).prop_map(|(k, v)| Expression::NotEqual(k, v)),
            key().prop_map(Expression::Exists),
            key().prop_map(Expression::DoesNotExist),
        ]
    }

    proptest! {
        /// What kube sends to the API server for a selector reads back as that selector.
        #[test]
        fn a_selector_reads_back_from_its_text(expressions in proptest::collection::vec(expression(), 1..5)) {
            let selector: Selector = expressions.into_iter().collect();
            prop_assert_eq!(parse(&selector.to_string()), Ok(selector));
        }

        /// Any text is either refused or read as a selector whose text reads back the same.
        #[test]
        fn any_text_is_refused_or_stable(text in "[a-z0-9 ,!=()./_-]{0,30}|(in|notin|[a-z]| |,|\\(|\\)|!|=)*") {
            if let Ok(selector) = parse(&text) {
                prop_assert_eq!(parse(&selector.to_string()), Ok(selector));
            }
        }
    }
}
