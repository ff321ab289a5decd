//! Datasource packages through the real `aws-sdk-detective` client: which packages a new graph
//! starts by itself (and a graph made before that default), UpdateDatasourcePackages starting
//! only what it names, each member's ingest state in ListMembers, and the member account's own
//! view (BatchGetMembershipDatasources).

mod fixtures;

use std::collections::BTreeMap;

use aws_sdk_detective::Client;
use aws_sdk_detective::types::{DatasourcePackage, DatasourcePackageIngestState as State};
use fixtures::{
    ADMIN, REGION, accept_invitation, admin_emulator, assert_refused, create_graph, detective_client, http, invite,
};

const MEMBER: &str = "222222222222";
const INVITED: &str = "333333333333";

use DatasourcePackage::{AsffSecurityhubFinding as Asff, DetectiveCore as Core, EksAudit as Eks};

/// The graph's package states (ListDatasourcePackages).
async fn graph_packages(admin: &Client, graph: &str) -> BTreeMap<String, State> {
    let output = admin
        .list_datasource_packages()
        .graph_arn(graph)
        .send()
        .await
        .expect("ListDatasourcePackages");
    output
        .datasource_packages()
        .into_iter()
        .flatten()
        .map(|(package, detail)| {
            let state = detail.datasource_package_ingest_state().expect("a state").clone();
            (package.as_str().to_owned(), state)
        })
        .collect()
}

/// One member's `DatasourcePackageIngestStates` (ListMembers).
async fn member_states(admin: &Client, graph: &str, account: &str) -> BTreeMap<String, State> {
    let output = admin.list_members().graph_arn(graph).send().await.expect("ListMembers");
    let member = output
        .member_details()
        .iter()
        .find(|m| m.account_id() == Some(account))
        .unwrap_or_else(|| panic!("{account} is a member"));
    member
        .datasource_package_ingest_states()
        .expect("ListMembers carries the ingest states")
        .iter()
        .map(|(package, state)| (package.as_str().to_owned(), state.clone()))
        .collect()
}

/// UpdateDatasourcePackages naming `packages`, which must succeed.
async fn start(admin: &Client, graph: &str, packages: &[DatasourcePackage]) {
    admin
        .update_datasource_packages()
        .graph_arn(graph)
        .set_datasource_packages(Some(packages.to_vec()))
        .send()
        .await
        .expect("UpdateDatasourcePackages");
}

fn states(core: State, eks: State, asff: State) -> BTreeMap<String, State> {
    BTreeMap::from([
        (Core.as_str().to_owned(), core),
        (Eks.as_str().to_owned(), eks),
        (Asff.as_str().to_owned(), asff),
    ])
}

#[tokio::test]
async fn a_graph_created_today_starts_every_package_by_itself() {
    let (emulator, _, admin) = admin_emulator().await;
    let graph = create_graph(&admin).await;
    // The Detective User Guide: EKS audit logs "enabled by default for new behavior graphs
    // created after July 26, 2022", AWS security findings "after May 16, 2023".
    assert_eq!(
        graph_packages(&admin, &graph).await,
        states(State::Started, State::Started, State::Started)
    );
    emulator.shutdown().await;
}

