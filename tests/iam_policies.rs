//! Every policy of `examples/iam/` is needed and enough: each row of [`ROWS`] runs a real flow
//! through the engine (the real SDK against the in-process emulator, under `enforceIam`) as a
//! role carrying exactly the row's policy files. **Enough**: the flow succeeds and nothing is
//! refused. **Needed**: for every action of every file of the row, the flow run with a copy of
//! the file lacking that one action is refused that action (counted under its operation, and
//! named in what the flow reports); the actions are read from the files, not listed here. The
//! README's table "which policy each kind needs" is checked against [`ROWS`].

#[path = "../emulator/tests/fixtures/mod.rs"]
mod fixtures;
mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Debug;
use std::path::{Path, PathBuf};

use detective_emulator::{
    AccountConfig, Emulator, MemberSnapshot, MemberStatus, OrganizationConfig, RoleConfig, WorldConfig,
};
use detective_operator::api::{
    DelegationState, DetectiveGraph, DetectiveGraphSpec, DetectiveMembershipSpec, DetectiveOrganizationAdminSpec,
    DetectiveOrganizationAdminStatus,
};
use detective_operator::engine::membership::MembershipTarget;
use detective_operator::engine::{self, GraphTarget, Mode, OrganizationAdminTarget, Reported, SyncError};
use futures::future::BoxFuture;
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};

use support::{assume_role_grant, delegations, emulator_access_as_role};

/// The administrator account the example policies name, and the operator's role there.
const ADMINISTRATOR: &str = "111122223333";
const OPERATOR_ROLE: &str = "detective-operator";
/// The organization's management account, and its members besides the administrator.
const MANAGEMENT: &str = "999988887777";
const ORGANIZATION: &str = "o-exampleorg01";
const ROOT: &str = "r-exampleorg01";
/// The OU the members sit in (the administrator sits in the root).
const UNIT: &str = "ou-exampleorg01-00000001";
const MEMBERS: [&str; 2] = ["444455556666", "444455557777"];
const ACCEPT_ROLE: &str = "DetectiveInvitationAccepter";
const EXTERNAL_ID: &str = "detective-operator-7f3c9a";
/// The organization graph's Region (its graph is the one delegation creates), and the invitation
/// graphs' Region.
const ORGANIZATION_REGION: &str = "us-east-1";
const INVITATION_REGION: &str = "eu-west-1";

/// A row: what the operator does, the files of `examples/iam/` its role carries, and the flow.
struct Row {
    what: &'static str,
    files: &'static [&'static str],
    flow: fn(Policies) -> BoxFuture<'static, FlowRun>,
}

/// The table the README's "which policy each kind needs" repeats.
const ROWS: &[Row] = &[
    Row {
        what: "`plan -f` (read only)",
        files: &["plan-readonly-policy.json"],
        flow: |policies| Box::pin(plan(policies)),
    },
    Row {
        what: "`DetectiveGraph`",
        files: &["administrator-policy.json", "assume-accept-role-policy.json"],
        flow: |policies| Box::pin(graph_converges_and_is_deleted(policies)),
    },
    Row {
        what: "`DetectiveGraph` with `membersFrom` or `organization`",
        files: &["administrator-policy.json", "administrator-organization-policy.json"],
        flow: |policies| Box::pin(organization_graph_converges(policies)),
    },
    Row {
        what: "`membersFrom.organization.assumeRoleArn`: the role that lists the organization",
        files: &["organization-reader-policy.json"],
        flow: |policies| Box::pin(organization_listed_through_a_reader_role(policies)),
    },
    Row {
        what: "`acceptInvitations`: each member's `DetectiveInvitationAccepter`",
        files: &["member-accept-role-policy.json"],
        flow: |policies| Box::pin(graph_converges_and_is_deleted(policies)),
    },
    Row {
        what: "`DetectiveMembership` (the member account's operator)",
        files: &["member-accept-role-policy.json"],
        flow: |policies| Box::pin(memberships_accept_reject_and_leave(policies)),
    },
    Row {
        what: "`DetectiveOrganizationAdmin`: the management account's role (`spec.assumeRoleArn`)",
        files: &["organization-admin-policy.json"],
        flow: |policies| Box::pin(organization_admin_enables_adopts_and_disables(policies)),
    },
];

