//! A quality lead reads the dashboard. Every figure must equal a recount of the records,
//! done here from the API's own lists with the test's own calendar arithmetic, whatever
//! the period, the interval or the split, before and after the server folds its deltas
//! into the rollups. Handlers see their departments only; nothing sensitive is shown or
//! logged.

use std::collections::BTreeMap;
use std::time::Duration as StdDuration;

use candour_tests::*;
use chrono::{Datelike, Duration, NaiveDate};
use sea_orm::{ConnectionTrait, Database, Statement};
use serde_json::{json, Value};

const FACTS: &str = "id version department { id code } reportedAt status kind physicalHarm \
    psychologicalHarm category nearMiss triagedAt closedAt feedbackToReporter";

/// Every incident the caller sees, with the facts the dashboard counts.
async fn every_incident(app: &TestApp, token: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let resp = app
            .gql(
                Some(token),
                &format!(
                    "query($after: String) {{ incidents(first: 100, after: $after) {{
                       edges {{ node {{ {FACTS} }} }} pageInfo {{ hasNextPage endCursor }} }} }}"
                ),
                json!({ "after": after }),
            )
            .await;
        let connection = &resp.assert_ok()["incidents"];
        for e in connection["edges"].as_array().unwrap() {
            out.push(e["node"].clone());
        }
        if connection["pageInfo"]["hasNextPage"] != true {
            return out;
        }
        after = connection["pageInfo"]["endCursor"]
            .as_str()
            .map(String::from);
    }
}

/// Every corrective action the caller sees.
async fn every_action(app: &TestApp, token: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let resp = app
            .gql(
                Some(token),
                "query($after: String) { correctiveActions(first: 100, after: $after) {
                   edges { node { status dueDate completedAt effective ownerEmail department { code } } }
                   pageInfo { hasNextPage endCursor } } }",
                json!({ "after": after }),
            )
            .await;
        let connection = &resp.assert_ok()["correctiveActions"];
        for e in connection["edges"].as_array().unwrap() {
            out.push(e["node"].clone());
        }
        if connection["pageInfo"]["hasNextPage"] != true {
            return out;
        }
        after = connection["pageInfo"]["endCursor"]
            .as_str()
            .map(String::from);
    }
}

/// The facts of one incident as the test counts them.
struct Facts {
    department: String,
    day: NaiveDate,
    status: String,
    kind: String,
    physical: String,
    psychological: String,
    category: String,
    near_miss: bool,
    /// (day, seconds since the report)
    triaged: Option<(NaiveDate, i64)>,
    closed: Option<(NaiveDate, i64)>,
}

fn facts_of(v: &Value) -> Facts {
    let reported = parse_time(&v["reportedAt"]);
    let since = |t: &Value| -> Option<(NaiveDate, i64)> {
        (!t.is_null()).then(|| {
            let t = parse_time(t);
            (london_date(t), (t - reported).num_seconds().max(0))
        })
    };
    Facts {
        department: v["department"]["code"].as_str().unwrap().to_string(),
        day: london_date(reported),
        status: v["status"].as_str().unwrap().to_string(),
        kind: v["kind"].as_str().unwrap().to_string(),
        physical: v["physicalHarm"].as_str().unwrap().to_string(),
        psychological: v["psychologicalHarm"].as_str().unwrap().to_string(),
        category: v["category"].as_str().unwrap_or("").to_string(),
        near_miss: v["nearMiss"].as_bool().unwrap(),
        triaged: since(&v["triagedAt"]),
        closed: since(&v["closedAt"]),
    }
}

fn split_key(f: &Facts, split: &str) -> String {
    match split {
        "KIND" => f.kind.clone(),
        "PHYSICAL_HARM" => f.physical.clone(),
        "PSYCHOLOGICAL_HARM" => f.psychological.clone(),
        "DEPARTMENT" => f.department.clone(),
        "CATEGORY" => f.category.clone(),
        "STATUS" => f.status.clone(),
        "NEAR_MISS" => f.near_miss.to_string(),
        other => panic!("unknown split {other}"),
    }
}

