//! Who sees and does what: roles, department scoping by token claims, service-account
//! scopes, departments administration, and global ids.

use candour_tests::*;
use serde_json::{json, Value};

async fn reported_in(app: &TestApp, token: &str, department: &str) -> Value {
    app.report_incident(token, incident_input(department)).await
}

#[track_caller]
fn assert_not_found(resp: &GqlResponse, field: &str) {
    resp.assert_error("NOT_FOUND", None);
    assert!(
        resp.data().is_null() || resp.data()[field].is_null(),
        "nothing about the record is returned: {resp}"
    );
}

/// Roles as listed by `me`, without the STAFF role every signed-in person has implicitly
/// (whether `me` lists it is not part of the contract).
fn roles_apart_from_staff(roles: &Value) -> Vec<String> {
    let mut roles: Vec<String> = serde_json::from_value(roles.clone()).expect("roles list");
    roles.retain(|r| r != "STAFF");
    roles.sort();
    roles
}

async fn by_reference(app: &TestApp, token: &str, reference: &str) -> GqlResponse {
    app.gql(
        Some(token),
        "query($r: String!) { incidentByReference(reference: $r) { id reference } }",
        json!({ "r": reference }),
    )
    .await
}

async fn node(app: &TestApp, token: &str, id: &str) -> GqlResponse {
    app.gql(
        Some(token),
        "query($id: ID!) { node(id: $id) {
           __typename id
           ... on Incident { reference status }
           ... on Department { code name }
         } }",
        json!({ "id": id }),
    )
    .await
}

// --- incidents by role ---------------------------------------------------------------------

#[tokio::test]
async fn a_handler_sees_the_incidents_of_their_department() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let incident = reported_in(&app, &h.alice, &h.cardiology).await;
    let id = incident["id"].as_str().unwrap();

    let seen = app.incident(&h.hana, id).await;
    assert_eq!(seen["reference"], incident["reference"]);
    let by_ref = by_reference(&app, &h.hana, incident["reference"].as_str().unwrap()).await;
    assert_eq!(by_ref.assert_ok()["incidentByReference"]["id"], id);
    assert_eq!(
        app.visible_incident_ids(&h.hana).await,
        vec![id.to_string()]
    );
}

#[tokio::test]
async fn a_handler_cannot_see_another_departments_incident() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let cardiac = reported_in(&app, &h.alice, &h.cardiology).await;
    let neuro = reported_in(&app, &h.bob, &h.neurology).await;
    let id = cardiac["id"].as_str().unwrap();

    assert_not_found(&app.fetch_incident(&h.nina, id).await, "incident");
    assert_not_found(
        &by_reference(&app, &h.nina, cardiac["reference"].as_str().unwrap()).await,
        "incidentByReference",
    );
    let via_node = node(&app, &h.nina, id).await;
    assert!(via_node.data()["node"].is_null(), "{via_node}");
    assert!(!via_node
        .body
        .to_string()
        .contains(cardiac["reference"].as_str().unwrap()));

    assert_eq!(
        app.visible_incident_ids(&h.nina).await,
        vec![neuro["id"].as_str().unwrap().to_string()]
    );
    let count = app.list_incidents(&h.nina, json!({})).await;
    assert_eq!(count.assert_ok()["incidents"]["totalCount"], 1);
}

#[tokio::test]
async fn a_handler_for_two_departments_sees_both() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let a = reported_in(&app, &h.alice, &h.cardiology).await;
    let b = reported_in(&app, &h.alice, &h.neurology).await;
    let both = app.handler("harry", &["CARD", "NEUR"]);

    let mut visible = app.visible_incident_ids(&both).await;
    visible.sort();
    let mut expected = vec![
        a["id"].as_str().unwrap().to_string(),
        b["id"].as_str().unwrap().to_string(),
    ];
    expected.sort();
    assert_eq!(visible, expected);
}

#[tokio::test]
async fn a_handler_whose_token_names_no_department_sees_nothing() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let incident = reported_in(&app, &h.alice, &h.cardiology).await;
    let nowhere = app.handler("hugo", &["ONCO"]);

    assert_not_found(
        &app.fetch_incident(&nowhere, incident["id"].as_str().unwrap())
            .await,
        "incident",
    );
    assert!(app.visible_incident_ids(&nowhere).await.is_empty());
}

