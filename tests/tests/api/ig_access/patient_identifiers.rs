//! Protected identifiers and subject-access reports: NHS numbers are validated and sealed at
//! rest, and the IG officer finds every record naming a patient.

use super::*;

// ---------------------------------------------------------------------------------------------
// Protected identifiers
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn nhs_numbers_are_checked_with_modulus_11_and_never_repeated_in_errors() {
    let app = spawn_app().await;
    let h = app.hospital().await;

    for bad in ["9434765918", "943 476 5918", "12345", "94347659190"] {
        let resp = app
            .gql(
                Some(&h.alice),
                REPORT,
                json!({ "input": report_with_patient(&h.cardiology, bad) }),
            )
            .await;
        resp.assert_error("BAD_USER_INPUT", Some("patient.nhsNumber"));
        let digits: String = bad.chars().filter(|c| c.is_ascii_digit()).collect();
        let body = resp.body.to_string();
        assert!(
            !body.contains(bad) && !body.contains(&digits),
            "the error repeats the number {bad}: {resp}"
        );
    }
    let total = app
        .gql(Some(&h.quinn), "{ incidents { totalCount } }", json!({}))
        .await;
    assert_eq!(total.assert_ok()["incidents"]["totalCount"], 0);

    for good in ["9434765919", "943 476 5919"] {
        let incident = report(&app, &h.alice, report_with_patient(&h.cardiology, good)).await;
        let resp = read_incident(&app, &h.hana, &id(&incident), "patient { nhsNumber }").await;
        assert_eq!(
            resp.assert_ok()["incident"]["patient"]["nhsNumber"],
            NHS,
            "{good}: {resp}"
        );
    }
}

#[tokio::test]
async fn patient_details_are_sealed_at_rest_and_read_in_clear_by_the_handler() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let first = report(&app, &h.alice, report_with_patient(&h.cardiology, NHS)).await;
    let second = report(&app, &h.bob, report_with_patient(&h.cardiology, NHS)).await;
    let reference = first["reference"].as_str().unwrap();

    let stored = stored_patient_columns(&app, reference).await;
    for c in [
        "patient_nhs_sealed",
        "patient_name_sealed",
        "patient_dob_sealed",
    ] {
        let value = column(&stored, c).unwrap_or_else(|| panic!("{c} is empty: {stored:?}"));
        assert!(value.starts_with("v1."), "{c} = {value}");
        for clear in [NHS, PATIENT_NAME, "Quillfeather", PATIENT_DOB, "1950"] {
            assert!(!value.contains(clear), "{c} holds {clear:?}: {value}");
        }
    }
    let hash = column(&stored, "patient_nhs_hash").expect("a look-up hash");
    assert_eq!(hash.len(), 64, "{hash}");
    assert!(hash.chars().all(|c| c.is_ascii_hexdigit()), "{hash}");
    for c in [
        "patient_nhs_number",
        "patient_name",
        "patient_date_of_birth",
    ] {
        assert_eq!(
            column(&stored, c),
            None,
            "plaintext column {c} holds a value"
        );
    }

    // The same patient on another record: the same look-up hash, but sealed afresh.
    let other = stored_patient_columns(&app, second["reference"].as_str().unwrap()).await;
    assert_eq!(column(&other, "patient_nhs_hash"), Some(hash));
    assert_ne!(
        column(&other, "patient_nhs_sealed"),
        column(&stored, "patient_nhs_sealed")
    );

    let resp = read_incident(
        &app,
        &h.hana,
        &id(&first),
        "patient { nhsNumber name dateOfBirth }",
    )
    .await;
    let patient = &resp.assert_ok()["incident"]["patient"];
    assert_eq!(patient["nhsNumber"], NHS);
    assert_eq!(patient["name"], PATIENT_NAME);
    assert_eq!(patient["dateOfBirth"], PATIENT_DOB);
}

// ---------------------------------------------------------------------------------------------
// Subject-access reports
// ---------------------------------------------------------------------------------------------

const SUBJECT_ACCESS_REPORT: &str = "query($nhs: String!) { subjectAccessReport(nhsNumber: $nhs) {
  generatedAt
  incidents { id reference description patient { nhsNumber name dateOfBirth } }
  accesses { id recordType recordId fields actorLabel requestId purpose breakGlass }
} }";

