//! Clinical audits: handlers and quality leads plan audits of a department against a
//! standard, start them, record each criterion's compliance, report them, raise corrective
//! actions on the non-conformities and close them; a re-audit shows how compliance moved.
//! Who may do what, the cycle, the arithmetic, concurrency, the trail, listing and cost.

use std::collections::BTreeSet;

use candour_tests::*;
use futures_util::future::join;
use serde_json::{json, Value};

/// Lena, who leads audits but handles no department.
const LEAD: &str = "lena.lead@candour.test";
/// Olive, a member of staff who owns corrective actions.
const OLIVE: &str = "olive@candour.test";

fn id(v: &Value) -> String {
    v["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no id in {v}"))
        .to_string()
}

fn set(values: &Value) -> BTreeSet<String> {
    values
        .as_array()
        .unwrap_or_else(|| panic!("not a list: {values}"))
        .iter()
        .map(|v| v.as_str().expect("string").to_string())
        .collect()
}

fn set_of(values: &[&str]) -> BTreeSet<String> {
    values.iter().map(|s| s.to_string()).collect()
}

fn ids(values: &[&Value]) -> BTreeSet<String> {
    values.iter().map(|v| id(v)).collect()
}

fn id_set(ids: Vec<String>) -> BTreeSet<String> {
    let n = ids.len();
    let set: BTreeSet<String> = ids.into_iter().collect();
    assert_eq!(set.len(), n, "a list repeats an audit: {set:?}");
    set
}

#[track_caller]
fn assert_percent(value: &Value, expected: f64, what: &str) {
    let v = value
        .as_f64()
        .unwrap_or_else(|| panic!("{what}: expected {expected}, got {value}"));
    assert!(
        (v - expected).abs() < 1e-6,
        "{what}: expected {expected}, got {v}"
    );
}

/// The audit's finding for this criterion (exactly as recorded).
#[track_caller]
fn finding(audit: &Value, criterion: &str) -> Value {
    audit["findings"]
        .as_array()
        .unwrap_or_else(|| panic!("no findings in {audit}"))
        .iter()
        .find(|f| f["criterion"] == criterion)
        .unwrap_or_else(|| panic!("no finding {criterion:?} in {audit}"))
        .clone()
}

fn findings(audit: &Value) -> Vec<Value> {
    audit["findings"]
        .as_array()
        .unwrap_or_else(|| panic!("no findings in {audit}"))
        .clone()
}

/// A cardiology audit planned by the quality lead, with `patch` over the defaults.
async fn planned(app: &TestApp, h: &Hospital, patch: Value) -> Value {
    app.plan_audit(&h.quinn, with(audit_input(&h.cardiology), patch))
        .await
}

/// A cardiology audit planned by the quality lead and started by Hana.
async fn started(app: &TestApp, h: &Hospital, patch: Value) -> Value {
    let audit = planned(app, h, patch).await;
    app.move_audit(&h.hana, &audit, "IN_PROGRESS").await
}

/// Record one criterion's result; returns the audit.
async fn record(
    app: &TestApp,
    token: &str,
    audit: &Value,
    criterion: &str,
    target: f64,
    sample: i64,
    compliant: i64,
) -> Value {
    app.record_audit_finding(
        token,
        finding_input(&id(audit), criterion, target, sample, compliant),
    )
    .await
}

/// A cardiology audit started, with these findings recorded by Hana, and reported.
async fn reported_with(app: &TestApp, h: &Hospital, results: &[(&str, f64, i64, i64)]) -> Value {
    let mut audit = started(app, h, json!({})).await;
    for (criterion, target, sample, compliant) in results {
        audit = record(
            app, &h.hana, &audit, criterion, *target, *sample, *compliant,
        )
        .await;
    }
    app.move_audit(&h.hana, &audit, "REPORTED").await
}

/// A corrective action raised from a finding, owned by Olive.
async fn raise_on(app: &TestApp, token: &str, finding: &Value) -> Value {
    app.create_corrective_action(token, corrective_action_input(&id(finding), OLIVE))
        .await
}

// --- planning ------------------------------------------------------------------------------

#[tokio::test]
async fn a_quality_lead_plans_an_audit_in_the_programme() {
    let app = spawn_app().await;
    let h = app.hospital().await;

    let audit = app
        .plan_audit(
            &h.quinn,
            with(audit_input(&h.cardiology), json!({ "leadEmail": LEAD })),
        )
        .await;

    assert_eq!(audit["status"], "PLANNED");
    assert_eq!(audit["version"], 1);
    assert_eq!(audit["title"], "Consent documentation audit");
    assert_eq!(
        audit["standard"],
        "GMC Decision making and consent (2020), paragraphs 50-57"
    );
    assert_eq!(audit["plannedStart"], "2026-03-02");
    assert_eq!(audit["plannedEnd"], "2026-03-27");
    assert_eq!(audit["leadEmail"], LEAD);
    assert_eq!(audit["department"]["id"], h.cardiology.as_str());
    assert_eq!(audit["department"]["code"], "CARD");
    for field in ["startedAt", "reportedAt", "closedAt", "reauditOf"] {
        assert!(audit[field].is_null(), "{field} is null: {audit}");
    }
    assert_eq!(audit["findings"], json!([]));
    assert_eq!(set(&audit["allowedTransitions"]), set_of(&["IN_PROGRESS"]));

    let reread = app.audit(&h.quinn, &id(&audit)).await;
    assert_eq!(reread, audit);
}

#[tokio::test]
async fn a_handler_plans_audits_of_their_own_department_only() {
    let app = spawn_app().await;
    let h = app.hospital().await;

    let by_hana = app.plan_audit(&h.hana, audit_input(&h.cardiology)).await;
    assert_eq!(by_hana["status"], "PLANNED");
    assert_eq!(by_hana["version"], 1);
    assert_eq!(by_hana["department"]["code"], "CARD");
    assert_eq!(
        set(&by_hana["allowedTransitions"]),
        set_of(&["IN_PROGRESS"])
    );
    let by_nina = app.plan_audit(&h.nina, audit_input(&h.neurology)).await;
    assert_eq!(by_nina["department"]["code"], "NEUR");

    for (who, token, department) in [
        ("a handler of another department", &h.nina, &h.cardiology),
        ("a handler of another department", &h.hana, &h.neurology),
        ("a member of staff", &h.alice, &h.cardiology),
        ("an admin", &h.ada, &h.cardiology),
    ] {
        let resp = app.try_plan_audit(token, audit_input(department)).await;
        assert_eq!(
            resp.error_code().as_deref(),
            Some("FORBIDDEN"),
            "{who}: {resp}"
        );
    }

    assert_eq!(
        id_set(app.audit_ids(&h.quinn, json!({})).await),
        ids(&[&by_hana, &by_nina])
    );
}

