//! Improvement projects (the Model for Improvement): quality leads and the department's
//! handlers start projects with an aim and measures, move them from PROPOSED to CLOSED, the
//! project's lead records measurements and runs PDSA cycles, actions are raised from the
//! project, every change is on the trail, and lists page, filter and batch their reads.

use std::collections::BTreeSet;

use candour_tests::*;
use chrono::Utc;
use serde_json::{json, Value};

/// Lena leads projects: a member of staff with no department of her own.
const LEAD: &str = "lena@candour.test";

/// What tests read back about a project (its trail is read apart, with [`HISTORY`]).
const PROJECT: &str = r#"
fragment ProjectFields on ImprovementProject {
  id title aim status statusReason version leadEmail sponsorEmail
  startedAt closedAt createdAt updatedAt
  department { id code }
  measures { id name kind unit target betterWhen measurements { id value at recordedAt } }
  pdsaCycles { id title plan do study act stage outcome startDate endDate version }
  incidents { id }
  auditIds
  allowedTransitions
  correctiveActions { id title source { __typename ... on ImprovementProject { id } } }
}"#;

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

fn ago(hours: i64) -> String {
    rfc3339(Utc::now() - chrono::Duration::hours(hours))
}

/// A valid project in the given department, led by Lena, with one outcome measure.
fn project_input(department_id: &str) -> Value {
    json!({
        "title": "Fewer falls on the cardiac ward",
        "aim": "Halve inpatient falls on the cardiac ward by June 2027.",
        "departmentId": department_id,
        "leadEmail": "Lena@Candour.test",
        "sponsorEmail": "sam.sponsor@candour.test",
        "measures": [{
            "name": "Falls per 1,000 bed days",
            "kind": "OUTCOME",
            "unit": "falls per 1,000 bed days",
            "target": 2.5,
            "betterWhen": "LOWER",
        }],
    })
}

/// Runs one mutation whose payload is `improvementProject`, with the project's fields.
async fn mutate(
    app: &TestApp,
    token: &str,
    mutation: &str,
    input_type: &str,
    input: Value,
) -> GqlResponse {
    app.gql(
        Some(token),
        &format!(
            "mutation($input: {input_type}!) {{
               {mutation}(input: $input) {{ improvementProject {{ ...ProjectFields }} }}
             }}
             {PROJECT}"
        ),
        json!({ "input": input }),
    )
    .await
}

/// The project a mutation that must succeed returned.
#[track_caller]
fn project_of(resp: &GqlResponse, mutation: &str) -> Value {
    resp.assert_ok();
    let project = resp.data()[mutation]["improvementProject"].clone();
    assert!(
        project.is_object(),
        "no improvementProject returned: {resp}"
    );
    project
}

async fn try_start(app: &TestApp, token: &str, input: Value) -> GqlResponse {
    mutate(
        app,
        token,
        "startImprovementProject",
        "StartImprovementProjectInput",
        input,
    )
    .await
}

async fn start(app: &TestApp, token: &str, input: Value) -> Value {
    let resp = try_start(app, token, input).await;
    project_of(&resp, "startImprovementProject")
}

async fn try_move(
    app: &TestApp,
    token: &str,
    project: &Value,
    to: &str,
    reason: Option<&str>,
) -> GqlResponse {
    let mut input =
        json!({ "projectId": project["id"], "to": to, "expectedVersion": project["version"] });
    if let Some(reason) = reason {
        input["reason"] = json!(reason);
    }
    mutate(
        app,
        token,
        "transitionImprovementProject",
        "TransitionImprovementProjectInput",
        input,
    )
    .await
}

async fn move_to(app: &TestApp, token: &str, project: &Value, to: &str) -> Value {
    let resp = try_move(app, token, project, to, None).await;
    let moved = project_of(&resp, "transitionImprovementProject");
    assert_eq!(moved["status"], to, "{resp}");
    moved
}

async fn try_record(
    app: &TestApp,
    token: &str,
    measure_id: &Value,
    value: f64,
    at: &str,
) -> GqlResponse {
    mutate(
        app,
        token,
        "recordMeasurement",
        "RecordMeasurementInput",
        json!({ "measureId": measure_id, "value": value, "at": at }),
    )
    .await
}

async fn record(app: &TestApp, token: &str, measure_id: &Value, value: f64, at: &str) -> Value {
    let resp = try_record(app, token, measure_id, value, at).await;
    project_of(&resp, "recordMeasurement")
}

async fn try_add_cycle(app: &TestApp, token: &str, input: Value) -> GqlResponse {
    mutate(app, token, "addPdsaCycle", "AddPdsaCycleInput", input).await
}

async fn try_update_cycle(
    app: &TestApp,
    token: &str,
    cycle: &Value,
    changes: Value,
) -> GqlResponse {
    mutate(
        app,
        token,
        "updatePdsaCycle",
        "UpdatePdsaCycleInput",
        with(
            json!({ "cycleId": cycle["id"], "expectedVersion": cycle["version"] }),
            changes,
        ),
    )
    .await
}

