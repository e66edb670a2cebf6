//! Handlers and quality leads take a report through review, investigation and actions to
//! closure: the state machine, who may move it, what closing demands, duty of candour and
//! optimistic concurrency.

use candour_tests::*;
use futures_util::future::join;
use serde_json::{json, Value};

const FEEDBACK: &str = "Thank you for reporting: rails are now checked at every handover.";

async fn report(app: &TestApp, h: &Hospital, physical_harm: &str) -> Value {
    app.report_incident(
        &h.alice,
        with(
            incident_input(&h.cardiology),
            json!({ "physicalHarm": physical_harm }),
        ),
    )
    .await
}

/// The current version the quality lead sees, to prove a refused change changed nothing.
async fn version_now(app: &TestApp, h: &Hospital, incident: &Value) -> Value {
    app.incident(&h.quinn, incident["id"].as_str().unwrap())
        .await["version"]
        .clone()
}

// --- triage --------------------------------------------------------------------------------

#[tokio::test]
async fn triaging_a_reported_incident_puts_it_under_review_with_a_handler() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let incident = report(&app, &h, "LOW").await;
    let hana_id = app.staff_id(&h.hana).await;

    let triaged = app
        .triage(
            &h.hana,
            &incident,
            json!({ "handlerId": hana_id, "category": "Falls" }),
        )
        .await;

    assert_eq!(triaged["status"], "UNDER_REVIEW");
    assert_eq!(triaged["version"], 2);
    assert_eq!(triaged["category"], "Falls");
    assert_eq!(triaged["handler"]["id"], hana_id.as_str());
    assert_eq!(triaged["handler"]["name"], "Hana Test");
    let triaged_at = parse_time(&triaged["triagedAt"]);
    assert!(
        triaged_at >= parse_time(&incident["reportedAt"]),
        "{triaged}"
    );
    assert!(triaged["closedAt"].is_null(), "{triaged}");
}

#[tokio::test]
async fn triage_records_the_governance_facts() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let incident = report(&app, &h, "LOW").await;

    let triaged = app
        .triage(
            &h.quinn,
            &incident,
            json!({
                "physicalHarm": "MODERATE",
                "psychologicalHarm": "LOW",
                "learningResponse": "AFTER_ACTION_REVIEW",
                "learningSummary": "Rails must be up whenever a patient is on a trolley.",
                "findings": "Handover checklist did not cover trolley rails.",
                "feedbackToReporter": FEEDBACK,
            }),
        )
        .await;

    assert_eq!(triaged["physicalHarm"], "MODERATE");
    assert_eq!(triaged["psychologicalHarm"], "LOW");
    assert_eq!(triaged["learningResponse"], "AFTER_ACTION_REVIEW");
    assert_eq!(
        triaged["learningSummary"],
        "Rails must be up whenever a patient is on a trolley."
    );
    assert_eq!(triaged["feedbackToReporter"], FEEDBACK);
    let full = app
        .incident_full(&h.quinn, incident["id"].as_str().unwrap())
        .await;
    assert_eq!(
        full["findings"],
        "Handover checklist did not cover trolley rails."
    );
}

#[tokio::test]
async fn the_reporter_cannot_triage_their_own_report() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let incident = report(&app, &h, "LOW").await;

    let resp = app
        .try_triage(
            &h.alice,
            json!({ "incidentId": incident["id"], "expectedVersion": 1, "category": "Falls" }),
        )
        .await;

    resp.assert_error("FORBIDDEN", None);
    let now = app
        .incident(&h.alice, incident["id"].as_str().unwrap())
        .await;
    assert_eq!(now["status"], "REPORTED");
    assert_eq!(now["version"], 1);
}

#[tokio::test]
async fn a_handler_of_another_department_cannot_triage_and_learns_nothing() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let incident = report(&app, &h, "LOW").await;

    let resp = app
        .try_triage(
            &h.nina,
            json!({ "incidentId": incident["id"], "expectedVersion": 1, "category": "Falls" }),
        )
        .await;

    resp.assert_error("NOT_FOUND", None);
    assert_eq!(version_now(&app, &h, &incident).await, 1);
}

// --- the state machine ---------------------------------------------------------------------

