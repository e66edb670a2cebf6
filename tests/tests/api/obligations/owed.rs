//! A. What an incident's facts oblige: each obligation, its regulator and its deadline, and
//! how triage opens, moves or withdraws them.

use super::*;

// ---------------------------------------------------------------------------------------------
// A. Obligations derived from the incident's facts
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn moderate_harm_owes_the_patient_the_duty_of_candour_within_ten_working_days() {
    let app = spawn_quiet().await;
    let h = app.hospital().await;

    let physical = report(
        &app,
        &h.alice,
        &h.cardiology,
        json!({ "physicalHarm": "MODERATE" }),
    )
    .await;
    let psychological = report(
        &app,
        &h.alice,
        &h.cardiology,
        json!({ "physicalHarm": "NONE", "psychologicalHarm": "MODERATE" }),
    )
    .await;
    let prolonged = report(
        &app,
        &h.alice,
        &h.cardiology,
        json!({ "physicalHarm": "LOW", "regulatoryFacts": ["PROLONGED_PSYCHOLOGICAL_HARM"] }),
    )
    .await;

    for incident in [&physical, &psychological, &prolonged] {
        let inc = incident_with_obligations(&app, &h.hana, incident).await;
        let obligations = inc["obligations"].as_array().expect("a list").clone();
        assert_eq!(kinds(&obligations), ["DUTY_OF_CANDOUR"], "{inc}");
        let doc = &obligations[0];
        let reported_at = parse_time(&inc["reportedAt"]);
        let expected_due = end_of_london_day(add_working_days(london_date(reported_at), 10));
        assert_eq!(parse_time(&doc["dueAt"]), expected_due, "{doc}");
        assert_eq!(parse_time(&doc["startedAt"]), reported_at, "{doc}");
        assert_eq!(doc["status"], "OPEN");
        assert_eq!(doc["overdue"], false);
        assert_eq!(doc["completedBy"], "WRITTEN_NOTIFICATION");
        assert_eq!(doc["owedTo"], "The patient or their family");
        assert_eq!(doc["reference"], inc["reference"]);
        assert_eq!(doc["incidentId"], inc["id"]);
        assert!(doc["submittedAt"].is_null() && doc["externalReference"].is_null());
        assert_eq!(doc["submittedLate"], false);
        assert_eq!(doc["steps"], json!([]));
        assert_eq!(inc["dutyOfCandour"]["applies"], true, "{inc}");
    }
    let inc = incident_with_obligations(&app, &h.hana, &prolonged).await;
    assert_eq!(
        inc["regulatoryFacts"],
        json!(["PROLONGED_PSYCHOLOGICAL_HARM"])
    );
}

#[tokio::test]
async fn a_reportable_staff_injury_owes_the_hse_a_riddor_report_ten_days_from_the_event() {
    let app = spawn_quiet().await;
    let h = app.hospital().await;
    let occurred_at = Utc::now() - days(3);

    let injury = report(
        &app,
        &h.alice,
        &h.cardiology,
        json!({
            "kind": "STAFF_SAFETY",
            "occurredAt": rfc(occurred_at),
            "regulatoryFacts": ["REPORTABLE_STAFF_INJURY"],
        }),
    )
    .await;

    let obligations = obligations_of(&app, &h.hana, &injury).await;
    assert_eq!(kinds(&obligations), ["RIDDOR"]);
    let riddor = &obligations[0];
    let occurred = parse_time(&injury["occurredAt"]);
    assert_eq!(parse_time(&riddor["startedAt"]), occurred, "{riddor}");
    assert_eq!(
        parse_time(&riddor["dueAt"]),
        end_of_london_day(london_date(occurred) + days(10)),
        "{riddor}"
    );
    assert_eq!(riddor["completedBy"], "REPORT_SUBMITTED");
    assert_eq!(riddor["owedTo"], "Health and Safety Executive");
    assert_eq!(riddor["status"], "OPEN");
}

