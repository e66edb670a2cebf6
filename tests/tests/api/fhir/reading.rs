//! Reading one incident as an AdverseEvent.
use super::*;

/// A report with everything LFPSE maps: a patient, equipment and answers to the national
/// form's questions.
fn full_report(department: &str) -> Value {
    with(
        incident_input(department),
        json!({
            "occurredAt": "2026-03-10T09:30:00Z",
            "physicalHarm": "MODERATE",
            "psychologicalHarm": "LOW",
            "immediateActions": "Infusion stopped and the registrar called.",
            "patient": { "nhsNumber": NHS, "name": PATIENT_NAME, "dateOfBirth": PATIENT_DOB },
            "equipment": { "assetId": "CE-0042", "manufacturer": "Acme Medical", "model": "SP-100", "serialNumber": "SN-77" },
            "lfpseAnswers": [
                { "element": "AdverseEventAgent.InvolvedAgents", "values": ["4"] },
                { "element": "AdverseEventGovernance.NeverEvent", "values": ["false"] },
                { "element": "AdverseEventClassification.LevelOfConcern", "values": ["4"] },
            ],
        }),
    )
}

#[tokio::test]
async fn a_handler_reads_an_incident_as_a_valid_lfpse_adverse_event_without_identifiers() {
    let app = spawn_app_with(|s| s.lfpse.ods_code = Some("RGT".into())).await;
    let h = app.hospital().await;
    let incident = app
        .report_incident(&h.alice, full_report(&h.cardiology))
        .await;
    let fid = fhir_id(&app, &h.hana, &id(&incident)).await;

    let resp = app
        .fhir_get(Some(&h.hana), &format!("/fhir/AdverseEvent/{fid}"))
        .await;
    assert_eq!(resp.status, 200, "{}", resp.body);
    assert!(
        resp.content_type.starts_with("application/fhir+json"),
        "{}",
        resp.content_type
    );
    let r = &resp.body;
    assert_valid(&[r]);

    assert_eq!(r["resourceType"], "AdverseEvent");
    assert_eq!(r["id"], fid);
    assert!(
        r["meta"]["profile"][0]
            .as_str()
            .unwrap()
            .ends_with("/StructureDefinition/patient-safety-adverse-event-5"),
        "{r}"
    );
    assert_eq!(r["identifier"]["value"], reference_of(&incident));
    assert_eq!(
        r["event"]["coding"][0]["code"], "1",
        "INCIDENT is LFPSE event type 1"
    );
    assert_eq!(r["actuality"], "actual");
    assert_eq!(r["date"], "2026-03-10T09:30:00Z");
    // What happened is the narrative: R4's AdverseEvent has no element for it.
    assert_eq!(r["text"]["status"], "additional");
    let div = r["text"]["div"].as_str().unwrap();
    let description = incident_input("x")["description"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        div.starts_with("<div xmlns=\"http://www.w3.org/1999/xhtml\">")
            && div.contains(&description),
        "{div}"
    );
    assert!(r.get("description").is_none());

    // The patient by harm and age in days, never by identity.
    let patient = contained(r, "patient1");
    assert_eq!(
        values(patient, "patient-information", "PhysicalHarm"),
        [json!("3")]
    );
    assert_eq!(
        values(patient, "patient-information", "PsychologicalHarm"),
        [json!("3")]
    );
    let age = (chrono::NaiveDate::from_ymd_opt(2026, 3, 10).unwrap()
        - chrono::NaiveDate::from_ymd_opt(1950, 3, 4).unwrap())
    .num_days();
    assert_eq!(
        values(patient, "patient-information", "AgeAtTimeOfIncidentDays"),
        [json!(age)]
    );
    let text = r.to_string();
    for secret in [NHS, PATIENT_NAME, PATIENT_DOB, "alice"] {
        assert!(
            !text.contains(secret),
            "{secret} is in the resource: {text}"
        );
    }

    // The reporter by organisation only; the site falls back to the trust's code.
    let practitioner = contained(r, "practitioner1");
    assert_eq!(
        values(practitioner, "practitioner-details", "ReporterOrganisation"),
        [json!("RGT")]
    );
    assert_eq!(
        values(
            contained(r, "location1"),
            "location-details",
            "Organisation"
        ),
        [json!("RGT")]
    );
    assert_eq!(contained(r, "location1")["identifier"][0]["value"], "CARD");

    // The device, and the answers merged with what Candour knows (a device was involved).
    let device = contained(r, "device1");
    assert_eq!(device["serialNumber"], "SN-77");
    assert_eq!(r["suspectEntity"][0]["instance"]["reference"], "#device1");
    let agents = values(r, "adverse-event-agent", "InvolvedAgents");
    assert!(
        agents.contains(&json!("3")) && agents.contains(&json!("4")),
        "{agents:?}"
    );
    assert_eq!(
        values(r, "adverse-event-governance", "NeverEvent"),
        [json!(false)]
    );
    assert_eq!(
        values(r, "adverse-event-classification", "LevelOfConcern"),
        [json!("4")]
    );
    assert_eq!(
        values(r, "adverse-event-reference-metadata", "IsAnonymous"),
        [json!(false)]
    );
    assert_eq!(
        values(r, "adverse-event-reference-metadata", "DataSharingOptOut"),
        [json!(false)]
    );
    assert_eq!(
        values(r, "adverse-event-outcome", "ImmediateActions"),
        [json!("Infusion stopped and the registrar called.")]
    );

    // The read of the description and the patient's age is on record, against the handler.
    let reads = reads_of(&app, &id(&incident)).await;
    assert!(
        reads
            .iter()
            .any(|(fields, who)| fields.contains("description")
                && fields.contains("patient")
                && who.contains("hana")),
        "the FHIR read is in the access log: {reads:?}"
    );

    // GraphQL's `fhir` is the same resource.
    let gql = app
        .gql(
            Some(&h.hana),
            "query($id: ID!) { incident(id: $id) { fhir } }",
            json!({ "id": id(&incident) }),
        )
        .await;
    assert_eq!(&gql.assert_ok()["incident"]["fhir"], r);
}