#[tokio::test]
async fn a_quality_lead_takes_an_incident_all_the_way_to_closure() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let incident = report(&app, &h, "LOW").await;

    let under_review = app.transition(&h.quinn, &incident, "UNDER_REVIEW").await;
    assert_eq!(under_review["status"], "UNDER_REVIEW");
    assert_eq!(under_review["version"], 2);

    let with_feedback = app
        .triage(
            &h.quinn,
            &under_review,
            json!({ "feedbackToReporter": FEEDBACK }),
        )
        .await;
    assert_eq!(with_feedback["status"], "UNDER_REVIEW");
    assert_eq!(with_feedback["version"], 3);

    let investigating = app
        .transition(&h.quinn, &with_feedback, "INVESTIGATING")
        .await;
    assert_eq!(investigating["status"], "INVESTIGATING");
    assert_eq!(investigating["version"], 4);

    let acting = app
        .transition(&h.quinn, &investigating, "ACTIONS_IN_PROGRESS")
        .await;
    assert_eq!(acting["status"], "ACTIONS_IN_PROGRESS");
    assert_eq!(acting["version"], 5);
    assert!(acting["closedAt"].is_null(), "{acting}");

    let closed = app.transition(&h.quinn, &acting, "CLOSED").await;
    assert_eq!(closed["status"], "CLOSED");
    assert_eq!(closed["version"], 6);
    let closed_at = parse_time(&closed["closedAt"]);
    assert!(closed_at >= parse_time(&incident["reportedAt"]));

    // And it stays that way for the next reader.
    let reread = app
        .incident(&h.quinn, incident["id"].as_str().unwrap())
        .await;
    assert_eq!(reread["status"], "CLOSED");
    assert_eq!(reread["version"], 6);
    assert_eq!(reread["closedAt"], closed["closedAt"]);
}

#[tokio::test]
async fn an_incident_may_close_straight_from_review_or_from_investigation() {
    let app = spawn_app().await;
    let h = app.hospital().await;

    let from_review = report(&app, &h, "LOW").await;
    let from_review = app
        .triage(
            &h.quinn,
            &from_review,
            json!({ "feedbackToReporter": FEEDBACK }),
        )
        .await;
    let closed = app.transition(&h.quinn, &from_review, "CLOSED").await;
    assert_eq!(closed["status"], "CLOSED");

    let from_investigation = report(&app, &h, "LOW").await;
    let from_investigation = app
        .triage(
            &h.quinn,
            &from_investigation,
            json!({ "feedbackToReporter": FEEDBACK }),
        )
        .await;
    let investigating = app
        .transition(&h.quinn, &from_investigation, "INVESTIGATING")
        .await;
    let closed = app.transition(&h.quinn, &investigating, "CLOSED").await;
    assert_eq!(closed["status"], "CLOSED");
}

#[tokio::test]
async fn transitions_outside_the_workflow_are_refused_on_the_to_field() {
    let app = spawn_app().await;
    let h = app.hospital().await;

    let reported = report(&app, &h, "LOW").await;
    for to in ["CLOSED", "INVESTIGATING", "ACTIONS_IN_PROGRESS", "REPORTED"] {
        let resp = app.try_transition_to(&h.quinn, &reported, to).await;
        resp.assert_error("BAD_USER_INPUT", Some("to"));
    }
    assert_eq!(version_now(&app, &h, &reported).await, 1);

    let under_review = app.transition(&h.quinn, &reported, "UNDER_REVIEW").await;
    for to in ["ACTIONS_IN_PROGRESS", "REPORTED"] {
        let resp = app.try_transition_to(&h.quinn, &under_review, to).await;
        resp.assert_error("BAD_USER_INPUT", Some("to"));
    }

    let closed = app.close_low_harm(&h.quinn, &under_review).await;
    for to in ["INVESTIGATING", "ACTIONS_IN_PROGRESS", "REPORTED", "CLOSED"] {
        let resp = app.try_transition_to(&h.quinn, &closed, to).await;
        resp.assert_error("BAD_USER_INPUT", Some("to"));
    }
    let resp = app
        .try_transition(
            &h.quinn,
            json!({ "incidentId": closed["id"], "expectedVersion": closed["version"],
                    "to": "DECLINED", "reason": "Not an incident after all" }),
        )
        .await;
    resp.assert_error("BAD_USER_INPUT", Some("to"));
    assert_eq!(version_now(&app, &h, &closed).await, closed["version"]);
}

