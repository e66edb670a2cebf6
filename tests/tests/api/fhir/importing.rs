//! Raising an incident from another system's AdverseEvent.
use super::*;

/// An AdverseEvent a LIMS might send: a blood-sample labelling error in cardiology.
fn lims_event(identifier: &str) -> Value {
    let base = "https://psims-uat.azure-api.net/taxonomy/fhir/StructureDefinition";
    json!({
        "resourceType": "AdverseEvent",
        "identifier": { "system": "urn:oid:1.2.826.0.1.999.lims", "value": identifier },
        "actuality": "actual",
        "event": { "coding": [{ "code": "1" }], "text": "Sample labelled with the wrong patient's details" },
        "text": {
            "status": "additional",
            "div": "<div xmlns=\"http://www.w3.org/1999/xhtml\"><p>Two samples were labelled at the bedside at once &amp; swapped.</p></div>",
        },
        "date": "2026-11-20T14:05:00Z",
        "contained": [
            { "resourceType": "Patient", "id": "patient1", "extension": [{
                "url": format!("{base}/patient-information-5"),
                "extension": [
                    { "url": "PatientSequence", "valueInteger": 1 },
                    { "url": "PhysicalHarm", "valueCode": "4" },
                    { "url": "PsychologicalHarm", "valueCode": "4" },
                ],
            }]},
            { "resourceType": "Location", "id": "location1",
              "identifier": [{ "system": "urn:candour:department", "value": "CARD" }] },
        ],
        "subject": { "reference": "#patient1" },
        "location": { "reference": "#location1" },
        "extension": [{
            "url": format!("{base}/adverse-event-agent-5"),
            "extension": [{ "url": "InvolvedAgents", "valueCode": "11" }],
        }],
    })
}

async fn incident_count(app: &TestApp, token: &str) -> usize {
    let resp = app
        .gql(
            Some(token),
            "{ incidents(first: 100) { edges { node { id } } } }",
            json!({}),
        )
        .await;
    resp.assert_ok()["incidents"]["edges"]
        .as_array()
        .unwrap()
        .len()
}

#[tokio::test]
async fn a_lims_raises_an_incident_once_however_often_it_sends_it() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let lims = app.service(&["incidents:write", "incidents:read"]);
    let event = lims_event("LAB-2026-0001");
    assert_valid(&[&event]);

    let created = app
        .fhir_post(Some(&lims), "/fhir/AdverseEvent", &event)
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let location = created.location.clone().expect("a Location header");
    assert_eq!(created.body["resourceType"], "AdverseEvent");
    assert_valid(&[&created.body]);
    let id = created.body["id"].as_str().unwrap().to_string();
    assert!(
        location.ends_with(&format!("/fhir/AdverseEvent/{id}")),
        "{location}"
    );

    // The same identifier again: the same incident, not a second one.
    let again = app
        .fhir_post(Some(&lims), "/fhir/AdverseEvent", &event)
        .await;
    assert_eq!(again.status, 200, "{}", again.body);
    assert_eq!(again.location.as_deref(), Some(location.as_str()));
    assert_eq!(incident_count(&app, &h.quinn).await, 1);

    // What the handler sees over GraphQL.
    let reference = created.body["identifier"]["value"]
        .as_str()
        .unwrap()
        .to_string();
    let resp = app
        .gql(
            Some(&h.hana),
            "query($r: String!) { incidentByReference(reference: $r) {
                title description occurredAt kind eventType physicalHarm department { code }
                lfpseAnswers { element values } } }",
            json!({ "r": reference }),
        )
        .await;
    let i = &resp.assert_ok()["incidentByReference"];
    assert_eq!(
        i["title"],
        "Sample labelled with the wrong patient's details"
    );
    // What happened, from the narrative, as it was written.
    assert_eq!(
        i["description"],
        "Two samples were labelled at the bedside at once & swapped."
    );
    assert_eq!(i["department"]["code"], "CARD");
    assert_eq!(i["physicalHarm"], "LOW");
    assert_eq!(i["kind"], "PATIENT_SAFETY");
    assert_eq!(
        parse_time(&i["occurredAt"]).to_rfc3339(),
        "2026-11-20T14:05:00+00:00"
    );
    assert_eq!(
        i["lfpseAnswers"],
        json!([{ "element": "AdverseEventAgent.InvolvedAgents", "values": ["11"] }])
    );
}

