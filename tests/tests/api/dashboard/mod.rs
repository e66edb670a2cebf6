//! A quality lead reads the dashboard. Every figure must equal a recount of the records,
//! done here from the API's own lists with the test's own calendar arithmetic, whatever
//! the period, the interval or the split, before and after the server folds its deltas
//! into the rollups. Handlers see their departments only; nothing sensitive is shown or
//! logged.

mod audit_compliance;
mod freshness;
mod recount;
mod who_sees;

use std::collections::BTreeMap;
use std::time::Duration as StdDuration;

use candour_tests::*;
use chrono::{Datelike, Duration, NaiveDate};
use sea_orm::{ConnectionTrait, Statement};
use serde_json::{json, Value};

async fn dashboard(app: &TestApp, token: &str, filter: Value, selection: &str) -> Value {
    let resp = app
        .gql(
            Some(token),
            &format!("query($f: DashboardFilter) {{ dashboard(filter: $f) {{ {selection} }} }}"),
            json!({ "f": filter }),
        )
        .await;
    resp.assert_ok()["dashboard"].clone()
}

async fn pending_deltas(app: &TestApp) -> i64 {
    let db = app.db().await;
    let row = db
        .query_one(Statement::from_string(
            db.get_database_backend(),
            "SELECT COUNT(*) AS n FROM incident_rollup_delta",
        ))
        .await
        .unwrap()
        .unwrap();
    let n: i64 = row.try_get("", "n").unwrap();
    db.close().await.ok();
    n
}

async fn seed(app: &TestApp, incidents: u64) {
    let db = candour::db::Db::connect(&app.settings)
        .await
        .expect("connect for seeding");
    candour::seed::run(
        &db,
        candour::seed::Options {
            incidents,
            seed: 11,
            timezone: app.settings.timezone.clone(),
        },
    )
    .await
    .expect("seed");
    db.conn.close().await.ok();
}