/// The cycle with this id in a project.
#[track_caller]
fn cycle_in(project: &Value, cycle_id: &str) -> Value {
    project["pdsaCycles"]
        .as_array()
        .unwrap_or_else(|| panic!("no pdsaCycles in {project}"))
        .iter()
        .find(|c| c["id"] == cycle_id)
        .unwrap_or_else(|| panic!("cycle {cycle_id} not in {project}"))
        .clone()
}

async fn read_project(app: &TestApp, token: &str, id: &str) -> Value {
    let resp = app
        .gql(
            Some(token),
            &format!(
                "query($id: ID!) {{ node(id: $id) {{ __typename ... on ImprovementProject {{ ...ProjectFields }} }} }}
                 {PROJECT}"
            ),
            json!({ "id": id }),
        )
        .await;
    resp.assert_ok();
    let node = resp.data()["node"].clone();
    assert_eq!(
        node["__typename"], "ImprovementProject",
        "project {id} not returned: {resp}"
    );
    node
}

async fn project_history(app: &TestApp, token: &str, id: &str) -> Vec<Value> {
    let resp = app
        .gql(
            Some(token),
            &format!("query($id: ID!) {{ node(id: $id) {{ ... on ImprovementProject {{ id {HISTORY} }} }} }}"),
            json!({ "id": id }),
        )
        .await;
    resp.assert_ok();
    resp.data()["node"]["history"]
        .as_array()
        .unwrap_or_else(|| panic!("history is not a list: {resp}"))
        .clone()
}

fn actions_of(history: &[Value]) -> Vec<String> {
    history
        .iter()
        .map(|e| e["action"].as_str().expect("action").to_string())
        .collect()
}

async fn list(app: &TestApp, token: &str, variables: Value) -> GqlResponse {
    app.gql(
        Some(token),
        "query($first: Int, $after: String, $filter: ImprovementProjectFilter) {
           improvementProjects(first: $first, after: $after, filter: $filter) {
             totalCount
             pageInfo { hasNextPage endCursor }
             edges { cursor node { id title status department { id } } }
           }
         }",
        variables,
    )
    .await
}

async fn listed_ids(app: &TestApp, token: &str, filter: Value) -> (Vec<String>, i64) {
    let resp = list(app, token, json!({ "first": 100, "filter": filter })).await;
    resp.assert_ok();
    let connection = &resp.data()["improvementProjects"];
    (
        node_ids(connection),
        connection["totalCount"].as_i64().expect("totalCount"),
    )
}