#[tokio::test]
async fn planning_refuses_bad_input_on_its_field() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    // Well-formed ids that only another Candour database knows.
    let elsewhere = spawn_app().await;
    let other = elsewhere.hospital().await;
    let foreign_department = elsewhere
        .create_department(&other.ada, "ONCO", "Oncology")
        .await;
    let foreign_audit = elsewhere
        .plan_audit(&other.quinn, audit_input(&other.cardiology))
        .await;

    for (patch, field) in [
        (json!({ "title": "" }), "title"),
        (json!({ "title": "   " }), "title"),
        (json!({ "standard": "" }), "standard"),
        (json!({ "standard": " \t " }), "standard"),
        (
            json!({ "plannedStart": "2026-03-02", "plannedEnd": "2026-03-01" }),
            "plannedEnd",
        ),
        (
            json!({ "departmentId": foreign_department }),
            "departmentId",
        ),
        (
            json!({ "departmentId": "not-a-department" }),
            "departmentId",
        ),
        (json!({ "reauditOfId": id(&foreign_audit) }), "reauditOfId"),
        (json!({ "reauditOfId": h.neurology }), "reauditOfId"),
        (json!({ "leadEmail": "not-an-email" }), "leadEmail"),
        (json!({ "leadEmail": "lena at candour.test" }), "leadEmail"),
    ] {
        let resp = app
            .try_plan_audit(&h.quinn, with(audit_input(&h.cardiology), patch.clone()))
            .await;
        assert_eq!(
            (resp.error_code().as_deref(), resp.error_field().as_deref()),
            (Some("BAD_USER_INPUT"), Some(field)),
            "{patch}: {resp}"
        );
    }
    assert_eq!(
        app.audit_ids(&h.quinn, json!({})).await,
        Vec::<String>::new()
    );

    // An audit may start and end on the same day.
    let one_day = app
        .plan_audit(
            &h.quinn,
            with(
                audit_input(&h.cardiology),
                json!({ "plannedStart": "2026-03-02", "plannedEnd": "2026-03-02" }),
            ),
        )
        .await;
    assert_eq!(one_day["plannedEnd"], "2026-03-02");
    assert_eq!(app.audit_ids(&h.quinn, json!({})).await, vec![id(&one_day)]);
}

// --- reading -------------------------------------------------------------------------------

#[tokio::test]
async fn every_signed_in_person_reads_the_whole_audit_programme() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let cardiac = planned(&app, &h, json!({ "title": "Zanzibar consent audit" })).await;
    let cardiac = app.move_audit(&h.hana, &cardiac, "IN_PROGRESS").await;
    let cardiac = record(&app, &h.hana, &cardiac, "Consent documented", 95.0, 40, 38).await;
    let neuro = app
        .plan_audit(
            &h.nina,
            with(
                audit_input(&h.neurology),
                json!({ "title": "Zanzibar falls audit" }),
            ),
        )
        .await;
    let reader = app.service(&["incidents:read"]);
    let olive = app.staff_with_email("olive", OLIVE);

    for (who, token) in [
        ("staff", &h.alice),
        ("other staff", &h.bob),
        ("staff with no department", &olive),
        ("a handler of another department", &h.nina),
        ("a handler", &h.hana),
        ("an admin", &h.ada),
        ("a quality lead", &h.quinn),
        ("a reading service", &reader),
    ] {
        assert_eq!(
            id_set(app.audit_ids(token, json!({})).await),
            ids(&[&cardiac, &neuro]),
            "{who} lists every audit"
        );
        let seen = app.audit(token, &id(&cardiac)).await;
        assert_eq!(seen["title"], "Zanzibar consent audit", "{who}");
        assert_eq!(seen["status"], "IN_PROGRESS", "{who}");
        assert_eq!(seen["findings"].as_array().map(Vec::len), Some(1), "{who}");
        assert_percent(
            &seen["findings"][0]["compliancePercent"],
            95.0,
            &format!("{who} reads the finding"),
        );
        let seen = app.audit(token, &id(&neuro)).await;
        assert_eq!(seen["title"], "Zanzibar falls audit", "{who}");
    }

    // Reading is not managing: those who may not move an audit are offered no moves.
    for (who, token) in [("staff", &h.alice), ("a handler of NEUR", &h.nina)] {
        let seen = app.audit(token, &id(&cardiac)).await;
        assert_eq!(seen["allowedTransitions"], json!([]), "{who}: {seen}");
    }

    // A service account without incidents:read sees no audit.
    let writer = app.service(&["incidents:write"]);
    let list = app.list_audits(&writer, json!({ "first": 100 })).await;
    if list.errors().is_empty() {
        assert_eq!(list.data()["audits"]["totalCount"], 0, "{list}");
        assert_eq!(list.data()["audits"]["edges"], json!([]), "{list}");
    }
    assert!(!list.body.to_string().contains("Zanzibar"), "{list}");
    let node = app.fetch_audit(&writer, &id(&cardiac)).await;
    assert!(node.data()["node"].is_null(), "{node}");
    assert!(!node.body.to_string().contains("Zanzibar"), "{node}");

    // Nobody signed in: nothing.
    let anonymous = app
        .gql(None, "{ audits(first: 10) { totalCount } }", json!({}))
        .await;
    anonymous.assert_error("UNAUTHENTICATED", None);
}

// --- the cycle -----------------------------------------------------------------------------

#[tokio::test]
async fn an_audit_is_started_reported_and_closed() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let audit = planned(&app, &h, json!({})).await;

    let in_progress = app.move_audit(&h.hana, &audit, "IN_PROGRESS").await;
    assert_eq!(in_progress["status"], "IN_PROGRESS");
    assert_eq!(in_progress["version"], 2);
    let started_at = parse_time(&in_progress["startedAt"]);
    assert!(in_progress["reportedAt"].is_null() && in_progress["closedAt"].is_null());
    assert_eq!(
        set(&in_progress["allowedTransitions"]),
        set_of(&["REPORTED"])
    );

    let with_finding = record(
        &app,
        &h.hana,
        &in_progress,
        "Consent documented",
        90.0,
        40,
        38,
    )
    .await;
    let reported = app.move_audit(&h.quinn, &with_finding, "REPORTED").await;
    assert_eq!(reported["status"], "REPORTED");
    assert_eq!(
        reported["version"],
        with_finding["version"].as_i64().unwrap() + 1
    );
    let reported_at = parse_time(&reported["reportedAt"]);
    assert!(reported_at >= started_at, "{reported}");
    assert!(reported["closedAt"].is_null());
    assert_eq!(
        set(&reported["allowedTransitions"]),
        set_of(&["IN_PROGRESS", "CLOSED"])
    );

    // No non-conformity: nothing to act on before closing.
    let closed = app.move_audit(&h.hana, &reported, "CLOSED").await;
    assert_eq!(closed["status"], "CLOSED");
    assert_eq!(closed["version"], reported["version"].as_i64().unwrap() + 1);
    assert!(parse_time(&closed["closedAt"]) >= reported_at, "{closed}");
    assert_eq!(parse_time(&closed["startedAt"]), started_at);
    assert_eq!(closed["allowedTransitions"], json!([]));

    let reread = app.audit(&h.alice, &id(&audit)).await;
    assert_eq!(reread["status"], "CLOSED");
    assert_eq!(reread["version"], closed["version"]);
    assert_eq!(reread["closedAt"], closed["closedAt"]);
}

