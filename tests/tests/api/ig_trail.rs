//! The information-governance officer's trail and records: every change is sealed into a
//! SHA-256 hash chain that shows any edit, deletion or reordering made behind the API's back;
//! records past their retention date are listed, held or disposed of, leaving a tombstone.

use std::time::{Duration, Instant};

use candour_tests::*;
use sea_orm::{ConnectionTrait, Database};
use serde_json::{json, Value};

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

const INTEGRITY: &str = "{ auditTrailIntegrity {
    intact checkedEvents unsealedEvents headSeq headHash
    firstBrokenLink { seq eventId problem }
} }";

const TRAIL: &str = "query($first: Int, $after: String, $filter: AuditTrailFilter) {
  auditTrail(first: $first, after: $after, filter: $filter) {
    pageInfo { hasNextPage hasPreviousPage endCursor }
    edges { cursor node { id at action entityType actorLabel seq hash actor { id } } }
  }
}";

/// `auditTrailIntegrity` as this viewer: the whole response.
async fn try_integrity(app: &TestApp, token: &str) -> GqlResponse {
    app.gql(Some(token), INTEGRITY, json!({})).await
}

/// `auditTrailIntegrity`, which must be answered.
async fn integrity(app: &TestApp, ig: &str) -> Value {
    let resp = try_integrity(app, ig).await;
    resp.assert_ok();
    resp.data()["auditTrailIntegrity"].clone()
}

/// Waits (up to 10 s) until the sealer has given every committed event its place; returns
/// a fresh integrity report taken once nothing is left to seal (so no seal can land while
/// it is being taken).
async fn sealed(app: &TestApp, ig: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let report = integrity(app, ig).await;
        if report["unsealedEvents"] == 0 {
            return integrity(app, ig).await;
        }
        assert!(
            Instant::now() < deadline,
            "trail events were still unsealed after 10 s: {report}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// One page of `auditTrail`.
async fn trail_page(app: &TestApp, token: &str, variables: Value) -> GqlResponse {
    app.gql(Some(token), TRAIL, variables).await
}

/// Every trail event matching `filter`, newest first, paging 100 at a time.
async fn all_events(app: &TestApp, ig: &str, filter: Value) -> Vec<Value> {
    let mut out = Vec::new();
    let mut after = Value::Null;
    loop {
        let resp = trail_page(
            app,
            ig,
            json!({ "first": 100, "after": after, "filter": filter }),
        )
        .await;
        resp.assert_ok();
        let conn = &resp.data()["auditTrail"];
        for edge in conn["edges"].as_array().expect("edges") {
            out.push(edge["node"].clone());
        }
        if conn["pageInfo"]["hasNextPage"] != true {
            return out;
        }
        after = conn["pageInfo"]["endCursor"].clone();
    }
}

fn ids_of(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .map(|e| e["id"].as_str().expect("event id").to_string())
        .collect()
}

fn actions_of(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .map(|e| e["action"].as_str().expect("action").to_string())
        .collect()
}

/// The event sealed at `seq`.
#[track_caller]
fn at_seq(events: &[Value], seq: i64) -> &Value {
    events
        .iter()
        .find(|e| e["seq"] == seq)
        .unwrap_or_else(|| panic!("no event sealed at {seq}"))
}

/// Runs SQL straight against the server's database, behind the API's back, as someone with
/// database access would. Returns the rows affected.
async fn behind_the_api(app: &TestApp, sql: &str) -> u64 {
    let db = Database::connect(&app.database_url)
        .await
        .expect("connect to the test database");
    let done = db
        .execute_unprepared(sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    let _ = db.close().await;
    done.rows_affected()
}

/// The `uuid` behind a GraphQL id.
#[track_caller]
fn uuid_of(id: &Value) -> uuid::Uuid {
    let text = id.as_str().unwrap_or_else(|| panic!("not an id: {id}"));
    candour::graphql::ids::decode(text)
        .unwrap_or_else(|| panic!("not a Candour id: {text}"))
        .1
}

/// A stored row: each column read as text, `None` for NULL.
type Row = std::collections::BTreeMap<String, Option<String>>;

/// Reads the stored rows straight from the server's database, behind the API: `columns` (as
/// text) of every row of `table` whose `key` column holds the record behind `id`.
async fn stored_rows(
    app: &TestApp,
    table: &str,
    key: &str,
    id: &Value,
    columns: &[&str],
) -> Vec<Row> {
    use sea_orm::sea_query::{Alias, Expr, Query};
    let db = Database::connect(&app.database_url)
        .await
        .expect("connect to the test database");
    let mut select = Query::select();
    select
        .from(Alias::new(table))
        .and_where(Expr::col(Alias::new(key)).eq(uuid_of(id)));
    for c in columns {
        select.expr_as(Expr::cust(format!("CAST(\"{c}\" AS TEXT)")), Alias::new(*c));
    }
    let statement = db.get_database_backend().build(&select);
    let rows = db
        .query_all(statement)
        .await
        .unwrap_or_else(|e| panic!("reading {table}: {e}"));
    let _ = db.close().await;
    rows.iter()
        .map(|row| {
            columns
                .iter()
                .map(|c| {
                    let v = row
                        .try_get::<Option<String>>("", c)
                        .unwrap_or_else(|e| panic!("{table}.{c}: {e}"));
                    (c.to_string(), v)
                })
                .collect()
        })
        .collect()
}

/// The one stored row of `table` with this id.
async fn stored_row(app: &TestApp, table: &str, id: &Value, columns: &[&str]) -> Row {
    let mut rows = stored_rows(app, table, "id", id, columns).await;
    assert_eq!(rows.len(), 1, "{table} {id}: {rows:?}");
    rows.remove(0)
}

/// A column of a stored row.
#[track_caller]
fn col<'a>(row: &'a Row, name: &str) -> Option<&'a str> {
    row.get(name)
        .unwrap_or_else(|| panic!("no column {name} in {row:?}"))
        .as_deref()
}

/// Asserts that none of `columns` holds anything (NULL or empty), and that no column of
/// the row holds any of `words`.
#[track_caller]
fn assert_emptied(row: &Row, columns: &[&str], words: &[&str]) {
    for c in columns {
        assert!(
            col(row, c).is_none_or(str::is_empty),
            "{c} survived disposal: {row:?}"
        );
    }
    let text = format!("{row:?}").to_lowercase();
    for w in words {
        assert!(
            !text.contains(&w.to_lowercase()),
            "{w:?} survived disposal: {row:?}"
        );
    }
}

/// A hospital whose trail holds five sealed events: the two departments, a report, its
/// triage and a transition. Returns the hospital, the ig officer's token and every event
/// (newest first).
async fn five_sealed_events(app: &TestApp) -> (Hospital, String, Vec<Value>) {
    let h = app.hospital().await;
    let ig = app.ig_officer("iris");
    let incident = app
        .report_incident(&h.alice, incident_input(&h.cardiology))
        .await;
    let triaged = app
        .triage(&h.hana, &incident, json!({ "category": "Falls" }))
        .await;
    app.transition(&h.hana, &triaged, "INVESTIGATING").await;

    let report = sealed(app, &ig).await;
    assert_eq!(report["intact"], true, "{report}");
    assert_eq!(report["checkedEvents"], 5, "{report}");
    let events = all_events(app, &ig, json!({})).await;
    assert_eq!(events.len(), 5, "{events:?}");
    (h, ig, events)
}

#[track_caller]
fn assert_broken_at(report: &Value, seq: i64) -> &Value {
    assert_eq!(
        report["intact"], false,
        "tampering went unnoticed: {report}"
    );
    let link = &report["firstBrokenLink"];
    assert!(link.is_object(), "no broken link named: {report}");
    assert_eq!(link["seq"], seq, "wrong place named: {report}");
    assert!(
        link["problem"]
            .as_str()
            .is_some_and(|p| !p.trim().is_empty()),
        "the problem is described: {report}"
    );
    link
}

// ---------------------------------------------------------------------------------------------
// The hash chain
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn every_change_is_sealed_into_an_intact_chain_soon_after_it_commits() {
    let app = spawn_app().await;
    let (_h, ig, events) = five_sealed_events(&app).await;

    let report = integrity(&app, &ig).await;
    assert_eq!(report["intact"], true, "{report}");
    assert!(report["firstBrokenLink"].is_null(), "{report}");
    assert_eq!(report["checkedEvents"], 5, "{report}");
    assert_eq!(report["unsealedEvents"], 0, "{report}");
    assert_eq!(report["headSeq"], 5, "{report}");

    // Newest first, at places 5..1, each with its own SHA-256 hash; the head is the last.
    let seqs: Vec<i64> = events.iter().map(|e| e["seq"].as_i64().unwrap()).collect();
    assert_eq!(seqs, vec![5, 4, 3, 2, 1], "{events:?}");
    let mut hashes = Vec::new();
    for e in &events {
        let hash = e["hash"].as_str().unwrap_or_else(|| panic!("no hash: {e}"));
        assert!(
            hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_hexdigit()),
            "a SHA-256 hash in hex: {e}"
        );
        hashes.push(hash.to_string());
    }
    hashes.sort();
    hashes.dedup();
    assert_eq!(hashes.len(), 5, "every event has its own hash: {events:?}");
    assert_eq!(report["headHash"], at_seq(&events, 5)["hash"], "{report}");
    assert_eq!(
        actions_of(&events),
        vec![
            "incident.transitioned",
            "incident.triaged",
            "incident.reported",
            "department.created",
            "department.created",
        ]
    );
}

#[tokio::test]
async fn editing_what_an_event_says_was_done_is_detected_at_its_place() {
    let app = spawn_app().await;
    let (_h, ig, events) = five_sealed_events(&app).await;
    let reported = at_seq(&events, 3);
    assert_eq!(reported["action"], "incident.reported");

    let n = behind_the_api(
        &app,
        "UPDATE trail_event SET action = 'incident.viewed' WHERE seq = 3",
    )
    .await;
    assert_eq!(n, 1);

    let report = integrity(&app, &ig).await;
    let link = assert_broken_at(&report, 3);
    assert_eq!(link["eventId"], reported["id"], "{report}");
    assert_eq!(
        report["checkedEvents"], 2,
        "the events before it hold: {report}"
    );
}