#[tokio::test]
async fn duty_of_candour_and_harm_confirmed_at_triage_reach_the_resource() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let incident = app
        .report_incident(&h.alice, full_report(&h.cardiology))
        .await;
    let resp = app
        .gql(
            Some(&h.hana),
            "mutation($input: TriageIncidentInput!) { triageIncident(input: $input) { incident { version fhir } } }",
            json!({ "input": {
                "incidentId": id(&incident),
                "expectedVersion": 1,
                "physicalHarm": "SEVERE",
                "dutyOfCandourApplies": true,
                "regulatoryFacts": ["BLOOD_COMPONENT"],
                "lfpseAnswers": [{ "element": "AdverseEventGovernance.SeriousIncident", "values": ["true"] }],
            } }),
        )
        .await;
    let r = resp.assert_ok()["triageIncident"]["incident"]["fhir"].clone();
    assert_valid(&[&r]);
    assert_eq!(
        values(&r, "adverse-event-governance", "DutyOfCandour"),
        [json!(true)]
    );
    assert_eq!(
        values(&r, "adverse-event-governance", "SeriousIncident"),
        [json!(true)]
    );
    // A SABRE incident involved blood (agent 11).
    assert!(
        values(&r, "adverse-event-agent", "InvolvedAgents").contains(&json!("11")),
        "{r}"
    );
    // Triage replaced the answers: the earlier NeverEvent answer is gone.
    assert!(
        values(&r, "adverse-event-governance", "NeverEvent").is_empty(),
        "{r}"
    );
    assert_eq!(
        values(
            contained(&r, "patient1"),
            "patient-information",
            "PhysicalHarm"
        ),
        [json!("2")]
    );
    assert_eq!(r["meta"]["versionId"], "2");
}

#[tokio::test]
async fn answers_are_checked_against_the_taxonomy_by_element() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    for (answers, reason) in [
        (
            json!([{ "element": "AdverseEventGovernance.NoSuchThing", "values": ["true"] }]),
            "UNKNOWN",
        ),
        (
            json!([{ "element": "AdverseEventGovernance.NeverEventType", "values": ["99"] }]),
            "UNKNOWN",
        ),
        (
            json!([{ "element": "AdverseEventGovernance.NeverEvent", "values": ["maybe"] }]),
            "MALFORMED",
        ),
        (
            json!([{ "element": "AdverseEventGovernance.DutyOfCandour", "values": ["true"] }]),
            "NOT_ALLOWED",
        ),
        (
            json!([{ "element": "AdverseEventRiskDetails.RiskDescription", "values": ["words"] }]),
            "NOT_ALLOWED",
        ),
        (
            json!([
                { "element": "AdverseEventGovernance.NeverEvent", "values": ["true"] },
                { "element": "AdverseEventGovernance.NeverEvent", "values": ["false"] },
            ]),
            "DUPLICATE",
        ),
        (
            json!([{ "element": "AdverseEventGovernance.NeverEvent", "values": ["true", "false"] }]),
            "TOO_LONG",
        ),
    ] {
        let resp = app
            .try_report_incident(
                &h.alice,
                with(
                    incident_input(&h.cardiology),
                    json!({ "lfpseAnswers": answers }),
                ),
            )
            .await;
        resp.assert_error("BAD_USER_INPUT", Some("lfpseAnswers"));
        assert_eq!(
            resp.errors()[0]["extensions"]["reason"],
            reason,
            "{answers}: {resp}"
        );
    }
    // Nothing was reported by any of them.
    let list = app
        .gql(
            Some(&h.quinn),
            "{ incidents(first: 5) { edges { node { id } } } }",
            json!({}),
        )
        .await;
    assert_eq!(list.assert_ok()["incidents"]["edges"], json!([]));
}