#[tokio::test]
async fn other_staff_cannot_see_someone_elses_report() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let incident = reported_in(&app, &h.alice, &h.cardiology).await;

    assert_not_found(
        &app.fetch_incident(&h.bob, incident["id"].as_str().unwrap())
            .await,
        "incident",
    );
    assert!(app.visible_incident_ids(&h.bob).await.is_empty());
}

#[tokio::test]
async fn the_reporter_sees_their_report_but_not_its_internal_comments() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let incident = reported_in(&app, &h.alice, &h.cardiology).await;
    let id = incident["id"].as_str().unwrap();

    let resp = app
        .gql(
            Some(&h.alice),
            "query($id: ID!) { incident(id: $id) { id reporter { name } comments { body } } }",
            json!({ "id": id }),
        )
        .await;

    assert_eq!(resp.data()["incident"]["id"], id, "{resp}");
    assert_eq!(resp.data()["incident"]["reporter"]["name"], "Alice Test");
    assert!(resp.data()["incident"]["comments"].is_null(), "{resp}");
}

#[tokio::test]
async fn a_quality_lead_sees_every_department() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let a = reported_in(&app, &h.alice, &h.cardiology).await;
    let b = reported_in(&app, &h.bob, &h.neurology).await;

    let mut visible = app.visible_incident_ids(&h.quinn).await;
    visible.sort();
    let mut expected = vec![
        a["id"].as_str().unwrap().to_string(),
        b["id"].as_str().unwrap().to_string(),
    ];
    expected.sort();
    assert_eq!(visible, expected);
    app.incident(&h.quinn, b["id"].as_str().unwrap()).await;
}

#[tokio::test]
async fn an_admin_sees_no_clinical_detail() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let incident = reported_in(&app, &h.alice, &h.cardiology).await;

    assert_not_found(
        &app.fetch_incident(&h.ada, incident["id"].as_str().unwrap())
            .await,
        "incident",
    );
    let list = app.list_incidents(&h.ada, json!({})).await;
    assert_eq!(list.assert_ok()["incidents"]["totalCount"], 0);
    assert!(node_ids(&list.data()["incidents"]).is_empty());
}

// --- service accounts ----------------------------------------------------------------------

#[tokio::test]
async fn a_reading_service_account_sees_every_incident_but_cannot_report() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let a = reported_in(&app, &h.alice, &h.cardiology).await;
    let b = reported_in(&app, &h.bob, &h.neurology).await;
    let reader = app.service(&["incidents:read"]);

    assert_eq!(app.visible_incident_ids(&reader).await.len(), 2);
    app.incident(&reader, a["id"].as_str().unwrap()).await;
    app.incident(&reader, b["id"].as_str().unwrap()).await;

    let resp = app
        .try_report_incident(&reader, incident_input(&h.cardiology))
        .await;
    resp.assert_error("FORBIDDEN", None);
    assert_eq!(app.visible_incident_ids(&h.quinn).await.len(), 2);
}

#[tokio::test]
async fn a_writing_service_account_may_report() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let writer = app.service(&["incidents:write"]);

    let incident = app
        .report_incident(&writer, incident_input(&h.cardiology))
        .await;

    assert_eq!(incident["status"], "REPORTED");
    assert_eq!(app.visible_incident_ids(&h.quinn).await.len(), 1);
}

#[tokio::test]
async fn a_service_accounts_roles_are_ignored() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let incident = reported_in(&app, &h.alice, &h.cardiology).await;
    let sneaky =
        app.token(TokenSpec::service(&["incidents:read"]).roles(&["admin", "quality_lead"]));

    let me = app
        .gql(Some(&sneaky), "{ me { serviceAccount scopes } }", json!({}))
        .await;
    assert_eq!(me.assert_ok()["me"]["serviceAccount"], true);
    assert_eq!(me.data()["me"]["scopes"], json!(["incidents:read"]));

    let create = app
        .try_create_department(&sneaky, json!({ "code": "ONCO", "name": "Oncology" }))
        .await;
    create.assert_error("FORBIDDEN", None);
    let transition = app
        .try_transition_to(&sneaky, &incident, "UNDER_REVIEW")
        .await;
    transition.assert_error("FORBIDDEN", None);
    assert_eq!(
        app.incident(&h.quinn, incident["id"].as_str().unwrap())
            .await["version"],
        1
    );
}

