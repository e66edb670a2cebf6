//! Listing projects.

use super::*;

// ---------------------------------------------------------------------------------------------
// Listing
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn projects_list_newest_first_page_to_the_end_and_filter_by_status_and_department() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let mut started = Vec::new();
    for i in 0..7 {
        let department = if i % 3 == 2 {
            &h.neurology
        } else {
            &h.cardiology
        };
        let p = start(
            &app,
            &h.quinn,
            with(
                project_input(department),
                json!({ "title": format!("Project {i}") }),
            ),
        )
        .await;
        started.push(p);
    }
    let mut active = BTreeSet::new();
    for i in [0, 2, 3] {
        let moved = move_to(&app, &h.quinn, &started[i], "ACTIVE").await;
        active.insert(id(&moved));
    }
    let neuro: BTreeSet<String> = [2, 5].iter().map(|&i| id(&started[i])).collect();

    // Everyone reads; newest first; paging reaches the end without gaps or repeats.
    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    let mut pages = 0;
    loop {
        let resp = list(&app, &h.alice, json!({ "first": 3, "after": after })).await;
        let connection = resp.assert_ok()["improvementProjects"].clone();
        assert_eq!(connection["totalCount"], 7, "{resp}");
        seen.extend(node_ids(&connection));
        pages += 1;
        assert!(pages <= 3, "paging does not end: {resp}");
        if connection["pageInfo"]["hasNextPage"] == true {
            after = Some(
                connection["pageInfo"]["endCursor"]
                    .as_str()
                    .expect("endCursor")
                    .to_string(),
            );
        } else {
            break;
        }
    }
    let newest_first: Vec<String> = started.iter().rev().map(id).collect();
    assert_eq!(
        seen, newest_first,
        "pages of 3 list all seven, newest first"
    );
    assert_eq!(pages, 3);

    let (ids, total) = listed_ids(&app, &h.alice, json!({ "status": ["ACTIVE"] })).await;
    assert_eq!(ids.iter().cloned().collect::<BTreeSet<_>>(), active);
    assert_eq!(total, 3);
    let (ids, total) = listed_ids(&app, &h.alice, json!({ "status": ["PROPOSED"] })).await;
    assert_eq!(ids.len(), 4);
    assert_eq!(total, 4);
    let (ids, total) = listed_ids(&app, &h.alice, json!({ "departmentId": h.neurology })).await;
    assert_eq!(ids.iter().cloned().collect::<BTreeSet<_>>(), neuro);
    assert_eq!(total, 2);
    let (ids, total) = listed_ids(
        &app,
        &h.alice,
        json!({ "departmentId": h.cardiology, "status": ["ACTIVE"] }),
    )
    .await;
    assert_eq!(
        ids.iter().cloned().collect::<BTreeSet<_>>(),
        [0, 3]
            .iter()
            .map(|&i| id(&started[i]))
            .collect::<BTreeSet<_>>()
    );
    assert_eq!(total, 2);
    let (ids, total) = listed_ids(&app, &h.alice, json!({ "status": ["CLOSED"] })).await;
    assert!(ids.is_empty());
    assert_eq!(total, 0);
}

#[tokio::test]
async fn reading_measures_cycles_and_actions_through_a_page_of_projects_does_not_query_per_row() {
    let app = spawn_app_with(|s| s.diagnostics.sql_statement_count = true).await;
    let h = app.hospital().await;
    let lead = app.staff_with_email("lena", LEAD);
    for i in 0..8 {
        let p = start(
            &app,
            &h.quinn,
            with(
                project_input(&h.cardiology),
                json!({ "title": format!("Project {i}"), "measures": [
                    { "name": "Falls", "kind": "OUTCOME", "unit": "falls", "betterWhen": "LOWER" },
                    { "name": "Assessments", "kind": "PROCESS", "unit": "%", "betterWhen": "HIGHER" },
                ] }),
            ),
        )
        .await;
        for measure in p["measures"].as_array().unwrap() {
            record(&app, &lead, &measure["id"], 1.0, &ago(2)).await;
            record(&app, &lead, &measure["id"], 2.0, &ago(1)).await;
        }
        try_add_cycle(
            &app,
            &lead,
            json!({ "projectId": p["id"], "title": format!("Cycle {i}"), "startDate": "2026-10-05" }),
        )
        .await
        .assert_ok();
        app.create_corrective_action(
            &h.quinn,
            with(
                corrective_action_input(&id(&p), "olive@candour.test"),
                json!({ "title": format!("Action {i}") }),
            ),
        )
        .await;
    }
    let query = "query($first: Int) { improvementProjects(first: $first) { edges { node {
                   measures { measurements { value } } pdsaCycles { title } correctiveActions { title }
                 } } } }";

    // Three samples per page size, keeping the fewest (a DataLoader batch may split under
    // load; an N+1 shows in every sample).
    let mut samples: Vec<(usize, u64)> = Vec::new();
    for first in [2, 8, 2, 8, 2, 8] {
        let resp = app
            .gql(Some(&h.quinn), query, json!({ "first": first }))
            .await;
        let edges = resp.assert_ok()["improvementProjects"]["edges"]
            .as_array()
            .unwrap()
            .clone();
        assert_eq!(edges.len(), first, "{resp}");
        for e in &edges {
            let node = &e["node"];
            assert_eq!(node["measures"].as_array().unwrap().len(), 2, "{resp}");
            assert!(
                node["measures"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .all(|m| m["measurements"].as_array().unwrap().len() == 2),
                "{resp}"
            );
            assert_eq!(node["pdsaCycles"].as_array().unwrap().len(), 1, "{resp}");
            assert_eq!(
                node["correctiveActions"].as_array().unwrap().len(),
                1,
                "{resp}"
            );
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
        fewest(2),
        fewest(8),
        "SQL statements grow with the page (an N+1 under measures, measurements, pdsaCycles \
         or correctiveActions): (first, statements) samples {samples:?}"
    );
}

#[tokio::test]
async fn projects_may_be_listed_oldest_first_or_by_their_last_change() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let mut made = Vec::new();
    for n in 0..4 {
        let p = start(
            &app,
            &h.quinn,
            with(
                project_input(&h.cardiology),
                json!({ "title": format!("Project {n}") }),
            ),
        )
        .await;
        made.push(p);
    }
    // Changing the oldest makes it the most recently updated.
    move_to(&app, &h.quinn, &made[0], "ACTIVE").await;
    let order_ids = |order: Value| {
        let app = &app;
        let token = h.alice.clone();
        async move {
            let mut ids = Vec::new();
            let mut after = Value::Null;
            loop {
                let resp = app
                    .gql(
                        Some(&token),
                        "query($after: String, $order: ImprovementProjectOrder) {
                           improvementProjects(first: 3, after: $after, orderBy: $order) {
                             pageInfo { hasNextPage endCursor }
                             edges { node { id } }
                           }
                         }",
                        json!({ "after": after, "order": order }),
                    )
                    .await;
                let page = resp.assert_ok()["improvementProjects"].clone();
                ids.extend(node_ids(&page));
                if page["pageInfo"]["hasNextPage"] != true {
                    return ids;
                }
                after = page["pageInfo"]["endCursor"].clone();
            }
        }
    };
    let made_ids: Vec<String> = made.iter().map(id).collect();
    let oldest_first = order_ids(json!({ "field": "CREATED_AT", "direction": "ASC" })).await;
    assert_eq!(oldest_first, made_ids);
    let recently_changed = order_ids(json!({ "field": "UPDATED_AT", "direction": "DESC" })).await;
    assert_eq!(recently_changed[0], made_ids[0], "{recently_changed:?}");
    assert_eq!(recently_changed.len(), 4);
}

