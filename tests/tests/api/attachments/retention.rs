//! Files follow their record: disposed of with it, kept while it is held, and given to a
//! patient with their records in a subject-access report.

use super::*;

fn retention_now(s: &mut Settings) {
    s.retention.incident_years = 0;
    s.retention.audit_years = 0;
    s.retention.improvement_project_years = 0;
    s.retention.serious_incident_years = 20;
}

async fn dispose(app: &TestApp) -> Value {
    let ig = app.ig_officer("iris");
    let resp = app
        .gql(
            Some(&ig),
            "mutation { disposeDueRecords { incidents held } }",
            json!({}),
        )
        .await;
    resp.assert_ok()["disposeDueRecords"].clone()
}

#[tokio::test]
async fn a_disposed_incident_takes_its_files_and_its_actions_files_with_it() {
    let app = spawn_app_with(retention_now).await;
    let h = app.hospital().await;
    let up = app
        .upload_ok(&h.alice, "bed rail.png", fixture("tiny.png"))
        .await;
    let incident = report_with_files(&app, &h.alice, &h.cardiology, &[&id_of(&up)]).await;
    let incident = app.incident(&h.quinn, &id_of(&incident)).await;
    let action = app
        .create_corrective_action(
            &h.quinn,
            corrective_action_input(&id_of(&incident), "quinn@candour.test"),
        )
        .await;
    let proof = app.upload_ok(&h.quinn, "proof.pdf", pdf("done")).await;
    app.attach_files(&h.quinn, &id_of(&action), &[&id_of(&proof)])
        .await
        .assert_ok();
    app.update_action(&h.quinn, &action, json!({ "status": "COMPLETED" }))
        .await;
    let incident = app
        .triage(&h.quinn, &incident, json!({ "physicalHarm": "NONE" }))
        .await;
    app.close_low_harm(&h.quinn, &incident).await;
    assert_eq!(rows_in(&app, "attachment_chunk").await, 2);

    assert_eq!(dispose(&app).await["incidents"], 1);
    assert_eq!(
        rows_in(&app, "attachment_chunk").await,
        0,
        "the bytes are gone"
    );
    // The incident's file is gone with its words; the action (a tombstone the dashboard
    // still counts) says its file was disposed of.
    let got = app.download(Some(&h.quinn), &id_of(&up)).await;
    assert_eq!(got.status, 404);
    let got = app.download(Some(&h.quinn), &id_of(&proof)).await;
    assert_eq!(got.status, 409);
    got.json().assert_error("CONFLICT", None);
    let db = app.db().await;
    let names = db
        .query_all(Statement::from_string(
            db.get_database_backend(),
            "SELECT file_name, disposed_at FROM attachment".to_string(),
        ))
        .await
        .unwrap();
    assert_eq!(names.len(), 2);
    for r in names {
        assert_eq!(r.try_get::<String>("", "file_name").unwrap(), "disposed");
    }
    let history = app.history(&h.quinn, &id_of(&incident)).await;
    let disposed = history
        .iter()
        .find(|e| e["action"] == "incident.disposed")
        .unwrap();
    assert!(
        disposed["changes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["field"] == "attachments"),
        "{disposed}"
    );
}

#[tokio::test]
async fn a_held_incident_keeps_its_files() {
    let app = spawn_app_with(retention_now).await;
    let h = app.hospital().await;
    let up = app
        .upload_ok(&h.alice, "bed rail.png", fixture("tiny.png"))
        .await;
    let incident = report_with_files(&app, &h.alice, &h.cardiology, &[&id_of(&up)]).await;
    let incident = app.incident(&h.quinn, &id_of(&incident)).await;
    let incident = app
        .triage(&h.quinn, &incident, json!({ "physicalHarm": "NONE" }))
        .await;
    app.close_low_harm(&h.quinn, &incident).await;
    let ig = app.ig_officer("iris");
    app.gql(
        Some(&ig),
        "mutation($input: PlaceLegalHoldInput!) { placeLegalHold(input: $input) { legalHold { id } } }",
        json!({ "input": { "recordId": id_of(&incident), "reason": "Coroner's inquest" } }),
    )
    .await
    .assert_ok();
    assert_eq!(dispose(&app).await["held"], 1);
    let got = app.download(Some(&h.quinn), &id_of(&up)).await;
    assert_eq!(got.status, 200);
    assert_eq!(got.bytes, fixture("tiny.png"));
}

#[tokio::test]
async fn a_subject_access_report_gives_the_patient_their_records_files() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let up = app
        .upload_ok(&h.alice, "wound day 3.png", fixture("tiny.png"))
        .await;
    let incident = app
        .report_incident(
            &h.alice,
            with(
                incident_input(&h.cardiology),
                json!({ "attachmentIds": [id_of(&up)], "patient": { "nhsNumber": "9434765919" } }),
            ),
        )
        .await;
    let ig = app.ig_officer("iris");
    let resp = app
        .gql(
            Some(&ig),
            "query { subjectAccessReport(nhsNumber: \"943 476 5919\") { incidents { id attachments { id fileName downloadUrl } } } }",
            json!({}),
        )
        .await;
    let sar = resp.assert_ok()["subjectAccessReport"].clone();
    assert_eq!(sar["incidents"][0]["id"], id_of(&incident));
    let file = sar["incidents"][0]["attachments"][0].clone();
    assert_eq!(file["fileName"], "wound day 3.png");
    let got = app
        .download(Some(&ig), file["downloadUrl"].as_str().unwrap())
        .await;
    assert_eq!(got.status, 200, "{}", String::from_utf8_lossy(&got.bytes));
    assert_eq!(got.bytes, fixture("tiny.png"));
    // The opening is found by the next report, under the patient.
    let resp = app
        .gql(
            Some(&ig),
            "query { subjectAccessReport(nhsNumber: \"9434765919\") { accesses { recordId fields requestId } } }",
            json!({}),
        )
        .await;
    let accesses = resp.assert_ok()["subjectAccessReport"]["accesses"]
        .as_array()
        .unwrap()
        .clone();
    let request = got.header("x-request-id").unwrap();
    assert!(
        accesses
            .iter()
            .any(|a| a["requestId"] == request && a["recordId"] == id_of(&up)),
        "{accesses:?}"
    );
    // An IG officer opens no file of an incident that names no patient.
    let plain = app
        .upload_ok(&h.alice, "plain.png", fixture("tiny.png"))
        .await;
    report_with_files(&app, &h.alice, &h.cardiology, &[&id_of(&plain)]).await;
    assert_eq!(app.download(Some(&ig), &id_of(&plain)).await.status, 404);
}