// ---------------------------------------------------------------------------------------------
// Starting
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_quality_lead_starts_a_project_from_the_incidents_and_audits_that_prompted_it() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let incident = app
        .report_incident(&h.alice, incident_input(&h.cardiology))
        .await;
    let audit = app.plan_audit(&h.quinn, audit_input(&h.cardiology)).await;

    let project = start(
        &app,
        &h.quinn,
        with(
            project_input(&h.cardiology),
            json!({ "incidentIds": [incident["id"]], "auditIds": [audit["id"]] }),
        ),
    )
    .await;

    assert_eq!(project["status"], "PROPOSED", "{project}");
    assert_eq!(project["version"], 1, "{project}");
    assert_eq!(project["title"], "Fewer falls on the cardiac ward");
    assert_eq!(project["department"]["code"], "CARD");
    assert_eq!(
        project["leadEmail"], LEAD,
        "the lead is stored in lower case"
    );
    assert!(
        project["startedAt"].is_null() && project["closedAt"].is_null(),
        "{project}"
    );
    let measures = project["measures"].as_array().unwrap();
    assert_eq!(measures.len(), 1, "{project}");
    assert_eq!(measures[0]["name"], "Falls per 1,000 bed days");
    assert_eq!(measures[0]["kind"], "OUTCOME");
    assert_eq!(measures[0]["betterWhen"], "LOWER");
    assert_eq!(measures[0]["target"], 2.5);
    assert_eq!(measures[0]["measurements"], json!([]));
    assert_eq!(
        project["incidents"],
        json!([{ "id": incident["id"] }]),
        "{project}"
    );
    assert_eq!(project["auditIds"], json!([audit["id"]]), "{project}");

    // Everyone signed in reads it back.
    let read = read_project(&app, &h.alice, &id(&project)).await;
    assert_eq!(read["status"], "PROPOSED");
    assert_eq!(read["measures"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn only_quality_leads_and_the_departments_handlers_start_projects() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let lead = app.staff_with_email("lena", LEAD);

    let by_hana = start(&app, &h.hana, project_input(&h.cardiology)).await;
    assert_eq!(by_hana["status"], "PROPOSED");
    assert_eq!(by_hana["department"]["code"], "CARD");

    for (who, token) in [
        ("Nina, who handles another department", &h.nina),
        ("Alice, staff", &h.alice),
        ("the would-be lead", &lead),
    ] {
        let resp = try_start(&app, token, project_input(&h.cardiology)).await;
        resp.assert_error("FORBIDDEN", None);
        assert!(
            resp.data().is_null() || resp.data()["startImprovementProject"].is_null(),
            "{who} started a project: {resp}"
        );
    }
    let service = app.service(&["incidents:manage"]);
    try_start(&app, &service, project_input(&h.cardiology))
        .await
        .assert_error("FORBIDDEN", None);

    // A project needs at least one measure.
    try_start(
        &app,
        &h.quinn,
        with(project_input(&h.cardiology), json!({ "measures": [] })),
    )
    .await
    .assert_error("BAD_USER_INPUT", Some("measures"));

    let (ids, total) = listed_ids(&app, &h.quinn, json!({})).await;
    assert_eq!(ids, vec![id(&by_hana)], "only Hana's project was started");
    assert_eq!(total, 1);
}

// ---------------------------------------------------------------------------------------------
// Status
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_project_runs_from_proposed_through_active_and_sustaining_to_closed() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let lead = app.staff_with_email("lena", LEAD);
    let proposed = start(&app, &h.quinn, project_input(&h.cardiology)).await;
    assert_eq!(
        set(&proposed["allowedTransitions"]),
        set_of(&["ACTIVE", "ABANDONED"]),
        "{proposed}"
    );
    let as_lead = read_project(&app, &lead, &id(&proposed)).await;
    assert_eq!(
        as_lead["allowedTransitions"],
        json!([]),
        "the lead may not move it"
    );

    // Not to be skipped, and not by the lead, staff or another department's handler.
    for to in ["SUSTAINING", "CLOSED", "PROPOSED"] {
        try_move(&app, &h.quinn, &proposed, to, None)
            .await
            .assert_error("BAD_USER_INPUT", Some("to"));
    }
    for token in [&lead, &h.alice, &h.nina] {
        try_move(&app, token, &proposed, "ACTIVE", None)
            .await
            .assert_error("FORBIDDEN", None);
    }

    let active = move_to(&app, &h.hana, &proposed, "ACTIVE").await;
    assert!(active["version"].as_i64().unwrap() > 1, "{active}");
    let started_at = parse_time(&active["startedAt"]);
    assert!(
        (Utc::now() - started_at).num_seconds().abs() < 60,
        "{active}"
    );
    assert!(active["closedAt"].is_null(), "{active}");

    // Someone working from the version they read first is told it changed.
    let stale = try_move(&app, &h.quinn, &proposed, "ACTIVE", None).await;
    stale.assert_error("CONFLICT", None);
    assert_eq!(
        stale.errors()[0]["extensions"]["currentVersion"],
        active["version"],
        "{stale}"
    );
    try_move(&app, &h.quinn, &active, "ACTIVE", None)
        .await
        .assert_error("BAD_USER_INPUT", Some("to"));
    try_move(&app, &h.quinn, &active, "PROPOSED", None)
        .await
        .assert_error("BAD_USER_INPUT", Some("to"));

    let sustaining = move_to(&app, &h.quinn, &active, "SUSTAINING").await;
    assert!(sustaining["version"].as_i64() > active["version"].as_i64());
    assert_eq!(
        sustaining["startedAt"], active["startedAt"],
        "startedAt stays"
    );
    try_move(&app, &lead, &sustaining, "CLOSED", None)
        .await
        .assert_error("FORBIDDEN", None);
    let closed = move_to(&app, &h.hana, &sustaining, "CLOSED").await;
    let closed_at = parse_time(&closed["closedAt"]);
    assert!(
        (Utc::now() - closed_at).num_seconds().abs() < 60,
        "{closed}"
    );
    assert_eq!(closed["allowedTransitions"], json!([]), "CLOSED is final");

    for to in ["PROPOSED", "ACTIVE", "SUSTAINING", "CLOSED"] {
        try_move(&app, &h.quinn, &closed, to, None)
            .await
            .assert_error("BAD_USER_INPUT", Some("to"));
    }
    try_move(&app, &h.quinn, &closed, "ABANDONED", Some("Too late"))
        .await
        .assert_error("BAD_USER_INPUT", Some("to"));
    assert_eq!(
        read_project(&app, &h.alice, &id(&closed)).await["status"],
        "CLOSED"
    );
}

