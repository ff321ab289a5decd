//! The chart's alerts (templates/prometheusrule.yaml) and Grafana dashboard
//! (dashboards/detective-operator.json) as the tests read them from a `helm template` render: the
//! rules file promtool checks, the dashboard's PromQL, and the metric names both select.
//!
//! Include with `#[path = "observability/mod.rs"] mod observability;` from an integration test
//! (`../observability/mod.rs` from tests/packaging/main.rs: tests/packaging/alerts.rs checks the
//! rules and queries with promtool; the e2e suite compares their metric names with a real
//! `/metrics` scrape).

#![allow(dead_code)] // Each test binary uses its own part.

use std::collections::BTreeSet;

use serde_json::{Value, json};

/// The key of the dashboard in the rendered ConfigMap.
pub const DASHBOARD_KEY: &str = "detective-operator.json";

/// Series that Prometheus makes itself for every scrape target: the rules may select them
/// although the operator does not export them.
pub const SCRAPE_SERIES: [&str; 1] = ["up"];

/// Values that switch both optional objects on (for `helm template --set`).
pub const SWITCHES_ON: [&str; 4] = [
    "--set",
    "prometheusRule.enabled=true",
    "--set",
    "grafanaDashboard.enabled=true",
];

/// The one rendered object of `kind`, if there is exactly one.
fn only<'a>(objects: &'a [Value], kind: &str) -> Result<&'a Value, String> {
    let found: Vec<&Value> = objects.iter().filter(|o| o["kind"] == kind).collect();
    match found.as_slice() {
        [one] => Ok(one),
        _ => Err(format!("expected one {kind} in the render, found {}", found.len())),
    }
}

/// The rendered PrometheusRule's groups as a Prometheus rules file (JSON, which is YAML).
pub fn rules_file(objects: &[Value]) -> Result<String, String> {
    let rule = only(objects, "PrometheusRule")?;
    Ok(json!({ "groups": rule["spec"]["groups"] }).to_string())
}

/// Every rule of the rendered PrometheusRule.
pub fn rules(objects: &[Value]) -> Result<Vec<Value>, String> {
    let rule = only(objects, "PrometheusRule")?;
    let groups = rule["spec"]["groups"].as_array().ok_or("spec.groups is not a list")?;
    Ok(groups
        .iter()
        .flat_map(|g| g["rules"].as_array().cloned().unwrap_or_default())
        .collect())
}

/// The dashboard the rendered ConfigMap carries.
pub fn rendered_dashboard(objects: &[Value]) -> Result<Value, String> {
    let config_map = objects
        .iter()
        .find(|o| o["kind"] == "ConfigMap" && o["data"][DASHBOARD_KEY].is_string())
        .ok_or_else(|| format!("no ConfigMap with data.{DASHBOARD_KEY} in the render"))?;
    let text = config_map["data"][DASHBOARD_KEY].as_str().unwrap_or_default();
    serde_json::from_str(text).map_err(|e| format!("the ConfigMap's dashboard is not JSON: {e}"))
}

/// Every query of a dashboard, as (where it is, PromQL with Grafana's variables still in it):
/// the panels' targets (rows' nested panels included) and the selectors of the query variables'
/// `label_values(selector, label)`.
pub fn dashboard_queries(dashboard: &Value) -> Vec<(String, String)> {
    fn panels(list: &Value, out: &mut Vec<(String, String)>) {
        for panel in list.as_array().into_iter().flatten() {
            let title = panel["title"].as_str().unwrap_or("untitled");
            for target in panel["targets"].as_array().into_iter().flatten() {
                if let Some(expr) = target["expr"].as_str() {
                    out.push((format!("panel {title:?}"), expr.to_owned()));
                }
            }
            panels(&panel["panels"], out);
        }
    }
    let mut out = Vec::new();
    panels(&dashboard["panels"], &mut out);
    for variable in dashboard["templating"]["list"].as_array().into_iter().flatten() {
        if variable["type"] != "query" {
            continue;
        }
        let query = variable["query"]["query"]
            .as_str()
            .or_else(|| variable["query"].as_str())
            .unwrap_or_default();
        let place = format!("variable {:?}", variable["name"].as_str().unwrap_or_default());
        match label_values_arguments(query) {
            // label_values(label) selects no metric.
            Some(arguments) => {
                if let Some((selector, _label)) = arguments.rsplit_once(',') {
                    out.push((place, selector.trim().to_owned()));
                }
            }
            None => out.push((place, query.to_owned())),
        }
    }
    out
}

