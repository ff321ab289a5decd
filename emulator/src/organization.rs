//! The world's AWS Organizations: each organization has a management account, a root and a tree
//! of organizational units; its accounts are the world's accounts that name it, each placed under
//! the root or an OU, with a state, a name and a join time. The Organizations API
//! (`organizations_api.rs`) answers from here; Detective's organization operations ask it who
//! manages an organization.
//!
//! An organization that accounts name but `organizations` does not declare still exists, with a
//! root derived from its id, no OU and no management account (so nobody may call its
//! management-only operations).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::{Deserialize, Serialize};

use super::validate;

/// The Organizations page limit: MaxResults is 1–20.
pub(crate) const MAX_PAGE_SIZE: u32 = 20;

/// Detective's service principal, under which EnableOrganizationAdminAccount registers the
/// organization's delegated administrator in AWS Organizations.
pub(crate) const DETECTIVE_SERVICE_PRINCIPAL: &str = "detective.amazonaws.com";

/// One organization. Serialized in camelCase inside the world model's `organizations`.
#[serde_with::skip_serializing_none]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OrganizationConfig {
    /// `o-` and lowercase letters or digits (`o-exampleorg1`).
    pub id: String,
    /// The account that created the organization. It belongs to the organization (in the root)
    /// even when `accounts` does not list it.
    pub management_account: String,
    /// `r-` and 4–32 lowercase letters or digits. Absent: `r-` plus the first characters of
    /// the organization id after `o-` (at least 4, padded with `0`).
    pub root_id: Option<String>,
    /// The OU tree, parents before or after children in any order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub organizational_units: Vec<OrganizationalUnitConfig>,
    /// Accounts registered as delegated administrators for some service other than Detective
    /// (Detective's is registered by EnableOrganizationAdminAccount). They may call the
    /// Organizations read operations, like the management account; ListDelegatedAdministrators
    /// lists them when no ServicePrincipal is asked for.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub delegated_administrators: Vec<String>,
    /// The documented quirk "a page may be empty while a NextToken is returned", made
    /// deterministic: the first page of every listing that has something to list is empty and
    /// carries a NextToken.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub empty_first_pages: bool,
    /// Pages hold at most this many items even when MaxResults asks for more (1–20): "a page may
    /// hold fewer than asked".
    pub page_size_limit: Option<u32>,
}

/// One organizational unit.
#[serde_with::skip_serializing_none]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OrganizationalUnitConfig {
    /// `ou-<4–32 of [0-9a-z]>-<8–32 of [a-z0-9]>`.
    pub id: String,
    /// 1–128 characters.
    pub name: String,
    /// The root or another OU of the same organization. Absent: the root.
    pub parent_id: Option<String>,
}

/// An account's state in its organization (`State` in the API; the Organizations User Guide,
/// "Monitor the state of your AWS accounts"). The retired `Status` field carries ACTIVE,
/// SUSPENDED or PENDING_CLOSURE ([`AccountState::status`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AccountState {
    PendingActivation,
    #[default]
    Active,
    Suspended,
    PendingClosure,
    Closed,
}

impl AccountState {
    pub fn as_str(self) -> &'static str {
        match self {
            AccountState::PendingActivation => "PENDING_ACTIVATION",
            AccountState::Active => "ACTIVE",
            AccountState::Suspended => "SUSPENDED",
            AccountState::PendingClosure => "PENDING_CLOSURE",
            AccountState::Closed => "CLOSED",
        }
    }

    /// The retired `Status` value of the state: its enum has neither PENDING_ACTIVATION nor
    /// CLOSED (a closed account reads SUSPENDED there, as it did before `State` existed; an
    /// account still activating, ACTIVE: **unverified** both).
    pub fn status(self) -> &'static str {
        match self {
            AccountState::PendingActivation | AccountState::Active => "ACTIVE",
            AccountState::Suspended | AccountState::Closed => "SUSPENDED",
            AccountState::PendingClosure => "PENDING_CLOSURE",
        }
    }

    pub fn is_active(&self) -> bool {
        *self == AccountState::Active
    }

    const ALL: [AccountState; 5] = [
        AccountState::PendingActivation,
        AccountState::Active,
        AccountState::Suspended,
        AccountState::PendingClosure,
        AccountState::Closed,
    ];
}