#[tokio::test]
async fn an_active_project_may_close_without_sustaining_and_any_open_project_may_be_abandoned_with_a_reason(
) {
    let app = spawn_app().await;
    let h = app.hospital().await;

    // ACTIVE -> CLOSED.
    let p = start(&app, &h.quinn, project_input(&h.cardiology)).await;
    let active = move_to(&app, &h.quinn, &p, "ACTIVE").await;
    let closed = move_to(&app, &h.hana, &active, "CLOSED").await;
    assert!(closed["closedAt"].is_string(), "{closed}");

    // PROPOSED, ACTIVE and SUSTAINING may each be abandoned, always with a reason.
    for path in [&[][..], &["ACTIVE"][..], &["ACTIVE", "SUSTAINING"][..]] {
        let mut p = start(&app, &h.hana, project_input(&h.cardiology)).await;
        for to in path {
            p = move_to(&app, &h.hana, &p, to).await;
        }
        try_move(&app, &h.hana, &p, "ABANDONED", None)
            .await
            .assert_error("BAD_USER_INPUT", Some("reason"));
        try_move(&app, &h.hana, &p, "ABANDONED", Some(""))
            .await
            .assert_error("BAD_USER_INPUT", Some("reason"));
        try_move(&app, &h.alice, &p, "ABANDONED", Some("Not my call"))
            .await
            .assert_error("FORBIDDEN", None);
        let resp = try_move(
            &app,
            &h.quinn,
            &p,
            "ABANDONED",
            Some("The ward is closing for refurbishment."),
        )
        .await;
        let abandoned = project_of(&resp, "transitionImprovementProject");
        assert_eq!(abandoned["status"], "ABANDONED", "after {path:?}: {resp}");
        assert_eq!(
            abandoned["statusReason"],
            "The ward is closing for refurbishment."
        );
        assert!(abandoned["closedAt"].is_string(), "{abandoned}");
        assert_eq!(abandoned["allowedTransitions"], json!([]));
        for to in ["PROPOSED", "ACTIVE", "SUSTAINING", "CLOSED"] {
            try_move(&app, &h.quinn, &abandoned, to, Some("Try again"))
                .await
                .assert_error("BAD_USER_INPUT", Some("to"));
        }
    }
}

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

// ---------------------------------------------------------------------------------------------
// PDSA cycles
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_pdsa_cycle_moves_forward_from_plan_to_act_and_decides_its_outcome_at_act() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let lead = app.staff_with_email("lena", LEAD);
    let p = start(&app, &h.quinn, project_input(&h.cardiology)).await;
    let p = move_to(&app, &h.quinn, &p, "ACTIVE").await;

    try_add_cycle(
        &app,
        &h.alice,
        json!({ "projectId": p["id"], "title": "Not mine", "startDate": "2026-10-01" }),
    )
    .await
    .assert_error("FORBIDDEN", None);

    let resp = try_add_cycle(
        &app,
        &lead,
        json!({
            "projectId": p["id"], "title": "Bed rails check at handover",
            "plan": "Predict 30% fewer falls over four weeks.", "startDate": "2026-10-05",
        }),
    )
    .await;
    let with_cycle = project_of(&resp, "addPdsaCycle");
    assert_eq!(
        with_cycle["version"], p["version"],
        "cycles leave the version alone"
    );
    let cycles = with_cycle["pdsaCycles"].as_array().unwrap();
    assert_eq!(cycles.len(), 1, "{resp}");
    let cycle = cycles[0].clone();
    assert_eq!(cycle["stage"], "PLAN");
    assert_eq!(cycle["plan"], "Predict 30% fewer falls over four weeks.");
    assert!(
        cycle["outcome"].is_null() && cycle["endDate"].is_null(),
        "{cycle}"
    );

    // PLAN -> DO, by the lead.
    let resp = try_update_cycle(
        &app,
        &lead,
        &cycle,
        json!({ "stage": "DO", "do": "Rails checked at every handover for four weeks." }),
    )
    .await;
    let doing = cycle_in(&project_of(&resp, "updatePdsaCycle"), &id(&cycle));
    assert_eq!(doing["stage"], "DO");
    assert_eq!(doing["plan"], cycle["plan"], "what is not given stays");
    assert!(
        doing["version"].as_i64() > cycle["version"].as_i64(),
        "{doing}"
    );

    // A stale cycle version conflicts.
    try_update_cycle(&app, &lead, &cycle, json!({ "study": "late" }))
        .await
        .assert_error("CONFLICT", None);

    // DO -> STUDY, by the handler; no outcome yet, and no going back.
    let resp = try_update_cycle(
        &app,
        &h.hana,
        &doing,
        json!({ "stage": "STUDY", "study": "Falls fell from 6 to 3." }),
    )
    .await;
    let studying = cycle_in(&project_of(&resp, "updatePdsaCycle"), &id(&cycle));
    assert_eq!(studying["stage"], "STUDY");
    for back in ["PLAN", "DO"] {
        try_update_cycle(&app, &lead, &studying, json!({ "stage": back }))
            .await
            .assert_error("BAD_USER_INPUT", Some("stage"));
    }
    try_update_cycle(&app, &lead, &studying, json!({ "outcome": "ADOPT" }))
        .await
        .assert_error("BAD_USER_INPUT", Some("outcome"));
    try_update_cycle(&app, &lead, &studying, json!({ "endDate": "2026-10-04" }))
        .await
        .assert_error("BAD_USER_INPUT", Some("endDate"));
    try_update_cycle(&app, &h.nina, &studying, json!({ "stage": "ACT" }))
        .await
        .assert_error("FORBIDDEN", None);

    // STUDY -> ACT with the outcome and an end date, in one update.
    let resp = try_update_cycle(
        &app,
        &lead,
        &studying,
        json!({ "stage": "ACT", "act": "Adopt ward-wide.", "outcome": "ADOPT", "endDate": "2026-11-02" }),
    )
    .await;
    let acted = cycle_in(&project_of(&resp, "updatePdsaCycle"), &id(&cycle));
    assert_eq!(acted["stage"], "ACT");
    assert_eq!(acted["outcome"], "ADOPT");
    assert_eq!(acted["endDate"], "2026-11-02");
    assert_eq!(acted["do"], doing["do"]);
    assert_eq!(acted["study"], "Falls fell from 6 to 3.");
    try_update_cycle(&app, &lead, &acted, json!({ "stage": "STUDY" }))
        .await
        .assert_error("BAD_USER_INPUT", Some("stage"));

    // A later stage may be reached in one step; an end date may equal the start date.
    let resp = try_add_cycle(
        &app,
        &h.quinn,
        json!({ "projectId": p["id"], "title": "Falls champion", "startDate": "2026-09-01" }),
    )
    .await;
    let both = project_of(&resp, "addPdsaCycle");
    let titles: Vec<&str> = both["pdsaCycles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["title"].as_str().unwrap())
        .collect();
    assert_eq!(
        titles,
        vec!["Falls champion", "Bed rails check at handover"],
        "cycles by start date: {resp}"
    );
    let second = both["pdsaCycles"][0].clone();
    try_update_cycle(
        &app,
        &h.quinn,
        &second,
        json!({ "stage": "DO", "endDate": "2026-08-31" }),
    )
    .await
    .assert_error("BAD_USER_INPUT", Some("endDate"));
    let resp = try_update_cycle(
        &app,
        &h.quinn,
        &second,
        json!({ "stage": "ACT", "outcome": "ABANDON", "endDate": "2026-09-01" }),
    )
    .await;
    let jumped = cycle_in(&project_of(&resp, "updatePdsaCycle"), &id(&second));
    assert_eq!(jumped["stage"], "ACT");
    assert_eq!(jumped["outcome"], "ABANDON");

    // Once the project is closed, cycles are frozen.
    let closed = move_to(&app, &h.quinn, &p, "CLOSED").await;
    try_add_cycle(
        &app,
        &lead,
        json!({ "projectId": closed["id"], "title": "Too late", "startDate": "2026-11-01" }),
    )
    .await
    .assert_error("BAD_USER_INPUT", Some("projectId"));
    try_update_cycle(&app, &lead, &jumped, json!({ "act": "More notes" }))
        .await
        .assert_error("BAD_USER_INPUT", Some("cycleId"));
}

