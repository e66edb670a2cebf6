//! Every figure equals a recount of the records, done here from the API's own lists, before
//! and after the server folds its deltas into the rollups.

use super::*;

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