#[tokio::test]
async fn a_subject_access_report_finds_every_record_naming_the_patient_and_every_earlier_read() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let cardiac = report(&app, &h.alice, report_with_patient(&h.cardiology, NHS)).await;
    let neuro = report(
        &app,
        &h.bob,
        report_with_patient(&h.neurology, "943 476 5919"),
    )
    .await;
    let other_patient = report(
        &app,
        &h.alice,
        report_with_patient(&h.cardiology, OTHER_NHS),
    )
    .await;
    let no_patient = report(&app, &h.alice, incident_input(&h.cardiology)).await;

    let hana_reads = app
        .gql_with_headers(
            Some(&h.hana),
            "{ incidents(first: 10) { edges { node { id description } } } }",
            json!({}),
            &[("X-Access-Purpose", "Weekly review")],
        )
        .await;
    hana_reads.assert_ok();
    let nina_reads = read_incident(&app, &h.nina, &id(&neuro), "patient { name }").await;
    nina_reads.assert_ok();

    let resp = app
        .gql_with_headers(
            Some(&ig_officer(&app)),
            SUBJECT_ACCESS_REPORT,
            json!({ "nhs": "943 476 5919" }),
            &[("X-Access-Purpose", "SAR 2026/041")],
        )
        .await;
    let sar = &resp.assert_ok()["subjectAccessReport"];
    let generated_at = parse_time(&sar["generatedAt"]);
    assert!(
        (Utc::now() - generated_at).num_seconds().abs() < 30,
        "{resp}"
    );

    let incidents = sar["incidents"].as_array().unwrap();
    assert_eq!(
        incidents.iter().map(id).collect::<Vec<_>>(),
        vec![id(&cardiac), id(&neuro)],
        "every incident naming the patient, oldest first, and no other: {resp}"
    );
    for incident in incidents {
        assert_eq!(incident["patient"]["nhsNumber"], NHS);
        assert_eq!(incident["patient"]["name"], PATIENT_NAME);
        assert_eq!(incident["patient"]["dateOfBirth"], PATIENT_DOB);
        assert!(incident["description"].is_string(), "{incident}");
    }

    let accesses = sar["accesses"].as_array().unwrap();
    let seen: Vec<(String, String)> = accesses
        .iter()
        .map(|a| {
            (
                a["recordId"].as_str().unwrap().to_string(),
                a["requestId"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let expected = vec![
        (id(&cardiac), hana_reads.request_id()),
        (id(&neuro), nina_reads.request_id()),
    ];
    assert_eq!(
        seen,
        expected,
        "every earlier read, oldest first: {}",
        pretty(accesses)
    );
    let hana_access = accesses
        .iter()
        .find(|a| a["recordId"] == id(&cardiac).as_str())
        .unwrap();
    assert_eq!(hana_access["actorLabel"], "hana");
    assert_eq!(hana_access["purpose"], "Weekly review");
    assert_eq!(fields(hana_access), strs(&["description"]));
    for unrelated in [&other_patient, &no_patient] {
        assert!(
            accesses
                .iter()
                .all(|a| a["recordId"] != id(unrelated).as_str()),
            "reads of another record are in the report: {}",
            pretty(accesses)
        );
    }
}

#[tokio::test]
async fn producing_a_subject_access_report_is_itself_logged() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let cardiac = report(&app, &h.alice, report_with_patient(&h.cardiology, NHS)).await;
    let neuro = report(&app, &h.bob, report_with_patient(&h.neurology, NHS)).await;
    let other_patient = report(
        &app,
        &h.alice,
        report_with_patient(&h.cardiology, OTHER_NHS),
    )
    .await;
    let other_read = read_incident(&app, &h.hana, &id(&other_patient), "patient { name }").await;
    other_read.assert_ok();

    let resp = app
        .gql_with_headers(
            Some(&ig_officer(&app)),
            SUBJECT_ACCESS_REPORT,
            json!({ "nhs": NHS }),
            &[("X-Access-Purpose", "SAR 2026/041")],
        )
        .await;
    resp.assert_ok();

    let events = events_of(&app, &resp).await;
    assert_eq!(events.len(), 3, "{}", pretty(&events));
    let report_events: Vec<&Value> = events
        .iter()
        .filter(|e| e["recordType"] == "SubjectAccessReport")
        .collect();
    assert_eq!(report_events.len(), 1, "{}", pretty(&events));
    assert_eq!(fields(report_events[0]), strs(&["nhsNumber"]));
    for incident in [&cardiac, &neuro] {
        let event = only_event_about(&events, &id(incident));
        assert_eq!(event["recordType"], "Incident");
        assert_eq!(fields(event), strs(&["description", "patient"]));
    }
    for event in &events {
        assert_eq!(event["actorLabel"], "iggy", "{event}");
        assert_eq!(event["purpose"], "SAR 2026/041", "{event}");
        assert_eq!(event["breakGlass"], false, "{event}");
    }

    // The log finds every read of this patient's records, the report included, and only those.
    let by_patient = access_log(&app, json!({ "nhsNumber": "943 476 5919" })).await;
    let ids: HashSet<String> = by_patient
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_string())
        .collect();
    let expected: HashSet<String> = events
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids, expected, "{}", pretty(&by_patient));
    let of_other = access_log(&app, json!({ "nhsNumber": OTHER_NHS })).await;
    assert_eq!(of_other.len(), 1, "{}", pretty(&of_other));
    assert_eq!(of_other[0]["requestId"], other_read.request_id().as_str());

    // A second report lists the first one's reads among the earlier accesses.
    let again = app
        .gql(
            Some(&ig_officer(&app)),
            SUBJECT_ACCESS_REPORT,
            json!({ "nhs": NHS }),
        )
        .await;
    let accesses = again.assert_ok()["subjectAccessReport"]["accesses"]
        .as_array()
        .unwrap()
        .clone();
    assert!(
        accesses
            .iter()
            .any(|a| a["requestId"] == resp.request_id().as_str()),
        "{}",
        pretty(&accesses)
    );
}

