//! B. The obligations board: open obligations soonest due first, filtered and paged, each
//! viewer seeing only what they may.

use super::*;

// ---------------------------------------------------------------------------------------------
// B. The obligations board
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn the_board_lists_open_obligations_soonest_due_first_and_filters_them() {
    let app = spawn_quiet().await;
    let h = app.hospital().await;
    let doc_incident = report(
        &app,
        &h.alice,
        &h.cardiology,
        json!({ "physicalHarm": "MODERATE" }),
    )
    .await;
    let breach = report(
        &app,
        &h.alice,
        &h.cardiology,
        json!({ "kind": "INFORMATION_GOVERNANCE", "physicalHarm": "NONE", "regulatoryFacts": ["RISK_TO_INDIVIDUALS"] }),
    )
    .await;
    // Happened three weeks ago and only reported now: its RIDDOR deadline has passed.
    let late_injury = report(
        &app,
        &h.alice,
        &h.cardiology,
        json!({
            "kind": "STAFF_SAFETY",
            "occurredAt": rfc(Utc::now() - days(21)),
            "regulatoryFacts": ["REPORTABLE_STAFF_INJURY"],
        }),
    )
    .await;
    let blood = report(
        &app,
        &h.bob,
        &h.neurology,
        json!({ "regulatoryFacts": ["BLOOD_COMPONENT"] }),
    )
    .await;
    let dropped = report(
        &app,
        &h.alice,
        &h.cardiology,
        json!({ "kind": "STAFF_SAFETY", "regulatoryFacts": ["REPORTABLE_STAFF_INJURY"] }),
    )
    .await;
    app.triage(&h.hana, &dropped, json!({ "regulatoryFacts": [] }))
        .await;

    let doc = the(
        &obligations_of(&app, &h.quinn, &doc_incident).await,
        "DUTY_OF_CANDOUR",
    );
    let ico = the(&obligations_of(&app, &h.quinn, &breach).await, "ICO_BREACH");
    let late = the(
        &obligations_of(&app, &h.quinn, &late_injury).await,
        "RIDDOR",
    );
    let sabre = the(&obligations_of(&app, &h.quinn, &blood).await, "SABRE");
    let withdrawn = the(&obligations_of(&app, &h.quinn, &dropped).await, "RIDDOR");
    assert_eq!(late["overdue"], true, "{late}");

    // Everything open, soonest due first.
    let all = board(&app, &h.quinn, json!({})).await;
    assert_soonest_due_first(&all);
    let all_ids: BTreeSet<String> = ids_of(&all).into_iter().collect();
    let expected: BTreeSet<String> = [&doc, &ico, &late, &sabre].map(id).into_iter().collect();
    assert_eq!(all_ids, expected, "open obligations only");
    assert_eq!(ids_of(&all)[0], id(&late), "the overdue one is due first");
    assert_eq!(
        ids_of(&all).last(),
        Some(&id(&doc)),
        "ten working days is the furthest"
    );

    // By kind.
    assert_eq!(
        ids_of(&board(&app, &h.quinn, json!({ "kind": ["RIDDOR"] })).await),
        [id(&late)]
    );
    let riddors = board(
        &app,
        &h.quinn,
        json!({ "kind": ["RIDDOR"], "status": ["OPEN", "WITHDRAWN"] }),
    )
    .await;
    assert_eq!(
        ids_of(&riddors).into_iter().collect::<BTreeSet<_>>(),
        [id(&late), id(&withdrawn)].into_iter().collect()
    );
    let two_kinds = board(&app, &h.quinn, json!({ "kind": ["SABRE", "ICO_BREACH"] })).await;
    assert_eq!(
        ids_of(&two_kinds).into_iter().collect::<BTreeSet<_>>(),
        [id(&sabre), id(&ico)].into_iter().collect()
    );

    // By state.
    let gone = board(&app, &h.quinn, json!({ "status": ["WITHDRAWN"] })).await;
    assert_eq!(ids_of(&gone), [id(&withdrawn)]);
    assert_eq!(gone[0]["overdue"], false);

    // Overdue or not.
    let overdue = board(&app, &h.quinn, json!({ "overdue": true })).await;
    assert_eq!(ids_of(&overdue), [id(&late)]);
    let on_time = board(&app, &h.quinn, json!({ "overdue": false })).await;
    assert_eq!(
        ids_of(&on_time).into_iter().collect::<BTreeSet<_>>(),
        [id(&doc), id(&ico), id(&sabre)].into_iter().collect()
    );
    assert!(on_time.iter().all(|o| o["overdue"] == false));

    // Due before a time.
    let cutoff = parse_time(&ico["dueAt"]) + chrono::Duration::seconds(1);
    let before = board(&app, &h.quinn, json!({ "dueBefore": rfc(cutoff) })).await;
    let expected: BTreeSet<String> = [&doc, &ico, &late, &sabre]
        .into_iter()
        .filter(|o| parse_time(&o["dueAt"]) < cutoff)
        .map(id)
        .collect();
    assert!(expected.contains(&id(&ico)) && !expected.contains(&id(&doc)));
    assert_eq!(
        ids_of(&before).into_iter().collect::<BTreeSet<_>>(),
        expected
    );
    let exactly = board(&app, &h.quinn, json!({ "dueBefore": ico["dueAt"] })).await;
    assert!(
        !ids_of(&exactly).contains(&id(&ico)),
        "dueBefore is strictly before: {exactly:#?}"
    );

    // Of one incident.
    assert_eq!(
        ids_of(&board(&app, &h.quinn, json!({ "incidentId": doc_incident["id"] })).await),
        [id(&doc)]
    );
    let resp = try_board(
        &app,
        &h.quinn,
        json!({ "first": 10, "filter": { "incidentId": h.cardiology } }),
    )
    .await;
    resp.assert_error("BAD_USER_INPUT", Some("incidentId"));
}