#[tokio::test]
async fn editing_the_changes_an_event_records_is_detected_at_its_place() {
    let app = spawn_app().await;
    let (_h, ig, events) = five_sealed_events(&app).await;
    let triaged = at_seq(&events, 4);
    assert_eq!(triaged["action"], "incident.triaged");

    let n = behind_the_api(&app, "UPDATE trail_event SET changes = '[]' WHERE seq = 4").await;
    assert_eq!(n, 1);

    let report = integrity(&app, &ig).await;
    let link = assert_broken_at(&report, 4);
    assert_eq!(link["eventId"], triaged["id"], "{report}");
    assert_eq!(report["checkedEvents"], 3, "{report}");
}

#[tokio::test]
async fn deleting_a_trail_event_is_detected_at_its_place() {
    let app = spawn_app().await;
    let (_h, ig, _events) = five_sealed_events(&app).await;

    let n = behind_the_api(&app, "DELETE FROM trail_event WHERE seq = 3").await;
    assert_eq!(n, 1);

    let report = integrity(&app, &ig).await;
    assert_broken_at(&report, 3);
    assert_eq!(report["checkedEvents"], 2, "{report}");
    // The trail no longer has anything at place 3.
    let left = all_events(&app, &ig, json!({})).await;
    assert_eq!(left.len(), 4);
}

#[tokio::test]
async fn swapping_two_events_places_is_detected_at_the_earlier_place() {
    let app = spawn_app().await;
    let (_h, ig, events) = five_sealed_events(&app).await;

    // A temporary place dodges the unique index on seq.
    assert_eq!(
        behind_the_api(&app, "UPDATE trail_event SET seq = -1 WHERE seq = 2").await,
        1
    );
    assert_eq!(
        behind_the_api(&app, "UPDATE trail_event SET seq = 2 WHERE seq = 4").await,
        1
    );
    assert_eq!(
        behind_the_api(&app, "UPDATE trail_event SET seq = 4 WHERE seq = -1").await,
        1
    );

    let report = integrity(&app, &ig).await;
    let link = assert_broken_at(&report, 2);
    // What now sits at place 2 is the event that was sealed at 4.
    assert_eq!(link["eventId"], at_seq(&events, 4)["id"], "{report}");
    assert_eq!(report["checkedEvents"], 1, "{report}");
}

#[tokio::test]
async fn deleting_the_latest_event_is_detected_because_the_head_names_it() {
    let app = spawn_app().await;
    let (_h, ig, _events) = five_sealed_events(&app).await;

    let n = behind_the_api(&app, "DELETE FROM trail_event WHERE seq = 5").await;
    assert_eq!(n, 1);

    let report = integrity(&app, &ig).await;
    assert_eq!(
        report["intact"], false,
        "a missing tail went unnoticed: {report}"
    );
    assert_eq!(report["headSeq"], 5, "{report}");
    assert_eq!(report["checkedEvents"], 4, "{report}");
    let link = assert_broken_at(&report, 5);
    assert!(
        link["eventId"].is_null(),
        "nothing is left at place 5: {report}"
    );
}

#[tokio::test]
async fn editing_the_head_is_detected() {
    let app = spawn_app().await;
    let (_h, ig, events) = five_sealed_events(&app).await;
    let forged = "f".repeat(64);
    assert_ne!(at_seq(&events, 5)["hash"], forged.as_str());

    let n = behind_the_api(
        &app,
        &format!("UPDATE trail_head SET hash = '{forged}' WHERE id = 1"),
    )
    .await;
    assert_eq!(n, 1);

    let report = integrity(&app, &ig).await;
    assert_eq!(
        report["intact"], false,
        "a forged head went unnoticed: {report}"
    );
    assert_eq!(report["headHash"], forged.as_str(), "{report}");
    let link = &report["firstBrokenLink"];
    assert!(link.is_object(), "{report}");
    assert!(
        link["problem"]
            .as_str()
            .is_some_and(|p| p.to_lowercase().contains("head")),
        "the problem names the head: {report}"
    );
    assert_eq!(
        report["checkedEvents"], 5,
        "the events themselves hold: {report}"
    );
}

#[tokio::test]
async fn forty_reports_at_once_are_sealed_into_one_unbroken_chain() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let ig = app.ig_officer("iris");
    let setup = sealed(&app, &ig).await["checkedEvents"].as_i64().unwrap();
    assert_eq!(setup, 2, "two departments created");

    let reporters = [
        h.alice.clone(),
        h.bob.clone(),
        app.staff("carol"),
        app.staff("dev"),
        app.staff("eve"),
    ];
    let reports = (0..40).map(|i| {
        let token = reporters[i % reporters.len()].clone();
        let input = with(
            incident_input(&h.cardiology),
            json!({ "title": format!("Concurrent report {i}") }),
        );
        let app = &app;
        async move { app.try_report_incident(&token, input).await }
    });
    let answers = futures_util::future::join_all(reports).await;
    for resp in &answers {
        resp.assert_ok();
    }

    let report = sealed(&app, &ig).await;
    assert_eq!(report["intact"], true, "{report}");
    assert_eq!(report["checkedEvents"], 40 + setup, "{report}");
    assert_eq!(report["headSeq"], 40 + setup, "{report}");

    let events = all_events(&app, &ig, json!({})).await;
    assert_eq!(events.len() as i64, 40 + setup);
    let mut seqs: Vec<i64> = events
        .iter()
        .map(|e| e["seq"].as_i64().unwrap_or_else(|| panic!("unsealed: {e}")))
        .collect();
    seqs.sort();
    assert_eq!(
        seqs,
        (1..=40 + setup).collect::<Vec<_>>(),
        "places 1..N, no gaps, no repeats"
    );
    let reported = all_events(&app, &ig, json!({ "action": "incident.reported" })).await;
    assert_eq!(reported.len(), 40);
}

/// Every trail event's place as stored (`None` while unsealed), straight from the database.
async fn stored_places(app: &TestApp) -> Vec<Option<i64>> {
    let db = Database::connect(&app.database_url)
        .await
        .expect("connect to the test database");
    let rows = db
        .query_all(sea_orm::Statement::from_string(
            db.get_database_backend(),
            "SELECT seq FROM trail_event ORDER BY seq",
        ))
        .await
        .expect("read the trail's places");
    let _ = db.close().await;
    rows.iter()
        .map(|r| r.try_get::<Option<i64>>("", "seq").expect("seq"))
        .collect()
}

#[tokio::test]
async fn two_instances_taking_reports_at_once_seal_each_event_exactly_once_into_one_chain() {
    let app = spawn_app().await;
    let other = app.another_instance(|_| {}).await;
    let h = app.hospital().await;
    let ig = app.ig_officer("iris");
    let setup = sealed(&app, &ig).await["checkedEvents"].as_i64().unwrap();
    assert_eq!(setup, 2, "two departments created");

    // Both instances write and both run a sealer: each event must get one place, whichever
    // sealer finds it first.
    let reporters = [h.alice.clone(), h.bob.clone(), app.staff("carol")];
    let reports = (0..30).map(|i| {
        let instance = if i % 2 == 0 { &app } else { &other };
        let token = reporters[i % reporters.len()].clone();
        let input = with(
            incident_input(&h.cardiology),
            json!({ "title": format!("Report {i} through instance {}", i % 2) }),
        );
        async move { instance.try_report_incident(&token, input).await }
    });
    let answers = futures_util::future::join_all(reports).await;
    for resp in &answers {
        resp.assert_ok();
    }
    let written = 30 + setup;

    // Each instance vouches for the same intact chain.
    let here = sealed(&app, &ig).await;
    let there = sealed(&other, &ig).await;
    for report in [&here, &there] {
        assert_eq!(report["intact"], true, "{report}");
        assert_eq!(report["checkedEvents"], written, "{report}");
        assert_eq!(report["headSeq"], written, "{report}");
        assert_eq!(report["unsealedEvents"], 0, "{report}");
    }
    assert_eq!(here["headHash"], there["headHash"]);

    // Places 1..N as stored: every event sealed, none twice, no gaps.
    let places = stored_places(&app).await;
    assert_eq!(
        places,
        (1..=written).map(Some).collect::<Vec<_>>(),
        "one place per event, consecutive from 1"
    );
    let events = all_events(&other, &ig, json!({})).await;
    assert_eq!(events.len() as i64, written);
    let mut ids = ids_of(&events);
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len() as i64, written, "each event listed once");
    let reported = all_events(&app, &ig, json!({ "action": "incident.reported" })).await;
    assert_eq!(reported.len(), 30);
}

#[tokio::test]
async fn checking_the_trail_while_changes_are_being_sealed_raises_no_false_alarm() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let ig = app.ig_officer("iris");
    sealed(&app, &ig).await;

    let done = std::sync::atomic::AtomicBool::new(false);
    let writers = async {
        for i in 0..30 {
            let input = with(
                incident_input(&h.cardiology),
                json!({ "title": format!("Report {i} while the trail is checked") }),
            );
            app.try_report_incident(&h.alice, input).await.assert_ok();
        }
        done.store(true, std::sync::atomic::Ordering::SeqCst);
    };
    let checker = async {
        let mut alarms = Vec::new();
        let mut checks = 0;
        while !done.load(std::sync::atomic::Ordering::SeqCst) {
            let report = integrity(&app, &ig).await;
            checks += 1;
            if report["intact"] != true {
                alarms.push(report);
            }
        }
        (checks, alarms)
    };
    let ((), (checks, alarms)) = tokio::join!(writers, checker);

    assert!(checks > 0);
    assert!(
        alarms.is_empty(),
        "nobody tampered with the trail, yet {} of {checks} checks made while events were \
         being sealed reported it broken, e.g. {}",
        alarms.len(),
        alarms[0]
    );
    let report = sealed(&app, &ig).await;
    assert_eq!(report["intact"], true, "{report}");
    assert_eq!(report["checkedEvents"], 32, "{report}");
}

#[tokio::test]
async fn only_an_ig_officer_may_check_or_read_the_trail() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    app.report_incident(&h.alice, incident_input(&h.cardiology))
        .await;

    for (who, token) in [
        ("staff", &h.alice),
        ("handler", &h.hana),
        ("quality lead", &h.quinn),
        ("admin", &h.ada),
    ] {
        let resp = try_integrity(&app, token).await;
        assert_eq!(resp.status, 200, "{who}: {resp}");
        resp.assert_error("FORBIDDEN", None);
        assert!(
            resp.data().is_null() || resp.data()["auditTrailIntegrity"].is_null(),
            "{who} learnt nothing: {resp}"
        );

        let resp = trail_page(&app, token, json!({ "first": 10 })).await;
        resp.assert_error("FORBIDDEN", None);
        assert!(
            resp.data().is_null() || resp.data()["auditTrail"].is_null(),
            "{who} read no events: {resp}"
        );
    }
    let service = app.service(&["incidents:read", "incidents:write", "incidents:manage"]);
    try_integrity(&app, &service)
        .await
        .assert_error("FORBIDDEN", None);

    // The officer is answered.
    let ig = app.ig_officer("iris");
    assert_eq!(sealed(&app, &ig).await["intact"], true);
    assert_eq!(all_events(&app, &ig, json!({})).await.len(), 3);
}