/// Actions a file keeps although no flow of the emulator needs them, each with the AWS-side
/// need the emulator cannot see: (file, action, reason).
const EXCEPTIONS: &[(&str, &str, &str)] = &[];

/// Actions the emulator authorizes as part of another operation's call (what Detective does
/// on the caller's behalf), so their refusal is counted under that operation: (action,
/// operation).
const CALLED_ON_BEHALF: &[(&str, &str)] = &[
    ("organizations:EnableAWSServiceAccess", "EnableOrganizationAdminAccount"),
    (
        "organizations:RegisterDelegatedAdministrator",
        "EnableOrganizationAdminAccount",
    ),
    ("iam:CreateServiceLinkedRole", "EnableOrganizationAdminAccount"),
];

/// Refusals the operator logs rather than reports in the resource's status (so the flow fails,
/// but what it reports need not name the action): (action, reason).
const LOGGED_NOT_REPORTED: &[(&str, &str)] = &[(
    "detective:BatchGetMembershipDatasources",
    "a DetectiveMembership's ingest state is optional: refused, its status omits \
     datasourcePackages and the log says why",
)];

/// The policy files a flow attaches: the examples, or a variant of one of them.
#[derive(Clone, Debug, Default)]
struct Policies {
    variants: BTreeMap<&'static str, PathBuf>,
}

impl Policies {
    fn paths(&self, files: &[&str]) -> Vec<PathBuf> {
        files
            .iter()
            .map(|file| self.variants.get(file).cloned().unwrap_or_else(|| example(file)))
            .collect()
    }
}

fn example(file: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("examples/iam")
        .join(file)
}

/// What a flow did: the failures it saw (errors, unmet expectations), everything its outcomes
/// reported (to find a refusal's message), and what the emulator refused.
#[derive(Debug, Default)]
struct FlowRun {
    failures: Vec<String>,
    reported: String,
    refused: BTreeMap<String, u64>,
}

impl FlowRun {
    fn outcome<O: Reported>(&mut self, step: &str, outcome: &O)
    where
        O::Status: Debug,
    {
        if let Some(error) = outcome.error() {
            self.failures.push(format!("{step}: {error}"));
        }
        self.reported.push_str(&format!("{step}: {:?}\n", outcome.status()));
    }

    fn result(&mut self, step: &str, result: Result<(), SyncError>) {
        if let Err(error) = result {
            self.failures.push(format!("{step}: {error}"));
        }
    }

    fn expect(&mut self, holds: bool, what: &str) {
        if !holds {
            self.failures.push(format!("expected: {what}"));
        }
    }

    fn finish(mut self, emulator: &Emulator) -> FlowRun {
        self.refused = emulator.refused_calls();
        self
    }

    fn names(&self, action: &str) -> bool {
        let action = action.to_lowercase();
        self.failures
            .iter()
            .chain(std::iter::once(&self.reported))
            .any(|text| text.to_lowercase().contains(&action))
    }
}

fn operator_role(policies: Vec<PathBuf>) -> RoleConfig {
    RoleConfig {
        name: OPERATOR_ROLE.into(),
        policy_files: policies,
        ..RoleConfig::default()
    }
}

fn accept_role(policies: &Policies) -> RoleConfig {
    RoleConfig {
        name: ACCEPT_ROLE.into(),
        policy_files: policies.paths(&["member-accept-role-policy.json"]),
        trust_policy_file: Some(example("member-accept-role-trust-policy.json")),
        ..RoleConfig::default()
    }
}

/// An organization world under enforcement: the administrator (whose operator role carries
/// the `operator_files` of `policies`) and the members in [`ORGANIZATION`], each member with the
/// accept role.
fn world(policies: &Policies, operator_files: &[&str]) -> WorldConfig {
    let organization: OrganizationConfig = serde_json::from_value(json!({
        "id": ORGANIZATION,
        "managementAccount": MANAGEMENT,
        "rootId": ROOT,
        "organizationalUnits": [{"id": UNIT, "name": "Workloads"}],
        "delegatedAdministrators": [ADMINISTRATOR],
    }))
    .expect("an organization");
    let mut administrator = AccountConfig::new(ADMINISTRATOR, "");
    administrator.organization = Some(ORGANIZATION.into());
    administrator.roles = Some(vec![operator_role(policies.paths(operator_files))]);
    let mut accounts = vec![administrator];
    // The first member's volume is too high: accepted, it waits for StartMonitoringMember.
    for member in MEMBERS {
        let mut account = AccountConfig::new(member, format!("{member}@example.com"));
        account.organization = Some(ORGANIZATION.into());
        account.parent_id = Some(UNIT.into());
        account.roles = Some(vec![accept_role(policies)]);
        account.volume_too_high = member == MEMBERS[0];
        accounts.push(account);
    }
    WorldConfig {
        accounts,
        organizations: vec![organization],
        enforce_iam: true,
        ..WorldConfig::default()
    }
}