#[tokio::test]
async fn a_subject_access_report_for_a_patient_with_no_records_is_empty_but_still_logged() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    report(&app, &h.alice, report_with_patient(&h.cardiology, NHS)).await;

    let resp = app
        .gql(
            Some(&ig_officer(&app)),
            SUBJECT_ACCESS_REPORT,
            json!({ "nhs": OTHER_NHS }),
        )
        .await;
    let sar = &resp.assert_ok()["subjectAccessReport"];
    assert_eq!(sar["incidents"], json!([]));
    assert_eq!(sar["accesses"], json!([]));
    let events = events_of(&app, &resp).await;
    assert_eq!(events.len(), 1, "{}", pretty(&events));
    assert_eq!(events[0]["recordType"], "SubjectAccessReport");
}

#[tokio::test]
async fn only_an_ig_officer_produces_a_subject_access_report_for_a_valid_number() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    report(&app, &h.alice, report_with_patient(&h.cardiology, NHS)).await;

    for (who, token) in [
        ("staff", &h.alice),
        ("a handler", &h.hana),
        ("a quality lead", &h.quinn),
        ("an admin", &h.ada),
        (
            "a service account",
            &app.service(&["incidents:read", "incidents:manage"]),
        ),
    ] {
        let resp = app
            .gql(Some(token), SUBJECT_ACCESS_REPORT, json!({ "nhs": NHS }))
            .await;
        assert_eq!(
            resp.error_code().as_deref(),
            Some("FORBIDDEN"),
            "{who}: {resp}"
        );
        assert!(
            resp.data().is_null() || resp.data()["subjectAccessReport"].is_null(),
            "{who}: {resp}"
        );
    }

    let invalid = app
        .gql(
            Some(&ig_officer(&app)),
            SUBJECT_ACCESS_REPORT,
            json!({ "nhs": "9434765918" }),
        )
        .await;
    invalid.assert_error("BAD_USER_INPUT", Some("nhsNumber"));
    assert!(
        !invalid.body.to_string().contains("9434765918"),
        "{invalid}"
    );

    let invalid_filter = app
        .gql(
            Some(&ig_officer(&app)),
            "{ accessLog(first: 5, filter: { nhsNumber: \"9434765918\" }) { edges { node { id } } } }",
            json!({}),
        )
        .await;
    invalid_filter.assert_error("BAD_USER_INPUT", Some("nhsNumber"));

    assert_eq!(access_log(&app, json!({})).await, Vec::<Value>::new());
}
