//! Retention: closed and declined incidents fall due when their retention ends, oldest
//! first, counted from closure for the configured years.

use super::*;

#[tokio::test]
async fn closed_and_declined_incidents_fall_due_when_their_retention_ends() {
    let app = spawn_with_zero_year_retention().await;
    let h = app.hospital().await;
    let ig = app.ig_officer("iris");

    let closed = app
        .close_low_harm(&h.quinn, &low_harm(&app, &h).await)
        .await;
    let declined = app
        .transition_because(
            &h.hana,
            &low_harm(&app, &h).await,
            "DECLINED",
            "Not an incident: planned procedure",
        )
        .await;
    let open = low_harm(&app, &h).await;

    let due = retention_due(&app, &ig, json!({})).await;
    assert_eq!(
        record_ids(&due),
        sorted(&[&closed["id"], &declined["id"]]),
        "the closed and the declined incident, not the open one: {due:?}"
    );
    for d in &due {
        assert_eq!(d["recordType"], "INCIDENT", "{d}");
        assert_eq!(d["legalHold"], false, "{d}");
        assert_eq!(
            parse_time(&d["retentionUntil"]),
            parse_time(&d["endedAt"]),
            "zero years: due the moment it ended: {d}"
        );
    }
    let closed_due = due.iter().find(|d| d["recordId"] == closed["id"]).unwrap();
    assert_eq!(closed_due["label"], closed["reference"]);
    assert_eq!(
        parse_time(&closed_due["endedAt"]),
        parse_time(&closed["closedAt"])
    );
    let declined_due = due
        .iter()
        .find(|d| d["recordId"] == declined["id"])
        .unwrap();
    assert_eq!(declined_due["label"], declined["reference"]);

    // Filtered by type: no audits or projects have ended.
    assert_eq!(
        retention_due(&app, &ig, json!({ "recordType": "INCIDENT" }))
            .await
            .len(),
        2
    );
    assert!(retention_due(&app, &ig, json!({ "recordType": "AUDIT" }))
        .await
        .is_empty());
    assert!(
        retention_due(&app, &ig, json!({ "recordType": "IMPROVEMENT_PROJECT" }))
            .await
            .is_empty()
    );

    // One at a time, with a cursor.
    let first = try_retention_due(&app, &ig, json!({ "first": 1 })).await;
    first.assert_ok();
    let page = &first.data()["retentionDue"];
    assert_eq!(page["edges"].as_array().unwrap().len(), 1, "{first}");
    assert_eq!(page["pageInfo"]["hasNextPage"], true, "{first}");
    let second = try_retention_due(
        &app,
        &ig,
        json!({ "first": 1, "after": page["pageInfo"]["endCursor"] }),
    )
    .await;
    second.assert_ok();
    let page2 = &second.data()["retentionDue"];
    assert_eq!(page2["edges"].as_array().unwrap().len(), 1, "{second}");
    assert_eq!(page2["pageInfo"]["hasNextPage"], false, "{second}");
    assert_ne!(
        page["edges"][0]["node"]["recordId"],
        page2["edges"][0]["node"]["recordId"]
    );

    // The open incident is not listed: it has no retention date yet.
    let open_now = record(&app, &h.quinn, &open["id"]).await;
    assert!(open_now["retentionUntil"].is_null(), "{open_now}");
}

/// Every record due, page by page of `first`, in the order listed.
async fn retention_due_paged(app: &TestApp, ig: &str, first: usize) -> Vec<String> {
    let mut ids = Vec::new();
    let mut after = Value::Null;
    loop {
        let resp = try_retention_due(app, ig, json!({ "first": first, "after": after })).await;
        resp.assert_ok();
        let page = &resp.data()["retentionDue"];
        let edges = page["edges"].as_array().unwrap();
        assert!(edges.len() <= first, "{resp}");
        ids.extend(
            edges
                .iter()
                .map(|e| e["node"]["recordId"].as_str().unwrap().to_string()),
        );
        if page["pageInfo"]["hasNextPage"] != true {
            return ids;
        }
        assert_eq!(edges.len(), first, "a short page with more to come: {resp}");
        after = page["pageInfo"]["endCursor"].clone();
        assert!(ids.len() <= 20, "paging does not end: {ids:?}");
    }
}

