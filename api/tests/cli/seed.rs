//! `candour seed`: a database filled with years of incidents, a sealed trail and a programme
//! of work.

use super::*;

#[tokio::test]
async fn seed_fills_a_database_with_years_of_incidents_a_sealed_trail_and_a_programme_of_work() {
    let dir = tempfile::tempdir().unwrap();
    let db = fresh_database(dir.path()).await;
    let key = generate_data_key(dir.path());
    let envs = [
        ("CANDOUR_DATABASE_URL", db.as_str()),
        ("CANDOUR_JWT_SECRET", SECRET),
        ("CANDOUR_DATA_KEY", key.as_str()),
    ];
    let out = run(dir.path(), &envs, &["migrate"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = run(dir.path(), &envs, &["seed", "--incidents", "3000"]);
    let text = stdout(&out);
    assert!(out.status.success(), "{text}\n{}", stderr(&out));
    assert!(text.starts_with("seeded 3000 incidents"), "{text}");

    // A second run adds to the first: references and the chain continue.
    let out = run(
        dir.path(),
        &envs,
        &["seed", "--incidents", "500", "--seed", "7"],
    );
    assert!(out.status.success(), "{}", stderr(&out));

    let conn = connect(&db).await;
    assert_eq!(
        count(&conn, "SELECT COUNT(*) AS n FROM incident").await,
        3500
    );
    assert_eq!(
        count(&conn, "SELECT COUNT(DISTINCT reference) AS n FROM incident").await,
        3500
    );
    assert_eq!(
        count(&conn, "SELECT COUNT(*) AS n FROM department").await,
        8
    );
    assert!(count(&conn, "SELECT COUNT(*) AS n FROM corrective_action").await > 0);
    assert!(count(&conn, "SELECT COUNT(*) AS n FROM audit_finding").await > 0);
    assert!(count(&conn, "SELECT COUNT(*) AS n FROM measurement").await > 0);
    // Five years of reports, more in winter than in summer.
    let month = match conn.get_database_backend() {
        sea_orm::DbBackend::Postgres => "EXTRACT(MONTH FROM reported_at)",
        _ => "CAST(substr(reported_at, 6, 2) AS INTEGER)",
    };
    let winter = count(
        &conn,
        &format!("SELECT COUNT(*) AS n FROM incident WHERE {month} IN (12, 1, 2)"),
    )
    .await;
    let summer = count(
        &conn,
        &format!("SELECT COUNT(*) AS n FROM incident WHERE {month} IN (6, 7, 8)"),
    )
    .await;
    let years = count(
        &conn,
        "SELECT COUNT(DISTINCT year) AS n FROM reference_counter WHERE prefix = 'INC'",
    )
    .await;
    assert!(years >= 5, "{years} years of references");
    assert!(winter > summer, "winter {winter}, summer {summer}");

    let out = run(dir.path(), &envs, &["verify-trail"]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}\n{}", stderr(&out));
    assert!(text.contains("3500 events checked"), "{text}");
    assert!(text.contains("0 not yet sealed"), "{text}");

    // The server reads it: a quality lead lists them all, and a new report takes the next
    // reference of its year.
    let server = start(dir.path(), &envs).await;
    let ql = token(dir.path(), "quinn", "quality_lead", &[]);
    let listed = gql(
        &server.base,
        &ql,
        "{ incidents(first: 5) { totalCount edges { node { reference status department { code } } } } }",
        json!({}),
    )
    .await;
    assert_eq!(listed["incidents"]["totalCount"], json!(3500), "{listed}");
    let card = gql(&server.base, &ql, "{ departments { id code } }", json!({})).await;
    let card_id = card["departments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["code"] == "CARD")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    report(dir.path(), &server.base, &card_id, json!({})).await;
    assert_eq!(
        count(&conn, "SELECT COUNT(DISTINCT reference) AS n FROM incident").await,
        3501
    );
}
