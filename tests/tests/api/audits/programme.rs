//! Reading the programme: paging, filtering and ordering.

use super::*;

/// Every page of `audits`, `page` at a time, checking the page info and total on the way;
/// returns the nodes in order.
async fn all_pages(app: &TestApp, token: &str, page: usize) -> Vec<Value> {
    let mut nodes: Vec<Value> = Vec::new();
    let mut after: Option<String> = None;
    let mut total = None;
    for _ in 0..50 {
        let resp = app
            .list_audits(token, json!({ "first": page, "after": after }))
            .await;
        let connection = resp.assert_ok()["audits"].clone();
        let count = connection["totalCount"].as_u64().expect("totalCount");
        assert_eq!(*total.get_or_insert(count), count, "totalCount is stable");
        assert_eq!(
            connection["pageInfo"]["hasPreviousPage"],
            after.is_some(),
            "{resp}"
        );
        let edges = connection["edges"].as_array().unwrap();
        assert!(edges.len() <= page, "{resp}");
        nodes.extend(edges.iter().map(|e| e["node"].clone()));
        if !connection["pageInfo"]["hasNextPage"].as_bool().unwrap() {
            assert_eq!(nodes.len() as u64, count, "pages add up to totalCount");
            return nodes;
        }
        assert_eq!(edges.len(), page, "only the last page is short: {resp}");
        assert_eq!(
            connection["pageInfo"]["endCursor"],
            edges.last().unwrap()["cursor"],
            "{resp}"
        );
        after = Some(
            connection["pageInfo"]["endCursor"]
                .as_str()
                .expect("endCursor")
                .to_string(),
        );
    }
    panic!("paging never ended")
}

#[tokio::test]
async fn the_programme_pages_to_the_end_by_planned_start_without_gaps() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    // Twelve audits over four start dates (so pages split ties), planned out of date order.
    let mut planned_ids = Vec::new();
    for i in 0..12u32 {
        let day = 1 + (i * 7) % 4 * 9;
        let (token, department) = match i % 3 {
            0 => (&h.nina, &h.neurology),
            1 => (&h.hana, &h.cardiology),
            _ => (&h.quinn, &h.cardiology),
        };
        let audit = app
            .plan_audit(
                token,
                with(
                    audit_input(department),
                    json!({
                        "title": format!("Audit {i}"),
                        "plannedStart": format!("2026-05-{day:02}"),
                        "plannedEnd": "2026-06-30",
                    }),
                ),
            )
            .await;
        planned_ids.push(id(&audit));
    }

    let nodes = all_pages(&app, &h.alice, 5).await;

    let listed: Vec<String> = nodes.iter().map(id).collect();
    assert_eq!(distinct(listed, "audit"), planned_ids.into_iter().collect());
    let starts: Vec<&str> = nodes
        .iter()
        .map(|n| n["plannedStart"].as_str().unwrap())
        .collect();
    let mut sorted = starts.clone();
    sorted.sort();
    assert_eq!(starts, sorted, "earliest planned start first");
}

/// An audit of `department` planned by `token` with this title and planned period.
async fn plan_in(
    app: &TestApp,
    token: &str,
    department: &str,
    title: &str,
    start: &str,
    end: &str,
) -> Value {
    app.plan_audit(
        token,
        with(
            audit_input(department),
            json!({ "title": title, "plannedStart": start, "plannedEnd": end }),
        ),
    )
    .await
}