// ---------------------------------------------------------------------------------------------
// Reading the trail
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn the_audit_trail_lists_every_change_newest_first_and_filters_it() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let ig = app.ig_officer("iris");
    let a = app
        .report_incident(&h.alice, incident_input(&h.cardiology))
        .await;
    let b = app
        .report_incident(&h.bob, incident_input(&h.cardiology))
        .await;
    let triaged = app
        .triage(&h.hana, &a, json!({ "category": "Falls" }))
        .await;
    app.transition(&h.hana, &triaged, "INVESTIGATING").await;
    sealed(&app, &ig).await;

    let everything = all_events(&app, &ig, json!({})).await;
    assert_eq!(
        actions_of(&everything),
        vec![
            "incident.transitioned",
            "incident.triaged",
            "incident.reported",
            "incident.reported",
            "department.created",
            "department.created",
        ],
        "newest first"
    );
    let times: Vec<_> = everything.iter().map(|e| parse_time(&e["at"])).collect();
    assert!(times.windows(2).all(|w| w[0] >= w[1]), "{times:?}");
    let seqs: Vec<_> = everything.iter().map(|e| e["seq"].clone()).collect();
    assert_eq!(
        seqs,
        vec![json!(6), json!(5), json!(4), json!(3), json!(2), json!(1)]
    );

    // One record's changes.
    let of_a = all_events(&app, &ig, json!({ "recordId": a["id"] })).await;
    assert_eq!(
        actions_of(&of_a),
        vec![
            "incident.transitioned",
            "incident.triaged",
            "incident.reported"
        ]
    );
    assert!(of_a.iter().all(|e| e["entityType"] == "Incident"));
    let of_b = all_events(&app, &ig, json!({ "recordId": b["id"] })).await;
    assert_eq!(actions_of(&of_b), vec!["incident.reported"]);
    let of_cardiology = all_events(&app, &ig, json!({ "recordId": h.cardiology })).await;
    assert_eq!(actions_of(&of_cardiology), vec!["department.created"]);

    // One type of record.
    let departments = all_events(&app, &ig, json!({ "recordType": "Department" })).await;
    assert_eq!(departments.len(), 2);
    assert!(departments.iter().all(|e| e["entityType"] == "Department"));
    let incidents = all_events(&app, &ig, json!({ "recordType": "Incident" })).await;
    assert_eq!(incidents.len(), 4);

    // One person's changes.
    let hana = app.staff_id(&h.hana).await;
    let by_hana = all_events(&app, &ig, json!({ "actorId": hana })).await;
    assert_eq!(
        actions_of(&by_hana),
        vec!["incident.transitioned", "incident.triaged"]
    );
    assert!(by_hana.iter().all(|e| e["actor"]["id"] == hana.as_str()));
    assert!(by_hana.iter().all(|e| e["actorLabel"] == "hana"));

    // One action.
    let reported = all_events(&app, &ig, json!({ "action": "incident.reported" })).await;
    assert_eq!(reported.len(), 2);
    assert_eq!(
        ids_of(&reported),
        ids_of(&everything[2..4]),
        "the two reports, newest first"
    );

    // All given filters must match.
    let both = all_events(
        &app,
        &ig,
        json!({ "recordId": a["id"], "action": "incident.reported" }),
    )
    .await;
    assert_eq!(ids_of(&both), ids_of(&everything[3..4]));
    let none = all_events(&app, &ig, json!({ "recordId": b["id"], "actorId": hana })).await;
    assert!(none.is_empty(), "{none:?}");

    // A window in time: after is inclusive, before exclusive.
    let t = everything[2]["at"].clone();
    let from_t = all_events(&app, &ig, json!({ "after": t })).await;
    let expected_from: Vec<String> = everything
        .iter()
        .filter(|e| parse_time(&e["at"]) >= parse_time(&t))
        .map(|e| e["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids_of(&from_t), expected_from);
    assert!(from_t.len() >= 3, "{from_t:?}");
    let before_t = all_events(&app, &ig, json!({ "before": t })).await;
    let expected_before: Vec<String> = everything
        .iter()
        .filter(|e| parse_time(&e["at"]) < parse_time(&t))
        .map(|e| e["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids_of(&before_t), expected_before);
    assert_eq!(from_t.len() + before_t.len(), everything.len());
}

#[tokio::test]
async fn the_audit_trail_pages_with_cursors() {
    let app = spawn_app().await;
    let (_h, ig, everything) = five_sealed_events(&app).await;

    let mut seen = Vec::new();
    let mut after = Value::Null;
    let mut pages = 0;
    loop {
        let resp = trail_page(&app, &ig, json!({ "first": 2, "after": after })).await;
        resp.assert_ok();
        let conn = &resp.data()["auditTrail"];
        let edges = conn["edges"].as_array().unwrap();
        assert!(edges.len() <= 2, "{resp}");
        assert_eq!(
            conn["pageInfo"]["hasPreviousPage"],
            pages > 0,
            "page {pages}: {resp}"
        );
        for e in edges {
            seen.push(e["node"].clone());
        }
        pages += 1;
        if conn["pageInfo"]["hasNextPage"] != true {
            break;
        }
        assert_eq!(
            conn["pageInfo"]["endCursor"],
            edges.last().unwrap()["cursor"]
        );
        after = conn["pageInfo"]["endCursor"].clone();
        assert!(pages < 10, "paging does not end");
    }
    assert_eq!(pages, 3, "five events in pages of two");
    assert_eq!(ids_of(&seen), ids_of(&everything));

    let resp = trail_page(&app, &ig, json!({ "first": 2, "after": "not-a-cursor" })).await;
    resp.assert_error("BAD_USER_INPUT", None);
}

// ---------------------------------------------------------------------------------------------
// Retention, legal holds and disposal
// ---------------------------------------------------------------------------------------------

/// Retention ends the moment a record ends, except for serious incidents (20 years).
async fn spawn_with_zero_year_retention() -> TestApp {
    spawn_app_with(|s| {
        s.retention.incident_years = 0;
        s.retention.audit_years = 0;
        s.retention.improvement_project_years = 0;
        s.retention.serious_incident_years = 20;
    })
    .await
}

const RETENTION_DUE: &str = "query($first: Int, $after: String, $filter: RetentionFilter) {
  retentionDue(first: $first, after: $after, filter: $filter) {
    pageInfo { hasNextPage endCursor }
    edges { cursor node { recordType recordId label endedAt retentionUntil legalHold } }
  }
}";

async fn try_retention_due(app: &TestApp, token: &str, variables: Value) -> GqlResponse {
    app.gql(Some(token), RETENTION_DUE, variables).await
}

/// Every record due, in the order listed (first page of 100).
async fn retention_due(app: &TestApp, ig: &str, filter: Value) -> Vec<Value> {
    let resp = try_retention_due(app, ig, json!({ "first": 100, "filter": filter })).await;
    resp.assert_ok();
    resp.data()["retentionDue"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"].clone())
        .collect()
}

fn record_ids(due: &[Value]) -> Vec<String> {
    let mut ids: Vec<String> = due
        .iter()
        .map(|d| d["recordId"].as_str().unwrap().to_string())
        .collect();
    ids.sort();
    ids
}

fn sorted(ids: &[&Value]) -> Vec<String> {
    let mut ids: Vec<String> = ids
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    ids.sort();
    ids
}

/// The incident as the retention story reads it, sensitive fields included.
async fn record(app: &TestApp, token: &str, id: &Value) -> Value {
    let resp = app
        .gql(
            Some(token),
            "query($id: ID!) { incident(id: $id) {
               id reference title description status closedAt retentionUntil disposedAt
               patient { nhsNumber name dateOfBirth }
               comments { id body }
             } }",
            json!({ "id": id }),
        )
        .await;
    resp.assert_ok();
    let incident = resp.data()["incident"].clone();
    assert!(incident.is_object(), "incident {id} not returned: {resp}");
    incident
}

/// Report a serious (SEVERE harm) incident and close it, duty of candour and all.
async fn close_serious(app: &TestApp, h: &Hospital) -> Value {
    let incident = app
        .report_incident(
            &h.alice,
            with(
                incident_input(&h.cardiology),
                json!({ "physicalHarm": "SEVERE" }),
            ),
        )
        .await;
    let mut current = app
        .triage(
            &h.quinn,
            &incident,
            json!({
                "feedbackToReporter": "Thank you: the trolley rails are now checked at handover.",
                "learningResponse": "AFTER_ACTION_REVIEW",
                "learningSummary": "Two-person check before moving patients.",
            }),
        )
        .await;
    for step in [
        "VERBAL_NOTIFICATION",
        "WRITTEN_NOTIFICATION",
        "UPDATE",
        "FINAL_LETTER",
    ] {
        current = app.record_candour_step(&h.quinn, &current, step).await;
    }
    let closed = app.transition(&h.quinn, &current, "CLOSED").await;
    assert_eq!(closed["status"], "CLOSED", "{closed}");
    closed
}

async fn low_harm(app: &TestApp, h: &Hospital) -> Value {
    app.report_incident(
        &h.alice,
        with(
            incident_input(&h.cardiology),
            json!({ "physicalHarm": "NONE" }),
        ),
    )
    .await
}

async fn try_place_hold(
    app: &TestApp,
    token: &str,
    record_id: &Value,
    reason: &str,
) -> GqlResponse {
    app.gql(
        Some(token),
        "mutation($input: PlaceLegalHoldInput!) { placeLegalHold(input: $input) { legalHold {
           id recordType recordId reason placedBy placedAt releasedAt releasedBy releaseReason active
         } } }",
        json!({ "input": { "recordId": record_id, "reason": reason } }),
    )
    .await
}

async fn place_hold(app: &TestApp, ig: &str, record_id: &Value, reason: &str) -> Value {
    let resp = try_place_hold(app, ig, record_id, reason).await;
    resp.assert_ok();
    resp.data()["placeLegalHold"]["legalHold"].clone()
}

async fn try_release_hold(
    app: &TestApp,
    token: &str,
    hold_id: &Value,
    reason: &str,
) -> GqlResponse {
    app.gql(
        Some(token),
        "mutation($input: ReleaseLegalHoldInput!) { releaseLegalHold(input: $input) { legalHold {
           id recordId releasedAt releasedBy releaseReason active
         } } }",
        json!({ "input": { "legalHoldId": hold_id, "reason": reason } }),
    )
    .await
}

