//! How soon figures follow reports, whichever instance took them, and series read like any
//! object.

use super::*;

/// Makes sure the helper that waits on the fold sees real rows: reports leave deltas that
/// the instance folds within a few seconds.
#[tokio::test]
async fn reports_are_folded_into_the_rollups_within_seconds() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    for _ in 0..3 {
        app.report_incident(&h.alice, incident_input(&h.cardiology))
            .await;
    }
    let mut waited = 0;
    while pending_deltas(&app).await > 0 {
        assert!(waited < 50, "deltas still waiting after 5 s");
        tokio::time::sleep(StdDuration::from_millis(100)).await;
        waited += 1;
    }
    let d = dashboard(
        &app,
        &h.quinn,
        json!({}),
        "incidentCounts(interval: DAY) { total }",
    )
    .await;
    assert_eq!(d["incidentCounts"]["total"], 3);
}

async fn harm_series(app: &TestApp, token: &str) -> Value {
    dashboard(
        app,
        token,
        json!({}),
        "incidentCounts(interval: MONTH, splitBy: PHYSICAL_HARM) { total totals { key count } }",
    )
    .await["incidentCounts"]
        .clone()
}

/// An instance keeps the rollup rows it has read while the rollups' generation stands;
/// reports made through another instance count at once (their deltas are read every time)
/// and after any instance folds them (the fold raises the generation).
#[tokio::test]
async fn figures_kept_by_one_instance_follow_reports_made_through_another() {
    let app = spawn_app().await;
    let other = app.another_instance(|_| {}).await;
    let h = app.hospital().await;
    let moderate = |series: &Value| {
        series["totals"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["key"] == "MODERATE")
            .unwrap()["count"]
            .as_i64()
            .unwrap()
    };
    assert_eq!(harm_series(&app, &h.quinn).await["total"], 0);
    let mut expected = 0;
    for round in 0..3 {
        for _ in 0..2 {
            other
                .report_incident(
                    &h.alice,
                    with(
                        incident_input(&h.cardiology),
                        json!({ "physicalHarm": "MODERATE" }),
                    ),
                )
                .await;
            expected += 1;
        }
        let now = harm_series(&app, &h.quinn).await;
        assert_eq!(now["total"], expected, "round {round}, deltas waiting");
        assert_eq!(moderate(&now), expected, "round {round}, deltas waiting");
        let mut waited = 0;
        while pending_deltas(&app).await > 0 {
            assert!(waited < 100, "the deltas were never folded");
            tokio::time::sleep(StdDuration::from_millis(100)).await;
            waited += 1;
        }
        let now = harm_series(&app, &h.quinn).await;
        assert_eq!(now["total"], expected, "round {round}, folded");
        assert_eq!(moderate(&now), expected, "round {round}, folded");
    }
}

/// A series' buckets answer fragments, aliases, `__typename`, directives and a field
/// selected twice as any GraphQL object does.
#[tokio::test]
async fn a_series_answers_fragments_aliases_and_directives_like_any_object() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    for harm in ["LOW", "MODERATE", "MODERATE"] {
        app.report_incident(
            &h.alice,
            with(
                incident_input(&h.cardiology),
                json!({ "physicalHarm": harm }),
            ),
        )
        .await;
    }
    let resp = app
        .gql(
            Some(&h.quinn),
            "query($no: Boolean!) { dashboard { incidentCounts(interval: MONTH, splitBy: PHYSICAL_HARM) {
                totals { ...Count }
                buckets {
                  __typename
                  from: start
                  ...Bucket
                  ... on IncidentCountBucket { split { label } }
                  ... @include(if: $no) { end }
                  total @skip(if: $no)
                  split { key }
                }
              } } }
             fragment Bucket on IncidentCountBucket { n: total split { count } }
             fragment Count on SplitCount { key count }",
            json!({ "no": false }),
        )
        .await;
    let d = resp.assert_ok();
    let series = &d["dashboard"]["incidentCounts"];
    let last = series["buckets"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    let moderate = json!({ "label": "Moderate", "key": "MODERATE", "count": 2 });
    assert_eq!(
        last,
        json!({
            "__typename": "IncidentCountBucket",
            "from": last["from"],
            "n": 3,
            "split": [
                { "count": 0, "label": "None", "key": "NONE" },
                { "count": 1, "label": "Low", "key": "LOW" },
                moderate,
                { "count": 0, "label": "Severe", "key": "SEVERE" },
                { "count": 0, "label": "Fatal", "key": "FATAL" },
            ],
            "total": 3,
        }),
        "{d}"
    );
    assert!(last["from"].is_string());
    assert_eq!(
        series["totals"][2],
        json!({ "key": "MODERATE", "count": 2 })
    );
}
