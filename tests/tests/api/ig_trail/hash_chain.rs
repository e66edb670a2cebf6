//! The hash chain: every change is sealed, and any edit, deletion or reordering made behind
//! the API's back is found at its place.

use super::*;

// ---------------------------------------------------------------------------------------------
// The hash chain
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn every_change_is_sealed_into_an_intact_chain_soon_after_it_commits() {
    let app = spawn_app().await;
    let (_h, ig, events) = five_sealed_events(&app).await;

    let report = integrity(&app, &ig).await;
    assert_eq!(report["intact"], true, "{report}");
    assert!(report["firstBrokenLink"].is_null(), "{report}");
    assert_eq!(report["checkedEvents"], 5, "{report}");
    assert_eq!(report["unsealedEvents"], 0, "{report}");
    assert_eq!(report["headSeq"], 5, "{report}");

    // Newest first, at places 5..1, each with its own SHA-256 hash; the head is the last.
    let seqs: Vec<i64> = events.iter().map(|e| e["seq"].as_i64().unwrap()).collect();
    assert_eq!(seqs, vec![5, 4, 3, 2, 1], "{events:?}");
    let mut hashes = Vec::new();
    for e in &events {
        let hash = e["hash"].as_str().unwrap_or_else(|| panic!("no hash: {e}"));
        assert!(
            hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_hexdigit()),
            "a SHA-256 hash in hex: {e}"
        );
        hashes.push(hash.to_string());
    }
    hashes.sort();
    hashes.dedup();
    assert_eq!(hashes.len(), 5, "every event has its own hash: {events:?}");
    assert_eq!(report["headHash"], at_seq(&events, 5)["hash"], "{report}");
    assert_eq!(
        actions_of(&events),
        vec![
            "incident.transitioned",
            "incident.triaged",
            "incident.reported",
            "department.created",
            "department.created",
        ]
    );
}

#[tokio::test]
async fn editing_what_an_event_says_was_done_is_detected_at_its_place() {
    let app = spawn_app().await;
    let (_h, ig, events) = five_sealed_events(&app).await;
    let reported = at_seq(&events, 3);
    assert_eq!(reported["action"], "incident.reported");

    let n = behind_the_api(
        &app,
        "UPDATE trail_event SET action = 'incident.viewed' WHERE seq = 3",
    )
    .await;
    assert_eq!(n, 1);

    let report = integrity(&app, &ig).await;
    let link = assert_broken_at(&report, 3);
    assert_eq!(link["eventId"], reported["id"], "{report}");
    assert_eq!(
        report["checkedEvents"], 2,
        "the events before it hold: {report}"
    );
}

#[tokio::test]
async fn editing_the_changes_an_event_records_is_detected_at_its_place() {
    let app = spawn_app().await;
    let (_h, ig, events) = five_sealed_events(&app).await;
    let triaged = at_seq(&events, 4);
    assert_eq!(triaged["action"], "incident.triaged");

    let n = behind_the_api(&app, "UPDATE trail_event SET changes = '[]' WHERE seq = 4").await;
    assert_eq!(n, 1);

    let report = integrity(&app, &ig).await;
    let link = assert_broken_at(&report, 4);
    assert_eq!(link["eventId"], triaged["id"], "{report}");
    assert_eq!(report["checkedEvents"], 3, "{report}");
}

#[tokio::test]
async fn deleting_a_trail_event_is_detected_at_its_place() {
    let app = spawn_app().await;
    let (_h, ig, _events) = five_sealed_events(&app).await;

    let n = behind_the_api(&app, "DELETE FROM trail_event WHERE seq = 3").await;
    assert_eq!(n, 1);

    let report = integrity(&app, &ig).await;
    assert_broken_at(&report, 3);
    assert_eq!(report["checkedEvents"], 2, "{report}");
    // The trail no longer has anything at place 3.
    let left = all_events(&app, &ig, json!({})).await;
    assert_eq!(left.len(), 4);
}

#[tokio::test]
async fn swapping_two_events_places_is_detected_at_the_earlier_place() {
    let app = spawn_app().await;
    let (_h, ig, events) = five_sealed_events(&app).await;

    // A temporary place dodges the unique index on seq.
    assert_eq!(
        behind_the_api(&app, "UPDATE trail_event SET seq = -1 WHERE seq = 2").await,
        1
    );
    assert_eq!(
        behind_the_api(&app, "UPDATE trail_event SET seq = 2 WHERE seq = 4").await,
        1
    );
    assert_eq!(
        behind_the_api(&app, "UPDATE trail_event SET seq = 4 WHERE seq = -1").await,
        1
    );

    let report = integrity(&app, &ig).await;
    let link = assert_broken_at(&report, 2);
    // What now sits at place 2 is the event that was sealed at 4.
    assert_eq!(link["eventId"], at_seq(&events, 4)["id"], "{report}");
    assert_eq!(report["checkedEvents"], 1, "{report}");
}