/// Read by name; an unknown one is refused naming the field, whichever format carries it (JSON
/// errors do not say where they are).
impl<'de> Deserialize<'de> for AccountState {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        AccountState::ALL
            .into_iter()
            .find(|state| state.as_str() == name)
            .ok_or_else(|| {
                let known: Vec<&str> = AccountState::ALL.iter().map(|state| state.as_str()).collect();
                serde::de::Error::custom(format!(
                    "state: {name:?} is not an account state ({})",
                    known.join(", ")
                ))
            })
    }
}

/// How an account joined its organization.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum JoinedMethod {
    #[default]
    Created,
    Invited,
}

impl JoinedMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            JoinedMethod::Created => "CREATED",
            JoinedMethod::Invited => "INVITED",
        }
    }

    pub fn is_created(&self) -> bool {
        *self == JoinedMethod::Created
    }
}

/// `^o-[a-z0-9]+$`, at most 34 characters. The service requires 10–32 characters after `o-`;
/// shorter ids are accepted so that the historical `o-emulator` and `o-test` keep working.
pub(crate) fn is_organization_id(value: &str) -> bool {
    value
        .strip_prefix("o-")
        .is_some_and(|rest| (1..=32).contains(&rest.len()) && rest.bytes().all(is_lower_alnum))
}

/// `^r-[0-9a-z]{4,32}$`
pub(crate) fn is_root_id(value: &str) -> bool {
    value
        .strip_prefix("r-")
        .is_some_and(|rest| (4..=32).contains(&rest.len()) && rest.bytes().all(is_lower_alnum))
}

/// `^ou-[0-9a-z]{4,32}-[a-z0-9]{8,32}$`
pub(crate) fn is_ou_id(value: &str) -> bool {
    value
        .strip_prefix("ou-")
        .and_then(|rest| rest.split_once('-'))
        .is_some_and(|(root, unit)| {
            (4..=32).contains(&root.len())
                && root.bytes().all(is_lower_alnum)
                && (8..=32).contains(&unit.len())
                && unit.bytes().all(is_lower_alnum)
        })
}

/// A ParentId: a root or an OU id.
pub(crate) fn is_parent_id(value: &str) -> bool {
    is_root_id(value) || is_ou_id(value)
}

fn is_lower_alnum(byte: u8) -> bool {
    byte.is_ascii_digit() || byte.is_ascii_lowercase()
}

/// The root id of an organization that declares none.
pub(crate) fn derived_root_id(organization_id: &str) -> String {
    let mut suffix: String = organization_id
        .strip_prefix("o-")
        .unwrap_or(organization_id)
        .chars()
        .filter(|c| c.is_ascii_digit() || c.is_ascii_lowercase())
        .take(32)
        .collect();
    while suffix.len() < 4 {
        suffix.push('0');
    }
    format!("r-{suffix}")
}

impl OrganizationConfig {
    pub fn root_id(&self) -> String {
        self.root_id.clone().unwrap_or_else(|| derived_root_id(&self.id))
    }