// ---------------------------------------------------------------------------------------------
// Corrective actions and the trail
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn an_action_raised_from_a_project_is_listed_on_it_with_the_project_as_its_source() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let p = start(&app, &h.quinn, project_input(&h.cardiology)).await;
    let other = start(&app, &h.quinn, project_input(&h.neurology)).await;

    let action = app
        .create_corrective_action(
            &h.hana,
            corrective_action_input(&id(&p), "olive@candour.test"),
        )
        .await;
    assert_eq!(
        action["source"]["__typename"], "ImprovementProject",
        "{action}"
    );
    assert_eq!(action["department"]["code"], "CARD", "{action}");

    let resp = app
        .gql(
            Some(&h.quinn),
            "query($id: ID!) { node(id: $id) { ... on CorrectiveAction {
               id source { __typename ... on ImprovementProject { id title } } } } }",
            json!({ "id": action["id"] }),
        )
        .await;
    resp.assert_ok();
    assert_eq!(resp.data()["node"]["source"]["id"], p["id"], "{resp}");
    assert_eq!(resp.data()["node"]["source"]["title"], p["title"], "{resp}");

    let read = read_project(&app, &h.quinn, &id(&p)).await;
    assert_eq!(
        read["correctiveActions"],
        json!([{
            "id": action["id"], "title": action["title"],
            "source": { "__typename": "ImprovementProject", "id": p["id"] },
        }]),
        "{read}"
    );
    assert_eq!(
        read_project(&app, &h.quinn, &id(&other)).await["correctiveActions"],
        json!([]),
        "only the project it was raised from lists it"
    );
    // The project's version is not the action's business.
    assert_eq!(read["version"], p["version"]);
}