#[tokio::test]
async fn a_reported_audit_goes_back_in_progress_for_more_findings() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let reported = reported_with(&app, &h, &[("Consent documented", 90.0, 40, 38)]).await;

    let reopened = app.move_audit(&h.quinn, &reported, "IN_PROGRESS").await;
    assert_eq!(reopened["status"], "IN_PROGRESS");
    assert_eq!(
        reopened["version"],
        reported["version"].as_i64().unwrap() + 1
    );
    assert!(reopened["startedAt"].is_string(), "{reopened}");

    let more = record(&app, &h.hana, &reopened, "Capacity assessed", 80.0, 20, 19).await;
    assert_eq!(findings(&more).len(), 2, "{more}");
    let again = app.move_audit(&h.hana, &more, "REPORTED").await;
    assert_eq!(again["status"], "REPORTED");
    assert!(parse_time(&again["reportedAt"]) >= parse_time(&reported["reportedAt"]));
    let closed = app.move_audit(&h.hana, &again, "CLOSED").await;
    assert_eq!(closed["status"], "CLOSED");
}

#[tokio::test]
async fn an_audit_is_not_reported_without_findings() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let audit = started(&app, &h, json!({})).await;

    app.try_move_audit(&h.quinn, &audit, "REPORTED")
        .await
        .assert_error("BAD_USER_INPUT", Some("findings"));

    let now = app.audit(&h.quinn, &id(&audit)).await;
    assert_eq!(now["status"], "IN_PROGRESS");
    assert_eq!(now["version"], audit["version"]);
    assert!(now["reportedAt"].is_null(), "{now}");
}

#[tokio::test]
async fn moves_outside_the_cycle_are_refused_on_to() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let planned_audit = planned(&app, &h, json!({})).await;
    let in_progress = app
        .move_audit(&h.hana, &planned(&app, &h, json!({})).await, "IN_PROGRESS")
        .await;
    let in_progress = record(
        &app,
        &h.hana,
        &in_progress,
        "Consent documented",
        90.0,
        10,
        10,
    )
    .await;
    let reported = reported_with(&app, &h, &[("Consent documented", 90.0, 10, 10)]).await;
    let closed = app
        .move_audit(
            &h.hana,
            &reported_with(&app, &h, &[("Consent documented", 90.0, 10, 10)]).await,
            "CLOSED",
        )
        .await;

    for (audit, refused) in [
        (&planned_audit, &["PLANNED", "REPORTED", "CLOSED"][..]),
        (&in_progress, &["PLANNED", "IN_PROGRESS", "CLOSED"][..]),
        (&reported, &["PLANNED", "REPORTED"][..]),
        (
            &closed,
            &["PLANNED", "IN_PROGRESS", "REPORTED", "CLOSED"][..],
        ),
    ] {
        for to in refused {
            for token in [&h.quinn, &h.hana] {
                let resp = app.try_move_audit(token, audit, to).await;
                assert_eq!(
                    (resp.error_code().as_deref(), resp.error_field().as_deref()),
                    (Some("BAD_USER_INPUT"), Some("to")),
                    "{} -> {to}: {resp}",
                    audit["status"]
                );
            }
        }
        let now = app.audit(&h.quinn, &id(audit)).await;
        assert_eq!(now["status"], audit["status"]);
        assert_eq!(now["version"], audit["version"]);
    }
}

#[tokio::test]
async fn only_quality_leads_and_the_departments_handlers_move_an_audit() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let audit = planned(&app, &h, json!({ "leadEmail": LEAD })).await;
    let lead = app.staff_with_email("lena", LEAD);
    let reader = app.service(&["incidents:read"]);

    for (who, token) in [
        ("staff", &h.alice),
        ("a handler of another department", &h.nina),
        ("an admin", &h.ada),
        ("the audit's lead", &lead),
        ("a reading service", &reader),
    ] {
        let resp = app.try_move_audit(token, &audit, "IN_PROGRESS").await;
        assert_eq!(
            resp.error_code().as_deref(),
            Some("FORBIDDEN"),
            "{who}: {resp}"
        );
        let seen = app.audit(token, &id(&audit)).await;
        assert_eq!(seen["allowedTransitions"], json!([]), "{who}: {seen}");
    }
    let now = app.audit(&h.quinn, &id(&audit)).await;
    assert_eq!(now["status"], "PLANNED");
    assert_eq!(now["version"], 1);

    let by_hana = app.move_audit(&h.hana, &audit, "IN_PROGRESS").await;
    assert_eq!(by_hana["status"], "IN_PROGRESS");
    let by_hana = record(&app, &lead, &by_hana, "Consent documented", 90.0, 10, 10).await;
    let lead_view = app.audit(&lead, &id(&audit)).await;
    assert_eq!(lead_view["allowedTransitions"], json!([]), "{lead_view}");
    app.try_move_audit(&lead, &by_hana, "REPORTED")
        .await
        .assert_error("FORBIDDEN", None);
    let by_quinn = app.move_audit(&h.quinn, &by_hana, "REPORTED").await;
    assert_eq!(by_quinn["status"], "REPORTED");
}

// --- optimistic concurrency ----------------------------------------------------------------

#[tokio::test]
async fn a_move_based_on_a_stale_version_is_a_conflict() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let audit = started(&app, &h, json!({})).await;
    let stale = record(&app, &h.hana, &audit, "Consent documented", 90.0, 10, 10).await;
    let current = app.move_audit(&h.hana, &stale, "REPORTED").await;

    // Both moves are legal from REPORTED: only the version refuses them.
    for to in ["IN_PROGRESS", "CLOSED"] {
        let resp = app.try_move_audit(&h.quinn, &stale, to).await;
        assert_eq!(
            resp.error_code().as_deref(),
            Some("CONFLICT"),
            "{to}: {resp}"
        );
    }
    let ahead = with(
        current.clone(),
        json!({ "version": current["version"].as_i64().unwrap() + 1 }),
    );
    app.try_move_audit(&h.quinn, &ahead, "CLOSED")
        .await
        .assert_error("CONFLICT", None);

    let now = app.audit(&h.quinn, &id(&audit)).await;
    assert_eq!(now["status"], "REPORTED");
    assert_eq!(now["version"], current["version"]);
    assert!(now["closedAt"].is_null(), "{now}");
}

#[tokio::test]
async fn repeating_a_move_someone_else_already_made_is_a_conflict() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let audit = planned(&app, &h, json!({})).await;
    let started_by_hana = app.move_audit(&h.hana, &audit, "IN_PROGRESS").await;

    // Quinn still sees the audit PLANNED at version 1: the move was legal from what Quinn
    // saw, and what has changed since is the version.
    app.try_move_audit(&h.quinn, &audit, "IN_PROGRESS")
        .await
        .assert_error("CONFLICT", None);

    let with_finding = record(
        &app,
        &h.hana,
        &started_by_hana,
        "Consent documented",
        90.0,
        10,
        10,
    )
    .await;
    let reported = app.move_audit(&h.hana, &with_finding, "REPORTED").await;
    app.try_move_audit(&h.quinn, &with_finding, "REPORTED")
        .await
        .assert_error("CONFLICT", None);

    let now = app.audit(&h.quinn, &id(&audit)).await;
    assert_eq!(now["status"], "REPORTED");
    assert_eq!(now["version"], reported["version"]);
}