#[tokio::test]
async fn the_programme_filters_by_status_department_planned_period_and_title() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let consent = plan_in(
        &app,
        &h.hana,
        &h.cardiology,
        "Consent documentation audit",
        "2026-03-02",
        "2026-03-27",
    )
    .await;
    let hygiene = plan_in(
        &app,
        &h.hana,
        &h.cardiology,
        "Hand hygiene audit",
        "2026-04-01",
        "2026-04-30",
    )
    .await;
    let hygiene = app.move_audit(&h.hana, &hygiene, "IN_PROGRESS").await;
    let falls = plan_in(
        &app,
        &h.nina,
        &h.neurology,
        "Falls risk assessment re-audit",
        "2026-02-01",
        "2026-03-01",
    )
    .await;
    let falls = app.move_audit(&h.nina, &falls, "IN_PROGRESS").await;
    let falls = record(&app, &h.nina, &falls, "Assessed on admission", 90.0, 10, 10).await;
    let falls = app.move_audit(&h.nina, &falls, "REPORTED").await;
    let falls = app.move_audit(&h.nina, &falls, "CLOSED").await;
    let neuro_consent = plan_in(
        &app,
        &h.nina,
        &h.neurology,
        "CONSENT in neurology",
        "2026-05-01",
        "2026-05-31",
    )
    .await;
    let neuro_consent = app.move_audit(&h.nina, &neuro_consent, "IN_PROGRESS").await;
    let neuro_consent = record(
        &app,
        &h.nina,
        &neuro_consent,
        "Consent documented",
        90.0,
        10,
        10,
    )
    .await;
    let neuro_consent = app.move_audit(&h.nina, &neuro_consent, "REPORTED").await;

    // Unfiltered: by planned start.
    assert_eq!(
        app.audit_ids(&h.bob, json!({})).await,
        vec![id(&falls), id(&consent), id(&hygiene), id(&neuro_consent)]
    );

    for (filter, expected) in [
        (json!({ "status": ["PLANNED"] }), vec![&consent]),
        (json!({ "status": ["IN_PROGRESS"] }), vec![&hygiene]),
        (
            json!({ "status": ["REPORTED", "CLOSED"] }),
            vec![&falls, &neuro_consent],
        ),
        (
            json!({ "departmentId": h.cardiology }),
            vec![&consent, &hygiene],
        ),
        (
            json!({ "departmentId": h.neurology }),
            vec![&falls, &neuro_consent],
        ),
        // Overlap, ends inclusive: Falls ends the day before March 2.
        (
            json!({ "plannedFrom": "2026-03-02", "plannedTo": "2026-03-31" }),
            vec![&consent],
        ),
        (
            json!({ "plannedFrom": "2026-03-01", "plannedTo": "2026-04-01" }),
            vec![&falls, &consent, &hygiene],
        ),
        // A window inside an audit's period overlaps it.
        (
            json!({ "plannedFrom": "2026-03-15", "plannedTo": "2026-03-15" }),
            vec![&consent],
        ),
        // A window containing an audit's period overlaps it too.
        (
            json!({ "plannedFrom": "2026-04-15", "plannedTo": "2026-06-30" }),
            vec![&hygiene, &neuro_consent],
        ),
        (
            json!({ "plannedFrom": "2026-06-01", "plannedTo": "2026-12-31" }),
            vec![],
        ),
        (
            json!({ "plannedFrom": "2026-04-30" }),
            vec![&hygiene, &neuro_consent],
        ),
        (json!({ "plannedTo": "2026-03-01" }), vec![&falls]),
        (
            json!({ "search": "consent" }),
            vec![&consent, &neuro_consent],
        ),
        (json!({ "search": "HYGIENE" }), vec![&hygiene]),
        (json!({ "search": "re-audit" }), vec![&falls]),
        (json!({ "search": "zanzibar" }), vec![]),
        (
            json!({ "search": "consent", "departmentId": h.neurology }),
            vec![&neuro_consent],
        ),
        (
            json!({ "status": ["PLANNED", "IN_PROGRESS"], "departmentId": h.cardiology,
                    "plannedFrom": "2026-04-01" }),
            vec![&hygiene],
        ),
    ] {
        let resp = app
            .list_audits(&h.alice, json!({ "first": 100, "filter": filter }))
            .await;
        let connection = &resp.assert_ok()["audits"];
        let expected: Vec<String> = expected.iter().map(|a| id(a)).collect();
        assert_eq!(node_ids(connection), expected, "{filter}: {resp}");
        assert_eq!(connection["totalCount"], expected.len(), "{filter}: {resp}");
    }
}

// --- cost ----------------------------------------------------------------------------------

