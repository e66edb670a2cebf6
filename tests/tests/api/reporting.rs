//! Any member of staff reports an incident: what is kept, what is refused, and how a form
//! submitted twice, or many reports at once, behave.

use std::collections::HashSet;

use candour_tests::*;
use chrono::{Datelike, Duration, Utc};
use futures_util::future::join_all;
use serde_json::json;

async fn total_incidents_seen_by(app: &TestApp, token: &str) -> i64 {
    let resp = app
        .gql(Some(token), "{ incidents { totalCount } }", json!({}))
        .await;
    resp.assert_ok();
    resp.data()["incidents"]["totalCount"]
        .as_i64()
        .unwrap_or_else(|| panic!("totalCount missing: {resp}"))
}

#[tokio::test]
async fn a_staff_member_reports_an_incident_and_it_starts_reported_at_version_one() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let before = Utc::now();

    let incident = app
        .report_incident(&h.alice, incident_input(&h.cardiology))
        .await;

    assert_eq!(incident["status"], "REPORTED");
    assert_eq!(incident["version"], 1);
    assert_eq!(incident["title"], "Patient fell from trolley in corridor");
    assert_eq!(incident["department"]["id"], h.cardiology.as_str());
    assert_eq!(incident["department"]["code"], "CARD");
    assert_eq!(incident["anonymous"], false);
    assert_eq!(incident["reporter"]["name"], "Alice Test");
    assert!(incident["handler"].is_null(), "{incident}");
    assert!(incident["triagedAt"].is_null(), "{incident}");
    assert!(incident["closedAt"].is_null(), "{incident}");
    let reference = incident["reference"].as_str().expect("reference");
    assert!(
        is_reference_for_year(reference, Utc::now().year()),
        "reference {reference:?} is not INC-{}-NNNNNN",
        Utc::now().year()
    );
    let reported_at = parse_time(&incident["reportedAt"]);
    assert!(
        reported_at >= before - Duration::seconds(5)
            && reported_at <= Utc::now() + Duration::seconds(5),
        "reportedAt {reported_at} is not the time of reporting ({before})"
    );
}

#[tokio::test]
async fn the_reporter_can_read_back_their_own_report() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let reported = app
        .report_incident(&h.alice, incident_input(&h.cardiology))
        .await;

    let seen = app
        .incident(&h.alice, reported["id"].as_str().unwrap())
        .await;

    assert_eq!(seen["id"], reported["id"]);
    assert_eq!(seen["reference"], reported["reference"]);
    assert_eq!(seen["status"], "REPORTED");
}

#[tokio::test]
async fn every_reported_fact_is_kept_for_the_departments_handler() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let occurred_at = Utc::now() - Duration::days(1);
    let input = with(
        incident_input(&h.cardiology),
        json!({
            "title": "Defibrillator failed self-test",
            "description": "Daily check showed a battery fault on the ward defibrillator.",
            "occurredAt": rfc3339(occurred_at),
            "kind": "EQUIPMENT",
            "physicalHarm": "NONE",
            "psychologicalHarm": "LOW",
            "eventType": "RISK",
            "nearMiss": true,
            "location": "Ward 7, bay 2",
            "category": "Medical device",
            "immediateActions": "Swapped for the spare unit and labelled out of use.",
            "patient": { "nhsNumber": "9434765919", "name": "Jo Bloggs", "dateOfBirth": "1950-03-04" },
            "equipment": {
                "assetId": "MED-00042", "manufacturer": "Acme Medical",
                "model": "Shock 3000", "serialNumber": "SN-123-456"
            },
        }),
    );
    let reported = app.report_incident(&h.alice, input).await;

    let incident = app
        .incident_full(&h.hana, reported["id"].as_str().unwrap())
        .await;

    assert_eq!(incident["title"], "Defibrillator failed self-test");
    assert_eq!(
        incident["description"],
        "Daily check showed a battery fault on the ward defibrillator."
    );
    assert_eq!(
        parse_time(&incident["occurredAt"]).timestamp(),
        occurred_at.timestamp()
    );
    assert_eq!(incident["kind"], "EQUIPMENT");
    assert_eq!(incident["physicalHarm"], "NONE");
    assert_eq!(incident["psychologicalHarm"], "LOW");
    assert_eq!(incident["eventType"], "RISK");
    assert_eq!(incident["nearMiss"], true);
    assert_eq!(incident["location"], "Ward 7, bay 2");
    assert_eq!(incident["category"], "Medical device");
    assert_eq!(
        incident["immediateActions"],
        "Swapped for the spare unit and labelled out of use."
    );
    assert_eq!(incident["patient"]["nhsNumber"], "9434765919");
    assert_eq!(incident["patient"]["name"], "Jo Bloggs");
    assert_eq!(incident["patient"]["dateOfBirth"], "1950-03-04");
    assert_eq!(incident["equipment"]["assetId"], "MED-00042");
    assert_eq!(incident["equipment"]["manufacturer"], "Acme Medical");
    assert_eq!(incident["equipment"]["model"], "Shock 3000");
    assert_eq!(incident["equipment"]["serialNumber"], "SN-123-456");
    assert_eq!(incident["reporter"]["name"], "Alice Test");
    assert_eq!(incident["reporter"]["email"], "alice@candour.test");
}

