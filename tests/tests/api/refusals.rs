//! A refused request leaves nothing behind: not the record it would have made, and not the
//! person who asked. Someone Candour has never seen whose first request is refused (bad
//! input, not theirs to do, someone else's change first, not theirs to see) is still unknown
//! afterwards; their first request that succeeds records them, under a random id.
use candour_tests::*;
use sea_orm::{ConnectionTrait, Statement};
use serde_json::json;

/// The staff ids recorded for `subject` (none, or one).
async fn staff_ids(app: &TestApp, subject: &str) -> Vec<uuid::Uuid> {
    let db = app.db().await;
    let backend = db.get_database_backend();
    let rows = db
        .query_all(Statement::from_sql_and_values(
            backend,
            match backend {
                sea_orm::DbBackend::Postgres => "SELECT id FROM staff WHERE subject = $1",
                _ => "SELECT id FROM staff WHERE subject = ?",
            },
            [subject.into()],
        ))
        .await
        .unwrap();
    rows.iter()
        .map(|r| r.try_get::<uuid::Uuid>("", "id").unwrap())
        .collect()
}

async fn count(app: &TestApp, table: &str) -> i64 {
    let db = app.db().await;
    let backend = db.get_database_backend();
    let row = db
        .query_one(Statement::from_string(
            backend,
            format!("SELECT COUNT(*) AS n FROM {table}"),
        ))
        .await
        .unwrap()
        .unwrap();
    row.try_get::<i64>("", "n").unwrap()
}

#[tokio::test]
async fn a_first_request_that_is_refused_leaves_no_record_of_the_person() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let incident = app
        .report_incident(&h.alice, incident_input(&h.cardiology))
        .await;
    let incidents = count(&app, "incident").await;

    // Bad input: a report with a blank title, by someone never seen before.
    let zara = app.staff("zara");
    app.try_report_incident(
        &zara,
        with(incident_input(&h.cardiology), json!({ "title": "   " })),
    )
    .await
    .assert_error("BAD_USER_INPUT", Some("title"));
    assert!(
        staff_ids(&app, "zara").await.is_empty(),
        "zara is not recorded"
    );
    assert_eq!(
        count(&app, "incident").await,
        incidents,
        "no incident either"
    );

    // Not theirs to do: a department created by someone who is not an administrator.
    let yusuf = app.staff("yusuf");
    app.try_create_department(&yusuf, json!({ "code": "ONC", "name": "Oncology" }))
        .await
        .assert_error("FORBIDDEN", None);
    assert!(
        staff_ids(&app, "yusuf").await.is_empty(),
        "yusuf is not recorded"
    );

    // Someone else's change first: a triage at a version that is no longer current.
    let hal = app.handler("hal", &["CARD"]);
    app.try_triage(
        &hal,
        json!({ "incidentId": incident["id"], "expectedVersion": 99, "category": "Falls" }),
    )
    .await
    .assert_error("CONFLICT", None);
    assert!(
        staff_ids(&app, "hal").await.is_empty(),
        "hal is not recorded"
    );

    // Not theirs to see: another department's incident.
    let nadia = app.handler("nadia", &["NEUR"]);
    let resp = app
        .fetch_incident(&nadia, incident["id"].as_str().unwrap())
        .await;
    assert!(
        resp.data()["incident"].is_null() || resp.error_code().as_deref() == Some("NOT_FOUND"),
        "{resp:?}"
    );
    assert!(
        staff_ids(&app, "nadia").await.is_empty(),
        "nadia is not recorded"
    );

    // Their first request that succeeds records them, once, under a random (v4) id that
    // says nothing of when they were first seen.
    app.report_incident(&zara, incident_input(&h.cardiology))
        .await;
    let ids = staff_ids(&app, "zara").await;
    assert_eq!(ids.len(), 1, "zara is recorded once: {ids:?}");
    let id = ids[0];
    assert_eq!(
        id.get_version_num(),
        4,
        "a random id, not a time-ordered one: {id}"
    );
}
