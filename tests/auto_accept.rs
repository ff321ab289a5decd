//! `spec.acceptInvitations`: the operator accepts invitations as each member, through a role in
//! the member account assumed with the SDK's real STS credential provider (answered by the
//! emulator), with bounded concurrency and per-account backoff.

#[path = "../emulator/tests/fixtures/mod.rs"]
mod fixtures;
mod support;

use detective_emulator::{AccountConfig, MemberStatus, RoleConfig, WorldConfig};
use detective_operator::api::{AcceptInvitationsSpec, DetectiveGraphSpec, DetectiveGraphStatus, MemberStatusEntry};
use detective_operator::aws::AwsAccess;
use detective_operator::engine::{self, GraphOutcome, GraphTarget, Mode, Reported};
use k8s_openapi::jiff::{SignedDuration, Timestamp};

use support::emulator_access;

const ADMIN: &str = "123456789012";
const REGION: &str = "us-east-1";

fn account(n: u64) -> String {
    format!("{:012}", 300_000_000_000 + n)
}

/// 100 accounts: 0–9 have no role the operator may assume, 10–14 require an external id.
fn world() -> WorldConfig {
    let mut accounts = Vec::new();
    for n in 0..100 {
        let mut config = AccountConfig::new(account(n), "");
        if n < 10 {
            config.roles = Some(Vec::new());
        } else if n < 15 {
            config.roles = Some(vec![RoleConfig {
                name: "detective-member".into(),
                external_id: Some("ext-123".into()),
                trusted_accounts: vec![ADMIN.into()],
                ..RoleConfig::default()
            }]);
        }
        accounts.push(config);
    }
    WorldConfig {
        accounts,
        ..WorldConfig::default()
    }
}

fn spec() -> DetectiveGraphSpec {
    let members: Vec<serde_json::Value> = (0..100)
        .map(|n| serde_json::json!({"accountId": account(n), "emailAddress": format!("root+{n}@example.com")}))
        .collect();
    let mut spec: DetectiveGraphSpec =
        serde_json::from_value(serde_json::json!({"region": REGION, "members": members})).unwrap();
    spec.accept_invitations = Some(AcceptInvitationsSpec {
        role_name: "detective-member".into(),
        external_id: Some("ext-123".into()),
        session_name: None,
    });
    spec
}

/// The status entry of member `n`.
fn member_entry(outcome: &GraphOutcome, n: u64) -> &MemberStatusEntry {
    let account = account(n);
    outcome.status.members.iter().find(|m| m.account_id == account).unwrap()
}

async fn sync(
    access: &AwsAccess,
    spec: &DetectiveGraphSpec,
    previous: Option<&DetectiveGraphStatus>,
    now: Timestamp,
) -> GraphOutcome {
    let target = GraphTarget::new(spec, previous, Some(1));
    engine::sync(access, target, Mode::Apply, now).await
}

#[tokio::test]
async fn invitations_are_accepted_as_each_member_and_failing_roles_block_no_one() {
    let emulator = fixtures::start_emulator_as(ADMIN, world()).await;
    let access = emulator_access(&emulator.endpoint_url(), ADMIN, REGION).await;
    let spec = spec();
    let start = Timestamp::now();
    let after = |secs| start + SignedDuration::from_secs(secs);

    // One sync invites all 100 and accepts the 90 whose role can be assumed.
    let first = sync(&access, &spec, None, start).await;
    assert!(first.error.is_none(), "{:?}", first.error);
    let graph = emulator.graphs()[0].arn.clone();
    let members = emulator.members(&graph);
    let enabled = members.iter().filter(|m| m.status == MemberStatus::Enabled).count();
    assert_eq!(
        enabled, 90,
        "the 5 external-id roles are assumable with the declared external id"
    );
    let calls = emulator.calls();
    assert_eq!(calls["AssumeRole"], 100, "{calls:?}");
    assert_eq!(calls["AcceptInvitation"], 90);
    for n in 0..10 {
        let entry = member_entry(&first, n);
        assert_eq!(entry.status, "INVITED");
        let error = entry.last_error.as_deref().unwrap();
        assert!(
            error.contains(&format!("arn:aws:iam::{}:role/detective-member", account(n))),
            "{error}"
        );
        assert!(error.contains("not authorized"), "{error}");
        assert_eq!(entry.attempts, Some(1));
    }
    assert!(!first.is_ready(), "ten members still wait");

    // Within the backoff the failing accounts are not tried again, and their errors stay visible.
    emulator.reset_calls();
    let second = sync(&access, &spec, Some(&first.status), after(5)).await;
    let calls = emulator.calls();
    assert!(
        !calls.contains_key("AssumeRole") && !calls.contains_key("AcceptInvitation"),
        "{calls:?}"
    );
    let entry = member_entry(&second, 0);
    assert!(entry.last_error.is_some());
    assert_eq!(entry.attempts, Some(1));

    // After the backoff they are tried again (and fail again: attempts grow).
    let third = sync(&access, &spec, Some(&second.status), after(120)).await;
    let calls = emulator.calls();
    assert_eq!(
        calls.get("AssumeRole"),
        Some(&10),
        "only the ten failing accounts are tried again: {calls:?}"
    );
    assert_eq!(
        calls.get("AcceptInvitation"),
        None,
        "roles still missing: no call as the member"
    );
    let entry = member_entry(&third, 0);
    assert_eq!(entry.attempts, Some(2));

    // Once the role exists, the next attempt accepts.
    let mut fixed = world();
    for config in fixed.accounts.iter_mut().take(10) {
        config.roles = None;
    }
    emulator.set_world(fixed);
    let fourth = sync(&access, &spec, Some(&third.status), after(600)).await;
    assert_eq!(
        emulator
            .members(&graph)
            .iter()
            .filter(|m| m.status == MemberStatus::Enabled)
            .count(),
        100
    );
    assert!(fourth.is_ready(), "{:?}", fourth.status.sync.conditions);
    assert!(fourth.status.members.iter().all(|m| m.last_error.is_none()));
}