/// The emulator of [`world`], with [`ADMINISTRATOR`] delegated by the management account (whose
/// own credentials are unrestricted) in [`ORGANIZATION_REGION`].
async fn delegated(policies: &Policies, operator_files: &[&str]) -> Emulator {
    let emulator = fixtures::start_emulator_with(world(policies, operator_files)).await;
    fixtures::delegate(&emulator.endpoint_url(), MANAGEMENT, ADMINISTRATOR, ORGANIZATION_REGION).await;
    emulator
}

fn resource(name: &str, spec: Value) -> DetectiveGraph {
    let spec: DetectiveGraphSpec = serde_json::from_value(spec).expect("a valid spec");
    let mut graph = DetectiveGraph::new(name, spec);
    graph.metadata.namespace = Some("security".to_owned());
    graph.metadata.generation = Some(1);
    graph
}

/// The organization graph drawing its members from `unit` (the root: ListRoots and
/// ListAccounts; an OU: ListAccountsForParent and ListOrganizationalUnitsForParent).
fn organization_spec(unit: &str) -> Value {
    json!({
        "region": ORGANIZATION_REGION,
        "organization": {"autoEnable": true},
        "membersFrom": {"organization": {"organizationalUnits": [unit]}},
    })
}

/// One sync of `graph` as the operator's role, now; the graph keeps the new status.
async fn sync(emulator: &Emulator, run: &mut FlowRun, step: &str, graph: &mut DetectiveGraph, mode: Mode) {
    sync_at(emulator, run, step, graph, mode, Timestamp::now()).await;
}

/// [`sync`] at `now`.
async fn sync_at(
    emulator: &Emulator,
    run: &mut FlowRun,
    step: &str,
    graph: &mut DetectiveGraph,
    mode: Mode,
    now: Timestamp,
) {
    let region = graph.spec.region.clone().unwrap_or_default();
    let access = emulator_access_as_role(&emulator.endpoint_url(), ADMINISTRATOR, OPERATOR_ROLE, &region).await;
    let outcome = engine::sync(&access, GraphTarget::of(graph), mode, now).await;
    run.outcome(step, &outcome);
    graph.status = Some(outcome.status);
}