    /// Checks the organization on its own (ids, names, the OU tree); `field` is its path in the
    /// world (`organizations[0]`).
    pub(crate) fn validate(&self, field: &str) -> Result<(), String> {
        if !is_organization_id(&self.id) {
            return Err(format!("{field}.id: must match ^o-[a-z0-9]{{1,32}}$"));
        }
        if !validate::is_account_id(&self.management_account) {
            return Err(format!("{field}.managementAccount: must be exactly 12 digits"));
        }
        if let Some(root) = &self.root_id
            && !is_root_id(root)
        {
            return Err(format!("{field}.rootId: must match ^r-[0-9a-z]{{4,32}}$"));
        }
        if let Some(limit) = self.page_size_limit
            && !(1..=MAX_PAGE_SIZE).contains(&limit)
        {
            return Err(format!("{field}.pageSizeLimit: must be 1 to {MAX_PAGE_SIZE}"));
        }
        for (index, admin) in self.delegated_administrators.iter().enumerate() {
            if !validate::is_account_id(admin) {
                return Err(format!(
                    "{field}.delegatedAdministrators[{index}]: must be exactly 12 digits"
                ));
            }
        }
        let root = self.root_id();
        let parents: HashMap<&str, &str> = self
            .organizational_units
            .iter()
            .map(|unit| (unit.id.as_str(), unit.parent_id.as_deref().unwrap_or(&root)))
            .collect();
        let mut seen = BTreeSet::new();
        for (index, unit) in self.organizational_units.iter().enumerate() {
            let at = format!("{field}.organizationalUnits[{index}]");
            if !is_ou_id(&unit.id) {
                return Err(format!("{at}.id: must match ^ou-[0-9a-z]{{4,32}}-[a-z0-9]{{8,32}}$"));
            }
            if !seen.insert(unit.id.as_str()) {
                return Err(format!("{at}.id: {} is declared twice", unit.id));
            }
            if !(1..=128).contains(&unit.name.chars().count()) {
                return Err(format!("{at}.name: must be 1 to 128 characters long"));
            }
            let parent = parents[unit.id.as_str()];
            if parent != root && !parents.contains_key(parent) {
                return Err(format!(
                    "{at}.parentId: {parent} is neither the root {root} nor an OU of {}",
                    self.id
                ));
            }
            // Walking up must reach the root within as many steps as there are OUs.
            let mut current = parent;
            for _ in 0..=self.organizational_units.len() {
                if current == root {
                    break;
                }
                current = parents[current];
            }
            if current != root {
                return Err(format!("{at}.parentId: the OU tree has a cycle through {}", unit.id));
            }
        }
        Ok(())
    }
}

/// An organization as the API reads it: the tree and who is where, indexed, with the implicit
/// defaults applied.
#[derive(Clone, Debug, Default)]
pub(crate) struct Organization {
    pub id: String,
    pub management_account: Option<String>,
    pub root_id: String,
    pub delegated_administrators: BTreeSet<String>,
    pub empty_first_pages: bool,
    pub page_size_limit: Option<u32>,
    /// OU id → (name, parent id).
    pub units: BTreeMap<String, (String, String)>,
    /// Parent id → its OUs, in id order.
    pub units_by_parent: HashMap<String, Vec<String>>,
    /// Parent id → its accounts, in id order.
    pub accounts_by_parent: HashMap<String, Vec<String>>,
    /// Every account, in id order.
    pub accounts: Vec<String>,
    /// Account id → parent id.
    pub parent_of: HashMap<String, String>,
}

impl Organization {
    /// An organization named by accounts only.
    pub fn implicit(id: &str) -> Organization {
        Organization {
            id: id.to_owned(),
            root_id: derived_root_id(id),
            ..Organization::default()
        }
    }

    pub fn declared(config: &OrganizationConfig) -> Organization {
        let root_id = config.root_id();
        let mut organization = Organization {
            id: config.id.clone(),
            management_account: Some(config.management_account.clone()),
            delegated_administrators: config.delegated_administrators.iter().cloned().collect(),
            empty_first_pages: config.empty_first_pages,
            page_size_limit: config.page_size_limit,
            root_id: root_id.clone(),
            ..Organization::default()
        };
        for unit in &config.organizational_units {
            let parent = unit.parent_id.clone().unwrap_or_else(|| root_id.clone());
            organization
                .units_by_parent
                .entry(parent.clone())
                .or_default()
                .push(unit.id.clone());
            organization.units.insert(unit.id.clone(), (unit.name.clone(), parent));
        }
        for units in organization.units_by_parent.values_mut() {
            units.sort_unstable();
        }
        organization
    }

    /// Places an account (call in any order, then [`Organization::finish`]).
    pub fn add_account(&mut self, account_id: &str, parent_id: Option<&str>) {
        let parent = parent_id.unwrap_or(&self.root_id).to_owned();
        self.accounts_by_parent
            .entry(parent.clone())
            .or_default()
            .push(account_id.to_owned());
        self.parent_of.insert(account_id.to_owned(), parent);
        self.accounts.push(account_id.to_owned());
    }

    pub fn finish(&mut self) {
        self.accounts.sort_unstable();
        self.accounts.dedup();
        for accounts in self.accounts_by_parent.values_mut() {
            accounts.sort_unstable();
        }
    }

