//! Events reach subscribers on every instance, and a reconnecting client misses none.
use super::*;

#[tokio::test]
async fn an_incident_reported_on_one_instance_reaches_subscribers_on_another() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let other = app.another_instance(|_| {}).await;
    let mut here = incident_events(&app, &h.quinn, json!(null)).await;
    let mut there = incident_events(&other, &h.quinn, json!(null)).await;

    let a = app
        .report_incident(&h.alice, incident_input(&h.cardiology))
        .await;
    let b = other
        .report_incident(&h.alice, incident_input(&h.neurology))
        .await;
    for ws in [&mut here, &mut there] {
        let mut got = vec![
            next_incident_event(ws).await["incident"]["id"].clone(),
            next_incident_event(ws).await["incident"]["id"].clone(),
        ];
        got.sort_by_key(|v| v.to_string());
        let mut want = vec![a["id"].clone(), b["id"].clone()];
        want.sort_by_key(|v| v.to_string());
        assert_eq!(got, want, "each instance's subscribers hear both, once");
        ws.silent_for(QUIET).await;
    }
}

#[tokio::test]
async fn a_client_that_reconnects_after_its_last_event_id_receives_what_it_missed_in_order() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let mut ws = incident_events(&app, &h.quinn, json!(null)).await;
    let first = app
        .report_incident(&h.alice, incident_input(&h.cardiology))
        .await;
    let e = next_incident_event(&mut ws).await;
    assert_eq!(e["incident"]["id"], first["id"]);
    let last_seen = e["id"].clone();
    ws.close().await;

    // While it is away: three changes, on two instances.
    let other = app.another_instance(|_| {}).await;
    let second = app
        .report_incident(&h.alice, incident_input(&h.cardiology))
        .await;
    let third = other
        .report_incident(&h.alice, incident_input(&h.neurology))
        .await;
    app.comment(&h.quinn, &id(&first), "Rails checked.").await;
    app.wait_sealed().await;

    let mut back = app.ws_as(&h.quinn).await;
    back.subscribe_now("1", INCIDENT_EVENTS, json!({ "after": last_seen }))
        .await;
    let missed: Vec<(Value, Value)> = {
        let mut v = Vec::new();
        for _ in 0..3 {
            let e = next_incident_event(&mut back).await;
            v.push((e["incident"]["id"].clone(), e["type"].clone()));
        }
        v
    };
    assert_eq!(
        missed,
        [
            (second["id"].clone(), json!("REPORTED")),
            (third["id"].clone(), json!("REPORTED")),
            (first["id"].clone(), json!("COMMENTED")),
        ]
    );
    // Then it follows live, with nothing twice.
    let fourth = app
        .report_incident(&h.alice, incident_input(&h.cardiology))
        .await;
    assert_eq!(
        next_incident_event(&mut back).await["incident"]["id"],
        fourth["id"]
    );
    back.silent_for(QUIET).await;
}

#[tokio::test]
async fn a_resume_point_that_is_not_an_event_or_too_far_back_is_refused() {
    let app = spawn_app_with(|s| s.subscriptions.max_replay = 2).await;
    let h = app.hospital().await;
    for _ in 0..3 {
        app.report_incident(&h.alice, incident_input(&h.cardiology))
            .await;
    }
    app.wait_sealed().await;
    let mut ws = app.ws_as(&h.quinn).await;
    for (op, after) in [("a", "999999"), ("b", "x"), ("c", "0")] {
        ws.subscribe(op, INCIDENT_EVENTS, json!({ "after": after }))
            .await;
        let m = ws.recv().await;
        assert_eq!(m["type"], "error", "{m}");
        assert_eq!(m["id"], op);
        assert_eq!(
            m["payload"][0]["extensions"]["code"], "BAD_USER_INPUT",
            "{m}"
        );
    }
}