async fn active_holds(app: &TestApp, ig: &str) -> Vec<Value> {
    let resp = app
        .gql(
            Some(ig),
            "{ legalHolds(activeOnly: true) { edges { node { id recordId active reason } } } }",
            json!({}),
        )
        .await;
    resp.assert_ok();
    resp.data()["legalHolds"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"].clone())
        .collect()
}

/// The incidents a subject-access report finds for NHS number 943 476 5919.
async fn patient_records(app: &TestApp, ig: &str) -> Vec<Value> {
    let resp = app
        .gql(
            Some(ig),
            "{ subjectAccessReport(nhsNumber: \"9434765919\") { incidents { id } } }",
            json!({}),
        )
        .await;
    resp.assert_ok();
    resp.data()["subjectAccessReport"]["incidents"]
        .as_array()
        .unwrap_or_else(|| panic!("no incidents list: {resp}"))
        .clone()
}

const DISPOSE: &str =
    "mutation { disposeDueRecords { incidents audits improvementProjects held } }";

async fn dispose(app: &TestApp, ig: &str) -> Value {
    let resp = app.gql(Some(ig), DISPOSE, json!({})).await;
    resp.assert_ok();
    resp.data()["disposeDueRecords"].clone()
}

#[tokio::test]
async fn closed_and_declined_incidents_fall_due_when_their_retention_ends() {
    let app = spawn_with_zero_year_retention().await;
    let h = app.hospital().await;
    let ig = app.ig_officer("iris");

    let closed = app
        .close_low_harm(&h.quinn, &low_harm(&app, &h).await)
        .await;
    let declined = app
        .transition_because(
            &h.hana,
            &low_harm(&app, &h).await,
            "DECLINED",
            "Not an incident: planned procedure",
        )
        .await;
    let open = low_harm(&app, &h).await;

    let due = retention_due(&app, &ig, json!({})).await;
    assert_eq!(
        record_ids(&due),
        sorted(&[&closed["id"], &declined["id"]]),
        "the closed and the declined incident, not the open one: {due:?}"
    );
    for d in &due {
        assert_eq!(d["recordType"], "INCIDENT", "{d}");
        assert_eq!(d["legalHold"], false, "{d}");
        assert_eq!(
            parse_time(&d["retentionUntil"]),
            parse_time(&d["endedAt"]),
            "zero years: due the moment it ended: {d}"
        );
    }
    let closed_due = due.iter().find(|d| d["recordId"] == closed["id"]).unwrap();
    assert_eq!(closed_due["label"], closed["reference"]);
    assert_eq!(
        parse_time(&closed_due["endedAt"]),
        parse_time(&closed["closedAt"])
    );
    let declined_due = due
        .iter()
        .find(|d| d["recordId"] == declined["id"])
        .unwrap();
    assert_eq!(declined_due["label"], declined["reference"]);

    // Filtered by type: no audits or projects have ended.
    assert_eq!(
        retention_due(&app, &ig, json!({ "recordType": "INCIDENT" }))
            .await
            .len(),
        2
    );
    assert!(retention_due(&app, &ig, json!({ "recordType": "AUDIT" }))
        .await
        .is_empty());
    assert!(
        retention_due(&app, &ig, json!({ "recordType": "IMPROVEMENT_PROJECT" }))
            .await
            .is_empty()
    );

    // One at a time, with a cursor.
    let first = try_retention_due(&app, &ig, json!({ "first": 1 })).await;
    first.assert_ok();
    let page = &first.data()["retentionDue"];
    assert_eq!(page["edges"].as_array().unwrap().len(), 1, "{first}");
    assert_eq!(page["pageInfo"]["hasNextPage"], true, "{first}");
    let second = try_retention_due(
        &app,
        &ig,
        json!({ "first": 1, "after": page["pageInfo"]["endCursor"] }),
    )
    .await;
    second.assert_ok();
    let page2 = &second.data()["retentionDue"];
    assert_eq!(page2["edges"].as_array().unwrap().len(), 1, "{second}");
    assert_eq!(page2["pageInfo"]["hasNextPage"], false, "{second}");
    assert_ne!(
        page["edges"][0]["node"]["recordId"],
        page2["edges"][0]["node"]["recordId"]
    );

    // The open incident is not listed: it has no retention date yet.
    let open_now = record(&app, &h.quinn, &open["id"]).await;
    assert!(open_now["retentionUntil"].is_null(), "{open_now}");
}

/// Every record due, page by page of `first`, in the order listed.
async fn retention_due_paged(app: &TestApp, ig: &str, first: usize) -> Vec<String> {
    let mut ids = Vec::new();
    let mut after = Value::Null;
    loop {
        let resp = try_retention_due(app, ig, json!({ "first": first, "after": after })).await;
        resp.assert_ok();
        let page = &resp.data()["retentionDue"];
        let edges = page["edges"].as_array().unwrap();
        assert!(edges.len() <= first, "{resp}");
        ids.extend(
            edges
                .iter()
                .map(|e| e["node"]["recordId"].as_str().unwrap().to_string()),
        );
        if page["pageInfo"]["hasNextPage"] != true {
            return ids;
        }
        assert_eq!(edges.len(), first, "a short page with more to come: {resp}");
        after = page["pageInfo"]["endCursor"].clone();
        assert!(ids.len() <= 20, "paging does not end: {ids:?}");
    }
}

#[tokio::test]
async fn retention_due_lists_the_oldest_retention_end_first_then_by_id_on_every_page() {
    let app = spawn_with_zero_year_retention().await;
    let h = app.hospital().await;
    let ig = app.ig_officer("iris");

    // Made in this order; their retention ends in another, neither the order they were
    // made in nor the order they ended in: a serious incident is kept twenty years.
    let closed_early = app
        .close_low_harm(&h.quinn, &low_harm(&app, &h).await)
        .await;
    let declined = app
        .transition_because(
            &h.hana,
            &low_harm(&app, &h).await,
            "DECLINED",
            "Not an incident: planned procedure",
        )
        .await;
    let closed_late = app
        .close_low_harm(&h.quinn, &low_harm(&app, &h).await)
        .await;
    let declined_tie = app
        .transition_because(
            &h.hana,
            &low_harm(&app, &h).await,
            "DECLINED",
            "Duplicate of a report made by phone",
        )
        .await;
    let serious = close_serious(&app, &h).await;
    let audit = closed_audit(&app, &h, "Consent audit 2019").await;

    let tie = years_ago(2, 0);
    stored_time(
        &app,
        "incident",
        "updated_at",
        &declined["id"],
        years_ago(3, 0),
    )
    .await;
    stored_time(
        &app,
        "incident",
        "closed_at",
        &serious["id"],
        years_ago(22, 10),
    )
    .await;
    stored_time(&app, "incident", "closed_at", &closed_early["id"], tie).await;
    // The same end, through another column: ties go by id, the earlier record first.
    stored_time(&app, "incident", "updated_at", &declined_tie["id"], tie).await;
    stored_time(
        &app,
        "incident",
        "closed_at",
        &closed_late["id"],
        years_ago(1, 0),
    )
    .await;
    // Audits come after incidents, however long ago their retention ended.
    ended_at(&app, "audit", &audit["id"], years_ago(6, 0)).await;

    let expected: Vec<String> = [
        &declined,
        &serious,
        &closed_early,
        &declined_tie,
        &closed_late,
        &audit,
    ]
    .iter()
    .map(|r| r["id"].as_str().unwrap().to_string())
    .collect();

    let due = retention_due(&app, &ig, json!({})).await;
    let listed: Vec<String> = due
        .iter()
        .map(|d| d["recordId"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(listed, expected, "{due:#?}");
    let incidents: Vec<_> = due
        .iter()
        .filter(|d| d["recordType"] == "INCIDENT")
        .collect();
    for pair in incidents.windows(2) {
        assert!(
            parse_time(&pair[0]["retentionUntil"]) <= parse_time(&pair[1]["retentionUntil"]),
            "{pair:#?}"
        );
    }
    assert_eq!(
        parse_time(&incidents[2]["retentionUntil"]),
        parse_time(&incidents[3]["retentionUntil"]),
        "the tie: {due:#?}"
    );

    // Page by page, in the same order, nothing lost or repeated, whatever the page size.
    for first in [1, 2, 4, 5] {
        assert_eq!(
            retention_due_paged(&app, &ig, first).await,
            expected,
            "pages of {first}"
        );
    }
    // Filtered to incidents, the same order.
    assert_eq!(
        retention_due(&app, &ig, json!({ "recordType": "INCIDENT" }))
            .await
            .iter()
            .map(|d| d["recordId"].as_str().unwrap().to_string())
            .collect::<Vec<_>>(),
        expected[..5]
    );
}

#[tokio::test]
async fn a_serious_incident_is_neither_due_nor_disposed_within_its_twenty_years() {
    let app = spawn_with_zero_year_retention().await;
    let h = app.hospital().await;
    let ig = app.ig_officer("iris");
    let serious = close_serious(&app, &h).await;

    let now = record(&app, &h.quinn, &serious["id"]).await;
    assert_eq!(
        parse_time(&now["retentionUntil"]),
        parse_time(&now["closedAt"])
            .checked_add_months(chrono::Months::new(20 * 12))
            .unwrap(),
        "a serious incident is kept 20 years: {now}"
    );

    assert_eq!(
        dispose(&app, &ig).await,
        json!({ "incidents": 0, "audits": 0, "improvementProjects": 0, "held": 0 })
    );
    let after = record(&app, &h.quinn, &serious["id"]).await;
    assert!(after["disposedAt"].is_null(), "{after}");
    assert!(after["description"].is_string(), "{after}");

    let due = retention_due(&app, &ig, json!({})).await;
    assert!(
        due.is_empty(),
        "a serious incident closed today is not due for review for 20 years: {due:?}"
    );
}

#[tokio::test]
async fn retention_is_counted_from_closure_for_the_configured_years() {
    let app = spawn_app_with(|s| {
        s.retention.incident_years = 3;
        s.retention.serious_incident_years = 20;
    })
    .await;
    let h = app.hospital().await;
    let ig = app.ig_officer("iris");
    let open = low_harm(&app, &h).await;
    let before = record(&app, &h.quinn, &open["id"]).await;
    assert!(before["retentionUntil"].is_null(), "open: {before}");

    let closed = app.close_low_harm(&h.quinn, &open).await;
    let now = record(&app, &h.quinn, &closed["id"]).await;
    assert_eq!(
        parse_time(&now["retentionUntil"]),
        parse_time(&now["closedAt"])
            .checked_add_months(chrono::Months::new(36))
            .unwrap(),
        "{now}"
    );
    assert!(
        retention_due(&app, &ig, json!({})).await.is_empty(),
        "not due for three years"
    );

    let zero = spawn_with_zero_year_retention().await;
    let h = zero.hospital().await;
    let closed = zero
        .close_low_harm(&h.quinn, &low_harm(&zero, &h).await)
        .await;
    let now = record(&zero, &h.quinn, &closed["id"]).await;
    assert_eq!(
        parse_time(&now["retentionUntil"]),
        parse_time(&now["closedAt"]),
        "zero years: {now}"
    );
}

#[tokio::test]
async fn a_legal_hold_is_placed_once_with_a_reason_and_listed() {
    let app = spawn_with_zero_year_retention().await;
    let h = app.hospital().await;
    let ig = app.ig_officer("iris");
    let closed = app
        .close_low_harm(&h.quinn, &low_harm(&app, &h).await)
        .await;

    let blank = try_place_hold(&app, &ig, &closed["id"], "   ").await;
    blank.assert_error("BAD_USER_INPUT", Some("reason"));
    assert!(active_holds(&app, &ig).await.is_empty());

    let hold = place_hold(&app, &ig, &closed["id"], "Coroner's inquest pending").await;
    assert_eq!(hold["active"], true, "{hold}");
    assert_eq!(hold["recordId"], closed["id"], "{hold}");
    assert_eq!(hold["recordType"], "Incident", "{hold}");
    assert_eq!(hold["reason"], "Coroner's inquest pending", "{hold}");
    assert_eq!(hold["placedBy"], "iris", "{hold}");
    assert!(hold["releasedAt"].is_null(), "{hold}");
    assert!(hold["id"].is_string(), "{hold}");

    let again = try_place_hold(&app, &ig, &closed["id"], "A second hold").await;
    again.assert_error("CONFLICT", None);

    let listed = active_holds(&app, &ig).await;
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0]["id"], hold["id"]);
    assert_eq!(listed[0]["recordId"], closed["id"]);

    let due = retention_due(&app, &ig, json!({})).await;
    assert_eq!(due.len(), 1, "{due:?}");
    assert_eq!(
        due[0]["legalHold"], true,
        "still listed, shown as held: {due:?}"
    );

    // The hold and its release are in the record's trail.
    let released = try_release_hold(&app, &ig, &hold["id"], "Inquest concluded").await;
    released.assert_ok();
    let released = &released.data()["releaseLegalHold"]["legalHold"];
    assert_eq!(released["active"], false, "{released}");
    assert_eq!(released["releaseReason"], "Inquest concluded", "{released}");
    assert!(released["releasedAt"].is_string(), "{released}");
    assert!(active_holds(&app, &ig).await.is_empty());
    try_release_hold(&app, &ig, &hold["id"], "Again")
        .await
        .assert_error("CONFLICT", None);
    let trail = all_events(&app, &ig, json!({ "recordId": closed["id"] })).await;
    let actions = actions_of(&trail);
    assert_eq!(
        &actions[..2],
        ["legal_hold.released", "legal_hold.placed"],
        "{actions:?}"
    );

    // Another hold may be placed once the first is released.
    let second = place_hold(&app, &ig, &closed["id"], "New claim received").await;
    assert_eq!(second["active"], true);
    assert_ne!(second["id"], hold["id"]);
}

/// An incident's stored content: what disposal removes.
const INCIDENT_CONTENT: &[&str] = &[
    "description",
    "location",
    "category",
    "immediate_actions",
    "findings",
    "learning_summary",
    "feedback_to_reporter",
    "status_reason",
    "patient_nhs_sealed",
    "patient_name_sealed",
    "patient_dob_sealed",
    "patient_nhs_hash",
    // The first migration's plaintext columns, kept empty since patients are sealed.
    "patient_nhs_number",
    "patient_name",
    "patient_date_of_birth",
    "equipment_asset_id",
    "equipment_manufacturer",
    "equipment_model",
    "equipment_serial_number",
    "follow_up_code_hash",
];

/// Content columns the disposal story's closed incident never fills.
const NEVER_SET_HERE: &[&str] = &[
    "status_reason",
    "patient_nhs_number",
    "patient_name",
    "patient_date_of_birth",
    "follow_up_code_hash",
];

/// Words of the disposal story's closed incident, which no stored column may keep.
const INCIDENT_WORDS: &[&str] = &[
    "Mary Example",
    "9434765919",
    "1950-06-01",
    "slid off",
    "Ward 7",
    "Dr Jones",
    "rails left down",
    "checked at every handover",
    "checked at handover",
    "Falls",
    "TR-0042",
    "Acme",
    "SN-77812",
];

/// The free-text columns of a corrective action, which disposal of its incident empties
/// (its title becomes "Disposed record").
const ACTION_TEXT: &[&str] = &[
    "description",
    "note",
    "verification_note",
    "cancellation_reason",
];

/// Words of the disposal story's actions, break-glass grant and review, which no stored
/// column may keep.
const LINKED_WORDS: &[&str] = &[
    "rail checks",
    "night transfer rota",
    "night sisters",
    "four weeks",
    "trolleys are all being replaced",
    "transferred to neurology",
    "on the neurology ward",
];

/// Every stored row of `table` linked to the incident, each of `columns` present, and
/// every word of `words` somewhere among them: the content disposal must remove is there
/// to remove.
#[track_caller]
fn assert_filled(rows: &[Row], columns: &[&str], words: &[&str]) {
    for c in columns {
        assert!(
            rows.iter()
                .any(|r| col(r, c).is_some_and(|v| !v.is_empty())),
            "no {c} stored to dispose of: {rows:?}"
        );
    }
    let text = format!("{rows:?}").to_lowercase();
    for w in words {
        assert!(
            text.contains(&w.to_lowercase()),
            "{w:?} not stored: {rows:?}"
        );
    }
}

#[tokio::test]
async fn disposal_leaves_a_tombstone_and_spares_held_records_until_released() {
    let app = spawn_with_zero_year_retention().await;
    let h = app.hospital().await;
    let ig = app.ig_officer("iris");
    let patient =
        json!({ "nhsNumber": "9434765919", "name": "Mary Example", "dateOfBirth": "1950-06-01" });

    let reported = app
        .report_incident(
            &h.alice,
            with(
                incident_input(&h.cardiology),
                json!({
                    // Moderate as reported, none on review: the duty of candour it owed is
                    // withdrawn, with a reason.
                    "physicalHarm": "MODERATE",
                    "patient": patient,
                    "location": "Ward 7 side room",
                    "immediateActions": "Rails raised; Dr Jones examined the patient.",
                    "equipment": { "assetId": "TR-0042", "manufacturer": "Acme Beds",
                                   "model": "Glide 3", "serialNumber": "SN-77812" },
                }),
            ),
        )
        .await;
    app.comment(
        &h.quinn,
        reported["id"].as_str().unwrap(),
        "Family informed.",
    )
    .await;
    let reported = app
        .incident(&h.quinn, reported["id"].as_str().unwrap())
        .await;
    let triaged = app
        .triage(
            &h.quinn,
            &reported,
            json!({
                "physicalHarm": "NONE",
                "category": "Falls",
                "findings": "Bed rails left down after the night transfer.",
                "learningSummary": "Rails checked at every handover.",
                "feedbackToReporter": "Thank you: the trolley rails are now checked at handover.",
            }),
        )
        .await;
    let incident_id = triaged["id"].as_str().unwrap();
    // Its corrective actions, one verified and one cancelled, with notes.
    let action = |title: &str, description: &str| {
        with(
            corrective_action_input(incident_id, "ward.manager@trust.example"),
            json!({ "title": title, "description": description }),
        )
    };
    let done = app
        .create_corrective_action(
            &h.quinn,
            action(
                "Brief Mary Example's family on the rail checks",
                "Dr Jones to add rail checks to the night transfer rota.",
            ),
        )
        .await;
    let done = app
        .update_action(
            &h.quinn,
            &done,
            json!({ "status": "IN_PROGRESS", "note": "Rota drafted with the night sisters." }),
        )
        .await;
    let done = app
        .update_action(&h.quinn, &done, json!({ "status": "COMPLETED" }))
        .await;
    app.update_action(
        &h.quinn,
        &done,
        json!({ "status": "VERIFIED", "effective": true,
                "note": "No falls from trolleys in four weeks." }),
    )
    .await;
    let dropped = app
        .create_corrective_action(
            &h.quinn,
            action(
                "Replace the trolley Mary Example fell from",
                "Order a trolley with rail checks built in.",
            ),
        )
        .await;
    app.update_action(
        &h.quinn,
        &dropped,
        json!({ "status": "CANCELLED",
                "note": "Superseded: the ward's trolleys are all being replaced." }),
    )
    .await;
    // A break-glass grant on it, reviewed.
    let glass = app
        .gql(
            Some(&h.nina),
            "mutation($input: BreakGlassInput!) { breakGlass(input: $input) { grant { id } } }",
            json!({ "input": { "incidentId": incident_id,
                    "justification": "Mary Example transferred to neurology overnight" } }),
        )
        .await;
    let grant = glass.assert_ok()["breakGlass"]["grant"]["id"].clone();
    app.gql(
        Some(&ig),
        "mutation($input: ReviewBreakGlassInput!) { reviewBreakGlass(input: $input) { grant { id } } }",
        json!({ "input": { "grantId": grant,
                "note": "Justified: Mary Example was on the neurology ward." } }),
    )
    .await
    .assert_ok();
    let triaged = app.incident(&h.quinn, incident_id).await;
    let closed = app.close_low_harm(&h.quinn, &triaged).await;
    // Stored before disposal: the content the tombstone must lose is there to lose.
    let before = stored_row(&app, "incident", &closed["id"], INCIDENT_CONTENT).await;
    for c in INCIDENT_CONTENT {
        let filled = col(&before, c).is_some_and(|v| !v.is_empty());
        assert_eq!(filled, !NEVER_SET_HERE.contains(c), "{c}: {before:?}");
    }
    let comments = stored_rows(
        &app,
        "incident_comment",
        "incident_id",
        &closed["id"],
        &["body"],
    )
    .await;
    assert_eq!(comments.len(), 1, "{comments:?}");
    let mut action_columns = ACTION_TEXT.to_vec();
    action_columns.extend(["title", "status"]);
    let actions = stored_rows(
        &app,
        "corrective_action",
        "incident_id",
        &closed["id"],
        &action_columns,
    )
    .await;
    assert_eq!(actions.len(), 2, "{actions:?}");
    assert_filled(&actions, ACTION_TEXT, &LINKED_WORDS[..5]);
    const GRANT_COLUMNS: &[&str] = &["justification", "review_note", "reviewed_at"];
    let grants = stored_rows(
        &app,
        "break_glass_grant",
        "incident_id",
        &closed["id"],
        GRANT_COLUMNS,
    )
    .await;
    assert_eq!(grants.len(), 1, "{grants:?}");
    assert_filled(&grants, GRANT_COLUMNS, &LINKED_WORDS[5..]);
    const OBLIGATION_COLUMNS: &[&str] = &["kind", "status", "withdrawn_reason"];
    let obligations = stored_rows(
        &app,
        "obligation",
        "incident_id",
        &closed["id"],
        OBLIGATION_COLUMNS,
    )
    .await;
    assert_eq!(obligations.len(), 1, "{obligations:?}");
    assert_eq!(col(&obligations[0], "status"), Some("WITHDRAWN"));
    assert_filled(&obligations, &["withdrawn_reason"], &[]);
    let declined = app
        .transition_because(
            &h.hana,
            &low_harm(&app, &h).await,
            "DECLINED",
            "Duplicate of a report made by phone",
        )
        .await;
    let held = app
        .close_low_harm(&h.quinn, &low_harm(&app, &h).await)
        .await;
    let hold = place_hold(&app, &ig, &held["id"], "Litigation: claim received").await;

    assert_eq!(patient_records(&app, &ig).await.len(), 1);

    let report = dispose(&app, &ig).await;
    assert_eq!(
        report,
        json!({ "incidents": 2, "audits": 0, "improvementProjects": 0, "held": 1 }),
        "the closed and declined incidents go; the held one stays"
    );

    // A tombstone: identity and dates kept, content gone.
    let tomb = record(&app, &h.quinn, &closed["id"]).await;
    assert_eq!(tomb["reference"], closed["reference"], "{tomb}");
    assert_eq!(tomb["status"], "CLOSED", "{tomb}");
    assert_eq!(tomb["title"], "Disposed record", "{tomb}");
    assert!(tomb["description"].is_null(), "{tomb}");
    assert!(tomb["patient"].is_null(), "{tomb}");
    assert!(
        tomb["comments"].is_null() || tomb["comments"].as_array().is_some_and(|c| c.is_empty()),
        "{tomb}"
    );
    assert!(tomb["disposedAt"].is_string(), "{tomb}");
    assert!(
        parse_time(&tomb["disposedAt"]) >= parse_time(&closed["closedAt"]),
        "{tomb}"
    );
    let text = tomb.to_string();
    for secret in ["Mary Example", "9434765919", "Family informed", "slid off"] {
        assert!(!text.contains(secret), "{secret} survived disposal: {tomb}");
    }
    assert!(
        patient_records(&app, &ig).await.is_empty(),
        "the patient is no longer named"
    );

    let history = app.history(&h.quinn, closed["id"].as_str().unwrap()).await;
    let disposed: Vec<_> = history
        .iter()
        .filter(|e| e["action"] == "incident.disposed")
        .collect();
    assert_eq!(disposed.len(), 1, "{history:?}");
    assert_eq!(disposed[0]["actor"]["name"], "Iris Test", "{history:?}");
    let said: Vec<&str> = disposed[0]["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["field"].as_str().unwrap())
        .collect();
    for linked in ["correctiveActions", "breakGlassGrants", "obligations"] {
        assert!(said.contains(&linked), "{linked} not named: {said:?}");
    }
    let trail_text = serde_json::to_string(&history).unwrap();
    for secret in ["Mary Example"].iter().chain(LINKED_WORDS) {
        assert!(!trail_text.contains(secret), "{secret}: {trail_text}");
    }

    // What the database holds: the tombstone, and none of the content.
    let mut columns = INCIDENT_CONTENT.to_vec();
    columns.extend(["reference", "title", "status", "closed_at", "disposed_at"]);
    let stored = stored_row(&app, "incident", &closed["id"], &columns).await;
    assert_emptied(&stored, INCIDENT_CONTENT, INCIDENT_WORDS);
    assert_eq!(col(&stored, "reference"), closed["reference"].as_str());
    assert_eq!(col(&stored, "title"), Some("Disposed record"));
    assert_eq!(col(&stored, "status"), Some("CLOSED"));
    assert!(col(&stored, "closed_at").is_some(), "{stored:?}");
    assert!(col(&stored, "disposed_at").is_some(), "{stored:?}");
    let comments = stored_rows(
        &app,
        "incident_comment",
        "incident_id",
        &closed["id"],
        &["body"],
    )
    .await;
    assert!(
        comments.is_empty(),
        "comments survived disposal: {comments:?}"
    );
    // The linked records stay, counted and dated, without their words.
    let words: Vec<&str> = INCIDENT_WORDS.iter().chain(LINKED_WORDS).copied().collect();
    let actions = stored_rows(
        &app,
        "corrective_action",
        "incident_id",
        &closed["id"],
        &action_columns,
    )
    .await;
    let mut statuses: Vec<_> = actions.iter().map(|a| col(a, "status")).collect();
    statuses.sort();
    assert_eq!(
        statuses,
        [Some("CANCELLED"), Some("VERIFIED")],
        "{actions:?}"
    );
    for a in &actions {
        assert_emptied(a, ACTION_TEXT, &words);
        assert_eq!(col(a, "title"), Some("Disposed record"), "{a:?}");
    }
    let grants = stored_rows(
        &app,
        "break_glass_grant",
        "incident_id",
        &closed["id"],
        GRANT_COLUMNS,
    )
    .await;
    assert_eq!(grants.len(), 1, "{grants:?}");
    assert_emptied(&grants[0], &["justification", "review_note"], &words);
    assert!(col(&grants[0], "reviewed_at").is_some(), "{grants:?}");
    let obligations = stored_rows(
        &app,
        "obligation",
        "incident_id",
        &closed["id"],
        OBLIGATION_COLUMNS,
    )
    .await;
    assert_eq!(obligations.len(), 1, "{obligations:?}");
    assert_emptied(&obligations[0], &["withdrawn_reason"], &words);
    assert_eq!(col(&obligations[0], "status"), Some("WITHDRAWN"));

    let declined_now = record(&app, &h.quinn, &declined["id"]).await;
    assert_eq!(declined_now["title"], "Disposed record", "{declined_now}");
    assert!(declined_now["disposedAt"].is_string(), "{declined_now}");
    let stored = stored_row(&app, "incident", &declined["id"], &columns).await;
    assert_emptied(
        &stored,
        INCIDENT_CONTENT,
        &["Duplicate of a report", "slid off"],
    );
    assert_eq!(col(&stored, "status"), Some("DECLINED"));

    // The held incident is untouched.
    for untouched in [&held] {
        let now = record(&app, &h.quinn, &untouched["id"]).await;
        assert_eq!(
            now["title"], "Patient fell from trolley in corridor",
            "{now}"
        );
        assert!(now["description"].is_string(), "{now}");
        assert!(now["disposedAt"].is_null(), "{now}");
    }
    let due = retention_due(&app, &ig, json!({})).await;
    assert_eq!(
        record_ids(&due),
        sorted(&[&held["id"]]),
        "disposed records are no longer due"
    );

    // Disposal is done once.
    assert_eq!(
        dispose(&app, &ig).await,
        json!({ "incidents": 0, "audits": 0, "improvementProjects": 0, "held": 1 })
    );

    // Released, the held record goes at the next disposal.
    try_release_hold(&app, &ig, &hold["id"], "Claim withdrawn")
        .await
        .assert_ok();
    assert_eq!(
        dispose(&app, &ig).await,
        json!({ "incidents": 1, "audits": 0, "improvementProjects": 0, "held": 0 })
    );
    let gone = record(&app, &h.quinn, &held["id"]).await;
    assert_eq!(gone["title"], "Disposed record", "{gone}");
    assert!(gone["disposedAt"].is_string(), "{gone}");
    assert!(retention_due(&app, &ig, json!({})).await.is_empty());

    // The chain holds through disposal, the disposals in it.
    let integrity = sealed(&app, &ig).await;
    assert_eq!(integrity["intact"], true, "{integrity}");
    let everything = all_events(&app, &ig, json!({})).await;
    assert_eq!(integrity["checkedEvents"], everything.len(), "{integrity}");
    let disposals = all_events(&app, &ig, json!({ "action": "incident.disposed" })).await;
    assert_eq!(disposals.len(), 3);
}

#[tokio::test]
async fn only_an_ig_officer_reviews_retention_holds_and_disposes() {
    let app = spawn_with_zero_year_retention().await;
    let h = app.hospital().await;
    let closed = app
        .close_low_harm(&h.quinn, &low_harm(&app, &h).await)
        .await;

    for (who, token) in [
        ("staff", &h.alice),
        ("handler", &h.hana),
        ("quality lead", &h.quinn),
        ("admin", &h.ada),
    ] {
        let resp = try_retention_due(&app, token, json!({})).await;
        assert_eq!(resp.status, 200, "{who}: {resp}");
        resp.assert_error("FORBIDDEN", None);
        try_place_hold(&app, token, &closed["id"], "Because I say so")
            .await
            .assert_error("FORBIDDEN", None);
        app.gql(
            Some(token),
            "{ legalHolds { edges { node { id } } } }",
            json!({}),
        )
        .await
        .assert_error("FORBIDDEN", None);
        app.gql(Some(token), DISPOSE, json!({}))
            .await
            .assert_error("FORBIDDEN", None);
    }

    // Nothing was disposed of or held by anyone else's attempt.
    let now = record(&app, &h.quinn, &closed["id"]).await;
    assert!(now["disposedAt"].is_null(), "{now}");
    let ig = app.ig_officer("iris");
    assert!(active_holds(&app, &ig).await.is_empty());
    assert_eq!(retention_due(&app, &ig, json!({})).await.len(), 1);
}

// ---------------------------------------------------------------------------------------------
// Retention of audits and improvement projects
// ---------------------------------------------------------------------------------------------

/// What the retention story reads of an audit or an improvement project.
const ENDED_RECORD: &str = "query($id: ID!) { node(id: $id) {
  __typename
  ... on Audit { id title standard status version closedAt retentionUntil disposedAt
                 findings { id criterion } }
  ... on ImprovementProject { id title aim status statusReason version closedAt retentionUntil
                 disposedAt pdsaCycles { id title plan do study act } }
} }";