#[tokio::test]
async fn riddor_counts_its_days_on_the_london_calendar_not_the_utc_one() {
    let app = spawn_quiet().await;
    let h = app.hospital().await;
    // 23:30 UTC on Tuesday 14 July 2026 was 00:30 on Wednesday the 15th in London (BST).
    let occurred_at = "2026-07-14T23:30:00.000Z";
    assert_eq!(
        london_date(parse_time(&json!(occurred_at))),
        date("2026-07-15")
    );
    let staff_report = |fact: &str| json!({ "kind": "STAFF_SAFETY", "occurredAt": occurred_at, "regulatoryFacts": [fact] });

    let injury = report(
        &app,
        &h.alice,
        &h.cardiology,
        staff_report("REPORTABLE_STAFF_INJURY"),
    )
    .await;
    let off_work = report(
        &app,
        &h.alice,
        &h.cardiology,
        staff_report("STAFF_INCAPACITATED_OVER_7_DAYS"),
    )
    .await;

    // 15 July + 10 days: the end of Saturday 25 July, London time (22:59:59 UTC in summer).
    let riddor = the(&obligations_of(&app, &h.hana, &injury).await, "RIDDOR");
    assert_eq!(
        parse_time(&riddor["dueAt"]),
        parse_time(&json!("2026-07-25T22:59:59Z")),
        "{riddor}"
    );
    assert_eq!(
        parse_time(&riddor["dueAt"]),
        end_of_london_day(date("2026-07-25"))
    );
    assert_eq!(riddor["overdue"], true);
    // 15 July + 15 days: the end of Thursday 30 July.
    let riddor = the(&obligations_of(&app, &h.hana, &off_work).await, "RIDDOR");
    assert_eq!(
        parse_time(&riddor["dueAt"]),
        parse_time(&json!("2026-07-30T22:59:59Z")),
        "{riddor}"
    );
}

#[tokio::test]
async fn an_incapacitation_over_seven_days_alone_gives_riddor_fifteen_days_and_the_injury_rule_wins_over_it(
) {
    let app = spawn_quiet().await;
    let h = app.hospital().await;
    let occurred_at = Utc::now() - days(1);
    let staff_report = |facts: Value, kind: &str| {
        json!({
            "kind": kind,
            "occurredAt": rfc(occurred_at),
            "regulatoryFacts": facts,
        })
    };

    let off_work = report(
        &app,
        &h.alice,
        &h.cardiology,
        staff_report(json!(["STAFF_INCAPACITATED_OVER_7_DAYS"]), "STAFF_SAFETY"),
    )
    .await;
    let both = report(
        &app,
        &h.alice,
        &h.cardiology,
        staff_report(
            json!(["STAFF_INCAPACITATED_OVER_7_DAYS", "REPORTABLE_STAFF_INJURY"]),
            "STAFF_SAFETY",
        ),
    )
    .await;
    let patient = report(
        &app,
        &h.alice,
        &h.cardiology,
        staff_report(json!(["REPORTABLE_STAFF_INJURY"]), "PATIENT_SAFETY"),
    )
    .await;

    let occurred_day = london_date(parse_time(&off_work["occurredAt"]));
    let riddor = the(&obligations_of(&app, &h.hana, &off_work).await, "RIDDOR");
    assert_eq!(
        parse_time(&riddor["dueAt"]),
        end_of_london_day(occurred_day + days(15)),
        "{riddor}"
    );
    assert!(
        riddor["name"].as_str().unwrap().contains("7-day"),
        "{riddor}"
    );

    let obligations = obligations_of(&app, &h.hana, &both).await;
    assert_eq!(
        kinds(&obligations),
        ["RIDDOR"],
        "one RIDDOR obligation only"
    );
    assert_eq!(
        parse_time(&obligations[0]["dueAt"]),
        end_of_london_day(occurred_day + days(10)),
        "the first rule that applies (the 10-day one) wins: {obligations:#?}"
    );

    assert_eq!(
        obligations_of(&app, &h.hana, &patient).await,
        Vec::<Value>::new(),
        "RIDDOR is about staff: a patient-safety incident owes nothing for the fact"
    );
}

#[tokio::test]
async fn an_unintended_radiation_exposure_owes_the_cqc_a_notification_and_a_full_report() {
    let app = spawn_quiet().await;
    let h = app.hospital().await;

    let exposure = report(
        &app,
        &h.alice,
        &h.cardiology,
        json!({
            "kind": "RADIATION",
            "physicalHarm": "NONE",
            "regulatoryFacts": ["SIGNIFICANT_UNINTENDED_EXPOSURE"],
        }),
    )
    .await;

    let obligations = obligations_of(&app, &h.hana, &exposure).await;
    assert_eq!(
        kinds(&obligations),
        ["IRMER_NOTIFICATION", "IRMER_FULL_REPORT"],
        "both, soonest due first"
    );
    let reported_day = london_date(parse_time(&exposure["reportedAt"]));
    for (o, n) in obligations.iter().zip([14, 84]) {
        assert_eq!(
            parse_time(&o["dueAt"]),
            end_of_london_day(reported_day + days(n)),
            "{o}"
        );
        assert_eq!(o["owedTo"], "Care Quality Commission");
        assert_eq!(o["completedBy"], "REPORT_SUBMITTED");
        assert_eq!(
            parse_time(&o["startedAt"]),
            parse_time(&exposure["reportedAt"])
        );
    }

    let without_fact = report(
        &app,
        &h.alice,
        &h.cardiology,
        json!({ "kind": "RADIATION", "physicalHarm": "NONE" }),
    )
    .await;
    assert_eq!(
        obligations_of(&app, &h.hana, &without_fact).await,
        Vec::<Value>::new()
    );
}

