//! Searching AdverseEvents: searchset Bundles paged with `next` links, by date of the event
//! and by reference, scoped to what the caller may see.
use std::collections::BTreeSet;

use super::*;

async fn report_on(app: &TestApp, token: &str, department: &str, days_ago: i64) -> Value {
    let at = chrono::Utc::now() - chrono::Duration::days(days_ago);
    app.report_incident(
        token,
        with(
            incident_input(department),
            json!({ "occurredAt": rfc3339(at) }),
        ),
    )
    .await
}

/// Every entry's id, following `next` links from `first` to the last page; checks each
/// page with the validator.
async fn all_pages(app: &TestApp, token: &str, first: &str) -> (Vec<String>, usize) {
    let mut ids = Vec::new();
    let mut pages = 0;
    let mut next = Some(first.to_string());
    while let Some(path) = next.take() {
        let page = app.fhir_get(Some(token), &path).await;
        assert_eq!(page.status, 200, "{}", page.body);
        assert_valid(&[&page.body]);
        assert_eq!(page.body["type"], "searchset");
        pages += 1;
        for e in page.body["entry"].as_array().unwrap() {
            assert!(e["fullUrl"]
                .as_str()
                .unwrap()
                .ends_with(e["resource"]["id"].as_str().unwrap()));
            ids.push(e["resource"]["id"].as_str().unwrap().to_string());
        }
        next = page.body["link"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["relation"] == "next")
            .map(|l| {
                // The link is absolute (public_url); ask this server for its path and query.
                let url = l["url"].as_str().unwrap();
                url[url.find("/fhir/").unwrap()..].to_string()
            });
        assert!(pages < 20, "paging does not end");
    }
    (ids, pages)
}

#[tokio::test]
async fn a_service_pages_through_every_incident_to_the_last_page() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let mut expected = BTreeSet::new();
    for i in 0..5 {
        let dept = if i % 2 == 0 {
            &h.cardiology
        } else {
            &h.neurology
        };
        let incident = report_on(&app, &h.alice, dept, i).await;
        expected.insert(fhir_id(&app, &h.quinn, &id(&incident)).await);
    }
    let reader = app.service(&["incidents:read"]);
    let (ids, pages) = all_pages(&app, &reader, "/fhir/AdverseEvent?_count=2").await;
    assert_eq!(pages, 3, "5 incidents at 2 a page");
    assert_eq!(ids.len(), 5, "no entry twice: {ids:?}");
    assert_eq!(ids.into_iter().collect::<BTreeSet<_>>(), expected);

    // A handler sees only their department's incidents.
    let (hana_sees, _) = all_pages(&app, &h.hana, "/fhir/AdverseEvent?_count=50").await;
    assert_eq!(hana_sees.len(), 3, "three were reported to cardiology");
    // Each entry's description read is in the access log against the service.
    let some = app
        .gql(
            Some(&h.quinn),
            "{ incidents(first: 1) { edges { node { id } } } }",
            json!({}),
        )
        .await;
    let one = some.assert_ok()["incidents"]["edges"][0]["node"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let reads = reads_of(&app, &one).await;
    assert!(
        reads
            .iter()
            .any(|(fields, who)| fields.contains("description") && who.starts_with("service:")),
        "{reads:?}"
    );
}

#[tokio::test]
async fn the_date_of_the_event_bounds_the_search_and_the_reference_finds_one() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let old = report_on(&app, &h.alice, &h.cardiology, 30).await;
    let recent = report_on(&app, &h.alice, &h.cardiology, 1).await;
    let old_id = fhir_id(&app, &h.quinn, &id(&old)).await;
    let recent_id = fhir_id(&app, &h.quinn, &id(&recent)).await;
    let ten_days_ago = (chrono::Utc::now() - chrono::Duration::days(10)).date_naive();

    let (since, _) = all_pages(
        &app,
        &h.quinn,
        &format!("/fhir/AdverseEvent?date=ge{ten_days_ago}"),
    )
    .await;
    assert_eq!(since, std::slice::from_ref(&recent_id));
    let (before, _) = all_pages(
        &app,
        &h.quinn,
        &format!("/fhir/AdverseEvent?date=lt{ten_days_ago}"),
    )
    .await;
    assert_eq!(before, std::slice::from_ref(&old_id));
    let (none, _) = all_pages(
        &app,
        &h.quinn,
        &format!("/fhir/AdverseEvent?date=ge{ten_days_ago}&date=lt{ten_days_ago}"),
    )
    .await;
    assert!(none.is_empty());

    let reference = reference_of(&old);
    let (found, _) = all_pages(
        &app,
        &h.quinn,
        &format!("/fhir/AdverseEvent?identifier=urn:candour:incident-reference%7C{reference}"),
    )
    .await;
    assert_eq!(found, [old_id]);
}

#[tokio::test]
async fn bad_search_parameters_are_refused_by_name_and_unsigned_callers_by_401() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    for (query, expression) in [
        ("date=yesterday", "date"),
        ("date=ap2026-01-01", "date"),
        ("_count=0", "_count"),
        ("_count=1000", "_count"),
        ("subject=Patient/1", "subject"),
        ("_cursor=not-a-cursor", "_cursor"),
        ("identifier=http://elsewhere%7CX", "identifier"),
    ] {
        let resp = app
            .fhir_get(Some(&h.quinn), &format!("/fhir/AdverseEvent?{query}"))
            .await;
        let at = resp.assert_outcome(400, "invalid");
        assert_eq!(at.as_deref(), Some(expression), "{query}: {}", resp.body);
    }
    app.fhir_get(None, "/fhir/AdverseEvent")
        .await
        .assert_outcome(401, "login");
    app.fhir_get(
        Some(&app.service(&["incidents:write"])),
        "/fhir/AdverseEvent",
    )
    .await
    .assert_outcome(403, "forbidden");
    // XML is not served.
    let xml = app
        .client
        .get(app.url("/fhir/AdverseEvent"))
        .bearer_auth(&h.quinn)
        .header("Accept", "application/fhir+xml")
        .send()
        .await
        .unwrap();
    assert_eq!(xml.status(), 406);
}

#[tokio::test]
async fn a_longer_page_costs_no_more_statements() {
    let app = spawn_app_with(|s| s.diagnostics.sql_statement_count = true).await;
    let h = app.hospital().await;
    for i in 0..12 {
        let department = if i % 2 == 0 {
            &h.cardiology
        } else {
            &h.neurology
        };
        report_on(&app, &h.alice, department, i).await;
    }
    let mut counts = Vec::new();
    for count in [1, 12] {
        // Twice each: the first read of a department fills the cache.
        app.fhir_get(
            Some(&h.quinn),
            &format!("/fhir/AdverseEvent?_count={count}"),
        )
        .await;
        let page = app
            .fhir_get(
                Some(&h.quinn),
                &format!("/fhir/AdverseEvent?_count={count}"),
            )
            .await;
        assert_eq!(page.status, 200, "{}", page.body);
        assert_eq!(page.body["entry"].as_array().map(Vec::len), Some(count));
        counts.push(
            page.sql_statements
                .expect("x-sql-statements with diagnostics on"),
        );
    }
    assert_eq!(
        counts[0], counts[1],
        "a page of 12 ran more statements than a page of 1: {counts:?}"
    );
}