/// The first day of the bucket of `interval` holding `day`, clipped to `from`.
fn bucket_start(day: NaiveDate, from: NaiveDate, interval: &str) -> NaiveDate {
    let start = match interval {
        "DAY" => day,
        "WEEK" => day - Duration::days(i64::from(day.weekday().num_days_from_monday())),
        "MONTH" => NaiveDate::from_ymd_opt(day.year(), day.month(), 1).unwrap(),
        other => panic!("unknown interval {other}"),
    };
    start.max(from)
}

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

fn date(v: &Value) -> NaiveDate {
    v.as_str().unwrap().parse().unwrap()
}

/// Checks one count series against a recount of `facts` (already narrowed to the scope).
async fn check_counts(
    app: &TestApp,
    token: &str,
    filter: &Value,
    facts: &[Facts],
    interval: &str,
    split: Option<&str>,
) {
    let selection = format!(
        "from to incidentCounts(interval: {interval}{}) {{ total totals {{ key count }}
           keys labels buckets {{ start end total counts split {{ key label count }} }} }}",
        split.map(|s| format!(", splitBy: {s}")).unwrap_or_default()
    );
    let d = dashboard(app, token, filter.clone(), &selection).await;
    let (from, to) = (date(&d["from"]), date(&d["to"]));
    let mut expected: BTreeMap<NaiveDate, (i64, BTreeMap<String, i64>)> = BTreeMap::new();
    for f in facts.iter().filter(|f| from <= f.day && f.day <= to) {
        let e = expected
            .entry(bucket_start(f.day, from, interval))
            .or_default();
        e.0 += 1;
        if let Some(s) = split {
            *e.1.entry(split_key(f, s)).or_insert(0) += 1;
        }
    }
    let series = &d["incidentCounts"];
    let buckets = series["buckets"].as_array().unwrap();
    let context = format!("{interval} split by {split:?}, {from}..{to}, filter {filter}");
    assert_eq!(
        buckets.first().map(|b| date(&b["start"])),
        Some(from),
        "{context}"
    );
    assert_eq!(
        buckets.last().map(|b| date(&b["end"])),
        Some(to),
        "{context}"
    );
    let mut total = 0;
    for b in buckets {
        let start = date(&b["start"]);
        let (want_total, want_split) = expected.remove(&start).unwrap_or_default();
        assert_eq!(b["total"], want_total, "bucket {start}, {context}");
        total += want_total;
        if split.is_some() {
            let got: BTreeMap<String, i64> = b["split"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| {
                    (
                        c["key"].as_str().unwrap().to_string(),
                        c["count"].as_i64().unwrap(),
                    )
                })
                .collect();
            for (k, n) in &want_split {
                assert_eq!(got.get(k), Some(n), "{k} in bucket {start}, {context}: {b}");
            }
            assert_eq!(
                got.values().sum::<i64>(),
                want_total,
                "the split adds up, bucket {start}, {context}"
            );
            // The compact form: the same counts, in the order of the series' keys, which
            // are the split's keys in its order, with the same labels.
            let split_keys: Vec<&Value> = b["split"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| &c["key"])
                .collect();
            let split_labels: Vec<&Value> = b["split"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| &c["label"])
                .collect();
            let split_counts: Vec<&Value> = b["split"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| &c["count"])
                .collect();
            assert_eq!(
                series["keys"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .collect::<Vec<_>>(),
                split_keys,
                "{context}"
            );
            assert_eq!(
                series["labels"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .collect::<Vec<_>>(),
                split_labels,
                "{context}"
            );
            assert_eq!(
                b["counts"].as_array().unwrap().iter().collect::<Vec<_>>(),
                split_counts,
                "bucket {start}, {context}"
            );
        } else {
            assert_eq!(series["keys"], json!([]), "{context}");
            assert_eq!(b["counts"], json!([]), "{context}");
        }
    }
    assert!(
        expected.is_empty(),
        "incidents in no bucket: {expected:?}, {context}"
    );
    assert_eq!(series["total"], total, "{context}");
}

/// The exact nearest-rank q-quantile in hours, as the server estimates it (durations
/// under a minute count as half a minute).
fn exact_hours(values: &mut [i64], q: f64) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort();
    let rank = ((q * values.len() as f64).ceil() as usize).clamp(1, values.len());
    let secs = values[rank - 1];
    Some(if secs < 60 { 30.0 } else { secs as f64 } / 3600.0)
}