#[tokio::test]
async fn two_people_starting_the_same_audit_at_once_one_wins_the_other_conflicts() {
    let app = spawn_app().await;
    let h = app.hospital().await;

    for round in 0..3 {
        let audit = planned(&app, &h, json!({ "title": format!("Audit {round}") })).await;
        let (a, b) = join(
            app.try_move_audit(&h.hana, &audit, "IN_PROGRESS"),
            app.try_move_audit(&h.quinn, &audit, "IN_PROGRESS"),
        )
        .await;

        let outcomes = [&a, &b];
        let winners = outcomes.iter().filter(|r| r.errors().is_empty()).count();
        let conflicts = outcomes
            .iter()
            .filter(|r| r.error_code().as_deref() == Some("CONFLICT"))
            .count();
        assert_eq!(
            (winners, conflicts),
            (1, 1),
            "round {round}: exactly one succeeds and the other is CONFLICT:\n{a}\n{b}"
        );
        let now = app.audit(&h.quinn, &id(&audit)).await;
        assert_eq!(now["status"], "IN_PROGRESS");
        assert_eq!(now["version"], 2, "{now}");
        let history = app.audit_history(&h.quinn, &id(&audit)).await;
        let moves = history
            .iter()
            .filter(|e| e["action"] == "audit.transitioned")
            .count();
        assert_eq!(
            moves, 1,
            "only the winner's move is in the trail: {history:?}"
        );
    }
}

// --- findings ------------------------------------------------------------------------------

#[tokio::test]
async fn compliance_is_computed_from_the_sample_and_below_target_is_a_non_conformity() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let mut audit = started(&app, &h, json!({})).await;
    // (criterion, target, sample, compliant, compliance, non-conformity)
    let cases: [(&str, f64, i64, i64, f64, bool); 7] = [
        ("Consent documented", 90.0, 40, 36, 90.0, false),
        ("Risks discussed", 90.0, 40, 35, 87.5, true),
        ("Capacity assessed", 66.6, 3, 2, 200.0 / 3.0, false),
        ("Alternatives discussed", 66.7, 3, 2, 200.0 / 3.0, true),
        ("Signed by the patient", 100.0, 100, 100, 100.0, false),
        ("Copy offered", 100.0, 10, 9, 90.0, true),
        ("Interpreter booked", 0.0, 10, 0, 0.0, false),
    ];

    for (criterion, target, sample, compliant, _, _) in cases {
        audit = record(&app, &h.hana, &audit, criterion, target, sample, compliant).await;
    }

    let reread = app.audit(&h.alice, &id(&audit)).await;
    let recorded = findings(&reread);
    assert_eq!(
        recorded
            .iter()
            .map(|f| f["criterion"].as_str().unwrap())
            .collect::<Vec<_>>(),
        cases.iter().map(|c| c.0).collect::<Vec<_>>(),
        "findings are listed in the order recorded"
    );
    for (f, (criterion, target, sample, compliant, compliance, below)) in recorded.iter().zip(cases)
    {
        assert_percent(&f["targetPercent"], target, criterion);
        assert_eq!(f["sampleSize"], sample, "{criterion}: {f}");
        assert_eq!(f["compliantCount"], compliant, "{criterion}: {f}");
        assert_percent(&f["compliancePercent"], compliance, criterion);
        assert_eq!(f["nonConformity"], below, "{criterion}: {f}");
        assert!(
            f["previousCompliancePercent"].is_null() && f["complianceChange"].is_null(),
            "no earlier audit to compare with: {f}"
        );
        assert_eq!(f["correctiveActions"], json!([]));
        assert_eq!(f["audit"]["id"], audit["id"]);
        parse_time(&f["recordedAt"]);
    }

    // A finding is a node of its own, and knows its audit.
    let first = &recorded[0];
    let resp = app
        .gql(
            Some(&h.bob),
            "query($id: ID!) { node(id: $id) { __typename ... on AuditFinding {
               id criterion compliancePercent audit { id title }
             } } }",
            json!({ "id": first["id"] }),
        )
        .await;
    let node = &resp.assert_ok()["node"];
    assert_eq!(node["__typename"], "AuditFinding", "{resp}");
    assert_eq!(node["id"], first["id"]);
    assert_eq!(node["criterion"], "Consent documented");
    assert_eq!(node["audit"]["id"], audit["id"]);
}

#[tokio::test]
async fn bad_finding_numbers_are_refused_on_their_field() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let audit = started(&app, &h, json!({})).await;
    let audit_id = id(&audit);

    for (criterion, target, sample, compliant, field) in [
        ("Consent documented", 90.0, 0, 0, "sampleSize"),
        ("Consent documented", 90.0, -5, 0, "sampleSize"),
        ("Consent documented", 90.0, 40, 41, "compliantCount"),
        ("Consent documented", 90.0, 40, -1, "compliantCount"),
        ("Consent documented", 100.5, 40, 36, "targetPercent"),
        ("Consent documented", -1.0, 40, 36, "targetPercent"),
        ("", 90.0, 40, 36, "criterion"),
        ("   ", 90.0, 40, 36, "criterion"),
    ] {
        let resp = app
            .try_record_audit_finding(
                &h.hana,
                finding_input(&audit_id, criterion, target, sample, compliant),
            )
            .await;
        assert_eq!(
            (resp.error_code().as_deref(), resp.error_field().as_deref()),
            (Some("BAD_USER_INPUT"), Some(field)),
            "{criterion:?} target {target} {compliant} of {sample}: {resp}"
        );
    }

    let now = app.audit(&h.quinn, &audit_id).await;
    assert_eq!(now["findings"], json!([]), "nothing was recorded: {now}");
}

#[tokio::test]
async fn findings_are_recorded_only_while_the_audit_is_in_progress() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let planned_audit = planned(&app, &h, json!({})).await;
    let reported = reported_with(&app, &h, &[("Consent documented", 90.0, 10, 10)]).await;
    let closed = app
        .move_audit(
            &h.hana,
            &reported_with(&app, &h, &[("Consent documented", 90.0, 10, 10)]).await,
            "CLOSED",
        )
        .await;

    for audit in [&planned_audit, &reported, &closed] {
        for token in [&h.quinn, &h.hana] {
            let resp = app
                .try_record_audit_finding(
                    token,
                    finding_input(&id(audit), "Capacity assessed", 80.0, 10, 2),
                )
                .await;
            assert_eq!(
                (resp.error_code().as_deref(), resp.error_field().as_deref()),
                (Some("BAD_USER_INPUT"), Some("auditId")),
                "{}: {resp}",
                audit["status"]
            );
        }
        let now = app.audit(&h.quinn, &id(audit)).await;
        assert_eq!(now["findings"], audit["findings"], "{now}");
    }
}