#[tokio::test]
async fn a_graph_from_before_the_defaults_starts_only_what_is_named() {
    let (emulator, url, admin) = admin_emulator().await;
    // Seeded through the control endpoint: a graph made in January 2022.
    let seed = || {
        let body =
            format!(r#"{{"administratorAccount":"{ADMIN}","region":"{REGION}","createdTime":"2022-01-01T00:00:00Z"}}"#);
        let url = url.clone();
        async move { http(&url, "POST", "/_emulator/graphs", Some(&body)).await }
    };
    let seeded = seed().await;
    assert_eq!(seeded.status, 200, "{}", seeded.body);
    let graph = seeded.json()["graphArn"].as_str().expect("graphArn").to_owned();
    let listed = admin.list_graphs().send().await.expect("ListGraphs");
    assert_eq!(
        listed.graph_list()[0].arn(),
        Some(graph.as_str()),
        "the account's graph"
    );
    assert_eq!(
        listed.graph_list()[0].created_time().map(|t| t.secs()),
        Some(1_640_995_200),
        "created when seeded"
    );
    assert_eq!(
        graph_packages(&admin, &graph).await,
        states(State::Started, State::Stopped, State::Stopped)
    );
    let again = seed().await;
    assert_eq!(again.status, 400, "one graph per account and Region: {}", again.body);

    // UpdateDatasourcePackages starts the packages it names and leaves the others alone.
    start(&admin, &graph, &[Eks]).await;
    assert_eq!(
        graph_packages(&admin, &graph).await,
        states(State::Started, State::Started, State::Stopped)
    );
    // Naming a started package again changes nothing; naming nothing is refused.
    start(&admin, &graph, &[Eks, Core]).await;
    assert_eq!(
        graph_packages(&admin, &graph).await,
        states(State::Started, State::Started, State::Stopped)
    );
    let member = detective_client(&url, MEMBER, REGION);
    // (the case, who asks, the packages named, the error code)
    for (case, client, packages, code) in [
        ("at least one package", &admin, vec![], "ValidationException"),
        (
            "an unknown package",
            &admin,
            vec![DatasourcePackage::from("S3_DATA_EVENTS")],
            "ValidationException",
        ),
        ("only the administrator", &member, vec![Asff], "AccessDeniedException"),
    ] {
        let update = client.update_datasource_packages().graph_arn(&graph);
        assert_refused(update.set_datasource_packages(Some(packages)).send(), code, case).await;
    }
    emulator.shutdown().await;
}

#[tokio::test]
async fn members_report_what_of_theirs_is_ingested_on_both_sides() {
    let (emulator, url, admin) = admin_emulator().await;
    let member = detective_client(&url, MEMBER, REGION);
    let graph = emulator.create_graph_at(ADMIN, REGION, "2022-01-01T00:00:00Z".parse().expect("a timestamp"));
    invite(&admin, &graph, MEMBER, "member@example.com").await;
    invite(&admin, &graph, INVITED, "invited@example.com").await;
    accept_invitation(&member, &graph).await;

    // An enabled member ingests what the graph ingests; an invited one nothing.
    assert_eq!(
        member_states(&admin, &graph, MEMBER).await,
        states(State::Started, State::Stopped, State::Stopped)
    );
    assert_eq!(
        member_states(&admin, &graph, INVITED).await,
        states(State::Disabled, State::Disabled, State::Disabled)
    );
    start(&admin, &graph, &[Eks]).await;
    assert_eq!(
        member_states(&admin, &graph, MEMBER).await,
        states(State::Started, State::Started, State::Stopped)
    );

    // The member account's own view: per package, when it entered each state.
    // BatchGetMembershipDatasources for this graph as `client`, which must succeed.
    let membership_datasources = async |client: &Client| {
        let answer = client
            .batch_get_membership_datasources()
            .graph_arns(&graph)
            .send()
            .await;
        answer.expect("BatchGetMembershipDatasources")
    };
    let own = membership_datasources(&member).await;
    assert!(own.unprocessed_graphs().is_empty());
    let [datasources] = own.membership_datasources() else {
        panic!("one graph: {own:?}")
    };
    assert_eq!(datasources.account_id(), Some(MEMBER));
    assert_eq!(datasources.graph_arn(), Some(graph.as_str()));
    let history = datasources.datasource_package_ingest_history().expect("a history");
    let latest: BTreeMap<String, State> = history
        .iter()
        .map(|(package, changes)| {
            let (state, _) = changes
                .iter()
                .max_by_key(|(_, at)| at.timestamp().map(|t| (t.secs(), t.subsec_nanos())))
                .expect("a state change");
            (package.as_str().to_owned(), state.clone())
        })
        .collect();
    assert_eq!(latest, states(State::Started, State::Started, State::Stopped));

    // A graph the caller is not a member of comes back unprocessed, with a reason.
    let elsewhere = membership_datasources(&detective_client(&url, "444444444444", REGION)).await;
    assert!(elsewhere.membership_datasources().is_empty());
    assert_eq!(elsewhere.unprocessed_graphs()[0].graph_arn(), Some(graph.as_str()));
    assert!(elsewhere.unprocessed_graphs()[0].reason().is_some());
    emulator.shutdown().await;
}
