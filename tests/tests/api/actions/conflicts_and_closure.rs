//! Conflicts, the incident an action holds open, and the history of every change.

use super::*;

#[tokio::test]
async fn a_change_based_on_a_stale_version_is_a_conflict() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let incident = cardiac_incident(&app, &h).await;
    let stale = raise(&app, &h.hana, &incident, OLIVE, json!({})).await;
    let current = app
        .update_action(&h.hana, &stale, json!({ "status": "IN_PROGRESS" }))
        .await;
    assert_eq!(current["version"], 2);

    for changes in [
        json!({ "title": "Something else" }),
        json!({ "status": "COMPLETED" }),
        json!({ "status": "CANCELLED", "note": "Superseded" }),
    ] {
        let resp = app
            .try_update_action(&h.hana, &stale, changes.clone())
            .await;
        assert_eq!(
            resp.error_code().as_deref(),
            Some("CONFLICT"),
            "{changes}: {resp}"
        );
    }

    let now = as_quinn(&app, &h, &stale).await;
    assert_eq!(now["version"], 2);
    assert_eq!(now["status"], "IN_PROGRESS");
    assert_eq!(now["title"], stale["title"]);
}

#[tokio::test]
async fn two_people_changing_the_same_action_at_once_one_wins_the_other_conflicts() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let incident = cardiac_incident(&app, &h).await;

    for round in 0..3 {
        let action = raise(&app, &h.hana, &incident, OLIVE, json!({})).await;
        // Either change is legal after the other, so only the version can refuse the loser.
        let (a, b) = join(
            app.try_update_action(
                &h.hana,
                &action,
                json!({ "title": "Check rails at handover and at transfer" }),
            ),
            app.try_update_action(&h.quinn, &action, json!({ "priority": "HIGH" })),
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
            "round {round}: exactly one succeeds and the other is CONFLICT:\n{a}\n{b}"
        );
        let now = as_quinn(&app, &h, &action).await;
        assert_eq!(now["version"], 2, "{now}");
        let title_changed = now["title"] == "Check rails at handover and at transfer";
        let priority_changed = now["priority"] == "HIGH";
        assert!(
            title_changed != priority_changed,
            "only the winner's change is kept: {now}"
        );
    }
}

// --- closing the incident ------------------------------------------------------------------

#[tokio::test]
async fn an_incident_cannot_close_while_an_action_is_open_or_in_progress() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let incident = app
        .triage(
            &h.quinn,
            &cardiac_incident(&app, &h).await,
            json!({ "feedbackToReporter": FEEDBACK }),
        )
        .await;
    let incident_id = id(&incident);
    let action = raise(&app, &h.hana, &incident, OLIVE, json!({})).await;

    let current = app.incident(&h.quinn, &incident_id).await;
    app.try_transition_to(&h.quinn, &current, "CLOSED")
        .await
        .assert_error("BAD_USER_INPUT", Some("correctiveActions"));

    let started = app
        .update_action(&h.hana, &action, json!({ "status": "IN_PROGRESS" }))
        .await;
    let current = app.incident(&h.quinn, &incident_id).await;
    app.try_transition_to(&h.quinn, &current, "CLOSED")
        .await
        .assert_error("BAD_USER_INPUT", Some("correctiveActions"));
    let now = app.incident(&h.quinn, &incident_id).await;
    assert_eq!(now["status"], "UNDER_REVIEW");
    assert!(now["closedAt"].is_null(), "{now}");

    app.update_action(&h.hana, &started, json!({ "status": "COMPLETED" }))
        .await;
    let current = app.incident(&h.quinn, &incident_id).await;
    let closed = app.transition(&h.quinn, &current, "CLOSED").await;
    assert_eq!(closed["status"], "CLOSED");
}

#[tokio::test]
async fn a_cancelled_action_does_not_hold_an_incident_open() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let incident = app
        .triage(
            &h.quinn,
            &cardiac_incident(&app, &h).await,
            json!({ "feedbackToReporter": FEEDBACK }),
        )
        .await;
    let action = raise(&app, &h.hana, &incident, OLIVE, json!({})).await;
    let verified = raise(&app, &h.hana, &incident, OSCAR, json!({})).await;
    let verified = app
        .update_action(&h.hana, &verified, json!({ "status": "COMPLETED" }))
        .await;
    app.update_action(
        &h.quinn,
        &verified,
        json!({ "status": "VERIFIED", "effective": true }),
    )
    .await;
    app.update_action(
        &h.hana,
        &action,
        json!({ "status": "CANCELLED", "note": "Trolleys replaced with beds" }),
    )
    .await;

    let current = app.incident(&h.quinn, &id(&incident)).await;
    let closed = app.transition(&h.quinn, &current, "CLOSED").await;

    assert_eq!(closed["status"], "CLOSED");
}

// --- the trail -----------------------------------------------------------------------------

#[tokio::test]
async fn every_change_to_an_action_is_in_its_history() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let incident = cardiac_incident(&app, &h).await;

    let created = app
        .try_create_corrective_action(&h.hana, corrective_action_input(&id(&incident), OLIVE))
        .await;
    let action = created.assert_ok()["createCorrectiveAction"]["correctiveAction"].clone();
    let started = app
        .try_update_action(
            &app.staff("olive"),
            &action,
            json!({ "status": "IN_PROGRESS", "note": "Checklist drafted." }),
        )
        .await;
    let started_action = started.assert_ok()["updateCorrectiveAction"]["correctiveAction"].clone();
    let completed = app
        .try_update_action(&h.quinn, &started_action, json!({ "status": "COMPLETED" }))
        .await;
    completed.assert_ok();

    let history = app.corrective_action_history(&h.quinn, &id(&action)).await;

    let pretty = serde_json::to_string_pretty(&history).unwrap();
    let creations: Vec<&Value> = history
        .iter()
        .filter(|e| e["action"] == "corrective_action.created")
        .collect();
    assert_eq!(creations.len(), 1, "one creation event: {pretty}");
    assert_eq!(creations[0]["requestId"], created.request_id().as_str());
    assert_eq!(creations[0]["actor"]["name"], "Hana Test");

    let updates: Vec<&Value> = history
        .iter()
        .filter(|e| e["action"] == "corrective_action.updated")
        .collect();
    assert_eq!(updates.len(), 2, "one event per update: {pretty}");
    for (event, resp, actor, before, after) in [
        (updates[0], &started, "Olive Test", "OPEN", "IN_PROGRESS"),
        (
            updates[1],
            &completed,
            "Quinn Test",
            "IN_PROGRESS",
            "COMPLETED",
        ),
    ] {
        assert_eq!(event["requestId"], resp.request_id().as_str(), "{event}");
        assert_eq!(event["actor"]["name"], actor, "{event}");
        let status = event["changes"]
            .as_array()
            .and_then(|cs| cs.iter().find(|c| c["field"] == "status"))
            .unwrap_or_else(|| panic!("no status change: {event}"));
        assert_eq!(status["before"], before, "{event}");
        assert_eq!(status["after"], after, "{event}");
    }
    let times: Vec<_> = history.iter().map(|e| parse_time(&e["at"])).collect();
    let mut sorted = times.clone();
    sorted.sort();
    assert_eq!(times, sorted, "history is oldest first: {pretty}");
}

// --- listing -------------------------------------------------------------------------------
