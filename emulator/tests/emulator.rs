//! The emulator driven by the real `aws-sdk-detective` client: every operation, every error
//! class and the member state machine, as the operator will meet them.

mod fixtures;

use std::collections::BTreeSet;
use std::pin::Pin;
use std::time::Duration;

use aws_sdk_detective::error::ProvideErrorMetadata;
use aws_sdk_detective::operation::RequestId;
use aws_sdk_detective::operation::create_members::CreateMembersError;
use aws_sdk_detective::operation::delete_members::DeleteMembersError;
use aws_sdk_detective::operation::get_members::GetMembersError;
use aws_sdk_detective::operation::list_members::ListMembersError;
use aws_sdk_detective::operation::start_monitoring_member::StartMonitoringMemberError;
use aws_sdk_detective::operation::tag_resource::TagResourceError;
use aws_sdk_detective::operation::update_datasource_packages::UpdateDatasourcePackagesError;
use aws_sdk_detective::types::{
    DatasourcePackage, DatasourcePackageIngestState, ErrorCode, InvitationType, MemberDisabledReason, MemberStatus,
};
use detective_emulator::{self as emulator, AccountConfig, OrganizationConfig, WorldConfig, WorldPatch};
use fixtures::{
    ADMIN, REGION, accept_invitation, account, admin_emulator, admin_graph, assert_refused, create_graph,
    create_members, create_tagged_graph, detective_client, http, invite, listed_members, member_detail, start_emulator,
    start_emulator_with, tags_of, world_of,
};

const MEMBER: &str = "222222222222";
const MEMBER_EMAIL: &str = "member@example.com";
const STRANGER: &str = "333333333333";
/// Well-formed, but no graph has it.
const UNKNOWN_GRAPH: &str = "arn:aws:detective:us-east-1:111111111111:graph:0123456789abcdef0123456789abcdef";

/// Asserts a refused request is a ValidationException of the given variant, with `code` and a
/// message naming `field`.
macro_rules! expect_validation {
    ($result:expr, $variant:path, $code:expr, $field:expr) => {{
        match $result.expect_err("the request must be refused").into_service_error() {
            $variant(err) => {
                assert_eq!(err.error_code(), Some(&$code), "{err:?}");
                let message = err.message().unwrap_or_default();
                assert!(message.contains($field), "message {message:?} should name {}", $field);
            }
            other => panic!("expected a ValidationException, got {other:?}"),
        }
    }};
}

const ACCESS_DENIED: &str = "AccessDeniedException";

/// A call's refusal: the error code it was answered with, `None` if it succeeded.
type Refusal = Pin<Box<dyn Future<Output = Option<String>>>>;

fn error_code<T, E: ProvideErrorMetadata>(call: impl Future<Output = Result<T, E>> + 'static) -> Refusal {
    Box::pin(async move { call.await.err().and_then(|err| err.code().map(str::to_owned)) })
}

/// An emulator whose world holds the account [`MEMBER`] as `configure` leaves it, its URL, the
/// administrator's client, and the administrator's graph with [`MEMBER`] invited.
async fn member_invited(
    configure: impl FnOnce(&mut AccountConfig),
) -> (detective_emulator::Emulator, String, aws_sdk_detective::Client, String) {
    let mut member = AccountConfig::new(MEMBER, MEMBER_EMAIL);
    configure(&mut member);
    let emulator = start_emulator_with(world_of(vec![member])).await;
    let url = emulator.endpoint_url();
    let admin = detective_client(&url, ADMIN, REGION);
    let graph = create_graph(&admin).await;
    invite(&admin, &graph, MEMBER, MEMBER_EMAIL).await;
    (emulator, url, admin, graph)
}

fn is_graph_arn(arn: &str, region: &str, account_id: &str) -> bool {
    arn.strip_prefix(&format!("arn:aws:detective:{region}:{account_id}:graph:"))
        .is_some_and(|id| id.len() == 32 && id.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)))
}

#[tokio::test]
async fn create_graph_is_idempotent_per_account_and_region() {
    let (emulator, url, admin) = admin_emulator().await;

    let arn = create_graph(&admin).await;
    assert!(is_graph_arn(&arn, REGION, ADMIN), "{arn}");
    assert_eq!(create_graph(&admin).await, arn, "same account and Region");

    let elsewhere = create_graph(&detective_client(&url, ADMIN, "eu-west-1")).await;
    assert!(is_graph_arn(&elsewhere, "eu-west-1", ADMIN), "{elsewhere}");
    let other_account = create_graph(&detective_client(&url, STRANGER, REGION)).await;
    assert!(is_graph_arn(&other_account, REGION, STRANGER));
    assert_eq!(
        BTreeSet::from([&arn, &elsewhere, &other_account]).len(),
        3,
        "distinct graphs"
    );

    let listed = admin.list_graphs().send().await.expect("ListGraphs");
    assert_eq!(listed.graph_list().len(), 1, "ListGraphs is regional");
    assert_eq!(listed.graph_list()[0].arn(), Some(arn.as_str()));
    assert!(listed.graph_list()[0].created_time().is_some());
    assert!(listed.next_token().is_none());
    assert_eq!(emulator.calls().get("CreateGraph"), Some(&4));
    emulator.shutdown().await;
}

#[tokio::test]
async fn delete_graph_removes_members_and_invitations() {
    let (emulator, url, admin) = admin_emulator().await;
    let member_client = detective_client(&url, MEMBER, REGION);
    let graph = create_graph(&admin).await;
    invite(&admin, &graph, MEMBER, MEMBER_EMAIL).await;
    let invitations = member_client.list_invitations().send().await.expect("ListInvitations");
    assert_eq!(invitations.invitations().len(), 1);

    admin
        .delete_graph()
        .graph_arn(&graph)
        .send()
        .await
        .expect("DeleteGraph");
    let invitations = member_client.list_invitations().send().await.expect("ListInvitations");
    assert!(invitations.invitations().is_empty());
    assert_refused(
        admin.list_members().graph_arn(&graph).send(),
        "ResourceNotFoundException",
        "graph is gone",
    )
    .await;
    let listed = admin.list_graphs().send().await.expect("ListGraphs");
    assert!(listed.graph_list().is_empty());
    let recreated = create_graph(&admin).await;
    assert_ne!(recreated, graph, "a new graph gets a new ARN");
    emulator.shutdown().await;
}

