//! Reading the trail: every change newest first, filtered and paged.

use super::*;

// ---------------------------------------------------------------------------------------------
// Reading the trail
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn the_audit_trail_lists_every_change_newest_first_and_filters_it() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let ig = app.ig_officer("iris");
    let a = app
        .report_incident(&h.alice, incident_input(&h.cardiology))
        .await;
    let b = app
        .report_incident(&h.bob, incident_input(&h.cardiology))
        .await;
    let triaged = app
        .triage(&h.hana, &a, json!({ "category": "Falls" }))
        .await;
    app.transition(&h.hana, &triaged, "INVESTIGATING").await;
    sealed(&app, &ig).await;

    let everything = all_events(&app, &ig, json!({})).await;
    assert_eq!(
        actions_of(&everything),
        vec![
            "incident.transitioned",
            "incident.triaged",
            "incident.reported",
            "incident.reported",
            "department.created",
            "department.created",
        ],
        "newest first"
    );
    let times: Vec<_> = everything.iter().map(|e| parse_time(&e["at"])).collect();
    assert!(times.windows(2).all(|w| w[0] >= w[1]), "{times:?}");
    let seqs: Vec<_> = everything.iter().map(|e| e["seq"].clone()).collect();
    assert_eq!(
        seqs,
        vec![json!(6), json!(5), json!(4), json!(3), json!(2), json!(1)]
    );

    // One record's changes.
    let of_a = all_events(&app, &ig, json!({ "recordId": a["id"] })).await;
    assert_eq!(
        actions_of(&of_a),
        vec![
            "incident.transitioned",
            "incident.triaged",
            "incident.reported"
        ]
    );
    assert!(of_a.iter().all(|e| e["entityType"] == "Incident"));
    let of_b = all_events(&app, &ig, json!({ "recordId": b["id"] })).await;
    assert_eq!(actions_of(&of_b), vec!["incident.reported"]);
    let of_cardiology = all_events(&app, &ig, json!({ "recordId": h.cardiology })).await;
    assert_eq!(actions_of(&of_cardiology), vec!["department.created"]);

    // One type of record.
    let departments = all_events(&app, &ig, json!({ "recordType": "Department" })).await;
    assert_eq!(departments.len(), 2);
    assert!(departments.iter().all(|e| e["entityType"] == "Department"));
    let incidents = all_events(&app, &ig, json!({ "recordType": "Incident" })).await;
    assert_eq!(incidents.len(), 4);

    // One person's changes.
    let hana = app.staff_id(&h.hana).await;
    let by_hana = all_events(&app, &ig, json!({ "actorId": hana })).await;
    assert_eq!(
        actions_of(&by_hana),
        vec!["incident.transitioned", "incident.triaged"]
    );
    assert!(by_hana.iter().all(|e| e["actor"]["id"] == hana.as_str()));
    assert!(by_hana.iter().all(|e| e["actorLabel"] == "hana"));

    // One action.
    let reported = all_events(&app, &ig, json!({ "action": "incident.reported" })).await;
    assert_eq!(reported.len(), 2);
    assert_eq!(
        ids_of(&reported),
        ids_of(&everything[2..4]),
        "the two reports, newest first"
    );

    // All given filters must match.
    let both = all_events(
        &app,
        &ig,
        json!({ "recordId": a["id"], "action": "incident.reported" }),
    )
    .await;
    assert_eq!(ids_of(&both), ids_of(&everything[3..4]));
    let none = all_events(&app, &ig, json!({ "recordId": b["id"], "actorId": hana })).await;
    assert!(none.is_empty(), "{none:?}");

    // A window in time: after is inclusive, before exclusive.
    let t = everything[2]["at"].clone();
    let from_t = all_events(&app, &ig, json!({ "after": t })).await;
    let expected_from: Vec<String> = everything
        .iter()
        .filter(|e| parse_time(&e["at"]) >= parse_time(&t))
        .map(|e| e["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids_of(&from_t), expected_from);
    assert!(from_t.len() >= 3, "{from_t:?}");
    let before_t = all_events(&app, &ig, json!({ "before": t })).await;
    let expected_before: Vec<String> = everything
        .iter()
        .filter(|e| parse_time(&e["at"]) < parse_time(&t))
        .map(|e| e["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids_of(&before_t), expected_before);
    assert_eq!(from_t.len() + before_t.len(), everything.len());
}

#[tokio::test]
async fn the_audit_trail_pages_with_cursors() {
    let app = spawn_app().await;
    let (_h, ig, everything) = five_sealed_events(&app).await;

    let mut seen = Vec::new();
    let mut after = Value::Null;
    let mut pages = 0;
    loop {
        let resp = trail_page(&app, &ig, json!({ "first": 2, "after": after })).await;
        resp.assert_ok();
        let conn = &resp.data()["auditTrail"];
        let edges = conn["edges"].as_array().unwrap();
        assert!(edges.len() <= 2, "{resp}");
        assert_eq!(
            conn["pageInfo"]["hasPreviousPage"],
            pages > 0,
            "page {pages}: {resp}"
        );
        for e in edges {
            seen.push(e["node"].clone());
        }
        pages += 1;
        if conn["pageInfo"]["hasNextPage"] != true {
            break;
        }
        assert_eq!(
            conn["pageInfo"]["endCursor"],
            edges.last().unwrap()["cursor"]
        );
        after = conn["pageInfo"]["endCursor"].clone();
        assert!(pages < 10, "paging does not end");
    }
    assert_eq!(pages, 3, "five events in pages of two");
    assert_eq!(ids_of(&seen), ids_of(&everything));

    let resp = trail_page(&app, &ig, json!({ "first": 2, "after": "not-a-cursor" })).await;
    resp.assert_error("BAD_USER_INPUT", None);
}