#[tokio::test]
async fn reads_are_scoped_and_every_refusal_is_an_operation_outcome() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let incident = app
        .report_incident(&h.alice, full_report(&h.cardiology))
        .await;
    let fid = fhir_id(&app, &h.hana, &id(&incident)).await;
    let path = format!("/fhir/AdverseEvent/{fid}");

    // No token, a bad token: 401 with a Bearer challenge.
    let none = app.fhir_get(None, &path).await;
    none.assert_outcome(401, "login");
    let bad = app.fhir_get(Some("not-a-token"), &path).await;
    bad.assert_outcome(401, "login");

    // Another department's handler: not found, as over GraphQL.
    app.fhir_get(Some(&h.nina), &path)
        .await
        .assert_outcome(404, "not-found");
    // A service account without incidents:read is forbidden; with it, reads.
    let writer = app.service(&["incidents:write"]);
    app.fhir_get(Some(&writer), &path)
        .await
        .assert_outcome(403, "forbidden");
    let reader = app.service(&["incidents:read"]);
    let read = app.fhir_get(Some(&reader), &path).await;
    assert_eq!(read.status, 200, "{}", read.body);
    assert_valid(&[&read.body]);

    // Unknown and malformed ids, unknown types and interactions.
    let missing = format!("/fhir/AdverseEvent/{}", uuid_v4_like());
    app.fhir_get(Some(&h.quinn), &missing)
        .await
        .assert_outcome(404, "not-found");
    app.fhir_get(Some(&h.quinn), "/fhir/AdverseEvent/not-a-uuid")
        .await
        .assert_outcome(404, "not-found");
    app.fhir_get(Some(&h.quinn), "/fhir/Patient/1")
        .await
        .assert_outcome(404, "not-found");
    let delete = app
        .client
        .delete(app.url(&path))
        .bearer_auth(&h.quinn)
        .send()
        .await
        .unwrap();
    assert_eq!(delete.status(), 405);

    // The metadata is a valid CapabilityStatement naming the profile and the interactions.
    let meta = app.fhir_get(None, "/fhir/metadata").await;
    assert_eq!(meta.status, 200);
    assert_valid(&[&meta.body]);
    assert_eq!(meta.body["fhirVersion"], "4.0.1");
    let res = &meta.body["rest"][0]["resource"][0];
    assert_eq!(res["type"], "AdverseEvent");
    let interactions: Vec<&str> = res["interaction"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["code"].as_str().unwrap())
        .collect();
    assert_eq!(interactions, ["read", "search-type", "create"]);
}

#[tokio::test]
async fn a_viewer_who_may_not_read_patient_details_gets_no_age_and_no_description() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    // An anonymous report: its reporter keeps nothing, and the resource says so.
    let anonymous = app
        .report_incident(
            &h.alice,
            with(full_report(&h.cardiology), json!({ "anonymous": true, "idempotencyKey": "0b8e4e4c-3a2f-4d55-9d8c-7c1b2a3f4e5d" })),
        )
        .await;
    let fid = fhir_id(&app, &h.hana, &id(&anonymous)).await;
    let r = app
        .fhir_get(Some(&h.hana), &format!("/fhir/AdverseEvent/{fid}"))
        .await
        .body;
    assert_valid(&[&r]);
    assert_eq!(
        values(&r, "adverse-event-reference-metadata", "IsAnonymous"),
        [json!(true)]
    );
    assert!(!r.to_string().contains("alice"));

    // A named report read back by its reporter: the reporter's view (GraphQL shows them no
    // patient details once reported), so no age either.
    let named = app
        .report_incident(&h.alice, full_report(&h.cardiology))
        .await;
    let gql = app
        .gql(
            Some(&h.alice),
            "query($id: ID!) { incident(id: $id) { patient { name } fhir } }",
            json!({ "id": id(&named) }),
        )
        .await;
    let data = gql.assert_ok();
    assert!(data["incident"]["patient"].is_null(), "{data}");
    let r = &data["incident"]["fhir"];
    assert_valid(&[r]);
    assert!(
        values(
            contained(r, "patient1"),
            "patient-information",
            "AgeAtTimeOfIncidentDays"
        )
        .is_empty(),
        "{r}"
    );
    // Harm is not a patient detail: it is there.
    assert_eq!(
        values(
            contained(r, "patient1"),
            "patient-information",
            "PhysicalHarm"
        ),
        [json!("3")]
    );
}

fn uuid_v4_like() -> String {
    "3f2b9c1e-8d4a-4e6b-9a1c-2d3e4f5a6b7c".into()
}
