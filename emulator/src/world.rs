//! The simulated world *outside* Detective: which AWS accounts exist, their root e-mail, whether
//! they are enrolled in GuardDuty, which organization they belong to, and how their (simulated)
//! owners behave. Detective's answers depend on these facts, so tests shape them here instead of
//! hard-coding special account ids in the service model.

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize};

use super::iam::{Iam, RoleConfig};
use super::organization::{AccountState, JoinedMethod, Organization, OrganizationConfig, derived_root_id};
use super::realism::{self, Realism};
use super::validate;

/// Organization id used when the world model says `organization: true` without naming one.
pub const DEFAULT_ORGANIZATION: &str = "o-emulator";

/// The world model. Serialized in camelCase, the format of `--config` files and of
/// `PUT /_emulator/world`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct WorldConfig {
    /// Accounts with non-default facts. Accounts not listed exist implicitly: any e-mail passes
    /// verification, they are GuardDuty-enrolled, in no organization, and never accept on their
    /// own. A 1,200-member test therefore needs no world setup.
    pub accounts: Vec<AccountConfig>,
    /// How long CreateMembers keeps an invited account in VERIFICATION_IN_PROGRESS. 0 (the
    /// default) means the CreateMembers response shows VERIFICATION_IN_PROGRESS and every later
    /// read already shows INVITED or VERIFICATION_FAILED.
    pub verification_delay_ms: u64,
    /// Account that callers whose access key id is not a 12-digit account id act as. Overrides
    /// [`EmulatorConfig::default_account`](super::EmulatorConfig::default_account) when set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default_account: Option<String>,
    /// AWS Organizations: management account, root and OU tree of each organization (its
    /// accounts are the `accounts` that name it). Organizations named only by accounts exist
    /// too, without OUs or management account.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub organizations: Vec<OrganizationConfig>,
    /// Enforce IAM for assumed roles: a call with credentials from AssumeRole is allowed only
    /// when the role's `policyFiles` allow it, and AssumeRole checks the caller's policies and
    /// the role's trust (`trustPolicyFile`); only declared roles can be assumed. An account's
    /// own credentials stay unrestricted.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub enforce_iam: bool,
    /// Under `enforceIam`, whether EnableOrganizationAdminAccount also requires the caller to be
    /// allowed what Detective does in Organizations and IAM on its behalf
    /// (`organizations:EnableAWSServiceAccess`, `organizations:RegisterDelegatedAdministrator`
    /// for another account, `iam:CreateServiceLinkedRole`). Unset: yes (unverified; the stricter
    /// choice).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub on_behalf_checks: Option<bool>,
    /// Detective answers only in its 23 Regions (elsewhere the connection is dropped, as a
    /// client meets a Region without an endpoint), and in an opt-in Region only accounts that
    /// list it in `enabledRegions` (others get 403 UnrecognizedClientException). Absent: on in
    /// the realistic profile, off otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub strict_regions: Option<bool>,
    /// The realistic profile ([`Realism`]): every behaviour of AWS that the default profile
    /// leaves out, each at its realistic default unless its own setting below says otherwise.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub realistic: bool,
    /// How long a new or removed Detective administrator of an organization, and an
    /// organization configuration's AutoEnable, take to show (`"3s"`, `"300ms"`). Absent: 3 s
    /// in the realistic profile, none otherwise.
    #[serde(with = "realism::propagation_delay", skip_serializing_if = "Option::is_none")]
    pub propagation_delay: Option<Duration>,
    /// One Detective administrator for the organization: once AWS Organizations has a
    /// delegated administrator for Detective, EnableOrganizationAdminAccount accepts only that
    /// account or the management account, in every Region. Absent: on in the realistic profile,
    /// off otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub single_administrator: Option<bool>,
    /// How long CreateMembers keeps an account of the organization (added by the organization's
    /// Detective administrator) VERIFICATION_IN_PROGRESS before it is ENABLED or
    /// ACCEPTED_BUT_DISABLED (`"2s"`). Invited accounts follow `verificationDelayMs`. Absent:
    /// 2 s in the realistic profile, none otherwise.
    #[serde(with = "realism::verification_delay", skip_serializing_if = "Option::is_none")]
    pub verification_delay: Option<Duration>,
    /// Organizations answers accounts without the retired `Status` field (`State` only).
    /// Absent: on in the realistic profile, off otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub omit_account_status: Option<bool>,
    /// Organizations answers accounts with `Paths` and OUs with `Path`. Absent: on in the
    /// realistic profile, off otherwise (the API before those fields).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account_paths: Option<bool>,
    /// Organizations calls a second per calling account; the calls beyond answer
    /// TooManyRequestsException. `0`: no limit. Absent: 5 in the realistic profile, no limit
    /// otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub organizations_rate_limit: Option<u32>,
    /// Calls signed with the credentials of an account whose organization `state` is not ACTIVE
    /// (SUSPENDED, PENDING_CLOSURE, CLOSED, PENDING_ACTIVATION) are refused: 403
    /// UnrecognizedClientException (Detective, Organizations), 403 InvalidClientTokenId (STS,
    /// IAM). Absent: on in the realistic profile, off otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refuse_inactive_callers: Option<bool>,
}

