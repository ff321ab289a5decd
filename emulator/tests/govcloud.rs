//! AWS GovCloud (US) through the real `aws-sdk-detective` client: "Detective does not perform
//! this validation [of the root user e-mail address] or sends email invitations to member
//! accounts" there (Detective User Guide, "Managing invited member accounts in Detective"), and
//! its ARNs are in the `aws-us-gov` partition. The same invitation in a commercial Region fails
//! verification, as the control case.

mod fixtures;

use std::time::Duration;

use aws_sdk_detective::types::MemberStatus;
use detective_emulator::{AccountConfig, WorldConfig};
use fixtures::{detective_client, member_detail, start_emulator_with};

const ADMIN: &str = "111111111111";
const MEMBER: &str = "222222222222";

/// Invites `MEMBER` with `email` (its root e-mail is root@example.com) into a new graph in
/// `region`, lets verification run, and answers the graph's ARN, the member's status and
/// whether an invitation e-mail went out.
async fn invited(region: &str, email: &str) -> (String, MemberStatus, bool) {
    let emulator = start_emulator_with(WorldConfig {
        accounts: vec![AccountConfig::new(MEMBER, "root@example.com")],
        verification_delay_ms: 1_000,
        ..WorldConfig::default()
    })
    .await;
    let admin = detective_client(&emulator.endpoint_url(), ADMIN, region);
    let graph = fixtures::create_graph(&admin).await;
    fixtures::invite(&admin, &graph, MEMBER, email).await;
    assert_eq!(
        member_detail(&admin, &graph, MEMBER).await.status(),
        Some(&MemberStatus::VerificationInProgress),
        "{region}: verifying at first"
    );
    emulator.advance_clock(Duration::from_secs(2));
    let status = member_detail(&admin, &graph, MEMBER)
        .await
        .status()
        .cloned()
        .expect("a status");
    let emailed = emulator.members(&graph)[0].invitation_email_sent;
    emulator.shutdown().await;
    (graph, status, emailed)
}

#[tokio::test]
async fn govcloud_neither_validates_the_email_nor_sends_the_invitation() {
    for region in ["us-gov-west-1", "us-gov-east-1"] {
        let (graph, status, emailed) = invited(region, "not-the-root@example.com").await;
        assert!(
            graph.starts_with(&format!("arn:aws-us-gov:detective:{region}:{ADMIN}:graph:")),
            "{graph}"
        );
        assert_eq!(status, MemberStatus::Invited, "{region}: no e-mail validation");
        assert!(
            !emailed,
            "{region}: no invitation e-mail, though the call did not disable it"
        );
    }
}

#[tokio::test]
async fn a_commercial_region_validates_the_email_and_sends_the_invitation() {
    let (graph, status, emailed) = invited("us-east-1", "not-the-root@example.com").await;
    assert!(graph.starts_with("arn:aws:detective:us-east-1:"), "{graph}");
    assert_eq!(status, MemberStatus::VerificationFailed);
    assert!(!emailed, "no invitation to an account that failed verification");
    let (_, status, emailed) = invited("us-east-1", "root@example.com").await;
    assert_eq!(status, MemberStatus::Invited);
    assert!(emailed, "the invitation e-mail goes out once verified");
}
