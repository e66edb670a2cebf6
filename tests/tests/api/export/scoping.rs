//! Who gets which rows and which cells, and the access log of what was sent.

use std::collections::BTreeSet;

use super::*;

#[tokio::test]
async fn a_handlers_export_holds_only_their_departments_incidents_and_their_own_reports() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let cardiac = report(&app, &h.alice, &h.cardiology, json!({})).await;
    let neuro = report(&app, &h.bob, &h.neurology, json!({})).await;
    // Hana, a cardiology handler, reported one in neurology herself.
    let hanas_own = report(&app, &h.hana, &h.neurology, json!({})).await;

    let hana: BTreeSet<String> = app
        .export(&h.hana, "incidents.csv", Value::Null)
        .await
        .column("id")
        .into_iter()
        .collect();
    assert_eq!(hana, ids(&[&cardiac, &hanas_own]));
    assert_eq!(
        hana,
        app.list_ids(
            &h.hana,
            "incidents",
            ("IncidentFilter", None),
            &Value::Null,
            &Value::Null
        )
        .await
        .into_iter()
        .collect(),
        "the export holds what the list shows"
    );

    let nina: BTreeSet<String> = app
        .export(&h.nina, "incidents.csv", Value::Null)
        .await
        .column("id")
        .into_iter()
        .collect();
    assert_eq!(nina, ids(&[&neuro, &hanas_own]));

    let quinn = app.export(&h.quinn, "incidents.csv", Value::Null).await;
    assert_eq!(
        quinn.rows().len(),
        3,
        "a quality lead exports every department"
    );

    let alice = app.export(&h.alice, "incidents.csv", Value::Null).await;
    assert_eq!(
        alice.column("id"),
        vec![id(&cardiac)],
        "staff export their own reports"
    );

    // Asking for another department by its id gives nothing of it.
    let other = app
        .export(
            &h.hana,
            "incidents.csv",
            json!({ "departmentId": h.neurology }),
        )
        .await;
    assert_eq!(other.column("id"), vec![id(&hanas_own)]);
}

#[tokio::test]
async fn every_sensitive_cell_sent_is_logged_once_per_record_with_the_stated_purpose() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let with_patient = report_with_patient(&app, &h.alice, &h.cardiology).await;
    let plain = report(&app, &h.bob, &h.cardiology, json!({})).await;
    report(&app, &h.bob, &h.neurology, json!({})).await;

    let file = app
        .export_with(
            Some(&h.hana),
            "incidents.csv",
            &Value::Null,
            &Value::Null,
            &[("x-access-purpose", "monthly governance report")],
        )
        .await;
    let rows = file.rows();
    assert_eq!(rows.len(), 2);
    let row = rows.iter().find(|r| r["id"] == id(&with_patient)).unwrap();
    assert_eq!(row["patientNhsNumber"], NHS);
    assert_eq!(row["patientName"], PATIENT_NAME);
    assert_eq!(row["patientDateOfBirth"], PATIENT_DOB);
    assert_eq!(
        row["immediateActions"],
        "Rails raised; patient checked by the registrar."
    );
    assert!(!row["description"].is_empty());
    let row = rows.iter().find(|r| r["id"] == id(&plain)).unwrap();
    assert_eq!(row["patientNhsNumber"], "");
    assert_eq!(row["immediateActions"], "");

    let purpose = Some("monthly governance report".to_string());
    let mut want = vec![
        (
            id(&with_patient),
            vec![
                "description".into(),
                "immediateActions".into(),
                "patient".into(),
            ],
            purpose.clone(),
        ),
        (id(&plain), vec!["description".to_string()], purpose.clone()),
    ];
    want.sort();
    assert_eq!(
        reads_in(&app, &request_id(&file)).await,
        want,
        "one event per record, naming exactly the sensitive cells sent, none for the department not exported"
    );
}

#[tokio::test]
async fn a_reporter_gets_their_own_words_but_blank_patient_cells_and_no_patient_read_is_logged() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let mine = report_with_patient(&app, &h.alice, &h.cardiology).await;

    let file = app.export(&h.alice, "incidents.csv", Value::Null).await;
    let rows = file.rows();
    assert_eq!(rows.len(), 1);
    let row = &rows[0];
    assert_eq!(row["id"], id(&mine));
    assert!(
        !row["description"].is_empty(),
        "the reporter reads their own words"
    );
    for cell in ["patientNhsNumber", "patientName", "patientDateOfBirth"] {
        assert_eq!(row[cell], "", "{cell} is not the reporter's to read");
    }
    assert!(
        !String::from_utf8_lossy(&file.bytes).contains(NHS)
            && !String::from_utf8_lossy(&file.bytes).contains(PATIENT_NAME),
        "no patient detail anywhere in the file"
    );
    assert_eq!(
        reads_in(&app, &request_id(&file)).await,
        vec![(
            id(&mine),
            vec!["description".to_string(), "immediateActions".to_string()],
            None
        )],
        "the patient details were not read, so no read of them is logged"
    );
}

#[tokio::test]
async fn an_export_whose_reads_cannot_be_logged_sends_none_of_them() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    report_with_patient(&app, &h.alice, &h.cardiology).await;
    // Behind the API: the access log can no longer be written.
    let db = app.db().await;
    sea_orm::ConnectionTrait::execute_unprepared(
        &db,
        "ALTER TABLE access_event RENAME TO access_event_away",
    )
    .await
    .unwrap();
    db.close().await.ok();

    let file = app.export(&h.hana, "incidents.csv", Value::Null).await;
    assert_eq!(file.status, 500);
    file.refusal().assert_error("INTERNAL", None);
    let text = String::from_utf8_lossy(&file.bytes);
    assert!(
        !text.contains(NHS) && !text.contains(PATIENT_NAME) && !text.contains("trolley"),
        "nothing read is sent: {text}"
    );
}

#[tokio::test]
async fn an_action_export_logs_each_actions_free_text_once() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let incident = report(&app, &h.alice, &h.cardiology, json!({})).await;
    let action = app
        .create_corrective_action(
            &h.hana,
            corrective_action_input(&id(&incident), "alice@candour.test"),
        )
        .await;
    let neuro = report(&app, &h.bob, &h.neurology, json!({})).await;
    app.create_corrective_action(
        &h.nina,
        corrective_action_input(&id(&neuro), "bob@candour.test"),
    )
    .await;

    let file = app
        .export(&h.hana, "corrective-actions.csv", Value::Null)
        .await;
    let rows = file.rows();
    assert_eq!(rows.len(), 1, "only the department's actions");
    assert_eq!(rows[0]["id"], id(&action));
    assert_eq!(
        rows[0]["description"],
        "Add trolley rails to the handover checklist and audit it weekly."
    );
    assert_eq!(rows[0]["raisedFrom"], "INCIDENT");
    assert_eq!(rows[0]["departmentCode"], "CARD");
    assert_eq!(
        reads_in(&app, &request_id(&file)).await,
        vec![(id(&action), vec!["description".to_string()], None)]
    );
}