#[tokio::test]
async fn the_lead_the_departments_handlers_and_quality_leads_record_findings() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let audit = started(&app, &h, json!({ "leadEmail": LEAD })).await;
    // The lead, whatever the case of the email in their token.
    let lead = app.staff_with_email("lena", "Lena.Lead@Candour.TEST");

    let after_hana = record(&app, &h.hana, &audit, "Consent documented", 90.0, 40, 36).await;
    let after_quinn = record(
        &app,
        &h.quinn,
        &after_hana,
        "Capacity assessed",
        80.0,
        20,
        16,
    )
    .await;
    let after_lead = record(&app, &lead, &after_quinn, "Risks discussed", 95.0, 20, 20).await;
    assert_eq!(findings(&after_lead).len(), 3, "{after_lead}");

    let namesake = app.staff_with_email("lena2", "lena.lead@elsewhere.test");
    let reader = app.service(&["incidents:read"]);
    for (who, token) in [
        ("staff", &h.alice),
        ("other staff", &h.bob),
        ("someone with another email", &namesake),
        ("a handler of another department", &h.nina),
        ("an admin", &h.ada),
        ("a reading service", &reader),
    ] {
        let resp = app
            .try_record_audit_finding(
                token,
                finding_input(&id(&audit), "Alternatives discussed", 90.0, 10, 3),
            )
            .await;
        assert_eq!(
            resp.error_code().as_deref(),
            Some("FORBIDDEN"),
            "{who}: {resp}"
        );
    }
    let now = app.audit(&h.quinn, &id(&audit)).await;
    assert_eq!(findings(&now).len(), 3, "{now}");
}

#[tokio::test]
async fn recording_a_criterion_again_corrects_it_instead_of_adding_one() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let audit = started(&app, &h, json!({})).await;
    let first = record(&app, &h.hana, &audit, "Consent documented", 95.0, 40, 30).await;
    let original = finding(&first, "Consent documented");
    assert_eq!(original["nonConformity"], true);
    let with_other = record(&app, &h.hana, &first, "Capacity assessed", 80.0, 20, 18).await;

    let corrected = record(
        &app,
        &h.quinn,
        &with_other,
        "  CONSENT   documented ",
        95.0,
        40,
        39,
    )
    .await;

    let all = findings(&corrected);
    assert_eq!(all.len(), 2, "still one finding per criterion: {corrected}");
    let consent = all
        .iter()
        .find(|f| f["id"] == original["id"])
        .unwrap_or_else(|| panic!("the original finding is kept and corrected: {corrected}"));
    assert_eq!(consent["sampleSize"], 40);
    assert_eq!(consent["compliantCount"], 39);
    assert_percent(&consent["compliancePercent"], 97.5, "corrected compliance");
    assert_eq!(consent["nonConformity"], false, "{consent}");
    let capacity = finding(&corrected, "Capacity assessed");
    assert_eq!(capacity["compliantCount"], 18);

    let reread = app.audit(&h.alice, &id(&audit)).await;
    assert_eq!(findings(&reread).len(), 2, "{reread}");
}

// --- closing -------------------------------------------------------------------------------

#[tokio::test]
async fn a_non_conformity_needs_a_corrective_action_before_the_audit_closes() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let reported = reported_with(
        &app,
        &h,
        &[
            ("Consent documented", 95.0, 40, 30),
            ("Capacity assessed", 80.0, 20, 18),
        ],
    )
    .await;
    let below = finding(&reported, "Consent documented");
    assert_eq!(below["nonConformity"], true);
    assert_eq!(
        finding(&reported, "Capacity assessed")["nonConformity"],
        false
    );

    for token in [&h.quinn, &h.hana] {
        app.try_move_audit(token, &reported, "CLOSED")
            .await
            .assert_error("BAD_USER_INPUT", Some("findings"));
    }
    let now = app.audit(&h.quinn, &id(&reported)).await;
    assert_eq!(now["status"], "REPORTED");
    assert_eq!(now["version"], reported["version"]);
    assert!(now["closedAt"].is_null(), "{now}");

    let action = raise_on(&app, &h.hana, &below).await;
    assert_eq!(action["status"], "OPEN");
    assert_eq!(action["source"]["__typename"], "AuditFinding");
    let resp = app
        .gql(
            Some(&h.quinn),
            "query($id: ID!) { node(id: $id) { ... on CorrectiveAction {
               id source { __typename ... on AuditFinding { id criterion audit { id } } }
             } } }",
            json!({ "id": action["id"] }),
        )
        .await;
    let source = &resp.assert_ok()["node"]["source"];
    assert_eq!(source["__typename"], "AuditFinding", "{resp}");
    assert_eq!(source["id"], below["id"], "{resp}");
    assert_eq!(source["criterion"], "Consent documented", "{resp}");
    assert_eq!(source["audit"]["id"], reported["id"], "{resp}");

    let now = app.audit(&h.quinn, &id(&reported)).await;
    let listed = finding(&now, "Consent documented");
    assert_eq!(
        listed["correctiveActions"]
            .as_array()
            .unwrap()
            .iter()
            .map(id)
            .collect::<Vec<_>>(),
        vec![id(&action)],
        "{listed}"
    );
    assert_eq!(
        finding(&now, "Capacity assessed")["correctiveActions"],
        json!([])
    );

    let closed = app.move_audit(&h.quinn, &now, "CLOSED").await;
    assert_eq!(closed["status"], "CLOSED");
    assert!(closed["closedAt"].is_string(), "{closed}");
}

#[tokio::test]
async fn a_cancelled_action_does_not_let_the_audit_close() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let reported = reported_with(&app, &h, &[("Consent documented", 95.0, 40, 30)]).await;
    let below = finding(&reported, "Consent documented");
    let action = raise_on(&app, &h.quinn, &below).await;
    let cancelled = app
        .update_action(
            &h.hana,
            &action,
            json!({ "status": "CANCELLED", "note": "Raised against the wrong criterion" }),
        )
        .await;
    assert_eq!(cancelled["status"], "CANCELLED");

    app.try_move_audit(&h.quinn, &reported, "CLOSED")
        .await
        .assert_error("BAD_USER_INPUT", Some("findings"));
    assert_eq!(
        app.audit(&h.quinn, &id(&reported)).await["status"],
        "REPORTED"
    );

    raise_on(&app, &h.hana, &below).await;
    let closed = app.move_audit(&h.quinn, &reported, "CLOSED").await;
    assert_eq!(closed["status"], "CLOSED");
}

#[tokio::test]
async fn findings_of_a_closed_audit_take_no_new_actions() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let reported = reported_with(
        &app,
        &h,
        &[
            ("Consent documented", 95.0, 40, 30),
            ("Capacity assessed", 80.0, 20, 18),
        ],
    )
    .await;
    let below = finding(&reported, "Consent documented");
    let action = raise_on(&app, &h.hana, &below).await;
    let closed = app.move_audit(&h.quinn, &reported, "CLOSED").await;

    for f in [&below, &finding(&closed, "Capacity assessed")] {
        for token in [&h.quinn, &h.hana] {
            let resp = app
                .try_create_corrective_action(token, corrective_action_input(&id(f), OLIVE))
                .await;
            assert_eq!(
                (resp.error_code().as_deref(), resp.error_field().as_deref()),
                (Some("BAD_USER_INPUT"), Some("sourceId")),
                "{}: {resp}",
                f["criterion"]
            );
        }
    }

    let now = app.audit(&h.quinn, &id(&closed)).await;
    let listed: Vec<String> = findings(&now)
        .iter()
        .flat_map(|f| f["correctiveActions"].as_array().unwrap().clone())
        .map(|a| id(&a))
        .collect();
    assert_eq!(listed, vec![id(&action)], "{now}");
}

