//! Listing actions: paging, ordering and filtering.

use super::*;

/// Every page of `correctiveActions` for this order, `page` at a time, checking the page
/// info and total on the way; returns the nodes in order.
async fn all_pages(app: &TestApp, token: &str, order: Value, page: usize) -> Vec<Value> {
    let mut nodes: Vec<Value> = Vec::new();
    let mut after: Option<String> = None;
    let mut total = None;
    for _ in 0..50 {
        let resp = app
            .list_corrective_actions(
                token,
                json!({ "first": page, "after": after, "orderBy": order }),
            )
            .await;
        let connection = resp.assert_ok()["correctiveActions"].clone();
        let count = connection["totalCount"].as_u64().expect("totalCount");
        assert_eq!(*total.get_or_insert(count), count, "totalCount is stable");
        let edges = connection["edges"].as_array().unwrap();
        assert!(edges.len() <= page, "{resp}");
        nodes.extend(edges.iter().map(|e| e["node"].clone()));
        if !connection["pageInfo"]["hasNextPage"].as_bool().unwrap() {
            assert_eq!(nodes.len() as u64, count, "pages add up to totalCount");
            return nodes;
        }
        assert_eq!(edges.len(), page, "only the last page is short: {resp}");
        after = Some(
            connection["pageInfo"]["endCursor"]
                .as_str()
                .expect("endCursor")
                .to_string(),
        );
    }
    panic!("paging never ended")
}

/// Twelve actions over four due dates (so pages split ties), raised out of date order.
async fn twelve_actions(app: &TestApp, h: &Hospital) -> BTreeSet<String> {
    let incident = cardiac_incident(app, h).await;
    let mut raised = BTreeSet::new();
    for i in 0..12i64 {
        let action = raise(
            app,
            &h.hana,
            &incident,
            OLIVE,
            json!({ "title": format!("Action {i}"), "dueDate": days_from_today(5 + (i * 7) % 4) }),
        )
        .await;
        raised.insert(id(&action));
    }
    raised
}

#[tokio::test]
async fn actions_page_to_the_end_soonest_due_first_without_gaps() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let raised = twelve_actions(&app, &h).await;

    let nodes = all_pages(&app, &h.quinn, Value::Null, 5).await;

    let listed: Vec<String> = nodes.iter().map(id).collect();
    assert_eq!(distinct(listed, "action"), raised);
    let due: Vec<&str> = nodes
        .iter()
        .map(|n| n["dueDate"].as_str().unwrap())
        .collect();
    let mut sorted = due.clone();
    sorted.sort();
    assert_eq!(due, sorted, "soonest due first by default");

    let explicit = all_pages(
        &app,
        &h.quinn,
        json!({ "field": "DUE_DATE", "direction": "ASC" }),
        4,
    )
    .await;
    let explicit_due: Vec<&str> = explicit
        .iter()
        .map(|n| n["dueDate"].as_str().unwrap())
        .collect();
    assert_eq!(explicit_due, sorted);
}

#[tokio::test]
async fn actions_order_by_due_date_or_creation_either_way() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let raised = twelve_actions(&app, &h).await;

    let by_due_desc = all_pages(
        &app,
        &h.quinn,
        json!({ "field": "DUE_DATE", "direction": "DESC" }),
        5,
    )
    .await;
    assert_eq!(
        distinct(by_due_desc.iter().map(id).collect(), "action"),
        raised
    );
    let due: Vec<&str> = by_due_desc
        .iter()
        .map(|n| n["dueDate"].as_str().unwrap())
        .collect();
    let mut expected = due.clone();
    expected.sort();
    expected.reverse();
    assert_eq!(due, expected, "latest due first");

    for (direction, page) in [("ASC", 5), ("DESC", 3)] {
        let nodes = all_pages(
            &app,
            &h.quinn,
            json!({ "field": "CREATED_AT", "direction": direction }),
            page,
        )
        .await;
        assert_eq!(distinct(nodes.iter().map(id).collect(), "action"), raised);
        let created: Vec<_> = nodes.iter().map(|n| parse_time(&n["createdAt"])).collect();
        let mut expected = created.clone();
        expected.sort();
        if direction == "DESC" {
            expected.reverse();
        }
        assert_eq!(created, expected, "CREATED_AT {direction}");
        let titles: Vec<&str> = nodes.iter().map(|n| n["title"].as_str().unwrap()).collect();
        let mut in_order: Vec<String> = (0..12).map(|i| format!("Action {i}")).collect();
        if direction == "DESC" {
            in_order.reverse();
        }
        assert_eq!(
            titles, in_order,
            "CREATED_AT {direction} is the order they were raised"
        );
    }
}