/// One simulated AWS account.
#[serde_with::skip_serializing_none]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AccountConfig {
    pub account_id: String,
    /// Root user e-mail. CreateMembers with a different e-mail (compared ASCII
    /// case-insensitively) ends in VERIFICATION_FAILED. Empty: any e-mail passes.
    #[serde(default)]
    pub email: String,
    /// Not enrolled: accepting (or StartMonitoringMember) yields ACCEPTED_BUT_DISABLED with
    /// VOLUME_UNKNOWN, the way Detective reports members it cannot measure.
    #[serde(default = "enrolled_by_default")]
    pub guard_duty_enrolled: bool,
    /// Accepting yields ACCEPTED_BUT_DISABLED with VOLUME_TOO_HIGH.
    #[serde(default)]
    pub volume_too_high: bool,
    /// Organization the account belongs to. In files, `true` means [`DEFAULT_ORGANIZATION`],
    /// `false` or absent means none, a string names the organization.
    #[serde(default, deserialize_with = "organization_id")]
    pub organization: Option<String>,
    /// Simulates a member who accepts: this long after the account's invitation reaches
    /// INVITED, it is accepted as if the account had called AcceptInvitation.
    pub auto_accept_after_ms: Option<u64>,
    /// The IAM roles STS AssumeRole may assume in this account. Absent: any role name can be
    /// assumed by anyone; present: only these, as each one's trust says.
    pub roles: Option<Vec<RoleConfig>>,
    /// The opt-in Regions (af-south-1, ap-east-1, eu-south-1, il-central-1, me-south-1) this
    /// account has enabled; counts under `strictRegions`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub enabled_regions: Vec<String>,
    /// Account name in its organization (1–50 characters). Absent: `account-<id>`.
    pub name: Option<String>,
    /// The root or OU of its organization the account sits in. Absent: the root.
    pub parent_id: Option<String>,
    /// State in its organization: PENDING_ACTIVATION, ACTIVE (default), SUSPENDED,
    /// PENDING_CLOSURE or CLOSED ([`crate::organization_lifecycle`] says what Detective does).
    #[serde(default, skip_serializing_if = "AccountState::is_active")]
    pub state: AccountState,
    /// CREATED (default) or INVITED.
    #[serde(default, skip_serializing_if = "JoinedMethod::is_created")]
    pub joined_method: JoinedMethod,
    /// When the account joined its organization. Absent: stamped with the emulator clock when
    /// the account first appears in the organization (kept while it stays there).
    pub joined_timestamp: Option<jiff::Timestamp>,
    /// When the account was closed: Organizations lists a CLOSED account for 90 days from then
    /// ([`crate::organization_view`]). Absent on a CLOSED account: stamped with the emulator
    /// clock when it becomes CLOSED (kept while it stays so); dropped from an account in any
    /// other state.
    pub closed_timestamp: Option<jiff::Timestamp>,
}