#[track_caller]
fn assert_close(got: &Value, want: Option<f64>, what: &str) {
    match want {
        None => assert!(got.is_null(), "{what}: {got}"),
        Some(w) => {
            let g = got.as_f64().unwrap_or_else(|| panic!("{what}: {got}"));
            // 1 % (the sketch) and the rounding to hundredths of an hour.
            assert!(
                (g - w).abs() <= w * 0.01 + 0.006,
                "{what}: {g} vs exact {w}"
            );
        }
    }
}

async fn check_durations_and_ages(app: &TestApp, token: &str, filter: &Value, facts: &[Facts]) {
    let d = dashboard(
        app,
        token,
        filter.clone(),
        "from to timeToTriage { count medianHours p90Hours } timeToClose { count medianHours p90Hours }
         openIncidentsByAge { minDays maxDays count }
         reportedVsClosed(interval: MONTH) { start reported closed }",
    )
    .await;
    let (from, to) = (date(&d["from"]), date(&d["to"]));
    let within = |t: &Option<(NaiveDate, i64)>| t.filter(|(day, _)| from <= *day && *day <= to);
    for (field, pick) in [
        (
            "timeToTriage",
            (|f: &Facts| f.triaged) as fn(&Facts) -> Option<(NaiveDate, i64)>,
        ),
        ("timeToClose", |f: &Facts| f.closed),
    ] {
        let mut secs: Vec<i64> = facts
            .iter()
            .filter_map(|f| within(&pick(f)).map(|t| t.1))
            .collect();
        let got = &d[field];
        assert_eq!(got["count"], secs.len(), "{field} count, filter {filter}");
        assert_close(&got["medianHours"], exact_hours(&mut secs, 0.5), field);
        assert_close(&got["p90Hours"], exact_hours(&mut secs, 0.9), field);
    }
    let today = london_today();
    let open = |f: &&Facts| {
        matches!(
            f.status.as_str(),
            "REPORTED" | "UNDER_REVIEW" | "INVESTIGATING" | "ACTIONS_IN_PROGRESS"
        )
    };
    for band in d["openIncidentsByAge"].as_array().unwrap() {
        let min = band["minDays"].as_i64().unwrap();
        let max = band["maxDays"].as_i64();
        let want = facts
            .iter()
            .filter(open)
            .filter(|f| {
                let age = (today - f.day).num_days();
                age >= min && max.is_none_or(|m| age <= m)
            })
            .count();
        assert_eq!(
            band["count"], want,
            "open {min}..{max:?} days, filter {filter}"
        );
    }
    let mut reported: BTreeMap<NaiveDate, i64> = BTreeMap::new();
    let mut closed: BTreeMap<NaiveDate, i64> = BTreeMap::new();
    for f in facts {
        if from <= f.day && f.day <= to {
            *reported
                .entry(bucket_start(f.day, from, "MONTH"))
                .or_insert(0) += 1;
        }
        if let Some((day, _)) = within(&f.closed) {
            *closed.entry(bucket_start(day, from, "MONTH")).or_insert(0) += 1;
        }
    }
    for b in d["reportedVsClosed"].as_array().unwrap() {
        let start = date(&b["start"]);
        assert_eq!(
            b["reported"],
            reported.get(&start).copied().unwrap_or(0),
            "{start}"
        );
        assert_eq!(
            b["closed"],
            closed.get(&start).copied().unwrap_or(0),
            "{start}"
        );
    }
}