#[tokio::test]
async fn invite_accept_and_disassociate_between_two_accounts() {
    let emulator = start_emulator_with(world_of(vec![AccountConfig::new(MEMBER, MEMBER_EMAIL)])).await;
    let url = emulator.endpoint_url();
    let admin = detective_client(&url, ADMIN, REGION);
    let member_client = detective_client(&url, MEMBER, REGION);
    let graph = create_graph(&admin).await;

    let created = admin
        .create_members()
        .graph_arn(&graph)
        .message("Please join our behavior graph")
        .disable_email_notification(true)
        .accounts(account(MEMBER, MEMBER_EMAIL))
        .send()
        .await
        .expect("CreateMembers");
    assert!(created.unprocessed_accounts().is_empty());
    let detail = &created.members()[0];
    assert_eq!(detail.account_id(), Some(MEMBER));
    assert_eq!(detail.email_address(), Some(MEMBER_EMAIL));
    assert_eq!(detail.graph_arn(), Some(graph.as_str()));
    assert_eq!(detail.status(), Some(&MemberStatus::VerificationInProgress));
    assert_eq!(detail.administrator_id(), Some(ADMIN));
    #[allow(deprecated)]
    let master_id = detail.master_id();
    assert_eq!(master_id, Some(ADMIN));
    assert_eq!(detail.invitation_type(), Some(&InvitationType::Invitation));
    assert!(detail.invited_time().is_some() && detail.updated_time().is_some());
    // The member record keeps what the call asked for (no e-mail is sent either way).
    let recorded = emulator.members(&graph)[0].disable_email_notification;
    assert_eq!(recorded, Some(true));

    // With no verification delay, the next read already shows the outcome.
    let detail = member_detail(&admin, &graph, MEMBER).await;
    assert_eq!(detail.status(), Some(&MemberStatus::Invited));

    let invitations = member_client.list_invitations().send().await.expect("ListInvitations");
    assert_eq!(invitations.invitations().len(), 1);
    let invitation = &invitations.invitations()[0];
    assert_eq!(invitation.graph_arn(), Some(graph.as_str()));
    assert_eq!(invitation.status(), Some(&MemberStatus::Invited));
    assert_eq!(invitation.administrator_id(), Some(ADMIN));

    accept_invitation(&member_client, &graph).await;
    let detail = member_detail(&admin, &graph, MEMBER).await;
    assert_eq!(detail.status(), Some(&MemberStatus::Enabled));
    assert_eq!(detail.disabled_reason(), None);
    assert!(detail.updated_time() >= detail.invited_time());
    let ingest = detail.datasource_package_ingest_states().expect("ingest states");
    assert_eq!(
        ingest.get(&DatasourcePackage::DetectiveCore),
        Some(&DatasourcePackageIngestState::Started)
    );
    let usage = detail.volume_usage_by_datasource_package().expect("volume usage");
    assert!(
        usage
            .get(&DatasourcePackage::DetectiveCore)
            .and_then(|info| info.volume_usage_update_time())
            .is_some(),
        "VolumeUsageUpdateTime is read: {usage:?}"
    );
    let snapshot = emulator.members(&graph);
    assert_eq!(snapshot.len(), 1);
    assert_eq!(snapshot[0].status, emulator::MemberStatus::Enabled);
    assert_eq!(snapshot[0].invitation_type, emulator::InvitationType::Invitation);

    // Accepting twice is a conflict, not a silent success.
    assert_refused(
        member_client.accept_invitation().graph_arn(&graph).send(),
        "ConflictException",
        "already accepted",
    )
    .await;
    // The accepted invitation is still listed.
    let invitations = member_client.list_invitations().send().await.expect("ListInvitations");
    assert_eq!(invitations.invitations()[0].status(), Some(&MemberStatus::Enabled));

    member_client
        .disassociate_membership()
        .graph_arn(&graph)
        .send()
        .await
        .expect("DisassociateMembership");
    assert!(listed_members(&admin, &graph).await.is_empty());
    let invitations = member_client.list_invitations().send().await.expect("ListInvitations");
    assert!(invitations.invitations().is_empty());
    assert!(emulator.members(&graph).is_empty());
    emulator.shutdown().await;
}

#[tokio::test]
async fn reject_invitation_removes_the_member() {
    let (emulator, url, admin) = admin_emulator().await;
    let member_client = detective_client(&url, MEMBER, REGION);
    let graph = create_graph(&admin).await;
    invite(&admin, &graph, MEMBER, MEMBER_EMAIL).await;

    member_client
        .reject_invitation()
        .graph_arn(&graph)
        .send()
        .await
        .expect("RejectInvitation");
    let output = admin
        .get_members()
        .graph_arn(&graph)
        .account_ids(MEMBER)
        .send()
        .await
        .expect("GetMembers");
    assert!(output.member_details().is_empty());
    assert_eq!(output.unprocessed_accounts()[0].account_id(), Some(MEMBER));
    assert_refused(
        member_client.reject_invitation().graph_arn(&graph).send(),
        "ResourceNotFoundException",
        "nothing left to reject",
    )
    .await;
    emulator.shutdown().await;
}

#[tokio::test]
async fn verification_fails_when_the_email_is_not_the_root_email() {
    let emulator = start_emulator_with(world_of(vec![AccountConfig::new(MEMBER, "root@example.com")])).await;
    let url = emulator.endpoint_url();
    let admin = detective_client(&url, ADMIN, REGION);
    let member_client = detective_client(&url, MEMBER, REGION);
    let graph = create_graph(&admin).await;

    invite(&admin, &graph, MEMBER, "someone-else@example.com").await;
    let detail = member_detail(&admin, &graph, MEMBER).await;
    assert_eq!(detail.status(), Some(&MemberStatus::VerificationFailed));
    // No invitation was sent, so the member sees none and cannot accept.
    let invitations = member_client.list_invitations().send().await.expect("ListInvitations");
    assert!(invitations.invitations().is_empty());
    assert_refused(
        member_client.accept_invitation().graph_arn(&graph).send(),
        "ConflictException",
        "verification failed",
    )
    .await;
    // It stays listed until deleted; re-inviting with the right e-mail (any case) passes.
    let again = invite(&admin, &graph, MEMBER, "root@example.com").await;
    assert_eq!(again.unprocessed_accounts().len(), 1);
    admin
        .delete_members()
        .graph_arn(&graph)
        .account_ids(MEMBER)
        .send()
        .await
        .expect("DeleteMembers");
    invite(&admin, &graph, MEMBER, "ROOT@example.com").await;
    assert_eq!(
        member_detail(&admin, &graph, MEMBER).await.status(),
        Some(&MemberStatus::Invited)
    );
    emulator.shutdown().await;
}