/// A partial world used by `PATCH /_emulator/world` and [`Emulator::merge_world`]:
/// accounts are upserted by account id, the other fields replace the current value when present.
///
/// [`Emulator::merge_world`]: super::Emulator::merge_world
#[serde_with::skip_serializing_none]
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct WorldPatch {
    pub accounts: Vec<AccountConfig>,
    pub verification_delay_ms: Option<u64>,
    pub default_account: Option<String>,
    /// Organizations upserted by id.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub organizations: Vec<OrganizationConfig>,
    pub realistic: Option<bool>,
    #[serde(with = "realism::propagation_delay")]
    pub propagation_delay: Option<Duration>,
    pub single_administrator: Option<bool>,
    pub strict_regions: Option<bool>,
    #[serde(with = "realism::verification_delay")]
    pub verification_delay: Option<Duration>,
    pub omit_account_status: Option<bool>,
    pub account_paths: Option<bool>,
    pub organizations_rate_limit: Option<u32>,
    pub refuse_inactive_callers: Option<bool>,
}

fn enrolled_by_default() -> bool {
    true
}

fn organization_id<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Flag(bool),
        Id(String),
    }
    Ok(match Option::<Raw>::deserialize(deserializer)? {
        None | Some(Raw::Flag(false)) => None,
        Some(Raw::Flag(true)) => Some(DEFAULT_ORGANIZATION.to_owned()),
        Some(Raw::Id(id)) => Some(id),
    })
}

impl AccountConfig {
    /// An account with the given root e-mail and every other fact at its default.
    pub fn new(account_id: impl Into<String>, email: impl Into<String>) -> Self {
        AccountConfig {
            account_id: account_id.into(),
            email: email.into(),
            ..AccountConfig::default()
        }
    }
}

/// Defaults of a declared account: GuardDuty-enrolled, normal volume, no organization, never
/// accepts on its own. (`account_id` must still be set.)
impl Default for AccountConfig {
    fn default() -> Self {
        AccountConfig {
            account_id: String::new(),
            email: String::new(),
            guard_duty_enrolled: true,
            volume_too_high: false,
            organization: None,
            auto_accept_after_ms: None,
            roles: None,
            enabled_regions: Vec::new(),
            name: None,
            parent_id: None,
            state: AccountState::Active,
            joined_method: JoinedMethod::Created,
            joined_timestamp: None,
            closed_timestamp: None,
        }
    }
}

impl WorldConfig {
    /// The realistic profile's settings in force in this world: each part's own setting, else
    /// the profile's default for it.
    pub fn realism(&self) -> Realism {
        let world = self;
        let realistic = world.realistic;
        Realism {
            propagation_delay: realism::delay(world.propagation_delay, realistic, realism::REALISTIC_PROPAGATION_DELAY),
            single_administrator: world.single_administrator.unwrap_or(realistic),
            strict_regions: world.strict_regions.unwrap_or(realistic),
            enforce_iam: world.enforce_iam || realistic,
            verification_delay: realism::delay(
                world.verification_delay,
                realistic,
                realism::REALISTIC_VERIFICATION_DELAY,
            ),
            omit_account_status: world.omit_account_status.unwrap_or(realistic),
            account_paths: world.account_paths.unwrap_or(realistic),
            organizations_rate_limit: world
                .organizations_rate_limit
                .or(realistic.then_some(realism::REALISTIC_ORGANIZATIONS_RATE_LIMIT))
                .filter(|limit| *limit > 0),
            refuse_inactive_callers: world.refuse_inactive_callers.unwrap_or(realistic),
        }
    }

    /// The IAM of this world: every role's policy files read and parsed; the error names the
    /// field, the file and the statement.
    fn iam(&self) -> Result<Iam, String> {
        let roles = self.accounts.iter().map(|account| {
            (
                account.account_id.as_str(),
                account.roles.as_deref().unwrap_or_default(),
            )
        });
        Iam::load(roles, self.realism().enforce_iam, self.on_behalf_checks.unwrap_or(true))
    }

    /// The realistic profile with every part at its realistic default, and nothing else.
    pub fn realistic() -> WorldConfig {
        WorldConfig {
            realistic: true,
            ..WorldConfig::default()
        }
    }