async fn check_actions(app: &TestApp, token: &str, filter: &Value, department: Option<&str>) {
    let actions: Vec<Value> = every_action(app, token)
        .await
        .into_iter()
        .filter(|a| department.is_none_or(|d| a["department"]["code"] == d))
        .collect();
    let today = london_today();
    let (mut open, mut overdue, mut completed, mut on_time, mut verified, mut effective) =
        (0, 0, 0, 0, 0, 0);
    for a in &actions {
        let status = a["status"].as_str().unwrap();
        let due = date(&a["dueDate"]);
        match status {
            "OPEN" | "IN_PROGRESS" => {
                open += 1;
                if due < today {
                    overdue += 1;
                }
            }
            "COMPLETED" | "VERIFIED" => {
                completed += 1;
                if !a["completedAt"].is_null() && london_date(parse_time(&a["completedAt"])) <= due
                {
                    on_time += 1;
                }
                if status == "VERIFIED" {
                    verified += 1;
                    if a["effective"] == true {
                        effective += 1;
                    }
                }
            }
            _ => {}
        }
    }
    let d = dashboard(
        app,
        token,
        filter.clone(),
        "correctiveActions { open overdue completed completedOnTime completedOnTimePercent
           verified verifiedEffective effectivenessVerifiedPercent
           byDepartment { department { code } open overdue completed }
           byOwner { ownerEmail open overdue completed } }",
    )
    .await;
    let c = &d["correctiveActions"];
    assert!(
        completed > 0 && open > 0,
        "the seed made actions of every kind"
    );
    assert_eq!(
        (
            c["open"].clone(),
            c["overdue"].clone(),
            c["completed"].clone()
        ),
        (json!(open), json!(overdue), json!(completed)),
        "filter {filter}"
    );
    assert_eq!(c["completedOnTime"], on_time);
    assert_eq!(c["verified"], verified);
    assert_eq!(c["verifiedEffective"], effective);
    let pct = |part: i64, whole: i64| (part as f64 * 1000.0 / whole as f64).round() / 10.0;
    assert_eq!(c["completedOnTimePercent"], pct(on_time, completed));
    assert_eq!(c["effectivenessVerifiedPercent"], pct(verified, completed));
    let by_department: i64 = c["byDepartment"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["open"].as_i64().unwrap())
        .sum();
    let by_owner: i64 = c["byOwner"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["overdue"].as_i64().unwrap())
        .sum();
    assert_eq!((by_department, by_owner), (open, overdue));
    let some_owner = actions[0]["ownerEmail"].as_str().unwrap();
    let owned = actions
        .iter()
        .filter(|a| {
            a["ownerEmail"] == some_owner
                && matches!(a["status"].as_str(), Some("OPEN" | "IN_PROGRESS"))
        })
        .count();
    let row = c["byOwner"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["ownerEmail"] == some_owner);
    assert_eq!(row.map_or(0, |r| r["open"].as_i64().unwrap()), owned as i64);
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