// --- re-audit ------------------------------------------------------------------------------

#[tokio::test]
async fn a_reaudit_shows_how_compliance_moved_since_the_audit_it_repeats() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let first = reported_with(
        &app,
        &h,
        &[
            ("Consent documented", 90.0, 40, 28),
            ("Hand hygiene", 85.0, 50, 45),
        ],
    )
    .await;
    raise_on(&app, &h.hana, &finding(&first, "Consent documented")).await;
    let first = app.move_audit(&h.quinn, &first, "CLOSED").await;

    let reaudit = app
        .plan_audit(
            &h.hana,
            with(
                audit_input(&h.cardiology),
                json!({
                    "title": "Consent documentation re-audit",
                    "plannedStart": "2026-09-01",
                    "plannedEnd": "2026-09-30",
                    "reauditOfId": first["id"],
                }),
            ),
        )
        .await;
    assert_eq!(reaudit["reauditOf"]["id"], first["id"]);
    assert_eq!(reaudit["reauditOf"]["title"], "Consent documentation audit");
    assert_eq!(reaudit["reauditOf"]["status"], "CLOSED");

    let reaudit = app.move_audit(&h.hana, &reaudit, "IN_PROGRESS").await;
    let reaudit = record(
        &app,
        &h.hana,
        &reaudit,
        " CONSENT  documented",
        90.0,
        40,
        36,
    )
    .await;
    let reaudit = record(&app, &h.hana, &reaudit, "hand hygiene", 85.0, 50, 40).await;
    let reaudit = record(&app, &h.hana, &reaudit, "Falls assessment", 90.0, 10, 9).await;

    let seen = app.audit(&h.bob, &id(&reaudit)).await;
    assert_eq!(seen["reauditOf"]["id"], first["id"]);
    let by_position = findings(&seen);
    assert_eq!(by_position.len(), 3, "{seen}");
    let (consent, hygiene, falls) = (&by_position[0], &by_position[1], &by_position[2]);
    assert_percent(&consent["compliancePercent"], 90.0, "consent now");
    assert_percent(
        &consent["previousCompliancePercent"],
        70.0,
        "consent before",
    );
    assert_percent(&consent["complianceChange"], 20.0, "consent change");
    assert_percent(&hygiene["compliancePercent"], 80.0, "hygiene now");
    assert_percent(
        &hygiene["previousCompliancePercent"],
        90.0,
        "hygiene before",
    );
    assert_percent(&hygiene["complianceChange"], -10.0, "hygiene change");
    assert_percent(&falls["compliancePercent"], 90.0, "falls now");
    assert!(
        falls["previousCompliancePercent"].is_null() && falls["complianceChange"].is_null(),
        "a new criterion has nothing to compare with: {falls}"
    );

    // The audit it repeats compares with nothing.
    let original = app.audit(&h.bob, &id(&first)).await;
    assert!(original["reauditOf"].is_null());
    for f in findings(&original) {
        assert!(
            f["previousCompliancePercent"].is_null() && f["complianceChange"].is_null(),
            "{f}"
        );
    }
}

// --- the trail -----------------------------------------------------------------------------

#[tokio::test]
async fn every_change_to_an_audit_is_in_its_history() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let lead = app.staff_with_email("lena", LEAD);

    let plan = app
        .try_plan_audit(
            &h.quinn,
            with(audit_input(&h.cardiology), json!({ "leadEmail": LEAD })),
        )
        .await;
    let audit = plan.assert_ok()["planAudit"]["audit"].clone();
    let start = app.try_move_audit(&h.hana, &audit, "IN_PROGRESS").await;
    let in_progress = start.assert_ok()["transitionAudit"]["audit"].clone();
    let mut finding_responses = Vec::new();
    let mut current = in_progress;
    for (token, criterion, compliant) in [
        (&lead, "Consent documented", 30),
        (&h.hana, "consent documented", 38),
        (&h.quinn, "Capacity assessed", 20),
    ] {
        let resp = app
            .try_record_audit_finding(
                token,
                finding_input(&id(&audit), criterion, 90.0, 40, compliant),
            )
            .await;
        current = resp.assert_ok()["recordAuditFinding"]["audit"].clone();
        finding_responses.push(resp);
    }
    let report = app.try_move_audit(&h.quinn, &current, "REPORTED").await;
    report.assert_ok();

    let history = app.audit_history(&h.alice, &id(&audit)).await;

    let pretty = serde_json::to_string_pretty(&history).unwrap();
    let of = |action: &str| -> Vec<&Value> {
        history.iter().filter(|e| e["action"] == action).collect()
    };
    let planned_events = of("audit.planned");
    assert_eq!(planned_events.len(), 1, "one planning event: {pretty}");
    assert_eq!(planned_events[0]["requestId"], plan.request_id().as_str());
    assert_eq!(planned_events[0]["actor"]["name"], "Quinn Test");
    assert_eq!(planned_events[0]["entityType"], "Audit");

    let recorded = of("audit.finding_recorded");
    assert_eq!(
        recorded.len(),
        3,
        "one event per finding recorded: {pretty}"
    );
    for (event, resp, actor) in [
        (recorded[0], &finding_responses[0], "Lena Test"),
        (recorded[1], &finding_responses[1], "Hana Test"),
        (recorded[2], &finding_responses[2], "Quinn Test"),
    ] {
        assert_eq!(event["requestId"], resp.request_id().as_str(), "{event}");
        assert_eq!(event["actor"]["name"], actor, "{event}");
        assert_eq!(event["entityType"], "Audit", "{event}");
    }

    let moves = of("audit.transitioned");
    assert_eq!(moves.len(), 2, "one event per move: {pretty}");
    for (event, resp, actor, before, after) in [
        (moves[0], &start, "Hana Test", "PLANNED", "IN_PROGRESS"),
        (moves[1], &report, "Quinn Test", "IN_PROGRESS", "REPORTED"),
    ] {
        assert_eq!(event["requestId"], resp.request_id().as_str(), "{event}");
        assert_eq!(event["actor"]["name"], actor, "{event}");
        let status = event["changes"]
            .as_array()
            .and_then(|cs| cs.iter().find(|c| c["field"] == "status"))
            .unwrap_or_else(|| panic!("no status change: {event}"));
        assert_eq!(status["before"], before, "{event}");
        assert_eq!(status["after"], after, "{event}");
    }

    assert_eq!(history.len(), 6, "nothing else in the trail: {pretty}");
    let times: Vec<_> = history.iter().map(|e| parse_time(&e["at"])).collect();
    let mut sorted = times.clone();
    sorted.sort();
    assert_eq!(times, sorted, "history is oldest first: {pretty}");
    let order: Vec<&str> = history
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        order,
        [
            "audit.planned",
            "audit.transitioned",
            "audit.finding_recorded",
            "audit.finding_recorded",
            "audit.finding_recorded",
            "audit.transitioned",
        ]
    );
}

