//! What subscribers hear, and when.
use super::*;

#[tokio::test]
async fn a_handler_hears_an_incident_reported_triaged_moved_on_commented_and_closed() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let mut ws = incident_events(&app, &h.quinn, json!(null)).await;

    let incident = app
        .report_incident(&h.alice, incident_input(&h.cardiology))
        .await;
    let e = next_incident_event(&mut ws).await;
    assert_eq!(e["type"], "REPORTED", "{e}");
    assert_eq!(e["incident"]["id"], incident["id"]);
    assert_eq!(e["incident"]["reference"], incident["reference"]);

    let triaged = app
        .triage(&h.quinn, &incident, json!({ "category": "Falls" }))
        .await;
    let e = next_incident_event(&mut ws).await;
    assert_eq!(e["type"], "TRIAGED", "{e}");
    assert!(
        e["changes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["field"] == "category" && c["after"] == "Falls"),
        "the change is named: {e}"
    );

    let moved = app.transition(&h.quinn, &triaged, "INVESTIGATING").await;
    let e = next_incident_event(&mut ws).await;
    assert_eq!(e["type"], "TRANSITIONED", "{e}");
    assert_eq!(e["incident"]["status"], "INVESTIGATING");

    app.comment(&h.quinn, &id(&incident), "Rails checked on every trolley.")
        .await;
    let e = next_incident_event(&mut ws).await;
    assert_eq!(e["type"], "COMMENTED", "{e}");
    let body = e["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["field"] == "body")
        .cloned()
        .unwrap_or_else(|| panic!("the comment is named: {e}"));
    assert_eq!(
        body["sensitive"], true,
        "a comment's words are not sent: {e}"
    );
    assert_eq!(body["after"], Value::Null, "{e}");

    let current = app.incident(&h.quinn, &id(&moved)).await;
    app.close_low_harm(&h.quinn, &current).await;
    let mut types = Vec::new();
    loop {
        let e = next_incident_event(&mut ws).await;
        types.push(e["type"].as_str().unwrap().to_string());
        if e["type"] == "CLOSED" {
            assert_eq!(e["incident"]["status"], "CLOSED");
            break;
        }
    }
    // Feedback to the reporter is a triage; then the closing.
    assert_eq!(types, ["TRIAGED", "CLOSED"]);
    ws.silent_for(QUIET).await;
}

#[tokio::test]
async fn event_ids_follow_the_trail_in_order_and_filters_choose_what_is_sent() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let mut all = incident_events(&app, &h.quinn, json!(null)).await;
    let mut serious_card = incident_events(
        &app,
        &h.quinn,
        json!({ "departmentIds": [h.cardiology], "minHarm": "MODERATE", "kinds": ["PATIENT_SAFETY"] }),
    )
    .await;
    let mut reported_only = incident_events(&app, &h.quinn, json!({ "types": ["REPORTED"] })).await;

    let low = app
        .report_incident(&h.alice, incident_input(&h.cardiology))
        .await;
    let severe_neuro = app
        .report_incident(
            &h.alice,
            with(
                incident_input(&h.neurology),
                json!({ "physicalHarm": "SEVERE" }),
            ),
        )
        .await;
    let moderate_card = app
        .report_incident(
            &h.alice,
            with(
                incident_input(&h.cardiology),
                json!({ "psychologicalHarm": "MODERATE" }),
            ),
        )
        .await;
    let equipment = app
        .report_incident(
            &h.alice,
            with(
                incident_input(&h.cardiology),
                json!({ "kind": "EQUIPMENT", "physicalHarm": "SEVERE" }),
            ),
        )
        .await;
    app.triage(&h.quinn, &moderate_card, json!({ "category": "Falls" }))
        .await;

    let mut seen = Vec::new();
    let mut last: i64 = 0;
    for _ in 0..5 {
        let e = next_incident_event(&mut all).await;
        let n: i64 = e["id"].as_str().unwrap().parse().unwrap();
        assert!(n > last, "event ids increase: {last} then {n}");
        last = n;
        seen.push((e["incident"]["id"].clone(), e["type"].clone()));
    }
    assert_eq!(
        seen,
        [
            (low["id"].clone(), json!("REPORTED")),
            (severe_neuro["id"].clone(), json!("REPORTED")),
            (moderate_card["id"].clone(), json!("REPORTED")),
            (equipment["id"].clone(), json!("REPORTED")),
            (moderate_card["id"].clone(), json!("TRIAGED")),
        ]
    );

    // Cardiology, moderate harm or worse, patient safety: only the one.
    let e = next_incident_event(&mut serious_card).await;
    assert_eq!(
        (e["incident"]["id"].clone(), e["type"].clone()),
        (moderate_card["id"].clone(), json!("REPORTED"))
    );
    let e = next_incident_event(&mut serious_card).await;
    assert_eq!(e["type"], "TRIAGED");
    serious_card.silent_for(QUIET).await;

    for expected in [&low, &severe_neuro, &moderate_card, &equipment] {
        let e = next_incident_event(&mut reported_only).await;
        assert_eq!(e["incident"]["id"], expected["id"]);
    }
    reported_only.silent_for(QUIET).await;
    all.silent_for(Duration::from_millis(10)).await;
}

