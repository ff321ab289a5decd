//! The IAM role a resource declares to act through (`assumeRoleArn`, `externalId`).

/// A role named in a spec; the AWS layer turns it into an STS AssumeRole.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DeclaredRole<'a> {
    pub role_arn: &'a str,
    pub external_id: Option<&'a str>,
}

impl<'a> DeclaredRole<'a> {
    /// The role of a spec's `assumeRoleArn` / `externalId` pair, if it names one.
    pub fn of(role_arn: Option<&'a String>, external_id: Option<&'a String>) -> Option<Self> {
        role_arn.map(|arn| Self {
            role_arn: arn,
            external_id: external_id.map(String::as_str),
        })
    }
}