#[tokio::test]
async fn the_board_pages_through_equal_deadlines_without_losing_or_repeating_any() {
    let app = spawn_quiet().await;
    let h = app.hospital().await;
    // Three reported the same day: three duty-of-candour clocks ending at the same second.
    for _ in 0..3 {
        report(
            &app,
            &h.alice,
            &h.cardiology,
            json!({ "physicalHarm": "MODERATE" }),
        )
        .await;
    }
    report(
        &app,
        &h.alice,
        &h.cardiology,
        json!({ "kind": "INFORMATION_GOVERNANCE", "physicalHarm": "NONE", "regulatoryFacts": ["RISK_TO_INDIVIDUALS"] }),
    )
    .await;
    report(
        &app,
        &h.alice,
        &h.cardiology,
        json!({ "kind": "STAFF_SAFETY", "regulatoryFacts": ["REPORTABLE_STAFF_INJURY", "MEDICAL_DEVICE"] }),
    )
    .await;
    let all = board(&app, &h.quinn, json!({})).await;
    assert_eq!(all.len(), 6, "{all:#?}");
    assert_soonest_due_first(&all);
    let doc_due: BTreeSet<String> = all
        .iter()
        .filter(|o| o["kind"] == "DUTY_OF_CANDOUR")
        .map(|o| o["dueAt"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        doc_due.len(),
        1,
        "the three clocks end together: {doc_due:?}"
    );

    for size in [1, 2, 4] {
        let mut seen = Vec::new();
        let mut after = Value::Null;
        let mut pages = 0;
        loop {
            let resp = try_board(&app, &h.quinn, json!({ "first": size, "after": after })).await;
            resp.assert_ok();
            let conn = &resp.data()["obligations"];
            assert_eq!(
                conn["totalCount"], 6,
                "totalCount counts every page: {resp}"
            );
            let edges = conn["edges"].as_array().expect("edges");
            assert!(edges.len() <= size, "{resp}");
            seen.extend(edges.iter().map(|e| id(&e["node"])));
            pages += 1;
            assert!(pages <= 10, "paging does not end: {seen:?}");
            if conn["pageInfo"]["hasNextPage"] == true {
                assert_eq!(edges.len(), size, "a full page before the last: {resp}");
                after = conn["pageInfo"]["endCursor"].clone();
                assert!(after.is_string(), "{resp}");
            } else {
                break;
            }
        }
        assert_eq!(
            seen,
            ids_of(&all),
            "pages of {size} give the same list in the same order"
        );
    }
}

#[tokio::test]
async fn handlers_see_their_own_departments_obligations_and_other_staff_none() {
    let app = spawn_quiet().await;
    let h = app.hospital().await;
    let cardiac = report(
        &app,
        &h.alice,
        &h.cardiology,
        json!({ "physicalHarm": "MODERATE" }),
    )
    .await;
    let neuro = report(
        &app,
        &h.bob,
        &h.neurology,
        json!({ "regulatoryFacts": ["BLOOD_COMPONENT"] }),
    )
    .await;

    assert_eq!(
        kinds(&board(&app, &h.quinn, json!({})).await)
            .into_iter()
            .collect::<BTreeSet<_>>(),
        ["DUTY_OF_CANDOUR".to_string(), "SABRE".to_string()]
            .into_iter()
            .collect()
    );
    let hanas = board(&app, &h.hana, json!({})).await;
    assert_eq!(kinds(&hanas), ["DUTY_OF_CANDOUR"]);
    assert_eq!(hanas[0]["reference"], cardiac["reference"]);
    let ninas = board(&app, &h.nina, json!({})).await;
    assert_eq!(kinds(&ninas), ["SABRE"]);
    assert_eq!(ninas[0]["reference"], neuro["reference"]);
    assert_eq!(
        board(&app, &h.hana, json!({ "incidentId": neuro["id"] }))
            .await
            .len(),
        0,
        "another department's incident, even when named"
    );

    for (who, token) in [("staff", &h.alice), ("an admin", &h.ada), ("staff", &h.bob)] {
        let resp = try_board(&app, token, json!({ "first": 10 })).await;
        assert_eq!(
            resp.error_code().as_deref(),
            Some("FORBIDDEN"),
            "{who} may not list obligations: {resp}"
        );
    }

    // On the incident: the reporter sees their report but not what it obliges.
    let as_reporter = incident_with_obligations(&app, &h.alice, &cardiac).await;
    assert!(
        as_reporter["obligations"].is_null(),
        "the reporter sees no obligations: {as_reporter}"
    );
    for token in [&h.hana, &h.quinn] {
        let inc = incident_with_obligations(&app, token, &cardiac).await;
        assert_eq!(
            kinds(inc["obligations"].as_array().expect("a list")),
            ["DUTY_OF_CANDOUR"]
        );
    }
}