async fn pending_deltas(app: &TestApp) -> i64 {
    let db = Database::connect(&app.database_url).await.unwrap();
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

/// Reviews some of the seeded incidents through the API, so that their counted facts
/// change after the recount that seeding made; and reports a few new ones.
async fn review_some(app: &TestApp, ql: &str, incidents: &[Value]) {
    let card = incidents
        .iter()
        .find(|i| i["department"]["code"] == "CARD")
        .unwrap()["department"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let with_status = |s: &'static str| incidents.iter().filter(move |i| i["status"] == s);
    for (n, i) in with_status("REPORTED").take(6).enumerate() {
        let harm = ["NONE", "LOW", "MODERATE"][n % 3];
        app.triage(ql, i, json!({ "physicalHarm": harm, "category": "Device" }))
            .await;
    }
    for i in with_status("UNDER_REVIEW").take(4) {
        app.transition_because(ql, i, "DECLINED", "Not an incident: a planned outage.")
            .await;
    }
    for i in with_status("CLOSED").take(3) {
        app.transition_because(ql, i, "UNDER_REVIEW", "New information from the patient.")
            .await;
    }
    for (n, kind) in ["EQUIPMENT", "RADIATION", "PATIENT_SAFETY"]
        .iter()
        .enumerate()
    {
        let reported = app
            .report_incident(
                ql,
                with(
                    incident_input(&card),
                    json!({ "kind": kind, "physicalHarm": "NONE", "nearMiss": n == 0 }),
                ),
            )
            .await;
        if n == 1 {
            app.close_low_harm(ql, &reported).await;
        }
    }
}

#[tokio::test]
async fn every_figure_equals_a_recount_of_the_records_before_and_after_folding() {
    let app = spawn_app().await;
    seed(&app, 1_500).await;
    let quinn = app.quality_lead("quinn");
    let before = every_incident(&app, &quinn).await;
    review_some(&app, &quinn, &before).await;

    let incidents = every_incident(&app, &quinn).await;
    assert_eq!(incidents.len(), 1_503);
    let card_id = incidents
        .iter()
        .find(|i| i["department"]["code"] == "CARD")
        .unwrap()["department"]["id"]
        .clone();
    let today = london_today();
    let five_years = (today - Duration::days(5 * 365 + 2)).to_string();
    let ninety_days = (today - Duration::days(89)).to_string();
    let whole: Vec<Facts> = incidents.iter().map(facts_of).collect();
    let card: Vec<Facts> = incidents
        .iter()
        .filter(|i| i["department"]["code"] == "CARD")
        .map(facts_of)
        .collect();

    for round in ["with deltas waiting", "after folding"] {
        if round == "after folding" {
            let mut waited = 0;
            while pending_deltas(&app).await > 0 {
                assert!(waited < 150, "the deltas were never folded");
                tokio::time::sleep(StdDuration::from_millis(100)).await;
                waited += 1;
            }
        }
        let trust = json!({ "from": five_years });
        let card_filter = json!({ "from": five_years, "departmentIds": [card_id] });
        for split in [
            None,
            Some("KIND"),
            Some("PHYSICAL_HARM"),
            Some("PSYCHOLOGICAL_HARM"),
            Some("DEPARTMENT"),
            Some("CATEGORY"),
            Some("STATUS"),
            Some("NEAR_MISS"),
        ] {
            check_counts(&app, &quinn, &trust, &whole, "MONTH", split).await;
            check_counts(&app, &quinn, &card_filter, &card, "MONTH", split).await;
        }
        check_counts(&app, &quinn, &trust, &whole, "DAY", Some("PHYSICAL_HARM")).await;
        check_counts(&app, &quinn, &trust, &whole, "WEEK", Some("STATUS")).await;
        let recent = json!({ "from": ninety_days, "departmentIds": [card_id] });
        check_counts(&app, &quinn, &recent, &card, "DAY", Some("PHYSICAL_HARM")).await;
        check_counts(&app, &quinn, &recent, &card, "WEEK", Some("KIND")).await;
        // Periods that start and end inside weeks and months, and the default year.
        let odd = json!({ "from": (today - Duration::days(400)).to_string(), "to": (today - Duration::days(17)).to_string() });
        check_counts(&app, &quinn, &odd, &whole, "MONTH", Some("KIND")).await;
        check_counts(&app, &quinn, &odd, &whole, "WEEK", None).await;
        check_counts(&app, &quinn, &json!({}), &whole, "MONTH", Some("STATUS")).await;

        for filter in [&trust, &card_filter, &recent, &odd] {
            let facts = if filter.get("departmentIds").is_some() {
                &card
            } else {
                &whole
            };
            check_durations_and_ages(&app, &quinn, filter, facts).await;
        }
        check_actions(&app, &quinn, &json!({}), None).await;
        check_actions(
            &app,
            &quinn,
            &json!({ "departmentIds": [card_id] }),
            Some("CARD"),
        )
        .await;
    }
}

#[tokio::test]
async fn audit_compliance_follows_each_criterion_across_re_audits() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let first = app
        .plan_audit(
            &h.quinn,
            with(
                audit_input(&h.cardiology),
                json!({ "title": "ECG lead placement" }),
            ),
        )
        .await;
    let first = app.move_audit(&h.quinn, &first, "IN_PROGRESS").await;
    for (criterion, target, sample, compliant) in [
        ("Leads placed correctly", 95.0, 40, 30),
        ("Patient identity checked", 100.0, 40, 40),
    ] {
        app.record_audit_finding(
            &h.quinn,
            finding_input(
                first["id"].as_str().unwrap(),
                criterion,
                target,
                sample,
                compliant,
            ),
        )
        .await;
    }
    let again = app
        .plan_audit(
            &h.quinn,
            with(
                audit_input(&h.cardiology),
                json!({ "title": "ECG lead placement re-audit", "reauditOfId": first["id"],
                        "plannedStart": days_from_today(30), "plannedEnd": days_from_today(40) }),
            ),
        )
        .await;
    let again = app.move_audit(&h.quinn, &again, "IN_PROGRESS").await;
    app.record_audit_finding(
        &h.quinn,
        finding_input(
            again["id"].as_str().unwrap(),
            "Leads placed correctly",
            95.0,
            40,
            39,
        ),
    )
    .await;
    // Another department's audit is not the handler's to see.
    app.plan_audit(
        &h.quinn,
        with(
            audit_input(&h.neurology),
            json!({ "title": "EEG electrodes" }),
        ),
    )
    .await;

    let selection = "auditCompliance { title department { code } cycles { id title }
        criteria { criterion points { auditId plannedStart compliancePercent targetPercent nonConformity } } }
        nonConformitiesOpen";
    let next_year = json!({ "from": "2026-01-01", "to": days_from_today(365) });
    let d = dashboard(&app, &h.quinn, next_year.clone(), selection).await;
    let series = d["auditCompliance"].as_array().unwrap();
    assert_eq!(series.len(), 2, "{d}");
    let ecg = series
        .iter()
        .find(|s| s["title"] == "ECG lead placement")
        .unwrap();
    assert_eq!(ecg["cycles"].as_array().unwrap().len(), 2);
    let leads = ecg["criteria"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["criterion"] == "Leads placed correctly")
        .unwrap();
    let points: Vec<(f64, bool)> = leads["points"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["compliancePercent"].as_f64().unwrap(),
                p["nonConformity"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(points, vec![(75.0, true), (97.5, false)], "{leads}");
    assert_eq!(
        d["nonConformitiesOpen"], 1,
        "75 % against 95 % has no action yet"
    );

    // A completed action on the finding closes the non-conformity.
    let finding = app.audit(&h.quinn, first["id"].as_str().unwrap()).await["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["nonConformity"] == true)
        .unwrap()
        .clone();
    let action = app
        .create_corrective_action(
            &h.quinn,
            corrective_action_input(finding["id"].as_str().unwrap(), "lead@trust.example"),
        )
        .await;
    let started = app
        .update_action(&h.quinn, &action, json!({ "status": "IN_PROGRESS" }))
        .await;
    app.update_action(&h.quinn, &started, json!({ "status": "COMPLETED" }))
        .await;
    let d = dashboard(&app, &h.quinn, next_year.clone(), "nonConformitiesOpen").await;
    assert_eq!(d["nonConformitiesOpen"], 0);

    // The handler of cardiology sees only cardiology's series.
    let d = dashboard(&app, &h.hana, next_year, selection).await;
    let titles: Vec<&str> = d["auditCompliance"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["title"].as_str().unwrap())
        .collect();
    assert_eq!(titles, vec!["ECG lead placement"]);
}

#[tokio::test]
async fn a_disposed_audit_leaves_audit_compliance_and_open_non_conformities() {
    let app = spawn_app_with(|s| s.retention.audit_years = 0).await;
    let h = app.hospital().await;
    let ig = app.ig_officer("iris");
    let q = &h.quinn;

    // An audit with a non-conformity whose action is still open, closed, so due at once.
    let first = app
        .plan_audit(
            q,
            with(
                audit_input(&h.cardiology),
                json!({ "title": "Consent audit" }),
            ),
        )
        .await;
    let mut first = app.move_audit(q, &first, "IN_PROGRESS").await;
    for (criterion, target, compliant) in [
        ("Consent form signed", 95.0, 30),
        ("Risks recorded", 80.0, 36),
    ] {
        let id = first["id"].as_str().unwrap().to_string();
        first = app
            .record_audit_finding(q, finding_input(&id, criterion, target, 40, compliant))
            .await;
    }
    let below = first["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["nonConformity"] == true)
        .unwrap()
        .clone();
    app.create_corrective_action(
        q,
        corrective_action_input(below["id"].as_str().unwrap(), "lead@trust.example"),
    )
    .await;
    let first = app.move_audit(q, &first, "REPORTED").await;
    let first = app.move_audit(q, &first, "CLOSED").await;
    // Its re-audit, still running, and another audit with a non-conformity of its own.
    let again = app
        .plan_audit(
            q,
            with(
                audit_input(&h.cardiology),
                json!({ "title": "Consent re-audit", "reauditOfId": first["id"],
                        "plannedStart": days_from_today(30), "plannedEnd": days_from_today(40) }),
            ),
        )
        .await;
    let again = app.move_audit(q, &again, "IN_PROGRESS").await;
    app.record_audit_finding(
        q,
        finding_input(
            again["id"].as_str().unwrap(),
            "Consent form signed",
            95.0,
            40,
            39,
        ),
    )
    .await;
    let other = app
        .plan_audit(
            q,
            with(
                audit_input(&h.cardiology),
                json!({ "title": "Hand hygiene" }),
            ),
        )
        .await;
    let other = app.move_audit(q, &other, "IN_PROGRESS").await;
    app.record_audit_finding(
        q,
        finding_input(
            other["id"].as_str().unwrap(),
            "Bare below the elbow",
            100.0,
            20,
            17,
        ),
    )
    .await;

    let selection =
        "auditCompliance { title cycles { id } criteria { criterion points { auditId } } }
        nonConformitiesOpen";
    let period = json!({ "from": "2026-01-01", "to": days_from_today(365) });
    let before = dashboard(&app, q, period.clone(), selection).await;
    let series = before["auditCompliance"].as_array().unwrap();
    assert_eq!(series.len(), 2, "{before}");
    let consent = series
        .iter()
        .find(|s| s["title"] == "Consent audit")
        .unwrap();
    assert_eq!(consent["cycles"].as_array().unwrap().len(), 2, "{before}");
    assert_eq!(before["nonConformitiesOpen"], 2, "{before}");

    let resp = app
        .gql(
            Some(&ig),
            "mutation { disposeDueRecords { incidents audits improvementProjects held } }",
            json!({}),
        )
        .await;
    assert_eq!(resp.assert_ok()["disposeDueRecords"]["audits"], 1, "{resp}");

    // The disposed audit is gone from the figures: no cycle, no "Disposed" criteria, no
    // non-conformity. Its re-audit stands alone.
    let after = dashboard(&app, q, period, selection).await;
    let text = after.to_string();
    assert!(!text.contains("Disposed"), "{after}");
    assert!(
        !text.contains(first["id"].as_str().unwrap()),
        "the disposed audit is shown: {after}"
    );
    let series = after["auditCompliance"].as_array().unwrap();
    let mut titles: Vec<&str> = series
        .iter()
        .map(|s| s["title"].as_str().unwrap())
        .collect();
    titles.sort();
    assert_eq!(titles, ["Consent re-audit", "Hand hygiene"], "{after}");
    let re_audit = series
        .iter()
        .find(|s| s["title"] == "Consent re-audit")
        .unwrap();
    assert_eq!(
        re_audit["cycles"],
        json!([{ "id": again["id"] }]),
        "{after}"
    );
    assert_eq!(
        re_audit["criteria"],
        json!([{ "criterion": "Consent form signed", "points": [{ "auditId": again["id"] }] }]),
        "{after}"
    );
    assert_eq!(
        after["nonConformitiesOpen"], 1,
        "only the hand hygiene audit's: {after}"
    );
}

const EVERYTHING: &str = "from to departments { code }
  incidentCounts(interval: MONTH, splitBy: PHYSICAL_HARM) { total buckets { start total split { key count } } }
  reportedVsClosed(interval: WEEK) { start reported closed }
  timeToTriage { count medianHours p90Hours } timeToClose { count medianHours p90Hours }
  openIncidentsByAge { label count }
  correctiveActions { open overdue completed byDepartment { department { code } open } byOwner { ownerEmail open } }
  auditCompliance { title } nonConformitiesOpen
  improvementMeasures { project { title } measure { name } }";

#[tokio::test]
async fn a_handler_sees_their_departments_figures_only_and_others_none() {
    let app = spawn_app().await;
    seed(&app, 600).await;
    let quinn = app.quality_lead("quinn");
    let cardiology = app
        .gql(Some(&quinn), "{ departments { id code } }", json!({}))
        .await
        .assert_ok()["departments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["code"] == "CARD")
        .unwrap()["id"]
        .clone();
    let hana = app.handler("hana", &["CARD"]);
    let five_years = json!({ "from": days_from_today(-5 * 365) });

    let hanas = dashboard(&app, &hana, five_years.clone(), EVERYTHING).await;
    let card_only = dashboard(
        &app,
        &quinn,
        with(five_years.clone(), json!({ "departmentIds": [cardiology] })),
        EVERYTHING,
    )
    .await;
    assert_eq!(hanas, card_only, "every field is cardiology's alone");
    assert_eq!(hanas["departments"], json!([{ "code": "CARD" }]));
    let trust = dashboard(&app, &quinn, five_years.clone(), EVERYTHING).await;
    assert!(
        trust["incidentCounts"]["total"].as_i64() > hanas["incidentCounts"]["total"].as_i64(),
        "the trust has more than one department's incidents"
    );
    assert!(
        trust["correctiveActions"]["open"].as_i64() > hanas["correctiveActions"]["open"].as_i64()
    );
    assert!(
        trust["improvementMeasures"].as_array().unwrap().len()
            > hanas["improvementMeasures"].as_array().unwrap().len()
    );

    // Another department is not hers to ask for.
    let neurology_like = app
        .gql(Some(&quinn), "{ departments { id code } }", json!({}))
        .await
        .assert_ok()["departments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["code"] == "NUCM")
        .unwrap()["id"]
        .clone();
    app.gql(
        Some(&hana),
        "query($f: DashboardFilter) { dashboard(filter: $f) { from } }",
        json!({ "f": { "departmentIds": [neurology_like] } }),
    )
    .await
    .assert_error("FORBIDDEN", None);

    // Staff, admins and IG officers have no dashboard; a reading service account does.
    for token in [
        app.staff("sam"),
        app.admin("ada"),
        app.ig_officer("ivy"),
        app.service(&["incidents:write"]),
    ] {
        app.gql(Some(&token), "{ dashboard { from } }", json!({}))
            .await
            .assert_error("FORBIDDEN", None);
    }
    app.gql(None, "{ dashboard { from } }", json!({}))
        .await
        .assert_error("UNAUTHENTICATED", None);
    let reader = app.service(&["incidents:read"]);
    assert_eq!(
        dashboard(&app, &reader, five_years, EVERYTHING).await,
        trust
    );

    // Bad input names the field.
    for (filter, field) in [
        (
            json!({ "departmentIds": ["RGVwYXJ0bWVudDowMDAwMDAwMC0wMDAwLTAwMDAtMDAwMC0wMDAwMDAwMDAwMDE="] }),
            "departmentIds",
        ),
        (json!({ "from": "2026-05-02", "to": "2026-05-01" }), "from"),
        (json!({ "from": "1900-01-01" }), "from"),
    ] {
        app.gql(
            Some(&quinn),
            "query($f: DashboardFilter) { dashboard(filter: $f) { from } }",
            json!({ "f": filter }),
        )
        .await
        .assert_error("BAD_USER_INPUT", Some(field));
    }
    app.gql(
        Some(&quinn),
        "query($f: DashboardFilter) { dashboard(filter: $f) { incidentCounts(interval: DAY) { total } } }",
        json!({ "f": { "from": "1990-01-01" } }),
    )
    .await
    .assert_error("BAD_USER_INPUT", Some("interval"));
}

async fn access_log_size(app: &TestApp, ig: &str) -> i64 {
    app.gql(
        Some(ig),
        "{ accessLog(first: 100) { totalCount } }",
        json!({}),
    )
    .await
    .assert_ok()["accessLog"]["totalCount"]
        .as_i64()
        .unwrap()
}

#[tokio::test]
async fn the_dashboard_shows_counts_only_and_logs_no_access() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let secret = "Mrs Eudora Pennyfeather-Quayle was given the wrong dose";
    let incident = app
        .report_incident(
            &h.alice,
            with(
                incident_input(&h.cardiology),
                json!({ "description": secret, "title": "Wrong dose given",
                        "patient": { "nhsNumber": "9434765919", "name": "Eudora Pennyfeather-Quayle" } }),
            ),
        )
        .await;
    app.triage(&h.hana, &incident, json!({ "findings": secret }))
        .await;
    let ig = app.ig_officer("ivy");
    let before = access_log_size(&app, &ig).await;
    let resp = app
        .gql(
            Some(&h.quinn),
            &format!("{{ dashboard {{ {EVERYTHING} categories: incidentCounts(splitBy: CATEGORY) {{ totals {{ key label count }} }} }} }}"),
            json!({}),
        )
        .await;
    resp.assert_ok();
    let text = resp.body.to_string();
    for needle in ["Pennyfeather", "9434765919", "wrong dose", "Alice"] {
        assert!(!text.contains(needle), "{needle} in {text}");
    }
    assert_eq!(resp.body["data"]["dashboard"]["incidentCounts"]["total"], 1);
    assert_eq!(
        access_log_size(&app, &ig).await,
        before,
        "a dashboard read writes no access events"
    );
}

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