#[tokio::test]
async fn reading_findings_through_a_page_of_audits_does_not_query_per_row() {
    let app = spawn_app_with(|s| s.diagnostics.sql_statement_count = true).await;
    let h = app.hospital().await;
    // A chain of re-audits, one a week, each repeating the one before: every audit has two
    // findings with an action each, and compares with its predecessor.
    let mut previous: Option<String> = None;
    for i in 0..16i64 {
        let start =
            chrono::NaiveDate::from_ymd_opt(2026, 1, 5).unwrap() + chrono::Duration::weeks(i);
        let mut input = with(
            audit_input(&h.cardiology),
            json!({
                "title": format!("Consent audit cycle {i}"),
                "plannedStart": start.to_string(),
                "plannedEnd": (start + chrono::Duration::days(5)).to_string(),
            }),
        );
        if let Some(prev) = &previous {
            input = with(input, json!({ "reauditOfId": prev }));
        }
        let audit = app.plan_audit(&h.quinn, input).await;
        let audit = app.move_audit(&h.quinn, &audit, "IN_PROGRESS").await;
        let audit = record(
            &app,
            &h.quinn,
            &audit,
            "Consent documented",
            95.0,
            40,
            30 + i % 8,
        )
        .await;
        let audit = record(
            &app,
            &h.quinn,
            &audit,
            "Capacity assessed",
            80.0,
            20,
            10 + i % 9,
        )
        .await;
        for f in findings(&audit) {
            raise_on(&app, &h.quinn, &f).await;
        }
        previous = Some(id(&audit));
    }
    let query = "query($first: Int) { audits(first: $first) { edges { node {
                   findings { compliancePercent previousCompliancePercent correctiveActions { title } }
                 } } } }";

    // Three samples per page size, keeping the fewest (see listing.rs: a DataLoader batch
    // may split under load; an N+1 shows in every sample).
    let mut samples: Vec<(usize, u64)> = Vec::new();
    for first in [3, 15, 3, 15, 3, 15] {
        let resp = app
            .gql(Some(&h.quinn), query, json!({ "first": first }))
            .await;
        let edges = resp.assert_ok()["audits"]["edges"].as_array().unwrap();
        assert_eq!(edges.len(), first, "{resp}");
        let all: Vec<&Value> = edges
            .iter()
            .flat_map(|e| {
                e["node"]["findings"]
                    .as_array()
                    .unwrap_or_else(|| panic!("findings listed: {e}"))
                    .iter()
            })
            .collect();
        assert_eq!(all.len(), 2 * first, "two findings per audit: {resp}");
        assert!(
            all.iter().all(|f| f["correctiveActions"]
                .as_array()
                .is_some_and(|a| a.len() == 1)),
            "every finding lists its action: {resp}"
        );
        assert!(
            all.iter()
                .filter(|f| f["previousCompliancePercent"].is_number())
                .count()
                >= 2 * (first - 1),
            "re-audits compare with the audit they repeat: {resp}"
        );
        let statements: u64 = resp
            .header("x-sql-statements")
            .unwrap_or_else(|| panic!("no x-sql-statements header with diagnostics on: {resp:?}"))
            .parse()
            .expect("x-sql-statements is a number");
        samples.push((first, statements));
    }
    let fewest = |n: usize| {
        samples
            .iter()
            .filter(|(first, _)| *first == n)
            .map(|(_, s)| *s)
            .min()
            .unwrap()
    };

    assert_eq!(
        fewest(3),
        fewest(15),
        "SQL statements grow with the page (an N+1 under findings): \
         (first, statements) samples {samples:?}"
    );
}

/// Pages through `audits(orderBy: ...)` two at a time and returns the ids in order.
async fn ordered_audit_ids(app: &TestApp, token: &str, order: Value) -> Vec<String> {
    let mut ids = Vec::new();
    let mut after = Value::Null;
    loop {
        let resp = app
            .gql(
                Some(token),
                "query($after: String, $order: AuditOrder) {
                   audits(first: 2, after: $after, orderBy: $order) {
                     pageInfo { hasNextPage endCursor }
                     edges { node { id } }
                   }
                 }",
                json!({ "after": after, "order": order }),
            )
            .await;
        let page = resp.assert_ok()["audits"].clone();
        ids.extend(node_ids(&page));
        if page["pageInfo"]["hasNextPage"] != true {
            return ids;
        }
        after = page["pageInfo"]["endCursor"].clone();
    }
}

#[tokio::test]
async fn the_programme_orders_by_planned_start_or_by_when_audits_were_planned() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    // Planned in this order, for these months: the two orders differ.
    let mut made = Vec::new();
    for (title, start, end) in [
        ("March", "2027-03-01", "2027-03-20"),
        ("January", "2027-01-04", "2027-01-22"),
        ("May", "2027-05-03", "2027-05-21"),
        ("February", "2027-02-01", "2027-02-19"),
        ("April", "2027-04-05", "2027-04-23"),
    ] {
        let audit = planned(
            &app,
            &h,
            json!({ "title": title, "plannedStart": start, "plannedEnd": end }),
        )
        .await;
        made.push(id(&audit));
    }
    let by_start = ordered_audit_ids(&app, &h.alice, Value::Null).await;
    let expected: Vec<String> = [1, 3, 0, 4, 2].iter().map(|&i| made[i].clone()).collect();
    assert_eq!(by_start, expected, "default: planned start, earliest first");
    let latest_first = ordered_audit_ids(
        &app,
        &h.alice,
        json!({ "field": "PLANNED_START", "direction": "DESC" }),
    )
    .await;
    assert_eq!(
        latest_first,
        expected.iter().rev().cloned().collect::<Vec<_>>()
    );
    let newest_planned = ordered_audit_ids(
        &app,
        &h.alice,
        json!({ "field": "CREATED_AT", "direction": "DESC" }),
    )
    .await;
    assert_eq!(
        newest_planned,
        made.iter().rev().cloned().collect::<Vec<_>>()
    );
}