#[tokio::test]
async fn every_change_to_a_project_is_on_its_trail_in_order() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let lead = app.staff_with_email("lena", LEAD);
    let incident = app
        .report_incident(&h.alice, incident_input(&h.cardiology))
        .await;
    let audit = app.plan_audit(&h.quinn, audit_input(&h.cardiology)).await;

    let p = start(&app, &h.quinn, project_input(&h.cardiology)).await;

    let resp = mutate(
        &app,
        &lead,
        "addMeasure",
        "AddMeasureInput",
        json!({ "projectId": p["id"], "expectedVersion": p["version"], "measure": {
            "name": "Patients with a falls risk assessment", "kind": "PROCESS",
            "unit": "%", "target": 95.0, "betterWhen": "HIGHER",
        } }),
    )
    .await;
    let p2 = project_of(&resp, "addMeasure");
    assert!(
        p2["version"].as_i64() > p["version"].as_i64(),
        "addMeasure bumps the version"
    );
    assert_eq!(p2["measures"].as_array().unwrap().len(), 2);
    // The same name in another case is the same measure.
    mutate(
        &app,
        &lead,
        "addMeasure",
        "AddMeasureInput",
        json!({ "projectId": p["id"], "expectedVersion": p2["version"], "measure": {
            "name": "FALLS PER 1,000 BED DAYS", "kind": "OUTCOME", "unit": "x", "betterWhen": "LOWER",
        } }),
    )
    .await
    .assert_error("BAD_USER_INPUT", Some("measure.name"));

    record(&app, &lead, &p2["measures"][1]["id"], 72.0, &ago(24)).await;
    let resp = try_add_cycle(
        &app,
        &lead,
        json!({ "projectId": p["id"], "title": "Risk assessment at admission", "startDate": "2026-10-05" }),
    )
    .await;
    let cycle = project_of(&resp, "addPdsaCycle")["pdsaCycles"][0].clone();
    try_update_cycle(&app, &lead, &cycle, json!({ "stage": "DO" }))
        .await
        .assert_ok();
    let resp = mutate(
        &app,
        &h.hana,
        "linkImprovementProject",
        "LinkImprovementProjectInput",
        json!({ "projectId": p["id"], "incidentIds": [incident["id"]], "auditIds": [audit["id"]] }),
    )
    .await;
    let linked = project_of(&resp, "linkImprovementProject");
    assert_eq!(linked["incidents"], json!([{ "id": incident["id"] }]));
    assert_eq!(linked["auditIds"], json!([audit["id"]]));
    // Linking again adds nothing, and records nothing.
    mutate(
        &app,
        &h.hana,
        "linkImprovementProject",
        "LinkImprovementProjectInput",
        json!({ "projectId": p["id"], "incidentIds": [incident["id"]] }),
    )
    .await
    .assert_ok();
    move_to(&app, &h.quinn, &p2, "ACTIVE").await;

    let history = project_history(&app, &h.alice, &id(&p)).await;
    assert_eq!(
        actions_of(&history),
        vec![
            "improvement.started",
            "improvement.measure_added",
            "improvement.measurement_recorded",
            "improvement.pdsa_added",
            "improvement.pdsa_updated",
            "improvement.linked",
            "improvement.transitioned",
        ],
        "{history:?}"
    );
    assert!(
        history
            .iter()
            .all(|e| e["entityType"] == "ImprovementProject"),
        "{history:?}"
    );
    assert_eq!(
        history[0]["actor"]["name"], "Quinn Test",
        "{:?}",
        history[0]
    );
    assert_eq!(history[1]["actor"]["name"], "Lena Test", "{:?}", history[1]);
    assert_eq!(history[5]["actor"]["name"], "Hana Test", "{:?}", history[5]);
    let ats: Vec<_> = history.iter().map(|e| parse_time(&e["at"])).collect();
    assert!(
        ats.windows(2).all(|w| w[0] <= w[1]),
        "oldest first: {history:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// Listing
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn projects_list_newest_first_page_to_the_end_and_filter_by_status_and_department() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let mut started = Vec::new();
    for i in 0..7 {
        let department = if i % 3 == 2 {
            &h.neurology
        } else {
            &h.cardiology
        };
        let p = start(
            &app,
            &h.quinn,
            with(
                project_input(department),
                json!({ "title": format!("Project {i}") }),
            ),
        )
        .await;
        started.push(p);
    }
    let mut active = BTreeSet::new();
    for i in [0, 2, 3] {
        let moved = move_to(&app, &h.quinn, &started[i], "ACTIVE").await;
        active.insert(id(&moved));
    }
    let neuro: BTreeSet<String> = [2, 5].iter().map(|&i| id(&started[i])).collect();

    // Everyone reads; newest first; paging reaches the end without gaps or repeats.
    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    let mut pages = 0;
    loop {
        let resp = list(&app, &h.alice, json!({ "first": 3, "after": after })).await;
        let connection = resp.assert_ok()["improvementProjects"].clone();
        assert_eq!(connection["totalCount"], 7, "{resp}");
        seen.extend(node_ids(&connection));
        pages += 1;
        assert!(pages <= 3, "paging does not end: {resp}");
        if connection["pageInfo"]["hasNextPage"] == true {
            after = Some(
                connection["pageInfo"]["endCursor"]
                    .as_str()
                    .expect("endCursor")
                    .to_string(),
            );
        } else {
            break;
        }
    }
    let newest_first: Vec<String> = started.iter().rev().map(id).collect();
    assert_eq!(
        seen, newest_first,
        "pages of 3 list all seven, newest first"
    );
    assert_eq!(pages, 3);

    let (ids, total) = listed_ids(&app, &h.alice, json!({ "status": ["ACTIVE"] })).await;
    assert_eq!(ids.iter().cloned().collect::<BTreeSet<_>>(), active);
    assert_eq!(total, 3);
    let (ids, total) = listed_ids(&app, &h.alice, json!({ "status": ["PROPOSED"] })).await;
    assert_eq!(ids.len(), 4);
    assert_eq!(total, 4);
    let (ids, total) = listed_ids(&app, &h.alice, json!({ "departmentId": h.neurology })).await;
    assert_eq!(ids.iter().cloned().collect::<BTreeSet<_>>(), neuro);
    assert_eq!(total, 2);
    let (ids, total) = listed_ids(
        &app,
        &h.alice,
        json!({ "departmentId": h.cardiology, "status": ["ACTIVE"] }),
    )
    .await;
    assert_eq!(
        ids.iter().cloned().collect::<BTreeSet<_>>(),
        [0, 3]
            .iter()
            .map(|&i| id(&started[i]))
            .collect::<BTreeSet<_>>()
    );
    assert_eq!(total, 2);
    let (ids, total) = listed_ids(&app, &h.alice, json!({ "status": ["CLOSED"] })).await;
    assert!(ids.is_empty());
    assert_eq!(total, 0);
}