/// `plan -f` (`engine::sync` in `Mode::DryRun`) of an organization graph (drawing from the root,
/// and from an OU) and of an invitation graph with tags and `datasourcePackages`, all existing;
/// and of a DetectiveOrganizationAdmin, by the plan role of the management account.
async fn plan(policies: Policies) -> FlowRun {
    let files = ["plan-readonly-policy.json"];
    let mut world = world(&policies, &files);
    world
        .accounts
        .push(management_account(operator_role(policies.paths(&files))));
    let emulator = fixtures::start_emulator_with(world).await;
    fixtures::delegate(&emulator.endpoint_url(), MANAGEMENT, ADMINISTRATOR, ORGANIZATION_REGION).await;
    let root = fixtures::detective_client(&emulator.endpoint_url(), ADMINISTRATOR, INVITATION_REGION);
    fixtures::create_tagged_graph(&root, &[("team", "security")]).await;
    let mut run = FlowRun::default();
    for unit in [ROOT, UNIT] {
        let mut organization = resource("organization", organization_spec(unit));
        sync(
            &emulator,
            &mut run,
            &format!("plan organization graph of {unit}"),
            &mut organization,
            Mode::DryRun,
        )
        .await;
    }
    let mut invitation = resource(
        "invitation",
        json!({
            "region": INVITATION_REGION,
            "tags": {"team": "security", "cost": "detective"},
            "datasourcePackages": ["EKS_AUDIT"],
            "members": [{"accountId": MEMBERS[0], "emailAddress": "member@example.com"}],
        }),
    );
    sync(
        &emulator,
        &mut run,
        "plan invitation graph",
        &mut invitation,
        Mode::DryRun,
    )
    .await;
    let delegation = organization_admin_spec(&[ORGANIZATION_REGION, INVITATION_REGION], json!({}));
    let access =
        emulator_access_as_role(&emulator.endpoint_url(), MANAGEMENT, OPERATOR_ROLE, ORGANIZATION_REGION).await;
    let target = OrganizationAdminTarget {
        spec: &delegation,
        previous: None,
        generation: Some(1),
    };
    let planned = engine::sync(&access, target, Mode::DryRun, Timestamp::now()).await;
    run.outcome("plan DetectiveOrganizationAdmin", &planned);
    run.expect(
        delegation_states(&planned.status)
            == [
                (ORGANIZATION_REGION.to_owned(), DelegationState::Delegated),
                (INVITATION_REGION.to_owned(), DelegationState::Pending),
            ],
        "the plan keeps one Region's delegation and would enable the other",
    );
    // The management account naming itself while Organizations has the administrator registered
    // (allowed: the management account may always be named); reading that takes
    // DescribeOrganization.
    let itself = organization_admin_spec(&[INVITATION_REGION], json!({"accountId": MANAGEMENT}));
    let target = OrganizationAdminTarget {
        spec: &itself,
        previous: None,
        generation: Some(1),
    };
    let planned = engine::sync(&access, target, Mode::DryRun, Timestamp::now()).await;
    run.outcome("plan DetectiveOrganizationAdmin of the management account", &planned);
    run.expect(
        delegation_states(&planned.status) == [(INVITATION_REGION.to_owned(), DelegationState::Pending)],
        "the plan would delegate the management account",
    );
    let calls = emulator.calls();
    run.expect(
        !calls.contains_key("CreateMembers") && calls.get("EnableOrganizationAdminAccount") == Some(&1),
        "plan writes nothing (the one Enable is the test's own delegation)",
    );
    run.finish(&emulator)
}

/// The organization's management account, carrying `role`.
fn management_account(role: RoleConfig) -> AccountConfig {
    let mut management = AccountConfig::new(MANAGEMENT, "");
    management.organization = Some(ORGANIZATION.into());
    management.roles = Some(vec![role]);
    management
}

fn organization_admin_spec(regions: &[&str], extra: Value) -> DetectiveOrganizationAdminSpec {
    let mut spec = json!({"accountId": ADMINISTRATOR, "regions": regions});
    if let (Some(spec), Some(extra)) = (spec.as_object_mut(), extra.as_object()) {
        spec.extend(extra.clone());
    }
    serde_json::from_value(spec).expect("a valid DetectiveOrganizationAdmin")
}

fn delegation_states(status: &DetectiveOrganizationAdminStatus) -> Vec<(String, DelegationState)> {
    status.regions.iter().map(|r| (r.region.clone(), r.state)).collect()
}

/// The role of the management account a DetectiveOrganizationAdmin names.
const ORGANIZATION_ADMIN_ROLE: &str = "DetectiveOrganizationAdmin";