#[tokio::test]
async fn a_person_whose_token_has_non_candour_scopes_keeps_their_roles() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let incident = reported_in(&app, &h.alice, &h.cardiology).await;
    let quinn_via_sso = app.token(TokenSpec::quality_lead("quinn").scope("openid profile email"));

    let me = app
        .gql(
            Some(&quinn_via_sso),
            "{ me { serviceAccount roles } }",
            json!({}),
        )
        .await;
    assert_eq!(me.assert_ok()["me"]["serviceAccount"], false);
    assert_eq!(
        roles_apart_from_staff(&me.data()["me"]["roles"]),
        vec!["QUALITY_LEAD"]
    );
    let moved = app
        .transition(&quinn_via_sso, &incident, "UNDER_REVIEW")
        .await;
    assert_eq!(moved["status"], "UNDER_REVIEW");
}

// --- who am I ------------------------------------------------------------------------------

#[tokio::test]
async fn me_describes_the_signed_in_person() {
    let app = spawn_app().await;
    let hana = app.handler("hana", &["CARD", "NEUR"]);

    let resp = app
        .gql(
            Some(&hana),
            "{ me { subject name email roles departmentCodes scopes serviceAccount staff { id name email } } }",
            json!({}),
        )
        .await;

    let me = &resp.assert_ok()["me"];
    assert_eq!(me["subject"], "hana");
    assert_eq!(me["name"], "Hana Test");
    assert_eq!(me["email"], "hana@candour.test");
    assert_eq!(roles_apart_from_staff(&me["roles"]), vec!["HANDLER"]);
    let mut codes: Vec<String> = serde_json::from_value(me["departmentCodes"].clone()).unwrap();
    codes.sort();
    assert_eq!(codes, vec!["CARD", "NEUR"]);
    assert_eq!(me["scopes"], json!([]));
    assert_eq!(me["serviceAccount"], false);
    assert_eq!(me["staff"]["name"], "Hana Test");
    assert_eq!(me["staff"]["email"], "hana@candour.test");
    // Staff are upserted on first sight: the same person keeps the same id.
    assert_eq!(
        app.staff_id(&hana).await,
        me["staff"]["id"].as_str().unwrap()
    );
}

// --- departments ---------------------------------------------------------------------------

#[tokio::test]
async fn an_admin_creates_departments_that_everyone_signed_in_can_list() {
    let app = spawn_app().await;
    let ada = app.admin("ada");

    let resp = app
        .try_create_department(
            &ada,
            json!({ "code": "RAD", "name": "Radiology", "site": "City Hospital" }),
        )
        .await;
    let department = &resp.assert_ok()["createDepartment"]["department"];
    assert_eq!(department["code"], "RAD");
    assert_eq!(department["name"], "Radiology");
    assert_eq!(department["site"], "City Hospital");
    app.create_department(&ada, "CARD", "Cardiology").await;

    let list = app
        .gql(
            Some(&app.staff("alice")),
            "{ departments { id code name site } }",
            json!({}),
        )
        .await;
    let departments = list.assert_ok()["departments"].as_array().unwrap().clone();
    let mut codes: Vec<&str> = departments
        .iter()
        .map(|d| d["code"].as_str().unwrap())
        .collect();
    codes.sort();
    assert_eq!(codes, vec!["CARD", "RAD"]);
    let radiology = departments.iter().find(|d| d["code"] == "RAD").unwrap();
    assert_eq!(radiology["id"], department["id"]);
    assert_eq!(radiology["site"], "City Hospital");
}