// --- listing -------------------------------------------------------------------------------

/// Every page of `audits`, `page` at a time, checking the page info and total on the way;
/// returns the nodes in order.
async fn all_pages(app: &TestApp, token: &str, page: usize) -> Vec<Value> {
    let mut nodes: Vec<Value> = Vec::new();
    let mut after: Option<String> = None;
    let mut total = None;
    for _ in 0..50 {
        let resp = app
            .list_audits(token, json!({ "first": page, "after": after }))
            .await;
        let connection = resp.assert_ok()["audits"].clone();
        let count = connection["totalCount"].as_u64().expect("totalCount");
        assert_eq!(*total.get_or_insert(count), count, "totalCount is stable");
        assert_eq!(
            connection["pageInfo"]["hasPreviousPage"],
            after.is_some(),
            "{resp}"
        );
        let edges = connection["edges"].as_array().unwrap();
        assert!(edges.len() <= page, "{resp}");
        nodes.extend(edges.iter().map(|e| e["node"].clone()));
        if !connection["pageInfo"]["hasNextPage"].as_bool().unwrap() {
            assert_eq!(nodes.len() as u64, count, "pages add up to totalCount");
            return nodes;
        }
        assert_eq!(edges.len(), page, "only the last page is short: {resp}");
        assert_eq!(
            connection["pageInfo"]["endCursor"],
            edges.last().unwrap()["cursor"],
            "{resp}"
        );
        after = Some(
            connection["pageInfo"]["endCursor"]
                .as_str()
                .expect("endCursor")
                .to_string(),
        );
    }
    panic!("paging never ended")
}

#[tokio::test]
async fn the_programme_pages_to_the_end_by_planned_start_without_gaps() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    // Twelve audits over four start dates (so pages split ties), planned out of date order.
    let mut planned_ids = Vec::new();
    for i in 0..12u32 {
        let day = 1 + (i * 7) % 4 * 9;
        let (token, department) = match i % 3 {
            0 => (&h.nina, &h.neurology),
            1 => (&h.hana, &h.cardiology),
            _ => (&h.quinn, &h.cardiology),
        };
        let audit = app
            .plan_audit(
                token,
                with(
                    audit_input(department),
                    json!({
                        "title": format!("Audit {i}"),
                        "plannedStart": format!("2026-05-{day:02}"),
                        "plannedEnd": "2026-06-30",
                    }),
                ),
            )
            .await;
        planned_ids.push(id(&audit));
    }

    let nodes = all_pages(&app, &h.alice, 5).await;

    let listed: Vec<String> = nodes.iter().map(id).collect();
    assert_eq!(id_set(listed), planned_ids.into_iter().collect());
    let starts: Vec<&str> = nodes
        .iter()
        .map(|n| n["plannedStart"].as_str().unwrap())
        .collect();
    let mut sorted = starts.clone();
    sorted.sort();
    assert_eq!(starts, sorted, "earliest planned start first");
}

/// An audit of `department` planned by `token` with this title and planned period.
async fn plan_in(
    app: &TestApp,
    token: &str,
    department: &str,
    title: &str,
    start: &str,
    end: &str,
) -> Value {
    app.plan_audit(
        token,
        with(
            audit_input(department),
            json!({ "title": title, "plannedStart": start, "plannedEnd": end }),
        ),
    )
    .await
}

#[tokio::test]
async fn the_programme_filters_by_status_department_planned_period_and_title() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let consent = plan_in(
        &app,
        &h.hana,
        &h.cardiology,
        "Consent documentation audit",
        "2026-03-02",
        "2026-03-27",
    )
    .await;
    let hygiene = plan_in(
        &app,
        &h.hana,
        &h.cardiology,
        "Hand hygiene audit",
        "2026-04-01",
        "2026-04-30",
    )
    .await;
    let hygiene = app.move_audit(&h.hana, &hygiene, "IN_PROGRESS").await;
    let falls = plan_in(
        &app,
        &h.nina,
        &h.neurology,
        "Falls risk assessment re-audit",
        "2026-02-01",
        "2026-03-01",
    )
    .await;
    let falls = app.move_audit(&h.nina, &falls, "IN_PROGRESS").await;
    let falls = record(&app, &h.nina, &falls, "Assessed on admission", 90.0, 10, 10).await;
    let falls = app.move_audit(&h.nina, &falls, "REPORTED").await;
    let falls = app.move_audit(&h.nina, &falls, "CLOSED").await;
    let neuro_consent = plan_in(
        &app,
        &h.nina,
        &h.neurology,
        "CONSENT in neurology",
        "2026-05-01",
        "2026-05-31",
    )
    .await;
    let neuro_consent = app.move_audit(&h.nina, &neuro_consent, "IN_PROGRESS").await;
    let neuro_consent = record(
        &app,
        &h.nina,
        &neuro_consent,
        "Consent documented",
        90.0,
        10,
        10,
    )
    .await;
    let neuro_consent = app.move_audit(&h.nina, &neuro_consent, "REPORTED").await;

    // Unfiltered: by planned start.
    assert_eq!(
        app.audit_ids(&h.bob, json!({})).await,
        vec![id(&falls), id(&consent), id(&hygiene), id(&neuro_consent)]
    );

    for (filter, expected) in [
        (json!({ "status": ["PLANNED"] }), vec![&consent]),
        (json!({ "status": ["IN_PROGRESS"] }), vec![&hygiene]),
        (
            json!({ "status": ["REPORTED", "CLOSED"] }),
            vec![&falls, &neuro_consent],
        ),
        (
            json!({ "departmentId": h.cardiology }),
            vec![&consent, &hygiene],
        ),
        (
            json!({ "departmentId": h.neurology }),
            vec![&falls, &neuro_consent],
        ),
        // Overlap, ends inclusive: Falls ends the day before March 2.
        (
            json!({ "plannedFrom": "2026-03-02", "plannedTo": "2026-03-31" }),
            vec![&consent],
        ),
        (
            json!({ "plannedFrom": "2026-03-01", "plannedTo": "2026-04-01" }),
            vec![&falls, &consent, &hygiene],
        ),
        // A window inside an audit's period overlaps it.
        (
            json!({ "plannedFrom": "2026-03-15", "plannedTo": "2026-03-15" }),
            vec![&consent],
        ),
        // A window containing an audit's period overlaps it too.
        (
            json!({ "plannedFrom": "2026-04-15", "plannedTo": "2026-06-30" }),
            vec![&hygiene, &neuro_consent],
        ),
        (
            json!({ "plannedFrom": "2026-06-01", "plannedTo": "2026-12-31" }),
            vec![],
        ),
        (
            json!({ "plannedFrom": "2026-04-30" }),
            vec![&hygiene, &neuro_consent],
        ),
        (json!({ "plannedTo": "2026-03-01" }), vec![&falls]),
        (
            json!({ "search": "consent" }),
            vec![&consent, &neuro_consent],
        ),
        (json!({ "search": "HYGIENE" }), vec![&hygiene]),
        (json!({ "search": "re-audit" }), vec![&falls]),
        (json!({ "search": "zanzibar" }), vec![]),
        (
            json!({ "search": "consent", "departmentId": h.neurology }),
            vec![&neuro_consent],
        ),
        (
            json!({ "status": ["PLANNED", "IN_PROGRESS"], "departmentId": h.cardiology,
                    "plannedFrom": "2026-04-01" }),
            vec![&hygiene],
        ),
    ] {
        let resp = app
            .list_audits(&h.alice, json!({ "first": 100, "filter": filter }))
            .await;
        let connection = &resp.assert_ok()["audits"];
        let expected: Vec<String> = expected.iter().map(|a| id(a)).collect();
        assert_eq!(node_ids(connection), expected, "{filter}: {resp}");
        assert_eq!(connection["totalCount"], expected.len(), "{filter}: {resp}");
    }
}