#[tokio::test]
async fn a_refused_change_announces_nothing() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let incident = app
        .report_incident(&h.alice, incident_input(&h.cardiology))
        .await;
    app.wait_sealed().await;
    let mut ws = incident_events(&app, &h.quinn, json!(null)).await;

    // A stale version, a close without feedback, a report with no title: all refused.
    app.try_triage(
        &h.quinn,
        json!({ "incidentId": incident["id"], "expectedVersion": 99, "category": "Falls" }),
    )
    .await
    .assert_error("CONFLICT", None);
    assert!(app
        .try_transition_to(&h.quinn, &incident, "CLOSED")
        .await
        .error_code()
        .is_some());
    app.try_report_incident(
        &h.alice,
        with(incident_input(&h.cardiology), json!({ "title": "" })),
    )
    .await
    .assert_error("BAD_USER_INPUT", None);
    ws.silent_for(QUIET).await;

    // The next change that commits is the next event.
    app.comment(&h.quinn, &id(&incident), "Checked.").await;
    let e = next_incident_event(&mut ws).await;
    assert_eq!(e["type"], "COMMENTED");
}

#[tokio::test]
async fn an_action_owner_hears_it_assigned_reassigned_and_verified() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    app.sign_in(&[&h.hana]).await;
    let incident = app
        .report_incident(&h.alice, incident_input(&h.cardiology))
        .await;
    let mut ws = app.ws_as(&h.quinn).await;
    ws.subscribe_now("a", ACTION_EVENTS, json!({})).await;

    let action = app
        .create_corrective_action(
            &h.quinn,
            corrective_action_input(&id(&incident), "hana@candour.test"),
        )
        .await;
    let e = ws.event("a").await["actionEvents"].clone();
    assert_eq!(e["type"], "ASSIGNED", "{e}");
    assert_eq!(e["correctiveAction"]["id"], action["id"]);

    let action = app
        .update_action(
            &h.quinn,
            &action,
            json!({ "ownerEmail": "bob@candour.test" }),
        )
        .await;
    let e = ws.event("a").await["actionEvents"].clone();
    assert_eq!(e["type"], "ASSIGNED", "{e}");
    assert_eq!(e["correctiveAction"]["ownerEmail"], "bob@candour.test");

    let action = app
        .update_action(&h.quinn, &action, json!({ "status": "IN_PROGRESS" }))
        .await;
    let action = app
        .update_action(
            &h.quinn,
            &action,
            json!({ "status": "COMPLETED", "note": "Done." }),
        )
        .await;
    app.update_action(
        &h.quinn,
        &action,
        json!({ "status": "VERIFIED", "effective": true, "note": "Audit shows rails up." }),
    )
    .await;
    let e = ws.event("a").await["actionEvents"].clone();
    assert_eq!(
        e["type"], "VERIFIED",
        "moving on without a new owner announces nothing: {e}"
    );
    ws.silent_for(QUIET).await;
}

#[tokio::test]
async fn an_action_falling_due_and_going_overdue_is_announced_once_per_due_date() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let incident = app
        .report_incident(&h.alice, incident_input(&h.cardiology))
        .await;
    let action = app
        .create_corrective_action(
            &h.quinn,
            corrective_action_input(&id(&incident), "hana@candour.test"),
        )
        .await;
    app.wait_sealed().await;
    let mut ws = app.ws_as(&h.quinn).await;
    ws.subscribe_now(
        "a",
        ACTION_EVENTS,
        json!({ "filter": { "types": ["DUE", "OVERDUE"] } }),
    )
    .await;

    let due =
        chrono::NaiveDate::parse_from_str(action["dueDate"].as_str().unwrap(), "%Y-%m-%d").unwrap();
    // A working day: the scheduler reminds of actions on working days only.
    let mut day = due;
    while matches!(
        chrono::Datelike::weekday(&day),
        chrono::Weekday::Sat | chrono::Weekday::Sun
    ) {
        day += chrono::Duration::days(1);
    }
    let at = |d: chrono::NaiveDate| d.and_hms_opt(10, 0, 0).unwrap().and_utc();
    let scheduler = |clock| {
        app.another_instance(move |s| {
            s.notify.schedule = true;
            s.notify.schedule_interval_secs = 1;
            s.notify.clock = Some(clock);
            s.notify.dispatch = false;
        })
    };
    if day == due {
        let on_the_day = scheduler(at(due)).await;
        let e = ws.event("a").await["actionEvents"].clone();
        assert_eq!(e["type"], "DUE", "{e}");
        assert_eq!(e["changes"][0]["field"], "dueDate");
        assert_eq!(e["changes"][0]["after"], action["dueDate"]);
        // It runs every second: the day's announcement is made once.
        ws.silent_for(Duration::from_millis(2500)).await;
        on_the_day.stop(true).await;
    }
    let mut after = day + chrono::Duration::days(1);
    while matches!(
        chrono::Datelike::weekday(&after),
        chrono::Weekday::Sat | chrono::Weekday::Sun
    ) {
        after += chrono::Duration::days(1);
    }
    let late = scheduler(at(after)).await;
    let e = ws.event("a").await["actionEvents"].clone();
    assert_eq!(e["type"], "OVERDUE", "{e}");
    assert_eq!(e["correctiveAction"]["id"], action["id"]);
    ws.silent_for(Duration::from_millis(2500)).await;
    late.stop(true).await;
}
