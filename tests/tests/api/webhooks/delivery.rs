//! What receivers are sent.
use super::*;

#[tokio::test]
async fn a_reported_incident_is_delivered_signed_with_ids_and_no_patient_or_free_text() {
    let app = spawn_webhook_app(|_| {}).await;
    let h = app.hospital().await;
    let (receiver, hook) = receiver_for(
        &app,
        &h.ada,
        json!(["INCIDENT_REPORTED", "INCIDENT_TRANSITIONED"]),
        json!({}),
    )
    .await;

    let incident = app
        .report_incident(
            &h.alice,
            with(
                incident_input(&h.cardiology),
                json!({ "patient": { "nhsNumber": "9434765919", "name": "Josephine Quillfeather", "dateOfBirth": "1950-03-04" } }),
            ),
        )
        .await;
    let got = receiver.wait_for(1).await;
    let d = &got[0];
    assert_eq!(
        d["verified"], true,
        "the signature checks out by the standard's own code: {d:#}"
    );
    assert_eq!(d["body"]["type"], "incident.reported");
    let inc = &d["body"]["data"]["incident"];
    assert_eq!(inc["id"], incident["id"]);
    assert_eq!(inc["reference"], incident["reference"]);
    assert_eq!(inc["department"]["code"], "CARD");
    assert_eq!(inc["physicalHarm"], "LOW");
    for header in ["webhook-id", "webhook-timestamp", "webhook-signature"] {
        assert!(d["headers"][header].is_string(), "{header}: {d:#}");
    }
    let text = d["body"].to_string();
    for secret in [
        "9434765919",
        "Quillfeather",
        "1950-03-04",
        "slid off",
        "trolley in corridor",
    ] {
        assert!(!text.contains(secret), "the payload holds {secret}: {text}");
    }
    assert!(
        d["body"]["data"]["changes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["field"] == "description"
                && c["sensitive"] == true
                && c.get("after").is_none()),
        "a change to free text is named, not shown: {text}"
    );

    // Not asked for: a triage is not sent; a transition is.
    app.triage(&h.quinn, &incident, json!({ "category": "Falls" }))
        .await;
    let current = app.incident(&h.quinn, &id(&incident)).await;
    app.transition(&h.quinn, &current, "INVESTIGATING").await;
    let got = receiver.wait_for(2).await;
    assert_eq!(got[1]["body"]["type"], "incident.transitioned");
    assert_eq!(got[1]["verified"], true);
    tokio::time::sleep(std::time::Duration::from_millis(800)).await;
    assert_eq!(receiver.requests().await.len(), 2);

    let w = log_until(&app, &h.ada, &hook["id"], |w| {
        w["deliveries"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|d| d["status"] == "DELIVERED")
            .count()
            == 2
    })
    .await;
    let ids: Vec<&Value> = got.iter().map(|d| &d["headers"]["webhook-id"]).collect();
    let logged: Vec<&Value> = w["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .map(|d| &d["messageId"])
        .collect();
    assert_eq!(ids, logged, "the log names what was sent");
}

#[tokio::test]
async fn filters_choose_departments_kinds_and_harm() {
    let app = spawn_webhook_app(|_| {}).await;
    let h = app.hospital().await;
    let (receiver, _) = receiver_for(
        &app,
        &h.ada,
        json!(["INCIDENT_REPORTED"]),
        json!({ "departmentIds": [h.neurology], "kinds": ["PATIENT_SAFETY"], "minHarm": "MODERATE" }),
    )
    .await;
    app.report_incident(
        &h.alice,
        with(
            incident_input(&h.cardiology),
            json!({ "physicalHarm": "SEVERE" }),
        ),
    )
    .await;
    app.report_incident(&h.alice, incident_input(&h.neurology))
        .await;
    app.report_incident(
        &h.alice,
        with(
            incident_input(&h.neurology),
            json!({ "kind": "EQUIPMENT", "physicalHarm": "SEVERE" }),
        ),
    )
    .await;
    let wanted = app
        .report_incident(
            &h.alice,
            with(
                incident_input(&h.neurology),
                json!({ "physicalHarm": "SEVERE" }),
            ),
        )
        .await;
    let got = receiver.wait_for(1).await;
    assert_eq!(got[0]["body"]["data"]["incident"]["id"], wanted["id"]);
    tokio::time::sleep(std::time::Duration::from_millis(800)).await;
    assert_eq!(receiver.requests().await.len(), 1);
}

#[tokio::test]
async fn an_action_assigned_is_delivered_with_its_incidents_reference() {
    let app = spawn_webhook_app(|_| {}).await;
    let h = app.hospital().await;
    let (receiver, _) = receiver_for(&app, &h.ada, json!(["ACTION_ASSIGNED"]), json!({})).await;
    let incident = app
        .report_incident(&h.alice, incident_input(&h.cardiology))
        .await;
    let action = app
        .create_corrective_action(
            &h.quinn,
            corrective_action_input(&id(&incident), "hana@candour.test"),
        )
        .await;
    let got = receiver.wait_for(1).await;
    let a = &got[0]["body"]["data"]["correctiveAction"];
    assert_eq!(got[0]["body"]["type"], "action.assigned");
    assert_eq!(a["id"], action["id"]);
    assert_eq!(a["incidentReference"], incident["reference"]);
    assert_eq!(a["ownerEmail"], "hana@candour.test");
}
