//! Recording measurements against a project's measures.

use super::*;

// ---------------------------------------------------------------------------------------------
// Measurements
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn the_lead_and_those_who_run_the_project_record_measurements_read_oldest_first() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let lead = app.staff_with_email("lena", LEAD);
    let p = start(
        &app,
        &h.quinn,
        with(
            project_input(&h.cardiology),
            json!({ "measures": [
                { "name": "Falls", "kind": "OUTCOME", "unit": "falls", "betterWhen": "LOWER" },
                { "name": "Risk assessments done", "kind": "PROCESS", "unit": "%", "target": 95.0, "betterWhen": "HIGHER" },
            ] }),
        ),
    )
    .await;
    let falls = p["measures"][0]["id"].clone();
    let assessments = p["measures"][1]["id"].clone();

    // Entered out of order, by the lead, the handler and the quality lead.
    record(&app, &lead, &falls, 4.0, &ago(24)).await;
    record(&app, &h.hana, &falls, 6.0, &ago(72)).await;
    record(&app, &h.quinn, &falls, 5.0, &ago(48)).await;
    // Clock skew: a minute ahead is still now.
    record(
        &app,
        &lead,
        &falls,
        3.0,
        &rfc3339(Utc::now() + chrono::Duration::minutes(1)),
    )
    .await;
    let after = record(&app, &lead, &assessments, 80.0, &ago(1)).await;
    assert_eq!(
        after["version"], p["version"],
        "measurements leave the version alone"
    );

    // Nobody else records, and nobody records the future.
    for token in [&h.alice, &h.nina] {
        try_record(&app, token, &falls, 1.0, &ago(1))
            .await
            .assert_error("FORBIDDEN", None);
    }
    try_record(
        &app,
        &lead,
        &falls,
        1.0,
        &rfc3339(Utc::now() + chrono::Duration::hours(1)),
    )
    .await
    .assert_error("BAD_USER_INPUT", Some("at"));

    let read = read_project(&app, &h.alice, &id(&p)).await;
    let values: Vec<f64> = read["measures"][0]["measurements"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["value"].as_f64().unwrap())
        .collect();
    assert_eq!(
        values,
        vec![6.0, 5.0, 4.0, 3.0],
        "oldest `at` first: {read}"
    );
    let ats: Vec<_> = read["measures"][0]["measurements"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| parse_time(&m["at"]))
        .collect();
    assert!(ats.windows(2).all(|w| w[0] <= w[1]), "{read}");
    assert_eq!(
        read["measures"][1]["measurements"]
            .as_array()
            .unwrap()
            .len(),
        1,
        "each measure keeps its own series: {read}"
    );
    assert_eq!(read["measures"][1]["measurements"][0]["value"], 80.0);

    // Once closed, the series is frozen.
    let active = move_to(&app, &h.quinn, &read, "ACTIVE").await;
    let closed = move_to(&app, &h.quinn, &active, "CLOSED").await;
    for token in [&lead, &h.quinn] {
        try_record(&app, token, &falls, 2.0, &ago(1))
            .await
            .assert_error("BAD_USER_INPUT", Some("measureId"));
    }
    let read = read_project(&app, &h.quinn, &id(&closed)).await;
    assert_eq!(
        read["measures"][0]["measurements"]
            .as_array()
            .unwrap()
            .len(),
        4
    );
}