/// StartMonitoringMember shares the backoff, at explicit times (the engine takes `now`): an
/// accepted member that is not enrolled in GuardDuty is started once, held for 1 minute, started
/// again, then held for 2 minutes, each attempt counted in status.
#[tokio::test]
async fn monitoring_is_started_again_only_once_its_backoff_has_elapsed() {
    let member = account(501);
    let world = WorldConfig {
        accounts: vec![AccountConfig {
            account_id: member.clone(),
            auto_accept_after_ms: Some(0),
            guard_duty_enrolled: false,
            ..AccountConfig::default()
        }],
        ..WorldConfig::default()
    };
    let emulator = fixtures::start_emulator_as(ADMIN, world).await;
    let access = emulator_access(&emulator.endpoint_url(), ADMIN, REGION).await;
    let spec: DetectiveGraphSpec = serde_json::from_value(serde_json::json!({
        "region": REGION,
        "members": [{"accountId": member, "emailAddress": "root+501@example.com"}],
    }))
    .unwrap();
    let start = Timestamp::now();
    let at = |secs| start + SignedDuration::from_secs(secs);
    let entry = |status: &DetectiveGraphStatus| {
        status
            .members
            .iter()
            .find(|m| m.account_id == member)
            .map(|m| (m.status.clone(), m.attempts))
            .unwrap()
    };

    // The first sync invites; the member accepts at once; a sync at the same instant starts it.
    let invited = sync(&access, &spec, None, start).await;
    let mut previous = invited.status;
    let mut first_attempt = None;
    for _ in 0..2 {
        emulator.reset_calls();
        let outcome = sync(&access, &spec, Some(&previous), start).await;
        previous = outcome.status;
        if emulator.calls().contains_key("StartMonitoringMember") {
            first_attempt = Some(previous.clone());
            break;
        }
    }
    let mut previous = first_attempt.expect("StartMonitoringMember once the member accepted");
    assert_eq!(entry(&previous).1, Some(1));

    // (seconds after the first attempt, whether StartMonitoringMember is called, attempts after)
    let steps = [(59, false, 1), (60, true, 2), (179, false, 2), (180, true, 3)];
    for (secs, started, expected) in steps {
        emulator.reset_calls();
        let outcome = sync(&access, &spec, Some(&previous), at(secs)).await;
        let calls = emulator.calls().get("StartMonitoringMember").copied().unwrap_or(0);
        assert_eq!(calls, u64::from(started), "at +{secs} s: {:?}", emulator.calls());
        assert_eq!(outcome.deferred.contains(&member), !started, "at +{secs} s");
        assert_eq!(
            entry(&outcome.status),
            ("ACCEPTED_BUT_DISABLED".to_owned(), Some(expected)),
            "at +{secs} s"
        );
        previous = outcome.status;
    }
}

/// The README's "8 at a time": with every AcceptInvitation held 150 ms, 20 invitations are
/// accepted with exactly 8 calls in flight at the most (not 1 after the other, not all at once).
#[tokio::test]
async fn invitations_are_accepted_eight_at_a_time() {
    let world = WorldConfig {
        accounts: (0..20).map(|n| AccountConfig::new(account(700 + n), "")).collect(),
        ..WorldConfig::default()
    };
    let emulator = fixtures::start_emulator_as(ADMIN, world).await;
    emulator
        .inject_fault(detective_emulator::Fault::latency(std::time::Duration::from_millis(150)).on("AcceptInvitation"));
    let access = emulator_access(&emulator.endpoint_url(), ADMIN, REGION).await;
    let members: Vec<serde_json::Value> = (0..20)
        .map(|n| serde_json::json!({"accountId": account(700 + n), "emailAddress": format!("root+{n}@example.com")}))
        .collect();
    let spec: DetectiveGraphSpec = serde_json::from_value(serde_json::json!({
        "region": REGION,
        "members": members,
        "acceptInvitations": {"roleName": "detective-member"},
    }))
    .expect("a valid spec");
    let outcome = sync(&access, &spec, None, Timestamp::now()).await;
    assert!(outcome.error.is_none(), "{:?}", outcome.error);
    assert_eq!(emulator.calls().get("AcceptInvitation"), Some(&20));
    assert_eq!(emulator.peak_in_flight().get("AcceptInvitation"), Some(&8));
}