#[tokio::test]
async fn a_declined_incident_goes_nowhere_but_back_to_review() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let incident = report(&app, &h, "LOW").await;
    let declined = app
        .transition_because(&h.quinn, &incident, "DECLINED", "Not an incident")
        .await;

    for to in ["CLOSED", "INVESTIGATING", "ACTIONS_IN_PROGRESS", "REPORTED"] {
        let resp = app.try_transition_to(&h.quinn, &declined, to).await;
        resp.assert_error("BAD_USER_INPUT", Some("to"));
    }
    let resp = app
        .try_transition(
            &h.quinn,
            json!({ "incidentId": declined["id"], "expectedVersion": declined["version"],
                    "to": "DECLINED", "reason": "again" }),
        )
        .await;
    resp.assert_error("BAD_USER_INPUT", Some("to"));
}

#[tokio::test]
async fn declining_needs_a_reason() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let incident = report(&app, &h, "LOW").await;

    let missing = app.try_transition_to(&h.hana, &incident, "DECLINED").await;
    missing.assert_error("BAD_USER_INPUT", Some("reason"));
    let blank = app
        .try_transition(
            &h.hana,
            json!({ "incidentId": incident["id"], "expectedVersion": 1, "to": "DECLINED", "reason": "   " }),
        )
        .await;
    blank.assert_error("BAD_USER_INPUT", Some("reason"));
    assert_eq!(version_now(&app, &h, &incident).await, 1);

    let declined = app
        .transition_because(
            &h.hana,
            &incident,
            "DECLINED",
            "Not an incident: planned procedure",
        )
        .await;
    assert_eq!(declined["status"], "DECLINED");
    assert_eq!(
        declined["statusReason"],
        "Not an incident: planned procedure"
    );
    assert_eq!(declined["version"], 2);
}

#[tokio::test]
async fn an_incident_may_be_declined_from_any_open_state() {
    let app = spawn_app().await;
    let h = app.hospital().await;

    let reported = report(&app, &h, "LOW").await;
    let under_review = app.transition(&h.quinn, &reported, "UNDER_REVIEW").await;
    let investigating = app
        .transition(&h.quinn, &under_review, "INVESTIGATING")
        .await;
    let acting = app
        .transition(&h.quinn, &investigating, "ACTIONS_IN_PROGRESS")
        .await;
    let declined = app
        .transition_because(&h.quinn, &acting, "DECLINED", "Raised in error")
        .await;
    assert_eq!(declined["status"], "DECLINED");

    for path in [
        &[][..],
        &["UNDER_REVIEW"][..],
        &["UNDER_REVIEW", "INVESTIGATING"][..],
    ] {
        let mut incident = report(&app, &h, "LOW").await;
        for step in path {
            incident = app.transition(&h.hana, &incident, step).await;
        }
        let from = incident["status"].clone();
        let declined = app
            .transition_because(&h.hana, &incident, "DECLINED", "Raised in error")
            .await;
        assert_eq!(declined["status"], "DECLINED", "declining from {from}");
    }
}

#[tokio::test]
async fn a_duplicate_is_declined_with_a_link_to_the_original() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let original = report(&app, &h, "LOW").await;
    let duplicate = report(&app, &h, "LOW").await;

    let resp = app
        .try_transition(
            &h.hana,
            json!({
                "incidentId": duplicate["id"], "expectedVersion": 1, "to": "DECLINED",
                "reason": "Duplicate report", "duplicateOfId": original["id"],
            }),
        )
        .await;
    resp.assert_ok();
    let declined = &resp.data()["transitionIncident"]["incident"];

    assert_eq!(declined["status"], "DECLINED");
    assert_eq!(declined["duplicateOf"]["id"], original["id"]);
    assert_eq!(declined["duplicateOf"]["reference"], original["reference"]);
}

#[tokio::test]
async fn a_quality_lead_reopens_a_closed_incident_with_a_reason() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let closed = app
        .close_low_harm(&h.quinn, &report(&app, &h, "LOW").await)
        .await;
    assert!(!closed["closedAt"].is_null(), "{closed}");

    let no_reason = app
        .try_transition_to(&h.quinn, &closed, "UNDER_REVIEW")
        .await;
    no_reason.assert_error("BAD_USER_INPUT", Some("reason"));

    let reopened = app
        .transition_because(
            &h.quinn,
            &closed,
            "UNDER_REVIEW",
            "Patient's family raised new facts",
        )
        .await;
    assert_eq!(reopened["status"], "UNDER_REVIEW");
    assert!(
        reopened["closedAt"].is_null(),
        "closedAt is cleared on reopen: {reopened}"
    );
    assert_eq!(reopened["version"], closed["version"].as_i64().unwrap() + 1);
}

