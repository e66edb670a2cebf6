//! What search finds: every field it names, by stem and prefix, ranked, across the kinds of
//! record, paged; and what it refuses.

use super::*;

#[tokio::test]
async fn each_field_of_an_incident_finds_it_and_its_highlight_names_the_field() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let incident = app
        .report_incident(
            &h.alice,
            with(
                incident_input(&h.cardiology),
                json!({
                    "title": "Monitor lead disconnected",
                    "description": "Telemetry stopped overnight.",
                    "location": "Coronary care unit bay four",
                    "category": "Medical devices",
                    "equipment": { "assetId": "CE-40961", "manufacturer": "Philorama",
                                   "model": "Intellivue", "serialNumber": "SN-5521" },
                }),
            ),
        )
        .await;
    let incident = app
        .triage(
            &h.hana,
            &incident,
            json!({
                "learningSummary": "Cable clips now fitted on every bedside monitor.",
                "feedbackToReporter": "Thank you: the ward now checks leads at handover.",
            }),
        )
        .await;
    let id = incident["id"].as_str().unwrap();
    let reference = incident["reference"].as_str().unwrap();

    for (query, field) in [
        (reference, "reference"),
        ("disconnected", "title"),
        ("telemetry", "description"),
        ("coronary", "location"),
        ("devices", "category"),
        ("philorama", "equipment"),
        ("CE-40961", "equipment"),
        ("clips", "learningSummary"),
        ("handover", "feedbackToReporter"),
    ] {
        let hits = hits(&app, &h.hana, query).await;
        assert_eq!(hits.len(), 1, "{query}: {hits:?}");
        assert_eq!(hits[0]["record"]["id"], id, "{query}");
        assert_eq!(hits[0]["kind"], "INCIDENT");
        assert!(
            fields(&hits[0]).contains(&field.to_string()),
            "{query} -> {field}: {:?}",
            hits[0]
        );
    }
}

#[tokio::test]
async fn words_are_matched_by_stem_and_prefix_and_every_word_must_be_found() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let pump = report(
        &app,
        &h.alice,
        &h.cardiology,
        "Infusion pump failed mid-dose",
        "Defibrillator also checked.",
    )
    .await;
    let id = pump["id"].as_str().unwrap().to_string();

    assert_eq!(
        found(&app, &h.hana, "failing").await,
        vec![id.clone()],
        "by stem"
    );
    assert_eq!(
        found(&app, &h.hana, "FAILS").await,
        vec![id.clone()],
        "case and stem"
    );
    assert_eq!(
        found(&app, &h.hana, "defib*").await,
        vec![id.clone()],
        "by prefix"
    );
    assert!(
        found(&app, &h.hana, "defib").await.is_empty(),
        "no prefix without *"
    );
    assert_eq!(found(&app, &h.hana, "pump failed").await, vec![id.clone()]);
    assert!(found(&app, &h.hana, "pump exploded").await.is_empty());
    // Query syntax is only words: quotes, operators and columns are separators.
    assert_eq!(
        found(&app, &h.hana, r#""pump" OR: title:(failed"#)
            .await
            .len(),
        0,
        "OR and title are words too"
    );
    assert_eq!(
        found(&app, &h.hana, r#""pump" (failed)"#).await,
        vec![id.clone()]
    );

    let hit = &hits(&app, &h.hana, "pump fail*").await[0];
    assert_eq!(matched_in(hit, "title"), vec!["pump", "failed"]);
}

#[tokio::test]
async fn a_title_match_ranks_above_a_description_match() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let in_description = report(
        &app,
        &h.alice,
        &h.cardiology,
        "Delay in review",
        "The echocardiogram report was filed in the wrong patient's notes.",
    )
    .await;
    let in_title = report(
        &app,
        &h.alice,
        &h.cardiology,
        "Echocardiogram cancelled twice",
        "Booked again.",
    )
    .await;

    let hits = hits(&app, &h.hana, "echocardiogram").await;
    assert_eq!(hits.len(), 2);
    assert_eq!(hits[0]["record"]["id"], in_title["id"]);
    assert_eq!(hits[1]["record"]["id"], in_description["id"]);
    assert!(hits[0]["score"].as_f64().unwrap() > hits[1]["score"].as_f64().unwrap());
}