#[tokio::test]
async fn optional_facts_take_their_defaults() {
    let app = spawn_app().await;
    let h = app.hospital().await;

    let incident = app
        .report_incident(&h.alice, incident_input(&h.cardiology))
        .await;

    assert_eq!(incident["eventType"], "INCIDENT");
    assert_eq!(incident["psychologicalHarm"], "NONE");
    assert_eq!(incident["nearMiss"], false);
    assert_eq!(incident["anonymous"], false);
}

#[tokio::test]
async fn anyone_signed_in_may_report_even_with_no_roles_in_their_token() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let no_roles = app.token(TokenSpec::person("porter", &[], &[]));

    let incident = app
        .report_incident(&no_roles, incident_input(&h.cardiology))
        .await;

    assert_eq!(incident["status"], "REPORTED");
    assert_eq!(incident["reporter"]["name"], "Porter Test");
}

#[tokio::test]
async fn a_report_needs_a_signed_in_user() {
    let app = spawn_app().await;
    let h = app.hospital().await;

    let resp = app
        .gql(
            None,
            "mutation($input: ReportIncidentInput!) { reportIncident(input: $input) { incident { id } } }",
            json!({ "input": incident_input(&h.cardiology) }),
        )
        .await;

    assert_eq!(resp.status, 200, "{resp}");
    resp.assert_error("UNAUTHENTICATED", None);
    assert_eq!(total_incidents_seen_by(&app, &h.quinn).await, 0);
}

#[tokio::test]
async fn a_report_without_a_title_is_refused_on_the_title_field() {
    let app = spawn_app().await;
    let h = app.hospital().await;

    for title in ["", "   \t "] {
        let resp = app
            .try_report_incident(
                &h.alice,
                with(incident_input(&h.cardiology), json!({ "title": title })),
            )
            .await;
        resp.assert_error("BAD_USER_INPUT", Some("title"));
    }
    assert_eq!(total_incidents_seen_by(&app, &h.quinn).await, 0);
}

#[tokio::test]
async fn a_title_may_be_200_characters_but_no_longer() {
    let app = spawn_app().await;
    let h = app.hospital().await;

    let too_long = app
        .try_report_incident(
            &h.alice,
            with(
                incident_input(&h.cardiology),
                json!({ "title": "x".repeat(201) }),
            ),
        )
        .await;
    too_long.assert_error("BAD_USER_INPUT", Some("title"));

    let longest = app
        .report_incident(
            &h.alice,
            with(
                incident_input(&h.cardiology),
                json!({ "title": "é".repeat(200) }),
            ),
        )
        .await;
    assert_eq!(longest["title"], "é".repeat(200));
}

#[tokio::test]
async fn a_report_without_a_description_is_refused_on_the_description_field() {
    let app = spawn_app().await;
    let h = app.hospital().await;

    for description in ["", "  \n  "] {
        let resp = app
            .try_report_incident(
                &h.alice,
                with(
                    incident_input(&h.cardiology),
                    json!({ "description": description }),
                ),
            )
            .await;
        resp.assert_error("BAD_USER_INPUT", Some("description"));
    }
}