/// A DetectiveOrganizationAdmin acting through the management account's role (carrying the
/// organization-admin policy, trusting the operator's role with the external id): enables the
/// administrator in two Regions and adopts a third delegated behind its back; a Region removed
/// with `regionRemoval: Disable` is disabled; deletion with `Disable` disables the rest.
async fn organization_admin_enables_adopts_and_disables(policies: Policies) -> FlowRun {
    let role_arn = format!("arn:aws:iam::{MANAGEMENT}:role/{ORGANIZATION_ADMIN_ROLE}");
    let grants = tempfile::tempdir().expect("a temporary directory");
    let mut world = world(&policies, &[]);
    if let Some(roles) = &mut world.accounts[0].roles {
        roles[0].policy_files.push(assume_role_grant(grants.path(), &role_arn));
    }
    world.accounts.push(management_account(RoleConfig {
        name: ORGANIZATION_ADMIN_ROLE.into(),
        policy_files: policies.paths(&["organization-admin-policy.json"]),
        trust_policy_file: Some(example("organization-admin-role-trust-policy.json")),
        ..RoleConfig::default()
    }));
    let emulator = fixtures::start_emulator_with(world).await;
    let adopted = "ap-southeast-2";
    fixtures::delegate(&emulator.endpoint_url(), MANAGEMENT, ADMINISTRATOR, adopted).await;
    emulator.reset_calls();
    let access = emulator_access_as_role(
        &emulator.endpoint_url(),
        ADMINISTRATOR,
        OPERATOR_ROLE,
        ORGANIZATION_REGION,
    )
    .await;
    let mut run = FlowRun::default();
    let through_the_role = json!({
        "assumeRoleArn": role_arn,
        "externalId": EXTERNAL_ID,
        "regionRemoval": "Disable",
        "deletionPolicy": "Disable",
    });
    let all = organization_admin_spec(
        &[ORGANIZATION_REGION, INVITATION_REGION, adopted],
        through_the_role.clone(),
    );
    let target = OrganizationAdminTarget {
        spec: &all,
        previous: None,
        generation: Some(1),
    };
    let enabled = engine::sync(&access, target, Mode::Apply, Timestamp::now()).await;
    run.outcome("enable and adopt", &enabled);
    run.expect(
        delegations(&emulator).len() == 3 && emulator.calls().get("EnableOrganizationAdminAccount") == Some(&2),
        "two Regions enabled, the third adopted",
    );
    let fewer = organization_admin_spec(&[ORGANIZATION_REGION, adopted], through_the_role);
    let target = OrganizationAdminTarget {
        spec: &fewer,
        previous: Some(&enabled.status),
        generation: Some(2),
    };
    let removed = engine::sync(&access, target, Mode::Apply, Timestamp::now()).await;
    run.outcome("regionRemoval: Disable", &removed);
    run.expect(
        !delegations(&emulator).contains_key(INVITATION_REGION),
        "the removed Region disabled",
    );
    let target = OrganizationAdminTarget {
        previous: Some(&removed.status),
        ..target
    };
    run.result("deletionPolicy: Disable", engine::teardown(&access, target).await);
    run.expect(delegations(&emulator).is_empty(), "every delegation disabled");
    // Organizations keeps the administrator registered (Disable does not deregister it); the
    // management account may still name itself, which the operator tells by DescribeOrganization.
    let itself = organization_admin_spec(
        &[INVITATION_REGION],
        json!({"accountId": MANAGEMENT, "assumeRoleArn": role_arn, "externalId": EXTERNAL_ID}),
    );
    let target = OrganizationAdminTarget {
        spec: &itself,
        previous: None,
        generation: Some(1),
    };
    let named_itself = engine::sync(&access, target, Mode::Apply, Timestamp::now()).await;
    run.outcome("the management account names itself", &named_itself);
    run.expect(
        delegations(&emulator).get(INVITATION_REGION).map(String::as_str) == Some(MANAGEMENT),
        "the management account is the administrator there",
    );
    run.finish(&emulator)
}