#[tokio::test]
async fn a_quality_lead_reopens_a_declined_incident() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let declined = app
        .transition_because(
            &h.quinn,
            &report(&app, &h, "LOW").await,
            "DECLINED",
            "Not an incident",
        )
        .await;

    let no_reason = app
        .try_transition_to(&h.quinn, &declined, "UNDER_REVIEW")
        .await;
    no_reason.assert_error("BAD_USER_INPUT", Some("reason"));

    let reopened = app
        .transition_because(
            &h.quinn,
            &declined,
            "UNDER_REVIEW",
            "It was an incident after all",
        )
        .await;
    assert_eq!(reopened["status"], "UNDER_REVIEW");
}

#[tokio::test]
async fn a_handler_progresses_their_departments_incident_but_may_not_close_it() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let incident = report(&app, &h, "LOW").await;

    let triaged = app
        .triage(
            &h.hana,
            &incident,
            json!({ "feedbackToReporter": FEEDBACK }),
        )
        .await;
    let investigating = app.transition(&h.hana, &triaged, "INVESTIGATING").await;
    let acting = app
        .transition(&h.hana, &investigating, "ACTIONS_IN_PROGRESS")
        .await;
    assert_eq!(acting["status"], "ACTIONS_IN_PROGRESS");

    // Everything closing needs is there; only the role is missing.
    let resp = app.try_transition_to(&h.hana, &acting, "CLOSED").await;
    resp.assert_error("FORBIDDEN", None);
    assert_eq!(version_now(&app, &h, &acting).await, acting["version"]);

    let closed = app.transition(&h.quinn, &acting, "CLOSED").await;
    assert_eq!(closed["status"], "CLOSED");
}

#[tokio::test]
async fn a_handler_may_not_reopen() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let closed = app
        .close_low_harm(&h.quinn, &report(&app, &h, "LOW").await)
        .await;
    let declined = app
        .transition_because(
            &h.hana,
            &report(&app, &h, "LOW").await,
            "DECLINED",
            "Not an incident",
        )
        .await;

    for incident in [&closed, &declined] {
        let resp = app
            .try_transition(
                &h.hana,
                json!({ "incidentId": incident["id"], "expectedVersion": incident["version"],
                        "to": "UNDER_REVIEW", "reason": "Second thoughts" }),
            )
            .await;
        resp.assert_error("FORBIDDEN", None);
    }
    assert_eq!(
        app.incident(&h.quinn, closed["id"].as_str().unwrap()).await["status"],
        "CLOSED"
    );
}

#[tokio::test]
async fn staff_cannot_move_an_incident_not_even_the_reporter() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let incident = report(&app, &h, "LOW").await;

    for to in ["UNDER_REVIEW", "DECLINED"] {
        let resp = app
            .try_transition(
                &h.alice,
                json!({ "incidentId": incident["id"], "expectedVersion": 1, "to": to, "reason": "mine" }),
            )
            .await;
        resp.assert_error("FORBIDDEN", None);
    }
    assert_eq!(version_now(&app, &h, &incident).await, 1);
}

#[tokio::test]
async fn a_handler_of_another_department_gets_not_found_when_moving_an_incident() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let incident = report(&app, &h, "LOW").await;

    let resp = app
        .try_transition_to(&h.nina, &incident, "UNDER_REVIEW")
        .await;

    resp.assert_error("NOT_FOUND", None);
    assert_eq!(version_now(&app, &h, &incident).await, 1);
}