#[tokio::test]
async fn reading_measures_cycles_and_actions_through_a_page_of_projects_does_not_query_per_row() {
    let app = spawn_app_with(|s| s.diagnostics.sql_statement_count = true).await;
    let h = app.hospital().await;
    let lead = app.staff_with_email("lena", LEAD);
    for i in 0..8 {
        let p = start(
            &app,
            &h.quinn,
            with(
                project_input(&h.cardiology),
                json!({ "title": format!("Project {i}"), "measures": [
                    { "name": "Falls", "kind": "OUTCOME", "unit": "falls", "betterWhen": "LOWER" },
                    { "name": "Assessments", "kind": "PROCESS", "unit": "%", "betterWhen": "HIGHER" },
                ] }),
            ),
        )
        .await;
        for measure in p["measures"].as_array().unwrap() {
            record(&app, &lead, &measure["id"], 1.0, &ago(2)).await;
            record(&app, &lead, &measure["id"], 2.0, &ago(1)).await;
        }
        try_add_cycle(
            &app,
            &lead,
            json!({ "projectId": p["id"], "title": format!("Cycle {i}"), "startDate": "2026-10-05" }),
        )
        .await
        .assert_ok();
        app.create_corrective_action(
            &h.quinn,
            with(
                corrective_action_input(&id(&p), "olive@candour.test"),
                json!({ "title": format!("Action {i}") }),
            ),
        )
        .await;
    }
    let query = "query($first: Int) { improvementProjects(first: $first) { edges { node {
                   measures { measurements { value } } pdsaCycles { title } correctiveActions { title }
                 } } } }";

    // Three samples per page size, keeping the fewest (a DataLoader batch may split under
    // load; an N+1 shows in every sample).
    let mut samples: Vec<(usize, u64)> = Vec::new();
    for first in [2, 8, 2, 8, 2, 8] {
        let resp = app
            .gql(Some(&h.quinn), query, json!({ "first": first }))
            .await;
        let edges = resp.assert_ok()["improvementProjects"]["edges"]
            .as_array()
            .unwrap()
            .clone();
        assert_eq!(edges.len(), first, "{resp}");
        for e in &edges {
            let node = &e["node"];
            assert_eq!(node["measures"].as_array().unwrap().len(), 2, "{resp}");
            assert!(
                node["measures"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .all(|m| m["measurements"].as_array().unwrap().len() == 2),
                "{resp}"
            );
            assert_eq!(node["pdsaCycles"].as_array().unwrap().len(), 1, "{resp}");
            assert_eq!(
                node["correctiveActions"].as_array().unwrap().len(),
                1,
                "{resp}"
            );
        }
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
        fewest(2),
        fewest(8),
        "SQL statements grow with the page (an N+1 under measures, measurements, pdsaCycles \
         or correctiveActions): (first, statements) samples {samples:?}"
    );
}