#[tokio::test]
async fn actions_filter_by_status_department_source_due_date_and_owner() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let cardiac_a = cardiac_incident(&app, &h).await;
    let cardiac_b = cardiac_incident(&app, &h).await;
    let neuro = neuro_incident(&app, &h).await;

    let a1 = raise(
        &app,
        &h.hana,
        &cardiac_a,
        OLIVE,
        json!({ "dueDate": days_from_today(5) }),
    )
    .await;
    let a2 = raise(
        &app,
        &h.hana,
        &cardiac_a,
        OSCAR,
        json!({ "dueDate": days_from_today(40) }),
    )
    .await;
    let a2 = app
        .update_action(&h.hana, &a2, json!({ "status": "IN_PROGRESS" }))
        .await;
    let b1 = raise(
        &app,
        &h.hana,
        &cardiac_b,
        OLIVE,
        json!({ "dueDate": days_from_today(-3) }),
    )
    .await;
    let b1 = app
        .update_action(&h.hana, &b1, json!({ "status": "COMPLETED" }))
        .await;
    let c1 = raise(
        &app,
        &h.nina,
        &neuro,
        OSCAR,
        json!({ "dueDate": days_from_today(10) }),
    )
    .await;
    let c1 = app
        .update_action(
            &h.nina,
            &c1,
            json!({ "status": "CANCELLED", "note": "Covered by the trust-wide policy" }),
        )
        .await;

    for (filter, expected) in [
        (json!({ "status": ["OPEN", "IN_PROGRESS"] }), vec![&a1, &a2]),
        (json!({ "status": ["COMPLETED"] }), vec![&b1]),
        (json!({ "status": ["CANCELLED", "VERIFIED"] }), vec![&c1]),
        (json!({ "departmentId": h.neurology }), vec![&c1]),
        (json!({ "departmentId": h.cardiology }), vec![&a1, &a2, &b1]),
        (json!({ "sourceId": cardiac_a["id"] }), vec![&a1, &a2]),
        (json!({ "sourceId": neuro["id"] }), vec![&c1]),
        (
            json!({ "dueBefore": days_from_today(20) }),
            vec![&a1, &b1, &c1],
        ),
        (json!({ "dueBefore": days_from_today(-10) }), vec![]),
        (json!({ "ownerEmail": OSCAR }), vec![&a2, &c1]),
        (
            json!({ "departmentId": h.cardiology, "status": ["OPEN", "COMPLETED"] }),
            vec![&a1, &b1],
        ),
    ] {
        let resp = app
            .list_corrective_actions(&h.quinn, json!({ "first": 100, "filter": filter }))
            .await;
        let connection = &resp.assert_ok()["correctiveActions"];
        assert_eq!(
            distinct(node_ids(connection), "action"),
            ids(&expected),
            "filter {filter}: {resp}"
        );
        assert_eq!(
            connection["totalCount"],
            expected.len(),
            "filter {filter}: {resp}"
        );
    }

    // A handler's filters work within what they may see.
    assert_eq!(
        app.corrective_action_ids(&h.hana, json!({ "departmentId": h.neurology }))
            .await,
        Vec::<String>::new()
    );
}

// --- cost ----------------------------------------------------------------------------------

#[tokio::test]
async fn reading_actions_through_a_page_of_incidents_does_not_query_per_row() {
    let app = spawn_app_with(|s| s.diagnostics.sql_statement_count = true).await;
    let h = app.hospital().await;
    // Signed-in owners (so `owner` resolves) and one who never signed in.
    for token in [&h.alice, &h.bob, &h.hana] {
        app.staff_id(token).await;
    }
    let owners = [
        "alice@candour.test",
        "bob@candour.test",
        "hana@candour.test",
        "not.yet@candour.test",
    ];
    for i in 0..45usize {
        let incident = cardiac_incident(&app, &h).await;
        let first = raise(
            &app,
            &h.quinn,
            &incident,
            owners[i % 4],
            json!({ "title": format!("Action {i}a") }),
        )
        .await;
        raise(
            &app,
            &h.quinn,
            &incident,
            owners[(i + 1) % 4],
            json!({ "title": format!("Action {i}b") }),
        )
        .await;
        if i % 3 == 0 {
            let completed = app
                .update_action(&h.quinn, &first, json!({ "status": "COMPLETED" }))
                .await;
            app.update_action(
                &h.quinn,
                &completed,
                json!({ "status": "VERIFIED", "effective": false }),
            )
            .await;
        }
    }
    let query = "query($first: Int) { incidents(first: $first) { edges { node {
                   correctiveActions { title owner { name } followUp { title } }
                 } } } }";

    // Three samples per page size, keeping the fewest (see listing.rs: a DataLoader batch
    // may split under load; an N+1 shows in every sample).
    let mut samples: Vec<(usize, u64)> = Vec::new();
    for first in [5, 40, 5, 40, 5, 40] {
        let resp = app
            .gql(Some(&h.quinn), query, json!({ "first": first }))
            .await;
        let edges = resp.assert_ok()["incidents"]["edges"].as_array().unwrap();
        assert_eq!(edges.len(), first, "{resp}");
        let actions: Vec<&Value> = edges
            .iter()
            .flat_map(|e| {
                e["node"]["correctiveActions"]
                    .as_array()
                    .unwrap_or_else(|| panic!("correctiveActions listed: {e}"))
                    .iter()
            })
            .collect();
        assert!(
            edges.iter().all(|e| e["node"]["correctiveActions"]
                .as_array()
                .is_some_and(|a| a.len() >= 2)),
            "every incident lists its actions: {resp}"
        );
        if first == 40 {
            assert!(actions.iter().any(|a| a["owner"]["name"].is_string()));
            assert!(actions.iter().any(|a| a["owner"].is_null()));
            assert!(actions.iter().any(|a| a["followUp"]["title"].is_string()));
        }
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
        fewest(5),
        fewest(40),
        "SQL statements grow with the page (an N+1 under correctiveActions): \
         (first, statements) samples {samples:?}"
    );
}