#[tokio::test]
async fn what_the_export_produced_imports_as_the_same_incident() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let original = app
        .report_incident(
            &h.alice,
            with(
                incident_input(&h.cardiology),
                json!({
                    "physicalHarm": "MODERATE",
                    "immediateActions": "Registrar called.",
                    "equipment": { "manufacturer": "Acme Medical", "model": "SP-100", "serialNumber": "SN-1" },
                    "lfpseAnswers": [{ "element": "AdverseEventGovernance.NeverEvent", "values": ["false"] }],
                }),
            ),
        )
        .await;
    let uuid = fhir_id(&app, &h.quinn, &id(&original)).await;
    let exported = app
        .fhir_get(Some(&h.quinn), &format!("/fhir/AdverseEvent/{uuid}"))
        .await
        .body;
    assert_valid(&[&exported]);

    // Another system holds it under its own identifier and sends it on.
    let mut sent = exported.clone();
    sent["identifier"] = json!({ "system": "urn:oid:1.2.826.0.1.999.epr", "value": "EPR-77" });
    let lims = app.service(&["incidents:write", "incidents:read"]);
    let created = app
        .fhir_post(Some(&lims), "/fhir/AdverseEvent", &sent)
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let imported = &created.body;

    // Everything but the identity and the times of recording is the same.
    let strip = |r: &Value| {
        let mut r = r.clone();
        for k in ["id", "identifier", "meta", "recordedDate"] {
            r.as_object_mut().unwrap().remove(k);
        }
        r
    };
    assert_eq!(strip(imported), strip(&exported));
}

#[tokio::test]
async fn bad_resources_are_refused_by_element_and_leave_nothing_behind() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let lims = app.service(&["incidents:write"]);
    let good = lims_event("LAB-1");
    let cases: Vec<(Value, &str)> = vec![
        (
            json!({ "resourceType": "Patient" }),
            "AdverseEvent.resourceType",
        ),
        (
            without(good.clone(), &["identifier"]),
            "AdverseEvent.identifier",
        ),
        (without(good.clone(), &["text"]), "AdverseEvent.text"),
        (
            with(
                good.clone(),
                json!({ "text": { "status": "additional", "div": "<div xmlns=\"http://www.w3.org/1999/xhtml\"><p> </p></div>" } }),
            ),
            "AdverseEvent.text",
        ),
        (without(good.clone(), &["subject"]), "AdverseEvent.subject"),
        (
            with(good.clone(), json!({ "actuality": "imagined" })),
            "AdverseEvent.actuality",
        ),
        (
            with(
                good.clone(),
                json!({ "event": { "coding": [{ "code": "9" }], "text": "x" } }),
            ),
            "AdverseEvent.event.coding",
        ),
        (
            with(good.clone(), json!({ "date": "yesterday" })),
            "AdverseEvent.date",
        ),
        (
            with(
                good.clone(),
                json!({ "location": { "reference": "#nowhere" } }),
            ),
            "AdverseEvent.location",
        ),
        (
            with(
                good.clone(),
                json!({ "extension": [{ "url": "https://example.org/x", "valueString": "y" }] }),
            ),
            "AdverseEvent.extension[0]",
        ),
    ];
    for (body, expression) in cases {
        let resp = app
            .fhir_post(Some(&lims), "/fhir/AdverseEvent", &body)
            .await;
        let at = resp.assert_outcome(400, "invalid");
        assert_eq!(at.as_deref(), Some(expression), "{}", resp.body);
    }
    // A department that does not exist, and a date in the future, refused by the service.
    let mut nowhere = good.clone();
    nowhere["contained"][1]["identifier"][0]["value"] = json!("NOPE");
    app.fhir_post(Some(&lims), "/fhir/AdverseEvent", &nowhere)
        .await
        .assert_outcome(400, "invalid");
    let future = with(good.clone(), json!({ "date": "2099-01-01T00:00:00Z" }));
    app.fhir_post(Some(&lims), "/fhir/AdverseEvent", &future)
        .await
        .assert_outcome(400, "invalid");

    // Who may import: service accounts with incidents:write only.
    let reader = app.service(&["incidents:read"]);
    app.fhir_post(Some(&reader), "/fhir/AdverseEvent", &good)
        .await
        .assert_outcome(403, "forbidden");
    app.fhir_post(Some(&h.alice), "/fhir/AdverseEvent", &good)
        .await
        .assert_outcome(403, "forbidden");
    app.fhir_post(None, "/fhir/AdverseEvent", &good)
        .await
        .assert_outcome(401, "login");
    let not_json = app
        .client
        .post(app.url("/fhir/AdverseEvent"))
        .bearer_auth(&lims)
        .header("Content-Type", "application/fhir+json")
        .body("{ not json")
        .send()
        .await
        .unwrap();
    assert_eq!(not_json.status(), 400);

    assert_eq!(
        incident_count(&app, &h.quinn).await,
        0,
        "nothing was recorded"
    );
}