// --- cost ----------------------------------------------------------------------------------

#[tokio::test]
async fn reading_findings_through_a_page_of_audits_does_not_query_per_row() {
    let app = spawn_app_with(|s| s.diagnostics.sql_statement_count = true).await;
    let h = app.hospital().await;
    // A chain of re-audits, one a week, each repeating the one before: every audit has two
    // findings with an action each, and compares with its predecessor.
    let mut previous: Option<String> = None;
    for i in 0..16i64 {
        let start =
            chrono::NaiveDate::from_ymd_opt(2026, 1, 5).unwrap() + chrono::Duration::weeks(i);
        let mut input = with(
            audit_input(&h.cardiology),
            json!({
                "title": format!("Consent audit cycle {i}"),
                "plannedStart": start.to_string(),
                "plannedEnd": (start + chrono::Duration::days(5)).to_string(),
            }),
        );
        if let Some(prev) = &previous {
            input = with(input, json!({ "reauditOfId": prev }));
        }
        let audit = app.plan_audit(&h.quinn, input).await;
        let audit = app.move_audit(&h.quinn, &audit, "IN_PROGRESS").await;
        let audit = record(
            &app,
            &h.quinn,
            &audit,
            "Consent documented",
            95.0,
            40,
            30 + i % 8,
        )
        .await;
        let audit = record(
            &app,
            &h.quinn,
            &audit,
            "Capacity assessed",
            80.0,
            20,
            10 + i % 9,
        )
        .await;
        for f in findings(&audit) {
            raise_on(&app, &h.quinn, &f).await;
        }
        previous = Some(id(&audit));
    }
    let query = "query($first: Int) { audits(first: $first) { edges { node {
                   findings { compliancePercent previousCompliancePercent correctiveActions { title } }
                 } } } }";

    // Three samples per page size, keeping the fewest (see listing.rs: a DataLoader batch
    // may split under load; an N+1 shows in every sample).
    let mut samples: Vec<(usize, u64)> = Vec::new();
    for first in [3, 15, 3, 15, 3, 15] {
        let resp = app
            .gql(Some(&h.quinn), query, json!({ "first": first }))
            .await;
        let edges = resp.assert_ok()["audits"]["edges"].as_array().unwrap();
        assert_eq!(edges.len(), first, "{resp}");
        let all: Vec<&Value> = edges
            .iter()
            .flat_map(|e| {
                e["node"]["findings"]
                    .as_array()
                    .unwrap_or_else(|| panic!("findings listed: {e}"))
                    .iter()
            })
            .collect();
        assert_eq!(all.len(), 2 * first, "two findings per audit: {resp}");
        assert!(
            all.iter().all(|f| f["correctiveActions"]
                .as_array()
                .is_some_and(|a| a.len() == 1)),
            "every finding lists its action: {resp}"
        );
        assert!(
            all.iter()
                .filter(|f| f["previousCompliancePercent"].is_number())
                .count()
                >= 2 * (first - 1),
            "re-audits compare with the audit they repeat: {resp}"
        );
        let statements: u64 = resp
            .header("x-sql-statements")
            .unwrap_or_else(|| panic!("no x-sql-statements header with diagnostics on: {resp:?}"))
            .parse()
            .expect("x-sql-statements is a number");
        samples.push((first, statements));
    }
    let fewest = |n: usize| {
        samples
            .iter()
            .filter(|(first, _)| *first == n)
            .map(|(_, s)| *s)
            .min()
            .unwrap()
    };

    assert_eq!(
        fewest(3),
        fewest(15),
        "SQL statements grow with the page (an N+1 under findings): \
         (first, statements) samples {samples:?}"
    );
}

/// Pages through `audits(orderBy: ...)` two at a time and returns the ids in order.
async fn ordered_audit_ids(app: &TestApp, token: &str, order: Value) -> Vec<String> {
    let mut ids = Vec::new();
    let mut after = Value::Null;
    loop {
        let resp = app
            .gql(
                Some(token),
                "query($after: String, $order: AuditOrder) {
                   audits(first: 2, after: $after, orderBy: $order) {
                     pageInfo { hasNextPage endCursor }
                     edges { node { id } }
                   }
                 }",
                json!({ "after": after, "order": order }),
            )
            .await;
        let page = resp.assert_ok()["audits"].clone();
        ids.extend(node_ids(&page));
        if page["pageInfo"]["hasNextPage"] != true {
            return ids;
        }
        after = page["pageInfo"]["endCursor"].clone();
    }
}

#[tokio::test]
async fn the_programme_orders_by_planned_start_or_by_when_audits_were_planned() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    // Planned in this order, for these months: the two orders differ.
    let mut made = Vec::new();
    for (title, start, end) in [
        ("March", "2027-03-01", "2027-03-20"),
        ("January", "2027-01-04", "2027-01-22"),
        ("May", "2027-05-03", "2027-05-21"),
        ("February", "2027-02-01", "2027-02-19"),
        ("April", "2027-04-05", "2027-04-23"),
    ] {
        let audit = planned(
            &app,
            &h,
            json!({ "title": title, "plannedStart": start, "plannedEnd": end }),
        )
        .await;
        made.push(id(&audit));
    }
    let by_start = ordered_audit_ids(&app, &h.alice, Value::Null).await;
    let expected: Vec<String> = [1, 3, 0, 4, 2].iter().map(|&i| made[i].clone()).collect();
    assert_eq!(by_start, expected, "default: planned start, earliest first");
    let latest_first = ordered_audit_ids(
        &app,
        &h.alice,
        json!({ "field": "PLANNED_START", "direction": "DESC" }),
    )
    .await;
    assert_eq!(
        latest_first,
        expected.iter().rev().cloned().collect::<Vec<_>>()
    );
    let newest_planned = ordered_audit_ids(
        &app,
        &h.alice,
        json!({ "field": "CREATED_AT", "direction": "DESC" }),
    )
    .await;
    assert_eq!(
        newest_planned,
        made.iter().rev().cloned().collect::<Vec<_>>()
    );
}