#[tokio::test]
async fn an_incident_cannot_have_occurred_in_the_future() {
    let app = spawn_app().await;
    let h = app.hospital().await;

    let resp = app
        .try_report_incident(
            &h.alice,
            with(
                incident_input(&h.cardiology),
                json!({ "occurredAt": rfc3339(Utc::now() + Duration::hours(1)) }),
            ),
        )
        .await;

    resp.assert_error("BAD_USER_INPUT", Some("occurredAt"));
    assert_eq!(total_incidents_seen_by(&app, &h.quinn).await, 0);
}

#[tokio::test]
async fn a_reporter_whose_clock_runs_a_minute_fast_is_not_refused() {
    let app = spawn_app().await;
    let h = app.hospital().await;

    let incident = app
        .report_incident(
            &h.alice,
            with(
                incident_input(&h.cardiology),
                json!({ "occurredAt": rfc3339(Utc::now() + Duration::minutes(1)) }),
            ),
        )
        .await;

    assert_eq!(incident["status"], "REPORTED");
}

#[tokio::test]
async fn a_report_for_a_department_that_does_not_exist_is_refused() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    // A well-formed department id that only another Candour database knows.
    let elsewhere = spawn_app().await;
    let foreign_department = elsewhere
        .create_department(&elsewhere.admin("ada"), "CARD", "Cardiology")
        .await;
    // An id of the wrong kind of node.
    let incident = app
        .report_incident(&h.alice, incident_input(&h.cardiology))
        .await;

    for department_id in [
        foreign_department.as_str(),
        "not-a-department",
        incident["id"].as_str().unwrap(),
    ] {
        let resp = app
            .try_report_incident(
                &h.alice,
                with(
                    incident_input(&h.cardiology),
                    json!({ "departmentId": department_id }),
                ),
            )
            .await;
        resp.assert_error("BAD_USER_INPUT", Some("departmentId"));
    }
    assert_eq!(total_incidents_seen_by(&app, &h.quinn).await, 1);
}

#[tokio::test]
async fn psychological_harm_stops_at_severe() {
    let app = spawn_app().await;
    let h = app.hospital().await;

    let resp = app
        .try_report_incident(
            &h.alice,
            with(
                incident_input(&h.cardiology),
                json!({ "psychologicalHarm": "FATAL" }),
            ),
        )
        .await;
    resp.assert_error("BAD_USER_INPUT", Some("psychologicalHarm"));

    let severe = app
        .report_incident(
            &h.alice,
            with(
                incident_input(&h.cardiology),
                json!({ "psychologicalHarm": "SEVERE" }),
            ),
        )
        .await;
    assert_eq!(severe["psychologicalHarm"], "SEVERE");
}

#[tokio::test]
async fn an_nhs_number_must_be_ten_digits() {
    let app = spawn_app().await;
    let h = app.hospital().await;

    for nhs_number in ["12345", "94347659190", "943476591X", "abcdefghij"] {
        let resp = app
            .try_report_incident(
                &h.alice,
                with(
                    incident_input(&h.cardiology),
                    json!({ "patient": { "nhsNumber": nhs_number, "name": "Jo Bloggs" } }),
                ),
            )
            .await;
        resp.assert_error("BAD_USER_INPUT", Some("patient.nhsNumber"));
    }
    assert_eq!(total_incidents_seen_by(&app, &h.quinn).await, 0);
}

#[tokio::test]
async fn an_anonymous_report_does_not_record_who_made_it() {
    let app = spawn_app().await;
    let h = app.hospital().await;

    let resp = app
        .try_report_incident(
            &h.alice,
            with(incident_input(&h.cardiology), json!({ "anonymous": true })),
        )
        .await;
    resp.assert_ok();
    let incident = &resp.data()["reportIncident"]["incident"];
    assert_eq!(incident["anonymous"], true);
    assert!(incident["reporter"].is_null(), "{incident}");

    let id = incident["id"].as_str().unwrap();
    let as_quality_lead = app.incident(&h.quinn, id).await;
    assert_eq!(as_quality_lead["anonymous"], true);
    assert!(as_quality_lead["reporter"].is_null(), "{as_quality_lead}");
}