#[tokio::test]
async fn deleting_the_latest_event_is_detected_because_the_head_names_it() {
    let app = spawn_app().await;
    let (_h, ig, _events) = five_sealed_events(&app).await;

    let n = behind_the_api(&app, "DELETE FROM trail_event WHERE seq = 5").await;
    assert_eq!(n, 1);

    let report = integrity(&app, &ig).await;
    assert_eq!(
        report["intact"], false,
        "a missing tail went unnoticed: {report}"
    );
    assert_eq!(report["headSeq"], 5, "{report}");
    assert_eq!(report["checkedEvents"], 4, "{report}");
    let link = assert_broken_at(&report, 5);
    assert!(
        link["eventId"].is_null(),
        "nothing is left at place 5: {report}"
    );
}

#[tokio::test]
async fn editing_the_head_is_detected() {
    let app = spawn_app().await;
    let (_h, ig, events) = five_sealed_events(&app).await;
    let forged = "f".repeat(64);
    assert_ne!(at_seq(&events, 5)["hash"], forged.as_str());

    let n = behind_the_api(
        &app,
        &format!("UPDATE trail_head SET hash = '{forged}' WHERE id = 1"),
    )
    .await;
    assert_eq!(n, 1);

    let report = integrity(&app, &ig).await;
    assert_eq!(
        report["intact"], false,
        "a forged head went unnoticed: {report}"
    );
    assert_eq!(report["headHash"], forged.as_str(), "{report}");
    let link = &report["firstBrokenLink"];
    assert!(link.is_object(), "{report}");
    assert!(
        link["problem"]
            .as_str()
            .is_some_and(|p| p.to_lowercase().contains("head")),
        "the problem names the head: {report}"
    );
    assert_eq!(
        report["checkedEvents"], 5,
        "the events themselves hold: {report}"
    );
}

#[tokio::test]
async fn forty_reports_at_once_are_sealed_into_one_unbroken_chain() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let ig = app.ig_officer("iris");
    let setup = sealed(&app, &ig).await["checkedEvents"].as_i64().unwrap();
    assert_eq!(setup, 2, "two departments created");

    let reporters = [
        h.alice.clone(),
        h.bob.clone(),
        app.staff("carol"),
        app.staff("dev"),
        app.staff("eve"),
    ];
    let reports = (0..40).map(|i| {
        let token = reporters[i % reporters.len()].clone();
        let input = with(
            incident_input(&h.cardiology),
            json!({ "title": format!("Concurrent report {i}") }),
        );
        let app = &app;
        async move { app.try_report_incident(&token, input).await }
    });
    let answers = futures_util::future::join_all(reports).await;
    for resp in &answers {
        resp.assert_ok();
    }

    let report = sealed(&app, &ig).await;
    assert_eq!(report["intact"], true, "{report}");
    assert_eq!(report["checkedEvents"], 40 + setup, "{report}");
    assert_eq!(report["headSeq"], 40 + setup, "{report}");

    let events = all_events(&app, &ig, json!({})).await;
    assert_eq!(events.len() as i64, 40 + setup);
    let mut seqs: Vec<i64> = events
        .iter()
        .map(|e| e["seq"].as_i64().unwrap_or_else(|| panic!("unsealed: {e}")))
        .collect();
    seqs.sort();
    assert_eq!(
        seqs,
        (1..=40 + setup).collect::<Vec<_>>(),
        "places 1..N, no gaps, no repeats"
    );
    let reported = all_events(&app, &ig, json!({ "action": "incident.reported" })).await;
    assert_eq!(reported.len(), 40);
}

/// Every trail event's place as stored (`None` while unsealed), straight from the database.
async fn stored_places(app: &TestApp) -> Vec<Option<i64>> {
    let db = app.db().await;
    let rows = db
        .query_all(sea_orm::Statement::from_string(
            db.get_database_backend(),
            "SELECT seq FROM trail_event ORDER BY seq",
        ))
        .await
        .expect("read the trail's places");
    let _ = db.close().await;
    rows.iter()
        .map(|r| r.try_get::<Option<i64>>("", "seq").expect("seq"))
        .collect()
}