#[tokio::test]
async fn actions_audits_and_projects_are_found_with_their_kind_and_can_be_filtered() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let incident = report(
        &app,
        &h.alice,
        &h.cardiology,
        "Sterile tray contaminated",
        "Hair found.",
    )
    .await;
    let action = app
        .create_corrective_action(
            &h.hana,
            with(
                corrective_action_input(incident["id"].as_str().unwrap(), "hana@candour.test"),
                json!({ "title": "Re-train the sterile services team" }),
            ),
        )
        .await;
    let audit = app
        .plan_audit(
            &h.quinn,
            with(
                audit_input(&h.neurology),
                json!({ "title": "Sterile instrument tracking audit" }),
            ),
        )
        .await;
    let project = app
        .gql(
            Some(&h.quinn),
            "mutation($input: StartImprovementProjectInput!) {
               startImprovementProject(input: $input) { improvementProject { id } } }",
            json!({ "input": {
                "title": "Sterile supply turnaround",
                "aim": "Return every tray within four hours by June 2027.",
                "departmentId": h.cardiology,
                "measures": [{ "name": "Turnaround", "kind": "OUTCOME", "unit": "hours",
                               "betterWhen": "LOWER" }],
            } }),
        )
        .await;
    let project = project.assert_ok()["startImprovementProject"]["improvementProject"].clone();

    let hits = hits(&app, &h.quinn, "sterile").await;
    let mut kinds: Vec<(String, String)> = hits
        .iter()
        .map(|h| {
            (
                h["kind"].as_str().unwrap().to_string(),
                h["record"]["id"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    kinds.sort();
    let mut expected = vec![
        (
            "AUDIT".to_string(),
            audit["id"].as_str().unwrap().to_string(),
        ),
        (
            "CORRECTIVE_ACTION".into(),
            action["id"].as_str().unwrap().to_string(),
        ),
        (
            "IMPROVEMENT_PROJECT".into(),
            project["id"].as_str().unwrap().to_string(),
        ),
        (
            "INCIDENT".into(),
            incident["id"].as_str().unwrap().to_string(),
        ),
    ];
    expected.sort();
    assert_eq!(kinds, expected);

    let only = hits_with(
        &app,
        &h.quinn,
        "sterile",
        json!({ "filter": { "kinds": ["AUDIT", "IMPROVEMENT_PROJECT"] } }),
    )
    .await;
    let mut only: Vec<&str> = only.iter().map(|h| h["kind"].as_str().unwrap()).collect();
    only.sort();
    assert_eq!(only, vec!["AUDIT", "IMPROVEMENT_PROJECT"]);

    let neuro = hits_with(
        &app,
        &h.quinn,
        "sterile",
        json!({ "filter": { "departmentId": h.neurology } }),
    )
    .await;
    assert_eq!(neuro.len(), 1);
    assert_eq!(neuro[0]["record"]["id"], audit["id"]);

    // An audit's standard and a project's aim are searched too.
    assert_eq!(
        found(&app, &h.quinn, "paragraphs").await,
        vec![audit["id"].as_str().unwrap().to_string()]
    );
    assert_eq!(
        found(&app, &h.quinn, "turnaround tray").await,
        vec![project["id"].as_str().unwrap().to_string()]
    );
    // Audits and projects are open to every person; a writing service account sees none.
    assert_eq!(found(&app, &h.bob, "paragraphs").await.len(), 1);
    assert!(
        found(&app, &app.service(&["incidents:write"]), "paragraphs")
            .await
            .is_empty()
    );
}

#[tokio::test]
async fn pages_go_through_every_result_once_in_rank_order() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let mut made = Vec::new();
    for i in 0..7 {
        let title = format!("Wristband missing on admission {i}");
        made.push(
            report(
                &app,
                &h.alice,
                &h.cardiology,
                &title,
                "Found at the drug round.",
            )
            .await["id"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }

    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    let mut pages = 0;
    loop {
        let resp = try_search(
            &app,
            &h.hana,
            "wristband",
            json!({ "first": 3, "after": after }),
        )
        .await;
        let s = resp.assert_ok()["search"].clone();
        assert_eq!(s["totalCount"], 7);
        assert_eq!(s["pageInfo"]["hasPreviousPage"], pages > 0);
        for e in s["edges"].as_array().unwrap() {
            seen.push(e["node"]["record"]["id"].as_str().unwrap().to_string());
        }
        pages += 1;
        if s["pageInfo"]["hasNextPage"] == false {
            break;
        }
        after = s["pageInfo"]["endCursor"].as_str().map(str::to_string);
    }
    assert_eq!(pages, 3);
    let seen_set = distinct(seen.clone(), "result");
    assert_eq!(seen_set.len(), 7);
    made.sort();
    assert_eq!(seen_set.into_iter().collect::<Vec<_>>(), made);
}

#[tokio::test]
async fn bad_searches_are_refused_by_name_and_a_stranger_is_refused() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    for q in [
        "",
        "   ",
        "*** ?? --",
        &"word ".repeat(11),
        &"a".repeat(201),
    ] {
        let resp = try_search(&app, &h.hana, q, json!({})).await;
        assert_eq!(resp.status, 200, "{resp}");
        resp.assert_error("BAD_USER_INPUT", Some("query"));
    }
    try_search(&app, &h.hana, "pump", json!({ "after": "not-a-cursor" }))
        .await
        .assert_error("BAD_USER_INPUT", Some("after"));
    // A cursor from another list is not one of this list's.
    app.report_incident(&h.alice, incident_input(&h.cardiology))
        .await;
    let listed = app.list_incidents(&h.hana, json!({ "first": 1 })).await;
    let cursor = listed.assert_ok()["incidents"]["pageInfo"]["endCursor"].clone();
    assert!(cursor.is_string(), "{listed}");
    try_search(&app, &h.hana, "pump", json!({ "after": cursor }))
        .await
        .assert_error("BAD_USER_INPUT", Some("after"));
    try_search(&app, &h.hana, "pump", json!({ "first": 101 }))
        .await
        .assert_error("BAD_USER_INPUT", Some("first"));
    try_search(
        &app,
        &h.hana,
        "pump",
        json!({ "filter": { "departmentId": "nonsense" } }),
    )
    .await
    .assert_error("BAD_USER_INPUT", Some("departmentId"));
    let resp = app.gql(None, SEARCH, json!({ "q": "pump" })).await;
    resp.assert_error("UNAUTHENTICATED", None);
}