#[tokio::test]
async fn an_anonymous_reporter_gets_a_follow_up_code_instead() {
    let app = spawn_app().await;
    let h = app.hospital().await;

    let resp = app
        .try_report_incident(
            &h.alice,
            with(incident_input(&h.cardiology), json!({ "anonymous": true })),
        )
        .await;

    resp.assert_ok();
    let follow_up = resp.data()["reportIncident"]["followUpCode"]
        .as_str()
        .unwrap_or_default();
    assert!(
        !follow_up.trim().is_empty(),
        "an anonymous reporter gets a follow-up code to read feedback (DESIGN §4): {resp}"
    );
}

const FOLLOW_UP: &str = "query($code: String!) { followUp(code: $code) { reference status learningSummary feedbackToReporter closedAt } }";

#[tokio::test]
async fn the_follow_up_code_shows_status_and_feedback_without_signing_in() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let resp = app
        .try_report_incident(
            &h.alice,
            with(incident_input(&h.cardiology), json!({ "anonymous": true })),
        )
        .await;
    resp.assert_ok();
    let code = resp.data()["reportIncident"]["followUpCode"]
        .as_str()
        .expect("follow-up code")
        .to_string();
    let incident = resp.data()["reportIncident"]["incident"].clone();
    let reference = incident["reference"].as_str().unwrap().to_string();

    let before = app.gql(None, FOLLOW_UP, json!({ "code": code })).await;
    let seen = &before.assert_ok()["followUp"];
    assert_eq!(seen["reference"], reference.as_str());
    assert_eq!(seen["status"], "REPORTED");
    assert!(seen["feedbackToReporter"].is_null());

    app.close_low_harm(&h.quinn, &incident).await;
    // Typed by hand: lower case, spaces for dashes.
    let typed = code.to_lowercase().replace('-', " ");
    let after = app.gql(None, FOLLOW_UP, json!({ "code": typed })).await;
    let seen = &after.assert_ok()["followUp"];
    assert_eq!(seen["status"], "CLOSED");
    assert!(
        seen["feedbackToReporter"]
            .as_str()
            .is_some_and(|f| !f.is_empty()),
        "{after}"
    );
    assert!(seen["closedAt"].is_string());
}

#[tokio::test]
async fn an_unknown_follow_up_code_finds_nothing_and_named_reports_get_no_code() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let resp = app
        .try_report_incident(&h.alice, incident_input(&h.cardiology))
        .await;
    resp.assert_ok();
    assert!(resp.data()["reportIncident"]["followUpCode"].is_null());
    let unknown = app
        .gql(
            None,
            FOLLOW_UP,
            json!({ "code": "0000-0000-0000-0000-0000-0000-0000-0000" }),
        )
        .await;
    assert!(unknown.assert_ok()["followUp"].is_null());
    app.gql(None, FOLLOW_UP, json!({ "code": " " }))
        .await
        .assert_error("BAD_USER_INPUT", Some("code"));
}

#[tokio::test]
async fn an_anonymous_reporter_cannot_find_their_report_again_by_identity() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let incident = app
        .report_incident(
            &h.alice,
            with(incident_input(&h.cardiology), json!({ "anonymous": true })),
        )
        .await;
    let id = incident["id"].as_str().unwrap();

    let resp = app.fetch_incident(&h.alice, id).await;
    resp.assert_error("NOT_FOUND", None);
    assert!(resp.data()["incident"].is_null(), "{resp}");
    assert!(
        !app.visible_incident_ids(&h.alice)
            .await
            .contains(&id.to_string()),
        "an anonymous report must not be listed as the reporter's own"
    );
}

#[tokio::test]
async fn submitting_the_same_form_twice_returns_the_same_incident() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let input = with(
        incident_input(&h.cardiology),
        json!({ "idempotencyKey": "form-7f3c2a" }),
    );

    let first = app.report_incident(&h.alice, input.clone()).await;
    let second = app.report_incident(&h.alice, input).await;

    assert_eq!(first["id"], second["id"]);
    assert_eq!(first["reference"], second["reference"]);
    assert_eq!(total_incidents_seen_by(&app, &h.quinn).await, 1);
}