#[tokio::test]
async fn a_risky_personal_data_breach_owes_the_ico_a_report_seventy_two_hours_after_it_was_reported(
) {
    let app = spawn_quiet().await;
    let h = app.hospital().await;

    let breach = report(
        &app,
        &h.alice,
        &h.cardiology,
        json!({
            "kind": "INFORMATION_GOVERNANCE",
            "physicalHarm": "NONE",
            "regulatoryFacts": ["RISK_TO_INDIVIDUALS"],
        }),
    )
    .await;

    let ico = the(&obligations_of(&app, &h.hana, &breach).await, "ICO_BREACH");
    assert_eq!(
        parse_time(&ico["dueAt"]),
        parse_time(&breach["reportedAt"]) + chrono::Duration::hours(72),
        "exactly 72 hours, weekends included: {ico}"
    );
    assert_eq!(ico["owedTo"], "Information Commissioner's Office");

    let no_risk = report(
        &app,
        &h.alice,
        &h.cardiology,
        json!({ "kind": "INFORMATION_GOVERNANCE", "physicalHarm": "NONE" }),
    )
    .await;
    assert_eq!(
        obligations_of(&app, &h.hana, &no_risk).await,
        Vec::<Value>::new()
    );
}

#[tokio::test]
async fn a_medical_device_owes_the_mhra_a_yellow_card_and_a_blood_component_owes_sabre() {
    let app = spawn_quiet().await;
    let h = app.hospital().await;

    let device = report(
        &app,
        &h.alice,
        &h.cardiology,
        json!({ "kind": "EQUIPMENT", "regulatoryFacts": ["MEDICAL_DEVICE"] }),
    )
    .await;
    let blood = report(
        &app,
        &h.alice,
        &h.cardiology,
        json!({ "regulatoryFacts": ["BLOOD_COMPONENT"] }),
    )
    .await;

    let mhra = the(
        &obligations_of(&app, &h.hana, &device).await,
        "MHRA_YELLOW_CARD",
    );
    let day = london_date(parse_time(&device["reportedAt"]));
    assert_eq!(
        parse_time(&mhra["dueAt"]),
        end_of_london_day(add_working_days(day, 2)),
        "{mhra}"
    );
    let sabre = the(&obligations_of(&app, &h.hana, &blood).await, "SABRE");
    let day = london_date(parse_time(&blood["reportedAt"]));
    assert_eq!(
        parse_time(&sabre["dueAt"]),
        end_of_london_day(add_working_days(day, 1)),
        "{sabre}"
    );
    assert_eq!(sabre["owedTo"], "MHRA (SABRE)");
}

#[tokio::test]
async fn an_incident_lists_everything_it_owes_soonest_due_first() {
    let app = spawn_quiet().await;
    let h = app.hospital().await;

    let breach = report(
        &app,
        &h.alice,
        &h.cardiology,
        json!({
            "kind": "INFORMATION_GOVERNANCE",
            "physicalHarm": "MODERATE",
            "regulatoryFacts": ["RISK_TO_INDIVIDUALS", "BLOOD_COMPONENT", "MEDICAL_DEVICE"],
        }),
    )
    .await;

    let obligations = obligations_of(&app, &h.hana, &breach).await;
    assert_eq!(
        kinds(&obligations).into_iter().collect::<BTreeSet<_>>(),
        ["DUTY_OF_CANDOUR", "ICO_BREACH", "MHRA_YELLOW_CARD", "SABRE"]
            .map(String::from)
            .into_iter()
            .collect(),
        "one of each kind the facts call for"
    );
    assert_soonest_due_first(&obligations);
    assert_eq!(
        obligations.last().map(|o| o["kind"].clone()),
        Some(json!("DUTY_OF_CANDOUR")),
        "ten working days is the furthest"
    );
}