#[tokio::test]
async fn verification_delay_elapses_on_the_emulator_clock() {
    let emulator = start_emulator_with(WorldConfig {
        verification_delay_ms: 60_000,
        ..WorldConfig::default()
    })
    .await;
    let admin = detective_client(&emulator.endpoint_url(), ADMIN, REGION);
    let graph = create_graph(&admin).await;
    invite(&admin, &graph, MEMBER, MEMBER_EMAIL).await;
    let pending = member_detail(&admin, &graph, MEMBER).await;
    assert_eq!(pending.status(), Some(&MemberStatus::VerificationInProgress));

    emulator.advance_clock(Duration::from_secs(61));
    let detail = member_detail(&admin, &graph, MEMBER).await;
    assert_eq!(detail.status(), Some(&MemberStatus::Invited));
    let invited = detail.invited_time().expect("InvitedTime").to_millis().expect("ms");
    let updated = detail.updated_time().expect("UpdatedTime").to_millis().expect("ms");
    assert_eq!(
        updated - invited,
        60_000,
        "the transition is stamped when it fell due, not when it was observed"
    );
    emulator.shutdown().await;
}

#[tokio::test]
async fn accepted_but_disabled_until_guardduty_then_start_monitoring() {
    let (emulator, url, admin, graph) = member_invited(|member| member.guard_duty_enrolled = false).await;
    let member_client = detective_client(&url, MEMBER, REGION);
    accept_invitation(&member_client, &graph).await;

    let detail = member_detail(&admin, &graph, MEMBER).await;
    assert_eq!(detail.status(), Some(&MemberStatus::AcceptedButDisabled));
    assert_eq!(detail.disabled_reason(), Some(&MemberDisabledReason::VolumeUnknown));
    // Only ENABLED members may leave on their own.
    assert_refused(
        member_client.disassociate_membership().graph_arn(&graph).send(),
        "ConflictException",
        "not enabled",
    )
    .await;

    // The cause is still there: StartMonitoringMember succeeds but the member stays disabled.
    admin
        .start_monitoring_member()
        .graph_arn(&graph)
        .account_id(MEMBER)
        .send()
        .await
        .expect("StartMonitoringMember");
    assert_eq!(
        member_detail(&admin, &graph, MEMBER).await.status(),
        Some(&MemberStatus::AcceptedButDisabled)
    );

    emulator.merge_world(WorldPatch {
        accounts: vec![AccountConfig::new(MEMBER, MEMBER_EMAIL)],
        ..WorldPatch::default()
    });
    admin
        .start_monitoring_member()
        .graph_arn(&graph)
        .account_id(MEMBER)
        .send()
        .await
        .expect("StartMonitoringMember");
    let detail = member_detail(&admin, &graph, MEMBER).await;
    assert_eq!(detail.status(), Some(&MemberStatus::Enabled));
    assert_eq!(detail.disabled_reason(), None);

    assert_refused(
        admin
            .start_monitoring_member()
            .graph_arn(&graph)
            .account_id(MEMBER)
            .send(),
        "ConflictException",
        "already enabled",
    )
    .await;
    assert_refused(
        admin
            .start_monitoring_member()
            .graph_arn(&graph)
            .account_id(STRANGER)
            .send(),
        "ResourceNotFoundException",
        "not a member",
    )
    .await;
    emulator.shutdown().await;
}

#[tokio::test]
async fn volume_too_high_keeps_the_member_disabled() {
    let (emulator, url, admin, graph) = member_invited(|member| member.volume_too_high = true).await;
    accept_invitation(&detective_client(&url, MEMBER, REGION), &graph).await;
    let snapshot = emulator.members(&graph);
    assert_eq!(snapshot[0].status, emulator::MemberStatus::AcceptedButDisabled);
    assert_eq!(
        snapshot[0].disabled_reason,
        Some(emulator::DisabledReason::VolumeTooHigh)
    );
    let detail = member_detail(&admin, &graph, MEMBER).await;
    assert_eq!(detail.disabled_reason(), Some(&MemberDisabledReason::VolumeTooHigh));
    assert!(detail.volume_usage_by_datasource_package().is_none());
    emulator.shutdown().await;
}

#[tokio::test]
async fn a_simulated_member_accepts_after_its_delay() {
    let (emulator, _, admin, graph) = member_invited(|member| member.auto_accept_after_ms = Some(30_000)).await;
    assert_eq!(
        member_detail(&admin, &graph, MEMBER).await.status(),
        Some(&MemberStatus::Invited)
    );
    emulator.advance_clock(Duration::from_secs(30));
    assert_eq!(
        member_detail(&admin, &graph, MEMBER).await.status(),
        Some(&MemberStatus::Enabled)
    );
    emulator.shutdown().await;
}

#[tokio::test]
async fn unprocessed_accounts_carry_reasons() {
    let (emulator, admin, graph) = admin_graph().await;

    let output = create_members(
        &admin,
        &graph,
        &[
            (ADMIN, "admin@example.com"),
            (MEMBER, MEMBER_EMAIL),
            (MEMBER, MEMBER_EMAIL),
        ],
    )
    .await;
    assert_eq!(output.members().len(), 1);
    let reasons: Vec<(&str, &str)> = output
        .unprocessed_accounts()
        .iter()
        .map(|u| (u.account_id().unwrap_or_default(), u.reason().unwrap_or_default()))
        .collect();
    assert_eq!(reasons.len(), 2, "{reasons:?}");
    assert_eq!(reasons[0].0, ADMIN);
    assert!(reasons[0].1.contains("administrator"), "{reasons:?}");
    assert_eq!(reasons[1].0, MEMBER);

    let again = invite(&admin, &graph, MEMBER, MEMBER_EMAIL).await;
    assert!(again.members().is_empty());
    assert!(
        again.unprocessed_accounts()[0]
            .reason()
            .is_some_and(|reason| reason.contains("already a member"))
    );

    let deleted = admin
        .delete_members()
        .graph_arn(&graph)
        .account_ids(ADMIN)
        .account_ids(STRANGER)
        .account_ids(MEMBER)
        .send()
        .await
        .expect("DeleteMembers");
    assert_eq!(deleted.account_ids(), [MEMBER.to_owned()]);
    let unprocessed: Vec<&str> = deleted
        .unprocessed_accounts()
        .iter()
        .filter_map(|u| u.account_id())
        .collect();
    assert_eq!(unprocessed, [ADMIN, STRANGER]);
    emulator.shutdown().await;
}