#[tokio::test]
async fn allowed_transitions_tell_each_viewer_what_they_may_do_now() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let incident = report(&app, &h, "LOW").await;
    let id = incident["id"].as_str().unwrap();

    let as_quinn = app.incident(&h.quinn, id).await;
    assert_eq!(
        set(&as_quinn["allowedTransitions"]),
        set_of(&["UNDER_REVIEW", "DECLINED"])
    );
    let as_hana = app.incident(&h.hana, id).await;
    assert_eq!(
        set(&as_hana["allowedTransitions"]),
        set_of(&["UNDER_REVIEW", "DECLINED"])
    );
    let as_alice = app.incident(&h.alice, id).await;
    assert_eq!(set(&as_alice["allowedTransitions"]), set_of(&[]));

    app.triage(
        &h.hana,
        &incident,
        json!({ "feedbackToReporter": FEEDBACK }),
    )
    .await;
    let as_quinn = app.incident(&h.quinn, id).await;
    assert_eq!(
        set(&as_quinn["allowedTransitions"]),
        set_of(&["INVESTIGATING", "CLOSED", "DECLINED"])
    );
    let as_hana = app.incident(&h.hana, id).await;
    assert_eq!(
        set(&as_hana["allowedTransitions"]),
        set_of(&["INVESTIGATING", "DECLINED"])
    );

    let closed = app.transition(&h.quinn, &as_quinn, "CLOSED").await;
    assert_eq!(
        set(&closed["allowedTransitions"]),
        set_of(&["UNDER_REVIEW"])
    );
    let as_hana = app.incident(&h.hana, id).await;
    assert_eq!(set(&as_hana["allowedTransitions"]), set_of(&[]));
}

// --- closing rules -------------------------------------------------------------------------

#[tokio::test]
async fn an_incident_cannot_close_until_the_reporter_has_feedback() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let incident = report(&app, &h, "LOW").await;
    let under_review = app.transition(&h.quinn, &incident, "UNDER_REVIEW").await;

    let resp = app
        .try_transition_to(&h.quinn, &under_review, "CLOSED")
        .await;

    resp.assert_error("BAD_USER_INPUT", Some("feedbackToReporter"));
    let now = app
        .incident(&h.quinn, incident["id"].as_str().unwrap())
        .await;
    assert_eq!(now["status"], "UNDER_REVIEW");
    assert!(now["closedAt"].is_null(), "{now}");
}

#[tokio::test]
async fn moderate_harm_cannot_close_without_a_learning_response_and_summary() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let incident = report(&app, &h, "MODERATE").await;
    // Duty of candour is not what this story is about.
    let triaged = app
        .triage(
            &h.quinn,
            &incident,
            json!({ "feedbackToReporter": FEEDBACK, "dutyOfCandourApplies": false }),
        )
        .await;

    let resp = app.try_transition_to(&h.quinn, &triaged, "CLOSED").await;
    resp.assert_error("BAD_USER_INPUT", Some("learningResponse"));

    let with_response = app
        .triage(
            &h.quinn,
            &triaged,
            json!({
                "learningResponse": "SWARM_HUDDLE",
                "learningResponseOverrideReason": "The team met the same afternoon",
            }),
        )
        .await;
    let resp = app
        .try_transition_to(&h.quinn, &with_response, "CLOSED")
        .await;
    resp.assert_error("BAD_USER_INPUT", Some("learningSummary"));

    let with_summary = app
        .triage(
            &h.quinn,
            &with_response,
            json!({ "learningSummary": "Two-person check before moving patients." }),
        )
        .await;
    let closed = app.transition(&h.quinn, &with_summary, "CLOSED").await;
    assert_eq!(closed["status"], "CLOSED");
}

#[tokio::test]
async fn moderate_psychological_harm_also_needs_a_learning_response() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let incident = app
        .report_incident(
            &h.alice,
            with(
                incident_input(&h.cardiology),
                json!({ "physicalHarm": "NONE", "psychologicalHarm": "MODERATE" }),
            ),
        )
        .await;
    let triaged = app
        .triage(
            &h.quinn,
            &incident,
            json!({ "feedbackToReporter": FEEDBACK, "dutyOfCandourApplies": false }),
        )
        .await;

    let resp = app.try_transition_to(&h.quinn, &triaged, "CLOSED").await;

    resp.assert_error("BAD_USER_INPUT", Some("learningResponse"));
}

#[tokio::test]
async fn harm_confirmed_as_severe_at_triage_brings_in_the_closing_rules() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let incident = report(&app, &h, "LOW").await;
    assert_eq!(incident["dutyOfCandour"]["applies"], false);

    let triaged = app
        .triage(
            &h.quinn,
            &incident,
            json!({ "physicalHarm": "SEVERE", "feedbackToReporter": FEEDBACK }),
        )
        .await;
    assert_eq!(triaged["dutyOfCandour"]["applies"], true, "{triaged}");

    let resp = app.try_transition_to(&h.quinn, &triaged, "CLOSED").await;
    resp.assert_error("BAD_USER_INPUT", Some("learningResponse"));
}

