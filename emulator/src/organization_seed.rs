//! Generated organizations for large tests and benchmarks: a seed becomes a [`WorldPatch`] of
//! OUs and accounts (`POST /_emulator/world/organization`).

use serde::{Deserialize, Serialize};

use super::organization::{JoinedMethod, OrganizationConfig, OrganizationalUnitConfig, derived_root_id};
use super::validate;
use super::world::{AccountConfig, WorldPatch};

/// A generated organization for large tests and benchmarks: `accounts` member accounts with
/// consecutive ids spread round-robin over `organizational_units` OUs, which form a tree where
/// each OU has up to `branching` child OUs (the first `branching` OUs sit under the root). The
/// management account sits in the root. JSON form (`POST /_emulator/world/organization`):
///
/// ```json
/// {"id": "o-benchmark01", "managementAccount": "900000000000", "organizationalUnits": 40,
///  "accounts": 1200, "firstAccountId": "900000000001"}
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OrganizationSeed {
    pub id: String,
    pub management_account: String,
    pub organizational_units: u32,
    pub accounts: u32,
    /// The first member account id; the others follow it.
    pub first_account_id: String,
    /// Child OUs per OU (default 5).
    #[serde(default = "default_branching")]
    pub branching: u32,
}

fn default_branching() -> u32 {
    5
}

impl OrganizationSeed {
    pub fn new(
        id: impl Into<String>,
        management_account: impl Into<String>,
        organizational_units: u32,
        accounts: u32,
        first_account_id: impl Into<String>,
    ) -> OrganizationSeed {
        OrganizationSeed {
            id: id.into(),
            management_account: management_account.into(),
            organizational_units,
            accounts,
            first_account_id: first_account_id.into(),
            branching: default_branching(),
        }
    }

    /// The OU ids the seed generates, in order (`ou-<root suffix>-<8 digits>`).
    pub fn unit_id(&self, index: u32) -> String {
        let root = derived_root_id(&self.id);
        format!("ou-{}-{:08}", &root[2..], index + 1)
    }

    /// The organization and its accounts (management account included), as a world patch.
    pub fn patch(&self) -> Result<WorldPatch, String> {
        let first: u64 = self
            .first_account_id
            .parse()
            .ok()
            .filter(|_| validate::is_account_id(&self.first_account_id))
            .ok_or("firstAccountId: must be exactly 12 digits")?;
        if first + u64::from(self.accounts) > 1_000_000_000_000 {
            return Err("accounts: the account ids would exceed 12 digits".to_owned());
        }
        let branching = self.branching.max(1);
        let organizational_units: Vec<OrganizationalUnitConfig> = (0..self.organizational_units)
            .map(|index| OrganizationalUnitConfig {
                id: self.unit_id(index),
                name: format!("unit-{:02}", index + 1),
                parent_id: (index >= branching).then(|| self.unit_id(index / branching - 1)),
            })
            .collect();
        let member = |index: u32| {
            let account_id = format!("{:012}", first + u64::from(index));
            AccountConfig {
                organization: Some(self.id.clone()),
                name: Some(format!("account-{account_id}")),
                parent_id: (self.organizational_units > 0).then(|| self.unit_id(index % self.organizational_units)),
                ..AccountConfig::new(account_id.clone(), format!("aws+{account_id}@example.com"))
            }
        };
        let mut accounts = vec![AccountConfig {
            organization: Some(self.id.clone()),
            name: Some("management".to_owned()),
            joined_method: JoinedMethod::Invited,
            ..AccountConfig::new(
                self.management_account.clone(),
                format!("aws+{}@example.com", self.management_account),
            )
        }];
        accounts.extend((0..self.accounts).map(member));
        Ok(WorldPatch {
            accounts,
            organizations: vec![OrganizationConfig {
                id: self.id.clone(),
                management_account: self.management_account.clone(),
                root_id: None,
                organizational_units,
                delegated_administrators: Vec::new(),
                empty_first_pages: false,
                page_size_limit: None,
            }],
            ..WorldPatch::default()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::world::validate_accounts;

    #[test]
    fn seeds_nest_units_and_spread_accounts() {
        let seed = OrganizationSeed::new("o-seed000001", "900000000000", 40, 1200, "900000000001");
        let patch = seed.patch().expect("valid seed");
        assert_eq!(patch.accounts.len(), 1201);
        let organization = &patch.organizations[0];
        assert_eq!(organization.organizational_units.len(), 40);
        assert!(organization.validate("o").is_ok());
        assert_eq!(organization.organizational_units[4].parent_id, None);
        assert_eq!(
            organization.organizational_units[5].parent_id.as_deref(),
            Some(seed.unit_id(0).as_str())
        );
        assert!(validate_accounts(&patch.organizations, &patch.accounts).is_ok());
    }
}