/// A graph created with tags and two members accepted through the accept role; a member and a
/// tag dropped (pruned); then deleted with `deletionPolicy: Delete`. And a graph of before the
/// data source packages were on by default, whose `datasourcePackages` are started.
async fn graph_converges_and_is_deleted(policies: Policies) -> FlowRun {
    let emulator = delegated(
        &policies,
        &["administrator-policy.json", "assume-accept-role-policy.json"],
    )
    .await;
    let mut run = FlowRun::default();
    let members = |accounts: &[&str]| -> Vec<Value> {
        accounts
            .iter()
            .map(|id| json!({"accountId": id, "emailAddress": format!("{id}@example.com")}))
            .collect()
    };
    let spec = |accounts: &[&str], tags: Value| {
        json!({
            "region": INVITATION_REGION,
            "tags": tags,
            "members": members(accounts),
            "acceptInvitations": {"roleName": ACCEPT_ROLE, "externalId": EXTERNAL_ID},
            "monitoring": {"autoStart": true},
            "deletionPolicy": "Delete",
        })
    };
    let mut graph = resource(
        "invitation",
        spec(&MEMBERS, json!({"team": "security", "cost": "detective"})),
    );
    sync(&emulator, &mut run, "converge", &mut graph, Mode::Apply).await;
    let arn = graph
        .status
        .as_ref()
        .and_then(|s| s.graph_arn.clone())
        .unwrap_or_default();
    let accepted = emulator
        .members(&arn)
        .iter()
        .filter(|m| matches!(m.status, MemberStatus::Enabled | MemberStatus::AcceptedButDisabled))
        .count();
    run.expect(accepted == MEMBERS.len(), "both members accepted");
    // One tag changed, one dropped; the second member dropped (pruned); the first, whose volume
    // is too high, is started again.
    let tags = json!({"team": "security", "owner": "soc"});
    graph.spec = resource("invitation", spec(&MEMBERS[..1], tags)).spec;
    // An hour later: past the backoff of the first member's acceptance.
    let later = Timestamp::now() + SignedDuration::from_hours(1);
    sync_at(&emulator, &mut run, "prune", &mut graph, Mode::Apply, later).await;
    run.expect(emulator.members(&arn).len() == 1, "the dropped member removed");
    run.expect(
        emulator.calls().contains_key("StartMonitoringMember"),
        "monitoring started again",
    );
    let access = emulator_access_as_role(
        &emulator.endpoint_url(),
        ADMINISTRATOR,
        OPERATOR_ROLE,
        INVITATION_REGION,
    )
    .await;
    let deleted = engine::teardown(&access, GraphTarget::of(&graph)).await;
    run.result("delete", deleted);
    run.expect(emulator.graphs().iter().all(|g| g.arn != arn), "the graph deleted");

    let old_region = "ap-southeast-2";
    emulator.create_graph_at(
        ADMINISTRATOR,
        old_region,
        "2022-01-01T00:00:00Z".parse().expect("a time"),
    );
    let mut packages = resource(
        "packages",
        json!({"region": old_region, "datasourcePackages": ["EKS_AUDIT"]}),
    );
    sync(&emulator, &mut run, "datasourcePackages", &mut packages, Mode::Apply).await;
    run.expect(
        emulator.calls().contains_key("UpdateDatasourcePackages"),
        "the package started",
    );
    run.finish(&emulator)
}

/// The delegated administrator's organization graph: `membersFrom.organization` and
/// `organization.autoEnable`, converged.
async fn organization_graph_converges(policies: Policies) -> FlowRun {
    let files = ["administrator-policy.json", "administrator-organization-policy.json"];
    let emulator = delegated(&policies, &files).await;
    let mut run = FlowRun::default();
    let members = from_the_unit_then_the_root(&emulator, &mut run, "organization", organization_spec).await;
    run.expect(
        MEMBERS.iter().all(|id| {
            members
                .iter()
                .any(|m| m.account_id == *id && m.status != MemberStatus::Invited)
        }),
        "the organization's accounts are members",
    );
    run.expect(
        emulator.calls().contains_key("UpdateOrganizationConfiguration"),
        "autoEnable set",
    );
    run.finish(&emulator)
}

/// Converges the graph `name` drawing its members from the OU, then from the root; the members
/// of its graph after.
async fn from_the_unit_then_the_root(
    emulator: &Emulator,
    run: &mut FlowRun,
    name: &str,
    spec_of: impl Fn(&str) -> Value,
) -> Vec<MemberSnapshot> {
    let mut graph = resource(name, spec_of(UNIT));
    sync(
        emulator,
        run,
        &format!("converge {name} from an OU"),
        &mut graph,
        Mode::Apply,
    )
    .await;
    graph.spec = resource(name, spec_of(ROOT)).spec;
    sync(
        emulator,
        run,
        &format!("converge {name} from the root"),
        &mut graph,
        Mode::Apply,
    )
    .await;
    let arn = graph
        .status
        .as_ref()
        .and_then(|s| s.graph_arn.clone())
        .unwrap_or_default();
    emulator.members(&arn)
}

/// The role in the management account that lists the organization for the graph.
const READER_ROLE: &str = "DetectiveOrganizationReader";