#[tokio::test]
async fn duty_of_candour_applies_by_default_from_moderate_harm() {
    let app = spawn_app().await;
    let h = app.hospital().await;

    for (physical, psychological, applies) in [
        ("NONE", "NONE", false),
        ("LOW", "LOW", false),
        ("MODERATE", "NONE", true),
        ("SEVERE", "NONE", true),
        ("FATAL", "NONE", true),
        ("NONE", "MODERATE", true),
        ("LOW", "SEVERE", true),
    ] {
        let incident = app
            .report_incident(
                &h.alice,
                with(
                    incident_input(&h.cardiology),
                    json!({ "physicalHarm": physical, "psychologicalHarm": psychological }),
                ),
            )
            .await;
        assert_eq!(
            incident["dutyOfCandour"]["applies"], applies,
            "physical {physical}, psychological {psychological}: {incident}"
        );
        assert_eq!(incident["dutyOfCandour"]["complete"], false, "{incident}");
    }
}

async fn ready_to_close_but_for_candour(app: &TestApp, h: &Hospital) -> Value {
    let incident = report(app, h, "MODERATE").await;
    app.triage(
        &h.quinn,
        &incident,
        json!({
            "feedbackToReporter": FEEDBACK,
            "learningResponse": "AFTER_ACTION_REVIEW",
            "learningSummary": "Two-person check before moving patients.",
        }),
    )
    .await
}

#[tokio::test]
async fn an_incident_owed_candour_closes_only_after_notifications_and_final_letter() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let incident = ready_to_close_but_for_candour(&app, &h).await;
    assert_eq!(incident["dutyOfCandour"]["applies"], true);

    let resp = app.try_transition_to(&h.quinn, &incident, "CLOSED").await;
    resp.assert_error("BAD_USER_INPUT", Some("dutyOfCandour"));

    let verbal = app
        .record_candour_step(&h.hana, &incident, "VERBAL_NOTIFICATION")
        .await;
    let written = app
        .record_candour_step(&h.hana, &verbal, "WRITTEN_NOTIFICATION")
        .await;
    let update = app.record_candour_step(&h.hana, &written, "UPDATE").await;
    assert_eq!(update["dutyOfCandour"]["complete"], false, "{update}");
    let resp = app.try_transition_to(&h.quinn, &update, "CLOSED").await;
    resp.assert_error("BAD_USER_INPUT", Some("dutyOfCandour"));

    let final_letter = app
        .record_candour_step(&h.quinn, &update, "FINAL_LETTER")
        .await;
    assert_eq!(
        final_letter["dutyOfCandour"]["complete"], true,
        "{final_letter}"
    );
    let closed = app.transition(&h.quinn, &final_letter, "CLOSED").await;
    assert_eq!(closed["status"], "CLOSED");
}

#[tokio::test]
async fn candour_steps_are_kept_with_when_they_were_taken() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let incident = ready_to_close_but_for_candour(&app, &h).await;
    let taken_at = chrono::Utc::now() - chrono::Duration::days(2);

    let resp = app
        .try_record_candour_step(
            &h.hana,
            json!({
                "incidentId": incident["id"], "expectedVersion": incident["version"],
                "step": "VERBAL_NOTIFICATION", "takenAt": rfc3339(taken_at),
            }),
        )
        .await;
    resp.assert_ok();
    let updated = &resp.data()["recordDutyOfCandourStep"]["incident"];

    assert_eq!(
        updated["version"],
        incident["version"].as_i64().unwrap() + 1
    );
    let steps = updated["dutyOfCandour"]["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 1, "{updated}");
    assert_eq!(steps[0]["step"], "VERBAL_NOTIFICATION");
    assert_eq!(
        parse_time(&steps[0]["takenAt"]).timestamp(),
        taken_at.timestamp()
    );
}

#[tokio::test]
async fn staff_cannot_record_candour_steps() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let incident = report(&app, &h, "MODERATE").await;

    let resp = app
        .try_record_candour_step(
            &h.alice,
            json!({
                "incidentId": incident["id"], "expectedVersion": 1,
                "step": "VERBAL_NOTIFICATION", "takenAt": rfc3339(chrono::Utc::now()),
            }),
        )
        .await;

    resp.assert_error("FORBIDDEN", None);
    assert_eq!(version_now(&app, &h, &incident).await, 1);
}

