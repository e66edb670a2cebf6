//! The trust's patient safety incident response plan (PSIRP) is data: its rules suggest a
//! learning response from an incident's facts, and choosing another needs a reason.

use super::*;
use candour::learning::rules::{Conditions, Psirp, PsirpRule};

/// What the incident's reviewer sees of the plan's suggestion, and the response chosen.
async fn suggestion(app: &TestApp, token: &str, incident: &Value) -> Value {
    let resp = app
        .gql(
            Some(token),
            "query($id: ID!) { incident(id: $id) {
               version learningResponse learningResponseOverrideReason
               suggestedLearningResponse { response rule }
             } }",
            json!({ "id": incident["id"] }),
        )
        .await;
    resp.assert_ok();
    resp.data()["incident"].clone()
}

async fn reported(app: &TestApp, h: &Hospital, facts: Value) -> Value {
    app.report_incident(&h.alice, with(incident_input(&h.cardiology), facts))
        .await
}

#[tokio::test]
async fn the_plan_suggests_a_response_from_the_incidents_facts() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    for (facts, response, rule) in [
        (json!({ "physicalHarm": "LOW" }), "NONE", "Default"),
        (
            json!({ "physicalHarm": "MODERATE" }),
            "AFTER_ACTION_REVIEW",
            "Moderate harm",
        ),
        (
            json!({ "physicalHarm": "SEVERE" }),
            "MDT_REVIEW",
            "Severe harm",
        ),
        (
            json!({ "physicalHarm": "FATAL" }),
            "PSII",
            "Death thought more likely than not due to problems in care",
        ),
        (
            json!({ "physicalHarm": "NONE", "nearMiss": true }),
            "SWARM_HUDDLE",
            "Near miss",
        ),
        (
            json!({ "physicalHarm": "NONE", "category": "Wrong site surgery" }),
            "PSII",
            "Never event",
        ),
    ] {
        let incident = reported(&app, &h, facts.clone()).await;
        let seen = suggestion(&app, &h.hana, &incident).await;
        assert_eq!(
            seen["suggestedLearningResponse"],
            json!({ "response": response, "rule": rule }),
            "{facts}"
        );
    }
    // The reporter is not shown the review's workings.
    let mine = reported(&app, &h, json!({ "physicalHarm": "SEVERE" })).await;
    assert_eq!(
        suggestion(&app, &h.alice, &mine).await["suggestedLearningResponse"],
        Value::Null
    );
    // Confirmed harm at triage changes the suggestion.
    let triaged = app
        .triage(&h.hana, &mine, json!({ "physicalHarm": "MODERATE" }))
        .await;
    assert_eq!(
        suggestion(&app, &h.hana, &triaged).await["suggestedLearningResponse"]["response"],
        "AFTER_ACTION_REVIEW"
    );
}

#[tokio::test]
async fn choosing_another_response_than_the_suggestion_needs_a_reason_which_is_kept_and_on_the_trail(
) {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let incident = reported(&app, &h, json!({ "physicalHarm": "MODERATE" })).await;

    let refused = app
        .try_triage(
            &h.hana,
            json!({ "incidentId": incident["id"], "expectedVersion": incident["version"],
                    "learningResponse": "SWARM_HUDDLE" }),
        )
        .await;
    refused.assert_error("BAD_USER_INPUT", Some("learningResponseOverrideReason"));
    let unchanged = suggestion(&app, &h.hana, &incident).await;
    assert_eq!(
        unchanged["version"], incident["version"],
        "nothing was saved"
    );
    assert_eq!(unchanged["learningResponse"], Value::Null);
    app.try_triage(
        &h.hana,
        json!({ "incidentId": incident["id"], "expectedVersion": incident["version"],
                "learningResponse": "SWARM_HUDDLE", "learningResponseOverrideReason": "   " }),
    )
    .await
    .assert_error("BAD_USER_INPUT", Some("learningResponseOverrideReason"));

    let reason = "The team met the same afternoon; a huddle captured it while fresh";
    let triaged = app
        .triage(
            &h.hana,
            &incident,
            json!({ "learningResponse": "SWARM_HUDDLE", "learningResponseOverrideReason": reason }),
        )
        .await;
    let seen = suggestion(&app, &h.hana, &triaged).await;
    assert_eq!(seen["learningResponse"], "SWARM_HUDDLE");
    assert_eq!(seen["learningResponseOverrideReason"], reason);
    assert_eq!(
        seen["suggestedLearningResponse"]["response"],
        "AFTER_ACTION_REVIEW"
    );

    let history = app.history(&h.quinn, &id(&incident)).await;
    let triage = history
        .iter()
        .rev()
        .find(|e| e["action"] == "incident.triaged")
        .unwrap();
    let changes = triage["changes"].as_array().unwrap();
    let field = |name: &str| {
        changes
            .iter()
            .find(|c| c["field"] == name)
            .unwrap_or_else(|| panic!("{name} not on the trail: {triage}"))
            .clone()
    };
    assert_eq!(field("learningResponse")["after"], "SWARM_HUDDLE");
    assert_eq!(
        field("learningResponseOverrideReason")["after"],
        Value::Null
    );
    assert!(!serde_json::to_string(&history)
        .unwrap()
        .contains("huddle captured"));

    // Choosing what the plan suggests needs no reason, and the old one goes.
    let agreed = app
        .triage(
            &h.hana,
            &triaged,
            json!({ "learningResponse": "AFTER_ACTION_REVIEW" }),
        )
        .await;
    let seen = suggestion(&app, &h.hana, &agreed).await;
    assert_eq!(seen["learningResponse"], "AFTER_ACTION_REVIEW");
    assert_eq!(seen["learningResponseOverrideReason"], Value::Null);
}

#[tokio::test]
async fn a_trusts_own_plan_replaces_the_built_in_one() {
    let app = spawn_app_with(|s| {
        s.psirp = Psirp {
            default: "AFTER_ACTION_REVIEW".into(),
            never_event_categories: vec![],
            rules: vec![PsirpRule {
                name: "Cardiology falls".into(),
                response: "THEMATIC_REVIEW".into(),
                when: Conditions {
                    departments: vec!["CARD".into()],
                    categories: vec!["Slips, trips and falls".into()],
                    ..Default::default()
                },
            }],
        };
    })
    .await;
    let h = app.hospital().await;
    let fall = reported(
        &app,
        &h,
        json!({ "category": "slips, trips and falls", "physicalHarm": "SEVERE" }),
    )
    .await;
    assert_eq!(
        suggestion(&app, &h.quinn, &fall).await["suggestedLearningResponse"],
        json!({ "response": "THEMATIC_REVIEW", "rule": "Cardiology falls" })
    );
    let elsewhere = app
        .report_incident(
            &h.alice,
            with(
                incident_input(&h.neurology),
                json!({ "category": "Slips, trips and falls" }),
            ),
        )
        .await;
    assert_eq!(
        suggestion(&app, &h.quinn, &elsewhere).await["suggestedLearningResponse"],
        json!({ "response": "AFTER_ACTION_REVIEW", "rule": "Default" })
    );
    // The built-in rules are gone: a wrong-site surgery is no longer a never event here.
    let wrong_site = reported(
        &app,
        &h,
        json!({ "category": "Wrong site surgery", "physicalHarm": "NONE" }),
    )
    .await;
    assert_eq!(
        suggestion(&app, &h.quinn, &wrong_site).await["suggestedLearningResponse"]["rule"],
        "Default"
    );
}