    /// Reads a world model from a YAML or JSON file (JSON when the name ends in `.json`).
    pub fn from_file(path: &Path) -> Result<WorldConfig, String> {
        let text = std::fs::read_to_string(path).map_err(|err| format!("cannot read {}: {err}", path.display()))?;
        let world: WorldConfig = if path.extension().is_some_and(|ext| ext == "json") {
            serde_json::from_str(&text).map_err(|err| format!("{}: {err}", path.display()))?
        } else {
            serde_saphyr::from_str(&text).map_err(|err| format!("{}: {err}", path.display()))?
        };
        let mut world = world;
        if let Some(folder) = path.parent() {
            world.resolve_policy_files(folder);
        }
        world.validate().map_err(|err| format!("{}: {err}", path.display()))?;
        Ok(world)
    }

    /// Makes the roles' relative policy paths relative to `folder` (the world file's).
    fn resolve_policy_files(&mut self, folder: &Path) {
        for role in self.accounts.iter_mut().flat_map(|a| a.roles.iter_mut().flatten()) {
            for file in role.policy_files.iter_mut().chain(role.trust_policy_file.as_mut()) {
                if file.is_relative() {
                    *file = folder.join(&*file);
                }
            }
        }
    }

    /// Checks what the emulator cannot work with: malformed account ids (they could never match
    /// a caller or a member) and an account declared twice.
    pub fn validate(&self) -> Result<(), String> {
        let mut seen = std::collections::HashSet::new();
        for (index, account) in self.accounts.iter().enumerate() {
            if !validate::is_account_id(&account.account_id) {
                return Err(format!("accounts[{index}].accountId: must be exactly 12 digits"));
            }
            if !seen.insert(account.account_id.as_str()) {
                return Err(format!(
                    "accounts[{index}].accountId: account {} is declared twice",
                    account.account_id
                ));
            }
            if account.organization.as_ref().is_some_and(|org| org.is_empty()) {
                return Err(format!("accounts[{index}].organization: must not be empty"));
            }
            if let Some((r, region)) = account
                .enabled_regions
                .iter()
                .enumerate()
                .find(|(_, region)| !super::regions::is_opt_in(region))
            {
                return Err(format!(
                    "accounts[{index}].enabledRegions[{r}]: {region} is not an opt-in Region of Detective \
                     (af-south-1, ap-east-1, eu-south-1, il-central-1, me-south-1)"
                ));
            }
        }
        if let Some(default) = &self.default_account
            && !validate::is_account_id(default)
        {
            return Err("defaultAccount: must be exactly 12 digits".to_owned());
        }
        validate_accounts(&self.organizations, &self.accounts)?;
        self.iam().map(|_| ())
    }

    /// Where each account id stands in `accounts`.
    fn account_positions(&self) -> HashMap<String, usize> {
        self.accounts
            .iter()
            .enumerate()
            .map(|(position, account)| (account.account_id.clone(), position))
            .collect()
    }

    /// Applies a patch: accounts replace same-id accounts or are appended, organizations
    /// likewise by id.
    pub fn merge(&mut self, patch: WorldPatch) {
        let mut positions = self.account_positions();
        for account in patch.accounts {
            match positions.get(&account.account_id) {
                Some(&position) => self.accounts[position] = account,
                None => {
                    positions.insert(account.account_id.clone(), self.accounts.len());
                    self.accounts.push(account);
                }
            }
        }
        for organization in patch.organizations {
            match self.organizations.iter_mut().find(|known| known.id == organization.id) {
                Some(known) => *known = organization,
                None => self.organizations.push(organization),
            }
        }
        if let Some(delay) = patch.verification_delay_ms {
            self.verification_delay_ms = delay;
        }
        if patch.default_account.is_some() {
            self.default_account = patch.default_account;
        }
        if let Some(realistic) = patch.realistic {
            self.realistic = realistic;
        }
        self.propagation_delay = patch.propagation_delay.or(self.propagation_delay);
        self.single_administrator = patch.single_administrator.or(self.single_administrator);
        self.strict_regions = patch.strict_regions.or(self.strict_regions);
        self.verification_delay = patch.verification_delay.or(self.verification_delay);
        self.omit_account_status = patch.omit_account_status.or(self.omit_account_status);
        self.account_paths = patch.account_paths.or(self.account_paths);
        self.organizations_rate_limit = patch.organizations_rate_limit.or(self.organizations_rate_limit);
        self.refuse_inactive_callers = patch.refuse_inactive_callers.or(self.refuse_inactive_callers);
    }