#[tokio::test]
async fn a_quality_lead_may_decide_candour_does_not_apply() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let incident = ready_to_close_but_for_candour(&app, &h).await;

    let not_owed = app
        .triage(
            &h.quinn,
            &incident,
            json!({ "dutyOfCandourApplies": false }),
        )
        .await;
    assert_eq!(not_owed["dutyOfCandour"]["applies"], false);

    let closed = app.transition(&h.quinn, &not_owed, "CLOSED").await;
    assert_eq!(closed["status"], "CLOSED");
}

#[tokio::test]
async fn candour_may_be_applied_to_low_harm_and_then_must_be_completed() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let incident = report(&app, &h, "LOW").await;

    let owed = app
        .triage(
            &h.quinn,
            &incident,
            json!({ "feedbackToReporter": FEEDBACK, "dutyOfCandourApplies": true }),
        )
        .await;
    assert_eq!(owed["dutyOfCandour"]["applies"], true);

    let resp = app.try_transition_to(&h.quinn, &owed, "CLOSED").await;
    resp.assert_error("BAD_USER_INPUT", Some("dutyOfCandour"));
}

// --- optimistic concurrency ----------------------------------------------------------------

#[tokio::test]
async fn a_change_based_on_a_stale_version_is_a_conflict() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let stale = report(&app, &h, "MODERATE").await;
    let current = app.transition(&h.hana, &stale, "UNDER_REVIEW").await;
    assert_eq!(current["version"], 2);

    let transition = app
        .try_transition(
            &h.hana,
            json!({ "incidentId": stale["id"], "expectedVersion": 1, "to": "DECLINED", "reason": "dup" }),
        )
        .await;
    transition.assert_error("CONFLICT", None);

    let triage = app
        .try_triage(
            &h.hana,
            json!({ "incidentId": stale["id"], "expectedVersion": 1, "category": "Falls" }),
        )
        .await;
    triage.assert_error("CONFLICT", None);

    let candour = app
        .try_record_candour_step(
            &h.hana,
            json!({
                "incidentId": stale["id"], "expectedVersion": 1,
                "step": "VERBAL_NOTIFICATION", "takenAt": rfc3339(chrono::Utc::now()),
            }),
        )
        .await;
    candour.assert_error("CONFLICT", None);

    let now = app.incident(&h.quinn, stale["id"].as_str().unwrap()).await;
    assert_eq!(now["version"], 2);
    assert_eq!(now["status"], "UNDER_REVIEW");
    assert!(now["category"] != "Falls", "{now}");
    assert_eq!(now["dutyOfCandour"]["steps"], json!([]));
}

#[tokio::test]
async fn two_people_moving_the_same_incident_at_once_one_wins_the_other_conflicts() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let incident = report(&app, &h, "LOW").await;

    // Either change would be legal after the other (DECLINED -> UNDER_REVIEW is a reopen,
    // which a quality lead may do), so only the version can refuse the loser.
    let (a, b) = join(
        app.try_transition(
            &h.quinn,
            json!({ "incidentId": incident["id"], "expectedVersion": 1, "to": "UNDER_REVIEW", "reason": "Needs review" }),
        ),
        app.try_transition(
            &h.quinn,
            json!({ "incidentId": incident["id"], "expectedVersion": 1, "to": "DECLINED", "reason": "Not an incident" }),
        ),
    )
    .await;

    let outcomes = [&a, &b];
    let winners = outcomes.iter().filter(|r| r.errors().is_empty()).count();
    let conflicts = outcomes
        .iter()
        .filter(|r| r.error_code().as_deref() == Some("CONFLICT"))
        .count();
    assert_eq!(
        (winners, conflicts),
        (1, 1),
        "exactly one succeeds and the other is CONFLICT:\n{a}\n{b}"
    );
    let now = app
        .incident(&h.quinn, incident["id"].as_str().unwrap())
        .await;
    assert_eq!(now["version"], 2);
}

#[tokio::test]
async fn many_people_triaging_different_incidents_at_once_all_succeed() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let mut incidents = Vec::new();
    for _ in 0..10 {
        incidents.push(report(&app, &h, "LOW").await);
    }

    let responses = futures_util::future::join_all(incidents.iter().map(|incident| {
        app.try_triage(
            &h.hana,
            json!({ "incidentId": incident["id"], "expectedVersion": 1, "category": "Falls" }),
        )
    }))
    .await;

    for resp in &responses {
        let triaged = &resp.assert_ok()["triageIncident"]["incident"];
        assert_eq!(triaged["status"], "UNDER_REVIEW");
        assert_eq!(triaged["version"], 2);
    }
}