/// The arguments of Grafana's `label_values(...)`; `None` for other queries.
fn label_values_arguments(query: &str) -> Option<&str> {
    query.trim().strip_prefix("label_values(")?.strip_suffix(')')
}

/// A Grafana query with its variables replaced by values Prometheus parses: interval variables
/// by a duration, every other `$name` / `${name}` / `${name:format}` by a plain word.
pub fn substitute_variables(expr: &str) -> String {
    let mut out = String::with_capacity(expr.len());
    let mut rest = expr;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        let (name, consumed) = match after.strip_prefix('{') {
            Some(braced) => {
                let end = braced.find('}').unwrap_or(braced.len());
                let name = braced[..end].split(':').next().unwrap_or_default();
                (name, end + 2)
            }
            None => {
                let end = after
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .unwrap_or(after.len());
                (&after[..end], end)
            }
        };
        out.push_str(match name {
            "__rate_interval" | "__interval" | "__range" => "5m",
            "__range_s" | "__interval_ms" => "300",
            _ => "x",
        });
        rest = &after[consumed.min(after.len())..];
    }
    out.push_str(rest);
    out
}

/// PromQL words that are not metric names when they stand without parentheses.
const KEYWORDS: [&str; 13] = [
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "bool",
    "and",
    "or",
    "unless",
    "offset",
    "inf",
    "nan",
];

/// Words followed by a parenthesised list of label names, not expressions.
const LABEL_LISTS: [&str; 6] = ["by", "without", "on", "ignoring", "group_left", "group_right"];

/// The metric names a PromQL expression selects: every identifier that is not a function or
/// aggregation (followed by `(`), a keyword, a label inside `{...}` or a label list, a string,
/// a duration or a number.
pub fn metric_names(expr: &str) -> BTreeSet<String> {
    let chars: Vec<char> = expr.chars().collect();
    let mut names = BTreeSet::new();
    let mut i = 0;
    // Skips from an opening bracket to its closing one, over strings.
    let skip_group = |mut i: usize, open: char, close: char| -> usize {
        let mut depth = 0;
        while i < chars.len() {
            match chars[i] {
                '"' | '\'' | '`' => i = skip_string(&chars, i) - 1,
                c if c == open => depth += 1,
                c if c == close => {
                    depth -= 1;
                    if depth == 0 {
                        return i + 1;
                    }
                }
                _ => {}
            }
            i += 1;
        }
        i
    };
    while i < chars.len() {
        let c = chars[i];
        if c == '"' || c == '\'' || c == '`' {
            i = skip_string(&chars, i);
        } else if c == '{' {
            i = skip_group(i, '{', '}');
        } else if c == '[' {
            i = skip_group(i, '[', ']');
        } else if c == '#' {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c.is_ascii_digit() || (c == '.' && chars.get(i + 1).is_some_and(char::is_ascii_digit)) {
            // A number or a duration (15m, 1h30m, 1e3, 0x1f).
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '.' || chars[i] == '_') {
                i += 1;
            }
        } else if c.is_ascii_alphabetic() || c == '_' || c == ':' {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_' || chars[i] == ':') {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            let mut next = i;
            while next < chars.len() && chars[next].is_whitespace() {
                next += 1;
            }
            // A function call, or an aggregation with its grouping first: `sum by (a) (x)`.
            let grouped = |keyword: &str| {
                let after = next + keyword.len();
                chars[next..].starts_with(&keyword.chars().collect::<Vec<_>>())
                    && chars.get(after).is_some_and(|c| c.is_whitespace() || *c == '(')
            };
            let called = chars.get(next) == Some(&'(') || grouped("by") || grouped("without");
            if called && LABEL_LISTS.contains(&word.as_str()) {
                i = skip_group(next, '(', ')');
            } else if !called && !KEYWORDS.contains(&word.to_ascii_lowercase().as_str()) {
                names.insert(word);
            }
        } else {
            i += 1;
        }
    }
    names
}