#[tokio::test]
async fn validation_errors_name_the_offending_member() {
    let (emulator, admin, graph) = admin_graph().await;

    expect_validation!(
        admin
            .create_members()
            .graph_arn("not-an-arn")
            .accounts(account(MEMBER, MEMBER_EMAIL))
            .send()
            .await,
        CreateMembersError::ValidationException,
        ErrorCode::InvalidGraphArn,
        "GraphArn"
    );
    expect_validation!(
        admin
            .create_members()
            .graph_arn(&graph)
            .accounts(account("12", MEMBER_EMAIL))
            .send()
            .await,
        CreateMembersError::ValidationException,
        ErrorCode::InvalidRequestBody,
        "Accounts[0].AccountId"
    );
    for bad_email in ["no-at-sign", "a@-leading-hyphen.com", "a@example.c", "a@exa_mple.com"] {
        expect_validation!(
            admin
                .create_members()
                .graph_arn(&graph)
                .accounts(account(STRANGER, MEMBER_EMAIL))
                .accounts(account(MEMBER, bad_email))
                .send()
                .await,
            CreateMembersError::ValidationException,
            ErrorCode::InvalidRequestBody,
            "Accounts[1].EmailAddress"
        );
    }
    let mut too_many = admin.create_members().graph_arn(&graph);
    for n in 0..51 {
        too_many = too_many.accounts(account(&format!("{:012}", 500_000_000_000u64 + n), MEMBER_EMAIL));
    }
    expect_validation!(
        too_many.send().await,
        CreateMembersError::ValidationException,
        ErrorCode::InvalidRequestBody,
        "Accounts"
    );
    expect_validation!(
        admin
            .create_members()
            .graph_arn(&graph)
            .set_accounts(Some(Vec::new()))
            .send()
            .await,
        CreateMembersError::ValidationException,
        ErrorCode::InvalidRequestBody,
        "Accounts"
    );
    expect_validation!(
        admin
            .create_members()
            .graph_arn(&graph)
            .message("x".repeat(1001))
            .accounts(account(MEMBER, MEMBER_EMAIL))
            .send()
            .await,
        CreateMembersError::ValidationException,
        ErrorCode::InvalidRequestBody,
        "Message"
    );
    let mut too_many_ids = admin.get_members().graph_arn(&graph);
    for n in 0..51 {
        too_many_ids = too_many_ids.account_ids(format!("{:012}", 500_000_000_000u64 + n));
    }
    expect_validation!(
        too_many_ids.send().await,
        GetMembersError::ValidationException,
        ErrorCode::InvalidRequestBody,
        "AccountIds"
    );
    expect_validation!(
        admin.get_members().account_ids(MEMBER).send().await,
        GetMembersError::ValidationException,
        ErrorCode::InvalidRequestBody,
        "GraphArn"
    );
    expect_validation!(
        admin
            .delete_members()
            .graph_arn(&graph)
            .account_ids(MEMBER)
            .account_ids("abc")
            .send()
            .await,
        DeleteMembersError::ValidationException,
        ErrorCode::InvalidRequestBody,
        "AccountIds[1]"
    );
    for max_results in [0, 201] {
        expect_validation!(
            admin
                .list_members()
                .graph_arn(&graph)
                .max_results(max_results)
                .send()
                .await,
            ListMembersError::ValidationException,
            ErrorCode::InvalidRequestBody,
            "MaxResults"
        );
    }
    expect_validation!(
        admin
            .list_members()
            .graph_arn(&graph)
            .next_token("garbage")
            .send()
            .await,
        ListMembersError::ValidationException,
        ErrorCode::InvalidRequestBody,
        "NextToken"
    );
    expect_validation!(
        admin
            .start_monitoring_member()
            .graph_arn(&graph)
            .account_id("1")
            .send()
            .await,
        StartMonitoringMemberError::ValidationException,
        ErrorCode::InvalidRequestBody,
        "AccountId"
    );
    expect_validation!(
        admin
            .tag_resource()
            .resource_arn(&graph)
            .tags("team", "y".repeat(257))
            .send()
            .await,
        TagResourceError::ValidationException,
        ErrorCode::InvalidRequestBody,
        "Tags.team"
    );
    expect_validation!(
        admin
            .update_datasource_packages()
            .graph_arn(&graph)
            .datasource_packages(DatasourcePackage::from("NOT_A_PACKAGE"))
            .send()
            .await,
        UpdateDatasourcePackagesError::ValidationException,
        ErrorCode::InvalidRequestBody,
        "DatasourcePackages[0]"
    );
    // Nothing above changed the graph.
    assert!(emulator.members(&graph).is_empty());
    emulator.shutdown().await;
}

#[tokio::test]
async fn create_graph_rejects_reserved_tag_keys() {
    let (emulator, _, admin) = admin_emulator().await;
    let err = assert_refused(
        admin.create_graph().tags("aws:reserved", "x").send(),
        "ValidationException",
        "reserved prefix",
    )
    .await;
    assert!(err.message().is_some_and(|m| m.contains("Tags.aws:reserved")));
    let graphs = admin.list_graphs().send().await.expect("ListGraphs");
    assert!(graphs.graph_list().is_empty(), "refused request created nothing");
    emulator.shutdown().await;
}

#[tokio::test]
async fn unknown_graphs_are_not_found() {
    let (emulator, url, admin) = admin_emulator().await;

    // Graphs are regional: another Region's endpoint does not know this one.
    let graph = create_graph(&admin).await;
    let member = detective_client(&url, MEMBER, REGION);
    let cases: [(&str, Refusal); 4] = [
        (
            "ListMembers, unknown graph",
            error_code(admin.list_members().graph_arn(UNKNOWN_GRAPH).send()),
        ),
        (
            "DeleteGraph, unknown graph",
            error_code(admin.delete_graph().graph_arn(UNKNOWN_GRAPH).send()),
        ),
        (
            "AcceptInvitation, unknown graph",
            error_code(member.accept_invitation().graph_arn(UNKNOWN_GRAPH).send()),
        ),
        (
            "ListMembers in another Region",
            error_code(
                detective_client(&url, ADMIN, "eu-west-1")
                    .list_members()
                    .graph_arn(&graph)
                    .send(),
            ),
        ),
    ];
    for (case, call) in cases {
        assert_eq!(call.await.as_deref(), Some("ResourceNotFoundException"), "{case}");
    }
    emulator.shutdown().await;
}