    pub fn is_parent(&self, parent_id: &str) -> bool {
        parent_id == self.root_id || self.units.contains_key(parent_id)
    }

    /// The entity path of a root or OU (`Path` of an OU in the API): the organization id, the
    /// root and each OU down to it, each followed by `/` (`o-ab12cd34ef/r-ab12/ou-ab12-11111111/`),
    /// the form of the IAM User Guide's "Understand the AWS Organizations entity path".
    pub fn path_of(&self, parent_id: &str) -> String {
        let mut chain = vec![parent_id];
        let mut current = parent_id;
        // The tree was validated to hang from the root; the bound only guards a broken index.
        while let Some((_, parent)) = self.units.get(current)
            && chain.len() <= self.units.len()
        {
            chain.push(parent);
            current = parent;
        }
        let mut path = format!("{}/", self.id);
        for id in chain.iter().rev() {
            path.push_str(id);
            path.push('/');
        }
        path
    }

    /// The account id in ARNs (the management account's; zeros for an organization without one).
    pub fn arn_account(&self) -> &str {
        self.management_account.as_deref().unwrap_or("000000000000")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_patterns() {
        assert!(is_root_id("r-ab12"));
        assert!(!is_root_id("r-ab1"));
        assert!(!is_root_id("r-AB12"));
        assert!(is_ou_id("ou-ab12-12345678"));
        assert!(!is_ou_id("ou-ab12-1234567"));
        assert!(!is_ou_id("ou-ab1-12345678"));
        assert!(is_parent_id("r-ab12") && is_parent_id("ou-ab12-abcdefgh"));
        assert!(is_organization_id("o-exampleorg1") && !is_organization_id("o-"));
        assert_eq!(derived_root_id("o-ab"), "r-ab00");
        assert_eq!(derived_root_id("o-emulator"), "r-emulator");
    }

    #[test]
    fn paths_run_from_the_organization_down() {
        let config = OrganizationConfig {
            id: "o-abcd".to_owned(),
            management_account: "111111111111".to_owned(),
            root_id: None,
            organizational_units: vec![
                OrganizationalUnitConfig {
                    id: "ou-abcd-00000002".to_owned(),
                    name: "child".to_owned(),
                    parent_id: Some("ou-abcd-00000001".to_owned()),
                },
                OrganizationalUnitConfig {
                    id: "ou-abcd-00000001".to_owned(),
                    name: "top".to_owned(),
                    parent_id: None,
                },
            ],
            delegated_administrators: vec![],
            empty_first_pages: false,
            page_size_limit: None,
        };
        let organization = Organization::declared(&config);
        assert_eq!(organization.path_of("r-abcd"), "o-abcd/r-abcd/");
        assert_eq!(
            organization.path_of("ou-abcd-00000002"),
            "o-abcd/r-abcd/ou-abcd-00000001/ou-abcd-00000002/"
        );
    }

    #[test]
    fn the_ou_tree_must_hang_from_the_root() {
        let unit = |id: &str, parent: Option<&str>| OrganizationalUnitConfig {
            id: id.to_owned(),
            name: "n".to_owned(),
            parent_id: parent.map(str::to_owned),
        };
        let mut organization = OrganizationConfig {
            id: "o-abcd".to_owned(),
            management_account: "111111111111".to_owned(),
            root_id: None,
            organizational_units: vec![
                unit("ou-abcd-00000001", None),
                unit("ou-abcd-00000002", Some("ou-abcd-00000001")),
            ],
            delegated_administrators: vec![],
            empty_first_pages: false,
            page_size_limit: None,
        };
        assert!(organization.validate("o").is_ok());
        organization.organizational_units[0].parent_id = Some("ou-abcd-00000002".to_owned());
        let err = organization.validate("o").expect_err("cycle");
        assert!(err.contains("cycle"), "{err}");
        organization.organizational_units[0].parent_id = Some("ou-abcd-99999999".to_owned());
        let err = organization.validate("o").expect_err("unknown parent");
        assert!(err.starts_with("o.organizationalUnits[0].parentId"), "{err}");
    }
}