    /// Fills in what the world implies, so that `GET /_emulator/world` shows it: a management
    /// account missing from `accounts` is added (in its organization's root), organization
    /// accounts without `joinedTimestamp` get the one they had in `before` if they were already
    /// in the same organization there, `now` otherwise, and CLOSED accounts without
    /// `closedTimestamp` likewise the one they had if they were already CLOSED.
    pub(crate) fn complete(&mut self, before: &WorldConfig, now: jiff::Timestamp) {
        let mut known = self.account_positions();
        for organization in &self.organizations {
            match known.get(&organization.management_account) {
                Some(&position) => {
                    let account = &mut self.accounts[position];
                    account.organization.get_or_insert_with(|| organization.id.clone());
                }
                None => {
                    known.insert(organization.management_account.clone(), self.accounts.len());
                    self.accounts.push(AccountConfig {
                        organization: Some(organization.id.clone()),
                        joined_method: JoinedMethod::Invited,
                        ..AccountConfig::new(organization.management_account.clone(), "")
                    });
                }
            }
        }
        let previous: HashMap<&str, &AccountConfig> = before
            .accounts
            .iter()
            .map(|account| (account.account_id.as_str(), account))
            .collect();
        for account in &mut self.accounts {
            if account.state != AccountState::Closed {
                account.closed_timestamp = None;
            } else if account.closed_timestamp.is_none() {
                let kept = previous
                    .get(account.account_id.as_str())
                    .filter(|earlier| earlier.state == AccountState::Closed)
                    .and_then(|earlier| earlier.closed_timestamp);
                account.closed_timestamp = Some(kept.unwrap_or(now));
            }
            if account.organization.is_none() || account.joined_timestamp.is_some() {
                continue;
            }
            let kept = previous
                .get(account.account_id.as_str())
                .filter(|earlier| earlier.organization == account.organization)
                .and_then(|earlier| earlier.joined_timestamp);
            account.joined_timestamp = Some(kept.unwrap_or(now));
        }
    }
}

/// The world model with an index by account id: the state machine looks accounts up for every
/// member on every request, and worlds may declare thousands of accounts.
#[derive(Clone, Debug, Default)]
pub(crate) struct World {
    config: WorldConfig,
    /// The roles' policies, parsed ([`WorldConfig::validate`] refused malformed ones).
    iam: Iam,
    /// The realistic profile's settings in force.
    realism: Realism,
    index: HashMap<String, usize>,
    /// By organization id, declared or named by accounts.
    organizations: HashMap<String, Organization>,
    /// Account id → its organization id (management accounts included).
    membership: HashMap<String, String>,
}

/// The facts the service model needs about one account, with the implicit defaults applied.
#[derive(Clone, Copy, Debug)]
pub(crate) struct AccountFacts<'a> {
    pub email: Option<&'a str>,
    pub guard_duty_enrolled: bool,
    pub volume_too_high: bool,
    pub organization: Option<&'a str>,
    pub auto_accept_after_ms: Option<u64>,
}

impl World {
    pub fn new(config: WorldConfig) -> World {
        let index: HashMap<String, usize> = config
            .accounts
            .iter()
            .enumerate()
            .map(|(position, account)| (account.account_id.clone(), position))
            .collect();
        let mut organizations: HashMap<String, Organization> = config
            .organizations
            .iter()
            .map(|organization| (organization.id.clone(), Organization::declared(organization)))
            .collect();
        let mut membership = HashMap::new();
        for organization in &config.organizations {
            membership.insert(organization.management_account.clone(), organization.id.clone());
        }
        for account in &config.accounts {
            if let Some(organization) = &account.organization {
                membership.insert(account.account_id.clone(), organization.clone());
            }
        }
        for (account_id, organization_id) in &membership {
            let parent = index
                .get(account_id)
                .and_then(|&position| config.accounts[position].parent_id.as_deref());
            organizations
                .entry(organization_id.clone())
                .or_insert_with(|| Organization::implicit(organization_id))
                .add_account(account_id, parent);
        }
        for organization in organizations.values_mut() {
            organization.finish();
        }
        // Worlds are validated before they are built (which reads the policy files once); a
        // file that became unreadable since is logged, and then no role is allowed anything.
        let iam = config.iam().unwrap_or_else(|error| {
            tracing::error!(%error, "IAM policies could not be read: no role is allowed anything");
            Iam::without_policies(config.realism().enforce_iam)
        });
        World {
            realism: config.realism(),
            config,
            iam,
            index,
            organizations,
            membership,
        }
    }