async fn ended_record(app: &TestApp, token: &str, id: &Value) -> Value {
    let resp = app
        .gql(Some(token), ENDED_RECORD, json!({ "id": id }))
        .await;
    resp.assert_ok();
    let node = resp.data()["node"].clone();
    assert!(node["id"] == *id, "record {id} not returned: {resp}");
    node
}

/// Words of the audits' and projects' free text, which disposal must leave nowhere (in any
/// case: a criterion's key is the criterion lower-cased).
const AUDIT_WORDS: &[&str] = &[
    "GMC Decision making",
    "Consent form countersigned",
    "Risks discussed",
];
const PROJECT_WORDS: &[&str] = &[
    "Halve inpatient falls",
    "Mrs Patel",
    "Rails checked",
    "Falls fell",
    "Adopt ward-wide",
    "funding withdrawn",
];

/// Words of an action raised from an audit finding or a project (they name a patient).
const ACTION_WORDS: &str = "Mrs Patel's daughter to countersign";

/// A corrective action raised from `source` (an audit finding or a project), in words of
/// its own, and completed.
async fn raise_completed_action(app: &TestApp, h: &Hospital, source: &Value) {
    let action = app
        .create_corrective_action(
            &h.quinn,
            json!({ "sourceId": source, "title": "Consent re-checked",
                    "description": format!("Ask {ACTION_WORDS}"),
                    "ownerEmail": "hana@candour.test", "dueDate": "2027-01-15" }),
        )
        .await;
    let resp = app
        .try_update_corrective_action(
            &h.quinn,
            json!({ "actionId": action["id"], "expectedVersion": action["version"],
                    "status": "COMPLETED", "note": format!("Done: {ACTION_WORDS}") }),
        )
        .await;
    resp.assert_ok();
}

