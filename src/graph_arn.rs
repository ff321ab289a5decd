//! A behavior graph's ARN, `arn:<partition>:detective:<region>:<account>:graph:<id>`: its rule
//! (the pattern the CRDs' `graphArn` fields carry) and [`GraphArn`], which checks an ARN against
//! it and reads its partition, Region and administrator account.
//!
//! Below the API, the AWS port and the engine, so that any of them reads an ARN the same way.

use std::fmt;
use std::sync::LazyLock;

use regex::Regex;

/// A behavior graph ARN: partition, Region, administrator account, 32 lowercase hex digits. In
/// the RE2 subset that both the API server (Go `regexp`) and the `regex` crate understand, as
/// every pattern of the contract.
pub const GRAPH_ARN_PATTERN: &str =
    r"^arn:aws[-a-z]{0,10}:detective:[a-z]{2}(?:-[a-z]+)+-[0-9]+:[0-9]{12}:graph:[0-9a-f]{32}$";
pub const GRAPH_ARN_MAX_LENGTH: usize = 128;

static WELL_FORMED: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(GRAPH_ARN_PATTERN).expect("the graph ARN pattern is a valid regular expression"));

/// A well-formed behavior graph ARN, read in place: its parts borrow the text they were parsed
/// from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct GraphArn<'a> {
    arn: &'a str,
    partition: &'a str,
    region: &'a str,
    account: &'a str,
}

/// A text that is not a behavior graph ARN.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "{0:?} is not a behavior graph ARN (arn:<partition>:detective:<region>:<account>:graph:<32 lowercase hex \
     digits>, at most {GRAPH_ARN_MAX_LENGTH} characters)"
)]
pub struct MalformedGraphArn(pub String);

impl<'a> GraphArn<'a> {
    /// `arn`, when it matches [`GRAPH_ARN_PATTERN`] and is at most [`GRAPH_ARN_MAX_LENGTH`]
    /// characters long: the rules the CRDs' schema and the Rust-side validation apply.
    pub fn parse(arn: &'a str) -> Result<Self, MalformedGraphArn> {
        let malformed = || MalformedGraphArn(arn.to_owned());
        if arn.len() > GRAPH_ARN_MAX_LENGTH || !WELL_FORMED.is_match(arn) {
            return Err(malformed());
        }
        // The pattern admits no colon inside a part: its seven parts are the pieces between colons.
        let parts: Vec<&'a str> = arn.split(':').collect();
        let [_arn, partition, _service, region, account, _graph, _id] = parts[..] else {
            return Err(malformed());
        };
        Ok(Self {
            arn,
            partition,
            region,
            account,
        })
    }

    /// `aws`, `aws-cn`, `aws-us-gov`, ...
    pub fn partition(&self) -> &'a str {
        self.partition
    }

    /// The Region the graph is in.
    pub fn region(&self) -> &'a str {
        self.region
    }

    /// The account that owns the graph: its administrator.
    pub fn administrator_account(&self) -> &'a str {
        self.account
    }

    /// The whole ARN, as parsed.
    pub fn as_str(&self) -> &'a str {
        self.arn
    }
}

impl fmt::Display for GraphArn<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.arn)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    const ID: &str = "0123456789abcdef0123456789abcdef";

    #[test]
    fn each_partition_parses_into_its_parts() {
        for (partition, region) in [
            ("aws", "us-east-1"),
            ("aws-cn", "cn-northwest-1"),
            ("aws-us-gov", "us-gov-west-1"),
        ] {
            let text = format!("arn:{partition}:detective:{region}:123456789012:graph:{ID}");
            let arn = GraphArn::parse(&text).expect(&text);
            assert_eq!(arn.partition(), partition);
            assert_eq!(arn.region(), region);
            assert_eq!(arn.administrator_account(), "123456789012");
            assert_eq!(arn.as_str(), text);
            assert_eq!(arn.to_string(), text);
        }
    }

    #[test]
    fn malformed_arns_are_refused() {
        let valid = format!("arn:aws:detective:us-east-1:123456789012:graph:{ID}");
        for text in [
            String::new(),
            "nonsense".to_owned(),
            valid.to_uppercase(),
            valid.replace(":graph:", ":graphs:"),
            valid.replace(":detective:", ":guardduty:"),
            valid.replace("arn:aws:", "arn:azure:"),
            valid.replace("arn:aws:", "arn:aws-too-long-name:"),
            valid.replace("us-east-1", "useast1"),
            valid.replace("us-east-1", ""),
            valid.replace("123456789012", "12345678901"),
            valid.replace("123456789012", ""),
            valid.replace(ID, &ID[1..]),
            valid.replace(ID, &ID.to_uppercase()),
            format!("{valid}:"),
            format!(" {valid}"),
            // Well-formed but for its length (a Region name the pattern does not bound).
            valid.replace("us-east-1", &format!("us-{}-1", "e".repeat(60))),
        ] {
            assert_eq!(GraphArn::parse(&text), Err(MalformedGraphArn(text.clone())), "{text:?}");
        }
    }

    #[test]
    fn the_refusal_names_the_text_and_the_form() {
        let error = GraphArn::parse("arn:aws:detective").unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("\"arn:aws:detective\" is not a behavior graph ARN"),
            "{error}"
        );
    }

    proptest! {
        /// Every ARN the pattern describes parses, into the parts it was made of.
        #[test]
        fn well_formed_arns_give_back_their_parts(
            partition in "aws(-[a-z]{1,9})?",
            region in "[a-z]{2}(-[a-z]{1,10}){1,2}-[0-9]{1,2}",
            account in "[0-9]{12}",
            id in "[0-9a-f]{32}",
        ) {
            let text = format!("arn:{partition}:detective:{region}:{account}:graph:{id}");
            let arn = GraphArn::parse(&text).unwrap();
            prop_assert_eq!(arn.partition(), partition.as_str());
            prop_assert_eq!(arn.region(), region.as_str());
            prop_assert_eq!(arn.administrator_account(), account.as_str());
            prop_assert_eq!(arn.as_str(), text.as_str());
        }

        /// An ARN with one character changed parses only as what it now says, whatever it says.
        #[test]
        fn a_changed_arn_parses_only_into_its_own_parts(
            at in any::<prop::sample::Index>(),
            replacement in "[a-zA-Z0-9:-]",
        ) {
            let mut text = format!("arn:aws:detective:us-east-1:123456789012:graph:{ID}");
            let at = at.index(text.len());
            text.replace_range(at..=at, &replacement);
            if let Ok(arn) = GraphArn::parse(&text) {
                let rebuilt = format!(
                    "arn:{}:detective:{}:{}:graph:{}",
                    arn.partition(),
                    arn.region(),
                    arn.administrator_account(),
                    &text[text.len() - 32..],
                );
                prop_assert_eq!(rebuilt, text);
            }
        }
    }
}