// --- SPC ---------------------------------------------------------------------------------

#[tokio::test]
async fn a_measure_reads_as_an_xmr_chart_with_its_limits_signals_and_icons() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let p = start(
        &app,
        &h.quinn,
        with(
            project_input(&h.cardiology),
            json!({ "measures": [
                { "name": "Echo reports within 5 days", "kind": "PROCESS", "unit": "%",
                  "target": 5.0, "betterWhen": "HIGHER" },
            ] }),
        ),
    )
    .await;
    let measure = p["measures"][0]["id"].clone();
    let spc_query = "query($id: ID!) { node(id: $id) { ... on ImprovementProject {
        measures { spc { mean averageMovingRange upperProcessLimit lowerProcessLimit
          variation assurance fewPoints
          points { at value movingRange rules specialCause } } } } } }";
    let spc = |resp: &GqlResponse| resp.assert_ok()["node"]["measures"][0]["spc"].clone();

    // One point is no chart.
    record(&app, &h.quinn, &measure, 10.0, &ago(100)).await;
    let one = app
        .gql(Some(&h.quinn), spc_query, json!({ "id": p["id"] }))
        .await;
    assert!(spc(&one).is_null(), "{one:?}");

    // The worked example: 10 12 11 13 12 11 10 12 11 13, then 25 (hours apart, in order,
    // though recorded out of order). Mean (115 + 25) / 11; average moving range
    // (13 + 12) / 10 = 2.5; limits mean ± 6.65; 25 lies above the upper limit.
    let rest = [12.0, 11.0, 13.0, 12.0, 11.0, 10.0, 12.0, 11.0, 13.0];
    for (i, v) in rest.iter().enumerate().rev() {
        record(&app, &h.quinn, &measure, *v, &ago(99 - i as i64)).await;
    }
    record(&app, &h.quinn, &measure, 25.0, &ago(1)).await;
    let chart = spc(&app
        .gql(Some(&h.quinn), spc_query, json!({ "id": p["id"] }))
        .await);
    let mean = 140.0 / 11.0;
    let near = |a: &Value, b: f64| (a.as_f64().unwrap() - b).abs() < 1e-9;
    assert!(near(&chart["mean"], mean), "{chart}");
    assert!(near(&chart["averageMovingRange"], 2.5), "{chart}");
    assert!(
        near(&chart["upperProcessLimit"], mean + 2.66 * 2.5),
        "{chart}"
    );
    assert!(
        near(&chart["lowerProcessLimit"], mean - 2.66 * 2.5),
        "{chart}"
    );
    let points = chart["points"].as_array().unwrap();
    assert_eq!(points.len(), 11);
    let values: Vec<f64> = points
        .iter()
        .map(|p| p["value"].as_f64().unwrap())
        .collect();
    assert_eq!(
        values,
        [10.0, 12.0, 11.0, 13.0, 12.0, 11.0, 10.0, 12.0, 11.0, 13.0, 25.0]
    );
    assert!(points[0]["movingRange"].is_null());
    assert_eq!(points[10]["movingRange"], json!(12.0));
    assert_eq!(points[10]["rules"], json!(["OUTSIDE_LIMITS"]));
    assert_eq!(points[10]["specialCause"], json!("HIGH"));
    assert!(points[..10]
        .iter()
        .all(|p| p["rules"] == json!([]) && p["specialCause"].is_null()));
    // Higher is better and the latest point is high: improving. The target (5) lies
    // below the lower limit: the process meets it consistently. 11 points: indicative.
    assert_eq!(chart["variation"], json!("IMPROVING"));
    assert_eq!(chart["assurance"], json!("CONSISTENTLY_MET"));
    assert_eq!(chart["fewPoints"], json!(true));
}