/// A cardiology audit planned, run with two findings that meet their targets (an action
/// raised from the first, completed), reported and closed by Hana.
async fn closed_audit(app: &TestApp, h: &Hospital, title: &str) -> Value {
    let planned = app
        .plan_audit(
            &h.quinn,
            with(audit_input(&h.cardiology), json!({ "title": title })),
        )
        .await;
    let mut audit = app.move_audit(&h.hana, &planned, "IN_PROGRESS").await;
    for (criterion, target, compliant) in [
        ("Consent form countersigned by the consultant", 90.0, 38),
        ("Risks discussed and recorded", 80.0, 36),
    ] {
        let id = audit["id"].as_str().unwrap().to_string();
        audit = app
            .record_audit_finding(
                &h.hana,
                finding_input(&id, criterion, target, 40, compliant),
            )
            .await;
    }
    assert_eq!(audit["findings"].as_array().map(Vec::len), Some(2));
    raise_completed_action(app, h, &audit["findings"][0]["id"]).await;
    let reported = app.move_audit(&h.hana, &audit, "REPORTED").await;
    let closed = app.move_audit(&h.hana, &reported, "CLOSED").await;
    assert_eq!(closed["status"], "CLOSED", "{closed}");
    closed
}

/// One improvement-project mutation that must succeed; returns the project.
async fn project_mutation(
    app: &TestApp,
    token: &str,
    mutation: &str,
    input_type: &str,
    input: Value,
) -> Value {
    let resp = app
        .gql(
            Some(token),
            &format!(
                "mutation($input: {input_type}!) {{
                   {mutation}(input: $input) {{ improvementProject {{
                     id status version pdsaCycles {{ id version }}
                   }} }}
                 }}"
            ),
            json!({ "input": input }),
        )
        .await;
    resp.assert_ok();
    resp.data()[mutation]["improvementProject"].clone()
}