/// The administrator's graph drawing its members from the organization (the OU, then the root)
/// through a role of the management account carrying the reader policy, which trusts the
/// administrator account; the operator's role may assume it (a grant the test writes: the
/// examples name no such role).
async fn organization_listed_through_a_reader_role(policies: Policies) -> FlowRun {
    let grants = tempfile::tempdir().expect("a temporary directory");
    let reader_arn = format!("arn:aws:iam::{MANAGEMENT}:role/{READER_ROLE}");
    let mut world = world(&policies, &["administrator-policy.json"]);
    if let Some(roles) = &mut world.accounts[0].roles {
        roles[0]
            .policy_files
            .push(assume_role_grant(grants.path(), &reader_arn));
    }
    world.accounts.push(management_account(RoleConfig {
        name: READER_ROLE.into(),
        trusted_accounts: vec![ADMINISTRATOR.into()],
        policy_files: policies.paths(&["organization-reader-policy.json"]),
        ..RoleConfig::default()
    }));
    let emulator = fixtures::start_emulator_with(world).await;
    let mut run = FlowRun::default();
    let spec = |unit: &str| {
        json!({
            "region": INVITATION_REGION,
            "membersFrom": {"organization": {
                "organizationalUnits": [unit],
                "assumeRoleArn": reader_arn,
            }},
        })
    };
    let members = from_the_unit_then_the_root(&emulator, &mut run, "listed", spec).await;
    run.expect(
        MEMBERS.iter().all(|id| members.iter().any(|m| m.account_id == *id)),
        "the organization's accounts invited",
    );
    run.finish(&emulator)
}

/// Each member account's operator (a role carrying the membership's policy) answers the
/// administrator's invitation: the first accepts, reads its ingest state and leaves on deletion
/// (`deletionPolicy: Disassociate`); the second rejects.
async fn memberships_accept_reject_and_leave(policies: Policies) -> FlowRun {
    let mut world = world(&policies, &[]);
    for account in &mut world.accounts[1..] {
        account.organization = None;
        account.parent_id = None;
        account.volume_too_high = false;
        account.roles = Some(vec![operator_role(policies.paths(&["member-accept-role-policy.json"]))]);
    }
    let emulator = fixtures::start_emulator_with(world).await;
    let url = emulator.endpoint_url();
    let root = fixtures::detective_client(&url, ADMINISTRATOR, INVITATION_REGION);
    let graph_arn = fixtures::create_graph(&root).await;
    for member in MEMBERS {
        fixtures::invite(&root, &graph_arn, member, &format!("{member}@example.com")).await;
    }
    let mut run = FlowRun::default();
    for (member, state) in MEMBERS.iter().zip(["Accepted", "Rejected"]) {
        let spec: DetectiveMembershipSpec = serde_json::from_value(json!({
            "graphArn": graph_arn,
            "state": state,
            "deletionPolicy": "Disassociate",
        }))
        .expect("a valid membership");
        let access = emulator_access_as_role(&url, member, OPERATOR_ROLE, INVITATION_REGION).await;
        let target = MembershipTarget {
            spec: &spec,
            previous: None,
            generation: Some(1),
        };
        let outcome = engine::sync(&access, target, Mode::Apply, Timestamp::now()).await;
        run.outcome(&format!("{state} as {member}"), &outcome);
        if state == "Accepted" {
            run.expect(outcome.packages.is_some(), "the member's ingest state read");
            let deleted = engine::teardown(
                &access,
                MembershipTarget {
                    previous: Some(&outcome.status),
                    ..target
                },
            )
            .await;
            run.result("leave", deleted);
        }
    }
    run.expect(
        emulator.members(&graph_arn).is_empty(),
        "one member rejected, the other left",
    );
    run.finish(&emulator)
}

/// The actions of a policy document (`Action`, a string or a list, of each statement).
fn actions(policy: &Value) -> Vec<String> {
    statements(policy)
        .iter()
        .flat_map(|statement| match &statement["Action"] {
            Value::String(action) => vec![action.clone()],
            Value::Array(actions) => actions.iter().filter_map(|a| a.as_str().map(str::to_owned)).collect(),
            _ => Vec::new(),
        })
        .collect()
}

fn statements(policy: &Value) -> Vec<Value> {
    match &policy["Statement"] {
        Value::Array(statements) => statements.clone(),
        statement @ Value::Object(_) => vec![statement.clone()],
        _ => Vec::new(),
    }
}

/// The document without `action`; a statement left with no action is dropped.
fn without(policy: &Value, action: &str) -> Value {
    let kept: Vec<Value> = statements(policy)
        .into_iter()
        .filter_map(|mut statement| {
            let remaining: Vec<Value> = actions(&json!({"Statement": [statement.clone()]}))
                .into_iter()
                .filter(|a| a != action)
                .map(Value::String)
                .collect();
            if remaining.is_empty() {
                return None;
            }
            statement["Action"] = Value::Array(remaining);
            Some(statement)
        })
        .collect();
    let mut policy = policy.clone();
    policy["Statement"] = Value::Array(kept);
    policy
}