#[tokio::test]
async fn administrator_only_and_member_only_operations_are_enforced() {
    let (emulator, url, admin) = admin_emulator().await;
    let member_client = detective_client(&url, MEMBER, REGION);
    let stranger = detective_client(&url, STRANGER, REGION);
    let graph = create_graph(&admin).await;
    invite(&admin, &graph, MEMBER, MEMBER_EMAIL).await;

    // (who does what, the call, the error code it must be refused with)
    let cases: [(&str, Refusal, &str); 6] = [
        (
            "a member lists the members",
            error_code(member_client.list_members().graph_arn(&graph).send()),
            ACCESS_DENIED,
        ),
        (
            "a member invites",
            error_code(
                member_client
                    .create_members()
                    .graph_arn(&graph)
                    .accounts(account(STRANGER, "s@example.com"))
                    .send(),
            ),
            ACCESS_DENIED,
        ),
        (
            "a member deletes the graph",
            error_code(member_client.delete_graph().graph_arn(&graph).send()),
            ACCESS_DENIED,
        ),
        (
            "a stranger tags the graph",
            error_code(stranger.tag_resource().resource_arn(&graph).tags("k", "v").send()),
            ACCESS_DENIED,
        ),
        (
            "the administrator, who has no invitation, accepts",
            error_code(admin.accept_invitation().graph_arn(&graph).send()),
            ACCESS_DENIED,
        ),
        (
            "a stranger, not invited, accepts",
            error_code(stranger.accept_invitation().graph_arn(&graph).send()),
            "ResourceNotFoundException",
        ),
    ];
    for (case, call, expected) in cases {
        assert_eq!(call.await.as_deref(), Some(expected), "{case}");
    }
    // Still exactly the one invited member.
    assert_eq!(emulator.members(&graph).len(), 1);
    emulator.shutdown().await;
}

#[tokio::test]
async fn organization_accounts_are_enabled_without_an_invitation() {
    const MANAGEMENT: &str = "900000000001";
    const ORG_ADMIN: &str = "900000000002";
    const ORG_MEMBER: &str = "900000000003";
    const OUTSIDER: &str = "900000000004";
    const NEWCOMER: &str = "900000000005";
    let in_org = |id: &str| AccountConfig {
        organization: Some("o-test".to_owned()),
        ..AccountConfig::new(id, format!("{id}@example.com"))
    };
    let emulator = start_emulator_with(WorldConfig {
        organizations: vec![OrganizationConfig {
            id: "o-test".to_owned(),
            management_account: MANAGEMENT.to_owned(),
            root_id: None,
            organizational_units: Vec::new(),
            delegated_administrators: Vec::new(),
            empty_first_pages: false,
            page_size_limit: None,
        }],
        ..world_of(vec![
            in_org(MANAGEMENT),
            in_org(ORG_ADMIN),
            in_org(ORG_MEMBER),
            AccountConfig::new(OUTSIDER, "outsider@example.com"),
        ])
    })
    .await;
    let url = emulator.endpoint_url();
    let management = detective_client(&url, MANAGEMENT, REGION);
    let org_admin = detective_client(&url, ORG_ADMIN, REGION);

    assert_refused(
        management
            .enable_organization_admin_account()
            .account_id(OUTSIDER)
            .send(),
        "ValidationException",
        "not in the organization",
    )
    .await;
    assert_refused(
        detective_client(&url, OUTSIDER, REGION)
            .enable_organization_admin_account()
            .account_id(OUTSIDER)
            .send(),
        "ValidationException",
        "no organization",
    )
    .await;

    fixtures::enable_organization_admin(&management, ORG_ADMIN).await;
    let admins = fixtures::organization_admins(&management).await;
    assert_eq!(admins.len(), 1);
    let delegated = &admins[0];
    assert_eq!(delegated.account_id(), Some(ORG_ADMIN));
    assert!(delegated.delegation_time().is_some());
    // Delegation enabled Detective for the administrator.
    let graphs = org_admin.list_graphs().send().await.expect("ListGraphs");
    let graph = graphs.graph_list()[0].arn().expect("arn").to_owned();
    assert_eq!(delegated.graph_arn(), Some(graph.as_str()));

    let config = org_admin
        .describe_organization_configuration()
        .graph_arn(&graph)
        .send()
        .await
        .expect("DescribeOrganizationConfiguration");
    assert!(!config.auto_enable());

    let created = create_members(
        &org_admin,
        &graph,
        &[(ORG_MEMBER, "whatever@example.com"), (OUTSIDER, "outsider@example.com")],
    )
    .await;
    let by_id = |id: &str| {
        created
            .members()
            .iter()
            .find(|m| m.account_id() == Some(id))
            .cloned()
            .expect("created")
    };
    assert_eq!(by_id(ORG_MEMBER).status(), Some(&MemberStatus::Enabled));
    assert_eq!(by_id(ORG_MEMBER).invitation_type(), Some(&InvitationType::Organization));
    assert_eq!(by_id(OUTSIDER).status(), Some(&MemberStatus::VerificationInProgress));
    assert_eq!(by_id(OUTSIDER).invitation_type(), Some(&InvitationType::Invitation));

    let org_member = detective_client(&url, ORG_MEMBER, REGION);
    let invitations = org_member.list_invitations().send().await.expect("ListInvitations");
    assert!(invitations.invitations().is_empty(), "no invitation was sent");
    assert_refused(
        org_member.disassociate_membership().graph_arn(&graph).send(),
        "ConflictException",
        "organization accounts cannot leave",
    )
    .await;

    org_admin
        .update_organization_configuration()
        .graph_arn(&graph)
        .auto_enable(true)
        .send()
        .await
        .expect("UpdateOrganizationConfiguration");
    let config = org_admin
        .describe_organization_configuration()
        .graph_arn(&graph)
        .send()
        .await
        .expect("DescribeOrganizationConfiguration");
    assert!(config.auto_enable());
    // A new account joins the organization: AutoEnable makes it a member.
    emulator.merge_world(WorldPatch {
        accounts: vec![in_org(NEWCOMER)],
        ..WorldPatch::default()
    });
    let newcomer = emulator
        .members(&graph)
        .into_iter()
        .find(|m| m.account_id == NEWCOMER)
        .expect("auto-enabled");
    assert_eq!(newcomer.status, emulator::MemberStatus::Enabled);
    assert_eq!(newcomer.invitation_type, emulator::InvitationType::Organization);

    // A graph whose administrator is not delegated has no organization configuration.
    let plain = create_graph(&detective_client(&url, ADMIN, REGION)).await;
    assert_refused(
        detective_client(&url, ADMIN, REGION)
            .describe_organization_configuration()
            .graph_arn(&plain)
            .send(),
        "AccessDeniedException",
        "not an organization graph",
    )
    .await;

    // Removing the delegated administrator deletes the organization behavior graph.
    management
        .disable_organization_admin_account()
        .send()
        .await
        .expect("DisableOrganizationAdminAccount");
    let graphs = org_admin.list_graphs().send().await.expect("ListGraphs");
    assert!(graphs.graph_list().is_empty());
    assert!(fixtures::organization_admins(&management).await.is_empty());
    emulator.shutdown().await;
}