    /// The realistic profile's settings in force.
    pub fn realism(&self) -> Realism {
        self.realism
    }

    /// The roles' policies and whether they are enforced.
    pub fn iam(&self) -> &Iam {
        &self.iam
    }

    /// The declared entry of an account, if any.
    pub fn account_config(&self, account_id: &str) -> Option<&AccountConfig> {
        self.index
            .get(account_id)
            .map(|&position| &self.config.accounts[position])
    }

    /// The organization `account_id` belongs to.
    pub fn organization_of(&self, account_id: &str) -> Option<&Organization> {
        self.membership
            .get(account_id)
            .and_then(|organization| self.organizations.get(organization))
    }

    pub fn config(&self) -> &WorldConfig {
        &self.config
    }

    pub fn verification_delay_ms(&self) -> u64 {
        self.config.verification_delay_ms
    }

    pub fn default_account(&self) -> Option<&str> {
        self.config.default_account.as_deref()
    }

    pub fn account(&self, account_id: &str) -> AccountFacts<'_> {
        match self
            .index
            .get(account_id)
            .map(|&position| &self.config.accounts[position])
        {
            Some(account) => AccountFacts {
                email: Some(account.email.as_str()).filter(|email| !email.is_empty()),
                guard_duty_enrolled: account.guard_duty_enrolled,
                volume_too_high: account.volume_too_high,
                organization: self.membership.get(account_id).map(String::as_str),
                auto_accept_after_ms: account.auto_accept_after_ms,
            },
            None => AccountFacts {
                email: None,
                guard_duty_enrolled: true,
                volume_too_high: false,
                organization: self.membership.get(account_id).map(String::as_str),
                auto_accept_after_ms: None,
            },
        }
    }

    /// An account's state in its organization (ACTIVE unless declared otherwise).
    pub fn account_state(&self, account_id: &str) -> AccountState {
        self.account_config(account_id)
            .map(|account| account.state)
            .unwrap_or_default()
    }

    /// The opt-in Regions an account has enabled (none unless declared).
    pub fn enabled_regions(&self, account_id: &str) -> &[String] {
        self.index
            .get(account_id)
            .map(|&position| self.config.accounts[position].enabled_regions.as_slice())
            .unwrap_or_default()
    }

    /// The declared roles of an account (`None`: any role can be assumed).
    pub fn roles(&self, account_id: &str) -> Option<&[RoleConfig]> {
        self.index
            .get(account_id)
            .and_then(|&position| self.config.accounts[position].roles.as_deref())
    }

    /// Where an account sits: its organization's id and, in it, its root or OU.
    pub fn placement(&self, account_id: &str) -> Option<(&str, &str)> {
        let organization = self.organization_of(account_id)?;
        let parent = organization.parent_of.get(account_id)?;
        Some((organization.id.as_str(), parent.as_str()))
    }

    /// Every account in some organization (management accounts included), in no order.
    pub fn organization_members(&self) -> impl Iterator<Item = &str> {
        self.membership.keys().map(String::as_str)
    }

    /// Whether an organization of this id exists (declared, or named by accounts).
    pub fn has_organization(&self, organization: &str) -> bool {
        self.organizations.contains_key(organization)
    }

    /// Accounts of `organization` (management account included), in account-id order.
    pub fn organization_accounts(&self, organization: &str) -> &[String] {
        self.organizations
            .get(organization)
            .map_or(&[], |organization| organization.accounts.as_slice())
    }
}

