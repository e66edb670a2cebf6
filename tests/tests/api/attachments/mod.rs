//! Evidence files: uploaded on their own, their type decided by their content, photos
//! cleaned of EXIF, stored sealed in the database, attached by the mutations that report
//! or add to a record, opened only by those who may see the record (every opening in the
//! access log), held unseen until clamd has scanned them, refused when clamd finds the
//! EICAR test file, and disposed of with their record.

mod access;
mod records;
mod retention;
mod scanning;
mod uploads;

use candour_tests::attachments::*;
use candour_tests::*;
use sea_orm::{ConnectionTrait, Statement};
use serde_json::{json, Value};

/// A report in `department` by the holder of `token`, carrying the uploads `files`.
async fn report_with_files(app: &TestApp, token: &str, department: &str, files: &[&str]) -> Value {
    app.report_incident(
        token,
        with(
            incident_input(department),
            json!({ "attachmentIds": files }),
        ),
    )
    .await
}

fn id_of(v: &Value) -> String {
    v["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no id in {v}"))
        .to_string()
}

/// The number of rows in `table`, read from the database itself.
async fn rows_in(app: &TestApp, table: &str) -> i64 {
    let db = app.db().await;
    let row = db
        .query_one(Statement::from_string(
            db.get_database_backend(),
            format!("SELECT COUNT(*) AS n FROM {table}"),
        ))
        .await
        .expect("count")
        .expect("a row");
    row.try_get::<i64>("", "n").expect("n")
}

/// Every stored chunk's bytes, as the database holds them.
async fn stored_chunks(app: &TestApp) -> Vec<Vec<u8>> {
    let db = app.db().await;
    db.query_all(Statement::from_string(
        db.get_database_backend(),
        "SELECT sealed FROM attachment_chunk ORDER BY attachment_id, n".to_string(),
    ))
    .await
    .expect("chunks")
    .into_iter()
    .map(|r| r.try_get::<Vec<u8>>("", "sealed").expect("sealed"))
    .collect()
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// The files on an incident, as `token`'s holder sees them (which must be allowed).
async fn files_on(app: &TestApp, token: &str, incident: &str) -> Vec<Value> {
    app.incident_attachments(token, incident).await.assert_ok()["incident"]["attachments"]
        .as_array()
        .unwrap_or_else(|| panic!("attachments not visible"))
        .clone()
}