#[tokio::test]
async fn pagination_over_1200_members_with_the_sdk_paginator() {
    let (emulator, admin, graph) = admin_graph().await;
    // Invite in descending id order: listing must come back sorted by account id anyway.
    let ids: Vec<String> = (0..1200u64)
        .rev()
        .map(|n| format!("{:012}", 100_000_000_000 + n))
        .collect();
    for batch in ids.chunks(50) {
        let mut request = admin.create_members().graph_arn(&graph);
        for id in batch {
            request = request.accounts(account(id, &format!("root+{id}@example.com")));
        }
        let output = request.send().await.expect("CreateMembers");
        assert_eq!(output.members().len(), 50);
    }
    assert_eq!(emulator.calls().get("CreateMembers"), Some(&24));

    emulator.reset_calls();
    let pages = admin
        .list_members()
        .graph_arn(&graph)
        .into_paginator()
        .page_size(200)
        .send()
        .try_collect()
        .await
        .expect("ListMembers pages");
    assert_eq!(pages.len(), 6);
    assert_eq!(emulator.calls().get("ListMembers"), Some(&6));
    let listed: Vec<&str> = pages
        .iter()
        .flat_map(|page| page.member_details())
        .filter_map(|m| m.account_id())
        .collect();
    let mut expected: Vec<&str> = ids.iter().map(String::as_str).collect();
    expected.sort_unstable();
    assert_eq!(listed, expected, "every member once, in account-id order");
    assert!(
        pages
            .iter()
            .flat_map(|page| page.member_details())
            .all(|m| m.status() == Some(&MemberStatus::Invited))
    );
    let token = pages[0].next_token().expect("first page has a token");
    assert!(
        !token.contains(listed[199]),
        "tokens are opaque, not the last id in clear"
    );

    // The quota: one more member is refused as a whole.
    let err = admin
        .create_members()
        .graph_arn(&graph)
        .accounts(account("999999999999", "late@example.com"))
        .send()
        .await
        .expect_err("quota");
    match err.into_service_error() {
        CreateMembersError::ServiceQuotaExceededException(quota) => {
            assert!(!quota.resources().is_empty());
            assert!(quota.message().is_some_and(|m| m.contains("1200")));
        }
        other => panic!("expected ServiceQuotaExceededException, got {other:?}"),
    }
    assert_eq!(emulator.members(&graph).len(), 1200);

    // Keyset pages: deleting members already seen does not shift the next page.
    let first = admin
        .list_members()
        .graph_arn(&graph)
        .max_results(100)
        .send()
        .await
        .expect("ListMembers");
    let seen: Vec<String> = first
        .member_details()
        .iter()
        .take(10)
        .filter_map(|m| m.account_id().map(str::to_owned))
        .collect();
    admin
        .delete_members()
        .graph_arn(&graph)
        .set_account_ids(Some(seen))
        .send()
        .await
        .expect("DeleteMembers");
    let second = admin
        .list_members()
        .graph_arn(&graph)
        .max_results(100)
        .next_token(first.next_token().expect("token"))
        .send()
        .await
        .expect("ListMembers");
    assert_eq!(second.member_details()[0].account_id(), Some(listed[100]));
    emulator.shutdown().await;
}

#[tokio::test]
async fn tags_round_trip() {
    let (emulator, _, admin) = admin_emulator().await;
    let graph = create_tagged_graph(&admin, &[("team", "security")]).await;
    admin
        .tag_resource()
        .resource_arn(&graph)
        .tags("env", "prod")
        .tags("team", "secops")
        .send()
        .await
        .expect("TagResource");
    let tags = tags_of(&admin, &graph).await;
    assert_eq!(tags.len(), 2);
    assert_eq!(tags.get("team").map(String::as_str), Some("secops"));
    admin
        .untag_resource()
        .resource_arn(&graph)
        .tag_keys("team")
        .tag_keys("absent")
        .send()
        .await
        .expect("UntagResource");
    let tags = tags_of(&admin, &graph).await;
    assert_eq!(tags.keys().collect::<Vec<_>>(), ["env"]);
    assert_refused(
        admin.list_tags_for_resource().resource_arn(UNKNOWN_GRAPH).send(),
        "ResourceNotFoundException",
        "unknown",
    )
    .await;
    emulator.shutdown().await;
}

