//! The IAM role a resource declares to act through (`assumeRoleArn`, `externalId`).

use kube::KubeSchema;
use serde::{Deserialize, Serialize};

use super::constraints::{
    EXTERNAL_ID_MAX_LENGTH, EXTERNAL_ID_PATTERN, ROLE_ARN_MAX_LENGTH, ROLE_ARN_PATTERN, cel_rule,
};

/// The `assumeRoleArn` / `externalId` pair, flattened into every spec that may act through a role
/// (so the fields, their patterns and the CEL rule binding them are declared once). Whose account
/// the role is in is said by the spec that holds it.
#[serde_with::skip_serializing_none]
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[x_kube(validation = cel_rule(
    "!has(self.externalId) || has(self.assumeRoleArn)",
    "externalId is only used together with assumeRoleArn", ".externalId", Reason::FieldValueForbidden,
))]
#[serde(rename_all = "camelCase")]
pub struct AssumeRoleSpec {
    /// Act through this IAM role, assumed through STS: a role in the account the resource acts
    /// as (see the resource's description). Without it the operator's own credentials (IRSA, EKS
    /// Pod Identity, environment) are used.
    #[schemars(regex(pattern = ROLE_ARN_PATTERN), length(max = ROLE_ARN_MAX_LENGTH))]
    pub assume_role_arn: Option<String>,

    /// The external id to present when assuming `assumeRoleArn`.
    #[schemars(regex(pattern = EXTERNAL_ID_PATTERN), length(max = EXTERNAL_ID_MAX_LENGTH))]
    pub external_id: Option<String>,
}

impl AssumeRoleSpec {
    /// The declared role, if `assumeRoleArn` names one.
    pub fn role(&self) -> Option<DeclaredRole<'_>> {
        self.assume_role_arn.as_deref().map(|role_arn| DeclaredRole {
            role_arn,
            external_id: self.external_id.as_deref(),
        })
    }
}

/// A role named in a spec; the AWS layer turns it into an STS AssumeRole.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DeclaredRole<'a> {
    pub role_arn: &'a str,
    pub external_id: Option<&'a str>,
}
