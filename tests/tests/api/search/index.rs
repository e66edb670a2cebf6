//! The index follows the records: a change is found at once, a refused change leaves the
//! index as it was, and disposal takes a record's words out of it.

use super::*;

#[tokio::test]
async fn a_change_is_found_at_once_and_the_old_words_are_gone() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let incident = app
        .report_incident(
            &h.alice,
            with(
                incident_input(&h.cardiology),
                json!({ "category": "Medication" }),
            ),
        )
        .await;
    let id = incident["id"].as_str().unwrap().to_string();
    assert_eq!(found(&app, &h.hana, "medication").await, vec![id.clone()]);

    let triaged = app
        .triage(
            &h.hana,
            &incident,
            json!({ "category": "Falls prevention" }),
        )
        .await;
    assert_eq!(found(&app, &h.hana, "prevention").await, vec![id.clone()]);
    assert!(found(&app, &h.hana, "medication").await.is_empty());

    // A stale change is refused, and the index keeps what is stored.
    let resp = app
        .try_triage(
            &h.hana,
            json!({ "incidentId": id, "expectedVersion": incident["version"], "category": "Nutrition" }),
        )
        .await;
    resp.assert_error("CONFLICT", None);
    assert!(found(&app, &h.hana, "nutrition").await.is_empty());
    assert_eq!(found(&app, &h.hana, "prevention").await, vec![id.clone()]);

    // A refused report leaves nothing to find.
    let resp = app
        .try_report_incident(
            &h.alice,
            with(
                incident_input(&h.cardiology),
                json!({ "title": "Quokka escaped", "physicalHarm": "SOMEWHAT" }),
            ),
        )
        .await;
    assert!(!resp.errors().is_empty(), "{resp}");
    assert!(found(&app, &h.quinn, "quokka").await.is_empty());
    let _ = triaged;
}

#[tokio::test]
async fn disposal_takes_a_records_words_out_of_the_index() {
    let app = spawn_app_with(|s| {
        s.retention.incident_years = 0;
        s.retention.audit_years = 0;
        s.retention.improvement_project_years = 0;
        s.retention.serious_incident_years = 20;
    })
    .await;
    let h = app.hospital().await;
    let incident = report(
        &app,
        &h.alice,
        &h.cardiology,
        "Walking frame collapsed",
        "The zircon-coloured frame folded as the patient stood.",
    )
    .await;
    let incident = app
        .incident(&h.quinn, incident["id"].as_str().unwrap())
        .await;
    let incident = app
        .triage(&h.quinn, &incident, json!({ "physicalHarm": "NONE" }))
        .await;
    let closed = app.close_low_harm(&h.quinn, &incident).await;
    let id = closed["id"].as_str().unwrap().to_string();
    assert_eq!(found(&app, &h.quinn, "zircon").await, vec![id.clone()]);
    assert_eq!(
        found(&app, &h.quinn, "walking frame").await,
        vec![id.clone()]
    );

    let ig = app.ig_officer("iris");
    let resp = app
        .gql(
            Some(&ig),
            "mutation { disposeDueRecords { incidents } }",
            json!({}),
        )
        .await;
    assert_eq!(
        resp.assert_ok()["disposeDueRecords"]["incidents"],
        1,
        "{resp}"
    );

    for words in ["zircon", "walking frame", "collapsed", "patient"] {
        assert!(
            found(&app, &h.quinn, words).await.is_empty(),
            "{words} was disposed of"
        );
    }
    // The tombstone is still found by its reference, with nothing of what was disposed.
    let hits = hits(&app, &h.quinn, closed["reference"].as_str().unwrap()).await;
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0]["record"]["id"], id.as_str());
    assert_eq!(fields(&hits[0]), vec!["reference"]);
}
