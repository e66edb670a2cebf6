//! Raising a corrective action on an incident: who may, on what, and what is refused.

use super::*;

#[tokio::test]
async fn a_handler_raises_a_corrective_action_on_their_departments_incident() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let incident = cardiac_incident(&app, &h).await;
    let due = days_from_today(14);

    let action = raise(
        &app,
        &h.hana,
        &incident,
        "Olive.Owner@Candour.TEST",
        json!({ "dueDate": due }),
    )
    .await;

    assert_eq!(action["status"], "OPEN");
    assert_eq!(action["version"], 1);
    assert_eq!(action["priority"], "MEDIUM", "MEDIUM by default");
    assert_eq!(action["title"], "Check trolley rails at every handover");
    assert_eq!(
        action["description"],
        "Add trolley rails to the handover checklist and audit it weekly."
    );
    assert_eq!(action["dueDate"], due.as_str());
    assert_eq!(action["overdue"], false);
    assert_eq!(action["ownerEmail"], "olive.owner@candour.test");
    assert!(
        action["owner"].is_null(),
        "nobody with that email has signed in: {action}"
    );
    assert_eq!(action["source"]["__typename"], "Incident");
    assert_eq!(action["source"]["id"], incident["id"]);
    assert_eq!(action["department"]["id"], h.cardiology.as_str());
    assert_eq!(action["department"]["code"], "CARD");
    for field in [
        "effective",
        "verificationNote",
        "cancellationReason",
        "followUp",
        "followUpOf",
        "completedAt",
        "verifiedAt",
    ] {
        assert!(action[field].is_null(), "{field} is null: {action}");
    }
    assert!(parse_time(&action["createdAt"]) >= parse_time(&incident["reportedAt"]));

    let reread = app.corrective_action(&h.hana, &id(&action)).await;
    assert_eq!(without(reread, &["__typename"]), action);
}

#[tokio::test]
async fn a_quality_lead_and_a_managing_service_account_may_raise_actions_anywhere() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let incident = neuro_incident(&app, &h).await;

    let by_quinn = raise(
        &app,
        &h.quinn,
        &incident,
        OLIVE,
        json!({ "priority": "URGENT" }),
    )
    .await;
    assert_eq!(by_quinn["status"], "OPEN");
    assert_eq!(by_quinn["priority"], "URGENT");
    assert_eq!(by_quinn["department"]["code"], "NEUR");

    let manager = app.service(&["incidents:manage"]);
    let by_service = raise(&app, &manager, &incident, OSCAR, json!({})).await;
    assert_eq!(by_service["status"], "OPEN");
    assert_eq!(by_service["version"], 1);

    assert_eq!(
        distinct(
            app.corrective_action_ids(&h.quinn, json!({ "sourceId": incident["id"] }))
                .await,
            "action"
        ),
        ids(&[&by_quinn, &by_service])
    );
}

#[tokio::test]
async fn those_who_may_see_the_incident_but_not_manage_it_are_forbidden_to_raise_actions() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let incident = cardiac_incident(&app, &h).await;
    let reader = app.service(&["incidents:read"]);

    for (who, token) in [("the reporter", &h.alice), ("a reading service", &reader)] {
        let resp = app
            .try_create_corrective_action(token, corrective_action_input(&id(&incident), OLIVE))
            .await;
        assert_eq!(
            resp.error_code().as_deref(),
            Some("FORBIDDEN"),
            "{who}: {resp}"
        );
    }

    let list = app.list_corrective_actions(&h.quinn, json!({})).await;
    assert_eq!(list.assert_ok()["correctiveActions"]["totalCount"], 0);
}

#[tokio::test]
async fn a_source_the_caller_cannot_see_or_that_is_no_incident_is_refused_on_source_id() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let incident = cardiac_incident(&app, &h).await;
    // A well-formed incident id that only another Candour database knows.
    let elsewhere = spawn_app().await;
    let other = elsewhere.hospital().await;
    let foreign = elsewhere
        .report_incident(&other.alice, incident_input(&other.cardiology))
        .await;

    for (who, token, source) in [
        ("staff who did not report it", &h.bob, id(&incident)),
        ("a handler of another department", &h.nina, id(&incident)),
        ("a quality lead, unknown incident", &h.quinn, id(&foreign)),
        (
            "a quality lead, a department",
            &h.quinn,
            h.cardiology.clone(),
        ),
        (
            "a quality lead, not an id",
            &h.quinn,
            "not-an-incident".to_string(),
        ),
    ] {
        let resp = app
            .try_create_corrective_action(token, corrective_action_input(&source, OLIVE))
            .await;
        assert_eq!(
            (resp.error_code().as_deref(), resp.error_field().as_deref()),
            (Some("BAD_USER_INPUT"), Some("sourceId")),
            "{who}: {resp}"
        );
    }

    let list = app.list_corrective_actions(&h.quinn, json!({})).await;
    assert_eq!(list.assert_ok()["correctiveActions"]["totalCount"], 0);
}

#[tokio::test]
async fn a_closed_or_declined_incident_takes_no_new_actions() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let closed = app
        .close_low_harm(&h.quinn, &cardiac_incident(&app, &h).await)
        .await;
    let declined = app
        .transition_because(
            &h.quinn,
            &cardiac_incident(&app, &h).await,
            "DECLINED",
            "Not an incident",
        )
        .await;

    for incident in [&closed, &declined] {
        for token in [&h.quinn, &h.hana] {
            let resp = app
                .try_create_corrective_action(token, corrective_action_input(&id(incident), OLIVE))
                .await;
            resp.assert_error("BAD_USER_INPUT", Some("sourceId"));
        }
    }
    let list = app.list_corrective_actions(&h.quinn, json!({})).await;
    assert_eq!(list.assert_ok()["correctiveActions"]["totalCount"], 0);
}

#[tokio::test]
async fn a_blank_title_or_a_bad_owner_email_is_refused_on_its_field() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let incident = cardiac_incident(&app, &h).await;

    for title in ["", "   "] {
        let resp = app
            .try_create_corrective_action(
                &h.hana,
                with(
                    corrective_action_input(&id(&incident), OLIVE),
                    json!({ "title": title }),
                ),
            )
            .await;
        resp.assert_error("BAD_USER_INPUT", Some("title"));
    }
    for email in ["not-an-email", "", "olive at candour.test"] {
        let resp = app
            .try_create_corrective_action(&h.hana, corrective_action_input(&id(&incident), email))
            .await;
        resp.assert_error("BAD_USER_INPUT", Some("ownerEmail"));
    }
    let list = app.list_corrective_actions(&h.quinn, json!({})).await;
    assert_eq!(list.assert_ok()["correctiveActions"]["totalCount"], 0);
}

#[tokio::test]
async fn an_action_may_be_recorded_with_a_due_date_already_past() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let incident = cardiac_incident(&app, &h).await;
    let due = days_from_today(-10);

    let action = raise(&app, &h.hana, &incident, OLIVE, json!({ "dueDate": due })).await;

    assert_eq!(action["status"], "OPEN");
    assert_eq!(action["dueDate"], due.as_str());
    assert_eq!(action["overdue"], true, "{action}");
}

// --- who sees actions ----------------------------------------------------------------------