#[tokio::test]
async fn only_an_admin_may_create_a_department() {
    let app = spawn_app().await;
    for token in [
        app.staff("alice"),
        app.handler("hana", &["CARD"]),
        app.quality_lead("quinn"),
        app.ig_officer("iggy"),
        app.service(&["incidents:read", "incidents:write"]),
    ] {
        let resp = app
            .try_create_department(&token, json!({ "code": "ONCO", "name": "Oncology" }))
            .await;
        resp.assert_error("FORBIDDEN", None);
    }
    let list = app
        .gql(
            Some(&app.admin("ada")),
            "{ departments { code } }",
            json!({}),
        )
        .await;
    assert_eq!(list.assert_ok()["departments"], json!([]));
}

#[tokio::test]
async fn a_department_code_is_unique() {
    let app = spawn_app().await;
    let ada = app.admin("ada");
    app.create_department(&ada, "CARD", "Cardiology").await;

    let resp = app
        .try_create_department(&ada, json!({ "code": "CARD", "name": "Cardiac surgery" }))
        .await;

    resp.assert_error("CONFLICT", None);
}

#[tokio::test]
async fn a_department_code_is_2_to_16_capitals_digits_dashes_or_underscores() {
    let app = spawn_app().await;
    let ada = app.admin("ada");

    for code in [
        "C",
        "CARD DEPT",
        "CARDIOLOGY-WEST-1",
        "CARD!",
        "CARD/1",
        "ÄRZTE",
        "",
    ] {
        let resp = app
            .try_create_department(&ada, json!({ "code": code, "name": "Somewhere" }))
            .await;
        resp.assert_error("BAD_USER_INPUT", Some("code"));
    }
    for code in ["C1", "CARDIOLOGY_WEST1", "A-B_9"] {
        app.create_department(&ada, code, "Somewhere").await;
    }
}

#[tokio::test]
async fn a_lowercase_department_code_is_refused_rather_than_rewritten() {
    let app = spawn_app().await;
    let ada = app.admin("ada");

    let resp = app
        .try_create_department(&ada, json!({ "code": "card", "name": "Cardiology" }))
        .await;

    resp.assert_error("BAD_USER_INPUT", Some("code"));
}

// --- global ids ----------------------------------------------------------------------------

#[tokio::test]
async fn node_fetches_incidents_and_departments_by_global_id() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let incident = reported_in(&app, &h.alice, &h.cardiology).await;

    let as_incident = node(&app, &h.hana, incident["id"].as_str().unwrap()).await;
    let n = &as_incident.assert_ok()["node"];
    assert_eq!(n["__typename"], "Incident");
    assert_eq!(n["id"], incident["id"]);
    assert_eq!(n["reference"], incident["reference"]);

    let as_department = node(&app, &h.alice, &h.cardiology).await;
    let n = &as_department.assert_ok()["node"];
    assert_eq!(n["__typename"], "Department");
    assert_eq!(n["code"], "CARD");
    assert_eq!(n["name"], "Cardiology");
}

#[tokio::test]
async fn a_garbage_global_id_is_refused_on_the_id_field() {
    let app = spawn_app().await;
    let h = app.hospital().await;

    for id in ["garbage", "", "SW5jaWRlbnQ6bm90LWEtdXVpZA=="] {
        let resp = node(&app, &h.quinn, id).await;
        resp.assert_error("BAD_USER_INPUT", Some("id"));
    }
}

#[tokio::test]
async fn an_incident_that_does_not_exist_is_not_found() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    // A well-formed incident id that only another Candour database knows.
    let elsewhere = spawn_app().await;
    let other = elsewhere.hospital().await;
    let foreign = elsewhere
        .report_incident(&other.alice, incident_input(&other.cardiology))
        .await;

    let resp = app
        .fetch_incident(&h.quinn, foreign["id"].as_str().unwrap())
        .await;

    assert_not_found(&resp, "incident");
}

#[tokio::test]
async fn an_unknown_reference_is_not_found() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    reported_in(&app, &h.alice, &h.cardiology).await;

    let resp = by_reference(&app, &h.quinn, "INC-1999-999999").await;

    assert_not_found(&resp, "incidentByReference");
}