/// A cardiology improvement project run by the quality lead through one full PDSA cycle,
/// then ended: `CLOSED`, or `ABANDONED` with a reason.
async fn ended_project(app: &TestApp, h: &Hospital, title: &str, end: &str) -> Value {
    let q = &h.quinn;
    let started = project_mutation(
        app,
        q,
        "startImprovementProject",
        "StartImprovementProjectInput",
        json!({
            "title": title,
            "aim": "Halve inpatient falls on the cardiac ward after Mrs Patel's fall.",
            "departmentId": h.cardiology,
            "measures": [{ "name": "Falls per 1,000 bed days", "kind": "OUTCOME",
                           "unit": "falls per 1,000 bed days", "target": 2.5,
                           "betterWhen": "LOWER" }],
        }),
    )
    .await;
    let move_to = |project: Value, to: &str, reason: Option<&str>| {
        let input = json!({ "projectId": project["id"], "to": to,
                            "expectedVersion": project["version"], "reason": reason });
        project_mutation(
            app,
            q,
            "transitionImprovementProject",
            "TransitionImprovementProjectInput",
            input,
        )
    };
    let active = move_to(started, "ACTIVE", None).await;
    raise_completed_action(app, h, &active["id"]).await;
    let with_cycle = project_mutation(
        app,
        q,
        "addPdsaCycle",
        "AddPdsaCycleInput",
        json!({ "projectId": active["id"], "title": "Rails checked with Mrs Patel's family",
                "plan": "Predict 30% fewer falls over four weeks.", "startDate": "2026-10-05" }),
    )
    .await;
    let cycle = &with_cycle["pdsaCycles"][0];
    let acted = project_mutation(
        app,
        q,
        "updatePdsaCycle",
        "UpdatePdsaCycleInput",
        json!({ "cycleId": cycle["id"], "expectedVersion": cycle["version"], "stage": "ACT",
                "do": "Rails checked at every handover.", "study": "Falls fell from 6 to 3.",
                "act": "Adopt ward-wide.", "outcome": "ADOPT", "endDate": "2026-11-02" }),
    )
    .await;
    let reason = (end == "ABANDONED").then_some("The ward's funding withdrawn.");
    let ended = move_to(acted, end, reason).await;
    assert_eq!(ended["status"], end, "{ended}");
    ended_record(app, q, &ended["id"]).await
}

/// Moves a record's end behind the API's back, as if it had ended at `at`.
async fn ended_at(app: &TestApp, table: &str, id: &Value, at: chrono::DateTime<chrono::Utc>) {
    stored_time(app, table, "closed_at", id, at).await;
}

/// Sets a time column of a record behind the API's back.
async fn stored_time(
    app: &TestApp,
    table: &str,
    column: &str,
    id: &Value,
    at: chrono::DateTime<chrono::Utc>,
) {
    use sea_orm::sea_query::{Alias, Expr, Query};
    let db = Database::connect(&app.database_url)
        .await
        .expect("connect to the test database");
    let mut update = Query::update();
    update
        .table(Alias::new(table))
        .value(Alias::new(column), at)
        .and_where(Expr::col(Alias::new("id")).eq(uuid_of(id)));
    let done = db
        .execute(db.get_database_backend().build(&update))
        .await
        .unwrap_or_else(|e| panic!("backdating {table}.{column}: {e}"));
    assert_eq!(done.rows_affected(), 1);
    let _ = db.close().await;
}

/// `years` whole years and `days` days before now, to the microsecond the database keeps.
fn years_ago(years: u32, days: i64) -> chrono::DateTime<chrono::Utc> {
    use chrono::SubsecRound;
    (chrono::Utc::now()
        .checked_sub_months(chrono::Months::new(years * 12))
        .unwrap()
        - chrono::Duration::days(days))
    .trunc_subsecs(6)
}

fn plus_years(t: chrono::DateTime<chrono::Utc>, years: u32) -> chrono::DateTime<chrono::Utc> {
    t.checked_add_months(chrono::Months::new(years * 12))
        .unwrap()
}

#[tokio::test]
async fn audits_and_improvement_projects_fall_due_their_configured_years_after_they_end() {
    let app = spawn_app_with(|s| {
        s.retention.audit_years = 2;
        s.retention.improvement_project_years = 3;
    })
    .await;
    let h = app.hospital().await;
    let ig = app.ig_officer("iris");

    let old_audit = closed_audit(&app, &h, "Consent audit 2023").await;
    let recent_audit = closed_audit(&app, &h, "Consent audit 2024").await;
    let closed = ended_project(&app, &h, "Fewer falls", "CLOSED").await;
    let abandoned = ended_project(&app, &h, "Safer transfers", "ABANDONED").await;
    let planned = app.plan_audit(&h.quinn, audit_input(&h.cardiology)).await;

    // The date runs from the end, for the years configured for the kind of record.
    let audit_now = ended_record(&app, &h.quinn, &old_audit["id"]).await;
    assert_eq!(
        parse_time(&audit_now["retentionUntil"]),
        plus_years(parse_time(&audit_now["closedAt"]), 2),
        "{audit_now}"
    );
    for project in [&closed, &abandoned] {
        assert!(project["closedAt"].is_string(), "{project}");
        assert_eq!(
            parse_time(&project["retentionUntil"]),
            plus_years(parse_time(&project["closedAt"]), 3),
            "{project}"
        );
    }
    let running = ended_record(&app, &h.quinn, &planned["id"]).await;
    assert!(running["retentionUntil"].is_null(), "not ended: {running}");
    assert!(
        retention_due(&app, &ig, json!({})).await.is_empty(),
        "nothing has been kept its years yet"
    );

    // Years later (their ends moved back behind the API): past the schedule by a day, or a
    // day short of it.
    let audit_end = years_ago(2, 1);
    ended_at(&app, "audit", &old_audit["id"], audit_end).await;
    ended_at(&app, "audit", &recent_audit["id"], years_ago(2, -1)).await;
    let closed_end = years_ago(3, 1);
    ended_at(&app, "improvement_project", &closed["id"], closed_end).await;
    let abandoned_end = years_ago(3, 2);
    ended_at(&app, "improvement_project", &abandoned["id"], abandoned_end).await;

    let due = retention_due(&app, &ig, json!({})).await;
    assert_eq!(
        due.iter()
            .map(|d| d["recordType"].clone())
            .collect::<Vec<_>>(),
        ["AUDIT", "IMPROVEMENT_PROJECT", "IMPROVEMENT_PROJECT"],
        "by type: {due:?}"
    );
    assert_eq!(
        record_ids(&due),
        sorted(&[&old_audit["id"], &closed["id"], &abandoned["id"]]),
        "the audit a day short of its two years is not due: {due:?}"
    );
    for (record, ended, years) in [
        (&old_audit, audit_end, 2),
        (&closed, closed_end, 3),
        (&abandoned, abandoned_end, 3),
    ] {
        let d = due.iter().find(|d| d["recordId"] == record["id"]).unwrap();
        assert_eq!(d["label"], record["title"], "{d}");
        assert_eq!(d["legalHold"], false, "{d}");
        assert_eq!(parse_time(&d["endedAt"]), ended, "{d}");
        assert_eq!(
            parse_time(&d["retentionUntil"]),
            plus_years(ended, years),
            "{d}"
        );
    }
    assert_eq!(
        record_ids(&retention_due(&app, &ig, json!({ "recordType": "AUDIT" })).await),
        sorted(&[&old_audit["id"]])
    );
    assert_eq!(
        record_ids(&retention_due(&app, &ig, json!({ "recordType": "IMPROVEMENT_PROJECT" })).await),
        sorted(&[&closed["id"], &abandoned["id"]])
    );
    assert!(
        retention_due(&app, &ig, json!({ "recordType": "INCIDENT" }))
            .await
            .is_empty()
    );

    // Disposal takes what is due, and only that.
    assert_eq!(
        dispose(&app, &ig).await,
        json!({ "incidents": 0, "audits": 1, "improvementProjects": 2, "held": 0 })
    );
    let kept = ended_record(&app, &h.quinn, &recent_audit["id"]).await;
    assert!(kept["disposedAt"].is_null(), "{kept}");
    assert!(
        kept["standard"].as_str().is_some_and(|s| !s.is_empty()),
        "{kept}"
    );
    assert!(retention_due(&app, &ig, json!({})).await.is_empty());
}