#[tokio::test]
async fn ten_simultaneous_submissions_with_one_key_make_one_incident() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let input = with(
        incident_input(&h.cardiology),
        json!({ "idempotencyKey": "double-click-0001" }),
    );

    let responses =
        join_all((0..10).map(|_| app.try_report_incident(&h.alice, input.clone()))).await;

    let mut ids = HashSet::new();
    for resp in &responses {
        resp.assert_ok();
        ids.insert(resp.data()["reportIncident"]["incident"]["id"].clone());
    }
    assert_eq!(
        ids.len(),
        1,
        "every submission returns the one incident: {ids:?}"
    );
    assert_eq!(total_incidents_seen_by(&app, &h.quinn).await, 1);
}

#[tokio::test]
async fn the_same_key_from_different_people_makes_different_incidents() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let input = with(
        incident_input(&h.cardiology),
        json!({ "idempotencyKey": "shared-key" }),
    );

    let alices = app.report_incident(&h.alice, input.clone()).await;
    let bobs = app.report_incident(&h.bob, input).await;

    assert_ne!(alices["id"], bobs["id"]);
    assert_ne!(alices["reference"], bobs["reference"]);
    assert_eq!(bobs["reporter"]["name"], "Bob Test");
    assert_eq!(total_incidents_seen_by(&app, &h.quinn).await, 2);
}

#[tokio::test]
async fn references_follow_the_order_of_reporting() {
    let app = spawn_app().await;
    let h = app.hospital().await;

    let mut references = Vec::new();
    for _ in 0..3 {
        let incident = app
            .report_incident(&h.alice, incident_input(&h.cardiology))
            .await;
        references.push(incident["reference"].as_str().unwrap().to_string());
    }

    let mut sorted = references.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(references, sorted, "references are a rising sequence");
}

#[tokio::test]
async fn thirty_people_reporting_at_once_all_get_distinct_references() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let tokens: Vec<String> = (0..30).map(|i| app.staff(&format!("nurse{i}"))).collect();

    let responses = join_all(
        tokens
            .iter()
            .map(|t| app.try_report_incident(t, incident_input(&h.cardiology))),
    )
    .await;

    let mut references = HashSet::new();
    for resp in &responses {
        resp.assert_ok();
        let reference = resp.data()["reportIncident"]["incident"]["reference"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(
            is_reference_for_year(&reference, Utc::now().year()),
            "{reference}"
        );
        references.insert(reference);
    }
    assert_eq!(references.len(), 30, "references collided: {references:?}");
    assert_eq!(total_incidents_seen_by(&app, &h.quinn).await, 30);
}

#[tokio::test]
async fn a_reporter_lists_only_their_own_named_reports() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let mine = app
        .report_incident(&h.alice, incident_input(&h.cardiology))
        .await;
    let _bobs = app
        .report_incident(&h.bob, incident_input(&h.cardiology))
        .await;

    let visible = app.visible_incident_ids(&h.alice).await;

    assert_eq!(visible, vec![mine["id"].as_str().unwrap().to_string()]);
}

#[tokio::test]
async fn references_continue_where_a_database_numbered_earlier_left_off() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    // A database whose references this year reached 41 under the per-year counter row
    // (as `candour seed` and earlier versions leave it).
    let year = london_today().year();
    let db = app.db().await;
    use sea_orm::ConnectionTrait;
    db.execute_unprepared(&format!(
        "INSERT INTO reference_counter (prefix, year, last_value) VALUES ('INC', {year}, 41)"
    ))
    .await
    .unwrap();
    db.close().await.ok();

    let mut references = Vec::new();
    for _ in 0..3 {
        let incident = app
            .report_incident(&h.alice, incident_input(&h.cardiology))
            .await;
        references.push(incident["reference"].as_str().unwrap().to_string());
    }
    assert_eq!(
        references,
        (42..45)
            .map(|n| format!("INC-{year}-{n:06}"))
            .collect::<Vec<_>>()
    );
}