/// Checks the accounts against the organizations: a management account belongs to its own
/// organization, parents exist in the account's organization.
pub(crate) fn validate_accounts(
    organizations: &[OrganizationConfig],
    accounts: &[AccountConfig],
) -> Result<(), String> {
    let mut declared = HashMap::new();
    for (index, organization) in organizations.iter().enumerate() {
        let field = format!("organizations[{index}]");
        organization.validate(&field)?;
        if declared.insert(organization.id.as_str(), organization).is_some() {
            return Err(format!("{field}.id: {} is declared twice", organization.id));
        }
    }
    let mut managers = HashMap::new();
    for (index, organization) in organizations.iter().enumerate() {
        if let Some(other) = managers.insert(organization.management_account.as_str(), organization.id.as_str()) {
            return Err(format!(
                "organizations[{index}].managementAccount: account {} already manages {other}",
                organization.management_account
            ));
        }
    }
    let mut units = HashMap::new();
    for organization in organizations {
        for unit in &organization.organizational_units {
            if let Some(other) = units.insert(unit.id.as_str(), organization.id.as_str()) {
                return Err(format!(
                    "OU {} is declared in {other} and in {}",
                    unit.id, organization.id
                ));
            }
        }
    }
    for (index, account) in accounts.iter().enumerate() {
        let at = format!("accounts[{index}]");
        if let Some(managed) = managers.get(account.account_id.as_str())
            && account.organization.as_deref().is_some_and(|org| org != *managed)
        {
            return Err(format!(
                "{at}.organization: account {} is the management account of {managed}",
                account.account_id
            ));
        }
        if let Some(name) = &account.name
            && !(1..=50).contains(&name.chars().count())
        {
            return Err(format!("{at}.name: must be 1 to 50 characters long"));
        }
        let organization = account
            .organization
            .as_deref()
            .or_else(|| managers.get(account.account_id.as_str()).copied());
        let Some(parent) = &account.parent_id else {
            continue;
        };
        let Some(organization) = organization else {
            return Err(format!("{at}.parentId: the account is in no organization"));
        };
        let known = match declared.get(organization) {
            Some(config) => *parent == config.root_id() || units.get(parent.as_str()) == Some(&organization),
            None => *parent == derived_root_id(organization),
        };
        if !known {
            return Err(format!(
                "{at}.parentId: {parent} is neither the root nor an OU of organization {organization}"
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::realism::{
        REALISTIC_ORGANIZATIONS_RATE_LIMIT, REALISTIC_PROPAGATION_DELAY, REALISTIC_VERIFICATION_DELAY, Realism,
    };

    #[test]
    fn yaml_world_accepts_boolean_and_named_organizations() {
        let world: WorldConfig = serde_saphyr::from_str(
            "verificationDelayMs: 250\naccounts:\n  - accountId: '111111111111'\n    email: a@example.com\n    organization: true\n  - accountId: '222222222222'\n    organization: o-abc\n    guardDutyEnrolled: false\n  - accountId: '333333333333'\n    organization: false\n    autoAcceptAfterMs: 10\n",
        )
        .expect("valid world");
        assert_eq!(world.verification_delay_ms, 250);
        assert_eq!(world.accounts[0].organization.as_deref(), Some(DEFAULT_ORGANIZATION));
        assert!(world.accounts[0].guard_duty_enrolled);
        assert_eq!(world.accounts[1].organization.as_deref(), Some("o-abc"));
        assert!(!world.accounts[1].guard_duty_enrolled);
        assert_eq!(world.accounts[2].organization, None);
        assert_eq!(world.accounts[2].auto_accept_after_ms, Some(10));
        assert!(world.validate().is_ok());
    }

    #[test]
    fn validation_names_the_bad_field() {
        let world = WorldConfig {
            accounts: vec![AccountConfig::new("12345", "a@example.com")],
            ..WorldConfig::default()
        };
        let err = world.validate().expect_err("short account id");
        assert!(err.starts_with("accounts[0].accountId"), "{err}");
    }

    /// The world's types omit an absent optional field rather than write `null`, and read an
    /// omitted one back as absent: a written world (or state file) reads back equal.
    #[test]
    fn absent_optional_facts_are_omitted_and_read_back() {
        let bare = AccountConfig::new("111111111111", "a@example.com");
        let full = AccountConfig {
            organization: Some("o-abc".into()),
            auto_accept_after_ms: Some(10),
            roles: Some(vec![RoleConfig {
                name: "accept".into(),
                external_id: Some("ext-1".into()),
                ..RoleConfig::default()
            }]),
            name: Some("audit".into()),
            parent_id: Some("r-abcd".into()),
            joined_timestamp: Some(jiff::Timestamp::UNIX_EPOCH),
            ..AccountConfig::new("222222222222", "b@example.com")
        };
        let world = WorldConfig {
            accounts: vec![bare, full],
            ..WorldConfig::default()
        };
        let json = serde_json::to_value(&world).expect("serializes");
        assert_eq!(
            json["accounts"][0],
            serde_json::json!({ "accountId": "111111111111", "email": "a@example.com", "guardDutyEnrolled": true, "volumeTooHigh": false }),
        );
        assert!(!json.to_string().contains("null"), "{json}");
        assert_eq!(serde_json::from_value::<WorldConfig>(json).expect("reads back"), world);
        let patch = WorldPatch::default();
        let json = serde_json::to_value(&patch).expect("serializes");
        assert_eq!(json, serde_json::json!({ "accounts": [] }));
        assert_eq!(serde_json::from_value::<WorldPatch>(json).expect("reads back"), patch);
    }

    #[test]
    fn merge_upserts_accounts_by_id() {
        let mut world = WorldConfig {
            accounts: vec![AccountConfig::new("111111111111", "a@example.com")],
            ..WorldConfig::default()
        };
        world.merge(WorldPatch {
            accounts: vec![
                AccountConfig::new("111111111111", "b@example.com"),
                AccountConfig::new("222222222222", "c@example.com"),
            ],
            verification_delay_ms: Some(5),
            default_account: None,
            organizations: Vec::new(),
            ..WorldPatch::default()
        });
        assert_eq!(world.accounts.len(), 2);
        assert_eq!(world.accounts[0].email, "b@example.com");
        assert_eq!(world.verification_delay_ms, 5);
    }

    #[test]
    fn policy_files_are_read_relative_to_the_world_file_and_checked() {
        let folder = tempfile::tempdir().expect("a temporary folder");
        std::fs::write(
            folder.path().join("reader.json"),
            r#"{"Statement": {"Effect": "Allow", "Action": "detective:List*", "Resource": "*"}}"#,
        )
        .expect("write the policy");
        let file = folder.path().join("world.yaml");
        let world = |policy: &str| {
            format!(
                "enforceIam: true\naccounts:\n  - accountId: \"111122223333\"\n    roles:\n      - name: reader\n        policyFiles: [{policy}]\n"
            )
        };
        std::fs::write(&file, world("reader.json")).expect("write the world");
        let loaded = WorldConfig::from_file(&file).expect("a valid world");
        let role = &loaded.accounts[0].roles.as_ref().expect("roles")[0];
        assert_eq!(role.policy_files, [folder.path().join("reader.json")]);
        assert!(loaded.enforce_iam);

        std::fs::write(&file, world("missing.json")).expect("write the world");
        let error = WorldConfig::from_file(&file).expect_err("a missing policy file");
        assert!(
            error.contains("accounts[0].roles[0].policyFiles[0]: cannot read"),
            "{error}"
        );
    }

    #[test]
    fn the_switch_sets_the_defaults_and_each_setting_wins() {
        let mut world = WorldConfig::default();
        assert_eq!(world.realism(), Realism::default(), "the default profile is instant");
        world.realistic = true;
        assert_eq!(
            world.realism(),
            Realism {
                propagation_delay: REALISTIC_PROPAGATION_DELAY,
                single_administrator: true,
                strict_regions: true,
                enforce_iam: true,
                verification_delay: REALISTIC_VERIFICATION_DELAY,
                omit_account_status: true,
                account_paths: true,
                organizations_rate_limit: Some(REALISTIC_ORGANIZATIONS_RATE_LIMIT),
                refuse_inactive_callers: true,
            }
        );
        world.propagation_delay = Some(Duration::ZERO);
        world.single_administrator = Some(false);
        world.strict_regions = Some(false);
        world.verification_delay = Some(Duration::ZERO);
        world.omit_account_status = Some(false);
        world.account_paths = Some(false);
        world.organizations_rate_limit = Some(0);
        world.refuse_inactive_callers = Some(false);
        assert_eq!(
            world.realism(),
            Realism {
                enforce_iam: true,
                ..Realism::default()
            },
            "each part can be turned off but IAM enforcement"
        );
        let alone = WorldConfig {
            propagation_delay: Some(Duration::from_millis(300)),
            ..WorldConfig::default()
        };
        assert_eq!(alone.realism().propagation_delay, Duration::from_millis(300));
        assert!(!alone.realism().single_administrator, "and on alone");
    }
}