#[tokio::test]
async fn disposing_of_audits_and_projects_keeps_tombstones_and_trail_and_spares_held_ones() {
    let app = spawn_with_zero_year_retention().await;
    let h = app.hospital().await;
    let ig = app.ig_officer("iris");

    let audit = closed_audit(&app, &h, "Consent audit 2023").await;
    let held_audit = closed_audit(&app, &h, "Consent audit 2024").await;
    let closed = ended_project(&app, &h, "Fewer falls", "CLOSED").await;
    let abandoned = ended_project(&app, &h, "Safer transfers", "ABANDONED").await;
    let held_project = ended_project(&app, &h, "Fewer pressure ulcers", "CLOSED").await;
    let audit_hold = place_hold(&app, &ig, &held_audit["id"], "Coroner's inquest pending").await;
    let project_hold = place_hold(&app, &ig, &held_project["id"], "Claim received").await;

    // The content disposal must remove is stored to begin with.
    let stored_audit = stored_row(&app, "audit", &audit["id"], &["standard"]).await;
    assert!(
        col(&stored_audit, "standard").is_some_and(|s| s.contains("GMC Decision making")),
        "{stored_audit:?}"
    );
    let stored = stored_row(
        &app,
        "improvement_project",
        &abandoned["id"],
        &["aim", "status_reason"],
    )
    .await;
    assert!(
        col(&stored, "aim").is_some_and(|s| s.contains("Mrs Patel")),
        "{stored:?}"
    );
    assert!(col(&stored, "status_reason").is_some(), "{stored:?}");

    let due = retention_due(&app, &ig, json!({})).await;
    assert_eq!(due.len(), 5, "{due:?}");
    for d in &due {
        let held = d["recordId"] == held_audit["id"] || d["recordId"] == held_project["id"];
        assert_eq!(d["legalHold"], held, "{d}");
    }

    assert_eq!(
        dispose(&app, &ig).await,
        json!({ "incidents": 0, "audits": 1, "improvementProjects": 2, "held": 2 }),
        "the held audit and project are spared"
    );

    // Through the API: tombstones, their identity and dates kept.
    let tomb = ended_record(&app, &h.quinn, &audit["id"]).await;
    assert_eq!(tomb["title"], audit["title"], "{tomb}");
    assert_eq!(tomb["status"], "CLOSED", "{tomb}");
    assert_eq!(tomb["closedAt"], audit["closedAt"], "{tomb}");
    assert!(tomb["disposedAt"].is_string(), "{tomb}");
    assert_eq!(tomb["standard"], "", "{tomb}");
    for project in [&closed, &abandoned] {
        let tomb = ended_record(&app, &h.quinn, &project["id"]).await;
        assert_eq!(tomb["title"], project["title"], "{tomb}");
        assert_eq!(tomb["status"], project["status"], "{tomb}");
        assert_eq!(tomb["closedAt"], project["closedAt"], "{tomb}");
        assert!(tomb["disposedAt"].is_string(), "{tomb}");
        assert_eq!(tomb["aim"], "", "{tomb}");
        assert!(tomb["statusReason"].is_null(), "{tomb}");
        let text = tomb.to_string().to_lowercase();
        for w in PROJECT_WORDS {
            assert!(
                !text.contains(&w.to_lowercase()),
                "{w:?} survived disposal: {tomb}"
            );
        }
    }
    let text = tomb.to_string().to_lowercase();
    for w in AUDIT_WORDS {
        assert!(
            !text.contains(&w.to_lowercase()),
            "{w:?} survived disposal: {tomb}"
        );
    }

    // In the database: the tombstone rows remain, none of the free text does.
    let stored = stored_row(
        &app,
        "audit",
        &audit["id"],
        &["title", "standard", "status", "closed_at", "disposed_at"],
    )
    .await;
    assert_emptied(&stored, &["standard"], AUDIT_WORDS);
    assert_eq!(col(&stored, "title"), audit["title"].as_str());
    assert_eq!(col(&stored, "status"), Some("CLOSED"));
    assert!(col(&stored, "disposed_at").is_some(), "{stored:?}");
    let findings = stored_rows(
        &app,
        "audit_finding",
        "audit_id",
        &audit["id"],
        &[
            "criterion",
            "criterion_key",
            "sample_size",
            "compliant_count",
        ],
    )
    .await;
    assert_eq!(
        findings.len(),
        2,
        "the findings' numbers are kept: {findings:?}"
    );
    for f in &findings {
        assert_emptied(f, &[], AUDIT_WORDS);
        assert_eq!(col(f, "sample_size"), Some("40"), "{f:?}");
    }
    assert_ne!(
        col(&findings[0], "criterion_key"),
        col(&findings[1], "criterion_key")
    );
    for project in [&closed, &abandoned] {
        let stored = stored_row(
            &app,
            "improvement_project",
            &project["id"],
            &[
                "title",
                "aim",
                "status",
                "status_reason",
                "closed_at",
                "disposed_at",
            ],
        )
        .await;
        assert_emptied(&stored, &["aim", "status_reason"], PROJECT_WORDS);
        assert_eq!(col(&stored, "title"), project["title"].as_str());
        assert_eq!(col(&stored, "status"), project["status"].as_str());
        assert!(col(&stored, "closed_at").is_some(), "{stored:?}");
        assert!(col(&stored, "disposed_at").is_some(), "{stored:?}");
        let cycles = stored_rows(
            &app,
            "pdsa_cycle",
            "project_id",
            &project["id"],
            &["title", "plan", "do", "study", "act", "stage"],
        )
        .await;
        assert_eq!(cycles.len(), 1, "{cycles:?}");
        for c in &cycles {
            assert_emptied(c, &["plan", "do", "study", "act"], PROJECT_WORDS);
        }
    }

    // The actions raised from them keep their rows and lose their words.
    let action_columns = ["title", "description", "note", "status"];
    let mut actions = stored_rows(
        &app,
        "corrective_action",
        "audit_finding_id",
        &audit["findings"][0]["id"],
        &action_columns,
    )
    .await;
    for project in [&closed, &abandoned] {
        actions.extend(
            stored_rows(
                &app,
                "corrective_action",
                "improvement_project_id",
                &project["id"],
                &action_columns,
            )
            .await,
        );
    }
    assert_eq!(actions.len(), 3, "{actions:?}");
    for a in &actions {
        assert_emptied(a, &["description", "note"], &[ACTION_WORDS]);
        assert_eq!(col(a, "title"), Some("Disposed record"), "{a:?}");
        assert_eq!(col(a, "status"), Some("COMPLETED"), "the row stays: {a:?}");
    }
    let kept = stored_rows(
        &app,
        "corrective_action",
        "improvement_project_id",
        &held_project["id"],
        &action_columns,
    )
    .await;
    assert!(
        col(&kept[0], "description").is_some_and(|d| d.contains(ACTION_WORDS)),
        "a held project's action keeps its words: {kept:?}"
    );

    // The held ones keep everything.
    let kept = stored_row(
        &app,
        "audit",
        &held_audit["id"],
        &["standard", "disposed_at"],
    )
    .await;
    assert!(col(&kept, "disposed_at").is_none(), "{kept:?}");
    assert!(
        col(&kept, "standard").is_some_and(|s| s.contains("GMC")),
        "{kept:?}"
    );
    let kept = ended_record(&app, &h.quinn, &held_project["id"]).await;
    assert!(kept["disposedAt"].is_null(), "{kept}");
    assert_eq!(kept["aim"], held_project["aim"], "{kept}");
    assert_eq!(kept["pdsaCycles"], held_project["pdsaCycles"], "{kept}");

    // The trail says who disposed of what, and keeps none of the words.
    for (record, action) in [
        (&audit, "audit.disposed"),
        (&closed, "improvement_project.disposed"),
        (&abandoned, "improvement_project.disposed"),
    ] {
        let events = all_events(&app, &ig, json!({ "recordId": record["id"] })).await;
        assert_eq!(events[0]["action"], action, "newest first: {events:?}");
        assert_eq!(events[0]["actorLabel"], "iris", "{events:?}");
        assert_eq!(
            events.iter().filter(|e| e["action"] == action).count(),
            1,
            "{events:?}"
        );
    }
    assert_eq!(
        all_events(&app, &ig, json!({ "action": "audit.disposed" }))
            .await
            .len(),
        1
    );
    assert_eq!(
        all_events(
            &app,
            &ig,
            json!({ "action": "improvement_project.disposed" })
        )
        .await
        .len(),
        2
    );

    // Released, the held ones go at the next disposal.
    for hold in [&audit_hold, &project_hold] {
        try_release_hold(&app, &ig, &hold["id"], "Concluded")
            .await
            .assert_ok();
    }
    assert_eq!(
        dispose(&app, &ig).await,
        json!({ "incidents": 0, "audits": 1, "improvementProjects": 1, "held": 0 })
    );
    assert!(retention_due(&app, &ig, json!({})).await.is_empty());
    let gone = ended_record(&app, &h.quinn, &held_audit["id"]).await;
    assert!(gone["disposedAt"].is_string(), "{gone}");

    let integrity = sealed(&app, &ig).await;
    assert_eq!(integrity["intact"], true, "{integrity}");
}