#[tokio::test]
async fn datasource_packages_of_graphs_and_members() {
    let (emulator, url, admin) = admin_emulator().await;
    let member_client = detective_client(&url, MEMBER, REGION);
    let graph = create_graph(&admin).await;

    let packages = admin
        .list_datasource_packages()
        .graph_arn(&graph)
        .send()
        .await
        .expect("ListDatasourcePackages");
    let packages = packages.datasource_packages().expect("packages");
    assert_eq!(packages.len(), 3);
    // The documented default for a graph created today: the core package and both optional ones
    // (EKS audit logs since 2022-07-26, Security Hub findings since 2023-05-16) start by themselves.
    for (package, detail) in packages {
        assert_eq!(
            detail.datasource_package_ingest_state(),
            Some(&DatasourcePackageIngestState::Started),
            "{package:?}"
        );
    }
    let core = &packages[&DatasourcePackage::DetectiveCore];
    assert_eq!(
        core.datasource_package_ingest_state(),
        Some(&DatasourcePackageIngestState::Started)
    );
    assert!(
        core.last_ingest_state_change()
            .and_then(|changes| changes.get(&DatasourcePackageIngestState::Started))
            .and_then(|at| at.timestamp())
            .is_some()
    );
    let paged = admin
        .list_datasource_packages()
        .graph_arn(&graph)
        .max_results(2)
        .send()
        .await
        .expect("ListDatasourcePackages");
    assert_eq!(paged.datasource_packages().map(|p| p.len()), Some(2));
    assert!(paged.next_token().is_some());
    admin
        .update_datasource_packages()
        .graph_arn(&graph)
        .datasource_packages(DatasourcePackage::EksAudit)
        .send()
        .await
        .expect("UpdateDatasourcePackages");

    invite(&admin, &graph, MEMBER, MEMBER_EMAIL).await;
    accept_invitation(&member_client, &graph).await;
    let by_graph = admin
        .batch_get_graph_member_datasources()
        .graph_arn(&graph)
        .account_ids(MEMBER)
        .account_ids(STRANGER)
        .send()
        .await
        .expect("BatchGetGraphMemberDatasources");
    assert_eq!(by_graph.member_datasources().len(), 1);
    assert_eq!(by_graph.member_datasources()[0].account_id(), Some(MEMBER));
    assert!(
        by_graph.member_datasources()[0]
            .datasource_package_ingest_history()
            .is_some_and(|history| history.contains_key(&DatasourcePackage::DetectiveCore))
    );
    assert_eq!(by_graph.unprocessed_accounts()[0].account_id(), Some(STRANGER));

    let by_membership = member_client
        .batch_get_membership_datasources()
        .graph_arns(&graph)
        .graph_arns(UNKNOWN_GRAPH)
        .send()
        .await
        .expect("BatchGetMembershipDatasources");
    assert_eq!(by_membership.membership_datasources().len(), 1);
    assert_eq!(
        by_membership.membership_datasources()[0].graph_arn(),
        Some(graph.as_str())
    );
    assert_eq!(by_membership.unprocessed_graphs()[0].graph_arn(), Some(UNKNOWN_GRAPH));
    emulator.shutdown().await;
}

#[tokio::test]
async fn investigation_operations_say_they_are_not_implemented() {
    let (emulator, _, admin) = admin_emulator().await;
    let err = assert_refused(
        admin.list_investigations().graph_arn(UNKNOWN_GRAPH).send(),
        "NotImplementedException",
        "not emulated",
    )
    .await;
    assert!(err.message().is_some_and(|m| m.contains("emulator")));
    assert_eq!(
        emulator.calls().get("ListInvestigations"),
        Some(&1),
        "501 is not retried"
    );
    emulator.shutdown().await;
}