#[tokio::test]
async fn two_instances_taking_reports_at_once_seal_each_event_exactly_once_into_one_chain() {
    let app = spawn_app().await;
    let other = app.another_instance(|_| {}).await;
    let h = app.hospital().await;
    let ig = app.ig_officer("iris");
    let setup = sealed(&app, &ig).await["checkedEvents"].as_i64().unwrap();
    assert_eq!(setup, 2, "two departments created");

    // Both instances write and both run a sealer: each event must get one place, whichever
    // sealer finds it first.
    let reporters = [h.alice.clone(), h.bob.clone(), app.staff("carol")];
    let reports = (0..30).map(|i| {
        let instance = if i % 2 == 0 { &app } else { &other };
        let token = reporters[i % reporters.len()].clone();
        let input = with(
            incident_input(&h.cardiology),
            json!({ "title": format!("Report {i} through instance {}", i % 2) }),
        );
        async move { instance.try_report_incident(&token, input).await }
    });
    let answers = futures_util::future::join_all(reports).await;
    for resp in &answers {
        resp.assert_ok();
    }
    let written = 30 + setup;

    // Each instance vouches for the same intact chain.
    let here = sealed(&app, &ig).await;
    let there = sealed(&other, &ig).await;
    for report in [&here, &there] {
        assert_eq!(report["intact"], true, "{report}");
        assert_eq!(report["checkedEvents"], written, "{report}");
        assert_eq!(report["headSeq"], written, "{report}");
        assert_eq!(report["unsealedEvents"], 0, "{report}");
    }
    assert_eq!(here["headHash"], there["headHash"]);

    // Places 1..N as stored: every event sealed, none twice, no gaps.
    let places = stored_places(&app).await;
    assert_eq!(
        places,
        (1..=written).map(Some).collect::<Vec<_>>(),
        "one place per event, consecutive from 1"
    );
    let events = all_events(&other, &ig, json!({})).await;
    assert_eq!(events.len() as i64, written);
    let mut ids = ids_of(&events);
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len() as i64, written, "each event listed once");
    let reported = all_events(&app, &ig, json!({ "action": "incident.reported" })).await;
    assert_eq!(reported.len(), 30);
}

#[tokio::test]
async fn checking_the_trail_while_changes_are_being_sealed_raises_no_false_alarm() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let ig = app.ig_officer("iris");
    sealed(&app, &ig).await;

    let done = std::sync::atomic::AtomicBool::new(false);
    let writers = async {
        for i in 0..30 {
            let input = with(
                incident_input(&h.cardiology),
                json!({ "title": format!("Report {i} while the trail is checked") }),
            );
            app.try_report_incident(&h.alice, input).await.assert_ok();
        }
        done.store(true, std::sync::atomic::Ordering::SeqCst);
    };
    let checker = async {
        let mut alarms = Vec::new();
        let mut checks = 0;
        while !done.load(std::sync::atomic::Ordering::SeqCst) {
            let report = integrity(&app, &ig).await;
            checks += 1;
            if report["intact"] != true {
                alarms.push(report);
            }
        }
        (checks, alarms)
    };
    let ((), (checks, alarms)) = tokio::join!(writers, checker);

    assert!(checks > 0);
    assert!(
        alarms.is_empty(),
        "nobody tampered with the trail, yet {} of {checks} checks made while events were \
         being sealed reported it broken, e.g. {}",
        alarms.len(),
        alarms[0]
    );
    let report = sealed(&app, &ig).await;
    assert_eq!(report["intact"], true, "{report}");
    assert_eq!(report["checkedEvents"], 32, "{report}");
}

#[tokio::test]
async fn only_an_ig_officer_may_check_or_read_the_trail() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    app.report_incident(&h.alice, incident_input(&h.cardiology))
        .await;

    for (who, token) in [
        ("staff", &h.alice),
        ("handler", &h.hana),
        ("quality lead", &h.quinn),
        ("admin", &h.ada),
    ] {
        let resp = try_integrity(&app, token).await;
        assert_eq!(resp.status, 200, "{who}: {resp}");
        resp.assert_error("FORBIDDEN", None);
        assert!(
            resp.data().is_null() || resp.data()["auditTrailIntegrity"].is_null(),
            "{who} learnt nothing: {resp}"
        );

        let resp = trail_page(&app, token, json!({ "first": 10 })).await;
        resp.assert_error("FORBIDDEN", None);
        assert!(
            resp.data().is_null() || resp.data()["auditTrail"].is_null(),
            "{who} read no events: {resp}"
        );
    }
    let service = app.service(&["incidents:read", "incidents:write", "incidents:manage"]);
    try_integrity(&app, &service)
        .await
        .assert_error("FORBIDDEN", None);

    // The officer is answered.
    let ig = app.ig_officer("iris");
    assert_eq!(sealed(&app, &ig).await["intact"], true);
    assert_eq!(all_events(&app, &ig, json!({})).await.len(), 3);
}