/// The index after the string literal starting at `start`.
fn skip_string(chars: &[char], start: usize) -> usize {
    let quote = chars[start];
    let mut i = start + 1;
    while i < chars.len() && chars[i] != quote {
        if chars[i] == '\\' && quote != '`' {
            i += 1;
        }
        i += 1;
    }
    i + 1
}

/// The sample names a `/metrics` scrape exposes: each `# TYPE` family with the suffixes its
/// samples carry (a family is declared even before its first sample), and every sample's name.
pub fn exposed_names(scrape: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for line in scrape.lines() {
        if let Some(declaration) = line.strip_prefix("# TYPE ") {
            let mut words = declaration.split_whitespace();
            let (Some(family), Some(kind)) = (words.next(), words.next()) else {
                continue;
            };
            let suffixes: &[&str] = match kind {
                "counter" => &["_total", "_created"],
                "histogram" => &["_bucket", "_sum", "_count", "_created"],
                "gaugehistogram" => &["_bucket", "_gsum", "_gcount"],
                "summary" => &["", "_sum", "_count", "_created"],
                "info" => &["_info"],
                _ => &[""],
            };
            names.extend(suffixes.iter().map(|s| format!("{family}{s}")));
        } else if !line.starts_with('#') && !line.trim().is_empty() {
            let end = line.find(['{', ' ']).unwrap_or(line.len());
            names.insert(line[..end].to_owned());
        }
    }
    names
}

/// Every metric name the rules and the dashboard select, each with where it is used.
pub fn referenced_names(rules: &[Value], dashboard: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for rule in rules {
        let name = rule["alert"].as_str().or(rule["record"].as_str()).unwrap_or("?");
        let expr = rule["expr"].as_str().unwrap_or_default();
        out.extend(metric_names(expr).into_iter().map(|m| (m, format!("rule {name}"))));
    }
    for (place, query) in dashboard_queries(dashboard) {
        let query = substitute_variables(&query);
        out.extend(
            metric_names(&query)
                .into_iter()
                .map(|m| (m, format!("dashboard {place}"))),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(names: &[&str]) -> BTreeSet<String> {
        names.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn metric_names_skip_functions_labels_keywords_and_durations() {
        assert_eq!(
            metric_names(
                r#"sum by (operation, outcome) (rate(a_total{outcome=~"x|y", q="}"}[5m]))
                   / ignoring (outcome) group_left sum by (operation) (rate(a_total[5m])) > 0.2
                   or max(b unless b offset 15m) or absent(up{job="j"} == 1)
                   or histogram_quantile(0.95, sum by (le) (rate(c_bucket[$__rate_interval])))"#
            ),
            set(&["a_total", "b", "c_bucket", "up"])
        );
        assert_eq!(metric_names("time() - max by (kind) (d)"), set(&["d"]));
    }

    #[test]
    fn grafana_variables_become_parseable_values() {
        assert_eq!(
            substitute_variables(r#"rate(m{namespace=~"$namespace", name=~"${resource:regex}"}[$__rate_interval])"#),
            r#"rate(m{namespace=~"x", name=~"x"}[5m])"#
        );
        let dashboard = json!({"templating": {"list": [
            {"name": "resource", "type": "query", "query": {"query": r#"label_values(m{namespace=~"$namespace"}, name)"#}},
            {"name": "namespace", "type": "query", "query": "label_values(namespace)"},
        ]}});
        assert_eq!(
            dashboard_queries(&dashboard),
            [(
                "variable \"resource\"".to_owned(),
                r#"m{namespace=~"$namespace"}"#.to_owned()
            )]
        );
    }

    #[test]
    fn exposed_names_expand_families_by_type() {
        let scrape = "# HELP x_reconciles R.\n# TYPE x_reconciles counter\n# TYPE x_duration_seconds histogram\n\
                      # TYPE x_members gauge\nx_members{s=\"A\"} 1\n# EOF\n";
        // The counter's family name itself is not exposed: only its `_total` sample.
        let expected = [
            "x_duration_seconds_bucket",
            "x_duration_seconds_count",
            "x_duration_seconds_created",
            "x_duration_seconds_sum",
            "x_members",
            "x_reconciles_created",
            "x_reconciles_total",
        ];
        assert_eq!(exposed_names(scrape), expected.map(str::to_owned).into());
    }
}