#[tokio::test]
async fn wire_format_of_errors_and_timestamps() {
    let emulator = start_emulator().await;
    let url = emulator.endpoint_url();

    let refused = http(&url, "POST", "/graph/members/list", Some(r#"{"GraphArn":"nope"}"#)).await;
    assert_eq!(refused.status, 400);
    assert_eq!(refused.header("x-amzn-ErrorType"), Some("ValidationException"));
    assert!(refused.header("x-amzn-RequestId").is_some_and(|id| id.len() == 36));
    let body = refused.json();
    assert_eq!(body["ErrorCode"], "INVALID_GRAPH_ARN");
    assert!(body["Message"].as_str().is_some_and(|m| m.contains("GraphArn")));

    let malformed = http(&url, "POST", "/graph/members/list", Some("{not json")).await;
    assert_eq!(malformed.status, 400);
    assert_eq!(malformed.json()["ErrorCode"], "INVALID_REQUEST_BODY");

    let unknown = http(&url, "POST", "/no/such/operation", Some("{}")).await;
    assert_eq!(unknown.status, 404);
    assert_eq!(unknown.header("x-amzn-ErrorType"), Some("UnknownOperationException"));
    assert!(
        unknown.json()["Message"]
            .as_str()
            .is_some_and(|m| m.contains("emulator"))
    );
    let wrong_method = http(&url, "GET", "/graph", None).await;
    assert_eq!(wrong_method.status, 404);

    // Unsigned requests act as the default account in us-east-1.
    let created = http(&url, "POST", "/graph", Some("{}")).await;
    assert_eq!(created.status, 200);
    let graph = created.json()["GraphArn"].as_str().expect("arn").to_owned();
    assert!(is_graph_arn(&graph, "us-east-1", "123456789012"), "{graph}");
    let invite =
        format!(r#"{{"GraphArn":"{graph}","Accounts":[{{"AccountId":"{MEMBER}","EmailAddress":"{MEMBER_EMAIL}"}}]}}"#);
    let created = http(&url, "POST", "/graph/members", Some(&invite)).await;
    assert_eq!(created.status, 200, "{}", created.body);
    let invited = created.json()["Members"][0]["InvitedTime"]
        .as_str()
        .expect("InvitedTime is a string")
        .to_owned();
    let shape = invited
        .bytes()
        .map(|b| if b.is_ascii_digit() { b'9' } else { b })
        .collect::<Vec<u8>>();
    assert_eq!(
        String::from_utf8(shape).expect("ASCII"),
        "9999-99-99T99:99:99.999Z",
        "{invited}"
    );
    let untag = http(
        &url,
        "DELETE",
        &format!("/tags/{}?tagKeys=a", graph.replace(':', "%3A")),
        None,
    )
    .await;
    assert_eq!(untag.status, 204);

    let calls = emulator.calls();
    assert_eq!(calls.get("ListMembers"), Some(&2));
    assert_eq!(calls.get("UnknownOperation"), Some(&2));
    assert_eq!(calls.get("UntagResource"), Some(&1));
    emulator.shutdown().await;
}

#[tokio::test]
async fn sdk_errors_carry_the_request_id() {
    let (emulator, _, admin) = admin_emulator().await;
    let err = admin
        .list_members()
        .graph_arn(UNKNOWN_GRAPH)
        .send()
        .await
        .expect_err("unknown graph");
    assert!(err.request_id().is_some_and(|id| !id.is_empty()));
    let ok = admin.list_graphs().send().await.expect("ListGraphs");
    assert!(ok.request_id().is_some());
    emulator.shutdown().await;
}

#[tokio::test]
async fn non_account_access_keys_act_as_the_default_account() {
    let emulator = start_emulator().await;
    let url = emulator.endpoint_url();
    let anonymous = detective_client(&url, "AKIAIOSFODNN7EXAMPLE", REGION);
    let graph = create_graph(&anonymous).await;
    assert!(is_graph_arn(&graph, REGION, "123456789012"), "{graph}");

    emulator.merge_world(WorldPatch {
        default_account: Some("444455556666".to_owned()),
        ..WorldPatch::default()
    });
    let graph = create_graph(&anonymous).await;
    assert!(is_graph_arn(&graph, REGION, "444455556666"), "{graph}");
    emulator.shutdown().await;
}

#[tokio::test]
async fn calls_count_every_aws_request_including_refused_ones() {
    let (emulator, _, admin) = admin_emulator().await;
    admin.list_graphs().send().await.expect("ListGraphs");
    assert_refused(
        admin.list_graphs().max_results(0).send(),
        "ValidationException",
        "invalid",
    )
    .await;
    create_graph(&admin).await;
    let calls = emulator.calls();
    assert_eq!(calls.get("ListGraphs"), Some(&2));
    assert_eq!(calls.get("CreateGraph"), Some(&1));
    assert_eq!(calls.len(), 2);
    // Control endpoints are not AWS calls.
    http(&emulator.endpoint_url(), "GET", "/_emulator/state", None).await;
    assert_eq!(emulator.calls(), calls);
    emulator.reset_calls();
    assert!(emulator.calls().is_empty());
    emulator.shutdown().await;
}

/// Tag keys at and around the edges of Detective's pattern `^(?!aws:)[a-zA-Z+-=._:/]+$` (whose
/// `+-=` is the range 0x2B..=0x3D) and its length bounds, through CreateGraph, TagResource and
/// UntagResource: what the pattern admits round-trips, what it does not is a ValidationException.
#[tokio::test]
async fn tag_keys_are_checked_at_the_edges_of_the_service_pattern() {
    use aws_sdk_detective::operation::untag_resource::UntagResourceError;

    let (emulator, _, admin) = admin_emulator().await;
    let refused_keys = [
        "*".to_owned(),           // 0x2A, just below the range
        ">".to_owned(),           // 0x3E, just above it
        "cost center".to_owned(), // a space
        "hello!".to_owned(),
        "caf\u{e9}".to_owned(), // a non-ASCII letter
        "aws:owner".to_owned(),
        "k".repeat(129),
    ];
    for key in &refused_keys {
        // CreateGraph's model lists no ValidationException, so the SDK surfaces it unmodeled.
        let err = admin
            .create_graph()
            .tags(key, "v")
            .send()
            .await
            .expect_err("a refused key");
        assert_eq!(err.code(), Some("ValidationException"), "{key:?}: {err:?}");
        let message = err.message().unwrap_or_default();
        assert!(message.contains(&format!("Tags.{key}")), "{key:?}: {message}");
    }
    let graphs = admin.list_graphs().send().await.expect("ListGraphs");
    assert!(graphs.graph_list().is_empty(), "no refused CreateGraph made a graph");

    let graph = admin
        .create_graph()
        .tags("+", "first of the range")
        .send()
        .await
        .expect("CreateGraph with the key `+`")
        .graph_arn()
        .expect("arn")
        .to_owned();
    let admitted_keys = [
        "=".to_owned(),       // 0x3D, the range's last character
        "a,b;c<d".to_owned(), // comma, semicolon, less-than: inside the range
        "cost-center/0.x_y:z".to_owned(),
        "aws".to_owned(),   // the reserved prefix needs its colon
        "AWS:x".to_owned(), // and is case-sensitive
        "k".repeat(128),
    ];
    let mut tag = admin.tag_resource().resource_arn(&graph);
    for key in &admitted_keys {
        tag = tag.tags(key, "v");
    }
    tag.send().await.expect("TagResource with every admitted key");
    for key in &refused_keys {
        expect_validation!(
            admin.tag_resource().resource_arn(&graph).tags(key, "v").send().await,
            TagResourceError::ValidationException,
            ErrorCode::InvalidRequestBody,
            "Tags."
        );
        expect_validation!(
            admin.untag_resource().resource_arn(&graph).tag_keys(key).send().await,
            UntagResourceError::ValidationException,
            ErrorCode::InvalidRequestBody,
            "TagKeys[0]"
        );
    }
    let tags = tags_of(&admin, &graph).await;
    let mut expected: BTreeSet<String> = admitted_keys.iter().cloned().collect();
    expected.insert("+".to_owned());
    assert_eq!(
        tags.keys().cloned().collect::<BTreeSet<_>>(),
        expected,
        "refusals changed nothing"
    );

    let mut untag = admin.untag_resource().resource_arn(&graph);
    for key in &expected {
        untag = untag.tag_keys(key);
    }
    untag.send().await.expect("UntagResource with every admitted key");
    assert!(
        tags_of(&admin, &graph).await.is_empty(),
        "every key, `+` included, was removed"
    );

    // Values: 256 characters are admitted, 257 are not.
    admin
        .tag_resource()
        .resource_arn(&graph)
        .tags("team", "v".repeat(256))
        .send()
        .await
        .expect("a 256-character value");
    expect_validation!(
        admin
            .tag_resource()
            .resource_arn(&graph)
            .tags("team", "v".repeat(257))
            .send()
            .await,
        TagResourceError::ValidationException,
        ErrorCode::InvalidRequestBody,
        "Tags.team"
    );
    // Count: 50 tags in one request are admitted, 51 are not (nor 50 on top of one already set).
    let many = |count: usize| {
        (0..count).fold(admin.tag_resource().resource_arn(&graph), |request, i| {
            request.tags(format!("t{i}"), "v")
        })
    };
    expect_validation!(
        many(51).send().await,
        TagResourceError::ValidationException,
        ErrorCode::InvalidRequestBody,
        "Tags"
    );
    expect_validation!(
        many(50).send().await,
        TagResourceError::ValidationException,
        ErrorCode::InvalidRequestBody,
        "at most 50 tags"
    );
    admin
        .untag_resource()
        .resource_arn(&graph)
        .tag_keys("team")
        .send()
        .await
        .expect("UntagResource");
    many(50).send().await.expect("50 tags");
    assert_eq!(tags_of(&admin, &graph).await.len(), 50);
    emulator.shutdown().await;
}
