//! AWS GovCloud (US) through the engine and the real SDKs: there Detective neither validates the
//! members' e-mail addresses nor sends invitation e-mails (the emulator models the Detective User
//! Guide's "Managing invited member accounts in Detective"), graph ARNs are in the `aws-us-gov`
//! partition, and roles are named in it. A graph whose declared e-mails are not the root
//! addresses still converges there — invited, accepted as each member through the role of the
//! GovCloud partition, ENABLED — while the same spec in a commercial Region reports the failed
//! verification.

#[path = "../emulator/tests/fixtures/mod.rs"]
mod fixtures;
mod support;

use detective_emulator::{AccountConfig, Emulator, MemberStatus, RoleConfig, WorldConfig};
use detective_operator::api::{AcceptInvitationsSpec, DetectiveGraphSpec};
use detective_operator::engine::{GraphOutcome, Reported};

use support::emulator_access;

const ADMIN: &str = "111122223333";
const MEMBERS: [&str; 2] = ["444455556666", "777788889999"];
const ROLE: &str = "detective-member";

async fn world() -> Emulator {
    let accounts = MEMBERS
        .iter()
        .map(|id| AccountConfig {
            roles: Some(vec![RoleConfig {
                name: ROLE.into(),
                trusted_accounts: vec![ADMIN.into()],
                ..RoleConfig::default()
            }]),
            ..AccountConfig::new(*id, format!("root+{id}@example.com"))
        })
        .collect();
    fixtures::start_emulator_as(
        ADMIN,
        WorldConfig {
            accounts,
            ..WorldConfig::default()
        },
    )
    .await
}

/// One sync of a graph in `region` declaring the members with addresses that are not their root
/// e-mails, accepting as each member through `ROLE`.
async fn sync_with_wrong_emails(emulator: &Emulator, region: &str) -> GraphOutcome {
    let members: Vec<serde_json::Value> = MEMBERS
        .iter()
        .map(|id| serde_json::json!({"accountId": id, "emailAddress": format!("security+{id}@example.com")}))
        .collect();
    let mut spec: DetectiveGraphSpec =
        serde_json::from_value(serde_json::json!({"region": region, "members": members})).expect("a valid spec");
    spec.accept_invitations = Some(AcceptInvitationsSpec {
        role_name: ROLE.into(),
        external_id: None,
        session_name: None,
    });
    let access = emulator_access(&emulator.endpoint_url(), ADMIN, region).await;
    support::apply_new_graph(&access, &spec).await
}

#[tokio::test]
async fn a_govcloud_graph_converges_without_e_mail_validation_or_invitation_e_mails() {
    for region in ["us-gov-west-1", "us-gov-east-1"] {
        let emulator = world().await;
        let outcome = sync_with_wrong_emails(&emulator, region).await;
        assert!(outcome.error.is_none(), "{region}: {:?}", outcome.error);
        let graph = outcome.status.graph_arn.clone().expect("the graph ARN in the status");
        assert!(
            graph.starts_with(&format!("arn:aws-us-gov:detective:{region}:{ADMIN}:graph:")),
            "{graph}"
        );
        let members = emulator.members(&graph);
        assert_eq!(members.len(), MEMBERS.len());
        for member in &members {
            assert_eq!(member.status, MemberStatus::Enabled, "{region}: {member:?}");
            assert!(
                !member.invitation_email_sent,
                "{region}: no invitation e-mail in GovCloud"
            );
        }
        let calls = emulator.calls();
        assert_eq!(
            calls.get("AssumeRole"),
            Some(&2),
            "{region}: one role per member: {calls:?}"
        );
        assert_eq!(calls.get("AcceptInvitation"), Some(&2), "{region}: {calls:?}");
        assert!(outcome.is_ready(), "{region}: {:?}", outcome.status.sync.conditions);
        emulator.shutdown().await;
    }
}

#[tokio::test]
async fn the_same_graph_in_a_commercial_region_reports_the_failed_verification() {
    let emulator = world().await;
    let outcome = sync_with_wrong_emails(&emulator, "us-east-1").await;
    let graph = outcome.status.graph_arn.clone().expect("the graph ARN in the status");
    assert!(graph.starts_with("arn:aws:detective:us-east-1:"), "{graph}");
    let members = emulator.members(&graph);
    assert!(
        members.iter().all(|m| m.status == MemberStatus::VerificationFailed),
        "{members:?}"
    );
    assert!(!emulator.calls().contains_key("AcceptInvitation"));
    assert!(!outcome.is_ready());
    let conditions = &outcome.status.sync.conditions;
    assert!(
        conditions.iter().any(|c| c.message.contains("failed verification")),
        "{conditions:?}"
    );
    emulator.shutdown().await;
}
