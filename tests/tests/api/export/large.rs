//! A whole register: 100,000 incidents, streamed page by page.

use super::*;
use sea_orm::{ConnectionTrait, Statement};

const INCIDENTS: u64 = 100_000;

#[tokio::test]
async fn a_hundred_thousand_incidents_export_whole_streamed_page_by_page_each_read_logged() {
    let app = spawn_app().await;
    let db = candour::db::Db::connect(&app.settings)
        .await
        .expect("connect for seeding");
    candour::seed::run(
        &db,
        candour::seed::Options {
            incidents: INCIDENTS,
            seed: 7,
            timezone: app.settings.timezone.clone(),
        },
    )
    .await
    .expect("seed");
    db.conn.close().await.ok();
    let quinn = app.quality_lead("quinn");

    let started = std::time::Instant::now();
    let mut resp = app
        .client
        .get(app.url("/export/incidents.csv"))
        .bearer_auth(&quinn)
        .timeout(std::time::Duration::from_secs(1800))
        .send()
        .await
        .expect("GET /export/incidents.csv");
    assert_eq!(resp.status().as_u16(), 200);
    assert!(
        resp.headers().get("content-length").is_none(),
        "the file is streamed, not built whole first"
    );
    let request_id = resp.headers()["x-request-id"].to_str().unwrap().to_string();
    let mut bytes = Vec::new();
    let mut chunks = 0;
    while let Some(chunk) = resp.chunk().await.expect("the stream runs to its end") {
        chunks += 1;
        bytes.extend_from_slice(&chunk);
    }
    let took = started.elapsed();
    assert!(chunks > 1, "sent in more than one piece");
    let file = Exported {
        status: 200,
        headers: Default::default(),
        bytes,
    };
    let ids = file.column("id");
    assert_eq!(ids.len() as u64, INCIDENTS, "every incident, once");
    assert_eq!(
        distinct(ids, "incident id").len() as u64,
        INCIDENTS,
        "no incident twice across pages"
    );
    eprintln!(
        "exported {INCIDENTS} incidents ({} MB) in {:.1} s",
        file.bytes.len() / 1_000_000,
        took.as_secs_f64()
    );

    // Each row's description was sent, so each row's record has one access event.
    let db = app.db().await;
    let row = db
        .query_one(Statement::from_string(
            db.get_database_backend(),
            format!(
                "SELECT COUNT(*) AS n, COUNT(DISTINCT entity_id) AS records FROM access_event WHERE request_id = '{}'",
                request_id.replace('\'', "")
            ),
        ))
        .await
        .unwrap()
        .unwrap();
    let n: i64 = row.try_get("", "n").unwrap();
    let records: i64 = row.try_get("", "records").unwrap();
    assert_eq!(n as u64, INCIDENTS, "one access event per record");
    assert_eq!(records as u64, INCIDENTS);
    db.close().await.ok();
}

#[tokio::test]
async fn an_export_cut_off_part_way_has_sent_no_row_whose_read_was_not_logged() {
    const SEEDED: u64 = 50_000;
    let app = spawn_app().await;
    let db = candour::db::Db::connect(&app.settings)
        .await
        .expect("connect for seeding");
    candour::seed::run(
        &db,
        candour::seed::Options {
            incidents: SEEDED,
            seed: 3,
            timezone: app.settings.timezone.clone(),
        },
    )
    .await
    .expect("seed");
    db.conn.close().await.ok();
    let quinn = app.quality_lead("quinn");

    let mut resp = app
        .client
        .get(app.url("/export/incidents.csv"))
        .bearer_auth(&quinn)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let request_id = resp.headers()["x-request-id"].to_str().unwrap().to_string();
    let mut bytes = resp.chunk().await.unwrap().expect("a first page").to_vec();
    // Behind the API, once the first page is out: the access log can no longer be written.
    let conn = app.db().await;
    conn.execute_unprepared("ALTER TABLE access_event RENAME TO access_event_away")
        .await
        .unwrap();
    let ended = loop {
        match resp.chunk().await {
            Ok(Some(chunk)) => bytes.extend_from_slice(&chunk),
            Ok(None) => break Ok(()),
            Err(e) => break Err(e),
        }
    };
    assert!(
        ended.is_err(),
        "the transfer is cut off, not ended as if whole"
    );

    // The rows that arrived whole, and the reads logged for this request.
    let cut = bytes.windows(2).rposition(|w| w == b"\r\n").unwrap() + 2;
    let file = Exported {
        status: 200,
        headers: Default::default(),
        bytes: bytes[..cut].to_vec(),
    };
    let received = file.rows().len() as u64;
    let row = conn
        .query_one(Statement::from_string(
            conn.get_database_backend(),
            format!(
                "SELECT COUNT(*) AS n FROM access_event_away WHERE request_id = '{}'",
                request_id.replace('\'', "")
            ),
        ))
        .await
        .unwrap()
        .unwrap();
    let logged: i64 = row.try_get("", "n").unwrap();
    conn.close().await.ok();
    assert!(received > 0 && received < SEEDED, "{received} rows arrived");
    assert!(
        received <= logged as u64,
        "{received} rows arrived, only {logged} reads were logged"
    );
    assert!(
        (logged as u64) < SEEDED,
        "the export stopped at the failed write"
    );
}
