//! The index follows the records: a change is found at once, a refused change leaves the
//! index as it was, and disposal takes a record's words out of it.

use super::*;

#[tokio::test]
async fn a_change_is_found_at_once_and_the_old_words_are_gone() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let incident = app
        .report_incident(
            &h.alice,
            with(
                incident_input(&h.cardiology),
                json!({ "category": "Medication" }),
            ),
        )
        .await;
    let id = incident["id"].as_str().unwrap().to_string();
    assert_eq!(found(&app, &h.hana, "medication").await, vec![id.clone()]);

    let triaged = app
        .triage(
            &h.hana,
            &incident,
            json!({ "category": "Falls prevention" }),
        )
        .await;
    assert_eq!(found(&app, &h.hana, "prevention").await, vec![id.clone()]);
    assert!(found(&app, &h.hana, "medication").await.is_empty());

    // A stale change is refused, and the index keeps what is stored.
    let resp = app
        .try_triage(
            &h.hana,
            json!({ "incidentId": id, "expectedVersion": incident["version"], "category": "Nutrition" }),
        )
        .await;
    resp.assert_error("CONFLICT", None);
    assert!(found(&app, &h.hana, "nutrition").await.is_empty());
    assert_eq!(found(&app, &h.hana, "prevention").await, vec![id.clone()]);

    // A refused report leaves nothing to find.
    let resp = app
        .try_report_incident(
            &h.alice,
            with(
                incident_input(&h.cardiology),
                json!({ "title": "Quokka escaped", "physicalHarm": "SOMEWHAT" }),
            ),
        )
        .await;
    assert!(!resp.errors().is_empty(), "{resp}");
    assert!(found(&app, &h.quinn, "quokka").await.is_empty());
    let _ = triaged;
}

#[tokio::test]
async fn disposal_takes_a_records_words_out_of_the_index() {
    let app = spawn_app_with(|s| {
        s.retention.incident_years = 0;
        s.retention.audit_years = 0;
        s.retention.improvement_project_years = 0;
        s.retention.serious_incident_years = 20;
    })
    .await;
    let h = app.hospital().await;
    let incident = report(
        &app,
        &h.alice,
        &h.cardiology,
        "Walking frame collapsed",
        "The zircon-coloured frame folded as the patient stood.",
    )
    .await;
    let incident = app
        .incident(&h.quinn, incident["id"].as_str().unwrap())
        .await;
    let incident = app
        .triage(&h.quinn, &incident, json!({ "physicalHarm": "NONE" }))
        .await;
    let closed = app.close_low_harm(&h.quinn, &incident).await;
    let id = closed["id"].as_str().unwrap().to_string();
    assert_eq!(found(&app, &h.quinn, "zircon").await, vec![id.clone()]);
    assert_eq!(
        found(&app, &h.quinn, "walking frame").await,
        vec![id.clone()]
    );

    let ig = app.ig_officer("iris");
    let resp = app
        .gql(
            Some(&ig),
            "mutation { disposeDueRecords { incidents } }",
            json!({}),
        )
        .await;
    assert_eq!(
        resp.assert_ok()["disposeDueRecords"]["incidents"],
        1,
        "{resp}"
    );

    for words in ["zircon", "walking frame", "collapsed", "patient"] {
        assert!(
            found(&app, &h.quinn, words).await.is_empty(),
            "{words} was disposed of"
        );
    }
    // The tombstone is still found by its reference, with nothing of what was disposed.
    let hits = hits(&app, &h.quinn, closed["reference"].as_str().unwrap()).await;
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0]["record"]["id"], id.as_str());
    assert_eq!(fields(&hits[0]), vec!["reference"]);
}

/// Records indexed before an upgrade (here, before the columns that decide who sees a
/// record were copied into the index) are found after it, each only by those who may see it.
#[tokio::test]
async fn records_indexed_before_an_upgrade_are_found_after_it_by_those_who_may_see_them() {
    use migration::MigratorTrait;
    const DEPARTMENTS: [&str; 8] = [
        "CARD", "CLEN", "NUCM", "RADP", "AUDI", "GENL", "BLTR", "STER",
    ];
    let app = spawn_app_on_prepared(|settings| async move {
        let db = candour::db::Db::connect(&settings).await.expect("connect");
        let before = migration::Migrator::migrations()
            .iter()
            .position(|m| m.name() == "m20261211_000014_attachments")
            .expect("the migration before the search keys")
            + 1;
        migration::Migrator::up(&db.conn, Some(before as u32))
            .await
            .expect("the schema as it was");
        candour::seed::run(
            &db,
            candour::seed::Options {
                incidents: 400,
                seed: 11,
                timezone: settings.timezone.clone(),
            },
        )
        .await
        .expect("seed under the older schema");
        db.conn.close().await.ok();
    })
    .await;
    let quinn = app.quality_lead("quinn");
    const QUERY: &str = "query($q: String!, $first: Int) {
      search(query: $q, first: $first, filter: { kinds: [INCIDENT] }) {
        totalCount
        edges { node { record { ... on Incident { id department { code } } } } }
      }
    }";
    let search = |token: String, q: &'static str| {
        let app = &app;
        async move {
            let resp = app
                .gql(Some(&token), QUERY, json!({ "q": q, "first": 100 }))
                .await;
            let data = resp.assert_ok()["search"].clone();
            let codes: Vec<String> = data["edges"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| {
                    e["node"]["record"]["department"]["code"]
                        .as_str()
                        .unwrap()
                        .to_string()
                })
                .collect();
            (data["totalCount"].as_u64().unwrap(), codes)
        }
    };
    let mut searched = 0;
    for q in ["alarm", "wrong", "patient"] {
        let (all, _) = search(quinn.clone(), q).await;
        if all == 0 {
            continue;
        }
        searched += 1;
        let mut by_department = 0;
        for code in DEPARTMENTS {
            let (n, codes) = search(app.handler(&format!("h-{code}"), &[code]), q).await;
            assert!(
                codes.iter().all(|c| c == code),
                "a {code} handler searching {q:?} found another department's: {codes:?}"
            );
            by_department += n;
        }
        assert_eq!(
            by_department, all,
            "{q:?}: the departments' handlers find between them what the quality lead finds"
        );
        // Someone who reported none of them finds none of them.
        let (n, _) = search(app.staff("nobody"), q).await;
        assert_eq!(n, 0);
    }
    assert!(searched > 0, "the seeded incidents hold the words searched");
}