#[tokio::test]
async fn retention_due_lists_the_oldest_retention_end_first_then_by_id_on_every_page() {
    let app = spawn_with_zero_year_retention().await;
    let h = app.hospital().await;
    let ig = app.ig_officer("iris");

    // Made in this order; their retention ends in another, neither the order they were
    // made in nor the order they ended in: a serious incident is kept twenty years.
    let closed_early = app
        .close_low_harm(&h.quinn, &low_harm(&app, &h).await)
        .await;
    let declined = app
        .transition_because(
            &h.hana,
            &low_harm(&app, &h).await,
            "DECLINED",
            "Not an incident: planned procedure",
        )
        .await;
    let closed_late = app
        .close_low_harm(&h.quinn, &low_harm(&app, &h).await)
        .await;
    let declined_tie = app
        .transition_because(
            &h.hana,
            &low_harm(&app, &h).await,
            "DECLINED",
            "Duplicate of a report made by phone",
        )
        .await;
    let serious = close_serious(&app, &h).await;
    let audit = closed_audit(&app, &h, "Consent audit 2019").await;

    let tie = years_ago(2, 0);
    stored_time(
        &app,
        "incident",
        "updated_at",
        &declined["id"],
        years_ago(3, 0),
    )
    .await;
    stored_time(
        &app,
        "incident",
        "closed_at",
        &serious["id"],
        years_ago(22, 10),
    )
    .await;
    stored_time(&app, "incident", "closed_at", &closed_early["id"], tie).await;
    // The same end, through another column: ties go by id, the earlier record first.
    stored_time(&app, "incident", "updated_at", &declined_tie["id"], tie).await;
    stored_time(
        &app,
        "incident",
        "closed_at",
        &closed_late["id"],
        years_ago(1, 0),
    )
    .await;
    // Audits come after incidents, however long ago their retention ended.
    ended_at(&app, "audit", &audit["id"], years_ago(6, 0)).await;

    let expected: Vec<String> = [
        &declined,
        &serious,
        &closed_early,
        &declined_tie,
        &closed_late,
        &audit,
    ]
    .iter()
    .map(|r| r["id"].as_str().unwrap().to_string())
    .collect();

    let due = retention_due(&app, &ig, json!({})).await;
    let listed: Vec<String> = due
        .iter()
        .map(|d| d["recordId"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(listed, expected, "{due:#?}");
    let incidents: Vec<_> = due
        .iter()
        .filter(|d| d["recordType"] == "INCIDENT")
        .collect();
    for pair in incidents.windows(2) {
        assert!(
            parse_time(&pair[0]["retentionUntil"]) <= parse_time(&pair[1]["retentionUntil"]),
            "{pair:#?}"
        );
    }
    assert_eq!(
        parse_time(&incidents[2]["retentionUntil"]),
        parse_time(&incidents[3]["retentionUntil"]),
        "the tie: {due:#?}"
    );

    // Page by page, in the same order, nothing lost or repeated, whatever the page size.
    for first in [1, 2, 4, 5] {
        assert_eq!(
            retention_due_paged(&app, &ig, first).await,
            expected,
            "pages of {first}"
        );
    }
    // Filtered to incidents, the same order.
    assert_eq!(
        retention_due(&app, &ig, json!({ "recordType": "INCIDENT" }))
            .await
            .iter()
            .map(|d| d["recordId"].as_str().unwrap().to_string())
            .collect::<Vec<_>>(),
        expected[..5]
    );
}

#[tokio::test]
async fn a_serious_incident_is_neither_due_nor_disposed_within_its_twenty_years() {
    let app = spawn_with_zero_year_retention().await;
    let h = app.hospital().await;
    let ig = app.ig_officer("iris");
    let serious = close_serious(&app, &h).await;

    let now = record(&app, &h.quinn, &serious["id"]).await;
    assert_eq!(
        parse_time(&now["retentionUntil"]),
        parse_time(&now["closedAt"])
            .checked_add_months(chrono::Months::new(20 * 12))
            .unwrap(),
        "a serious incident is kept 20 years: {now}"
    );

    assert_eq!(
        dispose(&app, &ig).await,
        json!({ "incidents": 0, "audits": 0, "improvementProjects": 0, "held": 0 })
    );
    let after = record(&app, &h.quinn, &serious["id"]).await;
    assert!(after["disposedAt"].is_null(), "{after}");
    assert!(after["description"].is_string(), "{after}");

    let due = retention_due(&app, &ig, json!({})).await;
    assert!(
        due.is_empty(),
        "a serious incident closed today is not due for review for 20 years: {due:?}"
    );
}

#[tokio::test]
async fn retention_is_counted_from_closure_for_the_configured_years() {
    let app = spawn_app_with(|s| {
        s.retention.incident_years = 3;
        s.retention.serious_incident_years = 20;
    })
    .await;
    let h = app.hospital().await;
    let ig = app.ig_officer("iris");
    let open = low_harm(&app, &h).await;
    let before = record(&app, &h.quinn, &open["id"]).await;
    assert!(before["retentionUntil"].is_null(), "open: {before}");

    let closed = app.close_low_harm(&h.quinn, &open).await;
    let now = record(&app, &h.quinn, &closed["id"]).await;
    assert_eq!(
        parse_time(&now["retentionUntil"]),
        parse_time(&now["closedAt"])
            .checked_add_months(chrono::Months::new(36))
            .unwrap(),
        "{now}"
    );
    assert!(
        retention_due(&app, &ig, json!({})).await.is_empty(),
        "not due for three years"
    );

    let zero = spawn_with_zero_year_retention().await;
    let h = zero.hospital().await;
    let closed = zero
        .close_low_harm(&h.quinn, &low_harm(&zero, &h).await)
        .await;
    let now = record(&zero, &h.quinn, &closed["id"]).await;
    assert_eq!(
        parse_time(&now["retentionUntil"]),
        parse_time(&now["closedAt"]),
        "zero years: {now}"
    );
}