#[tokio::test]
async fn a_low_harm_incident_with_no_regulatory_facts_owes_nothing() {
    let app = spawn_quiet().await;
    let h = app.hospital().await;

    let incident = report(
        &app,
        &h.alice,
        &h.cardiology,
        json!({ "physicalHarm": "LOW" }),
    )
    .await;

    let inc = incident_with_obligations(&app, &h.hana, &incident).await;
    assert_eq!(inc["obligations"], json!([]), "{inc}");
    assert_eq!(inc["regulatoryFacts"], json!([]));
    assert_eq!(inc["dutyOfCandour"]["applies"], false);
    assert_eq!(
        board(
            &app,
            &h.quinn,
            json!({ "status": ["OPEN", "SUBMITTED", "WITHDRAWN"] })
        )
        .await
        .len(),
        0
    );
}

#[tokio::test]
async fn triage_withdraws_what_the_facts_no_longer_call_for_and_opens_what_they_now_do() {
    let app = spawn_quiet().await;
    let h = app.hospital().await;
    let injury = report(
        &app,
        &h.alice,
        &h.cardiology,
        json!({ "kind": "STAFF_SAFETY", "regulatoryFacts": ["REPORTABLE_STAFF_INJURY"] }),
    )
    .await;
    let riddor = the(&obligations_of(&app, &h.hana, &injury).await, "RIDDOR");

    // On review: not reportable after all, but the harm was moderate.
    let triaged = app
        .triage(
            &h.hana,
            &injury,
            json!({ "regulatoryFacts": [], "physicalHarm": "MODERATE" }),
        )
        .await;

    let inc = incident_with_obligations(&app, &h.hana, &triaged).await;
    assert_eq!(
        inc["regulatoryFacts"],
        json!([]),
        "the facts are replaced: {inc}"
    );
    let obligations = obligations_of(&app, &h.hana, &triaged).await;
    let withdrawn = the(&obligations, "RIDDOR");
    assert_eq!(withdrawn["id"], riddor["id"], "the same obligation");
    assert_eq!(withdrawn["status"], "WITHDRAWN");
    let reason = withdrawn["withdrawnReason"].as_str().unwrap_or_default();
    assert!(!reason.trim().is_empty(), "a reason: {withdrawn}");
    let doc = the(&obligations, "DUTY_OF_CANDOUR");
    assert_eq!(doc["status"], "OPEN");
    let reported_at = parse_time(&triaged["reportedAt"]);
    assert_eq!(
        parse_time(&doc["dueAt"]),
        end_of_london_day(add_working_days(london_date(reported_at), 10)),
        "counted from the report, not the triage"
    );

    // Off the board (open only by default), still listed as withdrawn.
    let open = board(&app, &h.quinn, json!({ "incidentId": injury["id"] })).await;
    assert_eq!(kinds(&open), ["DUTY_OF_CANDOUR"]);
    let gone = board(
        &app,
        &h.quinn,
        json!({ "incidentId": injury["id"], "status": ["WITHDRAWN"] }),
    )
    .await;
    assert_eq!(ids_of(&gone), [id(&riddor)]);

    // The incident's trail says what changed.
    let history = app.history(&h.quinn, &id(&injury)).await;
    let changed: Vec<&Value> = history
        .iter()
        .filter(|e| e["action"] == "incident.obligations_changed")
        .collect();
    assert!(
        !changed.is_empty(),
        "no obligations_changed event: {history:#?}"
    );
    let latest = changed
        .iter()
        .max_by_key(|e| parse_time(&e["at"]))
        .expect("an event");
    assert_eq!(
        change(latest, "obligationsOpened").1,
        "DUTY_OF_CANDOUR",
        "{latest}"
    );
    assert_eq!(
        change(latest, "obligationsWithdrawn").1,
        "RIDDOR",
        "{latest}"
    );

    // The facts come back: the same RIDDOR obligation reopens.
    let again = app
        .triage(
            &h.hana,
            &triaged,
            json!({ "regulatoryFacts": ["REPORTABLE_STAFF_INJURY"] }),
        )
        .await;
    let inc = incident_with_obligations(&app, &h.hana, &again).await;
    assert_eq!(inc["regulatoryFacts"], json!(["REPORTABLE_STAFF_INJURY"]));
    let reopened = the(&obligations_of(&app, &h.hana, &again).await, "RIDDOR");
    assert_eq!(reopened["id"], riddor["id"]);
    assert_eq!(reopened["status"], "OPEN");
    assert!(reopened["withdrawnReason"].is_null(), "{reopened}");
    assert_eq!(reopened["dueAt"], riddor["dueAt"]);
}