fn read_policy(file: &str) -> Value {
    let text = std::fs::read_to_string(example(file)).expect("the example policy");
    serde_json::from_str(&text).expect("a JSON policy")
}

/// The operation an action authorizes (`detective:ListMembers` → `ListMembers`).
fn operation(action: &str) -> &str {
    action.split_once(':').map_or(action, |(_, operation)| operation)
}

fn write_variant(dir: &Path, file: &str, policy: &Value) -> PathBuf {
    let path = dir.join(file);
    std::fs::write(&path, serde_json::to_string_pretty(policy).expect("JSON")).expect("the variant written");
    path
}

/// A problem when the row's flow does not succeed with exactly its files.
async fn enough(row: &Row) -> Option<String> {
    let run = (row.flow)(Policies::default()).await;
    (!run.failures.is_empty() || !run.refused.is_empty()).then(|| {
        format!(
            "{} is not enough with {:?}: failures {:?}, refused {:?}",
            row.what, row.files, run.failures, run.refused
        )
    })
}

/// Whether some row carrying `file` fails, refused `action` and naming it, once the action is
/// removed from the file.
async fn needed(file: &'static str, policy: &Value, action: &str) -> bool {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let variant = write_variant(dir.path(), file, &without(policy, action));
    for row in ROWS.iter().filter(|row| row.files.contains(&file)) {
        let policies = Policies {
            variants: BTreeMap::from([(file, variant.clone())]),
        };
        let run = (row.flow)(policies).await;
        let called_as = CALLED_ON_BEHALF
            .iter()
            .find(|(a, _)| *a == action)
            .map_or(operation(action), |(_, called_as)| called_as);
        let refused = run.refused.get(called_as).is_some_and(|&count| count > 0);
        let reported = run.names(action) || LOGGED_NOT_REPORTED.iter().any(|(a, _)| *a == action);
        if refused && !run.failures.is_empty() && reported {
            return true;
        }
    }
    false
}

#[tokio::test]
async fn every_example_policy_is_needed_and_enough() {
    let mut problems = Vec::new();
    for row in ROWS {
        problems.extend(enough(row).await);
    }
    let files: BTreeSet<&'static str> = ROWS.iter().flat_map(|row| row.files.iter().copied()).collect();
    let mut checked = 0;
    for file in &files {
        let policy = read_policy(file);
        for action in actions(&policy) {
            checked += 1;
            if EXCEPTIONS.iter().any(|(f, a, _)| f == file && *a == action) {
                continue;
            }
            if !needed(file, &policy, &action).await {
                problems.push(format!("{file}: no flow needs {action}"));
            }
        }
    }
    println!(
        "{} rows; {} policy files x their actions: {checked} actions checked; {} exceptions{}",
        ROWS.len(),
        files.len(),
        EXCEPTIONS.len(),
        if EXCEPTIONS.is_empty() { "" } else { ":" }
    );
    for (file, action, reason) in EXCEPTIONS {
        println!("  {file}: {action}: {reason}");
    }
    for (action, reason) in LOGGED_NOT_REPORTED {
        println!("refused but only logged: {action}: {reason}");
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// The README's table "which policy each kind needs", as (what, files) rows.
fn readme_table() -> Vec<(String, Vec<String>)> {
    let readme = std::fs::read_to_string(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("README.md")).expect("README");
    let section = readme
        .split_once("### Which policy each kind needs")
        .expect("the README's section \"Which policy each kind needs\"")
        .1;
    section
        .lines()
        .skip_while(|line| !line.starts_with('|'))
        .take_while(|line| line.starts_with('|'))
        .skip(2)
        .map(|line| {
            let cells: Vec<&str> = line.trim_matches('|').split('|').map(str::trim).collect();
            let files = cells[1]
                .split(", ")
                .map(|file| {
                    file.trim_start_matches("[`")
                        .split_once('`')
                        .map_or(file, |(name, _)| name)
                        .to_owned()
                })
                .collect();
            (cells[0].to_owned(), files)
        })
        .collect()
}

#[test]
fn the_readme_names_the_policies_each_kind_needs_as_the_test_proves_them() {
    let rows: Vec<(String, Vec<String>)> = ROWS
        .iter()
        .map(|row| (row.what.to_owned(), row.files.iter().map(|f| (*f).to_owned()).collect()))
        .collect();
    assert_eq!(readme_table(), rows);
}