#[tokio::test]
async fn projects_may_be_listed_oldest_first_or_by_their_last_change() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let mut made = Vec::new();
    for n in 0..4 {
        let p = start(
            &app,
            &h.quinn,
            with(
                project_input(&h.cardiology),
                json!({ "title": format!("Project {n}") }),
            ),
        )
        .await;
        made.push(p);
    }
    // Changing the oldest makes it the most recently updated.
    move_to(&app, &h.quinn, &made[0], "ACTIVE").await;
    let order_ids = |order: Value| {
        let app = &app;
        let token = h.alice.clone();
        async move {
            let mut ids = Vec::new();
            let mut after = Value::Null;
            loop {
                let resp = app
                    .gql(
                        Some(&token),
                        "query($after: String, $order: ImprovementProjectOrder) {
                           improvementProjects(first: 3, after: $after, orderBy: $order) {
                             pageInfo { hasNextPage endCursor }
                             edges { node { id } }
                           }
                         }",
                        json!({ "after": after, "order": order }),
                    )
                    .await;
                let page = resp.assert_ok()["improvementProjects"].clone();
                ids.extend(node_ids(&page));
                if page["pageInfo"]["hasNextPage"] != true {
                    return ids;
                }
                after = page["pageInfo"]["endCursor"].clone();
            }
        }
    };
    let made_ids: Vec<String> = made.iter().map(id).collect();
    let oldest_first = order_ids(json!({ "field": "CREATED_AT", "direction": "ASC" })).await;
    assert_eq!(oldest_first, made_ids);
    let recently_changed = order_ids(json!({ "field": "UPDATED_AT", "direction": "DESC" })).await;
    assert_eq!(recently_changed[0], made_ids[0], "{recently_changed:?}");
    assert_eq!(recently_changed.len(), 4);
}

// --- SPC ---------------------------------------------------------------------------------

#[tokio::test]
async fn a_measure_reads_as_an_xmr_chart_with_its_limits_signals_and_icons() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let p = start(
        &app,
        &h.quinn,
        with(
            project_input(&h.cardiology),
            json!({ "measures": [
                { "name": "Echo reports within 5 days", "kind": "PROCESS", "unit": "%",
                  "target": 5.0, "betterWhen": "HIGHER" },
            ] }),
        ),
    )
    .await;
    let measure = p["measures"][0]["id"].clone();
    let spc_query = "query($id: ID!) { node(id: $id) { ... on ImprovementProject {
        measures { spc { mean averageMovingRange upperProcessLimit lowerProcessLimit
          variation assurance fewPoints
          points { at value movingRange rules specialCause } } } } } }";
    let spc = |resp: &GqlResponse| resp.assert_ok()["node"]["measures"][0]["spc"].clone();

    // One point is no chart.
    record(&app, &h.quinn, &measure, 10.0, &ago(100)).await;
    let one = app
        .gql(Some(&h.quinn), spc_query, json!({ "id": p["id"] }))
        .await;
    assert!(spc(&one).is_null(), "{one:?}");

    // The worked example: 10 12 11 13 12 11 10 12 11 13, then 25 (hours apart, in order,
    // though recorded out of order). Mean (115 + 25) / 11; average moving range
    // (13 + 12) / 10 = 2.5; limits mean ± 6.65; 25 lies above the upper limit.
    let rest = [12.0, 11.0, 13.0, 12.0, 11.0, 10.0, 12.0, 11.0, 13.0];
    for (i, v) in rest.iter().enumerate().rev() {
        record(&app, &h.quinn, &measure, *v, &ago(99 - i as i64)).await;
    }
    record(&app, &h.quinn, &measure, 25.0, &ago(1)).await;
    let chart = spc(&app
        .gql(Some(&h.quinn), spc_query, json!({ "id": p["id"] }))
        .await);
    let mean = 140.0 / 11.0;
    let near = |a: &Value, b: f64| (a.as_f64().unwrap() - b).abs() < 1e-9;
    assert!(near(&chart["mean"], mean), "{chart}");
    assert!(near(&chart["averageMovingRange"], 2.5), "{chart}");
    assert!(
        near(&chart["upperProcessLimit"], mean + 2.66 * 2.5),
        "{chart}"
    );
    assert!(
        near(&chart["lowerProcessLimit"], mean - 2.66 * 2.5),
        "{chart}"
    );
    let points = chart["points"].as_array().unwrap();
    assert_eq!(points.len(), 11);
    let values: Vec<f64> = points
        .iter()
        .map(|p| p["value"].as_f64().unwrap())
        .collect();
    assert_eq!(
        values,
        [10.0, 12.0, 11.0, 13.0, 12.0, 11.0, 10.0, 12.0, 11.0, 13.0, 25.0]
    );
    assert!(points[0]["movingRange"].is_null());
    assert_eq!(points[10]["movingRange"], json!(12.0));
    assert_eq!(points[10]["rules"], json!(["OUTSIDE_LIMITS"]));
    assert_eq!(points[10]["specialCause"], json!("HIGH"));
    assert!(points[..10]
        .iter()
        .all(|p| p["rules"] == json!([]) && p["specialCause"].is_null()));
    // Higher is better and the latest point is high: improving. The target (5) lies
    // below the lower limit: the process meets it consistently. 11 points: indicative.
    assert_eq!(chart["variation"], json!("IMPROVING"));
    assert_eq!(chart["assurance"], json!("CONSISTENTLY_MET"));
    assert_eq!(chart["fewPoints"], json!(true));
}