#[tokio::test]
async fn deciding_the_duty_of_candour_does_not_apply_withdraws_it() {
    let app = spawn_quiet().await;
    let h = app.hospital().await;
    let incident = report(
        &app,
        &h.alice,
        &h.cardiology,
        json!({ "physicalHarm": "MODERATE" }),
    )
    .await;
    let doc = the(
        &obligations_of(&app, &h.hana, &incident).await,
        "DUTY_OF_CANDOUR",
    );

    let triaged = app
        .triage(
            &h.quinn,
            &incident,
            json!({ "dutyOfCandourApplies": false }),
        )
        .await;

    assert_eq!(triaged["dutyOfCandour"]["applies"], false);
    let withdrawn = the(
        &obligations_of(&app, &h.hana, &triaged).await,
        "DUTY_OF_CANDOUR",
    );
    assert_eq!(withdrawn["id"], doc["id"]);
    assert_eq!(withdrawn["status"], "WITHDRAWN");
    assert!(withdrawn["withdrawnReason"].is_string(), "{withdrawn}");
    assert_eq!(board(&app, &h.quinn, json!({})).await.len(), 0);

    let applies = app
        .triage(&h.quinn, &triaged, json!({ "dutyOfCandourApplies": true }))
        .await;
    let reopened = the(
        &obligations_of(&app, &h.hana, &applies).await,
        "DUTY_OF_CANDOUR",
    );
    assert_eq!(reopened["id"], doc["id"]);
    assert_eq!(reopened["status"], "OPEN");
    assert_eq!(reopened["dueAt"], doc["dueAt"]);
}

#[tokio::test]
async fn a_met_obligation_stays_met_when_the_facts_change() {
    let app = spawn_quiet().await;
    let h = app.hospital().await;
    let device = report(
        &app,
        &h.alice,
        &h.cardiology,
        json!({ "kind": "EQUIPMENT", "regulatoryFacts": ["MEDICAL_DEVICE"] }),
    )
    .await;
    let mhra = the(
        &obligations_of(&app, &h.hana, &device).await,
        "MHRA_YELLOW_CARD",
    );
    record_step(
        &app,
        &h.hana,
        json!({ "obligationId": mhra["id"], "step": "REPORT_SUBMITTED", "externalReference": "YC-2026-118" }),
    )
    .await;

    let triaged = app
        .triage(&h.hana, &device, json!({ "regulatoryFacts": [] }))
        .await;

    let after = the(
        &obligations_of(&app, &h.hana, &triaged).await,
        "MHRA_YELLOW_CARD",
    );
    assert_eq!(after["status"], "SUBMITTED", "{after}");
    assert_eq!(after["externalReference"], "YC-2026-118");
    assert!(after["withdrawnReason"].is_null());
}

#[tokio::test]
async fn changing_which_riddor_fact_applies_moves_the_deadline() {
    let app = spawn_quiet().await;
    let h = app.hospital().await;
    let injury = report(
        &app,
        &h.alice,
        &h.cardiology,
        json!({
            "kind": "STAFF_SAFETY",
            "regulatoryFacts": ["REPORTABLE_STAFF_INJURY", "STAFF_INCAPACITATED_OVER_7_DAYS"],
        }),
    )
    .await;
    let riddor = the(&obligations_of(&app, &h.hana, &injury).await, "RIDDOR");
    let occurred_day = london_date(parse_time(&injury["occurredAt"]));
    assert_eq!(
        parse_time(&riddor["dueAt"]),
        end_of_london_day(occurred_day + days(10))
    );

    let triaged = app
        .triage(
            &h.hana,
            &injury,
            json!({ "regulatoryFacts": ["STAFF_INCAPACITATED_OVER_7_DAYS"] }),
        )
        .await;

    let moved = the(&obligations_of(&app, &h.hana, &triaged).await, "RIDDOR");
    assert_eq!(moved["id"], riddor["id"], "the same obligation, re-dated");
    assert_eq!(moved["status"], "OPEN");
    assert_eq!(
        parse_time(&moved["dueAt"]),
        end_of_london_day(occurred_day + days(15)),
        "{moved}"
    );
}
